"""Helpers for traffic tests: a dedicated fast server, the sandbox network, polling."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from twilio.rest import Client

from tests.conftest import add_numbers, next_number
from tests.receiver import Receiver
from tests.support import Server, new_database_url, unique

T = TypeVar("T")

# Fast statuses and retries, so that the worker's work is seen within a second or two.
FAST_ENV = {
    "MASKLINE_SANDBOX_STEP_MS": "20",
    "MASKLINE_CALLBACK_RETRY_BASE_MS": "100",
    "MASKLINE_CALLBACK_RETRY_MAX_MS": "400",
    "MASKLINE_CALLBACK_MAX_ATTEMPTS": "4",
    "MASKLINE_CALLBACK_TIMEOUT_MS": "2000",
    "MASKLINE_SYNC_CALLBACK_TIMEOUT_MS": "1000",
    "MASKLINE_WORKER_POLL_MS": "50",
}


def start_server(tmp_path_factory: pytest.TempPathFactory, name: str, **env: str) -> Server:
    """A dedicated `maskline serve` with its own database (this run's engine), fast settings."""
    folder: Path = tmp_path_factory.mktemp(name)
    return Server(database_url=new_database_url(folder), env={**FAST_ENV, **env}).start()


def wait_until(
    probe: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(interval)


class Sandbox:
    """The sandbox network and Maskline's own endpoints, through raw HTTP."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def text(self, from_: str, to: str, body: str | None = None, media: Sequence[str] = ()) -> Any:
        data: dict[str, Any] = {"From": from_, "To": to}
        if body is not None:
            data["Body"] = body
        if media:
            data["MediaUrl"] = list(media)
        return self.http.post("/sandbox/v1/Messages", data=data)

    def send(self, from_: str, to: str, body: str | None = None, media: Sequence[str] = ()) -> Any:
        """A text that must be accepted: its JSON record with `routing`."""
        response = self.text(from_, to, body, media)
        assert response.status_code == 201, response.text
        return response.json()

    def call(self, from_: str, to: str, answer: str = "answered", duration: int = 0) -> Any:
        response = self.http.post(
            "/sandbox/v1/Calls",
            data={"From": from_, "To": to, "Answer": answer, "Duration": str(duration)},
        )
        assert response.status_code == 201, response.text
        return response.json()

    def messages(self, device: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/sandbox/v1/Devices/{device}/Messages")
        assert response.status_code == 200, response.text
        return list(response.json()["messages"])

    def calls(self, device: str) -> list[dict[str, Any]]:
        response = self.http.get(f"/sandbox/v1/Devices/{device}/Calls")
        assert response.status_code == 200, response.text
        return list(response.json()["calls"])

    def advance(self, seconds: int) -> dict[str, Any]:
        response = self.http.post("/sandbox/v1/Clock", data={"Advance": str(seconds)})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def _all(self, path: str, key: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        response = self.http.get(path, params={**query, "PageSize": 1000})
        while True:
            assert response.status_code == 200, response.text
            body = response.json()
            items.extend(body[key])
            next_url = body["meta"]["next_page_url"]
            if not next_url:
                return items
            response = self.http.get(next_url)

    def events(self, code: int | None = None) -> list[dict[str, Any]]:
        query = {} if code is None else {"Code": code}
        return self._all("/maskline/v1/Events", "events", query)

    def events_for(self, resource_sid: str) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["details"].get("resource_sid") == resource_sid]

    def callbacks(self, session_sid: str | None = None) -> list[dict[str, Any]]:
        query = {} if session_sid is None else {"SessionSid": session_sid}
        return self._all("/maskline/v1/Callbacks", "callbacks", query)


@dataclass
class Conversation:
    """A session of two handsets, A and B, each with its proxy number."""

    service: Any
    session: Any  # the SDK's session context
    session_sid: str
    a: Any  # participant instances
    b: Any

    @property
    def interactions(self) -> Any:
        return self.session.interactions


def new_service(client: Client, numbers: int = 2, **settings: Any) -> Any:
    service = client.proxy.v1.services.create(unique_name=unique("svc"), **settings)
    if numbers:
        add_numbers(client, service.sid, numbers)
    return service


def open_conversation(
    client: Client, service: Any, *, handsets: tuple[str, str] | None = None, **options: Any
) -> Conversation:
    a_number, b_number = handsets or (next_number("212"), next_number("718"))
    sessions = client.proxy.v1.services(service.sid).sessions
    created = sessions.create(
        participants=[{"Identifier": a_number}, {"Identifier": b_number}], **options
    )
    session = sessions(created.sid)
    by_identifier = {p.identifier: p for p in session.participants.list()}
    return Conversation(
        service=service,
        session=session,
        session_sid=created.sid,
        a=by_identifier[a_number],
        b=by_identifier[b_number],
    )


def conversation_to(sdk: Client, receiver: Receiver, **paths: str) -> Conversation:
    """A conversation in a new service whose callback URLs point at `receiver`."""
    urls = {name: receiver.url(path) for name, path in paths.items()}
    return open_conversation(sdk, new_service(sdk, 2, **urls))


def data(interaction: Any) -> dict[str, Any]:
    return dict(json.loads(interaction.data))
