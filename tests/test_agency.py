"""Registry reading, resolving who is behind an ad, links between postings, near-duplicates."""

import pytest

from screening.agency import Resolver
from screening.links import LinkGraph, NearDuplicates, identifiers, shared_identifier_signs
from screening.registry import normalise_name, read_registry
from screening.screener import Screener

SAMPLE = Screener.__module__ and __import__("pathlib").Path(__file__).resolve().parent.parent / "examples" / "registry_sample.csv"


@pytest.fixture(scope="module")
def resolver():
    reg = read_registry(SAMPLE)
    assert not reg.errors and len(reg.firms) == 5
    return Resolver(reg.firms)


def test_registry_rows_that_cannot_be_read_are_reported_with_their_line(tmp_path):
    p = tmp_path / "reg.csv"
    p.write_text(
        "name,enterprise_code,licence_no,status,phone,website\n"
        "Công ty A,1,1/GP,active,0243 999 0001,a-demo.vn\n"
        "Công ty B,2,2/GP,closed,,\n"
        ",3,3/GP,active,,\n"
        "Công ty D,1,4/GP,revoked,,\n"
        "Công ty E,5,5/GP,thu hồi,12345,\n"
        "Công ty F,6,6/GP,đình chỉ,,f-demo.vn\n",
        encoding="utf-8",
    )
    reg = read_registry(p)
    assert [f.enterprise_code for f in reg.firms] == ["1", "6"]
    assert reg.firms[1].status == "suspended"
    errors = {e.line: e.message for e in reg.errors}
    assert set(errors) == {3, 4, 5, 6}
    assert "unknown status" in errors[3] and "empty `name`" in errors[4]
    assert "already on line 2" in errors[5] and "phone" in errors[6]


def test_registry_reads_xlsx(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["name", "enterprise_code", "licence_no", "status"])
    ws.append(["Công ty X", "77", "77/GP", "active"])
    ws.append(["Công ty Y", "", "78/GP", "active"])
    p = tmp_path / "reg.xlsx"
    wb.save(p)
    reg = read_registry(p)
    assert [f.name for f in reg.firms] == ["Công ty X"] and reg.errors[0].line == 3


def test_missing_column_is_a_clear_error(tmp_path):
    p = tmp_path / "reg.csv"
    p.write_text("name,status\nA,active\n", encoding="utf-8")
    with pytest.raises(ValueError, match="enterprise_code"):
        read_registry(p)


@pytest.mark.parametrize(
    "written,code",
    [
        ("cty sao bac a", "9990000001"),
        ("Cty CP Nhân lực Quốc tế Sao Bắc Á", "9990000001"),
        ("Sao Bắc Á", "9990000001"),
        ("CÔNG TY TNHH HƯNG THỊNH", "9990000002"),
        ("XKLĐ Đông Phong", "9990000003"),
    ],
)
def test_names_as_ads_write_them_resolve(resolver, written, code):
    r = resolver.resolve(names=[written])
    assert r.firm is not None and r.firm.enterprise_code == code and r.confidence >= 0.79


def test_unknown_firm_recruiting_abroad_is_unlicensed(resolver):
    r = resolver.resolve(names=["Công ty TNHH Nhân lực Ánh Dương Xanh"])
    assert r.firm is None
    assert Resolver.licence_status(r, recruits_abroad=True) == "unlicensed"
    assert Resolver.licence_status(r, recruits_abroad=False) is None


def test_phone_site_and_licence_resolve_and_contradict(resolver):
    r = resolver.resolve(phones=["+842253999003"])
    assert r.status == "revoked"
    r = resolver.resolve(names=["Sao Bắc Á"], licences=["903/LĐTBXH-GP"])
    assert r.contradictions  # the licence number belongs to another firm
    r = resolver.resolve(domains=["saobaca-dem0.com"])
    assert r.firm is None and "look-alike domain" in r.contradictions[0]


def test_normalise_name_drops_the_legal_form():
    assert normalise_name("Công ty CP Nhân lực Quốc tế Sao Bắc Á") == "nhan luc quoc te sao bac a"
    assert normalise_name("Công ty CP Nhân lực Quốc tế Sao Bắc Á", keep_trade=False) == "sao bac a"


def test_one_phone_under_several_firm_names_is_a_sign(rules_screener):
    ads = {
        "a1": "Công ty TNHH Ánh Dương tuyển đi Nhật, lh 0912 345 678",
        "a2": "Công ty CP Bình Minh Xanh tuyển đi Đài Loan, gọi 0912.345.678",
        "a3": "Công ty TNHH Hoa Mai tuyển thu ngân, gọi 0987 654 321",
    }
    g = LinkGraph()
    for pid, text in ads.items():
        g.add(pid, identifiers(rules_screener.screen(text).entities))
    assert g.component("a1") == g.component("a2") != g.component("a3")
    assert g.linked("a1") == {"a2": [("phone", "+84912345678")]}
    (sign,) = shared_identifier_signs(g)
    assert sign["identifier"] == {"kind": "phone", "value": "+84912345678"} and len(sign["firms"]) == 2


def test_a_reposted_template_is_one_group():
    nd = NearDuplicates()
    base = "Tuyển gấp 20 bạn nữ sang làm chăm sóc khách hàng online lương cao bao vé máy bay ăn ở liên hệ ngay hôm nay để được tư vấn miễn phí"
    g1 = nd.add("p1", base + " Zalo 0912345678")
    g2 = nd.add("p2", base.upper() + " Zalo 0987654321")
    g3 = nd.add("p3", base.replace("Tuyển gấp", "Tuyen gap"))
    g4 = nd.add("p4", "Công ty may tuyển công nhân, lương 8 triệu, làm giờ hành chính tại Bình Dương, có bảo hiểm")
    assert g1 == g2 == g3 == "p1" and g4 == "p4"
    assert nd.groups() == [["p1", "p2", "p3"]]


def test_one_grouper_bounded_or_not():
    """The scan's bounded grouper is NearDuplicates with a window: within the window it groups
    as the unbounded one does; past it, a forgotten template starts a new group."""
    base = "Tuyển gấp 20 bạn nữ sang làm chăm sóc khách hàng online lương cao bao vé máy bay ăn ở liên hệ ngay hôm nay"
    other = "Công ty may tuyển công nhân, lương 8 triệu, làm giờ hành chính tại Bình Dương, có bảo hiểm xã hội đầy đủ"
    texts = [base + " Zalo 0912345678", other, base.upper() + " Zalo 0987654321"]
    full, small = NearDuplicates(), NearDuplicates(window=1)
    assert [full.add(i, t) for i, t in enumerate(texts)] == [0, 1, 0]
    assert [small.add(i, t) for i, t in enumerate(texts)] == [0, 1, 2]  # `other` pushed `base` out
    with pytest.raises(ValueError, match="without a window"):
        small.groups()
    with pytest.raises(ValueError, match="window must be at least 1"):
        NearDuplicates(window=0)


def test_fingerprints_and_band_keys_are_stable_across_processes():
    import os
    import subprocess
    import sys

    from screening.links import band_keys, fingerprint

    text = "Tuyển lao động đi Romania làm công nhân nhà máy, lương 1200 euro/tháng, bao ăn ở, bay ngay sau 3 tuần"
    code = ("import sys; from screening.links import band_keys, fingerprint; k, s = fingerprint(sys.argv[1]); "
            "print(k, *band_keys(s))")
    out = subprocess.run([sys.executable, "-c", code, text], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "12345"}).stdout.split()
    k, s = fingerprint(text)
    assert [int(x) for x in out] == [k, *band_keys(s)]
    assert all(-(1 << 63) <= x < (1 << 63) for x in (k, *band_keys(s)))  # fit a signed 64-bit column
    assert len(set(band_keys(s))) == 8
