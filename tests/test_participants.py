"""Participants: add, fetch, list, remove, their errors, and how a proxy number is chosen."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.conftest import add_numbers, next_number
from tests.support import assert_schema, unique


def proxy_error(call: Any, status: int, code: int) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as err:
        call()
    assert (err.value.status, err.value.code) == (status, code), err.value.msg
    return err.value


def new_service(client: Client, **settings: Any) -> Any:
    return client.proxy.v1.services.create(unique_name=unique("svc"), **settings)


def new_session(client: Client, service_sid: str, **kwargs: Any) -> Any:
    session = client.proxy.v1.services(service_sid).sessions.create(**kwargs)
    return client.proxy.v1.services(service_sid).sessions(session.sid)


def add(session: Any, identifier: str, **kwargs: Any) -> Any:
    return session.participants.create(identifier=identifier, **kwargs)


def own_number(api: httpx.Client, number: str, **capabilities: bool) -> dict[str, Any]:
    """The account owns `number` (sandbox inventory), with the given capabilities."""
    data = {"PhoneNumber": number}
    for name, value in capabilities.items():
        data[name] = "true" if value else "false"
    response = api.post("/sandbox/v1/PhoneNumbers", data=data)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


def pool_number(
    client: Client, api: httpx.Client, service_sid: str, number: str, **capabilities: bool
) -> Any:
    owned = own_number(api, number, **capabilities)
    return client.proxy.v1.services(service_sid).phone_numbers.create(sid=owned["sid"])


def in_use(client: Client, service_sid: str) -> dict[str, int]:
    pool = client.proxy.v1.services(service_sid).phone_numbers.list()
    return {n.phone_number: n.in_use for n in pool}


# --- Add, fetch, list, remove -------------------------------------------------------------------


def test_add_participant(client: Client, service: Any, api: httpx.Client) -> None:
    numbers = add_numbers(client, service.sid, 1)
    session = new_session(client, service.sid)
    alice = next_number("650")
    participant = add(session, alice, friendly_name="Alice")
    assert participant.sid.startswith("KP") and len(participant.sid) == 34
    assert participant.identifier == alice
    assert participant.friendly_name == "Alice"
    assert participant.proxy_identifier == numbers[0].phone_number
    assert participant.proxy_identifier_sid == numbers[0].sid
    assert participant.session_sid == session._solution["sid"]
    assert participant.service_sid == service.sid
    assert participant.date_deleted is None
    assert in_use(client, service.sid) == {numbers[0].phone_number: 1}

    url = participant.url
    assert url.startswith(f"{api.base_url}/v1/Services/")
    body = api.get(url).json()
    assert_schema(body, "service.session.participant")
    assert body["links"] == {"message_interactions": url + "/MessageInteractions"}


def test_add_participant_raw_is_201(client: Client, service: Any, api: httpx.Client) -> None:
    add_numbers(client, service.sid, 1)
    session = client.proxy.v1.services(service.sid).sessions.create()
    response = api.post(
        f"/v1/Services/{service.sid}/Sessions/{session.sid}/Participants",
        data={"Identifier": next_number("650"), "FriendlyName": "Bob Smith"},
    )
    assert response.status_code == 201, response.text
    assert_schema(response.json(), "service.session.participant")
    assert response.json()["friendly_name"] == "Bob Smith"


def test_identifier_is_required(client: Client, service: Any, api: httpx.Client) -> None:
    session = client.proxy.v1.services(service.sid).sessions.create()
    response = api.post(f"/v1/Services/{service.sid}/Sessions/{session.sid}/Participants", data={})
    assert response.status_code == 400
    assert response.json()["code"] == 80701
    assert "Identifier" in response.json()["message"]


def test_fetch_participant(client: Client, service: Any) -> None:
    add_numbers(client, service.sid, 1)
    session = new_session(client, service.sid)
    created = add(session, next_number("650"))
    fetched = session.participants(created.sid).fetch()
    assert fetched.sid == created.sid
    assert fetched.identifier == created.identifier
    assert fetched.proxy_identifier == created.proxy_identifier
    proxy_error(lambda: session.participants("KP" + "0" * 32).fetch(), 404, 20404)


def test_list_keeps_removed_participants(client: Client, service: Any, api: httpx.Client) -> None:
    add_numbers(client, service.sid, 2)
    session = new_session(client, service.sid)
    alice = add(session, next_number("650"))
    bob = add(session, next_number("650"))
    assert session.participants(alice.sid).delete() is True

    listed = session.participants.list()
    assert [p.sid for p in listed] == [alice.sid, bob.sid]
    assert listed[0].date_deleted is not None
    assert listed[1].date_deleted is None
    assert session.participants(alice.sid).fetch().date_deleted is not None

    body = api.get(bob.url.rsplit("/", 1)[0]).json()
    assert body["meta"]["key"] == "participants"
    for item in body["participants"]:
        assert_schema(item, "service.session.participant")
    assert body["participants"][0]["date_deleted"].endswith("Z")


def test_remove_is_soft_and_frees_the_pair(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 1)
    alice = next_number("650")
    first = new_session(client, service.sid)
    participant = add(first, alice)
    second = new_session(client, service.sid)
    proxy_error(lambda: add(second, alice), 400, 80208)

    assert first.participants(participant.sid).delete() is True
    assert in_use(client, service.sid) == {numbers[0].phone_number: 0}
    moved = add(second, alice)
    assert moved.proxy_identifier == numbers[0].phone_number
    assert in_use(client, service.sid) == {numbers[0].phone_number: 1}
    # Removing again changes nothing.
    assert first.participants(participant.sid).delete() is True
    assert in_use(client, service.sid) == {numbers[0].phone_number: 1}


def test_third_participant_is_80609(client: Client, service: Any) -> None:
    add_numbers(client, service.sid, 1)
    session = new_session(client, service.sid)
    add(session, next_number("650"))
    add(session, next_number("650"))
    proxy_error(lambda: add(session, next_number("650")), 400, 80609)
    assert len(session.participants.list()) == 2


def test_removed_participant_makes_room(client: Client, service: Any) -> None:
    add_numbers(client, service.sid, 1)
    session = new_session(client, service.sid)
    first = add(session, next_number("650"))
    add(session, next_number("650"))
    session.participants(first.sid).delete()
    third = add(session, next_number("650"))
    assert third.date_deleted is None
    assert len(session.participants.list()) == 3


def test_same_identifier_twice_is_80103(client: Client, service: Any) -> None:
    add_numbers(client, service.sid, 2)
    session = new_session(client, service.sid)
    alice = next_number("650")
    participant = add(session, alice)
    proxy_error(lambda: add(session, alice), 400, 80103)
    session.participants(participant.sid).delete()
    proxy_error(lambda: add(session, alice), 400, 80103)


def test_same_identifier_twice_in_create_session_is_80103(
    client: Client, service: Any, api: httpx.Client
) -> None:
    add_numbers(client, service.sid, 2)
    alice = next_number("650")
    sessions = client.proxy.v1.services(service.sid).sessions
    proxy_error(
        lambda: sessions.create(participants=[{"Identifier": alice}, {"Identifier": alice}]),
        400,
        80103,
    )
    assert sessions.list() == []


def test_adding_to_a_closed_session_is_80607(client: Client, service: Any) -> None:
    add_numbers(client, service.sid, 1)
    session = new_session(client, service.sid)
    session.update(status="closed")
    proxy_error(lambda: add(session, next_number("650")), 400, 80607)
    assert session.participants.list() == []


@pytest.mark.parametrize(
    "identifier", ["+1234", "+1415555", "14155550100", "not a number", "+1415abc0100", "+"]
)
def test_invalid_identifier_is_80404(client: Client, service: Any, identifier: str) -> None:
    add_numbers(client, service.sid, 1)
    session = new_session(client, service.sid)
    proxy_error(lambda: add(session, identifier), 400, 80404)


def test_channel_identifier_needs_a_message_only_session(client: Client, service: Any) -> None:
    add_numbers(client, service.sid, 1)
    for mode in ("voice-and-message", "voice-only"):
        session = new_session(client, service.sid, mode=mode)
        proxy_error(lambda s=session: add(s, "messenger:123"), 400, 80616)
    session = new_session(client, service.sid, mode="message-only")
    participant = add(session, "messenger:123")
    assert participant.identifier == "messenger:123"
    whatsapp = add(session, "whatsapp:+14155550123")
    assert whatsapp.identifier == "whatsapp:+14155550123"


def test_explicit_proxy_identifier(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 3)
    session = new_session(client, service.sid)
    participant = add(session, next_number("650"), proxy_identifier=numbers[2].phone_number)
    assert participant.proxy_identifier == numbers[2].phone_number
    assert participant.proxy_identifier_sid == numbers[2].sid
    other = add(session, next_number("650"), proxy_identifier_sid=numbers[1].sid)
    assert other.proxy_identifier == numbers[1].phone_number
    assert other.proxy_identifier_sid == numbers[1].sid


def test_explicit_reserved_number_is_allowed(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 1)
    pool = client.proxy.v1.services(service.sid).phone_numbers
    pool(numbers[0].sid).update(is_reserved=True)
    session = new_session(client, service.sid)
    proxy_error(lambda: add(session, next_number("650")), 400, 80207)
    by_sid = add(session, next_number("650"), proxy_identifier_sid=numbers[0].sid)
    assert by_sid.proxy_identifier == numbers[0].phone_number
    by_value = add(session, next_number("650"), proxy_identifier=numbers[0].phone_number)
    assert by_value.proxy_identifier_sid == numbers[0].sid
    assert pool(numbers[0].sid).fetch().in_use == 1


def test_explicit_number_of_the_account_outside_the_service_is_80605(
    client: Client, service: Any, api: httpx.Client
) -> None:
    add_numbers(client, service.sid, 1)
    owned = own_number(api, next_number("415"))
    elsewhere = new_service(client)
    in_other = add_numbers(client, elsewhere.sid, 1)[0]
    session = new_session(client, service.sid)
    proxy_error(
        lambda: add(session, next_number("650"), proxy_identifier_sid=owned["sid"]), 400, 80605
    )
    proxy_error(
        lambda: add(session, next_number("650"), proxy_identifier=owned["phone_number"]), 400, 80605
    )
    proxy_error(
        lambda: add(session, next_number("650"), proxy_identifier_sid=in_other.sid), 400, 80605
    )
    assert session.participants.list() == []


def test_explicit_number_not_owned_is_80606(client: Client, service: Any) -> None:
    add_numbers(client, service.sid, 1)
    session = new_session(client, service.sid)
    never_owned = next_number("415")
    proxy_error(lambda: add(session, next_number("650"), proxy_identifier=never_owned), 400, 80606)
    proxy_error(
        lambda: add(session, next_number("650"), proxy_identifier_sid="PN" + "0" * 32), 400, 80606
    )
    assert session.participants.list() == []


def test_explicit_pair_already_active_is_80604(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 2)
    alice = next_number("650")
    first = new_session(client, service.sid)
    taken = add(first, alice)
    second = new_session(client, service.sid)
    proxy_error(lambda: add(second, alice, proxy_identifier=taken.proxy_identifier), 400, 80604)
    proxy_error(
        lambda: add(second, alice, proxy_identifier_sid=taken.proxy_identifier_sid), 400, 80604
    )
    # The other number is free for Alice; and once the first session closes, so is this one.
    free = next(n for n in numbers if n.sid != taken.proxy_identifier_sid)
    assert add(second, alice, proxy_identifier_sid=free.sid).proxy_identifier_sid == free.sid
    third = new_session(client, service.sid)
    first.update(status="closed")
    again = add(third, alice, proxy_identifier_sid=taken.proxy_identifier_sid)
    assert again.proxy_identifier == taken.proxy_identifier


def test_explicit_number_without_the_capability_is_rejected(
    client: Client, service: Any, api: httpx.Client
) -> None:
    no_voice = pool_number(client, api, service.sid, next_number("415"), VoiceCapable=False)
    session = new_session(client, service.sid)
    proxy_error(
        lambda: add(session, next_number("650"), proxy_identifier_sid=no_voice.sid), 400, 80201
    )
    texting = new_session(client, service.sid, mode="message-only")
    assert add(texting, next_number("650"), proxy_identifier_sid=no_voice.sid).proxy_identifier


# --- Number selection ------------------------------------------------------------------------


def test_least_used_number_first(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 3)
    chosen = []
    for _ in range(6):
        session = new_session(client, service.sid)
        chosen.append(add(session, next_number("650")).proxy_identifier)
    # Load spreads: three different numbers first, then each once more.
    assert len(set(chosen[:3])) == 3
    assert len(set(chosen[3:])) == 3
    assert in_use(client, service.sid) == {n.phone_number: 2 for n in numbers}


def test_reserved_numbers_are_never_picked_automatically(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 3)
    pool = client.proxy.v1.services(service.sid).phone_numbers
    pool(numbers[0].sid).update(is_reserved=True)
    pool(numbers[2].sid).update(is_reserved=True)
    for _ in range(4):
        session = new_session(client, service.sid)
        assert add(session, next_number("650")).proxy_identifier == numbers[1].phone_number
    assert in_use(client, service.sid)[numbers[0].phone_number] == 0
    assert in_use(client, service.sid)[numbers[2].phone_number] == 0


def test_only_reserved_numbers_is_80207(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 2)
    pool = client.proxy.v1.services(service.sid).phone_numbers
    for number in numbers:
        pool(number.sid).update(is_reserved=True)
    session = new_session(client, service.sid)
    proxy_error(lambda: add(session, next_number("650")), 400, 80207)


def test_identifier_of_another_country_is_80203(client: Client, service: Any) -> None:
    add_numbers(client, service.sid, 2)
    session = new_session(client, service.sid)
    proxy_error(lambda: add(session, "+447400123456"), 400, 80203)
    proxy_error(lambda: add(session, "+442071234567"), 400, 80203)


def test_caribbean_identifier_matches_us_numbers(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 1)
    session = new_session(client, service.sid)
    jamaican = add(session, "+18765550123")
    assert jamaican.proxy_identifier == numbers[0].phone_number


def test_uk_identifier_gets_a_uk_number(client: Client, service: Any, api: httpx.Client) -> None:
    add_numbers(client, service.sid, 2)
    uk = pool_number(client, api, service.sid, "+447400" + next_number()[-6:])
    session = new_session(client, service.sid)
    assert add(session, "+447400123456").proxy_identifier == uk.phone_number


def test_empty_pool_is_80205(client: Client, service: Any) -> None:
    session = new_session(client, service.sid)
    proxy_error(lambda: add(session, next_number("650")), 400, 80205)


def test_no_voice_capable_number_is_80201(client: Client, service: Any, api: httpx.Client) -> None:
    for _ in range(2):
        pool_number(client, api, service.sid, next_number("415"), VoiceCapable=False)
    for mode in ("voice-and-message", "voice-only"):
        session = new_session(client, service.sid, mode=mode)
        proxy_error(lambda s=session: add(s, next_number("650")), 400, 80201)
    texting = new_session(client, service.sid, mode="message-only")
    assert add(texting, next_number("650")).proxy_identifier


def test_no_sms_capable_number_is_80202(client: Client, service: Any, api: httpx.Client) -> None:
    for _ in range(2):
        pool_number(
            client, api, service.sid, next_number("415"), SmsCapable=False, MmsCapable=False
        )
    for mode in ("message-only", "voice-and-message"):
        session = new_session(client, service.sid, mode=mode)
        proxy_error(lambda s=session: add(s, next_number("650")), 400, 80202)
    calling = new_session(client, service.sid, mode="voice-only")
    assert add(calling, next_number("650")).proxy_identifier


def test_capabilities_pick_the_fitting_number(
    client: Client, service: Any, api: httpx.Client
) -> None:
    voice_only = pool_number(client, api, service.sid, next_number("415"), SmsCapable=False)
    sms_only = pool_number(client, api, service.sid, next_number("415"), VoiceCapable=False)
    texting = new_session(client, service.sid, mode="message-only")
    assert add(texting, next_number("650")).proxy_identifier == sms_only.phone_number
    calling = new_session(client, service.sid, mode="voice-only")
    assert add(calling, next_number("650")).proxy_identifier == voice_only.phone_number


def test_area_code_geo_match(client: Client) -> None:
    service = new_service(client, geo_match_level="area-code")
    add_numbers(client, service.sid, 3, area="212")
    local = add_numbers(client, service.sid, 2, area="415")
    local_numbers = {n.phone_number for n in local}
    for _ in range(3):
        session = new_session(client, service.sid)
        assert add(session, next_number("415")).proxy_identifier in local_numbers
    session = new_session(client, service.sid)
    assert add(session, next_number("212")).proxy_identifier.startswith("+1212")
    proxy_error(lambda: add(session, next_number("650")), 400, 80206)


def test_area_code_all_local_numbers_in_use_is_80206(client: Client) -> None:
    service = new_service(client, geo_match_level="area-code")
    add_numbers(client, service.sid, 2, area="212")
    local = add_numbers(client, service.sid, 1, area="415")[0]
    alice = next_number("415")
    assert add(new_session(client, service.sid), alice).proxy_identifier == local.phone_number
    proxy_error(lambda: add(new_session(client, service.sid), alice), 400, 80206)


def test_country_geo_match_ignores_area_codes(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 1, area="212")
    session = new_session(client, service.sid)
    assert add(session, next_number("415")).proxy_identifier == numbers[0].phone_number


def test_all_numbers_in_use_by_the_identifier_is_80208(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 2)
    alice = next_number("650")
    got = {add(new_session(client, service.sid), alice).proxy_identifier for _ in range(2)}
    assert got == {n.phone_number for n in numbers}
    proxy_error(lambda: add(new_session(client, service.sid), alice), 400, 80208)
    # Someone else still gets a number.
    assert add(new_session(client, service.sid), next_number("650")).proxy_identifier in got


def test_prefer_sticky_gives_back_the_last_number(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 3)
    alice = next_number("650")
    first = new_session(client, service.sid)
    add(first, alice, proxy_identifier_sid=numbers[2].sid)
    first.update(status="closed")
    # By load alone the first number would win; Alice had the third one last.
    assert add(new_session(client, service.sid), alice).proxy_identifier_sid == numbers[2].sid


def test_prefer_sticky_falls_back_when_the_last_number_is_taken(
    client: Client, service: Any
) -> None:
    numbers = add_numbers(client, service.sid, 2)
    alice = next_number("650")
    add(new_session(client, service.sid), alice, proxy_identifier_sid=numbers[1].sid)
    # Alice's last number is in use by her: she gets the other one.
    assert add(new_session(client, service.sid), alice).proxy_identifier_sid == numbers[0].sid


def test_avoid_sticky_prefers_a_number_never_had(client: Client) -> None:
    service = new_service(client, number_selection_behavior="avoid-sticky")
    numbers = add_numbers(client, service.sid, 3)
    alice = next_number("650")
    seen = []
    for _ in range(3):
        session = new_session(client, service.sid)
        seen.append(add(session, alice).proxy_identifier_sid)
        session.update(status="closed")
    assert sorted(seen) == sorted(n.sid for n in numbers)
    # Every number was hers once: any free one will do.
    assert add(new_session(client, service.sid), alice).proxy_identifier_sid in seen


def test_both_participants_may_share_one_number(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 1)
    session = new_session(
        client,
        service.sid,
        participants=[{"Identifier": next_number("650")}, {"Identifier": next_number("650")}],
    )
    listed = session.participants.list()
    assert [p.proxy_identifier for p in listed] == [numbers[0].phone_number] * 2
    # One session using a number counts once.
    assert in_use(client, service.sid) == {numbers[0].phone_number: 1}
    session.update(status="closed")
    assert in_use(client, service.sid) == {numbers[0].phone_number: 0}


def test_removing_one_of_two_sharing_a_number_keeps_it_in_use(client: Client, service: Any) -> None:
    numbers = add_numbers(client, service.sid, 1)
    session = new_session(client, service.sid)
    first = add(session, next_number("650"))
    second = add(session, next_number("650"))
    assert first.proxy_identifier == second.proxy_identifier == numbers[0].phone_number
    session.participants(first.sid).delete()
    assert in_use(client, service.sid) == {numbers[0].phone_number: 1}
    session.participants(second.sid).delete()
    assert in_use(client, service.sid) == {numbers[0].phone_number: 0}
    # Closing a session whose participants are all gone releases nothing more.
    session.update(status="closed")
    assert in_use(client, service.sid) == {numbers[0].phone_number: 0}


def test_area_code_is_ignored_outside_north_america(client: Client, api: httpx.Client) -> None:
    service = new_service(client, geo_match_level="area-code")
    add_numbers(client, service.sid, 1, area="212")
    uk = pool_number(client, api, service.sid, "+447400" + next_number()[-6:])
    session = new_session(client, service.sid)
    assert add(session, "+442071234567").proxy_identifier == uk.phone_number


def test_channel_identifiers_in_create_session(client: Client, service: Any) -> None:
    add_numbers(client, service.sid, 1)
    sessions = client.proxy.v1.services(service.sid).sessions
    pair = [{"Identifier": "messenger:4242"}, {"Identifier": next_number("650")}]
    proxy_error(lambda: sessions.create(participants=pair), 400, 80616)
    assert sessions.list() == []
    created = sessions.create(mode="message-only", participants=pair)
    listed = client.proxy.v1.services(service.sid).sessions(created.sid).participants.list()
    assert [p.identifier for p in listed] == ["messenger:4242", pair[1]["Identifier"]]
