"""The Session resource as the API shows it."""

from __future__ import annotations

from typing import Any

from maskline.clock import iso


def session_url(base_url: str, service_sid: str, sid: str) -> str:
    return f"{base_url}/v1/Services/{service_sid}/Sessions/{sid}"


def render_session(row: Any, base_url: str) -> dict[str, Any]:
    url = session_url(base_url, row.service_sid, row.sid)
    return {
        "sid": row.sid,
        "service_sid": row.service_sid,
        "account_sid": row.account_sid,
        "date_started": iso(row.date_started),
        "date_ended": iso(row.date_ended),
        "date_last_interaction": iso(row.date_last_interaction),
        "date_expiry": iso(row.date_expiry),
        "unique_name": row.unique_name,
        "status": row.status,
        "closed_reason": row.closed_reason,
        "ttl": row.ttl,
        "mode": row.mode,
        "date_created": iso(row.date_created),
        "date_updated": iso(row.date_updated),
        "url": url,
        "links": {
            "interactions": url + "/Interactions",
            "participants": url + "/Participants",
        },
    }
