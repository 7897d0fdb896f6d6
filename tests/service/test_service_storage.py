"""The storage layer, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from svc_helpers import BENIGN, FEE, RISKY

from service.db import storage
from service.db.models import Flag, Posting, Review, User
from service.ingest import add_tip, ingest_postings, screen_posting


def _p(i, text=RISKY, source="s", **kw):
    return {"source": source, "external_id": str(i), "text": text, **kw}


def test_keys_are_stored_hashed_and_found_by_key(session):
    user, key = storage.create_user(session, "lan", "inspector")
    stored = session.scalar(sa.select(User.key_hash).where(User.id == user.id))
    assert key not in stored and stored == storage.hash_key(key)
    assert storage.user_by_key(session, key).name == "lan"
    assert storage.user_by_key(session, key + "x") is None
    assert storage.user_by_key(session, "") is None


def test_duplicate_user_and_unknown_role_are_refused(session):
    storage.create_user(session, "lan", "inspector")
    with pytest.raises(storage.DuplicateUser):
        storage.create_user(session, "lan", "scanner")
    with pytest.raises(ValueError, match="unknown role"):
        storage.create_user(session, "minh", "boss")


def test_disabled_and_rotated_keys_stop_working(session):
    _, old = storage.create_user(session, "lan", "inspector")
    _, new = storage.rotate_key(session, "lan")
    assert storage.user_by_key(session, old) is None and storage.user_by_key(session, new) is not None
    storage.set_active(session, "lan", False)
    assert storage.user_by_key(session, new) is None
    with pytest.raises(storage.UnknownUser):
        storage.rotate_key(session, "nobody")


def test_ingest_stores_every_posting_and_queues_the_flagged(session, svc_screener):
    res = ingest_postings(session, svc_screener, [_p(1), _p(2, BENIGN), _p(3, FEE)])
    assert [r.created for r in res] == [True, True, True]
    assert [r.flag_id is not None for r in res] == [True, False, True]
    assert session.scalar(sa.select(sa.func.count(Posting.id))) == 3
    assert session.scalar(sa.select(sa.func.count(Flag.id))) == 2
    p = session.get(Posting, res[0].posting_id)
    assert p.versions == svc_screener.versions and p.assessment["flagged"] is True
    assert p.screened_text == RISKY


def test_ingest_is_idempotent_and_keeps_reviews(session, svc_screener):
    reviewer, _ = storage.create_user(session, "lan", "inspector")
    first = ingest_postings(session, svc_screener, [_p(1), _p(2)])
    storage.add_review(session, first[0].flag_id, reviewer, "confirmed", "đúng")
    before = session.get(Posting, first[0].posting_id).assessment
    again = ingest_postings(session, svc_screener, [_p(1, text="changed text"), _p(2), _p(3)])
    assert [r.created for r in again] == [False, False, True]
    assert again[0].posting_id == first[0].posting_id and again[0].flag_id == first[0].flag_id
    session.expire_all()
    assert session.get(Posting, first[0].posting_id).text == RISKY
    assert session.get(Posting, first[0].posting_id).assessment == before
    assert session.get(Flag, first[0].flag_id).status == "confirmed"
    assert len(storage.reviews_for(session, [first[0].flag_id])[first[0].flag_id]) == 1
    assert session.scalar(sa.select(sa.func.count(Posting.id))) == 3


def test_a_repeat_inside_one_batch_is_stored_once(session, svc_screener):
    res = ingest_postings(session, svc_screener, [_p(1), _p(1), _p(1, source="other")])
    assert [r.created for r in res] == [True, False, True]
    assert res[0].posting_id == res[1].posting_id != res[2].posting_id
    assert session.scalar(sa.select(sa.func.count(Posting.id))) == 3 - 1


def test_storage_ingest_leaves_a_stored_posting_alone_on_conflict(session, svc_screener):
    """Two writers racing on the same posting: the one that loses changes nothing."""
    p = screen_posting(svc_screener, source="s", external_id="x", text=RISKY)
    first = storage.ingest(session, [p])
    other = screen_posting(svc_screener, source="s", external_id="x", text=BENIGN)
    second = storage.ingest(session, [other])
    assert first[0].created and not second[0].created
    assert second[0].posting_id == first[0].posting_id and second[0].flag_id == first[0].flag_id
    assert session.scalar(sa.select(Posting.text)) == RISKY


def test_tips_are_queued_whatever_their_score(session, svc_screener):
    u, _ = storage.create_user(session, "jc", "job_centre")
    r = add_tip(session, svc_screener, text=BENIGN, note="mang đến sáng nay", submitted_by=u.id)
    flag = session.get(Flag, r.flag_id)
    assert r.flagged is False and flag.status == "open" and flag.reason == "tip"
    assert flag.note == "mang đến sáng nay" and flag.submitted_by == u.id
    assert session.get(Posting, r.posting_id).source == "job_centre"


def test_reviews_are_append_only_in_the_database(session, svc_screener):
    u, _ = storage.create_user(session, "lan", "inspector")
    r = ingest_postings(session, svc_screener, [_p(1)])[0]
    rev = storage.add_review(session, r.flag_id, u, "dismissed", None)
    for stmt in (sa.update(Review).where(Review.id == rev.id).values(decision="confirmed"), sa.delete(Review).where(Review.id == rev.id)):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            session.execute(stmt)
            session.commit()
        session.rollback()
    assert session.scalar(sa.select(Review.decision).where(Review.id == rev.id)) == "dismissed"


def test_review_sets_status_and_keeps_the_history(session, svc_screener):
    u, _ = storage.create_user(session, "lan", "inspector")
    r = ingest_postings(session, svc_screener, [_p(1)])[0]
    for d in ("needs_info", "escalated", "confirmed"):
        storage.add_review(session, r.flag_id, u, d, f"note {d}")
    session.expire_all()
    assert session.get(Flag, r.flag_id).status == "confirmed"
    assert [x.decision for x in storage.reviews_for(session, [r.flag_id])[r.flag_id]] == ["needs_info", "escalated", "confirmed"]
    assert storage.add_review(session, 999_999, u, "confirmed", None) is None
    with pytest.raises(ValueError):
        storage.add_review(session, r.flag_id, u, "maybe", None)


def test_claims_do_not_overlap_and_lapse(session, svc_screener):
    a, _ = storage.create_user(session, "a", "inspector")
    b, _ = storage.create_user(session, "b", "inspector")
    ingest_postings(session, svc_screener, [_p(i) for i in range(6)])
    ttl = timedelta(minutes=30)
    got_a = storage.claim(session, a.id, 4, ttl)
    got_b = storage.claim(session, b.id, 4, ttl)
    assert len(got_a) == 4 and len(got_b) == 2 and not set(got_a) & set(got_b)
    # the caller's own items come back to it; nothing is left for b
    assert set(storage.claim(session, a.id, 4, ttl)) == set(got_a)
    assert set(storage.claim(session, b.id, 4, ttl)) == set(got_b)
    # a reviewed item leaves the pool; a lapsed claim is free again
    storage.add_review(session, got_a[0], a, "dismissed", None)
    session.execute(sa.update(Flag).where(Flag.id.in_(got_a[1:])).values(claimed_at=datetime.now(timezone.utc) - timedelta(hours=2)))
    session.commit()
    got_b2 = storage.claim(session, b.id, 10, ttl)
    assert set(got_b2) == set(got_b) | set(got_a[1:])
    assert storage.release(session, got_b2[0], b.id) and not storage.release(session, got_b2[0], a.id)


def test_linked_postings_share_a_phone_zalo_or_firm(session, svc_screener):
    res = ingest_postings(session, svc_screener, [
        _p(1, "Sang Campuchia làm CSKH lương cao, zalo 0912.345.678"),
        _p(2, "Tuyển phụ bếp, gọi 0912 345 678"),
        _p(3, BENIGN, company="Công ty TNHH Sông Hồng"),
        _p(4, FEE, company="CÔNG TY TNHH  SÔNG HỒNG"),
        _p(5, "Tuyển bảo vệ, liên hệ 0988 111 222"),
    ])
    links = storage.linked_postings(session, res[0].posting_id)
    assert [x["posting_id"] for x in links] == [res[1].posting_id]
    assert links[0]["shared"] == [{"kind": "phone", "value": "+84912345678"}]
    firm = storage.linked_postings(session, res[3].posting_id)
    assert [x["posting_id"] for x in firm] == [res[2].posting_id]
    assert {"kind": "company", "value": "công ty tnhh sông hồng"} in firm[0]["shared"]
    assert storage.linked_postings(session, res[4].posting_id) == []


def test_filters_sorts_and_pages(session, svc_screener):
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    ingest_postings(session, svc_screener, [
        _p(1, RISKY, source="fb", posted_at=t0),
        _p(2, FEE, source="web", posted_at=t0 + timedelta(days=3)),
        _p(3, RISKY + " Không cần bằng cấp.", source="fb", posted_at=t0 + timedelta(days=6)),
    ])
    F = storage.FlagFilter
    rows, total = storage.list_flags(session, F(source=["fb"]))
    assert total == 2 and {p.source for _, p, _ in rows} == {"fb"}
    rows, total = storage.list_flags(session, F(indicator=["scam_compound_destination"]))
    assert total == 2
    rows, total = storage.list_flags(session, F(posted_from=t0 + timedelta(days=1), posted_to=t0 + timedelta(days=4)))
    assert [p.external_id for _, p, _ in rows] == ["2"]
    rows, _ = storage.list_flags(session, F(), sort="score", descending=True)
    scores = [p.risk_score for _, p, _ in rows]
    assert scores == sorted(scores, reverse=True)
    rows, _ = storage.list_flags(session, F(), sort="id", descending=False, limit=1, offset=1)
    assert len(rows) == 1 and rows[0][1].external_id == "2"
    rows, total = storage.list_flags(session, F(agency="0912.345.678"))
    assert total == 2
    rows, total = storage.list_flags(session, F(status=["confirmed"]))
    assert total == 0 and rows == []


def test_stats_measure_each_indicators_precision(session, svc_screener):
    u, _ = storage.create_user(session, "lan", "inspector")
    res = ingest_postings(session, svc_screener, [_p(1), _p(2), _p(3), _p(4, FEE)])
    storage.add_review(session, res[0].flag_id, u, "confirmed", None)
    storage.add_review(session, res[1].flag_id, u, "dismissed", None)
    storage.add_review(session, res[2].flag_id, u, "dismissed", None)
    st = storage.stats(session)
    assert st["total"] == 4 and st["by_status"] == {"confirmed": 1, "dismissed": 2, "open": 1}
    assert st["indicator_status"]["scam_compound_destination"] == {"confirmed": 1, "dismissed": 2}
    assert st["postings"]["total"] == 4 and st["reviews"] == 3


def test_agencies_group_postings_by_identifier(session, svc_screener):
    ingest_postings(session, svc_screener, [
        _p(1, "Sang Campuchia làm CSKH lương cao, zalo 0912.345.678"),
        _p(2, "Tuyển phụ bếp, gọi 0912 345 678"),
        _p(3, BENIGN),
    ])
    items, total = storage.agencies(session)
    assert total == 1 and items[0]["kind"] == "phone" and items[0]["value"] == "+84912345678"
    assert items[0]["postings"] == 2


def test_export_reads_in_chunks_with_histories(session, svc_screener):
    u, _ = storage.create_user(session, "lan", "inspector")
    res = ingest_postings(session, svc_screener, [_p(i) for i in range(7)])
    storage.add_review(session, res[3].flag_id, u, "escalated", "gửi công an")
    rows = list(storage.export_rows(session, storage.FlagFilter(), chunk=2))
    assert [f.id for f, _, _ in rows] == sorted(r.flag_id for r in res)
    hist = {f.id: [x.decision for x in revs] for f, _, revs in rows}
    assert hist[res[3].flag_id] == ["escalated"] and sum(map(len, hist.values())) == 1
