"""Phone-number facts: the E.164 fast path decides exactly what `phonenumbers.parse` would.

`numbers/geo.py` reads E.164 digits itself instead of calling `phonenumbers.parse`, which
costs most of a validation. These tests hold it to the library's own answer (parse, then
region, then validity in that region) on the example numbers of every region and number type
the library knows, on variants of them one digit off, and on random digit strings.
"""

from __future__ import annotations

import random

import phonenumbers
import pytest

from maskline.numbers import geo
from maskline.numbers.geo import PhoneFacts


def library_facts(text: str) -> PhoneFacts | None:
    """What phonenumbers itself says of an E.164 string."""
    if not text.startswith("+") or not text[1:].isdigit() or len(text) > 16:
        return None
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    if phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) != text:
        return None
    national = phonenumbers.national_significant_number(parsed)
    return PhoneFacts(
        e164=text,
        iso_country=phonenumbers.region_code_for_number(parsed),
        calling_code=parsed.country_code,
        area_code=national[:3] if parsed.country_code == 1 else None,
    )


def example_numbers() -> list[str]:
    found = set()
    regions = sorted(phonenumbers.SUPPORTED_REGIONS)
    for region in regions:
        for kind in range(12):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is not None:
                found.add(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            found.add(phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164))
    return sorted(found)


EXAMPLES = example_numbers()


def variants(text: str) -> list[str]:
    """The number one digit longer, one shorter, with a zero after the calling code, and with
    its last digit changed."""
    digits = text[1:]
    out = [text + "7", text[:-1], f"+{digits[:1]}0{digits[1:]}", f"+{digits[:2]}0{digits[2:]}"]
    out.append(text[:-1] + str((int(text[-1]) + 1) % 10))
    return out


def check(texts: list[str]) -> None:
    mismatches = [
        (text, geo.phone_facts.__wrapped__(text), library_facts(text))
        for text in texts
        if geo.phone_facts.__wrapped__(text) != library_facts(text)
    ]
    assert mismatches == []


def test_every_example_number_is_valid_with_the_library_s_facts() -> None:
    assert len(EXAMPLES) > 1_000
    check(EXAMPLES)
    assert all(geo.phone_facts(text) is not None for text in EXAMPLES)


def test_numbers_one_digit_off_get_the_library_s_answer() -> None:
    texts = [variant for text in EXAMPLES for variant in variants(text)]
    check(texts)
    # The variants are not all valid or all invalid: both paths are exercised.
    answers = {geo.phone_facts.__wrapped__(text) is None for text in texts}
    assert answers == {True, False}


@pytest.mark.parametrize("seed", range(4))
def test_random_digit_strings_get_the_library_s_answer(seed: int) -> None:
    rng = random.Random(seed)
    texts = [
        "+" + "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 15)))
        for _ in range(5_000)
    ]
    # And plausible ones: a real calling code, then random national digits.
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
    texts += [f"+{rng.choice(codes)}{rng.randint(10**6, 10**11)}" for _ in range(5_000)]
    check(texts)


@pytest.mark.parametrize(
    ("text", "country", "area"),
    [
        ("+14155550123", "US", "415"),
        ("+16135550123", "CA", "613"),
        ("+18765551234", "JM", "876"),
        ("+390612345678", "IT", None),
        ("+442079460123", "GB", None),
    ],
)
def test_known_numbers(text: str, country: str, area: str | None) -> None:
    facts = geo.phone_facts(text)
    assert facts is not None
    assert (facts.e164, facts.iso_country, facts.area_code) == (text, country, area)


@pytest.mark.parametrize(
    "text",
    ["+1415555012", "+0123456789", "+4407700900123", "14155550123", "+1 4155550123", "+"],
)
def test_not_e164(text: str) -> None:
    assert geo.phone_facts(text) is None
