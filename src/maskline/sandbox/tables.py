"""The sandbox carrier's own records: every message it carried."""

from sqlalchemy import Column, Index, String, Table, Text

from maskline.db.metadata import Millis, RowId, metadata

carrier_messages = Table(
    "carrier_messages",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("from_number", String(200), nullable=False),
    Column("to_number", String(200), nullable=False),
    Column("body", Text, nullable=True),
    # JSON list of media URLs.
    Column("media_urls", Text, nullable=False, default="[]"),
    # inbound (a handset texted a proxy number) or outbound (Maskline sent it to a handset).
    Column("direction", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("date_created", Millis, nullable=False),
    Column("date_updated", Millis, nullable=False),
    Index("ix_carrier_messages_to", "to_number", "id"),
)
