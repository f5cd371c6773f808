"""The production image, built from the repository's Dockerfile and run by a container engine
(podman): it serves the API as its own unprivileged user, keeps its SQLite database in its
volume across a restart, writes JSON log lines, and on PostgreSQL migrates then serves, as
compose.yaml runs it.

The Dockerfile builds on `python:3.11-slim`. Where no image registry can be reached (the
machines this suite runs on reach only PyPI, Debian's archive and npm), the base is a stand-in
of the same kind: Debian bookworm made by debootstrap, with Python 3.11, pip and this machine's
certificate authorities (so that pip can reach PyPI through the same network), passed in with
`--build-arg PYTHON_IMAGE`. Every instruction of the Dockerfile runs as written.

The image is built and tried once, in the SQLite half of the suite; its PostgreSQL test uses
this test process's PostgreSQL server whichever half runs.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.rest import Client

from tests.conftest import next_number, participants_json
from tests.support import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    ENGINE,
    ROOT,
    free_port,
    postgres_database,
    skip_or_fail,
)
from tests.traffic import wait_until

pytestmark = pytest.mark.skipif(
    ENGINE != "sqlite", reason="the image is built and tried once, in the SQLite half"
)

IMAGE = "localhost/maskline-test:latest"
OFFICIAL_BASE = "docker.io/library/python:3.11-slim"
STAND_IN_BASE = "localhost/maskline-test-base:bookworm"
MIRROR = os.environ.get("MASKLINE_TEST_DEBIAN_MIRROR", "http://deb.debian.org/debian")


def _podman() -> str:
    found = shutil.which("podman")
    if found is None:
        skip_or_fail(
            "podman", "podman is not installed; install it with `apt-get install podman runc`"
        )
    info = subprocess.run([found, "info"], capture_output=True, text=True, timeout=120)
    if info.returncode != 0:
        skip_or_fail("podman", f"podman cannot run here: {info.stderr.strip()[-300:]}")
    return found


def _limits() -> list[str]:
    """`--ulimit` options within this process's own limits: an engine's defaults may ask for
    more than an unprivileged sandbox may give, and the container then fails to start."""
    _, files = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, processes = resource.getrlimit(resource.RLIMIT_NPROC)
    files = 65536 if files == resource.RLIM_INFINITY else min(files, 65536)
    processes = 4096 if processes == resource.RLIM_INFINITY else min(processes, 4096)
    return ["--ulimit", f"nofile={files}:{files}", "--ulimit", f"nproc={processes}:{processes}"]


def _run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a command at the lowest CPU priority, and the containers it starts with it: the
    suite's other test process may be timing something meanwhile (test_remote_database.py)."""
    command = ["nice", "-n", "19", *args]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(command, -1, "", f"timed out after {timeout}s")


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (done.args, done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout


def _base(podman: str, scratch: Path) -> str:
    """The image the Dockerfile builds on: the official one when it is here or can be pulled,
    else the Debian stand-in (made once, then kept in the engine's storage)."""
    for image in (OFFICIAL_BASE, STAND_IN_BASE):
        if _run(podman, "image", "exists", image).returncode == 0:
            return image
    # Where no registry answers, this fails at once (or, on a network that drops what it
    # refuses, in two minutes), and the stand-in is made instead.
    if _run(podman, "pull", "--quiet", OFFICIAL_BASE, timeout=120).returncode == 0:
        return OFFICIAL_BASE
    debootstrap = shutil.which("debootstrap")
    if debootstrap is None or os.geteuid() != 0:
        skip_or_fail(
            "a base image",
            f"{OFFICIAL_BASE} cannot be pulled, and the stand-in needs debootstrap run as root "
            "(`apt-get install debootstrap`)",
        )
    root = scratch / "bookworm"
    _ok(
        _run(
            debootstrap,
            "--variant=minbase",
            "--include=python3,python3-pip,python-is-python3,ca-certificates",
            "bookworm",
            str(root),
            MIRROR,
            timeout=1200,
        )
    )
    # This machine's authorities, which its network may need (an intercepting proxy's).
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", root / "etc/ssl/certs/ca-certificates.crt")
    archive = scratch / "bookworm.tar"
    _ok(_run("tar", "-C", str(root), "-cf", str(archive), "."))
    _ok(
        _run(
            podman,
            "import",
            # Debian's Python refuses pip installs outside a virtual environment (PEP 668);
            # the official image has no such rule, and the Dockerfile relies on that.
            "--change",
            "ENV PIP_BREAK_SYSTEM_PACKAGES=1",
            "--change",
            'CMD ["python3"]',
            str(archive),
            STAND_IN_BASE,
        )
    )
    shutil.rmtree(root)
    archive.unlink()
    return STAND_IN_BASE


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The engine, once the image is built (as IMAGE)."""
    podman = _podman()
    base = _base(podman, tmp_path_factory.mktemp("base"))
    _ok(
        _run(
            podman,
            "build",
            "--pull=never",
            "--network=host",
            "--format=docker",  # keeps the HEALTHCHECK, which the OCI format drops
            *_limits(),
            "--build-arg",
            f"PYTHON_IMAGE={base}",
            "--tag",
            IMAGE,
            str(ROOT),
            timeout=1800,
        )
    )
    yield podman
    _run(podman, "rmi", "--force", IMAGE)


@dataclass
class Container:
    podman: str
    env: dict[str, str]
    args: list[str] = field(default_factory=list)
    volume: str | None = None
    port: int = field(default_factory=free_port)
    name: str = field(default_factory=lambda: f"maskline-test-{uuid.uuid4().hex[:12]}")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Container:
        settings = {
            "MASKLINE_ACCOUNT_SID": ACCOUNT_SID,
            "MASKLINE_AUTH_TOKEN": AUTH_TOKEN,
            "MASKLINE_PORT": str(self.port),
            **self.env,
        }
        options = [
            option for name, value in settings.items() for option in ("-e", f"{name}={value}")
        ]
        if self.volume is not None:
            options += ["--volume", f"{self.volume}:/var/lib/maskline"]
        _ok(
            _run(
                self.podman,
                "run",
                "--detach",
                "--name",
                self.name,
                "--network=host",
                *_limits(),
                *options,
                IMAGE,
                *self.args,
            )
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.base_url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            state = _run(self.podman, "inspect", "--format", "{{.State.Status}}", self.name)
            if state.stdout.strip() == "exited":
                raise AssertionError(f"the container exited:\n{self.logs()}")
            time.sleep(0.25)
        raise AssertionError(f"the container was not ready in {timeout}s:\n{self.logs()}")

    def logs(self) -> str:
        done = _run(self.podman, "logs", self.name)
        return done.stdout + done.stderr

    def records(self) -> list[dict[str, Any]]:
        """Its log, each line a JSON object (or the test fails on the line that is not)."""
        return [json.loads(line) for line in self.logs().splitlines() if line.strip()]

    def exec(self, *command: str) -> str:
        return _ok(_run(self.podman, "exec", self.name, *command))

    def remove(self) -> None:
        _run(self.podman, "rm", "--force", "--time", "10", self.name)

    def client(self) -> Client:
        client = Client(ACCOUNT_SID, AUTH_TOKEN)
        client.proxy.base_url = self.base_url
        return client


def _conversation(client: Client) -> tuple[str, str]:
    """A service with two numbers, a session of two and a text between them: the session's SID
    and the interaction's."""
    service = client.proxy.v1.services.create(unique_name=f"image-{uuid.uuid4().hex[:8]}")
    for _ in range(2):
        service.phone_numbers.create(phone_number=next_number())
    session = service.sessions.create(participants=participants_json(next_number(), next_number()))
    first = session.participants.list()[0]
    sent = session.participants(first.sid).message_interactions.create(body="from the image")
    return session.sid, sent.sid


def test_the_image_serves_as_its_own_user_and_keeps_its_data(podman: str) -> None:
    volume = f"maskline-test-{uuid.uuid4().hex[:12]}"
    _ok(_run(podman, "volume", "create", volume))
    container = Container(podman, env={}, volume=volume)
    try:
        container.start()
        # Its own user, and no development tools beside Maskline.
        assert container.exec("id", "-u").strip() == "10001"
        tools = _run(podman, "exec", container.name, "python", "-c", "import pytest")
        assert tools.returncode != 0 and "No module named 'pytest'" in tools.stderr

        client = container.client()
        session_sid, interaction_sid = _conversation(client)
        service_sid = client.proxy.v1.services.list()[0].sid
        # The console's pages came with the package.
        assert "Sign in" in httpx.get(container.base_url + "/console/sign-in").text

        # Every line it writes is JSON (the image's default), requests with their ids.
        answer = httpx.get(
            container.base_url + f"/v1/Services/{service_sid}", auth=(ACCOUNT_SID, AUTH_TOKEN)
        )
        request_id = answer.headers["Twilio-Request-Id"]

        # The access record is written once the answer is sent: waited for.
        def logged() -> list[dict[str, Any]] | None:
            records = container.records()
            return records if any(r.get("request_id") == request_id for r in records) else None

        records = wait_until(logged, timeout=15, what="the request's access record")
        assert all({"time", "level", "logger", "message"} <= line.keys() for line in records)
        assert AUTH_TOKEN not in container.logs()

        # Stopped and started again, it has what it had: the database is in the volume.
        _ok(_run(podman, "restart", "--time", "10", container.name))
        container.wait_ready()
        session = client.proxy.v1.services(service_sid).sessions(session_sid).fetch()
        assert session.status in ("open", "in-progress")
        interaction = (
            client.proxy.v1.services(service_sid)
            .sessions(session_sid)
            .interactions(interaction_sid)
            .fetch()
        )
        assert interaction.data is not None and "from the image" in interaction.data
        # Its health check is the one the Dockerfile declares, and it passes.
        health = _run(podman, "healthcheck", "run", container.name)
        assert health.returncode == 0, health.stdout + health.stderr
    finally:
        container.remove()
        _run(podman, "volume", "rm", "--force", volume)


def test_the_image_migrates_then_serves_on_postgresql(podman: str) -> None:
    url = postgres_database()
    env = {"MASKLINE_DATABASE_URL": url}
    # What compose.yaml's `migrate` service runs, then its `maskline` service.
    done = _run(
        podman,
        "run",
        "--rm",
        "--network=host",
        *_limits(),
        *[option for name, value in env.items() for option in ("-e", f"{name}={value}")],
        "--entrypoint",
        "maskline",
        IMAGE,
        "migrate",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    container = Container(podman, env=env, args=["--workers", "2"])
    try:
        container.start()
        client = container.client()
        session_sid, _ = _conversation(client)
        service_sid = client.proxy.v1.services.list()[0].sid
        fetched = client.proxy.v1.services(service_sid).sessions(session_sid).fetch()
        assert fetched.sid == session_sid and fetched.status in ("open", "in-progress")

        # Both processes of `--workers 2` serve: their access records name two pids.
        def serving() -> set[int]:
            for _ in range(20):  # new connections, which the kernel spreads over the two
                with httpx.Client(base_url=container.base_url) as fresh:
                    fresh.get("/v1/Services", auth=(ACCOUNT_SID, AUTH_TOKEN))
            return {
                int(line["pid"])
                for line in container.records()
                if line.get("logger") == "maskline.access" and line.get("path") == "/v1/Services"
            }

        def two() -> set[int] | None:
            found = serving()
            return found if len(found) >= 2 else None

        pids = wait_until(two, timeout=30, what="both processes' access records")
        assert len(pids) == 2, pids
    finally:
        container.remove()
