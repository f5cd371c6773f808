"""The worker's deliveries in flight: bounded in all and per receiver, none waited for.

Each round the worker records the attempts that finished since the last one (in one
transaction; callbacks/delivery.py), claims as many due callbacks as there are free places and
starts a task for each; the round goes on without waiting for them, so expiry, jobs and sandbox
steps never wait for a receiver. A callback whose receiver (scheme, host and port) already has
MASKLINE_CALLBACK_HOST_CONCURRENCY deliveries in flight is put back, due a second later and no
attempt counted, so a receiver that is slow holds its own places and never the others'.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

import httpx

from maskline.callbacks import store
from maskline.callbacks.delivery import Outcome, attempt, auth_tokens, record_outcomes
from maskline.clock import current_account
from maskline.runtime import Runtime

log = logging.getLogger("maskline.callbacks")

# How long a callback put back for a busy receiver waits before it is claimed again.
HOST_BUSY_WAIT_MS = 1_000


def receiver(url: str) -> str:
    """The key the per-receiver bound counts by; a URL that does not parse is its own."""
    try:
        parsed = httpx.URL(url)
        return f"{parsed.scheme}://{parsed.host}:{parsed.port or ''}"
    except Exception:
        return url


class Dispatcher:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.limit = runtime.settings.callback_concurrency
        self.host_limit = runtime.settings.callback_host_concurrency
        self._tasks: set[asyncio.Task[None]] = set()
        self._per_host: Counter[str] = Counter()
        # Callbacks being delivered by this worker. A lease is on the (sandbox) clock, which
        # may jump past it meanwhile: such a callback is claimed again, and skipped here.
        self._ids: set[int] = set()
        # Attempts that are over, waiting to be recorded by the next round.
        self._finished: list[Outcome] = []

    def dispatch_due(self) -> int:
        """Claim due callbacks for the free places and start their deliveries; how many."""
        free = self.limit - len(self._tasks)
        if free <= 0:
            return 0
        runtime = self.runtime
        clock = runtime.clock
        lease = runtime.settings.callback_timeout_ms + 30_000
        started: list[tuple[Any, str]] = []
        with runtime.transaction() as conn:
            # What is due by wall time, then what is due by each clock that runs ahead.
            now = clock.wall_ms()
            rows = store.claim_due(conn, now, lease, free)
            for account_sid, account_now in clock.ahead():
                if len(rows) >= free:
                    break
                seen = {row.id for row in rows}
                more = store.claim_due(conn, account_now, lease, free - len(rows), account_sid)
                rows += [row for row in more if row.id not in seen]
            if not rows:
                return 0
            tokens = auth_tokens(conn, rows)
            busy = []
            planned: Counter[str] = Counter()
            for row in rows:
                if row.id in self._ids:
                    continue
                host = receiver(row.url)
                if self._per_host[host] + planned[host] >= self.host_limit:
                    busy.append(row)
                else:
                    planned[host] += 1
                    started.append((row, host))
            # Each due again a second later on its own account's clock.
            again: dict[int, list[int]] = {}
            for row in busy:
                due = now + clock.offsets.get(row.account_sid, 0) + HOST_BUSY_WAIT_MS
                again.setdefault(due, []).append(row.id)
            for due, ids in again.items():
                store.put_back(conn, ids, due)
        for row, host in started:
            self._start(row, host, tokens[row.account_sid])
        return len(rows)

    def _start(self, row: Any, host: str, auth_token: str) -> None:
        self._per_host[host] += 1
        self._ids.add(row.id)
        task = asyncio.create_task(self._deliver(row, host, auth_token))
        self._tasks.add(task)

    async def _deliver(self, row: Any, host: str, auth_token: str) -> None:
        over = False
        # This task's own copy of the context: the callback's times are its account's.
        current_account.set(row.account_sid)
        try:
            answer = await attempt(self.runtime, row, auth_token)
            self._finished.append((row, answer, self.runtime.clock.now_ms()))
            over = True
        finally:
            if not over:  # cut short: its lease runs out and it is claimed again
                self._ids.discard(row.id)
            self._per_host[host] -= 1
            if self._per_host[host] <= 0:
                del self._per_host[host]
            self._tasks.discard(asyncio.current_task())
            # An outcome to record, and a place free: the worker has work.
            self.runtime.wake()

    def record_finished(self) -> int:
        """Record the attempts that are over since the last round; how many."""
        finished, self._finished = self._finished, []
        record_outcomes(self.runtime, finished)
        for row, _answer, _at in finished:
            self._ids.discard(row.id)
        return len(finished)

    async def close(self, grace_s: float) -> None:
        """Let deliveries in flight finish for up to `grace_s`, then stop the rest; a stopped
        one keeps its lease until it runs out, then it is delivered again."""
        if not self._tasks:
            self.record_finished()
            return
        _done, pending = await asyncio.wait(set(self._tasks), timeout=grace_s)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.record_finished()
