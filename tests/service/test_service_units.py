"""Pure helpers: identifiers for linking, evidence highlighting, export rows, sort parsing."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from service.filters import parse_sort
from service.highlight import highlight
from service.identifiers import agency_query, identifiers_from_assessment, normalise


@pytest.mark.parametrize("kind,raw,expected", [
    ("phone", "0912.345.678", "+84912345678"),
    ("phone", "+84 912 345 678", "+84912345678"),
    ("zalo", "+84912345678", "+84912345678"),
    ("phone", "123", None),
    ("telegram", "t.me/ViecNgon", "@viecngon"),
    ("telegram", "@ViecNgon", "@viecngon"),
    ("email", "HR@Abc.VN", "hr@abc.vn"),
    ("domain", "https://www.Abc-Jobs.vn/tuyen?x=1", "abc-jobs.vn"),
    ("domain", "facebook.com", None),
    ("company", "  CÔNG TY TNHH  Sông Hồng. ", "công ty tnhh sông hồng"),
    ("company", "Cty ABC\nLiên hệ", "cty abc"),
    ("licence", "999/LĐTBXH-GP", "999/LĐTBXH-GP"),
    ("bank_account", "0123 456 789", "0123456789"),
    ("money", "5", None),
])
def test_identifiers_are_normalised(kind, raw, expected):
    assert normalise(kind, raw) == expected


def test_identifiers_from_an_assessment():
    a = {"entities": [
        {"kind": "zalo", "value": "+84912345678", "text": "zalo 0912 345 678"},
        {"kind": "phone", "value": "+84912345678", "text": "0912 345 678"},
        {"kind": "phone", "value": "+84912345678", "text": "0912.345.678"},
        {"kind": "url", "value": "www.abc.vn", "text": "www.abc.vn"},
        {"kind": "company", "value": "Cty ABC Liên", "text": "Cty ABC\nLiên"},
        {"kind": "money", "value": 1.0, "text": "1tr"},
    ]}
    got = identifiers_from_assessment(a, company="Cty ABC")
    assert [(k, v) for k, v, _ in got] == [("zalo", "+84912345678"), ("phone", "+84912345678"), ("domain", "abc.vn"), ("company", "cty abc")]


def test_agency_lookup_by_phone_or_name():
    assert agency_query("0912 345 678") == (("phone", "zalo"), "+84912345678", True)
    kinds, value, exact = agency_query("Sông Hồng")
    assert "company" in kinds and value == "sông hồng" and not exact


def test_highlight_escapes_and_marks_the_more_severe_sign():
    text = "<b>Việc nhẹ lương cao</b> sang Campuchia"
    inds = [
        {"id": "easy_work_high_pay", "severity": "medium", "name": {"vi": "Việc nhẹ"}, "evidence": [{"start": 3, "end": 21, "text": ""}]},
        {"id": "scam", "severity": "critical", "name": {"vi": "Campuchia"}, "evidence": [{"start": 15, "end": 40, "text": ""}]},
    ]
    html = str(highlight(text, inds))
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert html.count("<mark") == 1 and 'data-indicator="scam"' in html and "sev-critical" in html
    assert html.count("<mark") == 1


def test_highlight_ignores_spans_outside_the_text():
    assert str(highlight("abc", [{"id": "x", "severity": "low", "evidence": [{"start": 2, "end": 9}]}])) == "abc"


@pytest.mark.parametrize("sort,order,expected", [
    ("score", None, ("score", True)), ("-score", None, ("score", True)), ("+score", None, ("score", False)),
    ("score", "asc", ("score", False)), ("date", "desc", ("date", True)), ("posted", None, ("posted", True)),
])
def test_sort_parameters(sort, order, expected):
    assert parse_sort(sort, order) == expected


def test_unknown_sort_is_a_clear_error():
    with pytest.raises(HTTPException) as e:
        parse_sort("colour", None)
    assert e.value.status_code == 422 and "colour" in e.value.detail[0]["msg"]
    assert e.value.detail[0]["loc"] == ["query", "sort"]
