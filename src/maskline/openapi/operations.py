"""Every operation Maskline serves, as OpenAPI operations keyed by method and path.

The Proxy operations keep Twilio's operation ids, paths, parameters and statuses, so a client
generated from this document calls Maskline as Twilio's SDKs do. Maskline's own operations
(the sandbox, the event log, health) carry `x-maskline-extension: true`, and so does each
parameter Maskline adds to a Proxy operation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from maskline.interactions.rules import LEG_STATUSES
from maskline.openapi.schemas import PAGE_META, Schema, ref, sid_pattern

EXTENSION = "x-maskline-extension"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    tag: str
    status: int = 200
    # The schema of a 2xx JSON answer; None for an answer without a body.
    answer: Schema | None = None
    answer_type: str = "application/json"
    path_params: dict[str, Schema] = field(default_factory=dict)
    query: dict[str, Schema] = field(default_factory=dict)
    form: dict[str, Schema] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    auth: str = "basic"  # "basic", "none", "metrics-token" or "twilio-signature"
    extension: bool = False


def _own(*args: Any, **kwargs: Any) -> Operation:
    """An operation of Maskline's own, which Twilio's Proxy does not have."""
    return Operation(*args, **{**kwargs, "extension": True})


def _sid(prefix: str) -> Schema:
    return {"type": "string", "minLength": 34, "maxLength": 34, "pattern": sid_pattern(prefix)}


def _sid_or_name(prefix: str, what: str) -> Schema:
    return {
        "type": "string",
        "description": f"The {what}'s SID ({prefix}...) or its unique name.",
    }


def _extension(schema: Schema) -> Schema:
    return {**schema, EXTENSION: True}


STRING: Schema = {"type": "string"}
URL: Schema = {"type": "string", "format": "uri"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
DATE: Schema = {"type": "string", "format": "date-time"}

PAGING: dict[str, Schema] = {
    "PageSize": {"type": "integer", "minimum": 1, "maximum": 1000},
    "Page": {"type": "integer", "minimum": 0},
    "PageToken": {"type": "string"},
}

SERVICE = "/v1/Services"
SERVICE_ITEM = SERVICE + "/{Sid}"
NUMBERS = SERVICE + "/{ServiceSid}/PhoneNumbers"
SHORT_CODES = SERVICE + "/{ServiceSid}/ShortCodes"
SESSIONS = SERVICE + "/{ServiceSid}/Sessions"
PARTICIPANTS = SESSIONS + "/{SessionSid}/Participants"
INTERACTIONS = SESSIONS + "/{SessionSid}/Interactions"
MESSAGES = PARTICIPANTS + "/{ParticipantSid}/MessageInteractions"

_IN_SERVICE = {"ServiceSid": _sid_or_name("KS", "service")}
_IN_SESSION = {**_IN_SERVICE, "SessionSid": _sid("KC")}
_IN_PARTICIPANT = {**_IN_SESSION, "ParticipantSid": _sid("KP")}


def _page(key: str, item: str) -> Schema:
    return {
        "type": "object",
        "properties": {"meta": PAGE_META, key: {"type": "array", "items": ref(item)}},
    }


def _crud(
    *,
    name: str,
    plural: str,
    key: str,
    tag: str,
    path: str,
    parents: dict[str, Schema],
    item: Schema,
    verbs: str,
    create: dict[str, Schema] | None = None,
    create_required: tuple[str, ...] = (),
    update: dict[str, Schema] | None = None,
) -> list[Operation]:
    """The List, Create, Fetch, Update and Delete operations of one resource, those in `verbs`."""
    one = path + "/{Sid}"
    both = {**parents, "Sid": item}
    made = {
        "List": Operation(
            "GET",
            path,
            "List" + name,
            f"List the {plural}, oldest first, a page at a time.",
            tag,
            answer=_page(key, name),
            path_params=parents,
            query=PAGING,
        ),
        "Create": Operation(
            "POST",
            path,
            "Create" + name,
            f"Create a {name_words(name)}.",
            tag,
            status=201,
            answer=ref(name),
            path_params=parents,
            form=create or {},
            required=create_required,
        ),
        "Fetch": Operation(
            "GET",
            one,
            "Fetch" + name,
            f"Fetch one {name_words(name)}.",
            tag,
            answer=ref(name),
            path_params=both,
        ),
        "Update": Operation(
            "POST",
            one,
            "Update" + name,
            f"Change a {name_words(name)}; parameters left out keep their value.",
            tag,
            answer=ref(name),
            path_params=both,
            form=update or {},
        ),
        "Delete": Operation(
            "DELETE",
            one,
            "Delete" + name,
            f"Delete a {name_words(name)}.",
            tag,
            status=204,
            path_params=both,
        ),
    }
    return [made[verb] for verb in verbs.split()]


def name_words(name: str) -> str:
    """`PhoneNumber` as `phone number`."""
    return "".join(" " + ch.lower() if ch.isupper() else ch for ch in name).strip()


_SERVICE_SETTINGS: dict[str, Schema] = {
    "UniqueName": STRING,
    "DefaultTtl": INTEGER,
    "CallbackUrl": URL,
    "GeoMatchLevel": {**STRING, **ref("GeoMatchLevel")},
    "NumberSelectionBehavior": {**STRING, **ref("NumberSelectionBehavior")},
    "InterceptCallbackUrl": URL,
    "OutOfSessionCallbackUrl": URL,
    "ChatInstanceSid": _sid("IS"),
    "SessionCallbackUrl": _extension(
        {
            **URL,
            "description": "Receives a signed POST whenever one of the service's sessions "
            "closes (by the API, by inactivity or at its expiry).",
        }
    ),
}
_SESSION_CHANGES: dict[str, Schema] = {
    "DateExpiry": DATE,
    "Ttl": INTEGER,
    "Status": {**STRING, **ref("SessionStatus")},
}

PROXY: list[Operation] = [
    *_crud(
        name="Service",
        plural="services",
        key="services",
        tag="Services",
        path=SERVICE,
        parents={},
        item=_sid_or_name("KS", "service"),
        verbs="List Create Fetch Update Delete",
        create=_SERVICE_SETTINGS,
        create_required=("UniqueName",),
        update=_SERVICE_SETTINGS,
    ),
    *_crud(
        name="PhoneNumber",
        plural="numbers in the service's pool",
        key="phone_numbers",
        tag="Pool",
        path=NUMBERS,
        parents=_IN_SERVICE,
        item=_sid("PN"),
        verbs="List Create Fetch Update Delete",
        create={
            "Sid": _sid("PN"),
            "PhoneNumber": {"type": "string", "format": "phone-number"},
            "IsReserved": BOOLEAN,
        },
        update={"IsReserved": BOOLEAN},
    ),
    *_crud(
        name="ShortCode",
        plural="short codes in the service's pool",
        key="short_codes",
        tag="Pool",
        path=SHORT_CODES,
        parents=_IN_SERVICE,
        item=_sid("SC"),
        verbs="List Create Fetch Update Delete",
        create={"Sid": _sid("SC")},
        create_required=("Sid",),
        update={"IsReserved": BOOLEAN},
    ),
    *_crud(
        name="Session",
        plural="service's sessions",
        key="sessions",
        tag="Sessions",
        path=SESSIONS,
        parents=_IN_SERVICE,
        item=_sid_or_name("KC", "session"),
        verbs="List Create Fetch Update Delete",
        create={
            "UniqueName": STRING,
            **_SESSION_CHANGES,
            "Mode": {**STRING, **ref("SessionMode")},
            "Participants": {
                "type": "array",
                "items": {},
                "description": "Each a JSON object with `Identifier` and optionally "
                "`FriendlyName` and `ProxyIdentifier`.",
            },
        },
        update=_SESSION_CHANGES,
    ),
    *_crud(
        name="Participant",
        plural="session's participants",
        key="participants",
        tag="Sessions",
        path=PARTICIPANTS,
        parents=_IN_SESSION,
        item=_sid("KP"),
        verbs="List Create Fetch Delete",
        create={
            "Identifier": STRING,
            "FriendlyName": STRING,
            "ProxyIdentifier": STRING,
            "ProxyIdentifierSid": _sid("PN"),
        },
        create_required=("Identifier",),
    ),
    *_crud(
        name="Interaction",
        plural="session's interactions",
        key="interactions",
        tag="Sessions",
        path=INTERACTIONS,
        parents=_IN_SESSION,
        item=_sid("KI"),
        verbs="List Fetch Delete",
    ),
    *_crud(
        name="MessageInteraction",
        plural="texts the application sent to this participant",
        key="interactions",
        tag="Sessions",
        path=MESSAGES,
        parents=_IN_PARTICIPANT,
        item=_sid("KI"),
        verbs="List Create Fetch",
        create={"Body": STRING, "MediaUrl": {"type": "array", "items": URL}},
    ),
]

_E164 = {"type": "string", "description": "A phone number in E.164 form, such as +14155551212."}
_HANDSET = {"PhoneNumber": _E164}

MASKLINE: list[Operation] = [
    _own(
        "GET",
        "/healthz",
        "FetchHealth",
        "Liveness: the process and its database answer.",
        "Operations",
        answer=ref("Health"),
        auth="none",
    ),
    _own(
        "GET",
        "/readyz",
        "FetchReadiness",
        "Readiness: the database answers and its schema is current; 503 otherwise.",
        "Operations",
        answer=ref("Health"),
        auth="none",
    ),
    _own(
        "GET",
        "/metrics",
        "FetchMetrics",
        "Prometheus metrics of every process of this Maskline.",
        "Operations",
        answer=STRING,
        answer_type="text/plain",
        auth="metrics-token",
    ),
    _own(
        "GET",
        "/openapi.json",
        "FetchOpenApi",
        "This document.",
        "Operations",
        answer={"type": "object"},
        auth="none",
    ),
    _own(
        "GET",
        "/maskline/v1/Events",
        "ListEvent",
        "The event log: traffic that reached no API caller, newest codes filterable.",
        "Event log",
        answer=_page("events", "Event"),
        query={"Code": INTEGER, **PAGING},
    ),
    _own(
        "GET",
        "/maskline/v1/Callbacks",
        "ListCallback",
        "The status-callback outbox, with every delivery attempt.",
        "Event log",
        answer=_page("callbacks", "Callback"),
        query={"SessionSid": _sid("KC"), **PAGING},
    ),
    _own(
        "POST",
        "/sandbox/v1/PhoneNumbers",
        "CreateSandboxPhoneNumber",
        "The account owns this number on the simulated network from now on (200 when it "
        "already did).",
        "Sandbox",
        status=201,
        answer=ref("SandboxPhoneNumber"),
        form={
            "PhoneNumber": _E164,
            "FriendlyName": STRING,
            "VoiceCapable": BOOLEAN,
            "SmsCapable": BOOLEAN,
            "MmsCapable": BOOLEAN,
        },
        required=("PhoneNumber",),
    ),
    _own(
        "POST",
        "/sandbox/v1/ShortCodes",
        "CreateSandboxShortCode",
        "The account owns this short code on the simulated network (200 when it already did).",
        "Sandbox",
        status=201,
        answer=ref("SandboxShortCode"),
        form={"ShortCode": STRING, "IsoCountry": STRING},
        required=("ShortCode",),
    ),
    _own(
        "POST",
        "/sandbox/v1/Messages",
        "CreateSandboxMessage",
        "A handset texts a number; the answer says what routing made of it.",
        "Sandbox",
        status=201,
        answer=ref("SandboxMessage"),
        form={
            "From": _E164,
            "To": STRING,
            "Body": STRING,
            "MediaUrl": {"type": "array", "items": URL},
        },
        required=("From", "To"),
    ),
    _own(
        "GET",
        "/sandbox/v1/Messages/{Sid}",
        "FetchSandboxMessage",
        "The carrier's record of one text.",
        "Sandbox",
        answer=ref("SandboxMessage"),
        path_params={"Sid": _sid("SM")},
    ),
    _own(
        "GET",
        "/sandbox/v1/Devices/{PhoneNumber}/Messages",
        "ListSandboxDeviceMessage",
        "The texts a handset received.",
        "Sandbox",
        answer={
            "type": "object",
            "properties": {"messages": {"type": "array", "items": ref("SandboxMessage")}},
        },
        path_params=_HANDSET,
    ),
    _own(
        "POST",
        "/sandbox/v1/Calls",
        "CreateSandboxCall",
        "A handset calls a number; `Answer` and `Duration` say what the rung handset does.",
        "Sandbox",
        status=201,
        answer=ref("SandboxCall"),
        form={
            "From": _E164,
            "To": STRING,
            "Answer": {"type": "string", "enum": ["answered", "busy", "no-answer", "failed"]},
            "Duration": {"type": "integer", "minimum": 0, "maximum": 4 * 3600},
        },
        required=("From", "To"),
    ),
    _own(
        "GET",
        "/sandbox/v1/Calls/{Sid}",
        "FetchSandboxCall",
        "The carrier's record of one call.",
        "Sandbox",
        answer=ref("SandboxCall"),
        path_params={"Sid": _sid("CA")},
    ),
    _own(
        "GET",
        "/sandbox/v1/Devices/{PhoneNumber}/Calls",
        "ListSandboxDeviceCall",
        "The calls that rang a handset.",
        "Sandbox",
        answer={
            "type": "object",
            "properties": {"calls": {"type": "array", "items": ref("SandboxCall")}},
        },
        path_params=_HANDSET,
    ),
    _own(
        "POST",
        "/sandbox/v1/Clock",
        "UpdateSandboxClock",
        "Move the sandbox clock forward; sessions past their deadline close before it answers.",
        "Sandbox",
        answer=ref("SandboxClock"),
        form={"Advance": {"type": "integer", "minimum": 0}},
        required=("Advance",),
    ),
]

_TWILIO_STATUS = {
    "MessageSid": STRING,
    "CallSid": STRING,
    "MessageStatus": STRING,
    "CallStatus": {"type": "string", "enum": list(LEG_STATUSES)},
}

TWILIO_WEBHOOKS: list[Operation] = [
    _own(
        "POST",
        "/webhooks/twilio/" + name,
        "Twilio" + op_id,
        summary,
        "Twilio webhooks",
        answer=None if op_id.endswith("Status") else STRING,
        answer_type="text/xml",
        form={"From": STRING, "To": STRING, **_TWILIO_STATUS},
        auth="twilio-signature",
    )
    for name, op_id, summary in (
        ("messages", "IncomingMessage", "Twilio reports a text to a proxy number; TwiML answers."),
        ("voice", "IncomingCall", "Twilio reports a call to a proxy number; TwiML answers."),
        ("message-status", "MessageStatus", "Twilio reports a relayed text's new status."),
        ("call-status", "CallStatus", "Twilio reports a relayed call's new status."),
    )
]


def catalogue() -> dict[tuple[str, str], Operation]:
    """Every operation by (method, path), whichever carrier serves it."""
    return {(op.method, op.path): op for op in [*PROXY, *MASKLINE, *TWILIO_WEBHOOKS]}


def shape(path: str) -> str:
    """A path with its parameters' names left out: `/v1/Services/{}`."""
    return "/".join("{}" if part.startswith("{") else part for part in path.split("/"))
