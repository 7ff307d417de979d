"""`fleetsignals ingest`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from fleetsignals.cli_env import Env, pass_env
from fleetsignals.ingest.land import land_paths


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@pass_env
def command(env: Env, paths: tuple[Path, ...]) -> None:
    """Land OTLP/JSON trace files (or directories, recursively) in the Parquet lake.

    Accepts JSON lines of TracesData / ExportTraceServiceRequest (the Collector's
    file exporter) or one JSON document per file; plain, gzip, zstd, or the file
    exporter's length-prefixed zstd frames; also a JSON array of those messages,
    and Jaeger API responses ({"result": ...}). Content already landed is skipped.
    Several ingests may run into one HOME at once (overlapping inputs too): each
    content lands once, a file another ingest is landing is waited for.
    Bad records or files go to HOME/quarantine/ with the reason, as do spans with
    implausible times (ingest.max_future, max_past, max_duration); the rest lands.
    Attribute values and lists over the attribute limits land cut, each such span
    kept whole in the quarantine. The exit status is 1 when anything was quarantined
    (now, or before: content quarantined before is not retried; its reason is named
    on stderr).
    """
    summary = land_paths(list(paths), env.home, env.config, progress=sys.stderr.isatty())
    for reason in summary.reasons:
        click.echo(f"quarantined: {_reason_line(env.home.root / reason)}", err=True)
    for reason in summary.reasons_before:
        click.echo(f"quarantined before, not retried: see {env.home.root / reason}", err=True)
    click.echo(summary.line())
    if summary.quarantined or summary.quarantined_before:
        sys.exit(1)


def _reason_line(path: Path) -> str:
    """The source, why it was quarantined, and where the details are, on one line."""
    try:
        reason = orjson.loads(path.read_bytes())
        return f"{reason['source']}: {reason['error']} (see {path})"
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return f"see {path}"
