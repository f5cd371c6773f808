"""HTTP handlers of /v1/Services/{service}/ShortCodes."""

from __future__ import annotations

from maskline.numbers import store as numbers_store
from maskline.numbers.tables import SHORT_CODE
from maskline.services.api import service_sid_of
from maskline.short_codes import rules
from maskline.short_codes.render import render_short_code
from maskline.sids import SHORT_CODE as SC
from maskline.web import params
from maskline.web.paging import page_request, render_page
from maskline.web.request import Request
from maskline.web.response import Response, json_response, no_content
from maskline.web.routing import Route


def create_short_code(req: Request) -> Response:
    service_sid = service_sid_of(req)
    row = rules.create_short_code(
        req.conn,
        req.runtime.clock,
        account_sid=req.account_sid,
        service_sid=service_sid,
        sid=params.sid(req.form, "Sid", SC, required=True) or "",
        max_pool_numbers=req.runtime.settings.max_pool_numbers,
    )
    return json_response(render_short_code(row, req.base_url), 201)


def fetch_short_code(req: Request) -> Response:
    row = rules.fetch_short_code(req.conn, service_sid=service_sid_of(req), sid=req.params["sid"])
    return json_response(render_short_code(row, req.base_url))


def update_short_code(req: Request) -> Response:
    row = rules.update_short_code(
        req.conn,
        req.runtime.clock,
        service_sid=service_sid_of(req),
        sid=req.params["sid"],
        is_reserved=params.boolean(req.form, "IsReserved"),
    )
    return json_response(render_short_code(row, req.base_url))


def delete_short_code(req: Request) -> Response:
    rules.delete_short_code(req.conn, service_sid=service_sid_of(req), sid=req.params["sid"])
    return no_content()


def list_short_codes(req: Request) -> Response:
    service_sid = service_sid_of(req)
    page = page_request(req)
    rows, more = numbers_store.list_pool(req.conn, service_sid, SHORT_CODE, page)
    items = [render_short_code(row, req.base_url) for row in rows]
    return json_response(render_page(req, "short_codes", page, rows, items, more))


PATH = "/v1/Services/{service}/ShortCodes"
ROUTES = [
    Route("GET", PATH, list_short_codes),
    Route("POST", PATH, create_short_code, writes=True),
    Route("GET", PATH + "/{sid}", fetch_short_code),
    Route("POST", PATH + "/{sid}", update_short_code, writes=True),
    Route("DELETE", PATH + "/{sid}", delete_short_code, writes=True),
]
