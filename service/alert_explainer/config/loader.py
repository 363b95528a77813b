"""Loading: read the YAML file, expand `${VAR}` from the environment, validate, check files.

Every problem is collected before anything is reported, so `check-config` names them all at
once (key path and what was expected) instead of one per run.
"""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from alert_explainer.config.catalogue import entry_name, read_entries
from alert_explainer.config.inference import API_KEY_ENV
from alert_explainer.config.settings import Settings
from alert_explainer.config.sinks import SINK_TYPES
from alert_explainer.errors import ConfigError

CONFIG_PATH_ENV = "ALERT_EXPLAINER_CONFIG"
_ENV_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_settings(
    path: Path | None,
    environ: Mapping[str, str] | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read, expand and validate the configuration; raise ConfigError naming every problem.

    With no path the built-in defaults apply, with the API key taken from
    CLANKER_CLOUD_API_KEY when it is set. `overrides` (command-line options, such as
    {"server": {"workers": 2}}) replace keys of the file before validation, so they are
    checked like the file itself.
    """
    env = os.environ if environ is None else environ
    if path is None:
        raw: Any = {}
        key = env.get(API_KEY_ENV, "").strip()
        if key:
            raw = {"inference": {"api_key": key}}
    else:
        raw = _read_yaml(path)
    problems: list[str] = []
    expanded = _merge(_expand(raw, env, "", problems), overrides or {})
    if problems:
        raise ConfigError(problems)
    try:
        settings = Settings.model_validate(expanded)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, expanded)) from None
    _check_files(settings, problems)
    _check_catalogue(settings, problems)
    if problems:
        raise ConfigError(problems)
    return settings


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the file ({exc.strerror})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping at the top level"])
    return data


def _expand(value: Any, env: Mapping[str, str], where: str, problems: list[str]) -> Any:
    """Replace ${VAR} and ${VAR:-default} in every string; `$$` stands for a literal `$`."""
    if isinstance(value, dict):
        return {k: _expand(v, env, _join(where, str(k)), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        problems.append(f"{where or '<root>'}: environment variable {name} is not set")
        return ""

    return _ENV_REFERENCE.sub(substitute, value)


def _merge(base: Any, overrides: Mapping[str, Any]) -> Any:
    if not isinstance(base, dict):
        return base  # not a mapping: validation reports it as it is
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping):
            merged[key] = _merge(merged.get(key) or {}, value)
        else:
            merged[key] = value
    return merged


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _describe(exc: ValidationError, raw: Any) -> list[str]:
    problems = []
    for error in exc.errors():
        # Drop the union tag pydantic inserts for discriminated sinks ("sinks.0.webhook.url").
        parts = [str(p) for p in error["loc"] if p not in SINK_TYPES]
        path = ""
        for depth, part in enumerate(parts):
            path = f"{path}[{part}]" if part.isdigit() else _join(path, part)
            if depth == 1 and parts[0] == "catalogue" and part.isdigit():
                path += entry_name(raw.get("catalogue"), int(part))  # "catalogue[2] (KubeX)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "union_tag_invalid":
            message = f"unknown sink type; expected one of: {', '.join(SINK_TYPES)}"
        elif error["type"] == "union_tag_not_found":
            message = f"missing 'type'; expected one of: {', '.join(SINK_TYPES)}"
        problems.append(f"{path or '<root>'}: {message}")
    return problems


def _check_catalogue(settings: Settings, problems: list[str]) -> None:
    """Every catalogue file holds valid entries, and no entry is configured twice."""
    keys = [entry.key for entry in settings.catalogue]
    for i, path in enumerate(settings.catalogue_files):
        try:
            keys += [entry.key for entry in read_entries(path)]
        except ValueError as exc:
            problems.append(f"catalogue_files[{i}] ({path}): {exc}")
    for alert, matchers in sorted({k for k in keys if keys.count(k) > 1}):
        shown = f" with matchers {sorted(matchers)}" if matchers else ""
        problems.append(f"catalogue: {alert}{shown} is configured twice")


def _check_files(settings: Settings, problems: list[str]) -> None:
    files: list[tuple[str, Path | None]] = [("http.ca_file", settings.http.ca_file)]
    for i, backend in enumerate(settings.inference.backends):
        where = "inference" if i == 0 else f"inference.fallbacks[{i - 1}]"
        files += [(f"{where}.api_key_file", backend.api_key_file)]
        files += [(f"{where}.ca_file", backend.ca_file)]
    auths = [("auth", settings.auth)] + [
        (f"routes[{i}].auth", r.auth) for i, r in enumerate(settings.routes) if r.auth
    ]
    if settings.ui.auth is not None:
        auths.append(("ui.auth", settings.ui.auth))
    for where, auth in auths:
        files += [
            (f"{where}.bearer_token_files[{i}]", f) for i, f in enumerate(auth.bearer_token_files)
        ]
        files += [
            (f"{where}.basic_auth[{i}].password_file", c.password_file)
            for i, c in enumerate(auth.basic_auth)
        ]
    for i, route in enumerate(settings.routes):
        files += [
            (f"routes[{i}].templates.{part}", getattr(route.templates, part))
            for part in ("system_file", "user_file")
        ]
    if settings.evidence is not None:
        apis = [("evidence.prometheus", settings.evidence.prometheus)]
        if settings.evidence.alertmanager is not None:
            apis.append(("evidence.alertmanager", settings.evidence.alertmanager))
        for where, api in apis:
            files += [
                (f"{where}.bearer_token_file", api.bearer_token_file),
                (f"{where}.ca_file", api.ca_file),
            ]
            if api.basic_auth is not None:
                files.append((f"{where}.basic_auth.password_file", api.basic_auth.password_file))
    for where, file in files:
        if file is not None and not file.is_file():
            problems.append(f"{where}: no readable file at {file}")
        elif file is not None and where.endswith("ca_file") and not _certificates(file):
            problems.append(f"{where}: no PEM certificate could be read from {file}")


def _certificates(path: Path) -> bool:
    """Whether `path` holds CA certificates TLS verification can load."""
    try:
        ssl.create_default_context().load_verify_locations(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError):
        return False
    return True
