"""Retention: the worker deletes what has outlived MASKLINE_RETENTION_DAYS.

What goes, once older than the retention period (Twilio's rule for Proxy, 90 days by
default): sessions closed that long ago, with their participants and interactions; callbacks
delivered or failed for good, with their attempts; events; the sandbox network's messages and
calls. Open sessions and pending callbacks are never touched, however old.

A sweep runs at the worker's start, then every SWEEP_EVERY_S, and at once when a sandbox clock
moves. It deletes in small batches, a transaction each (db/pruning.py), letting the event loop
run between two; a sweep stops after MAX_BATCHES of one kind and the next round goes on.
Times are each account's: on the sandbox an account whose clock runs ahead has its records
judged by that clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from sqlalchemy import Connection

from maskline.callbacks import store as callbacks_store
from maskline.events import store as events_store
from maskline.metrics.families import metrics
from maskline.runtime import Runtime
from maskline.sandbox import store as sandbox_store
from maskline.sessions import store as sessions_store

log = logging.getLogger("maskline.retention")

DAY_MS = 86_400_000
SWEEP_EVERY_S = 60.0
MAX_BATCHES = 20

# Deletes up to `limit` rows older than `cutoff` (of one account when given); how many went.
Pruner = Callable[[Connection, int, int, str | None], int]

# Kind (the metric's label), what deletes it, rows per transaction. A session takes its
# participants and interactions with it, so its batches are smaller.
KINDS: tuple[tuple[str, Pruner, int], ...] = (
    ("sessions", sessions_store.delete_closed_before, 100),
    ("callbacks", callbacks_store.delete_finished_before, 500),
    ("events", events_store.delete_before, 500),
    ("sandbox", sandbox_store.delete_before, 500),
)


class Retention:
    """The worker's retention sweeps; one per worker."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.keep_ms = runtime.settings.retention_days * DAY_MS
        self._next = 0.0
        self._clocks_seen: dict[str, int] | None = None

    def due(self) -> bool:
        if not self.keep_ms:
            return False
        offsets = self.runtime.clock.offsets
        return time.monotonic() >= self._next or offsets != self._clocks_seen

    async def sweep(self) -> int:
        """Delete a round's worth of expired records; how many went."""
        clock = self.runtime.clock
        self._clocks_seen = dict(clock.offsets)
        # Every account's clock reads at least wall time: what is old by wall time is old for
        # everyone, then each clock that runs ahead is applied to its own account.
        cutoffs: list[tuple[str | None, int]] = [(None, clock.wall_ms() - self.keep_ms)]
        cutoffs += [(account, now - self.keep_ms) for account, now in clock.ahead()]
        deleted: dict[str, int] = {}
        finished = True
        for kind, prune, size in KINDS:
            for account, cutoff in cutoffs:
                count, done = await self._prune(prune, size, cutoff, account)
                deleted[kind] = deleted.get(kind, 0) + count
                finished = finished and done
        self._next = time.monotonic() + (SWEEP_EVERY_S if finished else 0.0)
        total = sum(deleted.values())
        if total:
            family = metrics().retention_deleted
            for kind, count in deleted.items():
                if count:
                    family.labels(kind).inc(count)
            log.info(
                "retention: deleted %s%s",
                ", ".join(f"{count} {kind}" for kind, count in deleted.items() if count),
                "" if finished else "; more next round",
            )
        return total

    async def _prune(
        self, prune: Pruner, size: int, cutoff: int, account: str | None
    ) -> tuple[int, bool]:
        """Up to MAX_BATCHES batches; how many rows went, and whether none is left."""
        total = 0
        for _ in range(MAX_BATCHES):
            with self.runtime.transaction() as conn:
                count = prune(conn, cutoff, size, account)
            total += count
            if count < size:
                return total, True
            # Requests (in `maskline serve`) and deliveries run between two batches.
            await asyncio.sleep(0)
        return total, False
