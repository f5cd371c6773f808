"""Services through the official SDK: CRUD, defaults, unique names, paging, the spec's shape."""

from __future__ import annotations

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from tests.support import assert_schema, unique


def test_create_fetch_update_delete_service(client: Client, api: httpx.Client) -> None:
    name = unique("svc")
    created = client.proxy.v1.services.create(
        unique_name=name, callback_url="https://example.com/cb", default_ttl=3600
    )
    assert created.unique_name == name
    assert created.default_ttl == 3600
    assert created.geo_match_level == "country"
    assert created.number_selection_behavior == "prefer-sticky"
    assert created.links["sessions"].endswith(f"/v1/Services/{created.sid}/Sessions")

    body = api.get(f"/v1/Services/{created.sid}").json()
    assert_schema(body, "service")
    assert body["url"] == f"{api.base_url}/v1/Services/{created.sid}"

    by_name = client.proxy.v1.services(name).fetch()
    assert by_name.sid == created.sid

    updated = client.proxy.v1.services(created.sid).update(
        geo_match_level="area-code", callback_url=""
    )
    assert updated.geo_match_level == "area-code"
    assert updated.callback_url is None
    assert updated.default_ttl == 3600

    assert client.proxy.v1.services(created.sid).delete() is True
    with pytest.raises(TwilioRestException) as err:
        client.proxy.v1.services(created.sid).fetch()
    assert err.value.status == 404
    assert err.value.code == 20404


def test_unique_name_is_unique_per_account(client: Client) -> None:
    name = unique("svc")
    client.proxy.v1.services.create(unique_name=name)
    with pytest.raises(TwilioRestException) as err:
        client.proxy.v1.services.create(unique_name=name)
    assert (err.value.status, err.value.code) == (400, 80602)


def test_unique_name_is_required(api: httpx.Client) -> None:
    response = api.post("/v1/Services", data={})
    assert response.status_code == 400
    assert response.json()["code"] == 80701
    assert "UniqueName" in response.json()["message"]
