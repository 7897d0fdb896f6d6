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
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterable, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy import func, select, tuple_, update
from sqlalchemy.orm import Session, aliased

from ..identifiers import agency_query, link_kinds
from .models import DECISIONS, ROLES, AssessmentHistory, Flag, Identifier, Posting, PostingIndicator, Review, User, utcnow

__all__ = [
    "hash_key", "new_key", "create_user", "user_by_key", "list_users", "rotate_key", "set_active",
    "NewPosting", "IngestResult", "find_postings", "ingest",
    "FlagFilter", "list_flags", "flag_rows", "get_flag", "reviews_for", "linked_postings",
    "add_review", "claim", "release", "export_rows", "stats", "agencies", "ping",
    "UnknownUser", "DuplicateUser", "purge_postings", "postings_to_rescreen", "replace_assessment", "assessment_history",
]

KEY_PREFIX = "sk_"
CHUNK = 500
log = logging.getLogger("service")


class UnknownUser(LookupError):
    pass


class DuplicateUser(ValueError):
    pass


def _insert(session: Session, table: sa.Table):
    """INSERT with the dialect's ON CONFLICT support (SQLite and PostgreSQL); ``session`` may also
    be a Connection (a migration)."""
    bind = session.get_bind() if hasattr(session, "get_bind") else session
    if bind.dialect.name == "postgresql":
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
    with this one, and its near duplicates (shared ``{"kind": "template", "value": group id}``:
    the same ad reposted, whatever the name), most risky first, each with what it shares."""
    mine = identifiers_of(session, posting_id)
    cols = (Posting.id, Posting.source, Posting.external_id, Posting.title,
            Posting.risk_score, Posting.risk_band, Posting.created_at, Flag.id, Flag.status)
    found: list[Any] = []
    if mine:
        conds = [sa.and_(Identifier.kind.in_(link_kinds(i.kind)), Identifier.value == i.value) for i in mine]
        found += session.execute(
            select(Identifier.kind, Identifier.value, *cols)
            .join(Posting, Posting.id == Identifier.posting_id)
            .outerjoin(Flag, Flag.posting_id == Posting.id)
            .where(sa.or_(*conds), Identifier.posting_id != posting_id)
            .order_by(Posting.risk_score.desc(), Posting.id.desc())
            .limit(limit * 4)
        ).all()
    group = session.scalar(select(PostingGroup.group_id).where(PostingGroup.posting_id == posting_id))
    if group is not None:
        found += session.execute(
            select(sa.literal("template"), sa.cast(PostingGroup.group_id, sa.String), *cols)
            .join(Posting, Posting.id == PostingGroup.posting_id)
            .outerjoin(Flag, Flag.posting_id == Posting.id)
            .where(PostingGroup.group_id == group, PostingGroup.posting_id != posting_id)
            .order_by(Posting.risk_score.desc(), Posting.id.desc())
            .limit(limit)
        ).all()
        found.sort(key=lambda r: (-r[6], -r[2]))
    out: dict[int, dict[str, Any]] = {}
    for kind, value, pid, src, ext, title, score, band, created, fid, status in found:
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


def postings_to_rescreen(session: Session, versions: dict[str, str], *, everything: bool = False,
                         after_id: int = 0, limit: int = CHUNK) -> list[Posting]:
    """The next postings (by id, after ``after_id``) whose assessment was made by other versions
    than ``versions`` (all of them with ``everything``)."""
    q = select(Posting).where(Posting.id > after_id).order_by(Posting.id)
    out: list[Posting] = []
    while len(out) < limit:
        rows = list(session.scalars(q.limit(limit)))
        if not rows:
            break
        out.extend(p for p in rows if everything or (p.versions or {}) != versions)
        q = select(Posting).where(Posting.id > rows[-1].id).order_by(Posting.id)
    return out[:limit]


def replace_assessment(session: Session, posting: Posting, new: NewPosting) -> dict[str, Any]:
    """Give ``posting`` the assessment ``new`` (same text, screened again), keeping the old one in
    assessment_history with its versions. A posting newly flagged enters the queue; one that has
    a queue item keeps it whatever the new score (the inspectors decide). ``contacts_changed``
    says whether its identifiers changed (its agency link is then resolved again by the caller).
    Not committed."""
    old_inds = sorted(session.execute(select(PostingIndicator.indicator, PostingIndicator.severity)
                                      .where(PostingIndicator.posting_id == posting.id)).all())
    session.add(AssessmentHistory(
        posting_id=posting.id, versions=posting.versions or {}, risk_score=posting.risk_score,
        risk_band=posting.risk_band, flagged=posting.flagged, indicators={"items": [list(x) for x in old_inds]},
        assessment=posting.assessment or {}, replaced_at=utcnow(), replaced_by=dict(new.versions),
    ))
    changed = (posting.risk_band != new.risk_band or posting.flagged != new.flagged
               or old_inds != sorted(dict(new.indicators).items()))
    old_ids = set(session.execute(select(Identifier.kind, Identifier.value).where(Identifier.posting_id == posting.id)).all())
    contacts_changed = old_ids != {(k, v) for k, v, _ in new.identifiers}
    posting.assessment, posting.screened_text = new.assessment, new.screened_text
    posting.risk_score, posting.risk_band, posting.flagged = new.risk_score, new.risk_band, new.flagged
    posting.versions = dict(new.versions)
    session.execute(sa.delete(PostingIndicator).where(PostingIndicator.posting_id == posting.id))
    session.execute(sa.delete(Identifier).where(Identifier.posting_id == posting.id))
    session.flush()
    inds = [{"posting_id": posting.id, "indicator": i, "severity": s} for i, s in dict(new.indicators).items()]
    ids = [{"posting_id": posting.id, "kind": k, "value": v, "text": t} for k, v, t in new.identifiers]
    if inds:
        session.execute(_insert(session, PostingIndicator.__table__).on_conflict_do_nothing(), inds)
    if ids:
        session.execute(_insert(session, Identifier.__table__).on_conflict_do_nothing(), ids)
    queued = False
    if new.flagged and session.scalar(select(Flag.id).where(Flag.posting_id == posting.id)) is None:
        now = utcnow()
        session.add(Flag(posting_id=posting.id, status="open", reason="flagged", created_at=now, updated_at=now))
        queued = True
    return {"changed": changed, "queued": queued, "contacts_changed": contacts_changed}


def assessment_history(session: Session, posting_id: int) -> list[AssessmentHistory]:
    return list(session.scalars(select(AssessmentHistory).where(AssessmentHistory.posting_id == posting_id)
                                .order_by(AssessmentHistory.id)))


def purge_postings(session: Session, before: datetime, *, dry_run: bool = False, chunk: int = CHUNK) -> dict[str, int]:
    """Delete the postings stored before ``before`` that never entered the queue (not flagged,
    not a tip): their text, assessment, indicators, identifiers and agency links. Queue items
    stay, with their postings and the append-only reviews: they are the inspectors' record.
    A near-duplicate group losing its head gets its earliest surviving member as the new head,
    so reposts still join it (the group keeps its id).
    Chunked, one transaction per chunk, so a purge of millions neither holds a long lock nor
    loses its progress if stopped. Returns the counts (what would go, with ``dry_run``)."""
    unqueued = (select(Posting.id).where(Posting.created_at < before)
                .where(~sa.exists().where(Flag.posting_id == Posting.id)))
    kept = session.scalar(select(func.count()).select_from(Posting).where(Posting.created_at < before)
                          .where(sa.exists().where(Flag.posting_id == Posting.id))) or 0
    out = {"postings": 0, "identifiers": 0, "kept_in_queue": kept}
    if dry_run:
        out["postings"] = session.scalar(select(func.count()).select_from(unqueued.subquery())) or 0
        out["identifiers"] = session.scalar(select(func.count()).select_from(Identifier)
                                            .where(Identifier.posting_id.in_(unqueued))) or 0
        session.rollback()
        return out
    session.commit()
    while True:
        ids = list(session.scalars(unqueued.order_by(Posting.id).limit(chunk)))
        if not ids:
            break
        _promote_group_heads(session, ids)
        out["identifiers"] += session.execute(sa.delete(Identifier).where(Identifier.posting_id.in_(ids))).rowcount or 0
        session.execute(sa.delete(PostingIndicator).where(PostingIndicator.posting_id.in_(ids)))
        session.execute(sa.delete(PostingAgency).where(PostingAgency.posting_id.in_(ids)))
        out["postings"] += session.execute(sa.delete(Posting).where(Posting.id.in_(ids))).rowcount or 0
        session.commit()
    return out


def _promote_group_heads(session: Session, doomed: Sequence[int]) -> None:
    """Before ``doomed`` postings are deleted: for each near-duplicate group whose head (the
    posting holding the signature and band keys new postings are compared with) is among them,
    make its earliest surviving member the head, so reposts still join the group. The group
    keeps its id. Does not commit."""
    from screening.links import band_keys, fingerprint

    gone = set(doomed)
    groups: set[int] = set()
    for part in _chunks(sorted(gone)):
        groups.update(session.scalars(select(PostingGroup.group_id)
                                      .where(PostingGroup.posting_id.in_(list(part)), PostingGroup.signature.is_not(None))))
    if not groups:
        return
    heirs: dict[int, int] = {}
    for part in _chunks(sorted(groups)):
        for g, pid in session.execute(select(PostingGroup.group_id, PostingGroup.posting_id)
                                      .where(PostingGroup.group_id.in_(list(part))).order_by(PostingGroup.posting_id)):
            if pid not in gone:
                heirs.setdefault(g, pid)
    band_rows = []
    for pid in heirs.values():
        text = session.scalar(select(Posting.text).where(Posting.id == pid))
        _, sig = fingerprint(text or "")  # as group_postings fingerprints it at ingest
        if sig is None:  # a short text: its group is joined by exact match only
            continue
        session.execute(sa.update(PostingGroup).where(PostingGroup.posting_id == pid).values(signature=sig))
        band_rows += [{"band_key": b, "posting_id": pid} for b in band_keys(sig)]
    for part in _chunks(band_rows):
        session.execute(_insert(session, NearDupBand.__table__).on_conflict_do_nothing(index_elements=["band_key", "posting_id"]), list(part))


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


# ------------------------------------------------------------------ the licence registry, agencies

from .models import Agency, AgencyGram, NearDupBand, PostingAgency, PostingGroup, RegistryFirm, RegistryHistory, RegistryImport  # noqa: E402

AGENCY_LINK_KINDS = ("phone", "zalo", "email", "telegram", "bank_account", "domain")
CONTACT_KINDS = ("phone", "zalo", "email", "telegram", "bank_account")


@dataclass
class RegistryImportResult:
    version: int
    import_id: int
    firms: int
    new: int
    changed: int
    errors: list[dict[str, Any]]
    relinked: int = 0


def import_registry(session: Session, firms: Sequence[Any], errors: Sequence[Any], file_name: str) -> RegistryImportResult:
    """Store a read licence list (screening.registry.read_registry) as a new version: firms are
    matched on their enterprise code, a changed status is recorded in the history (the first
    listing too), firms of earlier lists are kept (``last_seen`` says which list last had them).
    One transaction."""
    now = utcnow()
    err_rows = [{"line": e.line, "message": e.message} for e in errors]
    try:
        imp = RegistryImport(version=0, file_name=str(file_name)[:500], imported_at=now, rows=len(firms), errors={"rows": err_rows})
        session.add(imp)
        session.flush()
        version = int(session.scalar(select(func.coalesce(func.max(RegistryImport.version), 0))) or 0) + 1
        imp.version = version
        existing = {f.enterprise_code: f for f in session.scalars(select(RegistryFirm))}
        new = changed = 0
        for f in firms:
            row = existing.get(f.enterprise_code)
            if row is None:
                row = RegistryFirm(
                    enterprise_code=f.enterprise_code, name=f.name, licence_no=f.licence_no, status=f.status,
                    address=f.address or None, phones={"items": list(f.phones)}, websites={"items": list(f.websites)},
                    first_seen=imp.id, last_seen=imp.id,
                )
                session.add(row)
                session.flush()
                existing[f.enterprise_code] = row
                session.add(RegistryHistory(firm_id=row.id, import_id=imp.id, status=f.status, previous_status=None, changed_at=now))
                new += 1
                continue
            if row.status != f.status:
                session.add(RegistryHistory(firm_id=row.id, import_id=imp.id, status=f.status, previous_status=row.status, changed_at=now))
                changed += 1
            row.name, row.licence_no, row.status, row.address = f.name, f.licence_no, f.status, f.address or None
            row.phones, row.websites, row.last_seen = {"items": list(f.phones)}, {"items": list(f.websites)}, imp.id
        session.commit()
    except BaseException:
        session.rollback()
        raise
    res = RegistryImportResult(version, imp.id, len(firms), new, changed, err_rows)
    res.relinked = relink_agencies(session)
    return res


def registry_imports(session: Session) -> list[RegistryImport]:
    return list(session.scalars(select(RegistryImport).order_by(RegistryImport.version)))


def registry_firms(session: Session) -> list[RegistryFirm]:
    return list(session.scalars(select(RegistryFirm).order_by(RegistryFirm.id)))


def _as_firm(row: RegistryFirm):
    from screening.registry import Firm

    return Firm(name=row.name, enterprise_code=row.enterprise_code, licence_no=row.licence_no, status=row.status,
                address=row.address or "", phones=tuple(row.phones.get("items", ())), websites=tuple(row.websites.get("items", ())))


def resolver(session: Session):
    """A screening.agency.Resolver over the stored registry (its latest statuses)."""
    from screening.agency import Resolver

    return Resolver(_as_firm(r) for r in registry_firms(session))


@dataclass(frozen=True)
class AgencyFacts:
    """What a posting says about who is behind it."""

    posting_id: int
    names: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    licences: tuple[str, ...] = ()


def facts_of(posting_id: int, company: str | None, identifiers: Iterable[tuple[str, str, str]]) -> AgencyFacts:
    names: list[str] = [company.strip()] if company and company.strip() else []
    phones, domains, licences = [], [], []
    for kind, value, text in identifiers:
        if kind == "company" and not names and text:
            names.append(text.split("\n", 1)[0].strip())
        elif kind in ("phone", "zalo"):
            phones.append(value)
        elif kind == "domain":
            domains.append(value)
        elif kind == "licence":
            licences.append(text or value)
    return AgencyFacts(posting_id, tuple(dict.fromkeys(names)), tuple(dict.fromkeys(phones)), tuple(dict.fromkeys(domains)), tuple(dict.fromkeys(licences)))


def _agency_id(session: Session, key: str, name: str, norm: str, firm_id: int | None) -> int:
    stmt = _insert(session, Agency.__table__).values(key=key, name=name, norm_name=norm[:300], firm_id=firm_id, created_at=utcnow())
    aid = session.scalar(stmt.on_conflict_do_nothing(index_elements=["key"]).returning(Agency.id))
    if aid is not None:  # new: index its name for the search
        index_agency_names(session, [(int(aid), name)])
        return int(aid)
    return int(session.scalar(select(Agency.id).where(Agency.key == key)))


def name_grams(name: str) -> set[str]:
    """The trigrams (of space-padded words) of a name's normalised form and of its distinctive
    part: "Cty CP Nhân lực Hưng Thịnh" -> " nh", "nha", …, " hu", "hun", …"""
    from screening.registry import normalise_name

    return _trigrams(set(normalise_name(name).split()) | set(normalise_name(name, keep_trade=False).split()))


def _trigrams(words: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for w in words:
        p = f" {w[:60]} "
        out.update(p[i : i + 3] for i in range(len(p) - 2))
    return out


def index_agency_names(session: Session, agencies_: Sequence[tuple[int, str]]) -> None:
    """Add agencies' name trigrams to the search index (``session`` may be a Connection)."""
    rows = [{"gram": g, "agency_id": aid} for aid, name in agencies_ for g in sorted(name_grams(name))]
    for part in _chunks(rows):
        session.execute(_insert(session, AgencyGram.__table__).on_conflict_do_nothing(index_elements=["gram", "agency_id"]), list(part))


def group_postings(session: Session, postings: Sequence[tuple[int, str]]) -> dict[int, int]:
    """Assign stored postings (id, text as sent; in id order) to near-duplicate groups and store
    them: the same folded text joins its group; else a MinHash LSH candidate (a group's head
    sharing a band key) at estimated Jaccard >= 0.8 is the group, the earliest first; else the
    posting starts a group (its id) and its band keys are stored. A group's head is its first
    posting, or the member ``purge_postings`` promoted when that one was purged (the group keeps
    its id). The rule of ``screening.links.NearDuplicates``; the firm names are not part of the
    text. Returns {posting id: group id}; a posting already grouped keeps its group. Does not commit
    (``session`` may be a Connection)."""
    from screening.links import NEAR_THRESHOLD, band_keys, fingerprint, similarity

    if not postings:
        return {}
    pids = [pid for pid, _ in postings]
    out: dict[int, int] = {}
    for part in _chunks(pids):
        out.update(session.execute(select(PostingGroup.posting_id, PostingGroup.group_id).where(PostingGroup.posting_id.in_(list(part)))).all())
    todo = [(pid, *fingerprint(text or "")) for pid, text in postings if pid not in out]
    if not todo:
        return out
    exact: dict[int, int] = {}
    for part in _chunks(sorted({k for _, k, _ in todo})):
        for k, g in session.execute(select(PostingGroup.exact_key, PostingGroup.group_id)
                                    .where(PostingGroup.exact_key.in_(list(part))).order_by(PostingGroup.posting_id)):
            exact.setdefault(k, g)
    bands = {pid: band_keys(sig) for pid, _, sig in todo if sig is not None}
    heads_by_band: dict[int, set[int]] = {}
    for part in _chunks(sorted({b for bs in bands.values() for b in bs})):
        for b, pid in session.execute(select(NearDupBand.band_key, NearDupBand.posting_id).where(NearDupBand.band_key.in_(list(part)))):
            heads_by_band.setdefault(b, set()).add(pid)
    # A head's group is not always its id: a head promoted by purge_postings keeps its group's id.
    sigs: dict[int, bytes] = {}
    group_of: dict[int, int] = {}
    for part in _chunks(sorted({p for ps in heads_by_band.values() for p in ps})):
        for h, g, hsig in session.execute(select(PostingGroup.posting_id, PostingGroup.group_id, PostingGroup.signature)
                                          .where(PostingGroup.posting_id.in_(list(part)), PostingGroup.signature.is_not(None))):
            sigs[h], group_of[h] = hsig, g
    rows, band_rows = [], []
    for pid, key, sig in todo:
        head = False
        group = exact.get(key)
        if group is None and sig is not None:
            cands = sorted({h for b in bands[pid] for h in heads_by_band.get(b, ()) if h in sigs}, key=lambda h: (group_of[h], h))
            group = next((group_of[h] for h in cands if similarity(sig, sigs[h]) >= NEAR_THRESHOLD), None)
            if group is None:
                head = True
                sigs[pid], group_of[pid] = sig, pid
                for b in bands[pid]:
                    heads_by_band.setdefault(b, set()).add(pid)
                    band_rows.append({"band_key": b, "posting_id": pid})
        if group is None:
            group = pid
        exact.setdefault(key, group)
        out[pid] = group
        rows.append({"posting_id": pid, "group_id": group, "exact_key": key, "signature": sig if head else None})
    for part in _chunks(rows):
        session.execute(_insert(session, PostingGroup.__table__).on_conflict_do_nothing(index_elements=["posting_id"]), list(part))
    for part in _chunks(band_rows):
        session.execute(_insert(session, NearDupBand.__table__).on_conflict_do_nothing(index_elements=["band_key", "posting_id"]), list(part))
    return out


def refingerprint(session: Session, chunk: int = CHUNK) -> int:
    """Recompute the stored fingerprints of the postings whose fingerprint reading through HTML
    (and the 100,000-character head) changed: the exact key of each, and the signature and band
    keys of a group's head. Groups keep their members. Returns how many rows were updated. Does
    not commit (``session`` may be a Connection, as in migration 0005)."""
    from screening.links import MAX_CHARS, band_keys, fingerprint

    n, last = 0, 0
    may_change = sa.or_(Posting.text.like("%<%"), Posting.text.like("%&%"), sa.func.length(Posting.text) > MAX_CHARS)
    while True:
        rows = session.execute(
            select(Posting.id, Posting.text, PostingGroup.signature.is_not(None))
            .join(PostingGroup, PostingGroup.posting_id == Posting.id)
            .where(Posting.id > last, may_change).order_by(Posting.id).limit(chunk)
        ).all()
        if not rows:
            return n
        for pid, text, is_head in rows:
            key, sig = fingerprint(text or "")
            values: dict[str, Any] = {"exact_key": key}
            if is_head:
                values["signature"] = sig
                session.execute(sa.delete(NearDupBand).where(NearDupBand.posting_id == pid))
                if sig is not None:
                    session.execute(_insert(session, NearDupBand.__table__).on_conflict_do_nothing(index_elements=["band_key", "posting_id"]),
                                    [{"band_key": b, "posting_id": pid} for b in band_keys(sig)])
            session.execute(sa.update(PostingGroup).where(PostingGroup.posting_id == pid).values(**values))
            n += 1
        last = rows[-1][0]


def group_ungrouped(session: Session, chunk: int = CHUNK) -> int:
    """Group the stored postings that have no group (their grouping at ingest failed), in id
    order; commits each chunk; returns how many."""
    n = 0
    while True:
        rows = [(pid, text) for pid, text in session.execute(
            select(Posting.id, Posting.text)
            .where(~select(PostingGroup.posting_id).where(PostingGroup.posting_id == Posting.id).exists())
            .order_by(Posting.id).limit(chunk))]
        if not rows:
            return n
        group_postings(session, rows)
        session.commit()
        n += len(rows)


def _unregistered_key(name: str) -> tuple[str, str] | None:
    from screening.registry import normalise_name

    core = normalise_name(name, keep_trade=False)
    if len(core) < 4:
        return None
    return "name:" + core[:290], core


def assign_agencies(session: Session, facts: Sequence[AgencyFacts], res=None) -> int:
    """Resolve postings to agencies: a registry firm when the names, phones, sites or licence
    numbers resolve to one, else an unregistered agency for the firm name written (none when the
    ad names no firm, and a link it had is removed). Commits; returns how many postings were
    linked."""
    if not facts:
        return 0
    from screening.agency import NAME_THRESHOLD  # noqa: F401 - the resolver's threshold applies

    res = res if res is not None else resolver(session)
    firm_ids = {code: fid for fid, code in session.execute(select(RegistryFirm.id, RegistryFirm.enterprise_code))}
    ids: dict[str, int] = {}  # agency key -> id, within this call

    def agency_id(key: str, name: str, norm: str, firm_id: int | None) -> int:
        if key not in ids:
            ids[key] = _agency_id(session, key, name, norm, firm_id)
        return ids[key]

    rows = []
    try:
        for f in facts:
            r = res.resolve(f.names, f.phones, f.domains, f.licences)
            if r.firm is not None and f.names and not any(v.startswith(("name ", "licence ")) for v in r.via):
                # The ad names a firm the registry does not know, with a contact or site of a
                # registry firm: the named firm is the agency, the registry firm a contradiction.
                from screening.agency import Resolution

                r = Resolution(None, 0.0, (), r.contradictions + (f"{'; '.join(r.via)} of registry firm {r.firm.name} ({r.firm.status}) under the name {f.names[0]!r}",))
            if r.firm is not None:
                aid = agency_id("firm:" + r.firm.enterprise_code, r.firm.name, r.firm.norm_name, firm_ids.get(r.firm.enterprise_code))
            elif f.names and (k := _unregistered_key(f.names[0])) is not None:
                aid = agency_id(k[0], f.names[0][:300], k[1], None)
            else:
                continue
            rows.append({"posting_id": f.posting_id, "agency_id": aid, "confidence": r.confidence if r.firm else 0.0,
                         "via": {"via": list(r.via), "contradictions": list(r.contradictions), "names": list(f.names)}})
        if rows:
            stmt = _insert(session, PostingAgency.__table__)
            stmt = stmt.on_conflict_do_update(index_elements=["posting_id"], set_={
                "agency_id": stmt.excluded.agency_id, "confidence": stmt.excluded.confidence, "via": stmt.excluded.via})
            session.execute(stmt, rows)
        # a posting that now resolves to no agency loses the link it had (re-screened, relinked)
        unlinked = sorted({f.posting_id for f in facts} - {r["posting_id"] for r in rows})
        if unlinked:
            session.execute(sa.delete(PostingAgency).where(PostingAgency.posting_id.in_(unlinked)))
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return len(rows)


def relink_agencies(session: Session, chunk: int = CHUNK) -> int:
    """Resolve every stored posting again (after a registry import): a firm now in the registry
    takes over the postings of its unregistered name. Postings whose near-duplicate grouping
    failed at ingest are grouped too; a grouping failure is logged and the relink goes on (it
    runs after the import has committed; the next import tries the grouping again)."""
    try:
        group_ungrouped(session)
    except Exception:  # noqa: BLE001 - the postings stay stored, ungrouped
        session.rollback()
        log.exception("grouping the postings left ungrouped failed")
    res = resolver(session)
    n, last = 0, 0
    while True:
        posts = list(session.execute(select(Posting.id, Posting.company).where(Posting.id > last).order_by(Posting.id).limit(chunk)))
        if not posts:
            # An unregistered name whose postings all went to a registry firm is gone.
            session.execute(sa.delete(Agency).where(
                Agency.firm_id.is_(None), ~select(PostingAgency.posting_id).where(PostingAgency.agency_id == Agency.id).exists()))
            session.commit()
            return n
        ids = [p for p, _ in posts]
        idents: dict[int, list[tuple[str, str, str]]] = {p: [] for p in ids}
        for pid, kind, value, text in session.execute(
            select(Identifier.posting_id, Identifier.kind, Identifier.value, Identifier.text).where(Identifier.posting_id.in_(ids)).order_by(Identifier.id)
        ):
            idents[pid].append((kind, value, text or ""))
        n += assign_agencies(session, [facts_of(pid, company, idents[pid]) for pid, company in posts], res)
        last = ids[-1]


def _agency_postings(session: Session, agency_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {a: [] for a in agency_ids}
    for part in _chunks(list(agency_ids)):
        rows = session.execute(
            select(PostingAgency.agency_id, PostingAgency.confidence, PostingAgency.via, Posting.id, Posting.source, Posting.external_id,
                   Posting.title, Posting.company, Posting.url, Posting.posted_at, Posting.created_at, Posting.risk_score, Posting.risk_band,
                   Posting.assessment, Flag.id, Flag.status)
            .join(Posting, Posting.id == PostingAgency.posting_id)
            .outerjoin(Flag, Flag.posting_id == Posting.id)
            .where(PostingAgency.agency_id.in_(list(part)))
            .order_by(Posting.id)
        )
        for aid, conf, via, pid, src, ext, title, company, url, posted, created, score, band, assessment, fid, status in rows:
            out[aid].append({
                "id": pid, "source": src, "external_id": ext, "title": title, "company": company, "url": url,
                "posted_at": posted, "created_at": created, "risk_score": score, "risk_band": band,
                "assessment": assessment, "flag_id": fid, "status": status, "confidence": conf,
                "via": (via or {}).get("via", []), "contradictions": (via or {}).get("contradictions", []),
            })
    return out


def _firms_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, RegistryFirm]:
    ids = [i for i in set(ids) if i is not None]
    return {f.id: f for f in session.scalars(select(RegistryFirm).where(RegistryFirm.id.in_(ids)))} if ids else {}


def _linked(session: Session, agency: Agency, postings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Other agencies whose postings share a contact or a site with this one's, and registry
    firms whose listed phones or sites this one's postings carry."""
    pids = [p["id"] for p in postings]
    if not pids:
        return []
    mine = set()
    for part in _chunks(pids):
        mine |= {(("phone" if k == "zalo" else k), v) for k, v in session.execute(
            select(Identifier.kind, Identifier.value).where(Identifier.posting_id.in_(list(part)), Identifier.kind.in_(AGENCY_LINK_KINDS)))}
    out: dict[Any, dict[str, Any]] = {}
    if mine:
        conds = [sa.and_(Identifier.kind.in_(link_kinds(k)), Identifier.value == v) for k, v in mine]
        for part in _chunks(conds, 200):
            rows = session.execute(
                select(Identifier.kind, Identifier.value, Agency.id, Agency.name, Agency.firm_id)
                .join(PostingAgency, PostingAgency.posting_id == Identifier.posting_id)
                .join(Agency, Agency.id == PostingAgency.agency_id)
                .where(sa.or_(*part), Agency.id != agency.id)
            )
            for kind, value, aid, name, firm_id in rows:
                item = out.setdefault(aid, {"id": aid, "name": name, "firm_id": firm_id, "via": []})
                v = {"kind": "phone" if kind == "zalo" else kind, "value": value}
                if v not in item["via"]:
                    item["via"].append(v)
        # Registry firms whose own phones / sites appear on these ads.
        for f in registry_firms(session):
            if f.id == agency.firm_id:
                continue
            via = [{"kind": "phone", "value": p} for p in f.phones.get("items", ()) if ("phone", p) in mine]
            via += [{"kind": "domain", "value": d} for d in f.websites.get("items", ()) if ("domain", d) in mine]
            if not via:
                continue
            aid = session.scalar(select(Agency.id).where(Agency.firm_id == f.id))
            key = aid if aid is not None else f"firm:{f.enterprise_code}"
            item = out.setdefault(key, {"id": aid, "name": f.name, "firm_id": f.id, "via": []})
            for v in via:
                if v not in item["via"]:
                    item["via"].append({**v, "registry": True})
    firms = _firms_by_id(session, [i["firm_id"] for i in out.values()])
    for item in out.values():
        fr = firms.get(item.pop("firm_id"))
        item["licence_status"] = fr.status if fr else None
        item["registry_firm"] = fr.name if fr else None
    return sorted(out.values(), key=lambda i: (-len(i["via"]), str(i["name"])))


def _duplicates(session: Session, agency_id: int, postings: list[dict[str, Any]], limit: int = 2000) -> list[dict[str, Any]]:
    """This agency's ads whose near-duplicate group (assigned at ingest) holds ads of other
    names or of no named firm: each with its group and the other names (one posting each)."""
    if not postings:
        return []
    group_of: dict[int, int] = {}
    for part in _chunks([p["id"] for p in postings]):
        group_of.update(session.execute(select(PostingGroup.posting_id, PostingGroup.group_id)
                                        .where(PostingGroup.posting_id.in_(list(part)))).all())
    others: dict[int, dict[Any, dict[str, Any]]] = {}
    for part in _chunks(sorted(set(group_of.values()))):
        rows = session.execute(
            select(PostingGroup.group_id, PostingGroup.posting_id, Posting.external_id, PostingAgency.agency_id, Agency.name)
            .join(Posting, Posting.id == PostingGroup.posting_id)
            .outerjoin(PostingAgency, PostingAgency.posting_id == PostingGroup.posting_id)
            .outerjoin(Agency, Agency.id == PostingAgency.agency_id)
            .where(PostingGroup.group_id.in_(list(part)), sa.or_(PostingAgency.agency_id.is_(None), PostingAgency.agency_id != agency_id))
            .order_by(PostingGroup.posting_id).limit(limit))
        for gid, pid, ext, aid, name in rows:
            others.setdefault(gid, {}).setdefault(aid, {"agency_id": aid, "agency_name": name or "(no firm named)",
                                                        "posting_id": pid, "external_id": ext})
    out = []
    for p in postings:
        g = group_of.get(p["id"])
        if g in others:
            out.append({"posting_id": p["id"], "external_id": p["external_id"], "group": g, "others": list(others[g].values())})
    return out


def _profile(session: Session, agency: Agency, postings: list[dict[str, Any]], firm: RegistryFirm | None, scoring: dict[str, Any], *, full: bool) -> dict[str, Any]:
    from screening.agency_profile import profile

    linked = _linked(session, agency, postings)
    dups = _duplicates(session, agency.id, postings) if full else []
    contradictions = [c for p in postings for c in p["contradictions"]]
    firm_d = {"name": firm.name, "licence_no": firm.licence_no, "enterprise_code": firm.enterprise_code} if firm else None
    prof = profile(postings, licence_status=firm.status if firm else None, firm=firm_d, linked=linked,
                   duplicates=dups, contradictions=contradictions, scoring=scoring)
    prof["linked"] = linked
    prof["duplicates"] = dups
    return prof


_NORMALISED: Any = None


def _normalised_name():
    """screening.registry.normalise_name with a cache: agency names repeat from search to search."""
    global _NORMALISED
    if _NORMALISED is None:
        from functools import lru_cache

        from screening.registry import normalise_name

        _NORMALISED = lru_cache(maxsize=50_000)(normalise_name)
    return _NORMALISED


COMMON_GRAM = 5000  # a trigram of at least this many agencies does not pick candidates


def _gram_agencies(session: Session, gram: str) -> int:
    """How many agencies have this name trigram, counted up to COMMON_GRAM (reads at most that)."""
    sub = select(AgencyGram.agency_id).where(AgencyGram.gram == gram).limit(COMMON_GRAM).subquery()
    return int(session.scalar(select(func.count()).select_from(sub)) or 0)


SEARCH_CANDIDATES = 1000  # most agencies (sharing the most name trigrams with a query) scored with rapidfuzz


def search_agencies(session: Session, q: str | None, scoring: dict[str, Any], limit: int = 20, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Agencies best matching ``q`` (a firm name as written, fuzzy; or a phone), each with its
    licence status, risk and linked identities and ``match`` (0-1); without ``q``, the most
    recent. The name trigram index picks the agencies sharing at least half the trigrams of the
    query's distinctive part (those of fewer than ``COMMON_GRAM`` agencies, when there are any;
    at most ``SEARCH_CANDIDATES``, the most shared first); only those are scored (rapidfuzz, at
    least 70), so ``total`` counts the matches among them."""
    from rapidfuzz import fuzz

    from screening.registry import normalise_name

    match: dict[int, float] = {}
    norm_of = _normalised_name()
    if not (q and q.strip()):
        total = int(session.scalar(select(func.count()).select_from(Agency)) or 0)
        agencies_ = list(session.scalars(select(Agency).order_by(Agency.id.desc()).offset(offset).limit(limit)))
        offset = 0
    else:
        kinds, value, exact = agency_query(q)
        by_phone: set[int] = set()
        if exact:
            by_phone = set(session.scalars(
                select(PostingAgency.agency_id).join(Identifier, Identifier.posting_id == PostingAgency.posting_id)
                .where(Identifier.kind.in_(kinds), Identifier.value == value)))
        norm, core = normalise_name(q), normalise_name(q, keep_trade=False)
        grams = sorted(_trigrams(core.split()))  # the distinctive part: trade words match too many
        # Trigrams as common as "ng " would make the count read much of the index: count on the
        # rarer ones (each under COMMON_GRAM agencies), so the work stays bounded as agencies grow.
        rare = [g for g in grams if _gram_agencies(session, g) < COMMON_GRAM]
        grams = rare or grams
        cand_ids = set(by_phone)
        if grams:
            hits = func.count()
            cand_ids |= set(session.scalars(
                select(AgencyGram.agency_id).where(AgencyGram.gram.in_(grams)).group_by(AgencyGram.agency_id)
                .having(hits * 2 >= len(grams))  # at least half of them
                .order_by(hits.desc(), AgencyGram.agency_id).limit(SEARCH_CANDIDATES)))
        scored = []
        for part in _chunks(sorted(cand_ids)):
            for a in session.scalars(select(Agency).where(Agency.id.in_(list(part)))):
                s = 100.0 if a.id in by_phone else max(
                    fuzz.token_set_ratio(norm, norm_of(a.name)), fuzz.ratio(core, a.norm_name) if core else 0,
                    fuzz.partial_ratio(core, a.norm_name) if len(core) >= 4 else 0)
                if s >= 70:
                    scored.append((s, a))
        scored.sort(key=lambda t: (-t[0], t[1].id))
        agencies_ = [a for _, a in scored]
        match = {a.id: s for s, a in scored}
        total = len(agencies_)
    page = agencies_[offset : offset + limit]
    posts = _agency_postings(session, [a.id for a in page])
    firms = _firms_by_id(session, [a.firm_id for a in page])
    items = []
    for a in page:
        firm = firms.get(a.firm_id) if a.firm_id else None
        prof = _profile(session, a, posts[a.id], firm, scoring, full=False)
        items.append({
            "id": a.id, "name": a.name, "registry_firm": firm.name if firm else None,
            "licence_no": firm.licence_no if firm else None, "licence_status": prof["licence_status"],
            "risk_score": prof["risk_score"], "risk_band": prof["risk_band"], "postings": len(posts[a.id]),
            "match": round(match[a.id] / 100.0, 3) if a.id in match else None,
            "signs": [s["id"] for s in prof["signs"]],
            "linked": [{"id": i["id"], "name": i["name"], "via": i["via"]} for i in prof["linked"]],
        })
    return items, total


def agency_profile(session: Session, agency_id: int, scoring: dict[str, Any]) -> dict[str, Any] | None:
    """An agency's full profile: its registry record and history, postings (with external_id),
    the indicators across them, fees against the caps, linked identities, reposted templates,
    the agency-level signs with a score and band, and a timeline."""
    a = session.get(Agency, agency_id)
    if a is None:
        return None
    postings = _agency_postings(session, [a.id])[a.id]
    firm = session.get(RegistryFirm, a.firm_id) if a.firm_id else None
    prof = _profile(session, a, postings, firm, scoring, full=True)
    timeline: list[dict[str, Any]] = []
    registry = None
    if firm is not None:
        hist = list(session.execute(
            select(RegistryHistory, RegistryImport.version, RegistryImport.file_name)
            .join(RegistryImport, RegistryImport.id == RegistryHistory.import_id)
            .where(RegistryHistory.firm_id == firm.id).order_by(RegistryHistory.id)))
        registry = {
            "enterprise_code": firm.enterprise_code, "name": firm.name, "licence_no": firm.licence_no, "status": firm.status,
            "address": firm.address, "phones": firm.phones.get("items", []), "websites": firm.websites.get("items", []),
            "history": [{"version": v, "file_name": fn, "status": h.status, "previous_status": h.previous_status, "at": h.changed_at} for h, v, fn in hist],
        }
        for h, v, fn in hist:
            what = f"registry v{v}: listed {h.status}" if h.previous_status is None else f"registry v{v}: {h.previous_status} → {h.status}"
            timeline.append({"at": h.changed_at, "event": "registry", "text": what})
    fids = [p["flag_id"] for p in postings if p["flag_id"]]
    revs = reviews_for(session, fids) if fids else {}
    for p in postings:
        timeline.append({"at": p["posted_at"] or p["created_at"], "event": "posting",
                         "text": f"ad {p['external_id']} ({p['source']}): {p['risk_band']} {p['risk_score']:.2f}", "posting_id": p["id"]})
        for r in revs.get(p["flag_id"], []):
            timeline.append({"at": r.created_at, "event": "review", "text": f"{r.reviewer}: {r.decision} (ad {p['external_id']})", "posting_id": p["id"]})
    timeline.sort(key=lambda e: e["at"])
    for p in postings:
        p["indicators"] = [i["id"] for i in (p.get("assessment") or {}).get("indicators", ())]
        p.pop("assessment", None)
    return {"id": a.id, "name": a.name, "registry": registry, "postings": postings, "timeline": timeline, **prof}


def agency_by_name(session: Session, name: str, scoring: dict[str, Any]) -> dict[str, Any] | None:
    items, _ = search_agencies(session, name, scoring, limit=1)
    return agency_profile(session, items[0]["id"], scoring) if items else None
