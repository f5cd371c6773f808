"""Callbacks: signed webhooks to the user's URLs, delivered at least once from an outbox."""
