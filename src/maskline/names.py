"""What a stored name may hold: the rule every unique name and friendly name meets."""

from __future__ import annotations


def name_problem(value: str, *, unique: bool) -> str | None:
    """Why a name cannot be stored as given, or None. Control, format and line-break
    characters are refused (they print as nothing, or break logs and headers); a unique name
    must also be one a path can carry back, so no `/`."""
    if not value.isprintable():
        return "must not contain control, format or line-break characters"
    if unique and "/" in value:
        return "must not contain /"
    return None
