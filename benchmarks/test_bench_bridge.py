"""The bridge's hot paths beside their alternatives: Realtime event parsing and one caller frame."""

from __future__ import annotations

import base64
import json
import random

import orjson
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter

from bridge.protocol import twilio
from helpers_bench import ready_call

BATCH = 200
rng = random.Random(2)
DELTAS = [
    json.dumps(
        {
            "type": "response.output_audio.delta",
            "event_id": f"event_{i}",
            "response_id": "resp_1",
            "item_id": "item_1",
            "output_index": 0,
            "content_index": 0,
            "delta": base64.b64encode(bytes(rng.getrandbits(8) for _ in range(800))).decode(),
        }
    )
    for i in range(BATCH)
]
SDK_EVENTS = TypeAdapter(RealtimeServerEvent)
FRAME_MESSAGES = [
    json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(i),
            "streamSid": "MZ1",
            "media": {
                "track": "inbound",
                "chunk": str(i),
                "timestamp": str(i * 20),
                "payload": base64.b64encode(bytes(rng.getrandbits(8) for _ in range(160))).decode(),
            },
        }
    )
    for i in range(BATCH)
]


def sdk_parse(batch):
    for raw in batch:
        SDK_EVENTS.validate_python(json.loads(raw))  # what AsyncRealtimeConnection.recv() does per event


def json_parse(batch):
    for raw in batch:
        json.loads(raw)


def orjson_parse(batch):
    for raw in batch:
        orjson.loads(raw)


def test_realtime_delta_sdk_models(per_item):
    per_item("Realtime audio delta (100 ms) parse", "openai SDK: json + pydantic model", sdk_parse, DELTAS)


def test_realtime_delta_json(per_item):
    per_item("Realtime audio delta (100 ms) parse", "json.loads", json_parse, DELTAS)


def test_realtime_delta_orjson(per_item):
    per_item("Realtime audio delta (100 ms) parse", "orjson.loads (bridge)", orjson_parse, DELTAS, ours=True)


def test_call_caller_frame(per_item):
    call = ready_call()

    def frames(batch):
        for message in batch:
            call.receive_twilio(message, 0.0)
            call.actions()

    per_item(
        "one caller frame through the Call (gate + forward)",
        "Call.receive_twilio (fused path)",
        frames,
        FRAME_MESSAGES,
        ours=True,
    )


def test_call_caller_frame_over_the_ai(per_item):
    """Local detection's cost: a caller frame while AI audio is audible (echo guard and voice model run)."""
    call = ready_call(local=True)
    call.receive_realtime(json.dumps({"type": "response.created", "response": {"id": "resp_1"}}), 0.0)
    for raw in DELTAS:
        call.receive_realtime(raw, 0.0)  # 20 s of AI audio outstanding at Twilio: audible throughout
    call.actions()

    def frames(batch):
        for message in batch:
            call.receive_twilio(message, 0.0)
            call.actions()
        assert call.interruption is None or call.pauses

    per_item(
        "one caller frame through the Call (gate + forward)",
        "Call.receive_twilio while the AI is audible (local detection)",
        frames,
        FRAME_MESSAGES,
    )


def test_call_caller_frame_general_path(per_item):
    call = ready_call()

    def frames(batch):
        for message in batch:
            event = twilio.parse(message)
            call.gate.process(event.audio)

    per_item(
        "one caller frame through the Call (gate + forward)",
        "orjson parse + b64decode + Gate (no forward)",
        frames,
        FRAME_MESSAGES,
    )


def test_call_ai_delta_to_twilio(per_item):
    call = ready_call()
    call.receive_realtime(json.dumps({"type": "response.created", "response": {"id": "resp_1"}}), 0.0)

    def deltas(batch):
        # lead_ms is unbounded in ready_call(): every delta goes straight out as media + mark
        for message in batch:
            call.receive_realtime(message, 0.0)
            call.actions()
        call.playback.flush()

    per_item(
        "AI audio delta through the Call (to Twilio media + marks)",
        "Call.receive_realtime",
        deltas,
        DELTAS,
        ours=True,
    )


def armed_calls() -> list:
    calls = []
    for _ in range(BATCH):
        call = ready_call()
        call.receive_realtime(json.dumps({"type": "response.created", "response": {"id": "resp_1"}}), 0.0)
        call.receive_realtime(DELTAS[0], 0.0)
        call.actions()
        calls.append(call)
    return calls


def test_barge_in_reaction_in_the_core(per_item):
    started = json.dumps(
        {
            "type": "input_audio_buffer.speech_started",
            "event_id": "e",
            "audio_start_ms": 0,
            "item_id": "item_u",
        }
    )

    def barge(batch):
        for call in batch:
            call.receive_realtime(started, 10.0)
            call.actions()
        assert all(call.barge_ins for call in batch)

    per_item(
        "barge-in: speech_started in -> clear, cancel, truncate out",
        "Call (sans-I/O)",
        barge,
        armed_calls,
        ours=True,
    )
