"""The licence registry (versioned imports, firms, status history), agencies and which agency
each posting resolves to.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from service.db.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "registry_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(500), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("errors", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_registry_imports"),
        sa.UniqueConstraint("version", name="uq_registry_imports_version"),
    )
    op.create_table(
        "registry_firms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_code", sa.String(50), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("licence_no", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("phones", JSON, nullable=False),
        sa.Column("websites", JSON, nullable=False),
        sa.Column("first_seen", sa.Integer(), nullable=False),
        sa.Column("last_seen", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["first_seen"], ["registry_imports.id"], name="fk_registry_firms_first_seen_registry_imports"),
        sa.ForeignKeyConstraint(["last_seen"], ["registry_imports.id"], name="fk_registry_firms_last_seen_registry_imports"),
        sa.PrimaryKeyConstraint("id", name="pk_registry_firms"),
        sa.UniqueConstraint("enterprise_code", name="uq_registry_firms_enterprise_code"),
    )
    op.create_table(
        "registry_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("previous_status", sa.String(20), nullable=True),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["firm_id"], ["registry_firms.id"], name="fk_registry_history_firm_id_registry_firms", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["import_id"], ["registry_imports.id"], name="fk_registry_history_import_id_registry_imports"),
        sa.PrimaryKeyConstraint("id", name="pk_registry_history"),
    )
    op.create_index("ix_registry_history_firm_id", "registry_history", ["firm_id"])
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("norm_name", sa.String(300), nullable=False),
        sa.Column("firm_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["firm_id"], ["registry_firms.id"], name="fk_agencies_firm_id_registry_firms"),
        sa.PrimaryKeyConstraint("id", name="pk_agencies"),
        sa.UniqueConstraint("key", name="uq_agencies_key"),
    )
    op.create_index("ix_agencies_norm_name", "agencies", ["norm_name"])
    op.create_index("ix_agencies_firm_id", "agencies", ["firm_id"])
    op.create_table(
        "posting_agencies",
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("via", JSON, nullable=False),
        sa.ForeignKeyConstraint(["posting_id"], ["postings.id"], name="fk_posting_agencies_posting_id_postings", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name="fk_posting_agencies_agency_id_agencies", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("posting_id", name="pk_posting_agencies"),
    )
    op.create_index("ix_posting_agencies_agency_id", "posting_agencies", ["agency_id"])


def downgrade() -> None:
    for name in ("posting_agencies", "agencies", "registry_history", "registry_firms", "registry_imports"):
        op.drop_table(name)
