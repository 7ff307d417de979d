"""Run `fleetsignals ARGS...` in a real process that SIGKILLs itself once a dbt model
has been built (its table written), mid-build.

Usage: python build_driver.py MODEL ARGS...
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fleetsignals.cli import main  # noqa: E402
from fleetsignals.warehouse import runner  # noqa: E402


def kill_after(model: str) -> None:
    """Make the build's progress callback (it sees every finished dbt node) kill us."""
    counted = runner._Progress.__call__

    def call(self: runner._Progress, event: Any) -> None:
        counted(self, event)
        if event.info.name == "NodeFinished" and event.data.node_info.node_name == model:
            os.kill(os.getpid(), signal.SIGKILL)

    runner._Progress.__call__ = call


if __name__ == "__main__":
    kill_after(sys.argv[1])
    sys.argv = ["fleetsignals", *sys.argv[2:]]
    main()
