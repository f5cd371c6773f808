"""The callback outbox and the record of every delivery attempt."""

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, Text

from maskline.db.metadata import Millis, RowId, metadata

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"

callbacks = Table(
    "callbacks",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    # Sent as I-Twilio-Idempotency-Token on every attempt, so receivers can drop repeats.
    Column("token", String(64), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column("service_sid", String(34), nullable=True),
    Column("session_sid", String(34), nullable=True),
    Column("interaction_sid", String(34), nullable=True),
    # interaction, session-closed
    Column("kind", String(20), nullable=False),
    Column("url", Text, nullable=False),
    # The form parameters as a JSON object: fixed at enqueue time so every attempt, and its
    # signature, is the same.
    Column("params", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("due_at", Millis, nullable=False),
    # A worker that claimed the callback owns it until then; after, another may take it.
    Column("leased_until", Millis, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("date_created", Millis, nullable=False),
    Column("date_updated", Millis, nullable=False),
    Index("ix_callbacks_due", "status", "due_at"),
    Index("ix_callbacks_account_order", "account_sid", "id"),
)

callback_attempts = Table(
    "callback_attempts",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column(
        "callback_id",
        RowId,
        ForeignKey("callbacks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempted_at", Millis, nullable=False),
    # NULL when no HTTP answer came (refused, timed out).
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Integer, nullable=False),
    # The start of the answer's body, or the network error.
    Column("response", Text, nullable=True),
    Index("ix_callback_attempts_callback", "callback_id", "id"),
)
