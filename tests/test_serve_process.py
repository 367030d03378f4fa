"""The server as a process: kill -9 mid-call leaves the partial lead readable; SIGTERM drains and exits."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time

from bridge.intake.store import LeadStore
from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import load_scenario
from bridge.sim.twilio_caller import TwilioCaller


def serve(realtime_url: str, db: str, *extra: str, key: str = "k") -> tuple[subprocess.Popen[bytes], int]:
    """`fastgate-bridge serve` in a child process, returned once it accepts connections."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
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
            realtime_url,
            "--db",
            db,
            *extra,
        ],
        env={**os.environ, "OPENAI_API_KEY": key},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, port
        except OSError:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)


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
            server, port = serve(sim.base_url, db, "--silence-ms", "600")
            try:
                caller = asyncio.create_task(
                    TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", scenario, time_scale=0.5).run()
                )
                async with asyncio.timeout(60):
                    while not city_on_disk(db):
                        await asyncio.sleep(0.05)
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


def sigterm_log(server: subprocess.Popen[bytes]) -> str:
    """SIGTERM the server, expect a clean exit, and return what it logged."""
    try:
        server.send_signal(signal.SIGTERM)
        assert server.wait(15) == 0
        return server.stderr.read().decode() if server.stderr else ""
    finally:
        if server.poll() is None:
            server.kill()


def test_sigterm_drains_and_exits_cleanly(tmp_path):
    server, _ = serve("ws://127.0.0.1:9/v1", str(tmp_path / "l.db"), "--drain-seconds", "2")
    stderr = sigterm_log(server)
    assert "shutting down" in stderr and "NOT authenticated" in stderr


def test_startup_objects_are_frozen_before_calls(tmp_path):
    """A full collection pauses every call's audio for as long as it scans: what startup built is left out."""
    server, _ = serve("ws://127.0.0.1:9/v1", str(tmp_path / "l.db"), "--log-level", "DEBUG", "--no-intake")
    stderr = sigterm_log(server)
    frozen = [line for line in stderr.splitlines() if "kept out of the garbage collector" in line]
    assert frozen and int(frozen[0].split(" startup objects")[0].split()[-1]) > 10_000, stderr[-2000:]
