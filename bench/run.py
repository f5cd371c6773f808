"""Maskline's benchmark: throughput against a bare ceiling, and participant creation at scale.

    .venv/bin/python -m bench.run                       # everything (what `make bench` runs)
    .venv/bin/python -m bench.run --only fetch_session,create_session --engines sqlite
    .venv/bin/python -m bench.run --only participants --sizes 1000,100000

Parts: fetch_session, list_sessions, create_session, create_message_interaction,
inbound_message (each driven by wrk at a fixed concurrency; the ceiling is measured with them)
and participants (participant creation latency with 1k .. 1M active sessions, and the server's
peak memory). A complete run writes bench/results/latest.json and latest.png and the table in
docs/performance.md; a partial run writes under bench/results/tmp/ unless --publish is given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import Engine, func, select

from bench import seed, wrk
from bench.client import Api, basic_auth
from bench.delay import DelayProxy
from bench.report import share
from bench.servers import ACCOUNT_SID, AUTH_TOKEN, ROOT, TMP, Ceiling, Maskline, Postgres
from maskline.jobs.tables import jobs

THROUGHPUT = (
    "fetch_session",
    "list_sessions",
    "create_session",
    "create_message_interaction",
    "inbound_message",
)
PARTS = (*THROUGHPUT, "participants", "remote")
# The remote-database part: PostgreSQL through a proxy delaying each way by these many ms.
REMOTE_DELAYS_MS = (0.0, 1.0)
REMOTE_WORKLOADS = ("fetch_session", "create_session", "inbound_message")
# Its targets: each workload's share of its own undelayed throughput at ~2 ms round trips.
REMOTE_TARGETS = {"fetch_session": 0.70, "create_session": 0.60, "inbound_message": 0.60}
REMOTE_TAIL = 5.0  # CreateSession p99 at most this many times its p50
ENGINES = ("sqlite", "postgresql")
LABELS = {
    "ceiling": "Ceiling: bare Starlette, small JSON",
    "fetch_session": "FetchSession",
    "list_sessions": "ListSession (page of 50)",
    "create_session": "CreateSession, 2 participants",
    "create_message_interaction": "CreateMessageInteraction",
    "inbound_message": "Inbound message, routed",
}
DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)
POOL = 1_000
# The throughput runs' database: the pool and this many active sessions (ListSession pages
# through them).
THROUGHPUT_SESSIONS = 1_000
RESULTS = ROOT / "bench" / "results"
PERFORMANCE_MD = ROOT / "docs" / "performance.md"

# The targets (2 cores, one worker).
TARGETS = {
    "fetch_session": 0.50,
    "create_session": 0.20,
    "inbound_message": 0.20,
}
SCALING_TARGET = 1.5  # participant creation p50 at 1M within 1.5x of 1k
MEMORY_TARGET_MB = 250.0  # server peak memory with 1M sessions

_started = time.monotonic()


def say(message: str) -> None:
    print(f"[bench {time.monotonic() - _started:6.0f}s] {message}", file=sys.stderr, flush=True)


# --- the machine ---------------------------------------------------------------------------


def machine(postgres_version: str | None) -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_gb = 0.0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    wrk_version = subprocess.run(
        [wrk.require_wrk(), "-v"], capture_output=True, text=True, check=False
    ).stdout.split("\n", 1)[0]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "src"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": memory_gb,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version,
        "wrk": wrk_version.strip(),
        "commit": commit + ("+changes" if dirty else ""),
    }


# --- one database's set-up -----------------------------------------------------------------


class Stage:
    """A Maskline database with a service, its 1,000-number pool, and a running server."""

    def __init__(self, engine_name: str, url: str, database: Postgres | None = None) -> None:
        self.engine_name = engine_name
        self.url = url
        self.database = database  # the PostgreSQL cluster, whose CPU is reported apart
        self.engine: Engine = seed.open_engine(url)
        self.server: Maskline | None = None
        self.api: Api | None = None
        self.service_sid = ""
        self.pool: list[Any] = []
        self.seeded = 0  # sessions seeded so far: numbers the next seeded identifiers

    def start(self) -> Maskline:
        self.server = Maskline(self.url).start()
        self.api = Api(self.server.port)
        return self.server

    def stop(self) -> None:
        if self.api is not None:
            self.api.close()
            self.api = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    def set_up(self) -> None:
        self.start()
        assert self.api is not None
        service = self.api.expect(201, "POST", "/v1/Services", {"UniqueName": "bench"})
        self.service_sid = service["sid"]
        self.pool = seed.seed_pool(
            self.engine, account_sid=ACCOUNT_SID, service_sid=self.service_sid, count=POOL
        )

    def seed_to(self, active: int) -> dict[str, Any]:
        """Top the service up to `active` active sessions; how long it took."""
        missing = active - seed.active_sessions(self.engine, self.service_sid)
        last = [0.0]

        def progress(done: int, count: int) -> None:
            if time.monotonic() - last[0] > 20:
                last[0] = time.monotonic()
                say(f"  {self.engine_name}: seeded {done:,} of {count:,} sessions")

        seconds = seed.seed_sessions(
            self.engine,
            account_sid=ACCOUNT_SID,
            service_sid=self.service_sid,
            pool=self.pool,
            start=self.seeded,
            count=missing,
            progress=progress,
        )
        self.seeded += max(missing, 0)
        return {"seeded": max(missing, 0), "seed_seconds": round(seconds, 1)}

    @property
    def sessions_path(self) -> str:
        return f"/v1/Services/{self.service_sid}/Sessions"

    def wait_for_worker(self, timeout: float = 60.0) -> None:
        """Let the in-process worker finish the status steps a run left behind."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                if not conn.execute(select(func.count()).select_from(jobs)).scalar_one():
                    return
            time.sleep(0.5)
        say(f"  {self.engine_name}: the worker still has jobs after {timeout:.0f} s")

    def dispose(self) -> None:
        self.stop()
        self.engine.dispose()


def percentile(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# --- throughput ----------------------------------------------------------------------------


def _form(**values: Any) -> str:
    return urlencode(values, doseq=True)


def throughput(stage: Stage, parts: list[str], load: wrk.Load, ceiling: Ceiling) -> dict[str, Any]:
    """Each selected workload, driven by wrk against one server on a small database, with the
    ceiling measured before the first and after each: a workload's share is of the mean of
    the two ceiling runs on either side of it."""
    stage.set_up()
    stage.stop()
    stage.seed_to(THROUGHPUT_SESSIONS)
    server = stage.start()
    api = stage.api
    assert api is not None
    base = stage.sessions_path
    a, b = "+12022000001", "+12022000002"
    session = api.expect(
        201,
        "POST",
        base,
        {"Participants": [json.dumps({"Identifier": a}), json.dumps({"Identifier": b})]},
    )
    listed = api.expect(200, "GET", f"{base}/{session['sid']}/Participants")["participants"]
    sender = next(p for p in listed if p["identifier"] == a)
    url = f"http://127.0.0.1:{server.port}"
    auth = [f"Authorization: {basic_auth()}"]
    inbound_body = _form(From=a, To=sender["proxy_identifier"], Body="Benchmark message")
    message_path = f"{base}/{session['sid']}/Participants/{sender['sid']}/MessageInteractions"
    workloads: dict[str, dict[str, Any]] = {
        "fetch_session": {"path": f"{base}/{session['sid']}", "script": "get.lua"},
        "list_sessions": {"path": f"{base}?PageSize=50", "script": "get.lua"},
        "create_session": {
            "path": base,
            "script": "create_session.lua",
            "args": [str(int.from_bytes(os.urandom(4), "big"))],
        },
        "create_message_interaction": {
            "path": message_path,
            "script": "post.lua",
            "args": [_form(Body="Benchmark message")],
        },
        "inbound_message": {
            "path": "/sandbox/v1/Messages",
            "script": "post.lua",
            "args": [inbound_body],
        },
    }
    # One call of each first, to be sure every run measures the answer it means to.
    page = api.expect(200, "GET", f"{base}?PageSize=50")
    assert len(page["sessions"]) == 50, "ListSession needs a full page"
    api.expect(201, "POST", message_path, {"Body": "Benchmark message"})
    routed = api.expect(
        201,
        "POST",
        "/sandbox/v1/Messages",
        {"From": a, "To": sender["proxy_identifier"], "Body": "Benchmark message"},
    )
    if routed["routing"]["result"] != "forwarded":
        raise RuntimeError(f"the inbound message was not forwarded: {routed['routing']}")
    results: dict[str, Any] = {}
    stage.wait_for_worker()
    ceilings = [measure_ceiling(ceiling, load)]
    for name in parts:
        spec = workloads[name]
        say(f"  {stage.engine_name}: {name}")
        figure = wrk.run(
            server,
            url + spec["path"],
            script=spec["script"],
            args=spec.get("args"),
            headers=auth,
            load=load,
            database=stage.database,
            name=f"{stage.engine_name}-{name}",
        )
        # The status steps a run leaves behind must not run during the ceiling's.
        stage.wait_for_worker()
        ceilings.append(measure_ceiling(ceiling, load))
        beside = (float(ceilings[-2]["rps"]) + float(ceilings[-1]["rps"])) / 2
        figure["ceiling_rps"] = round(beside)
        figure["ratio"] = round(figure["rps"] / beside, 4)
        results[name] = figure
        say(
            f"    {figure['rps']:,.0f} req/s, p50 {figure['p50_ms']} ms, "
            f"p99 {figure['p99_ms']} ms, errors {figure['errors']}, "
            f"event loop {figure['loop_cpu_us']} µs a request; "
            f"{share(figure['ratio'])} of the ceiling beside it ({beside:,.0f} req/s)"
        )
    peak = server.peak_rss_mb()
    stage.stop()
    return {
        "workloads": results,
        "ceilings": ceilings,
        "active_sessions_before": THROUGHPUT_SESSIONS + 1,
        "server_peak_rss_mb": round(peak, 1),
    }


# --- participant creation at scale ---------------------------------------------------------

_identifiers = iter(range(2_000_000, 10_000_000))


def sample_participants(stage: Stage, samples: int, warmup: int) -> list[float]:
    """Sequentially: an empty session (not timed), then its two participants (each timed)."""
    api = stage.api
    assert api is not None
    base = stage.sessions_path
    times: list[float] = []
    for k in range(warmup + samples):
        session = api.expect(201, "POST", base, {})
        path = f"{base}/{session['sid']}/Participants"
        for area in ("206", "303"):
            identifier = f"+1{area}{next(_identifiers)}"
            status, body, seconds = api.call("POST", path, {"Identifier": identifier})
            if status != 201:
                raise RuntimeError(f"CreateParticipant answered {status}: {body}")
            if k >= warmup:
                times.append(seconds)
    return times


def sample_console_filter(stage: Stage, samples: int) -> list[float]:
    """The console's session list filtered by a participant's number: signed in once, then
    each request timed from sending to the whole page, for seeded identifiers spread over the
    database."""
    assert stage.server is not None
    base = f"http://127.0.0.1:{stage.server.port}"
    with httpx.Client(base_url=base, timeout=30) as http:
        form = http.get("/console/sign-in").text
        token = re.search(r'name="token" value="([0-9a-f]+)"', form)
        assert token, "the console's sign-in form has no token"
        signed = http.post(
            "/console/sign-in",
            data={"token": token.group(1), "sid": ACCOUNT_SID, "secret": AUTH_TOKEN},
        )
        if signed.status_code != 303:
            raise RuntimeError(f"console sign-in answered {signed.status_code}")
        path = f"/console/services/{stage.service_sid}/sessions"
        times = []
        step = max(stage.seeded // samples, 1)
        for k in range(samples + 5):
            subscriber = seed.FIRST_SUBSCRIBER + (k * step) % max(stage.seeded, 1)
            who = f"+1{seed.SLOT_AREAS[0]}{subscriber}"
            started = time.perf_counter()
            answer = http.get(path, params={"who": who})
            seconds = time.perf_counter() - started
            if answer.status_code != 200 or "/sessions/KC" not in answer.text:
                raise RuntimeError(f"the console found no session of {who}: {answer.status_code}")
            if k >= 5:
                times.append(seconds)
    return times


def scaling(stage: Stage, sizes: list[int], samples: int, load: wrk.Load) -> list[dict[str, Any]]:
    """For each size: seed up to it, start a fresh server, time participant creation."""
    stage.set_up()
    rows = []
    for size in sizes:
        stage.stop()
        say(f"  {stage.engine_name}: seeding up to {size:,} active sessions")
        seeded = stage.seed_to(size)
        active = seed.active_sessions(stage.engine, stage.service_sid)
        server = stage.start()
        say(f"  {stage.engine_name}: participant creation with {active:,} active sessions")
        database = stage.database
        machine_cpu = wrk.busy_cpu()
        server_cpu = server.cpu_seconds()
        database_cpu = database.cpu_seconds() if database is not None else 0.0
        began = time.monotonic()
        times = sample_participants(stage, samples, warmup=max(20, samples // 10))
        elapsed = time.monotonic() - began
        if database is not None:
            database_cpu = database.cpu_seconds() - database_cpu
        other_cpu = (
            wrk.busy_cpu() - machine_cpu - (server.cpu_seconds() - server_cpu) - database_cpu
        )
        row: dict[str, Any] = {
            "active_sessions": active,
            **seeded,
            "samples": len(times),
            "p50_ms": round(percentile(times, 50) * 1000, 2),
            "p90_ms": round(percentile(times, 90) * 1000, 2),
            "p99_ms": round(percentile(times, 99) * 1000, 2),
            "mean_ms": round(statistics.fmean(times) * 1000, 2),
            # Includes the bench process itself (the client): about one request's worth.
            "other_cpu": round(max(other_cpu, 0.0) / elapsed, 2),
        }
        if load.duration > 0:
            # The same server under load: CreateSession at the fixed concurrency, for memory.
            row["create_session"] = wrk.run(
                server,
                f"http://127.0.0.1:{server.port}{stage.sessions_path}",
                script="create_session.lua",
                args=[str(int.from_bytes(os.urandom(4), "big"))],
                headers=[f"Authorization: {basic_auth()}"],
                load=load,
                database=database,
            )
        console = sample_console_filter(stage, samples=50)
        row["console_filter_p50_ms"] = round(percentile(console, 50) * 1000, 2)
        row["console_filter_p99_ms"] = round(percentile(console, 99) * 1000, 2)
        row["server_peak_rss_mb"] = round(server.peak_rss_mb(), 1)
        say(
            f"    console sessions by number: p50 {row['console_filter_p50_ms']} ms, "
            f"p99 {row['console_filter_p99_ms']} ms"
        )
        say(
            f"    p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
            f"peak RSS {row['server_peak_rss_mb']} MB"
        )
        rows.append(row)
    stage.stop()
    return rows


# --- PostgreSQL on another host -------------------------------------------------------------


def remote(postgres: Postgres, load: wrk.Load, ceiling: Ceiling) -> dict[str, Any]:
    """The same workloads against PostgreSQL over TCP through a proxy (bench/delay.py) that
    adds each delay each way; each delayed figure is also given as a share of the undelayed
    one, through the same proxy in the same run."""
    by_delay: dict[str, Any] = {}
    for delay_ms in REMOTE_DELAYS_MS:
        # Over TCP, not the unix socket: the proxy stands where the network would.
        url = postgres.create_tcp_database()
        with DelayProxy(postgres.port, delay_ms / 1000) as proxy:
            delayed = url.replace(f":{postgres.port}/", f":{proxy.port}/")
            say(f"postgresql: remote, {delay_ms:g} ms each way")
            stage = Stage("postgresql", delayed, postgres)
            try:
                figures = throughput(stage, list(REMOTE_WORKLOADS), load, ceiling)
            finally:
                stage.dispose()
        by_delay[f"{delay_ms:g}"] = figures["workloads"]
    base = by_delay[f"{REMOTE_DELAYS_MS[0]:g}"]
    for key, workloads in by_delay.items():
        for name, figure in workloads.items():
            figure["share_of_undelayed"] = round(figure["rps"] / base[name]["rps"], 4)
            say(
                f"  {key} ms: {LABELS[name]} {figure['rps']:,.0f} req/s "
                f"({share(figure['share_of_undelayed'])} of undelayed), "
                f"p50 {figure['p50_ms']} ms, p99 {figure['p99_ms']} ms"
            )
    return {"delays_ms_each_way": list(REMOTE_DELAYS_MS), "workloads": by_delay}


# --- the run -------------------------------------------------------------------------------


def database_urls(engine_name: str, postgres: Postgres | None, count: int) -> list[str]:
    if engine_name == "sqlite":
        return [f"sqlite:///{TMP / f'bench-{uuid.uuid4().hex[:8]}.db'}" for _ in range(count)]
    assert postgres is not None
    return [postgres.create_database() for _ in range(count)]


def remove_sqlite(url: str) -> None:
    path = url.removeprefix("sqlite:///")
    for suffix in ("", "-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, engine by engine, against this run's figures."""
    verdicts = []
    for engine_name, figures in results["engines"].items():
        workloads = figures.get("throughput", {}).get("workloads", {})
        for name, ratio in TARGETS.items():
            if name in workloads and "ratio" in workloads[name]:
                value = workloads[name]["ratio"]
                fastest = workloads[name].get("ratio_to_fastest")
                verdicts.append(
                    {
                        "engine": engine_name,
                        "target": f"{LABELS[name]} >= {ratio:.0%} of the ceiling",
                        "value": share(value)
                        + ("" if fastest is None else f" ({share(fastest)} of the fastest)"),
                        "met": value >= ratio,
                    }
                )
        far = figures.get("remote", {}).get("workloads", {})
        delayed = far.get(f"{REMOTE_DELAYS_MS[-1]:g}", {})
        for name, target in REMOTE_TARGETS.items():
            if name in delayed:
                verdicts.append(
                    {
                        "engine": engine_name,
                        "target": f"{LABELS[name]} at ~2 ms round trips >= {target:.0%} of "
                        "undelayed",
                        "value": share(delayed[name]["share_of_undelayed"]),
                        "met": delayed[name]["share_of_undelayed"] >= target,
                    }
                )
        if "create_session" in delayed:
            tail = delayed["create_session"]["p99_ms"] / delayed["create_session"]["p50_ms"]
            verdicts.append(
                {
                    "engine": engine_name,
                    "target": f"CreateSession p99 at ~2 ms round trips <= {REMOTE_TAIL:g}x p50",
                    "value": f"{tail:.1f}x",
                    "met": tail <= REMOTE_TAIL,
                }
            )
        by_size = sorted(figures.get("scaling", []), key=lambda r: r["active_sessions"])
        if (
            by_size
            and by_size[0]["active_sessions"] < 2_000
            and by_size[-1]["active_sessions"] >= 1_000_000
        ):
            small, large = by_size[0], by_size[-1]
            factor = large["p50_ms"] / small["p50_ms"]
            verdicts.append(
                {
                    "engine": engine_name,
                    "target": "participant creation p50 at 1M sessions <= 1.5x of 1k",
                    "value": f"{factor:.2f}x ({small['p50_ms']} -> {large['p50_ms']} ms)",
                    "met": factor <= SCALING_TARGET,
                }
            )
            if "console_filter_p99_ms" in large:
                verdicts.append(
                    {
                        "engine": engine_name,
                        "target": "console sessions by number at 1M sessions < 50 ms",
                        "value": f"p50 {large['console_filter_p50_ms']} ms, "
                        f"p99 {large['console_filter_p99_ms']} ms",
                        "met": large["console_filter_p99_ms"] < 50,
                    }
                )
            verdicts.append(
                {
                    "engine": engine_name,
                    "target": f"server peak memory with 1M sessions < {MEMORY_TARGET_MB:.0f} MB",
                    "value": f"{large['server_peak_rss_mb']:.0f} MB",
                    "met": large["server_peak_rss_mb"] < MEMORY_TARGET_MB,
                }
            )
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--only", default=",".join(PARTS), help="parts, comma-separated")
    parser.add_argument("--engines", default=",".join(ENGINES), help="sqlite,postgresql")
    parser.add_argument(
        "--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="active sessions"
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk before each")
    parser.add_argument("--connections", type=int, default=32, help="wrk's open connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads")
    parser.add_argument(
        "--samples", type=int, default=500, help="participant-creation samples per size (x2)"
    )
    parser.add_argument(
        "--size-load", type=float, default=5.0, help="seconds of CreateSession load per size"
    )
    parser.add_argument(
        "--publish",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write bench/results/latest.* and docs/performance.md (default: complete runs)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="record a py-spy profile of the server during each measured run, under "
        "bench/results/tmp/profiles/ (speedscope format); the run is then not published",
    )
    parser.add_argument(
        "--src",
        type=Path,
        default=None,
        help="serve Maskline from this source folder (another checkout's src/) to compare "
        "versions; results then go under bench/results/tmp/",
    )
    args = parser.parse_args(argv)

    parts = [p for p in args.only.split(",") if p]
    engines = [e for e in args.engines.split(",") if e]
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    unknown = (set(parts) - set(PARTS)) | (set(engines) - set(ENGINES))
    if unknown:
        parser.error(f"unknown part or engine: {', '.join(sorted(unknown))}")
    load = wrk.Load(args.threads, args.connections, args.duration, args.warmup)
    if args.profile:
        load.profile = TMP / "profiles"
    size_load = wrk.Load(args.threads, args.connections, args.size_load, 1.0)
    complete = (
        set(parts) == set(PARTS) and set(engines) == set(ENGINES) and sizes == list(DEFAULT_SIZES)
    )
    if args.src is not None:
        Maskline.source = args.src.resolve()
    publish = (
        (complete and args.src is None and not args.profile)
        if args.publish is None
        else args.publish
    )
    wrk.require_wrk()
    TMP.mkdir(parents=True, exist_ok=True)

    postgres: Postgres | None = None
    notes: list[str] = []
    if "postgresql" in engines:
        try:
            postgres = Postgres().start()
        except Exception as exc:  # no PostgreSQL here: SQLite alone, said so in the results
            notes.append(f"PostgreSQL skipped: {exc}")
            say(notes[-1])
            engines.remove("postgresql")
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(postgres.version() if postgres else None),
        "settings": {
            "server": "maskline serve, 1 process (uvicorn, httptools, uvloop), in-process worker",
            "wrk": f"-t{load.threads} -c{load.connections} -d{load.duration:g}s "
            f"after {load.warmup:g}s of warm-up",
            "pool_numbers": POOL,
            "throughput_database_sessions": THROUGHPUT_SESSIONS,
            "participant_samples_per_size": 2 * args.samples,
            "sizes": sizes,
            "postgresql_settings": " ".join(Postgres.TUNING),
            "postgresql_connection": "unix socket",
        },
        "parts": parts,
        "source": str(args.src) if args.src else "this checkout",
        "engines": {},
        "notes": notes,
    }
    urls: list[str] = []
    ceiling: Ceiling | None = None
    try:
        throughput_parts = [p for p in THROUGHPUT if p in parts]
        if throughput_parts or "remote" in parts:
            # One ceiling server for the whole run, measured beside each workload.
            ceiling = Ceiling().start()
        for engine_name in engines:
            figures: dict[str, Any] = {}
            results["engines"][engine_name] = figures
            if ceiling is not None:
                (url,) = database_urls(engine_name, postgres, 1)
                urls.append(url)
                say(f"{engine_name}: throughput")
                stage = Stage(engine_name, url, postgres if engine_name == "postgresql" else None)
                try:
                    figures["throughput"] = throughput(stage, throughput_parts, load, ceiling)
                finally:
                    stage.dispose()
            if "remote" in parts and engine_name == "postgresql" and postgres is not None:
                assert ceiling is not None
                figures["remote"] = remote(postgres, load, ceiling)
            if "participants" in parts:
                (url,) = database_urls(engine_name, postgres, 1)
                urls.append(url)
                say(f"{engine_name}: participant creation at scale")
                stage = Stage(engine_name, url, postgres if engine_name == "postgresql" else None)
                try:
                    figures["scaling"] = scaling(stage, sizes, args.samples, size_load)
                finally:
                    stage.dispose()
        if ceiling is not None:
            ceiling_rss = ceiling.peak_rss_mb()
            ceiling.stop()
            runs = [
                run
                for figures in results["engines"].values()
                for run in figures.get("throughput", {}).get("ceilings", [])
            ]
            results["ceiling"] = fastest_ceiling(runs)
            results["ceiling"]["server_peak_rss_mb"] = round(ceiling_rss, 1)
            fastest = results["ceiling"]["rps"]
            for figures in results["engines"].values():
                for figure in figures.get("throughput", {}).get("workloads", {}).values():
                    figure["ratio_to_fastest"] = round(figure["rps"] / fastest, 4)
        results["targets"] = evaluate(results)
        noisy = _noise(results)
        if noisy:
            notes.append(
                "Other processes used CPU during some runs (other_cpu, in cores): "
                + ", ".join(noisy)
                + ". Figures from a busy machine understate Maskline; run again on a quiet one."
            )
    finally:
        if ceiling is not None:
            ceiling.stop()
        if postgres is not None:
            postgres.stop()
        if not args.keep:
            for url in urls:
                if url.startswith("sqlite"):
                    remove_sqlite(url)

    from bench import report

    stamp = results["date"].replace(":", "").replace("-", "")
    folder = RESULTS if publish else TMP
    name = "latest" if publish else f"run-{stamp}"
    json_path = folder / f"{name}.json"
    png_path = folder / f"{name}.png"
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    report.chart(results, png_path)
    if publish:
        report.update_performance_md(results, PERFORMANCE_MD)
    print(report.table(results))
    say(f"wrote {json_path.relative_to(ROOT)} and {png_path.relative_to(ROOT)}")
    if publish:
        say(f"updated {PERFORMANCE_MD.relative_to(ROOT)}")
    return 0


def measure_ceiling(ceiling: Ceiling, load: wrk.Load) -> dict[str, Any]:
    """One run of the bare endpoint under the same load as Maskline's parts."""
    figure = wrk.run(
        ceiling,
        f"http://127.0.0.1:{ceiling.port}/",
        headers=[f"Authorization: {basic_auth()}"],
        load=load,
    )
    say(f"  ceiling: {figure['rps']:,.0f} req/s, event loop {figure['loop_cpu_us']} µs a request")
    return figure


def fastest_ceiling(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of the run's ceiling measurements, with all of their figures. The shares
    divide by the two runs beside each workload; this one is shown too, as the share's floor:
    the fastest of a dozen runs on a machine whose speed drifts is above its usual speed."""
    best = dict(max(runs, key=lambda run: float(run["rps"])))
    best["runs_rps"] = [round(float(run["rps"])) for run in runs]
    return best


def _noise(results: dict[str, Any], limit: float = 0.25) -> list[str]:
    found = []
    for engine_name, figures in results["engines"].items():
        throughput = figures.get("throughput", {})
        for name, figure in throughput.get("workloads", {}).items():
            if figure.get("other_cpu", 0) > limit:
                found.append(f"{engine_name} {name} {figure['other_cpu']}")
        for k, run in enumerate(throughput.get("ceilings", [])):
            if run.get("other_cpu", 0) > limit:
                found.append(f"{engine_name} ceiling run {k + 1} {run['other_cpu']}")
        for row in figures.get("scaling", []):
            # The sequential client itself takes a good part of a core there.
            if row.get("other_cpu", 0) > 0.5 + limit:
                found.append(
                    f"{engine_name} {row['active_sessions']:,} sessions {row['other_cpu']}"
                )
    return found


if __name__ == "__main__":
    sys.exit(main())
