"""Run `fleetsignals ARGS...` in a real process that SIGKILLs itself at a retention step.

Usage: python retain_driver.py STEP[:N] ARGS...  (see tests/fixtures/crashes.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # for tests.fixtures

from fleetsignals.cli import main  # noqa: E402
from tests.fixtures.crashes import install, kill_at  # noqa: E402

if __name__ == "__main__":
    install(kill_at(sys.argv[1]))
    sys.argv = ["fleetsignals", *sys.argv[2:]]
    main()
