from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from ..db import storage
from ..deps import InspectorUser, SessionDep, SettingsDep
from ..filters import SORT_PATTERN, FilterParams, parse_sort
from ..schemas import AUTH_ERRORS, MAX_ID, NOT_FOUND, ClaimIn, ClaimPublic, FlagDetail, FlagPublic, FlagsPublic, ReviewIn, ReviewPublic
from ..views import flag_detail, flag_public, review_public

router = APIRouter(prefix="/v1/flags", tags=["flags"], responses=AUTH_ERRORS)
FlagId = Annotated[int, Path(ge=1, le=MAX_ID, description="the queue item's id")]


@router.get("", response_model=FlagsPublic, summary="The queue, filtered, sorted and paginated")
def list_flags(
    session: SessionDep,
    user: InspectorUser,
    f: FilterParams,
    sort: Annotated[str, Query(pattern=SORT_PATTERN, description="score, date (queued), posted, updated or id; '-' or '+' in front sets the direction")] = "score",
    order: Annotated[Literal["asc", "desc"] | None, Query(description="desc (default) or asc")] = None,
    mine: Annotated[bool, Query(description="only the items I hold")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    page: Annotated[int | None, Query(ge=1, le=MAX_ID // 500, description="1-based page of `limit` items (instead of offset)")] = None,
) -> dict:
    """Role: inspector. Status starts `open`; a review sets it to its decision."""
    key, desc = parse_sort(sort, order)
    if mine:
        f.claimed_by = user.id
    if page is not None:
        offset = (page - 1) * limit
    rows, total = storage.list_flags(session, f, key, desc, limit, offset)
    return {"items": [flag_public(*r) for r in rows], "total": total, "limit": limit, "offset": offset}


@router.post("/claim", response_model=ClaimPublic, summary="Take the next open items no one else holds")
def claim(body: ClaimIn, session: SessionDep, user: InspectorUser, settings: SettingsDep) -> dict:
    """Hands the caller up to `n` open items that no other inspector holds (the caller's own
    held items first, then the riskiest), so a team can work one queue. On PostgreSQL with
    `FOR UPDATE SKIP LOCKED`. A claim lapses after `SCREENING_CLAIM_TTL_MINUTES`."""
    ids = storage.claim(session, user.id, body.n, timedelta(minutes=settings.claim_ttl_minutes))
    rows = storage.flag_rows(session, storage.FlagFilter(ids=ids), limit=None) if ids else []
    return {"items": [flag_public(*r) for r in rows], "total": len(rows)}


@router.get("/{flag_id}", response_model=FlagDetail, responses=NOT_FOUND, summary="One item with its posting, evidence, links and reviews")
def get_flag(flag_id: FlagId, session: SessionDep, user: InspectorUser) -> dict:
    row = storage.get_flag(session, flag_id)
    if row is None:
        raise HTTPException(404, f"no queue item {flag_id}")
    flag, posting, holder = row
    reviews = storage.reviews_for(session, [flag.id])[flag.id]
    linked = storage.linked_postings(session, posting.id)
    idents = storage.identifiers_of(session, posting.id)
    return flag_detail(flag, posting, holder, reviews, linked, idents, storage.assessment_history(session, posting.id))


@router.post("/{flag_id}/review", response_model=ReviewPublic, responses=NOT_FOUND, summary="Record a decision")
def review(flag_id: FlagId, body: ReviewIn, session: SessionDep, user: InspectorUser) -> dict:
    """Appends the review to the item's audit trail (never changed or removed) and sets the
    item's `status` to the decision."""
    r = storage.add_review(session, flag_id, user, body.decision, body.note)
    if r is None:
        raise HTTPException(404, f"no queue item {flag_id}")
    return review_public(r)


@router.post("/{flag_id}/release", response_model=FlagPublic, responses=NOT_FOUND, summary="Give back an item you hold")
def release(flag_id: FlagId, session: SessionDep, user: InspectorUser) -> dict:
    storage.release(session, flag_id, user.id)
    row = storage.get_flag(session, flag_id)
    if row is None:
        raise HTTPException(404, f"no queue item {flag_id}")
    return flag_public(*row)
