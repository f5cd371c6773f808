"""The worker: delivers callbacks, runs scheduled jobs, closes expired sessions and deletes
what has outlived the retention period.

`maskline serve` runs one in-process; `maskline worker` runs one alone. Any number may run on
one database: every piece of work is claimed with a lease first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from sqlalchemy import Connection

from maskline.callbacks.dispatch import Dispatcher
from maskline.clock import Clock, current_account
from maskline.jobs import store as jobs_store
from maskline.retention import Retention
from maskline.runtime import Runtime
from maskline.sandbox.carrier import JOB_HANDLERS
from maskline.sandbox.clock import load_offsets
from maskline.sessions.rules import expire_due

log = logging.getLogger("maskline.worker")

JobHandler = Callable[[Connection, Clock, dict[str, Any]], None]
NetworkJobHandler = Callable[[Runtime, Any], Awaitable[None]]
JOB_BATCH = 200
NETWORK_BATCH = 20
JOB_LEASE_MS = 30_000
# A round costs a few transactions even when it finds little to do. Every write wakes the
# worker (a new callback is due at once), and a busy round calls for another: while writes keep
# coming, or work keeps trickling in, rounds start at most this often (and never less often than
# MASKLINE_WORKER_POLL_MS), so that each serves everything that came meanwhile instead of
# taking turns with every request.
ROUND_GAP_MS = 20


def run_due_jobs(runtime: Runtime, handlers: Mapping[str, JobHandler] = JOB_HANDLERS) -> int:
    """Run the jobs that are due, all in one transaction.

    Jobs rarely fail, so a batch first runs without a savepoint per job, which would cost more
    than most jobs do. If one raises, that transaction is rolled back and the batch runs again
    with a savepoint each: the failing job is rolled back alone, its lease runs out and it is
    tried again, logged each time rather than lost.
    """
    try:
        with runtime.transaction() as conn:
            return _run_jobs(conn, runtime, handlers, isolated=False)
    except Exception:
        log.info("a job failed in a batch; running the batch again job by job")
    with runtime.transaction() as conn:
        return _run_jobs(conn, runtime, handlers, isolated=True)


def _run_jobs(
    conn: Connection, runtime: Runtime, handlers: Mapping[str, JobHandler], *, isolated: bool
) -> int:
    clock = runtime.clock
    # Run and finished in this transaction, the jobs of a batch need no lease; a batch run job
    # by job leases them, so that a job that fails waits for its lease before it runs again.
    lease = JOB_LEASE_MS if isolated else None
    # What is due by wall time, then what is due by each clock that runs ahead.
    rows = jobs_store.claim_due(conn, clock.wall_ms(), lease, JOB_BATCH, handlers.keys())
    for account_sid, now in clock.ahead():
        seen = {row.id for row in rows}
        more = jobs_store.claim_due(
            conn, now, lease, JOB_BATCH, handlers.keys(), account_sid=account_sid
        )
        rows += [row for row in more if row.id not in seen]
    if not isolated:
        for row in rows:
            _run_job(conn, runtime, handlers, row)
        # Every job of the batch is done, in the batch's transaction: one statement ends them.
        jobs_store.finish_all(conn, [row.id for row in rows])
        return len(rows)
    for row in rows:
        try:
            with conn.begin_nested():
                _run_job(conn, runtime, handlers, row)
                jobs_store.finish(conn, row.id)
        except Exception:
            log.exception("job %s (%s) failed", row.id, row.kind)
    return len(rows)


def _run_job(
    conn: Connection, runtime: Runtime, handlers: Mapping[str, JobHandler], row: Any
) -> None:
    handler = handlers.get(row.kind)
    if handler is None:
        log.error("no handler for job %s (%s); dropped", row.id, row.kind)
    else:
        # The job's times are its account's (a status step per message: no context manager).
        token = current_account.set(row.account_sid)
        try:
            handler(conn, runtime.clock, orjson.loads(row.payload))
        finally:
            current_account.reset(token)


def expire_sessions(runtime: Runtime) -> int:
    with runtime.transaction() as conn:
        return expire_due(conn, runtime.clock)


def refresh_clock(runtime: Runtime) -> None:
    """Pick up clock moves other processes made; only the sandbox can move clocks."""
    if runtime.settings.carrier != "sandbox":
        return
    with runtime.transaction(writes=False) as conn:
        runtime.clock.learn(load_offsets(conn))


async def run_network_jobs(runtime: Runtime) -> int:
    """Jobs that call a carrier's network: claimed in one transaction, run concurrently."""
    handlers = network_job_handlers(runtime)
    if not handlers:
        return 0
    now = runtime.clock.now_ms()
    lease = runtime.settings.twilio_timeout_ms + JOB_LEASE_MS
    with runtime.transaction() as conn:
        rows = jobs_store.claim_due(conn, now, lease, NETWORK_BATCH, handlers.keys())
    if rows:
        await asyncio.gather(*(_run_network_job(runtime, handlers[row.kind], row) for row in rows))
    return len(rows)


async def _run_network_job(runtime: Runtime, handler: NetworkJobHandler, row: Any) -> None:
    try:
        await handler(runtime, row)
    except Exception:
        log.exception("job %s (%s) failed; it runs again when its lease ends", row.id, row.kind)


def network_job_handlers(runtime: Runtime) -> dict[str, NetworkJobHandler]:
    if runtime.carrier.name == "twilio":
        from maskline.carriers.twilio_sends import NETWORK_JOB_HANDLERS

        return dict(NETWORK_JOB_HANDLERS)
    return {}


async def tick(runtime: Runtime, dispatcher: Dispatcher, retention: Retention | None = None) -> int:
    """One round of every kind of work; how many items were handled. Callbacks are only
    started here: expiry and jobs never wait for a receiver (callbacks/dispatch.py)."""
    refresh_clock(runtime)
    done = expire_sessions(runtime)
    done += run_due_jobs(runtime)
    done += await run_network_jobs(runtime)
    done += dispatcher.record_finished()
    done += dispatcher.dispatch_due()
    if retention is not None and retention.due():
        done += await retention.sweep()
    return done


async def run(runtime: Runtime, stop: asyncio.Event) -> None:
    poll = runtime.settings.worker_poll_ms / 1000
    gap = min(ROUND_GAP_MS / 1000, poll)
    loop = asyncio.get_running_loop()
    dispatcher = Dispatcher(runtime)
    retention = Retention(runtime)
    log.info("worker started")
    try:
        await _rounds(runtime, stop, dispatcher, retention, poll, gap, loop)
    finally:
        # Deliveries cut short here keep their lease and are delivered again when it ends.
        await dispatcher.close(grace_s=min(runtime.settings.callback_timeout_ms / 1000, 3.0))
    log.info("worker stopped")


async def _rounds(
    runtime: Runtime,
    stop: asyncio.Event,
    dispatcher: Dispatcher,
    retention: Retention,
    poll: float,
    gap: float,
    loop: asyncio.AbstractEventLoop,
) -> None:
    wake = runtime.wake_event()
    while not stop.is_set():
        started = loop.time()
        round_ms = runtime.clock.now_ms()
        try:
            busy = await tick(runtime, dispatcher, retention)
        except Exception:
            log.exception("worker round failed; retrying")
            busy = 0
        if not busy:
            wake.clear()
            # Until woken, the next due time requests noted, or the poll interval.
            timeout = runtime.seconds_to_next_due(round_ms, poll)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=timeout)
        # At least a turn of the event loop between two rounds, however busy: the deliveries
        # in flight (and, in `maskline serve`, the requests) run in it.
        await asyncio.sleep(max(0.0, gap - (loop.time() - started)))
