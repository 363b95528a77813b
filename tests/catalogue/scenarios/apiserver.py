"""API server scenarios (apiserver.yaml). Each keeps to its own `cluster`, as cluster-wide
queries would otherwise see the other scenarios' API servers."""

from __future__ import annotations

from tests.catalogue.scenarios import scenario
from tests.catalogue.scenarios.nodes import pending_csrs
from tests.catalogue.shapes import alert, apiserver, counter, held, histogram, kubelet
from tests.support.prometheus import History

BURN = "api-burn"


@scenario(
    alert("KubeAPIErrorBudgetBurn", "critical", {"cluster": BURN, "long": "1h", "short": "5m"}),
    {
        "errors": r"LIST pods: 4\.00 errors per second \(503\)",
        "latency": r"LIST pods: p99 9\.00 s",
        "etcd-latency": r"etcd list /registry/pods: p99 3\.600 s",
        "rejected": r"workload-low: 3\.00 requests per second rejected \(queue-full\)",
    },
)
def apiserver_slowed_by_etcd(h: History) -> None:
    server = apiserver("10.0.0.10", cluster=BURN)
    window = {"start": -3600.0, "step": 15.0}
    for verb, resource, code, per_second in (
        ("LIST", "pods", "503", 4),
        ("LIST", "pods", "200", 16),
        ("POST", "configmaps", "500", 0.5),
        ("GET", "nodes", "200", 50),
    ):
        labels = server | {"verb": verb, "resource": resource, "code": code, "scope": "cluster"}
        counter(h, "apiserver_request_total", labels, per_second, **window)
    slow = {"0.1": 5, "1": 10, "5": 19, "10": 20, "+Inf": 20}  # p99: 5 + 0.8 / 1 * 5 = 9 s
    fast = {"0.1": 49, "1": 50, "5": 50, "10": 50, "+Inf": 50}
    for verb, resource, buckets in (("LIST", "pods", slow), ("GET", "nodes", fast)):
        labels = server | {
            "verb": verb,
            "resource": resource,
            "scope": "cluster",
            "component": "apiserver",
            "subresource": "",
        }
        histogram(h, "apiserver_request_sli_duration_seconds", labels, buckets, **window)
    histogram(
        h,
        "etcd_request_duration_seconds",
        server | {"operation": "list", "type": "/registry/pods"},
        {"0.5": 10, "2": 19, "4": 20, "+Inf": 20},
        **window,
    )
    counter(
        h,
        "apiserver_flowcontrol_rejected_requests_total",
        server
        | {
            "priority_level": "workload-low",
            "flow_schema": "service-accounts",
            "reason": "queue-full",
        },
        3,
        **window,
    )


CERTS = "certs-api"


@scenario(
    alert(
        "KubeClientCertificateExpiration",
        "warning",
        {"cluster": CERTS, "job": "apiserver", "instance": "10.0.0.11:6443"},
    ),
    {
        "kubelet-certificates": r"ip-10-0-13-20: client certificate expires in 1\.5 days",
        "pending-csrs": r"2 request\(s\) for kubernetes\.io/kube-apiserver-client-kubelet",
        "renew-errors": r"24 failed renewal attempt\(s\) across the kubelets",
    },
)
def kubelet_certificates_running_out(h: History) -> None:
    for index, days in enumerate((1.5, 4, 300)):
        node, ip = f"ip-10-0-13-{20 + index}", f"10.0.13.{20 + index}"
        held(
            h,
            "kubelet_certificate_manager_client_ttl_seconds",
            kubelet(node, ip, cluster=CERTS),
            days * 86400,
        )
        counter(
            h,
            "kubelet_certificate_manager_client_expiration_renew_errors",
            kubelet(node, ip, cluster=CERTS),
            12 / 3600 if days < 7 else 0,
            step=30,
        )
    pending_csrs(h, CERTS, 2)


CLIENT = "client-errors"


@scenario(
    alert(
        "KubeClientErrors",
        "warning",
        {
            "cluster": CLIENT,
            "job": "apiserver",
            "instance": "10.0.0.20:6443",
            "namespace": "default",
        },
    ),
    {
        "errors-by-code": r"GET 503: 2\.00 per second",
        "server-errors": r"API servers answer 429 0\.50 times per second",
    },
)
def apiserver_client_failing(h: History) -> None:
    server = apiserver("10.0.0.20", cluster=CLIENT)
    window = {"start": -3600.0, "step": 15.0}
    for code, method, per_second in (("503", "GET", 2), ("200", "GET", 50), ("201", "POST", 3)):
        counter(
            h,
            "rest_client_requests_total",
            server | {"code": code, "method": method, "host": "[::1]:6443"},
            per_second,
            **window,
        )
    counter(
        h,
        "apiserver_request_total",
        server | {"verb": "LIST", "resource": "pods", "code": "429", "scope": "cluster"},
        0.5,
        **window,
    )


AGGREGATED = "aggregated"


@scenario(
    alert(
        "KubeAggregatedAPIDown",
        "warning",
        {"cluster": AGGREGATED, "name": "v1beta1.metrics.k8s.io", "namespace": "default"},
    ),
    {
        "availability": r"10\.0\.0\.30:6443: available (1[5-9]|2[0-5])% of the time",
        "reasons": r"FailedDiscoveryCheck: 30 time\(s\) in the last hour",
    },
)
def metrics_server_unavailable(h: History) -> None:
    server = apiserver("10.0.0.30", cluster=AGGREGATED) | {"name": "v1beta1.metrics.k8s.io"}
    # Unavailable for the last eight minutes.
    h.series(
        "aggregator_unavailable_apiservice",
        server,
        lambda t: 1 if t > -480 else 0,
        start=-3600,
        step=15,
    )
    counter(
        h,
        "aggregator_unavailable_apiservice_total",
        server | {"reason": "FailedDiscoveryCheck"},
        30 / 3600,
        step=30,
    )
