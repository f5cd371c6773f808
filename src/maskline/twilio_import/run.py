"""`maskline import-twilio`: a Twilio Proxy account's services, pools, sessions and
participants (and, asked for, interactions) written into Maskline under the same SIDs.

- **Same credentials.** The Maskline account gets the Twilio account's SID and auth token, so
  the application's clients and its callback signature checks keep working unchanged.
- **Idempotent, resumable.** A resource whose SID is already in Maskline is counted as present
  and left as it is. Sessions are written in batches, each session with its participants (and
  interactions) in a savepoint of its own: a run cut short leaves whole sessions, and the next
  run writes what is missing.
- **The pair rule.** An active (identifier, proxy number) pair already held, in Maskline or
  earlier in the run, skips the whole session, with the reason in the summary; the database's
  unique index stays the final word.
- **No REST call inside a transaction:** a batch's Twilio reads come first, then its writes.
- **`--dry-run`** reads everything and writes nothing: what would be written is tracked in
  memory, so the summary is the one an import would print.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from twilio.base.exceptions import TwilioException, TwilioRestException

from maskline.accounts import store as accounts_store
from maskline.accounts.rules import ensure_account
from maskline.numbers import geo
from maskline.numbers import store as numbers_store
from maskline.numbers.tables import PHONE_NUMBER, SHORT_CODE
from maskline.runtime import Runtime
from maskline.services import store as services_store
from maskline.sessions import store as sessions_store
from maskline.sessions.rules import expires_at
from maskline.sessions.tables import ACTIVE
from maskline.twilio_import import store
from maskline.twilio_import.source import Source, SourceNumber

KINDS = ("services", "phone numbers", "short codes", "sessions", "participants", "interactions")
SESSION_BATCH = 50
PROGRESS_EVERY = 500


class ImportFailed(Exception):
    """The import cannot go on; the message is one line for the terminal."""


@dataclass(frozen=True)
class Options:
    account_sid: str
    auth_token: str
    proxy_base: str = "https://proxy.twilio.com"
    api_base: str = "https://api.twilio.com"
    services: tuple[str, ...] = ()
    # open (open and in-progress), all, or none.
    sessions: str = "open"
    with_history: bool = False
    repoint_webhooks: bool = False
    dry_run: bool = False


@dataclass
class Tally:
    imported: int = 0
    present: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass
class _Plan:
    """What this run has written, or in a dry run would have: what later steps can count on."""

    numbers: set[str] = field(default_factory=set)
    pairs: dict[tuple[str, str], str] = field(default_factory=dict)
    session_names: set[tuple[str, str]] = field(default_factory=set)


class Importer:
    def __init__(
        self,
        runtime: Runtime,
        options: Options,
        echo: Callable[[str], None],
        source: Source | None = None,
    ) -> None:
        self.runtime = runtime
        self.options = options
        self.echo = echo
        self.source = source or Source(options.account_sid, options.auth_token, options.proxy_base)
        self.tallies = {kind: Tally() for kind in KINDS}
        # What the current service's sessions brought from Twilio so far, for progress lines.
        self._read_count: Counter[str] = Counter()
        self._plan = _Plan()
        self._twilio: Any = None

    # -- the whole run ----------------------------------------------------------------------

    def check(self) -> None:
        """The options, then one call to Twilio's Proxy API, before anything is written (not
        even a schema): ImportFailed when something is amiss, the credentials refused or
        Twilio out of reach."""
        self._check_options()
        try:
            self._read(lambda: self.source.first_service())
        except TwilioException as exc:
            raise ImportFailed(_refusal(exc)) from exc
        except requests.exceptions.RequestException as exc:
            raise ImportFailed(f"Twilio could not be reached: {exc}") from exc

    def run(self) -> dict[str, Tally]:
        self._check_options()
        try:
            services = self._read(lambda: list(self.source.services(self.options.services)))
            self.echo(f"services: {len(services)} read")
            self._account()
            for service in services:
                self._service(service)
        except TwilioException as exc:
            raise ImportFailed(_refusal(exc)) from exc
        except requests.exceptions.RequestException as exc:
            raise ImportFailed(f"Twilio could not be reached: {exc}") from exc
        return self.tallies

    def _check_options(self) -> None:
        settings = self.runtime.settings
        if self.options.sessions not in ("open", "all", "none"):
            raise ImportFailed("--sessions must be open, all or none")
        if self.options.repoint_webhooks:
            if settings.carrier != "twilio":
                raise ImportFailed("--repoint-webhooks needs MASKLINE_CARRIER=twilio")
            if not settings.public_url:
                raise ImportFailed("--repoint-webhooks needs MASKLINE_PUBLIC_URL")
        if (
            settings.account_sid == self.options.account_sid
            and settings.auth_token != self.options.auth_token
        ):
            raise ImportFailed(
                f"{self.options.account_sid} is MASKLINE_ACCOUNT_SID, whose token is "
                "MASKLINE_AUTH_TOKEN at every start: set it to the Twilio auth token first"
            )

    def _read(self, call: Callable[[], Any]) -> Any:
        """The first call to Twilio, where wrong credentials show: nothing is written yet."""
        try:
            return call()
        except TwilioException as exc:
            status = _status(exc)
            if status in (401, 403):
                raise ImportFailed(
                    f"Twilio refused the credentials of {self.options.account_sid} "
                    f"({status}): check --account-sid and --auth-token"
                ) from exc
            raise

    def _account(self) -> None:
        sid, token = self.options.account_sid, self.options.auth_token
        with self.runtime.transaction(writes=not self.options.dry_run) as conn:
            existing = accounts_store.get_account(conn, sid)
            if self.options.dry_run:
                state = "would be created" if existing is None else "present"
            else:
                created = ensure_account(conn, self.runtime.clock, sid, token)
                state = "created" if created else "present"
                if existing is not None and existing.auth_token != token:
                    state = "present; its auth token is now the Twilio account's"
        self.echo(f"account {sid}: {state}")

    # -- a service and its pool -------------------------------------------------------------

    def _service(self, source: dict[str, Any]) -> None:
        tally = self.tallies["services"]
        sid = source["sid"]
        account = self.options.account_sid
        with self.runtime.transaction(writes=not self.options.dry_run) as conn:
            row = services_store.get_service_by_sid(conn, sid)
            if row is not None and row.account_sid != account:
                tally.skipped["belongs to another Maskline account"] += 1
                return
            if row is not None:
                tally.present += 1
            else:
                taken = store.service_named(conn, account, source["unique_name"])
                if taken is not None:
                    tally.skipped[f"unique name taken by {taken.sid}"] += 1
                    return
                if not self.options.dry_run:
                    created = source["date_created"] or self.runtime.clock.now_ms()
                    values = {
                        **source,
                        "account_sid": account,
                        "session_callback_url": None,
                        "date_created": created,
                        "date_updated": source["date_updated"] or created,
                    }
                    services_store.insert_service(conn, values)
                tally.imported += 1
        numbers = list(self.source.numbers(sid))
        self._numbers(sid, numbers)
        self.echo(
            f"{sid}: {sum(n.kind == PHONE_NUMBER for n in numbers)} phone numbers, "
            f"{sum(n.kind == SHORT_CODE for n in numbers)} short codes"
        )
        if self.options.sessions != "none":
            self._sessions(sid)
            self.echo(self._progress(sid))

    def _numbers(self, service_sid: str, found: list[SourceNumber]) -> None:
        carried = self._carrier_numbers(found)
        with self.runtime.transaction(writes=not self.options.dry_run) as conn:
            for number in found:
                kind = "phone numbers" if number.kind == PHONE_NUMBER else "short codes"
                outcome = self._number(conn, service_sid, number, carried)
                if outcome in ("imported", "present"):
                    self._plan.numbers.add(number.sid)
                    setattr(self.tallies[kind], outcome, getattr(self.tallies[kind], outcome) + 1)
                else:
                    self.tallies[kind].skipped[outcome] += 1
        if self.options.repoint_webhooks and not self.options.dry_run:
            for number in found:
                if number.kind == PHONE_NUMBER and number.sid in self._plan.numbers:
                    self._twilio_carrier().configure_webhooks(number.sid)

    def _carrier_numbers(self, found: list[SourceNumber]) -> dict[str, Any]:
        """On the Twilio carrier, the account's IncomingPhoneNumbers behind the pool's phone
        numbers, by SID: read before any transaction opens."""
        if self.runtime.settings.carrier != "twilio":
            return {}
        carrier = self._twilio_carrier()
        looked_up = {}
        for number in found:
            if number.kind == PHONE_NUMBER:
                looked_up[number.sid] = carrier.lookup_number(sid=number.sid, phone_number=None)
        return looked_up

    def _twilio_carrier(self) -> Any:
        if self._twilio is None:
            from maskline.carriers.twilio import TwilioCarrier

            settings = dataclasses.replace(
                self.runtime.settings,
                twilio_account_sid=self.options.account_sid,
                twilio_auth_token=self.options.auth_token,
                twilio_api_key="",
                twilio_api_secret="",
                twilio_api_base=self.options.api_base,
            )
            self._twilio = TwilioCarrier(settings)
        return self._twilio

    def _number(
        self, conn: Connection, service_sid: str, number: SourceNumber, carried: dict[str, Any]
    ) -> str:
        """imported, present, or why it was skipped."""
        account = self.options.account_sid
        value = number.value
        if number.kind == SHORT_CODE:
            value = f"{number.value}@{(number.iso_country or '').upper()}"
        pool = {
            "service_sid": service_sid,
            "is_reserved": number.is_reserved,
            "date_added": number.date_created,
            "date_pool_updated": number.date_updated,
        }
        row = numbers_store.get_number(conn, number.sid)
        if row is not None:
            if row.account_sid != account:
                return "belongs to another Maskline account"
            if row.service_sid == service_sid:
                return "present"
            if row.service_sid is not None:
                return f"in another service ({row.service_sid})"
            if not self.options.dry_run:
                numbers_store.update_number(conn, number.sid, pool)
            return "imported"
        other = numbers_store.get_number_by_value(conn, number.kind, value)
        if other is not None:
            return f"already in Maskline under another SID ({other.sid})"
        caps = dict(number.capabilities)
        if number.sid in carried:
            twilio = carried[number.sid]
            if twilio is None:
                return "not among the Twilio account's IncomingPhoneNumbers"
            caps = {"voice": twilio.voice, "sms": twilio.sms, "mms": twilio.mms, "fax": twilio.fax}
        values = _number_row(number, value, caps, account)
        if values is None:
            return f"{number.value} is not a valid number"
        if not self.options.dry_run:
            numbers_store.insert_number(conn, {**values, **pool})
        return "imported"

    # -- sessions ---------------------------------------------------------------------------

    def _sessions(self, service_sid: str) -> None:
        counted = self._read_count = Counter()  # this service's
        for batch in _batches(self.source.sessions(service_sid), SESSION_BATCH):
            wanted = [s for s in batch if self.options.sessions == "all" or s["status"] in ACTIVE]
            if len(wanted) < len(batch):
                closed = "closed (import them with --sessions all)"
                self.tallies["sessions"].skipped[closed] += len(batch) - len(wanted)
            self._session_batch(service_sid, wanted)
            before = counted["sessions"]
            counted["sessions"] += len(batch)
            if counted["sessions"] // PROGRESS_EVERY > before // PROGRESS_EVERY:
                self.echo(self._progress(service_sid))

    def _progress(self, service_sid: str) -> str:
        """What was read so far: sessions, their participants and, asked for, interactions."""
        counted = self._read_count
        line = (
            f"{service_sid}: {counted['sessions']} sessions, {counted['participants']} participants"
        )
        if self.options.with_history:
            line += f", {counted['interactions']} interactions"
        return line + " read"

    def _session_batch(self, service_sid: str, batch: list[dict[str, Any]]) -> None:
        with self.runtime.transaction(writes=False) as conn:
            present = {
                s["sid"]
                for s in batch
                if sessions_store.get_session_by_sid(conn, s["sid"]) is not None
            }
        # Twilio first, the database after: no REST call inside a transaction.
        parts: dict[str, list[dict[str, Any]]] = {}
        history: dict[str, list[dict[str, Any]]] = {}
        gone: set[str] = set()
        for s in batch:
            try:
                if s["sid"] not in present or self.options.with_history:
                    parts[s["sid"]] = self.source.participants(service_sid, s["sid"])
                    self._read_count["participants"] += len(parts[s["sid"]])
                if self.options.with_history:
                    who = [p["sid"] for p in parts[s["sid"]]]
                    history[s["sid"]] = self.source.interactions(service_sid, s["sid"], who)
                    self._read_count["interactions"] += len(history[s["sid"]])
            except TwilioRestException as exc:
                if exc.status != 404:
                    raise
                gone.add(s["sid"])  # deleted on Twilio since its page was read
        with self.runtime.transaction(writes=not self.options.dry_run) as conn:
            for s in batch:
                if s["sid"] in present:
                    self.tallies["sessions"].present += 1
                    self._interactions(conn, s, history.get(s["sid"], []))
                    continue
                if s["sid"] in gone:
                    self.tallies["sessions"].skipped["deleted on Twilio during the import"] += 1
                    continue
                reason = self._session(conn, s, parts[s["sid"]], history.get(s["sid"], []))
                if reason is not None:
                    self.tallies["sessions"].skipped[reason] += 1

    def _session(
        self,
        conn: Connection,
        source: dict[str, Any],
        parts: list[dict[str, Any]],
        history: list[dict[str, Any]],
    ) -> str | None:
        """Write one session with its participants; None, or why it was skipped."""
        account = self.options.account_sid
        sid, service_sid = source["sid"], source["service_sid"]
        active = source["status"] in ACTIVE
        name = source["unique_name"]
        if name is not None:
            taken = store.session_named(conn, service_sid, name)
            if taken is not None or (service_sid, name) in self._plan.session_names:
                return f"unique name {name!r} taken in its service"
        rows, reason = self._participant_rows(conn, source, parts, active)
        if reason is not None:
            return reason
        created = source["date_created"] or 0
        values = {
            **source,
            "account_sid": account,
            "date_created": created,
            "date_updated": source["date_updated"] or created,
            # The TTL counts from creation, or from the last interaction (sessions/rules.py).
            "ttl_base": created,
            "expires_at": expires_at(
                date_expiry=source["date_expiry"],
                ttl=source["ttl"],
                ttl_base=created,
                last_interaction=source["date_last_interaction"],
            )
            if active
            else None,
        }
        if not self.options.dry_run:
            try:
                with conn.begin_nested():
                    store.insert_session(conn, values)
                    store.insert_participants(conn, rows)
                    store.count_in_use(conn, {r["proxy_number_sid"] for r in rows if r["active"]})
                    self._interactions(conn, values, history, counted=False)
            except IntegrityError as exc:
                return f"refused by the database ({_constraint(exc)})"
        self.tallies["sessions"].imported += 1
        self.tallies["participants"].imported += len(rows)
        self.tallies["interactions"].imported += len(history)
        if name is not None:
            self._plan.session_names.add((service_sid, name))
        for row in rows:
            if row["active"]:
                self._plan.pairs[(row["identifier"], row["proxy_number_sid"])] = sid
        return None

    def _participant_rows(
        self, conn: Connection, session: dict[str, Any], parts: list[dict[str, Any]], active: bool
    ) -> tuple[list[dict[str, Any]], str | None]:
        here = [p for p in parts if p["date_deleted"] is None]
        if len(here) > 2:
            return [], "more than two participants"
        slots = {p["sid"]: slot for slot, p in enumerate(sorted(here, key=_created), start=1)}
        rows = []
        for p in parts:
            number_sid = p["proxy_identifier_sid"]
            known = number_sid in self._plan.numbers
            if not known and numbers_store.get_number(conn, number_sid) is None:
                return [], f"proxy number {number_sid} is in none of the imported pools"
            holds = active and p["date_deleted"] is None
            if holds:
                holder = self._plan.pairs.get((p["identifier"], number_sid)) or (
                    store.active_pair_holder(conn, p["identifier"], number_sid)
                )
                if holder is not None:
                    return [], (
                        f"pair conflict: {p['identifier']} is already active on "
                        f"{p['proxy_identifier']} in {holder}"
                    )
            created = p["date_created"] or 0
            rows.append(
                {
                    "sid": p["sid"],
                    "account_sid": self.options.account_sid,
                    "service_sid": session["service_sid"],
                    "session_sid": session["sid"],
                    "identifier": p["identifier"],
                    "friendly_name": p["friendly_name"],
                    "proxy_identifier": p["proxy_identifier"],
                    "proxy_number_sid": number_sid,
                    "slot": slots.get(p["sid"]),
                    "active": holds,
                    "date_created": created,
                    "date_updated": p["date_updated"] or created,
                    "date_deleted": p["date_deleted"],
                }
            )
        if store.participant_sids(conn, [row["sid"] for row in rows]):
            return [], "its participants are already in Maskline under another session"
        return rows, None

    def _interactions(
        self,
        conn: Connection,
        session: dict[str, Any],
        history: list[dict[str, Any]],
        counted: bool = True,
    ) -> None:
        """Write the interactions Maskline lacks; `counted`: tally them here."""
        if not history:
            return
        have = store.interaction_sids(conn, [i["sid"] for i in history])
        new = [
            {
                **i,
                "account_sid": self.options.account_sid,
                "service_sid": session["service_sid"],
                "session_sid": session["sid"],
                "date_created": i["date_created"] or 0,
                "date_updated": i["date_updated"] or i["date_created"] or 0,
            }
            for i in history
            if i["sid"] not in have
        ]
        if not self.options.dry_run:
            store.insert_interactions(conn, new)
        if counted:
            self.tallies["interactions"].imported += len(new)
            self.tallies["interactions"].present += len(have)


def _number_row(
    number: SourceNumber, value: str, caps: dict[str, bool], account_sid: str
) -> dict[str, Any] | None:
    calling_code: int | None
    if number.kind == PHONE_NUMBER:
        facts = geo.phone_facts(value)
        if facts is None:
            return None
        country, calling_code, area_code = facts.iso_country, facts.calling_code, facts.area_code
    else:
        country = (number.iso_country or "").upper()
        calling_code, area_code = geo.calling_code_for_country(country), None
    created = number.date_created or 0
    return {
        "sid": number.sid,
        "account_sid": account_sid,
        "kind": number.kind,
        "phone_number": value,
        "friendly_name": number.friendly_name or number.value,
        "iso_country": country,
        "calling_code": calling_code,
        "area_code": area_code,
        **caps,
        "date_created": created,
        "date_updated": number.date_updated or created,
        "in_use": 0,
    }


def _created(participant: dict[str, Any]) -> tuple[int, str]:
    return (participant["date_created"] or 0, participant["sid"])


def _batches(items: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _status(exc: TwilioException) -> int | None:
    """The HTTP status behind a client error: a TwilioRestException carries it, a list page
    that failed carries the response."""
    if isinstance(exc, TwilioRestException):
        return int(exc.status)
    response = exc.args[1] if len(exc.args) > 1 else None
    code = getattr(response, "status_code", None)
    return int(code) if code is not None else None


def _refusal(exc: TwilioException) -> str:
    if isinstance(exc, TwilioRestException):
        return f"Twilio answered {exc.status} to {exc.method} {exc.uri}: {exc.msg}"
    response = exc.args[1] if len(exc.args) > 1 else None
    text = str(getattr(response, "text", ""))[:200]
    return f"Twilio answered {_status(exc)}: {text or exc}"


def _constraint(exc: IntegrityError) -> str:
    text = str(exc.orig).splitlines()[0] if exc.orig is not None else "a constraint"
    return text[:200]


def summary(tallies: dict[str, Tally], dry_run: bool) -> list[str]:
    """The closing table: imported, already present and skipped per kind, then the reasons."""
    lines = []
    if dry_run:
        lines.append("Dry run: nothing was written. An import would do this:")
    lines.append(f"{'':<16}{'imported':>10}{'present':>10}{'skipped':>10}")
    for kind in KINDS:
        t = tallies[kind]
        lines.append(f"{kind:<16}{t.imported:>10}{t.present:>10}{sum(t.skipped.values()):>10}")
    for kind in KINDS:
        for reason, count in sorted(tallies[kind].skipped.items()):
            lines.append(f"skipped {count} {kind}: {reason}")
    return lines
