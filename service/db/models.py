"""The tables. The schema itself comes from the Alembic migrations; these models must match them
(tests/service/test_migrations.py compares the two)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base", "User", "Posting", "PostingIndicator", "Identifier", "Flag", "Review",
    "RegistryImport", "RegistryFirm", "RegistryHistory", "Agency", "PostingAgency",
    "AgencyGram", "PostingGroup", "NearDupBand", "AssessmentHistory",
    "ROLES", "DECISIONS", "STATUSES", "utcnow",
]

ROLES = ("inspector", "job_centre", "scanner", "admin")
DECISIONS = ("confirmed", "dismissed", "escalated", "needs_info")
STATUSES = ("open",) + DECISIONS


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stored as UTC without a zone (the same on SQLite and PostgreSQL); read back aware (UTC)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (sa.CheckConstraint("role IN ('inspector', 'job_centre', 'scanner', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    role: Mapped[str] = mapped_column(sa.String(20))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # sha256 hex of the key
    key_prefix: Mapped[str] = mapped_column(sa.String(12))  # first characters, to tell keys apart
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Posting(Base):
    __tablename__ = "postings"
    __table_args__ = (
        sa.UniqueConstraint("source", "external_id", name="uq_postings_source_external_id"),
        sa.Index("ix_postings_risk_score", "risk_score"),
        sa.Index("ix_postings_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(100))
    external_id: Mapped[str] = mapped_column(sa.String(300))
    text: Mapped[str] = mapped_column(sa.Text)  # as sent
    screened_text: Mapped[str] = mapped_column(sa.Text)  # title + company + text + url: the text spans index
    title: Mapped[str | None] = mapped_column(sa.Text)
    company: Mapped[str | None] = mapped_column(sa.Text)
    url: Mapped[str | None] = mapped_column(sa.Text)
    posted_at: Mapped[datetime | None]
    assessment: Mapped[dict[str, Any]]
    risk_score: Mapped[float] = mapped_column(sa.Float)
    risk_band: Mapped[str] = mapped_column(sa.String(10))
    flagged: Mapped[bool] = mapped_column(sa.Boolean)
    versions: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AssessmentHistory(Base):
    """A posting's earlier assessment, kept when ``rescreen`` replaced it: what the older rules or
    model said, which versions they were, and which versions replaced them."""

    __tablename__ = "assessment_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(sa.ForeignKey("postings.id", ondelete="CASCADE"), index=True)
    versions: Mapped[dict[str, Any]]
    risk_score: Mapped[float] = mapped_column(sa.Float)
    risk_band: Mapped[str] = mapped_column(sa.String(10))
    flagged: Mapped[bool] = mapped_column(sa.Boolean)
    indicators: Mapped[dict[str, Any]]  # {"items": [[id, severity], ...]}
    assessment: Mapped[dict[str, Any]]
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)
    replaced_by: Mapped[dict[str, Any]]  # the versions of the assessment that replaced it


class PostingIndicator(Base):
    """The counted indicators of a posting, one row each: for filters and statistics."""

    __tablename__ = "posting_indicators"

    posting_id: Mapped[int] = mapped_column(sa.ForeignKey("postings.id", ondelete="CASCADE"), primary_key=True)
    indicator: Mapped[str] = mapped_column(sa.String(80), primary_key=True, index=True)
    severity: Mapped[str] = mapped_column(sa.String(10))


class Identifier(Base):
    """A phone, chat handle, firm, e-mail, domain… found in a posting, normalised, for linking."""

    __tablename__ = "identifiers"
    __table_args__ = (
        sa.UniqueConstraint("posting_id", "kind", "value", name="uq_identifiers_posting_kind_value"),
        sa.Index("ix_identifiers_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(sa.ForeignKey("postings.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    value: Mapped[str] = mapped_column(sa.String(300))
    text: Mapped[str | None] = mapped_column(sa.Text)  # as written in the ad


class Flag(Base):
    """A queue item: a flagged posting (or a tip) waiting for, or carrying, an inspector's decision."""

    __tablename__ = "flags"
    __table_args__ = (
        sa.CheckConstraint(
            "status IN ('open', 'confirmed', 'dismissed', 'escalated', 'needs_info')", name="status"
        ),
        sa.CheckConstraint("reason IN ('flagged', 'tip')", name="reason"),
        sa.Index("ix_flags_status", "status"),
        sa.Index("ix_flags_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    posting_id: Mapped[int] = mapped_column(sa.ForeignKey("postings.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(sa.String(20), default="open", server_default="open")
    reason: Mapped[str] = mapped_column(sa.String(20), default="flagged", server_default="flagged")
    note: Mapped[str | None] = mapped_column(sa.Text)  # the tip's note
    submitted_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    claimed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Review(Base):
    """An inspector's decision. Append-only: database triggers refuse UPDATE and DELETE."""

    __tablename__ = "reviews"
    __table_args__ = (
        sa.CheckConstraint(
            "decision IN ('confirmed', 'dismissed', 'escalated', 'needs_info')", name="decision"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    flag_id: Mapped[int] = mapped_column(sa.ForeignKey("flags.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    reviewer: Mapped[str] = mapped_column(sa.String(100))  # the name at the time of the review
    decision: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ------------------------------------------------------------------ the licence registry, agencies


class RegistryImport(Base):
    """One import of DOLAB's list of licensed enterprises: imports are versioned."""

    __tablename__ = "registry_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(sa.Integer, unique=True)
    file_name: Mapped[str] = mapped_column(sa.String(500))
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
    rows: Mapped[int] = mapped_column(sa.Integer)  # firms read
    errors: Mapped[dict[str, Any]]  # {"rows": [{"line", "message"}]}


class RegistryFirm(Base):
    """A licensed enterprise as the latest import lists it (identity: its enterprise code)."""

    __tablename__ = "registry_firms"

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_code: Mapped[str] = mapped_column(sa.String(50), unique=True)
    name: Mapped[str] = mapped_column(sa.Text)
    licence_no: Mapped[str] = mapped_column(sa.String(100))
    status: Mapped[str] = mapped_column(sa.String(20))
    address: Mapped[str | None] = mapped_column(sa.Text)
    phones: Mapped[dict[str, Any]]  # {"items": [...]} (E.164)
    websites: Mapped[dict[str, Any]]  # {"items": [...]} (domains)
    first_seen: Mapped[int] = mapped_column(sa.ForeignKey("registry_imports.id"))
    last_seen: Mapped[int] = mapped_column(sa.ForeignKey("registry_imports.id"))


class RegistryHistory(Base):
    """A firm's status as each import first listed it or changed it."""

    __tablename__ = "registry_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    firm_id: Mapped[int] = mapped_column(sa.ForeignKey("registry_firms.id", ondelete="CASCADE"), index=True)
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("registry_imports.id"))
    status: Mapped[str] = mapped_column(sa.String(20))
    previous_status: Mapped[str | None] = mapped_column(sa.String(20))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Agency(Base):
    """Who is behind postings: a registry firm, or a firm name not in the registry."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(300), unique=True)  # "firm:CODE" or "name:normalised"
    name: Mapped[str] = mapped_column(sa.Text)
    norm_name: Mapped[str] = mapped_column(sa.String(300), index=True)
    firm_id: Mapped[int | None] = mapped_column(sa.ForeignKey("registry_firms.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PostingAgency(Base):
    """Which agency a posting resolves to, how sure, how, and what contradicts."""

    __tablename__ = "posting_agencies"

    posting_id: Mapped[int] = mapped_column(sa.ForeignKey("postings.id", ondelete="CASCADE"), primary_key=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id", ondelete="CASCADE"), index=True)
    confidence: Mapped[float] = mapped_column(sa.Float)
    via: Mapped[dict[str, Any]]  # {"via": [...], "contradictions": [...]}


# ------------------------------------------------------------------ name search, reposted templates


class AgencyGram(Base):
    """The trigrams of an agency's normalised name (and of its distinctive part): the index that
    picks the few candidates a fuzzy name search then scores."""

    __tablename__ = "agency_grams"

    gram: Mapped[str] = mapped_column(sa.String(12), primary_key=True)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agencies.id", ondelete="CASCADE"), primary_key=True, index=True)


class PostingGroup(Base):
    """A posting's near-duplicate group, assigned when it is stored: the id of the posting that
    started the group, kept when that posting is purged (``screening.links``: the same folded
    text, or MinHash LSH over word 3-shingles)."""

    __tablename__ = "posting_groups"

    posting_id: Mapped[int] = mapped_column(sa.ForeignKey("postings.id", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(sa.Integer, index=True)
    exact_key: Mapped[int] = mapped_column(sa.BigInteger, index=True)  # the folded text's hash
    signature: Mapped[bytes | None] = mapped_column(sa.LargeBinary)  # MinHash, kept for a group's head (first or promoted posting)


class NearDupBand(Base):
    """The LSH band keys of each group's head (its first posting, or the member promoted when
    that one was purged): a new posting's candidates."""

    __tablename__ = "near_dup_bands"

    band_key: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True)
    posting_id: Mapped[int] = mapped_column(sa.ForeignKey("postings.id", ondelete="CASCADE"), primary_key=True, index=True)
