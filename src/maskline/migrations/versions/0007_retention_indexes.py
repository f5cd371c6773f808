"""retention: indexes that let the worker find what has outlived MASKLINE_RETENTION_DAYS

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_sessions_closed_ended",
        "sessions",
        ["date_ended"],
        sqlite_where=sa.text("status = 'closed'"),
        postgresql_where=sa.text("status = 'closed'"),
    )
    op.create_index("ix_events_created", "events", ["date_created"])
    op.create_index("ix_carrier_messages_created", "carrier_messages", ["date_created"])
    op.create_index("ix_carrier_calls_created", "carrier_calls", ["date_created"])


def downgrade() -> None:
    op.drop_index("ix_carrier_calls_created", table_name="carrier_calls")
    op.drop_index("ix_carrier_messages_created", table_name="carrier_messages")
    op.drop_index("ix_events_created", table_name="events")
    op.drop_index("ix_sessions_closed_ended", table_name="sessions")
