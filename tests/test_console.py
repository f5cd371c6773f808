"""The console at /console, in a real browser: Debian's chromium, headless, driven through
Debian's chromedriver with selenium. Sign in, find a session by a participant's number, read
its conversation, watch a text typed in one simulated handset arrive in the other, close the
session; another account sees nothing of it; a form without its CSRF token is refused."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException

from tests.conftest import add_numbers
from tests.receiver import Receiver
from tests.support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    Server,
    create_account,
    new_database_url,
    skip_or_fail,
    unique,
)
from tests.traffic import FAST_ENV, Sandbox, open_conversation, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("console")
    running = Server(database_url=new_database_url(folder), env=FAST_ENV).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        skip_or_fail(
            "chromium and chromium-driver",
            "install them with `apt-get install chromium chromium-driver`",
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture(scope="module")
def scene(srv: Server, receiver: Receiver) -> dict[str, Any]:
    """A service whose callbacks reach a receiver, and a conversation with a text in it."""
    sdk = srv.client()
    service = sdk.proxy.v1.services.create(
        unique_name=unique("console"), callback_url=receiver.url("/status")
    )
    add_numbers(sdk, service.sid, 2)
    chat = open_conversation(sdk, service)
    Sandbox(srv.http()).send(chat.a.identifier, chat.a.proxy_identifier, "I am at the gate")
    receiver.wait_for("/status")
    return {"service": service, "chat": chat}


def by_css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def text_of(driver: Any, selector: str, index: int = 0) -> str:
    """The text of the `index`-th element the selector finds, "" when there is none: a page
    that is being replaced (a form's redirect, a refreshed inbox) may drop the element
    between finding it and reading it."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        found = all_css(driver, selector)
        return str(found[index].text) if len(found) > index else ""
    except StaleElementReferenceException:
        return ""


def sign_in(driver: Any, server: Server, sid: str, secret: str) -> None:
    # The cookies of this server's pages, whichever server the last test left open.
    driver.get(server.base_url + "/console/static/console.css")
    driver.delete_all_cookies()
    driver.get(server.base_url + "/console")
    assert driver.current_url.endswith("/console/sign-in")
    by_css(driver, "#sid").send_keys(sid)
    by_css(driver, "#secret").send_keys(secret)
    by_css(driver, "form.stack button[type=submit]").click()
    wait_until(lambda: driver.current_url.endswith("/console/services"), what="the services page")


def test_sign_in_find_a_session_by_number_and_read_its_conversation(
    srv: Server, browser: Any, scene: dict[str, Any]
) -> None:
    service, chat = scene["service"], scene["chat"]
    sign_in(browser, srv, ACCOUNT_SID, AUTH_TOKEN)
    row = next(r for r in all_css(browser, "tbody tr") if service.unique_name in r.text)
    # Two numbers, both in the conversation's use or free; one session open.
    assert "in progress" not in row.text.lower()
    row.find_element("css selector", "a").click()
    assert service.sid in browser.page_source
    by_css(browser, f'a[href="/console/services/{service.sid}/sessions"]').click()
    field = by_css(browser, "#who")
    field.send_keys(chat.b.identifier)
    field.submit()
    links = wait_until(
        lambda: all_css(browser, "tbody th a"), what="the session found by B's number"
    )
    assert len(links) == 1
    links[0].click()
    wait_until(lambda: chat.session_sid in browser.title or chat.session_sid in browser.page_source)
    page = by_css(browser, "main").text
    assert chat.a.identifier in page and chat.b.proxy_identifier in page
    assert "I am at the gate" in page
    # The text's legs and the callbacks it caused, with their attempts.
    assert "Inbound leg: received" in page
    summary = by_css(browser, ".interaction details summary")
    summary.click()
    attempts = by_css(browser, ".interaction .attempts").text
    assert "200" in attempts and "ms" in attempts


def test_a_text_typed_in_one_handset_arrives_in_the_other(
    srv: Server, browser: Any, scene: dict[str, Any]
) -> None:
    chat = scene["chat"]
    sign_in(browser, srv, ACCOUNT_SID, AUTH_TOKEN)
    browser.get(f"{srv.base_url}/console/phones?session={chat.session_sid}")
    phones = all_css(browser, "section.phone")
    assert [p.find_element("css selector", "h2").text for p in phones] == [
        chat.a.identifier,
        chat.b.identifier,
    ]
    a = phones[0]
    to = a.find_element("css selector", "input[name=to]")
    # Opened from the session, each handset writes to its own proxy number by default.
    assert to.get_attribute("value") == chat.a.proxy_identifier
    to.clear()
    to.send_keys(chat.a.proxy_identifier)
    a.find_element("css selector", "textarea").send_keys("Typed on A's phone")
    a.find_element("css selector", "button[type=submit]").click()
    wait_until(lambda: "Text sent" in browser.page_source, what="the text sent")

    def b_inbox() -> str:
        return text_of(browser, "section.phone .inbox", 1)

    arrived = wait_until(lambda: "Typed on A's phone" in b_inbox() and b_inbox())
    # B sees it from the proxy number, never from A's own number.
    assert f"From {chat.b.proxy_identifier}" in arrived and chat.a.identifier not in arrived

    # A text sent meanwhile shows up without the page being loaded again.
    browser.execute_script("window.stillHere = true")
    Sandbox(srv.http()).send(chat.b.identifier, chat.b.proxy_identifier, "Coming down now")
    wait_until(
        lambda: "Coming down now" in text_of(browser, "section.phone .inbox"),
        timeout=15,
        what="A's inbox to refresh itself",
    )
    assert browser.execute_script("return window.stillHere") is True


def test_closing_a_session_from_its_page(srv: Server, browser: Any, scene: dict[str, Any]) -> None:
    sdk = srv.client()
    chat = open_conversation(sdk, scene["service"])
    sign_in(browser, srv, ACCOUNT_SID, AUTH_TOKEN)
    browser.get(
        f"{srv.base_url}/console/services/{scene['service'].sid}/sessions/{chat.session_sid}"
    )
    by_css(browser, 'button[value="close"]').click()
    wait_until(lambda: "Session closed" in browser.page_source, what="the session closed")
    assert chat.session.fetch().status == "closed"
    by_css(browser, 'button[value="reopen"]').click()
    wait_until(lambda: "Session re-opened" in browser.page_source, what="the session re-opened")
    assert chat.session.fetch().status == "in-progress"


def test_the_pool_page_adds_and_reserves_numbers(
    srv: Server, browser: Any, scene: dict[str, Any]
) -> None:
    service = scene["service"]
    sign_in(browser, srv, ACCOUNT_SID, AUTH_TOKEN)
    browser.get(f"{srv.base_url}/console/services/{service.sid}")
    number = "+1415" + str(5_550_000 + int.from_bytes(os.urandom(2), "big") % 9_999)
    by_css(browser, "#phone_number").send_keys(number)
    by_css(browser, "form.inline button[type=submit]").click()
    wait_until(lambda: f"{number} added to the pool" in browser.page_source, what="the number")
    row = next(r for r in all_css(browser, "tbody tr") if number in r.text)
    row.find_element("css selector", 'button[value="reserve"]').click()
    wait_until(lambda: "reserved" in text_of(browser, ".done"), what="the reservation")
    listed = srv.http().get(f"/v1/Services/{service.sid}/PhoneNumbers").json()["phone_numbers"]
    assert [n["is_reserved"] for n in listed if n["phone_number"] == number] == [True]
    # A number the rules refuse comes back with its Twilio error code.
    by_css(browser, "#phone_number").send_keys("+1415100")
    by_css(browser, "form.inline button[type=submit]").click()
    wait_until(lambda: all_css(browser, ".problem"), what="the refusal")
    assert re.search(r"\(\d{5}\)", by_css(browser, ".problem").text)


def test_another_account_sees_none_of_it(srv: Server, browser: Any, scene: dict[str, Any]) -> None:
    sid, token = create_account(srv)
    sign_in(browser, srv, sid, token)
    assert scene["service"].unique_name not in browser.page_source
    chat = scene["chat"]
    for path in (
        f"/console/services/{scene['service'].sid}",
        f"/console/services/{scene['service'].sid}/sessions/{chat.session_sid}",
        f"/console/phones?session={chat.session_sid}",
        "/console/events",
        "/console/callbacks",
    ):
        browser.get(srv.base_url + path)
        page = browser.page_source
        assert chat.a.identifier not in page and chat.b.identifier not in page, path
        assert scene["service"].unique_name not in page, path


def _signed_in(server: Server, sid: str = ACCOUNT_SID, secret: str = AUTH_TOKEN) -> httpx.Client:
    http = httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=10)
    form = http.get("/console/sign-in")
    token = re.search(r'name="token" value="([0-9a-f]+)"', form.text)
    assert token
    done = http.post(
        "/console/sign-in", data={"token": token.group(1), "sid": sid, "secret": secret}
    )
    assert done.status_code == 303, done.text
    cookie = done.headers.get_list("set-cookie")[0]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    return http


def test_a_form_posted_without_its_csrf_token_is_refused(
    srv: Server, scene: dict[str, Any]
) -> None:
    chat = open_conversation(srv.client(), scene["service"])
    path = f"/console/services/{scene['service'].sid}/sessions/{chat.session_sid}"
    http = _signed_in(srv)
    try:
        assert http.get(path).status_code == 200
        missing = http.post(path, data={"action": "close"})
        forged = http.post(path, data={"action": "close", "csrf": "0" * 64})
        assert missing.status_code == 403 and forged.status_code == 403
        assert chat.session.fetch().status == "open"
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', http.get(path).text)
        assert token
        done = http.post(path, data={"action": "close", "csrf": token.group(1)})
        assert done.status_code == 303
        assert chat.session.fetch().status == "closed"
    finally:
        http.close()


def _try_sign_in(http: httpx.Client, sid: str, secret: str) -> int:
    form = http.get("/console/sign-in")
    token = re.search(r'name="token" value="([0-9a-f]+)"', form.text)
    assert token
    answer = http.post(
        "/console/sign-in", data={"token": token.group(1), "sid": sid, "secret": secret}
    )
    return answer.status_code


def test_failed_sign_ins_are_slowed_like_the_api_s_and_a_forged_cookie_is_nothing(
    tmp_path: Any,
) -> None:
    env = {"MASKLINE_AUTH_FAILURE_LIMIT": "5"}
    server = Server(database_url=new_database_url(tmp_path), env=env).start()
    http = httpx.Client(base_url=server.base_url, follow_redirects=False, timeout=10)
    try:
        unknown = "AC" + os.urandom(16).hex()
        statuses = [_try_sign_in(http, unknown, "x") for _ in range(7)]
        assert statuses[:5] == [401] * 5 and statuses[-1] == 429
        forged = httpx.get(
            server.base_url + "/console/services",
            cookies={"maskline_console": f"v1.{ACCOUNT_SID}.{ACCOUNT_SID}.9999999999.00.AAAA"},
        )
        assert forged.status_code == 303 and forged.headers["location"] == "/console/sign-in"
        # From one address, failures count whatever the SID tried and wherever: the API's too.
        # (This address is held back now: its next sign-in, with good credentials, waits.)
        assert _try_sign_in(http, ACCOUNT_SID, AUTH_TOKEN) == 429
        wrong_api = httpx.get(server.base_url + "/v1/Services", auth=(ACCOUNT_SID, "wrong"))
        assert wrong_api.status_code == 429
    finally:
        http.close()
        server.stop()


def test_the_console_can_be_turned_off(tmp_path: Any) -> None:
    server = Server(database_url=new_database_url(tmp_path), env={"MASKLINE_CONSOLE": "0"}).start()
    try:
        assert httpx.get(server.base_url + "/console").status_code == 404
        assert httpx.get(server.base_url + "/console/sign-in").status_code == 404
    finally:
        server.stop()


def test_pages_fit_a_phone_width_screen(srv: Server, browser: Any, scene: dict[str, Any]) -> None:
    sign_in(browser, srv, ACCOUNT_SID, AUTH_TOKEN)
    browser.set_window_size(390, 844)
    try:
        service, chat = scene["service"], scene["chat"]
        for path in (
            "/console/services",
            f"/console/services/{service.sid}/sessions/{chat.session_sid}",
            f"/console/phones?session={chat.session_sid}",
        ):
            browser.get(srv.base_url + path)
            width = browser.execute_script("return document.documentElement.scrollWidth")
            viewport = browser.execute_script("return window.innerWidth")
            assert width <= viewport, (path, width, viewport)
    finally:
        browser.set_window_size(1280, 1000)


def test_an_api_key_signs_in_and_its_revocation_ends_the_session(
    srv: Server, scene: dict[str, Any]
) -> None:
    from tests.test_auth import create_api_key, run_cli

    key_sid, secret = create_api_key(srv, ACCOUNT_SID)
    http = _signed_in(srv, key_sid, secret)
    try:
        page = http.get("/console/services")
        assert page.status_code == 200 and scene["service"].unique_name in page.text
        assert run_cli(srv, "keys", "revoke", key_sid).returncode == 0
        gone = http.get("/console/services")
        assert gone.status_code == 303 and gone.headers["location"] == "/console/sign-in"
    finally:
        http.close()


def test_sessions_are_found_by_their_proxy_number(srv: Server, scene: dict[str, Any]) -> None:
    chat = scene["chat"]
    http = _signed_in(srv)
    try:
        path = f"/console/services/{scene['service'].sid}/sessions"
        by_proxy = http.get(path, params={"who": chat.a.proxy_identifier})
        assert by_proxy.status_code == 200 and chat.session_sid in by_proxy.text
        nobody = http.get(path, params={"who": "+12125550199"})
        assert chat.session_sid not in nobody.text
        closed = http.get(path, params={"who": chat.b.identifier, "status": "closed"})
        assert chat.session_sid not in closed.text
    finally:
        http.close()


def _csrf(http: httpx.Client, path: str = "/console/services") -> str:
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', http.get(path).text)
    assert token
    return token.group(1)


def _cells(html: str, marker: str) -> list[str]:
    """The text of each cell of the table row that holds `marker`."""
    row = next(r for r in re.findall(r"<tr>.*?</tr>", html, re.S) if marker in r)
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def test_signing_out_ends_every_copy_of_the_session(srv: Server) -> None:
    http = _signed_in(srv)
    try:
        copy = http.cookies.get("maskline_console")
        assert copy
        done = http.post("/console/sign-out", data={"csrf": _csrf(http)})
        assert done.status_code == 303 and done.headers["location"] == "/console/sign-in"
        stolen = httpx.get(srv.base_url + "/console/services", cookies={"maskline_console": copy})
        assert stolen.status_code == 303 and stolen.headers["location"] == "/console/sign-in"
    finally:
        http.close()


def test_the_services_page_counts_each_pool_and_its_refusals(srv: Server) -> None:
    sdk = srv.client()
    service = sdk.proxy.v1.services.create(unique_name=unique("counted"))
    pool = add_numbers(sdk, service.sid, 3)
    sdk.proxy.v1.services(service.sid).phone_numbers(pool[0].sid).update(is_reserved=True)
    sessions = sdk.proxy.v1.services(service.sid).sessions
    talking = sessions.create()
    sessions(talking.sid).participants.create(identifier="+12125550181")
    done = sessions.create()
    sessions(done.sid).update(status="closed")
    # A service of one number: an identifier already on it in one session gets no number in
    # a second one (80208).
    full = sdk.proxy.v1.services.create(unique_name=unique("full"))
    add_numbers(sdk, full.sid, 1)
    first, second = (sdk.proxy.v1.services(full.sid).sessions.create() for _ in range(2))
    sdk.proxy.v1.services(full.sid).sessions(first.sid).participants.create(
        identifier="+12125550182"
    )
    with pytest.raises(TwilioRestException) as refused:
        sdk.proxy.v1.services(full.sid).sessions(second.sid).participants.create(
            identifier="+12125550182"
        )
    assert refused.value.code == 80208
    http = _signed_in(srv)
    try:
        html = http.get("/console/services").text
    finally:
        http.close()
    # Free, in use, reserved; open, in progress, closed in the last day; refused.
    assert _cells(html, service.sid) == ["1", "1", "1", "1", "0", "1", "0"]
    assert _cells(html, full.sid) == ["0", "1", "0", "2", "0", "0", "1"]


def test_sessions_are_filtered_by_unique_name_and_paged(srv: Server) -> None:
    sdk = srv.client()
    service = sdk.proxy.v1.services.create(unique_name=unique("paged"))
    sessions = sdk.proxy.v1.services(service.sid).sessions
    made = [sessions.create(unique_name=f"order-{i}").sid for i in range(53)]
    http = _signed_in(srv)
    try:
        path = f"/console/services/{service.sid}/sessions"
        first = http.get(path).text
        shown = re.findall(r"/sessions/(KC[0-9a-f]{32})\"", first)
        assert shown == made[::-1][:50]
        older = re.search(r'<a href="(\?[^"]+)" rel="next">', first)
        assert older
        rest = http.get(path + older.group(1).replace("&amp;", "&")).text
        assert re.findall(r"/sessions/(KC[0-9a-f]{32})\"", rest) == made[::-1][50:]
        assert 'rel="next"' not in rest
        named = http.get(path, params={"name": "order-7"}).text
        assert re.findall(r"/sessions/(KC[0-9a-f]{32})\"", named) == [made[7]]
    finally:
        http.close()


def test_what_users_typed_is_shown_as_text_never_as_markup(srv: Server) -> None:
    sdk = srv.client()
    hostile = '<img src=x onerror="alert(1)">'
    service = sdk.proxy.v1.services.create(unique_name=unique("x") + "<script>alert(2)")
    add_numbers(sdk, service.sid, 2)
    a, b = "+12125550184", "+17185550184"
    session = sdk.proxy.v1.services(service.sid).sessions.create(
        unique_name=hostile,
        participants=[{"Identifier": a, "FriendlyName": hostile}, {"Identifier": b}],
    )
    people = sdk.proxy.v1.services(service.sid).sessions(session.sid).participants.list()
    proxy = next(p.proxy_identifier for p in people if p.identifier == a)
    Sandbox(srv.http()).send(a, proxy, hostile)
    http = _signed_in(srv)
    try:
        for path in (
            "/console/services",
            f"/console/services/{service.sid}/sessions",
            f"/console/services/{service.sid}/sessions/{session.sid}",
            f"/console/phones?session={session.sid}",
        ):
            html = http.get(path).text
            assert "<script>alert(2)" not in html and hostile not in html, path
        page = http.get(f"/console/services/{service.sid}/sessions/{session.sid}").text
        # Shown, as text: the friendly name, the unique name and the text's body.
        assert page.count("&lt;img src=x onerror=") >= 3
    finally:
        http.close()


def test_each_leg_shows_its_statuses_as_they_came(srv: Server, scene: dict[str, Any]) -> None:
    chat = scene["chat"]
    wait_until(
        lambda: all(i.outbound_resource_status == "delivered" for i in chat.interactions.list()),
        what="the text delivered",
    )
    http = _signed_in(srv)
    try:
        page = http.get(
            f"/console/services/{scene['service'].sid}/sessions/{chat.session_sid}"
        ).text
    finally:
        http.close()
    text = re.sub(r"<[^>]+>", "", page)
    outbound = re.search(r"Outbound leg: (.*)", text)
    assert outbound
    steps = re.findall(r"(queued|sent|delivered) \d{4}-\d\d-\d\dT", outbound.group(1))
    assert steps == ["queued", "sent", "delivered"], outbound.group(1)
    assert re.search(r"Inbound leg: received \d{4}-", text)


def test_the_ttl_is_set_with_enter_and_a_call_is_placed_from_a_handset(
    srv: Server, browser: Any, scene: dict[str, Any]
) -> None:
    from selenium.webdriver.common.keys import Keys

    sdk = srv.client()
    chat = open_conversation(sdk, scene["service"])
    sign_in(browser, srv, ACCOUNT_SID, AUTH_TOKEN)
    base = f"{srv.base_url}/console/services/{scene['service'].sid}/sessions/{chat.session_sid}"
    browser.get(base)
    ttl = by_css(browser, "#ttl")
    ttl.clear()
    ttl.send_keys("900", Keys.ENTER)
    wait_until(lambda: "TTL set to 900 s" in browser.page_source, what="the TTL set")
    session = chat.session.fetch()
    assert (session.status, session.ttl) == ("open", 900)

    browser.get(f"{srv.base_url}/console/phones?session={chat.session_sid}")
    a = all_css(browser, "section.phone")[0]
    # No text typed: a call needs none.
    a.find_element("css selector", 'button[formaction="/console/phones/call"]').click()
    wait_until(lambda: "Call placed" in browser.page_source, what="the call placed")
    # The call lasts 30 s of the sandbox clock: move it, and the call is over.
    advance = by_css(browser, "#advance")
    advance.clear()
    advance.send_keys("60")
    by_css(browser, "form.clock button[type=submit]").click()
    wait_until(lambda: "Clock moved" in browser.page_source, what="the clock moved")
    wait_until(
        lambda: any(
            i.type == "voice" and i.outbound_resource_status == "completed"
            for i in chat.interactions.list()
        ),
        what="the call completed",
    )
    browser.get(base)
    page = by_css(browser, "main").text
    assert "Call from" in page and re.search(r"(?<![\d.])30 s\b", page), page


def test_events_and_callbacks_are_listed_and_filtered(
    srv: Server, scene: dict[str, Any], receiver: Receiver
) -> None:
    # A text to a proxy number from someone in no session of it: event 80901.
    stranger = "+12125550183"
    dropped = Sandbox(srv.http()).send(stranger, scene["chat"].a.proxy_identifier, "hello?")
    assert dropped["routing"]["event_code"] == 80901
    http = _signed_in(srv)
    try:
        events = http.get("/console/events", params={"code": 80901}).text
        rows = re.findall(r"<tr>.*?</tr>", events, re.S)
        assert [row for row in rows if stranger in row and "80901" in row], rows
        other = http.get("/console/events", params={"code": 80902}).text
        assert stranger not in other
        status_url = receiver.url("/status")
        delivered = http.get("/console/callbacks", params={"status": "delivered"}).text
        assert status_url in delivered
        failed = http.get("/console/callbacks", params={"status": "failed"}).text
        assert status_url not in failed
    finally:
        http.close()
