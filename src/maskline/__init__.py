"""Maskline: a self-hosted number-masking server that speaks the Twilio Proxy v1 API."""

__version__ = "0.1.0"
