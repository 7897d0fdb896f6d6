"""Versions in every stored assessment, and re-screening after a rules update: the earlier
assessment is kept with its versions, a newly flagged posting enters the queue, and queue items
and reviews are not touched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from svc_helpers import BENIGN, RISKY, auth, posting

ROOT = Path(__file__).resolve().parents[2]
MEDIUM = "Tuyển nhân viên, việc nhẹ lương cao."  # one medium sign: not flagged by the shipped bands


@pytest.fixture(scope="module")
def updated_screener(tmp_path_factory):
    """The shipped rules as a new version whose medium band starts at 0.2 (one medium sign flags)."""
    from screening.screener import Screener

    rules = tmp_path_factory.mktemp("rules-update") / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "CATALOGUE_VERSION").write_text("2099.1.0-test\n", encoding="utf-8")
    scoring = rules / "scoring.yaml"
    scoring.write_text(scoring.read_text(encoding="utf-8").replace("  medium: 0.4", "  medium: 0.2"), encoding="utf-8")
    return Screener.load(rules, model=False)


def test_rescreen_after_a_rules_update_is_traceable(app, client, keys, svc_screener, updated_screener):
    from service.ingest import rescreen

    h = auth(keys["inspector"])
    items = client.post("/v1/postings", json={"postings": [posting("risky", RISKY), posting("medium", MEDIUM), posting("benign", BENIGN)]},
                        headers=auth(keys["scanner"])).json()["items"]
    by = {i["external_id"]: i for i in items}
    assert by["risky"]["flag_id"] and by["medium"]["flag_id"] is None
    old_versions = dict(svc_screener.versions)
    got = client.get(f"/v1/flags/{by['risky']['flag_id']}", headers=h).json()
    assert got["posting"]["versions"] == old_versions and got["earlier_assessments"] == []
    client.post(f"/v1/flags/{by['risky']['flag_id']}/review", json={"decision": "confirmed", "note": "seen"}, headers=h)
    assert updated_screener.versions["rules"] == "2099.1.0-test" != old_versions["rules"]

    with app.state.sessionmaker() as s:
        dry = rescreen(s, updated_screener, dry_run=True)
    assert dry == {"screened": 3, "changed": 1, "queued": 0, "relinked": 0}
    assert client.get("/v1/flags", headers=h).json()["total"] == 1  # a dry run stores nothing

    with app.state.sessionmaker() as s:
        done = rescreen(s, updated_screener)
    assert done == {"screened": 3, "changed": 1, "queued": 1, "relinked": 0}
    with app.state.sessionmaker() as s:
        assert rescreen(s, updated_screener) == {"screened": 0, "changed": 0, "queued": 0, "relinked": 0}  # all current now

    flags = {f["external_id"]: f for f in client.get("/v1/flags", headers=h).json()["items"]}
    assert set(flags) == {"risky", "medium"} and flags["medium"]["risk_band"] == "medium"
    med = client.get(f"/v1/flags/{flags['medium']['id']}", headers=h).json()
    assert med["posting"]["versions"]["rules"] == "2099.1.0-test"
    [earlier] = med["earlier_assessments"]
    assert earlier["versions"] == old_versions and earlier["replaced_by"]["rules"] == "2099.1.0-test"
    assert earlier["risk_band"] == "low" and not earlier["flagged"] and earlier["indicators"] == ["easy_work_high_pay"]
    risky = client.get(f"/v1/flags/{by['risky']['flag_id']}", headers=h).json()
    assert risky["status"] == "confirmed" and [r["note"] for r in risky["reviews"]] == ["seen"]
    assert [e["versions"]["rules"] for e in risky["earlier_assessments"]] == [old_versions["rules"]]
    exported = {x["external_id"]: x for x in map(json.loads, client.get("/v1/export", headers=h).text.splitlines())}
    assert exported["risky"]["rules_version"] == exported["medium"]["rules_version"] == "2099.1.0-test"


def test_rescreen_command_reports_what_it_did(tmp_path, sqlite_url, svc_screener):
    from typer.testing import CliRunner

    from screening.cli import app as cli
    from service.db.engine import make_engine, make_sessionmaker
    from service.ingest import ingest_postings
    from service.settings import Settings

    engine = make_engine(Settings(database_url=sqlite_url))
    with make_sessionmaker(engine)() as s:
        ingest_postings(s, svc_screener, [posting("a", RISKY), posting("b", BENIGN)])
    engine.dispose()
    r = CliRunner().invoke(cli, ["rescreen", "--all", "--model", "none", "--dry-run", "--database-url", sqlite_url])
    assert r.exit_code == 0, r.output
    assert "would re-screen 2 posting(s)" in r.output and "0 changed" in r.output and "model none" in r.output


def test_rescreen_links_a_posting_whose_contacts_changed_to_its_agency_again(app, client, keys, svc_screener):
    """A posting stored when the rules read no contact in it (simulated: its identifiers and agency
    link removed, its versions older): re-screening finds the phone, stores it, and resolves the
    posting to its agency again, and the counts say so."""
    import sqlalchemy as sa

    from service.db.models import Identifier, Posting, PostingAgency
    from service.ingest import rescreen

    firm = "Công ty TNHH Nhân lực Sông Hồng"
    items = client.post("/v1/postings", json={"postings": [posting("c1", RISKY, company=firm), posting("c2", BENIGN)]},
                        headers=auth(keys["scanner"])).json()["items"]
    pid = items[0]["posting_id"]
    with app.state.sessionmaker() as s:
        before = set(s.execute(sa.select(Identifier.kind, Identifier.value).where(Identifier.posting_id == pid)).all())
        assert ("phone", "+84912345678") in before and s.scalar(sa.select(PostingAgency.agency_id).where(PostingAgency.posting_id == pid))
        s.execute(sa.delete(Identifier).where(Identifier.posting_id == pid))
        s.execute(sa.delete(PostingAgency).where(PostingAgency.posting_id == pid))
        s.execute(sa.update(Posting).where(Posting.id == pid).values(versions={"engine": "0.0.1", "rules": "2025.1.0", "model": "none"}))
        s.commit()
    with app.state.sessionmaker() as s:
        done = rescreen(s, svc_screener)
    assert done == {"screened": 1, "changed": 0, "queued": 0, "relinked": 1}
    with app.state.sessionmaker() as s:
        after = set(s.execute(sa.select(Identifier.kind, Identifier.value).where(Identifier.posting_id == pid)).all())
        assert after == before
        aid = s.scalar(sa.select(PostingAgency.agency_id).where(PostingAgency.posting_id == pid))
    assert aid is not None
    profile = client.get(f"/v1/agencies/{aid}", headers=auth(keys["inspector"])).json()
    assert "c1" in {p["external_id"] for p in profile["postings"]}


def test_a_posting_that_no_longer_resolves_loses_its_agency_link(app, client, keys):
    """Resolving again (re-screen, relink) with facts that name no firm and no known contact
    removes the link the posting had, so an agency profile no longer lists it."""
    import sqlalchemy as sa

    from service.db import storage
    from service.db.models import PostingAgency

    firm = "Công ty TNHH Nhân lực Sông Hồng"
    items = client.post("/v1/postings", json={"postings": [posting("l1", RISKY, company=firm), posting("l2", RISKY, company=firm)]},
                        headers=auth(keys["scanner"])).json()["items"]
    p1, p2 = items[0]["posting_id"], items[1]["posting_id"]
    with app.state.sessionmaker() as s:
        aid = s.scalar(sa.select(PostingAgency.agency_id).where(PostingAgency.posting_id == p1))
        assert aid is not None
        linked = storage.assign_agencies(s, [storage.facts_of(p1, None, ()), storage.facts_of(p2, firm, ())])
    assert linked == 1
    with app.state.sessionmaker() as s:
        rows = dict(s.execute(sa.select(PostingAgency.posting_id, PostingAgency.agency_id)
                              .where(PostingAgency.posting_id.in_([p1, p2]))).all())
    assert rows == {p2: aid}
    profile = client.get(f"/v1/agencies/{aid}", headers=auth(keys["inspector"])).json()
    assert {p["external_id"] for p in profile["postings"]} == {"l2"}
