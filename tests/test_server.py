"""The call server's I/O: HTTP endpoints, signatures, bad input, failures and draining."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from twilio.request_validator import RequestValidator
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bridge.core.config import CallConfig
from bridge.server.app import BridgeServer
from bridge.server.settings import Settings
from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import load_scenario
from bridge.sim.twilio_caller import TwilioCaller

KEY = "k"
TOKEN = "twilio-auth-token"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 90))


@asynccontextmanager
async def stack(scenario: str = "seed-barge-in", **settings: Any):
    sc = load_scenario(scenario)
    async with RealtimeSimulator(sc, api_key=KEY) as sim:
        server = BridgeServer(
            Settings(
                host="127.0.0.1",
                port=0,
                realtime_url=sim.base_url,
                api_key=KEY,
                call=CallConfig(silence_duration_ms=600),
                drain_seconds=5,
                **settings,
            )
        )
        port = await server.start()
        try:
            yield sim, server, port, sc
        finally:
            await server.stop(drain_seconds=1)


async def wait_for(predicate, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def bridge_server(realtime_url: str, **settings: Any) -> BridgeServer:
    """A server on a free port of 127.0.0.1 in front of the given Realtime endpoint."""
    return BridgeServer(
        Settings(host="127.0.0.1", port=0, realtime_url=realtime_url, api_key=KEY, **settings)
    )


async def hang_up(ws: Any, server: BridgeServer, sid: str = "MZtest") -> Any:
    """The caller's `stop`, then the call's report once the server has finished the call."""
    await ws.send(json.dumps({"event": "stop", "streamSid": sid, "stop": {}}))
    await wait_for(lambda: server.finished)
    return server.finished[-1]


def media(sid: str, frame: bytes = b"\xff" * 160) -> str:
    return json.dumps(
        {
            "event": "media",
            "streamSid": sid,
            "media": {
                "track": "inbound",
                "chunk": "1",
                "timestamp": "0",
                "payload": base64.b64encode(frame).decode(),
            },
        }
    )


def start(sid: str = "MZtest") -> str:
    return json.dumps(
        {
            "event": "start",
            "streamSid": sid,
            "start": {
                "streamSid": sid,
                "callSid": "CAtest",
                "accountSid": "AC",
                "tracks": ["inbound"],
                "customParameters": {"caller": "+972541234567"},
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        }
    )


def test_healthz_metrics_and_twiml():
    async def go():
        async with stack() as (_, _server, port, _sc), aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{port}"
            async with http.get(base + "/healthz") as r:
                assert r.status == 200 and (await r.json()) == {
                    "status": "ok",
                    "calls": 0,
                    "pid": os.getpid(),
                }
            async with http.get(base + "/metrics") as r:
                text = await r.text()
                assert "fastgate_barge_in_reaction_seconds" in text and "fastgate_calls_active" in text
            async with http.post(
                base + "/incoming-call", data={"From": "+972541234567", "CallSid": "CA1"}
            ) as r:
                twiml = await r.text()
                assert r.status == 200 and r.content_type == "text/xml"
            assert f'<Connect><Stream url="ws://127.0.0.1:{port}/media-stream">' in twiml
            assert '<Parameter name="caller" value="+972541234567" />' in twiml

    run(go())


def test_public_url_makes_a_wss_stream_url():
    async def go():
        async with stack(public_url="https://voice.example.com") as (_, _s, port, _sc):
            url = f"http://127.0.0.1:{port}/incoming-call"
            async with aiohttp.ClientSession() as h, h.post(url, data={"From": "+1"}) as r:
                assert '<Stream url="wss://voice.example.com/media-stream">' in await r.text()

    run(go())


def test_twilio_signatures_are_required_when_a_token_is_set():
    async def go():
        public = "https://voice.example.com"
        async with (
            stack(public_url=public, twilio_auth_token=TOKEN) as (_, _s, port, _sc),
            aiohttp.ClientSession() as http,
        ):
            params = {"From": "+972541234567", "CallSid": "CA1"}
            url = f"http://127.0.0.1:{port}/incoming-call"
            async with http.post(url, data=params) as r:
                assert r.status == 403
            good = RequestValidator(TOKEN).compute_signature(public + "/incoming-call", params)
            async with http.post(url, data=params, headers={"X-Twilio-Signature": good}) as r:
                assert r.status == 200
            async with http.post(
                url, data={**params, "From": "+1999"}, headers={"X-Twilio-Signature": good}
            ) as r:
                assert r.status == 403  # the body is covered by the signature
            ws_url = f"ws://127.0.0.1:{port}/media-stream"
            with pytest.raises(InvalidStatus) as refused:
                await connect(ws_url)
            assert refused.value.response.status_code == 403
            signature = RequestValidator(TOKEN).compute_signature("wss://voice.example.com/media-stream", {})
            async with connect(ws_url, additional_headers={"X-Twilio-Signature": signature}) as ws:
                await ws.send(json.dumps({"event": "connected"}))

    run(go())


def test_bad_messages_mid_call_are_skipped_and_the_call_goes_on():
    async def go():
        async with stack() as (sim, server, port, _sc):
            async with connect(f"ws://127.0.0.1:{port}/media-stream") as ws:
                await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
                await ws.send(start())
                for bad in (
                    "not json",
                    '{"event":"media","media":{"payload":"***"}}',
                    "[1,2]",
                    '{"event":"media","streamSid":"MZtest","media":{"payload":"AAA"}}',
                    b"\x00\xff",
                ):
                    await ws.send(bad)
                for _ in range(5):
                    await ws.send(media("MZtest"))
                await wait_for(lambda: sim.sessions and len(sim.sessions[0].input_audio) >= 800)
                report = await hang_up(ws, server)
            assert report.stats.malformed_twilio == 5 and report.ended == "caller hung up"
            assert len(sim.sessions[0].input_audio) == 800
            await wait_for(lambda: sim.sessions[0].closed.is_set())  # the Realtime session was closed too

    run(go())


def test_oversized_twilio_message_ends_only_that_call():
    async def go():
        async with stack(max_message_bytes=4096) as (_sim, server, port, sc):
            async with connect(f"ws://127.0.0.1:{port}/media-stream") as ws:
                await ws.send(start())
                await ws.send("x" * 10000)
                with pytest.raises(ConnectionClosed):
                    for _ in range(100):
                        await ws.recv()
            await wait_for(lambda: server.finished)
            assert "twilio socket" in server.finished[-1].ended
            record = await TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", sc, time_scale=0.25).run()
            assert record.ai_onsets  # the next call is served

    run(go())


def test_a_bug_in_one_calls_handling_ends_that_call_alone(caplog):
    """The message handlers guard themselves (they run inside the socket library's callbacks): a bug
    while handling one call's Twilio frame or Realtime event ends that call, logged, and no other."""

    def boom(*_args: Any) -> None:
        raise RuntimeError("a bug")

    async def go():
        async with stack() as (sim, server, port, _sc):
            url = f"ws://127.0.0.1:{port}/media-stream"
            async with connect(url) as a, connect(url) as b, connect(url) as c:
                for ws, sid in ((a, "MZa"), (b, "MZb"), (c, "MZc")):
                    await ws.send(start(sid))
                await wait_for(
                    lambda: len(sim.sessions) == 3 and all(s.call.session_ready for s in server.sessions)
                )
                by_sid = {s.call.stream_sid: s for s in server.sessions}
                by_sid["MZa"].call.receive_twilio = boom  # type: ignore[method-assign]
                by_sid["MZb"].call.receive_realtime = boom  # type: ignore[method-assign]
                await a.send(media("MZa"))  # through the socket library's callback
                await wait_for(lambda: len(server.finished) == 1)
                by_sid["MZb"]._from_realtime(
                    b'{"type":"rate_limits.updated","rate_limits":[]}'
                )  # what its callback calls
                await wait_for(lambda: len(server.finished) == 2)
                assert {r.ended for r in server.finished} == {"internal error (RuntimeError('a bug'))"}
                assert {r.call_sid for r in server.finished} == {"CAtest"}
                assert [s.call.stream_sid for s in server.sessions] == ["MZc"]
                before = len(sim.sessions[2].input_audio)
                for _ in range(5):
                    await c.send(media("MZc"))
                await wait_for(lambda: len(sim.sessions[2].input_audio) >= before + 800)
            assert caplog.text.count("call failed") == 2

    run(go())


def short_prompt(tmp_path) -> str:
    """A 0.1 s apology, so tests about ending a call are not also 7 s of listening to the shipped one."""
    path = tmp_path / "sorry.ulaw"
    path.write_bytes(b"\x7f" * 800)
    return str(path)


def test_realtime_drop_mid_call_ends_the_call_cleanly_and_the_server_serves_the_next(tmp_path):
    async def go():
        async with stack("noise-only", unavailable_prompt=short_prompt(tmp_path)) as (sim, server, port, sc):
            caller = asyncio.create_task(
                TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", sc, time_scale=0.5).run()
            )
            await wait_for(lambda: sim.sessions and sim.sessions[0].responses)
            await sim.drop_connections()
            record = await caller
            assert record.ended_by == "server"
            await wait_for(lambda: server.finished)
            assert server.finished[-1].ended.startswith("realtime connection lost (1011")
            again = await TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", sc, time_scale=0.25).run()
            assert again.ended_by == "caller" and again.ai_onsets

    run(go())


def test_unreachable_realtime_ends_the_call_with_the_reason():
    async def go():
        server = BridgeServer(
            Settings(
                host="127.0.0.1",
                port=0,
                realtime_url="ws://127.0.0.1:9/v1",
                api_key=KEY,
                realtime_connect_timeout=2,
            )
        )
        port = await server.start()
        try:
            record = await TwilioCaller(
                f"ws://127.0.0.1:{port}/media-stream", load_scenario("noise-only")
            ).run()
            assert record.ended_by == "server"
            await wait_for(lambda: server.finished)
            assert server.finished[-1].ended.startswith("realtime connection failed")
        finally:
            await server.stop(0)

    run(go())


def test_caller_hanging_up_mid_sentence_closes_the_realtime_session():
    async def go():
        async with stack("seed-barge-in") as (sim, server, port, sc):
            short = sc.__class__(
                **{**sc.__dict__, "caller": sc.caller.__class__(**{**sc.caller.__dict__, "max_ms": 1200})}
            )
            record = await TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", short, time_scale=0.5).run()
            assert record.ended_by == "max_ms" and record.heard
            await wait_for(lambda: server.finished)
            assert server.finished[-1].ended == "caller hung up"
            await wait_for(lambda: sim.sessions[0].closed.is_set())

    run(go())


def test_drain_refuses_new_calls_and_lets_the_current_one_finish():
    async def go():
        async with stack("noise-only") as (_sim, server, port, sc):
            caller = asyncio.create_task(
                TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", sc, time_scale=0.25).run()
            )
            await wait_for(lambda: server.sessions)
            stopping = asyncio.create_task(server.stop(drain_seconds=20))
            await wait_for(lambda: server.draining)
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as r:
                assert r.status == 503
            with pytest.raises(InvalidStatus):
                await connect(f"ws://127.0.0.1:{port}/media-stream")
            record = await caller
            assert record.ended_by == "caller"  # it was not cut off
            await stopping

    run(go())


def test_a_socket_that_never_sends_start_opens_no_realtime_session_and_is_closed():
    async def go():
        async with stack(start_timeout=0.5) as (sim, server, port, _sc):
            async with connect(f"ws://127.0.0.1:{port}/media-stream") as ws:
                await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
                for _ in range(10):
                    await ws.send(media("MZguess"))
                with pytest.raises(ConnectionClosed):
                    async with asyncio.timeout(5):
                        while True:
                            await ws.recv()
            await wait_for(lambda: server.finished)
            assert server.finished[-1].end_reason.name == "NO_START"
            assert sim.sessions == []  # nothing paid for

    run(go())


def test_a_second_start_on_the_same_socket_does_not_change_the_call():
    async def go():
        async with stack() as (sim, server, port, _sc):
            async with connect(f"ws://127.0.0.1:{port}/media-stream") as ws:
                await ws.send(start("MZfirst"))
                await wait_for(lambda: sim.sessions)
                second = json.loads(start("MZsecond"))
                second["start"]["callSid"] = "CAother"
                await ws.send(json.dumps(second))
                await ws.send(json.dumps({"event": "stop", "streamSid": "MZfirst", "stop": {}}))
            await wait_for(lambda: server.finished)
            report = server.finished[-1]
            assert report.call_sid == "CAtest" and report.ended == "caller hung up"
            assert any("a second start" in line.text for _, line in report.log_lines)
            assert len(sim.sessions) == 1

    run(go())


def test_beyond_max_calls_the_caller_hears_a_polite_busy_message_and_nothing_opens():
    async def go():
        async with stack(max_calls=1) as (sim, server, port, _sc), aiohttp.ClientSession() as http:
            base = f"http://127.0.0.1:{port}"
            async with connect(f"ws://127.0.0.1:{port}/media-stream") as ws:
                await ws.send(start())
                await wait_for(lambda: sim.sessions)
                async with http.post(base + "/incoming-call", data={"From": "+972500000000"}) as r:
                    twiml = await r.text()
                assert r.status == 200 and "<Connect>" not in twiml
                assert '<Say language="he-IL" voice="Google.he-IL-Standard-A">' in twiml
                assert "עסוקים" in twiml and twiml.rstrip().endswith("<Hangup /></Response>")
                with pytest.raises(InvalidStatus) as refused:
                    await connect(f"ws://127.0.0.1:{port}/media-stream")
                assert refused.value.response.status_code == 503
                assert len(sim.sessions) == 1
                async with http.get(base + "/metrics") as r:
                    assert 'fastgate_calls_refused_total{reason="capacity"}' in await r.text()
                await ws.send(json.dumps({"event": "stop", "streamSid": "MZtest", "stop": {}}))
            await wait_for(lambda: not server.sessions)
            async with http.post(base + "/incoming-call", data={"From": "+972500000000"}) as r:
                assert "<Connect>" in await r.text()  # room again

    run(go())


def start_with(call_sid: str, **parameters: str) -> str:
    message = json.loads(start())
    message["start"]["callSid"] = call_sid
    message["start"]["customParameters"].update(parameters)
    return json.dumps(message)


def test_a_replayed_signature_without_the_calls_token_opens_nothing():
    async def go():
        public = "https://voice.example.com"
        async with (
            stack(public_url=public, twilio_auth_token=TOKEN) as (sim, server, port, _sc),
            aiohttp.ClientSession() as http,
        ):
            params = {"From": "+972541234567", "CallSid": "CA1"}
            signed = RequestValidator(TOKEN).compute_signature(public + "/incoming-call", params)
            async with http.post(
                f"http://127.0.0.1:{port}/incoming-call", data=params, headers={"X-Twilio-Signature": signed}
            ) as r:
                twiml = await r.text()
            token = twiml.split('name="fastgate_token" value="')[1].split('"')[0]
            ws_url = f"ws://127.0.0.1:{port}/media-stream"
            replayed = RequestValidator(TOKEN).compute_signature("wss://voice.example.com/media-stream", {})
            headers = {"X-Twilio-Signature": replayed}
            for bad in (start_with("CA1"), start_with("CA2", fastgate_token=token)):  # none; another call's
                async with connect(ws_url, additional_headers=headers) as ws:
                    await ws.send(bad)
                    with pytest.raises(ConnectionClosed):
                        async with asyncio.timeout(5):
                            while True:
                                await ws.recv()
            await wait_for(lambda: len(server.finished) == 2)
            assert [r.end_reason.name for r in server.finished] == ["BAD_STREAM_TOKEN"] * 2
            assert sim.sessions == []
            async with connect(ws_url, additional_headers=headers) as ws:
                await ws.send(start_with("CA1", fastgate_token=token))
                await wait_for(lambda: sim.sessions)  # the call Twilio announced is served

    run(go())


async def silent_after_handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A 'Realtime server' that completes the websocket handshake and then never says a word again."""
    import hashlib

    request = await reader.readuntil(b"\r\n\r\n")
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key")
    )
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )
    await writer.drain()
    await asyncio.sleep(60)


def test_a_realtime_server_that_goes_silent_ends_the_call_within_two_ping_intervals(tmp_path):
    async def go():
        silent = await asyncio.start_server(silent_after_handshake, "127.0.0.1", 0)
        rt_port = silent.sockets[0].getsockname()[1]
        server = bridge_server(
            f"ws://127.0.0.1:{rt_port}/v1",
            realtime_ping_interval=0.3,
            unavailable_prompt=short_prompt(tmp_path),
        )
        port = await server.start()
        try:
            async with connect(f"ws://127.0.0.1:{port}/media-stream") as ws:
                await ws.send(start())
                began = asyncio.get_running_loop().time()
                with pytest.raises(ConnectionClosed):
                    async with asyncio.timeout(10):
                        while True:
                            await ws.recv()
                waited = asyncio.get_running_loop().time() - began
            await wait_for(lambda: server.finished)
            assert server.finished[-1].ended.startswith("realtime connection lost")
            assert waited < 3  # two 0.3 s intervals, and slack for a shared machine
        finally:
            await server.stop(0)
            silent.close()

    run(go())


def test_when_the_model_is_unreachable_the_caller_hears_the_apology_not_dead_air(tmp_path):
    prompt = bytes(range(0, 256, 2)) * 50  # 0.8 s of recognisable mu-law bytes
    (tmp_path / "sorry.ulaw").write_bytes(prompt)

    async def go():
        server = BridgeServer(
            Settings(
                host="127.0.0.1",
                port=0,
                realtime_url="ws://127.0.0.1:9/v1",
                api_key=KEY,
                unavailable_prompt=str(tmp_path / "sorry.ulaw"),
            )
        )
        port = await server.start()
        try:
            record = await TwilioCaller(
                f"ws://127.0.0.1:{port}/media-stream", load_scenario("noise-only")
            ).run()
            await wait_for(lambda: server.finished)
            assert server.finished[-1].ended.startswith("realtime connection failed")
            assert b"".join(chunk for _, chunk in record.heard) == prompt  # all of it, then the end
            assert record.ended_by == "server"
        finally:
            await server.stop(0)

    run(go())
