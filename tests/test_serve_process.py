"""The server as a process: kill -9 mid-call leaves the partial lead readable; SIGTERM drains and exits."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import aiohttp

from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import load_scenario
from bridge.sim.twilio_caller import TwilioCaller
from bridge.store import LeadStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_until(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.05)


def city_on_disk(path: str) -> bool:
    if not os.path.exists(path):
        return False
    store = LeadStore(path)
    try:
        return any("city" in lead.fields for lead in store.leads())
    finally:
        store.close()


def test_kill_9_mid_call_leaves_the_partial_lead_readable(tmp_path):
    db = str(tmp_path / "leads.db")
    scenario = load_scenario("happy-path")

    async def go() -> None:
        async with RealtimeSimulator(scenario, api_key="k", time_scale=0.5) as sim:
            port = free_port()
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bridge.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--realtime-url",
                    sim.base_url,
                    "--db",
                    db,
                    "--silence-ms",
                    "600",
                ],
                env={**os.environ, "OPENAI_API_KEY": "k"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            try:
                async with aiohttp.ClientSession() as http:

                    async def up() -> bool:
                        with contextlib.suppress(aiohttp.ClientError):
                            async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                                return r.status == 200
                        return False

                    deadline = time.monotonic() + 30
                    while not await up():
                        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                        assert time.monotonic() < deadline
                        await asyncio.sleep(0.1)
                caller = asyncio.create_task(
                    TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", scenario, time_scale=0.5).run()
                )
                await wait_until(lambda: city_on_disk(db), timeout=60)
                server.send_signal(signal.SIGKILL)
                server.wait(10)
                record = await asyncio.wait_for(caller, 30)
                assert record.ended_by == "server"
            finally:
                if server.poll() is None:
                    server.kill()

    asyncio.run(go())
    store = LeadStore(db)
    (lead,) = store.leads()
    assert lead.status == "partial"
    assert lead.fields["city"] == "קריית שמונה" and lead.fields["service"] == "פריצת דלתות"
    assert lead.caller_id == "+972541234567" and not lead.confirmed
    store.close()


def test_sigterm_drains_and_exits_cleanly(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bridge.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--realtime-url",
            "ws://127.0.0.1:9/v1",
            "--db",
            str(tmp_path / "l.db"),
            "--drain-seconds",
            "2",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        server.send_signal(signal.SIGTERM)
        assert server.wait(15) == 0
        stderr = server.stderr.read().decode() if server.stderr else ""
        assert "shutting down" in stderr and "NOT authenticated" in stderr
    finally:
        if server.poll() is None:
            server.kill()
