"""The interactions table (message interactions are interactions with a `participant_sid`)."""

from sqlalchemy import Column, ForeignKey, Index, String, Table, Text

from maskline.db.metadata import Millis, RowId, metadata

interactions = Table(
    "interactions",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("service_sid", String(34), nullable=False),
    Column(
        "session_sid",
        String(34),
        ForeignKey("sessions.sid", ondelete="CASCADE"),
        nullable=False,
    ),
    # Set on message interactions: the participant the app wrote to.
    Column("participant_sid", String(34), nullable=True),
    Column("type", String(8), nullable=False),
    Column("data", Text, nullable=True),
    Column("inbound_participant_sid", String(34), nullable=True),
    Column("inbound_resource_sid", String(34), nullable=True),
    Column("inbound_resource_status", String(20), nullable=True),
    Column("inbound_resource_type", String(8), nullable=True),
    Column("inbound_resource_url", Text, nullable=True),
    Column("outbound_participant_sid", String(34), nullable=True),
    Column("outbound_resource_sid", String(34), nullable=True),
    Column("outbound_resource_status", String(20), nullable=True),
    Column("outbound_resource_type", String(8), nullable=True),
    Column("outbound_resource_url", Text, nullable=True),
    Column("date_created", Millis, nullable=False),
    Column("date_updated", Millis, nullable=False),
    # Each leg's statuses as they came: "status ms" entries joined by ";" (interactions/store.py).
    Column("inbound_status_history", Text, nullable=True),
    Column("outbound_status_history", Text, nullable=True),
    Index("ix_interactions_session_order", "session_sid", "id"),
    Index("ix_interactions_participant_order", "participant_sid", "id"),
    Index("ix_interactions_inbound_resource", "inbound_resource_sid"),
    Index("ix_interactions_outbound_resource", "outbound_resource_sid"),
)
