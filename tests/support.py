"""Helpers the tests share: a real Maskline server process, SDK clients, the spec's schemas."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
from twilio.rest import Client

ROOT = Path(__file__).resolve().parent.parent
# The Proxy v1 wire facts the tests hold Maskline to; its `x-source` says where they come from.
SPEC_PATH = ROOT / "tests" / "data" / "twilio_proxy_v1_wire.json"

# Which database engine the suite runs on: `make test` runs it once on each.
ENGINE = os.environ.get("MASKLINE_TEST_ENGINE", "sqlite")

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "t" * 32


def _port_range() -> range:
    """This test process's own ports. The suite runs in several processes at once (`-n 2`),
    and a port the kernel hands out at random is free only until it is bound: a process that
    picked it, and released it for a server to take, can see another process take it first,
    and then talk to a server that is not its own. Each process picks from a range no other
    process picks from, below Linux's range of ports for outgoing connections (32768 up)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = "".join(ch for ch in worker if ch.isdigit())
    index = int(digits) if digits else 0
    start = 20000 + (index % 8) * 1500
    return range(start, start + 1500)


_next_port = 0


def free_port() -> int:
    """A port no server of this test process or of another one is on: this process's ports
    in turn (so two calls in a row never give the same one), the first that binds."""
    global _next_port
    ports = _port_range()
    for _ in range(len(ports)):
        port = ports[_next_port % len(ports)]
        _next_port += 1
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports}")


@dataclass
class Server:
    """A `maskline serve` process on a free port, with its own database."""

    database_url: str
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    # On PostgreSQL, run `maskline migrate` before serving, as operators do before an upgrade.
    migrate_first: bool = True
    # More arguments for `maskline serve` (`--workers 2`).
    args: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        env = {
            **os.environ,
            "MASKLINE_DATABASE_URL": self.database_url,
            "MASKLINE_ACCOUNT_SID": ACCOUNT_SID,
            "MASKLINE_AUTH_TOKEN": AUTH_TOKEN,
            "MASKLINE_LOG_LEVEL": "warning",
            # Every test sends from 127.0.0.1, and many send wrong credentials on purpose:
            # the limit stays on, high enough for the suite (test_auth.py tests it low).
            "MASKLINE_AUTH_FAILURE_LIMIT": "10000",
            **self.env,
        }
        for name in ("TWILIO_EDGE", "TWILIO_REGION"):
            env.pop(name, None)
        if self.migrate_first and self.database_url.startswith("postgresql"):
            subprocess.run(
                [sys.executable, "-m", "maskline", "migrate"],
                env=env,
                check=True,
                capture_output=True,
                timeout=120,
            )
        if self.log_path is None:  # one file for the server's life, restarts included
            name = f"maskline-{self.port}-{uuid.uuid4().hex[:8]}.log"
            self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / name
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "maskline", "serve", "--port", str(self.port), *self.args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"maskline exited early:\n{self.log()}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"maskline did not start in {timeout}s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def client(self, username: str = ACCOUNT_SID, password: str = AUTH_TOKEN) -> Client:
        client = Client(username, password, account_sid=ACCOUNT_SID)
        client.proxy.base_url = self.base_url
        return client

    def http(self, username: str = ACCOUNT_SID, password: str = AUTH_TOKEN) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, auth=(username, password), timeout=30)


_postgres: Any = None


def postgres() -> Any:
    """This test process's PostgreSQL server, started on first use and stopped at exit."""
    global _postgres
    if _postgres is None:
        import atexit

        from tests.pg import PostgresServer

        _postgres = PostgresServer().start()
        atexit.register(_postgres.stop)
    return _postgres


def skip_or_fail(what: str, reason: str) -> NoReturn:
    """Skip locally when a server program is missing; in CI (`CI=true`) that is a failure."""
    import pytest

    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI needs {what}: {reason}")
    pytest.skip(reason)


def postgres_database() -> str:
    """A fresh database on this test process's PostgreSQL, whichever engine the run tests:
    for what only PostgreSQL can show."""
    try:
        return str(postgres().create_database())
    except Exception as exc:
        skip_or_fail("PostgreSQL", f"no PostgreSQL server could be started ({exc})")


def new_database_url(folder: Path) -> str:
    """A fresh, empty database on the engine this run tests."""
    if ENGINE == "postgresql":
        return str(postgres().create_database())
    return f"sqlite:///{folder / (uuid.uuid4().hex[:12] + '.db')}"


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


_spec: dict[str, Any] | None = None


def spec() -> dict[str, Any]:
    global _spec
    if _spec is None:
        _spec = json.loads(SPEC_PATH.read_text())
    return _spec


def assert_schema(body: dict[str, Any], schema_name: str) -> None:
    """The body has exactly the spec's fields for this resource, each of the spec's type."""
    import jsonschema

    schemas = spec()["components"]["schemas"]
    schema = schemas["proxy.v1." + schema_name]
    assert set(body) == set(schema["properties"]), (
        f"{schema_name}: extra {set(body) - set(schema['properties'])}, "
        f"missing {set(schema['properties']) - set(body)}"
    )
    resolver_schema = {**schema, "components": spec()["components"]}
    validator = jsonschema.Draft202012Validator(
        _nullable(resolver_schema), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(body)


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema understands it."""
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False):
            if "$ref" in node:
                return {"anyOf": [{"$ref": node.pop("$ref")}, {"type": "null"}]}
            if "type" in node:
                node["type"] = [node["type"], "null"]
                if "enum" in node:
                    node["enum"] = [*node["enum"], None]
        if "$ref" in node and isinstance(node["$ref"], str):
            node["$ref"] = node["$ref"]
        return node
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


def create_account(server: Server) -> tuple[str, str]:
    """A further account, made with `maskline accounts create` on the server's database."""
    import re

    done = subprocess.run(
        [str(Path(sys.executable).parent / "maskline"), "accounts", "create"],
        env={**os.environ, "MASKLINE_DATABASE_URL": server.database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    sid = re.search(r"Account SID:\s*(AC[0-9a-f]{32})", done.stdout)
    token = re.search(r"Auth token:\s*(\S+)", done.stdout)
    assert sid and token, done.stdout + done.stderr
    return sid.group(1), token.group(1)


_other_accounts: dict[str, tuple[str, str]] = {}


def other_account(server: Server) -> tuple[str, str]:
    """One second account per server, made once and shared (each CLI run costs a second)."""
    if server.database_url not in _other_accounts:
        _other_accounts[server.database_url] = create_account(server)
    return _other_accounts[server.database_url]
