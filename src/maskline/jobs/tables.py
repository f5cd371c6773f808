"""The jobs table."""

from sqlalchemy import Column, Index, Integer, String, Table, Text

from maskline.db.metadata import Millis, RowId, metadata

jobs = Table(
    "jobs",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("kind", String(40), nullable=False),
    # The account whose data the job changes, when it reads that account's sandbox clock.
    Column("account_sid", String(34), nullable=True),
    # JSON object: the job's arguments.
    Column("payload", Text, nullable=False),
    Column("due_at", Millis, nullable=False),
    Column("leased_until", Millis, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("date_created", Millis, nullable=False),
    Index("ix_jobs_due", "due_at"),
)
