"""HTTP handlers of /v1/Services."""

from __future__ import annotations

from typing import Any

from maskline.errors import InvalidParameter
from maskline.services import rules, store
from maskline.services.render import render_service
from maskline.services.store import list_services as query_services
from maskline.sids import SERVICE, is_sid
from maskline.web import params
from maskline.web.paging import page_request, render_page
from maskline.web.request import Form, Request
from maskline.web.response import Response, json_response, no_content
from maskline.web.routing import Route


def service_sid_of(req: Request) -> str:
    """The SID of the service named in the path (by SID or unique name); 404 when none."""
    return str(fetch_service_row(req).sid)


def fetch_service_row(req: Request) -> Any:
    return rules.fetch_service(req.conn, account_sid=req.account_sid, sid=req.params["service"])


def fetch_session_settings(req: Request) -> Any:
    """What creating a session reads of the service in the path (store.get_session_settings);
    a service named otherwise than by SID, or not found, takes the whole lookup."""
    key = req.params["service"]
    if is_sid(key, SERVICE):
        row = store.get_session_settings(req.conn, req.account_sid, key)
        if row is not None:
            return row
    return fetch_service_row(req)


def _settings(form: Form) -> dict[str, Any]:
    return {
        "callback_url": params.url(form, "CallbackUrl"),
        "intercept_callback_url": params.url(form, "InterceptCallbackUrl"),
        "out_of_session_callback_url": params.url(form, "OutOfSessionCallbackUrl"),
        "session_callback_url": params.url(form, "SessionCallbackUrl"),
        "chat_instance_sid": params.sid(form, "ChatInstanceSid", "IS"),
        "default_ttl": params.integer(form, "DefaultTtl", minimum=0),
        "geo_match_level": params.choice(form, "GeoMatchLevel", rules.GEO_MATCH_LEVELS),
        "number_selection_behavior": params.choice(
            form, "NumberSelectionBehavior", rules.NUMBER_SELECTION_BEHAVIORS
        ),
    }


def _unique_name(form: Form, *, required: bool) -> str | None:
    name = params.name(form, "UniqueName", required=required, max_length=191, unique=True)
    if name is not None and name.startswith(SERVICE) and len(name) == 34:
        # A name shaped like a SID would shadow fetch-by-SID.
        raise InvalidParameter("UniqueName", "must not look like a Service SID")
    if name is not None and name.strip() == "":
        raise InvalidParameter("UniqueName", "must not be empty")
    return name


def create_service(req: Request) -> Response:
    form = req.form
    row = rules.create_service(
        req.conn,
        req.runtime.clock,
        account_sid=req.account_sid,
        unique_name=_unique_name(form, required=True) or "",
        **_settings(form),
    )
    return json_response(render_service(row, req.base_url), 201)


def fetch_service(req: Request) -> Response:
    return json_response(render_service(fetch_service_row(req), req.base_url))


def update_service(req: Request) -> Response:
    form = req.form
    row = rules.update_service(
        req.conn,
        req.runtime.clock,
        account_sid=req.account_sid,
        sid=req.params["service"],
        unique_name=_unique_name(form, required=False),
        **_settings(form),
    )
    return json_response(render_service(row, req.base_url))


def delete_service(req: Request) -> Response:
    rules.delete_service(req.conn, account_sid=req.account_sid, sid=req.params["service"])
    return no_content()


def list_services(req: Request) -> Response:
    page = page_request(req)
    rows, more = query_services(req.conn, req.account_sid, page)
    items = [render_service(row, req.base_url) for row in rows]
    return json_response(render_page(req, "services", page, rows, items, more))


ROUTES = [
    Route("GET", "/v1/Services", list_services),
    Route("POST", "/v1/Services", create_service, writes=True),
    Route("GET", "/v1/Services/{service}", fetch_service),
    Route("POST", "/v1/Services/{service}", update_service, writes=True),
    Route("DELETE", "/v1/Services/{service}", delete_service, writes=True),
]
