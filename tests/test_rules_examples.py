"""Every rule's examples, from the YAML: texts it must find and texts it must not."""

import pytest

from screening.catalogue import Catalogue

_CAT = Catalogue.load()
MATCH = [(i.id, t) for i in _CAT.indicators.values() for t in i.examples_match]
NO_MATCH = [(i.id, t) for i in _CAT.indicators.values() for t in i.examples_no_match]


def _ids(rules_screener, text):
    hits, _, _ = rules_screener.analyze_rules(text)
    return {h.indicator for h in hits if h.counted}


@pytest.mark.parametrize("indicator,text", MATCH, ids=[f"{i}:{k}" for k, (i, _) in enumerate(MATCH)])
def test_example_matches(rules_screener, indicator, text):
    assert indicator in _ids(rules_screener, text), f"{indicator} should find: {text!r}"


@pytest.mark.parametrize("indicator,text", NO_MATCH, ids=[f"{i}:{k}" for k, (i, _) in enumerate(NO_MATCH)])
def test_example_does_not_match(rules_screener, indicator, text):
    assert indicator not in _ids(rules_screener, text), f"{indicator} should not fire on: {text!r}"


@pytest.mark.parametrize("indicator,text", MATCH, ids=[f"{i}:{k}" for k, (i, _) in enumerate(MATCH)])
def test_example_matches_without_diacritics(rules_screener, indicator, text):
    from screening.text import fold

    assert indicator in _ids(rules_screener, fold(text)), f"{indicator} should find the folded text: {fold(text)!r}"
