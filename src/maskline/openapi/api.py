"""GET /openapi.json: the OpenAPI document of the routes this process serves, unauthenticated."""

from __future__ import annotations

from maskline.openapi.document import Document, build
from maskline.web.request import Request
from maskline.web.response import Response, json_response
from maskline.web.routing import Route

PATH = "/openapi.json"


def route(table: list[Route]) -> Route:
    """The document's route, for the table it joins. The document is built here, once, so a
    route without a described operation stops the application from being assembled."""
    document: Document = {}

    async def openapi(req: Request) -> Response:
        # MASKLINE_PUBLIC_URL when set, else the address this request came to.
        return json_response({**document, "servers": [{"url": req.base_url}]})

    served = Route("GET", PATH, openapi, auth=False, is_async=True)
    document.update(build([*table, served]))
    return served
