"""Mapping stored rows to what the API and the pages show (plain dicts matching service.schemas)."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any, Iterable, Iterator

from .db.models import Flag, Posting, Review

__all__ = [
    "flag_public", "flag_detail", "review_public", "evidence_items", "precision_table",
    "EXPORT_COLUMNS", "export_record", "csv_lines", "jsonl_lines",
]


def _excerpt(text: str, n: int = 200) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1].rstrip() + "…"


def flag_public(flag: Flag, posting: Posting, holder: str | None) -> dict[str, Any]:
    inds = (posting.assessment or {}).get("indicators", [])
    return {
        "id": flag.id,
        "posting_id": posting.id,
        "external_id": posting.external_id,
        "source": posting.source,
        "status": flag.status,
        "reason": flag.reason,
        "risk_score": posting.risk_score,
        "risk_band": posting.risk_band,
        "flagged": posting.flagged,
        "indicators": [
            {"id": i["id"], "severity": i["severity"], "name": i.get("name", {}), "evidence": i.get("evidence", [])}
            for i in inds
        ],
        "title": posting.title,
        "company": posting.company,
        "url": posting.url,
        "excerpt": _excerpt(posting.text),
        "note": flag.note,
        "posted_at": posting.posted_at,
        "created_at": flag.created_at,
        "updated_at": flag.updated_at,
        "claimed_by": holder,
        "claimed_at": flag.claimed_at,
    }


def review_public(r: Review) -> dict[str, Any]:
    return {
        "id": r.id, "flag_id": r.flag_id, "reviewer": r.reviewer, "decision": r.decision,
        "note": r.note, "created_at": r.created_at,
    }


def evidence_items(assessment: dict[str, Any]) -> list[dict[str, Any]]:
    out = [
        {"indicator": i["id"], "severity": i["severity"], **{k: e[k] for k in ("start", "end", "text")}}
        for i in assessment.get("indicators", [])
        for e in i.get("evidence", [])
    ]
    return sorted(out, key=lambda e: (e["start"], e["end"]))


def flag_detail(flag: Flag, posting: Posting, holder: str | None, reviews: list[Review], linked: list[dict[str, Any]],
                identifiers: Iterable[Any] = (), earlier: Iterable[Any] = ()) -> dict[str, Any]:
    a = posting.assessment or {}
    d = flag_public(flag, posting, holder)
    d.update({
        "indicators": a.get("indicators", []),
        "not_counted": a.get("not_counted", []),
        "posting": {
            "id": posting.id, "source": posting.source, "external_id": posting.external_id,
            "text": posting.text, "screened_text": posting.screened_text, "title": posting.title,
            "company": posting.company, "url": posting.url, "posted_at": posting.posted_at,
            "created_at": posting.created_at, "versions": posting.versions,
        },
        "evidence": evidence_items(a),
        "explanation": a.get("explanation", {}),
        "entities": a.get("entities", []),
        "classifier": a.get("classifier"),
        "identifiers": [{"kind": i.kind, "value": i.value} for i in identifiers],
        "linked": linked,
        "reviews": [review_public(r) for r in reviews],
        "earlier_assessments": [
            {"versions": h.versions, "risk_score": h.risk_score, "risk_band": h.risk_band, "flagged": h.flagged,
             "indicators": [i for i, _ in (h.indicators or {}).get("items", [])], "replaced_at": h.replaced_at,
             "replaced_by": h.replaced_by}
            for h in earlier
        ],
    })
    return d


def precision_table(raw: dict[str, Any], min_reviews: int) -> dict[str, Any]:
    """Turn storage.stats() into the public statistics: each indicator's precision as the
    reviews measure it (confirmed against dismissed), and the indicators that mislead."""
    table: dict[str, dict[str, Any]] = {}
    conf_all = dism_all = 0
    for ind, n in sorted(raw["by_indicator"].items()):
        st = raw["indicator_status"].get(ind, {})
        c, d = st.get("confirmed", 0), st.get("dismissed", 0)
        conf_all += c
        dism_all += d
        p = c / (c + d) if c + d else None
        table[ind] = {
            "flags": n, "confirmed": c, "dismissed": d, "reviewed": c + d,
            "precision": round(p, 4) if p is not None else None,
            "misleading": bool(p is not None and c + d >= min_reviews and p < 0.5),
        }
    # Overall precision counts queue items, not indicator hits.
    c_items = raw["by_status"].get("confirmed", 0)
    d_items = raw["by_status"].get("dismissed", 0)
    out = {k: v for k, v in raw.items() if k != "indicator_status"}
    out["precision"] = table
    out["overall_precision"] = round(c_items / (c_items + d_items), 4) if c_items + d_items else None
    out["misleading"] = sorted((k for k, v in table.items() if v["misleading"]), key=lambda k: table[k]["precision"])
    return out


EXPORT_COLUMNS = [
    "flag_id", "posting_id", "source", "external_id", "status", "reason", "label", "decision", "reviewer",
    "reviewed_at", "review_note", "reviews_count", "risk_score", "risk_band", "flagged", "indicators",
    "title", "company", "url", "posted_at", "created_at", "tip_note", "engine_version", "rules_version",
    "model_version", "text",
]


def _iso(v: datetime | None) -> str | None:
    return v.isoformat().replace("+00:00", "Z") if v is not None else None


def export_record(flag: Flag, posting: Posting, reviews: list[Review], redact: bool = False) -> dict[str, Any]:
    """One exported item. ``label`` is 1 for confirmed, 0 for dismissed, empty otherwise: what
    retraining takes. With ``redact``, phone numbers, chat handles, e-mails, bank accounts and
    names of private persons in the text, the title, the URL and the notes become placeholders ([SĐT], [TÊN]…); the
    firm's name stays (it is evidence), and so do the reviewers' names (staff)."""
    rec = _export_record(flag, posting, reviews)
    if redact:
        from screening.privacy import redact as redact_text

        keep = [posting.company] if posting.company else []
        rec["text"] = redact_text(rec["text"], keep=keep)
        rec["redacted"] = True
        for k in ("review_note", "tip_note", "title"):
            if rec.get(k):
                rec[k] = redact_text(rec[k], keep=keep)
        if rec.get("url"):  # zalo.me/<phone>, facebook.com/<person>: contacts, not names
            rec["url"] = redact_text(rec["url"], names=False)
        for r in rec["reviews"]:
            if r.get("note"):
                r["note"] = redact_text(r["note"], keep=keep)
    return rec


def _export_record(flag: Flag, posting: Posting, reviews: list[Review]) -> dict[str, Any]:
    last = reviews[-1] if reviews else None
    label = {"confirmed": 1, "dismissed": 0}.get(flag.status)
    v = posting.versions or {}
    return {
        "flag_id": flag.id, "posting_id": posting.id, "source": posting.source, "external_id": posting.external_id,
        "status": flag.status, "reason": flag.reason, "label": label,
        "decision": last.decision if last else None, "reviewer": last.reviewer if last else None,
        "reviewed_at": _iso(last.created_at) if last else None, "review_note": last.note if last else None,
        "reviews_count": len(reviews), "risk_score": posting.risk_score, "risk_band": posting.risk_band,
        "flagged": posting.flagged,
        "indicators": [i["id"] for i in (posting.assessment or {}).get("indicators", [])],
        "title": posting.title, "company": posting.company, "url": posting.url,
        "posted_at": _iso(posting.posted_at), "created_at": _iso(flag.created_at), "tip_note": flag.note,
        "engine_version": v.get("engine"), "rules_version": v.get("rules"), "model_version": v.get("model"),
        "text": posting.screened_text,
        "reviews": [{**review_public(r), "created_at": _iso(r.created_at)} for r in reviews],
    }


def csv_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    yield buf.getvalue()
    for rec in records:
        buf.seek(0)
        buf.truncate()
        row = dict(rec)
        row["indicators"] = ";".join(row["indicators"])
        row["flagged"] = int(bool(row["flagged"]))
        w.writerow({k: "" if v is None else v for k, v in row.items()})
        yield buf.getvalue()


def jsonl_lines(records: Iterable[dict[str, Any]]) -> Iterator[str]:
    for rec in records:
        yield json.dumps(rec, ensure_ascii=False) + "\n"
