"""The sessions table."""

from sqlalchemy import Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint, text

from maskline.db.metadata import Millis, RowId, metadata

ACTIVE = ("open", "in-progress")

sessions = Table(
    "sessions",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("sid", String(34), nullable=False, unique=True),
    Column("account_sid", String(34), nullable=False),
    Column(
        "service_sid",
        String(34),
        ForeignKey("services.sid", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("unique_name", String(191), nullable=True),
    Column("mode", String(20), nullable=False),
    Column("status", String(12), nullable=False),
    Column("ttl", Integer, nullable=False, default=0),
    Column("date_expiry", Millis, nullable=True),
    Column("date_started", Millis, nullable=True),
    Column("date_ended", Millis, nullable=True),
    Column("date_last_interaction", Millis, nullable=True),
    Column("closed_reason", String(16), nullable=True),
    Column("date_created", Millis, nullable=False),
    Column("date_updated", Millis, nullable=False),
    # When the TTL starts counting: creation, or the last re-open.
    Column("ttl_base", Millis, nullable=False),
    # When an active session is due to close (DateExpiry, else TTL); NULL when it never is.
    Column("expires_at", Millis, nullable=True),
    UniqueConstraint("service_sid", "unique_name"),
    Index("ix_sessions_service_order", "service_sid", "id"),
    # The expiry sweep's index: only sessions with a deadline, the ones it can close.
    Index(
        "ix_sessions_expires_at",
        "expires_at",
        sqlite_where=text("expires_at IS NOT NULL"),
        postgresql_where=text("expires_at IS NOT NULL"),
    ),
    # The retention sweep's index: closed sessions by the time they closed.
    Index(
        "ix_sessions_closed_ended",
        "date_ended",
        sqlite_where=text("status = 'closed'"),
        postgresql_where=text("status = 'closed'"),
    ),
)
