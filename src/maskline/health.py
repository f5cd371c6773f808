"""GET /healthz, liveness: the process answers. It asks nothing of the database, so that an
orchestrator does not restart every process while the database is away (they would come back
to the same database).
GET /readyz, readiness: the database answers and its schema is the one this Maskline needs;
503 otherwise, so a load balancer sends this process no traffic until both are true."""

from __future__ import annotations

import asyncio
import logging

from maskline.db.migrate import head_revision, stored_revision
from maskline.runtime import Runtime
from maskline.web.request import Request
from maskline.web.response import Response, json_response
from maskline.web.routing import Route

log = logging.getLogger("maskline.health")

# How long the readiness check waits for the database before calling it unready.
READY_TIMEOUT_S = 5.0


async def healthz(req: Request) -> Response:
    return json_response({"status": "ok"})


def _schema_problem(runtime: Runtime) -> str | None:
    current = stored_revision(runtime.engine)
    wanted = head_revision()
    if current != wanted:
        return f"the database schema is at {current}, this Maskline needs {wanted}"
    return None


async def readyz(req: Request) -> Response:
    # On a thread: a database that does not answer must not hold the event loop.
    try:
        problem = await asyncio.wait_for(
            asyncio.to_thread(_schema_problem, req.runtime), READY_TIMEOUT_S
        )
    except TimeoutError:
        problem = f"the database did not answer within {READY_TIMEOUT_S:g} s"
    except Exception as exc:
        # The error's class only: its text may hold the database URL.
        problem = f"the database cannot be reached ({type(exc).__name__})"
    if problem is not None:
        log.warning("not ready: %s", problem)
        return json_response({"status": "unavailable", "reason": problem}, 503)
    return json_response({"status": "ok"})


ROUTES = [
    Route("GET", "/healthz", healthz, auth=False, is_async=True),
    Route("GET", "/readyz", readyz, auth=False, is_async=True),
]
