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
from maskline.callbacks.signing import signed_request
from maskline.callbacks.tables import DELIVERED, FAILED
from maskline.runtime import Runtime

log = logging.getLogger("maskline.callbacks")

BATCH = 50
MAX_RECORDED = 1000


@dataclass(frozen=True)
class Answer:
    """What a receiver answered: an HTTP status and body, or a network error."""

    status_code: int | None
    content_type: str
    body: bytes
    error: str | None
    latency_ms: int

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
) -> Answer:
    body, headers = signed_request(auth_token, url, params, idempotency_token)
    started = time.monotonic()
    try:
        response = await client.post(
            url, content=body, headers=headers, timeout=timeout_ms / 1000, follow_redirects=False
        )
        content = response.content
        return Answer(
            status_code=response.status_code,
            content_type=response.headers.get("content-type", ""),
            body=content,
            error=None,
            latency_ms=int((time.monotonic() - started) * 1000),
        )
    except (httpx.HTTPError, OSError) as exc:
        return Answer(
            status_code=None,
            content_type="",
            body=b"",
            error=f"{type(exc).__name__}: {exc}"[:MAX_RECORDED],
            latency_ms=int((time.monotonic() - started) * 1000),
        )


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
    return await post(
        client,
        auth_token=token,
        url=url,
        params=params,
        idempotency_token=os.urandom(16).hex(),
        timeout_ms=runtime.settings.sync_callback_timeout_ms,
    )


async def deliver_due(runtime: Runtime, client: httpx.AsyncClient) -> int:
    """Claim the callbacks that are due and deliver them concurrently; how many were tried.

    One transaction claims the batch and one records every outcome, whatever its size.
    """
    now = runtime.clock.now_ms()
    lease = runtime.settings.callback_timeout_ms + 30_000
    with runtime.transaction() as conn:
        rows = store.claim_due(conn, now, lease, BATCH)
        tokens = {}
        for account_sid in {row.account_sid for row in rows}:
            account = get_account(conn, account_sid)
            tokens[account_sid] = account.auth_token if account is not None else ""
    if not rows:
        return 0
    answers = await asyncio.gather(
        *(
            post(
                client,
                auth_token=tokens[row.account_sid],
                url=row.url,
                params=orjson.loads(row.params),
                idempotency_token=row.token,
                timeout_ms=runtime.settings.callback_timeout_ms,
            )
            for row in rows
        )
    )
    now = runtime.clock.now_ms()
    with runtime.transaction() as conn:
        for row, answer in zip(rows, answers, strict=True):
            _record(runtime, conn, row, answer, now)
    return len(rows)


def _record(runtime: Runtime, conn: Any, row: Any, answer: Answer, now: int) -> None:
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
        values: dict[str, Any] = {"status": DELIVERED, "leased_until": None, "last_error": None}
    else:
        error = answer.error or f"HTTP {answer.status_code}"
        if attempt >= runtime.settings.callback_max_attempts:
            values = {"status": FAILED, "leased_until": None, "last_error": error}
            log.warning("callback %s to %s failed for good: %s", row.id, row.url, error)
        else:
            values = {
                "due_at": now + backoff_ms(runtime, attempt),
                "leased_until": None,
                "last_error": error,
            }
    values["date_updated"] = now
    store.finish(conn, row.id, values)
