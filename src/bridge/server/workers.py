"""`serve --workers N`: N server processes on one port (SO_REUSEPORT: the kernel spreads the
connections), each with its own event loop; this process only starts them, forwards SIGTERM/SIGINT so
each drains its own calls, and restarts none (a worker that dies is logged; its calls are gone)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time

from prometheus_client import multiprocess

log = logging.getLogger("fastgate.workers")


def supervise(argv: list[str], workers: int, drain_seconds: float) -> int:
    metrics_dir = tempfile.mkdtemp(prefix="fastgate-metrics-")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir, "FASTGATE_WORKERS": str(workers)}
    children = [
        subprocess.Popen([sys.executable, "-m", "bridge.cli", *argv], env={**env, "FASTGATE_WORKER": str(i)})
        for i in range(workers)
    ]
    log.info("started %d workers: %s", workers, " ".join(str(c.pid) for c in children))
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while any(c.poll() is None for c in children):
        for child in children:
            if child.poll() is not None and not stopping and child.returncode is not None:
                log.error("worker %d exited (%s)", child.pid, child.returncode)
                multiprocess.mark_process_dead(child.pid, metrics_dir)
                children.remove(child)
                break
        time.sleep(0.2)
        if stopping:
            deadline = time.monotonic() + drain_seconds + 15
            for child in children:
                try:
                    child.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
    for child in children:
        multiprocess.mark_process_dead(child.pid, metrics_dir)
    return 0 if all(c.returncode in (0, -signal.SIGTERM) for c in children) else 1
