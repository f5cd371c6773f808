"""The ShortCode resource as the API shows it."""

from __future__ import annotations

from typing import Any

from maskline.clock import iso
from maskline.numbers.pool import capabilities
from maskline.numbers.rules import short_code_digits


def render_short_code(row: Any, base_url: str) -> dict[str, Any]:
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "service_sid": row.service_sid,
        "date_created": iso(row.date_added),
        "date_updated": iso(row.date_pool_updated),
        "short_code": short_code_digits(row),
        "iso_country": row.iso_country,
        "capabilities": capabilities(row),
        "url": f"{base_url}/v1/Services/{row.service_sid}/ShortCodes/{row.sid}",
        "is_reserved": bool(row.is_reserved),
    }
