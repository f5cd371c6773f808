"""A real HTTP receiver on 127.0.0.1 for callback tests: records every POST, answers as told."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.support import free_port


@dataclass(frozen=True)
class Reply:
    """What the receiver answers on one path."""

    status: int = 200
    content_type: str = "text/plain"
    body: bytes | str = b""
    delay: float = 0.0
    # Sent one byte at a time, this many seconds apart: a receiver that never quite stops.
    trickle: float = 0.0
    # A body of this many bytes, written a MiB at a time, instead of `body`.
    huge: int = 0

    def payload(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else self.body


@dataclass(frozen=True)
class Received:
    """One POST as it arrived."""

    path: str
    query: str
    headers: dict[str, str]
    raw: bytes
    pairs: list[tuple[str, str]]
    at: float = field(default_factory=time.monotonic)

    @property
    def form(self) -> dict[str, str]:
        return dict(self.pairs)

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in self.pairs]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def signature(self) -> str:
        return self.header("X-Twilio-Signature") or ""

    @property
    def token(self) -> str:
        return self.header("I-Twilio-Idempotency-Token") or ""


class Receiver:
    """A threaded http.server on a fixed free port; it can be stopped and started again there."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._received: list[Received] = []
        # Per path: replies given in turn, the last one repeating; with per_token, the turns
        # are counted for each idempotency token (each callback) on its own.
        self._replies: dict[str, tuple[list[Reply], bool]] = {}
        self._turns: dict[tuple[str, str], int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- life -------------------------------------------------------------------------------

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if len(raw) < length:
                    # The sender died mid-request (a killed server): no delivery happened.
                    self.close_connection = True
                    return
                parts = urlsplit(self.path)
                received = Received(
                    path=parts.path,
                    query=parts.query,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    raw=raw,
                    pairs=parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True),
                )
                reply = receiver._record(received)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.payload()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(reply.huge or len(payload)))
                    self.end_headers()
                    if reply.huge:
                        chunk = b"a" * (1 << 20)
                        for _ in range(reply.huge >> 20):
                            self.wfile.write(chunk)
                    elif reply.trickle:
                        for i in range(len(payload)):
                            self.wfile.write(payload[i : i + 1])
                            self.wfile.flush()
                            time.sleep(reply.trickle)
                    else:
                        self.wfile.write(payload)
                except OSError:
                    pass  # the caller gave up (timeout) before the answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler, bind_and_activate=False)
        server.allow_reuse_address = True
        server.daemon_threads = True
        server.server_bind()
        server.server_activate()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: later connections to the port are refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- behaviour --------------------------------------------------------------------------

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def url_of(self, received: Received) -> str:
        """The exact URL a POST was made to, query included: what its signature covers."""
        return self.url(received.path + (f"?{received.query}" if received.query else ""))

    def answer(
        self,
        path: str,
        status: int = 200,
        content_type: str = "text/plain",
        body: bytes | str = b"",
        delay: float = 0.0,
    ) -> None:
        """From now on, POSTs to `path` get this answer."""
        self.answers(path, [Reply(status, content_type, body, delay)])

    def answers(self, path: str, replies: list[Reply], per_token: bool = False) -> None:
        """POSTs to `path` get these answers in turn, the last one repeating.

        With `per_token`, each idempotency token goes through the list on its own: [500, 500,
        200] makes every callback fail twice, then succeed.
        """
        assert replies
        with self._lock:
            self._replies[path] = (list(replies), per_token)
            for key in [key for key in self._turns if key[0] == path]:
                del self._turns[key]

    def _record(self, received: Received) -> Reply:
        with self._lock:
            self._received.append(received)
            replies, per_token = self._replies.get(received.path, ([Reply()], False))
            key = (received.path, received.token if per_token else "")
            turn = self._turns.get(key, 0)
            self._turns[key] = turn + 1
            return replies[min(turn, len(replies) - 1)]

    # -- what came ----------------------------------------------------------------------------

    def received(self, path: str | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    def wait_for(
        self,
        path: str,
        predicate: Callable[[list[Received]], bool] = bool,
        timeout: float = 10.0,
    ) -> list[Received]:
        """The POSTs to `path` once `predicate` holds for them; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.received(path)
            if predicate(got):
                return got
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"receiver: condition on {path} not met in {timeout}s; got "
                    f"{[r.form for r in got]}"
                )
            time.sleep(0.02)
