"""The sandbox carrier: messages go to simulated handsets, recorded in the database."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, insert

from maskline import sids
from maskline.carriers.base import SentMessage
from maskline.clock import Clock
from maskline.sandbox.tables import carrier_messages


def message_url(base_url: str, sid: str) -> str:
    return f"{base_url}/sandbox/v1/Messages/{sid}"


class SandboxCarrier:
    name = "sandbox"

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
    ) -> SentMessage:
        sid = sids.new_sid(sids.MESSAGE)
        now = clock.now_ms()
        conn.execute(
            insert(carrier_messages).values(
                sid=sid,
                account_sid=account_sid,
                from_number=from_number,
                to_number=to_number,
                body=body,
                media_urls=orjson.dumps(media_urls).decode(),
                direction="outbound",
                status="queued",
                date_created=now,
                date_updated=now,
            )
        )
        return SentMessage(sid=sid, status="queued", url=message_url(base_url, sid))
