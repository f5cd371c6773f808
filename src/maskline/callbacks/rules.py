"""What goes into the outbox: the exact parameters of each callback, fixed at enqueue time."""

from __future__ import annotations

import os
from typing import Any

import orjson
from sqlalchemy import Connection

from maskline.callbacks import store
from maskline.callbacks.tables import PENDING
from maskline.clock import iso

# The five parameters the intercept callback leaves out (there is no outbound leg yet).
OUTBOUND_KEYS = (
    "outboundParticipantSid",
    "outboundResourceSid",
    "outboundResourceStatus",
    "outboundResourceType",
    "outboundResourceUrl",
)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def interaction_params(row: Any) -> dict[str, str]:
    """The callback_url parameters of an interaction; empty values are empty strings."""
    return {
        "interactionSid": row.sid,
        "interactionSessionSid": row.session_sid,
        "interactionServiceSid": row.service_sid,
        "interactionAccountSid": row.account_sid,
        "interactionType": _text(row.type),
        "interactionData": _text(row.data),
        "interactionDateCreated": _text(iso(row.date_created)),
        "interactionDateUpdated": _text(iso(row.date_updated)),
        "inboundParticipantSid": _text(row.inbound_participant_sid),
        "inboundResourceSid": _text(row.inbound_resource_sid),
        "inboundResourceStatus": _text(row.inbound_resource_status),
        "inboundResourceType": _text(row.inbound_resource_type),
        "inboundResourceUrl": _text(row.inbound_resource_url),
        "outboundParticipantSid": _text(row.outbound_participant_sid),
        "outboundResourceSid": _text(row.outbound_resource_sid),
        "outboundResourceStatus": _text(row.outbound_resource_status),
        "outboundResourceType": _text(row.outbound_resource_type),
        "outboundResourceUrl": _text(row.outbound_resource_url),
    }


def intercept_params(row: Any) -> dict[str, str]:
    params = interaction_params(row)
    for key in OUTBOUND_KEYS:
        del params[key]
    return params


def session_params(session: Any, service: Any) -> dict[str, str]:
    """The SessionCallbackUrl parameters (a Maskline extension) of a session that changed."""
    return {
        "sessionSid": session.sid,
        "sessionServiceSid": session.service_sid,
        "sessionAccountSid": session.account_sid,
        "sessionUniqueName": _text(session.unique_name),
        "sessionStatus": _text(session.status),
        "sessionClosedReason": _text(session.closed_reason),
        "sessionMode": _text(session.mode),
        "sessionTtl": _text(session.ttl),
        "sessionDateStarted": _text(iso(session.date_started)),
        "sessionDateEnded": _text(iso(session.date_ended)),
        "sessionDateExpiry": _text(iso(session.date_expiry)),
        "sessionDateLastInteraction": _text(iso(session.date_last_interaction)),
        "sessionDateCreated": _text(iso(session.date_created)),
        "serviceUniqueName": _text(service.unique_name),
    }


def enqueue(
    conn: Connection,
    *,
    now: int,
    kind: str,
    url: str,
    params: dict[str, str],
    account_sid: str,
    service_sid: str | None = None,
    session_sid: str | None = None,
    interaction_sid: str | None = None,
) -> None:
    """Write a callback into the outbox, in the caller's transaction: it leaves after commit."""
    store.insert_callback(
        conn,
        {
            "token": os.urandom(16).hex(),
            "account_sid": account_sid,
            "service_sid": service_sid,
            "session_sid": session_sid,
            "interaction_sid": interaction_sid,
            "kind": kind,
            "url": url,
            "params": orjson.dumps(params).decode(),
            "status": PENDING,
            "attempts": 0,
            "due_at": now,
            "date_created": now,
            "date_updated": now,
        },
    )


def enqueue_interaction(
    conn: Connection, *, now: int, callback_url: str | None, interaction: Any
) -> None:
    """Call the service's callback_url (when it has one) with the interaction as it is now."""
    if callback_url:
        enqueue(
            conn,
            now=now,
            kind="interaction",
            url=callback_url,
            params=interaction_params(interaction),
            account_sid=interaction.account_sid,
            service_sid=interaction.service_sid,
            session_sid=interaction.session_sid,
            interaction_sid=interaction.sid,
        )


def enqueue_session_closed(conn: Connection, *, now: int, service: Any, session: Any) -> None:
    if service.session_callback_url:
        enqueue(
            conn,
            now=now,
            kind="session-closed",
            url=service.session_callback_url,
            params=session_params(session, service),
            account_sid=session.account_sid,
            service_sid=session.service_sid,
            session_sid=session.sid,
        )
