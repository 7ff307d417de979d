"""Run `fleetsignals ARGS...` in a real process that holds still while its Parquet files are open.

Usage: python ingest_driver.py FLAG ARGS...

The test-only slow-down lives here, not in the product: ``LakeWriter.close`` is replaced
by one that writes every buffered partition to its temporary file, creates FLAG and then
waits for the SIGKILL the test sends, so the kill surely lands while a file is half-made.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from fleetsignals.cli import main
from fleetsignals.ingest.lake import LakeWriter


def install(flag: Path) -> None:
    def held_close(self: LakeWriter) -> list[str]:
        for key in list(self.buffers):
            self._flush(key)  # opens the temporary file of every partition
        flag.touch()
        while True:
            time.sleep(1)

    LakeWriter.close = held_close  # type: ignore[method-assign]


if __name__ == "__main__":
    install(Path(sys.argv[1]))
    sys.argv = ["fleetsignals", *sys.argv[2:]]
    main()
