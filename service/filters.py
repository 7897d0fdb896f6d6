"""Queue filters from query parameters, shared by GET /v1/flags, GET /v1/export and the queue page.

Lists may be given as repeated parameters or comma-separated: ``?status=open,escalated``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from fastapi import Depends, HTTPException, Query
from pydantic import StringConstraints

from .db.models import STATUSES
from .db.storage import SORTS, FlagFilter

__all__ = ["FilterParams", "flag_filter", "parse_sort", "bad_query", "one_of", "SORT_PATTERN"]

BANDS = ("high", "medium", "low")
REASONS = ("flagged", "tip")


def _split(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return list(dict.fromkeys(out))


def one_of(values: tuple[str, ...]) -> str:
    """The pattern of a comma-separated list of ``values`` (so the OpenAPI schema says which)."""
    v = "|".join(values)
    return rf"^\s*(?:(?:{v})\s*)?(?:,\s*(?:(?:{v})\s*)?)*$"


def bad_query(name: str, msg: str, value: object) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors (``{"detail": [{"loc", "msg", "type",
    "input"}]}``, as the OpenAPI schema documents), naming the parameter and what was wrong."""
    return HTTPException(422, [{"type": "value_error", "loc": ["query", name], "msg": f"{name}: {msg}", "input": value}])


def _check(name: str, values: list[str], allowed: tuple[str, ...]) -> list[str]:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise bad_query(name, f"unknown value(s) {', '.join(map(repr, bad))}; one of {', '.join(allowed)}", bad)
    return values


def _when(name: str, v: datetime | None) -> datetime | None:
    """A date the database can hold: aware ones are stored in UTC, so their UTC time must exist."""
    if v is not None and v.tzinfo is not None:
        try:
            v.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            raise bad_query(name, "out of range once converted to UTC", v.isoformat()) from None
    return v


def flag_filter(
    status: Annotated[list[Annotated[str, StringConstraints(pattern=one_of(STATUSES))]] | None, Query(description="open, confirmed, dismissed, escalated, needs_info (comma-separated or repeated)")] = None,
    band: Annotated[list[Annotated[str, StringConstraints(pattern=one_of(BANDS))]] | None, Query(description="high, medium, low")] = None,
    indicator: Annotated[list[str] | None, Query(description="indicator id(s); an item must carry all of them")] = None,
    source: Annotated[list[str] | None, Query(description="posting source(s)")] = None,
    agency: Annotated[str | None, Query(description="a firm, domain, handle (substring) or phone / Zalo number (exact)")] = None,
    reason: Annotated[list[Annotated[str, StringConstraints(pattern=one_of(REASONS))]] | None, Query(description="flagged (by the screener) or tip")] = None,
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
        created_from=_when("created_from", created_from) or _when("since", since),
        created_to=_when("created_to", created_to) or _when("until", until),
        posted_from=_when("posted_from", posted_from),
        posted_to=_when("posted_to", posted_to),
    )


FilterParams = Annotated[FlagFilter, Depends(flag_filter)]


SORT_PATTERN = rf"^\s*[-+]?(?:{'|'.join(SORTS)})\s*$"


def parse_sort(sort: str, order: str | None) -> tuple[str, bool]:
    """``score``, ``date`` (queued), ``posted``, ``updated`` or ``id``; a leading ``-`` or ``+``
    (or ``order=asc|desc``) sets the direction; highest / newest first by default."""
    s = (sort or "score").strip()
    descending = True
    if s[:1] in "-+" and s:
        descending = s[0] == "-"
        s = s[1:]
    if s not in SORTS:
        raise bad_query("sort", f"unknown key {s!r}; one of {', '.join(SORTS)}", sort)
    if order:
        if order not in ("asc", "desc"):
            raise bad_query("order", f"asc or desc, not {order!r}", order)
        descending = order == "desc"
    return s, descending
