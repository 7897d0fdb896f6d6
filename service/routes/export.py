from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from ..db import storage
from ..deps import InspectorUser
from ..filters import FilterParams
from ..schemas import AUTH_ERRORS
from ..views import csv_lines, export_record, jsonl_lines

router = APIRouter(prefix="/v1", tags=["export"], responses=AUTH_ERRORS)


@router.get(
    "/export",
    summary="Queue items with their decisions, as CSV or JSON lines",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}},
)
def export(
    request: Request,
    user: InspectorUser,
    f: FilterParams,
    format: Annotated[Literal["csv", "jsonl"], Query(description="csv or jsonl")] = "jsonl",
    reviewed: Annotated[bool, Query(description="only items with at least one decision")] = False,
    redact: Annotated[bool, Query(description="replace phone numbers, chat handles, e-mails, bank accounts and names of "
                                              "private persons in the texts and notes with placeholders ([SĐT], [TÊN]…)")] = False,
) -> StreamingResponse:
    """Every queue item matching the filters, with its latest decision (`label` 1 = confirmed,
    0 = dismissed, for retraining), its indicators, versions and text; the JSON lines also carry
    the full review history. Streamed: any size. `redact=true` for a copy that leaves the
    service (personal data replaced; the firm's name stays). Role: inspector."""
    if reviewed and not f.status:
        f.status = ["confirmed", "dismissed", "escalated", "needs_info"]
    maker = request.app.state.sessionmaker

    def records():
        with maker() as session:  # its own session: the response outlives the request's
            for flag, posting, reviews in storage.export_rows(session, f):
                yield export_record(flag, posting, reviews, redact=redact)

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if format == "csv":
        body, media = csv_lines(records()), "text/csv; charset=utf-8"
    else:
        body, media = jsonl_lines(records()), "application/x-ndjson; charset=utf-8"
    return StreamingResponse(
        body, media_type=media,
        headers={"Content-Disposition": f'attachment; filename="flags-{stamp}.{format}"'},
    )
