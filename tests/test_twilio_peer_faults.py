"""A Twilio peer that stops sending or stops reading ends its own call, and only its own."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
from websockets.asyncio.client import connect

from bridge.server.app import BridgeServer
from bridge.server.settings import Settings
from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import load_scenario
from test_server import KEY, media, run, start, wait_for


def test_a_twilio_peer_that_goes_silent_ends_its_call_after_the_idle_timeout():
    async def go():
        async with RealtimeSimulator(load_scenario("noise-only"), api_key=KEY) as sim:
            server = BridgeServer(
                Settings(
                    host="127.0.0.1", port=0, realtime_url=sim.base_url, api_key=KEY, twilio_idle_timeout=0.5
                )
            )
            port = await server.start()
            try:
                async with connect(f"ws://127.0.0.1:{port}/media-stream") as ws:
                    await ws.send(start())
                    for _ in range(5):
                        await ws.send(media("MZtest"))
                    began = asyncio.get_running_loop().time()
                    await wait_for(lambda: server.finished, timeout=10)
                    waited = asyncio.get_running_loop().time() - began
                report = server.finished[-1]
                assert report.ended.startswith("twilio went silent (nothing for 0.5 s)")
                assert [line for _, line in report.log_lines if line.tag == "END"]
                assert waited < 3  # 0.5 s and slack for a shared machine (it waited for ever before)
                assert sim.sessions and not server.sessions
            finally:
                await server.stop(0)

    run(go())


def test_a_twilio_peer_that_stops_reading_cannot_hold_its_call_open(tmp_path):
    prompt = tmp_path / "long.ulaw"
    prompt.write_bytes(b"\x55" * 8000 * 600)  # ten minutes: more than socket buffers take (4 MiB)

    async def go():
        server = BridgeServer(
            Settings(
                host="127.0.0.1",
                port=0,
                realtime_url="ws://127.0.0.1:9/v1",  # unreachable: the prompt goes out in one burst
                api_key=KEY,
                unavailable_prompt=str(prompt),
                twilio_send_timeout=0.5,
            )
        )
        port = await server.start()
        tiny = socket.socket()
        tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        tiny.connect(("127.0.0.1", port))
        try:
            async with connect(f"ws://127.0.0.1:{port}/media-stream", sock=tiny) as ws:
                await ws.send(start())
                began = asyncio.get_running_loop().time()
                await wait_for(lambda: server.finished, timeout=30)  # never reading anything
                waited = asyncio.get_running_loop().time() - began
                report = server.finished[-1]
                assert report.ended.startswith("realtime connection failed")
                assert [line for _, line in report.log_lines if line.tag == "END"]
                assert waited < 10  # not the ten minutes of prompt, nor for ever
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert (await r.json())["calls"] == 0
        finally:
            await server.stop(0)

    run(go())
