"""The review queue: users, postings (with their indicators and identifiers), flags and the
append-only reviews.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from service.db.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(12), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("role IN ('inspector', 'job_centre', 'scanner', 'admin')", name="ck_users_role"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
        sa.UniqueConstraint("key_hash", name="uq_users_key_hash"),
    )
    op.create_table(
        "postings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("external_id", sa.String(300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("screened_text", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("company", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("posted_at", UTCDateTime(), nullable=True),
        sa.Column("assessment", JSON, nullable=False),
        sa.Column("risk_score", sa.Float(), nullable=False),
        sa.Column("risk_band", sa.String(10), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("versions", JSON, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_postings"),
        sa.UniqueConstraint("source", "external_id", name="uq_postings_source_external_id"),
    )
    op.create_index("ix_postings_risk_score", "postings", ["risk_score"])
    op.create_index("ix_postings_created_at", "postings", ["created_at"])
    op.create_table(
        "posting_indicators",
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("indicator", sa.String(80), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["postings.id"], name="fk_posting_indicators_posting_id_postings", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("posting_id", "indicator", name="pk_posting_indicators"),
    )
    op.create_index("ix_posting_indicators_indicator", "posting_indicators", ["indicator"])
    op.create_table(
        "identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("value", sa.String(300), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["posting_id"], ["postings.id"], name="fk_identifiers_posting_id_postings", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_identifiers"),
        sa.UniqueConstraint("posting_id", "kind", "value", name="uq_identifiers_posting_kind_value"),
    )
    op.create_index("ix_identifiers_kind_value", "identifiers", ["kind", "value"])
    op.create_table(
        "flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), server_default="open", nullable=False),
        sa.Column("reason", sa.String(20), server_default="flagged", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("claimed_by", sa.Integer(), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'confirmed', 'dismissed', 'escalated', 'needs_info')", name="ck_flags_status"
        ),
        sa.CheckConstraint("reason IN ('flagged', 'tip')", name="ck_flags_reason"),
        sa.ForeignKeyConstraint(["posting_id"], ["postings.id"], name="fk_flags_posting_id_postings", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submitted_by"], ["users.id"], name="fk_flags_submitted_by_users"),
        sa.ForeignKeyConstraint(["claimed_by"], ["users.id"], name="fk_flags_claimed_by_users"),
        sa.PrimaryKeyConstraint("id", name="pk_flags"),
        sa.UniqueConstraint("posting_id", name="uq_flags_posting_id"),
    )
    op.create_index("ix_flags_status", "flags", ["status"])
    op.create_index("ix_flags_created_at", "flags", ["created_at"])
    op.create_index("ix_flags_claimed_by", "flags", ["claimed_by"])
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(100), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "decision IN ('confirmed', 'dismissed', 'escalated', 'needs_info')", name="ck_reviews_decision"
        ),
        sa.ForeignKeyConstraint(["flag_id"], ["flags.id"], name="fk_reviews_flag_id_flags"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["users.id"], name="fk_reviews_reviewer_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_reviews"),
    )
    op.create_index("ix_reviews_flag_id", "reviews", ["flag_id"])

    # The audit trail is append-only: the database itself refuses to change or remove a review.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION reviews_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'reviews are append-only (% refused)', TG_OP; END $$"
        )
        op.execute(
            "CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE ON reviews "
            "FOR EACH ROW EXECUTE FUNCTION reviews_append_only()"
        )
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER reviews_no_{what.lower()} BEFORE {what} ON reviews "
                f"BEGIN SELECT RAISE(ABORT, 'reviews are append-only ({what} refused)'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS reviews_append_only ON reviews")
        op.execute("DROP FUNCTION IF EXISTS reviews_append_only()")
    for name in ("reviews", "flags", "identifiers", "posting_indicators", "postings", "users"):
        op.drop_table(name)
