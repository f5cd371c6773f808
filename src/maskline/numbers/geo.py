"""Facts about a phone number from its digits: country, dialing plan, NANP area code."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

NANP = 1


@dataclass(frozen=True)
class PhoneFacts:
    e164: str
    iso_country: str | None
    calling_code: int
    area_code: str | None


# Parsing costs tens of microseconds and traffic repeats the same numbers (proxy numbers,
# participants): remember the latest answers. The facts are immutable.
@lru_cache(maxsize=16_384)
def phone_facts(text: str) -> PhoneFacts | None:
    """Facts of a valid E.164 number (`+` and digits), or None when it is not one."""
    if not text.startswith("+") or not text[1:].isdigit() or len(text) > 16:
        return None
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    # What is_valid_number does, with the region kept: finding it is most of the work.
    region = phonenumbers.region_code_for_number(parsed)
    if region is None or not phonenumbers.is_valid_number_for_region(parsed, region):
        return None
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if e164 != text:
        return None
    national = phonenumbers.national_significant_number(parsed)
    area = national[:3] if parsed.country_code == NANP else None
    return PhoneFacts(
        e164=e164,
        iso_country=region,
        calling_code=int(parsed.country_code or 0),
        area_code=area,
    )


def calling_code_for_country(iso_country: str) -> int | None:
    code = phonenumbers.country_code_for_region(iso_country.upper())
    return code or None


def is_country(iso_country: str) -> bool:
    return iso_country.upper() in phonenumbers.SUPPORTED_REGIONS
