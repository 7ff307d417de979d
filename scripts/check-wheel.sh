#!/usr/bin/env bash
# The installable package, checked as a user gets it: build the wheel, install it into a new
# virtual environment (no checkout on the path), and run a small demo in an empty folder.
# Usage: scripts/check-wheel.sh [PYTHON]   (make wheel-check)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "wheel-check: building the wheel"
# From a copy of the tracked files: setuptools leaves build/ in the source tree, whose stale
# copies of removed modules would end up in the wheel.
mkdir "$work/src"
git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 cp --parents -t "$work/src")
"$python" -m pip wheel -q --disable-pip-version-check --no-deps -w "$work/dist" "$work/src"
echo "wheel-check: installing it into a new venv (dependencies pinned by requirements.lock)"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check \
    --constraint "$repo/requirements.lock" "$work"/dist/fleetsignals-*.whl

cd "$work" && mkdir empty && cd empty
# Only fleetsignals is installed: no generic top-level names such as ingest or alerts.
"$work/venv/bin/python" -P -c '
import importlib.util, sys
found = [n for n in ("ingest", "alerts") if importlib.util.find_spec(n)]
sys.exit(f"the wheel installs generic top-level packages: {found}" if found else 0)'
# Ingest's vocabularies and SQL are package data: the installed wheel must carry them.
"$work/venv/bin/python" -P -c '
from fleetsignals.ingest.otlp_sql import SPANS_SQL
from fleetsignals.ingest.vocabulary import shipped_dialects
names = [d.name for d in shipped_dialects()]
assert "vercel_ai" in names and "openinference" in names and "otel_genai" in names, names
assert "otlp_fields" in SPANS_SQL'
echo "wheel-check: fleetsignals demo in an empty folder"
"$work/venv/bin/fleetsignals" --home "$work/empty/home" demo --hours 5 --runs-per-minute 4 \
    > "$work/demo.log" 2>&1 || { cat "$work/demo.log"; exit 1; }
grep -q "DETECTED" "$work/demo.log" || { cat "$work/demo.log"; echo "no incident detected"; exit 1; }
test -s "$work/empty/home/report.html"
"$work/venv/bin/fleetsignals" --home "$work/empty/home" sql "select count(*) from fct_runs" --format csv
echo "wheel-check: ok"
