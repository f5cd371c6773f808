"""Driving a server with wrk at a fixed concurrency, and reading what it measured."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.servers import Process

LUA = Path(__file__).resolve().parent / "lua"


@dataclass
class Load:
    """How hard and how long: wrk's threads and open connections, and seconds per run."""

    threads: int = 1
    connections: int = 32
    duration: float = 10.0
    warmup: float = 2.0
    # A folder to write a py-spy profile of the server's measured run into (None: no profile).
    profile: Path | None = None


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: `apt-get install -y wrk` (make bench does it)")
    return found


def busy_cpu() -> float:
    """CPU seconds the whole machine has spent busy so far (every core, every process)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
    return busy / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wrk(
    url: str, script: str, args: list[str], headers: list[str], seconds: float, load: Load
) -> dict[str, Any]:
    command = [
        require_wrk(),
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA / script),
    ]
    for header in headers:
        command += ["-H", header]
    command += [url, "--", *args]
    env = {**os.environ, "BENCH_LUA_DIR": str(LUA)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line[len("BENCH_JSON ") :]))
    raise RuntimeError(f"wrk gave no summary ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _start_profiler(server: Process, load: Load, name: str) -> subprocess.Popen[bytes]:
    """py-spy sampling the server for the measured run; its speedscope file goes to the folder.

    Profiling slows the server a little, so the figures of a profiled run are not published.
    """
    beside = Path(sys.executable).parent / "py-spy"
    spy = str(beside) if beside.exists() else shutil.which("py-spy")
    if spy is None:
        raise SystemExit("py-spy is not installed: `.venv/bin/pip install py-spy`")
    assert load.profile is not None
    load.profile.mkdir(parents=True, exist_ok=True)
    output = load.profile / f"{name}-{server.name}-{server.port}.speedscope.json"
    command = [
        spy,
        "record",
        "--pid",
        str(server.pid),
        "--duration",
        str(max(1, round(load.duration))),
        "--rate",
        "250",
        "--format",
        "speedscope",
        "--output",
        str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run(
    server: Process,
    url: str,
    *,
    script: str = "get.lua",
    args: list[str] | None = None,
    headers: list[str] | None = None,
    load: Load,
    database: Any = None,
    name: str = "run",
) -> dict[str, Any]:
    """Warm up, then one measured run: requests per second, latency, errors, CPU of each side.

    `database` (a PostgreSQL cluster, with `cpu_seconds()`) has its CPU reported apart.
    """
    args = args or []
    headers = headers or []
    if load.warmup > 0:
        _wrk(url, script, args, headers, load.warmup, load)
    server_cpu = server.cpu_seconds()
    loop_cpu = server.main_thread_cpu_seconds()
    wrk_cpu = _children_cpu()
    machine_cpu = busy_cpu()
    database_cpu = database.cpu_seconds() if database is not None else 0.0
    started = time.monotonic()
    profiler = _start_profiler(server, load, name) if load.profile is not None else None
    summary = _wrk(url, script, args, headers, load.duration, load)
    elapsed = time.monotonic() - started
    if profiler is not None:
        profiler.wait()
    server_cpu = server.cpu_seconds() - server_cpu
    loop_cpu = server.main_thread_cpu_seconds() - loop_cpu
    wrk_cpu = _children_cpu() - wrk_cpu
    if database is not None:
        database_cpu = database.cpu_seconds() - database_cpu
    other_cpu = busy_cpu() - machine_cpu - server_cpu - wrk_cpu - database_cpu
    seconds = summary["duration_us"] / 1e6
    errors = summary["errors"]
    latency = summary["latency_us"]
    return {
        "requests": summary["requests"],
        "seconds": round(seconds, 2),
        "rps": round(summary["requests"] / seconds, 1),
        "p50_ms": round(latency["p50"] / 1000, 2),
        "p90_ms": round(latency["p90"] / 1000, 2),
        "p99_ms": round(latency["p99"] / 1000, 2),
        "max_ms": round(latency["max"] / 1000, 2),
        "errors": sum(errors.values()),
        "non_2xx": errors["status"],
        # Share of one core each side used: the server should be near 100%, wrk well below.
        "server_cpu": round(server_cpu / elapsed, 2),
        # CPU time per request: the server's, and its event loop thread's (which every request
        # waits for; the rest is helper threads). These move less between runs than requests
        # per second do on a machine whose speed drifts. Kernel clock ticks (10 ms) over tens
        # of thousands of requests: a fraction of a microsecond.
        "server_cpu_us": round(server_cpu / max(summary["requests"], 1) * 1e6, 1),
        "loop_cpu_us": round(loop_cpu / max(summary["requests"], 1) * 1e6, 1),
        "wrk_cpu": round(wrk_cpu / elapsed, 2),
        **({"database_cpu": round(database_cpu / elapsed, 2)} if database is not None else {}),
        # Cores' worth of CPU that everything else on the machine took meanwhile: noise.
        "other_cpu": round(max(other_cpu, 0.0) / elapsed, 2),
    }
