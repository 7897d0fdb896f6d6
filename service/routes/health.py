from __future__ import annotations

from fastapi import APIRouter, HTTPException

from ..db import storage
from ..deps import ScreenerDep, SessionDep
from ..schemas import Health, Problem

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Problem, "description": "the database is unreachable"}}, summary="The service is up (no key needed)")
def healthz(session: SessionDep, screener: ScreenerDep) -> dict:
    try:
        storage.ping(session)
    except Exception as exc:  # the database is down: say so, with a 503
        raise HTTPException(503, f"database unreachable: {type(exc).__name__}") from None
    finally:
        session.rollback()
    return {"status": "ok", "database": session.get_bind().dialect.name, "versions": screener.versions}
