"""The ASGI application: match a route, read the body, run the handler, render any error."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

from maskline.clock import current_account
from maskline.db.errors import must_run_again
from maskline.db.transactions import Replay, in_request, pending_batch
from maskline.errors import (
    ApiError,
    BodyTooLarge,
    InternalError,
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from maskline.logs import request_id
from maskline.runtime import Runtime
from maskline.web.observe import ROUTE, Observer, new_request_id
from maskline.web.ratelimit import RateLimiter
from maskline.web.request import FormError, Request, address_of, parse_form
from maskline.web.response import Response, json_response
from maskline.web.routing import Route, Router

log = logging.getLogger("maskline.web")
# How many times a request's transaction runs when PostgreSQL keeps ending it in a deadlock
# or a serialization failure.
RUN_AGAIN = 4

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]

# What runs the request again from the start, should its batch be rolled back (Replay).
_again: ContextVar[tuple[Route, Request] | None] = ContextVar("maskline_again", default=None)


def error_response(error: ApiError) -> Response:
    response = json_response(error.body(), error.status)
    if isinstance(error, Unauthorized):
        response.headers.append((b"www-authenticate", error.challenge.encode()))
    elif isinstance(error, TooManyRequests) and error.retry_after:
        response.headers.append((b"retry-after", str(math.ceil(error.retry_after)).encode()))
    return response


class App:
    def __init__(
        self,
        runtime: Runtime,
        routes: list[Route],
        on_startup: list[Hook] | None = None,
        on_shutdown: list[Hook] | None = None,
    ) -> None:
        self.runtime = runtime
        self.router = Router(routes)
        self.on_startup = on_startup or []
        self.on_shutdown = on_shutdown or []
        self._max_body = runtime.settings.max_body_bytes
        self._public_url = runtime.settings.public_url.rstrip("/")
        rate = runtime.settings.rate_limit_rps
        self._limiter = RateLimiter(rate) if rate > 0 else None
        self._observer = Observer(bool(runtime.settings.access_log))
        self._flusher: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            started = time.perf_counter()
            rid = new_request_id()
            # Each request is a task of its own, with its own copy of these.
            request_id.set(rid)
            response = await self._handle(scope, receive)
            headers = [
                (b"content-length", str(len(response.body)).encode()),
                (b"twilio-request-id", rid),
                *response.headers,
            ]
            if response.content_type:
                headers.append((b"content-type", response.content_type))
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": response.body})
            self._observer.done(
                scope, response.status, time.perf_counter() - started, rid, current_account.get()
            )
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    for hook in self.on_startup:
                        await hook()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                self._flusher = asyncio.create_task(self._observer.run())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._flusher is not None:
                    self._flusher.cancel()
                    await asyncio.gather(self._flusher, return_exceptions=True)
                for hook in self.on_shutdown:
                    try:
                        await hook()
                    except Exception:
                        log.exception("shut-down hook failed")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _handle(self, scope: Scope, receive: Receive) -> Response:
        if self.runtime.transactions.batching:
            # Each request runs in a task of its own, with its own copy of these.
            in_request.set(True)
            pending_batch.set(None)
        try:
            response = await self._dispatch(scope, receive)
        except Replay:
            # An asynchronous handler learnt, before calling out, that its batch rolled back.
            return await self._again(scope)
        except ApiError as error:
            response = error_response(error)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            response = error_response(InternalError())
        batch = pending_batch.get()
        if batch is not None:
            # No answer before the commit that holds this request's changes.
            try:
                await asyncio.shield(batch.committed)
            except Replay:
                return await self._again(scope)
            except Exception:
                log.exception("the commit of %s %s failed", scope.get("method"), scope.get("path"))
                return error_response(InternalError())
        return response

    async def _again(self, scope: Scope) -> Response:
        """Run the request again, on its own: another request rolled back the batch that held
        its changes."""
        again = _again.get()
        if again is None:  # only replayable transactions join batches that roll back
            log.error("%s %s cannot run again", scope.get("method"), scope.get("path"))
            return error_response(InternalError())
        in_request.set(False)
        pending_batch.set(None)
        try:
            return await self._call(*again)
        except ApiError as error:
            return error_response(error)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            return error_response(InternalError())

    async def _dispatch(self, scope: Scope, receive: Receive) -> Response:
        path: str = scope["path"]
        matched = self.router.match(path)
        if matched is None:
            raise NotFound(f"The requested resource {path} was not found")
        routes, params, pattern = matched
        scope[ROUTE] = pattern  # for its metrics (web/observe.py)
        method: str = scope["method"]
        route = routes.get(method)
        if route is None:
            error = MethodNotAllowed(f"Method {method} is not allowed on {path}")
            response = error_response(error)
            response.headers.append((b"allow", ", ".join(sorted(routes)).encode()))
            return response
        auth_header = None
        host = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                auth_header = value.decode("latin-1")
            elif name == b"host":
                host = value.decode("latin-1")
        account_sid = ""
        if route.auth:
            # Credentials before anything else: a caller without valid ones costs no body read
            # and no parse.
            account_sid = self.runtime.authenticator.remembered(auth_header) or ""
            if not account_sid:
                account_sid = await self._authenticate(auth_header, scope.get("client"))
            # From here the clock reads the caller's sandbox time (each request is a task of
            # its own, with its own copy of this).
            current_account.set(account_sid)
            if self._limiter is not None:
                wait = self._limiter.wait_s(account_sid)
                if wait > 0:
                    raise TooManyRequests(
                        f"Too many requests for account {account_sid}: at most "
                        f"{self._limiter.rate:g} a second",
                        retry_after=wait,
                    )
        # A GET's parameters are in its query string: a body there has no meaning in HTTP,
        # and is left unread.
        raw = b"" if method == "GET" else await self._read_body(receive)
        try:
            form = parse_form(raw)
            query = parse_form(scope.get("query_string", b""))
        except UnicodeDecodeError as exc:
            raise InvalidParameter("body", "is not valid UTF-8 form data") from exc
        except FormError as exc:
            raise InvalidParameter(exc.name, exc.problem) from exc
        base_url = self._public_url or f"{scope.get('scheme', 'http')}://{host or 'localhost'}"
        request = Request(
            self.runtime,
            method,
            path,
            params,
            query,
            form,
            base_url,
            headers=scope["headers"],
            query_string=scope.get("query_string", b"").decode("latin-1"),
        )
        request.account_sid = account_sid
        request.client = scope.get("client")
        _again.set((route, request))
        return await self._call(route, request)

    async def _call(self, route: Route, request: Request) -> Response:
        """Run the route's handler on the request: the first time, or again (`_again`)."""
        if route.is_async:
            # Its transactions say themselves whether they can run again (routing/inbound.py).
            return await route.handler(request)  # type: ignore[no-any-return,misc]
        if self.runtime.transactions.batching:
            return self._run(route, request)
        # PostgreSQL: a transaction that lost a race (a deadlock, a serialization failure)
        # wrote nothing, and a synchronous handler reaches nothing outside it: it runs again.
        attempt = 1
        while True:
            try:
                return self._run(route, request)
            except Exception as exc:
                if attempt == RUN_AGAIN or not must_run_again(exc):
                    raise
                log.info("a transaction lost a race (%s); it runs again", type(exc).__name__)
            await asyncio.sleep(0.002 * attempt)
            attempt += 1

    def _run(self, route: Route, request: Request) -> Response:
        """A synchronous handler in its transaction. It can run again from the start: it
        reaches nothing outside the database (carriers queue their sends in the transaction)
        and changes nothing of the request but its connection, which is set here, so its
        transaction is replayable (db/transactions.py)."""
        runtime = self.runtime
        with runtime.transaction(writes=route.writes, replayable=True) as conn:
            request.conn = conn
            result = route.handler(request)
            if route.writes:
                # Wake the worker for any callback or job the request made.
                runtime.wake_for(conn)
        return result  # type: ignore[return-value]

    async def _authenticate(self, auth_header: str | None, client: Any) -> str:
        """The caller's account, from credentials not verified lately (accounts/authenticator.py);
        Unauthorized, or TooManyRequests after repeated failures."""
        runtime = self.runtime
        authenticator = runtime.authenticator
        address = address_of(client)
        if authenticator.throttled(auth_header, address):
            raise TooManyRequests("Too many failed attempts to authenticate; try again later")
        waiting = pending_batch.get()
        with runtime.transaction(writes=False, replayable=True) as conn:
            check = authenticator.look_up(conn, auth_header)
        # Requests never write accounts, so this read cannot see anything a batch's rollback
        # would take back: the request need not wait for the batch it read in.
        pending_batch.set(waiting)
        account_sid = await authenticator.verify(auth_header, check, address)
        if account_sid is None:
            raise Unauthorized()
        return account_sid

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise BodyTooLarge(f"Request body is larger than {self._max_body} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)
