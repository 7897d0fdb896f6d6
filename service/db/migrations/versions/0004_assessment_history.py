"""Earlier assessments of a posting, kept when it is screened again after a rules or model update
(``python -m screening rescreen``), with the versions that made each.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from service.db.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "assessment_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("versions", JSON, nullable=False),
        sa.Column("risk_score", sa.Float(), nullable=False),
        sa.Column("risk_band", sa.String(10), nullable=False),
        sa.Column("flagged", sa.Boolean(), nullable=False),
        sa.Column("indicators", JSON, nullable=False),
        sa.Column("assessment", JSON, nullable=False),
        sa.Column("replaced_at", UTCDateTime(), nullable=False),
        sa.Column("replaced_by", JSON, nullable=False),
        sa.ForeignKeyConstraint(["posting_id"], ["postings.id"], name="fk_assessment_history_posting_id_postings", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_assessment_history"),
    )
    op.create_index("ix_assessment_history_posting_id", "assessment_history", ["posting_id"])


def downgrade() -> None:
    op.drop_index("ix_assessment_history_posting_id", table_name="assessment_history")
    op.drop_table("assessment_history")
