"""Land a directory of small files in a real process that dies (SIGKILL) mid-batch.

Usage: python batch_driver.py MODE HOME PATH

The test-only crash lives here, not in the product: the manifest append of the first
batch is replaced by a SIGKILL of this process, after the batch's Parquet files were
published. MODE ``unrecorded`` dies before writing any line; ``torn`` first appends the
lines of half the batch's sources (as a write cut short by the crash would).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import orjson

from fleetsignals.config import load_config
from fleetsignals.files import append_durably
from fleetsignals.home import Home
from fleetsignals.ingest.land import land_paths
from fleetsignals.ingest.manifest import ManifestIndex


def install(mode: str) -> None:
    append = ManifestIndex.append

    def dying_append(self: ManifestIndex, entries: list[dict]) -> None:
        if not any("batch" in e for e in entries):
            append(self, entries)
            return
        if mode == "torn":
            half = entries[: len(entries) // 2]
            append_durably(self.path, b"".join(orjson.dumps(e) + b"\n" for e in half))
        os.kill(os.getpid(), signal.SIGKILL)

    ManifestIndex.append = dying_append  # type: ignore[method-assign]


if __name__ == "__main__":
    install(sys.argv[1])
    land_paths([Path(sys.argv[3])], Home(Path(sys.argv[2])), load_config(None), settle_seconds=0)
