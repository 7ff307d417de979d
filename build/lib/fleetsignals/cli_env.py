"""What every command gets from the group: the data home and the loaded configuration."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import click

from fleetsignals.config import Config, load_config
from fleetsignals.home import Home


@dataclass
class Env:
    """Resolved lazily, so `--help` works even with a broken config file."""

    home_arg: str | None
    config_arg: str | None

    @cached_property
    def home(self) -> Home:
        return Home.resolve(self.home_arg)

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_arg)


pass_env = click.make_pass_decorator(Env)
