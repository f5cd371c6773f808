"""The carrier interface: what Maskline asks of a phone network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection

from maskline.clock import Clock


@dataclass(frozen=True)
class Sent:
    """The carrier's record of an outbound message or call leg."""

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
        interaction_sid: str | None = None,
    ) -> Sent:
        """Hand a message to the network, inside the caller's transaction."""
        ...

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
        """Ring `to_number` from `from_number`, bridged to the inbound call `parent_sid`.

        `answer` and `duration` say what a simulated handset does; real networks ignore them.
        """
        ...
