"""Apply and inspect Alembic migrations on Maskline's database."""

from __future__ import annotations

import functools
import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

_SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", _SCRIPTS)
    return config


@functools.cache  # the scripts ship with the package: read once a process
def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def stored_revision(engine: Engine) -> str | None:
    """The revision the database records, read without Alembic (which logs each look), for
    checks that run every few seconds."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


# Any key, the same in every Maskline: PostgreSQL holds it for the upgrading transaction, so
# processes that start together on one database migrate one after the other.
_MIGRATION_LOCK = 0x6D61736B


def upgrade(engine: Engine) -> None:
    config = _config()
    with engine.begin() as conn:
        conn.info["writes"] = True
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()


def is_empty(engine: Engine) -> bool:
    """No table at all in the database's default schema: nothing a migration could upset."""
    with engine.connect() as conn:
        return not inspect(conn).get_table_names()
