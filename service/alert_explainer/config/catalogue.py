"""`catalogue`, `catalogue_files` and `catalogue_builtin`: what the service knows about alerts.

A catalogue entry says, for one alertname (and optional matchers), what the alert means,
its usual causes, the first checks and the evidence recipes that find its decisive fact
(docs/catalogue.md). Entries come from the configuration (`catalogue`), from YAML files
that each hold a list of entries (`catalogue_files`), and from the catalogue shipped with
the service unless `catalogue_builtin: false`. A configured entry with the same alertname
and matchers as a shipped one replaces it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, TypeAdapter, ValidationError, field_validator, model_validator

from alert_explainer.config.evidence import Recipe
from alert_explainer.config.types import HTTP_URL, Matchers, Model

MAX_RECIPES = 4
Line = Annotated[str, Field(min_length=1, max_length=500)]


class CatalogueEntry(Model):
    """One alert's entry: texts for people and the model, and its evidence recipes."""

    alert: str = Field(min_length=1, max_length=200)  # the alertname
    # Alertmanager matchers on the alert's labels, when one alertname covers several cases;
    # the most specific matching entry wins.
    matchers: Matchers = Field(default_factory=list, max_length=10)
    summary: str = Field(min_length=1, max_length=300)  # one line
    meaning: str = Field(min_length=1, max_length=2000)  # one paragraph
    causes: list[Line] = Field(min_length=1, max_length=10)  # most likely first
    checks: list[Line] = Field(min_length=1, max_length=10)  # with <label> placeholders
    runbook: str | None = None  # shown when the alert has no runbook_url annotation
    explain: bool = True  # false: delivered as it is, never a paid call (Watchdog)
    evidence: list[Recipe] = Field(default_factory=list, max_length=MAX_RECIPES)

    @field_validator("runbook")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not HTTP_URL.match(value):
            raise ValueError("expected an http:// or https:// URL")
        return value

    @field_validator("summary")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value.strip():
            raise ValueError("the summary is one line")
        return value.strip()

    @model_validator(mode="after")
    def _consistent(self) -> CatalogueEntry:
        names = [r.name for r in self.evidence]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"recipe name(s) used twice: {', '.join(repeated)}")
        if not self.explain and self.evidence:
            raise ValueError("an entry with explain: false is never explained: it has no evidence")
        return self

    @property
    def key(self) -> tuple[str, frozenset[str]]:
        """What identifies the entry: a configured one with the same key replaces a shipped one."""
        from alert_explainer.matchers import parse_matcher

        return self.alert, frozenset(str(parse_matcher(m)) for m in self.matchers)


ENTRIES: TypeAdapter[list[CatalogueEntry]] = TypeAdapter(list[CatalogueEntry])


def read_entries(path: Path) -> list[CatalogueEntry]:
    """The entries of a catalogue file (a YAML list of entries); ValueError naming each problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise ValueError("expected a list of catalogue entries")
    try:
        return ENTRIES.validate_python(data)
    except ValidationError as exc:
        raise ValueError("; ".join(describe(exc, data))) from None


def describe(exc: ValidationError, data: object, where: str = "") -> list[str]:
    """Each problem of a list of entries, naming the entry by index and alertname."""
    problems = []
    for error in exc.errors():
        location = [str(p) for p in error["loc"]]
        path = where
        for depth, part in enumerate(location):
            if part.isdigit():
                path += f"[{part}]"
                if depth == 0:
                    path += entry_name(data, int(part))
            else:
                path = f"{path}.{part}" if path else part
        problems.append(f"{path or '<root>'}: {error['msg'].removeprefix('Value error, ')}")
    return problems


def entry_name(data: object, index: int) -> str:
    """ " (KubePodCrashLooping)" for the entry at `index` of the raw list, when it has one."""
    if isinstance(data, list) and index < len(data) and isinstance(data[index], dict):
        name = data[index].get("alert")
        if isinstance(name, str) and name:
            return f" ({name[:80]})"
    return ""
