"""HTTP handlers of /sandbox/v1: the simulated network's inventory and handsets."""

from __future__ import annotations

from maskline.errors import NotFound
from maskline.numbers import rules as numbers_rules
from maskline.sandbox import store
from maskline.sandbox.render import render_message, render_owned_number, render_owned_short_code
from maskline.web import params
from maskline.web.request import Request
from maskline.web.response import Response, json_response
from maskline.web.routing import Route


def create_sandbox_phone_number(req: Request) -> Response:
    form = req.form

    def capability(name: str) -> bool:
        value = params.boolean(form, name)
        return True if value is None else value

    row, created = numbers_rules.provision_phone_number(
        req.conn,
        req.runtime.clock,
        account_sid=req.account_sid,
        phone_number=params.text(form, "PhoneNumber", required=True, max_length=32) or "",
        friendly_name=params.name(form, "FriendlyName", max_length=255),
        voice=capability("VoiceCapable"),
        sms=capability("SmsCapable"),
        mms=capability("MmsCapable"),
    )
    return json_response(render_owned_number(row), 201 if created else 200)


def create_sandbox_short_code(req: Request) -> Response:
    form = req.form
    row, created = numbers_rules.provision_short_code(
        req.conn,
        req.runtime.clock,
        account_sid=req.account_sid,
        short_code=params.text(form, "ShortCode", required=True, max_length=8) or "",
        iso_country=params.text(form, "IsoCountry", max_length=2) or "US",
    )
    return json_response(render_owned_short_code(row), 201 if created else 200)


def fetch_sandbox_message(req: Request) -> Response:
    row = store.get_message(req.conn, req.account_sid, req.params["sid"])
    if row is None:
        raise NotFound(f"The requested Message {req.params['sid']} was not found")
    return json_response(render_message(row, req.base_url))


def list_device_messages(req: Request) -> Response:
    rows = store.messages_received(req.conn, req.account_sid, req.params["device"])
    return json_response({"messages": [render_message(row, req.base_url) for row in rows]})


ROUTES = [
    Route("POST", "/sandbox/v1/PhoneNumbers", create_sandbox_phone_number, writes=True),
    Route("POST", "/sandbox/v1/ShortCodes", create_sandbox_short_code, writes=True),
    Route("GET", "/sandbox/v1/Messages/{sid}", fetch_sandbox_message),
    Route("GET", "/sandbox/v1/Devices/{device}/Messages", list_device_messages),
]
