"""The console's pages at /console: server-rendered HTML over the same rules as the API.

Each page reads the signed session cookie (signin.py) and acts for that account only; a form
posts its CSRF token and is answered with a redirect back (post, redirect, get). An action the
rules refuse is rolled back and shown with its Twilio error code. Pages that wait on the
network (sign-in's scrypt, a simulated text routed through callbacks) are asynchronous and run
their own transactions; the others run in the request's.
"""

from __future__ import annotations

import base64
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from maskline.callbacks import store as callbacks_store
from maskline.clock import current_account
from maskline.console import queries, signin
from maskline.console.render import page, redirect, static
from maskline.errors import ApiError
from maskline.phone_numbers import api as phone_numbers_api
from maskline.phone_numbers import rules as phone_numbers
from maskline.sandbox import network
from maskline.sandbox.clock import MAX_ADVANCE_S
from maskline.sessions import rules as sessions_rules
from maskline.short_codes import rules as short_codes
from maskline.web import params
from maskline.web.request import Request
from maskline.web.response import Response
from maskline.web.routing import Route

Page = Callable[[Request, signin.Signed], Response]
AsyncPage = Callable[[Request, signin.Signed], Awaitable[Response]]
STATUSES = ("open", "in-progress", "closed", "failed", "unknown")


def _first(values: dict[str, list[str]], name: str) -> str | None:
    found = values.get(name)
    return found[0].strip() if found else None


def _number(values: dict[str, list[str]], name: str) -> int | None:
    raw = _first(values, name)
    return int(raw) if raw is not None and raw.isdigit() and len(raw) < 18 else None


def _secure(req: Request) -> bool:
    return req.base_url.startswith("https://")


def _back(req: Request, path: str, **flash: str) -> Response:
    if not flash:
        return redirect(path)
    return redirect(path + ("&" if "?" in path else "?") + urllib.parse.urlencode(flash))


def _signed(req: Request) -> signin.Signed | None:
    return signin.check(req.conn, signin.read_cookie(req.headers, signin.COOKIE))


def _context(req: Request, signed: signin.Signed, **more: Any) -> dict[str, Any]:
    return {
        "account_sid": signed.account_sid,
        "csrf": signed.csrf,
        "sandbox": req.runtime.settings.carrier == "sandbox",
        "done": _first(req.query, "done"),
        "problem": _first(req.query, "problem"),
        **more,
    }


def _refused(error: ApiError) -> str:
    return f"{error.message} ({error.code})"


def signed_page(handler: Page) -> Callable[[Request], Response]:
    """A page for signed-in users, acting for the cookie's account only."""

    def run(req: Request) -> Response:
        signed = _signed(req)
        if signed is None:
            return redirect("/console/sign-in")
        req.account_sid = signed.account_sid
        current_account.set(signed.account_sid)
        try:
            return handler(req, signed)
        except ApiError as error:
            context = _context(req, signed)
            return page("error.html", error.status, message=_refused(error), **context)

    return run


def signed_action(
    back: Callable[[Request], str],
) -> Callable[[Page], Callable[[Request], Response]]:
    """A form's POST: it needs the session's CSRF token; what it changed is rolled back when
    the rules refuse it, and either way it answers with a redirect to `back`."""

    def wrap(handler: Page) -> Callable[[Request], Response]:
        def run(req: Request) -> Response:
            signed = _signed(req)
            if signed is None:
                return redirect("/console/sign-in")
            if not signed.csrf_ok(_first(req.form, "csrf")):
                return page("error.html", 403, message="This form has expired: reload the page.")
            req.account_sid = signed.account_sid
            current_account.set(signed.account_sid)
            try:
                with req.conn.begin_nested():
                    return handler(req, signed)
            except ApiError as error:
                return _back(req, back(req), problem=_refused(error))

        return run

    return wrap


def _not_sandbox(req: Request) -> Response | None:
    """The phone simulator's pages and actions answer only on the sandbox carrier: on a real
    network there are no simulated handsets, and no clock to move."""
    if req.runtime.settings.carrier == "sandbox":
        return None
    return page("error.html", 404, message="The phone simulator is the sandbox carrier's.")


def signed_async(handler: AsyncPage) -> Callable[[Request], Awaitable[Response]]:
    async def run(req: Request) -> Response:
        with req.runtime.transaction(writes=False) as conn:
            signed = signin.check(conn, signin.read_cookie(req.headers, signin.COOKIE))
        if signed is None:
            return redirect("/console/sign-in")
        req.account_sid = signed.account_sid
        current_account.set(signed.account_sid)
        if not signed.csrf_ok(_first(req.form, "csrf")):
            return page("error.html", 403, message="This form has expired: reload the page.")
        return await handler(req, signed)

    return run


# -- signing in and out ------------------------------------------------------------------------


def home(req: Request) -> Response:
    return redirect("/console/services" if _signed(req) else "/console/sign-in")


def sign_in_form(req: Request, problem: str | None = None, status: int = 200) -> Response:
    token = signin.new_sign_in_token()
    response = page("sign_in.html", status, token=token, problem=problem)
    response.headers.append(
        (b"set-cookie", signin.cookie_header(signin.SIGN_IN_COOKIE, token, secure=_secure(req)))
    )
    return response


def sign_in_page(req: Request) -> Response:
    if _signed(req) is not None:
        return redirect("/console/services")
    return sign_in_form(req)


async def sign_in(req: Request) -> Response:
    expected = signin.read_cookie(req.headers, signin.SIGN_IN_COOKIE)
    given = _first(req.form, "token")
    if not expected or not given or expected != given:
        return sign_in_form(req, "This form has expired: sign in again.", 403)
    sid = _first(req.form, "sid") or ""
    secret = req.form.get("secret", [""])[0]
    header = "Basic " + base64.b64encode(f"{sid}:{secret}".encode()).decode()
    runtime = req.runtime
    authenticator = runtime.authenticator
    # Counted as the API counts them: by the SID tried and by the caller's address, with the
    # API's own failures.
    address = req.client_address
    if authenticator.throttled(header, address):
        return sign_in_form(req, "Too many failed attempts: try again in a minute.", 429)
    with runtime.transaction(writes=False) as conn:
        check = authenticator.look_up(conn, header)
    account_sid = await authenticator.verify(header, check, address)
    if account_sid is None:
        return sign_in_form(req, "These credentials are not valid.", 401)
    with runtime.transaction(writes=False) as conn:
        value = signin.issue(conn, account_sid, sid)
    secure = _secure(req)
    return redirect(
        "/console/services",
        signin.cookie_header(signin.COOKIE, value, secure=secure),
        signin.cookie_header(signin.SIGN_IN_COOKIE, "", secure=secure, max_age=0),
    )


@signed_action(lambda req: "/console/sign-in")
def sign_out(req: Request, signed: signin.Signed) -> Response:
    signin.sign_out(req.conn, signed)
    return redirect(
        "/console/sign-in", signin.cookie_header(signin.COOKIE, "", secure=_secure(req), max_age=0)
    )


# -- services and pools -------------------------------------------------------------------------


def _service(req: Request, signed: signin.Signed) -> Any:
    from maskline.errors import NotFound

    found = queries.service(req.conn, signed.account_sid, req.params["service"])
    if found is None:
        raise NotFound(f"The requested Service {req.params['service']} was not found")
    return found


def _refusals(service_sids: list[str]) -> dict[str, int]:
    """Participant creations refused for want of a number, since the processes started: the
    counter of GET /metrics (metrics/families.py), summed over every process."""
    from maskline.metrics.families import metrics

    families = metrics().collect()
    wanted = set(service_sids)
    found: dict[str, int] = {}
    for family in families:
        if family.name != "maskline_pool_exhausted":
            continue
        for sample in family.samples:
            sid = sample.labels.get("service_sid", "")
            if sample.name.endswith("_total") and sid in wanted:
                found[sid] = found.get(sid, 0) + int(sample.value)
    return found


@signed_page
def services_page(req: Request, signed: signin.Signed) -> Response:
    rows = queries.services_overview(req.conn, signed.account_sid, req.runtime.clock.now_ms())
    refused = _refusals([row["sid"] for row in rows])
    for row in rows:
        row["refused"] = refused.get(row["sid"], 0)
    return page("services.html", **_context(req, signed, services=rows))


@signed_page
def service_page(req: Request, signed: signin.Signed) -> Response:
    service = _service(req, signed)
    numbers = queries.pool(req.conn, service.sid)
    return page("service.html", **_context(req, signed, service=service, numbers=numbers))


async def _add_number(req: Request, signed: signin.Signed) -> Response:
    service_sid = req.params["service"]
    back = f"/console/services/{service_sid}"
    number = _first(req.form, "phone_number") or ""
    inner = Request(
        req.runtime,
        "POST",
        req.path,
        {"service": service_sid},
        {},
        {"PhoneNumber": [number], "IsReserved": [_first(req.form, "reserved") or "false"]},
        req.base_url,
    )
    inner.account_sid = signed.account_sid
    try:
        if req.runtime.settings.carrier == "twilio":
            await phone_numbers_api.create_phone_number_from_twilio(inner)
        else:
            with req.runtime.transaction() as conn:
                inner.conn = conn
                phone_numbers_api.create_phone_number(inner)
            req.runtime.wake()
    except ApiError as error:
        return _back(req, back, problem=_refused(error))
    return _back(req, back, done=f"{number} added to the pool")


add_number = signed_async(_add_number)


@signed_action(lambda req: f"/console/services/{req.params['service']}")
def number_action(req: Request, signed: signin.Signed) -> Response:
    service = _service(req, signed)
    sid, action = req.params["number"], _first(req.form, "action")
    clock = req.runtime.clock
    rules: Any = short_codes if sid.startswith("SC") else phone_numbers
    update = rules.update_short_code if sid.startswith("SC") else rules.update_phone_number
    remove = rules.delete_short_code if sid.startswith("SC") else rules.delete_phone_number
    if action in ("reserve", "release"):
        update(req.conn, clock, service_sid=service.sid, sid=sid, is_reserved=action == "reserve")
        done = f"{sid} {'reserved' if action == 'reserve' else 'no longer reserved'}"
    elif action == "remove":
        remove(req.conn, service_sid=service.sid, sid=sid)
        done = f"{sid} removed from the pool"
    else:
        return _back(req, f"/console/services/{service.sid}", problem="Unknown action")
    return _back(req, f"/console/services/{service.sid}", done=done)


# -- sessions -----------------------------------------------------------------------------------


@signed_page
def sessions_page(req: Request, signed: signin.Signed) -> Response:
    service = _service(req, signed)
    status = _first(req.query, "status") or None
    if status not in (None, *STATUSES):
        status = None
    name = _first(req.query, "name") or None
    who = (_first(req.query, "who") or "").replace(" ", "") or None
    before = _number(req.query, "before")
    rows, next_before, searching = queries.sessions_page(
        req.conn, service.sid, status=status, name=name, who=who, before=before
    )
    filters = {k: v for k, v in {"status": status, "name": name, "who": who}.items() if v}
    next_url = None
    if next_before is not None:
        next_url = "?" + urllib.parse.urlencode({**filters, "before": next_before})
    return page(
        "sessions.html",
        **_context(
            req,
            signed,
            service=service,
            sessions=rows,
            statuses=STATUSES,
            filters=filters,
            next_url=next_url,
            searching=searching,
            scan=queries.SCAN,
        ),
    )


@signed_page
def session_page(req: Request, signed: signin.Signed) -> Response:
    service = _service(req, signed)
    sid = req.params["session"]
    session = sessions_rules.fetch_session(req.conn, service_sid=service.sid, sid=sid)
    people = queries.participants_of(req.conn, session.sid)
    timeline, more = queries.interactions_of(req.conn, session.sid)
    callbacks = queries.callbacks_of(req.conn, signed.account_sid, session.sid)
    attempts = callbacks_store.attempts_of(req.conn, [c.id for c in callbacks])
    by_interaction: dict[str | None, list[Any]] = {}
    for callback in callbacks:
        by_interaction.setdefault(callback.interaction_sid, []).append(callback)
    calls = [
        sid
        for i in timeline
        for sid in (i.inbound_resource_sid, i.outbound_resource_sid)
        if sid and sid.startswith("CA")
    ]
    durations = queries.call_durations(req.conn, signed.account_sid, calls)
    names = {p.sid: p.friendly_name or p.identifier for p in people}
    return page(
        "session.html",
        **_context(
            req,
            signed,
            service=service,
            session=session,
            participants=people,
            timeline=timeline,
            more_interactions=more,
            timeline_limit=queries.TIMELINE,
            callbacks=by_interaction,
            attempts=attempts,
            durations=durations,
            names=names,
        ),
    )


@signed_action(
    lambda req: f"/console/services/{req.params['service']}/sessions/{req.params['session']}"
)
def session_action(req: Request, signed: signin.Signed) -> Response:
    service = _service(req, signed)
    sid = req.params["session"]
    action = _first(req.form, "action")
    back = f"/console/services/{service.sid}/sessions/{sid}"
    status = {"close": "closed", "reopen": "in-progress"}.get(action or "")
    ttl = _number(req.form, "ttl") if action == "ttl" else None
    if status is None and ttl is None:
        return _back(req, back, problem="Give a TTL in seconds, or close or re-open the session")
    sessions_rules.update_session(
        req.conn,
        req.runtime.clock,
        service=service,
        sid=sid,
        ttl=ttl,
        date_expiry=None,
        status=status,
    )
    req.runtime.wake_for(req.conn)
    done = {"closed": "Session closed", "in-progress": "Session re-opened"}.get(
        status or "", f"TTL set to {ttl} s"
    )
    return _back(req, back, done=done)


# -- events and callbacks ---------------------------------------------------------------------


@signed_page
def events_page(req: Request, signed: signin.Signed) -> Response:
    code = _number(req.query, "code")
    rows, before = queries.events_page(
        req.conn, signed.account_sid, code, _number(req.query, "before")
    )
    filters = {"code": code} if code is not None else {}
    next_url = "?" + urllib.parse.urlencode({**filters, "before": before}) if before else None
    return page("events.html", **_context(req, signed, events=rows, code=code, next_url=next_url))


@signed_page
def callbacks_page(req: Request, signed: signin.Signed) -> Response:
    status = _first(req.query, "status")
    if status not in ("pending", "delivered", "failed"):
        status = None
    rows, before = queries.callbacks_page(
        req.conn, signed.account_sid, status, _number(req.query, "before")
    )
    attempts = callbacks_store.attempts_of(req.conn, [row.id for row in rows])
    filters = {"status": status} if status else {}
    next_url = "?" + urllib.parse.urlencode({**filters, "before": before}) if before else None
    return page(
        "callbacks.html",
        **_context(
            req, signed, callbacks=rows, attempts=attempts, wanted=status, next_url=next_url
        ),
    )


# -- the phone simulator (sandbox) ------------------------------------------------------------


def _handsets(values: dict[str, list[str]]) -> list[str]:
    found = []
    for raw in values.get("h", []):
        number = raw.strip().replace(" ", "")
        if number and number not in found and len(number) <= 20:
            found.append(number)
    return found[:6]


@signed_page
def phones_page(req: Request, signed: signin.Signed) -> Response:
    refused = _not_sandbox(req)
    if refused is not None:
        return refused
    handsets = _handsets(req.query)
    session_sid = _first(req.query, "session")
    # Each handset's proxy number in the session: where its texts go by default.
    proxies: dict[str, str] = {}
    if not handsets and session_sid:
        rows = queries.participants_of(req.conn, session_sid)
        mine = [p for p in rows if p.account_sid == signed.account_sid and not p.date_deleted]
        handsets = [p.identifier for p in mine][:6]
        proxies = {p.identifier: p.proxy_identifier for p in mine}
    phones = [_phone(req, signed, number, proxies.get(number)) for number in handsets]
    return page(
        "phones.html",
        **_context(
            req,
            signed,
            phones=phones,
            handsets=handsets,
            now=req.runtime.clock.now_ms(),
            query=urllib.parse.urlencode([("h", h) for h in handsets]),
        ),
    )


def _phone(
    req: Request, signed: signin.Signed, number: str, proxy: str | None = None
) -> dict[str, Any]:
    messages = queries.handset(req.conn, signed.account_sid, number)
    if proxy is None:
        # Reply to whoever wrote last.
        received = [m.from_number for m in messages if m.to_number == number]
        proxy = received[-1] if received else None
    return {
        "number": number,
        "messages": messages,
        "calls": queries.handset_calls(req.conn, signed.account_sid, number),
        "reply_to": proxy,
    }


@signed_page
def phone_inbox(req: Request, signed: signin.Signed) -> Response:
    """One handset's inbox, for the simulator's page to refresh without reloading."""
    refused = _not_sandbox(req)
    if refused is not None:
        return refused
    number = (_first(req.query, "h") or "").replace(" ", "")
    return page("inbox.html", phone=_phone(req, signed, number), now=req.runtime.clock.now_ms())


async def _phone_send(req: Request, signed: signin.Signed) -> Response:
    refused = _not_sandbox(req)
    if refused is not None:
        return refused
    back = _phones_back(req)
    kind = req.params["kind"]
    form: dict[str, list[str]] = {
        "From": [_first(req.form, "from") or ""],
        "To": [(_first(req.form, "to") or "").replace(" ", "")],
    }
    if kind == "text":
        form["Body"] = [req.form.get("body", [""])[0]]
        handler = network.send_sandbox_message
    elif kind == "call":
        form["Duration"] = [_first(req.form, "duration") or "30"]
        handler = network.place_sandbox_call
    else:
        return _back(req, back, problem="Unknown action")
    inner = Request(req.runtime, "POST", req.path, {}, {}, form, req.base_url)
    inner.account_sid = signed.account_sid
    try:
        answer = await handler(inner)
    except ApiError as error:
        return _back(req, back, problem=_refused(error))
    del answer
    return _back(req, back, done="Text sent" if kind == "text" else "Call placed")


phone_send = signed_async(_phone_send)


def _phones_back(req: Request) -> str:
    return "/console/phones?" + urllib.parse.urlencode([("h", h) for h in _handsets(req.form)])


async def _phone_clock(req: Request, signed: signin.Signed) -> Response:
    refused = _not_sandbox(req)
    if refused is not None:
        return refused
    back = _phones_back(req)
    try:
        seconds = params.integer(
            {"Advance": [_first(req.form, "advance") or ""]},
            "Advance",
            required=True,
            minimum=0,
            maximum=MAX_ADVANCE_S,
        )
        await network.move_clock(req.runtime, signed.account_sid, seconds or 0)
    except ApiError as error:
        return _back(req, back, problem=_refused(error))
    return _back(req, back, done="Clock moved")


phone_clock = signed_async(_phone_clock)


def static_file(req: Request) -> Response:
    found = static(req.params["name"])
    if found is None:
        return page("error.html", 404, message="No such file")
    return found


ROUTES = [
    Route("GET", "/console", home, auth=False),
    Route("GET", "/console/sign-in", sign_in_page, auth=False),
    Route("POST", "/console/sign-in", sign_in, auth=False, is_async=True),
    Route("POST", "/console/sign-out", sign_out, auth=False, writes=True),
    Route("GET", "/console/services", services_page, auth=False),
    Route("GET", "/console/services/{service}", service_page, auth=False),
    Route("POST", "/console/services/{service}/numbers", add_number, auth=False, is_async=True),
    Route(
        "POST",
        "/console/services/{service}/numbers/{number}",
        number_action,
        auth=False,
        writes=True,
    ),
    Route("GET", "/console/services/{service}/sessions", sessions_page, auth=False),
    Route("GET", "/console/services/{service}/sessions/{session}", session_page, auth=False),
    Route(
        "POST",
        "/console/services/{service}/sessions/{session}",
        session_action,
        auth=False,
        writes=True,
    ),
    Route("GET", "/console/events", events_page, auth=False),
    Route("GET", "/console/callbacks", callbacks_page, auth=False),
    Route("GET", "/console/phones", phones_page, auth=False),
    Route("GET", "/console/phones/inbox", phone_inbox, auth=False),
    Route("POST", "/console/phones/clock", phone_clock, auth=False, is_async=True),
    Route("POST", "/console/phones/{kind}", phone_send, auth=False, is_async=True),
    Route("GET", "/console/static/{name}", static_file, auth=False),
]
