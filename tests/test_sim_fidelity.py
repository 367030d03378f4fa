"""The Realtime simulator where the documented API is easy to get subtly wrong; every event it sends
is checked against the openai package's own types (validate_all)."""

from __future__ import annotations

import asyncio
import json

from openai.types.beta.realtime import RealtimeServerEvent as BetaServerEvent
from pydantic import TypeAdapter

from bridge.sim.realtime_server import RealtimeSimulator
from test_sim_realtime import KEY, PCMU_SESSION, ready, run, scenario, session, validate_all

BETA_EVENTS = TypeAdapter(BetaServerEvent)


def without_transcription() -> dict:
    update = json.loads(json.dumps(PCMU_SESSION))
    del update["session"]["audio"]["input"]["transcription"]
    return update


def test_session_updated_reports_the_effective_turn_detection():
    async def go():
        async with RealtimeSimulator(scenario(), api_key=KEY) as sim:
            c = await session(sim)
            partial = json.loads(json.dumps(PCMU_SESSION))
            partial["session"]["audio"]["input"]["turn_detection"] = {"type": "server_vad"}
            await c.send(partial)
            td = (await c.until("session.updated"))["session"]["audio"]["input"]["turn_detection"]
            assert td["threshold"] == 0.5 and td["prefix_padding_ms"] == 300
            assert td["create_response"] is True and td["interrupt_response"] is True
            validate_all(sim)

    run(go())


def test_a_cancelled_response_still_ends_its_audio_and_transcript(audio):
    async def go():
        slow = scenario(realtime={"delta_ms": 100, "speed": 1.0, "inflight_deltas": 1, "first_delta_ms": 0})
        async with RealtimeSimulator(slow, api_key=KEY) as sim:
            c = await ready(sim)
            await c.send({"type": "response.create"})
            response_id = (await c.until("response.created"))["response"]["id"]
            await c.until("response.output_audio.delta")
            await c.send({"type": "response.cancel", "response_id": response_id})
            await c.until("response.done")
            kinds = [e["type"] for e in c.events]
            assert kinds.index("response.output_audio.done") < kinds.index("response.done")
            assert "response.output_audio_transcript.done" in kinds
            validate_all(sim)

    run(go())


def test_no_transcripts_when_transcription_is_off(audio):
    async def go():
        async with RealtimeSimulator(scenario(), api_key=KEY) as sim:
            c = await ready(sim, without_transcription())
            await c.append(b"\xff" * 8000 + audio("caller_yes") + b"\xff" * 8000)
            await c.until("response.done")
            kinds = {e["type"] for e in c.events}
            assert "conversation.item.input_audio_transcription.completed" not in kinds
            validate_all(sim)

    run(go())


def test_an_empty_commit_is_refused_and_a_real_one_is_not():
    async def go():
        manual = json.loads(json.dumps(PCMU_SESSION))
        manual["session"]["audio"]["input"]["turn_detection"] = None
        async with RealtimeSimulator(scenario(), api_key=KEY) as sim:
            c = await ready(sim, manual)
            await c.send({"type": "input_audio_buffer.commit"})
            error = await c.until("error")
            assert error["error"]["code"] == "input_audio_buffer_commit_empty"
            await c.append(b"\xff" * 1600)
            await c.send({"type": "input_audio_buffer.commit"})
            committed = await c.until("input_audio_buffer.committed")
            assert committed["item_id"]
            validate_all(sim)

    run(go())


def test_clear_drops_the_speech_in_progress(audio):
    async def go():
        async with RealtimeSimulator(scenario(), api_key=KEY) as sim:
            c = await ready(sim)
            speech = audio("caller_yes")
            await c.append(b"\xff" * 8000 + speech[: len(speech) // 2])
            await c.until("input_audio_buffer.speech_started")
            await c.send({"type": "input_audio_buffer.clear"})
            await c.until("input_audio_buffer.cleared")
            await c.append(b"\xff" * 16000)  # two seconds of silence: nothing left to end or answer
            await asyncio.sleep(0.5)
            await c.send({"type": "conversation.item.retrieve", "item_id": "nope"})
            await c.until("error")
            kinds = {e["type"] for e in c.events}
            assert "input_audio_buffer.committed" not in kinds
            assert "response.created" not in kinds
            validate_all(sim)

    run(go())


def test_retrieve_returns_the_item_with_its_transcript(audio):
    async def go():
        async with RealtimeSimulator(scenario(), api_key=KEY) as sim:
            c = await ready(sim)
            await c.append(b"\xff" * 8000 + audio("caller_yes") + b"\xff" * 8000)
            item_id = (await c.until("input_audio_buffer.committed"))["item_id"]
            await c.until("conversation.item.input_audio_transcription.completed")
            await c.send({"type": "conversation.item.retrieve", "item_id": item_id})
            item = (await c.until("conversation.item.retrieved"))["item"]
            assert item["id"] == item_id and item["content"][0]["transcript"] == "כן, נכון."
            validate_all(sim)

    run(go())


def test_beta_clients_get_beta_payloads_not_just_names(audio):
    async def go():
        async with RealtimeSimulator(scenario(), api_key=KEY) as sim:
            c = await session(sim, beta=True)
            await c.send(
                {
                    "type": "session.update",
                    "session": {
                        "modalities": ["audio", "text"],
                        "input_audio_format": "g711_ulaw",
                        "output_audio_format": "g711_ulaw",
                        "input_audio_transcription": {"model": "gpt-4o-mini-transcribe"},
                        "turn_detection": {"type": "server_vad", "silence_duration_ms": 600},
                    },
                }
            )
            updated = (await c.until("session.updated"))["session"]
            assert updated["output_audio_format"] == "g711_ulaw"
            assert updated["turn_detection"]["prefix_padding_ms"] == 300
            await c.append(b"\xff" * 8000 + audio("caller_yes") + b"\xff" * 8000)
            await c.until("conversation.item.input_audio_transcription.completed")
            done = await c.until("response.done")
            assert done["response"]["output"][0]["content"][0]["type"] == "audio"
            kinds = {e["type"] for e in c.events}
            assert "conversation.item.created" in kinds and "conversation.item.done" not in kinds
            for r in sim.sessions[0].record:
                if r.direction == "out":
                    event = dict(r.event)
                    if str(event.get("delta", "")).startswith("<"):
                        event["delta"] = ""
                    BETA_EVENTS.validate_python(event)

    run(go())


def test_a_reply_cancelled_before_any_output_is_played_by_the_next_response():
    async def go():
        slow = scenario(realtime={"first_delta_ms": 2000, "speed": 20.0})
        async with RealtimeSimulator(slow, api_key=KEY) as sim:
            c = await ready(sim)
            await c.send({"type": "response.create"})
            first = (await c.until("response.created"))["response"]["id"]
            await c.send({"type": "response.cancel", "response_id": first})
            assert (await c.until("response.done"))["response"]["output"] == []
            await c.send({"type": "response.create"})
            spoken = await c.until("response.output_audio_transcript.done")
            assert spoken["transcript"] == "סליחה על הטעות. קריית שמונה, נכון?"
            validate_all(sim)

    run(go())


def test_an_out_of_band_response_runs_beside_the_active_one():
    async def go():
        slow = scenario(realtime={"delta_ms": 100, "speed": 1.0, "first_delta_ms": 0})
        async with RealtimeSimulator(slow, api_key=KEY) as sim:
            c = await ready(sim)
            await c.send({"type": "response.create"})
            active = (await c.until("response.created"))["response"]["id"]
            await c.send(
                {"type": "response.create", "response": {"conversation": "none", "metadata": {"job": "x"}}}
            )
            side = await c.until("response.created", timeout=5)
            assert side["response"]["id"] != active and side["response"]["metadata"] == {"job": "x"}
            await c.send({"type": "response.cancel", "response_id": active})
            done = await c.until("response.done", timeout=5)
            while done["response"]["id"] != active:
                done = await c.until("response.done", timeout=5)
            assert done["response"]["status"] == "cancelled"
            assert not [e for e in c.events if e["type"] == "error"]
            validate_all(sim)

    run(go())
