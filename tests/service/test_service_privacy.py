"""Personal data: exports can be redacted; old postings that never entered the queue can be purged
(`python -m screening purge`), leaving queue items and their reviews whole."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from svc_helpers import BENIGN, RISKY, auth, posting

PERSON, PHONE, ZALO = "Nguyễn Thị Hoa", "0912.345.678", "0987 654 321"
AD = f"Tuyển gấp 20 bạn nữ sang Campuchia làm CSKH, việc nhẹ lương cao 25tr/tháng. Liên hệ chị {PERSON} {PHONE}, zalo {ZALO}."


def test_export_redacts_phones_and_private_names_on_request(client, keys):
    h = auth(keys["inspector"])
    r = client.post("/v1/postings", json={"postings": [posting("a", AD, company="Công ty TNHH Sông Hồng")]}, headers=auth(keys["scanner"]))
    fid = r.json()["items"][0]["flag_id"]
    assert fid
    client.post(f"/v1/flags/{fid}/review", json={"decision": "needs_info", "note": f"gọi {PHONE}, chị {PERSON} không nghe"}, headers=h)

    plain = json.loads(client.get("/v1/export", params={"format": "jsonl"}, headers=h).text.splitlines()[0])
    assert PERSON in plain["text"] and PHONE in plain["text"] and "redacted" not in plain

    red = json.loads(client.get("/v1/export", params={"format": "jsonl", "redact": "true"}, headers=h).text.splitlines()[0])
    assert red["redacted"] is True
    for field in (red["text"], red["review_note"], red["reviews"][0]["note"]):
        assert PERSON not in field and PHONE not in field and "[SĐT]" in field and "[TÊN]" in field
    assert ZALO not in red["text"]
    # the evidence stays: the destination, the promise, the firm, the decision
    assert "sang Campuchia làm CSKH" in red["text"] and "việc nhẹ lương cao" in red["text"]
    assert red["company"] == "Công ty TNHH Sông Hồng" and red["decision"] == "needs_info" and red["label"] is None

    rows = list(csv.DictReader(io.StringIO(client.get("/v1/export", params={"format": "csv", "redact": "true"}, headers=h).text)))
    assert len(rows) == 1 and PHONE not in rows[0]["text"] and PERSON not in rows[0]["review_note"]


def _age(app, external_ids: list[str], days: int) -> None:
    from service.db.models import Posting

    with app.state.sessionmaker() as s:
        s.execute(sa.update(Posting).where(Posting.external_id.in_(external_ids))
                  .values(created_at=datetime.now(timezone.utc) - timedelta(days=days)))
        s.commit()


def _count(app, table: str) -> int:
    with app.state.sessionmaker() as s:
        return s.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


# Tables whose rows belong to one posting (posting_id), besides identifiers.
PER_POSTING = ("posting_groups", "near_dup_bands", "assessment_history", "posting_agencies")


def _rows_of(app, table: str, external_ids: list[str]) -> int:
    with app.state.sessionmaker() as s:
        return s.execute(sa.text(f"SELECT count(*) FROM {table} JOIN postings ON postings.id = {table}.posting_id "
                                 "WHERE postings.external_id IN :e").bindparams(sa.bindparam("e", expanding=True)),
                         {"e": external_ids}).scalar_one()


def _import_registry(session) -> None:
    from pathlib import Path

    from screening.registry import read_registry
    from service.db import storage

    sample = Path(__file__).resolve().parents[2] / "examples" / "registry_sample.csv"
    read = read_registry(sample)
    storage.import_registry(session, read.firms, read.errors, sample.name)


def _orphans(app, table: str) -> int:
    with app.state.sessionmaker() as s:
        return s.execute(sa.text(f"SELECT count(*) FROM {table} WHERE posting_id NOT IN (SELECT id FROM postings)")).scalar_one()


def test_purge_removes_old_unqueued_postings_and_keeps_the_queue(app, client, keys, db_url, svc_screener):
    from typer.testing import CliRunner

    from screening.cli import app as cli
    from service.ingest import rescreen

    h = auth(keys["inspector"])
    ps = [posting("old-benign", BENIGN.replace("0274 3812 345", "0911 222 333"), company="Cty TNHH May Tân Uyên"),
          posting("old-risky", RISKY), posting("new-benign", BENIGN), posting("old-benign-2", BENIGN + " (2)")]
    items = {i["external_id"]: i for i in client.post("/v1/postings", json={"postings": ps}, headers=auth(keys["scanner"])).json()["items"]}
    assert items["old-risky"]["flag_id"] and not items["old-benign"]["flag_id"]
    rv = client.post(f"/v1/flags/{items['old-risky']['flag_id']}/review", json={"decision": "confirmed", "note": "n"}, headers=h)
    assert rv.status_code == 200
    with app.state.sessionmaker() as s:  # an earlier assessment for each posting, in assessment_history
        assert rescreen(s, svc_screener, everything=True)["screened"] == 4
    # the postings to purge have rows in each per-posting table, so the orphan checks below can fail
    assert {t: _rows_of(app, t, ["old-benign", "old-benign-2"]) > 0 for t in PER_POSTING} == {t: True for t in PER_POSTING}
    _age(app, ["old-benign", "old-risky", "old-benign-2"], 120)
    before = {t: _count(app, t) for t in ("postings", "identifiers", "flags", "reviews")}
    run = CliRunner().invoke

    r = run(cli, ["purge", "--older-than", "90", "--dry-run", "--database-url", db_url])
    assert r.exit_code == 0, r.output
    assert "would purge 2 posting(s)" in r.output and "kept 1 queued posting(s)" in r.output
    assert {t: _count(app, t) for t in before} == before  # a dry run changes nothing

    r = run(cli, ["purge", "--older-than", "90", "--database-url", db_url])
    assert r.exit_code == 0 and "purged 2 posting(s)" in r.output, r.output
    with app.state.sessionmaker() as s:
        left = set(s.execute(sa.text("SELECT external_id FROM postings")).scalars())
        orphans = s.execute(sa.text("SELECT count(*) FROM identifiers WHERE posting_id NOT IN (SELECT id FROM postings)")).scalar_one()
    assert left == {"old-risky", "new-benign"} and orphans == 0
    assert {t: _orphans(app, t) for t in PER_POSTING} == {t: 0 for t in PER_POSTING}
    # the unregistered firm name of a purged posting outlives it, until the next registry import
    agency = "SELECT count(*) FROM agencies WHERE name = 'Cty TNHH May Tân Uyên'"
    grams = f"SELECT count(*) FROM agency_grams WHERE agency_id IN ({agency.replace('count(*)', 'id')})"
    with app.state.sessionmaker() as s:
        assert s.execute(sa.text(agency)).scalar_one() == 1 and s.execute(sa.text(grams)).scalar_one() > 0
        _import_registry(s)
        assert s.execute(sa.text(agency)).scalar_one() == 0 and s.execute(sa.text(grams)).scalar_one() == 0
    assert _count(app, "identifiers") < before["identifiers"]
    assert (_count(app, "flags"), _count(app, "reviews")) == (before["flags"], before["reviews"])
    got = client.get(f"/v1/flags/{items['old-risky']['flag_id']}", headers=h).json()
    assert got["status"] == "confirmed" and got["posting"]["text"] == RISKY
    # the purged postings are gone for good: sending them again stores them anew
    again = client.post("/v1/postings", json={"postings": [ps[0]]}, headers=auth(keys["scanner"])).json()
    assert again["created"] == 1

    r = run(cli, ["purge", "--before", "2000-01-01", "--database-url", db_url])
    assert r.exit_code == 0 and "purged 0 posting(s)" in r.output
    for bad in (["purge", "--database-url", db_url], ["purge", "--older-than", "1", "--before", "2020-01-01", "--database-url", db_url]):
        r = run(cli, bad)
        assert r.exit_code == 2 and "exactly one of" in r.output
    r = run(cli, ["purge", "--before", "last year", "--database-url", db_url])
    assert r.exit_code == 2 and "not a date" in r.output


SEWING = ("Công ty may Phú Thành tuyển 50 công nhân may công nghiệp làm việc tại khu công nghiệp Sóng Thần, Dĩ An, "
          "Bình Dương. Yêu cầu nam nữ từ 18 đến 40 tuổi, sức khỏe tốt, không cần kinh nghiệm vì được đào tạo tay "
          "nghề miễn phí. Lương 8 đến 11 triệu đồng mỗi tháng theo sản phẩm, đóng bảo hiểm đầy đủ, thưởng tháng 13, "
          "có xe đưa đón. Nộp hồ sơ tại phòng nhân sự của công ty, điện thoại {phone}.")


def _group(app, posting_id: int) -> int | None:
    with app.state.sessionmaker() as s:
        return s.execute(sa.text("SELECT group_id FROM posting_groups WHERE posting_id = :p"), {"p": posting_id}).scalar()


def test_purging_a_groups_first_posting_keeps_the_group_joinable(app, client, keys):
    """The first posting of a near-duplicate group holds what new postings are compared with;
    when purge deletes it, a surviving member takes its place, and a later repost joins the same
    group (the group keeps its id)."""
    from service.db import storage

    first = client.post("/v1/postings", json={"postings": [posting("sew-1", SEWING.format(phone="0274 3812 345"))]},
                        headers=auth(keys["scanner"])).json()["items"][0]
    assert not first["flag_id"]
    tip = client.post("/v1/tips", json={"text": SEWING.format(phone="0274 3812 346"), "note": "số khác"},
                      headers=auth(keys["job_centre"])).json()
    assert tip["flag_id"]  # queued: the purge keeps it
    group = _group(app, first["posting_id"])
    assert group == first["posting_id"] and _group(app, tip["posting_id"]) == group

    _age(app, ["sew-1"], 120)
    with app.state.sessionmaker() as s:
        out = storage.purge_postings(s, datetime.now(timezone.utc) - timedelta(days=90))
    assert out["postings"] == 1 and _group(app, first["posting_id"]) is None
    assert _group(app, tip["posting_id"]) == group  # the survivor keeps the group's id

    repost = SEWING.format(phone="0274 3812 347").replace("50 công nhân", "60 công nhân")
    again = client.post("/v1/postings", json={"postings": [posting("sew-3", repost)]},
                        headers=auth(keys["scanner"])).json()["items"][0]
    assert _group(app, again["posting_id"]) == group
    linked = client.get(f"/v1/flags/{tip['flag_id']}", headers=auth(keys["inspector"])).json()["linked"]
    templ = {x["posting_id"]: x["shared"] for x in linked if any(s["kind"] == "template" for s in x["shared"])}
    assert templ == {again["posting_id"]: [{"kind": "template", "value": str(group)}]}

