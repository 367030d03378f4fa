"""`serve --workers 2`: two processes on one port, calls served by both, metrics summed across them,
SIGTERM drains both and leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import load_scenario
from bridge.sim.twilio_caller import TwilioCaller
from test_serve_process import serve


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def answering_pid(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        return int(json.loads(r.read())["pid"])


def answering_pids(port: int, expected: int, seconds: float = 10.0) -> set[int]:
    """The workers that answer /healthz; the port accepts once the first has bound, so the others get
    a few seconds to bind theirs."""
    deadline = time.monotonic() + seconds
    seen: set[int] = set()
    while len(seen) < expected and time.monotonic() < deadline:
        seen.update(answering_pid(port) for _ in range(24))
        time.sleep(0.1)
    return seen


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def calls_total(text: str) -> float:
    return sum(float(v) for v in re.findall(r"^fastgate_calls_total\{[^}]*\} (\S+)$", text, re.MULTILINE))


def test_two_workers_share_the_port_sum_their_metrics_and_drain_on_sigterm(tmp_path) -> None:
    scenario = load_scenario("noise-only")

    async def go() -> None:
        async with RealtimeSimulator(scenario, time_scale=0.25) as sim:
            server, port = serve(sim.base_url, str(tmp_path / "leads.db"), "--workers", "2", "--no-intake")
            try:
                workers = children(server.pid)
                assert len(workers) == 2
                assert answering_pids(port, len(workers)) == set(workers)  # the kernel spreads them
                calls = [
                    TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", scenario, time_scale=0.25).run()
                    for _ in range(8)
                ]
                records = await asyncio.gather(*calls)
                assert all(r.heard for r in records)
                await asyncio.sleep(0.5)
                for _ in range(4):  # whichever worker answers, the sum is every worker's
                    assert calls_total(scrape(port)) == 8
            finally:
                server.send_signal(signal.SIGTERM)
                server.communicate(timeout=40)
            assert server.returncode == 0
            assert not any(Path(f"/proc/{w}").exists() for w in workers)

    asyncio.run(go())


def test_workers_must_be_a_number() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "serve", "--workers", "two"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "--workers" in done.stderr


pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGTERM"), reason="POSIX signals")
