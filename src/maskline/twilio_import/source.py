"""Reading a Twilio Proxy account through the Proxy v1 REST API, with the official `twilio`
client: every page followed to the end, each resource turned into the values Maskline stores
(times in milliseconds since the epoch, capabilities as four flags)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

PAGE_SIZE = 1000
TIMEOUT_S = 30.0
# Answers a read is tried again after: Twilio's rate limit (Proxy allows about 30 requests a
# second per account), and its passing failures.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRIES = 6
# The longest wait before trying again, whatever Retry-After says.
MAX_WAIT_S = 30.0


class _PatientClient(TwilioHttpClient):  # type: ignore[misc]
    """Twilio's HTTP client, trying a read again when Twilio answers 429 or a 5xx: after
    Retry-After when given, else after 1, 2, 4... seconds. Only reads: the import makes no
    other call through it."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(timeout=TIMEOUT_S, max_retries=3)
        self._sleep = sleep

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        attempt = 0
        while True:
            response = super().request(method, url, *args, **kwargs)
            if (
                method.upper() != "GET"
                or response.status_code not in RETRY_STATUSES
                or attempt == RETRIES
            ):
                return response
            self._sleep(_wait_s(response, attempt))
            attempt += 1


def _wait_s(response: Response, attempt: int) -> float:
    headers = response.headers or {}
    given = headers.get("Retry-After") or headers.get("retry-after")
    try:
        wait = float(given) if given is not None else float(2**attempt)
    except ValueError:
        wait = float(2**attempt)
    return min(max(wait, 0.0), MAX_WAIT_S)


def millis(value: Any) -> int | None:
    """A time the client parsed (or, when it could not, left as text) in milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return int(parsed.timestamp() * 1000)


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _flags(capabilities: Any) -> dict[str, bool]:
    caps = capabilities if isinstance(capabilities, dict) else {}
    return {name: bool(caps.get(name)) for name in ("voice", "sms", "mms", "fax")}


@dataclass(frozen=True)
class SourceNumber:
    sid: str
    kind: str  # "phone_number" or "short_code"
    # E.164 for a phone number, the digits for a short code.
    value: str
    friendly_name: str | None
    iso_country: str | None
    capabilities: dict[str, bool]
    is_reserved: bool
    date_created: int | None
    date_updated: int | None


class Source:
    """One Twilio account's Proxy, read-only."""

    def __init__(self, account_sid: str, auth_token: str, proxy_base: str) -> None:
        http = _PatientClient()
        self.client = Client(account_sid, auth_token, account_sid=account_sid, http_client=http)
        self.client.proxy.base_url = proxy_base.rstrip("/")
        self._proxy = self.client.proxy.v1

    def first_service(self) -> None:
        """Read one page of one service: what tells whether the credentials are good."""
        self._proxy.services.list(limit=1, page_size=1)

    def services(self, only: tuple[str, ...] = ()) -> Iterator[dict[str, Any]]:
        found = (
            (self._proxy.services(sid).fetch() for sid in only)
            if only
            else self._proxy.services.stream(page_size=PAGE_SIZE)
        )
        for s in found:
            yield {
                "sid": s.sid,
                "unique_name": s.unique_name,
                "callback_url": s.callback_url,
                "intercept_callback_url": s.intercept_callback_url,
                "out_of_session_callback_url": s.out_of_session_callback_url,
                "chat_instance_sid": s.chat_instance_sid,
                "default_ttl": int(s.default_ttl or 0),
                "geo_match_level": s.geo_match_level or "country",
                "number_selection_behavior": s.number_selection_behavior or "prefer-sticky",
                "date_created": millis(s.date_created),
                "date_updated": millis(s.date_updated),
            }

    def numbers(self, service_sid: str) -> Iterator[SourceNumber]:
        service = self._proxy.services(service_sid)
        for n in service.phone_numbers.stream(page_size=PAGE_SIZE):
            yield SourceNumber(
                sid=n.sid,
                kind="phone_number",
                value=n.phone_number,
                friendly_name=n.friendly_name,
                iso_country=n.iso_country,
                capabilities=_flags(n.capabilities),
                is_reserved=bool(n.is_reserved),
                date_created=millis(n.date_created),
                date_updated=millis(n.date_updated),
            )
        for c in self._pages(f"/v1/Services/{service_sid}/ShortCodes", "short_codes"):
            yield SourceNumber(
                sid=c["sid"],
                kind="short_code",
                value=c["short_code"],
                friendly_name=c["short_code"],
                iso_country=c.get("iso_country"),
                capabilities=_flags(c.get("capabilities")),
                is_reserved=bool(c.get("is_reserved")),
                date_created=millis(c.get("date_created")),
                date_updated=millis(c.get("date_updated")),
            )

    def _pages(self, path: str, key: str) -> Iterator[dict[str, Any]]:
        """A list the client has no resource class for (ShortCodes, which the `twilio`
        package no longer carries), through its plain request call, every page."""
        url: str | None = f"{self.client.proxy.base_url}{path}?PageSize={PAGE_SIZE}"
        while url:
            response = self.client.request("GET", url)
            if not 200 <= response.status_code < 300:
                body = _json(response.text)
                raise TwilioRestException(
                    response.status_code,
                    url,
                    msg=str(body.get("message") or response.text[:200]),
                    code=body.get("code"),
                    method="GET",
                )
            body = _json(response.text)
            yield from body.get(key, [])
            url = (body.get("meta") or {}).get("next_page_url")

    def sessions(self, service_sid: str) -> Iterator[dict[str, Any]]:
        for s in self._proxy.services(service_sid).sessions.stream(page_size=PAGE_SIZE):
            yield {
                "sid": s.sid,
                "service_sid": service_sid,
                "unique_name": s.unique_name,
                "mode": s.mode or "voice-and-message",
                "status": s.status or "open",
                "ttl": int(s.ttl or 0),
                "date_expiry": millis(s.date_expiry),
                "date_started": millis(s.date_started),
                "date_ended": millis(s.date_ended),
                "date_last_interaction": millis(s.date_last_interaction),
                "closed_reason": s.closed_reason,
                "date_created": millis(s.date_created),
                "date_updated": millis(s.date_updated),
            }

    def participants(self, service_sid: str, session_sid: str) -> list[dict[str, Any]]:
        session = self._proxy.services(service_sid).sessions(session_sid)
        return [
            {
                "sid": p.sid,
                "identifier": p.identifier,
                "friendly_name": p.friendly_name,
                "proxy_identifier": p.proxy_identifier,
                "proxy_identifier_sid": p.proxy_identifier_sid,
                "date_created": millis(p.date_created),
                "date_updated": millis(p.date_updated),
                "date_deleted": millis(p.date_deleted),
            }
            for p in session.participants.stream(page_size=PAGE_SIZE)
        ]

    def interactions(
        self, service_sid: str, session_sid: str, participant_sids: list[str]
    ) -> list[dict[str, Any]]:
        """The session's interactions; those an application sent to a participant (message
        interactions) name that participant."""
        session = self._proxy.services(service_sid).sessions(session_sid)
        sent_to = {
            m.sid: sid
            for sid in participant_sids
            for m in session.participants(sid).message_interactions.stream(page_size=PAGE_SIZE)
        }
        legs = ("participant_sid", "resource_sid", "resource_status", "resource_type")
        return [
            {
                "sid": i.sid,
                "participant_sid": sent_to.get(i.sid),
                "type": i.type or "unknown",
                "data": i.data,
                **{f"inbound_{leg}": getattr(i, f"inbound_{leg}") for leg in legs},
                "inbound_resource_url": i.inbound_resource_url,
                **{f"outbound_{leg}": getattr(i, f"outbound_{leg}") for leg in legs},
                "outbound_resource_url": i.outbound_resource_url,
                "date_created": millis(i.date_created),
                "date_updated": millis(i.date_updated),
            }
            for i in session.interactions.stream(page_size=PAGE_SIZE)
        ]
