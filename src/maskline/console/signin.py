"""The console's sign-in: a signed session cookie and the CSRF tokens of its forms.

- Credentials are those of the API (an account SID and auth token, or an API key SID and
  secret), checked by the same authenticator, so failed sign-ins are slowed and counted as
  failed API calls are.
- The cookie holds the account, the credential, an expiry and a random nonce, signed with
  HMAC-SHA256 under a key made from the credential's secret as stored: the auth token, or the
  API key's scrypt hash. Rotating the token or revoking the key ends every console session
  made with it, and every process of `--workers N` checks a cookie alike. Signing out notes
  the session's nonce (console/tables.py) until the cookie would have expired, so that a copy
  of the cookie stops working too. It is HttpOnly, SameSite=Strict, limited to /console, and
  Secure when Maskline is reached over https.
- Every form carries a CSRF token: an HMAC of the session's nonce under the same key. The
  sign-in form, before any session, carries a random token that must match a cookie of its own
  (double submit).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from maskline import sids
from maskline.accounts import store
from maskline.console.tables import console_sign_outs
from maskline.db.inserts import insert_unless_present

COOKIE = "maskline_console"
SIGN_IN_COOKIE = "maskline_console_signin"
LIFETIME_S = 12 * 3600


@dataclass(frozen=True)
class Signed:
    """A valid console session."""

    account_sid: str
    credential_sid: str
    nonce: str
    key: bytes
    expires: int  # seconds since the epoch

    @property
    def csrf(self) -> str:
        return hmac.new(self.key, b"csrf\0" + self.nonce.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf.encode())


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"maskline-console\0" + secret.encode()).digest()


def _secret(conn: Connection, account_sid: str, credential_sid: str) -> str | None:
    """What the credential's key is made from, while the credential still stands."""
    if credential_sid == account_sid:
        account = store.get_account(conn, account_sid)
        return None if account is None else str(account.auth_token)
    key = store.get_api_key(conn, credential_sid)
    if key is None or key.account_sid != account_sid:
        return None
    return str(key.secret_hash)


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(conn: Connection, account_sid: str, credential_sid: str) -> str:
    """The cookie value of a new session for these verified credentials."""
    secret = _secret(conn, account_sid, credential_sid)
    if secret is None:
        raise ValueError("the credential is gone")
    expires = int(time.time()) + LIFETIME_S
    payload = f"v1.{account_sid}.{credential_sid}.{expires}.{os.urandom(16).hex()}"
    return f"{payload}.{_mac(_key(secret), payload)}"


def check(conn: Connection, value: str | None) -> Signed | None:
    """The session a cookie value stands for, or None when it is not (or no longer) valid."""
    if not value:
        return None
    parts = value.split(".")
    if len(parts) != 6 or parts[0] != "v1":
        return None
    _, account_sid, credential_sid, expires, nonce, mac = parts
    if not sids.is_sid(account_sid, sids.ACCOUNT) or not (
        credential_sid == account_sid or sids.is_sid(credential_sid, sids.API_KEY)
    ):
        return None
    if not expires.isdigit() or int(expires) < time.time():
        return None
    secret = _secret(conn, account_sid, credential_sid)
    if secret is None:
        return None
    key = _key(secret)
    payload = ".".join(parts[:5])
    if not hmac.compare_digest(mac.encode(), _mac(key, payload).encode()):
        return None
    signed_out = select(console_sign_outs.c.nonce).where(console_sign_outs.c.nonce == nonce)
    if conn.execute(signed_out).first() is not None:
        return None
    return Signed(account_sid, credential_sid, nonce, key, int(expires))


def sign_out(conn: Connection, signed: Signed) -> None:
    """End the session for every copy of its cookie; forget the sessions whose cookies ran
    out meanwhile."""
    now_ms = int(time.time() * 1000)
    conn.execute(delete(console_sign_outs).where(console_sign_outs.c.expires_at < now_ms))
    # Two sign-outs of one cookie at once (a double click, two tabs) both end it.
    insert_unless_present(
        conn, console_sign_outs, nonce=signed.nonce, expires_at=signed.expires * 1000
    )


def cookie_header(name: str, value: str, *, secure: bool, max_age: int = LIFETIME_S) -> bytes:
    attributes = f"{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    if secure:
        attributes += "; Secure"
    return attributes.encode()


def read_cookie(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    for key, raw in headers:
        if key != b"cookie":
            continue
        for part in raw.decode("latin-1").split(";"):
            found, _, value = part.strip().partition("=")
            if found == name:
                return value
    return None


def new_sign_in_token() -> str:
    return os.urandom(16).hex()
