"""The counters and histograms a Maskline process keeps, with prometheus_client.

One process alone keeps them in memory. Processes that share a metrics directory (`serve
--workers N`, or `maskline worker` given the same MASKLINE_METRICS_DIR) each write theirs to a
file of their own there, and a scrape of any of them sums every file (directory.py).

What the database holds (pool numbers, sessions, pending callbacks, the worker's lag) is not
counted here: it is read at each scrape (gauges.py), the same whichever process answers.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    values,
)
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric

# The variable prometheus_client reads for the directory of multi-process files.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Request durations, in seconds: a fetch takes a millisecond or two, a create a few.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# A callback's answer, in seconds: receivers take tens of milliseconds to the timeout (10 s).
CALLBACK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Methods counted under their own name; any other is counted as "other", so that a client
# cannot add label values (series) by inventing methods.
KNOWN_METHODS = frozenset({"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"})


class Metrics:
    """A process's metric families. Label values are route patterns, SIDs and fixed words,
    never a phone number, a body or a secret."""

    def __init__(self, directory: str | None) -> None:
        self.directory = directory
        # `_created` series double what a scrape carries and no dashboard here reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        if directory and not getattr(values.ValueClass, "_multiprocess", False):
            # prometheus_client picks where values live when it is imported; the directory
            # may have been named after that.
            os.environ[MULTIPROC_ENV] = directory
            values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        # In a shared directory the registry is only where the families are described; a
        # scrape reads the files instead.
        self.registry = CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "maskline_http_requests",
            "HTTP requests answered, by method, route pattern and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "maskline_http_request_duration_seconds",
            "Time from a request's arrival to its answer, by method and route pattern.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.pool_exhausted = Counter(
            "maskline_pool_exhausted",
            "Participant creations refused for want of a proxy number (80206, 80208).",
            ["service_sid"],
            registry=r,
        )
        self.callback_deliveries = Counter(
            "maskline_callback_deliveries",
            "Callback delivery attempts, by outcome: delivered (2xx), retrying (failed, "
            "tried again later) or failed (the last attempt failed).",
            ["outcome"],
            registry=r,
        )
        self.callback_duration = Histogram(
            "maskline_callback_delivery_duration_seconds",
            "Time a callback's receiver took to answer (or to fail).",
            buckets=CALLBACK_BUCKETS,
            registry=r,
        )
        self.retention_deleted = Counter(
            "maskline_retention_deleted",
            "Records deleted by retention (MASKLINE_RETENTION_DAYS), by kind.",
            ["kind"],
            registry=r,
        )
        if not directory:
            from prometheus_client import PlatformCollector, ProcessCollector

            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
        # Called before a scrape: whatever keeps tallies of its own hands them over
        # (web/observe.py).
        self.flushes: list[Callable[[], None]] = []

    def flush(self) -> None:
        """Hand what the request observers have tallied to the families (before a scrape)."""
        for flush in self.flushes:
            flush()

    def collect(self) -> list[Metric]:
        """The families as a scrape shows them: this process's own, or, in a shared
        directory, every process's summed from their files."""
        if self.directory:
            from prometheus_client.multiprocess import MultiProcessCollector

            files = MultiProcessCollector(None, path=self.directory)  # type: ignore[no-untyped-call]
            return list(files.collect())  # type: ignore[no-untyped-call]
        return list(self.registry.collect())

    def families(self) -> list[MetricWrapperBase]:
        return [
            self.http_requests,
            self.http_duration,
            self.pool_exhausted,
            self.callback_deliveries,
            self.callback_duration,
            self.retention_deleted,
        ]


_current: Metrics | None = None


def metrics() -> Metrics:
    """This process's metrics: in the shared directory when one is named (directory.py)."""
    global _current
    if _current is None:
        _current = Metrics(os.environ.get(MULTIPROC_ENV) or None)
    return _current
