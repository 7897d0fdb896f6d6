from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from ..deps import ScannerUser, ScreenerDep, SessionDep, SettingsDep
from ..ingest import ingest_postings
from ..schemas import AUTH_ERRORS, TOO_LARGE, IngestPublic, PostingsIn

router = APIRouter(prefix="/v1", tags=["postings"], responses={**AUTH_ERRORS, **TOO_LARGE})


@router.post("/postings", response_model=IngestPublic, summary="Ingest postings (idempotent)")
def post_postings(body: PostingsIn, request: Request, user: ScannerUser, session: SessionDep, screener: ScreenerDep, settings: SettingsDep) -> dict:
    """Screens every posting, stores it and queues the flagged ones, in one transaction per call.
    Idempotent on (source, external_id): a posting stored already is not screened again and
    nothing about it changes (its queue item and reviews stay as they are). Role: scanner."""
    if len(body.postings) > settings.max_batch:
        raise HTTPException(413, f"at most {settings.max_batch} postings per call; got {len(body.postings)}")
    items = ingest_postings(session, screener, [p.model_dump() for p in body.postings], request.app.state.pool)
    created = [r for r in items if r.created]
    return {
        "received": len(items),
        "created": len(created),
        "duplicates": len(items) - len(created),
        "flagged": sum(1 for r in created if r.flagged),
        "items": [vars(r) for r in items],
    }
