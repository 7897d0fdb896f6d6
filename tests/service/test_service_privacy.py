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


def test_purge_removes_old_unqueued_postings_and_keeps_the_queue(app, client, keys, db_url):
    from typer.testing import CliRunner

    from screening.cli import app as cli

    h = auth(keys["inspector"])
    ps = [posting("old-benign", BENIGN.replace("0274 3812 345", "0911 222 333")), posting("old-risky", RISKY),
          posting("new-benign", BENIGN), posting("old-benign-2", BENIGN + " (2)")]
    items = {i["external_id"]: i for i in client.post("/v1/postings", json={"postings": ps}, headers=auth(keys["scanner"])).json()["items"]}
    assert items["old-risky"]["flag_id"] and not items["old-benign"]["flag_id"]
    rv = client.post(f"/v1/flags/{items['old-risky']['flag_id']}/review", json={"decision": "confirmed", "note": "n"}, headers=h)
    assert rv.status_code == 200
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
