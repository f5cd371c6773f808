"""The directory where the processes of one Maskline share their metrics.

`maskline serve --workers N` makes one for its processes unless MASKLINE_METRICS_DIR names one;
`maskline worker` uses MASKLINE_METRICS_DIR when it is set, so that its deliveries are counted
in the scrapes of a `maskline serve` on the same host given the same directory.

Each process writes files named after its process id. Those of processes that are gone are
removed when a server starts: a restart starts the counters again, as Prometheus expects of a
restarted target, and the directory does not fill up with the files of old processes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator

from maskline.metrics.families import MULTIPROC_ENV

_PID = re.compile(r"_(\d+)\.db$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def prune(directory: str) -> int:
    """Remove the files of processes no longer running; how many were removed."""
    removed = 0
    for name in os.listdir(directory):
        match = _PID.search(name)
        if match is not None and not _alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(directory, name))
                removed += 1
    return removed


def use(directory: str) -> None:
    """Count this process's metrics, and those of processes it starts, in `directory`."""
    os.makedirs(directory, exist_ok=True)
    prune(directory)
    os.environ[MULTIPROC_ENV] = directory


@contextlib.contextmanager
def shared(configured: str, processes: int) -> Iterator[str | None]:
    """The directory for a server of `processes` processes: the configured one, a temporary
    one removed afterwards when several processes need one, or None (counted in memory)."""
    if configured:
        use(configured)
        yield configured
        return
    if processes <= 1:
        yield None
        return
    made = tempfile.mkdtemp(prefix="maskline-metrics-")
    try:
        use(made)
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)
