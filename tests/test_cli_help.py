"""Every command has help text and a row in the README's command table."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from fleetsignals.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_help(name: str) -> None:
    done = CliRunner().invoke(cli, [name, "--help"])
    assert done.exit_code == 0, done.output
    first_line = (cli.commands[name].help or "").strip().splitlines()[0]
    assert first_line and " ".join(first_line.split()) in " ".join(done.output.split())


SUBCOMMANDS = sorted(
    (name, sub)
    for name, command in cli.commands.items()
    for sub in getattr(command, "commands", {})
)


def test_the_groups_have_subcommands() -> None:
    assert {name for name, _ in SUBCOMMANDS} >= {"state"}


@pytest.mark.parametrize(("name", "sub"), SUBCOMMANDS)
def test_every_subcommand_has_help(name: str, sub: str) -> None:
    done = CliRunner().invoke(cli, [name, sub, "--help"])
    assert done.exit_code == 0, done.output
    first_line = (cli.commands[name].commands[sub].help or "").strip().splitlines()[0]
    assert first_line and " ".join(first_line.split()) in " ".join(done.output.split())
    assert "--home" in done.output  # the options every command takes after its name


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_command_has_a_readme_row(name: str) -> None:
    rows = [line for line in README.read_text("utf-8").splitlines() if line.startswith("|")]
    assert any(f"`fleetsignals {name}" in row for row in rows), f"no README row for {name}"


def test_the_group_help_lists_every_command() -> None:
    done = CliRunner().invoke(cli, ["--help"])
    assert done.exit_code == 0
    for name in cli.commands:
        assert name in done.output


@pytest.mark.parametrize("where", ["before", "after"])
def test_home_works_before_or_after_the_command(where: str, tmp_path: Path) -> None:
    home = tmp_path / "mine"
    option = ["--home", str(home)]
    args = [*option, "sql", "select 1"] if where == "before" else ["sql", *option, "select 1"]
    done = CliRunner().invoke(cli, args)
    assert str(home) in str(done.exception)


def test_the_command_s_home_wins_over_the_group_s(tmp_path: Path) -> None:
    args = ["--home", str(tmp_path / "group"), "sql", "--home", str(tmp_path / "mine"), "select 1"]
    done = CliRunner().invoke(cli, args)
    assert str(tmp_path / "mine") in str(done.exception)


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_duration_options_say_their_format(name: str) -> None:
    """A DURATION option's help shows what a duration looks like (5m, 1h30m)."""
    for param in cli.commands[name].params:
        if getattr(param, "metavar", None) == "DURATION":
            assert "e.g." in (param.help or "") and "5m" in (param.help or ""), param.name


def test_every_command_module_is_registered() -> None:
    """A module added to fleetsignals/commands/ is a command only once cli.py imports it."""
    folder = Path(__file__).resolve().parents[1] / "fleetsignals" / "commands"
    modules = {p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
    assert modules == set(cli.commands)
