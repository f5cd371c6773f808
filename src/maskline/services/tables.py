"""The services table."""

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint

from maskline.db.metadata import Millis, RowId, metadata

services = Table(
    "services",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("sid", String(34), nullable=False, unique=True),
    Column(
        "account_sid",
        String(34),
        ForeignKey("accounts.sid", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("unique_name", String(191), nullable=False),
    Column("callback_url", Text, nullable=True),
    Column("intercept_callback_url", Text, nullable=True),
    Column("out_of_session_callback_url", Text, nullable=True),
    # Maskline's extension: told whenever one of the service's sessions closes.
    Column("session_callback_url", Text, nullable=True),
    Column("chat_instance_sid", String(34), nullable=True),
    Column("default_ttl", Integer, nullable=False, default=0),
    Column("geo_match_level", String(16), nullable=False),
    Column("number_selection_behavior", String(16), nullable=False),
    Column("date_created", Millis, nullable=False),
    Column("date_updated", Millis, nullable=False),
    UniqueConstraint("account_sid", "unique_name"),
)
