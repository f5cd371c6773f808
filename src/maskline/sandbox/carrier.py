"""The sandbox carrier: a simulated network whose handsets live in the database.

Statuses move on as a carrier's do, one step every MASKLINE_SANDBOX_STEP_MS of the sandbox
clock, through scheduled jobs the worker runs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson
from sqlalchemy import Connection, bindparam, insert, select, update

from maskline import sids
from maskline.carriers.base import Sent
from maskline.clock import Clock
from maskline.db import fast
from maskline.interactions.rules import resource_status_changed
from maskline.jobs.store import schedule_all
from maskline.sandbox.tables import carrier_calls, carrier_messages

MESSAGE_STATUS = "sandbox.message_status"
CALL_STATUS = "sandbox.call_status"
ANSWERS = ("answered", "busy", "no-answer", "failed")


def message_url(base_url: str, sid: str) -> str:
    return f"{base_url}/sandbox/v1/Messages/{sid}"


def call_url(base_url: str, sid: str) -> str:
    return f"{base_url}/sandbox/v1/Calls/{sid}"


_INSERT_MESSAGE = insert(carrier_messages)


class RecordedMessage(NamedTuple):
    """A message as it was just written, read like a `carrier_messages` row."""

    sid: str
    account_sid: str
    from_number: str
    to_number: str
    body: str | None
    media_urls: str
    direction: str
    status: str
    date_created: int
    date_updated: int


class SandboxCarrier:
    name = "sandbox"

    def __init__(self, step_ms: int = 200) -> None:
        self.step_ms = step_ms

    def record_message(
        self,
        conn: Connection,
        clock: Clock,
        *,
        account_sid: str,
        from_number: str,
        to_number: str,
        body: str | None,
        media_urls: list[str],
        direction: str,
        status: str,
        sid: str | None = None,
    ) -> RecordedMessage:
        now = clock.now_ms()
        message = RecordedMessage(
            sid=sid or sids.new_sid(sids.MESSAGE),
            account_sid=account_sid,
            from_number=from_number,
            to_number=to_number,
            body=body,
            media_urls=orjson.dumps(media_urls).decode(),
            direction=direction,
            status=status,
            date_created=now,
            date_updated=now,
        )
        fast.write_later(conn, _INSERT_MESSAGE, message._asdict())
        return message

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
        sid = self.record_message(
            conn,
            clock,
            account_sid=account_sid,
            from_number=from_number,
            to_number=to_number,
            body=body,
            media_urls=media_urls,
            direction="outbound",
            status="queued",
        ).sid
        now = clock.now_ms()
        steps = [
            (now + step * self.step_ms, {"sid": sid, "status": status})
            for step, status in enumerate(("sent", "delivered"), start=1)
        ]
        schedule_all(conn, kind=MESSAGE_STATUS, steps=steps, now=now, account_sid=account_sid)
        return Sent(sid=sid, status="queued", url=message_url(base_url, sid))

    def record_call(
        self,
        conn: Connection,
        clock: Clock,
        *,
        account_sid: str,
        from_number: str,
        to_number: str,
        direction: str,
        status: str,
        answer: str | None = None,
        duration: int | None = None,
        parent_sid: str | None = None,
    ) -> str:
        sid = sids.new_sid(sids.CALL)
        now = clock.now_ms()
        conn.execute(
            insert(carrier_calls).values(
                sid=sid,
                account_sid=account_sid,
                from_number=from_number,
                to_number=to_number,
                direction=direction,
                status=status,
                answer=answer,
                duration=duration,
                parent_sid=parent_sid,
                date_created=now,
                date_updated=now,
            )
        )
        return sid

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
        sid = self.record_call(
            conn,
            clock,
            account_sid=account_sid,
            from_number=from_number,
            to_number=to_number,
            direction="outbound",
            status="initiated",
            answer=answer,
            duration=duration,
            parent_sid=parent_sid,
        )
        now = clock.now_ms()
        step = self.step_ms
        plan: list[tuple[int, str, str, int | None]]
        # (delay, leg, status, duration): the outbound leg rings, then ends as the handset
        # answers; the inbound leg ends with it.
        if answer == "failed":
            plan = [(step, sid, "failed", 0)]
        elif answer in ("busy", "no-answer"):
            plan = [(step, sid, "ringing", None), (2 * step, sid, answer, 0)]
        else:
            end = 2 * step + duration * 1000
            plan = [
                (step, sid, "ringing", None),
                (2 * step, sid, "in-progress", None),
                (end, sid, "completed", duration),
            ]
        if parent_sid is not None:
            last_delay, _, _, last_duration = plan[-1]
            plan.append((last_delay, parent_sid, "completed", last_duration or 0))
        steps = [
            (now + delay, {"sid": leg, "status": status, "duration": seconds})
            for delay, leg, status, seconds in plan
        ]
        schedule_all(conn, kind=CALL_STATUS, steps=steps, now=now, account_sid=account_sid)
        return Sent(sid=sid, status="initiated", url=call_url(base_url, sid))


_MESSAGE_STATUS = (
    update(carrier_messages)
    .where(carrier_messages.c.sid == bindparam("where_sid"))
    .values(status=bindparam("status"), date_updated=bindparam("date_updated"))
)


def apply_message_status(conn: Connection, clock: Clock, payload: dict[str, Any]) -> None:
    sid, status = payload["sid"], payload["status"]
    values = {"where_sid": sid, "status": status, "date_updated": clock.now_ms()}
    fast.write_later(conn, _MESSAGE_STATUS, values)
    resource_status_changed(conn, clock, resource_sid=sid, status=status)


def apply_call_status(conn: Connection, clock: Clock, payload: dict[str, Any]) -> None:
    sid, status, duration = payload["sid"], payload["status"], payload.get("duration")
    current = conn.execute(
        select(carrier_calls.c.status).where(carrier_calls.c.sid == sid)
    ).scalar()
    if current in ("completed", "busy", "no-answer", "failed", "canceled"):
        return  # already ended (hung up, rejected): a late step changes nothing
    values: dict[str, Any] = {"status": status, "date_updated": clock.now_ms()}
    if duration is not None:
        values["duration"] = duration
    conn.execute(update(carrier_calls).where(carrier_calls.c.sid == sid).values(**values))
    resource_status_changed(conn, clock, resource_sid=sid, status=status, duration=duration)


JOB_HANDLERS = {MESSAGE_STATUS: apply_message_status, CALL_STATUS: apply_call_status}
