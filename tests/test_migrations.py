"""The migrations build exactly the schema the code declares, and can be walked back."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from maskline.db import migrate
from maskline.db.engine import create_db_engine
from maskline.db.schema import metadata
from tests.support import new_database_url


def _differences(url: str) -> list[object]:
    engine = create_db_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        engine.dispose()


def test_migrating_to_head_gives_the_declared_schema(tmp_path: Path) -> None:
    url = new_database_url(tmp_path)
    engine = create_db_engine(url)
    try:
        migrate.upgrade(engine)
        assert migrate.is_current(engine)
    finally:
        engine.dispose()
    assert _differences(url) == []


def test_every_migration_goes_down_and_up_again(tmp_path: Path) -> None:
    url = new_database_url(tmp_path)
    engine = create_db_engine(url)
    try:
        migrate.upgrade(engine)
        config = migrate._config()
        for step_down_to in ("0003", "0001", "base"):
            with engine.begin() as conn:
                conn.info["writes"] = True
                config.attributes["connection"] = conn
                command.downgrade(config, step_down_to)
            assert migrate.current_revision(engine) == (
                None if step_down_to == "base" else step_down_to
            )
        migrate.upgrade(engine)
        assert migrate.is_current(engine)
    finally:
        engine.dispose()
    assert _differences(url) == []
