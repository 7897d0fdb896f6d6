from __future__ import annotations

from fastapi import APIRouter

from ..db import storage
from ..deps import InspectorUser, SessionDep, SettingsDep
from ..schemas import AUTH_ERRORS, StatsPublic
from ..views import precision_table

router = APIRouter(prefix="/v1", tags=["stats"], responses=AUTH_ERRORS)


@router.get("/stats", response_model=StatsPublic, summary="Counts, and each indicator's precision so far")
def stats(session: SessionDep, user: InspectorUser, settings: SettingsDep) -> dict:
    """Queue items by status, band, indicator and source; each indicator's precision as the
    reviews measure it (confirmed / (confirmed + dismissed)); `misleading` lists the indicators
    with enough such reviews and a precision under one half. Role: inspector."""
    return precision_table(storage.stats(session), settings.precision_min_reviews)
