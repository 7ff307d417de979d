"""`fleetsignals demo`."""

from __future__ import annotations

import click

from fleetsignals.cli_env import Env, pass_env


@click.command()
@click.option("--hours", default=12.0, show_default=True, help="Hours of synthetic traffic.")
@click.option("--runs-per-minute", default=12.0, show_default=True, help="Average run rate.")
@click.option(
    "--seed", default=7, show_default=True, help="Generator seed (same seed, same fleet)."
)
@pass_env
def command(env: Env, hours: float, runs_per_minute: float, seed: int) -> None:
    """Run the whole pipeline on a synthetic fleet and show what fired.

    Generates a fleet with labelled incidents (HOME/demo/fleet), ingests it,
    builds the warehouse, backtests every signal, scores the alerts against the
    ground truth, applies retention and writes HOME/report.html.
    """
    from fleetsignals.orchestrate.demo import run_demo

    run_demo(
        env.home, env.config, click.echo, hours=hours, runs_per_minute=runs_per_minute, seed=seed
    )
