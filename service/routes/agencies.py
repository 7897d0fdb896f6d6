from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..db import storage
from ..deps import InspectorUser, SessionDep
from ..schemas import AgenciesPublic

router = APIRouter(prefix="/v1", tags=["agencies"])


@router.get("/agencies", response_model=AgenciesPublic, summary="Phones, handles and firms behind several postings")
def agencies(
    session: SessionDep,
    user: InspectorUser,
    kind: Annotated[str | None, Query(description="phone (with Zalo), telegram, company, email, domain, licence, bank_account, facebook")] = None,
    q: Annotated[str | None, Query(description="part of the value")] = None,
    min_postings: Annotated[int, Query(ge=1)] = 2,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict:
    """Identifiers that tie postings together, with how many postings, queue items and
    confirmed items each one links; filter the queue with `GET /v1/flags?agency=VALUE`.
    Role: inspector."""
    items, total = storage.agencies(session, kind, q, min_postings, limit, offset)
    return {"items": items, "total": total}
