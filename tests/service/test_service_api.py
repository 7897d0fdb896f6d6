"""The API contract, end to end through the app, on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
import json

import pytest
from svc_helpers import BENIGN, FEE, RISKY, auth, posting


def ingest(client, keys, postings):
    r = client.post("/v1/postings", json={"postings": postings}, headers=auth(keys["scanner"]))
    assert r.status_code == 200, r.text
    return r.json()


def flags(client, keys, **params):
    r = client.get("/v1/flags", params=params, headers=auth(keys["inspector"]))
    assert r.status_code == 200, r.text
    return r.json()


def review(client, keys, fid, decision, note=None, who="inspector"):
    r = client.post(f"/v1/flags/{fid}/review", json={"decision": decision, "note": note}, headers=auth(keys[who]))
    assert r.status_code == 200, r.text
    return r.json()


def test_healthz_needs_no_key(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_screen_returns_the_assessment_and_stores_nothing(client, keys):
    r = client.post("/v1/screen", json={"text": RISKY}, headers=auth(keys["job_centre"]))
    assert r.status_code == 200
    d = r.json()
    assert d["flagged"] is True and d["risk_band"] == "high" and 0 < d["risk_score"] <= 1
    ind = {i["id"]: i for i in d["indicators"]}
    assert "scam_compound_destination" in ind
    ev = ind["scam_compound_destination"]["evidence"][0]
    assert RISKY[ev["start"]:ev["end"]] == ev["text"]
    assert d["explanation"]["summary"]["vi"] and d["hotlines"] == ["111", "1800 6605"]
    assert flags(client, keys)["total"] == 0
    assert client.get("/v1/stats", headers=auth(keys["inspector"])).json()["postings"]["total"] == 0


def test_screen_with_title_and_company_indexes_the_screened_text(client, keys):
    r = client.post("/v1/screen", json={"text": "Việc nhẹ lương cao", "title": "Sang Campuchia làm CSKH", "company": "Cty X"}, headers=auth(keys["job_centre"]))
    d = r.json()
    full = "Sang Campuchia làm CSKH\nCty X\nViệc nhẹ lương cao"
    for i in d["indicators"]:
        for e in i["evidence"]:
            assert full[e["start"]:e["end"]] == e["text"]


def test_screen_validates_its_input(client, keys):
    assert client.post("/v1/screen", json={}, headers=auth(keys["job_centre"])).status_code == 422
    assert client.post("/v1/screen", json={"text": 5}, headers=auth(keys["job_centre"])).status_code == 422


def test_ingest_stores_all_and_queues_the_flagged(client, keys):
    d = ingest(client, keys, [posting(1), posting(2, BENIGN), posting(3, FEE, title="Đơn hàng Nhật", company="Cty ABC", url="https://abc.vn/1", posted_at="2026-11-01T08:00:00+07:00")])
    assert (d["received"], d["created"], d["duplicates"], d["flagged"]) == (3, 3, 0, 2)
    assert [i["flag_id"] is not None for i in d["items"]] == [True, False, True]
    q = flags(client, keys)
    assert q["total"] == 2
    item = next(i for i in q["items"] if i["external_id"] == "3")
    assert item["status"] == "open" and item["source"] == "scanner-a" and item["title"] == "Đơn hàng Nhật"
    assert item["posted_at"].startswith("2026-11-01T01:00:00")  # kept in UTC
    assert {"id", "external_id", "source", "status", "risk_score", "risk_band", "indicators"} <= set(item)
    assert all({"id", "severity"} <= set(i) for i in item["indicators"])


def test_resending_changes_nothing_and_keeps_reviews(client, keys):
    batch = [posting(i) for i in range(5)] + [posting("b", BENIGN)]
    first = ingest(client, keys, batch)
    fid = first["items"][0]["flag_id"]
    review(client, keys, fid, "confirmed", "đường dây Campuchia")
    before = client.get(f"/v1/flags/{fid}", headers=auth(keys["inspector"])).json()
    changed = [dict(p, text=BENIGN) for p in batch]
    again = ingest(client, keys, changed)
    assert (again["created"], again["duplicates"], again["flagged"]) == (0, 6, 0)
    assert [i["posting_id"] for i in again["items"]] == [i["posting_id"] for i in first["items"]]
    assert [i["flag_id"] for i in again["items"]] == [i["flag_id"] for i in first["items"]]
    after = client.get(f"/v1/flags/{fid}", headers=auth(keys["inspector"])).json()
    assert after == before and after["status"] == "confirmed" and len(after["reviews"]) == 1
    assert flags(client, keys)["total"] == 5


def test_a_large_batch_is_accepted_in_one_call(client, keys):
    n = 1500
    d = ingest(client, keys, [posting(i, RISKY if i % 3 else BENIGN, source="bulk") for i in range(n)])
    assert d["created"] == n and d["flagged"] == sum(1 for i in range(n) if i % 3)
    assert flags(client, keys, source="bulk", limit=1)["total"] == d["flagged"]


def test_ingest_validates_each_posting(client, keys):
    bad = [{"source": "s", "text": "x"}]  # no external_id
    assert client.post("/v1/postings", json={"postings": bad}, headers=auth(keys["scanner"])).status_code == 422
    assert client.post("/v1/postings", json={"postings": [posting(1, source="")]}, headers=auth(keys["scanner"])).status_code == 422
    assert ingest(client, keys, [])["received"] == 0


def test_a_tip_enters_the_queue_whatever_its_score(client, keys):
    r = client.post("/v1/tips", json={"text": BENIGN, "note": "chị Mai mang đến"}, headers=auth(keys["job_centre"]))
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["source"] == "job_centre" and t["status"] == "open" and t["flagged"] is False
    q = flags(client, keys, source="job_centre")
    assert q["total"] == 1 and q["items"][0]["note"] == "chị Mai mang đến" and q["items"][0]["reason"] == "tip"
    r = client.post("/v1/tips", json={"text": RISKY, "note": ""}, headers=auth(keys["inspector"]))
    assert r.status_code == 200 and r.json()["flagged"] is True
    assert flags(client, keys, reason="tip")["total"] == 2


def test_flag_detail_has_posting_evidence_links_and_reviews(client, keys):
    d = ingest(client, keys, [
        posting("a", "Sang Campuchia làm CSKH, việc nhẹ lương cao, zalo 0912.345.678"),
        posting("b", "Tuyển phụ bếp đi Lào lương cao, gọi ngay 0912 345 678", source="other"),
    ])
    fid = d["items"][0]["flag_id"]
    review(client, keys, fid, "needs_info", "cần hỏi thêm")
    review(client, keys, fid, "escalated", "chuyển công an", who="inspector2")
    r = client.get(f"/v1/flags/{fid}", headers=auth(keys["inspector"]))
    assert r.status_code == 200
    item = r.json()
    assert item["status"] == "escalated"
    assert item["posting"]["text"].startswith("Sang Campuchia") and item["posting"]["versions"]["rules"]
    text = item["posting"]["screened_text"]
    assert item["evidence"] and all(text[e["start"]:e["end"]] == e["text"] for e in item["evidence"])
    assert item["explanation"]["summary"]["vi"]
    assert all(i["legal"] and i["explanation"]["vi"] for i in item["indicators"])
    assert [x["external_id"] for x in item["linked"]] == ["b"]
    assert item["linked"][0]["shared"] == [{"kind": "phone", "value": "+84912345678"}]
    assert [(x["reviewer"], x["decision"], x["note"]) for x in item["reviews"]] == [
        ("inspector-user", "needs_info", "cần hỏi thêm"), ("inspector-two", "escalated", "chuyển công an")]
    assert all(x["created_at"] for x in item["reviews"])


def test_unknown_items_and_bad_decisions(client, keys):
    fid = ingest(client, keys, [posting(1)])["items"][0]["flag_id"]
    h = auth(keys["inspector"])
    assert client.get("/v1/flags/999999", headers=h).status_code == 404
    assert client.post("/v1/flags/999999/review", json={"decision": "confirmed"}, headers=h).status_code == 404
    assert client.post(f"/v1/flags/{fid}/review", json={"decision": "maybe"}, headers=h).status_code == 422
    assert client.post(f"/v1/flags/{fid}/review", json={}, headers=h).status_code == 422


@pytest.mark.parametrize("decision", ["confirmed", "dismissed", "escalated", "needs_info"])
def test_a_review_sets_the_status_to_its_decision(client, keys, decision):
    fid = ingest(client, keys, [posting(1)])["items"][0]["flag_id"]
    assert flags(client, keys)["items"][0]["status"] == "open"
    review(client, keys, fid, decision, "ghi chú")
    assert flags(client, keys, status=decision)["total"] == 1
    assert flags(client, keys, status="open")["total"] == 0


def test_flag_filters_sorting_and_pagination(client, keys):
    ingest(client, keys, [
        posting(1, RISKY, source="fb", posted_at="2026-10-01T00:00:00Z"),
        posting(2, FEE, source="web", company="Công ty TNHH Phú Quý", posted_at="2026-10-05T00:00:00Z"),
        posting(3, RISKY + " Không cần bằng cấp, không cần kinh nghiệm.", source="fb", posted_at="2026-10-09T00:00:00Z"),
        posting(4, "Cần 5 nữ sang Trung Quốc lấy chồng, bao chi phí, 0988 777 666", source="web"),
    ])
    everything = flags(client, keys)
    assert everything["total"] == 4
    scores = [i["risk_score"] for i in everything["items"]]
    assert scores == sorted(scores, reverse=True)
    assert [i["risk_score"] for i in flags(client, keys, sort="score", order="asc")["items"]] == sorted(scores)
    assert [i["risk_score"] for i in flags(client, keys, sort="+score")["items"]] == sorted(scores)
    by_date = flags(client, keys, sort="date", order="asc")["items"]
    assert [i["external_id"] for i in by_date] == ["1", "2", "3", "4"]
    assert [i["external_id"] for i in flags(client, keys, sort="posted")["items"]][:3] == ["3", "2", "1"]
    assert {i["external_id"] for i in flags(client, keys, source="fb")["items"]} == {"1", "3"}
    assert flags(client, keys, source="fb,web")["total"] == 4
    assert flags(client, keys, band="high")["total"] == sum(1 for i in everything["items"] if i["risk_band"] == "high")
    assert {i["external_id"] for i in flags(client, keys, indicator="scam_compound_destination")["items"]} == {"1", "3"}
    assert [i["external_id"] for i in flags(client, keys, agency="Phú Quý")["items"]] == ["2"]
    assert [i["external_id"] for i in flags(client, keys, agency="0988.777.666")["items"]] == ["4"]
    assert [i["external_id"] for i in flags(client, keys, posted_from="2026-10-04T00:00:00Z", posted_to="2026-10-06T00:00:00Z")["items"]] == ["2"]
    assert flags(client, keys, created_from="2000-01-01T00:00:00Z")["total"] == 4
    assert flags(client, keys, created_to="2000-01-01T00:00:00Z")["total"] == 0
    page1 = flags(client, keys, limit=3)
    page2 = flags(client, keys, limit=3, offset=3)
    assert page1["total"] == page2["total"] == 4 and len(page1["items"]) == 3 and len(page2["items"]) == 1
    assert flags(client, keys, limit=3, page=2)["items"] == page2["items"]
    h = auth(keys["inspector"])
    assert client.get("/v1/flags", params={"status": "bogus"}, headers=h).status_code == 422
    assert client.get("/v1/flags", params={"sort": "bogus"}, headers=h).status_code == 422
    assert client.get("/v1/flags", params={"limit": 0}, headers=h).status_code == 422


def test_claim_hands_two_inspectors_different_items(client, keys):
    ingest(client, keys, [posting(i) for i in range(7)])
    a = client.post("/v1/flags/claim", json={"n": 4}, headers=auth(keys["inspector"])).json()
    b = client.post("/v1/flags/claim", json={"n": 4}, headers=auth(keys["inspector2"])).json()
    ida, idb = {i["id"] for i in a["items"]}, {i["id"] for i in b["items"]}
    assert len(ida) == 4 and len(idb) == 3 and not ida & idb
    assert all(i["claimed_by"] == "inspector-user" for i in a["items"])
    assert {i["id"] for i in flags(client, keys, mine="true")["items"]} == ida
    # a reviewed item is no longer open: it is not handed out again
    review(client, keys, next(iter(ida)), "dismissed")
    again = client.post("/v1/flags/claim", json={"n": 10}, headers=auth(keys["inspector"])).json()
    assert {i["id"] for i in again["items"]} == ida - {next(iter(ida))}
    # released, an item can go to someone else
    rel = client.post(f"/v1/flags/{next(iter(idb))}/release", headers=auth(keys["inspector2"]))
    assert rel.status_code == 200 and rel.json()["claimed_by"] is None
    got = client.post("/v1/flags/claim", json={"n": 10}, headers=auth(keys["inspector"])).json()
    assert next(iter(idb)) in {i["id"] for i in got["items"]}
    assert client.post("/v1/flags/claim", json={"n": 0}, headers=auth(keys["inspector"])).status_code == 422


def test_export_csv_and_jsonl(client, keys):
    d = ingest(client, keys, [posting(1), posting(2, FEE, title="Nhật Bản"), posting(3)])
    f1, f2, f3 = (i["flag_id"] for i in d["items"])
    review(client, keys, f1, "needs_info", "hỏi thêm")
    review(client, keys, f1, "confirmed", "đã xác minh, có \"dấu phẩy\", và xuống\ndòng")
    review(client, keys, f2, "dismissed", None)
    r = client.get("/v1/export", params={"format": "csv"}, headers=auth(keys["inspector"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 3
    by = {int(x["flag_id"]): x for x in rows}
    assert by[f1]["decision"] == "confirmed" and by[f1]["label"] == "1" and by[f1]["reviews_count"] == "2"
    assert by[f1]["review_note"] == "đã xác minh, có \"dấu phẩy\", và xuống\ndòng" and by[f1]["reviewer"] == "inspector-user"
    assert by[f2]["label"] == "0" and by[f2]["title"] == "Nhật Bản"
    assert by[f3]["status"] == "open" and by[f3]["decision"] == "" and by[f3]["label"] == ""
    assert "scam_compound_destination" in by[f1]["indicators"].split(";") and by[f1]["text"] == RISKY
    r = client.get("/v1/export", params={"format": "jsonl", "reviewed": "true"}, headers=auth(keys["inspector"]))
    assert r.status_code == 200 and "ndjson" in r.headers["content-type"]
    recs = [json.loads(x) for x in r.text.splitlines()]
    assert {x["flag_id"] for x in recs} == {f1, f2}
    rec = next(x for x in recs if x["flag_id"] == f1)
    assert [x["decision"] for x in rec["reviews"]] == ["needs_info", "confirmed"] and rec["label"] == 1
    assert rec["rules_version"] and isinstance(rec["indicators"], list)
    r = client.get("/v1/export", params={"format": "xml"}, headers=auth(keys["inspector"]))
    assert r.status_code == 422


def test_stats_counts_and_indicator_precision(client, keys):
    d = ingest(client, keys, [posting(i) for i in range(4)] + [posting("f", FEE, source="web"), posting("b", BENIGN)])
    fids = [i["flag_id"] for i in d["items"]]
    review(client, keys, fids[0], "confirmed")
    for f in fids[1:4]:
        review(client, keys, f, "dismissed")
    client.post("/v1/tips", json={"text": BENIGN, "note": "x"}, headers=auth(keys["job_centre"]))
    r = client.get("/v1/stats", headers=auth(keys["inspector"]))
    assert r.status_code == 200
    st = r.json()
    assert st["total"] == 6
    assert st["by_status"] == {"confirmed": 1, "dismissed": 3, "open": 2}
    assert st["by_source"] == {"scanner-a": 4, "web": 1, "job_centre": 1}
    assert sum(st["by_band"].values()) == 6
    p = st["precision"]["scam_compound_destination"]
    assert (p["confirmed"], p["dismissed"], p["reviewed"], p["precision"]) == (1, 3, 4, 0.25)
    assert st["by_indicator"]["scam_compound_destination"] == 4
    assert st["overall_precision"] == 0.25
    assert st["postings"]["total"] == 7 and st["reviews"] == 4
    never = next(k for k, v in st["precision"].items() if v["reviewed"] == 0)
    assert st["precision"][never]["precision"] is None


def test_misleading_indicators_are_named(app, client, keys):
    app.state.settings.precision_min_reviews = 2
    d = ingest(client, keys, [posting(i) for i in range(3)])
    for i in d["items"]:
        review(client, keys, i["flag_id"], "dismissed")
    st = client.get("/v1/stats", headers=auth(keys["inspector"])).json()
    assert "scam_compound_destination" in st["misleading"]
    assert st["precision"]["scam_compound_destination"]["misleading"] is True


def test_identifiers_list_those_behind_several_postings(client, keys):
    ingest(client, keys, [
        posting(1, "Sang Campuchia làm CSKH lương cao, zalo 0912.345.678"),
        posting(2, "Tuyển phụ bếp đi Lào, gọi 0912 345 678"),
        posting(3, BENIGN),
    ])
    r = client.get("/v1/identifiers", headers=auth(keys["inspector"]))
    assert r.status_code == 200
    a = r.json()
    assert a["total"] == 1 and a["items"][0]["value"] == "+84912345678" and a["items"][0]["postings"] == 2


def test_admin_manages_users_and_keys(client, keys):
    h = auth(keys["admin"])
    r = client.post("/v1/users", json={"name": "hoa", "role": "job_centre"}, headers=h)
    assert r.status_code == 200 and r.json()["key"].startswith("sk_")
    key = r.json()["key"]
    assert client.get("/v1/me", headers=auth(key)).json()["role"] == "job_centre"
    assert client.post("/v1/users", json={"name": "hoa", "role": "scanner"}, headers=h).status_code == 409
    assert client.post("/v1/users", json={"name": "x", "role": "boss"}, headers=h).status_code == 422
    assert "key" not in client.get("/v1/users", headers=h).json()[0]
    new = client.post("/v1/users/hoa/rotate", headers=h).json()["key"]
    assert client.get("/v1/me", headers=auth(key)).status_code == 401
    assert client.post("/v1/users/hoa/disable", headers=h).json()["active"] is False
    assert client.get("/v1/me", headers=auth(new)).status_code == 401
    assert client.post("/v1/users/nobody/disable", headers=h).status_code == 404


def test_openapi_documents_the_contract(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ("/healthz", "/v1/screen", "/v1/postings", "/v1/tips", "/v1/flags", "/v1/flags/{flag_id}",
              "/v1/flags/{flag_id}/review", "/v1/flags/claim", "/v1/export", "/v1/stats"):
        assert p in paths, p
    assert "/login" not in paths


def test_a_batch_over_the_limit_is_refused_whole(app, client, keys):
    app.state.settings.max_batch = 3
    r = client.post("/v1/postings", json={"postings": [posting(i) for i in range(4)]}, headers=auth(keys["scanner"]))
    assert r.status_code == 413 and "at most 3" in r.json()["detail"]
    assert flags(client, keys)["total"] == 0


def test_healthz_says_when_the_database_is_down(svc_screener):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from svc_helpers import settings_for

    app = create_app(settings_for("postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=2"), svc_screener)
    with TestClient(app) as c:
        r = c.get("/healthz")
    assert r.status_code == 503 and "database" in r.json()["detail"]


def test_large_batches_screened_on_processes_store_the_same(tmp_path, sqlite_template, svc_screener):
    """A pool of screening processes gives the same stored postings as the request's thread."""
    import shutil

    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.db import storage
    from svc_helpers import settings_for

    batch = [posting(i, (RISKY, FEE, BENIGN)[i % 3] + f" #{i}") for i in range(30)]
    out = {}
    for procs in (0, 1):
        db = tmp_path / f"p{procs}.db"
        shutil.copy(sqlite_template, db)
        app = create_app(settings_for(f"sqlite:///{db}", ingest_processes=procs, ingest_pool_min_batch=10, model="none"), svc_screener)
        with TestClient(app) as c, app.state.sessionmaker() as s:
            assert (app.state.pool is not None) == bool(procs)
            key = storage.create_user(s, "scan", "scanner")[1]
            r = c.post("/v1/postings", json={"postings": batch}, headers=auth(key))
            assert r.status_code == 200 and r.json()["created"] == 30
            out[procs] = [(i["external_id"], i["flagged"], i["risk_score"], i["risk_band"]) for i in r.json()["items"]]
        assert app.state.pool is None  # closed with the app
    assert out[0] == out[1]


def test_a_screening_fault_names_the_posting_and_stores_nothing(app, client, keys):
    real = app.state.screener

    class Faulty:
        versions = real.versions

        def screen(self, text, **kw):
            if "BOOM" in text:
                raise ValueError("bad input")
            return real.screen(text, **kw)

        def to_dict(self, a):
            return real.to_dict(a)

    app.state.screener = Faulty()
    r = client.post("/v1/postings", json={"postings": [posting(1), posting(2, "BOOM")]}, headers=auth(keys["scanner"]))
    assert r.status_code == 500
    assert "external_id '2'" in r.json()["detail"] and "ValueError: bad input" in r.json()["detail"]
    app.state.screener = real
    assert client.get("/v1/stats", headers=auth(keys["inspector"])).json()["postings"]["total"] == 0
