"""Recording events: the codes of PROXY_BEHAVIOUR.md for traffic that reached no API caller."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from sqlalchemy import Connection

from maskline import sids
from maskline.events import store

log = logging.getLogger("maskline.events")

SESSION_HAS_ONE_PARTICIPANT = 80614
NOT_ROUTED = 80901
OUT_OF_SESSION_ANSWER_UNUSABLE = 80909
MESSAGE_TO_VOICE_ONLY = 80910
CALL_TO_MESSAGE_ONLY = 80911
OUT_OF_SESSION_CALLBACK_FAILED = 80913
# Twilio's "message delivery failed" code, for a send the Twilio carrier could not make.
CARRIER_SEND_FAILED = 30008

MESSAGES = {
    SESSION_HAS_ONE_PARTICIPANT: "The session has only one participant: nobody to reach",
    NOT_ROUTED: "Inbound traffic reached no active session and was not handled",
    OUT_OF_SESSION_ANSWER_UNUSABLE: "The out-of-session callback's answer could not be used",
    MESSAGE_TO_VOICE_ONLY: "Inbound message to a voice-only session rejected",
    CALL_TO_MESSAGE_ONLY: "Inbound call to a message-only session rejected",
    OUT_OF_SESSION_CALLBACK_FAILED: "The out-of-session callback failed",
    CARRIER_SEND_FAILED: "The carrier could not send the message",
}


def record_event(
    conn: Connection,
    *,
    now: int,
    code: int,
    account_sid: str,
    service_sid: str | None = None,
    session_sid: str | None = None,
    detail: str | None = None,
    **context: Any,
) -> str:
    message = MESSAGES[code] + (f": {detail}" if detail else "")
    sid = sids.new_sid("NO")
    store.insert_event(
        conn,
        {
            "sid": sid,
            "account_sid": account_sid,
            "service_sid": service_sid,
            "session_sid": session_sid,
            "code": code,
            "message": message,
            "details": orjson.dumps(context).decode(),
            "date_created": now,
        },
    )
    log.info("event %s %s (%s)", code, message, session_sid or service_sid or account_sid)
    return sid
