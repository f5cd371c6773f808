"""Assembles Maskline's ASGI application: every route, listed here and nowhere else."""

from __future__ import annotations

from maskline import health
from maskline.interactions import api as interactions
from maskline.message_interactions import api as message_interactions
from maskline.participants import api as participants
from maskline.phone_numbers import api as phone_numbers
from maskline.runtime import Runtime
from maskline.sandbox import api as sandbox
from maskline.services import api as services
from maskline.sessions import api as sessions
from maskline.settings import Settings
from maskline.short_codes import api as short_codes
from maskline.web.asgi import App
from maskline.web.routing import Route


def routes(runtime: Runtime) -> list[Route]:
    table = [
        *health.ROUTES,
        *services.ROUTES,
        *phone_numbers.ROUTES,
        *short_codes.ROUTES,
        *sessions.ROUTES,
        *participants.ROUTES,
        *interactions.ROUTES,
        *message_interactions.ROUTES,
    ]
    if runtime.settings.carrier == "sandbox":
        table += sandbox.ROUTES
    return table


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> App:
    """The application; `maskline serve` hands it to uvicorn, tests may mount it directly."""
    if runtime is None:
        runtime = Runtime(settings or Settings.from_env())
    from maskline.db.migrate import is_current

    async def startup() -> None:
        # `maskline serve` migrates before it starts serving; this guards other launchers.
        if not is_current(runtime.engine):
            raise RuntimeError("The database schema is behind: run `maskline migrate`.")

    async def shutdown() -> None:
        runtime.engine.dispose()

    return App(runtime, routes(runtime), on_startup=[startup], on_shutdown=[shutdown])
