"""A local fake of Twilio: its REST API (2010-04-01) and its phone network, on 127.0.0.1.

The REST side answers the way api.twilio.com does, in the JSON shapes the twilio SDK parses:
Messages.json (send, list), IncomingPhoneNumbers (list, fetch, update), Basic auth with the
account's auth token or an API key, and Twilio's error JSON. Failures can be injected: the next
sends answer 429 or 5xx, are refused (400), or hang past the client's timeout.

The network side plays the handsets: a handset texts or calls one of the account's numbers, and
the fake POSTs Twilio's signed webhooks to the URLs configured on that number, follows the TwiML
it gets back (a <Dial><Number> becomes a bridged child call with its status callbacks and the
<Dial action>), and delivers every message sent through the REST API to the handset it is
addressed to, with signed status callbacks `sent` and `delivered`.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit
from xml.etree import ElementTree

import httpx
from twilio.request_validator import RequestValidator

from tests.support import free_port

T = TypeVar("T")
API_VERSION = "2010-04-01"


def new_sid(prefix: str) -> str:
    return prefix + uuid.uuid4().hex


def rfc2822(moment: float) -> str:
    """Twilio's 2010 API dates: `Thu, 30 Jul 2015 20:12:31 +0000`."""
    return format_datetime(datetime.fromtimestamp(int(moment), UTC)).replace("-0000", "+0000")


def wait_for(probe: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"fake twilio: timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@dataclass(frozen=True)
class RestRequest:
    """One request to the REST API, as it arrived."""

    method: str
    path: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    username: str | None
    password: str | None
    status: int = 0

    def value(self, name: str) -> str | None:
        found = [v for k, v in self.form if k == name] or [v for k, v in self.query if k == name]
        return found[-1] if found else None

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.form if k == name]


@dataclass(frozen=True)
class Webhook:
    """One signed POST the fake made to the user's application, and what it answered."""

    url: str
    params: dict[str, str]
    status: int
    content_type: str
    body: str

    @property
    def twiml(self) -> ElementTree.Element:
        assert self.content_type.split(";")[0].strip() in ("application/xml", "text/xml"), (
            self.content_type,
            self.body,
        )
        return ElementTree.fromstring(self.body)


@dataclass
class Call:
    """A call as the network saw it: an inbound call to a number, or a bridged child leg."""

    sid: str
    from_: str
    to: str
    direction: str  # inbound or outbound-dial
    status: str
    duration: int = 0
    parent_call_sid: str | None = None
    answer: Webhook | None = None  # the voice webhook's answer (inbound calls)
    children: list[Call] = field(default_factory=list)
    callbacks: list[Webhook] = field(default_factory=list)  # status callbacks and Dial action


@dataclass(frozen=True)
class Failure:
    """What the next Messages.json POSTs get instead of being accepted."""

    status: int
    code: int
    message: str
    hang: float = 0.0  # seconds to wait before answering
    create: bool = False  # whether the message is sent anyway (a hang after Twilio took it)


class FakeTwilio:
    """Twilio's REST API and phone network for one account, as a threaded HTTP server."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_keys: dict[str, str] | None = None,
        step: float = 0.05,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_keys = dict(api_keys or {})
        self.step = step  # time between two statuses of a message
        self.port = free_port()
        self.validator = RequestValidator(auth_token)
        self._lock = threading.RLock()
        self._numbers: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, dict[str, Any]] = {}
        self._order: list[str] = []  # message SIDs, oldest first
        self._requests: list[RestRequest] = []
        self._failures: list[Failure] = []
        self._delivered: dict[str, list[dict[str, Any]]] = {}
        self._calls: list[Call] = []
        self._status_callbacks: list[Webhook] = []
        self._webhooks: list[Webhook] = []
        self._undeliverable: set[str] = set()
        self._reordered: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._server: ThreadingHTTPServer | None = None
        self._http = httpx.Client(timeout=10)

    # -- life -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

            def do_DELETE(self) -> None:
                fake._handle(self, "DELETE")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
        server.allow_reuse_address = True
        server.daemon_threads = True
        server.server_bind()
        server.server_activate()
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        for thread in list(self._threads):
            thread.join(timeout=5)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._http.close()

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the account's numbers ----------------------------------------------------------------

    def add_number(
        self,
        phone_number: str,
        *,
        voice: bool = True,
        sms: bool = True,
        mms: bool = True,
        fax: bool = False,
        friendly_name: str | None = None,
        sid: str | None = None,
    ) -> dict[str, Any]:
        """Buy a number on the account: it is an IncomingPhoneNumber from now on (under
        `sid` when given: the SID a Proxy pool already knows it by)."""
        sid = sid or new_sid("PN")
        now = rfc2822(time.time())
        digits = phone_number[2:] if phone_number.startswith("+1") else phone_number
        number = {
            "account_sid": self.account_sid,
            "address_requirements": "none",
            "address_sid": None,
            "api_version": API_VERSION,
            "beta": False,
            "capabilities": {"fax": fax, "mms": mms, "sms": sms, "voice": voice},
            "date_created": now,
            "date_updated": now,
            "emergency_status": "Inactive",
            "emergency_address_sid": None,
            "emergency_address_status": "unregistered",
            "friendly_name": friendly_name
            or (f"({digits[:3]}) {digits[3:6]}-{digits[6:]}" if len(digits) == 10 else digits),
            "identity_sid": None,
            "origin": "twilio",
            "phone_number": phone_number,
            "sid": sid,
            "sms_application_sid": "",
            "sms_fallback_method": "POST",
            "sms_fallback_url": "",
            "sms_method": "POST",
            "sms_url": "",
            "status_callback": "",
            "status_callback_method": "POST",
            "trunk_sid": None,
            "uri": f"{self._account_path()}/IncomingPhoneNumbers/{sid}.json",
            "voice_application_sid": "",
            "voice_caller_id_lookup": False,
            "voice_fallback_method": "POST",
            "voice_fallback_url": None,
            "voice_method": "POST",
            "voice_url": None,
            "bundle_sid": None,
            "status": "in-use",
            "subresource_uris": {
                "assigned_add_ons": (
                    f"{self._account_path()}/IncomingPhoneNumbers/{sid}/AssignedAddOns.json"
                )
            },
        }
        with self._lock:
            self._numbers[sid] = number
        return dict(number)

    def number(self, sid_or_phone: str) -> dict[str, Any]:
        with self._lock:
            for number in self._numbers.values():
                if sid_or_phone in (number["sid"], number["phone_number"]):
                    return dict(number)
        raise KeyError(sid_or_phone)

    # -- failure injection --------------------------------------------------------------------

    def fail_next(self, count: int, status: int = 429) -> None:
        """The next `count` sends answer `status` (429 or 5xx) without sending anything."""
        code, message = {
            429: (20429, "Too Many Requests"),
            500: (20500, "Internal Server Error"),
            503: (20503, "Service Unavailable"),
        }.get(status, (20500, "Internal Server Error"))
        with self._lock:
            self._failures += [Failure(status, code, message)] * count

    def refuse_next(self, code: int = 21211, status: int = 400, message: str = "") -> None:
        """The next send is refused for good, as Twilio refuses an invalid `To`."""
        with self._lock:
            self._failures.append(
                Failure(status, code, message or "The 'To' number is not a valid phone number.")
            )

    def hang_next(self, seconds: float, create: bool = True) -> None:
        """The next send is answered only after `seconds`; with `create`, it is sent anyway."""
        with self._lock:
            self._failures.append(Failure(201, 0, "", hang=seconds, create=create))

    def undeliverable(self, handset: str) -> None:
        """Messages to this handset end `undelivered` (error 30003) instead of `delivered`."""
        with self._lock:
            self._undeliverable.add(handset)

    def out_of_order(self, handset: str) -> None:
        """Status callbacks of messages to this handset arrive last step first.

        Twilio does not promise the order of its status callbacks.
        """
        with self._lock:
            self._reordered.add(handset)

    # -- what the REST API saw ----------------------------------------------------------------

    def requests(self, method: str | None = None, path_end: str = "") -> list[RestRequest]:
        with self._lock:
            return [
                r
                for r in self._requests
                if (method is None or r.method == method) and r.path.endswith(path_end)
            ]

    def sends(self) -> list[RestRequest]:
        """Every POST to Messages.json, accepted or not."""
        return self.requests("POST", "/Messages.json")

    def messages(self) -> list[dict[str, Any]]:
        """Every message Twilio accepted, oldest first, as the API shows it."""
        with self._lock:
            return [dict(self._messages[sid]) for sid in self._order]

    def webhooks(self, path_end: str = "") -> list[Webhook]:
        """Every signed POST the fake made to the application, and its answer, oldest first."""
        with self._lock:
            return [w for w in self._webhooks if urlsplit(w.url).path.endswith(path_end)]

    def status_callbacks(self, sid: str | None = None) -> list[Webhook]:
        with self._lock:
            return [
                w
                for w in self._status_callbacks
                if sid is None or sid in (w.params.get("MessageSid"), w.params.get("CallSid"))
            ]

    # -- what the handsets got ----------------------------------------------------------------

    def received(self, handset: str) -> list[dict[str, Any]]:
        """The messages delivered to a handset, oldest first."""
        with self._lock:
            return [dict(m) for m in self._delivered.get(handset, [])]

    def wait_received(self, handset: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        return wait_for(
            lambda: (got := self.received(handset)) and len(got) >= count and got,
            timeout,
            f"{count} message(s) delivered to {handset}",
        )

    def calls(self, handset: str | None = None) -> list[Call]:
        """The calls that rang `handset` (bridged legs), or every call."""
        with self._lock:
            everything = [c for call in self._calls for c in (call, *call.children)]
        return [c for c in everything if handset is None or c.to == handset]

    # -- REST API -----------------------------------------------------------------------------

    def _account_path(self) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}"

    def _handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        form = parse_qsl(raw.decode("utf-8"), keep_blank_values=True)
        query = parse_qsl(parts.query, keep_blank_values=True)
        username, password = self._credentials(handler.headers.get("Authorization"))
        request = RestRequest(method, parts.path, query, form, username, password)
        status, body, delay = self._answer(request)
        with self._lock:
            self._requests.append(
                RestRequest(method, parts.path, query, form, username, password, status)
            )
        if delay:
            time.sleep(delay)
        payload = json.dumps(body).encode() if body is not None else b""
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(payload)))
            handler.send_header("Twilio-Request-Id", new_sid("RQ"))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            pass  # the client gave up waiting

    @staticmethod
    def _credentials(header: str | None) -> tuple[str | None, str | None]:
        if not header or not header.startswith("Basic "):
            return None, None
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except ValueError:
            return None, None
        username, _, password = decoded.partition(":")
        return username, password

    def _authorized(self, request: RestRequest) -> bool:
        if request.username == self.account_sid and request.password == self.auth_token:
            return True
        return (
            request.username in self.api_keys
            and self.api_keys[request.username] == request.password
        )

    @staticmethod
    def _error(status: int, code: int, message: str) -> tuple[int, dict[str, Any], float]:
        return (
            status,
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            },
            0.0,
        )

    def _answer(self, request: RestRequest) -> tuple[int, dict[str, Any] | None, float]:
        if not self._authorized(request):
            return self._error(401, 20003, "Authenticate")
        account = self._account_path()
        path = request.path
        if not path.startswith(account + "/"):
            return self._error(404, 20404, f"The requested resource {path} was not found")
        rest = path[len(account) :]
        if rest == "/Messages.json" and request.method == "POST":
            return self._create_message(request)
        if rest == "/Messages.json" and request.method == "GET":
            return self._list(request, "messages", self.messages()[::-1], self._message_filter)
        if rest.startswith("/Messages/") and rest.endswith(".json") and request.method == "GET":
            with self._lock:
                found = self._messages.get(rest[len("/Messages/") : -5])
            if found is not None:
                return 200, dict(found), 0.0
        if rest == "/IncomingPhoneNumbers.json" and request.method == "GET":
            with self._lock:
                numbers = [dict(n) for n in self._numbers.values()]
            return self._list(request, "incoming_phone_numbers", numbers, self._number_filter)
        if rest.startswith("/IncomingPhoneNumbers/") and rest.endswith(".json"):
            sid = rest[len("/IncomingPhoneNumbers/") : -5]
            with self._lock:
                number = self._numbers.get(sid)
                if number is not None and request.method == "POST":
                    self._update_number(number, request)
                if number is not None and request.method in ("GET", "POST"):
                    return 200, dict(number), 0.0
        return self._error(404, 20404, f"The requested resource {path} was not found")

    @staticmethod
    def _message_filter(request: RestRequest, message: dict[str, Any]) -> bool:
        to, from_ = request.value("To"), request.value("From")
        return (to is None or message["to"] == to) and (from_ is None or message["from"] == from_)

    @staticmethod
    def _number_filter(request: RestRequest, number: dict[str, Any]) -> bool:
        # Twilio matches PhoneNumber as a pattern: part of the number, `*` for any digit.
        wanted = request.value("PhoneNumber")
        if wanted is None:
            return True
        have = number["phone_number"]
        for start in range(len(have) - len(wanted) + 1):
            window = have[start : start + len(wanted)]
            if all(w in ("*", h) for w, h in zip(wanted, window, strict=True)):
                return True
        return False

    def _list(
        self,
        request: RestRequest,
        key: str,
        items: list[dict[str, Any]],
        keep: Callable[[RestRequest, dict[str, Any]], bool],
    ) -> tuple[int, dict[str, Any], float]:
        items = [item for item in items if keep(request, item)]
        size = min(int(request.value("PageSize") or 50), 1000)
        page = int(request.value("Page") or 0)
        chunk = items[page * size : (page + 1) * size]
        filters = [(k, v) for k, v in request.query if k not in ("Page", "PageSize", "PageToken")]
        base = (
            f"{self._account_path()}/{'Messages' if key == 'messages' else 'IncomingPhoneNumbers'}"
        )

        def uri(number: int) -> str:
            query = urlencode([*filters, ("PageSize", size), ("Page", number)])
            return f"{base}.json?{query}"

        more = (page + 1) * size < len(items)
        return (
            200,
            {
                key: chunk,
                "end": page * size + max(len(chunk) - 1, 0),
                "first_page_uri": uri(0),
                "next_page_uri": uri(page + 1) + f"&PageToken=PA{page + 1}" if more else None,
                "page": page,
                "page_size": size,
                "previous_page_uri": uri(page - 1) if page else None,
                "start": page * size,
                "uri": uri(page),
            },
            0.0,
        )

    @staticmethod
    def _update_number(number: dict[str, Any], request: RestRequest) -> None:
        fields = {
            "FriendlyName": "friendly_name",
            "SmsUrl": "sms_url",
            "SmsMethod": "sms_method",
            "SmsFallbackUrl": "sms_fallback_url",
            "VoiceUrl": "voice_url",
            "VoiceMethod": "voice_method",
            "VoiceFallbackUrl": "voice_fallback_url",
            "StatusCallback": "status_callback",
            "StatusCallbackMethod": "status_callback_method",
        }
        for name, key in fields.items():
            value = request.value(name)
            if value is not None:
                number[key] = value
        number["date_updated"] = rfc2822(time.time())

    def _create_message(self, request: RestRequest) -> tuple[int, dict[str, Any] | None, float]:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None and not failure.hang:
            return self._error(failure.status, failure.code, failure.message)
        to, from_ = request.value("To"), request.value("From")
        body = request.value("Body") or ""
        media = request.values("MediaUrl")
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not from_:
            return self._error(400, 21603, "A 'From' phone number is required.")
        if not body and not media:
            return self._error(400, 21602, "Message body is required.")
        with self._lock:
            owned = [n for n in self._numbers.values() if n["phone_number"] == from_]
        if not owned or not owned[0]["capabilities"]["sms"]:
            return self._error(
                400,
                21606,
                f"The From phone number {from_} is not a valid, SMS-capable inbound phone "
                "number or short code for your account.",
            )
        if failure is not None and not failure.create:
            return 201, None, failure.hang
        sid = new_sid("MM" if media else "SM")
        now = rfc2822(time.time())
        message = {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": from_,
            "messaging_service_sid": None,
            "num_media": str(len(media)),
            "num_segments": str(max(1, -(-len(body) // 160))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{self._account_path()}/Messages/{sid}/Media.json"},
            "to": to,
            "uri": f"{self._account_path()}/Messages/{sid}.json",
        }
        with self._lock:
            self._messages[sid] = message
            self._order.append(sid)
        self._later(self._deliver, sid, media, request.value("StatusCallback"))
        return 201, dict(message), failure.hang if failure is not None else 0.0

    def _later(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _deliver(self, sid: str, media: list[str], status_callback: str | None) -> None:
        """The network carries the message: sent, then delivered (or undelivered)."""
        with self._lock:
            to = self._messages[sid]["to"]
            fails = to in self._undeliverable
            reordered = to in self._reordered
        steps = ["sent", "undelivered" if fails else "delivered"]
        callbacks: list[dict[str, str]] = []
        for status in steps:
            time.sleep(self.step)
            with self._lock:
                message = self._messages[sid]
                message["status"] = status
                message["date_updated"] = rfc2822(time.time())
                if status == "sent":
                    message["date_sent"] = message["date_updated"]
                if status == "undelivered":
                    message["error_code"] = 30003
                    message["error_message"] = "Unreachable destination handset"
                if status == "delivered":
                    self._delivered.setdefault(to, []).append(
                        {**message, "media_urls": list(media)}
                    )
                snapshot = dict(message)
            if status_callback:
                params = {
                    "AccountSid": self.account_sid,
                    "ApiVersion": API_VERSION,
                    "From": snapshot["from"],
                    "To": snapshot["to"],
                    "MessageSid": sid,
                    "SmsSid": sid,
                    "MessageStatus": status,
                    "SmsStatus": status,
                }
                if status == "undelivered":
                    params["ErrorCode"] = "30003"
                callbacks.append(params)
                if not reordered:
                    self._status_callback(status_callback, params)
        if status_callback and reordered:
            for params in reversed(callbacks):
                self._status_callback(status_callback, params)

    def _status_callback(self, url: str, params: dict[str, str]) -> None:
        hook = self.post_signed(url, params)
        with self._lock:
            self._status_callbacks.append(hook)

    # -- the phone network ----------------------------------------------------------------------

    def signature(self, url: str, params: dict[str, str]) -> str:
        return str(self.validator.compute_signature(url, params))

    def post_signed(
        self, url: str, params: dict[str, str], signature: str | None = None
    ) -> Webhook:
        """POST a webhook as Twilio does: form-encoded, with X-Twilio-Signature."""
        headers = {
            "X-Twilio-Signature": self.signature(url, params) if signature is None else signature,
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
            "User-Agent": "TwilioProxy/1.1",
        }
        try:
            answer = self._http.post(url, data=params, headers=headers)
            hook = Webhook(
                url=url,
                params=dict(params),
                status=answer.status_code,
                content_type=answer.headers.get("content-type", ""),
                body=answer.text,
            )
        except httpx.HTTPError as exc:
            # Twilio logs a failed webhook (error 11200) and carries on.
            hook = Webhook(url, dict(params), 0, "", f"{type(exc).__name__}: {exc}")
        with self._lock:
            self._webhooks.append(hook)
        return hook

    def _number_called(self, to: str) -> dict[str, Any]:
        with self._lock:
            for number in self._numbers.values():
                if number["phone_number"] == to:
                    return dict(number)
        raise AssertionError(f"{to} is not one of the account's numbers")

    def handset_texts(
        self, from_: str, to: str, body: str = "", media_urls: Sequence[str] = ()
    ) -> Webhook:
        """A handset texts one of the account's numbers: Twilio POSTs the number's SmsUrl."""
        number = self._number_called(to)
        assert number["sms_url"], f"{to} has no SmsUrl"
        sid = new_sid("MM" if media_urls else "SM")
        params = {
            "ToCountry": "US",
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": str(len(media_urls)),
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "US",
            "To": to,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": API_VERSION,
        }
        for index, url in enumerate(media_urls):
            params[f"MediaUrl{index}"] = url
            params[f"MediaContentType{index}"] = "image/jpeg"
        return self.post_signed(number["sms_url"], params)

    def handset_calls(
        self, from_: str, to: str, answer: str = "answered", duration: int = 5
    ) -> Call:
        """A handset calls one of the account's numbers; Twilio follows the VoiceUrl's TwiML.

        A <Dial><Number> rings that handset from the Dial's callerId: `answer` (answered, busy,
        no-answer, failed) is what it does, and an answered call lasts `duration` seconds.
        """
        number = self._number_called(to)
        assert number["voice_url"], f"{to} has no VoiceUrl"
        call = Call(new_sid("CA"), from_, to, "inbound", "ringing")
        with self._lock:
            self._calls.append(call)
        base = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "Called": to,
            "Caller": from_,
            "Direction": "inbound",
            "From": from_,
            "To": to,
            "CallerCountry": "US",
            "CalledCountry": "US",
        }
        call.answer = self.post_signed(number["voice_url"], {**base, "CallStatus": "ringing"})
        talked = 0
        ended = "completed"
        if call.answer.status == 200:
            call.status = "in-progress"
            for verb in call.answer.twiml:
                if verb.tag == "Reject":
                    ended = "busy" if verb.get("reason") == "busy" else "canceled"
                    break
                if verb.tag == "Hangup":
                    break
                if verb.tag == "Dial":
                    talked += self._dial(call, base, verb, answer, duration)
                    if verb.get("action"):
                        break  # the action's TwiML takes over; it is recorded with the callbacks
        else:
            ended = "failed"
        call.status = ended
        call.duration = talked
        if number["status_callback"]:
            params = {**base, "CallStatus": ended, "CallDuration": str(talked)}
            call.callbacks.append(self.post_signed(number["status_callback"], params))
        return call

    def _dial(
        self,
        parent: Call,
        base: dict[str, str],
        dial: ElementTree.Element,
        answer: str,
        duration: int,
    ) -> int:
        """Ring the Dial's number as a child leg; the seconds it was talked."""
        target_el = dial.find("Number")
        target = ((target_el.text if target_el is not None else dial.text) or "").strip()
        caller_id = dial.get("callerId") or parent.to
        child = Call(new_sid("CA"), caller_id, target, "outbound-dial", "initiated")
        child.parent_call_sid = parent.sid
        parent.children.append(child)
        talked = duration if answer == "answered" else 0
        final = "completed" if answer == "answered" else answer
        url = target_el.get("statusCallback") if target_el is not None else None
        events = (
            (target_el.get("statusCallbackEvent") or "completed").split()
            if target_el is not None
            else []
        )
        steps = [("initiated", "initiated"), ("ringing", "ringing")]
        if answer == "answered":
            steps.append(("answered", "in-progress"))
        steps.append(("completed", final))
        for sequence, (event, status) in enumerate(steps):
            child.status = status
            if status == "completed":
                child.duration = talked
            if not url or event not in events:
                continue
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": API_VERSION,
                "CallSid": child.sid,
                "ParentCallSid": parent.sid,
                "CallStatus": status,
                "Direction": "outbound-dial",
                "From": caller_id,
                "To": target,
                "Called": target,
                "Caller": caller_id,
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(sequence),
                "Timestamp": format_datetime(datetime.now(UTC)),
            }
            if event == "completed":
                params["CallDuration"] = str(talked)
                params["Duration"] = str(-(-talked // 60))
            hook = self.post_signed(url, params)
            child.callbacks.append(hook)
            with self._lock:
                self._status_callbacks.append(hook)
        action = dial.get("action")
        if action:
            params = {
                **base,
                "CallStatus": "in-progress",
                "DialCallSid": child.sid,
                "DialCallStatus": final,
                "DialCallDuration": str(talked),
                "DialBridged": "true" if answer == "answered" else "false",
            }
            parent.callbacks.append(self.post_signed(action, params))
        return talked


# -- a Maskline server on this fake -----------------------------------------------------------

TWILIO_ACCOUNT_SID = "AC" + "7" * 32
TWILIO_AUTH_TOKEN = "f" * 32


def twilio_env(fake: FakeTwilio, port: int, **extra: str) -> dict[str, str]:
    """The settings of a Maskline server on the Twilio carrier, talking to `fake`."""
    return {
        "MASKLINE_CARRIER": "twilio",
        "MASKLINE_TWILIO_ACCOUNT_SID": fake.account_sid,
        "MASKLINE_TWILIO_AUTH_TOKEN": fake.auth_token,
        "MASKLINE_TWILIO_API_BASE": fake.url,
        "MASKLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "MASKLINE_TWILIO_CONFIGURE_WEBHOOKS": "1",
        # The tests' receivers listen on loopback, which the Twilio carrier refuses by default.
        "MASKLINE_CALLBACK_ALLOW_PRIVATE": "1",
        **extra,
    }
