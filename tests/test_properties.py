"""Properties that hold for every input: the parser, the redactor and the sanitizer.

Hypothesis generates the inputs; each property runs a bounded number of examples so the
suite stays quick in CI.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alert_explainer.alertmanager import parse_notification
from alert_explainer.config import RedactionSettings
from alert_explainer.errors import PayloadError
from alert_explainer.redact import Redactor
from alert_explainer.sanitize import sanitize_explanation

BOUNDED = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REDACTOR = Redactor.from_settings(RedactionSettings(), max_value_length=4096)
MARKER = re.compile(r"\[REDACTED:[a-z_]+\]")

# --- the parser ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=30,
)
# Objects that look like payloads more often than chance would make them.
near_payloads = st.fixed_dictionaries(
    {"status": st.sampled_from(["firing", "resolved", "other", 1, None])},
    optional={
        "alerts": st.lists(
            st.fixed_dictionaries(
                {"status": st.sampled_from(["firing", "resolved", 0])},
                optional={
                    "labels": st.dictionaries(st.text(max_size=8), json_values, max_size=4),
                    "startsAt": json_values | st.datetimes().map(lambda d: d.isoformat()),
                },
            )
            | json_values,
            max_size=4,
        ),
        "version": json_values,
        "truncatedAlerts": json_values,
        "groupLabels": json_values,
    },
)


def answer(body: bytes) -> int:
    """200 when the body parses; the PayloadError's status otherwise (anything else raises)."""
    try:
        parse_notification(body)
    except PayloadError as exc:
        return exc.status
    return 200


@BOUNDED
@given(json_values | near_payloads)
def test_any_json_is_parsed_or_refused_with_a_payload_error(value: Any) -> None:
    assert answer(json.dumps(value).encode()) in (200, 400, 413, 422)


@BOUNDED
@given(st.binary(max_size=300))
def test_any_bytes_are_parsed_or_refused_with_a_payload_error(body: bytes) -> None:
    assert answer(body) in (200, 400, 413, 422)


label_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
label_sets = st.dictionaries(label_names, st.text(max_size=30), max_size=5)
alerts = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "labels": label_sets,
        "annotations": label_sets,
        "startsAt": st.just("2026-11-25T16:19:53.573Z"),
        "endsAt": st.just("0001-01-01T00:00:00Z"),
        "generatorURL": st.text(max_size=40),
        "fingerprint": st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
    }
)
payloads = st.fixed_dictionaries(
    {
        "version": st.just("4"),
        "groupKey": st.text(max_size=40),
        "truncatedAlerts": st.integers(min_value=0, max_value=10**6),
        "status": st.sampled_from(["firing", "resolved"]),
        "receiver": st.text(max_size=20),
        "groupLabels": label_sets,
        "commonLabels": label_sets,
        "commonAnnotations": label_sets,
        "externalURL": st.text(max_size=40),
        "alerts": st.lists(alerts, max_size=3),
    }
)


@BOUNDED
@given(payloads)
def test_valid_payloads_round_trip(payload: dict[str, Any]) -> None:
    notification = parse_notification(json.dumps(payload).encode())

    assert notification.raw == payload
    assert notification.model_dump(by_alias=True, exclude={"alerts"}) == {
        k: v for k, v in payload.items() if k != "alerts"
    }
    for alert, sent in zip(notification.alerts, payload["alerts"], strict=True):
        assert (alert.status, alert.labels, alert.annotations) == (
            sent["status"],
            sent["labels"],
            sent["annotations"],
        )
        assert (alert.generator_url, alert.fingerprint) == (
            sent["generatorURL"],
            sent["fingerprint"],
        )
        assert alert.ends_at is None


# --- the redactor -------------------------------------------------------------------------

# Filler text: no digits, no upper case, none of `b p = : / _ -`, so it can neither form a
# secret nor contain one (every generated secret has a digit).
filler = st.text(alphabet="acdefghijklmnoqrstuvwxyz ,.!?\n'é漢", max_size=40)


def with_digit(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return strategy.filter(lambda s: any(c.isdigit() for c in s))


def shaped(pattern: str) -> st.SearchStrategy[str]:
    return with_digit(st.from_regex(pattern, fullmatch=True))


def basic_credentials(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


printable = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1)
user_passwords = st.tuples(
    st.from_regex(r"[a-z]{3,10}", fullmatch=True), printable.filter(lambda s: len(s) >= 3)
)
pair_values = shaped(r"[A-Za-z0-9!#$%()*+./?@^_{|}~-]{8,30}").filter(
    lambda s: not s.startswith("[REDACTED")
)
pair_keys = st.sampled_from(
    ["password", "db_password", "passwd", "pwd", "token", "api_key", "secret", "API-KEY"]
)

# (secret, text that carries it)
secrets: st.SearchStrategy[tuple[str, str]] = st.one_of(
    shaped(r"A(KIA|SIA)[A-Z0-9]{16}").map(lambda s: (s, s)),
    shaped(r"AIza[0-9A-Za-z_-]{35}").map(lambda s: (s, s)),
    shaped(r"gh[pousr]_[A-Za-z0-9]{36}").map(lambda s: (s, s)),
    shaped(r"github_pat_[A-Za-z0-9_]{22,60}").map(lambda s: (s, s)),
    shaped(r"xox[abpr]-[A-Za-z0-9]{10,40}").map(lambda s: (s, s)),
    shaped(r"eyJ[A-Za-z0-9_-]{4,30}\.eyJ[A-Za-z0-9_-]{4,30}\.[A-Za-z0-9_-]{8,30}").map(
        lambda s: (s, s)
    ),
    shaped(r"[A-Za-z0-9._~+/-]{8,40}").map(lambda s: (s, f"Authorization: Bearer {s}")),
    user_passwords.map(lambda up: basic_credentials(*up)).map(
        lambda s: (s, f"Authorization: Basic {s}")
    ),
    user_passwords.map(lambda up: basic_credentials(*up))
    .filter(lambda s: len(s) >= 8 and any(c.isdigit() for c in s))
    .map(lambda s: (s, f"basic {s}")),
    st.tuples(pair_keys, st.sampled_from(["=", ": ", " = "]), pair_values).map(
        lambda t: (t[2], f"{t[0]}{t[1]}{t[2]}")
    ),
    st.tuples(pair_keys, pair_values).map(lambda t: (t[1], f'"{t[0]}": "{t[1]}"')),
    shaped(r"[A-Za-z0-9]{8,20}").map(lambda s: (s, f"https://user:{s}@db.example.com/x")),
    shaped(r"[A-Za-z0-9+/]{40}").map(lambda s: (s, f"aws_secret_access_key={s}")),
    shaped(r"T[A-Z0-9]{8}/B[A-Z0-9]{8}/[A-Za-z0-9]{24}").map(
        lambda s: (s, f"https://hooks.slack.com/services/{s}")
    ),
    shaped(r"[A-Za-z0-9+/]{40,80}").map(
        lambda s: (s, f"-----BEGIN RSA PRIVATE KEY-----\n{s}\n-----END RSA PRIVATE KEY-----")
    ),
)


@BOUNDED
@given(filler, secrets, filler)
def test_no_built_in_secret_shape_survives_redaction(
    before: str, secret: tuple[str, str], after: str
) -> None:
    value, text = secret

    redacted = REDACTOR.redact(f"{before} {text} {after}")

    assert value not in redacted
    assert MARKER.search(redacted)


@BOUNDED
@given(filler, secrets, filler)
def test_no_secret_survives_preparation_even_across_the_cut(
    before: str, secret: tuple[str, str], after: str
) -> None:
    redactor = Redactor.from_settings(RedactionSettings(), max_value_length=64)
    value, text = secret

    cleaned = redactor.clean(f"{before * 3} {text} {after}")

    assert value not in cleaned
    assert len(cleaned) <= 64


@BOUNDED
@given(st.lists(filler | secrets.map(lambda s: s[1]), max_size=6).map(" ".join))
def test_redaction_is_idempotent_on_text_with_secrets(text: str) -> None:
    once = REDACTOR.redact(text)

    assert REDACTOR.redact(once) == once


@BOUNDED
@given(st.text(max_size=200))
def test_redaction_is_idempotent_on_any_text(text: str) -> None:
    once = REDACTOR.redact(text)

    assert REDACTOR.redact(once) == once


@BOUNDED
@given(filler)
def test_text_without_secrets_is_untouched(text: str) -> None:
    assert REDACTOR.redact(text) == text


# --- the sanitizer ------------------------------------------------------------------------

fragments = st.sampled_from(
    [
        "<!channel>",
        "<!here>",
        "<!everyone>",
        "<!subteam^S1|@ops>",
        "<@U024BE7LH>",
        "<@!42>",
        "<@&42>",
        "<#C1>",
        "</deploy:42>",
        "@everyone",
        "@here",
        "@channel",
        "@all",
        "<",
        ">",
        "!",
        "@",
        "#",
        "|",
        "^",
        "<script>",
        "</script>",
        "<img src=x onerror=alert(1)>",
        "<iframe>",
        "\u200b",
        "\u202e",
        "\x00",
        "\x1b",
        "\r",
        " ",
        "x",
        "mail@example.com",
    ]
)
model_output = st.lists(fragments | st.text(max_size=5), max_size=30).map("".join)

ACTIVE = [
    re.compile(r"<[!@#]"),  # Slack specials and references, Discord mentions
    re.compile(r"</[\w -]+:\d+>"),  # Discord command mentions
    re.compile(r"(?<![\w@.+-])@(?=[\w.-])"),  # bare @name (not e-mail)
    re.compile(r"<\s*/?\s*(script|iframe|img)(?=[\s/>]|$)", re.IGNORECASE),
    re.compile("[\x00-\x08\x0b-\x1f\x7f\u200b\u202e]"),
]


@BOUNDED
@given(model_output)
def test_no_active_mention_markup_or_control_character_survives(text: str) -> None:
    result = sanitize_explanation(text)

    for pattern in ACTIVE:
        assert not pattern.search(result), (pattern.pattern, result)


@BOUNDED
@given(model_output, st.integers(min_value=40, max_value=200))
def test_sanitized_text_fits_and_sanitizing_again_changes_nothing(text: str, limit: int) -> None:
    result = sanitize_explanation(text, max_length=limit)

    assert len(result) <= limit
    assert sanitize_explanation(result, max_length=limit) == result


@BOUNDED
@given(st.text(alphabet="acdfhjklnqrstuvwxyz <>=%.,0123456789\n\t", max_size=200))
def test_plain_text_with_comparisons_is_unchanged(text: str) -> None:
    assert sanitize_explanation(text) == text
