"""What a handler sees of one HTTP request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from maskline.runtime import Runtime

Form = dict[str, list[str]]


class Request:
    """One request: its path parameters, form and query values, caller and transaction."""

    __slots__ = (
        "account_sid",
        "base_url",
        "client",
        "conn",
        "form",
        "headers",
        "method",
        "params",
        "path",
        "query",
        "query_string",
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
        headers: list[tuple[bytes, bytes]] | None = None,
        query_string: str = "",
    ) -> None:
        self.runtime = runtime
        self.method = method
        self.path = path
        self.params = params
        self.query = query
        self.form = form
        self.base_url = base_url
        self.headers = headers or []
        self.query_string = query_string
        self.account_sid = ""
        # The caller's (host, port) as the server saw it (a proxy's, behind one), if known.
        self.client: tuple[str, int] | None = None
        self.conn: Connection = None  # type: ignore[assignment]

    @property
    def client_address(self) -> str | None:
        return address_of(self.client)

    def header(self, name: str) -> str | None:
        """A request header by its lowercase name."""
        wanted = name.encode()
        for key, value in self.headers:
            if key == wanted:
                return value.decode("latin-1")
        return None

    def url(self, path: str) -> str:
        return self.base_url + path

    def __repr__(self) -> str:  # never shows credentials or bodies
        return f"<Request {self.method} {self.path}>"


class FormError(ValueError):
    """A form parameter that no handler could accept, whatever it is for."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name = name
        self.problem = problem


def parse_form(raw: bytes) -> Form:
    """Parse an `application/x-www-form-urlencoded` body, keeping repeated keys as lists."""
    form: Form = {}
    if not raw:
        return form
    for part in raw.split(b"&"):
        if not part:
            continue
        key, sep, value = part.partition(b"=")
        name = _unquote(key)
        decoded = _unquote(value) if sep else ""
        if "\x00" in name or "\x00" in decoded:
            # Nothing Maskline stores may hold NUL (PostgreSQL refuses it).
            raise FormError(name.replace("\x00", ""), "must not contain NUL characters")
        form.setdefault(name, []).append(decoded)
    return form


_PERCENT = ord("%")
_PLUS = ord("+")


def _unquote(raw: bytes) -> str:
    """One form-encoded name or value as text: `+` is a space, `%XX` a byte, and the bytes are
    UTF-8 (strictly: UnicodeDecodeError otherwise). Escapes are undone on the bytes, which
    spares the text round trip of `unquote_plus`."""
    # By byte value: `b"%" in raw` first tries b"%" as an integer, and the TypeError it
    # raises and swallows, message formatted, costs more than the search.
    if _PERCENT in raw or _PLUS in raw:
        raw = unquote_to_bytes(raw.replace(b"+", b" "))
    return raw.decode("utf-8")


def first(form: Form, name: str) -> Any:
    values = form.get(name)
    return values[-1] if values else None


def address_of(client: Any) -> str | None:
    """The host of an ASGI scope's `client` (host, port), if the server gave one."""
    return str(client[0]) if client else None
