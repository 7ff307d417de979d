"""`fleetsignals label`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.labels.land import land_label_paths
from fleetsignals.timeutil import parse_time


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--landed-at",
    metavar="TIME",
    default=None,
    help="Record the labels as landed at TIME (ISO-8601 UTC, not in the future) instead of "
    "now: for replaying label exports whose arrival is known. Labels count from it.",
)
@pass_env
def command(env: Env, paths: tuple[Path, ...], landed_at: str | None) -> None:
    """Land quality labels (human feedback, judge scores) from CSV or JSON lines files.

    One label per row: run_id (or trace_id; optional span_id), name (what was judged),
    score (a number) and/or label (a category such as good/bad), source (human,
    judge:<model> ...), given_at, optional annotator and comment; plain, gzip or zstd;
    directories are walked recursively. Labels count from the moment they land; a
    later label for the same run, name and source supersedes an earlier one. Rows that
    are not labels go to HOME/quarantine/ with the reason and the rest land; content
    landed before is skipped. Exit status 1 when anything was quarantined. See
    docs/labels.md.
    """
    at = parse_time(landed_at) if landed_at else None
    summary = land_label_paths(
        list(paths), env.home, env.config, progress=sys.stderr.isatty(), landed_at=at
    )
    for reason in summary.reasons:
        click.echo(f"quarantined: see {env.home.root / reason}", err=True)
    click.echo(summary.line())
    if summary.quarantined:
        sys.exit(1)
