"""The websocket libraries on the bridge's two sockets, per message, in one run.

Client side (the bridge → Realtime: an `input_audio_buffer.append` 50 times a second per call): each
client library sends to the same lean picows sink. Server side (Twilio → the bridge: a `media` message
50 times a second per call): picows sends to each server library. The figure is the process's CPU time
per message with 100 connections interleaved; the sink or sender is the same in every row, so the
differences between rows are the library under test.
`FASTGATE_WS_MESSAGES=N` sets messages per connection (CI: a few; the README's figures: 300).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import picows
import pytest
from aiohttp import web
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

CONNECTIONS = 100
MESSAGES = int(os.environ.get("FASTGATE_WS_MESSAGES", "20"))
APPEND = '{"type":"input_audio_buffer.append","audio":"' + base64.b64encode(b"\x55" * 160).decode() + '"}'
RESULTS: dict[str, float] = {}


def answer_close(transport: picows.WSTransport, frame: picows.WSFrame) -> None:
    if frame.msg_type == picows.WSMsgType.CLOSE:
        transport.send_close(frame.get_close_code())
        transport.disconnect()


class Sink(picows.WSListener):
    received = 0

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
        if frame.msg_type == picows.WSMsgType.TEXT:
            Sink.received += 1
        else:
            answer_close(transport, frame)


async def picows_sink() -> tuple[asyncio.Server, int]:
    server = await picows.ws_create_server(lambda _request: Sink(), "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def measure(send_all: Callable[[], Awaitable[None]], expected: Callable[[], int]) -> float:
    start = time.process_time()
    await send_all()
    deadline = time.monotonic() + 30
    while expected() < CONNECTIONS * MESSAGES and time.monotonic() < deadline:
        await asyncio.sleep(0.001)
    return (time.process_time() - start) / (CONNECTIONS * MESSAGES) * 1e6


async def interleaved(sends: list[Callable[[str], Awaitable[None] | None]]) -> None:
    for _ in range(MESSAGES):
        for send in sends:
            result = send(APPEND)
            if result is not None:
                await result
        await asyncio.sleep(0)


# -- client side: each library sends to the picows sink -----------------------------------------------------
async def client_websockets(url: str) -> float:
    conns = [await connect(url, compression=None) for _ in range(CONNECTIONS)]
    try:
        return await measure(lambda: interleaved([c.send for c in conns]), lambda: Sink.received)
    finally:
        for c in conns:
            await c.close()


async def client_aiohttp(url: str) -> float:
    async with aiohttp.ClientSession() as http:
        conns = [await http.ws_connect(url, compress=0) for _ in range(CONNECTIONS)]
        try:
            return await measure(lambda: interleaved([c.send_str for c in conns]), lambda: Sink.received)
        finally:
            for c in conns:
                await c.close()


async def client_picows(url: str) -> float:
    conns = [(await picows.ws_connect(picows.WSListener, url))[0] for _ in range(CONNECTIONS)]

    def sender(transport: picows.WSTransport) -> Callable[[str], None]:
        return lambda text: transport.send(picows.WSMsgType.TEXT, text.encode())

    try:
        return await measure(lambda: interleaved([sender(t) for t in conns]), lambda: Sink.received)
    finally:
        for t in conns:
            t.disconnect()


@pytest.mark.parametrize("library", ["websockets", "aiohttp", "picows"])
def test_client_cpu_per_message(library: str) -> None:
    async def go() -> float:
        server, port = await picows_sink()
        Sink.received = 0
        try:
            client = {"websockets": client_websockets, "aiohttp": client_aiohttp, "picows": client_picows}
            return await client[library](f"ws://127.0.0.1:{port}/")
        finally:
            server.close()

    RESULTS[f"client {library}"] = asyncio.run(go())
    print(f"\nclient {library}: {RESULTS[f'client {library}']:.1f} µs CPU per message (sender + picows sink)")


# -- server side: picows sends to each library's server ------------------------------------------------------
class Counter:
    received = 0


async def server_websockets() -> tuple[Callable[[], Awaitable[None]], int]:
    async def handler(ws):  # type: ignore[no-untyped-def]
        async for _ in ws:
            Counter.received += 1

    server = await serve(handler, "127.0.0.1", 0, compression=None)

    async def close() -> None:
        server.close()
        await server.wait_closed()

    return close, server.sockets[0].getsockname()[1]


async def server_aiohttp() -> tuple[Callable[[], Awaitable[None]], int]:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        async for _ in ws:
            Counter.received += 1
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner.cleanup, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def server_picows() -> tuple[Callable[[], Awaitable[None]], int]:
    class Listener(picows.WSListener):
        def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
            if frame.msg_type == picows.WSMsgType.TEXT:
                frame.get_payload_as_ascii_text()
                Counter.received += 1
            else:
                answer_close(transport, frame)

    server = await picows.ws_create_server(lambda _request: Listener(), "127.0.0.1", 0)

    async def close() -> None:
        server.close()

    return close, server.sockets[0].getsockname()[1]


@pytest.mark.parametrize("library", ["websockets", "aiohttp", "picows"])
def test_server_cpu_per_message(library: str) -> None:
    async def go() -> float:
        make = {"websockets": server_websockets, "aiohttp": server_aiohttp, "picows": server_picows}[library]
        close, port = await make()
        Counter.received = 0
        conns = [
            (await picows.ws_connect(picows.WSListener, f"ws://127.0.0.1:{port}/"))[0]
            for _ in range(CONNECTIONS)
        ]
        try:
            sends = [lambda text, t=t: t.send(picows.WSMsgType.TEXT, text.encode()) for t in conns]
            return await measure(lambda: interleaved(sends), lambda: Counter.received)
        finally:
            for t in conns:
                t.disconnect()
            await close()

    RESULTS[f"server {library}"] = asyncio.run(go())
    print(f"\nserver {library}: {RESULTS[f'server {library}']:.1f} µs CPU per message (picows sends)")


def test_save_results() -> None:
    if os.environ.get("FASTGATE_SAVE_RESULTS") == "1" and RESULTS:
        out = Path(__file__).parent / "results" / "websocket_libraries.json"
        out.write_text(
            json.dumps(
                {"connections": CONNECTIONS, "messages": MESSAGES, "us_per_message": RESULTS}, indent=2
            )
            + "\n"
        )
