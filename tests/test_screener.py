"""The whole chain on ads written for the tests."""

import json

import pytest

from screening.text import fold

LURE = "Tuyển gấp 10 bạn nữ sang Campuchia làm CSKH, việc nhẹ lương cao 20tr/th, đặt cọc trước 5tr giữ slot, ib zalo 0909.123.456"
ORDINARY = "Tuyển công nhân may tại Bình Dương. Không cần kinh nghiệm, được đào tạo. Bao ăn ở, lương cao 9-11 triệu/tháng, tuyển gấp, đi làm ngay."


def ids(a):
    return {h.indicator for h in a.counted_hits}


def test_lure_is_flagged_high_with_evidence(rules_screener):
    a = rules_screener.screen(LURE)
    assert a.flagged and a.risk_band == "high"
    assert {"scam_compound_destination", "easy_work_high_pay", "upfront_fee"} <= ids(a)


def test_every_evidence_span_indexes_the_raw_text(rules_screener):
    for text in (LURE, fold(LURE), LURE.upper(), "v.i.ệ.c n.h.ẹ l.ư.ơ.n.g c.a.o sang Cam-pu-chia"):
        a = rules_screener.screen(text)
        for h in a.hits:
            for s in h.evidence:
                assert text[s.start:s.end] == s.text and s.end > s.start
        for e in a.entities:
            assert text[e.span.start:e.span.end] == e.span.text


def test_ordinary_ad_with_lookalike_words_is_not_flagged(rules_screener):
    a = rules_screener.screen(ORDINARY)
    assert not a.flagged, [h.indicator for h in a.counted_hits]


@pytest.mark.parametrize(
    "text,indicator",
    [
        ("Công ty không thu phí môi giới, không đặt cọc.", "brokerage_fee"),
        ("Cam kết không giữ hộ chiếu của người lao động", "id_document_surrender"),
        ("Không thu phí môi giới, phí cò dưới mọi hình thức", "brokerage_fee"),
    ],
)
def test_negation_drops_the_sign_but_keeps_it_visible(rules_screener, text, indicator):
    a = rules_screener.screen(text)
    assert indicator not in ids(a)
    assert any(h.indicator == indicator and not h.counted and "negated" in h.why[0] for h in a.hits)


def test_context_sign_counts_only_with_an_overseas_destination(rules_screener):
    home = rules_screener.screen("Tuyển gấp, đi làm ngay trong tuần, không cần bằng cấp, không cần phỏng vấn")
    abroad = rules_screener.screen("Đi Nhật: xuất cảnh ngay trong tuần, không cần bằng cấp, không cần phỏng vấn")
    assert "no_qualification_needed" not in ids(home)
    assert "no_qualification_needed" in ids(abroad)


def test_same_verdict_without_diacritics(rules_screener):
    a, b = rules_screener.screen(LURE), rules_screener.screen(fold(LURE))
    assert ids(a) == ids(b) and a.risk_band == b.risk_band


def test_screening_is_deterministic(rules_screener):
    d1 = rules_screener.to_dict(rules_screener.screen(LURE))
    d2 = rules_screener.to_dict(rules_screener.screen(LURE))
    assert json.dumps(d1, sort_keys=True) == json.dumps(d2, sort_keys=True)


def test_json_contract(rules_screener):
    d = rules_screener.to_dict(rules_screener.screen(LURE))
    assert set(d) >= {"flagged", "risk_score", "risk_band", "indicators", "explanation", "versions"}
    ind = d["indicators"][0]
    assert set(ind) >= {"id", "severity", "evidence", "legal", "name", "explanation", "ilo", "why"}
    assert all(set(e) == {"start", "end", "text"} for e in ind["evidence"])
    assert d["hotlines"] == ["111", "1800 6605"]
    assert "1800 6605" in d["explanation"]["summary"]["vi"]
    assert d["versions"]["rules"]
    assert 0 <= d["risk_score"] <= 1


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "🙂" * 50, "a"])
def test_empty_and_trivial_text_is_low(rules_screener, text):
    a = rules_screener.screen(text)
    assert a.risk_band == "low" and not a.flagged


def test_title_and_company_are_screened_too(rules_screener):
    a = rules_screener.screen("Liên hệ để biết thêm.", title="Việc nhẹ lương cao ở Bavet")
    assert "scam_compound_destination" in ids(a)
    for h in a.hits:
        for s in h.evidence:
            assert a.text[s.start:s.end] == s.text


def test_minor_recruiting_is_critical(rules_screener):
    a = rules_screener.screen("Tuyển nữ từ 16 tuổi đi làm phục vụ quán bên Lào, bao ăn ở")
    h = next(h for h in a.counted_hits if h.indicator == "minor_targeting")
    assert h.severity == "critical" and a.risk_band == "high"


def test_html_rendering_marks_the_evidence(rules_screener):
    from screening.render import html

    a = rules_screener.screen(LURE)
    out = html(a, rules_screener.catalogue)
    assert "<mark" in out and "Campuchia" in out


def test_very_long_text_is_screened_on_its_head_and_says_so(rules_screener):
    from screening.screener import MAX_SCREEN_CHARS

    text = "Sang Campuchia làm CSKH, việc nhẹ lương cao. " + "Tuyển công nhân may. " * 10_000
    assert len(text) > MAX_SCREEN_CHARS
    a = rules_screener.screen(text)
    d = rules_screener.to_dict(a)
    assert d["truncated_at"] == MAX_SCREEN_CHARS and a.flagged
    for h in a.hits:
        for s in h.evidence:
            assert text[s.start:s.end] == s.text
