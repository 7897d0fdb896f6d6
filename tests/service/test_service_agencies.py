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


LONG = ("Tuyển gấp 40 lao động nam nữ đi Ba Lan làm công nhân kho lạnh và đóng gói thực phẩm, hợp đồng 2 năm "
        "gia hạn được, lương cơ bản 4.300 zloty mỗi tháng chưa kể tăng ca, bao ăn ở miễn phí tại ký túc xá, "
        "công ty lo toàn bộ thủ tục visa và vé máy bay, xuất cảnh nhanh sau 20 ngày, không cần tiếng, không cần "
        "kinh nghiệm, chỉ cần sức khỏe tốt và độ tuổi từ 20 đến 45. Phí trọn gói 150 triệu đồng, đặt cọc trước "
        "30 triệu để giữ chỗ. Liên hệ ngay anh Tuấn zalo {phone} để được tư vấn miễn phí.")


def post(client, keys, ads):
    r = client.post("/v1/postings", json={"postings": [{"source": "fb", **a} for a in ads]}, headers=auth(keys["scanner"]))
    assert r.status_code == 200, r.text
    return {i["external_id"]: i for i in r.json()["items"]}


def test_reposts_under_other_names_are_one_group_across_batches(loaded):
    """Grouped at ingest: a template reposted later, under other names and phones, joins the
    group of its first posting; the profile and the queue item show the other names."""
    client, keys = loaded
    post(client, keys, [{"external_id": "ka-1", "company": "Kim Anh Manpower", "text": LONG.format(phone="0912 111 222")}])
    later = post(client, keys, [
        {"external_id": "pa-1", "company": "Phúc An Group", "text": LONG.format(phone="0913 333 444").upper()},
        {"external_id": "pa-2", "company": "Phúc An Group", "text": LONG.format(phone="0913 333 444").replace("Ba Lan", "Séc")},
        {"external_id": "pa-3", "company": "Phúc An Group",
         "text": "Tuyển 10 thợ hàn đi Hungary, hợp đồng 3 năm, lương 1.300 euro/tháng, chi phí 120 triệu đồng, "
                 "bao vé máy bay và chỗ ở. Liên hệ 0913 333 444."},
    ])
    pa = find(client, keys, "Phúc An Group")[0]
    p = profile(client, keys, pa["id"])
    assert "agency_template_reposted" in signs(p)
    dups = {d["external_id"]: d for d in p["duplicates"]}
    assert set(dups) == {"pa-1", "pa-2"}  # pa-3 is another ad
    assert dups["pa-1"]["group"] == dups["pa-2"]["group"]
    assert [(o["agency_name"], o["external_id"]) for o in dups["pa-1"]["others"]] == [("Kim Anh Manpower", "ka-1")]
    ka = profile(client, keys, find(client, keys, "Kim Anh Manpower")[0]["id"])
    assert [d["external_id"] for d in ka["duplicates"]] == ["ka-1"]
    assert [(o["agency_name"], o["external_id"]) for o in ka["duplicates"][0]["others"]] == [("Phúc An Group", "pa-1")]
    fid = later["pa-2"]["flag_id"]
    assert fid, "the reposted template (fee over the cap) is queued"
    item = client.get(f"/v1/flags/{fid}", headers=auth(keys["inspector"])).json()
    templ = {x["external_id"]: x["shared"] for x in item["linked"] if any(s["kind"] == "template" for s in x["shared"])}
    assert set(templ) == {"ka-1", "pa-1"}
    assert templ["ka-1"] == [{"kind": "template", "value": str(dups["pa-1"]["group"])}]


def test_postings_whose_grouping_failed_are_grouped_by_the_next_registry_import(loaded, app, monkeypatch):
    import sqlalchemy as sa

    from service.db import storage

    client, keys = loaded

    def broken(*a, **k):
        raise RuntimeError("grouping down")

    with monkeypatch.context() as m:
        m.setattr(storage, "group_postings", broken)
        post(client, keys, [{"external_id": "ka-9", "company": "Kim Anh Manpower", "text": LONG.format(phone="0912 111 222")}])
    q = sa.text("SELECT group_id FROM posting_groups JOIN postings ON postings.id = posting_id WHERE external_id = :e")
    with app.state.engine.connect() as c:
        assert c.execute(q, {"e": "ka-9"}).all() == []
    assert find(client, keys, "Kim Anh Manpower")[0]["postings"] == 1  # stored and linked all the same
    import_sample(app)
    with app.state.engine.connect() as c:
        assert c.execute(q, {"e": "ka-9"}).scalar() is not None


def test_a_grouping_that_keeps_failing_does_not_stop_the_relink(loaded, app, monkeypatch, caplog):
    """The relink runs after a registry import has committed: a posting that cannot be grouped
    is logged and left ungrouped, and the postings are still resolved to agencies."""
    import sqlalchemy as sa

    from service.db import storage

    client, keys = loaded

    def broken(*a, **k):
        raise RuntimeError("grouping down")

    q = sa.text("SELECT (SELECT count(*) FROM posting_groups WHERE posting_id = postings.id), "
                "(SELECT count(*) FROM posting_agencies WHERE posting_id = postings.id) FROM postings WHERE external_id = :e")
    with monkeypatch.context() as m:
        m.setattr(storage, "group_postings", broken)
        with monkeypatch.context() as m2:
            m2.setattr(storage, "assign_agencies", broken)
            post(client, keys, [{"external_id": "ka-9", "company": "Kim Anh Manpower", "text": LONG.format(phone="0912 111 222")}])
        with app.state.engine.connect() as c:
            assert c.execute(q, {"e": "ka-9"}).one() == (0, 0)  # neither grouped nor linked at ingest
        caplog.clear()
        res = import_sample(app)  # the grouping still fails
        assert res.version == 2 and res.relinked >= 1
        assert any("grouping the postings left ungrouped failed" in r.getMessage() for r in caplog.records)
    with app.state.engine.connect() as c:
        assert c.execute(q, {"e": "ka-9"}).one() == (0, 1)  # linked by the relink, still ungrouped
    assert [a["postings"] for a in find(client, keys, "Kim Anh Manpower") if a["name"] == "Kim Anh Manpower"] == [1]


def test_a_lookalike_of_a_registry_site_is_flagged_on_the_agency(loaded):
    client, keys = loaded
    post(client, keys, [
        {"external_id": "ko-1", "company": "Cty TNHH Kim Ô Việt",
         "text": "Tuyển 20 thực tập sinh đi Nhật Bản làm điện tử, lương 28 triệu/tháng, bay sau 2 tháng. "
                 "Xem đơn hàng tại website saobaca-derno.vn, hotline 0936 777 888."},
    ])
    top = find(client, keys, "Kim Ô Việt")[0]
    assert top["licence_status"] == "unlicensed"
    p = profile(client, keys, top["id"])
    assert "agency_lookalike_domain" in signs(p)
    look = next(s for s in p["signs"] if s["id"] == "agency_lookalike_domain")
    assert any("saobaca-derno.vn" in e and "Sao Bắc Á" in e for e in look["evidence"])
    assert any("look-alike domain saobaca-derno.vn" in c for c in p["postings"][0]["contradictions"])
    # The firm's own site is no contradiction.
    sba = profile(client, keys, find(client, keys, "cty sao bac a")[0]["id"])
    assert "agency_lookalike_domain" not in signs(sba)


def test_name_search_among_many_similar_names_best_first(loaded, monkeypatch):
    """Decoys sharing syllables with the query are in the trigram index; the prefilter keeps the
    firm among the candidates, and the best match comes first with its score."""
    client, keys = loaded
    syl = ["Hưng", "Thịnh", "Phát", "Hưng Long", "Thịnh Vượng", "An", "Bình", "Minh", "Hòa", "Phú"]
    decoys = [f"Cty TNHH {syl[i % 10]} {syl[(i * 3 + 2) % 10]} {i}" for i in range(60)]
    assert "Cty TNHH Hưng Long Thịnh 3" in decoys and "Cty TNHH Hưng Phát 0" in decoys
    post(client, keys, [{"external_id": f"dc-{i}", "company": c, "text": "Tuyển nhân viên kho tại Bình Dương, lương 8 triệu, làm giờ hành chính."}
                        for i, c in enumerate(decoys)])
    items = find(client, keys, "Cty Cung ứng Nhân lực Hưng Thịnh")
    assert "Hưng Thịnh (FICTITIOUS)" in items[0]["name"] and items[0]["match"] == 1.0
    assert all(a["match"] >= b["match"] for a, b in zip(items, items[1:]))
    names = [i["name"] for i in items]
    assert "Cty TNHH Hưng Long Thịnh 3" in names and "Cty TNHH Hưng Phát 0" not in names
    assert find(client, keys, "hung long thinh 13")[0]["name"] == "Cty TNHH Hưng Long Thịnh 13"
    # Trigrams shared by many agencies do not pick candidates: the rarer ones still find the firm.
    from service.db import storage

    monkeypatch.setattr(storage, "COMMON_GRAM", 4)
    assert [i["name"] for i in find(client, keys, "hung long thinh 13")][:1] == ["Cty TNHH Hưng Long Thịnh 13"]
    assert "Hưng Thịnh (FICTITIOUS)" in find(client, keys, "Cty Cung ứng Nhân lực Hưng Thịnh")[0]["name"]


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


def test_search_text_is_bounded(client, keys):
    """The name search counts agencies per distinct trigram of ``q``: a query of a few KB would
    be thousands of queries, so ``q`` is at most 200 characters, and longer is a 422 naming it."""
    h = auth(keys["inspector"])
    name = "".join(chr(0x4E00 + i) for i in range(200))  # 200 characters, all trigrams distinct
    assert client.get("/v1/agencies", params={"q": name}, headers=h).status_code == 200
    r = client.get("/v1/agencies", params={"q": name + "x"}, headers=h)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["query", "q"] and "200" in r.json()["detail"][0]["msg"]


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


def test_migration_0003_indexes_and_groups_what_is_stored(tmp_path, svc_screener):
    """A database of 0002 (agencies and postings stored, no index, no groups) upgraded to 0003
    gets the same groups and name index that ingest gives."""
    import sqlalchemy as sa
    from alembic import command

    from service.app import create_app
    from service.db import storage
    from service.db.migrate import alembic_config, upgrade
    from service.ingest import ingest_postings

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(settings_for(url))
    app = create_app(settings_for(url), svc_screener)
    import_sample(app)
    ads = ADS + [{"external_id": "ka-1", "company": "Kim Anh Manpower", "text": LONG.format(phone="0912 111 222")},
                 {"external_id": "pa-1", "company": "Phúc An Group", "text": LONG.format(phone="0913 333 444")}]
    with app.state.sessionmaker() as s:
        ingest_postings(s, svc_screener, [{"source": "fb", **a} for a in ads])
    q = "SELECT external_id, group_id FROM posting_groups JOIN postings ON postings.id = posting_id ORDER BY postings.id"

    def state():
        with app.state.engine.connect() as c:
            groups = c.execute(sa.text(q)).all()
            bands = c.execute(sa.text("SELECT count(*) FROM near_dup_bands")).scalar()
        with app.state.sessionmaker() as s:
            found = [i["name"] for i in storage.search_agencies(s, "cty hung thinh", svc_screener.catalogue.scoring)[0]]
        return groups, bands, found

    before = state()
    assert len(before[0]) == len(ads) and before[1] > 0 and "Hưng Thịnh" in before[2][0]
    by_ext = dict(before[0])
    assert by_ext["pa-1"] == by_ext["ka-1"] != by_ext["dp-1"] and by_ext["tm-1"] == by_ext["hv-1"]
    app.state.engine.dispose()
    with app.state.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0002")
    with app.state.engine.connect() as c:
        assert "posting_groups" not in sa.inspect(c).get_table_names()
    upgrade(settings_for(url))
    assert state() == before
    app.state.engine.dispose()
