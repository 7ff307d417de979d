"""docs/labels.md's worked custom signal, loaded as written by the real loader and run by
the real evaluator: it fires on a low mean score, and ignores labels landed after T and
labels superseded before T."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from fleetsignals.alerts.definitions import load_signals
from fleetsignals.alerts.evaluation import evaluate_signal

DOC = Path(__file__).resolve().parents[2] / "docs" / "labels.md"
T = datetime(2026, 11, 1, 12, 0)


def test_worked_example_signal(tmp_path: Path) -> None:
    text = DOC.read_text()
    (sql,) = re.findall(r"```sql\n(.*?)```", text, re.S)
    (tmp_path / "helpfulness_floor.sql").write_text(sql)
    (signal,), problems = load_signals([tmp_path])
    assert problems == []
    with duckdb.connect() as con:
        con.execute(
            "create table fct_labels (agent_name varchar, name varchar, score double, "
            "has_run boolean, landed_at timestamp, superseded_at timestamp)"
        )

        def add(
            agent: str, score: float, minutes_ago: float, superseded: float | None = None
        ) -> None:
            con.execute(
                "insert into fct_labels values (?, 'helpfulness', ?, true, ?, ?)",
                [agent, score, T - timedelta(minutes=minutes_ago),
                 None if superseded is None else T - timedelta(minutes=superseded)],
            )  # fmt: skip

        for i in range(20):
            add("good_bot", 0.9, i + 1)
            add("bad_bot", 0.4, i + 1)
            add("late_bot", 0.9, i + 1)
            add("late_bot", 0.1, -5)  # lands after T
            add("fixed_bot", 0.9, i + 1)
            add("fixed_bot", 0.1, i + 1, superseded=0.5)  # corrected before T
        result = evaluate_signal(con, signal, T)
    assert result.error is None, result.error
    assert [(s.labels, s.value) for s in result.samples] == [({"agent_name": "bad_bot"}, 0.4)]
