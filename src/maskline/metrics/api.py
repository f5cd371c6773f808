"""GET /metrics: Prometheus's text format, for every process sharing this one's metrics.

Without MASKLINE_METRICS_TOKEN it answers anyone who can reach it, like /healthz; with it,
only `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from maskline.errors import BearerTokenRequired
from maskline.metrics import gauges
from maskline.metrics.families import metrics
from maskline.web.request import Request
from maskline.web.response import Response
from maskline.web.routing import Route


class _Families(Collector):
    def __init__(self, families: Iterable[object]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[object]:  # type: ignore[override]
        return self._families


def _check_token(req: Request) -> None:
    token = req.runtime.settings.metrics_token
    if not token:
        return
    given = req.header("authorization") or ""
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        value.strip().encode(), token.encode()
    ):
        raise BearerTokenRequired("A bearer token (MASKLINE_METRICS_TOKEN) is required")


def metrics_page(req: Request) -> Response:
    _check_token(req)
    mine = metrics()
    mine.flush()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(mine.collect()))
    registry.register(_Families(gauges.collect(req.conn, req.runtime.clock)))
    return Response(200, generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4.encode())


ROUTES = [Route("GET", "/metrics", metrics_page, auth=False)]
