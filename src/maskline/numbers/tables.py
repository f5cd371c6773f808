"""One row per phone number or short code an account owns.

Pool membership lives on the same row (`service_sid`), so "a number belongs to at most one
service" holds by construction.
"""

from sqlalchemy import Boolean, Column, ForeignKey, Index, Integer, String, Table, UniqueConstraint

from maskline.db.metadata import Millis, RowId, metadata

PHONE_NUMBER = "phone_number"
SHORT_CODE = "short_code"

numbers = Table(
    "numbers",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("sid", String(34), nullable=False, unique=True),
    Column(
        "account_sid",
        String(34),
        ForeignKey("accounts.sid", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("kind", String(12), nullable=False),
    # E.164 for phone numbers, the digits for short codes.
    Column("phone_number", String(32), nullable=False),
    Column("friendly_name", String(255), nullable=True),
    Column("iso_country", String(2), nullable=True),
    # Country calling code: numbers of one dialing plan (+1, +44, ...) match each other.
    Column("calling_code", Integer, nullable=True),
    # NANP area code, for geo_match_level area-code.
    Column("area_code", String(3), nullable=True),
    Column("voice", Boolean, nullable=False),
    Column("sms", Boolean, nullable=False),
    Column("mms", Boolean, nullable=False),
    Column("fax", Boolean, nullable=False),
    Column("date_created", Millis, nullable=False),
    Column("date_updated", Millis, nullable=False),
    Column(
        "service_sid",
        String(34),
        ForeignKey("services.sid", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("is_reserved", Boolean, nullable=False, default=False),
    # Active sessions that use this number: kept by the participant rules, read to spread load.
    Column("in_use", Integer, nullable=False, default=0),
    Column("date_added", Millis, nullable=True),
    Column("date_pool_updated", Millis, nullable=True),
    UniqueConstraint("kind", "phone_number"),
    # In number selection's order: least used, then oldest.
    Index("ix_numbers_pool", "service_sid", "is_reserved", "in_use", "id"),
    Index("ix_numbers_pool_order", "service_sid", "kind", "id"),
)
