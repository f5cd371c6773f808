"""Every table, imported in one place so that migrations and tests see the whole schema."""

from maskline.accounts.tables import accounts, api_keys
from maskline.callbacks.tables import callback_attempts, callbacks
from maskline.console.tables import console_sign_outs
from maskline.db.metadata import metadata
from maskline.events.tables import events
from maskline.interactions.tables import interactions
from maskline.jobs.tables import jobs
from maskline.numbers.tables import numbers
from maskline.participants.tables import participants
from maskline.sandbox.tables import carrier_calls, carrier_messages, sandbox_clocks
from maskline.services.tables import services
from maskline.sessions.tables import sessions

__all__ = [
    "accounts",
    "api_keys",
    "callback_attempts",
    "callbacks",
    "carrier_calls",
    "carrier_messages",
    "console_sign_outs",
    "events",
    "interactions",
    "jobs",
    "metadata",
    "numbers",
    "participants",
    "sandbox_clocks",
    "services",
    "sessions",
]
