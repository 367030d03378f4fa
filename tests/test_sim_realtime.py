"""The Realtime simulator against a minimal scripted client over loopback."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from pydantic import TypeAdapter
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import parse_scenario

SERVER_EVENTS = TypeAdapter(__import__("openai.types.realtime", fromlist=["x"]).RealtimeServerEvent)
KEY = "test-key"
PCMU_SESSION = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "audio": {
            "input": {
                "format": {"type": "audio/pcmu"},
                "transcription": {"model": "gpt-4o-mini-transcribe", "language": "he"},
                "turn_detection": {
                    "type": "server_vad",
                    "silence_duration_ms": 600,
                    "prefix_padding_ms": 300,
                    "create_response": True,
                    "interrupt_response": False,
                },
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"},
        },
    },
}


def scenario(**overrides: Any):
    data = {
        "name": "unit",
        "realtime": {"delta_ms": 100, "speed": 20.0, "inflight_deltas": 2, "first_delta_ms": 0},
        "caller": {"utterances": [{"audio": "caller_yes", "transcript": "כן, נכון.", "at_ms": 0}]},
        "replies": [{"audio": "ai_confirm_fixed_city", "transcript": "סליחה על הטעות. קריית שמונה, נכון?"}],
    }
    data.update(overrides)
    return parse_scenario(data)


class Client:
    def __init__(self, ws) -> None:
        self.ws, self.events = ws, []

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def until(self, type_: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                event = json.loads(await self.ws.recv())
                self.events.append(event)
                if event["type"] == type_ and all(event.get(k) == v for k, v in match.items()):
                    return event

    async def append(self, audio: bytes, chunk: int = 1600) -> None:
        for i in range(0, len(audio), chunk):
            await self.send(
                {
                    "type": "input_audio_buffer.append",
                    "audio": base64.b64encode(audio[i : i + chunk]).decode(),
                }
            )


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


async def session(sim: RealtimeSimulator, beta: bool = False):
    headers = {"Authorization": f"Bearer {KEY}"}
    if beta:
        headers["OpenAI-Beta"] = "realtime=v1"
    ws = await connect(f"{sim.base_url}/realtime?model=gpt-realtime", additional_headers=headers)
    client = Client(ws)
    await client.until("session.created")
    return client


async def ready(sim: RealtimeSimulator, update: dict[str, Any] | None = None) -> Client:
    """A GA client whose session.update (PCMU by default) the simulator has applied."""
    client = await session(sim)
    await client.send(update or PCMU_SESSION)
    await client.until("session.updated")
    return client


def validate_all(sim: RealtimeSimulator) -> None:
    """Every event the simulator sent is a valid GA server event per the openai package."""
    for s in sim.sessions:
        for r in s.record:
            if r.direction == "out":
                event = dict(r.event)
                if "delta" in event and str(event["delta"]).startswith("<"):
                    event["delta"] = ""
                SERVER_EVENTS.validate_python(event)


def test_auth_and_path_are_enforced():
    async def go():
        async with RealtimeSimulator(scenario(), api_key=KEY) as sim:
            with pytest.raises(InvalidStatus) as no_key:
                await connect(f"{sim.base_url}/realtime?model=gpt-realtime")
            assert no_key.value.response.status_code == 401
            with pytest.raises(InvalidStatus) as wrong:
                await connect(f"{sim.base_url}/realtime", additional_headers={"Authorization": "Bearer nope"})
            assert wrong.value.response.status_code == 401
            with pytest.raises(InvalidStatus) as path:
                await connect(
                    f"ws://127.0.0.1:{sim.port}/v2/x", additional_headers={"Authorization": f"Bearer {KEY}"}
                )
            assert path.value.response.status_code == 404

    run(go())


def test_session_update_accepts_g711_only():
    async def go():
        async with RealtimeSimulator(scenario(), api_key=KEY) as sim:
            c = await session(sim)
            await c.send(PCMU_SESSION)
            updated = await c.until("session.updated")
            assert updated["session"]["audio"]["input"]["format"]["type"] == "audio/pcmu"
            bad = json.loads(json.dumps(PCMU_SESSION))
            bad["session"]["audio"]["output"]["format"] = {"type": "audio/pcm", "rate": 24000}
            await c.send(bad)
            error = await c.until("error")
            assert error["error"]["code"] == "invalid_value" and "audio/pcmu" in error["error"]["message"]
            validate_all(sim)

    run(go())


def test_vad_turn_transcript_and_automatic_response(audio):
    async def go():
        async with RealtimeSimulator(scenario(), api_key=KEY) as sim:
            c = await session(sim)
            await c.send(PCMU_SESSION)
            await c.until("session.updated")
            speech = audio("caller_yes")
            await c.append(b"\xff" * 8000 + speech + b"\xff" * 8000)
            started = await c.until("input_audio_buffer.speech_started")
            assert 1000 - 300 <= started["audio_start_ms"] <= 1000 - 300 + 100  # onset minus prefix padding
            stopped = await c.until("input_audio_buffer.speech_stopped")
            assert stopped["item_id"] == started["item_id"]
            assert stopped["audio_end_ms"] > started["audio_start_ms"] + 1000
            committed = await c.until("input_audio_buffer.committed")
            assert committed["item_id"] == started["item_id"]
            added = await c.until("conversation.item.added")
            assert added["item"]["role"] == "user"
            transcript = await c.until("conversation.item.input_audio_transcription.completed")
            assert transcript["transcript"] == "כן, נכון."
            response = await c.until("response.created")
            first = await c.until("response.output_audio.delta")
            assert first["response_id"] == response["response"]["id"]
            assert len(base64.b64decode(first["delta"])) == 800  # 100 ms of mu-law
            done = await c.until("response.done")
            assert done["response"]["status"] == "completed"
            deltas = [e for e in c.events if e["type"] == "response.output_audio.delta"]
            total = sum(len(base64.b64decode(e["delta"])) for e in deltas)
            assert total == len(sim.scenario.replies[0].audio)
            done_text = next(e for e in c.events if e["type"] == "response.output_audio_transcript.done")
            text = done_text["transcript"]
            assert text == "סליחה על הטעות. קריית שמונה, נכון?"
            assert bytes(sim.sessions[0].input_audio) == b"\xff" * 8000 + speech + b"\xff" * 8000
            validate_all(sim)

    run(go())


def test_cancel_delivers_the_in_flight_deltas_then_done_cancelled():
    async def go():
        slow = scenario(realtime={"delta_ms": 100, "speed": 1.0, "inflight_deltas": 2, "first_delta_ms": 0})
        async with RealtimeSimulator(slow, api_key=KEY) as sim:
            c = await session(sim)
            await c.send(PCMU_SESSION)
            await c.until("session.updated")
            await c.send({"type": "response.create"})
            response_id = (await c.until("response.created"))["response"]["id"]
            await c.until("response.output_audio.delta")
            await c.send({"type": "response.create"})
            busy = await c.until("error")
            assert busy["error"]["code"] == "conversation_already_has_active_response"
            await c.send({"type": "response.cancel", "response_id": response_id})
            done = await c.until("response.done")
            assert done["response"]["status"] == "cancelled"
            assert done["response"]["status_details"]["reason"] == "client_cancelled"
            record = sim.sessions[0].record
            cancel_at = next(
                r.t_ms for r in record if r.direction == "in" and r.event["type"] == "response.cancel"
            )
            late = [
                r
                for r in record
                if r.direction == "out"
                and r.t_ms >= cancel_at
                and r.event["type"] == "response.output_audio.delta"
            ]
            assert len(late) == 2
            await c.send({"type": "response.cancel"})
            idle = await c.until("error")
            assert idle["error"]["code"] == "response_cancel_not_active"
            validate_all(sim)

    run(go())


def test_truncate_is_validated():
    async def go():
        async with RealtimeSimulator(scenario(), api_key=KEY) as sim:
            c = await session(sim)
            await c.send(PCMU_SESSION)
            await c.until("session.updated")
            await c.send({"type": "response.create"})
            item_id = (await c.until("response.output_item.added"))["item"]["id"]
            await c.until("response.done")
            produced = len(sim.scenario.replies[0].audio) // 8
            await c.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": "item_nope",
                    "content_index": 0,
                    "audio_end_ms": 10,
                }
            )
            assert "not found" in (await c.until("error"))["error"]["message"]
            await c.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item_id,
                    "content_index": 0,
                    "audio_end_ms": produced + 500,
                }
            )
            assert "already shorter than" in (await c.until("error"))["error"]["message"]
            await c.send(
                {
                    "type": "conversation.item.truncate",
                    "item_id": item_id,
                    "content_index": 0,
                    "audio_end_ms": 1234,
                }
            )
            truncated = await c.until("conversation.item.truncated")
            assert truncated["audio_end_ms"] == 1234
            assert sim.sessions[0].truncations == [(item_id, 1234)]
            validate_all(sim)

    run(go())


def test_scripted_function_call_round_trip():
    async def go():
        tools = scenario(
            replies=[
                {
                    "audio": "ai_ask_details",
                    "transcript": "מה השם?",
                    "tool_calls": [
                        {"name": "set_field", "arguments": {"field": "city", "value": "קריית שמונה"}}
                    ],
                }
            ]
        )
        with_tool = json.loads(json.dumps(PCMU_SESSION))
        with_tool["session"]["tools"] = [
            {"type": "function", "name": "set_field", "description": "", "parameters": {"type": "object"}}
        ]
        async with RealtimeSimulator(tools, api_key=KEY) as sim:
            c = await session(sim)
            await c.send(with_tool)
            await c.until("session.updated")
            await c.send({"type": "response.create"})
            call = await c.until("response.function_call_arguments.done")
            assert call["name"] == "set_field" and json.loads(call["arguments"])["value"] == "קריית שמונה"
            await c.until("response.done")
            await c.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": call["call_id"],
                        "output": '{"ok": true}',
                    },
                }
            )
            added = await c.until("conversation.item.added")
            assert added["item"]["type"] == "function_call_output"
            await c.send(
                {
                    "type": "conversation.item.create",
                    "item": {"type": "function_call_output", "call_id": "call_unknown", "output": "{}"},
                }
            )
            assert (await c.until("error"))["error"]["param"] == "item.call_id"
            assert sim.sessions[0].function_outputs[0]["call_id"] == call["call_id"]
            deltas_so_far = [e for e in c.events if e["type"] == "response.output_audio.delta"]
            assert deltas_so_far == []  # the response that called the tool ended there, as the real API does
            await c.send({"type": "response.create"})
            spoken = await c.until("response.output_audio_transcript.done")
            assert spoken["transcript"] == "מה השם?"
            validate_all(sim)

    run(go())


def test_interrupt_response_cancels_on_speech_when_enabled(audio):
    async def go():
        slow = scenario(realtime={"delta_ms": 100, "speed": 1.0, "inflight_deltas": 0, "first_delta_ms": 0})
        async with RealtimeSimulator(slow, api_key=KEY) as sim:
            c = await session(sim)
            update = json.loads(json.dumps(PCMU_SESSION))
            update["session"]["audio"]["input"]["turn_detection"]["interrupt_response"] = True
            await c.send(update)
            await c.until("session.updated")
            await c.send({"type": "response.create"})
            await c.until("response.output_audio.delta")
            await c.append(audio("caller_yes")[:4000])
            await c.until("input_audio_buffer.speech_started")
            done = await c.until("response.done")
            assert done["response"]["status"] == "cancelled"
            assert done["response"]["status_details"]["reason"] == "turn_detected"

    run(go())


def test_beta_clients_get_beta_names_and_formats(audio):
    async def go():
        async with RealtimeSimulator(scenario(), api_key=KEY) as sim:
            c = await session(sim, beta=True)
            await c.send(
                {
                    "type": "session.update",
                    "session": {"input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw"},
                }
            )
            updated = await c.until("session.updated")
            assert updated["session"]["output_audio_format"] == "g711_ulaw"  # the beta session shape
            await c.send({"type": "response.create"})
            await c.until("response.audio.delta")
            await c.until("response.audio_transcript.done")

    run(go())


def test_invalid_events_get_errors_and_the_session_goes_on():
    async def go():
        async with RealtimeSimulator(scenario(), api_key=KEY) as sim:
            c = await session(sim)
            await c.ws.send("{not json")
            assert (await c.until("error"))["error"]["code"] == "invalid_json"
            await c.send({"type": "input_audio_buffer.append", "audio": "@@@"})
            assert (await c.until("error"))["error"]["param"] == "audio"
            await c.send({"type": "no.such.event"})
            assert (await c.until("error"))["error"]["code"] == "unknown_event"
            await c.send(PCMU_SESSION)
            await c.until("session.updated")
            validate_all(sim)

    run(go())
