"""`fleetsignals build`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env


@click.command()
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Rebuild every table from all history (after changing dimensions or prices).",
)
@click.option(
    "--engine",
    type=click.Choice(["duckdb", "spark"]),
    default=None,
    help="Engine to run the dbt project on. [default: warehouse.engine in config, else duckdb]",
)
@pass_env
def command(env: Env, full_refresh: bool, engine: str | None) -> None:
    """Build the warehouse from the lake (runs the dbt project) and publish a snapshot.

    Incremental by default: only runs with spans landed since the last build are
    recomputed. `--full-refresh` rebuilds from all spans still in the lake plus the
    archived facts of pruned runs; run it after changing `dimensions:` or price rows.
    Readers (`sql`, `evaluate`, the report) keep using the previous snapshot meanwhile.
    `--engine spark` builds the models ported to Spark so far, always in full, and
    publishes a snapshot of those tables only (docs/scale-out.md).
    """
    from fleetsignals.warehouse import build

    summary = build(env.home, env.config, full_refresh=full_refresh, progress=True, engine=engine)
    for warning in summary.warnings:
        click.echo(f"warning: {warning}", err=True)
    if summary.engine == "spark":
        click.echo(
            f"spark build: {summary.models} models, {summary.runs} runs in "
            f"{summary.seconds:.1f}s (dbt {summary.dbt_seconds:.1f}s, publish "
            f"{summary.publish_seconds:.1f}s); snapshot {summary.snapshot}"
        )
        return
    kind = "full refresh" if full_refresh else "incremental build"
    click.echo(
        f"{kind}: {summary.models} models, {summary.tests} tests, {summary.runs} runs, "
        f"{summary.unpriced_models} unpriced models in {summary.seconds:.1f}s "
        f"(dbt {summary.dbt_seconds:.1f}s, publish {summary.publish_seconds:.1f}s); "
        f"snapshot {summary.snapshot}"
    )
