"""The agency-level signs (rules/agency_signs.yaml) and the pure profile function."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from screening.agency_profile import REQUIRED_SIGNS, load_signs, profile, recruits_abroad
from screening.catalogue import Catalogue
from screening.errors import RuleFileError

RULES = Path(__file__).resolve().parent.parent / "rules"
ABROAD = {"entities": [{"kind": "abroad", "value": "abroad", "text": "xuất khẩu lao động"}], "indicators": []}
HOME = {"entities": [{"kind": "place", "value": "binh_duong", "town": True, "market": None}], "indicators": []}
FEE = {"entities": [{"kind": "place", "value": "japan", "market": "japan", "town": False}], "indicators": [
    {"id": "fee_over_cap", "severity": "high", "name": {"vi": "x", "en": "x"},
     "evidence": [{"start": 0, "end": 9, "text": "180 triệu"}], "why": ["detector fee_over_cap"]}]}


@pytest.fixture(scope="module")
def scoring():
    return Catalogue.load().scoring


def test_the_shipped_signs_load_with_both_languages_and_legal_refs():
    signs = load_signs()
    assert set(REQUIRED_SIGNS) <= set(signs)
    for s in signs.values():
        assert s.name["vi"] and s.name["en"] and s.explanation["vi"] and s.explanation["en"]
        assert s.severity in ("low", "medium", "high", "critical")
    assert signs["agency_unlicensed"].severity == "high"
    assert {x["ref"] for x in signs["agency_licence_revoked"].legal} == {"L69 Art. 27(1)"}
    assert signs["agency_shared_contact"].heuristic and signs["agency_shared_contact"].severity == "medium"
    assert "NĐ112 Art. 6" in {x["ref"] for x in signs["agency_lookalike_domain"].legal}


@pytest.mark.parametrize("edit,message", [
    (lambda t: t.replace("severity: high", "severity: severe", 1), "agency_unlicensed"),
    (lambda t: t.replace("  - id: agency_template_reposted", "  - id: agency_fees_over_cap", 1), "duplicate id"),
    (lambda t: t.replace("      en: Recruits after its licence was revoked\n", "", 1), "agency_licence_revoked"),
])
def test_a_broken_signs_file_names_the_file_and_the_sign(tmp_path, edit, message):
    root = tmp_path / "rules"
    shutil.copytree(RULES, root)
    f = root / "agency_signs.yaml"
    f.write_text(edit(f.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(RuleFileError) as e:
        load_signs(root)
    assert "agency_signs.yaml" in str(e.value) and message in str(e.value)


def test_recruiting_abroad():
    assert recruits_abroad(ABROAD) and recruits_abroad(FEE) and not recruits_abroad(HOME)


def test_unlicensed_and_revoked_firms_recruiting_abroad_are_high(scoring):
    p = profile([{"id": 1, "external_id": "a", "assessment": ABROAD}], licence_status=None, scoring=scoring)
    assert p["licence_status"] == "unlicensed" and p["risk_band"] == "high" and p["flagged"]
    assert [s["id"] for s in p["signs"]] == ["agency_unlicensed"] and "a" in p["signs"][0]["evidence"][0]
    assert p["steps"][0]["source"] == "rule:agency_unlicensed"
    p = profile([{"id": 1, "external_id": "a", "assessment": ABROAD}], licence_status="revoked",
                firm={"name": "Công ty X", "licence_no": "1/GP"}, scoring=scoring)
    assert [s["id"] for s in p["signs"]] == ["agency_licence_revoked"] and p["risk_band"] == "high"


def test_a_firm_not_recruiting_abroad_is_not_unlicensed(scoring):
    p = profile([{"id": 1, "external_id": "a", "assessment": HOME}], licence_status=None, scoring=scoring)
    assert p["licence_status"] is None and p["signs"] == [] and p["risk_band"] == "low"


def test_licensed_lawful_firm_is_low(scoring):
    p = profile([{"id": 1, "external_id": "a", "assessment": ABROAD}], licence_status="active", scoring=scoring)
    assert p["signs"] == [] and p["risk_band"] == "low" and p["risk_score"] == 0


def test_links_templates_lookalikes_and_fees(scoring):
    linked = [
        {"id": 2, "name": "Công ty Y", "licence_status": "revoked", "via": [{"kind": "phone", "value": "+84912000111"}]},
        {"id": 3, "name": "Brand Z", "licence_status": None, "via": [{"kind": "domain", "value": "z.vn"}]},
    ]
    dups = [{"posting_id": 1, "external_id": "a", "others": [{"agency_id": 4, "agency_name": "Tên Khác", "posting_id": 9}]}]
    p = profile([{"id": 1, "external_id": "a", "assessment": FEE}], licence_status="active", linked=linked, duplicates=dups,
                contradictions=["look-alike domain saobaca-demo.com of Sao Bac A (saobaca-demo.vn)"], scoring=scoring)
    ids = [s["id"] for s in p["signs"]]
    assert set(ids) == {"agency_shared_contact", "agency_revoked_contact_reused", "agency_lookalike_domain",
                        "agency_template_reposted", "agency_fees_over_cap"}
    assert ids.index("agency_fees_over_cap") < ids.index("agency_shared_contact")  # high before medium
    shared = next(s for s in p["signs"] if s["id"] == "agency_shared_contact")
    assert shared["evidence"] == ["phone +84912000111 also under 'Công ty Y'"]  # a shared domain is not a contact
    assert p["fees"][0]["evidence"] == "180 triệu" and p["indicators"][0]["postings"] == ["a"]
    assert p["risk_band"] == "high" and p["risk_score"] > 0.9
