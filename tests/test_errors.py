"""Error responses: one JSON shape everywhere, the right status, and never a 500 for bad input."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import next_number
from tests.support import Server, unique

ERROR_KEYS = {"code", "message", "more_info", "status"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def assert_error(response: httpx.Response, status: int, code: int | None = None) -> dict[str, Any]:
    """The one error shape: code, message, more_info and status (plus details), nothing else."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert ERROR_KEYS <= set(body) <= ERROR_KEYS | {"details"}, body
    assert not {"type", "title"} <= set(body)
    assert isinstance(body["status"], int) and not isinstance(body["status"], bool)
    assert body["status"] == status
    assert isinstance(body["code"], int) and not isinstance(body["code"], bool)
    assert isinstance(body["message"], str) and body["message"]
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{body['code']}"
    if "details" in body:
        assert isinstance(body["details"], dict)
    if code is not None:
        assert body["code"] == code, body
    return body


@pytest.fixture(scope="module")
def tree(client: Client) -> dict[str, str]:
    """One of each resource: service, number, short code, session, participant, interaction."""
    service = client.proxy.v1.services.create(unique_name=unique("svc"))
    number = client.proxy.v1.services(service.sid).phone_numbers.create(phone_number=next_number())
    sessions = client.proxy.v1.services(service.sid).sessions
    session = sessions.create(
        participants=[{"Identifier": next_number("212")}, {"Identifier": next_number("212")}]
    )
    participant = sessions(session.sid).participants.list()[0]
    sent = (
        sessions(session.sid)
        .participants(participant.sid)
        .message_interactions.create(body="hello")
    )
    return {
        "service": service.sid,
        "number": number.sid,
        "session": session.sid,
        "participant": participant.sid,
        "interaction": sent.sid,
    }


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/v1",
        "/v2/Services",
        "/v1/Nothing",
        "/v1/services",
        "/v1/Services/KS00000000000000000000000000000000/Nothing",
        "/sandbox/v1/Nothing",
        "/healthz/extra",
    ],
)
def test_unknown_path_is_404_json(api: httpx.Client, path: str) -> None:
    assert_error(api.get(path), 404, 20404)
    assert_error(api.post(path, data={"A": "b"}), 404, 20404)


def test_unknown_sids_are_404(api: httpx.Client, tree: dict[str, str]) -> None:
    svc = f"/v1/Services/{tree['service']}"
    ses = f"{svc}/Sessions/{tree['session']}"
    part = f"{ses}/Participants/{tree['participant']}"
    missing = {
        "service": "/v1/Services/KS" + "0" * 32,
        "service by name": "/v1/Services/" + unique("no-such-name"),
        "phone number": f"{svc}/PhoneNumbers/PN" + "0" * 32,
        "short code": f"{svc}/ShortCodes/SC" + "0" * 32,
        "session": f"{svc}/Sessions/KC" + "0" * 32,
        "participant": f"{ses}/Participants/KP" + "0" * 32,
        "interaction": f"{ses}/Interactions/KI" + "0" * 32,
        "message interaction": f"{part}/MessageInteractions/KI" + "0" * 32,
        "not a sid at all": f"{svc}/PhoneNumbers/nonsense",
    }
    for what, path in missing.items():
        body = assert_error(api.get(path), 404, 20404)
        assert body["message"], what
        if what != "message interaction":  # the API has no DeleteMessageInteraction
            assert_error(api.delete(path), 404, 20404)
    for path in (missing["service"], missing["phone number"], missing["session"]):
        assert_error(api.post(path, data={}), 404, 20404)
    # Children of a missing parent are missing too, lists and creates included.
    for path in (
        missing["service"] + "/Sessions",
        missing["service"] + "/PhoneNumbers",
        missing["service"] + "/ShortCodes",
        missing["session"] + "/Participants",
        missing["session"] + "/Interactions",
        missing["participant"] + "/MessageInteractions",
    ):
        assert_error(api.get(path), 404, 20404)
        if not path.endswith("/Interactions"):  # Interactions are created by traffic only
            assert_error(api.post(path, data={}), 404, 20404)


def test_resources_are_not_found_under_the_wrong_parent(
    client: Client, api: httpx.Client, tree: dict[str, str]
) -> None:
    other = client.proxy.v1.services.create(unique_name=unique("svc"))
    under_other = f"/v1/Services/{other.sid}"
    assert_error(api.get(f"{under_other}/Sessions/{tree['session']}"), 404, 20404)
    assert_error(api.get(f"{under_other}/PhoneNumbers/{tree['number']}"), 404, 20404)
    assert_error(
        api.get(f"{under_other}/Sessions/{tree['session']}/Participants/{tree['participant']}"),
        404,
        20404,
    )
    # A participant SID is not an interaction SID.
    ses = f"/v1/Services/{tree['service']}/Sessions/{tree['session']}"
    assert_error(api.get(f"{ses}/Interactions/{tree['participant']}"), 404, 20404)
    assert api.get(f"{ses}/Interactions/{tree['interaction']}").status_code == 200


def test_sdk_raises_rest_exceptions_with_the_code(client: Client) -> None:
    with pytest.raises(TwilioRestException) as err:
        client.proxy.v1.services("KS" + "0" * 32).sessions("KC" + "0" * 32).fetch()
    assert (err.value.status, err.value.code) == (404, 20404)
    assert err.value.msg


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/v1/Services"),
        ("DELETE", "/v1/Services"),
        ("PATCH", "/v1/Services/{service}"),
        ("PUT", "/v1/Services/{service}/Sessions/{session}"),
        ("POST", "/v1/Services/{service}/Sessions/{session}/Interactions"),
        ("POST", "/v1/Services/{service}/Sessions/{session}/Interactions/{interaction}"),
        ("POST", "/v1/Services/{service}/Sessions/{session}/Participants/{participant}"),
        ("DELETE", "/v1/Services/{service}/PhoneNumbers"),
        ("POST", "/healthz"),
    ],
)
def test_wrong_method_is_405(
    api: httpx.Client, tree: dict[str, str], method: str, path: str
) -> None:
    response = api.request(method, path.format(**tree), data={"A": "b"})
    assert_error(response, 405)


def test_every_error_has_the_one_shape(
    client: Client, api: httpx.Client, server: Server, tree: dict[str, str]
) -> None:
    svc = f"/v1/Services/{tree['service']}"
    ses = f"{svc}/Sessions/{tree['session']}"
    with httpx.Client(base_url=server.base_url) as anonymous:
        assert_error(anonymous.get("/v1/Services"), 401, 20003)
    assert_error(api.post("/v1/Services", data={}), 400, 80701)
    assert_error(api.post("/v1/Services", data={"UniqueName": "x" * 192}), 400, 80701)
    name = unique("svc")
    assert api.post("/v1/Services", data={"UniqueName": name}).status_code == 201
    assert_error(api.post("/v1/Services", data={"UniqueName": name}), 400, 80602)
    assert_error(api.post(f"{svc}/Sessions", data={"Mode": "telepathy"}), 400, 80701)
    assert_error(api.post(f"{svc}/Sessions", data={"Ttl": "soon"}), 400, 80701)
    assert_error(api.post(f"{svc}/Sessions", data={"DateExpiry": "tomorrow"}), 400, 80701)
    assert_error(api.post(f"{ses}/Participants", data={"Identifier": "hello"}), 400, 80404)
    assert_error(
        api.post(f"{ses}/Participants", data={"Identifier": next_number("212")}), 400, 80609
    )
    assert_error(api.post(f"{svc}/PhoneNumbers", data={"Sid": tree["number"]}), 400, 80104)
    # The pool's only number is taken by this identifier already: nothing is left for it.
    first = client.proxy.v1.services(tree["service"]).sessions(tree["session"])
    taken = first.participants.list()[0].identifier
    pair = api.post(f"{svc}/Sessions", data={"Participants": f'{{"Identifier": "{taken}"}}'})
    assert_error(pair, 400, 80208)
    assert_error(api.get("/v1/Services", params={"PageSize": "0"}), 400, 80701)
    assert_error(api.get(f"{svc}/Nothing"), 404, 20404)
    assert_error(api.put("/v1/Services"), 405)


def test_body_over_one_mebibyte_is_413(api: httpx.Client) -> None:
    too_big = b"UniqueName=" + b"x" * (1024 * 1024)
    response = api.post("/v1/Services", content=too_big, headers=FORM)
    assert_error(response, 413)
    # Just under the limit is read (and then refused for what it says, not for its size).
    fits = b"UniqueName=" + b"x" * (1024 * 1024 - 20)
    assert_error(api.post("/v1/Services", content=fits, headers=FORM), 400, 80701)


def test_get_and_delete_accept_an_empty_form_body(
    client: Client, api: httpx.Client, tree: dict[str, str]
) -> None:
    listed = api.get("/v1/Services", headers=FORM)
    assert listed.status_code == 200
    fetched = api.request("GET", f"/v1/Services/{tree['service']}", content=b"", headers=FORM)
    assert fetched.status_code == 200
    assert fetched.json()["sid"] == tree["service"]

    doomed = client.proxy.v1.services.create(unique_name=unique("svc"))
    deleted = api.request("DELETE", f"/v1/Services/{doomed.sid}", content=b"", headers=FORM)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(api.get(f"/v1/Services/{doomed.sid}"), 404, 20404)


@pytest.mark.parametrize(
    "body",
    [
        b"UniqueName=\xff\xfe",
        b"\xc3\x28=1",
        b"UniqueName=%FF%FE",
        b"UniqueName=caf%E9",
        b"%C3%28=x",
    ],
)
def test_invalid_utf8_body_is_400(api: httpx.Client, body: bytes) -> None:
    assert_error(api.post("/v1/Services", content=body, headers=FORM), 400, 80701)


def test_invalid_utf8_query_is_400(api: httpx.Client) -> None:
    assert_error(api.get("/v1/Services?PageToken=%FF"), 400, 80701)
    assert_error(api.get("/v1/Services?Page%C3%28=1"), 400, 80701)


@pytest.mark.parametrize(
    "data",
    [
        {"UniqueName": "a\x00b"},
        {"UniqueName": "ok", "DefaultTtl": "9" * 40},
        {"UniqueName": "ok", "DefaultTtl": "-1"},
        {"UniqueName": "ok", "CallbackUrl": "not a url"},
        {"UniqueName": "ok", "CallbackUrl": "http://[::1"},
        {"UniqueName": "ok", "GeoMatchLevel": "planet"},
        {"UniqueName": "ok", "ChatInstanceSid": "IS1"},
        {"UniqueName": "   "},
    ],
)
def test_odd_values_are_400_not_500(api: httpx.Client, data: dict[str, str]) -> None:
    assert_error(api.post("/v1/Services", data=data), 400, 80701)


def test_odd_paths_are_not_500(api: httpx.Client) -> None:
    for path in (
        "/v1/Services/%FF%FE",
        "/v1/Services/" + "K" * 5000,
        "/v1/Services/..%2F..%2Fetc",
        "/v1//Services",
        "/v1/Services/%00",
    ):
        response = api.get(path)
        assert response.status_code == 404, (path, response.text)
        assert_error(response, 404, 20404)


# -- inputs that once answered 500 --------------------------------------------------------


@pytest.mark.parametrize("value", ["--5", "+-5", "-+5", "++5", "5-", "1" * 5000, "9" * 19, "0x10"])
def test_integers_out_of_shape_or_range_are_400(
    api: httpx.Client, tree: dict[str, str], value: str
) -> None:
    service = tree["service"]
    assert_error(api.post(f"/v1/Services/{service}", data={"DefaultTtl": value}), 400, 80701)
    assert_error(api.post(f"/v1/Services/{service}/Sessions", data={"Ttl": value}), 400, 80701)
    assert_error(api.get("/v1/Services", params={"PageSize": value}), 400, 80701)
    assert_error(api.get("/v1/Services", params={"Page": value}), 400, 80701)


def test_a_leading_zero_or_sign_is_still_a_whole_number(
    api: httpx.Client, tree: dict[str, str]
) -> None:
    service = tree["service"]
    assert api.get("/v1/Services", params={"PageSize": "+0002"}).json()["meta"]["page_size"] == 2
    answered = api.post(f"/v1/Services/{service}", data={"DefaultTtl": "0" * 40 + "60"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["default_ttl"] == 60


@pytest.mark.parametrize(
    "token", ["PA99999999999999999999", "PB9223372036854775808", "PA" + "9" * 62]
)
def test_page_tokens_past_any_row_id_are_400_on_every_list(
    api: httpx.Client, tree: dict[str, str], token: str
) -> None:
    service, session, participant = tree["service"], tree["session"], tree["participant"]
    for path in (
        "/v1/Services",
        f"/v1/Services/{service}/PhoneNumbers",
        f"/v1/Services/{service}/ShortCodes",
        f"/v1/Services/{service}/Sessions",
        f"/v1/Services/{service}/Sessions/{session}/Participants",
        f"/v1/Services/{service}/Sessions/{session}/Interactions",
        f"/v1/Services/{service}/Sessions/{session}/Participants/{participant}/MessageInteractions",
        "/maskline/v1/Events",
        "/maskline/v1/Callbacks",
    ):
        assert_error(api.get(path, params={"PageToken": token}), 400, 80701)


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "1969-12-31T23:59:59Z"]
)
def test_dates_past_what_the_api_can_show_are_400(
    api: httpx.Client, tree: dict[str, str], value: str
) -> None:
    service, session = tree["service"], tree["session"]
    created = api.post(f"/v1/Services/{service}/Sessions", data={"DateExpiry": value})
    assert_error(created, 400, 80701)
    updated = api.post(f"/v1/Services/{service}/Sessions/{session}", data={"DateExpiry": value})
    assert_error(updated, 400, 80701)


def test_the_latest_date_the_api_shows_is_accepted(api: httpx.Client, tree: dict[str, str]) -> None:
    created = api.post(
        f"/v1/Services/{tree['service']}/Sessions", data={"DateExpiry": "9999-12-31T23:59:59Z"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["date_expiry"] == "9999-12-31T23:59:59Z"


@pytest.mark.parametrize(
    "name", ["tab\there", "line\nbreak", "bell\x07", "zero\u200bwidth", "bidi\u202eoverride"]
)
def test_names_with_control_or_format_characters_are_400(
    api: httpx.Client, tree: dict[str, str], name: str
) -> None:
    service, session = tree["service"], tree["session"]
    assert_error(api.post("/v1/Services", data={"UniqueName": name}), 400, 80701)
    assert_error(
        api.post(f"/v1/Services/{service}/Sessions", data={"UniqueName": name}), 400, 80701
    )
    joined = api.post(
        f"/v1/Services/{service}/Sessions/{session}/Participants",
        data={"Identifier": next_number("212"), "FriendlyName": name},
    )
    assert_error(joined, 400, 80701)
    participants = [json.dumps({"Identifier": next_number("212"), "FriendlyName": name})]
    assert_error(
        api.post(f"/v1/Services/{service}/Sessions", data={"Participants": participants}),
        400,
        80701,
    )


def test_a_unique_name_is_one_a_path_can_fetch_back(api: httpx.Client) -> None:
    assert_error(api.post("/v1/Services", data={"UniqueName": "a/b"}), 400, 80701)
    for name in (unique("spaced name"), unique("émoji-🚕"), unique("dots.and-dashes_ok")):
        created = api.post("/v1/Services", data={"UniqueName": name})
        assert created.status_code == 201, created.text
        fetched = api.get("/v1/Services/" + quote(name, safe=""))
        assert fetched.status_code == 200, (name, fetched.text)
        assert fetched.json()["sid"] == created.json()["sid"]
