"""Same arguments, same bytes; another seed, another fleet."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from fleetsignals.generate import generate_fleet
from fleetsignals.generate.catalog import MODELS
from fleetsignals.generate.shape import build_shape
from tests.fixtures.dump_reader import read_bytes

START = datetime(2026, 11, 1)


def snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_arguments_give_identical_bytes(tmp_path: Path) -> None:
    kwargs = dict(start=START, hours=5, runs_per_minute=4, seed=3, compression="zst")
    generate_fleet(tmp_path / "a", **kwargs)
    generate_fleet(tmp_path / "b", **kwargs)
    a, b = snapshot(tmp_path / "a"), snapshot(tmp_path / "b")
    assert len(a) > 100 and a == b
    generate_fleet(tmp_path / "a", **kwargs)  # rerun into the same directory
    assert snapshot(tmp_path / "a") == a


@pytest.mark.parametrize("compression", ["gz", "zst", "zst-framed"])
def test_compression_changes_encoding_only(tmp_path: Path, compression: str) -> None:
    kwargs = dict(start=START, hours=1, runs_per_minute=5, seed=4, incidents=[])
    plain = generate_fleet(tmp_path / "plain", **kwargs)
    packed = generate_fleet(tmp_path / "packed", compression=compression, **kwargs)
    suffix = ".gz" if compression == "gz" else ".zst"
    assert [p.name + suffix for p in plain.files] == [p.name for p in packed.files]
    assert all(
        read_bytes(g) == p.read_bytes() for p, g in zip(plain.files, packed.files, strict=True)
    )
    assert packed.files[0].read_bytes() != plain.files[0].read_bytes()


def test_different_seeds_give_different_fleet_shapes() -> None:
    shapes = [build_shape(seed) for seed in range(12)]
    names = {tuple(a.name for a in s.agents) for s in shapes}
    assert len(names) == len(shapes)
    assert len({len(s.agents) for s in shapes}) >= 3
    assert len({tuple(s.cohorts) for s in shapes}) >= 2
    for s in shapes:
        vocabs = {a.vocab for a in s.agents}
        assert "openinference" in vocabs and vocabs & {"genai", "legacy"}
        assert all(1 <= len(a.variants) <= 3 for a in s.agents)
        assert all(len({MODELS[m].provider for m in a.models}) >= 2 for a in s.agents)


def test_incidents_leave_healthy_runs_untouched(tmp_path: Path) -> None:
    kwargs = dict(start=START, hours=5, runs_per_minute=6, seed=5)
    sick = generate_fleet(tmp_path / "sick", **kwargs)
    well = generate_fleet(tmp_path / "well", incidents=[], **kwargs)
    first_incident = min(i.start for i in sick.incidents)
    before = pl.col("ended_at") < first_incident
    a = pl.read_parquet(sick.runs_path).filter(before).drop("incident")
    b = pl.read_parquet(well.runs_path).filter(before).drop("incident")
    assert a.height > 500 and a.equals(b)
    assert well.incidents == [] and pl.read_parquet(well.runs_path)["incident"].is_null().all()


def test_identical_across_processes(run_process, tmp_path: Path) -> None:
    """No hash randomisation or wall clock leaks into the output."""
    outs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        args = ["generate", "--out", str(out), "--hours", "1", "--runs-per-minute", "5",
                "--incidents", "stuck_runs@20m+20m,traffic_surge@45m+10m"]  # fmt: skip
        done = run_process(*args, env={"PYTHONHASHSEED": hash_seed})
        assert done.returncode == 0, done.stderr
        outs.append(snapshot(out))
    assert outs[0] == outs[1]
