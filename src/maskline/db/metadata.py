"""The shared SQLAlchemy metadata and the column types every table uses."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, MetaData

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Surrogate keys give every list a stable, index-backed order for keyset paging. SQLite needs
# plain INTEGER for its rowid alias; PostgreSQL gets a 64-bit identity.
RowId = BigInteger().with_variant(Integer(), "sqlite")

# Times are integer milliseconds since the epoch (UTC): cheap to compare, index and render,
# and identical on both engines.
Millis = BigInteger
