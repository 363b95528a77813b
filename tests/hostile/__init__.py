"""The hostile-input corpus: webhook requests nobody should send, and the answer to each.

Each case is a request body and the documented outcome: the HTTP status, a substring of
the `error` of a 4xx answer, and, for cases that reach the model, what the prompt must and
must not contain and what destinations must never show. Small cases are JSON files in
this directory; the huge ones are built by `generated.py` so the repository stays small.

A JSON file holds a list of cases, each with

    name              unique, used as the test id
    why               what the case is about
    one body:         "payload": a whole JSON document to send,
                      "set": {"dotted.path": value} applied to BASE_PAYLOAD
                             ("delete": [paths] removes keys),
                      "text": a raw body, or "hex": raw bytes
    route             optional: post to /webhook/<route>
    status            the HTTP status the service answers
    error             optional: a substring of the answer's "error"
    prompt_contains   strings the prompt sent to the model includes
    prompt_excludes   strings it never includes
    model_reply       what the model answers (default: the emulator's own reply)
    delivered_excludes  strings the delivered explanation never includes
    needs             "redaction" or "sanitization": the prompt/delivery expectations
                      need that step wired into the pipeline
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent

# A minimal valid notification; `set` paths edit a copy of it.
BASE_PAYLOAD: dict[str, Any] = {
    "version": "4",
    "groupKey": '{}:{alertname="HostileInput"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "hostile",
    "groupLabels": {"alertname": "HostileInput"},
    "commonLabels": {"alertname": "HostileInput", "severity": "warning"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HostileInput", "severity": "warning", "instance": "web-1"},
            "annotations": {"summary": "Hostile input test"},
            "startsAt": "2026-11-25T16:19:53.573Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
            "fingerprint": "1a2b3c4d5e6f7a8b",
        }
    ],
}


@dataclass(frozen=True)
class HostileCase:
    """One hostile request and what the service must do with it."""

    name: str
    body: bytes
    status: int
    why: str = ""
    error: str | None = None
    route: str | None = None
    prompt_contains: tuple[str, ...] = ()
    prompt_excludes: tuple[str, ...] = ()
    prompt_max_chars: int | None = None
    model_reply: str | None = None
    delivered_excludes: tuple[str, ...] = ()
    needs: str | None = None

    @property
    def reaches_model(self) -> bool:
        """Whether the case is accepted and explained (so the emulator sees a prompt)."""
        return self.status == 200

    def __repr__(self) -> str:  # pytest shows this on failure; a 9 MB body would drown it
        return f"HostileCase({self.name!r}, {len(self.body)} bytes, status={self.status})"


def payload(name: str, **changes: Any) -> dict[str, Any]:
    """A copy of BASE_PAYLOAD unique to `name` (its own group, so never a duplicate)."""
    data = copy.deepcopy(BASE_PAYLOAD)
    data["groupKey"] = f'{{}}:{{alertname="HostileInput", case="{name}"}}'
    data.update(changes)
    return data


def set_path(data: Any, path: str, value: Any) -> None:
    """Set `a.b.0.c` in nested dicts and lists, creating dicts on the way."""
    *parents, last = path.split(".")
    for part in parents:
        data = data[int(part)] if isinstance(data, list) else data.setdefault(part, {})
    if isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


def delete_path(data: Any, path: str) -> None:
    """Remove the key or list item at `a.b.0.c`."""
    *parents, last = path.split(".")
    for part in parents:
        data = data[int(part)] if isinstance(data, list) else data[part]
    del data[int(last) if isinstance(data, list) else last]


def _body(spec: dict[str, Any]) -> bytes:
    if "text" in spec:
        return str(spec["text"]).encode("utf-8", errors="surrogatepass")
    if "hex" in spec:
        return bytes.fromhex(spec["hex"])
    if "payload" in spec:
        data = spec["payload"]
    else:
        data = payload(spec["name"])
        for path, value in spec.get("set", {}).items():
            set_path(data, path, value)
        for path in spec.get("delete", []):
            delete_path(data, path)
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def from_spec(spec: dict[str, Any]) -> HostileCase:
    """A case from its JSON description (see the module docstring)."""
    return HostileCase(
        name=spec["name"],
        body=_body(spec),
        status=spec["status"],
        why=spec.get("why", ""),
        error=spec.get("error"),
        route=spec.get("route"),
        prompt_contains=tuple(spec.get("prompt_contains", ())),
        prompt_excludes=tuple(spec.get("prompt_excludes", ())),
        prompt_max_chars=spec.get("prompt_max_chars"),
        model_reply=spec.get("model_reply"),
        delivered_excludes=tuple(spec.get("delivered_excludes", ())),
        needs=spec.get("needs"),
    )


def json_cases() -> Iterator[HostileCase]:
    """The cases described in this directory's JSON files, file by file."""
    for path in sorted(HERE.glob("*.json")):
        for spec in json.loads(path.read_text(encoding="utf-8")):
            yield from_spec(spec)


def all_cases() -> list[HostileCase]:
    """Every case: the JSON files, then the generated ones; names are unique."""
    from tests.hostile.generated import generated_cases

    cases = [*json_cases(), *generated_cases()]
    names = [c.name for c in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"hostile case names used twice: {duplicates}")
    return cases
