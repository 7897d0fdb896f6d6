"""Fee and deposit caps: the arithmetic and the explanation."""

import pytest

from screening.caps import fee_cap, format_vnd


def test_format_vnd():
    assert format_vnd(28_000_000) == "28.000.000 đ"


@pytest.mark.parametrize(
    "market,text,months,expected",
    [
        ("japan", "thực tập sinh chế biến", 36, 3.0),
        ("japan", "thực tập sinh", 12, 1.0),
        ("japan", "thực tập sinh", 60, 3.0),
        ("japan", "kỹ năng đặc định ngành xây dựng", 36, 2.0),
        ("taiwan", "giúp việc gia đình", 36, 1.0),
        ("taiwan", "khán hộ công", 24, 1.4),
        ("southeast_asia", "giúp việc", 24, 0.0),
        ("japan", "thực tập sinh", None, 3.0),
    ],
)
def test_fee_cap_months(catalogue, market, text, months, expected):
    from screening.text import fold

    cap, how, ref = fee_cap(catalogue.caps, market, fold(text), months)
    assert cap == pytest.approx(expected)
    assert ref


def _hit(screener, text, ind):
    a = screener.screen(text)
    return next((h for h in a.hits if h.indicator == ind and h.counted), None)


def test_fee_over_cap_explains_the_computation(rules_screener):
    h = _hit(rules_screener, "Đi Nhật hợp đồng 3 năm, lương 28 triệu/tháng, phí 160 triệu.", "fee_over_cap")
    assert h is not None and h.severity == "high"
    why = " ".join(h.why)
    assert "phí 160.000.000 đ > trần 3 × 28.000.000 đ = 84.000.000 đ" in why
    assert "L69 Art. 23(4)" in why


def test_fee_under_cap_is_not_a_sign(rules_screener):
    assert _hit(rules_screener, "Đi Nhật hợp đồng 3 năm, lương 28 triệu/tháng, tiền dịch vụ 60 triệu.", "fee_over_cap") is None


def test_fee_cap_needs_an_overseas_destination(rules_screener):
    assert _hit(rules_screener, "Lương 8 triệu/tháng, phí đào tạo 30 triệu.", "fee_over_cap") is None


def test_foreign_currency_is_converted(rules_screener):
    h = _hit(rules_screener, "Đi Romania 2 năm, lương 800 USD/tháng, phí 9.000 USD.", "fee_over_cap")
    assert h is not None and "225.000.000 đ" in " ".join(h.why)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Đơn hàng Nhật, ký quỹ 50 triệu", True),
        ("Đi Đài Loan, cọc 40 triệu", True),
        ("Đi Đài Loan, ký quỹ 10 triệu vào tài khoản phong tỏa", False),
        ("Đi Hàn Quốc, ký quỹ 30 triệu", False),
    ],
)
def test_deposit_caps(rules_screener, text, expected):
    h = _hit(rules_screener, text, "irregular_deposit")
    assert (h is not None and any("deposit_over_cap" in w for w in h.why)) == expected
