"""Maskline's HTTP layer: a small ASGI app, its router, requests and responses."""
