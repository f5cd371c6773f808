"""Responses: a status, a body and its content type."""

from __future__ import annotations

from typing import Any

import orjson


class Response:
    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes = b"",
        content_type: bytes = b"application/json",
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers or []


def json_response(data: Any, status: int = 200) -> Response:
    return Response(status, orjson.dumps(data))


def no_content() -> Response:
    return Response(204, b"", b"")


def text_response(text: str, status: int = 200, content_type: bytes = b"text/plain") -> Response:
    return Response(status, text.encode(), content_type)
