"""Queue filters from query parameters, shared by GET /v1/flags, GET /v1/export and the queue page.

Lists may be given as repeated parameters or comma-separated: ``?status=open,escalated``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query

from .db.models import STATUSES
from .db.storage import SORTS, FlagFilter

__all__ = ["FilterParams", "flag_filter", "parse_sort"]

BANDS = ("high", "medium", "low")
REASONS = ("flagged", "tip")


def _split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return list(dict.fromkeys(out))


def _check(name: str, values: list[str], allowed: tuple[str, ...]) -> list[str]:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise HTTPException(422, f"{name}: unknown value(s) {', '.join(bad)}; one of {', '.join(allowed)}")
    return values


def flag_filter(
    status: Annotated[list[str] | None, Query(description="open, confirmed, dismissed, escalated, needs_info (comma-separated or repeated)")] = None,
    band: Annotated[list[str] | None, Query(description="high, medium, low")] = None,
    indicator: Annotated[list[str] | None, Query(description="indicator id(s); an item must carry all of them")] = None,
    source: Annotated[list[str] | None, Query(description="posting source(s)")] = None,
    agency: Annotated[str | None, Query(description="a firm, domain, handle (substring) or phone / Zalo number (exact)")] = None,
    reason: Annotated[list[str] | None, Query(description="flagged (by the screener) or tip")] = None,
    q: Annotated[str | None, Query(description="words in the ad")] = None,
    created_from: Annotated[datetime | None, Query(description="queued at or after (ISO 8601)")] = None,
    created_to: Annotated[datetime | None, Query(description="queued at or before")] = None,
    since: Annotated[datetime | None, Query(description="same as created_from")] = None,
    until: Annotated[datetime | None, Query(description="same as created_to")] = None,
    posted_from: Annotated[datetime | None, Query(description="posted at or after")] = None,
    posted_to: Annotated[datetime | None, Query(description="posted at or before")] = None,
) -> FlagFilter:
    return FlagFilter(
        status=_check("status", _split(status), STATUSES),
        band=_check("band", _split(band), BANDS),
        indicator=_split(indicator),
        source=_split(source),
        agency=agency or None,
        reason=_check("reason", _split(reason), REASONS),
        q=q or None,
        created_from=created_from or since,
        created_to=created_to or until,
        posted_from=posted_from,
        posted_to=posted_to,
    )


FilterParams = Annotated[FlagFilter, Depends(flag_filter)]


def parse_sort(sort: str, order: str | None) -> tuple[str, bool]:
    """``score``, ``date`` (queued), ``posted``, ``updated`` or ``id``; a leading ``-`` or ``+``
    (or ``order=asc|desc``) sets the direction; highest / newest first by default."""
    s = (sort or "score").strip()
    descending = True
    if s[:1] in "-+" and s:
        descending = s[0] == "-"
        s = s[1:]
    if s not in SORTS:
        raise HTTPException(422, f"sort: unknown key {s!r}; one of {', '.join(SORTS)}")
    if order:
        if order not in ("asc", "desc"):
            raise HTTPException(422, "order: asc or desc")
        descending = order == "desc"
    return s, descending
