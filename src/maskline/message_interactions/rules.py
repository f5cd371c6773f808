"""Sending a message interaction through the carrier."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection

from maskline import sids
from maskline.callbacks.rules import enqueue_interaction
from maskline.carriers.base import Carrier
from maskline.clock import Clock
from maskline.errors import InvalidParameter, NotFound, SessionClosed
from maskline.interactions import store
from maskline.services.store import get_service_by_sid
from maskline.sessions.rules import record_interaction
from maskline.sessions.tables import ACTIVE

MAX_BODY = 1600


def create_message_interaction(
    conn: Connection,
    clock: Clock,
    carrier: Carrier,
    *,
    session: Any,
    participant: Any,
    body: str | None,
    media_urls: list[str],
    base_url: str,
) -> Any:
    if not body and not media_urls:
        raise InvalidParameter("Body", "Body or MediaUrl is required")
    if body is not None and len(body) > MAX_BODY:
        raise InvalidParameter("Body", f"must be at most {MAX_BODY} characters")
    if session.status not in ACTIVE:
        raise SessionClosed()
    if participant.date_deleted is not None:
        raise NotFound(f"Participant {participant.sid} was removed from the session")
    sid = sids.new_sid(sids.INTERACTION)
    sent = carrier.send_message(
        conn,
        clock,
        account_sid=session.account_sid,
        from_number=participant.proxy_identifier,
        to_number=participant.identifier,
        body=body,
        media_urls=media_urls,
        base_url=base_url,
        interaction_sid=sid,
    )
    now = clock.now_ms()
    data: dict[str, Any] = {"body": body or ""}
    if media_urls:
        data["media_urls"] = media_urls
    values = {
        "sid": sid,
        "account_sid": session.account_sid,
        "service_sid": session.service_sid,
        "session_sid": session.sid,
        "participant_sid": participant.sid,
        "type": "message",
        "data": orjson.dumps(data).decode(),
        "outbound_participant_sid": participant.sid,
        "outbound_resource_sid": sent.sid or None,
        "outbound_resource_status": sent.status,
        "outbound_resource_type": "Message",
        "outbound_resource_url": sent.url or None,
        "date_created": now,
        "date_updated": now,
    }
    store.insert_interaction(conn, values)
    record_interaction(conn, session=session, now=now)
    row = store.inserted_interaction(values)
    service = get_service_by_sid(conn, session.service_sid)
    if service is not None:
        enqueue_interaction(conn, now=now, callback_url=service.callback_url, interaction=row)
    return row
