"""pool index in selection order

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Number selection takes the least used number, the oldest first among equals. With `id` at
    # the end of the pool index, PostgreSQL walks it in that order and stops at the first number
    # that fits, instead of checking and sorting the whole pool (SQLite's index already ended
    # with the rowid).
    op.drop_index("ix_numbers_pool", table_name="numbers")
    op.create_index(
        "ix_numbers_pool", "numbers", ["service_sid", "is_reserved", "in_use", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_numbers_pool", table_name="numbers")
    op.create_index(
        "ix_numbers_pool", "numbers", ["service_sid", "is_reserved", "in_use"], unique=False
    )
