"""OpenAI Realtime (GA) client events we send, and parsing of server events.

Shapes follow openai.types.realtime (the tests validate every event we build against them).
Server events are parsed with orjson into dicts: the SDK's pydantic models cost about 15x more
per audio delta (see benchmarks/test_bench_bridge.py).
"""

from __future__ import annotations

from typing import Any

import orjson

from bridge.protocol import ProtocolError

AUDIO_DELTA = frozenset({"response.output_audio.delta", "response.audio.delta"})
AUDIO_DONE = frozenset({"response.output_audio.done", "response.audio.done"})


def parse(text: str | bytes) -> dict[str, Any]:
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"Realtime event is not JSON: {exc}") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ProtocolError("Realtime event is not an object with a string type")
    return event


def _dump(event: dict[str, Any]) -> str:
    return orjson.dumps(event).decode()


def session_update(
    *,
    instructions: str,
    voice: str,
    model: str,
    turn_detection: dict[str, Any],
    transcription_model: str | None,
    tools: list[dict[str, Any]] | None = None,
) -> str:
    audio_input: dict[str, Any] = {"format": {"type": "audio/pcmu"}, "turn_detection": turn_detection}
    if transcription_model:
        audio_input["transcription"] = {"model": transcription_model, "language": "he"}
    session: dict[str, Any] = {
        "type": "realtime",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": instructions,
        "audio": {"input": audio_input, "output": {"format": {"type": "audio/pcmu"}, "voice": voice}},
    }
    if tools:
        session["tools"] = tools
        session["tool_choice"] = "auto"
    return _dump({"type": "session.update", "session": session})


def append_audio(payload_b64: str) -> str:
    # The hot path: 50 per second per call. base64 needs no JSON escaping.
    return '{"type":"input_audio_buffer.append","audio":"' + payload_b64 + '"}'


def response_create() -> str:
    return '{"type":"response.create"}'


def response_cancel(response_id: str) -> str:
    return _dump({"type": "response.cancel", "response_id": response_id})


def truncate(item_id: str, audio_end_ms: int) -> str:
    return _dump(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": audio_end_ms,
        }
    )


def system_note(text: str) -> str:
    return _dump(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "system", "content": [{"type": "input_text", "text": text}]},
        }
    )


def function_call_output(call_id: str, output: str) -> str:
    return _dump(
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call_id, "output": output},
        }
    )
