"""Accounts and API keys: who may call Maskline, and whose data each call sees."""
