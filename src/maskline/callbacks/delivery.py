"""Delivering callbacks: at least once, every attempt recorded, backed off, then failed."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from maskline.accounts.store import get_account
from maskline.callbacks import store
from maskline.callbacks.http import RefusedAddress
from maskline.callbacks.signing import signed_request
from maskline.callbacks.tables import DELIVERED, FAILED
from maskline.metrics.families import metrics
from maskline.runtime import Runtime

log = logging.getLogger("maskline.callbacks")

MAX_RECORDED = 1000


@dataclass(frozen=True)
class Answer:
    """What a receiver answered: an HTTP status and body, or a network error."""

    status_code: int | None
    content_type: str
    body: bytes
    error: str | None
    latency_ms: int
    # The receiver sent more than MASKLINE_CALLBACK_MAX_ANSWER_BYTES: `body` is its start.
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff_ms(runtime: Runtime, attempt: int) -> int:
    settings = runtime.settings
    delay = settings.callback_retry_base_ms * (2 ** max(attempt - 1, 0))
    return int(min(delay, settings.callback_retry_max_ms))


async def post(
    client: httpx.AsyncClient,
    *,
    auth_token: str,
    url: str,
    params: dict[str, str],
    idempotency_token: str,
    timeout_ms: int,
    max_answer_bytes: int,
) -> Answer:
    """One signed POST. `timeout_ms` bounds the whole exchange (connect, send, every read),
    at most `max_answer_bytes` of the answer are read, and no failure of any kind escapes:
    it becomes the answer's `error`."""
    started = time.monotonic()

    def failed(error: str) -> Answer:
        latency = int((time.monotonic() - started) * 1000)
        return Answer(None, "", b"", error[:MAX_RECORDED], latency)

    try:
        body, headers = signed_request(auth_token, url, params, idempotency_token)
        # Compressed answers are not unpacked: a small one could unpack to gigabytes.
        headers["Accept-Encoding"] = "identity"
        async with asyncio.timeout(timeout_ms / 1000):
            request = client.build_request(
                "POST", url, content=body, headers=headers, timeout=timeout_ms / 1000
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            try:
                content, truncated = await _read_bounded(response, max_answer_bytes)
            finally:
                await response.aclose()
    except TimeoutError:
        return failed(f"timed out: no whole answer within {timeout_ms} ms")
    except httpx.ConnectError as exc:
        if isinstance(exc.__cause__, RefusedAddress):
            log.warning("callback to %s refused: %s", _host(url), exc)
        return failed(f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # any failure is this attempt's, never the caller's
        return failed(f"{type(exc).__name__}: {exc}")
    return Answer(
        status_code=response.status_code,
        content_type=response.headers.get("content-type", ""),
        body=content,
        error=None,
        latency_ms=int((time.monotonic() - started) * 1000),
        truncated=truncated,
    )


async def _read_bounded(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """Up to `limit` bytes of the answer's body, and whether there was more."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_raw():
        room = limit - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def _host(url: str) -> str:
    """The host of a URL for a log line: never its path or query, which may hold secrets."""
    try:
        return httpx.URL(url).host or "?"
    except Exception:
        return "?"


async def call_now(
    runtime: Runtime,
    client: httpx.AsyncClient,
    *,
    account_sid: str,
    url: str,
    params: dict[str, str],
) -> Answer:
    """A synchronous callback (intercept, out-of-session): signed, one attempt, short timeout."""
    with runtime.transaction(writes=False) as conn:
        account = get_account(conn, account_sid)
    token = account.auth_token if account is not None else ""
    settings = runtime.settings
    answer = await post(
        client,
        auth_token=token,
        url=url,
        params=params,
        idempotency_token=os.urandom(16).hex(),
        timeout_ms=settings.sync_callback_timeout_ms,
        max_answer_bytes=settings.callback_max_answer_bytes,
    )
    # Its only attempt: it is delivered, or it failed.
    _count(["delivered" if answer.ok else "failed"], [(None, answer, 0)])
    return answer


async def attempt(runtime: Runtime, row: Any, auth_token: str) -> Answer:
    """One delivery attempt of a claimed callback; whatever goes wrong is in the answer."""
    return await post(
        runtime.http(),
        auth_token=auth_token,
        url=row.url,
        params=orjson.loads(row.params),
        idempotency_token=row.token,
        timeout_ms=runtime.settings.callback_timeout_ms,
        max_answer_bytes=runtime.settings.callback_max_answer_bytes,
    )


Outcome = tuple[Any, Answer, int]  # the callback's row, its answer, when it came (clock ms)


def record_outcomes(runtime: Runtime, outcomes: list[Outcome]) -> None:
    """Record finished attempts: all in one transaction, as they nearly always can be. Should
    that fail, each is recorded in a transaction of its own, so that one callback's trouble
    stays its own; one that still fails keeps its lease until it runs out, then is claimed
    and attempted again."""
    if not outcomes:
        return
    try:
        with runtime.transaction() as conn:
            kinds = [_record(runtime, conn, row, answer, at) for row, answer, at in outcomes]
        _count(kinds, outcomes)
        return
    except Exception:
        log.info("recording %d callback attempts together failed; one by one", len(outcomes))
    for one in outcomes:
        row, answer, at = one
        try:
            with runtime.transaction() as conn:
                kind = _record(runtime, conn, row, answer, at)
            _count([kind], [one])
        except Exception:
            log.exception("callback %s: the attempt could not be recorded", row.id)


def _count(kinds: list[str], outcomes: list[Outcome]) -> None:
    """Count attempts once they are recorded: an attempt recorded again after a rollback is
    counted once."""
    counted = metrics()
    for kind, (_, answer, _) in zip(kinds, outcomes, strict=True):
        counted.callback_deliveries.labels(kind).inc()
        counted.callback_duration.observe(answer.latency_ms / 1000)


def auth_tokens(conn: Any, rows: list[Any]) -> dict[str, str]:
    """The auth token each callback is signed with, by account."""
    tokens = {}
    for account_sid in {row.account_sid for row in rows}:
        account = get_account(conn, account_sid)
        tokens[account_sid] = account.auth_token if account is not None else ""
    return tokens


def _record(runtime: Runtime, conn: Any, row: Any, answer: Answer, now: int) -> str:
    """Record one attempt; its outcome: delivered, retrying or failed."""
    attempt = row.attempts + 1
    recorded = answer.error or answer.body[:MAX_RECORDED].decode("utf-8", "replace")
    store.record_attempt(
        conn,
        {
            "callback_id": row.id,
            "attempted_at": now,
            "status_code": answer.status_code,
            "latency_ms": answer.latency_ms,
            "response": recorded,
        },
    )
    if answer.ok:
        outcome = "delivered"
        values: dict[str, Any] = {"status": DELIVERED, "leased_until": None, "last_error": None}
    else:
        error = answer.error or f"HTTP {answer.status_code}"
        if attempt >= runtime.settings.callback_max_attempts:
            outcome = "failed"
            values = {"status": FAILED, "leased_until": None, "last_error": error}
            # The host only: a callback URL can carry credentials in its user or query.
            log.warning("callback %s to %s failed for good: %s", row.id, _host(row.url), error)
        else:
            outcome = "retrying"
            values = {
                "due_at": now + backoff_ms(runtime, attempt),
                "leased_until": None,
                "last_error": error,
            }
    values["date_updated"] = now
    store.finish(conn, row.id, values)
    return outcome
