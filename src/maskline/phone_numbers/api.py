"""HTTP handlers of /v1/Services/{service}/PhoneNumbers."""

from __future__ import annotations

import requests
from twilio.base.exceptions import TwilioRestException

from maskline.carriers.twilio import TwilioCarrier
from maskline.errors import CarrierUnavailable, MissingParameter, PhoneNumberNotOwned
from maskline.numbers import store as numbers_store
from maskline.numbers.rules import adopt_phone_number
from maskline.numbers.tables import PHONE_NUMBER
from maskline.phone_numbers import rules
from maskline.phone_numbers.render import render_phone_number
from maskline.services.api import service_sid_of
from maskline.services.rules import fetch_service
from maskline.sids import PHONE_NUMBER as PN
from maskline.web import params
from maskline.web.paging import page_request, render_page
from maskline.web.request import Request
from maskline.web.response import Response, json_response, no_content
from maskline.web.routing import Route


def create_phone_number(req: Request) -> Response:
    form = req.form
    service_sid = service_sid_of(req)
    settings = req.runtime.settings
    row = rules.create_phone_number(
        req.conn,
        req.runtime.clock,
        account_sid=req.account_sid,
        service_sid=service_sid,
        sid=params.sid(form, "Sid", PN),
        phone_number=params.text(form, "PhoneNumber", max_length=32),
        is_reserved=params.boolean(form, "IsReserved"),
        provision=settings.carrier == "sandbox",
        max_pool_numbers=settings.max_pool_numbers,
    )
    return json_response(render_phone_number(row, req.base_url), 201)


def fetch_phone_number(req: Request) -> Response:
    row = rules.fetch_phone_number(req.conn, service_sid=service_sid_of(req), sid=req.params["sid"])
    return json_response(render_phone_number(row, req.base_url))


def update_phone_number(req: Request) -> Response:
    row = rules.update_phone_number(
        req.conn,
        req.runtime.clock,
        service_sid=service_sid_of(req),
        sid=req.params["sid"],
        is_reserved=params.boolean(req.form, "IsReserved"),
    )
    return json_response(render_phone_number(row, req.base_url))


def delete_phone_number(req: Request) -> Response:
    rules.delete_phone_number(req.conn, service_sid=service_sid_of(req), sid=req.params["sid"])
    return no_content()


def list_phone_numbers(req: Request) -> Response:
    service_sid = service_sid_of(req)
    page = page_request(req)
    rows, more = numbers_store.list_pool(req.conn, service_sid, PHONE_NUMBER, page)
    items = [render_phone_number(row, req.base_url) for row in rows]
    return json_response(render_page(req, "phone_numbers", page, rows, items, more))


PATH = "/v1/Services/{service}/PhoneNumbers"
ROUTES = [
    Route("GET", PATH, list_phone_numbers),
    Route("POST", PATH, create_phone_number, writes=True),
    Route("GET", PATH + "/{sid}", fetch_phone_number),
    Route("POST", PATH + "/{sid}", update_phone_number, writes=True),
    Route("DELETE", PATH + "/{sid}", delete_phone_number, writes=True),
]


async def create_phone_number_from_twilio(req: Request) -> Response:
    """CreatePhoneNumber on the Twilio carrier: the number is looked up among the Twilio
    account's IncomingPhoneNumbers (and, when configured, pointed at Maskline) before it joins
    the pool. The REST calls happen outside any database transaction."""
    form = req.form
    runtime = req.runtime
    carrier = runtime.carrier
    assert isinstance(carrier, TwilioCarrier)
    sid = params.sid(form, "Sid", PN)
    phone_number = params.text(form, "PhoneNumber", max_length=32)
    is_reserved = params.boolean(form, "IsReserved")
    if sid is None and phone_number is None:
        raise MissingParameter("Sid")
    with runtime.transaction(writes=False) as conn:
        service_sid = fetch_service(
            conn, account_sid=req.account_sid, sid=req.params["service"]
        ).sid
    try:
        found = await carrier.run(carrier.lookup_number, sid=sid, phone_number=phone_number)
        if found is None:
            raise PhoneNumberNotOwned("The Twilio account has no such phone number")
        if runtime.settings.twilio_configure_webhooks:
            await carrier.run(carrier.configure_webhooks, found.sid)
    except (TwilioRestException, requests.exceptions.RequestException) as exc:
        raise CarrierUnavailable(f"Twilio could not be asked about the number: {exc}") from exc
    with runtime.transaction() as conn:
        number = adopt_phone_number(
            conn,
            runtime.clock,
            account_sid=req.account_sid,
            sid=found.sid,
            phone_number=found.phone_number,
            friendly_name=found.friendly_name,
            voice=found.voice,
            sms=found.sms,
            mms=found.mms,
            fax=found.fax,
        )
        row = rules.create_phone_number(
            conn,
            runtime.clock,
            account_sid=req.account_sid,
            service_sid=service_sid,
            sid=number.sid,
            phone_number=None,
            is_reserved=is_reserved,
            provision=False,
            max_pool_numbers=runtime.settings.max_pool_numbers,
        )
    runtime.wake()
    return json_response(render_phone_number(row, req.base_url), 201)


TWILIO_ROUTES = [
    Route("POST", PATH, create_phone_number_from_twilio, writes=True, is_async=True),
]
