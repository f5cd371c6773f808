"""What one request costs Maskline's own code, counted in CPU instructions.

    .venv/bin/python -m bench.cost                          # every workload (needs valgrind)
    .venv/bin/python -m bench.cost --only create_session --requests 640
    .venv/bin/python -m bench.cost --src /tmp/before/src    # another checkout's code, for A/B
    .venv/bin/python -m bench.cost --cpu                    # CPU time instead, without valgrind
    .venv/bin/python -m bench.cost --engine postgresql      # the same on a throwaway PostgreSQL

Requests per second on a shared two-core machine move by 10 to 20% from one run to the next;
the instructions a request executes move by well under 1%. So a change meant to make a request
cheaper is best judged here first, and then by `bench.run`.

The ASGI application is driven in process, as `maskline serve` runs it but without uvicorn and
sockets (their share is the same for Maskline and the ceiling): lifespan start-up (group commit,
checkpoint thread), a SQLite file (or, with `--engine postgresql`, a database on a throwaway
cluster) with 1,000 pool numbers and 1,000 active sessions, and the same requests as
`bench.run`, 32 at a time. The worker runs one round after each 32 requests (under load a
server's worker runs a round at most every 20 ms, which is about as many), so that its share
follows the requests rather than the clock, which valgrind slows fifty-fold;
the status steps of a message are due at once. Each workload runs twice under cachegrind, with
N and 3N requests after the same warm-up; the difference divided by 2N is the cost of one
request, start-up and warm-up cancelled out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.client import basic_auth
from bench.servers import ACCOUNT_SID, AUTH_TOKEN, ROOT, Postgres

WORKLOADS = (
    "fetch_session",
    "list_sessions",
    "create_session",
    "create_message_interaction",
    "inbound_message",
)
CONCURRENCY = 32
WARMUP = 64

Call = Callable[[str, str, dict[str, Any] | None, bytes], Awaitable[tuple[int, Any]]]


def say(message: str) -> None:
    print(f"[cost] {message}", file=sys.stderr, flush=True)


# --- the measured process ------------------------------------------------------------------


def _caller(app: Any) -> Call:
    auth = basic_auth().encode()

    async def call(
        method: str, path: str, form: dict[str, Any] | None = None, query: bytes = b""
    ) -> tuple[int, Any]:
        body = urlencode(form or {}, doseq=True).encode()
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": query,
            "scheme": "http",
            "headers": [
                (b"host", b"bench"),
                (b"authorization", auth),
                (b"content-type", b"application/x-www-form-urlencoded"),
            ],
        }
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        # A task of its own, as uvicorn gives each request: the application keeps per-request
        # state in context variables, which must not leak into the caller's context (the
        # worker rounds run there).
        await asyncio.ensure_future(app(scope, receive, send))
        return sent[0]["status"], sent[1]["body"]

    return call


async def _drive(workload: str, count: int) -> float:
    """Set up, warm up, then `count` requests of `workload`; the CPU seconds they took."""
    from sqlalchemy import func, select

    from bench import seed
    from maskline import worker
    from maskline.app import create_app
    from maskline.bootstrap import prepare
    from maskline.callbacks.dispatch import Dispatcher
    from maskline.jobs.tables import jobs
    from maskline.runtime import Runtime
    from maskline.settings import Settings

    settings = Settings.from_env()
    try:
        from maskline.db.sqlite_library import skip_memory_statistics
    except ImportError:  # a version from before it (--src)
        pass
    else:
        # As `maskline serve` does before it opens the database.
        skip_memory_statistics(settings.database_url)
    runtime = Runtime(settings)
    prepare(runtime)
    app = create_app(runtime=runtime)
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
    lifespan = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"start-up failed: {started}")
    call = _caller(app)

    async def expect(wanted: int, method: str, path: str, form: Any = None) -> Any:
        status, body = await call(method, path, form, b"")
        if status != wanted:
            raise RuntimeError(f"{method} {path} answered {status}: {body[:300]!r}")
        return json.loads(body)

    service_sid = (await expect(201, "POST", "/v1/Services", {"UniqueName": "cost"}))["sid"]
    pool = seed.seed_pool(
        runtime.engine, account_sid=ACCOUNT_SID, service_sid=service_sid, count=1000
    )
    seed.seed_sessions(
        runtime.engine,
        account_sid=ACCOUNT_SID,
        service_sid=service_sid,
        pool=pool,
        start=0,
        count=1000,
    )
    base = f"/v1/Services/{service_sid}/Sessions"
    a, b = "+12022000001", "+12022000002"
    session = await expect(
        201,
        "POST",
        base,
        {"Participants": [json.dumps({"Identifier": a}), json.dumps({"Identifier": b})]},
    )
    listed = await expect(200, "GET", f"{base}/{session['sid']}/Participants")
    sender = next(p for p in listed["participants"] if p["identifier"] == a)
    counter = iter(range(2_000_000, 10_000_000))

    def request() -> tuple[str, str, dict[str, Any] | None, bytes]:
        if workload == "fetch_session":
            return "GET", f"{base}/{session['sid']}", None, b""
        if workload == "list_sessions":
            return "GET", base, None, b"PageSize=50"
        if workload == "create_session":
            n = next(counter)
            identifiers = [f"+1415{n}", f"+1628{n}"]
            return (
                "POST",
                base,
                {"Participants": [json.dumps({"Identifier": i}) for i in identifiers]},
                b"",
            )
        if workload == "create_message_interaction":
            path = f"{base}/{session['sid']}/Participants/{sender['sid']}/MessageInteractions"
            return "POST", path, {"Body": "Benchmark message"}, b""
        form = {"From": a, "To": sender["proxy_identifier"], "Body": "Benchmark message"}
        return "POST", "/sandbox/v1/Messages", form, b""

    def jobs_left() -> int:
        with runtime.transaction(writes=False) as conn:
            return int(conn.execute(select(func.count()).select_from(jobs)).scalar_one())

    dispatcher = Dispatcher(runtime)

    async def run(total: int) -> None:
        for _ in range(total // CONCURRENCY):
            answers = await asyncio.gather(*[call(*request()) for _ in range(CONCURRENCY)])
            for status, body in answers:
                if status >= 300:
                    raise RuntimeError(f"{workload} answered {status}: {body[:300]!r}")
            await worker.tick(runtime, dispatcher)
        # The status steps of what was sent are part of a message's cost.
        while jobs_left():
            if not await worker.tick(runtime, dispatcher):
                raise RuntimeError("jobs are left that the worker does not run")

    await run(WARMUP)
    before = os.times()
    await run(count)
    after = os.times()
    await inbox.put({"type": "lifespan.shutdown"})
    await outbox.get()
    await lifespan
    return (after.user - before.user) + (after.system - before.system)


def child(workload: str, count: int, database_url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="maskline-cost-") as tmp:
        os.environ.update(
            MASKLINE_DATABASE_URL=database_url or f"sqlite:///{tmp}/cost.db",
            MASKLINE_ACCOUNT_SID=ACCOUNT_SID,
            MASKLINE_AUTH_TOKEN=AUTH_TOKEN,
            MASKLINE_LOG_LEVEL="warning",
            MASKLINE_RUN_WORKER="0",
            MASKLINE_SANDBOX_STEP_MS="0",
        )
        seconds = asyncio.run(_drive(workload, count))
    print(json.dumps({"cpu_us": seconds / count * 1e6}))


# --- the parent ------------------------------------------------------------------------------


def _command(
    src: Path | None, workload: str, count: int, valgrind: bool, database_url: str
) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ, PYTHONHASHSEED="0")
    paths = [str(src)] if src else []
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(ROOT), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "bench.cost", "--child", workload, str(count), database_url]
    if valgrind:
        command = [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            *command,
        ]
    return command, env


def _run(
    src: Path | None, workload: str, count: int, valgrind: bool, postgres: Postgres | None
) -> tuple[int | None, float]:
    # A fresh database for each run: an empty string makes the child use a SQLite file.
    database_url = postgres.create_database() if postgres is not None else ""
    command, env = _command(src, workload, count, valgrind, database_url)
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{workload} failed:\n{done.stderr[-3000:]}")
    cpu_us = float(json.loads(done.stdout.strip().splitlines()[-1])["cpu_us"])
    if not valgrind:
        return None, cpu_us
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if found is None:
        raise RuntimeError(f"cachegrind printed no count:\n{done.stderr[-3000:]}")
    return int(found.group(1).replace(",", "")), cpu_us


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cost", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--only", help="comma-separated workloads: " + ", ".join(WORKLOADS))
    parser.add_argument(
        "--requests", type=int, default=320, help="N: the runs make N and 3N (default 320)"
    )
    parser.add_argument("--src", type=Path, help="import maskline from this directory instead")
    parser.add_argument("--cpu", action="store_true", help="CPU time per request, without valgrind")
    parser.add_argument(
        "--engine",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="postgresql: a throwaway cluster as bench.run starts it, reached on its unix socket "
        "(counts the Maskline process alone, not PostgreSQL's)",
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("WORKLOAD", "COUNT", "URL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return 0
    workloads = args.only.split(",") if args.only else list(WORKLOADS)
    unknown = sorted(set(workloads) - set(WORKLOADS))
    if unknown:
        parser.error("unknown workloads: " + ", ".join(unknown))
    count = max(CONCURRENCY, args.requests // CONCURRENCY * CONCURRENCY)
    valgrind = not args.cpu
    if valgrind and shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install valgrind), or pass --cpu")
    source = args.src.resolve() if args.src else None
    postgres = Postgres().start() if args.engine == "postgresql" else None
    try:
        for workload in workloads:
            say(
                f"{workload} on {args.engine}: {count} and {3 * count} requests"
                + (" under cachegrind" if valgrind else "")
            )
            small, cpu_small = _run(source, workload, count, valgrind, postgres)
            large, cpu_large = _run(source, workload, 3 * count, valgrind, postgres)
            if small is not None and large is not None:
                per_request = (large - small) / (2 * count)
                print(f"{workload:28} {per_request:>12,.0f} instructions/request")
            else:
                cpu = min(cpu_small, cpu_large)
                print(f"{workload:28} {cpu:>12,.0f} us of CPU/request (noisy)")
    finally:
        if postgres is not None:
            postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
