"""Assembles Maskline's ASGI application: every route, listed here and nowhere else."""

from __future__ import annotations

import asyncio
import contextlib
import gc

from maskline import health, worker
from maskline.events import api as events
from maskline.interactions import api as interactions
from maskline.message_interactions import api as message_interactions
from maskline.metrics import api as metrics
from maskline.openapi import api as openapi
from maskline.participants import api as participants
from maskline.phone_numbers import api as phone_numbers
from maskline.runtime import Runtime
from maskline.sandbox import api as sandbox
from maskline.sandbox import network as sandbox_network
from maskline.sandbox.clock import load_offsets
from maskline.services import api as services
from maskline.sessions import api as sessions
from maskline.settings import Settings
from maskline.short_codes import api as short_codes
from maskline.web.asgi import App
from maskline.web.routing import Route
from maskline.webhooks import api as twilio_webhooks


def routes(runtime: Runtime) -> list[Route]:
    carrier = runtime.settings.carrier
    pool_routes = phone_numbers.ROUTES
    if carrier == "twilio":
        replaced = {(r.method, r.path) for r in phone_numbers.TWILIO_ROUTES}
        pool_routes = [
            r for r in pool_routes if (r.method, r.path) not in replaced
        ] + phone_numbers.TWILIO_ROUTES
    table = [
        *health.ROUTES,
        *metrics.ROUTES,
        *services.ROUTES,
        *pool_routes,
        *short_codes.ROUTES,
        *sessions.ROUTES,
        *participants.ROUTES,
        *interactions.ROUTES,
        *message_interactions.ROUTES,
        *events.ROUTES,
    ]
    if carrier == "sandbox":
        table += sandbox.ROUTES + sandbox_network.ROUTES
    else:
        table += twilio_webhooks.ROUTES
    return [*table, openapi.route(table)]


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> App:
    """The application; `maskline serve` hands it to uvicorn, tests may mount it directly."""
    if runtime is None:
        runtime = Runtime(settings or Settings.from_env())
    from maskline.db.migrate import is_current

    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []

    async def startup() -> None:
        # `maskline serve` migrates before it starts serving; this guards other launchers.
        if not is_current(runtime.engine):
            raise RuntimeError("The database schema is behind: run `maskline migrate`.")
        with runtime.transaction(writes=False) as conn:
            runtime.clock.learn(load_offsets(conn))
        # Group commit on SQLite; on PostgreSQL, waits for the database on the event loop.
        runtime.start()
        if runtime.settings.run_worker:
            tasks.append(asyncio.create_task(worker.run(runtime, stop)))
        # What is loaded by now (modules, table metadata, compiled statements) lives as long as
        # the process: the collector's full passes need not walk it again and again.
        gc.freeze()
        # Nearly everything a request allocates is freed by reference counts, yet with 32
        # requests in flight the youngest generation passes the default threshold (700 live
        # objects) again and again. At 10,000 a request costs about 1% fewer instructions
        # (bench.cost), and at most that many young objects wait a little longer. The older
        # generations are passed every 20 younger passes instead of 10, for the same reason.
        gc.set_threshold(10_000, 20, 20)

    async def shutdown() -> None:
        stop.set()
        runtime.wake()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)
        await runtime.close()

    table = routes(runtime)
    if runtime.settings.console:
        from maskline.console.pages import ROUTES as CONSOLE_ROUTES

        # Pages for people, not API operations: they are not in the OpenAPI document.
        table += CONSOLE_ROUTES
    return App(runtime, table, on_startup=[startup], on_shutdown=[shutdown])


def serve_app() -> App:
    """The application of one process of `maskline serve --workers N`, built from the
    environment in a process of its own, where no database is open yet."""
    from maskline.db.sqlite_library import skip_memory_statistics
    from maskline.logs import configure as configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    skip_memory_statistics(settings.database_url)
    return create_app(settings)
