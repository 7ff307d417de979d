"""`generate_fleet`: shape, traffic, incidents, simulation, export, ground truth."""

from __future__ import annotations

import gc
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from fleetsignals.errors import FleetsignalsError
from fleetsignals.generate import export, traffic, truth, writer
from fleetsignals.generate.incidents import INCIDENTS, IncidentArg
from fleetsignals.generate.incidents import apply as apply_incident
from fleetsignals.generate.incidents import place as place_incidents
from fleetsignals.generate.incidents import target as target_incident
from fleetsignals.generate.labels import write_labels
from fleetsignals.generate.shape import build_shape
from fleetsignals.generate.simulate import RunSimulator
from fleetsignals.timeutil import format_time, parse_time

SURGE_KEY_BASE = 1 << 32  # seed keys of surge runs never collide with the base stream

Progress = Callable[[str, int, int], None]  # stage, done, total


def generate_fleet(
    out: Path,
    *,
    start: datetime | str = datetime(2026, 11, 1),
    hours: float = 6.0,
    runs_per_minute: float = 20.0,
    seed: int = 7,
    incidents: list[IncidentArg] | None = None,
    compression: str = "none",
    tenants: int | None = None,
    progress: Progress | None = None,
    labels: bool = False,
) -> truth.GroundTruth:
    """Write a synthetic fleet to OUT: ``dumps/``, ``runs.parquet``, ``ground_truth.json``.

    ``incidents``: None for all of INCIDENTS, [] for a healthy fleet, or a list of
    names (placed automatically) and/or ``(name, offset, duration[, overrides])``
    tuples: offset from ``start`` and duration as timedelta, seconds or "90m" (both
    None: placed automatically); ``overrides`` pins labels or params, e.g.
    ``{"agent_name": "refund_agent", "share_moved": 0.2}`` (docs/generator.md).
    ``tenants``: None for the seed's own count (20 to 160), or a number of tenants with
    Zipf-like sizes (hundreds give the long tail of small tenants next to a few large ones).
    ``labels``: also write quality labels to ``OUT/labels/`` (generate/labels.py).
    The same arguments always give byte-identical files.
    """
    # Millions of small acyclic dicts: the cyclic collector only costs time here.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate(
            out, start, hours, runs_per_minute, seed, incidents, compression, tenants, progress,
            labels,
        )  # fmt: skip
    finally:
        if was_enabled:
            gc.enable()


def _generate(
    out: Path,
    start: datetime | str,
    hours: float,
    runs_per_minute: float,
    seed: int,
    incidents: list[IncidentArg] | None,
    compression: str,
    tenants: int | None,
    progress: Progress | None,
    labels: bool = False,
) -> truth.GroundTruth:
    start = parse_time(start)
    if not (hours > 0 and math.isfinite(hours)):
        raise FleetsignalsError(f"--hours must be a positive number, not {hours}")
    if not (runs_per_minute > 0 and math.isfinite(runs_per_minute)):
        raise FleetsignalsError(f"--runs-per-minute must be positive, not {runs_per_minute}")
    if not isinstance(seed, int) or seed < 0:
        raise FleetsignalsError(f"--seed must be a whole number >= 0, not {seed}")
    if tenants is not None and (not isinstance(tenants, int) or not 1 <= tenants <= 100_000):
        raise FleetsignalsError(f"--tenants must be a whole number from 1 to 100000, not {tenants}")
    writer.check_compression(compression)
    out = Path(out)
    end = start + timedelta(hours=hours)
    start_ns, end_ns = _ns(start), _ns(end)
    items: list[IncidentArg] = list(INCIDENTS) if incidents is None else list(incidents)
    placed = place_incidents(items, start, hours, seed)
    if not labels and any(inc.name == "quality_drop" for inc in placed):
        raise FleetsignalsError("quality_drop shows only in quality labels: add --labels")

    shape = build_shape(seed, tenants)
    plans = traffic.assign(
        np.random.default_rng([seed, 1]),
        shape,
        traffic.arrivals(
            np.random.default_rng([seed, 2]), shape, start, start_ns, end_ns, runs_per_minute
        ),
        0,
    )
    target_rng = np.random.default_rng([seed, 3])
    for inc in placed:
        target_incident(inc, shape, target_rng, inc.overrides)
        if inc.name == "traffic_surge":
            # The surge is extra traffic, a separate stream: the base runs stay identical.
            extra = float(inc.params["multiplier"]) - 1  # type: ignore[arg-type]
            times = traffic.arrivals(
                np.random.default_rng([seed, 6]), shape, start, _ns(inc.start), _ns(inc.end),
                runs_per_minute * extra,
            )  # fmt: skip
            plans += traffic.assign(np.random.default_rng([seed, 7]), shape, times, SURGE_KEY_BASE)
    plans.sort(key=lambda p: (p.start_ns, p.key))
    effect_rng = np.random.default_rng([seed, 8])
    for inc in placed:
        apply_incident(inc, shape, plans, effect_rng)

    result = truth.GroundTruth(
        out=out,
        seed=seed,
        start=start,
        end=end,
        params={
            "hours": hours,
            "runs_per_minute": runs_per_minute,
            "compression": compression,
            "incidents": [i.name for i in placed],
            # Only when asked, so every existing fleet's ground truth stays byte-identical.
            **({} if tenants is None else {"tenants": tenants}),
            **({"labels": True} if labels else {}),
        },
        incidents=placed,
        fleet=truth.describe_shape(shape),
    )
    writer.clear_dumps(result.dumps)
    exporter = export.Exporter(shape, seed, start_ns, end_ns)
    facts: dict[int, truth.RunFacts] = {}

    def write(watermark: int) -> None:
        for minute, lines, written in exporter.drain(watermark):
            result.files.append(
                writer.write_minute(result.dumps, start, minute, lines, compression)
            )
            result.spans += len(written)
            for s in written:
                run = facts.get(s.run)
                if run is None:
                    run = facts[s.run] = truth.RunFacts()
                run.add(s)

    next_drain = start_ns
    step = max(1, len(plans) // 200)  # progress callbacks: about every half percent
    for i, plan in enumerate(plans):
        if plan.start_ns >= next_drain:
            # Every span that ends before this run starts has been simulated.
            write(plan.start_ns)
            next_drain = plan.start_ns + export.MINUTE_NS
        agent = shape.agents[plan.agent]
        sim = RunSimulator(plan, i, agent, seed, shape.cohort_context[plan.dims.user_cohort])
        exporter.add(sim.run().spans)
        plan.spans = []
        if progress and (i % step == 0 or i == len(plans) - 1):
            progress("generating", i + 1, len(plans))
    write(end_ns + 3600 * 10**9)

    cols = truth.run_rows(plans, facts, shape)
    written = set(cols["run_id"])
    for inc in placed:
        inc.run_ids = [p.run_id for p in plans if p.incident == inc.name and p.run_id in written]
        if inc.name == "stuck_runs":
            # The incident lasts until the last stuck loop stops (or the fleet ends).
            stop = max((p.effect_end_ns for p in plans if p.incident == inc.name), default=0)
            inc.end = max(inc.end, min(truth.ns_to_datetime(stop), end))
    result.runs = len(cols["run_id"])
    if labels:
        result.label_files, result.labels = write_labels(out / "labels", seed, cols, placed)
    truth.write_truth(result, cols)
    return result


def _ns(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1)
    return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def describe(result: truth.GroundTruth) -> list[str]:
    """Summary lines for the command line."""
    lines = [
        f"wrote {result.runs} runs, {result.spans} spans in {len(result.files)} files "
        f"to {result.dumps} ({format_time(result.start)} .. {format_time(result.end)})",
    ]
    agents = result.fleet.get("agents", [])
    if agents:
        models = sorted({m for a in agents for m in a["models"]})
        lines.append(
            f"fleet: {len(agents)} agents ({', '.join(a['name'] for a in agents)}), "
            f"{sum(len(a['prompt_variants']) for a in agents)} prompt variants, "
            f"{len(models)} models, {result.fleet['tenants']} tenants, "
            f"cohorts {'/'.join(result.fleet['user_cohorts'])}"
        )
    if result.label_files:
        lines.append(
            f"labels: {result.labels} judge scores and human feedback in {result.label_files} "
            f"files (one per minute of arrival) in {result.out / 'labels'}"
        )
    for inc in result.incidents:
        labels = ", ".join(f"{k}={v}" for k, v in inc.labels.items()) or "-"
        lines.append(
            f"  {inc.name:<16} {format_time(inc.start)} .. {format_time(inc.end)}  "
            f"{len(inc.run_ids):>5} runs  signal={inc.signal or 'none (control)'}  {labels}"
        )
        if not inc.run_ids:
            lines.append("    (no run in scope: raise --runs-per-minute or --hours)")
    lines.append(f"ground truth: {result.path} and {result.runs_path}")
    # Not OUT: its truth files are not traces, and would be quarantined.
    lines.append(f"next: fleetsignals ingest {result.dumps}")
    if result.label_files:
        lines.append(
            f"then: fleetsignals label {result.out / 'labels'} (labels count from landing)"
        )
    return lines
