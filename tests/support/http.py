"""Tiny blocking HTTP client for harness code: loopback only, never through a proxy."""

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, NamedTuple

# An empty ProxyHandler ignores http_proxy & co. from the environment: our peers are all local.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class HttpResult(NamedTuple):
    """Status, body and headers (names lower-cased) of one HTTP exchange."""

    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        """The body parsed as JSON, or None if it is empty or not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> HttpResult:
    """Send one request and return the answer; HTTP error statuses are returned, not raised."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"test harness only talks to 127.0.0.1, not {url!r}")
    # S310 audits URL schemes: the check above lets only http://127.0.0.1 through.
    req = urllib.request.Request(  # noqa: S310
        url, data=body, headers=dict(headers or {}), method=method
    )
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return HttpResult(resp.status, resp.read(), _lower(resp.headers.items()))
    except urllib.error.HTTPError as err:
        with err:
            return HttpResult(err.code, err.read(), _lower(err.headers.items()))


def _lower(items: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in items}
