"""The event log: what happened to traffic that no API caller was there to be told about."""
