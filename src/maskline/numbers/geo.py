"""Facts about a phone number from its digits: country, dialing plan, NANP area code."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberDesc

NANP = 1
# Lengths a national significant number can have (ITU-T E.164 allows 15 digits in all).
_NSN_MIN = 2
_NSN_MAX = 17


class PhoneFacts(NamedTuple):
    """Immutable; a named tuple because a number seen for the first time builds one, and a
    frozen dataclass takes four times as long to."""

    e164: str
    iso_country: str | None
    calling_code: int
    area_code: str | None


# Traffic repeats the same numbers (proxy numbers, participants): remember the latest answers.
# The facts are immutable.
@lru_cache(maxsize=16_384)
def phone_facts(text: str) -> PhoneFacts | None:
    """Facts of a valid E.164 number (`+` and digits), or None when it is not one."""
    if not text.startswith("+") or not text[1:].isdigit() or len(text) > 16:
        return None
    split = _split_e164(text[1:])
    if split is None:
        return None
    code, national = split
    region = _valid_region(code, national)
    if region is None:
        return None
    return PhoneFacts(
        e164=text,
        iso_country=region,
        calling_code=code,
        area_code=national[:3] if code == NANP else None,
    )


def _split_e164(digits: str) -> tuple[int, str] | None:
    """The country calling code and national significant number that E.164 digits spell, or
    None when no calling code starts them.

    `phonenumbers.parse` accepts every way people write numbers, and that generality costs
    most of a validation. An E.164 string has one reading: a calling code of one to three
    digits (no code is the prefix of another), then the national significant number as it is
    written, leading zeros (Italy's fixed lines, for one) included: what phonenumbers'
    `national_significant_number` gives back for the number it would parse.
    """
    if digits.startswith("0"):
        return None
    for size in (1, 2, 3):
        code = int(digits[:size])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[size:]
    if not _NSN_MIN <= len(national) <= _NSN_MAX:
        return None
    return code, national


def _valid_region(code: int, national: str) -> str | None:
    """The region whose numbering plan the number belongs to, if it is valid there.

    Where several regions share a calling code (NANP's +1), the region is the first whose
    leading digits match, or else the first where the number is valid; validity is then
    checked in that region alone. This is what `region_code_for_number` followed by
    `is_valid_number_for_region` decides, without working out the number's type twice.
    """
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    if len(regions) == 1:
        # One region, or "001" for a non-geographic code, whose plan is found by the code.
        region = regions[0]
        plan = PhoneMetadata.metadata_for_region_or_calling_code(code, region)
        return region if _valid_in(national, plan) else None
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region, None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if _leading_digits(metadata.leading_digits).match(national):
                return region if _valid_in(national, metadata) else None
        elif _valid_in(national, metadata):
            return region
    return None


# The kinds of number a plan describes, the commonest first. phonenumbers tries them rarest
# first, because it wants the type; validity only asks whether any of them fits.
_KINDS = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


def _valid_in(national: str, plan: PhoneMetadata | None) -> bool:
    """`is_valid_number_for_region` on the plan of a region the number's calling code belongs
    to: the number fits the plan's general pattern and the pattern of one kind of number (its
    type is not UNKNOWN)."""
    if plan is None:
        return False
    general, kinds = _plan_checks(plan)
    if not _fits(national, general):
        return False
    for kind in kinds:  # noqa: SIM110 (any() over a generator costs more than the match)
        if _fits(national, kind):
            return True
    return False


# A description of numbers, as phonenumbers matches it: the lengths it allows (empty: any) and
# its pattern, compiled once. None where the plan has no such numbers.
_Check = tuple[frozenset[int], re.Pattern[str]] | None
_checks: dict[int, tuple[PhoneMetadata, tuple[_Check, tuple[_Check, ...]]]] = {}


def _plan_checks(plan: PhoneMetadata) -> tuple[_Check, tuple[_Check, ...]]:
    """A plan's general check and its kinds' checks, the commonest kind first.

    phonenumbers looks each pattern up in its cache of compiled expressions on every test;
    the checks are built once per plan instead. (Plans live as long as the process, and each
    is kept with its checks, so its id is not reused.)
    """
    found = _checks.get(id(plan))
    if found is not None and found[0] is plan:
        return found[1]
    checks = (_check(plan.general_desc), tuple(_check(getattr(plan, kind)) for kind in _KINDS))
    _checks[id(plan)] = (plan, checks)
    return checks


def _check(desc: PhoneNumberDesc | None) -> _Check:
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)


def _fits(national: str, check: _Check) -> bool:
    """phonenumbers' `_is_number_matching_desc`: a length the description allows, and the
    whole number matches its pattern."""
    if check is None:
        return False
    lengths, pattern = check
    if lengths and len(national) not in lengths:
        return False
    return pattern.fullmatch(national) is not None


@lru_cache(maxsize=256)
def _leading_digits(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def calling_code_for_country(iso_country: str) -> int | None:
    code = phonenumbers.country_code_for_region(iso_country.upper())
    return code or None


def is_country(iso_country: str) -> bool:
    return iso_country.upper() in phonenumbers.SUPPORTED_REGIONS
