"""deploy/ and docs/deploy.md: Alertmanager examples, alert rules, the Grafana dashboard.

Checked with the real tools: `amtool` loads the Alertmanager files, `promtool` checks and
unit-tests the rules, and every metric a query names is read from a running service.
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.conftest import REPO_ROOT, VENV_BIN, free_port, request, serve

DEPLOY = REPO_ROOT / "deploy"
ALERTMANAGER_BIN = Path("/usr/bin/prometheus-alertmanager")
ALERTMANAGER_YML = DEPLOY / "alertmanager" / "alertmanager.yml"
KPS_VALUES = DEPLOY / "alertmanager" / "kube-prometheus-stack-values.yaml"
KPS_OPERATOR_VALUES = (
    DEPLOY / "alertmanager" / "kube-prometheus-stack-alertmanagerconfig-values.yaml"
)
RULES = DEPLOY / "prometheus" / "rules.yml"
RULES_TESTS = DEPLOY / "prometheus" / "rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "alert-explainer-dashboard.json"
DOCS = REPO_ROOT / "docs" / "deploy.md"
RECEIVER_URL = "http://alert-explainer.monitoring.svc:8080/webhook"
# Metrics the rules read from other programs than alert-explainer.
FOREIGN_METRICS = {"up"}


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, (
        f"{name} is missing (Debian: prometheus-alertmanager for amtool, prometheus for promtool)"
    )
    return found


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def routes_for(config: Path, *labels: str) -> list[str]:
    """The receivers Alertmanager would notify for an alert with `labels`."""
    result = run(tool("amtool"), "config", "routes", "test", f"--config.file={config}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip().split(",")


def check_alertmanager_config(path: Path) -> None:
    result = run(tool("amtool"), "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def explainer_webhook(config: dict[str, Any], name: str = "alert-explainer") -> dict[str, Any]:
    (receiver,) = [r for r in config["receivers"] if r["name"] == name]
    (webhook,) = receiver["webhook_configs"]
    assert isinstance(webhook, dict)
    return webhook


# --- Alertmanager ---------------------------------------------------------------------------


def test_plain_alertmanager_example_loads_in_alertmanager() -> None:
    check_alertmanager_config(ALERTMANAGER_YML)
    webhook = explainer_webhook(yaml.safe_load(ALERTMANAGER_YML.read_text()))
    assert webhook["url"] == RECEIVER_URL
    assert webhook["send_resolved"] is True
    assert webhook["max_alerts"] == 20
    assert webhook["http_config"]["authorization"]["type"] == "Bearer"


def test_plain_example_routes_alerts_to_the_explainer_and_the_usual_receiver() -> None:
    critical = ("alertname=KubePodCrashLooping", "severity=critical")
    assert routes_for(ALERTMANAGER_YML, *critical) == ["alert-explainer", "team-default"]
    assert routes_for(ALERTMANAGER_YML, "alertname=Noise", "severity=info") == ["team-default"]
    # Alerts about the explainer must not depend on it.
    own = ("alertname=AlertExplainerDown", "severity=critical")
    assert routes_for(ALERTMANAGER_YML, *own) == ["team-default"]
    # Watchdog reaches the service alone, for its dead man's switch.
    watchdog = ("alertname=Watchdog", "severity=none")
    assert routes_for(ALERTMANAGER_YML, *watchdog) == ["alert-explainer-watchdog"]


@contextlib.contextmanager
def alertmanager(config: Path, workdir: Path) -> Iterator[str]:
    """The real Alertmanager on 127.0.0.1 with `config`; yields its base URL once ready."""
    assert ALERTMANAGER_BIN.exists(), "apt-get install prometheus-alertmanager"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (workdir / "alertmanager.log").open("wb") as log:
        process = subprocess.Popen(
            [
                str(ALERTMANAGER_BIN),
                f"--config.file={config}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            assert process.poll() is None, (workdir / "alertmanager.log").read_text()
            with contextlib.suppress(OSError):
                if request("GET", f"{url}/-/ready").status == 200:
                    break
            assert time.monotonic() < deadline, "Alertmanager not ready in 15 s"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_plain_example_delivers_through_real_alertmanager_with_the_token(tmp_path: Path) -> None:
    """The example receiver, pointed at a local service that requires the bearer token."""
    token = "deploy-example-token"
    (tmp_path / "token").write_text(token + "\n")
    service_config = tmp_path / "service.yaml"
    service_config.write_text(yaml.safe_dump({"auth": {"bearer_tokens": ["${WEBHOOK_TOKEN}"]}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERT_EXPLAINER")}
    env.pop("CLANKER_CLOUD_API_KEY", None)
    env |= {"ALERT_EXPLAINER_CONFIG": str(service_config), "WEBHOOK_TOKEN": token}
    with serve([str(VENV_BIN / "alert-explainer")], cwd=tmp_path, env=env) as service:
        config = yaml.safe_load(ALERTMANAGER_YML.read_text())
        config["route"] |= {"group_wait": "1s", "group_interval": "10s"}
        for name in ("alert-explainer", "alert-explainer-watchdog"):
            webhook = explainer_webhook(config, name)
            webhook["url"] = f"{service.url}/webhook"
            webhook["http_config"]["authorization"]["credentials_file"] = str(tmp_path / "token")
        am_config = tmp_path / "alertmanager.yml"
        am_config.write_text(yaml.safe_dump(config))
        with alertmanager(am_config, tmp_path) as am_url:
            alerts = [
                {"labels": {"alertname": "DeployExample", "severity": "critical"}},
                {"labels": {"alertname": "Watchdog", "severity": "none"}},
            ]
            posted = request("POST", f"{am_url}/api/v2/alerts", json.dumps(alerts).encode())
            assert posted.status == 200, posted.body
            deadline = time.monotonic() + 20
            while b'code="200"} 2.0' not in service.get("/metrics").body:
                assert time.monotonic() < deadline, service.output()
                time.sleep(0.2)
        metrics = service.get("/metrics").body.decode()
    assert 'code="401"' not in metrics
    assert 'alert_explainer_notifications_received_total{route="default",status="firing"} 2.0' in (
        metrics
    )
    (arrived,) = re.findall(
        r"^alert_explainer_watchdog_last_received_timestamp_seconds (\S+)$",
        metrics,
        flags=re.MULTILINE,
    )
    assert abs(float(arrived) - time.time()) < 60


def test_kube_prometheus_stack_snippet_loads_in_alertmanager(tmp_path: Path) -> None:
    values = yaml.safe_load(KPS_VALUES.read_text())
    config_path = tmp_path / "alertmanager.yml"
    config_path.write_text(yaml.safe_dump(values["alertmanager"]["config"]))
    check_alertmanager_config(config_path)
    assert routes_for(config_path, "alertname=Watchdog") == ["alert-explainer-watchdog"]
    assert routes_for(config_path, "alertname=X", "severity=warning") == ["alert-explainer"]
    webhook = explainer_webhook(values["alertmanager"]["config"])
    assert webhook["url"] == RECEIVER_URL
    watchdog = explainer_webhook(values["alertmanager"]["config"], "alert-explainer-watchdog")
    assert watchdog["url"] == RECEIVER_URL
    token_file = webhook["http_config"]["authorization"]["credentials_file"]
    # The Prometheus Operator mounts alertmanagerSpec.secrets at /etc/alertmanager/secrets/<name>/.
    (secret,) = values["alertmanager"]["alertmanagerSpec"]["secrets"]
    assert token_file == f"/etc/alertmanager/secrets/{secret}/webhook-bearer-token"


def test_kube_prometheus_stack_operator_snippet() -> None:
    values = yaml.safe_load(KPS_OPERATOR_VALUES.read_text())
    spec = values["alertmanager"]["alertmanagerSpec"]
    assert spec["alertmanagerConfigMatcherStrategy"] == {"type": "None"}
    assert spec["alertmanagerConfigSelector"] == {}
    assert "config" not in values["alertmanager"]  # the AlertmanagerConfig brings the receiver


# --- Prometheus rules -----------------------------------------------------------------------


def test_rules_pass_promtool_check() -> None:
    result = run(tool("promtool"), "check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_rules_unit_tests_pass() -> None:
    result = run(tool("promtool"), "test", "rules", str(RULES_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_rule_has_severity_summary_and_description() -> None:
    for rule in rules():
        assert rule["alert"].startswith("AlertExplainer")
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
        assert rule["for"]


# --- metric names used by queries -----------------------------------------------------------

_KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords and labels left out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", " ", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", " ", expr)  # range selectors
    expr = re.sub(
        r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr
    )  # grouping label lists
    names = set()
    # Not preceded by a digit or a dot: the "m" of "5m" and exponents are no names.
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", expr):
        name = match.group(0)
        following = expr[match.end() :].lstrip()
        if following.startswith("(") or name.lower() in _KEYWORDS or name.startswith("$"):
            continue
        if expr[match.start() - 1 : match.start()] == "$":
            continue
        names.add(name)
    return names


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.9, sum by (le) (rate(a_bucket{job=~"$job"}[$__rate_interval])))'
        " / ignoring (reason) group_left sum(b_total offset 5m) unless on () up == 0"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "up"}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_queries() -> list[str]:
    board = dashboard()
    queries = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"]
            inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
            assert inner, query
            queries.append(inner.group(1))
    return queries


def test_dashboard_queries_only_metrics_the_service_exports(
    exported_metrics: dict[str, set[str]],
) -> None:
    used = set().union(*(metric_names(q) for q in dashboard_queries()))
    assert used, "no metric found in the dashboard"
    assert sorted(used - set(exported_metrics)) == []


def test_rules_query_only_metrics_the_service_exports(
    exported_metrics: dict[str, set[str]],
) -> None:
    used = set().union(*(metric_names(rule["expr"]) for rule in rules()))
    assert used & FOREIGN_METRICS == FOREIGN_METRICS
    assert sorted(used - FOREIGN_METRICS - set(exported_metrics)) == []


def test_dashboard_shows_what_the_issue_asks_for() -> None:
    queries = "\n".join(dashboard_queries())
    for needle in (
        "alert_explainer_notifications_received_total",
        "alert_explainer_inference_requests_total",
        "sum by (reason) (rate(alert_explainer_fallbacks_total",
        "histogram_quantile(0.5, sum by (le) (rate("
        "alert_explainer_inference_request_duration_seconds_bucket",
        "histogram_quantile(0.99,",
        "sum by (sink, outcome) (rate(alert_explainer_deliveries_total",
        "alert_explainer_explanations_reused_total",
        "max by (route, sink) (alert_explainer_dead_letters",
        "alert_explainer_queue_entries",
        "alert_explainer_queue_oldest_age_seconds",
    ):
        assert needle in queries, needle
    board = dashboard()
    assert board["uid"] == "alert-explainer"
    datasources = {
        json.dumps(t["datasource"]) for p in board["panels"] for t in p.get("targets", [])
    }
    assert datasources == {json.dumps({"type": "prometheus", "uid": "${datasource}"})}
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool parses each query, Grafana's variables replaced by what Grafana would send."""
    substitutions = {"$__rate_interval": "1m", "$__range": "6h", "$job": ".*", "$namespace": ".*"}
    recording = []
    for i, query in enumerate(dashboard_queries()):
        for variable, value in substitutions.items():
            query = query.replace(variable, value)
        recording.append({"record": f"dashboard:query_{i}", "expr": query})
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": recording}]}))
    result = run(tool("promtool"), "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# --- docs/deploy.md -------------------------------------------------------------------------


def docs_section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", DOCS.read_text(), re.M | re.S)
    assert match, title
    return match.group(1)


def test_docs_alertmanager_snippets_load(tmp_path: Path) -> None:
    section = docs_section("Configure Alertmanager")
    blocks = re.findall(r"^```yaml\n(.*?)^```", section, re.M | re.S)
    (operator_values, plain) = blocks
    expected = yaml.safe_load(KPS_OPERATOR_VALUES.read_text())["alertmanager"]
    assert yaml.safe_load(operator_values)["alertmanager"] == expected
    path = tmp_path / "alertmanager.yml"
    path.write_text(plain)
    check_alertmanager_config(path)
    assert explainer_webhook(yaml.safe_load(plain)) == explainer_webhook(
        yaml.safe_load(ALERTMANAGER_YML.read_text())
    )


def test_docs_metrics_reference_matches_the_service(exported_metrics: dict[str, set[str]]) -> None:
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in docs_section("Metrics reference").splitlines()
        if line.startswith("| `")
    ]
    assert len(rows) > 10
    documented = set()
    for names, kind, labels, _meaning in rows:
        for name in re.findall(r"`([a-z_:]+)`", names):
            documented.add(name)
            sample = f"{name}_bucket" if kind == "histogram" else name
            assert sample in exported_metrics, f"documented but not exported: {name}"
            for label in re.findall(r"`(\w+)`", labels):
                assert label in exported_metrics[sample], f"{name} has no label {label}"
    # Everything the dashboard and the rules rely on is documented.
    used = set().union(*(metric_names(q) for q in dashboard_queries()))
    used |= set().union(*(metric_names(r["expr"]) for r in rules())) - FOREIGN_METRICS
    base = {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}
    assert sorted(base - documented) == []


def test_docs_alert_table_lists_the_rules() -> None:
    section = docs_section("Dashboard and alerts")
    table = dict(re.findall(r"^\| `(AlertExplainer\w+)` \| (\w+) \|", section, re.M))
    assert table == {rule["alert"]: rule["labels"]["severity"] for rule in rules()}


def test_docs_mention_only_files_that_exist() -> None:
    text = DOCS.read_text()
    # Files have an extension and directories a trailing slash ("deploy/alert-explainer" in a
    # kubectl command is a Deployment, not a path).
    pattern = r"\b((?:deploy|helm|examples|service|docs|scripts)/[\w./-]*(?:\.\w+|/))"
    paths = set(re.findall(pattern, text))
    assert paths
    for path in sorted(paths):
        assert (REPO_ROOT / path).exists(), path
