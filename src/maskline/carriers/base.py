"""The carrier interface: what Maskline asks of a phone network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection

from maskline.clock import Clock


@dataclass(frozen=True)
class SentMessage:
    """The carrier's record of an outbound message."""

    sid: str
    status: str
    url: str


class Carrier(Protocol):
    name: str

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
        """Hand a message to the network, inside the caller's transaction."""
        ...
