"""Scaling agency screening: a trigram index of agency names (the name search scores only the
candidates it picks), and near-duplicate groups assigned at ingest (each posting's group, and
the MinHash LSH band keys of each group's first posting). Existing agencies and postings are
indexed and grouped here, in posting order, as ingest would have.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agency_grams",
        sa.Column("gram", sa.String(12), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"], name="fk_agency_grams_agency_id_agencies", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("gram", "agency_id", name="pk_agency_grams"),
    )
    op.create_index("ix_agency_grams_agency_id", "agency_grams", ["agency_id"])
    op.create_table(
        "posting_groups",
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("exact_key", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["posting_id"], ["postings.id"], name="fk_posting_groups_posting_id_postings", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("posting_id", name="pk_posting_groups"),
    )
    op.create_index("ix_posting_groups_group_id", "posting_groups", ["group_id"])
    op.create_index("ix_posting_groups_exact_key", "posting_groups", ["exact_key"])
    op.create_table(
        "near_dup_bands",
        sa.Column("band_key", sa.BigInteger(), nullable=False),
        sa.Column("posting_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["posting_id"], ["postings.id"], name="fk_near_dup_bands_posting_id_postings", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("band_key", "posting_id", name="pk_near_dup_bands"),
    )
    op.create_index("ix_near_dup_bands_posting_id", "near_dup_bands", ["posting_id"])

    # What is already stored: index the agencies' names, group the postings in id order.
    from service.db.storage import group_postings, index_agency_names

    conn = op.get_bind()
    last = 0
    while True:
        rows = conn.execute(sa.text("SELECT id, name FROM agencies WHERE id > :last ORDER BY id LIMIT 1000"), {"last": last}).all()
        if not rows:
            break
        index_agency_names(conn, [(r[0], r[1]) for r in rows])
        last = rows[-1][0]
    last = 0
    while True:
        rows = conn.execute(sa.text("SELECT id, text FROM postings WHERE id > :last ORDER BY id LIMIT 1000"), {"last": last}).all()
        if not rows:
            break
        group_postings(conn, [(r[0], r[1]) for r in rows])
        last = rows[-1][0]


def downgrade() -> None:
    for name in ("near_dup_bands", "posting_groups", "agency_grams"):
        op.drop_table(name)
