"""The Helm chart, rendered and linted by real Helm (helm-python-sdk embeds Helm v4).

Every case (the defaults, each ci/*-values.yaml, and the values shown in docs/deploy.md) is
rendered; each built-in manifest must pass kubernetes-validate's strict schema for the newest
Kubernetes it knows, the Prometheus Operator kinds are checked field by field, and the
ConfigMap's configuration must satisfy `alert-explainer check-config`.
"""

import base64
import copy
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
import yaml
from kubernetes_validate import utils as kubernetes_validate  # type: ignore[import-untyped]

from tests.deploy.conftest import FIXTURE_PAYLOAD, REPO_ROOT, VENV_BIN

CHART_DIR = REPO_ROOT / "helm" / "alert-explainer"
RULES = REPO_ROOT / "deploy" / "prometheus" / "rules.yml"
DOCS = REPO_ROOT / "docs" / "deploy.md"
RELEASE = "alert-explainer"
NAMESPACE = "monitoring"
KUBERNETES_VERSION = kubernetes_validate.latest_version()
OPERATOR_KINDS = {
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
    "AlertmanagerConfig": "monitoring.coreos.com/v1alpha1",
}
OPTIONAL_KINDS = {
    *OPERATOR_KINDS,
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "Ingress",
}
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's precedence: later values files and --set win, maps merge key by key."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# --- docs/deploy.md: the values and the commands of "Deploy with Helm" ---------------------


def docs_section(title: str) -> str:
    text = DOCS.read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/deploy.md has no '## {title}' section"
    return match.group(1)


def code_blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", section, re.M | re.S)


@dataclass(frozen=True)
class HelmInstall:
    """`helm install` as written in the docs, with the values it would install."""

    release: str
    chart: Path
    namespace: str
    values: dict[str, Any]


def docs_helm_install(command: str = "install") -> HelmInstall:
    """The `helm install` (or `helm upgrade`) line of the docs and the values it passes."""
    section = docs_section("Deploy with Helm")
    files = {}
    for block in code_blocks(section, "yaml"):
        first = block.splitlines()[0]
        assert first.startswith("# "), "name each values block with a '# <file>' first line"
        files[first[2:].strip()] = yaml.safe_load(block)
    (install,) = [
        line
        for block in code_blocks(section, "sh")
        for line in block.splitlines()
        if f"helm {command}" in line
    ]
    for variable, value in (("CLANKER_CLOUD_API_KEY", "ck-docs-0000"), ("VLLM_KEY", "vk-docs")):
        install = install.replace(f'"${variable}"', value)
    words = shlex.split(install)
    assert words[:2] == ["helm", command]
    release, chart = words[2], words[3]
    values: dict[str, Any] = {}
    namespace = "default"
    rest = iter(words[4:])
    for word in rest:
        if word in ("-f", "--values"):
            values = deep_merge(values, files[next(rest)])
        elif word in ("-n", "--namespace"):
            namespace = next(rest)
        elif word == "--set-string":
            values = deep_merge(values, helm.parse_set_string_values(next(rest)))
        elif word == "--set":
            values = deep_merge(values, helm.parse_set_string(next(rest)))
        else:
            assert word in ("--wait", "--atomic", "--create-namespace"), f"unexpected {word}"
    return HelmInstall(release, REPO_ROOT / chart, namespace, values)


# --- rendering ------------------------------------------------------------------------------


def case_values() -> dict[str, dict[str, Any]]:
    cases: dict[str, dict[str, Any]] = {"defaults": {}}
    for path in sorted((CHART_DIR / "ci").glob("*-values.yaml")):
        cases[path.name.removesuffix("-values.yaml")] = yaml.safe_load(path.read_text()) or {}
    cases["docs"] = docs_helm_install().values
    cases["docs-fallback"] = docs_helm_install("upgrade").values
    for block in code_blocks(docs_section("Choose a delivery mode"), "yaml"):
        name = block.splitlines()[0].removeprefix("# ").removesuffix("-values.yaml")
        cases[f"docs-{name}"] = yaml.safe_load(block)
    return cases


CASES = case_values()


@dataclass
class Rendered:
    """The manifests and NOTES.txt of one render."""

    manifests: list[dict[str, Any]]
    notes: str

    def kinds(self) -> set[str]:
        return {m["kind"] for m in self.manifests}

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.manifests if m["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        (found,) = self.all(kind)
        return found

    @property
    def deployment(self) -> dict[str, Any]:
        return self.one("Deployment")

    @property
    def container(self) -> dict[str, Any]:
        containers: list[dict[str, Any]] = self.deployment["spec"]["template"]["spec"]["containers"]
        assert len(containers) == 1
        return containers[0]

    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = yaml.safe_load(self.one("ConfigMap")["data"]["config.yaml"])
        return config


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART_DIR) as loaded:
        yield loaded


def render(
    chart: helm.Chart, values: dict[str, Any], release: str = RELEASE, namespace: str = NAMESPACE
) -> Rendered:
    output = chart.render(values, name=release, namespace=namespace, is_install=True)
    manifests = []
    notes = ""
    for path, text in sorted(output.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        manifests += [doc for doc in yaml.safe_load_all(text) if doc]
    return Rendered(manifests, notes)


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest, chart: helm.Chart) -> Rendered:
    return render(chart, CASES[request.param])


# --- lint and schema ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_lint_is_clean(name: str) -> None:
    report = helm.lint(CHART_DIR, CASES[name], namespace=NAMESPACE)
    assert report["errors"] == []
    # Severity 1 is INFO (only "icon is recommended": the project has no icon to point at).
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize(
    ("values_file", "complaint"),
    [
        ('replicaCount: "2"\n', "replicaCount"),
        ("service:\n  port: http\n", "port"),
        ('webhookAuth:\n  enabled: "yes"\n', "enabled"),
        ("image:\n  pullPolicy: Sometimes\n", "pullPolicy"),
        ("replicas: 2\n", "replicas"),
        ("secrets:\n  values:\n    team-slack-url: https://hooks.slack.com/x\n", "team-slack-url"),
        ("config:\n  sinks:\n    type: log\n    name: log\n", "sinks"),
        (
            "alertmanagerConfig:\n  matchers:\n    - {name: severity, matchType: '=='}\n",
            "matchType",
        ),
        ("serviceMonitor:\n  interval: 30\n", "interval"),
        ("rootPath: alert-explainer\n", "rootPath"),
        ('ui:\n  history: "500"\n', "history"),
        ("ui:\n  maxAge: a day\n", "maxAge"),
    ],
)
def test_schema_rejects_a_values_file_with_a_wrong_type(
    chart: helm.Chart, tmp_path: Path, values_file: str, complaint: str
) -> None:
    path = tmp_path / "bad-values.yaml"
    path.write_text(values_file)
    values = helm.values_from_yaml(path.read_text())
    with pytest.raises(helm.HelmError) as raised:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert complaint in str(raised.value)
    assert helm.lint(CHART_DIR, values)["errors"], "lint must report the schema violation too"


FALLBACK = {"api": "openai", "url": "http://vllm:8000/v1/chat/completions", "model": "m"}
FALLBACK_CONFIG = {
    "inference": {
        "fallbacks": [FALLBACK | {"name": "in-cluster"}, FALLBACK | {"name": "in_cluster"}]
    }
}


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"secrets": {"existingSecret": "mine", "clankerApiKey": "k"}}, "secrets.existingSecret"),
        ({"secrets": {"existingSecret": "mine", "values": {"A": "b"}}}, "secrets.existingSecret"),
        ({"secrets": {"existingSecretEnv": ["A"]}}, "secrets.existingSecretEnv"),
        ({"alertmanagerConfig": {"enabled": True, "webhookRoute": "nope"}}, '"nope"'),
        ({"config": {"ui": {"history": 10}}}, "use the value ui.history"),
        ({"config": {"ui": {"max_age": "1h"}}}, "use the value ui.maxAge"),
        ({"config": {"server": {"root_path": "/x"}}}, "use the value rootPath"),
        ({"ingress": {"ui": True}, "ui": {"enabled": False}}, "ingress.ui"),
        (
            {"secrets": {"existingSecret": "mine"}, "ui": {"basicAuth": {"password": "p"}}},
            "secrets.keys.uiPassword",
        ),
        (
            {"secrets": {"existingSecret": "mine", "fallbackApiKeys": {"in-cluster": "k"}}},
            "secrets.keys.fallbackApiKeys",
        ),
        ({"secrets": {"keys": {"fallbackApiKeys": {"x": "y"}}}}, "which is not set"),
        (
            {"secrets": {"fallbackApiKeys": {"vllm": "k"}}} | {"config": FALLBACK_CONFIG},
            'fallback "vllm", but config.inference.fallbacks has no backend of that name '
            "(in-cluster, in_cluster)",
        ),
        (
            {"secrets": {"fallbackApiKeys": {"in-cluster": "k", "in_cluster": "k"}}}
            | {"config": FALLBACK_CONFIG},
            "both map to the environment variable INFERENCE_API_KEY_IN_CLUSTER",
        ),
        (
            {"secrets": {"fallbackApiKeys": {"keyed": "k"}}}
            | {
                "config": {
                    "inference": {"fallbacks": [FALLBACK | {"name": "keyed", "api_key": "x"}]}
                }
            },
            '"keyed" sets its own api_key',
        ),
        ({"workers": 2}, "workers: 2 needs config.state.backend: redis"),
        ({"config": {"server": {"workers": 2}}}, "use the value workers"),
    ],
)
def test_contradictory_values_fail_with_a_clear_message(
    chart: helm.Chart, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(helm.HelmError) as raised:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert complaint in str(raised.value)


def values_comments(text: str) -> dict[tuple[str, ...], bool]:
    """Key path in values.yaml -> whether a comment line sits right above it."""
    found: dict[tuple[str, ...], bool] = {}
    stack: list[tuple[int, str]] = []
    previous = ""
    for line in text.splitlines():
        key = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if key:
            indent = len(key.group(1))
            stack = [(i, k) for i, k in stack if i < indent] + [(indent, key.group(2))]
            found[tuple(k for _, k in stack)] = previous.lstrip().startswith("#")
        if line.strip():
            previous = line
    return found


def documented_leaves(schema: dict[str, Any], path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Value paths that need their own comment: keys of objects the chart owns (those the
    schema closes with additionalProperties: false); free-form values are one leaf each."""
    if schema.get("additionalProperties") is not False or "properties" not in schema:
        return [path]
    leaves = []
    for key, child in schema["properties"].items():
        if key != "global":
            leaves += documented_leaves(child, (*path, key))
    return leaves


def test_values_yaml_comments_every_key(chart: helm.Chart) -> None:
    comments = values_comments((CHART_DIR / "values.yaml").read_text())
    assert chart.schema is not None
    for path in documented_leaves(chart.schema):
        assert comments.get(path), f"values.yaml: no comment above {'.'.join(path)}"


def test_versions_agree(chart: helm.Chart) -> None:
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"', pyproject, re.M)
    assert version
    assert chart.metadata["appVersion"] == version.group(1)


# --- every case: valid Kubernetes, restricted pods, a config the service accepts ------------


def oldest_supported_kubernetes(chart: helm.Chart) -> str:
    """The floor of Chart.yaml's kubeVersion (">=1.25.0-0" -> "1.25.0")."""
    floor = re.fullmatch(r">=\s*(\d+\.\d+\.\d+)(?:-0)?", chart.metadata["kubeVersion"])
    assert floor, chart.metadata["kubeVersion"]
    return floor.group(1)


def test_manifests_pass_strict_kubernetes_validation(case: Rendered, chart: helm.Chart) -> None:
    """The newest Kubernetes kubernetes-validate knows, and the oldest the chart claims."""
    versions = (KUBERNETES_VERSION, oldest_supported_kubernetes(chart))
    for manifest in case.manifests:
        name = f"{manifest['kind']}/{manifest['metadata']['name']}"
        if manifest["kind"] in OPERATOR_KINDS:
            assert manifest["apiVersion"] == OPERATOR_KINDS[manifest["kind"]], name
            assert manifest["spec"], name
            continue
        for version in versions:
            try:
                kubernetes_validate.validate(manifest, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{name} on {version}: {error.message} at {list(error.path)}")


def test_every_object_is_labelled_and_namespaced(case: Rendered) -> None:
    for manifest in case.manifests:
        metadata = manifest["metadata"]
        assert metadata["namespace"] == NAMESPACE
        assert metadata["labels"]["app.kubernetes.io/instance"] == RELEASE
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def assert_restricted(pod: dict[str, Any], where: str) -> None:
    """The restricted Pod Security Standard, plus a read-only root filesystem and no token."""
    pod_context = pod.get("securityContext", {})
    assert pod_context.get("runAsNonRoot") is True, where
    assert pod_context.get("runAsUser", 1) != 0, where
    assert pod_context.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        assert not pod.get(host), f"{where}: {host}"
    assert pod.get("automountServiceAccountToken") is False, where
    for volume in pod.get("volumes", []):
        assert set(volume) - {"name"} <= RESTRICTED_VOLUME_TYPES, f"{where}: volume {volume}"
    for container in pod["containers"] + pod.get("initContainers", []):
        context = container.get("securityContext", {})
        label = f"{where} container {container['name']}"
        assert context.get("allowPrivilegeEscalation") is False, label
        assert context.get("readOnlyRootFilesystem") is True, label
        assert context.get("capabilities", {}).get("drop") == ["ALL"], label
        assert set(context.get("capabilities", {}).get("add", [])) <= {"NET_BIND_SERVICE"}, label
        assert not context.get("privileged"), label
        assert context.get("runAsUser", 1) != 0, label
        assert context.get("seccompProfile", {}).get("type", "RuntimeDefault") == "RuntimeDefault"
        assert all("hostPort" not in port for port in container.get("ports", [])), label


def test_pods_meet_the_restricted_pod_security_standard(case: Rendered) -> None:
    assert_restricted(case.deployment["spec"]["template"]["spec"], "Deployment")
    for pod in case.all("Pod"):
        assert_restricted(pod["spec"], f"Pod {pod['metadata']['name']}")
    for account in case.all("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def seconds(duration: object) -> float:
    """A config duration ("25s", "1m30s" or a number) in seconds."""
    if isinstance(duration, int | float):
        return float(duration)
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(
        float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(duration))
    )


def test_probes_ports_and_graceful_shutdown(case: Rendered) -> None:
    container = case.container
    (port,) = container["ports"]
    assert (port["name"], port["containerPort"]) == ("http", 8080)
    assert case.config["server"]["port"] == 8080
    assert case.config["server"]["host"] == "0.0.0.0"  # the pod must listen on its own IP
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["args"] == ["serve"]
    assert container["resources"]["requests"]
    pod = case.deployment["spec"]["template"]["spec"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    grace = seconds(case.config.get("server", {}).get("shutdown_grace", 25))
    # In-flight explanations get server.shutdown_grace after the preStop pause, before SIGKILL.
    assert pod["terminationGracePeriodSeconds"] > float(pre_stop[1]) + grace


def test_configmap_holds_a_config_check_config_accepts(case: Rendered, tmp_path: Path) -> None:
    """`alert-explainer check-config` on the rendered config, with the pod's environment."""
    config_dir = "/etc/alert-explainer/"
    for key, text in case.one("ConfigMap")["data"].items():
        (tmp_path / key).write_text(text.replace(config_dir, f"{tmp_path}/"))
    secrets = {}
    for secret in case.all("Secret"):
        for key, encoded in secret["data"].items():
            secrets[(secret["metadata"]["name"], key)] = base64.b64decode(encoded).decode()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    if "PYTHONPATH" in os.environ:  # a source checkout put first on the path, keep it
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    for variable in case.container["env"]:
        if "value" in variable:
            env[variable["name"]] = variable["value"].replace(config_dir, f"{tmp_path}/")
        else:
            ref = variable["valueFrom"]["secretKeyRef"]
            # A Secret the chart renders gives its value; an existing one a placeholder URL.
            fallback = f"https://secret.invalid/{variable['name'].lower()}"
            env[variable["name"]] = secrets.get((ref["name"], ref["key"]), fallback)
    assert env["ALERT_EXPLAINER_CONFIG"] == f"{tmp_path}/config.yaml"
    cli = str(VENV_BIN / "alert-explainer")
    result = subprocess.run(
        [cli, "check-config"], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("config OK")
    # Routes with their own prompt templates from the ConfigMap must render too.
    for route in case.config["routes"]:
        if route.get("templates"):
            rendered = subprocess.run(
                [cli, "render", "--route", route["name"], str(FIXTURE_PAYLOAD)],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=False,
            )
            assert rendered.returncode == 0, rendered.stderr
            assert json.loads(rendered.stdout)["messages"]


def test_secrets_never_reach_the_configmap(case: Rendered) -> None:
    configmap = json.dumps(case.one("ConfigMap")["data"])
    for secret in case.all("Secret"):
        for encoded in secret["data"].values():
            assert base64.b64decode(encoded).decode() not in configmap


# --- defaults and toggles -------------------------------------------------------------------


def test_defaults_render_only_the_core_objects(chart: helm.Chart) -> None:
    rendered = render(chart, {})
    assert rendered.kinds() == {"ConfigMap", "Deployment", "Service", "ServiceAccount", "Pod"}
    assert rendered.container["env"] == [
        {"name": "ALERT_EXPLAINER_CONFIG", "value": "/etc/alert-explainer/config.yaml"}
    ]
    assert "no Clanker Cloud API key" in rendered.notes


def test_every_toggle_on_renders_every_kind(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["all-toggles"])
    assert rendered.kinds() >= OPTIONAL_KINDS | {"Secret", "ConfigMap", "Deployment", "Pod"}
    assert "replicas" not in rendered.deployment["spec"]  # the HorizontalPodAutoscaler owns it
    image = rendered.container["image"]
    assert image == f"registry.example.com/platform/alert-explainer@sha256:{'0' * 64}"


def test_workers_share_redis_and_keep_their_metric_files_in_tmp(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["workers"])
    assert rendered.config["server"]["workers"] == 2
    assert rendered.config["state"] == {"backend": "redis", "url": "${REDIS_URL}"}
    env = {v["name"]: v.get("value") for v in rendered.container["env"]}
    directory = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    mounts = {Path(m["mountPath"]): m["name"] for m in rendered.container["volumeMounts"]}
    # On the pod's own emptyDir, writable although the root filesystem is read-only.
    assert mounts[directory.parent] == "tmp"


def test_docs_workers_values_are_the_ci_case() -> None:
    (block,) = code_blocks(docs_section("Several worker processes"), "yaml")
    assert yaml.safe_load(block) == CASES["workers"]  # so lint, validation and check-config


def test_release_name_shapes_the_object_names(chart: helm.Chart) -> None:
    rendered = render(chart, {"alertmanagerConfig": {"enabled": True}}, release="prod")
    assert rendered.one("Service")["metadata"]["name"] == "prod-alert-explainer"
    url = rendered.one("AlertmanagerConfig")["spec"]["receivers"][0]["webhookConfigs"][0]["url"]
    assert url == "http://prod-alert-explainer.monitoring.svc:8080/webhook"


def test_config_changes_roll_the_pods(chart: helm.Chart) -> None:
    def annotations(values: dict[str, Any]) -> dict[str, str]:
        pod_annotations: dict[str, str] = render(chart, values).deployment["spec"]["template"][
            "metadata"
        ]["annotations"]
        return pod_annotations

    base = annotations(CASES["slack"])
    changed_config = deep_merge(CASES["slack"], {"config": {"log": {"level": "debug"}}})
    changed_secret = deep_merge(CASES["slack"], {"secrets": {"clankerApiKey": "ck-rotated"}})
    scaled = deep_merge(CASES["slack"], {"replicaCount": 3})
    assert annotations(changed_config)["checksum/config"] != base["checksum/config"]
    assert annotations(changed_secret)["checksum/secret"] != base["checksum/secret"]
    assert annotations(scaled) == base


def secret_env(rendered: Rendered) -> dict[str, tuple[str, str]]:
    """Environment variable -> (Secret name, key) for every secretKeyRef of the container."""
    return {
        v["name"]: (v["valueFrom"]["secretKeyRef"]["name"], v["valueFrom"]["secretKeyRef"]["key"])
        for v in rendered.container["env"]
        if "valueFrom" in v
    }


def test_secret_values_become_environment_variables(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["slack"])
    secret = rendered.one("Secret")
    assert set(secret["data"]) == {"clanker-api-key", "TEAM_SLACK_URL", "PAYMENTS_SLACK_URL"}
    assert secret_env(rendered) == {
        "CLANKER_CLOUD_API_KEY": (RELEASE, "clanker-api-key"),
        "PAYMENTS_SLACK_URL": (RELEASE, "PAYMENTS_SLACK_URL"),
        "TEAM_SLACK_URL": (RELEASE, "TEAM_SLACK_URL"),
    }
    sinks = {s["name"]: s for s in rendered.config["sinks"]}
    assert sinks["team-slack"]["url"] == "${TEAM_SLACK_URL}"
    assert rendered.config["inference"]["api_key"] == "${CLANKER_CLOUD_API_KEY}"


def test_existing_secret_is_used_and_none_is_created(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["existing-secret"])
    assert rendered.all("Secret") == []
    existing = "alert-explainer-credentials"
    assert secret_env(rendered) == {
        "CLANKER_CLOUD_API_KEY": (existing, "clanker-api-key"),
        "WEBHOOK_BEARER_TOKEN": (existing, "webhook-bearer-token"),
        "OPS_WEBHOOK_URL": (existing, "OPS_WEBHOOK_URL"),
        "INFERENCE_API_KEY_IN_CLUSTER": (existing, "vllm-api-key"),
    }
    (fallback,) = rendered.config["inference"]["fallbacks"]
    assert fallback["api_key"] == "${INFERENCE_API_KEY_IN_CLUSTER}"
    webhook = rendered.one("AlertmanagerConfig")["spec"]["receivers"][0]["webhookConfigs"][0]
    credentials = webhook["httpConfig"]["authorization"]["credentials"]
    assert credentials == {"name": existing, "key": "webhook-bearer-token"}


def test_fallback_keys_go_to_the_secret_and_each_fallback_gets_its_own(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["fallbacks"])
    data = rendered.one("Secret")["data"]
    assert base64.b64decode(data["inference-api-key-in-cluster"]).decode() == "vllm-test-key"
    assert base64.b64decode(data["inference-api-key-azure"]).decode() == "azure-test-key"
    env = secret_env(rendered)
    assert env["INFERENCE_API_KEY_IN_CLUSTER"] == (RELEASE, "inference-api-key-in-cluster")
    assert env["INFERENCE_API_KEY_AZURE"] == (RELEASE, "inference-api-key-azure")
    keys = {f["name"]: f.get("api_key") for f in rendered.config["inference"]["fallbacks"]}
    assert keys == {
        "in-cluster": "${INFERENCE_API_KEY_IN_CLUSTER}",
        "azure": "${INFERENCE_API_KEY_AZURE}",
        "ollama": None,  # auth: none, no key given
    }
    assert "first inference backend has no API key" not in rendered.notes


def test_without_a_first_key_the_notes_say_the_fallbacks_answer(chart: helm.Chart) -> None:
    values = deep_merge(CASES["fallbacks"], {"secrets": {"clankerApiKey": ""}})
    notes = render(chart, values).notes
    assert "first inference backend has no API key" in notes
    assert "WARNING: no Clanker Cloud API key" not in notes


def test_webhook_auth_generates_a_token_and_configures_it(chart: helm.Chart) -> None:
    rendered = render(chart, {"webhookAuth": {"enabled": True}})
    token = base64.b64decode(rendered.one("Secret")["data"]["webhook-bearer-token"]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{32}", token)
    assert rendered.config["auth"] == {"bearer_tokens": ["${WEBHOOK_BEARER_TOKEN}"]}
    assert secret_env(rendered)["WEBHOOK_BEARER_TOKEN"] == (RELEASE, "webhook-bearer-token")
    assert "Authorization: Bearer $TOKEN" in rendered.notes


def test_webhook_auth_keeps_a_given_token_and_user_auth(chart: helm.Chart) -> None:
    values = {
        "webhookAuth": {"enabled": True, "bearerToken": "given-token"},
        "config": {"auth": {"bearer_tokens": ["${OLD_TOKEN:-old}"]}},
    }
    rendered = render(chart, values)
    token = base64.b64decode(rendered.one("Secret")["data"]["webhook-bearer-token"]).decode()
    assert token == "given-token"
    tokens = rendered.config["auth"]["bearer_tokens"]
    assert tokens == ["${OLD_TOKEN:-old}", "${WEBHOOK_BEARER_TOKEN}"]


def test_the_operators_page_is_on_by_default_with_its_history_bounds(chart: helm.Chart) -> None:
    rendered = render(chart, {})
    assert rendered.config["ui"] == {"enabled": True, "history": 500, "max_age": "24h"}
    assert "root_path" not in rendered.config["server"]
    assert "http://127.0.0.1:8080/ui" in rendered.notes
    assert "set ui.basicAuth.enabled=true" in rendered.notes


def test_ui_basic_auth_generates_a_password_and_configures_it(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["ui"])
    password = base64.b64decode(rendered.one("Secret")["data"]["ui-password"]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{24}", password)
    assert secret_env(rendered)["UI_PASSWORD"] == (RELEASE, "ui-password")
    ui = rendered.config["ui"]
    assert ui["auth"]["basic_auth"] == [{"username": "operator", "password": "${UI_PASSWORD}"}]
    assert ui["auth"]["bearer_tokens"] == ["${UI_READ_TOKEN:-}"]  # the user's own, kept
    assert (ui["history"], ui["max_age"]) == (200, "12h")
    assert "jsonpath='{.data.ui-password}'" in rendered.notes


def test_the_ingress_routes_the_page_and_its_api_under_the_root_path(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["ui"])
    assert rendered.config["server"]["root_path"] == "/alert-explainer"
    (rule,) = rendered.one("Ingress")["spec"]["rules"]
    paths = [(p["path"], p["pathType"]) for p in rule["http"]["paths"]]
    assert paths == [
        ("/alert-explainer/webhook", "Prefix"),
        ("/alert-explainer/ui", "Prefix"),
        ("/alert-explainer/api", "Prefix"),
    ]
    assert "http://monitoring.example.com/alert-explainer/ui" in rendered.notes


# --- the optional objects, field by field ---------------------------------------------------


def test_service_selects_the_pods(case: Rendered) -> None:
    service = case.one("Service")
    pod_labels = case.deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert case.deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]


def test_service_monitor_scrapes_metrics_as_job_alert_explainer(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["kube-prometheus-stack"])
    monitor = rendered.one("ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    service = rendered.one("Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics"
    assert {
        "action": "replace",
        "targetLabel": "job",
        "replacement": "alert-explainer",
    } in endpoint["relabelings"]


def test_prometheus_rule_is_deploy_prometheus_rules_yml(chart: helm.Chart) -> None:
    assert (CHART_DIR / "files" / "rules.yml").read_bytes() == RULES.read_bytes(), (
        "cp deploy/prometheus/rules.yml helm/alert-explainer/files/rules.yml"
    )
    rule = render(chart, CASES["kube-prometheus-stack"]).one("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["spec"] == {"groups": yaml.safe_load(RULES.read_text())["groups"]}


def test_alertmanager_config_posts_to_the_service_with_the_token(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["kube-prometheus-stack"])
    config = rendered.one("AlertmanagerConfig")
    spec = config["spec"]
    (receiver,) = spec["receivers"]
    assert spec["route"]["receiver"] == receiver["name"]
    assert spec["route"]["groupBy"] == ["alertname", "namespace"]
    for matcher in spec["route"]["matchers"]:
        assert set(matcher) == {"name", "value", "matchType"}
        assert matcher["matchType"] in ("=", "!=", "=~", "!~")
    (webhook,) = receiver["webhookConfigs"]
    service = rendered.one("Service")["metadata"]["name"]
    assert webhook["url"] == f"http://{service}.{NAMESPACE}.svc:8080/webhook"
    assert (webhook["sendResolved"], webhook["maxAlerts"]) == (True, 20)
    assert webhook["httpConfig"]["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": RELEASE, "key": "webhook-bearer-token"},
    }
    assert "webhook-bearer-token" in rendered.one("Secret")["data"]


def test_alertmanager_config_can_target_a_route(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["custom-templates"])
    webhook = rendered.one("AlertmanagerConfig")["spec"]["receivers"][0]["webhookConfigs"][0]
    assert webhook["url"].endswith("/webhook/database")
    assert "httpConfig" not in webhook  # webhook auth is off in this case
    assert "database" in {r["name"] for r in rendered.config["routes"]}


def test_network_policy_admits_alertmanager_and_prometheus_only(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["kube-prometheus-stack"])
    policy = rendered.one("NetworkPolicy")["spec"]
    assert policy["podSelector"] == rendered.deployment["spec"]["selector"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["ingress"]
    names = [p["podSelector"]["matchLabels"].get("app.kubernetes.io/name") for p in ingress["from"]]
    assert names == ["alertmanager", "prometheus", "alert-explainer"]  # the last: `helm test`
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    egress_ports = sorted(
        (p["port"], p["protocol"]) for rule in policy["egress"] for p in rule["ports"]
    )
    assert egress_ports == [(53, "TCP"), (53, "UDP"), (443, "TCP")]


def test_autoscaler_budget_and_ingress_point_at_the_release(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["all-toggles"])
    selector = rendered.deployment["spec"]["selector"]
    autoscaler = rendered.one("HorizontalPodAutoscaler")["spec"]
    assert autoscaler["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": RELEASE,
    }
    assert rendered.one("PodDisruptionBudget")["spec"] == {"minAvailable": 1, "selector": selector}
    (rule,) = rendered.one("Ingress")["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": RELEASE, "port": {"number": 8080}}


def test_helm_test_pod_checks_readyz_through_the_service(case: Rendered) -> None:
    (pod,) = case.all("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert container["image"] == case.container["image"]
    assert container["command"][-1] == f"http://{RELEASE}.{NAMESPACE}.svc:8080/readyz"
    assert pod["spec"]["restartPolicy"] == "Never"


def test_notes_give_the_receiver_url_and_a_valid_receiver(
    chart: helm.Chart, tmp_path: Path
) -> None:
    rendered = render(chart, {"webhookAuth": {"enabled": True}})
    url = f"http://{RELEASE}.{NAMESPACE}.svc:8080/webhook"
    assert f"\n  {url}\n" in rendered.notes
    snippet = rendered.notes.split("  receivers:\n", 1)[1].split("\n\n", 1)[0]
    receivers = yaml.safe_load("receivers:\n" + snippet)["receivers"]
    assert receivers[0]["webhook_configs"][0]["url"] == url
    config = {"route": {"receiver": "alert-explainer"}, "receivers": receivers}
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    check = subprocess.run(
        ["amtool", "check-config", str(path)], capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr


# --- docs/deploy.md -------------------------------------------------------------------------


def test_docs_helm_install_renders(chart: helm.Chart) -> None:
    install = docs_helm_install()
    assert install.chart == CHART_DIR
    rendered = render(chart, install.values, release=install.release, namespace=install.namespace)
    assert rendered.kinds() >= {"ServiceMonitor", "PrometheusRule", "AlertmanagerConfig", "Secret"}
    assert set(secret_env(rendered)) == {"CLANKER_CLOUD_API_KEY", "TEAM_SLACK_URL"}
    section = docs_section("Deploy with Helm")
    service = rendered.one("Service")
    port = service["spec"]["ports"][0]["port"]
    assert f"port-forward svc/{service['metadata']['name']} 8080:{port}" in section
    assert f"--namespace {install.namespace} port-forward" in section
    (curl,) = [line for line in section.splitlines() if line.startswith("curl ")]
    payload = re.search(r"--data @(\S+)", curl)
    assert payload
    assert (REPO_ROOT / payload.group(1)).is_file()
    assert "http://127.0.0.1:8080/webhook" in curl


def test_docs_fallback_upgrade_gives_the_fallback_its_key(chart: helm.Chart) -> None:
    upgrade = docs_helm_install("upgrade")
    rendered = render(chart, upgrade.values, release=upgrade.release, namespace=upgrade.namespace)
    data = rendered.one("Secret")["data"]
    assert base64.b64decode(data["inference-api-key-in-cluster"]).decode() == "vk-docs"
    (fallback,) = rendered.config["inference"]["fallbacks"]
    assert fallback["api_key"] == "${INFERENCE_API_KEY_IN_CLUSTER}"
    assert rendered.config["sinks"][0]["name"] == "team-slack"  # my-values.yaml still applies


def test_docs_image_build_matches_the_chart(chart: helm.Chart) -> None:
    build = code_blocks(docs_section("Build the image"), "sh")[0]
    tag = re.search(r"docker build -t (\S+):(\S+) \.", build)
    assert tag, build
    assert tag.group(1) == docs_helm_install().values["image"]["repository"]
    assert tag.group(2) == chart.metadata["appVersion"]


def test_notes_warn_about_per_pod_duplicate_memory_only_without_redis(chart: helm.Chart) -> None:
    memory = render(chart, {"replicaCount": 2})
    shared = render(
        chart,
        {
            "replicaCount": 2,
            "config": {"state": {"backend": "redis", "url": "redis://redis:6379/0"}},
        },
    )
    assert "own duplicate-suppression memory" in memory.notes
    assert "own duplicate-suppression memory" not in shared.notes


# --- async delivery: the queue on a volume (SQLite) or in Redis -----------------------------


def volume_mounts(rendered: Rendered) -> dict[str, str]:
    return {m["name"]: m["mountPath"] for m in rendered.container["volumeMounts"]}


def test_async_on_sqlite_keeps_the_queue_on_a_claim_with_one_pod_recreated(
    chart: helm.Chart,
) -> None:
    rendered = render(chart, CASES["async-sqlite"])
    claim = rendered.one("PersistentVolumeClaim")
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "fast-ssd",
        "resources": {"requests": {"storage": "2Gi"}},
    }
    spec = rendered.deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    assert "HorizontalPodAutoscaler" not in rendered.kinds()
    queue_path = Path(rendered.config["delivery"].get("queue_path", DEFAULT_QUEUE_PATH))
    assert volume_mounts(rendered)["queue"] == str(queue_path.parent)
    volumes = {v["name"]: v for v in spec["template"]["spec"]["volumes"]}
    assert volumes["queue"]["persistentVolumeClaim"] == {"claimName": claim["metadata"]["name"]}
    assert "dead-letters replay --all" in rendered.notes


DEFAULT_QUEUE_PATH = "/var/lib/alert-explainer/queue.sqlite3"


def test_the_claim_follows_the_configured_queue_path_and_can_be_an_existing_one(
    chart: helm.Chart,
) -> None:
    values = deep_merge(
        CASES["async-sqlite"],
        {
            "config": {"delivery": {"queue_path": "/data/queue/alerts.sqlite3"}},
            "persistence": {"existingClaim": "kept-queue", "storageClass": "-"},
        },
    )
    rendered = render(chart, values)
    assert "PersistentVolumeClaim" not in rendered.kinds()
    assert volume_mounts(rendered)["queue"] == "/data/queue"
    volumes = {v["name"]: v for v in rendered.deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["queue"]["persistentVolumeClaim"] == {"claimName": "kept-queue"}


def test_a_claim_without_storage_class_asks_for_none(chart: helm.Chart) -> None:
    values = deep_merge(CASES["async-sqlite"], {"persistence": {"storageClass": "-"}})
    claim = render(chart, values).one("PersistentVolumeClaim")
    assert claim["spec"]["storageClassName"] == ""


def test_the_docs_delivery_modes_render_as_described(chart: helm.Chart) -> None:
    sqlite = render(chart, CASES["docs-async-sqlite"])
    assert sqlite.one("PersistentVolumeClaim")["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert sqlite.deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert volume_mounts(sqlite)["queue"] == "/var/lib/alert-explainer"
    redis = render(chart, CASES["docs-async-redis"])
    assert redis.one("HorizontalPodAutoscaler")["spec"]["minReplicas"] == 2
    assert "PersistentVolumeClaim" not in redis.kinds()


def test_async_on_redis_runs_any_number_of_replicas_with_the_autoscaler(
    chart: helm.Chart,
) -> None:
    rendered = render(chart, CASES["async-redis"])
    autoscaler = rendered.one("HorizontalPodAutoscaler")["spec"]
    assert (autoscaler["minReplicas"], autoscaler["maxReplicas"]) == (2, 6)
    assert rendered.deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert "PersistentVolumeClaim" not in rendered.kinds()
    assert "queue" not in volume_mounts(rendered)
    assert rendered.config["delivery"]["mode"] == "async"
    assert rendered.config["state"]["backend"] == "redis"


ASYNC_SQLITE = "config.delivery.mode async without the Redis backend keeps its queue in the "
ASYNC = {"config": {"delivery": {"mode": "async"}}}
REDIS = {"config": {"state": {"backend": "redis", "url": "redis://redis:6379/0"}}}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            ASYNC,
            f"{ASYNC_SQLITE}SQLite file /var/lib/alert-explainer/queue.sqlite3, and the pod's "
            "root filesystem is read-only: set persistence.enabled=true (a PersistentVolumeClaim "
            "mounted at /var/lib/alert-explainer), or keep the queue in Redis with "
            "config.state.backend: redis",
        ),
        (
            deep_merge(ASYNC, {"persistence": {"enabled": True}, "replicaCount": 2}),
            f"{ASYNC_SQLITE}SQLite file /var/lib/alert-explainer/queue.sqlite3, which one pod "
            "alone may write: set replicaCount: 1, or use config.state.backend: redis (the "
            "queue on Redis Streams) for 2 replicas",
        ),
        (
            deep_merge(ASYNC, {"persistence": {"enabled": True}, "autoscaling": {"enabled": True}}),
            f"{ASYNC_SQLITE}SQLite file /var/lib/alert-explainer/queue.sqlite3, which one pod "
            "alone may write: set autoscaling.enabled=false, or use config.state.backend: redis "
            "(the queue on Redis Streams) to autoscale",
        ),
        (
            deep_merge(deep_merge(ASYNC, REDIS), {"persistence": {"enabled": True}}),
            "persistence.enabled holds the SQLite queue of config.delivery.mode async, but with "
            "config.state.backend: redis the queue is in Redis: set persistence.enabled=false",
        ),
        (
            {"persistence": {"enabled": True}},
            "persistence.enabled holds the SQLite queue of config.delivery.mode async, but the "
            "mode is sync, which queues nothing: set persistence.enabled=false",
        ),
    ],
    ids=["no-volume", "replicas", "autoscaler", "volume-with-redis", "volume-in-sync-mode"],
)
def test_queue_combinations_that_cannot_work_are_refused_saying_what_to_do(
    chart: helm.Chart, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmError) as raised:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert message in str(raised.value)


def test_the_schema_refuses_a_claim_size_that_is_no_quantity(chart: helm.Chart) -> None:
    values = deep_merge(CASES["async-sqlite"], {"persistence": {"size": "two gigs"}})
    with pytest.raises(helm.HelmError, match="size"):
        chart.render(values, name=RELEASE, namespace=NAMESPACE)


# --- evidence -------------------------------------------------------------------------------


def test_evidence_is_off_by_default(chart: helm.Chart) -> None:
    rendered = render(chart, {"networkPolicy": {"enabled": True}})

    assert "evidence" not in rendered.config
    policy = rendered.one("NetworkPolicy")["spec"]
    assert {p["port"] for rule in policy["egress"] for p in rule["ports"]} == {53, 443}


def test_the_evidence_values_become_config_evidence(chart: helm.Chart) -> None:
    rendered = render(chart, CASES["evidence"])

    evidence = rendered.config["evidence"]
    assert evidence["prometheus"] == {
        "url": "https://kube-prometheus-stack-prometheus.monitoring:9091",
        "bearer_token": "${PROMETHEUS_TOKEN}",
        "headers": {"X-Scope-OrgID": "cluster-a"},
    }
    assert evidence["alertmanager"] == {
        "url": "http://kube-prometheus-stack-alertmanager.monitoring:9093"
    }
    assert (evidence["lookback"], evidence["timeout"], evidence["max_bytes"]) == ("2h", "2s", 5000)
    assert evidence["concurrency"] == 64
    assert [r["name"] for r in evidence["recipes"]] == ["pvc-phase"]
    assert "prometheus-reader-token" not in rendered.one("ConfigMap")["data"]["config.yaml"]


def test_the_network_policy_lets_the_service_reach_its_evidence_sources(
    chart: helm.Chart,
) -> None:
    policy = render(chart, CASES["evidence"]).one("NetworkPolicy")["spec"]

    peers = {
        p["port"]: rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for rule in policy["egress"]
        if "to" in rule and "podSelector" in rule["to"][0]
        for p in rule["ports"]
    }
    assert peers == {9091: "prometheus", 9093: "alertmanager"}


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"evidence": {"enabled": True, "prometheus": {"url": ""}}}, "evidence.prometheus.url"),
        (
            {"evidence": {"enabled": True}, "config": {"evidence": {"lookback": "1h"}}},
            "use the evidence values only",
        ),
        ({"evidence": {"maxBytes": "6000"}}, "maxBytes"),
        ({"evidence": {"prometheus": {"basicAuth": {"user": "x"}}}}, "propertyName 'user'"),
    ],
)
def test_wrong_evidence_values_fail_with_a_clear_message(
    chart: helm.Chart, values: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(helm.HelmError) as raised:
        chart.render(values, name=RELEASE, namespace=NAMESPACE)
    assert complaint in str(raised.value)


def test_docs_evidence_values_render_the_evidence_section(chart: helm.Chart) -> None:
    (block,) = code_blocks(docs_section("Evidence from the cluster's Prometheus"), "yaml")

    rendered = render(chart, yaml.safe_load(block))

    assert rendered.config["evidence"]["prometheus"]["url"].endswith(":9090")
    policy = rendered.one("NetworkPolicy")["spec"]
    assert {9090, 9093} <= {p["port"] for rule in policy["egress"] for p in rule["ports"]}
