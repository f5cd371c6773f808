"""sessions: the expiry index holds only sessions with a deadline

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_HAS_DEADLINE = sa.text("expires_at IS NOT NULL")


def upgrade() -> None:
    # The expiry sweep looks for `expires_at <= now`, which no NULL satisfies, yet every
    # session without a deadline (no TTL, no DateExpiry, or closed) had an entry here, written
    # by each session insert. Both databases use a partial index for a comparison on its column.
    op.drop_index("ix_sessions_expires_at", table_name="sessions")
    op.create_index(
        "ix_sessions_expires_at",
        "sessions",
        ["expires_at"],
        unique=False,
        sqlite_where=_HAS_DEADLINE,
        postgresql_where=_HAS_DEADLINE,
    )


def downgrade() -> None:
    op.drop_index("ix_sessions_expires_at", table_name="sessions")
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"], unique=False)
