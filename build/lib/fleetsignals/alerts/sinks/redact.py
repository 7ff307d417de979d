"""How a sink is named in errors, logs, the outbox and reports: scheme://host[:port], never more.

A sink's URL often is the secret (a Slack webhook's path, a ``?token=`` query, ``user:pass@``
userinfo), so no text fleetsignals writes may hold it. Every place that names a sink's
destination calls ``address``; every error text that may embed a URL or a credential (a
receiver's reply, an exception from urllib) goes through ``scrub`` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

REDACTED = "[redacted]"
# Anything that looks like an absolute URL inside a longer text (an exception's message),
# without the punctuation that may follow it there ("from http://host:80: ...").
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>.,;:)\]]")
# Shorter strings are not scrubbed: replacing "a" or "ab" everywhere would mangle the text
# and such a secret protects nothing anyway.
_MIN_SECRET = 4


def address(url: str) -> str:
    """``scheme://host[:port]`` of a URL: no userinfo, path, query or fragment."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(invalid URL)"
    if not parts.scheme or not host:
        return "(invalid URL)"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with every given secret replaced and every URL cut down to its address."""
    for secret in sorted(
        {s for s in secrets if s and len(s) >= _MIN_SECRET}, key=len, reverse=True
    ):
        text = text.replace(secret, REDACTED)
    return _URL_IN_TEXT.sub(lambda match: address(match.group(0)), text)


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be secret: the whole URL, its path, query, user, password."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return [url]
    found = [
        url,
        url.strip(),
        parts.query,
        parts.fragment,
        parts.username or "",
        parts.password or "",
    ]
    if parts.path not in ("", "/"):
        found.append(parts.path)
        # A token alone in a path segment (Slack's /services/T000/B000/XXXX) may show up
        # without the rest of the path, e.g. echoed by the receiver.
        found += [segment for segment in parts.path.split("/") if len(segment) >= 8]
    return [s for s in found if s]
