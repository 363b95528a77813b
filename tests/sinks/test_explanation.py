"""Parsing the model's answer into headline, what is happening, likely cause, first checks."""

from __future__ import annotations

from alert_explainer.explanation import parse_explanation
from tests.sinks.support import EXPLANATION, message


def test_the_four_labelled_sections_are_parsed() -> None:
    parts = parse_explanation(EXPLANATION)

    assert parts.structured is True
    assert parts.headline == "Payments API pods are crash looping in namespace payments"
    assert parts.happening.startswith("Two api pods restart repeatedly")
    assert parts.cause.startswith("A bad deploy")
    assert parts.checks == [
        "kubectl -n payments logs api-7d9f --previous",
        "Check the KubePodCrashLooping runbook",
    ]
    assert parts.body == EXPLANATION.strip()


def test_labels_may_be_decorated_in_any_case_and_order_with_text_below() -> None:
    parts = parse_explanation(
        "## FIRST CHECKS:\n* look at logs\n  and events\n1. check deploys\n"
        "**Likely cause:** disk full\n"
        "**headline**: Node out of disk\n"
        "What is happening:\n\nWrites fail.\n"
    )

    assert parts.headline == "Node out of disk"
    assert parts.happening == "Writes fail."
    assert parts.cause == "disk full"
    assert parts.checks == ["look at logs and events", "check deploys"]


def test_missing_sections_are_left_empty() -> None:
    parts = parse_explanation("Headline: Disk almost full")

    assert (parts.structured, parts.headline, parts.happening, parts.checks) == (
        True,
        "Disk almost full",
        "",
        [],
    )


def test_text_before_the_first_label_is_kept_with_what_is_happening() -> None:
    parts = parse_explanation("Sure, here it is.\nLikely cause: a bug")

    assert parts.happening == "Sure, here it is."
    assert parts.cause == "a bug"


def test_an_answer_without_labels_is_one_unstructured_body() -> None:
    parts = parse_explanation("  The pods crash because of a bad config.\nCheck it.  ")

    assert parts.structured is False
    assert parts.body == "The pods crash because of a bad config.\nCheck it."
    assert (parts.headline, parts.checks) == ("", [])


def test_a_message_exposes_the_parts_of_its_explanation() -> None:
    assert message().parts == parse_explanation(EXPLANATION)
    assert message(None).parts is None
