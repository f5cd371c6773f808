"""The console's one table: sessions signed out before their cookie ran out (console/signin.py)."""

from sqlalchemy import Column, String, Table

from maskline.db.metadata import Millis, metadata

# A signed-out session's nonce, until its cookie would have expired anyway: a copy of the
# cookie is refused from sign-out on. Rows past `expires_at` are deleted at the next sign-out.
console_sign_outs = Table(
    "console_sign_outs",
    metadata,
    Column("nonce", String(32), primary_key=True),
    Column("expires_at", Millis, nullable=False),
)
