"""What is left of a model's answer before any destination sees it."""

from __future__ import annotations

import pytest

from alert_explainer.sanitize import sanitize_explanation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<!channel> payments is down", "＠channel payments is down"),
        ("<!here|here> look", "＠here look"),
        ("<!everyone>", "＠everyone"),
        ("<!subteam^S0123ABC|@payments-oncall> take it", "＠payments-oncall take it"),
        ("<!subteam^S0123ABC>", "＠subteam"),
    ],
)
def test_slack_special_mentions_become_plain_text(text: str, expected: str) -> None:
    assert sanitize_explanation(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ask <@U024BE7LH>", "ask ＠U024BE7LH"),
        ("ask <@U024BE7LH|bob>", "ask ＠bob"),
        ("ask <@123456789012345678>", "ask ＠123456789012345678"),
        ("ask <@!123456789012345678>", "ask ＠123456789012345678"),
        ("role <@&987654321>", "role ＠&987654321"),
        ("see <#C024BE7LR|ops>", "see #ops"),
        ("see <#123456>", "see #123456"),
        ("run </deploy:123456>", "run /deploy"),
    ],
)
def test_user_role_channel_and_command_references_become_plain_text(
    text: str, expected: str
) -> None:
    assert sanitize_explanation(text) == expected


@pytest.mark.parametrize("word", ["everyone", "here", "channel", "all", "Everyone", "oncall"])
def test_bare_at_mentions_are_defused(word: str) -> None:
    assert sanitize_explanation(f"ping @{word} now") == f"ping ＠{word} now"


def test_email_addresses_keep_their_at_sign() -> None:
    assert sanitize_explanation("mail ops@example.com") == "mail ops@example.com"


def test_a_mention_disguised_with_zero_width_characters_is_still_defused() -> None:
    assert sanitize_explanation("@\u200beveryone <\u200b!channel>") == "＠everyone ＠channel"


def test_a_mention_assembled_from_nested_pieces_is_defused() -> None:
    result = sanitize_explanation("<!her<!e>>")

    assert "<!here>" not in result
    assert "<!" not in result


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("before <script>alert(1)</script> after", "before  after"),
        ("<SCRIPT type='text/javascript'>x()</SCRIPT >done", "done"),
        ('<img src=x onerror="alert(1)">shown', "shown"),
        ("<iframe src='https://evil.example'></iframe>ok", "ok"),
        ('<a href="javascript:alert(1)">link</a>', "link</a>"),
        ('<div onmouseover="steal()">hover</div>', "hover</div>"),
        ("<svg><script>x</script></svg>svg gone", "svg gone"),
        ("<!-- hidden instructions -->visible", "visible"),
        ("<scr<script>x</script>ipt>alert(2)</script>", "alert(2)"),
        ("[click](javascript:alert(1))", "[click](unsafe:alert(1))"),
    ],
)
def test_markup_a_destination_might_execute_is_removed(text: str, expected: str) -> None:
    assert sanitize_explanation(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "p99 latency < 200ms and error rate > 5%",
        "x<y and y>z",
        "kubectl logs <pod-name> -n <namespace>",
        "open <base-url>/graph",
        "a <b>bold</b> word",
        "Headline: payments API is crash looping\n- check the runbook\n\t- and the logs",
        "café 漢字 🙂 → ≤ ≥",
    ],
)
def test_ordinary_text_and_less_than_signs_are_unchanged(text: str) -> None:
    assert sanitize_explanation(text) == text


def test_control_characters_go_but_newlines_and_tabs_stay() -> None:
    text = "a\x00b\x07c\x1b[31md\x7fe\x85f\r\ng\th"

    assert sanitize_explanation(text) == "abc[31mde\nf\ng\th"


def test_invisible_and_bidirectional_characters_go() -> None:
    text = "pay\u200bments \u202eevil\u202c \u2066x\u2069 \ufeffok \U000e0041tag"

    assert sanitize_explanation(text) == "payments evil x ok tag"


def test_long_answers_are_capped_with_a_marker() -> None:
    result = sanitize_explanation("x" * 10_000, max_length=100)

    kept = result.index("…")
    assert result == "x" * kept + f"…[truncated {10_000 - kept} chars]"
    assert len(result) == 100


def test_a_huge_answer_is_cheap_and_its_marker_counts_everything_cut() -> None:
    result = sanitize_explanation("<script " * 200_000, max_length=100)

    assert result.endswith("chars]")
    assert len(result) <= 100


def test_sanitizing_twice_is_the_same_as_once() -> None:
    text = "<!channel> <@U1> @here <script>x</script> \u200b" + "y" * 7000
    once = sanitize_explanation(text)

    assert sanitize_explanation(once) == once
