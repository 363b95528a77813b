"""End to end: a real rule on a real scrape fires, Alertmanager posts it, the prompt has evidence.

Prometheus scrapes the service's own /metrics and evaluates two alerting rules over it;
it sends the alerts to a real Alertmanager, which posts them to the service; the service
gathers evidence from that Prometheus and Alertmanager and asks the Clanker emulator.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import AlertmanagerFactory, require_prometheus
from tests.support.alertmanager import ReceiverSpec
from tests.support.clanker import ClankerEmulator
from tests.support.configs import explainer_config
from tests.support.ports import free_port
from tests.support.prometheus import PrometheusProcess
from tests.support.recorder import RecordingServer
from tests.support.service import ServiceProcess

RULES = """
groups:
  - name: explainer
    rules:
      - alert: ExplainerMemoryHigh
        expr: process_resident_memory_bytes{job="scraped"} > 1048576
        labels: {severity: warning, namespace: demo}
        annotations: {summary: "The explainer uses more than 1 MiB"}
      - alert: ExplainerUp
        expr: up{job="scraped"} == 1
        labels: {severity: info, namespace: demo}
"""


def test_a_real_rule_fires_through_alertmanager_with_evidence_in_the_prompt(
    tmp_path: Path,
    alertmanager_factory: AlertmanagerFactory,
    clanker: ClankerEmulator,
    recorder: RecordingServer,
) -> None:
    require_prometheus()
    port = free_port()
    alertmanager = alertmanager_factory(
        {"explainer": ReceiverSpec(f"http://127.0.0.1:{port}/webhook")}
    )
    prometheus = PrometheusProcess(
        tmp_path / "prometheus",
        scrape=[f"127.0.0.1:{port}"],
        rules=RULES,
        alertmanager=alertmanager.base_url,
    )
    evidence = {
        "prometheus": {"url": prometheus.url},
        "alertmanager": {"url": alertmanager.base_url},
    }
    config_path = tmp_path / "config.yaml"
    config = explainer_config(clanker.url, {"team": recorder.url}, evidence=evidence)
    config_path.write_text(yaml.safe_dump(config))
    with ServiceProcess(config_path, tmp_path / "service", port=port), prometheus:
        calls = clanker.wait_for_calls(2, timeout=30)
        delivered = [r.json() for r in recorder.wait_for(2, timeout=20)]

    prompts = {
        call.json()["messages"][1]["content"].split("Group labels: ")[1].split("\n")[0]: call
        for call in calls
    }
    memory = prompts['alertname="ExplainerMemoryHigh"'].json()["messages"][1]["content"]
    data = memory[memory.index("<alert-data>") : memory.index("</alert-data>")]
    assert 'query: process_resident_memory_bytes{job="scraped"} (alert when > 1 MiB)' in data
    assert "> 1 MiB since" in data  # when the series crossed the threshold
    assert "ExplainerMemoryHigh: fired 1 time in the last 7 days; firing now since" in data
    # Co-firing, from Alertmanager: the other rule's alert shares the instance and namespace.
    assert "\n  ExplainerUp: 1 (instance=" in data
    assert "evidence unavailable" not in data
    assert all(d["evidence"] for d in delivered)
