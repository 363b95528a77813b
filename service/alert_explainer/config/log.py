"""`log`: log format and level."""

from __future__ import annotations

from typing import Literal

from alert_explainer.config.types import Model


class LogSettings(Model):
    """Log output: JSON lines for machines, or console for a terminal."""

    format: Literal["json", "console"] = "json"
    level: Literal["debug", "info", "warning", "error"] = "info"
