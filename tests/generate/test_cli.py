"""`fleetsignals generate` on the command line."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from fleetsignals.errors import FleetsignalsError


def test_generate_prints_a_summary(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    result = run_cli("generate", "--out", str(out), "--hours", "2", "--runs-per-minute", "3",
                     "--seed", "9", "--incidents", "stuck_runs@60m+30m,tool_failure@95m+20m")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "runs" in result.output and "stuck_runs" in result.output
    doc = orjson.loads((out / "ground_truth.json").read_bytes())
    windows = {i["name"]: (i["start"], i["end"]) for i in doc["incidents"]}
    assert windows["tool_failure"] == ("2026-11-01T01:35:00Z", "2026-11-01T01:55:00Z")
    assert windows["stuck_runs"][0] == "2026-11-01T01:00:00Z"
    assert doc["params"]["hours"] == 2 and doc["seed"] == 9
    assert (out / "runs.parquet").is_file() and any((out / "dumps").iterdir())
    # What to ingest: the dumps, not OUT (whose truth files would be quarantined).
    assert result.output.splitlines()[-1] == f"next: fleetsignals ingest {out / 'dumps'}"


def test_no_incidents(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "fleet"
    result = run_cli("generate", "--out", str(out), "--hours", "1", "--runs-per-minute", "2",
                     "--incidents", "none", "--start", "2026-12-24T18:00:00Z")  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = orjson.loads((out / "ground_truth.json").read_bytes())
    assert doc["incidents"] == [] and doc["start"] == "2026-12-24T18:00:00Z"
    assert min(p.name for p in (out / "dumps").iterdir()) == "traces-20261224T1800.jsonl"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--incidents", "meltdown"], "unknown incident 'meltdown'"),
        (["--incidents", "tool_failure@2h"], "NAME@OFFSET+DURATION"),
        (["--incidents", "tool_failure@1h+2h,cost_inflation@2h+30m"], "overlap"),
        (["--hours", "2"], "too short for 6 incidents"),
        (["--hours", "-1"], "--hours must be a positive number"),
        (["--start", "yesterday"], "invalid time"),
        (["--seed", "-1"], "--seed must be a whole number"),
        (["--incidents", "tool_failure@5h+1h", "--hours", "3"], "must lie within"),
    ],
)
def test_bad_input_says_what_to_do(run_cli, tmp_path: Path, args: list[str], message: str) -> None:
    with pytest.raises(FleetsignalsError, match=message.replace("+", r"\+")):
        run_cli("generate", "--out", str(tmp_path / "x"), *args)


def test_console_script_exit_status(run_process, tmp_path: Path) -> None:
    bad = run_process("generate", "--out", str(tmp_path / "x"), "--incidents", "meltdown")
    assert bad.returncode == 1 and bad.stderr.startswith("error: unknown incident")
    ok = run_process("generate", "--out", str(tmp_path / "y"), "--hours", "0.5",
                     "--runs-per-minute", "2", "--incidents", "none")  # fmt: skip
    assert ok.returncode == 0 and ok.stderr == ""  # no progress output in a pipe
    assert ok.stdout.startswith("wrote ")


def test_out_must_be_a_writable_directory(tmp_path: Path) -> None:
    from fleetsignals.generate import generate_fleet

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(FleetsignalsError, match="choose a writable directory"):
        generate_fleet(blocker, hours=0.1, incidents=[])
