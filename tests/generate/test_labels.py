"""`generate --labels`: deterministic label files, the same dumps and truth with or without
labels, delays and coverage as documented, and a quality_drop incident seen only in labels."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import orjson
import polars as pl
import pytest

from fleetsignals.errors import FleetsignalsError
from fleetsignals.generate import generate_fleet
from fleetsignals.generate.labels import arrival


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _frame(paths: list[Path]) -> pl.DataFrame:
    rows = [orjson.loads(line) for p in paths for line in p.read_bytes().splitlines()]
    return pl.DataFrame(rows, infer_schema_length=None)


def test_labels_leave_the_fleet_unchanged_and_are_deterministic(tmp_path: Path) -> None:
    plain, first, second = tmp_path / "plain", tmp_path / "a", tmp_path / "b"
    generate_fleet(plain, hours=2, runs_per_minute=5, seed=4, incidents=[])
    generate_fleet(first, hours=2, runs_per_minute=5, seed=4, incidents=[], labels=True)
    generate_fleet(second, hours=2, runs_per_minute=5, seed=4, incidents=[], labels=True)
    assert _tree(first / "dumps") == _tree(plain / "dumps")
    assert (first / "runs.parquet").read_bytes() == (plain / "runs.parquet").read_bytes()
    assert _tree(first / "labels") == _tree(second / "labels")
    truth = orjson.loads((first / "ground_truth.json").read_bytes())
    assert truth["params"]["labels"] is True and truth["counts"]["labels"] > 0
    assert "labels" not in orjson.loads((plain / "ground_truth.json").read_bytes())["counts"]


def test_delays_coverage_and_arrival_files(tmp_path: Path) -> None:
    generate_fleet(tmp_path, hours=3, runs_per_minute=10, seed=6, incidents=[], labels=True)
    runs = pl.read_parquet(tmp_path / "runs.parquet").filter(pl.col("ended_at").is_not_null())
    frames = []
    for path in sorted((tmp_path / "labels").iterdir()):
        frame = _frame([path])
        given = frame["given_at"].str.to_datetime("%Y-%m-%dT%H:%M:%SZ")
        # A file holds the labels that arrived in its minute.
        assert given.max() < arrival(path) and given.min() >= arrival(path) - timedelta(minutes=1)
        frames.append(frame.with_columns(given.alias("given")))
    labels = pl.concat(frames, how="diagonal").join(runs.select("run_id", "ended_at"), on="run_id")
    labels = labels.with_columns(
        ((pl.col("given") - pl.col("ended_at")).dt.total_seconds() / 60).alias("delay")
    )
    judge = labels.filter(pl.col("source") == "judge:gpt-4o-mini")
    human = labels.filter(pl.col("source") == "human")
    assert 0.55 < judge.height / runs.height < 0.65
    assert judge["delay"].min() >= 2 and judge["delay"].max() <= 10
    assert 0.04 < human.height / runs.height < 0.12
    assert 25 < human["delay"].median() < 60 and human["delay"].max() > 120
    assert set(judge["label"]) == {"pass", "fail"} and set(human["label"]) == {
        "thumbs_up",
        "thumbs_down",
    }


def test_quality_drop_changes_only_labels(tmp_path: Path) -> None:
    with pytest.raises(FleetsignalsError, match="--labels"):
        generate_fleet(tmp_path / "x", hours=2, seed=4, incidents=["quality_drop"])
    healthy, hit = tmp_path / "healthy", tmp_path / "hit"
    incident = [("quality_drop", timedelta(hours=1), timedelta(minutes=60))]
    generate_fleet(healthy, hours=2.5, runs_per_minute=10, seed=4, incidents=[], labels=True)
    truth = generate_fleet(
        hit, hours=2.5, runs_per_minute=10, seed=4, incidents=incident, labels=True
    )
    assert _tree(hit / "dumps") == _tree(healthy / "dumps")
    (inc,) = truth.incidents
    assert inc.run_ids and set(inc.labels) == {"agent_name", "prompt_variant"}

    def fail_share(root: Path, runs: set[str]) -> float:
        frame = _frame(sorted((root / "labels").iterdir()))
        judged = frame.filter(pl.col("run_id").is_in(runs) & (pl.col("name") == "helpfulness"))
        return (judged["label"] == "fail").mean()

    runs = set(inc.run_ids)
    assert fail_share(hit, runs) > 2.5 * fail_share(healthy, runs)
