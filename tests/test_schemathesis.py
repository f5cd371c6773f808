"""Schemathesis against the Twilio Proxy v1 spec, on a real `maskline serve` process.

What this module proves, for every one of the spec's 30 operations:

- requests generated from the spec (valid and invalid inputs, valid Basic credentials) never get
  a 5xx answer;
- every answer whose status the spec documents (the 2xx ones) has the documented content type
  and a body that matches the spec's response schema (OpenAPI 3.0 `nullable` included), with
  exactly the fields the spec lists, at every level;
- every 4xx answer (the spec documents none) is a Twilio error body: JSON with an integer
  `code`, a `message`, the matching `more_info` URL and a `status` equal to the HTTP status;
- data valid by the spec gets 2xx, or 400/404/409 for a rule the spec cannot state; data the
  spec forbids is refused (schemathesis' positive and negative data checks, on the cases
  generated as such);
- list queries carry page tokens at any position, past 64-bit row ids included;
- a stateful phase chains operations through the links schemathesis infers (a SID from one
  answer in the next call's path) and never gets a 5xx or a malformed error;
- the requests are meaningful: path SIDs name real records most of the time (a service with two
  numbers and a short code, a session with two participants, an interaction), many bodies and
  queries are realistic (valid E.164 identifiers, owned short codes, JSON participants, page
  tokens the API gave), and each operation must answer 2xx at least once, so the checks above
  cover the success paths too.

Operations that would spoil the shared records (the deletes, UpdateSession, CreateParticipant)
act on records made for them alone: a path parameter drawn as FRESH is replaced, just before the
call, by a record created for that one case; bodies likewise ask for a fresh short code, number
or unique name, so that creates can succeed. The pool and service updates act on a scratch
service.

The server is a dedicated one with its own database (on the engine the run tests), so what
fuzzing creates never reaches the other test modules. Each operation is an ordinary pytest case
that runs a Hypothesis test over schemathesis' strategy for it (positive and negative inputs),
derandomized and with no example database. `schema.parametrize()` is not used: under pytest 9
its items share one node id, and pytest-xdist then runs only one of them.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_schema_conformance,
)

from tests.support import ACCOUNT_SID, AUTH_TOKEN, SPEC_PATH, Server, new_database_url

# Cases per operation (30 operations): about 20 seconds on two cores.
MAX_EXAMPLES = 20
# Fewer cases than this for one operation means generation went wrong.
MIN_CASES = 10

# No generated Authorization header: every case carries the account's credentials.
# Data valid by the spec may still break a rule the spec cannot state (an unknown SID, a phone
# number that cannot exist, a pair already in use): 400, 404 or 409, never 5xx. Data the spec
# forbids must be refused.
CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"with-security-parameters": False},
        "checks": {
            "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "404", "409"]},
            "negative_data_rejection": {"expected-statuses": ["400", "404", "405", "409", "413"]},
        },
    }
)
schema = schemathesis.openapi.from_path(SPEC_PATH, config=CONFIG)

# Stand-ins `meaningful` puts in a path; the test swaps them for records made for that case.
FRESH = "fresh"
# ... and in bodies: a short code owned and in no pool, a number never used, a name never used.
FRESH_SHORT_CODE = "SC-fresh"
FRESH_NUMBER = "+1-fresh"
FRESH_NAME = "name-fresh"

OPERATION_IDS = [
    operation["operationId"]
    for item in json.loads(SPEC_PATH.read_text())["paths"].values()
    for operation in item.values()
    if isinstance(operation, dict) and "operationId" in operation
]


def _post(http: httpx.Client, path: str, data: dict[str, Any]) -> dict[str, Any]:
    response = http.post(path, data=data)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass
class World:
    """The records generated requests point at, and a way to make throwaway ones."""

    base_url: str
    http: httpx.Client
    service: str
    service_name: str
    numbers: list[str]
    short_code: str
    session: str
    participants: list[str]
    interaction: str
    scratch: str
    scratch_number: str
    scratch_short_code: str
    spare_short_code: str
    page_tokens: list[str]
    session_http: requests.Session = field(default_factory=requests.Session)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def identifier(self) -> str:
        """A valid US number no other throwaway record uses."""
        n = next(self.counter)
        return f"+1212{300 + n // 10000:03d}{n % 10000:04d}"

    def name(self) -> str:
        return f"name-{next(self.counter)}"

    def fresh_body(self, body: Any) -> Any:
        """`body` with its FRESH_* stand-ins replaced by values made for this case."""
        if not isinstance(body, dict):
            return body
        makers: dict[str, Callable[[], str]] = {
            FRESH_SHORT_CODE: self.new_short_code,
            FRESH_NUMBER: self.identifier,
            FRESH_NAME: self.name,
        }
        return {
            key: makers[value]() if isinstance(value, str) and value in makers else value
            for key, value in body.items()
        }

    def new_short_code(self) -> str:
        code = str(700000 + next(self.counter))
        return str(_post(self.http, "/sandbox/v1/ShortCodes", {"ShortCode": code})["sid"])

    def new_session(self, participants: int = 0) -> tuple[str, list[str]]:
        sessions = f"/v1/Services/{self.service}/Sessions"
        session = str(_post(self.http, sessions, {})["sid"])
        added = [
            str(
                _post(
                    self.http,
                    f"{sessions}/{session}/Participants",
                    {"Identifier": self.identifier()},
                )["sid"]
            )
            for _ in range(participants)
        ]
        return session, added

    def fresh_path(self, operation_id: str) -> dict[str, str]:
        """Path parameters naming records made just now for one case of `operation_id`."""
        if operation_id == "DeleteService":
            name = f"doomed-{next(self.counter)}"
            return {"Sid": _post(self.http, "/v1/Services", {"UniqueName": name})["sid"]}
        if operation_id == "DeletePhoneNumber":
            number = _post(
                self.http,
                f"/v1/Services/{self.scratch}/PhoneNumbers",
                {"PhoneNumber": self.identifier()},
            )
            return {"ServiceSid": self.scratch, "Sid": number["sid"]}
        if operation_id == "DeleteShortCode":
            sid = self.new_short_code()
            _post(self.http, f"/v1/Services/{self.scratch}/ShortCodes", {"Sid": sid})
            return {"ServiceSid": self.scratch, "Sid": sid}
        if operation_id in ("DeleteSession", "UpdateSession"):
            session, _ = self.new_session(participants=1)
            return {"ServiceSid": self.service, "Sid": session}
        if operation_id == "CreateParticipant":
            session, _ = self.new_session()
            return {"ServiceSid": self.service, "SessionSid": session}
        if operation_id == "DeleteParticipant":
            session, participants = self.new_session(participants=1)
            return {"ServiceSid": self.service, "SessionSid": session, "Sid": participants[0]}
        if operation_id == "DeleteInteraction":
            session, participants = self.new_session(participants=1)
            interaction = _post(
                self.http,
                f"/v1/Services/{self.service}/Sessions/{session}/Participants/"
                f"{participants[0]}/MessageInteractions",
                {"Body": "hello"},
            )
            return {"ServiceSid": self.service, "SessionSid": session, "Sid": interaction["sid"]}
        raise AssertionError(f"{operation_id} has no fresh records")


def build_world(base_url: str, http: httpx.Client) -> World:
    name = "schemathesis-main"
    service = _post(http, "/v1/Services", {"UniqueName": name})["sid"]
    pool = f"/v1/Services/{service}"
    numbers = [
        _post(http, f"{pool}/PhoneNumbers", {"PhoneNumber": f"+1415200000{i}"})["sid"]
        for i in range(2)
    ]
    short_code = _post(http, "/sandbox/v1/ShortCodes", {"ShortCode": "60001"})["sid"]
    _post(http, f"{pool}/ShortCodes", {"Sid": short_code})
    participants_json = [json.dumps({"Identifier": f"+1415555010{i}"}) for i in (1, 2)]
    session = _post(
        http,
        f"{pool}/Sessions",
        {"UniqueName": "schemathesis-session", "Participants": participants_json},
    )["sid"]
    listed = http.get(f"{pool}/Sessions/{session}/Participants").json()
    participants = [item["sid"] for item in listed["participants"]]
    assert len(participants) == 2
    interaction = _post(
        http,
        f"{pool}/Sessions/{session}/Participants/{participants[0]}/MessageInteractions",
        {"Body": "hello from schemathesis"},
    )["sid"]
    scratch = _post(http, "/v1/Services", {"UniqueName": "schemathesis-scratch"})["sid"]
    scratch_number = _post(
        http, f"/v1/Services/{scratch}/PhoneNumbers", {"PhoneNumber": "+14152000009"}
    )["sid"]
    scratch_short_code = _post(http, "/sandbox/v1/ShortCodes", {"ShortCode": "60002"})["sid"]
    _post(http, f"/v1/Services/{scratch}/ShortCodes", {"Sid": scratch_short_code})
    spare_short_code = _post(http, "/sandbox/v1/ShortCodes", {"ShortCode": "60003"})["sid"]
    # Page tokens as the API hands them out: forward from the first page, back from the second.
    first = http.get("/v1/Services", params={"PageSize": 1}).json()["meta"]
    second = http.get(first["next_page_url"]).json()["meta"]
    page_tokens = [
        parse_qs(urlsplit(url).query)["PageToken"][0]
        for url in (first["next_page_url"], second["previous_page_url"])
    ]
    return World(
        base_url=base_url,
        http=http,
        service=service,
        service_name=name,
        numbers=numbers,
        short_code=short_code,
        session=session,
        participants=participants,
        interaction=interaction,
        scratch=scratch,
        scratch_number=scratch_number,
        scratch_short_code=scratch_short_code,
        spare_short_code=spare_short_code,
        page_tokens=page_tokens,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    database_url = new_database_url(tmp_path_factory.mktemp("schemathesis"))
    server = Server(database_url=database_url).start()
    try:
        with server.http() as http:
            world = build_world(server.base_url, http)
            with world.session_http:
                yield world
    finally:
        server.stop()


# Which record each path parameter names, per operation: a key of `_real`, or FRESH.
ROLES: dict[str, dict[str, str]] = {
    "ListService": {},
    "CreateService": {},
    "FetchService": {"Sid": "service"},
    "UpdateService": {"Sid": "scratch"},
    "DeleteService": {"Sid": FRESH},
    "ListPhoneNumber": {"ServiceSid": "service"},
    "CreatePhoneNumber": {"ServiceSid": "service"},
    "FetchPhoneNumber": {"ServiceSid": "service", "Sid": "number"},
    "UpdatePhoneNumber": {"ServiceSid": "scratch", "Sid": "scratch_number"},
    "DeletePhoneNumber": {"ServiceSid": FRESH, "Sid": FRESH},
    "ListShortCode": {"ServiceSid": "service"},
    "CreateShortCode": {"ServiceSid": "scratch"},
    "FetchShortCode": {"ServiceSid": "service", "Sid": "short_code"},
    "UpdateShortCode": {"ServiceSid": "scratch", "Sid": "scratch_short_code"},
    "DeleteShortCode": {"ServiceSid": FRESH, "Sid": FRESH},
    "ListSession": {"ServiceSid": "service"},
    "CreateSession": {"ServiceSid": "service"},
    "FetchSession": {"ServiceSid": "service", "Sid": "session"},
    "UpdateSession": {"ServiceSid": FRESH, "Sid": FRESH},
    "DeleteSession": {"ServiceSid": FRESH, "Sid": FRESH},
    "ListParticipant": {"ServiceSid": "service", "SessionSid": "session"},
    "CreateParticipant": {"ServiceSid": FRESH, "SessionSid": FRESH},
    "FetchParticipant": {"ServiceSid": "service", "SessionSid": "session", "Sid": "participant"},
    "DeleteParticipant": {"ServiceSid": FRESH, "SessionSid": FRESH, "Sid": FRESH},
    "ListInteraction": {"ServiceSid": "service", "SessionSid": "session"},
    "FetchInteraction": {"ServiceSid": "service", "SessionSid": "session", "Sid": "interaction"},
    "DeleteInteraction": {"ServiceSid": FRESH, "SessionSid": FRESH, "Sid": FRESH},
    "ListMessageInteraction": {
        "ServiceSid": "service",
        "SessionSid": "session",
        "ParticipantSid": "messaged",
    },
    "CreateMessageInteraction": {
        "ServiceSid": "service",
        "SessionSid": "session",
        "ParticipantSid": "participant",
    },
    "FetchMessageInteraction": {
        "ServiceSid": "service",
        "SessionSid": "session",
        "ParticipantSid": "messaged",
        "Sid": "interaction",
    },
}


def operation_id(case: Case[Any]) -> str:
    return str(case.operation.definition.raw["operationId"])


def _real(world: World, role: str) -> st.SearchStrategy[str]:
    choices: dict[str, list[str]] = {
        # The path segment of a service may be its SID or its unique name.
        "service": [world.service, world.service, world.service_name],
        "scratch": [world.scratch],
        "number": world.numbers,
        "scratch_number": [world.scratch_number],
        "short_code": [world.short_code],
        "scratch_short_code": [world.scratch_short_code],
        "session": [world.session],
        "participant": world.participants,
        # The interaction went to the first participant.
        "messaged": [world.participants[0]],
        "interaction": [world.interaction],
    }
    return st.sampled_from(choices[role])


def _phone_numbers(lines: int = 30) -> st.SearchStrategy[str]:
    # Valid US numbers (NANP exchange 2xx), from a narrow range so that some repeat.
    return st.builds(
        lambda exchange, line: f"+1415{exchange}{line:04d}",
        st.integers(200, 209),
        st.integers(0, lines),
    )


def _urls() -> st.SearchStrategy[str]:
    return st.sampled_from(["https://example.com/callback", "http://127.0.0.1:9/cb", ""])


def _dates() -> st.SearchStrategy[str]:
    now = datetime.now(UTC).replace(microsecond=0)
    return st.integers(-3600, 10**7).map(
        lambda seconds: (now + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def _optional(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


def _realistic_body(world: World, op: str) -> st.SearchStrategy[dict[str, Any]] | None:
    """A body a real client could send, or None where the generated one is as good."""
    names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1)
    if op in ("CreateService", "UpdateService"):
        unique = st.one_of(st.just(FRESH_NAME), st.builds(lambda n: f"svc-{n}", st.integers(0, 9)))
        body = _optional(
            DefaultTtl=st.integers(0, 86400),
            GeoMatchLevel=st.sampled_from(["country", "area-code", "overlay", "radius"]),
            NumberSelectionBehavior=st.sampled_from(["prefer-sticky", "avoid-sticky"]),
            CallbackUrl=_urls(),
            InterceptCallbackUrl=_urls(),
            OutOfSessionCallbackUrl=_urls(),
        )
        if op == "CreateService":
            return st.builds(lambda b, n: {**b, "UniqueName": n}, body, unique)
        # UpdateService acts on the scratch service: its name may change freely.
        return st.builds(lambda b, n: {**b, **n}, body, _optional(UniqueName=unique))
    if op == "CreatePhoneNumber":
        owned = st.sampled_from([*world.numbers, world.scratch_number])
        return st.builds(
            lambda number, extra: {**number, **extra},
            st.one_of(
                st.sampled_from([FRESH_NUMBER, FRESH_NUMBER]).map(lambda n: {"PhoneNumber": n}),
                _phone_numbers(lines=9999).map(lambda n: {"PhoneNumber": n}),
                owned.map(lambda sid: {"Sid": sid}),
            ),
            _optional(IsReserved=st.booleans()),
        )
    if op in ("UpdatePhoneNumber", "UpdateShortCode"):
        return _optional(IsReserved=st.booleans())
    if op == "CreateShortCode":
        # Mostly a short code owned and in no pool yet; else ones in a pool (or soon to be).
        known = [world.short_code, world.scratch_short_code, world.spare_short_code]
        codes = st.sampled_from([FRESH_SHORT_CODE] * 6 + known)
        return codes.map(lambda sid: {"Sid": sid})
    if op == "CreateSession":
        participant = st.builds(
            lambda identifier, name: json.dumps(
                {"Identifier": identifier, **({"FriendlyName": name} if name else {})}
            ),
            _phone_numbers(),
            st.one_of(st.none(), names),
        )
        return _optional(
            UniqueName=st.builds(lambda n: f"session-{n}", st.integers(0, 1000)),
            Mode=st.sampled_from(["message-only", "voice-only", "voice-and-message"]),
            Status=st.sampled_from(["open", "in-progress", "closed", "failed"]),
            Ttl=st.integers(0, 86400),
            DateExpiry=_dates(),
            Participants=st.lists(participant, max_size=2),
        )
    if op == "UpdateSession":
        return _optional(
            Status=st.sampled_from(["open", "in-progress", "closed", "failed", "unknown"]),
            Ttl=st.integers(0, 86400),
            DateExpiry=_dates(),
        )
    if op == "CreateParticipant":
        return st.builds(
            lambda identifier, extra: {"Identifier": identifier, **extra},
            st.one_of(st.just(FRESH_NUMBER), _phone_numbers()),
            _optional(
                FriendlyName=names,
                ProxyIdentifier=st.sampled_from(["+14152000000", "+14152000001"]),
            ),
        )
    if op == "CreateMessageInteraction":
        # Body, MediaUrl or both: one of them is required.
        media = st.lists(st.just("https://example.com/a.png"), min_size=1, max_size=2)
        return st.one_of(
            st.fixed_dictionaries(
                {"Body": st.text(min_size=1, max_size=40)}, optional={"MediaUrl": media}
            ),
            st.fixed_dictionaries({"MediaUrl": media}),
        )
    return None


# Cases `meaningful` changed: generated as valid or invalid, they are neither any more, so the
# positive and negative data checks do not judge them.
ADJUSTED: set[int] = set()


def meaningful(world: World, case: Case[Any]) -> st.SearchStrategy[Case[Any]]:
    """Point most cases at real records; give many a realistic body or page query."""
    op = operation_id(case)
    roles = ROLES[op]

    @st.composite
    def adjusted(draw: Callable[[st.SearchStrategy[Any]], Any]) -> Case[Any]:
        # Each path parameter names a real record 7 times in 8; FRESH ones all or none.
        # (Hypothesis favours the simplest value, 0, so 0..6 mean "real".)
        path = dict(case.path_parameters)
        fresh = draw(st.integers(0, 7)) != 7
        for name, role in roles.items():
            if role == FRESH:
                if fresh:
                    path[name] = FRESH
            elif draw(st.integers(0, 7)) != 7:
                path[name] = draw(_real(world, role))
        if path != case.path_parameters:
            case.path_parameters = path
            ADJUSTED.add(id(case))
        # Four bodies and three queries in five are realistic; the others are as generated.
        realistic = _realistic_body(world, op)
        if realistic is not None and draw(st.integers(0, 4)) != 4:
            case.body = draw(realistic)
            ADJUSTED.add(id(case))
        if op.startswith("List") and draw(st.integers(0, 4)) < 3:
            case.query = draw(
                _optional(
                    PageSize=st.integers(1, 3),
                    Page=st.integers(0, 2),
                    PageToken=st.one_of(
                        st.sampled_from(world.page_tokens),
                        # Tokens shaped as the API makes them, naming any position at all.
                        st.builds(
                            lambda kind, n: f"{kind}{n}",
                            st.sampled_from(["PA", "PB"]),
                            st.one_of(st.integers(0, 2**63 - 1), st.integers(2**63, 10**25)),
                        ),
                    ),
                )
            )
            ADJUSTED.add(id(case))
        return case

    return adjusted()


def error_body_problem(status: int, content: bytes) -> str | None:
    """Why a 4xx body is not a Twilio error body, or None when it is one."""
    try:
        body = json.loads(content)
    except ValueError:
        return f"not JSON: {content[:200]!r}"
    if not isinstance(body, dict):
        return f"not an object: {body!r}"
    missing = {"code", "message", "more_info", "status"} - set(body)
    if missing:
        return f"missing {sorted(missing)}"
    if type(body["status"]) is not int or body["status"] != status:
        return f"status {body['status']!r} is not {status}"
    if type(body["code"]) is not int or not isinstance(body["message"], str):
        return f"code or message of the wrong type: {body!r}"
    if body["more_info"] != f"https://www.twilio.com/docs/errors/{body['code']}":
        return f"more_info {body['more_info']!r}"
    return None


def twilio_error_body(ctx: Any, response: schemathesis.Response, case: Case[Any]) -> bool | None:
    """Every 4xx answer is a Twilio error body (the spec documents no 4xx)."""
    if 400 <= response.status_code < 500:
        problem = error_body_problem(response.status_code, response.content)
        if problem is not None:
            raise AssertionError(f"{response.status_code} is not a Twilio error body: {problem}")
    return None


def _field_problems(instance: Any, node: dict[str, Any], where: str) -> Iterator[str]:
    """Objects whose fields are not exactly the schema's `properties`, anywhere in `instance`."""
    ref = node.get("$ref")
    if isinstance(ref, str):
        node = schema.raw_schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    properties = node.get("properties")
    if isinstance(instance, dict) and isinstance(properties, dict):
        extra, missing = set(instance) - set(properties), set(properties) - set(instance)
        if extra or missing:
            yield f"{where or '/'}: extra {sorted(extra)}, missing {sorted(missing)}"
        for name in set(instance) & set(properties):
            yield from _field_problems(instance[name], properties[name], f"{where}/{name}")
    elif isinstance(instance, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(instance):
            yield from _field_problems(item, node["items"], f"{where}/{i}")


def exactly_the_spec_fields(
    ctx: Any, response: schemathesis.Response, case: Case[Any]
) -> bool | None:
    """A documented answer has the spec's fields, no more and no fewer (the spec marks none
    required and allows extras, but the SDKs and PROXY_BEHAVIOUR.md want exactly these)."""
    documented = case.operation.definition.raw["responses"].get(str(response.status_code))
    content = (documented or {}).get("content", {}).get("application/json")
    if content is None:
        return None
    problems = list(_field_problems(json.loads(response.content), content["schema"], ""))
    if problems:
        raise AssertionError("fields differ from the spec: " + "; ".join(problems))
    return None


# Undocumented statuses (the 4xx) are not failures: the schema checks skip them.
CHECKS = [
    not_a_server_error,
    content_type_conformance,
    response_schema_conformance,
    exactly_the_spec_fields,
    positive_data_acceptance,
    negative_data_rejection,
]
DATA_CHECKS = (positive_data_acceptance, negative_data_rejection)


@pytest.mark.parametrize("op", OPERATION_IDS)
def test_operation_conforms_to_spec(op: str, world: World) -> None:
    operation = schema.find_operation_by_id(op)
    # Valid and invalid inputs, as schemathesis' `mode = "all"`.
    generated = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=generated.flatmap(lambda case: meaningful(world, case)))
    def check(case: Case[Any]) -> None:
        if FRESH in case.path_parameters.values():
            case.path_parameters = {**case.path_parameters, **world.fresh_path(op)}
        body = world.fresh_body(case.body)
        if body != case.body:
            case.body = body
        response = case.call(
            base_url=world.base_url, session=world.session_http, auth=(ACCOUNT_SID, AUTH_TOKEN)
        )
        statuses[response.status_code] += 1
        checks = [*CHECKS, twilio_error_body]
        if id(case) in ADJUSTED:
            ADJUSTED.discard(id(case))
            checks = [c for c in checks if c not in DATA_CHECKS]
        case.validate_response(response, checks=checks)
        assert response.status_code != 401, "the credentials were refused"

    check()
    assert sum(statuses.values()) >= MIN_CASES, statuses
    # Some case reached a real record and succeeded, so the schema checks saw a 2xx body.
    assert any(200 <= status < 300 for status in statuses), statuses


# Steps of each stateful sequence, and sequences run.
STATEFUL_STEPS = 8
STATEFUL_SEQUENCES = 40


def test_stateful_sequences_never_fail_the_server(world: World) -> None:
    """Sequences that feed one answer's SIDs into the next call (links schemathesis infers from
    the spec's paths and response fields): creates, fetches, updates and deletes in any order,
    on records made a moment before, never get a 5xx or a malformed answer."""
    base = schema.as_state_machine()
    calls: Counter[int] = Counter()

    class Workflow(base):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
            return {
                "base_url": world.base_url,
                "session": world.session_http,
                "auth": (ACCOUNT_SID, AUTH_TOKEN),
            }

        def validate_response(
            self, response: Any, case: Case[Any], additional_checks: Any = None, **kwargs: Any
        ) -> None:
            calls[response.status_code] += 1
            case.validate_response(
                response,
                checks=[not_a_server_error, content_type_conformance, twilio_error_body],
            )

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_SEQUENCES,
            stateful_step_count=STATEFUL_STEPS,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert sum(calls.values()) >= STATEFUL_SEQUENCES, calls
    assert any(200 <= status < 300 for status in calls), calls
