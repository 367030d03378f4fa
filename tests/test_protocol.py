"""The wire shapes alone: Realtime server events parsed into typed records, client events built."""

from __future__ import annotations

import base64
import json

import pytest
from openai.types.realtime import RealtimeClientEvent
from pydantic import TypeAdapter

from bridge.protocol import ProtocolError, realtime, twilio
from helpers import STREAM, media, rt, start

CLIENT = TypeAdapter(RealtimeClientEvent)


def test_an_audio_delta_is_decoded_once():
    event = realtime.parse(
        rt(
            "response.output_audio.delta",
            response_id="r",
            item_id="i",
            delta=base64.b64encode(b"ab").decode(),
        )
    )
    assert event == realtime.AudioDelta("r", "i", b"ab")


@pytest.mark.parametrize(
    ("beta", "record"),
    [
        ("response.audio.delta", realtime.AudioDelta),
        ("response.audio.done", realtime.AudioDone),
        ("response.audio_transcript.done", realtime.OutputTranscript),
    ],
)
def test_beta_names_become_ga_records(beta, record):
    event = realtime.parse(rt(beta, response_id="r", item_id="i", delta="AA==", transcript="x"))
    assert isinstance(event, record)


@pytest.mark.parametrize(
    ("text", "record"),
    [
        (rt("session.updated", session={}), realtime.SessionUpdated()),
        (rt("response.created", response={"id": "r1"}), realtime.ResponseCreated("r1")),
        (
            rt("response.done", response={"id": "r1", "status": "cancelled"}),
            realtime.ResponseDone("r1", "cancelled"),
        ),
        (rt("input_audio_buffer.speech_started", audio_start_ms=40), realtime.SpeechStarted(40)),
        (rt("input_audio_buffer.speech_stopped", audio_end_ms=90), realtime.SpeechStopped(90)),
        (
            rt("conversation.item.input_audio_transcription.completed", transcript="לא"),
            realtime.InputTranscript("לא"),
        ),
        (
            rt("response.function_call_arguments.done", call_id="c", name="set_field", arguments="{}"),
            realtime.FunctionCallDone("c", "set_field", "{}"),
        ),
        (rt("conversation.item.truncated", item_id="i", audio_end_ms=5), realtime.ItemTruncated("i", 5)),
        (rt("error", error={"code": "x", "message": "m"}), realtime.ServerError("x", "m")),
        (
            rt("error", error={"type": "invalid_request_error"}),
            realtime.ServerError("invalid_request_error", ""),
        ),
        (rt("rate_limits.updated", rate_limits=[]), realtime.Other("rate_limits.updated")),
    ],
)
def test_server_events_are_typed(text, record):
    assert realtime.parse(text) == record


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{", "not JSON"),
        ("[]", "string type"),
        ('{"type": 3}', "string type"),
        (rt("response.created"), "object 'response'"),
        (rt("response.created", response={"id": 5}), "string 'id'"),
        (rt("response.done", response="done"), "object 'response'"),
        (rt("error", error="boom"), "object 'error'"),
        (rt("response.output_audio.delta", response_id="r", delta="AA=="), "string 'item_id'"),
        (rt("response.output_audio.delta", item_id="i", delta="%%"), "base64"),
        (rt("response.function_call_arguments.done", name="x"), "string 'call_id'"),
    ],
)
def test_bad_server_events_say_what_is_wrong(text, says):
    with pytest.raises(ProtocolError, match=says):
        realtime.parse(text)


@pytest.mark.parametrize(
    "text",
    [
        realtime.session_update(
            instructions="x",
            voice="marin",
            model="gpt-realtime",
            turn_detection={"type": "server_vad", "create_response": True, "interrupt_response": False},
            transcription={"model": "gpt-4o-mini-transcribe", "language": "he", "prompt": "צפת, טבריה"},
            tools=[{"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}],
        ),
        realtime.append_audio("AAAA"),
        realtime.response_create(),
        realtime.response_cancel("r1"),
        realtime.truncate("i1", 120),
        realtime.system_note("note"),
        realtime.function_call_output("c1", '{"ok": true}'),
    ],
)
def test_client_events_are_valid_ga(text):
    CLIENT.validate_python(json.loads(text))


def test_twilio_messages_parse_and_build():
    assert twilio.parse(start()).stream_sid == STREAM  # type: ignore[union-attr]
    frame = twilio.parse(media(b"\xff" * 160))
    assert isinstance(frame, twilio.Media) and frame.audio == b"\xff" * 160 and frame.timestamp_ms == 20
    assert json.loads(twilio.clear("MZ1")) == {"event": "clear", "streamSid": "MZ1"}
    assert json.loads(twilio.mark("MZ1", "fg1")) == {
        "event": "mark",
        "streamSid": "MZ1",
        "mark": {"name": "fg1"},
    }
    assert json.loads(twilio.media("MZ1", "AAAA"))["media"] == {"payload": "AAAA"}
    with pytest.raises(ProtocolError, match="unknown Twilio event"):
        twilio.parse('{"event": "alien"}')


@pytest.mark.parametrize(
    "start",
    [
        '{"event":"start","streamSid":"MZ","start":"x"}',
        '{"event":"start","streamSid":"MZ","start":{"streamSid":"MZ","mediaFormat":"x"}}',
        '{"event":"start","streamSid":"MZ","start":{"streamSid":"MZ","mediaFormat":{"sampleRate":"fast"}}}',
        '{"event":"start","streamSid":"MZ","start":{"streamSid":"MZ","mediaFormat":{"sampleRate":[8000]}}}',
    ],
)
def test_a_start_of_the_wrong_shape_is_a_protocol_error(start: str) -> None:
    from bridge.protocol import ProtocolError
    from bridge.protocol.twilio import parse as parse_twilio

    with pytest.raises(ProtocolError):
        parse_twilio(start)
