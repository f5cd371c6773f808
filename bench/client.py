"""A small, low-overhead HTTP client for set-up calls and sequential latency samples.

The standard library's http.client on one keep-alive connection: little client work per
request, so that a sequential sample measures the server rather than the client.
"""

from __future__ import annotations

import base64
import http.client
import time
from typing import Any
from urllib.parse import urlencode

import orjson

from bench.servers import ACCOUNT_SID, AUTH_TOKEN


def basic_auth(username: str = ACCOUNT_SID, password: str = AUTH_TOKEN) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class Api:
    def __init__(self, port: int) -> None:
        self.port = port
        self.auth = basic_auth()
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def close(self) -> None:
        self._conn.close()

    def call(
        self, method: str, path: str, form: dict[str, Any] | None = None
    ) -> tuple[int, Any, float]:
        """(status, JSON body, seconds from sending the request to the whole answer)."""
        body = urlencode(form or {}, doseq=True).encode() if method == "POST" else None
        headers = {"Authorization": self.auth}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        try:
            self._conn.request(method, path, body=body, headers=headers)
            response = self._conn.getresponse()
            raw = response.read()
        except (http.client.HTTPException, OSError):
            # A dropped keep-alive connection: open a new one and send again, once.
            self._conn.close()
            self._conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            started = time.perf_counter()
            self._conn.request(method, path, body=body, headers=headers)
            response = self._conn.getresponse()
            raw = response.read()
        seconds = time.perf_counter() - started
        return response.status, (orjson.loads(raw) if raw else None), seconds

    def expect(
        self, status: int, method: str, path: str, form: dict[str, Any] | None = None
    ) -> Any:
        got, body, _ = self.call(method, path, form)
        if got != status:
            raise RuntimeError(f"{method} {path}: expected {status}, got {got}: {body}")
        return body
