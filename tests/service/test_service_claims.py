"""A team works one queue: concurrent claims never hand the same item to two inspectors."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from svc_helpers import RISKY, settings_for

from service.db import storage
from service.db.engine import make_engine, make_sessionmaker
from service.db.models import Review
from service.ingest import ingest_postings

TTL = timedelta(minutes=30)


def _fill(session, screener, n):
    return ingest_postings(session, screener, [{"source": "s", "external_id": str(i), "text": RISKY} for i in range(n)])


@pytest.mark.postgres
def test_skip_locked_gives_a_second_inspector_other_items_without_waiting(pg_url, svc_screener):
    engine = make_engine(settings_for(pg_url))
    maker = make_sessionmaker(engine)
    try:
        with maker() as s:
            a, _ = storage.create_user(s, "a", "inspector")
            b, _ = storage.create_user(s, "b", "inspector")
            _fill(s, svc_screener, 6)
        with maker() as sa_, maker() as sb:
            got_a = storage.claim(sa_, a.id, 3, TTL, commit=False)  # A's rows stay locked
            sb.execute(sa.text("SET lock_timeout = '3s'"))  # were B to wait on A's locks, it would fail
            got_b = storage.claim(sb, b.id, 3, TTL, commit=False)
            assert len(got_a) == 3 and len(got_b) == 3 and not set(got_a) & set(got_b)
            sa_.commit()
            sb.commit()
        with maker() as s:
            held = dict(s.execute(sa.text("SELECT id, claimed_by FROM flags")).all())
            assert {held[i] for i in got_a} == {a.id} and {held[i] for i in got_b} == {b.id}
    finally:
        engine.dispose()


def test_concurrent_inspectors_never_share_an_item(db_url, svc_screener):
    """Four inspectors, each in its own thread and session, claim and decide until the queue is
    empty: every item is decided exactly once."""
    engine = make_engine(settings_for(db_url))
    maker = make_sessionmaker(engine)
    n_items, n_workers = 60, 4
    try:
        with maker() as s:
            users = [storage.create_user(s, f"i{k}", "inspector")[0] for k in range(n_workers)]
            flag_ids = {r.flag_id for r in _fill(s, svc_screener, n_items)}
        errors: list[BaseException] = []
        barrier = threading.Barrier(n_workers)

        def work(user):
            try:
                barrier.wait()
                with maker() as s:
                    while True:
                        got = storage.claim(s, user.id, 3, TTL)
                        if not got:
                            return
                        for fid in got:
                            storage.add_review(s, fid, user, "dismissed", None)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(u,)) for u in users]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        with maker() as s:
            decided = s.execute(sa.select(Review.flag_id, sa.func.count()).group_by(Review.flag_id)).all()
        assert {f for f, _ in decided} == flag_ids
        assert all(n == 1 for _, n in decided), "an item was handed to two inspectors"
    finally:
        engine.dispose()
