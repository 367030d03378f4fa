"""The Twilio caller simulator against a minimal scripted bridge over loopback."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from bridge.sim.scenario import parse_scenario
from bridge.sim.twilio_caller import TwilioCaller

Script = Callable[[ServerConnection, dict[str, Any], list[dict[str, Any]]], Awaitable[None]]


def scenario(**caller: Any):
    return parse_scenario(
        {
            "name": "unit",
            "caller": {
                "hangup_after_ms": 600,
                "max_ms": 8000,
                **caller,
                "utterances": caller.get("utterances", []),
            },
        }
    )


async def call(script: Script, sc, time_scale: float = 1.0) -> tuple[Any, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    async def handler(ws: ServerConnection) -> None:
        first = json.loads(await ws.recv())
        start = json.loads(await ws.recv())
        received.extend([first, start])
        reader = asyncio.create_task(read(ws))
        await script(ws, start, received)
        await reader

    async def read(ws: ServerConnection) -> None:
        async for raw in ws:
            received.append(json.loads(raw))

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        record = await TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", sc, time_scale=time_scale).run()
    return record, received


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def out_media(sid: str, audio: bytes) -> str:
    return json.dumps(
        {"event": "media", "streamSid": sid, "media": {"payload": base64.b64encode(audio).decode()}}
    )


def out_mark(sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": sid, "mark": {"name": name}})


async def nothing(ws, start, received) -> None:
    return None


def test_connected_start_media_every_20_ms_and_stop():
    record, received = run(call(nothing, scenario(caller_id="+972501112233")))
    connected, start = received[0], received[1]
    assert connected == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    assert start["event"] == "start" and start["start"]["streamSid"] == record.stream_sid
    assert start["start"]["mediaFormat"] == {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}
    assert start["start"]["customParameters"]["caller"] == "+972501112233"
    assert start["start"]["callSid"].startswith("CA")
    media = [m for m in received if m["event"] == "media"]
    assert all(len(base64.b64decode(m["media"]["payload"])) == 160 for m in media)
    assert [int(m["media"]["timestamp"]) for m in media[:3]] == [0, 20, 40]
    assert len(media) == len(record.sent) >= 30  # 600 ms of quiet before hanging up
    assert received[-1]["event"] == "stop"
    assert [int(m["sequenceNumber"]) for m in received[1:]] == list(range(1, len(received)))
    assert record.ended_by == "caller"


def test_marks_echo_when_playback_reaches_them():
    async def script(ws, start, received):
        sid = start["streamSid"]
        await ws.send(out_media(sid, b"\x01" * 3200))  # 400 ms
        await ws.send(out_mark(sid, "after-400ms"))
        await ws.send(out_mark(sid, "same-place"))

    record, received = run(call(script, scenario()))
    echoed = [(t - record.started_at, name, by_clear) for t, name, by_clear in record.marks_echoed]
    assert [name for _, name, _ in echoed] == ["after-400ms", "same-place"]
    assert all(350 <= t <= 600 and not by_clear for t, _, by_clear in echoed)
    assert [m["mark"]["name"] for m in received if m["event"] == "mark"] == ["after-400ms", "same-place"]
    assert sum(len(chunk) for _, chunk in record.heard) == 3200
    assert len(record.ai_onsets) == 1


def test_clear_empties_the_buffer_and_returns_pending_marks_at_once():
    async def script(ws, start, received):
        sid = start["streamSid"]
        await ws.send(out_media(sid, b"\x01" * 16000))  # 2 s
        await ws.send(out_mark(sid, "end"))
        await asyncio.sleep(0.3)
        await ws.send(json.dumps({"event": "clear", "streamSid": sid}))

    record, _ = run(call(script, scenario()))
    ((clear_at, dropped),) = record.clears
    assert 200 <= clear_at - record.started_at <= 500
    assert 1400 <= dropped / 8 <= 1800
    assert record.marks_echoed[0][1:] == ("end", True)
    assert record.marks_echoed[0][0] - clear_at < 50
    assert all(t <= clear_at + 20 for t, _ in record.heard)  # nothing heard after the clear
    assert 200 <= sum(len(c) for _, c in record.heard) / 8 <= 500


def test_clear_without_echo_when_configured():
    async def script(ws, start, received):
        sid = start["streamSid"]
        await ws.send(out_media(sid, b"\x01" * 8000))
        await ws.send(out_mark(sid, "end"))
        await asyncio.sleep(0.1)
        await ws.send(json.dumps({"event": "clear", "streamSid": sid}))

    record, _ = run(call(script, scenario(echo_marks_on_clear=False)))
    assert record.marks_echoed == [] and len(record.clears) == 1


def test_utterances_follow_the_ai_and_dtmf_is_sent(audio):
    async def script(ws, start, received):
        await asyncio.sleep(0.2)
        await ws.send(out_media(start["streamSid"], b"\x01" * 1600))

    sc = scenario(
        dtmf=[{"at_ms": 100, "digit": "5"}],
        utterances=[{"audio": "caller_yes", "transcript": "כן", "after_ai_starts": 1, "offset_ms": 100}],
    )
    record, received = run(call(script, sc, time_scale=0.5))
    (onset,) = record.ai_onsets
    ((start, end, text),) = record.utterances
    assert text == "כן" and 100 <= start - onset <= 140
    assert end - start == -(-len(audio("caller_yes")) // 160) * 20
    k = round((start - record.started_at) / 20)
    assert record.sent[k] == audio("caller_yes")[:160]
    assert [m["dtmf"]["digit"] for m in received if m["event"] == "dtmf"] == ["5"]


def test_bad_outbound_messages_are_recorded_not_fatal():
    async def script(ws, start, received):
        await ws.send("not json")
        await ws.send(json.dumps({"event": "media", "streamSid": "MZwrong", "media": {"payload": "AA=="}}))
        await ws.send(json.dumps({"event": "teleport", "streamSid": start["streamSid"]}))

    record, _ = run(call(script, scenario()))
    assert len(record.protocol_errors) == 3
    assert record.ended_by == "caller"


def test_server_hangup_ends_the_call():
    async def script(ws, start, received):
        await asyncio.sleep(0.2)
        await ws.close()

    record, _ = run(call(script, scenario(hangup_after_ms=5000)))
    assert record.ended_by == "server"
    assert record.duration_ms < 2000


def test_the_simulators_clock_never_wakes_a_peer_before_its_time():
    """uvloop's timers count whole milliseconds and wake up to ~1 ms early; a simulated caller that
    played its 20 ms slot early, stamped with the slot's time, would count a frame it played before a
    `clear` as played after it."""
    import random

    import uvloop

    from bridge.sim.clock import ScaledClock

    async def go() -> list[float]:
        clock, rng = ScaledClock(), random.Random(7)
        late = []
        for _ in range(200):
            target = clock.now_ms() + rng.uniform(0.05, 3.0)
            await clock.sleep_until_ms(target)
            late.append(clock.now_ms() - target)
        return late

    assert min(uvloop.run(go())) >= 0
