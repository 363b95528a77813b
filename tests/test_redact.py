"""Redaction: what the prompt may contain of an alert, and what it never contains."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from alert_explainer.alertmanager import Notification, parse_notification
from alert_explainer.config import RedactionRule, RedactionSettings
from alert_explainer.redact import Redactor, truncate

# Test credentials of every built-in shape. None of them is real.
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo\n"
    "4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n"
    "-----END RSA PRIVATE KEY-----"
)
GCP_SERVICE_ACCOUNT = json.dumps(
    {
        "type": "service_account",
        "project_id": "demo",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
        "-----END PRIVATE KEY-----\n",
        "client_email": "demo@demo.iam.gserviceaccount.com",
    }
)
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

# (rule, text, what must disappear, what the text becomes)
CASES = [
    (
        "bearer_token",
        "probe sent Authorization: Bearer x and failed",
        "Bearer x ",
        "probe sent Authorization: Bearer [REDACTED:bearer_token] and failed",
    ),
    (
        "bearer_token",
        "curl -H 'authorization: bearer abc.DEF-123_xyz' https://api",
        "abc.DEF-123_xyz",
        "curl -H 'authorization: bearer [REDACTED:bearer_token]' https://api",
    ),
    (
        "bearer_token",
        "token was Bearer 0a1b2c3d4e5f6a7b8c9d",
        "0a1b2c3d4e5f6a7b8c9d",
        "token was Bearer [REDACTED:bearer_token]",
    ),
    (
        "basic_auth",
        "Authorization: Basic dXNlcjpodW50ZXIy",
        "dXNlcjpodW50ZXIy",
        "Authorization: Basic [REDACTED:basic_auth]",
    ),
    (
        "basic_auth",
        "sent basic YWRtaW46czNjcjN0 to the proxy",
        "YWRtaW46czNjcjN0",
        "sent basic [REDACTED:basic_auth] to the proxy",
    ),
    (
        "secret_pair",
        "connect failed: host=db password=hunter2 user=app",
        "hunter2",
        "connect failed: host=db password=[REDACTED:secret_pair] user=app",
    ),
    (
        "secret_pair",
        'config {"db_passwd": "p@ss w0rd", "api_key":"k-123", "pwd":\'x\'}',
        "p@ss w0rd",
        'config {"db_passwd": "[REDACTED:secret_pair]", "api_key":"[REDACTED:secret_pair]", '
        "\"pwd\":'[REDACTED:secret_pair]'}",
    ),
    (
        "secret_pair",
        "GET /callback?code=1&token=abc123&state=2",
        "abc123",
        "GET /callback?code=1&token=[REDACTED:secret_pair]&state=2",
    ),
    (
        "secret_pair",
        "CLIENT_SECRET: s3cr3t-value",
        "s3cr3t-value",
        "CLIENT_SECRET: [REDACTED:secret_pair]",
    ),
    (
        "url_credentials",
        "dsn postgres://app:hunter2@db.internal:5432/orders",
        "hunter2",
        "dsn postgres://app:[REDACTED:url_credentials]@db.internal:5432/orders",
    ),
    (
        "url_credentials",
        "redis://:r3d1s@cache:6379/0",
        "r3d1s",
        "redis://:[REDACTED:url_credentials]@cache:6379/0",
    ),
    ("private_key", f"key:\n{PEM}\nend", "MIIEowIBAAKCAQEA", "key:\n[REDACTED:private_key]\nend"),
    (
        "private_key",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA",  # cut off, no END line
        "b3BlbnNzaC1rZXktdjEAAAAA",
        "[REDACTED:private_key]",
    ),
    (
        "private_key",
        GCP_SERVICE_ACCOUNT,
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        GCP_SERVICE_ACCOUNT.replace(
            r"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC"
            r"\n-----END PRIVATE KEY-----",
            "[REDACTED:private_key]",
        ),
    ),
    (
        "aws_access_key_id",
        "caller AKIAIOSFODNN7EXAMPLE denied",
        "AKIAIOSFODNN7EXAMPLE",
        "caller [REDACTED:aws_access_key_id] denied",
    ),
    (
        "aws_access_key_id",
        "session ASIAY34FZKBOKMUTVV7A expired",
        "ASIAY34FZKBOKMUTVV7A",
        "session [REDACTED:aws_access_key_id] expired",
    ),
    (
        "aws_secret_access_key",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret_access_key = [REDACTED:aws_secret_access_key]",
    ),
    (
        "gcp_api_key",
        "maps key AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI in use",
        "AIzaSyDdI0hCZtE6vySjMm-WEfRq3CPzqKqqsHI",
        "maps key [REDACTED:gcp_api_key] in use",
    ),
    (
        "slack_token",
        "bot xoxb-2637102873-5239012345678-AbCdEfGhIjKlMnOpQrStUvWx revoked",
        "xoxb-2637102873",
        "bot [REDACTED:slack_token] revoked",
    ),
    (
        "slack_webhook",
        "posting to https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstuvwx",
        "T0AAAAAAA/B0BBBBBBB",
        "posting to https://hooks.slack.com/services/[REDACTED:slack_webhook]",
    ),
    (
        "github_token",
        "clone with ghp_abcdefghijklmnopqrstuvwxyz0123456789 failed",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "clone with [REDACTED:github_token] failed",
    ),
    (
        "github_token",
        "token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",
        "github_pat_11ABCDEFG",
        "token [REDACTED:github_token]",
    ),
    ("jwt", f"session {JWT} rejected", JWT, "session [REDACTED:jwt] rejected"),
]


@pytest.fixture
def redactor() -> Redactor:
    return Redactor.from_settings(RedactionSettings(), max_value_length=4096)


def notification(payload: dict[str, Any]) -> Notification:
    return parse_notification(json.dumps(payload).encode())


@pytest.mark.parametrize(
    ("rule", "text", "secret", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_built_in_secret_shape_is_replaced_by_its_rule_name(
    redactor: Redactor, rule: str, text: str, secret: str, expected: str
) -> None:
    counts: Counter[str] = Counter()

    redacted = redactor.redact(text, counts)

    assert redacted == expected
    assert secret not in redacted
    assert counts[rule] >= 1


@pytest.mark.parametrize(
    "text",
    [
        "bearer authentication failed for the ingress",
        "basic authentication is disabled; basic monitoring only",
        "the token bucket is empty; 12 tokens left",
        "latency < 200ms and error rate > 5%",
        "see https://grafana.example.com/d/abc?orgId=1&from=now-1h",
        "user@example.com reported it; ping @oncall",
        "KubePodCrashLooping in payments/api-7d9f since 16:19",
        "AKIA is a prefix, and AIza too, and eyJ alone",
    ],
)
def test_ordinary_operational_text_is_left_alone(redactor: Redactor, text: str) -> None:
    assert redactor.redact(text) == text


def test_redacting_twice_is_the_same_as_once(redactor: Redactor) -> None:
    text = "\n".join(case[1] for case in CASES)
    once = redactor.redact(text)

    assert redactor.redact(once) == once


def test_a_label_named_like_a_credential_is_replaced_whole(
    redactor: Redactor, sample_payload: dict[str, Any]
) -> None:
    sample_payload["alerts"][0]["labels"]["db_password"] = "plain words are still a secret"

    copy, counts = redactor.prepare(notification(sample_payload))

    assert copy.alerts[0].labels["db_password"] == "[REDACTED:secret_label]"
    assert counts["secret_label"] == 1


def test_prepare_redacts_every_text_field_that_reaches_the_prompt(
    redactor: Redactor, sample_payload: dict[str, Any]
) -> None:
    sample_payload["alerts"][0]["annotations"]["description"] = "password=hunter2"
    sample_payload["alerts"][1]["labels"]["dsn"] = "mysql://app:hunter2@db/x"
    sample_payload["alerts"][0]["generatorURL"] = "http://admin:hunter2@prometheus:9090/graph"
    sample_payload["commonLabels"]["token_source"] = "token=hunter2"
    sample_payload["commonAnnotations"]["note"] = "pwd: hunter2"
    sample_payload["groupLabels"]["auth"] = "Authorization: Bearer hunter2"
    sample_payload["externalURL"] = "https://am:hunter2@alertmanager.example.com"
    sample_payload["receiver"] = "team password=hunter2"

    copy, counts = redactor.prepare(notification(sample_payload))

    assert "hunter2" not in copy.model_dump_json()
    assert sum(counts.values()) == 8


def test_prepare_leaves_the_original_identity_fingerprints_and_raw_payload_alone(
    redactor: Redactor, sample_payload: dict[str, Any]
) -> None:
    sample_payload["alerts"][0]["annotations"]["description"] = "password=hunter2"
    original = notification(sample_payload)
    before = original.model_dump()

    copy, _ = redactor.prepare(original)

    assert original.model_dump() == before
    assert original.raw == sample_payload
    assert copy.raw is original.raw
    assert [a.fingerprint for a in copy.alerts] == [a.fingerprint for a in original.alerts]
    assert copy.identity("r") == original.identity("r")
    assert [(a.status, a.starts_at) for a in copy.alerts] == [
        (a.status, a.starts_at) for a in original.alerts
    ]


def test_long_values_are_cut_with_a_visible_marker(sample_payload: dict[str, Any]) -> None:
    redactor = Redactor.from_settings(RedactionSettings(), max_value_length=100)
    sample_payload["alerts"][0]["annotations"]["description"] = "x" * 1_048_576

    copy, _ = redactor.prepare(notification(sample_payload))

    description = copy.alerts[0].annotations["description"]
    kept = description.index("…")
    assert description == "x" * kept + f"…[truncated {1_048_576 - kept} chars]"
    assert kept > 50
    assert len(description) == 100


def test_a_secret_that_straddles_the_cut_leaves_no_fragment() -> None:
    redactor = Redactor.from_settings(RedactionSettings(), max_value_length=100)
    secret = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"

    cleaned = redactor.clean("y" * 90 + secret + "z" * 10_000)

    assert "ghp_" not in cleaned
    assert "abcdef" not in cleaned


def test_truncating_an_already_truncated_value_changes_nothing() -> None:
    once = truncate("x" * 5000, 200)

    assert len(once) <= 200
    assert truncate(once, 200) == once


def test_a_limit_shorter_than_the_marker_still_ends() -> None:
    assert len(truncate("x" * 5000, 10)) <= 10


def test_denied_names_are_dropped_everywhere(sample_payload: dict[str, Any]) -> None:
    redactor = Redactor.from_settings(
        RedactionSettings(deny=["namespace", "runbook_url"]), max_value_length=4096
    )

    copy, _ = redactor.prepare(notification(sample_payload))

    assert all("namespace" not in a.labels for a in copy.alerts)
    assert "runbook_url" not in copy.alerts[0].annotations
    assert "namespace" not in copy.group_labels
    assert "namespace" not in copy.common_labels


def test_an_allow_list_keeps_only_its_names_plus_alertname_and_severity(
    sample_payload: dict[str, Any],
) -> None:
    redactor = Redactor.from_settings(RedactionSettings(allow=["summary"]), max_value_length=4096)

    copy, _ = redactor.prepare(notification(sample_payload))

    assert copy.alerts[0].labels == {"alertname": "KubePodCrashLooping", "severity": "critical"}
    assert copy.alerts[0].annotations == {"summary": "Pod payments/api-7d9f is crash looping"}


def test_configured_rules_replace_the_whole_match_or_only_the_value_group(
    sample_payload: dict[str, Any],
) -> None:
    settings = RedactionSettings(
        rules=[
            RedactionRule(name="employee_id", regex=r"\bE\d{6}\b"),
            RedactionRule(name="ticket_secret", regex=r"ticket-pin (?P<value>\d+)"),
        ]
    )
    redactor = Redactor.from_settings(settings, max_value_length=4096)
    sample_payload["alerts"][0]["annotations"]["description"] = "E123456 used ticket-pin 4711"

    copy, counts = redactor.prepare(notification(sample_payload))

    assert copy.alerts[0].annotations["description"] == (
        "[REDACTED:employee_id] used ticket-pin [REDACTED:ticket_secret]"
    )
    assert counts == {"employee_id": 1, "ticket_secret": 1}


def test_a_configured_rule_that_matches_empty_text_changes_nothing() -> None:
    settings = RedactionSettings(rules=[RedactionRule(name="nothing", regex=r"x*")])
    redactor = Redactor.from_settings(settings, max_value_length=4096)

    assert redactor.redact("abc") == "abc"


def test_builtin_false_turns_off_the_built_in_rules_but_not_configured_ones() -> None:
    settings = RedactionSettings(builtin=False, rules=[RedactionRule(name="pin", regex=r"pin \d+")])
    redactor = Redactor.from_settings(settings, max_value_length=4096)

    assert redactor.redact("password=hunter2 pin 1234") == "password=hunter2 [REDACTED:pin]"


def test_counts_add_up_across_a_notification(
    redactor: Redactor, sample_payload: dict[str, Any]
) -> None:
    for alert in sample_payload["alerts"]:
        alert["annotations"]["description"] = "AKIAIOSFODNN7EXAMPLE password=x"

    _, counts = redactor.prepare(notification(sample_payload))

    assert counts == {"aws_access_key_id": 2, "secret_pair": 2}


def test_rule_names_list_every_name_a_count_can_carry() -> None:
    settings = RedactionSettings(rules=[RedactionRule(name="pin", regex=r"pin \d+")])

    names = Redactor.from_settings(settings, max_value_length=4096).rule_names

    assert {"jwt", "secret_pair", "secret_label", "pin"} <= set(names)
    assert (
        Redactor.from_settings(RedactionSettings(builtin=False), max_value_length=4096).rule_names
        == []
    )
