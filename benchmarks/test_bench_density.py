"""Density: CPU the call server spends per second of call, under concurrent simulated calls.

The server runs as its own process (fastgate's `serve`, or the tutorial relay as the baseline); the
simulated callers and Realtime server run in the test process. The figure is the server process's
CPU time (user + system, from /proc) divided by the call-seconds it carried.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from bridge.load.measure import cpu_seconds
from bridge.load.run import free_port, server_command, wait_listening
from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import load_scenario
from bridge.sim.twilio_caller import TwilioCaller

CALLS = int(os.environ.get("FASTGATE_DENSITY_CALLS", "6"))
SCENARIO = "noise-only"  # a greeting over line noise: the steady state of a call, 50 frames/s each way
RESULTS: dict[str, float] = {}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads CPU time from /proc")
@pytest.mark.parametrize("kind", ["tutorial", "fastgate"])
def test_server_cpu_per_call_second(kind, tmp_path):
    scenario = load_scenario(SCENARIO)

    async def go() -> tuple[float, float]:
        async with RealtimeSimulator(scenario, api_key="k") as sim:
            port = free_port()
            proc = subprocess.Popen(
                server_command(kind, port, sim.base_url, str(tmp_path / "d.db")),
                env={**os.environ, "OPENAI_API_KEY": "k"},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                wait_listening(proc, port)
                before = cpu_seconds(proc.pid)
                records = await asyncio.gather(
                    *(
                        TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", scenario).run()
                        for _ in range(CALLS)
                    )
                )
                used = cpu_seconds(proc.pid) - before
            finally:
                proc.terminate()
                proc.wait(10)
        call_seconds = sum(r.duration_ms for r in records) / 1000
        assert all(r.heard for r in records)
        return used, call_seconds

    used, call_seconds = asyncio.run(go())
    RESULTS[kind] = used / call_seconds * 1000
    print(
        f"\n{kind}: {used:.2f} s CPU for {call_seconds:.1f} call-seconds ({CALLS} concurrent calls): "
        f"{RESULTS[kind]:.1f} ms CPU per call-second"
    )
