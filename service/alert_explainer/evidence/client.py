"""Reading from the cluster: the Prometheus query API and Alertmanager's alert list.

Prometheus, Thanos Query, Mimir and VictoriaMetrics serve the same `/api/v1/query` and
`/api/v1/query_range`; `url` is the prefix they are under (Mimir: `.../prometheus`,
VictoriaMetrics cluster: `.../select/0/prometheus`). Every answer is read up to
MAX_ANSWER_BYTES: a larger one is "too large", never parsed half. Every failure is an
EvidenceError with a short reason and a bounded outcome; no URL or credential is in it.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from alert_explainer.config.evidence import QueryApiSettings
from alert_explainer.errors import EvidenceError, TransportError
from alert_explainer.evidence.summary import Series
from alert_explainer.transport import HttpClient, HttpResponse, tls_context

MAX_ANSWER_BYTES = 4 * 1024 * 1024
MAX_WARNINGS = 3
# Longer query strings go in a POST form: proxies cut URLs at a few kilobytes.
MAX_GET_URL = 2000
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A query's series (one point each for an instant query) and the API's warnings."""

    series: list[Series]
    warnings: list[str] = field(default_factory=list)


class QueryApi:
    """One configured HTTP API: its base URL, credentials, headers and CA file."""

    def __init__(self, http: HttpClient, settings: QueryApiSettings, name: str) -> None:
        self.name = name
        self._http = http
        self._settings = settings
        self._tls = tls_context(settings.ca_file) if settings.ca_file is not None else None
        self._headers = {k: v.get_secret_value() for k, v in settings.headers.items()}
        basic = settings.basic_auth
        if basic is not None:
            password = (
                _read(basic.password_file)
                if basic.password_file is not None
                else basic.password.get_secret_value()
                if basic.password is not None
                else ""
            )
            pair = f"{basic.username}:{password}".encode()
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        elif settings.bearer_token is not None:
            self._headers["Authorization"] = f"Bearer {settings.bearer_token.get_secret_value()}"

    def _auth(self) -> dict[str, str]:
        if self._settings.bearer_token_file is None:
            return self._headers
        try:
            token = _read(self._settings.bearer_token_file)
        except OSError as exc:
            raise EvidenceError(
                f"cannot read bearer_token_file ({exc.strerror})", outcome="error"
            ) from None
        return {**self._headers, "Authorization": f"Bearer {token}"}

    async def call(
        self, path: str, params: Sequence[tuple[str, str]], *, timeout: float
    ) -> HttpResponse:
        """GET (or POST a form, for long queries) `path` under the base URL."""
        url = f"{self._settings.url}{path}"
        query = urlencode(list(params))
        headers = self._auth()
        try:
            if len(url) + len(query) < MAX_GET_URL:
                response = await self._http.request(
                    "GET",
                    f"{url}?{query}",
                    headers=headers,
                    timeout=timeout,
                    max_bytes=MAX_ANSWER_BYTES,
                    tls=self._tls,
                )
            else:
                response = await self._http.request(
                    "POST",
                    url,
                    body=query.encode(),
                    headers={**headers, "Content-Type": _FORM},
                    timeout=timeout,
                    max_bytes=MAX_ANSWER_BYTES,
                    tls=self._tls,
                )
        except TransportError as exc:
            reason = f"timed out after {timeout:.1f} s" if exc.timeout else str(exc)
            raise EvidenceError(reason, outcome="timeout" if exc.timeout else "error") from None
        if response.truncated:
            size = MAX_ANSWER_BYTES // (1024 * 1024)
            raise EvidenceError(f"answer larger than {size} MiB", outcome="too_large")
        if response.status in (401, 403):
            raise EvidenceError(f"unauthorised ({response.status})", outcome="unauthorized")
        return response


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


def duration_param(seconds: float) -> str:
    """A duration every Prometheus-compatible API reads: whole milliseconds ("2500ms")."""
    return f"{max(1, int(seconds * 1000))}ms"


class PrometheusClient:
    """Instant and range queries against a Prometheus-compatible query API."""

    def __init__(self, api: QueryApi) -> None:
        self._api = api

    async def instant(self, query: str, at: float, *, timeout: float) -> QueryResult:
        """The query's value at `at` (unix seconds)."""
        params = [("query", query), ("time", f"{at:.3f}"), ("timeout", duration_param(timeout))]
        return _result(await self._api.call("/api/v1/query", params, timeout=timeout))

    async def range(
        self, query: str, start: float, end: float, step: int, *, timeout: float
    ) -> QueryResult:
        """The query evaluated every `step` seconds from `start` to `end`."""
        params = [
            ("query", query),
            ("start", f"{start:.3f}"),
            ("end", f"{end:.3f}"),
            ("step", f"{step}s"),
            ("timeout", duration_param(timeout)),
        ]
        return _result(await self._api.call("/api/v1/query_range", params, timeout=timeout))


def _result(response: HttpResponse) -> QueryResult:
    try:
        body = orjson.loads(response.body)  # 0.42 vs 0.72 ms for 200 series of a week
    except ValueError:
        if response.status != 200:
            raise EvidenceError(f"answered {response.status}", outcome="error") from None
        raise EvidenceError("answer is not JSON", outcome="invalid") from None
    if not isinstance(body, dict):
        raise EvidenceError("answer is not a query result", outcome="invalid")
    if body.get("status") != "success":
        kind = str(body.get("errorType") or f"status {response.status}")[:40]
        message = str(body.get("error") or "no error message")[:200]
        raise EvidenceError(f"query failed ({kind}): {message}", outcome="error")
    if response.status != 200:
        raise EvidenceError(f"answered {response.status}", outcome="error")
    data = body.get("data")
    if not isinstance(data, dict):
        raise EvidenceError("answer has no data", outcome="invalid")
    warnings = body.get("warnings")
    notes = [str(w)[:200] for w in warnings[:MAX_WARNINGS]] if isinstance(warnings, list) else []
    return QueryResult(_series(data), notes)


def _series(data: dict[str, Any]) -> list[Series]:
    kind, result = data.get("resultType"), data.get("result")
    invalid = EvidenceError("answer is not a query result", outcome="invalid")
    if kind == "scalar" and isinstance(result, list):
        return [Series({}, _points([result]))]
    if kind not in ("vector", "matrix") or not isinstance(result, list):
        raise invalid
    series = []
    for entry in result:
        if not isinstance(entry, dict) or not isinstance(entry.get("metric"), dict):
            raise invalid
        labels = {str(k): str(v) for k, v in entry["metric"].items()}
        raw = entry.get("values") if kind == "matrix" else [entry.get("value")]
        if "histogram" in entry or "histograms" in entry:  # native histograms: not summarised
            raw = raw if isinstance(raw, list) and all(raw) else []
        if not isinstance(raw, list):
            raise invalid
        series.append(Series(labels, _points(raw)))
    return series


def _points(raw: list[Any]) -> tuple[tuple[float, float], ...]:
    points = []
    for pair in raw:
        if not isinstance(pair, list) or len(pair) != 2:
            continue
        try:
            moment, value = float(pair[0]), float(pair[1])
        except (TypeError, ValueError):
            continue
        if math.isfinite(moment):
            points.append((moment, value))
    return tuple(points)
