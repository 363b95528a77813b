"""The catalogue shipped with the service: one YAML file per family of alerts beside this."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml
from pydantic import ValidationError

from alert_explainer.config.catalogue import ENTRIES, CatalogueEntry, describe

# The families in the order the documentation lists them.
FAMILIES = (
    ("apps", "Workloads"),
    ("resources", "Resources and quotas"),
    ("storage", "Persistent volumes"),
    ("nodes", "Nodes and kubelet"),
    ("node-exporter", "Hosts (node-exporter)"),
    ("meta", "Scrape targets and the alerting pipeline"),
    ("prometheus", "Prometheus"),
    ("alertmanager", "Alertmanager"),
    ("apiserver", "Kubernetes API server"),
    ("etcd", "etcd"),
)


@lru_cache(maxsize=1)
def families() -> tuple[tuple[str, tuple[CatalogueEntry, ...]], ...]:
    """Each family's entries, as the shipped files hold them."""
    result = []
    package = resources.files("alert_explainer.catalogue")
    for family, _ in FAMILIES:
        name = f"{family}.yaml"
        data = yaml.safe_load(package.joinpath(name).read_text("utf-8"))
        try:
            entries = ENTRIES.validate_python(data)
        except ValidationError as exc:  # a bug in a shipped file: fail loudly, in tests first
            raise RuntimeError(f"built-in catalogue {name}: {describe(exc, data)}") from None
        result.append((family, tuple(entries)))
    return tuple(result)


def entries() -> list[CatalogueEntry]:
    """Every shipped entry, family by family."""
    return [entry for _, members in families() for entry in members]
