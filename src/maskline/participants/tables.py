"""The participants table, and the constraints that hold the pair rule."""

from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ColumnClause,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    literal_column,
    text,
)

from maskline.db.metadata import Millis, RowId, metadata

participants = Table(
    "participants",
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
    Column("identifier", String(191), nullable=False),
    Column("friendly_name", String(255), nullable=True),
    Column("proxy_identifier", String(32), nullable=False),
    Column("proxy_number_sid", String(34), ForeignKey("numbers.sid"), nullable=False),
    # 1 or 2 while the participant is in the session, NULL once removed: at most two by
    # construction.
    Column("slot", SmallInteger, nullable=True),
    # True while the session is active and the participant not removed.
    Column("active", Boolean, nullable=False),
    Column("date_created", Millis, nullable=False),
    Column("date_updated", Millis, nullable=False),
    Column("date_deleted", Millis, nullable=True),
    CheckConstraint("slot IN (1, 2)", name="slot"),
    # 80103: an identifier joins a session once, even after being removed.
    UniqueConstraint("session_sid", "identifier"),
    # 80609: two places per session.
    UniqueConstraint("session_sid", "slot"),
    # The pair rule: one active session per (identifier, proxy number), under any concurrency.
    Index(
        "uq_participants_active_pair",
        "identifier",
        "proxy_number_sid",
        unique=True,
        sqlite_where=text("active"),
        postgresql_where=text("active"),
    ),
    Index("ix_participants_history", "service_sid", "identifier", "id"),
    # A session's participants are found through uq_participants_session_sid_identifier: there
    # are a handful at most, so they need no index of their own in `id` order.
)

# `active` as queries on the pair index must write it. SQLite uses a partial index only when
# the query repeats the index's condition as is, and SQLAlchemy writes `participants.c.active`
# as `active = 1` there: with that, every pair check scanned the whole table.
IS_ACTIVE: ColumnClause[Any] = literal_column("participants.active")
