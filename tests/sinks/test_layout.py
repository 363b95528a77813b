"""Fitting a view into a size limit: explanation, evidence, then the alerts; never the title."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alert_explainer.errors import SinkError
from alert_explainer.evidence.model import fair_shares
from alert_explainer.sinks.layout import CUT, View, clip, fit, shorten
from alert_explainer.sinks.markup import PLAIN, document
from tests.sinks.support import storm_message


def render(view: View) -> str:
    return document(view, PLAIN)


def test_a_message_that_fits_is_shown_whole() -> None:
    text = fit("s", storm_message(3), render, lambda t: True, max_alerts=10)

    assert CUT not in text
    assert "more alert" not in text


def test_the_explanation_is_shortened_before_any_alert_is_dropped() -> None:
    full = fit("s", storm_message(10), render, lambda t: True, max_alerts=10)

    text = fit("s", storm_message(10), render, lambda t: len(t) <= len(full) - 500, max_alerts=10)

    assert CUT in text
    assert "more alert" not in text


def test_alerts_are_dropped_once_the_explanation_is_at_its_floor() -> None:
    text = fit("s", storm_message(10), render, lambda t: len(t) <= 2500, max_alerts=10)

    assert len(text) <= 2500
    assert CUT in text
    assert "more alerts" in text
    assert text.startswith("🔥 [FIRING:10] ")
    assert "Silence: http://vm:19093/" in text


def test_the_evidence_is_shortened_after_the_explanation_and_before_any_alert_is_dropped() -> None:
    full = fit("s", storm_message(10), render, lambda t: True, max_alerts=10)
    at_floor = fit("s", storm_message(10), render, lambda t: len(t) <= 6000, max_alerts=10)

    assert len(full) > 6000
    assert CUT in at_floor  # the explanation, at its floor
    assert "more lines" in at_floor  # the evidence, shortened
    assert "more alert" not in at_floor


def test_a_limit_nothing_fits_is_a_final_error() -> None:
    with pytest.raises(SinkError, match="does not fit") as caught:
        fit("s", storm_message(3), render, lambda t: len(t) < 10, max_alerts=10)

    assert caught.value.retryable is False


def test_shortening_is_visible() -> None:
    assert shorten("a" * 100, 50) == "a" * (50 - len(CUT)) + CUT
    assert shorten("short", 50) == "short"


@given(st.lists(st.integers(0, 5000), min_size=1, max_size=4), st.integers(0, 20_000))
def test_fair_shares_never_exceed_the_budget_or_what_a_part_needs(
    lengths: list[int], budget: int
) -> None:
    shares = fair_shares(lengths, budget)

    assert sum(shares) <= budget
    assert all(0 <= s <= n for s, n in zip(shares, lengths, strict=True))
    if sum(lengths) <= budget:
        assert shares == lengths


@given(st.text(), st.integers(1, 200))
def test_clip_never_splits_an_escape(text: str, limit: int) -> None:
    def escape(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;")

    clipped = clip(text, limit, escape)

    assert len(clipped) <= limit
    assert clipped.removesuffix("…").count("&") == clipped.count("&amp;") + clipped.count("&lt;")
