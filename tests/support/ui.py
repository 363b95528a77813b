"""Reading the operator's page and its JSON API of a running service, for tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from tests.support import http
from tests.support.service import ServiceProcess

Row = dict[str, Any]


def api(
    service: ServiceProcess, path: str, headers: Mapping[str, str] | None = None
) -> http.HttpResult:
    """GET a path of the service (e.g. "/api/v1/notifications?status=firing")."""
    return http.request("GET", f"{service.base_url}{path}", headers=headers)


def wait_for_rows(
    service: ServiceProcess,
    done: Callable[[list[Row]], bool],
    timeout: float = 15.0,
    headers: Mapping[str, str] | None = None,
    query: str = "",
) -> list[Row]:
    """Poll /api/v1/notifications until `done(rows)`; AssertionError with the rows if not."""
    deadline = time.monotonic() + timeout
    rows: list[Row] = []
    while time.monotonic() < deadline:
        result = api(service, f"/api/v1/notifications{query}", headers)
        assert result.status == 200, result.body[:500]
        rows = result.json()["notifications"]
        if done(rows):
            return rows
        time.sleep(0.1)
    raise AssertionError(f"rows not as expected within {timeout:g} s: {rows}")


def finished(count: int) -> Callable[[list[Row]], bool]:
    """`count` rows, none still in progress or queued."""
    return lambda rows: (
        len(rows) == count and all(r["outcome"] not in ("in_progress", "queued") for r in rows)
    )


def detail(service: ServiceProcess, row: Row, headers: Mapping[str, str] | None = None) -> Row:
    """The API's detail of one row."""
    result = api(service, f"/api/v1/notifications/{row['id']}", headers)
    assert result.status == 200, result.body[:500]
    found: Row = result.json()
    return found
