"""The Interaction and MessageInteraction resources as the API shows them."""

from __future__ import annotations

from typing import Any

from maskline.clock import iso


def _common(row: Any) -> dict[str, Any]:
    return {
        "sid": row.sid,
        "session_sid": row.session_sid,
        "service_sid": row.service_sid,
        "account_sid": row.account_sid,
        "data": row.data,
        "type": row.type,
        "inbound_participant_sid": row.inbound_participant_sid,
        "inbound_resource_sid": row.inbound_resource_sid,
        "inbound_resource_status": row.inbound_resource_status,
        "inbound_resource_type": row.inbound_resource_type,
        "inbound_resource_url": row.inbound_resource_url,
        "outbound_participant_sid": row.outbound_participant_sid,
        "outbound_resource_sid": row.outbound_resource_sid,
        "outbound_resource_status": row.outbound_resource_status,
        "outbound_resource_type": row.outbound_resource_type,
        "outbound_resource_url": row.outbound_resource_url,
        "date_created": iso(row.date_created),
        "date_updated": iso(row.date_updated),
    }


def render_interaction(row: Any, base_url: str) -> dict[str, Any]:
    body = _common(row)
    body["url"] = (
        f"{base_url}/v1/Services/{row.service_sid}/Sessions/{row.session_sid}"
        f"/Interactions/{row.sid}"
    )
    return body


def render_message_interaction(row: Any, base_url: str) -> dict[str, Any]:
    body = _common(row)
    body["participant_sid"] = row.participant_sid
    body["url"] = (
        f"{base_url}/v1/Services/{row.service_sid}/Sessions/{row.session_sid}"
        f"/Participants/{row.participant_sid}/MessageInteractions/{row.sid}"
    )
    return body
