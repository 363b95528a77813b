"""External labels: what Prometheus adds to an alert as it sends it, and its series lack.

prometheus-operator (so kube-prometheus-stack) gives every Prometheus the external label
`prometheus="<namespace>/<name>"`, and many setups add `cluster`, `region` and the like.
Alerts arrive carrying them; the series in the TSDB do not. Pinned into a query they match
nothing: every expression and history query would be asked twice, pinned and then for the
whole cluster. So their names are left out of the pins. They come from the query API's
/api/v1/status/config, read in the background from the first gathering on and again every
REFRESH seconds; until the first answer, for an API that does not serve it (Thanos Query,
Mimir) and after a failed read none are known, and the queries fall back as before.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import structlog
import yaml

from alert_explainer.errors import EvidenceError
from alert_explainer.evidence.client import QueryApi

logger = structlog.get_logger("alert_explainer.evidence")

REFRESH = 600.0  # seconds a reading (or a failure to read) is used for
READ_TIMEOUT = 10.0
_NONE: frozenset[str] = frozenset()
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, where built with it


class ExternalLabels:
    """The names of the query API's external labels, read in the background."""

    def __init__(self, api: QueryApi) -> None:
        self._api = api
        self._names: frozenset[str] | None = None
        self._read_at = 0.0
        self._reading: asyncio.Task[frozenset[str]] | None = None

    def known(self) -> frozenset[str]:
        """The names read last, none before a first reading ends; starts one when stale.

        Never waits: a gathering's budget is for its evidence.
        """
        stale = self._names is None or time.monotonic() - self._read_at >= REFRESH
        if stale and self._reading is None:
            self._reading = asyncio.ensure_future(self._read(READ_TIMEOUT))
            self._reading.add_done_callback(self._keep)
        return self._names or _NONE

    async def read(self) -> frozenset[str]:
        """The names once the reading under way (or a new one, when stale) has ended."""
        self.known()
        if self._reading is not None:
            await asyncio.shield(self._reading)
        return self._names or _NONE

    def _keep(self, reading: asyncio.Task[frozenset[str]]) -> None:
        self._reading = None
        failed = reading.cancelled() or reading.exception() is not None
        if failed and not reading.cancelled():
            logger.error("external_labels_failed", error=repr(reading.exception()))
        self._names = _NONE if failed else reading.result()
        self._read_at = time.monotonic()

    async def _read(self, timeout: float) -> frozenset[str]:
        try:
            response = await self._api.call("/api/v1/status/config", [], timeout=timeout)
        except EvidenceError as exc:
            logger.info("external_labels_unknown", reason=exc.reason)
            return _NONE
        if response.status != 200:
            logger.info("external_labels_unknown", reason=f"answered {response.status}")
            return _NONE
        try:
            text = orjson.loads(response.body)["data"]["yaml"]
            # A large config parses in tens of milliseconds: not on the event loop.
            config = await asyncio.to_thread(yaml.load, text, Loader=_LOADER)
            names = _external_label_names(config)
        except (ValueError, KeyError, TypeError, yaml.YAMLError):
            logger.info("external_labels_unknown", reason="the config answer is not readable")
            return _NONE
        logger.info("external_labels", names=sorted(names))
        return names


def _external_label_names(config: Any) -> frozenset[str]:
    labels = (config.get("global") or {}).get("external_labels") or {}
    if not isinstance(labels, dict):
        raise TypeError("external_labels is not a mapping")
    return frozenset(str(name) for name in labels)
