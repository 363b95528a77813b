"""External labels: what Prometheus adds to an alert as it sends it, and its series lack.

prometheus-operator (so kube-prometheus-stack) gives every Prometheus the external label
`prometheus="<namespace>/<name>"`, and many setups add `cluster`, `region` and the like.
Alerts arrive carrying them; the series in the TSDB do not. Pinned into a query they match
nothing: every expression and history query would be asked twice, pinned and then for the
whole cluster. So a label whose value on the alert is this Prometheus' own external value
is not pinned (one with another value, as from a remote-writing or federated Prometheus,
came from its series and still is). They come from the query API's /api/v1/status/config,
read in the background from the first gathering on and every REFRESH seconds; until the
first answer, for an API that does not serve it (Thanos Query, Mimir) and while reads fail
none are known (a failed refresh keeps the last reading), and queries fall back as before.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import orjson
import structlog
import yaml

from alert_explainer.errors import EvidenceError
from alert_explainer.evidence.client import QueryApi

logger = structlog.get_logger("alert_explainer.evidence")

REFRESH = 600.0  # seconds a reading is used for
RETRY = 30.0  # seconds before a failed reading is tried again
READ_TIMEOUT = 10.0
_NONE: Mapping[str, str] = {}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, where built with it


class ExternalLabels:
    """The query API's external labels (name -> value), read in the background."""

    def __init__(self, api: QueryApi) -> None:
        self._api = api
        self._labels: Mapping[str, str] | None = None  # the last good reading
        self._next_read = 0.0  # monotonic time
        self._reading: asyncio.Task[Mapping[str, str] | None] | None = None

    def known(self) -> Mapping[str, str]:
        """The labels read last, none before a first reading ends; starts one when due.

        Never waits: a gathering's budget is for its evidence.
        """
        if self._reading is None and time.monotonic() >= self._next_read:
            self._reading = asyncio.ensure_future(self._read(READ_TIMEOUT))
            self._reading.add_done_callback(self._keep)
        return self._labels or _NONE

    async def read(self) -> Mapping[str, str]:
        """The labels once the reading under way (or a new one, when due) has ended."""
        self.known()
        if self._reading is not None:
            await asyncio.shield(self._reading)
        return self._labels or _NONE

    def _keep(self, reading: asyncio.Task[Mapping[str, str] | None]) -> None:
        self._reading = None
        labels = None
        if not reading.cancelled():
            if reading.exception() is not None:
                logger.error("external_labels_failed", error=repr(reading.exception()))
            else:
                labels = reading.result()
        if labels is not None:
            self._labels = labels
        self._next_read = time.monotonic() + (REFRESH if labels is not None else RETRY)

    async def _read(self, timeout: float) -> Mapping[str, str] | None:
        """The external labels; empty when the API serves no config, None when a read failed."""
        try:
            response = await self._api.call("/api/v1/status/config", [], timeout=timeout)
        except EvidenceError as exc:
            logger.info("external_labels_unknown", reason=exc.reason)
            return None
        if response.status in (404, 405, 501):  # Thanos Query, Mimir: not served
            return {}
        if response.status != 200:
            logger.info("external_labels_unknown", reason=f"answered {response.status}")
            return None
        try:
            text = orjson.loads(response.body)["data"]["yaml"]
            # A large config parses in tens of milliseconds: not on the event loop.
            config = await asyncio.to_thread(yaml.load, text, Loader=_LOADER)
            labels = _external_labels(config)
        except (ValueError, KeyError, TypeError, yaml.YAMLError):
            logger.info("external_labels_unknown", reason="the config answer is not readable")
            return {}
        logger.info("external_labels", names=sorted(labels))
        return labels


def _external_labels(config: Any) -> dict[str, str]:
    if not isinstance(config, dict):
        raise TypeError("the config is not a mapping")
    settings = config.get("global") or {}
    if not isinstance(settings, dict):
        raise TypeError("global is not a mapping")
    labels = settings.get("external_labels") or {}
    if not isinstance(labels, dict):
        raise TypeError("external_labels is not a mapping")
    return {str(name): str(value) for name, value in labels.items()}
