"""Checking the Basic credentials a caller presents: an account SID and its auth token, or an
API key SID and its secret.

- Verified credentials are remembered (by a SHA-256 of the pair, never the secret itself), so
  a key's normal traffic pays neither the database nor scrypt per request. They are read again
  from the database every RECHECK_S, so that a revoked key or a rotated token stops working
  within seconds in every process; a key whose stored hash is unchanged is not put through
  scrypt again.
- An API key's secret is checked with scrypt on a worker thread, never on the event loop, at
  most two at a time; an unknown key SID is checked against a stand-in hash, so it costs what
  a wrong secret costs and the time taken tells nothing of which key SIDs exist.
- After MASKLINE_AUTH_FAILURE_LIMIT failures in a minute for one SID, or from one client
  address, further attempts are refused (429, 20429) until that minute is over, without being
  checked at all.

Times here are real (monotonic) time: the sandbox clock moves for each account, not for this.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import threading
import time
from dataclasses import dataclass

from sqlalchemy import Connection

from maskline import sids
from maskline.accounts import store
from maskline.accounts.rules import hash_secret, secret_matches

# How long verified credentials are taken on trust before the database is read again, and
# how many are remembered at most.
RECHECK_S = 2.0
MAX_REMEMBERED = 10_000
# The window failures are counted in, and how many senders and SIDs are tracked at most.
FAILURE_WINDOW_S = 60.0
MAX_TRACKED = 10_000
# scrypt runs on this many threads at once: each takes 16 MiB and a core for ~50 ms.
SCRYPT_THREADS = 2


@dataclass(frozen=True)
class Check:
    """What is left to verify once the database has been read: a key's secret against its
    hash (or the stand-in hash), or nothing (`account_sid` is the answer as it stands)."""

    account_sid: str | None
    password: str = ""
    # The hash the password is still to be checked against.
    secret_hash: str | None = None
    # The key's hash once its secret is known to match it.
    verified_hash: str | None = None


class _Failures:
    """Failures per key (a SID, or a client address) in the current window."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def exceeded(self, key: str, now: float) -> bool:
        found = self._counts.get(key)
        return found is not None and found[0] > now and found[1] >= self.limit

    def add(self, key: str, now: float) -> None:
        with self._lock:
            found = self._counts.get(key)
            if found is None or found[0] <= now:
                if len(self._counts) >= MAX_TRACKED:
                    self._prune(now)
                self._counts[key] = (now + FAILURE_WINDOW_S, 1)
            else:
                self._counts[key] = (found[0], found[1] + 1)

    def _prune(self, now: float) -> None:
        for key in [k for k, (until, _) in self._counts.items() if until <= now]:
            del self._counts[key]
        if len(self._counts) >= MAX_TRACKED:
            # Under a flood from more senders than this tracks, forget the oldest half.
            by_age = sorted(self._counts, key=lambda k: self._counts[k][0])
            for key in by_age[: MAX_TRACKED // 2]:
                del self._counts[key]


@dataclass(frozen=True)
class _Verified:
    account_sid: str
    # Until then the credentials are taken as they are (monotonic time).
    until: float
    # The key's stored hash its secret was verified against; None for an account's token.
    secret_hash: str | None


class Authenticator:
    def __init__(self, failure_limit: int = 20) -> None:
        self._cache: dict[bytes, _Verified] = {}
        self._lock = threading.Lock()
        self._failures = _Failures(failure_limit) if failure_limit > 0 else None
        self._stand_in: str | None = None
        self._scrypt: asyncio.Semaphore | None = None

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def remembered(self, header: str | None) -> str | None:
        """The account of credentials verified a short while ago, without the database; None
        when they must be verified (or are not Basic credentials at all)."""
        token = basic_token(header)
        if token is None:
            return None
        cached = self._cache.get(_cache_key(token))
        if cached is not None and cached.until > time.monotonic():
            return cached.account_sid
        return None

    def throttled(self, header: str | None, address: str | None) -> bool:
        """Too many recent failures for these credentials' SID or from this address."""
        if self._failures is None:
            return False
        now = time.monotonic()
        username = _username(header)
        return (username is not None and self._failures.exceeded("sid:" + username, now)) or (
            address is not None and self._failures.exceeded("ip:" + address, now)
        )

    def look_up(self, conn: Connection, header: str | None) -> Check:
        """Read what the credentials name; an account's token is compared here, a key's secret
        is left to `verify`."""
        pair = _decode(header)
        if pair is None:
            return Check(None)
        username, password = pair
        if sids.is_sid(username, sids.ACCOUNT):
            account = store.get_account(conn, username)
            if account is not None and hmac.compare_digest(
                account.auth_token.encode(), password.encode()
            ):
                return Check(str(account.sid))
            return Check(None)
        if sids.is_sid(username, sids.API_KEY):
            key = store.get_api_key(conn, username)
            if key is None:
                return Check(None, password, self._stand_in_hash())
            token = basic_token(header)
            known = self._cache.get(_cache_key(token)) if token is not None else None
            if known is not None and known.secret_hash == key.secret_hash:
                # This secret was verified against this very hash: the key still stands.
                return Check(str(key.account_sid), password, None, str(key.secret_hash))
            return Check(str(key.account_sid), password, str(key.secret_hash))
        return Check(None)

    async def verify(self, header: str | None, check: Check, address: str | None) -> str | None:
        """The account the credentials act for, or None; remembered when verified, counted
        against the SID and the address when not."""
        account_sid = check.account_sid
        verified_hash = check.verified_hash
        if check.secret_hash is not None:
            if self._scrypt is None:
                self._scrypt = asyncio.Semaphore(SCRYPT_THREADS)
            async with self._scrypt:
                ok = await asyncio.to_thread(secret_matches, check.password, check.secret_hash)
            account_sid = account_sid if ok else None
            verified_hash = check.secret_hash if ok else None
        token = basic_token(header)
        if account_sid is not None and token is not None:
            entry = _Verified(account_sid, time.monotonic() + RECHECK_S, verified_hash)
            with self._lock:
                if len(self._cache) >= MAX_REMEMBERED:
                    self._cache.clear()
                self._cache[_cache_key(token)] = entry
        elif self._failures is not None:
            now = time.monotonic()
            username = _username(header)
            if username is not None:
                self._failures.add("sid:" + username, now)
            if address is not None:
                self._failures.add("ip:" + address, now)
        return account_sid

    def _stand_in_hash(self) -> str:
        if self._stand_in is None:
            self._stand_in = hash_secret(os.urandom(16).hex())
        return self._stand_in


def basic_token(header: str | None) -> str | None:
    """The base64 part of a Basic Authorization header, or None for any other header."""
    if not header or header[:6].lower() != "basic ":
        return None
    return header[6:].strip()


def _decode(header: str | None) -> tuple[str, str] | None:
    token = basic_token(header)
    if token is None:
        return None
    try:
        username, _, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return username, password


def _username(header: str | None) -> str | None:
    """The SID the credentials name, when they name one."""
    pair = _decode(header)
    if pair is None or not (
        sids.is_sid(pair[0], sids.ACCOUNT) or sids.is_sid(pair[0], sids.API_KEY)
    ):
        return None
    return pair[0]


def _cache_key(token: str) -> bytes:
    """A digest of the credentials, so that the cache holds no secret itself: BLAKE2b, the
    cheapest strong hash hashlib has for inputs this short (it runs on every request)."""
    return hashlib.blake2b(token.encode(), digest_size=32).digest()
