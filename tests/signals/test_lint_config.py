"""signals/sqlfluff.cfg is generated from signals/_signals.yml, so the two cannot drift."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "signals_lint_config.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def test_the_committed_lint_config_is_generated_from_the_settings() -> None:
    result = run("--check")
    assert result.returncode == 0, result.stderr


def test_a_changed_setting_makes_the_lint_config_stale(tmp_path: Path) -> None:
    signals = tmp_path / "signals"
    signals.mkdir()
    for name in ("_signals.yml", "sqlfluff.cfg"):
        shutil.copy(ROOT / "signals" / name, signals / name)
    settings = signals / "_signals.yml"
    text = settings.read_text(encoding="utf-8")
    assert "min_baseline_runs: 100" in text
    settings.write_text(text.replace("min_baseline_runs: 100", "min_baseline_runs: 250"))

    stale = run("--signals", str(signals), "--check")
    assert stale.returncode == 1 and "scripts/signals_lint_config.py" in stale.stderr
    assert run("--signals", str(signals)).returncode == 0
    assert "min_baseline_runs = 250\n" in (signals / "sqlfluff.cfg").read_text(encoding="utf-8")
    assert run("--signals", str(signals), "--check").returncode == 0
