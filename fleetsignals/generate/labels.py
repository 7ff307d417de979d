"""Quality labels for a generated fleet (``generate --labels``): judge scores that arrive
minutes after a run ends and human feedback that arrives much later, for some runs.

Written to ``OUT/labels/labels-<YYYYMMDDTHHMM>.jsonl``, one file per minute of arrival
(the file of minute M holds the labels that arrived in [M, M + 1 min)), so a replay lands
each file when its minute ends (``fleetsignals label --landed-at``) and sees labels as a
live warehouse would have. Drawn from their own random stream: the dumps and ground
truth of a fleet are the same with or without labels.

The model (docs/generator.md):
- every agent and prompt variant has its own base rate of bad answers (3 to 8 %);
  a failed run is bad with probability 30 %; runs of a ``quality_drop`` incident are bad
  ``bad_factor`` times as often (nothing else about them changes);
- an LLM judge scores ``judge_coverage`` (60 %) of the ended runs, 2 to 10 minutes after
  they end: ``helpfulness`` in [0, 1] and a ``pass``/``fail`` verdict (a bad answer fails,
  and the judge errs on 2 % of verdicts either way);
- users leave feedback (``thumbs``: ``thumbs_up``/``thumbs_down``) on few runs, more often
  on bad ones (25 % against 5 %: uneven coverage), after a log-normal delay with a
  median of 40 minutes (minutes to hours).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import orjson

from fleetsignals.generate.incidents import Incident
from fleetsignals.timeutil import format_time

JUDGE = "judge:gpt-4o-mini"
JUDGE_COVERAGE = 0.6
JUDGE_ERROR = 0.02
FAILED_BAD = 0.3
HUMAN_COVERAGE = {True: 0.25, False: 0.05}  # by whether the answer was bad
HUMAN_DELAY_MEDIAN_MINUTES = 40.0
HUMAN_DELAY_SIGMA = 1.0


def _base_rates(rng: np.random.Generator, cols: dict[str, list]) -> dict[tuple, float]:
    keys = sorted(
        {
            (a or "", v or "")
            for a, v in zip(cols["agent_name"], cols["prompt_variant"], strict=True)
        }
    )
    return {key: float(rng.uniform(0.03, 0.08)) for key in keys}


def write_labels(
    directory: Path, seed: int, cols: dict[str, list], incidents: list[Incident]
) -> tuple[int, int]:
    """Write the label files; returns (files, labels)."""
    rng = np.random.default_rng([seed, 30])
    base = _base_rates(rng, cols)
    factors = {
        inc.name: float(inc.params.get("bad_factor", 1.0))  # type: ignore[arg-type]
        for inc in incidents
        if inc.name == "quality_drop"
    }
    by_minute: dict[datetime, list[tuple[datetime, bytes]]] = {}
    for i, run_id in enumerate(cols["run_id"]):
        ended = cols["ended_at"][i]
        if ended is None:
            continue  # still running when the fleet ends: nobody has judged it
        p_bad = base[(cols["agent_name"][i] or "", cols["prompt_variant"][i] or "")]
        if cols["status"][i] == "error":
            p_bad = max(p_bad, FAILED_BAD)
        p_bad = min(0.95, p_bad * factors.get(cols["incident"][i], 1.0))
        draws = rng.random(6)
        bad = bool(draws[0] < p_bad)
        if draws[1] < JUDGE_COVERAGE:
            verdict_bad = bad != bool(draws[2] < JUDGE_ERROR)
            score = draws[3] * 0.45 + (0.05 if verdict_bad else 0.55)
            at = ended + timedelta(seconds=120 + 480 * float(rng.random()))
            row = {
                "run_id": run_id,
                "name": "helpfulness",
                "score": round(float(score), 3),
                "label": "fail" if verdict_bad else "pass",
                "source": JUDGE,
                "given_at": format_time(at),
            }
            by_minute.setdefault(_minute(at), []).append((at, orjson.dumps(row)))
        if draws[4] < HUMAN_COVERAGE[bad]:
            delay = HUMAN_DELAY_MEDIAN_MINUTES * math.exp(HUMAN_DELAY_SIGMA * float(rng.normal()))
            at = ended + timedelta(minutes=min(delay, 48 * 60))
            thumbs_down = bad != bool(draws[5] < 0.1)  # users disagree with the truth too
            row = {
                "run_id": run_id,
                "name": "thumbs",
                "label": "thumbs_down" if thumbs_down else "thumbs_up",
                "source": "human",
                "given_at": format_time(at),
                "annotator": f"user-{int(rng.integers(1, 500))}",
            }
            by_minute.setdefault(_minute(at), []).append((at, orjson.dumps(row)))
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("labels-*.jsonl"):
        old.unlink()
    count = 0
    for minute, rows in sorted(by_minute.items()):
        rows.sort(key=lambda r: r[0])
        (directory / f"labels-{minute:%Y%m%dT%H%M}.jsonl").write_bytes(
            b"".join(line + b"\n" for _, line in rows)
        )
        count += len(rows)
    return len(by_minute), count


def _minute(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def arrival(path: Path) -> datetime:
    """When a label file's labels had all arrived: the end of its minute."""
    stamp = path.name.removeprefix("labels-").split(".")[0]
    return datetime.strptime(stamp, "%Y%m%dT%H%M") + timedelta(minutes=1)
