"""An HTTP proxy for tests: passes every request through to a server behind it, and can hold
the n-th request of a kind until the test lets it go (or kills the client waiting on it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.support import free_port

# Headers the proxy passes on as they came: Host too, so that the URLs the server behind it
# writes into its answers (next pages, resource links) point at the proxy.
_PASSED = ("host", "authorization", "content-type", "accept", "user-agent")


class Gate:
    """`matches(method, path)` picks the requests counted; the `hold_at`-th of them waits."""

    def __init__(self, upstream: str, matches: Callable[[str, str], bool], hold_at: int) -> None:
        self.upstream = upstream.rstrip("/")
        self.matches = matches
        self.hold_at = hold_at
        self.port = free_port()
        self.counted = 0
        self.holding = threading.Event()  # set once the held request arrived
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _arrived(self, method: str, path: str) -> bool:
        """Count a request; True when it is the one to hold."""
        if not self.matches(method, path.split("?", 1)[0]):
            return False
        with self._lock:
            self.counted += 1
            return self.counted == self.hold_at

    def start(self) -> Gate:
        gate = self
        client = httpx.Client(timeout=60)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _pass(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if gate._arrived(self.command, self.path):
                    gate.holding.set()
                    gate._release.wait()
                headers = {k: v for k, v in self.headers.items() if k.lower() in _PASSED}
                answer = client.request(
                    self.command, gate.upstream + self.path, content=body, headers=headers
                )
                try:
                    self.send_response(answer.status_code)
                    self.send_header("Content-Type", answer.headers.get("content-type", ""))
                    self.send_header("Content-Length", str(len(answer.content)))
                    self.end_headers()
                    self.wfile.write(answer.content)
                except OSError:
                    pass  # the client went away (killed) while it waited

            do_GET = do_POST = do_DELETE = _pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Gate:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
