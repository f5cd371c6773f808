"""What a handler sees of one HTTP request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from maskline.runtime import Runtime

Form = dict[str, list[str]]


class Request:
    """One request: its path parameters, form and query values, caller and transaction."""

    __slots__ = (
        "account_sid",
        "base_url",
        "conn",
        "form",
        "method",
        "params",
        "path",
        "query",
        "runtime",
    )

    def __init__(
        self,
        runtime: Runtime,
        method: str,
        path: str,
        params: dict[str, str],
        query: Form,
        form: Form,
        base_url: str,
    ) -> None:
        self.runtime = runtime
        self.method = method
        self.path = path
        self.params = params
        self.query = query
        self.form = form
        self.base_url = base_url
        self.account_sid = ""
        self.conn: Connection = None  # type: ignore[assignment]

    def url(self, path: str) -> str:
        return self.base_url + path

    def __repr__(self) -> str:  # never shows credentials or bodies
        return f"<Request {self.method} {self.path}>"


def parse_form(raw: bytes) -> Form:
    """Parse an `application/x-www-form-urlencoded` body, keeping repeated keys as lists."""
    from urllib.parse import unquote_plus

    form: Form = {}
    if not raw:
        return form
    text = raw.decode("utf-8")
    for part in text.split("&"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        name = unquote_plus(key, errors="strict")
        form.setdefault(name, []).append(unquote_plus(value, errors="strict") if sep else "")
    return form


def first(form: Form, name: str) -> Any:
    values = form.get(name)
    return values[-1] if values else None
