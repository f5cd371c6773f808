"""`maskline import-twilio`: a Proxy account moved into Maskline with its SIDs, fields and live
sessions. The source is a second Maskline server filled through the SDK: it speaks Proxy v1 as
Twilio does. The Twilio carrier's side (IncomingPhoneNumbers, re-pointed webhooks) runs
against the suite's fake of Twilio's REST API."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from maskline.twilio_import.run import SESSION_BATCH
from tests.conftest import add_numbers, next_number
from tests.fake_twilio import FakeTwilio
from tests.gate import Gate
from tests.receiver import Receiver
from tests.support import ACCOUNT_SID, AUTH_TOKEN, Server, new_database_url, unique
from tests.traffic import FAST_ENV, Sandbox, open_conversation, wait_until

TABLES = ("accounts", "services", "numbers", "sessions", "participants", "interactions")


def _command(proxy_base: str) -> list[str]:
    """`maskline import-twilio` of the test account, read from the Proxy API at `proxy_base`."""
    return [
        sys.executable,
        "-m",
        "maskline",
        "import-twilio",
        "--account-sid",
        ACCOUNT_SID,
        "--proxy-base",
        proxy_base,
    ]


def import_twilio(
    database_url: str, source: Server, *args: str, token: str = AUTH_TOKEN, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_command(source.base_url), *args],
        env={
            **os.environ,
            "MASKLINE_DATABASE_URL": database_url,
            "MASKLINE_LOG_LEVEL": "warning",
            "TWILIO_AUTH_TOKEN": token,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )


def counts(summary: str, kind: str) -> tuple[int, int, int]:
    """(imported, present, skipped) of one kind in an import's summary."""
    line = next(line for line in summary.splitlines() if line.startswith(kind + " "))
    imported, present, skipped = (int(word) for word in line[len(kind) :].split())
    return imported, present, skipped


def _engine(database_url: str) -> sa.Engine:
    return sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))


def snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables an import writes, in a stable order."""
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            found = {}
            for table in TABLES:
                rows = conn.execute(sa.text(f"SELECT * FROM {table}")).all()
                found[table] = sorted((tuple(r) for r in rows), key=repr)
            return found
    finally:
        engine.dispose()


def tables(database_url: str) -> list[str]:
    """The tables in the database; none when it is a SQLite file that does not exist."""
    if database_url.startswith("sqlite:///") and not os.path.exists(
        database_url.removeprefix("sqlite:///")
    ):
        return []
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            return sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()


def count(database_url: str, table: str) -> int:
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def miscounted_numbers(database_url: str) -> int:
    """Numbers whose `in_use` is not the count of active sessions that hold them."""
    engine = _engine(database_url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM numbers WHERE in_use != (SELECT count(DISTINCT "
                        "session_sid) FROM participants WHERE participants.proxy_number_sid = "
                        "numbers.sid AND participants.active)"
                    )
                ).scalar_one()
            )
    finally:
        engine.dispose()


def get(server: Server, path: str) -> Any:
    """A resource as a client reads it, its URLs made relative to whichever server."""
    response = server.http().get(path)
    assert response.status_code == 200, response.text
    return _relative(response.json())


def _relative(value: Any) -> Any:
    # Links name the server that answered; the URLs of the legs' Message and Call
    # resources name the carrier (here the source's sandbox) and are imported as they are.
    if isinstance(value, dict):
        return {k: _relative(v) for k, v in value.items() if k != "meta"}
    if isinstance(value, list):
        return [_relative(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"^http://127\.0\.0\.1:\d+", "", value)
    return value


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Server]:
    """A Proxy account with two services: one with every kind of session, one small."""
    folder: Path = tmp_path_factory.mktemp("source")
    server = Server(database_url=new_database_url(folder), env=FAST_ENV).start()
    sdk = server.client()
    service = sdk.proxy.v1.services.create(
        unique_name=unique("market"),
        default_ttl=7200,
        callback_url=receiver.url("/status"),
        intercept_callback_url=receiver.url("/intercept"),
        out_of_session_callback_url=receiver.url("/oos"),
        geo_match_level="country",
        number_selection_behavior="avoid-sticky",
    )
    pool = add_numbers(sdk, service.sid, 3)
    sdk.proxy.v1.services(service.sid).phone_numbers(pool[0].sid).update(is_reserved=True)
    # A number that takes texts only: its capabilities must come across as they are.
    texts_only = server.http().post(
        "/sandbox/v1/PhoneNumbers",
        data={"PhoneNumber": next_number("415"), "VoiceCapable": "false", "MmsCapable": "false"},
    )
    assert texts_only.status_code == 201, texts_only.text
    sdk.proxy.v1.services(service.sid).phone_numbers.create(sid=texts_only.json()["sid"])
    # The `twilio` package no longer carries ShortCodes: added over plain HTTP.
    added = server.http().post(
        f"/v1/Services/{service.sid}/ShortCodes", data={"Sid": _short_code(server)}
    )
    assert added.status_code == 201, added.text
    sessions = sdk.proxy.v1.services(service.sid).sessions
    expiry = datetime.now(UTC) + timedelta(days=3)
    open_one = open_conversation(
        sdk, service, unique_name=unique("order"), ttl=3600, date_expiry=expiry
    )
    talking = open_conversation(sdk, service, mode="message-only")
    Sandbox(server.http()).send(talking.a.identifier, talking.a.proxy_identifier, "on my way")
    wait_until(lambda: len(talking.interactions.list()) == 1, what="the interaction")
    # One the application sent: a message interaction, listed under its participant.
    to_b = talking.session.participants(talking.b.sid).message_interactions
    sent = to_b.create(body="see you")
    # Both sides are compared as they stand: the statuses must be done moving first.
    wait_until(
        lambda: to_b(sent.sid).fetch().outbound_resource_status == "delivered",
        what="the message delivered",
    )
    wait_until(
        lambda: all(i.outbound_resource_status == "delivered" for i in talking.interactions.list()),
        what="every leg delivered",
    )
    closed = open_conversation(sdk, service)
    closed.session.update(status="closed")
    lonely = open_conversation(sdk, service)
    lonely.session.participants(lonely.b.sid).delete()
    # A session with one participant, with a friendly name.
    sessions(sessions.create().sid).participants.create(
        identifier=next_number("646"), friendly_name="Rider"
    )
    small = sdk.proxy.v1.services.create(unique_name=unique("small"))
    add_numbers(sdk, small.sid, 1)
    open_conversation(sdk, small)
    # Set once its session is open: a setting that is nobody's default must come across too.
    sdk.proxy.v1.services(small.sid).update(geo_match_level="area-code")
    server.sessions = {  # type: ignore[attr-defined]
        "open": open_one,
        "talking": talking,
        "closed": closed,
        "lonely": lonely,
    }
    server.services = (service.sid, small.sid)  # type: ignore[attr-defined]
    yield server
    server.stop()


def _short_code(server: Server) -> str:
    """A short code on the source account: the sandbox provisions one on request."""
    done = server.http().post(
        "/sandbox/v1/ShortCodes",
        data={"ShortCode": "4" + str(time.time_ns())[-4:], "IsoCountry": "US"},
    )
    assert done.status_code == 201, done.text
    return str(done.json()["sid"])


def _resources(server: Server, service_sids: tuple[str, ...]) -> dict[str, Any]:
    """Everything a client can read of these services, by path."""
    found: dict[str, Any] = {}
    for sid in service_sids:
        base = f"/v1/Services/{sid}"
        found[base] = get(server, base)
        found[base + "/PhoneNumbers"] = get(server, base + "/PhoneNumbers?PageSize=1000")
        found[base + "/ShortCodes"] = get(server, base + "/ShortCodes?PageSize=1000")
        listed = get(server, base + "/Sessions?PageSize=1000")
        found[base + "/Sessions"] = listed
        for session in listed["sessions"]:
            path = f"{base}/Sessions/{session['sid']}"
            found[path] = get(server, path)
            found[path + "/Participants"] = people = get(
                server, path + "/Participants?PageSize=1000"
            )
            for p in people["participants"]:
                sent = f"{path}/Participants/{p['sid']}/MessageInteractions"
                found[sent] = get(server, sent + "?PageSize=1000")
            found[path + "/Interactions"] = get(server, path + "/Interactions?PageSize=1000")
    return found


def _differences(moved: Any, original: Any, where: str = "") -> list[str]:
    """Where two JSON values differ, one line each."""
    if isinstance(moved, dict) and isinstance(original, dict):
        found = []
        for key in sorted(moved.keys() | original.keys()):
            found += _differences(moved.get(key), original.get(key), f"{where}.{key}")
        return found
    if isinstance(moved, list) and isinstance(original, list) and len(moved) == len(original):
        return [
            line
            for i, (a, b) in enumerate(zip(moved, original, strict=True))
            for line in _differences(a, b, f"{where}[{i}]")
        ]
    return [] if moved == original else [f"{where}: {moved!r} != {original!r}"]


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, source: Server) -> Iterator[Server]:
    """A Maskline that imported the whole source account, with history."""
    folder: Path = tmp_path_factory.mktemp("target")
    url = new_database_url(folder)
    done = import_twilio(url, source, "--sessions", "all", "--with-history")
    assert done.returncode == 0, done.stdout + done.stderr
    engine = _engine(url)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT auth_token FROM accounts WHERE sid = :sid"), {"sid": ACCOUNT_SID}
        ).scalar_one()
    engine.dispose()
    assert stored == AUTH_TOKEN
    # No account configured: the one the import made, with the Twilio account's token, is
    # the only way in.
    env = {**FAST_ENV, "MASKLINE_ACCOUNT_SID": "", "MASKLINE_AUTH_TOKEN": ""}
    server = Server(database_url=url, env=env).start()
    server.first_summary = done.stdout  # type: ignore[attr-defined]
    yield server
    server.stop()


def test_every_resource_is_the_same_on_both_sides(source: Server, target: Server) -> None:
    services = source.services  # type: ignore[attr-defined]
    moved, original = _resources(target, services), _resources(source, services)
    assert moved.keys() == original.keys()
    assert _differences(moved, original) == []
    summary = target.first_summary  # type: ignore[attr-defined]
    assert counts(summary, "services") == (2, 0, 0)
    assert counts(summary, "phone numbers") == (5, 0, 0)
    assert counts(summary, "short codes") == (1, 0, 0)
    assert counts(summary, "sessions") == (6, 0, 0)
    assert counts(summary, "interactions") == (2, 0, 0)


def test_the_application_s_client_works_unchanged_but_for_the_base_url(
    source: Server, target: Server
) -> None:
    """Same account SID and token, same SIDs: only `base_url` differs."""
    app = target.client()
    service_sid = source.services[0]  # type: ignore[attr-defined]
    conversation = source.sessions["open"]  # type: ignore[attr-defined]
    session = app.proxy.v1.services(service_sid).sessions(conversation.session_sid).fetch()
    assert session.status == "open" and session.ttl == 3600
    participant = (
        app.proxy.v1.services(service_sid)
        .sessions(conversation.session_sid)
        .participants(conversation.a.sid)
        .fetch()
    )
    assert participant.proxy_identifier == conversation.a.proxy_identifier


def test_a_message_is_routed_in_an_imported_session(
    source: Server, target: Server, receiver: Receiver
) -> None:
    conversation = source.sessions["open"]  # type: ignore[attr-defined]
    sandbox = Sandbox(target.http())
    sent = sandbox.send(conversation.a.identifier, conversation.a.proxy_identifier, "moved")
    assert sent["routing"]["session_sid"] == conversation.session_sid
    delivered = wait_until(
        lambda: [m for m in sandbox.messages(conversation.b.identifier) if m["body"] == "moved"],
        what="the relayed text",
    )
    assert delivered[0]["from"] == conversation.b.proxy_identifier
    # The service's callback came across, and its calls are signed with the Twilio account's
    # token: the application's signature check keeps working.
    interaction_sid = sent["routing"]["interaction_sid"]
    got = receiver.wait_for(
        "/status", lambda got: any(r.form.get("interactionSid") == interaction_sid for r in got)
    )
    call = next(r for r in got if r.form.get("interactionSid") == interaction_sid)
    assert RequestValidator(AUTH_TOKEN).validate(receiver.url_of(call), call.form, call.signature)
    # The imported pair still holds: the identifier gets no second session on that number.
    app = target.client()
    sessions = app.proxy.v1.services(source.services[0]).sessions  # type: ignore[attr-defined]
    other = sessions.create()
    added = sessions(other.sid).participants.create(identifier=conversation.a.identifier)
    assert added.proxy_identifier != conversation.a.proxy_identifier


def settled(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """A snapshot once the target's own traffic (the text routed above, its status steps)
    has stopped changing it."""
    previous = snapshot(database_url)
    while True:
        time.sleep(0.5)
        current = snapshot(database_url)
        if current == previous:
            return current
        previous = current


def test_a_second_run_changes_nothing(source: Server, target: Server) -> None:
    before = settled(target.database_url)
    again = import_twilio(target.database_url, source, "--sessions", "all", "--with-history")
    assert again.returncode == 0, again.stderr
    assert snapshot(target.database_url) == before
    # Nothing imported twice: everything is present.
    assert counts(again.stdout, "sessions") == (0, 6, 0)
    assert counts(again.stdout, "services") == (0, 2, 0)
    assert counts(again.stdout, "phone numbers") == (0, 5, 0)
    assert counts(again.stdout, "interactions") == (0, 2, 0)


def test_a_dry_run_writes_nothing_and_says_what_an_import_would_do(
    tmp_path: Path, source: Server
) -> None:
    url = new_database_url(tmp_path)
    dry = import_twilio(url, source, "--sessions", "all", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    # Not even the schema: the database is as it was.
    assert tables(url) == []
    real = import_twilio(url, source, "--sessions", "all")
    assert real.returncode == 0, real.stderr
    assert dry.stdout.splitlines()[0].startswith("Dry run")
    assert dry.stdout.splitlines()[1:] == real.stdout.splitlines()
    # Into a database that holds the import, a dry run finds everything present.
    before = snapshot(url)
    again = import_twilio(url, source, "--sessions", "all", "--dry-run")
    assert again.returncode == 0, again.stderr
    assert counts(again.stdout, "sessions")[0] == 0 and counts(again.stdout, "sessions")[1] > 0
    assert snapshot(url) == before


def test_only_open_sessions_by_default_and_only_the_services_named(
    tmp_path: Path, source: Server
) -> None:
    url = new_database_url(tmp_path)
    first, _ = source.services  # type: ignore[attr-defined]
    done = import_twilio(url, source, "--service", first)
    assert done.returncode == 0, done.stderr
    assert count(url, "services") == 1
    closed = source.sessions["closed"].session_sid  # type: ignore[attr-defined]
    engine = _engine(url)
    with engine.connect() as conn:
        sids = {r[0] for r in conn.execute(sa.text("SELECT sid FROM sessions"))}
        statuses = {r[0] for r in conn.execute(sa.text("SELECT status FROM sessions"))}
    engine.dispose()
    assert closed not in sids and statuses <= {"open", "in-progress"}
    assert "closed (import them with --sessions all)" in done.stdout
    assert count(url, "interactions") == 0  # no history unless asked


def test_every_page_is_read_and_twilio_s_refusals_are_waited_out(
    tmp_path: Path, source: Server
) -> None:
    """Through a proxy that asks for pages of two items, and answers some requests with a
    429 (as Twilio's rate limit does) or a 503: the same import as a direct one."""
    direct = new_database_url(tmp_path)
    assert import_twilio(direct, source, "--sessions", "all").returncode == 0

    def refuse(n: int) -> tuple[int, str | None] | None:
        if n == 3:
            return 503, None  # no Retry-After: waited out by backing off
        return (429, "0") if n % 4 == 0 else None

    paged = new_database_url(tmp_path)
    with Gate(
        source.base_url,
        rewrite=lambda target: target.replace("PageSize=1000", "PageSize=2"),
        refuse=refuse,
    ) as gate:
        done = subprocess.run(
            [*_command(gate.url), "--sessions", "all"],
            env={**os.environ, "MASKLINE_DATABASE_URL": paged, "TWILIO_AUTH_TOKEN": AUTH_TOKEN},
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr
    assert gate.refused > 5
    # Lists longer than a page were followed to their last page.
    assert any("Page=2" in line for line in gate.seen), gate.seen
    # The same rows, but for the account's creation time (each import made it when it ran).
    moved, straight = snapshot(paged), snapshot(direct)
    assert [row[:3] for row in moved.pop("accounts")] == [
        row[:3] for row in straight.pop("accounts")
    ]
    assert moved == straight


def test_no_sessions_when_asked_for_none(tmp_path: Path, source: Server) -> None:
    url = new_database_url(tmp_path)
    done = import_twilio(url, source, "--sessions", "none")
    assert done.returncode == 0, done.stderr
    assert counts(done.stdout, "services") == (2, 0, 0)
    assert counts(done.stdout, "sessions") == (0, 0, 0)
    assert count(url, "sessions") == 0 and count(url, "participants") == 0


def test_a_wrong_token_fails_at_once_and_writes_nothing(tmp_path: Path, source: Server) -> None:
    url = new_database_url(tmp_path)
    done = import_twilio(url, source, token="not-the-token")
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "refused the credentials" in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert "not-the-token" not in done.stdout + done.stderr
    # Nothing written, not even the schema.
    assert tables(url) == []


def test_a_pair_held_in_maskline_skips_the_session_that_would_break_it(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Imported once, a session closes on Twilio and its identifier starts another on the
    same number. Maskline still holds the first one open: the second is not imported."""
    source = Server(database_url=new_database_url(tmp_path), env=FAST_ENV).start()
    try:
        sdk = source.client()
        service = sdk.proxy.v1.services.create(unique_name=unique("pairs"))
        add_numbers(sdk, service.sid, 1)
        first = open_conversation(sdk, service)
        url = new_database_url(tmp_path)
        assert import_twilio(url, source).returncode == 0
        first.session.update(status="closed")
        second = open_conversation(sdk, service, handsets=(first.a.identifier, next_number()))
        again = import_twilio(url, source)
        assert again.returncode == 0, again.stderr
        assert "pair conflict" in again.stdout and first.session_sid in again.stdout
        engine = _engine(url)
        with engine.connect() as conn:
            query = sa.text("SELECT count(*) FROM sessions WHERE sid = :sid")
            assert conn.execute(query, {"sid": second.session_sid}).scalar_one() == 0
        engine.dispose()
    finally:
        source.stop()


def test_an_interrupted_import_is_finished_by_a_second_run(tmp_path: Path) -> None:
    source = Server(database_url=new_database_url(tmp_path), env=FAST_ENV).start()
    try:
        sdk = source.client()
        service = sdk.proxy.v1.services.create(unique_name=unique("many"))
        add_numbers(sdk, service.sid, 2)
        total = 3 * SESSION_BATCH + 7
        with source.http() as http:
            for _ in range(total):
                made = http.post(
                    f"/v1/Services/{service.sid}/Sessions",
                    data={
                        "Participants": [
                            f'{{"Identifier": "{next_number("212")}"}}',
                            f'{{"Identifier": "{next_number("718")}"}}',
                        ]
                    },
                )
                assert made.status_code == 201, made.text
        url = new_database_url(tmp_path)

        # The import reads a batch's participants, then writes the batch in one transaction.
        # Held at the first read of the third batch, it has committed two batches and has
        # nothing else under way: that is when it is killed.
        def participants_read(method: str, path: str) -> bool:
            return method == "GET" and path.endswith("/Participants")

        stderr = tmp_path / "import.stderr"
        with Gate(source.base_url, participants_read, hold_at=2 * SESSION_BATCH + 1) as gate:
            with open(stderr, "wb") as errors:
                process = subprocess.Popen(
                    _command(gate.url),
                    env={
                        **os.environ,
                        "MASKLINE_DATABASE_URL": url,
                        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                    },
                    stdout=subprocess.DEVNULL,
                    stderr=errors,
                )
            try:
                deadline = time.monotonic() + 120
                while not gate.holding.wait(0.05):
                    assert process.poll() is None, f"the import ended early: {stderr.read_text()}"
                    assert time.monotonic() < deadline, "the import never reached its third batch"
            finally:
                process.kill()
                process.wait(timeout=30)
        assert count(url, "sessions") == 2 * SESSION_BATCH
        assert count(url, "participants") == 4 * SESSION_BATCH
        # The pool's use counts what was committed: a server started now picks numbers right.
        assert miscounted_numbers(url) == 0
        done = import_twilio(url, source)
        assert done.returncode == 0, done.stderr
        assert count(url, "sessions") == total
        assert count(url, "participants") == 2 * total
        # Every session whole: its two participants with it.
        engine = _engine(url)
        with engine.connect() as conn:
            lopsided = conn.execute(
                sa.text(
                    "SELECT count(*) FROM sessions WHERE (SELECT count(*) FROM participants "
                    "WHERE participants.session_sid = sessions.sid) != 2"
                )
            ).scalar_one()
        engine.dispose()
        assert lopsided == 0
        assert miscounted_numbers(url) == 0
        assert counts(done.stdout, "sessions") == (total - 2 * SESSION_BATCH, 2 * SESSION_BATCH, 0)
    finally:
        source.stop()


def test_on_the_twilio_carrier_numbers_are_found_and_repointed(
    tmp_path: Path, source: Server
) -> None:
    service_sid = source.services[0]  # type: ignore[attr-defined]
    pool = source.http().get(f"/v1/Services/{service_sid}/PhoneNumbers").json()["phone_numbers"]
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake:
        # The Twilio account still owns all but the last of the pool's numbers.
        for number in pool[:-1]:
            fake.add_number(number["phone_number"], sid=number["sid"])
        url = new_database_url(tmp_path)
        done = import_twilio(
            url,
            source,
            "--service",
            service_sid,
            "--api-base",
            fake.url,
            "--repoint-webhooks",
            MASKLINE_CARRIER="twilio",
            MASKLINE_PUBLIC_URL="https://proxy.example.com",
            MASKLINE_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            MASKLINE_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "not among the Twilio account's IncomingPhoneNumbers" in done.stdout
        for number in pool[:-1]:
            owned = fake.number(number["sid"])
            assert owned["sms_url"] == "https://proxy.example.com/webhooks/twilio/messages"
            assert owned["voice_url"] == "https://proxy.example.com/webhooks/twilio/voice"
        engine = _engine(url)
        with engine.connect() as conn:
            sids = {r[0] for r in conn.execute(sa.text("SELECT sid FROM numbers"))}
        engine.dispose()
        assert {n["sid"] for n in pool[:-1]} <= sids and pool[-1]["sid"] not in sids


def test_the_import_is_refused_without_a_usable_setting(tmp_path: Path, source: Server) -> None:
    url = new_database_url(tmp_path)
    repoint = import_twilio(url, source, "--repoint-webhooks")
    assert repoint.returncode != 0 and "MASKLINE_CARRIER=twilio" in repoint.stderr
    bad = import_twilio(url, source, "--service", "nope")
    assert bad.returncode != 0 and "not a service SID" in bad.stderr
    assert httpx.get(source.base_url + "/healthz").status_code == 200
