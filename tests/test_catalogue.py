"""The catalogue as data: every indicator of the domain brief, each complete, and a broken
file stops loading with an error naming the file and the rule."""

import shutil

import pytest

from screening.catalogue import Catalogue, compile_pattern
from screening.errors import PatternSyntaxError, RuleFileError

# The stable ids of ../shared/domain/INDICATORS.md. Never reused.
DOMAIN_IDS = {
    "easy_work_high_pay", "no_qualification_needed", "vague_job_or_employer", "scam_compound_destination",
    "fast_departure", "visa_guarantee", "tourist_visa_overstay", "irregular_border", "fake_official_program",
    "fake_study_work", "marriage_brokerage", "prohibited_job_or_area", "upfront_fee", "brokerage_fee",
    "fee_over_cap", "irregular_deposit", "advance_then_deduct", "personal_account_payment",
    "id_document_surrender", "movement_comm_restriction", "exit_penalty_ransom", "informal_channel_only",
    "no_licence_reference", "individual_broker", "minor_targeting", "vulnerability_targeting",
}
ENGLISH_REQUIRED = {
    "scam_compound_destination", "upfront_fee", "brokerage_fee", "fee_over_cap", "irregular_deposit",
    "id_document_surrender", "informal_channel_only", "minor_targeting",
}


def test_every_domain_indicator_is_in_the_catalogue(catalogue):
    assert set(catalogue.indicators) == DOMAIN_IDS


@pytest.mark.parametrize("ind_id", sorted(DOMAIN_IDS))
def test_indicator_is_complete(catalogue, ind_id):
    ind = catalogue.indicators[ind_id]
    assert ind.name["vi"] and ind.name["en"] and ind.explanation["vi"] and ind.explanation["en"]
    assert ind.ilo and all(code in {"DEC", "VUL", "DEBT", "DOC", "MOV", "ISO", "THR", "WAGE", "OT", "ABU"} for code in ind.ilo)
    assert ind.legal and all(x["ref"] for x in ind.legal)
    assert len(ind.examples_match) >= 2 and len(ind.examples_no_match) >= 2
    if ind_id in ENGLISH_REQUIRED:
        assert any(p.lang == "en" for p in ind.patterns), f"{ind_id} needs English patterns"


def _copy_rules(tmp_path, catalogue):
    dst = tmp_path / "rules"
    shutil.copytree(catalogue.path, dst)
    return dst


@pytest.mark.parametrize(
    "edit,expected",
    [
        (lambda s: s.replace("severity: medium", "severity: severe", 1), "severity must be one of"),
        (lambda s: s.replace("id: upfront_fee", "id: upfront_fees"), "must equal the file name"),
        (lambda s: s.replace("    - giữ slot\n", "    - giữ (slot\n"), "patterns.vi"),
        (lambda s: s.replace("ilo: [DEBT]\n", ""), "missing field `ilo`"),
        (lambda s: s.replace("  en: Money asked before any contract\n", ""), "`name.en` is missing"),
        (lambda s: s + "\n  - :\n bad: [\n", "not valid YAML"),
        (lambda s: s.replace("    - when: [overseas]", "    - when: [abroad_somewhere]"), "unknown fact"),
    ],
)
def test_broken_rule_file_names_file_and_rule(tmp_path, catalogue, edit, expected):
    root = _copy_rules(tmp_path, catalogue)
    f = root / "indicators" / "upfront_fee.yaml"
    f.write_text(edit(f.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(RuleFileError) as err:
        Catalogue.load(root)
    msg = str(err.value)
    assert "upfront_fee.yaml" in msg and expected in msg


def test_too_few_examples_is_an_error(tmp_path, catalogue):
    root = _copy_rules(tmp_path, catalogue)
    f = root / "indicators" / "upfront_fee.yaml"
    text = f.read_text(encoding="utf-8")
    head, _, _ = text.partition("examples:")
    f.write_text(head + "examples:\n  match: [\"đặt cọc trước\"]\n  no_match: [a, b]\n", encoding="utf-8")
    with pytest.raises(RuleFileError, match="at least two"):
        Catalogue.load(root)


@pytest.mark.parametrize(
    "pattern,expected",
    [
        ("đặt cọc giữ (chỗ|slot)", {("dat", "coc", "giu", "cho"), ("dat", "coc", "giu", "slot")}),
        ("ko cần (hộ chiếu)?", {("khong", "can", "ho", "chieu"), ("khong", "can")}),
        ("XKLĐ", {("xuat", "khau", "lao", "dong")}),
    ],
)
def test_pattern_syntax_expands_alternatives_and_folds(pattern, expected):
    assert set(compile_pattern(pattern).sequences) == expected


def test_slot_patterns_are_not_expanded():
    p = compile_pattern("(phải|bị) (đền|nộp)? {num} (triệu|usd) {gap:4} (về|nghỉ)")
    assert not p.is_phrase and p.sequences == () and len(p.slots) == 6
    assert {"phai", "den", "trieu", "usd", "ve", "nghi"} <= p.words


@pytest.mark.parametrize("bad", ["(a|b", "{gap:9} x", "a {gap:0} b", "( | )", "{gap}", "{num} {gap:2}"])
def test_bad_pattern_syntax_is_reported(bad):
    with pytest.raises(PatternSyntaxError):
        compile_pattern(bad)
