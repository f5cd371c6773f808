"""The processes a benchmark run starts: Maskline, the ceiling, and a throwaway PostgreSQL.

Each server process is watched through /proc: its CPU time (to show it, not the load
generator, is the bottleneck) and its peak resident memory (VmHWM).
"""

from __future__ import annotations

import glob
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.pg import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
TMP = ROOT / "bench" / "results" / "tmp"

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench" + "0" * 27


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    return _stat_cpu_seconds(f"/proc/{pid}/stat")


def main_thread_cpu_seconds(pid: int) -> float:
    """User plus system CPU time so far of a process's first thread: the event loop's, which
    serves every request, apart from helper threads (SQLite's checkpoints)."""
    return _stat_cpu_seconds(f"/proc/{pid}/task/{pid}/stat")


def _stat_cpu_seconds(path: str) -> float:
    with open(path) as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _cumulative_cpu_seconds(pid: int) -> float:
    """A process's own CPU time plus that of the children it has reaped."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _wait_http(port: int, path: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text(errors='replace')}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server did not start in 60 s:\n{log.read_text(errors='replace')}")


class Process:
    """A server process started by the benchmark; stopped with SIGTERM."""

    name = "server"

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        TMP.mkdir(parents=True, exist_ok=True)
        self.log_path = TMP / f"{self.name}-{self.port}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def _spawn(self, command: list[str], env: dict[str, str], ready_path: str) -> None:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
            )
        _wait_http(self.port, ready_path, self.process, self.log_path)

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory so far (VmHWM), in MB."""
        return _status_kb(self.pid, "VmHWM") / 1024

    def rss_mb(self) -> float:
        return _status_kb(self.pid, "VmRSS") / 1024

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def main_thread_cpu_seconds(self) -> float:
        return main_thread_cpu_seconds(self.pid)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


class Ceiling(Process):
    name = "ceiling"

    def start(self) -> Ceiling:
        command = [sys.executable, "-m", "bench.ceiling", "--port", str(self.port)]
        self._spawn(command, dict(os.environ), "/")
        return self


class Maskline(Process):
    """`maskline serve`, one worker, with its in-process worker as by default."""

    name = "maskline"

    # Another source tree to serve Maskline from (a checkout's src/), to compare two versions.
    source: Path | None = None

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.database_url = database_url

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "MASKLINE_DATABASE_URL": self.database_url,
            "MASKLINE_ACCOUNT_SID": ACCOUNT_SID,
            "MASKLINE_AUTH_TOKEN": AUTH_TOKEN,
            "MASKLINE_LOG_LEVEL": "warning",
        }
        for name in ("MASKLINE_PUBLIC_URL", "MASKLINE_HOST", "MASKLINE_PORT"):
            env.pop(name, None)
        if self.source is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(self.source), env.get("PYTHONPATH", "")) if p
            )
        return env

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "maskline", "migrate"],
            env=self.env(),
            check=True,
            capture_output=True,
            timeout=300,
            cwd=ROOT,
        )

    def start(self) -> Maskline:
        if self.database_url.startswith("postgresql"):
            # serve refuses a schema that is behind on PostgreSQL: migrate first, as operators do.
            self.migrate()
        command = [sys.executable, "-m", "maskline", "serve", "--port", str(self.port)]
        self._spawn(command, self.env(), "/healthz")
        return self


class Postgres(PostgresServer):
    """The test suite's throwaway PostgreSQL cluster, tuned for load.

    `synchronous_commit=off` gives it the durability of Maskline's SQLite setting
    (`synchronous=NORMAL`: a crash of the machine may lose the last commits, never corrupts);
    production should keep it on (docs/deployment.md).
    """

    SETTINGS = (
        "synchronous_commit=off",
        "shared_buffers=1GB",
        "max_connections=100",
        "max_wal_size=8GB",
        "checkpoint_timeout=30min",
        "maintenance_work_mem=256MB",
        # A throughput run lasts seconds, and its tables grow from empty (interactions, jobs):
        # statistics must follow them within the run, as autovacuum's default once a minute
        # does over a server's first minutes. Plans PostgreSQL made while a table was empty
        # scan it whole until an ANALYZE of that table invalidates them.
        "autovacuum_naptime=1s",
    )
    TUNING = SETTINGS
    DATABASE_PREFIX = "bench_"

    def create_tcp_database(self) -> str:
        """A fresh database reached over TCP: what a proxy can stand in front of."""
        return super().create_database()

    def create_database(self) -> str:
        """A fresh database, reached through the cluster's unix socket, as a server on the same
        machine as Maskline is best configured (docs/deployment.md): over TCP on the loopback,
        every round trip costs the two processes about 50 µs more CPU."""
        name = super().create_database().rsplit("/", 1)[1]
        return f"postgresql://postgres@/{name}?host={self.root}&port={self.port}"

    def cpu_seconds(self) -> float:
        """CPU time of the cluster's processes so far: the postmaster and its children.

        Children that have exited are counted in the postmaster's cumulative times.
        """
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        total = _cumulative_cpu_seconds(postmaster)
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == postmaster:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def version(self) -> str:
        done = self._run("postgres", "--version")
        return done.stdout.strip()
