"""Webhooks that Twilio calls when Maskline runs on the Twilio carrier."""
