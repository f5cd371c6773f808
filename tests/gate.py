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
    """`matches(method, path)` picks the requests counted; the `hold_at`-th of them waits.
    `rewrite` changes each request's path and query on the way through; `refuse` (the request
    number, from 1) says what to answer instead of passing it on, if anything: a status and
    its Retry-After."""

    def __init__(
        self,
        upstream: str,
        matches: Callable[[str, str], bool] = lambda _method, _path: False,
        hold_at: int = 0,
        rewrite: Callable[[str], str] = lambda target: target,
        refuse: Callable[[int], tuple[int, str | None] | None] = lambda _n: None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.matches = matches
        self.hold_at = hold_at
        self.rewrite = rewrite
        self.refuse = refuse
        self.port = free_port()
        self.counted = 0
        self.seen: list[str] = []  # every request's method and path, as it came
        self.refused = 0
        self.holding = threading.Event()  # set once the held request arrived
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _arrived(self, method: str, path: str) -> tuple[bool, tuple[int, str | None] | None]:
        """Note a request: whether it is the one to hold, and what to answer instead of
        passing it on, if anything."""
        with self._lock:
            self.seen.append(f"{method} {path}")
            refusal = self.refuse(len(self.seen))
            if refusal is not None:
                self.refused += 1
                return False, refusal
            if not self.matches(method, path.split("?", 1)[0]):
                return False, None
            self.counted += 1
            return self.counted == self.hold_at, None

    def start(self) -> Gate:
        gate = self
        client = httpx.Client(timeout=60)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _pass(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                hold, refusal = gate._arrived(self.command, self.path)
                if refusal is not None:
                    status, retry_after = refusal
                    self.send_response(status)
                    if retry_after is not None:
                        self.send_header("Retry-After", retry_after)
                    self.send_header("Content-Type", "application/json")
                    payload = b'{"code": 20429, "message": "slow down", "status": %d}' % status
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if hold:
                    gate.holding.set()
                    gate._release.wait()
                headers = {k: v for k, v in self.headers.items() if k.lower() in _PASSED}
                answer = client.request(
                    self.command,
                    gate.upstream + gate.rewrite(self.path),
                    content=body,
                    headers=headers,
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
