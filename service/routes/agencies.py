"""Agencies: who is behind the postings (a registry firm, or a firm name not in the registry),
with a risk profile; and the identifiers (phones, handles, firms…) tying postings together."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request

from ..db import storage
from ..deps import InspectorUser, SessionDep
from ..schemas import AUTH_ERRORS, MAX_ID, NOT_FOUND, IdentifiersPublic

router = APIRouter(prefix="/v1", tags=["agencies"], responses=AUTH_ERRORS)


def scoring_of(request: Request) -> dict[str, Any]:
    return request.app.state.screener.catalogue.scoring


@router.get("/identifiers", response_model=IdentifiersPublic, summary="Phones, handles and firms behind several postings")
def identifiers(
    session: SessionDep,
    user: InspectorUser,
    kind: Annotated[str | None, Query(description="phone (with Zalo), telegram, company, email, domain, licence, bank_account, facebook")] = None,
    q: Annotated[str | None, Query(description="part of the value")] = None,
    min_postings: Annotated[int, Query(ge=1, le=1_000_000)] = 2,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> dict:
    """Identifiers that tie postings together, with how many postings, queue items and
    confirmed items each one links; filter the queue with `GET /v1/flags?agency=VALUE`.
    Role: inspector."""
    items, total = storage.agencies(session, kind, q, min_postings, limit, offset)
    return {"items": items, "total": total}


@router.get("/agencies", summary="Agencies by name (fuzzy) or phone, with licence status and risk")
def agencies(
    request: Request,
    session: SessionDep,
    user: InspectorUser,
    # at most 200 characters: the search counts agencies per distinct trigram of q
    q: Annotated[str | None, Query(max_length=200, description="a firm name as an ad writes it, a brand, or a phone (at most 200 characters)")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> dict:
    """`{"items": [{"id", "name", "licence_status", "risk_score", "risk_band", "linked":
    [{"id", "name", "via"}], …}], "total"}`, best match first. `licence_status`: active,
    revoked, suspended, surrendered (the registry), unlicensed (recruits for work abroad, not in
    the registry) or null. Role: inspector."""
    items, total = storage.search_agencies(session, q, scoring_of(request), limit, offset)
    return {"items": items, "total": total}


@router.get("/agencies/{agency_id}", responses=NOT_FOUND, summary="An agency's profile: postings, indicators, fees, links, signs, timeline")
def agency(request: Request, agency_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep, user: InspectorUser) -> dict:
    """The agency with its registry record, postings (with `external_id`), the indicators
    across them, fees against the caps, linked identities, reposted templates, the agency-level
    signs with their evidence, `risk_score` / `risk_band`, and a timeline. Role: inspector."""
    prof = storage.agency_profile(session, agency_id, scoring_of(request))
    if prof is None:
        raise HTTPException(404, "no such agency")
    return prof
