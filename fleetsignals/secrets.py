"""Credentials from the operator's config: given inline or as a file read at each use.

A ``*_file`` option is read at every use (whitespace around the content trimmed), so a
rotated token is picked up without a restart; it is checked once when the config loads.
Neither the value nor the file's content ever appears in an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class SecretUnreadable(Exception):
    """A credentials file could not be read at use; the message names no secret."""


@dataclass(frozen=True)
class Secret:
    """A credential given inline or as a file read at each use."""

    value: str | None = None
    file: Path | None = None

    def read(self) -> str:
        if self.file is None:
            return self.value or ""
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise SecretUnreadable(f"cannot read a credentials file ({_reason(exc)})") from None


def secret_option(section: dict[str, Any], key: str, where: str) -> Secret | None:
    """``key`` (inline) or ``key_file`` (a path) of a config section, or None if neither;
    ValueError naming the option (never its value) when both are given or the file
    cannot be read now."""
    inline, path = section.get(key), section.get(f"{key}_file")
    if inline is not None and path is not None:
        raise ValueError(f"{where}.{key} and {where}.{key}_file: give only one")
    if path is None:
        return None if inline is None else Secret(value=str(inline))
    file = Path(str(path)).expanduser()
    try:
        file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where}.{key}_file: cannot read the file ({_reason(exc)})") from None
    return Secret(file=file)


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or "not UTF-8 text"
