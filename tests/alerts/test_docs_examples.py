"""The shell examples of docs/signals.md, run as written and in order, in a real process.

Every `$ fleetsignals ...` line of the page's console blocks (a trailing backslash joins
the next line, `# ...` is a comment) runs against one small home: the snapshot of the
worked example (tenant t2's cost per run jumps 5x at 04:00) with the page's own
`tenant_cost_vs_baseline` signal. A reader who types them in this order must never meet an
error, in particular not "its alert state is already at ..." after the first `evaluate`.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from tests.fixtures.alertfixtures import SURGE, publish_snapshot

DOC = Path(__file__).resolve().parents[2] / "docs" / "signals.md"


def console_commands(text: str) -> list[tuple[list[str], list[str]]]:
    """(argv, the output lines shown under it) of each `$ fleetsignals` line, in order."""
    found: list[tuple[list[str], list[str]]] = []
    for block in re.findall(r"```console\n(.*?)```", text, re.S):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("$ "):
                command = line[2:]
                while command.rstrip().endswith("\\"):
                    i += 1
                    command = command.rstrip()[:-1] + " " + lines[i].strip()
                found.append((shlex.split(command, comments=True), []))
            elif found and line.strip():
                found[-1][1].append(line)
            i += 1
    return found


def worked_example_sql(text: str) -> str:
    section = text.split("## Worked example", 1)[1]
    return re.search(r"```sql\n(.*?)```", section, re.S).group(1)


def test_the_page_s_commands_are_the_ones_a_user_types() -> None:
    commands = [argv for argv, _ in console_commands(DOC.read_text(encoding="utf-8"))]
    assert all(argv[0] == "fleetsignals" for argv in commands)
    names = [argv[1] for argv in commands]
    # live now, then a past time: the sequence that used to be refused
    assert names[:2] == ["evaluate", "evaluate"] and "--at" in commands[1]
    assert {"backtest", "state", "outbox"} <= set(names)


def test_every_shell_example_runs_as_written(home, tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    publish_snapshot(home, extra_sql=SURGE)
    signals = tmp_path / "signals"
    signals.mkdir()
    (signals / "tenant_cost_vs_baseline.sql").write_text(worked_example_sql(text), "utf-8")
    config = tmp_path / "fleetsignals.yml"
    config.write_text(f"signal_dirs: [{signals}]\n", encoding="utf-8")
    env = {**os.environ, "FLEETSIGNALS_HOME": str(home.root), "FLEETSIGNALS_CONFIG": str(config)}
    exe = Path(sys.executable).with_name("fleetsignals")
    for argv, shown in console_commands(text):
        done = subprocess.run(
            [str(exe), *argv[1:]], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert done.returncode == 0, f"{shlex.join(argv)}: {done.stderr}"
        if shown and shown[0].startswith("backtest "):
            # The summary line the page shows is the one printed.
            assert done.stdout.splitlines()[0] == shown[0], shlex.join(argv)
