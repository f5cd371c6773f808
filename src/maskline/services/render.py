"""The Service resource as the API shows it."""

from __future__ import annotations

from typing import Any

from maskline.clock import iso


def service_url(base_url: str, sid: str) -> str:
    return f"{base_url}/v1/Services/{sid}"


def render_service(row: Any, base_url: str) -> dict[str, Any]:
    url = service_url(base_url, row.sid)
    return {
        "sid": row.sid,
        "account_sid": row.account_sid,
        "chat_instance_sid": row.chat_instance_sid,
        "unique_name": row.unique_name,
        "default_ttl": row.default_ttl,
        "callback_url": row.callback_url,
        "geo_match_level": row.geo_match_level,
        "number_selection_behavior": row.number_selection_behavior,
        "intercept_callback_url": row.intercept_callback_url,
        "out_of_session_callback_url": row.out_of_session_callback_url,
        "date_created": iso(row.date_created),
        "date_updated": iso(row.date_updated),
        "url": url,
        "links": {
            "sessions": url + "/Sessions",
            "phone_numbers": url + "/PhoneNumbers",
            "short_codes": url + "/ShortCodes",
        },
    }
