"""Request and response models, a family per resource (documented in the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

Decision = Literal["confirmed", "dismissed", "escalated", "needs_info"]
Status = Literal["open", "confirmed", "dismissed", "escalated", "needs_info"]
Role = Literal["inspector", "job_centre", "scanner", "admin"]
Band = Literal["high", "medium", "low"]

MAX_TEXT = 200_000
MAX_ID = 2**31 - 1  # the largest row id (PostgreSQL integer): a larger one is a 422, not a database error


def _no_nul_text(v: str | None) -> str | None:
    # PostgreSQL cannot store U+0000 in text or JSON: a text from the open internet that has one
    # keeps its length (so evidence spans stay right) with U+FFFD in its place.
    return v.replace("\x00", "\ufffd") if v and "\x00" in v else v


def _no_nul_name(v: str) -> str:
    if "\x00" in v:
        raise ValueError("must not contain a NUL character (U+0000)")
    return v


def _utc_ok(v: datetime | None) -> datetime | None:
    # stored in UTC: an aware date whose UTC time falls outside years 1-9999 cannot be
    if v is not None and v.tzinfo is not None:
        try:
            v.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            raise ValueError("out of range once converted to UTC") from None
    return v


def _json_int(v: Any) -> Any:
    # an integer as JSON Schema has it (5 or 5.0), not true or "5", which Python would take
    if isinstance(v, (bool, str)):
        raise ValueError("must be a JSON integer")
    return v


JsonInt = Annotated[int, BeforeValidator(_json_int)]
AdText = Annotated[str, AfterValidator(_no_nul_text)]
# (the pattern documents the rule in the OpenAPI schema; the validator gives the clear message)
Name = Annotated[str, AfterValidator(_no_nul_name), Field(json_schema_extra={"pattern": "^[^\\u0000]*$"})]
When = Annotated[datetime, AfterValidator(_utc_ok)]


class Problem(BaseModel):
    """An error: ``detail`` says what was wrong (a list of ``{loc, msg, type}`` for invalid input)."""

    detail: str | list[dict[str, Any]]


def _err(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _err("no key, or an unknown or disabled key"),
    403: _err("the key's role may not use this route"),
    429: _err("too many wrong keys from this client: wait `Retry-After` seconds"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _err("no such item")}
TOO_LARGE: dict[int | str, dict[str, Any]] = {413: _err("the body is larger than SCREENING_MAX_BODY_BYTES, or too many postings")}


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    database: str
    versions: dict[str, str]


# -------------------------------------------------------------------------------------- screen


class ScreenIn(BaseModel):
    text: AdText = Field(..., max_length=MAX_TEXT, description="the ad as posted")
    title: str | None = Field(None, max_length=2_000)
    company: str | None = Field(None, max_length=2_000)
    url: str | None = Field(None, max_length=2_000)


class Evidence(BaseModel):
    start: int
    end: int
    text: str


class IndicatorHit(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    severity: str
    evidence: list[Evidence]
    name: dict[str, str]
    explanation: dict[str, str]
    legal: list[dict[str, Any]] = []
    why: list[str] = []


class Assessment(BaseModel):
    """The core's assessment, as ``Screener.to_dict`` gives it."""

    model_config = ConfigDict(extra="allow")
    flagged: bool
    risk_score: float
    risk_band: Band
    indicators: list[IndicatorHit]
    explanation: dict[str, Any]
    entities: list[dict[str, Any]] = []
    versions: dict[str, str] = {}
    hotlines: list[str] | None = None


# ------------------------------------------------------------------------------------ postings


class PostingIn(BaseModel):
    external_id: Name = Field(..., min_length=1, max_length=300)
    source: Name = Field(..., min_length=1, max_length=100)
    text: AdText = Field(..., max_length=MAX_TEXT)
    title: AdText | None = Field(None, max_length=2_000)
    company: AdText | None = Field(None, max_length=2_000)
    url: AdText | None = Field(None, max_length=2_000)
    posted_at: When | None = None


class PostingsIn(BaseModel):
    postings: list[PostingIn]


class IngestItem(BaseModel):
    source: str
    external_id: str
    posting_id: int | None
    flag_id: int | None
    created: bool = Field(description="false when the posting was stored already (nothing changed)")
    flagged: bool | None
    risk_score: float | None
    risk_band: str | None


class IngestPublic(BaseModel):
    received: int
    created: int
    duplicates: int
    flagged: int = Field(description="new postings flagged (and queued) by this call")
    items: list[IngestItem]


# ---------------------------------------------------------------------------------------- tips


class TipIn(BaseModel):
    text: AdText = Field(..., min_length=1, max_length=MAX_TEXT)
    note: AdText | None = Field(None, max_length=5_000, description="what the job seeker or the staff member said")
    title: AdText | None = Field(None, max_length=2_000)
    company: AdText | None = Field(None, max_length=2_000)
    url: AdText | None = Field(None, max_length=2_000)


class TipPublic(BaseModel):
    flag_id: int
    posting_id: int
    external_id: str
    source: str
    status: Status
    flagged: bool
    risk_score: float
    risk_band: Band


# --------------------------------------------------------------------------------------- flags


class IndicatorBrief(BaseModel):
    id: str
    severity: str
    name: dict[str, str] = {}
    evidence: list[Evidence] = []


class FlagPublic(BaseModel):
    id: int
    posting_id: int
    external_id: str
    source: str
    status: Status
    reason: Literal["flagged", "tip"]
    risk_score: float
    risk_band: Band
    flagged: bool
    indicators: list[IndicatorBrief]
    title: str | None = None
    company: str | None = None
    url: str | None = None
    excerpt: str
    note: str | None = None
    posted_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    claimed_by: str | None = None
    claimed_at: datetime | None = None


class FlagsPublic(BaseModel):
    items: list[FlagPublic]
    total: int
    limit: int
    offset: int


class ReviewIn(BaseModel):
    decision: Decision
    note: AdText | None = Field(None, max_length=10_000)


class ReviewPublic(BaseModel):
    id: int
    flag_id: int
    reviewer: str
    decision: Decision
    note: str | None
    created_at: datetime


class PostingPublic(BaseModel):
    id: int
    source: str
    external_id: str
    text: str
    screened_text: str = Field(description="title, company, text and URL as screened: evidence spans index this text")
    title: str | None
    company: str | None
    url: str | None
    posted_at: datetime | None
    created_at: datetime
    versions: dict[str, Any]


class Shared(BaseModel):
    kind: str
    value: str


class LinkedPosting(BaseModel):
    posting_id: int
    flag_id: int | None
    status: str | None
    source: str
    external_id: str
    title: str | None
    risk_score: float
    risk_band: str
    created_at: datetime
    shared: list[Shared]


class EvidenceItem(BaseModel):
    indicator: str
    severity: str
    start: int
    end: int
    text: str


class EarlierAssessment(BaseModel):
    versions: dict[str, Any] = Field(description="engine, rules and model versions that made it")
    risk_score: float
    risk_band: str
    flagged: bool
    indicators: list[str]
    replaced_at: datetime
    replaced_by: dict[str, Any] = Field(description="the versions of the assessment that replaced it")


class FlagDetail(FlagPublic):
    indicators: list[IndicatorHit]  # type: ignore[assignment]
    not_counted: list[dict[str, Any]] = []
    posting: PostingPublic
    evidence: list[EvidenceItem]
    explanation: dict[str, Any]
    entities: list[dict[str, Any]] = []
    classifier: dict[str, Any] | None = None
    identifiers: list[Shared] = []
    linked: list[LinkedPosting]
    reviews: list[ReviewPublic]
    earlier_assessments: list[EarlierAssessment] = Field(
        [], description="what earlier rules or models said, oldest first (`python -m screening rescreen`)")


class ClaimIn(BaseModel):
    n: JsonInt = Field(10, ge=1, le=200, description="how many items to take")


class ClaimPublic(BaseModel):
    items: list[FlagPublic]
    total: int


# ------------------------------------------------------------------------------- stats, agencies


class IndicatorPrecision(BaseModel):
    flags: int
    confirmed: int
    dismissed: int
    reviewed: int
    precision: float | None = Field(description="confirmed / (confirmed + dismissed); null before any such review")
    misleading: bool = Field(description="enough reviews and precision under one half")


class StatsPublic(BaseModel):
    total: int = Field(description="queue items")
    by_status: dict[str, int]
    by_band: dict[str, int]
    by_indicator: dict[str, int]
    by_source: dict[str, int]
    by_reason: dict[str, int]
    precision: dict[str, IndicatorPrecision]
    overall_precision: float | None
    misleading: list[str]
    postings: dict[str, Any]
    reviews: int


class IdentifierPublic(BaseModel):
    kind: str
    value: str
    postings: int
    flags: int
    confirmed: int
    max_score: float | None
    last_seen: datetime | None


class IdentifiersPublic(BaseModel):
    items: list[IdentifierPublic]
    total: int


# --------------------------------------------------------------------------------------- users


class UserIn(BaseModel):
    name: Name = Field(..., min_length=1, max_length=100)
    role: Role


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    role: Role
    active: bool
    key_prefix: str
    created_at: datetime


class UserCreated(UserPublic):
    key: str = Field(description="the API key, shown this once")
