"""Properties of the text layer and the scorer (hypothesis)."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening.score import score
from screening.text import fold, shadow, tokenize
from screening.types import SEVERITIES, Hit, Span

# Vietnamese letters, decomposed marks, invisible and bidi characters, digits, emoji, punctuation.
ALPHABET = st.sampled_from(
    list("abcdeghiklmnopqrstuvxyđĐăâêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")
    + list("ABCDEGHKLMNOPQRSTUVXY0123456789 .,;:!?/-+$€¥%\n\t@#_*()")
    + ["\u0301", "\u0300", "\u0323", "\u200b", "\u200d", "\u202e", "\u2066", "\ufeff", "🔥", "✅", "𝐙", "Ｚ", "ﬁ", "İ", "ß"]
)
TEXTS = st.text(alphabet=ALPHABET, max_size=300)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(TEXTS)
def test_folding_is_idempotent(text):
    assert fold(fold(text)) == fold(text)


@SETTINGS
@given(TEXTS)
def test_token_spans_always_index_the_input(text):
    sh = shadow(text)
    for t in tokenize(sh):
        assert 0 <= t.start <= t.end <= len(text)


@SETTINGS
@given(TEXTS)
def test_shadow_spans_map_into_the_input(text):
    sh = shadow(text)
    for i in range(len(sh.text)):
        s, e = sh.to_raw(i, i + 1)
        assert 0 <= s < e <= len(text)


def assert_spans_index(text, a):
    """Every evidence and entity span of the assessment ``a`` indexes ``text``."""
    for h in a.hits:
        for s in h.evidence:
            assert text[s.start:s.end] == s.text
    for e in a.entities:
        assert text[e.span.start:e.span.end] == e.span.text


@SETTINGS
@given(TEXTS)
def test_evidence_and_entity_spans_index_the_input(rules_screener_h, text):
    a = rules_screener_h.screen(text)
    assert_spans_index(text, a)
    assert 0.0 <= a.risk_score <= 1.0


@SETTINGS
@given(TEXTS)
def test_screening_is_deterministic(rules_screener_h, text):
    a, b = rules_screener_h.screen(text), rules_screener_h.screen(text)
    assert (a.risk_score, a.hits, a.entities) == (b.risk_score, b.hits, b.entities)


SCORING = {"weights": {"low": 0.05, "medium": 0.25, "high": 0.6, "critical": 0.85}, "bands": {"high": 0.6, "medium": 0.4}, "classifier": {"weight": 0.6}}
HITS = st.lists(
    st.builds(lambda i, s, c: Hit(f"i{i}", s, (Span(0, 1, "x"),), (), c), st.integers(0, 8), st.sampled_from(SEVERITIES), st.booleans()),
    max_size=10,
)
PROBS = st.one_of(st.none(), st.floats(0, 1))


@SETTINGS
@given(HITS, PROBS)
def test_score_stays_in_unit_interval(hits, p):
    value, band, flagged, steps = score(hits, p, SCORING)
    assert 0.0 <= value <= 1.0
    assert flagged == (band in ("high", "medium"))


@SETTINGS
@given(HITS, PROBS, st.sampled_from(["high", "critical"]), st.integers(0, 20))
def test_adding_a_high_severity_sign_never_lowers_the_score(hits, p, sev, i):
    before = score(hits, p, SCORING)[0]
    after = score(hits + [Hit(f"new{i}", sev, (Span(0, 1, "x"),), (), True)], p, SCORING)[0]
    assert after >= before - 1e-12


MARKUP = st.lists(st.one_of(st.text(alphabet=ALPHABET, max_size=20),
                            st.sampled_from(["<b>", "</b>", "<p>", "</p>", "<br/>", "<div class='x'>", "&nbsp;", "&amp;",
                                             "&#273;", "<!-- c -->", "<a href=\"x?a=1&amp;b=2\">", "<", ">", "&"])),
                  max_size=30).map("".join)


@SETTINGS
@given(MARKUP)
def test_markup_masking_keeps_length_and_offsets(rules_screener_h, text):
    from screening.markup import mask_markup

    masked = mask_markup(text)
    if masked is not None:
        assert len(masked) == len(text) and masked != text
        assert mask_markup(masked) is None or len(mask_markup(masked)) == len(text)
    a = rules_screener_h.screen(text)
    assert_spans_index(text, a)
    if masked is not None:
        # the spans are those of the masked text, at the same offsets (so none is shifted),
        # and the same hits and score come out as for the masked text itself
        b = rules_screener_h.screen(masked)
        assert [(h.indicator, [(x.start, x.end) for x in h.evidence]) for h in a.hits] == \
               [(h.indicator, [(x.start, x.end) for x in h.evidence]) for h in b.hits]
        assert [(e.kind, e.span.start, e.span.end) for e in a.entities] == [(e.kind, e.span.start, e.span.end) for e in b.entities]
        assert a.risk_score == b.risk_score
