"""interactions: each leg's statuses as they came, for the console's timeline; the console's
signed-out sessions

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("interactions", sa.Column("inbound_status_history", sa.Text(), nullable=True))
    op.add_column("interactions", sa.Column("outbound_status_history", sa.Text(), nullable=True))
    op.create_table(
        "console_sign_outs",
        sa.Column("nonce", sa.String(32), primary_key=True),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("console_sign_outs")
    op.drop_column("interactions", "outbound_status_history")
    op.drop_column("interactions", "inbound_status_history")
