"""What kind of address a participant's identifier is: a phone number or a channel address."""

from __future__ import annotations

import re
from typing import NamedTuple

from maskline.errors import InvalidIdentifier
from maskline.numbers.geo import PhoneFacts, phone_facts

# `messenger:123`, `whatsapp:+14155550100`, `rcs:...`: a lowercase channel name and an address.
_CHANNEL = re.compile(r"^[a-z][a-z0-9_-]{0,30}:[^\s\x00-\x1f\x7f]{1,150}\Z")


class Identifier(NamedTuple):
    """Immutable (a named tuple: built for every participant, it costs a quarter of a frozen
    dataclass)."""

    value: str
    is_phone: bool
    # The phone number inside it, for phone numbers and channels such as whatsapp:+E164.
    facts: PhoneFacts | None


def parse_identifier(value: str) -> Identifier:
    value = value.strip()
    if value.startswith("+"):
        facts = phone_facts(value)
        if facts is None:
            raise InvalidIdentifier(f"Identifier {value} is not a valid E.164 phone number")
        return Identifier(value=facts.e164, is_phone=True, facts=facts)
    if _CHANNEL.match(value):
        address = value.split(":", 1)[1]
        return Identifier(value=value, is_phone=False, facts=phone_facts(address))
    raise InvalidIdentifier(
        f"Identifier {value} is neither an E.164 phone number nor a channel address"
    )
