"""OpenAI Realtime (GA): server events parsed once into small typed records, client events built.

Shapes follow openai.types.realtime (the tests validate every event we build against them). Server
events are read with orjson and only the fields the bridge uses are kept: the SDK's pydantic models
cost 15-70x more per audio delta (see benchmarks/test_bench_bridge.py). Beta event names are mapped
to their GA names here, so nothing past `parse` knows the beta API existed.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from bridge.protocol import ProtocolError, strict_b64

BETA_NAMES = {
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "conversation.item.created": "conversation.item.added",
}


# -- server events, as the bridge sees them ---------------------------------------------------------------
@dataclass(slots=True)  # not frozen: made for every delta, and a frozen __init__ costs 3x
class AudioDelta:
    response_id: str | None
    item_id: str
    audio: bytes


@dataclass(frozen=True, slots=True)
class AudioDone:
    response_id: str | None
    item_id: str | None


@dataclass(frozen=True, slots=True)
class SessionUpdated:
    pass


@dataclass(frozen=True, slots=True)
class ResponseCreated:
    response_id: str


@dataclass(frozen=True, slots=True)
class ResponseDone:
    response_id: str | None
    status: str | None


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    audio_start_ms: int | None
    item_id: str | None = None  # the user item this turn will become


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    audio_end_ms: int | None
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class Committed:
    item_id: str | None


@dataclass(frozen=True, slots=True)
class InputTranscript:
    text: str
    item_id: str | None = None


@dataclass(frozen=True, slots=True)
class OutputTranscript:
    text: str
    response_id: str | None = None


@dataclass(frozen=True, slots=True)
class FunctionCallDone:
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ItemTruncated:
    item_id: str | None
    audio_end_ms: int | None


@dataclass(frozen=True, slots=True)
class ServerError:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Other:
    """Any event the bridge does not act on (rate_limits.updated, transcript deltas, ...)."""

    type: str


ServerEvent = (
    AudioDelta
    | AudioDone
    | SessionUpdated
    | ResponseCreated
    | ResponseDone
    | SpeechStarted
    | SpeechStopped
    | Committed
    | InputTranscript
    | OutputTranscript
    | FunctionCallDone
    | ItemTruncated
    | ServerError
    | Other
)


def _obj(event: dict[str, Any], key: str) -> dict[str, Any]:
    value = event.get(key)
    if not isinstance(value, dict):
        raise ProtocolError(f"Realtime {event.get('type', 'object')} without an object {key!r}")
    return value


def _str(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"Realtime {event.get('type', 'object')} without a string {key!r}")
    return value


def _opt_str(event: dict[str, Any], key: str) -> str | None:
    value = event.get(key)
    return value if isinstance(value, str) else None


def _opt_int(event: dict[str, Any], key: str) -> int | None:
    value = event.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _audio_delta(e: dict[str, Any]) -> AudioDelta:
    try:
        audio = strict_b64(_str(e, "delta"))
    except (binascii.Error, ValueError):
        raise ProtocolError("Realtime audio delta is not valid base64") from None
    return AudioDelta(_opt_str(e, "response_id"), _str(e, "item_id"), audio)


def _error(e: dict[str, Any]) -> ServerError:
    error = _obj(e, "error")
    code = error.get("code") or error.get("type") or "unknown"
    return ServerError(str(code), str(error.get("message") or ""))


def _response_done(e: dict[str, Any]) -> ResponseDone:
    response = _obj(e, "response")
    return ResponseDone(_opt_str(response, "id"), _opt_str(response, "status"))


def _transcript(e: dict[str, Any]) -> str:
    value = e.get("transcript", "")
    return value if isinstance(value, str) else str(value)


_BUILDERS: dict[str, Callable[[dict[str, Any]], ServerEvent]] = {
    "response.output_audio.delta": _audio_delta,
    "response.output_audio.done": lambda e: AudioDone(_opt_str(e, "response_id"), _opt_str(e, "item_id")),
    "session.updated": lambda e: SessionUpdated(),
    "response.created": lambda e: ResponseCreated(_str(_obj(e, "response"), "id")),
    "response.done": _response_done,
    "input_audio_buffer.speech_started": lambda e: SpeechStarted(
        _opt_int(e, "audio_start_ms"), _opt_str(e, "item_id")
    ),
    "input_audio_buffer.speech_stopped": lambda e: SpeechStopped(
        _opt_int(e, "audio_end_ms"), _opt_str(e, "item_id")
    ),
    "input_audio_buffer.committed": lambda e: Committed(_opt_str(e, "item_id")),
    "conversation.item.input_audio_transcription.completed": lambda e: InputTranscript(
        _transcript(e), _opt_str(e, "item_id")
    ),
    "response.output_audio_transcript.done": lambda e: OutputTranscript(
        _transcript(e), _opt_str(e, "response_id")
    ),
    "response.function_call_arguments.done": lambda e: FunctionCallDone(
        _str(e, "call_id"), _str(e, "name"), str(e.get("arguments") or "")
    ),
    "conversation.item.truncated": lambda e: ItemTruncated(
        _opt_str(e, "item_id"), _opt_int(e, "audio_end_ms")
    ),
    "error": _error,
}


def parse(text: str | bytes) -> ServerEvent:
    """One server event, checked and typed; `ProtocolError` says what is wrong with a bad one."""
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"Realtime event is not JSON: {exc}") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ProtocolError("Realtime event is not an object with a string type")
    kind: str = event["type"]
    kind = event["type"] = BETA_NAMES.get(kind, kind)
    build = _BUILDERS.get(kind)
    return build(event) if build is not None else Other(kind)


# -- client events ----------------------------------------------------------------------------------------
def _dump(event: dict[str, Any]) -> str:
    return orjson.dumps(event).decode()


def session_update(
    *,
    instructions: str,
    voice: str,
    model: str,
    turn_detection: dict[str, Any],
    transcription: dict[str, Any] | None,
    tools: list[dict[str, Any]] | None = None,
) -> str:
    audio_input: dict[str, Any] = {"format": {"type": "audio/pcmu"}, "turn_detection": turn_detection}
    if transcription:
        audio_input["transcription"] = transcription
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


def turn_detection_update(turn_detection: dict[str, Any]) -> str:
    """A session.update that changes only the turn detection (the rest of the session stays)."""
    session = {"type": "realtime", "audio": {"input": {"turn_detection": turn_detection}}}
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


def item_delete(item_id: str) -> str:
    return _dump({"type": "conversation.item.delete", "item_id": item_id})


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
