"""Maskline's own OpenAPI document, served at GET /openapi.json."""
