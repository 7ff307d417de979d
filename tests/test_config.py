"""Config: documented defaults, ${ENV} references, and a one-line error for every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsignals.alerts.definitions import load_signals
from fleetsignals.config import DEFAULTS, load_config
from fleetsignals.errors import FleetsignalsError


def load(tmp_path, text: str):
    path = tmp_path / "fleetsignals.yml"
    path.write_text(text)
    return load_config(path)


def test_defaults_without_a_file(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLEETSIGNALS_CONFIG", raising=False)
    config = load_config(None)
    assert config.path is None
    assert config["ingest"] == DEFAULTS["ingest"]


def test_env_references_become_numbers_and_booleans(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FS_WORKERS", "3")
    monkeypatch.setenv("FS_RATE", "0.25")
    monkeypatch.setenv("FS_FLAG", "False")
    config = load(
        tmp_path,
        "ingest: {workers: '${FS_WORKERS}'}\n"
        "retention: {sample_rate: '${FS_RATE}', flag_groups: '${FS_FLAG}'}\n",
    )
    assert config["ingest"]["workers"] == 3
    assert config["retention"]["sample_rate"] == 0.25
    assert config["retention"]["flag_groups"] is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ingest: {workers: lots}", "'ingest.workers' must be a number >= 0"),
        ("ingest: {workers: -1}", "'ingest.workers' must be a number >= 0"),
        ("ingest: {workers: 1.5}", "'ingest.workers' must be a whole number"),
        ("ingest: {workers: true}", "'ingest.workers' must be a number >= 0"),
        ("ingest: {processes_from_mib: 64MiB}", "'ingest.processes_from_mib' must be a number"),
        ("retention: {flag_groups: maybe}", "'retention.flag_groups' must be true or false"),
        ("ingest: {wokers: 2}", "unknown key 'ingest.wokers'"),
        ("ingest: 2", "'ingest' must be a mapping"),
        ("ingest: {workers: '${FS_UNSET_FOR_TEST}'}", "FS_UNSET_FOR_TEST is not set"),
    ],
)
def test_bad_values_name_the_key(tmp_path, text, message) -> None:
    with pytest.raises(FleetsignalsError, match="fleetsignals.yml: ") as caught:
        load(tmp_path, text + "\n")
    assert message in str(caught.value)


def test_the_cli_says_it_in_one_line(tmp_path, run_process) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("ingest: {workers: lots}\n")
    done = run_process("--config", str(path), "ingest", str(tmp_path))
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "'ingest.workers' must be a number" in done.stderr


def test_the_shipped_signals_are_found_from_any_directory(tmp_path, monkeypatch) -> None:
    """`fleetsignals --home DIR backtest ...` from outside the repository still has signals."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLEETSIGNALS_CONFIG", raising=False)
    (shipped,) = load_config(None)["signal_dirs"]
    assert (Path(shipped) / "stuck_agent.sql").is_file()
    (tmp_path / "signals").mkdir()  # a signals dir where the command runs is the default
    assert load_config(None)["signal_dirs"] == ["signals"]
    assert load(tmp_path, "signal_dirs: [mine]\n")["signal_dirs"] == ["mine"]


def test_signals_from_another_directory_run(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLEETSIGNALS_CONFIG", raising=False)
    loaded, problems = load_signals(load_config(None)["signal_dirs"])
    assert problems == [] and "stuck_agent" in {s.name for s in loaded}


def test_the_build_engine_comes_from_the_flag_else_the_config(tmp_path) -> None:
    from fleetsignals.warehouse.engines import chosen_engine

    assert chosen_engine(load(tmp_path, "{}")) == "duckdb"
    spark = load(tmp_path, "warehouse: {engine: spark}")
    assert chosen_engine(spark) == "spark"
    assert chosen_engine(spark, "duckdb") == "duckdb"
    with pytest.raises(FleetsignalsError, match="warehouse.engine must be one of duckdb, spark"):
        chosen_engine(load(tmp_path, "warehouse: {engine: snowflake}"))
