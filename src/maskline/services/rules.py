"""The rules of services: unique names, defaults, and what deleting one takes with it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from maskline import sids
from maskline.clock import Clock
from maskline.db.errors import violated_constraint
from maskline.errors import NotFound, ServiceUniqueNameTaken
from maskline.numbers import store as numbers_store
from maskline.services import store

GEO_MATCH_LEVELS = ("area-code", "overlay", "radius", "country")
NUMBER_SELECTION_BEHAVIORS = ("avoid-sticky", "prefer-sticky")
SETTABLE = (
    "unique_name",
    "callback_url",
    "intercept_callback_url",
    "out_of_session_callback_url",
    "session_callback_url",
    "chat_instance_sid",
    "default_ttl",
    "geo_match_level",
    "number_selection_behavior",
)


def fetch_service(conn: Connection, *, account_sid: str, sid: str) -> Any:
    row = store.get_service(conn, account_sid, sid)
    if row is None:
        raise NotFound(f"The requested Service {sid} was not found")
    return row


def _write(conn: Connection, action: Any) -> None:
    # A savepoint keeps the request's transaction usable when the name is taken (PostgreSQL
    # aborts the whole transaction on a failed statement otherwise).
    try:
        with conn.begin_nested():
            action()
    except IntegrityError as error:
        if violated_constraint(error) == "uq_services_account_sid_unique_name":
            raise ServiceUniqueNameTaken() from error
        raise


def create_service(
    conn: Connection, clock: Clock, *, account_sid: str, unique_name: str, **settings: Any
) -> Any:
    now = clock.now_ms()
    values: dict[str, Any] = {
        "sid": sids.new_sid(sids.SERVICE),
        "account_sid": account_sid,
        "unique_name": unique_name,
        "default_ttl": 0,
        "geo_match_level": "country",
        "number_selection_behavior": "prefer-sticky",
        "date_created": now,
        "date_updated": now,
    }
    for name in SETTABLE:
        value = settings.get(name)
        if value is not None and value != "":
            values[name] = value
    _write(conn, lambda: store.insert_service(conn, values))
    return fetch_service(conn, account_sid=account_sid, sid=values["sid"])


def update_service(
    conn: Connection, clock: Clock, *, account_sid: str, sid: str, **changes: Any
) -> Any:
    service = fetch_service(conn, account_sid=account_sid, sid=sid)
    values: dict[str, Any] = {}
    for name in SETTABLE:
        value = changes.get(name)
        if value is None:
            continue
        # An empty URL clears it; other settings keep their value when given empty.
        values[name] = None if value == "" else value
    if values:
        values["date_updated"] = clock.now_ms()
        _write(conn, lambda: store.update_service(conn, service.sid, values))
    return fetch_service(conn, account_sid=account_sid, sid=service.sid)


def delete_service(conn: Connection, *, account_sid: str, sid: str) -> None:
    service = fetch_service(conn, account_sid=account_sid, sid=sid)
    numbers_store.release_service_numbers(conn, service.sid)
    # Sessions, and through them participants and interactions, go by cascade.
    store.delete_service(conn, service.sid)
