"""Reading and validating form and query parameters; every failure is a 400 naming the parameter."""

from __future__ import annotations

import re
from collections.abc import Collection

from maskline.callbacks.http import url_problem
from maskline.clock import parse_iso
from maskline.errors import InvalidParameter, MissingParameter
from maskline.names import name_problem
from maskline.sids import is_sid
from maskline.web.request import Form

_MAX_INT = 2**31 - 1
_WHOLE = re.compile(r"[+-]?[0-9]+")
# The latest date-time the API takes or shows: ISO 8601's four-digit years end here.
LATEST_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z


def _value(form: Form, name: str) -> str | None:
    values = form.get(name)
    if not values:
        return None
    return values[-1]


def text(
    form: Form, name: str, *, required: bool = False, max_length: int | None = None
) -> str | None:
    value = _value(form, name)
    if value is None or (required and value.strip() == ""):
        if required:
            raise MissingParameter(name)
        return None
    if max_length is not None and len(value) > max_length:
        raise InvalidParameter(name, f"must be at most {max_length} characters")
    if "\x00" in value:
        raise InvalidParameter(name, "must not contain NUL characters")
    return value


def name(
    form: Form, key: str, *, required: bool = False, max_length: int, unique: bool = False
) -> str | None:
    """A unique name (`unique`) or a friendly name."""
    value = text(form, key, required=required, max_length=max_length)
    if value is not None:
        problem = name_problem(value, unique=unique)
        if problem is not None:
            raise InvalidParameter(key, problem)
    return value


def integer(
    form: Form,
    name: str,
    *,
    required: bool = False,
    minimum: int | None = None,
    maximum: int = _MAX_INT,
) -> int | None:
    value = _value(form, name)
    if value is None or value == "":
        if required:
            raise MissingParameter(name)
        return None
    stripped = value.strip()
    # One optional sign, then ASCII digits; past 18 digits no bound here could be met, and
    # int() of thousands of digits is refused by Python itself.
    if _WHOLE.fullmatch(stripped) is None:
        raise InvalidParameter(name, "must be a whole number")
    if len(stripped.lstrip("+-").lstrip("0")) > 18:
        raise InvalidParameter(name, f"must be at most {maximum}")
    number = int(stripped)
    if minimum is not None and number < minimum:
        raise InvalidParameter(name, f"must be at least {minimum}")
    if number > maximum:
        raise InvalidParameter(name, f"must be at most {maximum}")
    return number


def boolean(form: Form, name: str) -> bool | None:
    value = _value(form, name)
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise InvalidParameter(name, "must be true or false")


def choice(form: Form, name: str, choices: Collection[str]) -> str | None:
    value = _value(form, name)
    if value is None or value == "":
        return None
    if value not in choices:
        raise InvalidParameter(name, "must be one of " + ", ".join(sorted(choices)))
    return value


def url(form: Form, name: str) -> str | None:
    """An absolute http(s) URL that delivery can call; an empty value clears the setting
    (returned as "")."""
    value = _value(form, name)
    if value is None:
        return None
    value = value.strip()
    if value == "":
        return ""
    problem = url_problem(value)
    if problem is not None:
        raise InvalidParameter(name, problem)
    return value


def urls(form: Form, name: str, *, max_count: int = 10) -> list[str]:
    found = []
    for value in form.get(name, []):
        found.append(url({name: [value]}, name) or "")
    found = [value for value in found if value]
    if len(found) > max_count:
        raise InvalidParameter(name, f"can be given at most {max_count} times")
    return found


def date_time(form: Form, name: str) -> int | None:
    """An ISO 8601 date-time with `Z` or an offset, as epoch milliseconds."""
    value = _value(form, name)
    if value is None or value == "":
        return None
    try:
        when = parse_iso(value)
    except (ValueError, OverflowError, OSError) as exc:
        raise InvalidParameter(
            name, "must be an ISO 8601 date-time with a time zone, such as 2030-01-02T03:04:05Z"
        ) from exc
    if not 0 <= when <= LATEST_MS:
        raise InvalidParameter(name, "must be between 1970-01-01 and 9999-12-31T23:59:59Z")
    return when


def sid(
    form: Form, name: str, prefix: str | tuple[str, ...], *, required: bool = False
) -> str | None:
    value = _value(form, name)
    if value is None or value == "":
        if required:
            raise MissingParameter(name)
        return None
    prefixes = (prefix,) if isinstance(prefix, str) else prefix
    if not any(is_sid(value, p) for p in prefixes):
        shown = " or ".join(prefixes)
        raise InvalidParameter(name, f"must be a {shown} SID (the prefix and 32 hex digits)")
    return value
