"""The storage layer: every query of the service lives here. Functions take a Session; those that
change data commit before they return, so a caller that got an answer knows the change is on
disk. Reviews are only ever inserted.

Transactions on SQLite (the driver's default mode): reads run outside a transaction and a write
transaction starts with its first INSERT/UPDATE, so it takes the write lock at once (waiting up
to the busy timeout) and never fails on a stale snapshot. Each writing function below therefore
writes first and reads after, or does read-then-write in one statement (claim).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session, aliased

from ..identifiers import agency_query, link_kinds
from .models import DECISIONS, ROLES, Flag, Identifier, Posting, PostingIndicator, Review, User, utcnow

__all__ = [
    "hash_key", "new_key", "create_user", "user_by_key", "list_users", "rotate_key", "set_active",
    "NewPosting", "IngestResult", "find_postings", "ingest",
    "FlagFilter", "list_flags", "flag_rows", "get_flag", "reviews_for", "linked_postings",
    "add_review", "claim", "release", "export_rows", "stats", "agencies", "ping",
    "UnknownUser", "DuplicateUser",
]

KEY_PREFIX = "sk_"
CHUNK = 500


class UnknownUser(LookupError):
    pass


class DuplicateUser(ValueError):
    pass


def _insert(session: Session, table: sa.Table):
    """INSERT with the dialect's ON CONFLICT support (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def _chunks(seq: Sequence[Any], n: int = CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def ping(session: Session) -> bool:
    return session.execute(sa.text("SELECT 1")).scalar() == 1


# ---------------------------------------------------------------------------------------- users


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def create_user(session: Session, name: str, role: str) -> tuple[User, str]:
    """A new user and its API key (the key itself is not stored: show it once)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    name = name.strip()
    if not name:
        raise ValueError("a user needs a name")
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise DuplicateUser(f"a user named {name!r} exists already")
    key = new_key()
    user = User(name=name, role=role, key_hash=hash_key(key), key_prefix=key[:10], active=True, created_at=utcnow())
    session.add(user)
    try:
        session.commit()
    except sa.exc.IntegrityError:
        session.rollback()
        raise DuplicateUser(f"a user named {name!r} exists already") from None
    return user, key


def user_by_key(session: Session, key: str) -> User | None:
    if not key:
        return None
    return session.scalar(select(User).where(User.key_hash == hash_key(key), User.active.is_(True)))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def rotate_key(session: Session, name: str) -> tuple[User, str]:
    key = new_key()
    n = session.execute(
        update(User).where(User.name == name).values(key_hash=hash_key(key), key_prefix=key[:10])
    ).rowcount
    if not n:
        session.rollback()
        raise UnknownUser(f"no user named {name!r}")
    session.commit()
    return session.scalar(select(User).where(User.name == name)), key


def set_active(session: Session, name: str, active: bool) -> User:
    n = session.execute(update(User).where(User.name == name).values(active=active)).rowcount
    if not n:
        session.rollback()
        raise UnknownUser(f"no user named {name!r}")
    session.commit()
    return session.scalar(select(User).where(User.name == name))


# ------------------------------------------------------------------------------------- postings


@dataclass(frozen=True)
class NewPosting:
    """A screened posting ready to store."""

    source: str
    external_id: str
    text: str
    screened_text: str
    assessment: dict[str, Any]
    risk_score: float
    risk_band: str
    flagged: bool
    versions: dict[str, Any]
    indicators: tuple[tuple[str, str], ...] = ()  # (indicator id, severity), counted ones
    identifiers: tuple[tuple[str, str, str], ...] = ()  # (kind, normalised value, text)
    title: str | None = None
    company: str | None = None
    url: str | None = None
    posted_at: datetime | None = None


@dataclass
class IngestResult:
    source: str
    external_id: str
    posting_id: int | None = None
    flag_id: int | None = None
    created: bool = False
    flagged: bool | None = None
    risk_score: float | None = None
    risk_band: str | None = None


def find_postings(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored postings among (source, external_id) keys: key → {posting_id, flag_id, flagged,
    risk_score, risk_band}."""
    keys = list(dict.fromkeys(keys))
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for part in _chunks(keys):
        rows = session.execute(
            select(Posting.source, Posting.external_id, Posting.id, Flag.id, Posting.flagged, Posting.risk_score, Posting.risk_band)
            .outerjoin(Flag, Flag.posting_id == Posting.id)
            .where(tuple_(Posting.source, Posting.external_id).in_(list(part)))
        )
        for src, ext, pid, fid, flagged, score, band in rows:
            out[(src, ext)] = {"posting_id": pid, "flag_id": fid, "flagged": flagged, "risk_score": score, "risk_band": band}
    return out


def ingest(
    session: Session,
    postings: Sequence[NewPosting],
    *,
    queue_all: bool = False,
    reason: str = "flagged",
    note: str | None = None,
    submitted_by: int | None = None,
) -> list[IngestResult]:
    """Store postings in one transaction: a posting whose (source, external_id) is stored already
    is left exactly as it is (INSERT … ON CONFLICT DO NOTHING); each new flagged posting (every
    new one with ``queue_all``) gets a queue item. Results come back in input order."""
    now = utcnow()
    results = [IngestResult(p.source, p.external_id) for p in postings]
    if not postings:
        return results
    by_key: dict[tuple[str, str], NewPosting] = {}
    for p in postings:
        by_key.setdefault((p.source, p.external_id), p)
    rows = [
        {
            "source": p.source, "external_id": p.external_id, "text": p.text, "screened_text": p.screened_text,
            "title": p.title, "company": p.company, "url": p.url, "posted_at": p.posted_at,
            "assessment": p.assessment, "risk_score": p.risk_score, "risk_band": p.risk_band,
            "flagged": p.flagged, "versions": p.versions, "created_at": now,
        }
        for p in by_key.values()
    ]
    table = Posting.__table__
    created: dict[tuple[str, str], int] = {}
    # executemany (SQLAlchemy's "insertmanyvalues": batched, compiled once) with RETURNING
    posting_insert = (
        _insert(session, table)
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(table.c.id, table.c.source, table.c.external_id)
    )
    try:
        for pid, src, ext in session.execute(posting_insert, rows):
            created[(src, ext)] = pid
        ind_rows, id_rows, flag_rows_ = [], [], []
        for key, pid in created.items():
            p = by_key[key]
            ind_rows.extend({"posting_id": pid, "indicator": i, "severity": s} for i, s in dict(p.indicators).items())
            id_rows.extend({"posting_id": pid, "kind": k, "value": v, "text": t} for k, v, t in p.identifiers)
            if queue_all or p.flagged:
                flag_rows_.append({
                    "posting_id": pid, "status": "open", "reason": reason, "note": note,
                    "submitted_by": submitted_by, "created_at": now, "updated_at": now,
                })
        if ind_rows:
            session.execute(_insert(session, PostingIndicator.__table__).on_conflict_do_nothing(), ind_rows)
        if id_rows:
            session.execute(_insert(session, Identifier.__table__).on_conflict_do_nothing(), id_rows)
        flag_ids: dict[int, int] = {}
        if flag_rows_:
            ft = Flag.__table__
            for fid, pid in session.execute(sa.insert(ft).returning(ft.c.id, ft.c.posting_id), flag_rows_):
                flag_ids[pid] = fid
        session.commit()
    except BaseException:
        session.rollback()
        raise
    missing = [r for r in results if (r.source, r.external_id) not in created]
    known = find_postings(session, [(r.source, r.external_id) for r in missing]) if missing else {}
    seen_new: set[tuple[str, str]] = set()
    for r in results:
        key = (r.source, r.external_id)
        if key in created:
            p = by_key[key]
            r.posting_id, r.flag_id = created[key], flag_ids.get(created[key])
            r.created = key not in seen_new  # a repeat inside the batch is not created twice
            seen_new.add(key)
            r.flagged, r.risk_score, r.risk_band = p.flagged, p.risk_score, p.risk_band
        elif key in known:
            k = known[key]
            r.posting_id, r.flag_id = k["posting_id"], k["flag_id"]
            r.flagged, r.risk_score, r.risk_band = k["flagged"], k["risk_score"], k["risk_band"]
    return results


# ---------------------------------------------------------------------------------------- flags


@dataclass
class FlagFilter:
    status: list[str] = field(default_factory=list)
    band: list[str] = field(default_factory=list)
    indicator: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    agency: str | None = None
    reason: list[str] = field(default_factory=list)
    q: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    posted_from: datetime | None = None
    posted_to: datetime | None = None
    claimed_by: int | None = None
    ids: list[int] | None = None


SORTS = {
    "score": lambda: Posting.risk_score,
    "date": lambda: Flag.created_at,
    "posted": lambda: Posting.posted_at,
    "id": lambda: Flag.id,
    "updated": lambda: Flag.updated_at,
}


def _where(f: FlagFilter) -> list[Any]:
    w: list[Any] = []
    if f.status:
        w.append(Flag.status.in_(f.status))
    if f.band:
        w.append(Posting.risk_band.in_(f.band))
    if f.source:
        w.append(Posting.source.in_(f.source))
    if f.reason:
        w.append(Flag.reason.in_(f.reason))
    for ind in f.indicator:
        w.append(
            select(PostingIndicator.posting_id)
            .where(PostingIndicator.posting_id == Posting.id, PostingIndicator.indicator == ind)
            .exists()
        )
    if f.agency and f.agency.strip():
        kinds, value, exact = agency_query(f.agency)
        ident = Identifier.value == value if exact else Identifier.value.contains(value, autoescape=True)
        w.append(
            sa.or_(
                select(Identifier.id)
                .where(Identifier.posting_id == Posting.id, Identifier.kind.in_(kinds), ident)
                .exists(),
                Posting.company.ilike("%" + f.agency.strip().replace("%", "").replace("_", "") + "%"),
            )
        )
    if f.q and f.q.strip():
        w.append(Posting.screened_text.ilike("%" + f.q.strip().replace("%", "").replace("_", "") + "%"))
    if f.created_from:
        w.append(Flag.created_at >= f.created_from)
    if f.created_to:
        w.append(Flag.created_at <= f.created_to)
    if f.posted_from:
        w.append(Posting.posted_at >= f.posted_from)
    if f.posted_to:
        w.append(Posting.posted_at <= f.posted_to)
    if f.claimed_by is not None:
        w.append(Flag.claimed_by == f.claimed_by)
    if f.ids is not None:
        w.append(Flag.id.in_(f.ids))
    return w


def _order(sort: str, descending: bool) -> list[Any]:
    col = SORTS[sort]()
    if sort == "posted":
        return [col.is_(None), col.desc() if descending else col.asc(), Flag.id.desc() if descending else Flag.id]
    return [col.desc() if descending else col.asc(), Flag.id.desc() if descending else Flag.id]


Holder = aliased(User)


def flag_rows(session: Session, f: FlagFilter, sort: str = "score", descending: bool = True, limit: int | None = 50, offset: int = 0) -> list[tuple[Flag, Posting, str | None]]:
    """(flag, posting, name of the holder) for a page of the queue."""
    stmt = (
        select(Flag, Posting, Holder.name)
        .join(Posting, Posting.id == Flag.posting_id)
        .outerjoin(Holder, Holder.id == Flag.claimed_by)
        .where(*_where(f))
        .order_by(*_order(sort, descending))
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [tuple(r) for r in session.execute(stmt)]


def list_flags(session: Session, f: FlagFilter, sort: str = "score", descending: bool = True, limit: int = 50, offset: int = 0) -> tuple[list[tuple[Flag, Posting, str | None]], int]:
    total = session.scalar(select(func.count(Flag.id)).join(Posting, Posting.id == Flag.posting_id).where(*_where(f)))
    return flag_rows(session, f, sort, descending, limit, offset), int(total or 0)


def get_flag(session: Session, flag_id: int) -> tuple[Flag, Posting, str | None] | None:
    rows = flag_rows(session, FlagFilter(ids=[flag_id]), limit=1)
    return rows[0] if rows else None


def reviews_for(session: Session, flag_ids: Sequence[int]) -> dict[int, list[Review]]:
    out: dict[int, list[Review]] = {i: [] for i in flag_ids}
    for part in _chunks(list(flag_ids)):
        for r in session.scalars(select(Review).where(Review.flag_id.in_(part)).order_by(Review.created_at, Review.id)):
            out[r.flag_id].append(r)
    return out


def identifiers_of(session: Session, posting_id: int) -> list[Identifier]:
    return list(session.scalars(select(Identifier).where(Identifier.posting_id == posting_id).order_by(Identifier.id)))


def linked_postings(session: Session, posting_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Other postings sharing a phone / Zalo / handle / firm / e-mail / domain / licence / account
    with this one, most risky first, each with what it shares."""
    mine = identifiers_of(session, posting_id)
    if not mine:
        return []
    conds = [sa.and_(Identifier.kind.in_(link_kinds(i.kind)), Identifier.value == i.value) for i in mine]
    rows = session.execute(
        select(Identifier.kind, Identifier.value, Posting.id, Posting.source, Posting.external_id, Posting.title,
               Posting.risk_score, Posting.risk_band, Posting.created_at, Flag.id, Flag.status)
        .join(Posting, Posting.id == Identifier.posting_id)
        .outerjoin(Flag, Flag.posting_id == Posting.id)
        .where(sa.or_(*conds), Identifier.posting_id != posting_id)
        .order_by(Posting.risk_score.desc(), Posting.id.desc())
        .limit(limit * 4)
    )
    out: dict[int, dict[str, Any]] = {}
    for kind, value, pid, src, ext, title, score, band, created, fid, status in rows:
        item = out.get(pid)
        if item is None:
            if len(out) >= limit:
                continue
            item = out[pid] = {
                "posting_id": pid, "source": src, "external_id": ext, "title": title, "risk_score": score,
                "risk_band": band, "created_at": created, "flag_id": fid, "status": status, "shared": [],
            }
        shared = {"kind": "phone" if kind == "zalo" else kind, "value": value}
        if shared not in item["shared"]:
            item["shared"].append(shared)
    return list(out.values())


def add_review(session: Session, flag_id: int, reviewer: User, decision: str, note: str | None) -> Review | None:
    """Append a review and set the item's status to its decision (one transaction). None when
    there is no such item."""
    if decision not in DECISIONS:
        raise ValueError(f"unknown decision {decision!r}: one of {', '.join(DECISIONS)}")
    now = utcnow()
    try:
        n = session.execute(update(Flag).where(Flag.id == flag_id).values(status=decision, updated_at=now)).rowcount
        if not n:
            session.rollback()
            return None
        review = Review(flag_id=flag_id, reviewer_id=reviewer.id, reviewer=reviewer.name, decision=decision, note=note, created_at=now)
        session.add(review)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return review


def claim(session: Session, user_id: int, n: int, ttl: timedelta, *, commit: bool = True) -> list[int]:
    """Give ``user_id`` up to ``n`` open items no one else holds (those it holds already first,
    then the riskiest): one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) on
    PostgreSQL, so concurrent inspectors never get the same item; on SQLite the single statement
    runs under the database's write lock. A claim older than ``ttl`` is free again."""
    now = utcnow()
    f = aliased(Flag, name="candidate")  # its own FROM: never correlated with the UPDATE's table
    eligible = (
        select(f.id)
        .join(Posting, Posting.id == f.posting_id)
        .where(
            f.status == "open",
            sa.or_(f.claimed_by.is_(None), f.claimed_by == user_id, f.claimed_at < now - ttl),
        )
        .order_by(sa.case((f.claimed_by == user_id, 0), else_=1), Posting.risk_score.desc(), f.id)
        .limit(n)
        .correlate(None)
    )
    if session.get_bind().dialect.name == "postgresql":
        eligible = eligible.with_for_update(skip_locked=True, of=f)
    try:
        ids = list(
            session.scalars(
                update(Flag)
                .where(Flag.id.in_(eligible.scalar_subquery()))
                .values(claimed_by=user_id, claimed_at=now)
                .returning(Flag.id)
                .execution_options(synchronize_session=False)
            )
        )
        if commit:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    return ids


def release(session: Session, flag_id: int, user_id: int) -> bool:
    n = session.execute(
        update(Flag).where(Flag.id == flag_id, Flag.claimed_by == user_id).values(claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return bool(n)


# -------------------------------------------------------------------------------- export, stats


def export_rows(session: Session, f: FlagFilter, chunk: int = CHUNK) -> Iterator[tuple[Flag, Posting, list[Review]]]:
    """Every queue item matching ``f`` with its posting and full review history, by id, read in
    chunks (keyset pagination) so a large export never sits in memory."""
    last = 0
    while True:
        stmt = (
            select(Flag, Posting)
            .join(Posting, Posting.id == Flag.posting_id)
            .where(*_where(f), Flag.id > last)
            .order_by(Flag.id)
            .limit(chunk)
        )
        rows = [tuple(r) for r in session.execute(stmt)]
        if not rows:
            return
        revs = reviews_for(session, [fl.id for fl, _ in rows])
        for fl, p in rows:
            yield fl, p, revs[fl.id]
        last = rows[-1][0].id
        session.expunge_all()


def _counts(session: Session, stmt) -> dict[str, int]:
    return {str(k): int(v) for k, v in session.execute(stmt)}


def stats(session: Session) -> dict[str, Any]:
    """Counts over the queue and the postings, and each indicator's tally of confirmed and
    dismissed items."""
    fj = select(func.count(Flag.id)).select_from(Flag).join(Posting, Posting.id == Flag.posting_id)
    by_status = _counts(session, select(Flag.status, func.count()).group_by(Flag.status))
    by_band = _counts(session, select(Posting.risk_band, func.count()).join(Flag, Flag.posting_id == Posting.id).group_by(Posting.risk_band))
    by_source = _counts(session, select(Posting.source, func.count()).join(Flag, Flag.posting_id == Posting.id).group_by(Posting.source))
    by_reason = _counts(session, select(Flag.reason, func.count()).group_by(Flag.reason))
    by_indicator = _counts(
        session,
        select(PostingIndicator.indicator, func.count())
        .join(Flag, Flag.posting_id == PostingIndicator.posting_id)
        .group_by(PostingIndicator.indicator),
    )
    per_status: dict[str, dict[str, int]] = {}
    for ind, status, n in session.execute(
        select(PostingIndicator.indicator, Flag.status, func.count())
        .join(Flag, Flag.posting_id == PostingIndicator.posting_id)
        .group_by(PostingIndicator.indicator, Flag.status)
    ):
        per_status.setdefault(ind, {})[status] = int(n)
    postings_total = session.scalar(select(func.count(Posting.id))) or 0
    postings_flagged = session.scalar(select(func.count(Posting.id)).where(Posting.flagged.is_(True))) or 0
    postings_by_band = _counts(session, select(Posting.risk_band, func.count()).group_by(Posting.risk_band))
    postings_by_source = _counts(session, select(Posting.source, func.count()).group_by(Posting.source))
    reviews_total = session.scalar(select(func.count(Review.id))) or 0
    return {
        "total": int(session.scalar(fj) or 0),
        "by_status": by_status,
        "by_band": by_band,
        "by_source": by_source,
        "by_reason": by_reason,
        "by_indicator": by_indicator,
        "indicator_status": per_status,
        "postings": {
            "total": int(postings_total), "flagged": int(postings_flagged),
            "by_band": postings_by_band, "by_source": postings_by_source,
        },
        "reviews": int(reviews_total),
    }


def agencies(session: Session, kind: str | None = None, q: str | None = None, min_postings: int = 2, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Identifiers seen in several postings (phones and Zalo numbers counted together), with how
    many postings, queue items and confirmed items each ties together."""
    k = sa.case((Identifier.kind == "zalo", "phone"), else_=Identifier.kind).label("k")
    confirmed = func.sum(sa.case((Flag.status == "confirmed", 1), else_=0))
    base = (
        select(
            k, Identifier.value,
            func.count(sa.distinct(Identifier.posting_id)).label("postings"),
            func.count(sa.distinct(Flag.id)).label("flags"),
            confirmed.label("confirmed"),
            func.max(Posting.risk_score).label("max_score"),
            func.max(Posting.created_at).label("last_seen"),
        )
        .join(Posting, Posting.id == Identifier.posting_id)
        .outerjoin(Flag, Flag.posting_id == Posting.id)
        .group_by(k, Identifier.value)
        .having(func.count(sa.distinct(Identifier.posting_id)) >= min_postings)
    )
    if kind:
        base = base.where(Identifier.kind.in_(link_kinds(kind)))
    if q and q.strip():
        base = base.where(Identifier.value.contains(q.strip().casefold(), autoescape=True))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(
        base.order_by(sa.desc("flags"), sa.desc("postings"), k, Identifier.value).limit(limit).offset(offset)
    )
    return [
        {"kind": kind_, "value": value, "postings": int(p), "flags": int(f), "confirmed": int(c or 0),
         "max_score": float(m) if m is not None else None, "last_seen": ls}
        for kind_, value, p, f, c, m, ls in rows
    ], int(total)
