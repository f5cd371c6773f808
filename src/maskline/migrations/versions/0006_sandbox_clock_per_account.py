"""sandbox: one clock per account; jobs name the account whose clock they read

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_clocks",
        sa.Column("account_sid", sa.String(34), primary_key=True),
        sa.Column("offset_ms", sa.BigInteger(), nullable=False),
    )
    # The one shared clock becomes every existing account's own, so nothing jumps back.
    op.execute(
        "INSERT INTO sandbox_clocks (account_sid, offset_ms) "
        "SELECT accounts.sid, sandbox_clock.offset_ms FROM accounts, sandbox_clock "
        "WHERE sandbox_clock.id = 1 AND sandbox_clock.offset_ms > 0"
    )
    op.drop_table("sandbox_clock")
    op.add_column("jobs", sa.Column("account_sid", sa.String(34), nullable=True))


def downgrade() -> None:
    op.drop_column("jobs", "account_sid")
    op.create_table(
        "sandbox_clock",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("offset_ms", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO sandbox_clock (id, offset_ms) "
        "SELECT 1, MAX(offset_ms) FROM sandbox_clocks HAVING COUNT(*) > 0"
    )
    op.drop_table("sandbox_clocks")
