"""Agency screening through the API, the pages and the CLI (SQLite and PostgreSQL): the
licence registry (versioned imports, bad rows by line), resolving ads to firms, linked
contacts, reposted templates and the agency profile. The ads are written for these tests; the
registry is the project's fictitious sample."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from svc_helpers import BENIGN, auth, settings_for

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "registry_sample.csv"
TEMPLATE = ("Tuyển gấp 30 lao động đi Romania làm công nhân đóng gói, lương 1.100 euro/tháng, bao ăn ở, "
            "xuất cảnh sau 3 tuần, không cần tiếng. Liên hệ zalo 0987 654 321.")
ADS = [
    # A firm whose licence was revoked, still recruiting for Japan (its registry phone).
    {"external_id": "dp-1", "company": "Cty CP XKLĐ Đông Phong",
     "text": "Công ty Đông Phong tuyển 15 nam đi Nhật Bản làm xây dựng, lương 32 triệu/tháng, hợp đồng 3 năm. Liên hệ 0225 399 9003."},
    # An unlicensed firm using the revoked firm's phone, and a mobile shared with another name.
    {"external_id": "ad-1", "company": "Cty TNHH Ánh Dương Việt",
     "text": "Tuyển lao động đi Romania làm công nhân nhà máy, lương 1200 euro/tháng. Gọi ngay 0225 399 9003 hoặc zalo 0987 654 321."},
    # The same template under two more names, with the shared mobile.
    {"external_id": "hv-1", "company": "Hoàng Vũ Global", "text": TEMPLATE},
    {"external_id": "tm-1", "company": "Tâm Minh Manpower", "text": TEMPLATE + " "},
    # A licensed firm, written as ads write it, with a lawful ad.
    {"external_id": "sba-1", "company": "cty sao bac a",
     "text": "Tuyển thực tập sinh kỹ năng đi Nhật Bản ngành chế biến thực phẩm, lương cơ bản 180.000 yên/tháng, "
             "đào tạo tiếng Nhật 4 tháng. Website saobaca-demo.vn, điện thoại 0243 999 0001."},
    # A licensed firm quoting a fee far above the cap.
    {"external_id": "ht-1", "company": "Cty CP Nhân lực Hưng Thịnh",
     "text": "Đơn hàng đi Đài Loan làm điện tử 3 năm, chi phí trọn gói 180 triệu, đóng trước 50 triệu. Hotline 0283 999 0002."},
    # A domestic job with no firm: no agency.
    {"external_id": "bn-1", "text": BENIGN},
]


def import_sample(app, path=SAMPLE):
    from screening.registry import read_registry
    from service.db import storage

    read = read_registry(path)
    with app.state.sessionmaker() as s:
        return storage.import_registry(s, read.firms, read.errors, Path(path).name)


@pytest.fixture
def loaded(client, keys, app):
    import_sample(app)
    r = client.post("/v1/postings", json={"postings": [{"source": "fb", **a} for a in ADS]}, headers=auth(keys["scanner"]))
    assert r.status_code == 200, r.text
    return client, keys


def find(client, keys, q):
    r = client.get("/v1/agencies", params={"q": q}, headers=auth(keys["inspector"]))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def profile(client, keys, aid):
    r = client.get(f"/v1/agencies/{aid}", headers=auth(keys["inspector"]))
    assert r.status_code == 200, r.text
    return r.json()


def signs(p):
    return {s["id"] for s in p["signs"]}


def test_revoked_firm_recruiting_abroad_is_high_risk(loaded):
    client, keys = loaded
    items = find(client, keys, "cty đông phong")
    top = items[0]
    assert "Đông Phong" in top["name"] and top["licence_status"] == "revoked" and top["risk_band"] == "high"
    assert {"id", "name", "licence_status", "risk_score", "risk_band", "linked"} <= set(top)
    p = profile(client, keys, top["id"])
    assert "agency_licence_revoked" in signs(p)
    assert [x["external_id"] for x in p["postings"]] == ["dp-1"]
    assert p["registry"]["status"] == "revoked" and p["registry"]["history"][0]["status"] == "revoked"
    rev = next(s for s in p["signs"] if s["id"] == "agency_licence_revoked")
    assert any("L69 Art. 27(1)" == x["ref"] for x in rev["legal"]) and rev["evidence"]


def test_unlicensed_firm_with_a_revoked_firms_phone_and_a_shared_mobile(loaded):
    client, keys = loaded
    top = find(client, keys, "Ánh Dương Việt")[0]
    assert top["name"] == "Cty TNHH Ánh Dương Việt" and top["licence_status"] == "unlicensed" and top["risk_band"] == "high"
    vias = {v["value"] for link in top["linked"] for v in link["via"]}
    assert {"+842253999003", "+84987654321"} <= vias
    names = {link["name"] for link in top["linked"]}
    assert "Hoàng Vũ Global" in names and any("Đông Phong" in n for n in names)
    p = profile(client, keys, top["id"])
    assert {"agency_unlicensed", "agency_revoked_contact_reused", "agency_shared_contact"} <= signs(p)
    shared = next(s for s in p["signs"] if s["id"] == "agency_shared_contact")
    assert any("+84987654321" in e for e in shared["evidence"])


def test_a_template_reposted_under_other_names_is_one_group(loaded):
    client, keys = loaded
    p = profile(client, keys, find(client, keys, "Hoàng Vũ Global")[0]["id"])
    assert "agency_template_reposted" in signs(p)
    assert {o["agency_name"] for d in p["duplicates"] for o in d["others"]} >= {"Tâm Minh Manpower"}


def test_licensed_firm_with_lawful_ads_is_low(loaded):
    client, keys = loaded
    top = find(client, keys, "cty sao bac a")[0]
    assert "Sao Bắc Á" in top["name"] and top["licence_status"] == "active"
    assert top["risk_band"] == "low" and top["linked"] == []
    p = profile(client, keys, top["id"])
    assert p["signs"] == [] and p["postings"][0]["external_id"] == "sba-1" and p["postings"][0]["confidence"] > 0.8


def test_fees_over_the_cap_across_a_licensed_firms_ads(loaded):
    client, keys = loaded
    top = find(client, keys, "Nhân lực Hưng Thịnh")[0]
    assert top["licence_status"] == "active"
    p = profile(client, keys, top["id"])
    assert "agency_fees_over_cap" in signs(p) and p["fees"] and p["fees"][0]["external_id"] == "ht-1"
    assert p["risk_band"] == "high" and any(i["id"] == "fee_over_cap" for i in p["indicators"])


def test_search_by_phone_and_unknown_names(loaded):
    client, keys = loaded
    ids = {i["name"] for i in find(client, keys, "0987.654.321")}
    assert {"Cty TNHH Ánh Dương Việt", "Hoàng Vũ Global", "Tâm Minh Manpower"} <= ids
    assert find(client, keys, "Xyzzy Qwerty Plover") == []
    assert client.get("/v1/agencies/999999", headers=auth(keys["inspector"])).status_code == 404
    assert client.get("/v1/agencies", headers=auth(keys["scanner"])).status_code == 403


def test_a_later_registry_updates_statuses_keeps_history_and_resolves_again(loaded, app, tmp_path):
    client, keys = loaded
    later = tmp_path / "later.csv"
    rows = SAMPLE.read_text(encoding="utf-8").splitlines()
    rows = [r.replace("9990000001,901/LĐTBXH-GP,active", "9990000001,901/LĐTBXH-GP,suspended") for r in rows]
    rows.append("Công ty TNHH Hoàng Vũ Global (FICTITIOUS),9990000009,909/LĐTBXH-GP,active,,,")
    rows.append("Công ty Hỏng,9990000010,910/GP,closed,,,")
    later.write_text("\n".join(rows) + "\n", encoding="utf-8")
    res = import_sample(app, later)
    assert res.version == 2 and res.changed == 1 and res.new == 1 and [e["line"] for e in res.errors] == [8]
    sba = find(client, keys, "Sao Bắc Á")[0]
    assert sba["licence_status"] == "suspended"
    hist = profile(client, keys, sba["id"])["registry"]["history"]
    assert [(h["version"], h["status"]) for h in hist] == [(1, "active"), (2, "suspended")]
    hv = find(client, keys, "Hoàng Vũ Global")[0]
    assert hv["licence_status"] == "active" and "FICTITIOUS" in hv["name"]


def test_profile_page_audit_pack_and_csv(loaded):
    client, keys = loaded
    aid = find(client, keys, "Ánh Dương Việt")[0]["id"]
    r = client.post("/login", data={"key": keys["inspector"], "next": ""}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(f"/agencies/{aid}?lang=en")
    assert page.status_code == 200 and "Cty TNHH Ánh Dương Việt" in page.text and 'data-sign="agency_unlicensed"' in page.text
    assert f"/agencies/{aid}/audit.csv" in page.text
    audit = client.get(f"/agencies/{aid}/audit")
    assert audit.status_code == 200 and "window.print()" in audit.text and "agency_revoked_contact_reused" in audit.text
    c = client.get(f"/agencies/{aid}/audit.csv")
    assert c.status_code == 200 and c.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(c.text.lstrip("\ufeff"))))
    kinds = {r["kind"] for r in rows}
    assert {"sign", "posting", "linked"} <= kinds
    assert any(r["kind"] == "sign" and r["id"] == "agency_unlicensed" and "L69 Art. 8(1)" in r["legal"] for r in rows)
    assert client.get("/agencies/999999").status_code == 404


def test_pages_need_an_inspector(loaded):
    client, keys = loaded
    client.post("/login", data={"key": keys["job_centre"], "next": ""}, follow_redirects=False)
    assert client.get("/agencies/1", follow_redirects=False).status_code == 403


def test_identifiers_keep_the_old_listing(loaded):
    client, keys = loaded
    r = client.get("/v1/identifiers", params={"kind": "phone"}, headers=auth(keys["inspector"]))
    assert r.status_code == 200 and "+84987654321" in {i["value"] for i in r.json()["items"]}


# ------------------------------------------------------------------------------------------- CLI


def run(*args, url):
    return subprocess.run([sys.executable, "-m", "screening", *args, "--database-url", url], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)


def test_cli_registry_import_and_agency_report(tmp_path, svc_screener):
    from service.app import create_app
    from service.ingest import ingest_postings

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    bad = tmp_path / "reg.csv"
    bad.write_text(SAMPLE.read_text(encoding="utf-8") + "Công ty Lỗi,9990000011,911/GP,đóng cửa,,,\n,9990000012,912/GP,active,,,\n", encoding="utf-8")
    r = run("registry", "import", str(bad), url=url)
    assert r.returncode == 0, r.stderr
    assert "5 firms imported" in r.stdout and "2 bad row(s)" in r.stdout
    assert f"{bad}:7: unknown status" in r.stderr and f"{bad}:8: empty `name`" in r.stderr
    app = create_app(settings_for(url), svc_screener)
    with app.state.sessionmaker() as s:
        ingest_postings(s, svc_screener, [{"source": "fb", **a} for a in ADS])
    app.state.engine.dispose()
    r = run("agency", "report", "Ánh Dương Việt", "--json", url=url)
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)
    assert p["licence_status"] == "unlicensed" and p["risk_band"] == "high" and p["postings"][0]["external_id"] == "ad-1"
    r = run("agency", "report", "cty dong phong", "--lang", "en", url=url)
    assert r.returncode == 0 and "licence_status=revoked" in r.stdout and "agency_licence_revoked" in r.stdout
    assert run("agency", "report", "Xyzzy Qwerty Plover", url=url).returncode == 1


def test_cli_registry_import_errors(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    r = run("registry", "import", str(tmp_path / "missing.csv"), url=url)
    assert r.returncode == 2 and "not found" in r.stderr
    p = tmp_path / "cols.csv"
    p.write_text("name,status\nA,active\n", encoding="utf-8")
    r = run("registry", "import", str(p), url=url)
    assert r.returncode == 2 and "enterprise_code" in r.stderr
