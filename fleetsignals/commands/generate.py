"""`fleetsignals generate`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.errors import FleetsignalsError
from fleetsignals.generate import INCIDENTS, KNOWN_INCIDENTS, describe, generate_fleet
from fleetsignals.timeutil import parse_time


def parse_incidents(text: str) -> list | None:
    """``all`` -> None (every incident), ``none`` -> [], else a comma list of
    ``name`` or ``name@OFFSET+DURATION`` (e.g. ``tool_failure@3h+45m``)."""
    value = text.strip()
    if value == "all":
        return None
    if value in ("none", ""):
        return []
    items: list = []
    for part in value.split(","):
        part = part.strip()
        name, _, when = part.partition("@")
        if name not in KNOWN_INCIDENTS:
            raise FleetsignalsError(
                f"unknown incident {name!r}: choose from {', '.join(KNOWN_INCIDENTS)}, "
                "or all, or none"
            )
        if not when:
            items.append(name)
            continue
        offset, plus, duration = when.partition("+")
        if not plus:
            raise FleetsignalsError(
                f"invalid incident {part!r}: write NAME@OFFSET+DURATION, e.g. tool_failure@3h+45m"
            )
        items.append((name, offset, duration))
    return items


@click.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for dumps/, runs.parquet and ground_truth.json.",
)
@click.option(
    "--hours", default=6.0, show_default=True, type=float, help="Length of the fleet's history."
)
@click.option(
    "--runs-per-minute",
    default=20.0,
    show_default=True,
    type=float,
    help="Mean rate of new runs (varies over the day).",
)
@click.option(
    "--seed",
    default=7,
    show_default=True,
    type=int,
    help="Same seed, same bytes; another seed, another fleet.",
)
@click.option(
    "--start",
    default="2026-11-01T00:00:00Z",
    show_default=True,
    help="Start of the fleet's history (ISO-8601 UTC).",
)
@click.option(
    "--incidents",
    default="all",
    show_default=True,
    help="all ("
    + ", ".join(INCIDENTS)
    + "), none, or a comma list of these or "
    + ", ".join(n for n in KNOWN_INCIDENTS if n not in INCIDENTS)
    + "; NAME@OFFSET+DURATION places one explicitly (e.g. tool_failure@3h+45m).",
)
@click.option(
    "--tenants",
    type=click.IntRange(1, 100_000),
    default=None,
    help="Number of tenants, with Zipf-like sizes (default: the seed's own, 20 to 160); "
    "hundreds give a long tail of small tenants.",
)
@click.option(
    "--compression",
    type=click.Choice(["none", "gz", "zst", "zst-framed"]),
    default="none",
    show_default=True,
    help="Compress the dump files (zst-framed: the Collector fileexporter's length-prefixed zstd frames).",
)
@click.option(
    "--labels",
    is_flag=True,
    help="Also write quality labels to OUT/labels/: judge scores minutes after runs end and "
    "delayed human feedback, one JSON-lines file per minute of arrival (docs/labels.md).",
)
@pass_env
def command(
    env: Env,
    out: str,
    hours: float,
    runs_per_minute: float,
    seed: int,
    start: str,
    incidents: str,
    tenants: int | None,
    compression: str,
    labels: bool,
) -> None:
    """Write a synthetic fleet with labelled incidents, as the Collector's file exporter would.

    OUT/dumps/ gets one OTLP/JSON-lines file per minute; OUT/ground_truth.json the
    incident windows, labels and affected runs; OUT/runs.parquet one row of truth per
    run; with --labels, OUT/labels/ quality labels (the quality_drop incident needs them). The same arguments always give byte-identical files. See docs/generator.md.
    """
    chosen = parse_incidents(incidents)
    tty = sys.stderr.isatty()
    bar = {"stage": None, "last": -1}

    def progress(stage: str, done: int, total: int) -> None:
        if not tty:
            return
        pct = int(100 * done / max(total, 1))
        if (stage, pct) != (bar["stage"], bar["last"]):
            click.echo(f"\r{stage}: {done}/{total} runs ({pct}%)   ", err=True, nl=False)
            bar.update(stage=stage, last=pct)
        if done == total:
            click.echo("", err=True)

    result = generate_fleet(
        Path(out),
        start=parse_time(start),
        hours=hours,
        runs_per_minute=runs_per_minute,
        seed=seed,
        incidents=chosen,
        compression=compression,
        tenants=tenants,
        progress=progress,
        labels=labels,
    )
    for line in describe(result):
        click.echo(line)
