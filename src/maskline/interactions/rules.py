"""Interactions follow their carrier legs: each status change is stored and called back."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection

from maskline.callbacks.rules import enqueue_interaction
from maskline.clock import Clock
from maskline.interactions import store

# What a leg (a carrier's text or call) may be, as the Proxy spec lists it.
LEG_STATUSES = (
    "accepted",
    "answered",
    "busy",
    "canceled",
    "completed",
    "deleted",
    "delivered",
    "delivery-unknown",
    "failed",
    "in-progress",
    "initiated",
    "no-answer",
    "queued",
    "received",
    "receiving",
    "ringing",
    "scheduled",
    "sending",
    "sent",
    "undelivered",
    "unknown",
)


def voice_data(duration: int | None) -> str:
    return orjson.dumps({"duration": str(duration or 0)}).decode()


def resource_status_changed(
    conn: Connection,
    clock: Clock,
    *,
    resource_sid: str,
    status: str,
    duration: int | None = None,
) -> None:
    """A carrier message or call changed status: update the legs that carry it, call back."""
    now = clock.now_ms()
    for row in store.interactions_with_resource(conn, resource_sid):
        values: dict[str, Any] = {"date_updated": now}
        if row.inbound_resource_sid == resource_sid:
            values["inbound_resource_status"] = status
        if row.outbound_resource_sid == resource_sid:
            values["outbound_resource_status"] = status
            if row.type == "voice" and duration is not None:
                values["data"] = voice_data(duration)
        store.update_interaction(conn, row.sid, values)
        callback_url = row.service_callback_url
        if callback_url:
            # Read whole, as it is now, for the callback's parameters.
            interaction = store.get_interaction_by_sid(conn, row.sid)
            enqueue_interaction(conn, now=now, callback_url=callback_url, interaction=interaction)
