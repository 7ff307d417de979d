"""The demo's story: hourly files it keeps, and why each alert that matched no incident fired."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from fleetsignals.generate.incidents import Incident
from fleetsignals.orchestrate.demo import Episode, explain, rotate_hourly

T0 = datetime(2026, 11, 1, 6, 0)


def _incident(name: str, labels: dict[str, str], params: dict | None = None) -> Incident:
    return Incident(name, T0, T0 + timedelta(minutes=45), labels, params or {}, [])


def test_rotate_hourly_rewrites_an_earlier_fleet_s_hours(tmp_path: Path) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    out = tmp_path / "hourly"
    out.mkdir()
    (out / "traces-20261101T05.jsonl").write_bytes(b"an earlier fleet\n")
    minutes = []
    for minute in (0, 1):
        path = dumps / f"traces-20261101T06{minute:02d}00Z.jsonl"
        path.write_bytes(f"minute {minute}\n".encode())
        minutes.append(path)
    assert rotate_hourly(minutes, out) == out
    assert sorted(p.name for p in out.iterdir()) == ["traces-20261101T06.jsonl"]
    assert (out / "traces-20261101T06.jsonl").read_bytes() == b"minute 0\nminute 1\n"


def test_explain_names_the_incident_an_extra_alert_comes_from() -> None:
    loops = _incident("silent_loops", {"agent_name": "bot", "prompt_variant": "v2"})
    surge = Incident("traffic_surge", T0 + timedelta(hours=3), T0 + timedelta(hours=4), {}, {}, [])
    during = Episode("fingerprint_drift", {"agent_name": "bot", "prompt_variant": "v2"},
                     T0 + timedelta(minutes=20), T0 + timedelta(minutes=40), 1.0)  # fmt: skip
    other_agent = Episode("fingerprint_drift", {"agent_name": "other", "prompt_variant": "v2"},
                          T0 + timedelta(minutes=20), T0 + timedelta(minutes=40), 1.0)  # fmt: skip
    in_surge = Episode("p95_cost_jump", {"agent_name": "other"},
                       T0 + timedelta(hours=3, minutes=5), T0 + timedelta(hours=3, minutes=9),
                       1.0)  # fmt: skip
    assert explain(during, [loops, surge]) == "side effect of silent_loops (same labels, during it)"
    assert explain(other_agent, [loops, surge]) == "false alarm: no labelled incident then"
    assert explain(in_surge, [loops, surge]).startswith("false alarm during traffic_surge")


def test_an_alert_sharing_no_label_with_an_incident_is_not_its_side_effect() -> None:
    failing = _incident("tool_failure", {"tool_name": "search_docs", "prompt_variant": "v2"})
    unrelated = Episode("depth_tail", {"agent_name": "bot"}, T0 + timedelta(minutes=5),
                        T0 + timedelta(minutes=9), 1.0)  # fmt: skip
    assert explain(unrelated, [failing]) == "false alarm: no labelled incident then"
