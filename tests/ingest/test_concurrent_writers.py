"""Several real `fleetsignals ingest` processes landing into one lake at the same time.

Every span lands exactly once and the manifest holds one line per distinct content,
whichever process lands it; a process killed while holding a source's claim does not
stop the others from landing that source.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleetsignals.ingest.manifest import read_manifest
from tests.fixtures.ingest_inputs import REPO, synthetic_lines, write
from tests.ingest.test_crash_safety import EXE, lake_state

DRIVER = Path(__file__).with_name("ingest_driver.py")


@pytest.fixture(scope="module")
def contents(tmp_path_factory) -> tuple[list[Path], set]:
    """Thirty small files (batched) and three large ones (streamed), all distinct."""
    root = tmp_path_factory.mktemp("contents")
    files, ids = [], set()
    for i in range(33):
        n = 20_000 if i >= 30 else 300
        data, file_ids = synthetic_lines(n, seed=500 + i)
        files.append(write(root / f"c{i:02d}.jsonl", data))
        ids |= file_ids
    return files, ids


def spread(files: list[Path], directory: Path, names: list[int]) -> Path:
    """Copies of some contents under this directory (new paths, same bytes)."""
    for i in names:
        shutil.copyfile(files[i], directory / f"from-{directory.name}-{i:02d}.jsonl")
    return directory


def ingest(home: Path, *paths: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [EXE, "--home", str(home), "ingest", *map(str, paths)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_exactly_once(home: Path, spans: int, distinct_contents: int) -> None:
    assert lake_state(home) == (spans, spans), "a span is missing or landed twice"
    entries = read_manifest(home / "lake" / "manifest.jsonl")
    shas = [e["sha256"] for e in entries]
    assert len(shas) == len(set(shas)) == distinct_contents, "manifest lines lost or doubled"
    assert sum(e["spans"] for e in entries) == spans
    for entry in entries:  # each line names files that exist
        assert all((home / "lake" / "spans" / f).is_file() for f in entry["files"])
    lake = home / "lake"
    assert not [p for p in lake.rglob("*") if ".tmp-" in p.name], "a temporary file was left"
    assert not list((lake / ".claims").iterdir()), "a claim outlived its run"
    assert not list((lake / ".ingest-runs").iterdir()), "a run marker outlived its run"


def landed(stdout: str) -> int:
    line = next(x for x in stdout.splitlines() if x.startswith("ingest:"))
    return int(line.split("ingest: ")[1].split(" file(s) landed")[0])


@pytest.mark.slow
@pytest.mark.parametrize("round_", range(3))
def test_two_processes_over_overlapping_inputs(contents, tmp_path, round_) -> None:
    files, ids = contents
    # A has contents 0-24 and large 30-31; B has 10-29 and large 31-32, at other paths,
    # one of them twice: 15 small and one large content overlap.
    a = tmp_path / "a"
    a.mkdir()
    b = tmp_path / "b"
    b.mkdir()
    spread(files, a, [*range(25), 30, 31])
    spread(files, b, [*range(10, 30), 31, 32])
    shutil.copyfile(files[12], b / "again-12.jsonl")
    home = tmp_path / "home"
    first, second = (a, b) if round_ % 2 == 0 else (b, a)
    runs = [ingest(home, first), ingest(home, second)]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
    assert_exactly_once(home, len(ids), distinct_contents=33)
    # Each content counted as landed by exactly one of the two.
    assert sum(landed(out) for out, _ in outputs) == 33


@pytest.mark.slow
def test_a_killed_claim_holder_does_not_block_the_others(contents, tmp_path) -> None:
    files, _ = contents
    big = files[30]
    home = tmp_path / "home"
    flag = tmp_path / "writing"
    # The holder claims the large file, writes its temporaries and holds still (driver).
    holder = subprocess.Popen(
        [sys.executable, str(DRIVER), str(flag), "--home", str(home), "ingest", str(big)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while not flag.exists() and holder.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert holder.poll() is None and flag.exists(), "the holder ended before writing its files"
    other = ingest(home, big, *files[:5])
    manifest = home / "lake" / "manifest.jsonl"
    deadline = time.monotonic() + 120
    while len(read_manifest(manifest)) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert other.poll() is None, "the second run did not wait for the claimed file"
    assert len(read_manifest(manifest)) == 5  # its own files landed; the claimed one waits
    holder.send_signal(signal.SIGKILL)
    holder.communicate()
    out, err = other.communicate(timeout=300)
    assert other.returncode == 0, err
    assert "1 being landed by another ingest" in out
    assert_exactly_once(home, 20_000 + 5 * 300, distinct_contents=6)
