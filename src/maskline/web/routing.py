"""The route table: literal path segments and `{name}` parameters, matched segment by segment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from maskline.web.request import Request
from maskline.web.response import Response

SyncHandler = Callable[[Request], Response]
AsyncHandler = Callable[[Request], Awaitable[Response]]
Handler = SyncHandler | AsyncHandler


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    auth: bool = True
    # Handlers that read only do not take SQLite's write lock.
    writes: bool = False
    # Async handlers run their own transactions (they await the network between them).
    is_async: bool = False


@dataclass
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    param: tuple[str, _Node] | None = None
    routes: dict[str, Route] = field(default_factory=dict)
    # The routes' path pattern, for the metrics (`/v1/Services/{service}`).
    pattern: str = ""


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self._root = _Node()
        for route in routes:
            self._add(route)

    def _add(self, route: Route) -> None:
        node = self._root
        for segment in route.path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1]
                if node.param is None:
                    node.param = (name, _Node())
                elif node.param[0] != name:
                    raise ValueError(f"{route.path}: parameter {name} clashes")
                node = node.param[1]
            else:
                node = node.literals.setdefault(segment, _Node())
        if route.method in node.routes:
            raise ValueError(f"{route.method} {route.path} is listed twice")
        node.routes[route.method] = route
        node.pattern = route.path

    def match(self, path: str) -> tuple[dict[str, Route], dict[str, str], str] | None:
        """The routes at `path` by method, the path parameters and the routes' pattern; None
        when nothing is there."""
        node = self._root
        params: dict[str, str] = {}
        for segment in path.strip("/").split("/"):
            child = node.literals.get(segment)
            if child is None:
                # No SID or unique name holds a control character (PostgreSQL cannot even
                # store NUL): such a path names nothing.
                if node.param is None or not segment or not segment.isprintable():
                    return None
                params[node.param[0]] = segment
                child = node.param[1]
            node = child
        if not node.routes:
            return None
        return node.routes, params, node.pattern
