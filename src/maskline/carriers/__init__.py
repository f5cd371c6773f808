"""Carriers carry texts and calls to handsets: the sandbox network, or Twilio."""

from __future__ import annotations

from maskline.carriers.base import Carrier
from maskline.settings import Settings


def make_carrier(settings: Settings) -> Carrier:
    if settings.carrier == "sandbox":
        from maskline.sandbox.carrier import SandboxCarrier

        return SandboxCarrier(step_ms=settings.sandbox_step_ms)
    from maskline.carriers.twilio import TwilioCarrier

    return TwilioCarrier(settings)
