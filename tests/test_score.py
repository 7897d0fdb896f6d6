"""The one scoring function."""

import pytest

from screening.score import score
from screening.types import Hit, Span

SCORING = {"weights": {"low": 0.05, "medium": 0.25, "high": 0.6, "critical": 0.85}, "bands": {"high": 0.6, "medium": 0.4}, "classifier": {"weight": 0.6}}


def hit(ind, sev, counted=True):
    return Hit(ind, sev, (Span(0, 1, "x"),), ("test",), counted)


def test_no_hits_is_low_and_not_flagged():
    assert score([], None, SCORING)[:3] == (0.0, "low", False)


def test_a_single_medium_sign_does_not_flag():
    value, band, flagged, _ = score([hit("a", "medium")], None, SCORING)
    assert band == "low" and not flagged and value == pytest.approx(0.25)


def test_two_medium_signs_flag():
    value, band, flagged, _ = score([hit("a", "medium"), hit("b", "medium")], None, SCORING)
    assert flagged and band == "medium" and value == pytest.approx(1 - 0.75**2)


def test_one_high_sign_flags_high():
    assert score([hit("a", "high")], None, SCORING)[1] == "high"


def test_an_indicator_counts_once():
    assert score([hit("a", "high"), hit("a", "high")], None, SCORING)[0] == pytest.approx(0.6)


def test_uncounted_hits_do_not_count():
    assert score([hit("a", "high", counted=False)], None, SCORING)[0] == 0.0


def test_steps_show_every_contribution_in_order():
    _, _, _, steps = score([hit("b", "medium"), hit("a", "high")], 0.5, SCORING)
    assert [s.source for s in steps] == ["rule:a", "rule:b", "classifier"]
    assert steps[-1].weight == pytest.approx(0.3)
    assert steps[-1].score_after == pytest.approx(1 - 0.4 * 0.75 * 0.7)


@pytest.mark.parametrize("p", [0.0, 0.3, 0.99, 1.0])
def test_classifier_alone_scales_with_probability(p):
    value, *_ = score([], p, SCORING)
    assert value == pytest.approx(0.6 * p)
