"""Screening postings for storage: the library call and the shaping of what is stored. Runs
outside any database transaction."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any, Iterable

from sqlalchemy.orm import Session

from .db import storage
from .identifiers import identifiers_from_assessment

log = logging.getLogger("service")

__all__ = ["screen_posting", "ingest_postings", "add_tip", "link_agencies", "rescreen", "TIP_SOURCE", "ScreeningFailed"]

TIP_SOURCE = "job_centre"


class ScreeningFailed(RuntimeError):
    """The screener raised on a posting: the call stores nothing and says which posting."""

    def __init__(self, source: str, external_id: str, error: str):
        super().__init__(source, external_id, error)
        self.source, self.external_id, self.error = source, external_id, error

    def __str__(self) -> str:
        return f"screening failed on posting (source {self.source!r}, external_id {self.external_id!r}): {self.error}"


def screen_posting(
    screener,
    *,
    source: str,
    external_id: str,
    text: str,
    title: str | None = None,
    company: str | None = None,
    url: str | None = None,
    posted_at: datetime | None = None,
) -> storage.NewPosting:
    try:
        a = screener.screen(text, title=title, company=company, url=url)
        d = screener.to_dict(a)
    except Exception as exc:  # a library fault: name the posting, store nothing of the batch
        raise ScreeningFailed(source, external_id, f"{type(exc).__name__}: {exc}") from exc
    return storage.NewPosting(
        source=source,
        external_id=external_id,
        text=text,
        screened_text=a.text,
        assessment=d,
        risk_score=float(d["risk_score"]),
        risk_band=d["risk_band"],
        flagged=bool(d["flagged"]),
        versions=dict(d.get("versions") or screener.versions),
        indicators=tuple((i["id"], i["severity"]) for i in d["indicators"]),
        identifiers=tuple(identifiers_from_assessment(d, company)),
        title=title,
        company=company,
        url=url,
        posted_at=posted_at,
    )


def ingest_postings(session: Session, screener, postings: Iterable[dict[str, Any]], pool=None) -> list[storage.IngestResult]:
    """Screen the postings not stored yet (on ``pool``'s processes when there are many), then
    store them all in one transaction. A posting already stored (same source and external_id)
    is neither screened again nor changed."""
    postings = list(postings)
    keys = [(p["source"], p["external_id"]) for p in postings]
    known = storage.find_postings(session, keys)
    session.commit()  # end the read before the (long) screening (commit: loaded objects stay loaded)
    fresh: dict[tuple[str, str], dict[str, Any]] = {}
    for p, key in zip(postings, keys):
        if key not in known and key not in fresh:
            fresh[key] = {k: p.get(k) for k in ("source", "external_id", "text", "title", "company", "url", "posted_at")}
    if pool is not None and len(fresh) >= pool.min_batch:
        screened = pool.screen(list(fresh.values()))
    else:
        screened = [screen_posting(screener, **r) for r in fresh.values()]
    todo = {(p.source, p.external_id): p for p in screened}
    stored = {(r.source, r.external_id): r for r in storage.ingest(session, list(todo.values()))}
    link_agencies(session, [(r.posting_id, todo[k]) for k, r in stored.items() if r.created and r.posting_id and k in todo])
    out: list[storage.IngestResult] = []
    reported: set[tuple[str, str]] = set()
    for key in keys:
        r = stored.get(key)
        if r is not None and r.created and key not in reported:
            reported.add(key)
            out.append(r)
            continue
        res = storage.IngestResult(*key, created=False)
        info = known.get(key)
        if info is not None:
            res.posting_id, res.flag_id = info["posting_id"], info["flag_id"]
            res.flagged, res.risk_score, res.risk_band = info["flagged"], info["risk_score"], info["risk_band"]
        elif r is not None:
            res.posting_id, res.flag_id = r.posting_id, r.flag_id
            res.flagged, res.risk_score, res.risk_band = r.flagged, r.risk_score, r.risk_band
        out.append(res)
    return out


def add_tip(session: Session, screener, *, text: str, note: str | None, submitted_by: int,
            title: str | None = None, company: str | None = None, url: str | None = None) -> storage.IngestResult:
    """An ad brought in by someone: screened and queued whatever its score, source job_centre."""
    p = screen_posting(screener, source=TIP_SOURCE, external_id=f"tip-{uuid.uuid4().hex}", text=text,
                       title=title, company=company, url=url)
    r = storage.ingest(session, [p], queue_all=True, reason="tip", note=note, submitted_by=submitted_by)[0]
    if r.created and r.posting_id:
        link_agencies(session, [(r.posting_id, p)])
    return r


def rescreen(session: Session, screener, *, everything: bool = False, dry_run: bool = False, chunk: int = 200) -> dict[str, int]:
    """Screen stored postings again with ``screener`` (after a rules or model update): those whose
    stored versions differ from the screener's (all with ``everything``). Each earlier assessment
    is kept in assessment_history with its versions, so every change is traceable; newly flagged
    postings enter the queue; queue items and reviews are never changed. Postings whose contacts
    changed (the new rules read a phone the old ones missed) are resolved to agencies again.
    One transaction per chunk. Returns the counts: screened, changed (band, flag or indicators),
    queued, relinked (contacts changed, and linked to an agency again)."""
    versions = dict(screener.versions)
    out = {"screened": 0, "changed": 0, "queued": 0, "relinked": 0}
    res = None  # the registry resolver, built once, when a first posting needs it
    after = 0
    while True:
        batch = storage.postings_to_rescreen(session, versions, everything=everything, after_id=after, limit=chunk)
        if not batch:
            break
        after = batch[-1].id
        relink: list[tuple[int, storage.NewPosting]] = []
        for p in batch:
            new = screen_posting(screener, source=p.source, external_id=p.external_id, text=p.text,
                                 title=p.title, company=p.company, url=p.url, posted_at=p.posted_at)
            out["screened"] += 1
            if dry_run:
                inds = sorted(dict(new.indicators).items())
                old = sorted((i["id"], i["severity"]) for i in (p.assessment or {}).get("indicators", []))
                out["changed"] += int(p.risk_band != new.risk_band or p.flagged != new.flagged or old != inds)
                continue
            r = storage.replace_assessment(session, p, new)
            out["changed"] += int(r["changed"])
            out["queued"] += int(r["queued"])
            if r["contacts_changed"]:
                relink.append((p.id, new))
        if dry_run:
            session.rollback()
            continue
        session.commit()
        if relink:
            try:
                res = res if res is not None else storage.resolver(session)
                out["relinked"] += storage.assign_agencies(
                    session, [storage.facts_of(pid, n.company, n.identifiers) for pid, n in relink], res)
            except Exception:  # noqa: BLE001 - the new assessments are stored; the next registry import relinks
                log.exception("linking %d re-screened posting(s) to agencies failed", len(relink))
    return out


def link_agencies(session: Session, stored: list[tuple[int, storage.NewPosting]]) -> None:
    """Group newly stored postings with their near duplicates and resolve them to agencies
    (after their own transaction: a failure here leaves the postings stored, and
    ``storage.relink_agencies``, run by each registry import, redoes both)."""
    if not stored:
        return
    try:
        storage.group_postings(session, sorted((pid, p.text) for pid, p in stored))
        session.commit()
    except Exception:  # noqa: BLE001 - the postings are stored; they are just not grouped
        session.rollback()
        log.exception("grouping %d posting(s) with their near duplicates failed", len(stored))
    try:
        storage.assign_agencies(session, [storage.facts_of(pid, p.company, p.identifiers) for pid, p in stored])
    except Exception:  # noqa: BLE001 - the postings are stored; linking is redone on the next registry import
        log.exception("linking %d posting(s) to agencies failed", len(stored))
