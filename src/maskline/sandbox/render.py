"""The sandbox's JSON shapes: owned numbers and the messages a handset received."""

from __future__ import annotations

from typing import Any

import orjson

from maskline.clock import iso
from maskline.numbers.pool import capabilities
from maskline.numbers.rules import short_code_digits


def render_owned_number(row: Any) -> dict[str, Any]:
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "phone_number": row.phone_number,
        "friendly_name": row.friendly_name,
        "iso_country": row.iso_country,
        "capabilities": capabilities(row),
        "date_created": iso(row.date_created),
    }


def render_owned_short_code(row: Any) -> dict[str, Any]:
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "short_code": short_code_digits(row),
        "iso_country": row.iso_country,
        "capabilities": capabilities(row),
        "date_created": iso(row.date_created),
    }


def render_message(row: Any, base_url: str) -> dict[str, Any]:
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "from": row.from_number,
        "to": row.to_number,
        "body": row.body,
        "media_urls": orjson.loads(row.media_urls),
        "direction": row.direction,
        "status": row.status,
        "date_created": iso(row.date_created),
        "date_updated": iso(row.date_updated),
        "url": f"{base_url}/sandbox/v1/Messages/{row.sid}",
    }


def render_call(row: Any, base_url: str) -> dict[str, Any]:
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "from": row.from_number,
        "to": row.to_number,
        "direction": row.direction,
        "status": row.status,
        "duration": row.duration,
        "parent_call_sid": row.parent_sid,
        "twiml": orjson.loads(row.outcome) if row.outcome else None,
        "date_created": iso(row.date_created),
        "date_updated": iso(row.date_updated),
        "url": f"{base_url}/sandbox/v1/Calls/{row.sid}",
    }
