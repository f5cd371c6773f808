"""Importing a live Twilio Proxy account into Maskline, SIDs and all (run.py)."""
