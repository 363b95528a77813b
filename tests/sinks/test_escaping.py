"""Each destination's escaper: whatever the text, no active markup survives it."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from alert_explainer.sinks import discord, googlechat, mattermost, msteams, slack, telegram
from tests.sinks.support import unescaped

# Text rich in the characters markup is made of, plus anything else.
MARKUP = st.text(
    alphabet=st.sampled_from(list("<>&@!*_~`|[]()#-+.1 \n\\:/abcehlnortvy")) | st.characters(),
    max_size=200,
)
MENTION = re.compile(r"@(everyone|here|channel|all|[A-Za-z0-9])")
LIST_OR_HEADING = re.compile(r"(?m)^\s*(?:[-+#]|\d+[.)])")
ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


@given(MARKUP)
def test_slack_mrkdwn_has_no_control_sequence(text: str) -> None:
    escaped = slack.escape(text)

    assert "<" not in escaped
    assert ">" not in escaped
    assert ENTITY.search(escaped) is None


@given(MARKUP)
def test_telegram_html_has_no_tag_or_bare_ampersand(text: str) -> None:
    escaped = telegram.escape(text)

    assert "<" not in escaped
    assert ">" not in escaped
    assert ENTITY.search(escaped) is None


@given(MARKUP)
def test_google_chat_html_has_no_tag_or_bare_ampersand(text: str) -> None:
    escaped = googlechat.escape(text)

    assert "<" not in escaped
    assert ENTITY.search(escaped) is None


@given(MARKUP)
def test_discord_markdown_has_no_mention_formatting_or_link(text: str) -> None:
    escaped = discord.escape(text)

    assert MENTION.search(escaped) is None
    assert unescaped(escaped, "*_~`|<>") == []
    assert "](" not in escaped
    assert LIST_OR_HEADING.search(escaped) is None


@given(MARKUP)
def test_mattermost_markdown_has_no_mention_html_formatting_or_link(text: str) -> None:
    escaped = mattermost.escape(text)

    assert MENTION.search(escaped) is None
    assert "<" not in escaped
    assert ENTITY.search(escaped) is None
    assert unescaped(escaped, "*_~`|") == []
    assert "](" not in escaped
    assert LIST_OR_HEADING.search(escaped) is None


@given(MARKUP)
def test_teams_markdown_has_no_formatting_link_or_list(text: str) -> None:
    escaped = msteams.escape(text)

    assert unescaped(escaped, "*_~`<>") == []
    assert "](" not in escaped
    assert LIST_OR_HEADING.search(escaped) is None


@given(MARKUP)
def test_escaping_keeps_every_character_of_the_text(text: str) -> None:
    for escape in (discord.escape, msteams.escape):
        assert escape(text).replace("\\", "").replace("\u200b", "") == text.replace("\\", "")
