"""Fingerprints read through HTML (and only the first 100,000 characters), as the screener does:
recompute what was stored for the postings whose fingerprint that changes (those with a '<' or
an '&', or longer than 100,000 characters), so a repost of a stored HTML ad still joins its
group. Group membership is kept: each row gets its new exact key, a group's head its new
MinHash signature and LSH band keys.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from service.db.storage import refingerprint

    refingerprint(op.get_bind())


def downgrade() -> None:
    pass  # the earlier fingerprints are not kept; a downgraded database groups by the new ones
