from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..deps import JobCentreUser, ScreenerDep
from ..schemas import AUTH_ERRORS, TOO_LARGE, Assessment, ScreenIn

router = APIRouter(prefix="/v1", tags=["screen"], responses={**AUTH_ERRORS, **TOO_LARGE})

INLINE_CHARS = 8_000  # an ad this short is screened in about a millisecond: no thread-pool hop


@router.post("/screen", response_model=Assessment, summary="Screen one ad (stores nothing)")
async def screen(body: ScreenIn, user: JobCentreUser, screener: ScreenerDep) -> JSONResponse:
    """The core's assessment of the ad: `flagged`, `risk_score`, `risk_band`, `indicators` with
    their evidence (spans into the screened text: the title and company lines above the ad, the
    URL below, when given), the explanation and, when flagged, the hotlines. Role: job_centre."""

    def run() -> dict:
        return screener.to_dict(screener.screen(body.text, title=body.title, company=body.company, url=body.url))

    if len(body.text) <= INLINE_CHARS:
        d = run()
    else:  # a long text: keep the event loop free for other requests
        d = await run_in_threadpool(run)
    return JSONResponse(d)  # the core's dict as it is (documented by the response model)
