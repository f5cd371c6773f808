"""Creating accounts and API keys, and the hashing of API key secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
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


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def secret_matches(secret: str, stored: str) -> bool:
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


def new_auth_token() -> str:
    """32 hex digits, as Twilio's auth tokens are."""
    return os.urandom(16).hex()


def create_account(
    conn: Connection,
    clock: Clock,
    *,
    sid: str | None = None,
    auth_token: str | None = None,
    friendly_name: str | None = None,
) -> Credentials:
    sid = sid or sids.new_sid(sids.ACCOUNT)
    auth_token = auth_token or new_auth_token()
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
        secret_hash=hash_secret(secret),
        friendly_name=friendly_name,
        date_created=clock.now_ms(),
    )
    return Credentials(sid=sid, secret=secret, account_sid=account_sid)


def rotate_auth_token(conn: Connection, account_sid: str) -> str | None:
    """Give the account a new auth token; the token, or None when there is no such account.
    Clients and callback receivers must take the new token: callbacks are signed with it."""
    if store.get_account(conn, account_sid) is None:
        return None
    token = new_auth_token()
    store.set_auth_token(conn, account_sid, token)
    return token
