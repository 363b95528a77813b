"""Types shared by every section: durations, names, the strict base model, secret files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: object) -> object:
    """Accept seconds as a number or an Alertmanager-style duration ("500ms", "10m", "1h30m")."""
    if isinstance(value, str):
        text = value.strip()
        if _DURATION.fullmatch(text) or re.fullmatch(rf"(?:{_DURATION.pattern})+", text):
            return sum(float(n) * _DURATION_UNITS[unit] for n, unit in _DURATION.findall(text))
        try:
            return float(text)
        except ValueError:
            raise ValueError(
                f"expected a duration such as 20, 20s, 10m or 24h, got {value!r}"
            ) from None
    return value


Duration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


def _valid_matchers(values: list[str]) -> list[str]:
    from alert_explainer.matchers import parse_matcher  # matchers imports nothing of ours

    for value in values:
        parse_matcher(value)  # ValueError saying what is wrong
    return values


# Alertmanager matchers (`name="value"`, `=~`, `!=`, `!~`), each checked as it is read.
Matchers = Annotated[list[str], AfterValidator(_valid_matchers)]
DurationOrZero = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]  # 0: off
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


class Model(BaseModel):
    """A section of the configuration: unknown keys are errors, values never change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# What every configured URL must look like (the host may not be empty).
HTTP_URL = re.compile(r"^https?://[^/\s]+")


def read_secret_files(data: Any, fields: tuple[str, ...]) -> Any:
    """For each secret `x` given as `x_file`, read the file now (at start-up) into `x`."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for field in fields:
        file = data.get(f"{field}_file")
        if file is None:
            continue
        if data.get(field) is not None:
            raise ValueError(f"set {field} or {field}_file, not both")
        try:
            data[field] = Path(str(file)).read_text(encoding="utf-8").strip()
        except OSError:
            raise ValueError(f"{field}_file: no readable file at {file}") from None
    return data
