"""The Participant resource as the API shows it."""

from __future__ import annotations

from typing import Any

from maskline.clock import iso


def participant_url(base_url: str, row: Any) -> str:
    return (
        f"{base_url}/v1/Services/{row.service_sid}/Sessions/{row.session_sid}"
        f"/Participants/{row.sid}"
    )


def render_participant(row: Any, base_url: str) -> dict[str, Any]:
    url = participant_url(base_url, row)
    return {
        "sid": row.sid,
        "session_sid": row.session_sid,
        "service_sid": row.service_sid,
        "account_sid": row.account_sid,
        "friendly_name": row.friendly_name,
        "identifier": row.identifier,
        "proxy_identifier": row.proxy_identifier,
        "proxy_identifier_sid": row.proxy_number_sid,
        "date_deleted": iso(row.date_deleted),
        "date_created": iso(row.date_created),
        "date_updated": iso(row.date_updated),
        "url": url,
        "links": {"message_interactions": url + "/MessageInteractions"},
    }
