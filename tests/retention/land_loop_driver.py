"""Land new small OTLP files in a loop, in one real process, until told to stop.

Usage: python land_loop_driver.py HOME INBOX STOP [KIND:N]

Round n (counted on from the rounds INBOX holds) writes ``INBOX/round-NNN/`` (three small files, landed together as a batch, on
even rounds; one file, landed alone, on odd rounds) and lands that directory with its own
``land_paths`` call. The loop ends after the round in which the file STOP exists. Each
file's spans are spread over a few hours, so most rounds publish into several partitions.

With KIND:N the process SIGKILLs itself in its N-th manifest append of that kind, after
the files were published (the test-only crash lives here, not in the product): ``batch``
before writing any line of a batch, ``torn`` after writing the first line of a batch,
``single`` before the line of a file landed alone.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # for tests.fixtures

from fleetsignals.config import load_config  # noqa: E402
from fleetsignals.files import append_durably, write_atomic  # noqa: E402
from fleetsignals.home import Home  # noqa: E402
from fleetsignals.ingest.land import land_paths  # noqa: E402
from fleetsignals.ingest.manifest import ManifestIndex  # noqa: E402
from tests.fixtures.ingest_inputs import synthetic_lines  # noqa: E402

SPANS = 200  # per file
STEP_NS = 60 * 10**9  # a minute apart: a file covers 3 h 20 min, so 4 partitions


def write_round(inbox: Path, n: int) -> Path:
    """The files of round ``n``, each written atomically (a kill leaves no torn input)."""
    directory = inbox / f"round-{n:03d}"
    directory.mkdir(parents=True, exist_ok=True)
    for k in range(3 if n % 2 == 0 else 1):
        data, _ = synthetic_lines(SPANS, seed=10_000 + 10 * n + k, step_ns=STEP_NS)
        write_atomic(directory / f"part-{k}.jsonl", data)
    return directory


def die_at(spec: str) -> None:
    """Replace ManifestIndex.append by one that dies at its N-th append of KIND."""
    kind, n = spec.split(":")
    append = ManifestIndex.append
    seen = 0

    def dying_append(self: ManifestIndex, entries: list[dict]) -> None:
        nonlocal seen
        if any("batch" in e for e in entries) == (kind != "single"):
            seen += 1
            if seen == int(n):
                if kind == "torn":
                    append_durably(self.path, orjson.dumps(entries[0]) + b"\n")
                os.kill(os.getpid(), signal.SIGKILL)
        append(self, entries)

    ManifestIndex.append = dying_append  # type: ignore[method-assign]


if __name__ == "__main__":
    if len(sys.argv) > 4:
        die_at(sys.argv[4])
    home, inbox, stop = Home(Path(sys.argv[1])), Path(sys.argv[2]), Path(sys.argv[3])
    config = load_config(None)
    n = len(list(inbox.glob("round-*")))  # a later driver goes on where the last one stopped
    while True:
        land_paths([write_round(inbox, n)], home, config, settle_seconds=0)
        n += 1
        if stop.exists():
            break
