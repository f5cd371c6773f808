"""Twilio's request signature, made with the twilio package's own validator."""

from __future__ import annotations

from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

FORM = "application/x-www-form-urlencoded"


def signed_request(
    auth_token: str, url: str, params: dict[str, str], idempotency_token: str
) -> tuple[bytes, dict[str, str]]:
    """The form body and headers of a signed callback POST to `url`."""
    signature = RequestValidator(auth_token).compute_signature(url, params)
    headers = {
        "Content-Type": FORM,
        "X-Twilio-Signature": signature,
        "I-Twilio-Idempotency-Token": idempotency_token,
        "User-Agent": "Maskline",
    }
    return urlencode(params).encode(), headers
