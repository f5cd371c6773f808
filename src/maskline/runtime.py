"""Everything a running Maskline shares: settings, database, clock, credentials and carrier."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

from maskline.accounts.rules import Authenticator
from maskline.carriers.base import Carrier
from maskline.clock import Clock
from maskline.db.engine import create_db_engine
from maskline.settings import Settings

log = logging.getLogger("maskline")


class Runtime:
    def __init__(
        self,
        settings: Settings,
        engine: Engine | None = None,
        clock: Clock | None = None,
        carrier: Carrier | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine or create_db_engine(settings.database_url)
        self.clock = clock or Clock()
        self.authenticator = Authenticator()
        if carrier is None:
            from maskline.carriers import make_carrier

            carrier = make_carrier(settings)
        self.carrier = carrier

    @contextmanager
    def transaction(self, writes: bool = True) -> Iterator[Connection]:
        """One transaction, committed when the block ends and rolled back if it raises."""
        with self.engine.connect() as conn:
            conn.info["writes"] = writes
            with conn.begin():
                yield conn
