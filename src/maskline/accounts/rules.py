"""Creating accounts and API keys, and checking the credentials a caller presents."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass

from sqlalchemy import Connection

from maskline import sids
from maskline.accounts import store
from maskline.clock import Clock

# scrypt parameters for API key secrets: slow enough to resist guessing a stolen hash, and paid
# once per key per process thanks to the cache below.
_N, _R, _P = 2**14, 8, 1


@dataclass(frozen=True)
class Credentials:
    sid: str
    secret: str
    account_sid: str


def _hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def _secret_matches(secret: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    salt = base64.b64decode(salt_b64)
    expected = base64.b64decode(digest_b64)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return hmac.compare_digest(digest, expected)


def create_account(
    conn: Connection,
    clock: Clock,
    *,
    sid: str | None = None,
    auth_token: str | None = None,
    friendly_name: str | None = None,
) -> Credentials:
    sid = sid or sids.new_sid(sids.ACCOUNT)
    auth_token = auth_token or os.urandom(16).hex()
    store.insert_account(
        conn,
        sid=sid,
        auth_token=auth_token,
        friendly_name=friendly_name,
        date_created=clock.now_ms(),
    )
    return Credentials(sid=sid, secret=auth_token, account_sid=sid)


def ensure_account(conn: Connection, clock: Clock, sid: str, auth_token: str) -> bool:
    """Create the configured account unless it exists; True when it was created.

    An existing account keeps its row but takes the configured token, so that rotating
    MASKLINE_AUTH_TOKEN and restarting is how an operator changes it.
    """
    from sqlalchemy import update

    from maskline.accounts.tables import accounts

    row = store.get_account(conn, sid)
    if row is None:
        create_account(conn, clock, sid=sid, auth_token=auth_token, friendly_name="configured")
        return True
    if row.auth_token != auth_token:
        conn.execute(update(accounts).where(accounts.c.sid == sid).values(auth_token=auth_token))
    return False


def create_api_key(
    conn: Connection, clock: Clock, *, account_sid: str, friendly_name: str | None = None
) -> Credentials:
    sid = sids.new_sid(sids.API_KEY)
    secret = base64.b32encode(os.urandom(20)).decode().rstrip("=")
    store.insert_api_key(
        conn,
        sid=sid,
        account_sid=account_sid,
        secret_hash=_hash_secret(secret),
        friendly_name=friendly_name,
        date_created=clock.now_ms(),
    )
    return Credentials(sid=sid, secret=secret, account_sid=account_sid)


class Authenticator:
    """Maps Basic credentials to an account SID.

    Verified credentials are remembered (by a SHA-256 of the pair, never the secret itself) for
    a short while, so that neither the database nor scrypt is paid on every request.
    """

    def __init__(self, ttl_ms: int = 60_000, max_entries: int = 10_000) -> None:
        self._cache: dict[bytes, tuple[str, int]] = {}
        self._ttl_ms = ttl_ms
        self._max = max_entries
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def remembered(self, header: str | None, now: int) -> str | None:
        """The account of credentials verified a short while ago, without the database; None
        when they must be verified (or are not Basic credentials at all)."""
        token = _basic_token(header)
        return None if token is None else self._fresh(_cache_key(token), now)

    def _fresh(self, key: bytes, now: int) -> str | None:
        cached = self._cache.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        return None

    def authenticate(self, conn: Connection, clock: Clock, header: str | None) -> str | None:
        token = _basic_token(header)
        if token is None:
            return None
        key = _cache_key(token)
        now = clock.now_ms()
        remembered = self._fresh(key, now)
        if remembered is not None:
            return remembered
        try:
            username, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        account_sid = self._verify(conn, username, password)
        if account_sid is not None:
            with self._lock:
                if len(self._cache) >= self._max:
                    self._cache.clear()
                self._cache[key] = (account_sid, now + self._ttl_ms)
        return account_sid

    def _verify(self, conn: Connection, username: str, password: str) -> str | None:
        if sids.is_sid(username, sids.ACCOUNT):
            account = store.get_account(conn, username)
            if account is not None and hmac.compare_digest(
                account.auth_token.encode(), password.encode()
            ):
                return str(account.sid)
            return None
        if sids.is_sid(username, sids.API_KEY):
            key = store.get_api_key(conn, username)
            if key is not None and _secret_matches(password, key.secret_hash):
                return str(key.account_sid)
        return None


def _basic_token(header: str | None) -> str | None:
    """The base64 part of a Basic Authorization header, or None for any other header."""
    if not header or header[:6].lower() != "basic ":
        return None
    return header[6:].strip()


def _cache_key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
