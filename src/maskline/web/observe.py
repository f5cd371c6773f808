"""What every answered request leaves behind: its `Twilio-Request-Id`, its metrics and, unless
MASKLINE_ACCESS_LOG=0, an access record on `maskline.access` at `info`.

The access record holds the method, the path as the client sent it (percent-escapes kept, so a
line can never be split or forged through it), the status, the time taken, the request id and
the account SID: never the query string, a body, a header or a credential.

This runs on every request, so the metrics are tallied in plain lists first: a count, a sum
and the histogram's bucket counts per (method, route, status), a few additions a request.
prometheus_client takes one observation at a time, under a lock, at about ten times that
cost. The tallies are handed to its families every FLUSH_S, before every scrape this process
answers, and at shutdown, so a scrape of any process of `serve --workers N` sees every
process's requests at most FLUSH_S late. Adding a tally's buckets at once uses the
histogram's own bucket values (prometheus_client is pinned in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import logging
import os
from typing import Any

from maskline.metrics.families import HTTP_BUCKETS, KNOWN_METHODS, metrics

access = logging.getLogger("maskline.access")

# Seconds between two hand-overs of the tallies to the metric families.
FLUSH_S = 1.0
# Where a request's scope holds the pattern of the route it reached (web/asgi.py).
ROUTE = "maskline.route"

# A request id: this process's random prefix and a counter. Ids name requests and guard
# nothing: unique is all they must be, and a counter is cheaper than random digits each time.
_PREFIX = ("RQ" + os.urandom(8).hex()).encode()
_COUNTER = itertools.count(int.from_bytes(os.urandom(4), "big"))


def new_request_id() -> bytes:
    """`RQ` and 32 hex digits, as Twilio's API names its requests: as the header's bytes,
    decoded only for a log line."""
    return b"%s%016x" % (_PREFIX, next(_COUNTER))


class Observer:
    def __init__(self, access_log: bool) -> None:
        self._metrics = metrics()
        self._access_log = access_log
        # (method, route, status) -> [count, seconds, one count per bucket, then +Inf's]
        self._tallies: dict[tuple[str, str, int], list[Any]] = {}
        self._metrics.flushes.append(self.flush)

    def done(
        self,
        scope: Any,
        status: int,
        seconds: float,
        request_id: bytes,
        account_sid: str | None,
    ) -> None:
        """Count an answered request. Its route pattern is in its scope under ROUTE, put there
        when a route matched."""
        method: str = scope["method"]
        key = (method, scope.get(ROUTE, "unmatched"), status)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = [0, 0.0] + [0] * (len(HTTP_BUCKETS) + 1)
        tally[0] += 1
        tally[1] += seconds
        tally[2 + bisect.bisect_left(HTTP_BUCKETS, seconds)] += 1
        if self._access_log and access.isEnabledFor(logging.INFO):
            path = _sent_path(scope)
            millis = round(seconds * 1000, 3)
            rid = request_id.decode()
            access.info(
                "%s %s %d %.1fms %s %s",
                method,
                path,
                status,
                millis,
                rid,
                account_sid or "-",
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": millis,
                    "request_id": rid,
                    "account_sid": account_sid,
                },
            )

    def flush(self) -> None:
        """Add the tallies to `maskline_http_requests_total` and
        `maskline_http_request_duration_seconds`, and start new ones."""
        tallies, self._tallies = self._tallies, {}
        requests = self._metrics.http_requests
        durations = self._metrics.http_duration
        for (method, route, status), tally in tallies.items():
            if method not in KNOWN_METHODS:
                # Clients cannot add series by inventing methods.
                method = "other"
            requests.labels(method, route, str(status)).inc(tally[0])
            histogram = durations.labels(method, route)
            histogram._sum.inc(tally[1])
            for bucket, count in zip(histogram._buckets, tally[2:], strict=True):
                if count:
                    bucket.inc(count)

    async def run(self) -> None:
        """Flush every FLUSH_S until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(FLUSH_S)
                self.flush()
        finally:
            self.flush()


def _sent_path(scope: Any) -> str:
    raw = scope.get("raw_path")
    path: str = raw.decode("latin-1") if raw else scope["path"]
    if not path.isprintable():
        path = path.encode("unicode_escape").decode("ascii")
    return path
