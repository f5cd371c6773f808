"""participants: one index fewer

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every participant insert wrote this index too. A session's participants (two active, and
    # the few removed ones) are found by the unique index on (session_sid, identifier) and
    # sorted by id in memory, which costs less than keeping a second index on session_sid.
    op.drop_index("ix_participants_session_order", table_name="participants")


def downgrade() -> None:
    op.create_index(
        "ix_participants_session_order", "participants", ["session_sid", "id"], unique=False
    )
