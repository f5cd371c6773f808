"""The worker's side of Twilio sends: make the REST call, then record what Twilio said."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from maskline.callbacks.delivery import backoff_ms
from maskline.callbacks.rules import enqueue_interaction
from maskline.carriers.twilio import (
    SEND_MESSAGE,
    SendRefused,
    SendRetry,
    TwilioCarrier,
    message_progress,
)
from maskline.events import rules as events
from maskline.interactions import store as interactions_store
from maskline.interactions.tables import interactions
from maskline.jobs import store as jobs_store
from maskline.runtime import Runtime
from maskline.services.store import get_service_by_sid


async def send_message(runtime: Runtime, job: Any) -> None:
    carrier = runtime.carrier
    assert isinstance(carrier, TwilioCarrier)
    payload = orjson.loads(job.payload)
    # The claimed row is read before the claim counts it: this is attempt `attempts + 1`.
    attempt = job.attempts + 1
    try:
        found = None
        if attempt > 1 and payload.get("answered") != attempt - 1:
            # The last attempt ended without an answer on record (the process died mid-call):
            # Twilio may have taken it, so look before sending again.
            found = await carrier.run(carrier.find_sent, payload)
        sid, status = found or await carrier.run(carrier.create_message, payload)
    except SendRetry as exc:
        if attempt < runtime.settings.twilio_max_attempts:
            due = runtime.clock.now_ms() + backoff_ms(runtime, attempt)
            with runtime.transaction() as conn:
                jobs_store.reschedule(
                    conn,
                    job.id,
                    due_at=due,
                    # Which attempt was answered: a later one that dies mid-call leaves it
                    # behind, and the one after it then looks before sending.
                    payload={**payload, "answered": attempt, "last_error": str(exc)},
                )
            return
        _fail(runtime, job, payload, f"{exc} (gave up after {attempt} attempts)", None)
        return
    except SendRefused as exc:
        _fail(runtime, job, payload, str(exc), exc.code)
        return
    now = runtime.clock.now_ms()
    with runtime.transaction() as conn:
        interaction_sid = payload.get("interaction_sid")
        if interaction_sid:
            current = conn.execute(
                select(interactions.c.outbound_resource_status)
                .where(interactions.c.sid == interaction_sid)
                .with_for_update()
            ).scalar()
            values: dict[str, Any] = {
                "outbound_resource_sid": sid,
                "outbound_resource_url": carrier.message_url(sid),
                "date_updated": now,
            }
            # Twilio's status callbacks may have come first: keep the status they left.
            if message_progress(status) > message_progress(current):
                values["outbound_resource_status"] = status
            interactions_store.update_interaction(conn, interaction_sid, values)
        jobs_store.finish(conn, job.id)


def _fail(
    runtime: Runtime, job: Any, payload: dict[str, Any], error: str, code: int | None
) -> None:
    now = runtime.clock.now_ms()
    with runtime.transaction() as conn:
        interaction_sid = payload.get("interaction_sid")
        row = None
        if interaction_sid:
            interactions_store.update_interaction(
                conn,
                interaction_sid,
                {"outbound_resource_status": "failed", "date_updated": now},
            )
            row = interactions_store.get_interaction_by_sid(conn, interaction_sid)
        events.record_event(
            conn,
            now=now,
            code=events.CARRIER_SEND_FAILED,
            account_sid=payload["account_sid"],
            service_sid=row.service_sid if row is not None else None,
            session_sid=row.session_sid if row is not None else None,
            detail=error,
            twilio_error_code=code,
            interaction_sid=interaction_sid,
            **{"from": payload["from"], "to": payload["to"]},
        )
        if row is not None:
            service = get_service_by_sid(conn, row.service_sid)
            if service is not None:
                enqueue_interaction(
                    conn, now=now, callback_url=service.callback_url, interaction=row
                )
        jobs_store.finish(conn, job.id)
    runtime.wake()


NETWORK_JOB_HANDLERS = {SEND_MESSAGE: send_message}
