from __future__ import annotations

from fastapi import APIRouter

from ..deps import ScreenerDep, SessionDep, TipUser
from ..ingest import TIP_SOURCE, add_tip
from ..schemas import AUTH_ERRORS, TOO_LARGE, TipIn, TipPublic

router = APIRouter(prefix="/v1", tags=["tips"], responses={**AUTH_ERRORS, **TOO_LARGE})


@router.post("/tips", response_model=TipPublic, summary="Send an ad to the inspectors' queue")
def post_tip(body: TipIn, user: TipUser, session: SessionDep, screener: ScreenerDep) -> dict:
    """An ad someone brought in: screened and queued whatever its score, with source
    `job_centre` and the note. Role: job_centre or inspector."""
    r = add_tip(session, screener, text=body.text, note=body.note, submitted_by=user.id,
                title=body.title, company=body.company, url=body.url)
    return {
        "flag_id": r.flag_id, "posting_id": r.posting_id, "external_id": r.external_id, "source": TIP_SOURCE,
        "status": "open", "flagged": bool(r.flagged), "risk_score": r.risk_score, "risk_band": r.risk_band,
    }
