"""The events table."""

from sqlalchemy import Column, Index, Integer, String, Table, Text

from maskline.db.metadata import Millis, RowId, metadata

events = Table(
    "events",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("service_sid", String(34), nullable=True),
    Column("session_sid", String(34), nullable=True),
    Column("code", Integer, nullable=False),
    Column("message", Text, nullable=False),
    # JSON object: the traffic concerned (from, to, resource SID, ...).
    Column("details", Text, nullable=False),
    Column("date_created", Millis, nullable=False),
    Index("ix_events_account_order", "account_sid", "id"),
    # The retention sweep's.
    Index("ix_events_created", "date_created"),
)
