"""Extraction tables of real-looking forms (written by us)."""

import pytest

from screening.extract import extract, parse_number
from screening.text import shadow


def ents(text, kind):
    return [e for e in extract(shadow(text)) if e.kind == kind]


@pytest.mark.parametrize(
    "s,value",
    [("1.500", 1500), ("1,5", 1.5), ("15.000.000", 15_000_000), ("2,000", 2000), ("28", 28), ("1.5", 1.5)],
)
def test_parse_number(s, value):
    assert parse_number(s) == value


@pytest.mark.parametrize(
    "text,amount,currency,role,period",
    [
        ("phí trọn gói 150tr", 150_000_000, "VND", "fee", None),
        ("lương 1.500 USD", 1500, "USD", "salary", None),
        ("mỗi tháng 7 củ", 7_000_000, "VND", None, None),
        ("thu nhập 500k/ngày", 500_000, "VND", "salary", "day"),
        ("lương 180.000 yên/tháng", 180_000, "JPY", "salary", "month"),
        ("đặt cọc 20 triệu", 20_000_000, "VND", "deposit", None),
        ("ký quỹ 50.000.000đ", 50_000_000, "VND", "deposit", None),
        ("chi phí 6.000 euro lo hết", 6000, "EUR", "fee", None),
        ("salary $1,200/month", 1200, "USD", "salary", "month"),
        ("lg 15tr/th", 15_000_000, "VND", "salary", "month"),
        ("upto 40M", 40_000_000, "VND", "salary", None),
        ("lương 800 đô", 800, "USD", "salary", None),
    ],
)
def test_money(text, amount, currency, role, period):
    (m,) = ents(text, "money")
    assert m.value == amount and m.attr("currency") == currency and m.attr("role") == role and m.attr("period") == period
    assert text[m.span.start:m.span.end] == m.span.text


def test_money_range():
    (m,) = ents("lương 800–2.000 USD/tháng", "money")
    assert (m.attr("min"), m.attr("max"), m.attr("currency")) == (800, 2000, "USD")
    (m,) = ents("thu nhập 15-20 triệu", "money")
    assert (m.attr("min"), m.attr("max")) == (15_000_000, 20_000_000)


@pytest.mark.parametrize(
    "text,e164",
    [
        ("gọi 0912345678", "+84912345678"),
        ("sdt 0912.345.678", "+84912345678"),
        ("0912 345 678", "+84912345678"),
        ("+84 912 345 678", "+84912345678"),
        ("O9I2.345.678", "+84912345678"),
        ("0 9 1 2 3 4 5 6 7 8", "+84912345678"),
        ("0274 3812 345", "+842743812345"),
    ],
)
def test_phone_forms_normalise_to_one(text, e164):
    phones = ents(text, "phone")
    assert [p.value for p in phones] == [e164]


@pytest.mark.parametrize("text", ["mã số 123456", "năm 2024 tuyển 300 người", "0123"])
def test_not_phones(text):
    assert ents(text, "phone") == []


@pytest.mark.parametrize(
    "text,kind,value",
    [
        ("ib zalo 0912345678", "zalo", "+84912345678"),
        ("tele @job_cam88", "telegram", "@job_cam88"),
        ("liên hệ t.me/vieclam_asia", "telegram", "@vieclam_asia"),
        ("fb: facebook.com/xkld.nhatban.24h", "facebook", "facebook.com/xkld.nhatban.24h"),
        ("email tuyendung@abc-hr.vn", "email", "tuyendung@abc-hr.vn"),
        ("web xuatkhaulaodong-24h.com", "domain", "xuatkhaulaodong-24h.com"),
        ("https://songhong-manpower.vn/don-hang", "url", "https://songhong-manpower.vn/don-hang"),
        ("STK 0123456789012 Vietcombank", "bank_account", "0123456789012"),
    ],
)
def test_contacts(text, kind, value):
    assert value in [e.value for e in ents(text, kind)]


@pytest.mark.parametrize(
    "text,lo,form",
    [("tuyển từ 16 tuổi", 16, "from"), ("18-35 tuổi", 18, "range"), ("aged 17 years old", 17, "from"), ("nữ 20 tuổi", 20, "single")],
)
def test_ages(text, lo, form):
    (a,) = ents(text, "age")
    assert a.value == lo and a.attr("form") == form


@pytest.mark.parametrize("text,months,contract", [("hợp đồng 3 năm", 36, True), ("HĐ 1 năm", 12, True), ("làm 6 tháng", 6, True), ("3 năm kinh nghiệm", None, None)])
def test_durations(text, months, contract):
    d = ents(text, "duration")
    if months is None:
        assert d == []
    else:
        assert d[0].value == months and d[0].attr("contract") == contract


def test_hours_licence_company():
    text = "Làm 15-16 tiếng/ngày. Công ty TNHH Nhân Lực Hưng Thịnh, Giấy phép số 123/LĐTBXH-GP. ABC Manpower Co., Ltd"
    assert [e.value for e in ents(text, "hours")] == [16]
    assert [e.value for e in ents(text, "licence")] == ["123/LĐTBXH-GP"]
    assert [e.value for e in ents(text, "company")] == ["Công ty TNHH Nhân Lực Hưng Thịnh", "ABC Manpower Co., Ltd"]


def test_generic_company_words_are_not_names():
    assert ents("làm công ty bên kia lương nghìn đô", "company") == []
    assert ents("công ty chúng tôi tuyển", "company") == []


def test_company_name_stops_at_the_end_of_the_line():
    assert [e.value for e in ents("Cty ABC\nLiên hệ ngay", "company")] == ["Cty ABC"]
