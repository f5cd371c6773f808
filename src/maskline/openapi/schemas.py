"""The JSON shapes Maskline answers with, as OpenAPI 3.0 schemas.

The Proxy resources keep exactly Twilio's fields and types (tests/test_openapi.py holds them to
the Proxy v1 wire facts); every field may be null, as in Twilio's own answers. Maskline's own
resources (the sandbox, the event log, the callback outbox) are described as they render.
"""

from __future__ import annotations

from typing import Any

from maskline.interactions.rules import LEG_STATUSES

Schema = dict[str, Any]

REF = "#/components/schemas/"


def ref(name: str) -> Schema:
    return {"$ref": REF + name}


def sid_pattern(prefix: str) -> str:
    return f"^{prefix}[0-9a-fA-F]{{32}}$"


def _null(**schema: Any) -> Schema:
    return {**schema, "nullable": True}


def _sid(prefix: str) -> Schema:
    return _null(type="string", minLength=34, maxLength=34, pattern=sid_pattern(prefix))


def _enum(name: str) -> Schema:
    # Twilio's clients read the enum's type beside its reference; kept the same way here.
    return _null(type="string", **ref(name))


STRING = _null(type="string")
URI = _null(type="string", format="uri")
DATE = _null(type="string", format="date-time")
INTEGER = _null(type="integer")
BOOLEAN = _null(type="boolean")
LINKS = _null(type="object", format="uri-map")
CAPABILITIES = _null(
    type="object",
    format="phone-number-capabilities",
    properties={kind: {"type": "boolean"} for kind in ("fax", "mms", "sms", "voice")},
)
# The SID of a carrier's record of a leg: a text (SM...) or a call (CA...).
LEG_SID = _null(type="string", minLength=34, maxLength=34, pattern="^[a-zA-Z]{2}[0-9a-fA-F]{32}$")


ENUMS: dict[str, list[str]] = {
    "GeoMatchLevel": ["area-code", "overlay", "radius", "country"],
    "NumberSelectionBehavior": ["avoid-sticky", "prefer-sticky"],
    "SessionMode": ["message-only", "voice-only", "voice-and-message"],
    "SessionStatus": ["open", "in-progress", "closed", "failed", "unknown"],
    "InteractionType": ["message", "voice", "unknown"],
    "LegStatus": list(LEG_STATUSES),
}


def _resource(summary: str, fields: dict[str, Schema]) -> Schema:
    return {"type": "object", "description": summary, "properties": fields}


_COMMON = {"account_sid": _sid("AC"), "date_created": DATE, "date_updated": DATE, "url": URI}

_LEGS = {
    "data": STRING,
    "type": _enum("InteractionType"),
    "inbound_participant_sid": _sid("KP"),
    "inbound_resource_sid": LEG_SID,
    "inbound_resource_status": _enum("LegStatus"),
    "inbound_resource_type": STRING,
    "inbound_resource_url": URI,
    "outbound_participant_sid": _sid("KP"),
    "outbound_resource_sid": LEG_SID,
    "outbound_resource_status": _enum("LegStatus"),
    "outbound_resource_type": STRING,
    "outbound_resource_url": URI,
}

PROXY: dict[str, Schema] = {
    "Service": _resource(
        "A masking service: its pool of numbers, its sessions and where its callbacks go.",
        {
            "sid": _sid("KS"),
            "unique_name": STRING,
            **_COMMON,
            "chat_instance_sid": _sid("IS"),
            "callback_url": URI,
            "default_ttl": INTEGER,
            "number_selection_behavior": _enum("NumberSelectionBehavior"),
            "geo_match_level": _enum("GeoMatchLevel"),
            "intercept_callback_url": URI,
            "out_of_session_callback_url": URI,
            "links": LINKS,
        },
    ),
    "PhoneNumber": _resource(
        "A phone number of the account, in the service's pool.",
        {
            "sid": _sid("PN"),
            "service_sid": _sid("KS"),
            **_COMMON,
            "phone_number": _null(type="string", format="phone-number"),
            "friendly_name": STRING,
            "iso_country": STRING,
            "capabilities": CAPABILITIES,
            "is_reserved": BOOLEAN,
            "in_use": INTEGER,
        },
    ),
    "ShortCode": _resource(
        "A short code of the account, in the service's pool.",
        {
            "sid": _sid("SC"),
            "service_sid": _sid("KS"),
            **_COMMON,
            "short_code": STRING,
            "iso_country": STRING,
            "capabilities": CAPABILITIES,
            "is_reserved": BOOLEAN,
        },
    ),
    "Session": _resource(
        "A conversation between two participants, each reaching the other through a proxy number.",
        {
            "sid": _sid("KC"),
            "service_sid": _sid("KS"),
            **_COMMON,
            "unique_name": STRING,
            "status": _enum("SessionStatus"),
            "mode": _enum("SessionMode"),
            "ttl": INTEGER,
            "date_started": DATE,
            "date_ended": DATE,
            "date_last_interaction": DATE,
            "date_expiry": DATE,
            "closed_reason": STRING,
            "links": LINKS,
        },
    ),
    "Participant": _resource(
        "One side of a session: the real identifier, and the proxy number it is reached by.",
        {
            "sid": _sid("KP"),
            "session_sid": _sid("KC"),
            "service_sid": _sid("KS"),
            **_COMMON,
            "friendly_name": STRING,
            "identifier": STRING,
            "proxy_identifier": STRING,
            "proxy_identifier_sid": _sid("PN"),
            "date_deleted": DATE,
            "links": LINKS,
        },
    ),
    "Interaction": _resource(
        "A text or call in a session: its inbound leg and the outbound leg it was relayed on.",
        {
            "sid": _sid("KI"),
            "session_sid": _sid("KC"),
            "service_sid": _sid("KS"),
            **_COMMON,
            **_LEGS,
        },
    ),
    "MessageInteraction": _resource(
        "A text the application sent to one participant through its proxy number.",
        {
            "sid": _sid("KI"),
            "session_sid": _sid("KC"),
            "service_sid": _sid("KS"),
            "participant_sid": _sid("KP"),
            **_COMMON,
            **_LEGS,
        },
    ),
}

PAGE_META: Schema = {
    "type": "object",
    "properties": {
        "first_page_url": {"type": "string", "format": "uri"},
        "key": {"type": "string"},
        "next_page_url": {"type": "string", "format": "uri", "nullable": True},
        "page": {"type": "integer"},
        "page_size": {"type": "integer"},
        "previous_page_url": {"type": "string", "format": "uri", "nullable": True},
        "url": {"type": "string", "format": "uri"},
    },
}

ERROR: Schema = {
    "type": "object",
    "description": "Every error, in Twilio's shape: its code is one of Twilio's error codes.",
    "properties": {
        "code": {"type": "integer"},
        "message": {"type": "string"},
        "more_info": {"type": "string", "format": "uri"},
        "status": {"type": "integer"},
    },
}

_ROUTING = {
    "type": "object",
    "description": "What routing made of the traffic: `result` is forwarded, blocked, "
    "opt-out, rejected, dropped, replied or twiml.",
    "properties": {"result": {"type": "string"}},
}

MASKLINE: dict[str, Schema] = {
    "Error": ERROR,
    "SandboxPhoneNumber": _resource(
        "A number the account owns on the simulated network.",
        {
            "sid": _sid("PN"),
            "account_sid": _sid("AC"),
            "phone_number": STRING,
            "friendly_name": STRING,
            "iso_country": STRING,
            "capabilities": CAPABILITIES,
            "date_created": DATE,
        },
    ),
    "SandboxShortCode": _resource(
        "A short code the account owns on the simulated network.",
        {
            "sid": _sid("SC"),
            "account_sid": _sid("AC"),
            "short_code": STRING,
            "iso_country": STRING,
            "capabilities": CAPABILITIES,
            "date_created": DATE,
        },
    ),
    "SandboxMessage": _resource(
        "A text on the simulated network, as its carrier records it.",
        {
            "sid": _sid("SM"),
            "account_sid": _sid("AC"),
            "from": STRING,
            "to": STRING,
            "body": STRING,
            "media_urls": {"type": "array", "items": {"type": "string", "format": "uri"}},
            "direction": STRING,
            "status": STRING,
            "date_created": DATE,
            "date_updated": DATE,
            "url": URI,
            "routing": _ROUTING,
        },
    ),
    "SandboxCall": _resource(
        "A call on the simulated network, as its carrier records it.",
        {
            "sid": _sid("CA"),
            "account_sid": _sid("AC"),
            "from": STRING,
            "to": STRING,
            "direction": STRING,
            "status": STRING,
            "duration": INTEGER,
            "parent_call_sid": _sid("CA"),
            "twiml": _null(type="object"),
            "date_created": DATE,
            "date_updated": DATE,
            "url": URI,
            "routing": _ROUTING,
        },
    ),
    "SandboxClock": _resource(
        "The sandbox clock: how far it runs ahead of real time, and what it closed.",
        {
            "offset_seconds": {"type": "number"},
            "now": DATE,
            "sessions_closed": {"type": "integer"},
        },
    ),
    "Event": _resource(
        "Traffic that reached no API caller (80614, 80901, 80909, 80910, 80911, 80913).",
        {
            "sid": _sid("NO"),
            "account_sid": _sid("AC"),
            "service_sid": _sid("KS"),
            "session_sid": _sid("KC"),
            "code": {"type": "integer"},
            "message": {"type": "string"},
            "details": {"type": "object"},
            "more_info": {"type": "string", "format": "uri"},
            "date_created": DATE,
        },
    ),
    "Callback": _resource(
        "One status callback in the outbox, with every delivery attempt.",
        {
            "id": {"type": "integer"},
            "kind": {"type": "string"},
            "url": {"type": "string", "format": "uri"},
            "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "idempotency_token": {"type": "string"},
            "service_sid": _sid("KS"),
            "session_sid": _sid("KC"),
            "interaction_sid": _sid("KI"),
            "params": {"type": "object"},
            "attempts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "attempted_at": DATE,
                        "status_code": INTEGER,
                        "latency_ms": INTEGER,
                        "response": STRING,
                    },
                },
            },
            "next_attempt_at": DATE,
            "last_error": STRING,
            "date_created": DATE,
            "date_updated": DATE,
        },
    ),
    "Health": {"type": "object", "properties": {"status": {"type": "string"}}},
}


def components() -> dict[str, Schema]:
    enums = {name: {"type": "string", "enum": values} for name, values in ENUMS.items()}
    return {**enums, **PROXY, **MASKLINE}
