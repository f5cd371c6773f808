"""What every answered request leaves behind: its `Twilio-Request-Id`, its metrics and, unless
MASKLINE_ACCESS_LOG=0, an access record on `maskline.access` at `info`.

The access record holds the method, the path as the client sent it (percent-escapes kept, so a
line can never be split or forged through it), the status, the time taken, the request id and
the account SID: never the query string, a body, a header or a credential.

Runs on every request, so it is kept to a few dictionary lookups and three additions to the
metrics when the access log is off or filtered out by the level.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from maskline.metrics.families import metrics

access = logging.getLogger("maskline.access")


def new_request_id() -> str:
    """`RQ` and 32 hex digits, as Twilio's API names its requests. An id names a request and
    guards nothing, so the cheaper non-cryptographic generator serves (reseeded in each
    process)."""
    return f"RQ{random.getrandbits(128):032x}"


class Observer:
    def __init__(self, access_log: bool) -> None:
        self._metrics = metrics()
        self._access_log = access_log

    def done(
        self,
        scope: Any,
        route: str,
        status: int,
        seconds: float,
        request_id: str,
        account_sid: str | None,
    ) -> None:
        method: str = scope["method"]
        self._metrics.request_done(method, route, status, seconds)
        if self._access_log and access.isEnabledFor(logging.INFO):
            path = _sent_path(scope)
            millis = round(seconds * 1000, 3)
            access.info(
                "%s %s %d %.1fms %s %s",
                method,
                path,
                status,
                millis,
                request_id,
                account_sid or "-",
                extra={
                    "method": method,
                    "path": path,
                    "status": status,
                    "duration_ms": millis,
                    "request_id": request_id,
                    "account_sid": account_sid,
                },
            )


def _sent_path(scope: Any) -> str:
    raw = scope.get("raw_path")
    path: str = raw.decode("latin-1") if raw else scope["path"]
    if not path.isprintable():
        path = path.encode("unicode_escape").decode("ascii")
    return path
