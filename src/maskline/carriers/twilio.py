"""The Twilio carrier: texts go out through Twilio's Messages API, calls are bridged with TwiML.

No REST call is made inside a database transaction: a send is written as a job in the caller's
transaction and carried out by the worker, which records Twilio's Message SID on the
interaction when Twilio accepts it. 429 and 5xx answers are retried with backoff; any other
refusal, or a timeout (after which Twilio may have sent it), fails the leg, so that no message is
sent twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import requests
from sqlalchemy import Connection
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from maskline.carriers.base import Sent
from maskline.clock import Clock
from maskline.jobs.store import schedule
from maskline.settings import Settings

log = logging.getLogger("maskline.twilio")
# The twilio package logs every request at INFO; keep Maskline's logs to what matters.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

SEND_MESSAGE = "twilio.send_message"

# How far along a message is. Twilio's status callbacks may come in any order, and even before
# the send's own answer is recorded: a message's status never moves back.
MESSAGE_PROGRESS = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
}


def message_progress(status: str | None) -> int:
    return MESSAGE_PROGRESS.get(status or "", -1)


@dataclass(frozen=True)
class TwilioNumber:
    """What Twilio says of one of the account's IncomingPhoneNumbers."""

    sid: str
    phone_number: str
    friendly_name: str | None
    voice: bool
    sms: bool
    mms: bool
    fax: bool


class SendRefused(Exception):
    """Twilio refused the message for good, or its fate is unknown: the leg fails."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class SendRetry(Exception):
    """Twilio did not take the message (429, 5xx, no connection): try again later."""


class TwilioCarrier:
    name = "twilio"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.account_sid = settings.twilio_account_sid
        self.api_base = settings.twilio_api_base.rstrip("/")
        self.public_url = settings.public_url.rstrip("/")
        username = settings.twilio_api_key or settings.twilio_account_sid
        password = settings.twilio_api_secret or settings.twilio_auth_token
        http = TwilioHttpClient(timeout=settings.twilio_timeout_ms / 1000, max_retries=0)
        self.client = Client(username, password, account_sid=self.account_sid, http_client=http)
        self.client.api.base_url = self.api_base

    # URLs -----------------------------------------------------------------------------------

    def message_url(self, sid: str) -> str:
        return f"{self.api_base}/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"

    def call_url(self, sid: str) -> str:
        return f"{self.api_base}/2010-04-01/Accounts/{self.account_sid}/Calls/{sid}.json"

    def webhook_url(self, name: str) -> str:
        return f"{self.public_url}/webhooks/twilio/{name}"

    def message_status_url(self, interaction_sid: str | None) -> str:
        """Where Twilio reports a send's statuses. The interaction rides along, for callbacks
        that arrive before the worker has recorded the send's Message SID."""
        url = self.webhook_url("message-status")
        return f"{url}?InteractionSid={interaction_sid}" if interaction_sid else url

    # Carrier interface ----------------------------------------------------------------------

    def send_message(
        self,
        conn: Connection,
        clock: Clock,
        *,
        account_sid: str,
        from_number: str,
        to_number: str,
        body: str | None,
        media_urls: list[str],
        base_url: str,
        interaction_sid: str | None = None,
    ) -> Sent:
        """Queue the send; the worker makes the REST call after this transaction commits."""
        now = clock.now_ms()
        schedule(
            conn,
            kind=SEND_MESSAGE,
            payload={
                "interaction_sid": interaction_sid,
                "account_sid": account_sid,
                "from": from_number,
                "to": to_number,
                "body": body,
                "media_urls": media_urls,
                "queued_at": now,
            },
            due_at=now,
            now=now,
        )
        # Twilio's SID is not known yet: the interaction gets it when Twilio accepts the send.
        return Sent(sid="", status="queued", url="")

    def place_call(
        self,
        conn: Connection,
        clock: Clock,
        *,
        account_sid: str,
        from_number: str,
        to_number: str,
        parent_sid: str | None,
        base_url: str,
        answer: str = "answered",
        duration: int = 0,
    ) -> Sent:
        # The bridge is the <Dial> in the webhook's answer; Twilio reports the new leg's SID in
        # its status callbacks.
        return Sent(sid="", status="initiated", url="")

    # REST calls (worker and admin paths only, never inside a transaction) --------------------

    def create_message(self, payload: dict[str, Any]) -> tuple[str, str]:
        """Send through Twilio; (Message SID, status). Raises SendRetry or SendRefused."""
        try:
            message = self.client.messages.create(
                from_=payload["from"],
                to=payload["to"],
                body=payload.get("body") or "",
                media_url=payload.get("media_urls") or [],
                status_callback=self.message_status_url(payload.get("interaction_sid")),
            )
        except TwilioRestException as exc:
            if exc.status == 429 or exc.status >= 500:
                raise SendRetry(f"Twilio answered {exc.status}: {exc.msg}") from exc
            raise SendRefused(f"Twilio refused the message: {exc.msg}", exc.code) from exc
        except requests.exceptions.ConnectionError as exc:
            # The request never reached Twilio (refused, or no connection in time): sending
            # again cannot double it.
            raise SendRetry(f"Twilio could not be reached: {exc}") from exc
        except requests.exceptions.Timeout as exc:
            # Twilio may have sent it: failing the leg is better than sending it twice.
            raise SendRefused(f"Twilio did not answer in time: {exc}") from exc
        return str(message.sid), str(message.status or "queued")

    def find_sent(self, payload: dict[str, Any]) -> tuple[str, str] | None:
        """A message this send already made, if an earlier attempt's answer was lost."""
        try:
            found = self.client.messages.list(to=payload["to"], from_=payload["from"], limit=50)
        except (TwilioRestException, requests.exceptions.RequestException) as exc:
            raise SendRetry(f"could not check for an earlier send: {exc}") from exc
        for message in found:
            if (message.body or "") == (payload.get("body") or ""):
                created = message.date_created
                if created is None or created.timestamp() * 1000 >= payload["queued_at"] - 60_000:
                    return str(message.sid), str(message.status or "queued")
        return None

    def lookup_number(self, *, sid: str | None, phone_number: str | None) -> TwilioNumber | None:
        """One of the Twilio account's IncomingPhoneNumbers, by SID or number."""
        try:
            if sid:
                found = [self.client.incoming_phone_numbers(sid).fetch()]
            else:
                # Twilio's PhoneNumber filter also matches parts of numbers: keep the exact one.
                found = [
                    number
                    for number in self.client.incoming_phone_numbers.list(
                        phone_number=phone_number, limit=50
                    )
                    if number.phone_number == phone_number
                ]
        except TwilioRestException as exc:
            if exc.status == 404:
                return None
            raise
        if not found:
            return None
        number = found[0]
        caps = number.capabilities or {}
        return TwilioNumber(
            sid=str(number.sid),
            phone_number=str(number.phone_number),
            friendly_name=number.friendly_name,
            voice=bool(caps.get("voice")),
            sms=bool(caps.get("sms")),
            mms=bool(caps.get("mms")),
            fax=bool(caps.get("fax")),
        )

    def configure_webhooks(self, sid: str) -> None:
        """Point the number's SMS and voice URLs (and call status) at Maskline."""
        self.client.incoming_phone_numbers(sid).update(
            sms_url=self.webhook_url("messages"),
            sms_method="POST",
            voice_url=self.webhook_url("voice"),
            voice_method="POST",
            status_callback=self.webhook_url("call-status"),
            status_callback_method="POST",
        )

    async def run(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a blocking REST call off the event loop."""
        return await asyncio.to_thread(func, *args, **kwargs)
