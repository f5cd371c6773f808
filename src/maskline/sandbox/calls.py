"""Ending sandbox calls that no session bridged: rejected, hung up, or answered with TwiML."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, update

from maskline.clock import Clock
from maskline.sandbox.tables import carrier_calls


def end_inbound_call(
    conn: Connection, clock: Clock, sid: str, verbs: list[dict[str, Any]] | None = None
) -> None:
    """Settle an inbound call that no session bridged, keeping what the TwiML did with it.

    A call that dials on stays open until its dialled leg ends (the carrier's jobs close it).
    """
    verbs = verbs or []
    if any(step.get("call_sid") for step in verbs):
        status = None
    elif any(step["verb"] == "Reject" for step in verbs) or not verbs:
        status = "busy" if verbs else "failed"
    else:
        status = "completed"
    values: dict[str, Any] = {
        "outcome": orjson.dumps(verbs).decode(),
        "date_updated": clock.now_ms(),
    }
    if status is not None:
        values["status"] = status
        values["duration"] = 0
    conn.execute(update(carrier_calls).where(carrier_calls.c.sid == sid).values(**values))
