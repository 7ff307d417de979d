"""The HTTP sinks' shared part: where to POST, with which credentials, and the POST itself.

Options (Prometheus' ``http_config`` vocabulary, so an operator's Alertmanager or Prometheus
config reads the same):

- ``url``: http(s) URL. Userinfo in it (``https://user:pass@host/...``) is taken as
  ``basic_auth`` and removed from the URL (urllib would not send it).
- ``basic_auth: {username, password | password_file}``
- ``authorization: {type (default Bearer), credentials | credentials_file}``
- ``headers``: extra request headers (mapping).

``*_file`` options are read at every request (``fleetsignals.secrets``). Credentials and the URL's path and query are secrets: errors name the sink's
address (``scheme://host[:port]``) only, see ``alerts.sinks.redact``.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from fleetsignals.alerts.sinks.base import DeliveryError, PermanentDeliveryError, Sink
from fleetsignals.alerts.sinks.redact import address, scrub, url_secrets
from fleetsignals.secrets import Secret, SecretUnreadable, secret_option

HTTP_OPTIONS = frozenset({"url", "headers", "basic_auth", "authorization"})

# 408 and 429 mean "later". 401, 403 and 404 mean the receiver's address or credentials
# are wrong (a rotated token, a moved webhook): its operator fixes that, and then the
# queued notifications go out, so a misconfigured sink delays alerts, never loses them.
# Any other 4xx means the payload itself is wrong: retrying cannot help.
RETRIED_4XX = frozenset({401, 403, 404, 408, 429})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as an error: urllib would turn the POST into a bodiless GET
    (the notification silently lost) and carry the Authorization header to the new host."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Endpoint:
    url: str  # without userinfo
    headers: dict[str, str] = field(default_factory=dict)
    username: str | None = None
    password: Secret | None = None
    scheme: str | None = None  # authorization type, e.g. Bearer
    credentials: Secret | None = None

    @property
    def address(self) -> str:
        return address(self.url)

    def authorization(self) -> str | None:
        try:
            if self.password is not None:
                pair = f"{self.username or ''}:{self.password.read()}".encode()
                return "Basic " + base64.b64encode(pair).decode()
            if self.credentials is not None:
                return f"{self.scheme} {self.credentials.read()}"
        except SecretUnreadable as exc:
            raise DeliveryError(str(exc)) from None
        return None

    def secrets(self) -> list[str]:
        """Every text that must not appear in an error (file contents as they are now)."""
        found = [*url_secrets(self.url), *self.headers.values(), self.username or ""]
        with contextlib.suppress(DeliveryError, SecretUnreadable):
            found += [secret.read() for secret in (self.password, self.credentials) if secret]
            header = self.authorization()
            found += [header, header.split(" ", 1)[-1]] if header else []
        return found


def _mapping(options: dict[str, Any], key: str) -> dict[str, Any]:
    value = options.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a mapping")
    return value


def endpoint(options: dict[str, Any], needs: str) -> Endpoint:
    """The endpoint from a sink's options; ValueError naming the key (never its value)."""
    if not options.get("url"):
        raise ValueError(f"needs url: {needs}")
    raw = str(options["url"]).strip()
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise ValueError("url: not a valid URL (check its host and port)") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("url: must be an http:// or https:// URL with a host")
    headers = {str(k): str(v) for k, v in _mapping(options, "headers").items()}
    basic = _mapping(options, "basic_auth")
    auth = _mapping(options, "authorization")
    unknown = sorted(set(basic) - {"username", "password", "password_file"}) + sorted(
        set(auth) - {"type", "credentials", "credentials_file"}
    )
    if unknown:
        raise ValueError(f"unknown basic_auth/authorization option {', '.join(unknown)}")
    if parts.username is not None or parts.password is not None:
        if basic:
            raise ValueError("url has user:password@ and basic_auth is set: give only one")
        basic = {
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
        }
        host = parts.netloc.rsplit("@", 1)[1]
        raw = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    password = secret_option(basic, "password", "basic_auth")
    credentials = secret_option(auth, "credentials", "authorization")
    if basic and password is None:
        raise ValueError("basic_auth needs password or password_file")
    if auth and credentials is None:
        raise ValueError("authorization needs credentials or credentials_file")
    if basic and auth:
        raise ValueError("basic_auth and authorization: give only one")
    if (basic or auth) and any(k.lower() == "authorization" for k in headers):
        raise ValueError("headers has Authorization and basic_auth/authorization is set")
    return Endpoint(
        url=raw,
        headers=headers,
        username=str(basic.get("username") or "") if basic else None,
        password=password,
        scheme=str(auth.get("type") or "Bearer") if auth else None,
        credentials=credentials,
    )


def post_json(target: Endpoint, body: Any, timeout: float) -> None:
    """POST JSON; raises DeliveryError (retry) or PermanentDeliveryError (4xx), with texts
    that name the target's address only."""
    headers = {"Content-Type": "application/json", "User-Agent": "fleetsignals", **target.headers}
    authorization = target.authorization()
    if authorization:
        headers["Authorization"] = authorization
    request = urllib.request.Request(
        target.url, data=json.dumps(body).encode(), method="POST", headers=headers
    )
    where = target.address
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = scrub(exc.read()[:200].decode(errors="replace").strip(), target.secrets())
        message = f"HTTP {exc.code} from {where}: {detail}"
        if 300 <= exc.code < 400:
            message += " (a redirect: set url to where it points)"
        if 400 <= exc.code < 500 and exc.code not in RETRIED_4XX:
            raise PermanentDeliveryError(message) from None
        raise DeliveryError(message) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = scrub(str(getattr(exc, "reason", exc)), target.secrets())
        raise DeliveryError(f"cannot reach {where}: {reason}") from None


class HttpSink(Sink):
    """A sink that POSTs its rendered payloads as JSON to ``self.endpoint``."""

    allowed = HTTP_OPTIONS
    # What url is, for the "needs url" error.
    url_help = "where to POST the notifications"

    def __init__(self, name: str, options: dict[str, Any], timeout: float) -> None:
        super().__init__(name, options, timeout)
        self.endpoint = endpoint(options, self.url_help)

    def send(self, payload: Any) -> None:
        post_json(self.endpoint, payload, self.timeout)

    def secrets(self) -> list[str]:
        return self.endpoint.secrets()

    def address(self) -> str:
        return self.endpoint.address
