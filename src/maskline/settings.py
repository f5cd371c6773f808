"""Maskline's settings: one typed object read once from `MASKLINE_*` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from maskline.sids import ACCOUNT, is_sid

# The shortest auth token MASKLINE_AUTH_TOKEN may set: a shorter one is guessable.
MIN_AUTH_TOKEN_LENGTH = 16


class SettingsError(ValueError):
    """A `MASKLINE_*` variable holds a value Maskline cannot use."""


def _setting(default: Any, help: str) -> Any:
    # The help text lives beside the field so `maskline settings` and the docs test can list it.
    from dataclasses import field

    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    database_url: str = _setting(
        "sqlite:///./var/maskline.db",
        "Database URL. A SQLite file (default, created with its folder) or PostgreSQL as "
        "postgresql://user:password@host:5432/dbname.",
    )
    database_pool_size: int = _setting(
        10,
        "PostgreSQL: connections each process keeps for its transactions. Requests and the "
        "worker wait for the database on the event loop, each transaction on a connection of "
        "its own, so up to this many wait at once while the process serves others; more "
        "wait for a connection. Each process opens up to this many, plus one or two.",
    )
    database_prepare: int = _setting(
        1,
        "PostgreSQL: 1 prepares the frequent statements once per connection; 0 sends each "
        "whole every time, for a pooler that gives each transaction another server "
        "connection without carrying prepared statements (PgBouncer before 1.21 in "
        "transaction mode).",
    )
    account_sid: str = _setting(
        "",
        "SID of an account to create at start if absent (AC followed by 32 hex digits). "
        "Without it, a development account is created once and its credentials printed.",
    )
    auth_token: str = _setting(
        "",
        "Auth token of MASKLINE_ACCOUNT_SID; required with it. Printable ASCII without "
        "spaces, at least 16 characters (Twilio's are 32 hex digits). Changing it and "
        "restarting rotates the token.",
    )
    public_url: str = _setting(
        "",
        "Public base URL (scheme://host[:port]) used in `url`, `links`, paging URLs and "
        "signatures. Default: taken from each request's Host header.",
    )
    carrier: str = _setting(
        "sandbox",
        "Carrier that carries texts and calls: `sandbox` (simulated network, default) or `twilio`.",
    )
    host: str = _setting("127.0.0.1", "Address `maskline serve` listens on.")
    port: int = _setting(8080, "Port `maskline serve` listens on.")
    log_level: str = _setting("info", "Log level: debug, info, warning or error.")
    console: int = _setting(
        1,
        "1: the web console at /console (sign-in with an account's or an API key's "
        "credentials); 0: no console.",
    )
    log_format: str = _setting(
        "text",
        "`text`: a line per record, starting with its UTC time; `json`: one JSON object per "
        "line with `time`, `level`, `logger`, `message` (and the access record's fields), "
        "for Maskline's and uvicorn's records alike.",
    )
    access_log: int = _setting(
        1,
        "1: a record per request at `info` on `maskline.access` (method, path, status, "
        "duration_ms, request_id, account_sid; never a query, a body or a credential); 0: none.",
    )
    metrics_token: str = _setting(
        "",
        "When set, GET /metrics requires `Authorization: Bearer <token>`. Default: open, "
        "like /healthz.",
    )
    metrics_dir: str = _setting(
        "",
        "Directory where the processes of one host share their metrics. `serve --workers N` "
        "makes a temporary one when unset; set it (the same for `maskline serve` and "
        "`maskline worker`) to count a separate worker's deliveries in serve's scrapes.",
    )
    retention_days: int = _setting(
        90,
        "Days a closed session is kept (with its participants and interactions), and finished "
        "callbacks with their attempts, and events; older ones are deleted by the worker. "
        "0: keep everything. Twilio deletes closed sessions after 90 days.",
    )
    max_pool_numbers: int = _setting(
        0,
        "Highest number of phone numbers and short codes one service may hold (0: no cap). "
        "Twilio's own cap is 500 unreserved numbers.",
    )
    max_body_bytes: int = _setting(
        1_048_576, "Largest request body accepted, in bytes; larger bodies get 413."
    )

    auth_failure_limit: int = _setting(
        20,
        "Failed sign-ins in a minute for one account or key SID, or from one client address, "
        "after which further attempts get 429 (20429) until the minute is over; 0: no limit.",
    )
    rate_limit_rps: int = _setting(
        0,
        "Requests per second one account may make to one process, with bursts of five times "
        "as many; beyond it 429 (20429). 0: no limit. Twilio's Proxy allows 30.",
    )

    callback_timeout_ms: int = _setting(
        10_000, "How long a status callback (callback_url, SessionCallbackUrl) may take, in ms."
    )
    sync_callback_timeout_ms: int = _setting(
        5_000,
        "How long the intercept and out-of-session callbacks may take, in ms; the traffic "
        "waits for them.",
    )
    callback_max_attempts: int = _setting(
        16, "Delivery attempts of one callback before it is marked failed."
    )
    callback_retry_base_ms: int = _setting(
        1_000, "Wait before the first retry of a failed callback, in ms; it doubles each time."
    )
    callback_retry_max_ms: int = _setting(
        600_000,
        "Longest wait between two attempts, in ms. With the defaults, retries span more than "
        "an hour.",
    )
    callback_max_answer_bytes: int = _setting(
        65_536,
        "Most bytes of a callback's answer Maskline reads. An intercept or out-of-session "
        "answer beyond it is unusable; a status callback's is cut for the attempt log.",
    )
    callback_allow_private: str = _setting(
        "",
        "1 lets callbacks reach loopback, private, link-local and other non-public addresses; "
        "0 refuses them, checked on the address the host resolves to when connecting. "
        "Default: 1 with the sandbox carrier, 0 with the Twilio carrier.",
    )
    callback_concurrency: int = _setting(
        64, "Status callbacks one worker delivers at once, across every receiver."
    )
    callback_host_concurrency: int = _setting(
        8,
        "Status callbacks one worker delivers at once to one receiver (scheme, host, port); "
        "more that are due for it wait a second, so one slow receiver cannot hold them all.",
    )
    worker_poll_ms: int = _setting(
        200, "How often the worker looks for due callbacks, jobs and expired sessions, in ms."
    )
    sandbox_step_ms: int = _setting(
        200,
        "Sandbox only: time between two status steps of a message or call "
        "(queued, sent, delivered; ringing, in-progress), in ms.",
    )
    run_worker: int = _setting(
        1, "1: `maskline serve` runs the worker in-process; 0: run `maskline worker` beside it."
    )

    twilio_account_sid: str = _setting(
        "", "Twilio carrier: the Twilio account (AC...) whose numbers and network Maskline uses."
    )
    twilio_auth_token: str = _setting(
        "",
        "Twilio carrier: that account's auth token. Always needed: Twilio signs its webhooks "
        "with it. Also used for REST calls unless an API key is set.",
    )
    twilio_api_key: str = _setting(
        "", "Twilio carrier: an API key SID (SK...) for REST calls, instead of the auth token."
    )
    twilio_api_secret: str = _setting("", "Twilio carrier: the secret of MASKLINE_TWILIO_API_KEY.")
    twilio_api_base: str = _setting(
        "https://api.twilio.com",
        "Twilio carrier: base URL of Twilio's REST API (tests point it at a local fake).",
    )
    twilio_configure_webhooks: int = _setting(
        0,
        "Twilio carrier: 1 makes CreatePhoneNumber point the number's SMS and voice URLs at "
        "Maskline's webhooks (MASKLINE_PUBLIC_URL must be set).",
    )
    twilio_timeout_ms: int = _setting(
        10_000, "Twilio carrier: how long one REST call to Twilio may take, in ms."
    )
    twilio_max_attempts: int = _setting(
        8,
        "Twilio carrier: attempts of one send when Twilio answers 429 or 5xx (with the callback "
        "backoff) before the leg is marked failed.",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get("MASKLINE_" + f.name.upper())
            if raw is None or raw == "":
                continue
            if f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError as exc:
                    raise SettingsError(
                        f"MASKLINE_{f.name.upper()} must be a whole number, not {raw!r}"
                    ) from exc
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if self.carrier not in ("sandbox", "twilio"):
            raise SettingsError("MASKLINE_CARRIER must be `sandbox` or `twilio`")
        if bool(self.account_sid) != bool(self.auth_token):
            raise SettingsError("MASKLINE_ACCOUNT_SID and MASKLINE_AUTH_TOKEN go together")
        if self.account_sid:
            self._check_login()
        if self.public_url:
            # Twilio's webhooks are pointed at it and its signatures are checked against it.
            from maskline.callbacks.http import url_problem

            problem = url_problem(self.public_url)
            if problem is not None:
                raise SettingsError(f"MASKLINE_PUBLIC_URL {problem}")
        if self.carrier == "twilio":
            if not (self.twilio_account_sid and self.twilio_auth_token):
                raise SettingsError(
                    "MASKLINE_CARRIER=twilio needs MASKLINE_TWILIO_ACCOUNT_SID and "
                    "MASKLINE_TWILIO_AUTH_TOKEN (Twilio signs its webhooks with the token)"
                )
            if bool(self.twilio_api_key) != bool(self.twilio_api_secret):
                raise SettingsError(
                    "MASKLINE_TWILIO_API_KEY and MASKLINE_TWILIO_API_SECRET go together"
                )
            if not self.public_url:
                raise SettingsError(
                    "MASKLINE_CARRIER=twilio needs MASKLINE_PUBLIC_URL: the address Twilio calls, "
                    "against which its signatures are checked"
                )
        if self.auth_failure_limit < 0 or self.rate_limit_rps < 0:
            raise SettingsError(
                "MASKLINE_AUTH_FAILURE_LIMIT and MASKLINE_RATE_LIMIT_RPS cannot be negative"
            )
        if self.callback_allow_private not in ("", "0", "1"):
            raise SettingsError("MASKLINE_CALLBACK_ALLOW_PRIVATE must be 0 or 1")
        for name in (
            "callback_max_answer_bytes",
            "callback_concurrency",
            "callback_host_concurrency",
        ):
            if getattr(self, name) < 1:
                raise SettingsError(f"MASKLINE_{name.upper()} must be at least 1")
        if self.log_format not in ("text", "json"):
            raise SettingsError("MASKLINE_LOG_FORMAT must be `text` or `json`")
        if self.log_level.lower() not in ("debug", "info", "warning", "error", "critical"):
            raise SettingsError("MASKLINE_LOG_LEVEL must be debug, info, warning or error")
        if not 1 <= self.database_pool_size <= 1000:
            raise SettingsError("MASKLINE_DATABASE_POOL_SIZE must be between 1 and 1000")
        if self.console not in (0, 1):
            raise SettingsError("MASKLINE_CONSOLE must be 0 or 1")
        if self.access_log not in (0, 1):
            raise SettingsError("MASKLINE_ACCESS_LOG must be 0 or 1")
        if self.retention_days < 0:
            raise SettingsError("MASKLINE_RETENTION_DAYS cannot be negative")
        if self.max_pool_numbers < 0:
            raise SettingsError("MASKLINE_MAX_POOL_NUMBERS cannot be negative")

    @property
    def allows_private_callbacks(self) -> bool:
        if self.callback_allow_private:
            return self.callback_allow_private == "1"
        return self.carrier == "sandbox"

    def _check_login(self) -> None:
        """The configured account must be one a client can sign in to: Basic credentials
        name an account by `AC` and 32 hex digits, and the SDKs send a password as ASCII."""
        if not is_sid(self.account_sid, ACCOUNT):
            raise SettingsError(
                "MASKLINE_ACCOUNT_SID must be AC followed by 32 hex digits, "
                f"not a value of {len(self.account_sid)} characters"
            )
        token = self.auth_token
        if not (token.isascii() and token.isprintable()) or any(ch.isspace() for ch in token):
            raise SettingsError(
                "MASKLINE_AUTH_TOKEN must be printable ASCII without spaces: clients send it "
                "in HTTP Basic credentials, which could never carry it"
            )
        if len(token) < MIN_AUTH_TOKEN_LENGTH:
            raise SettingsError(
                f"MASKLINE_AUTH_TOKEN must be at least {MIN_AUTH_TOKEN_LENGTH} characters "
                "(Twilio's are 32 hex digits)"
            )


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, help) for every setting, for the CLI and the docs."""
    rows = []
    for f in fields(Settings):
        rows.append((f"MASKLINE_{f.name.upper()}", str(f.default), f.metadata["help"]))
    return rows
