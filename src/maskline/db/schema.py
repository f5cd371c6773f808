"""Every table, imported in one place so that migrations and tests see the whole schema."""

from maskline.accounts.tables import accounts, api_keys
from maskline.db.metadata import metadata
from maskline.interactions.tables import interactions
from maskline.numbers.tables import numbers
from maskline.participants.tables import participants
from maskline.sandbox.tables import carrier_messages
from maskline.services.tables import services
from maskline.sessions.tables import sessions

__all__ = [
    "accounts",
    "api_keys",
    "carrier_messages",
    "interactions",
    "metadata",
    "numbers",
    "participants",
    "services",
    "sessions",
]
