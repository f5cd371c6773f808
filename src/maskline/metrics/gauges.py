"""What the database holds, read at each scrape: the same whichever process answers it, and
whichever processes changed it.

- `maskline_pool_numbers{service_sid, state}`: a service's numbers and short codes, each in
  one state: `reserved`, `in_use` (not reserved, in at least one active session) or `free`.
- `maskline_sessions{service_sid, status}`: a service's sessions by status, closed ones
  included until retention deletes them.
- `maskline_callbacks_pending`: callbacks not yet delivered nor failed.
- `maskline_worker_lag_seconds`: how long the oldest piece of due work (a callback, a job, a
  session past its deadline) has waited, by wall-clock time; 0 when nothing waits.

A scrape reads these with a few grouped counts; on a very large database a scrape every 15 s
or so (Prometheus's usual interval) costs little, a scrape every second would not.
"""

from __future__ import annotations

from collections import defaultdict

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import ColumnElement, Connection, Table, case, func, or_, select

from maskline.callbacks.tables import PENDING, callbacks
from maskline.clock import Clock
from maskline.jobs.tables import jobs
from maskline.numbers.tables import numbers
from maskline.services.tables import services
from maskline.sessions.tables import sessions

POOL_STATES = ("free", "in_use", "reserved")
SESSION_STATUSES = ("open", "in-progress", "closed", "failed", "unknown")


def collect(conn: Connection, clock: Clock) -> list[GaugeMetricFamily]:
    service_sids = [row[0] for row in conn.execute(select(services.c.sid).order_by(services.c.id))]
    return [
        _pool(conn, service_sids),
        _sessions(conn, service_sids),
        _pending(conn),
        _lag(conn, clock.wall_ms()),
    ]


def _pool(conn: Connection, service_sids: list[str]) -> GaugeMetricFamily:
    state = case(
        (numbers.c.is_reserved, "reserved"),
        (numbers.c.in_use > 0, "in_use"),
        else_="free",
    )
    query = (
        select(numbers.c.service_sid, state, func.count())
        .where(numbers.c.service_sid.is_not(None))
        .group_by(numbers.c.service_sid, state)
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for service_sid, name, count in conn.execute(query):
        counts[service_sid][name] = count
    family = GaugeMetricFamily(
        "maskline_pool_numbers",
        "Numbers and short codes in a service's pool, by state: free, in_use, reserved.",
        labels=["service_sid", "state"],
    )
    for sid in service_sids:
        for name in POOL_STATES:
            family.add_metric([sid, name], counts[sid].get(name, 0))
    return family


def _sessions(conn: Connection, service_sids: list[str]) -> GaugeMetricFamily:
    query = select(sessions.c.service_sid, sessions.c.status, func.count()).group_by(
        sessions.c.service_sid, sessions.c.status
    )
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for service_sid, status, count in conn.execute(query):
        counts[service_sid][status] = count
    family = GaugeMetricFamily(
        "maskline_sessions",
        "Sessions of a service, by status.",
        labels=["service_sid", "status"],
    )
    for sid in service_sids:
        for status in SESSION_STATUSES:
            family.add_metric([sid, status], counts[sid].get(status, 0))
    return family


def _pending(conn: Connection) -> GaugeMetricFamily:
    count = conn.execute(
        select(func.count()).select_from(callbacks).where(callbacks.c.status == PENDING)
    ).scalar_one()
    return GaugeMetricFamily(
        "maskline_callbacks_pending",
        "Callbacks waiting for delivery (neither delivered nor failed yet).",
        value=count,
    )


def _lag(conn: Connection, now: int) -> GaugeMetricFamily:
    oldest = [
        conn.execute(
            select(func.min(callbacks.c.due_at)).where(
                callbacks.c.status == PENDING, callbacks.c.due_at <= now, _unleased(callbacks, now)
            )
        ).scalar(),
        conn.execute(
            select(func.min(jobs.c.due_at)).where(jobs.c.due_at <= now, _unleased(jobs, now))
        ).scalar(),
        conn.execute(
            select(func.min(sessions.c.expires_at)).where(
                sessions.c.expires_at.is_not(None), sessions.c.expires_at <= now
            )
        ).scalar(),
    ]
    waiting = [int(due) for due in oldest if due is not None]
    lag_s = max(0, now - min(waiting)) / 1000 if waiting else 0.0
    return GaugeMetricFamily(
        "maskline_worker_lag_seconds",
        "How long the oldest due callback, job or expiring session has waited for a worker.",
        value=lag_s,
    )


def _unleased(table: Table, now: int) -> ColumnElement[bool]:
    """Not claimed by a worker, or claimed by one whose lease ran out."""
    column = table.c.leased_until
    return or_(column.is_(None), column <= now)
