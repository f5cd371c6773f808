"""The sandbox carrier's own records: every message it carried."""

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

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
    # The retention sweep's.
    Index("ix_carrier_messages_created", "date_created"),
)

carrier_calls = Table(
    "carrier_calls",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("from_number", String(200), nullable=False),
    Column("to_number", String(200), nullable=False),
    Column("direction", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("duration", Integer, nullable=True),
    # How the handset that is rung answers: answered, busy, no-answer or failed.
    Column("answer", String(12), nullable=True),
    # For an outbound leg, the inbound call it bridges.
    Column("parent_sid", String(34), nullable=True),
    # What Maskline did with an inbound call that reached no session (TwiML verbs carried out).
    Column("outcome", Text, nullable=True),
    Column("date_created", Millis, nullable=False),
    Column("date_updated", Millis, nullable=False),
    Index("ix_carrier_calls_to", "to_number", "id"),
    Index("ix_carrier_calls_created", "date_created"),
)

# Each account's sandbox clock: how far it runs ahead of wall time, shared by every process.
# An account that never moved its clock has no row.
sandbox_clocks = Table(
    "sandbox_clocks",
    metadata,
    Column("account_sid", String(34), primary_key=True),
    Column("offset_ms", BigInteger, nullable=False),
)
