"""Tables of accounts and their API keys."""

from sqlalchemy import Column, ForeignKey, String, Table

from maskline.db.metadata import Millis, metadata

accounts = Table(
    "accounts",
    metadata,
    Column("sid", String(34), primary_key=True),
    # Kept as is: callbacks are signed with it, as Twilio signs with the auth token.
    Column("auth_token", String(64), nullable=False),
    Column("friendly_name", String(255), nullable=True),
    Column("date_created", Millis, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("sid", String(34), primary_key=True),
    Column(
        "account_sid",
        String(34),
        ForeignKey("accounts.sid", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    # scrypt of the secret; the secret itself is shown once, at creation.
    Column("secret_hash", String(255), nullable=False),
    Column("friendly_name", String(255), nullable=True),
    Column("date_created", Millis, nullable=False),
)
