"""The sans-I/O Call, rule by rule: no sockets, no sleeps."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import TypeAdapter

from helpers import (
    LOUD,
    QUIET,
    STREAM,
    Harness,
    created,
    delta,
    done,
    ends,
    hard,
    logs,
    mark,
    media,
    rt,
    start,
    to_realtime,
    to_twilio,
)

try:
    from openai.types.realtime import RealtimeClientEvent
except ImportError:  # pragma: no cover
    RealtimeClientEvent = None

AI_AUDIO = bytes(range(256)) * 10  # 2560 bytes = 320 ms


def playing(h: Harness, response: str = "resp_1", item: str = "item_a", audio: bytes = AI_AUDIO):
    h.realtime(created(response))
    return h.realtime(delta(response, item, audio))


def test_session_update_is_ga_pcmu_with_server_vad():
    h = Harness(hard(greet_first=True))
    h.call.realtime_connected(0)
    (update,) = to_realtime(h.collect())
    assert update["type"] == "session.update"
    audio = update["session"]["audio"]
    assert audio["input"]["format"] == {"type": "audio/pcmu"} == audio["output"]["format"]
    assert audio["input"]["turn_detection"]["type"] == "server_vad"
    assert audio["input"]["turn_detection"]["interrupt_response"] is False
    if RealtimeClientEvent is not None:
        TypeAdapter(RealtimeClientEvent).validate_python(update)


def test_greeting_waits_for_session_and_stream():
    h = Harness(hard(greet_first=True))
    h.call.realtime_connected(0)
    h.collect()
    assert to_realtime(h.realtime(rt("session.updated", session={}))) == []
    assert to_realtime(h.twilio(start())) == [{"type": "response.create"}]


def test_caller_frames_pass_through_the_gate_unchanged_or_as_silence():
    h = Harness()
    h.ready()
    quiet = to_realtime(h.twilio(media(QUIET)))
    assert base64.b64decode(quiet[0]["audio"]) == QUIET
    onset = to_realtime(h.twilio(media(LOUD)))  # a word's first frame goes at once, as spoken
    assert [base64.b64decode(e["audio"]) for e in onset] == [LOUD]
    sent = to_realtime(h.twilio(media(LOUD)))
    assert [base64.b64decode(e["audio"]) for e in sent] == [LOUD]
    assert h.call.stats.frames_forwarded == 2


def test_gated_frames_go_as_silence_of_the_same_length():
    h = Harness()
    h.ready()
    for _ in range(30):  # the noise floor settles on a steady hiss
        h.twilio(media(bytes([0xF0]) * 160))
    sent = to_realtime(h.twilio(media(bytes([0xF0]) * 160)))
    assert [base64.b64decode(e["audio"]) for e in sent] == [QUIET]


def test_no_frame_is_held_back_a_lone_click_goes_as_it_was():
    h = Harness()
    h.ready()
    assert [base64.b64decode(e["audio"]) for e in to_realtime(h.twilio(media(LOUD)))] == [LOUD]
    assert [base64.b64decode(e["audio"]) for e in to_realtime(h.twilio(media(QUIET)))] == [QUIET]


def test_audio_before_the_realtime_session_is_kept_in_order():
    h = Harness()
    h.twilio(start())
    for _ in range(3):
        h.twilio(media(QUIET))
    assert to_realtime(h.collect()) == []
    h.call.realtime_connected(0)
    events = to_realtime(h.collect())
    assert [e["type"] for e in events] == ["session.update"] + ["input_audio_buffer.append"] * 3


def test_ai_audio_goes_out_in_chunks_with_a_mark_each_and_a_lead_limit():
    h = Harness(hard(greet_first=False, chunk_ms=100, lead_ms=200))
    h.ready()
    out = to_twilio(playing(h, audio=b"\x01" * 8000))  # one second
    kinds = [m["event"] for m in out]
    assert kinds == ["media", "mark", "media", "mark"]  # 200 ms ahead, the rest queued
    assert all(m["streamSid"] == STREAM for m in out)
    assert len(base64.b64decode(out[0]["media"]["payload"])) == 800
    more = to_twilio(h.twilio(mark(out[1]["mark"]["name"]), at=100))
    assert [m["event"] for m in more] == ["media", "mark"]


def test_barge_in_clears_cancels_truncates_and_opens_the_gate():
    h = Harness(hard(greet_first=False, chunk_ms=100, lead_ms=300))
    h.ready()
    h.now = 1000
    out = to_twilio(playing(h, audio=b"\x01" * 8000))  # sent at t=1000 to an idle line
    h.twilio(mark(out[1]["mark"]["name"]), at=1100)  # the first 100 ms were played by t=1100
    actions = h.realtime(
        rt("input_audio_buffer.speech_started", audio_start_ms=900, item_id="item_u"), at=1140
    )
    assert to_twilio(actions) == [{"event": "clear", "streamSid": STREAM}]
    cancel, truncate = to_realtime(actions)
    assert cancel == {"type": "response.cancel", "response_id": "resp_1"}
    assert truncate == {
        "type": "conversation.item.truncate",
        "item_id": "item_a",
        "content_index": 0,
        "audio_end_ms": 140,
    }  # 100 acknowledged + 40 of the chunk now playing
    assert h.call.gate.barge_in_active
    text = "\n".join(logs(actions))
    assert "[BARGE-IN]" in text and "[TX_FLUSH]" in text and "[TRUNCATE] item_a at 140 ms" in text
    if RealtimeClientEvent is not None:
        for event in (cancel, truncate):
            TypeAdapter(RealtimeClientEvent).validate_python(event)


def test_late_deltas_of_a_cancelled_response_are_dropped_and_counted():
    h = Harness()
    h.ready()
    playing(h)
    h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u"))
    late = h.realtime(delta("resp_1", "item_a", b"\x02" * 800))
    assert to_twilio(late) == []
    assert h.call.stats.late_deltas_dropped == 1
    assert not h.call.playback.is_playing


def test_every_caller_frame_passes_during_barge_in_until_speech_stopped():
    h = Harness()
    h.ready()
    playing(h)
    h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u"))
    sent = [
        base64.b64decode(e["audio"]) for f in (QUIET, LOUD, QUIET) for e in to_realtime(h.twilio(media(f)))
    ]
    assert sent == [QUIET, LOUD, QUIET]
    assert h.call.gate.passed["barge_in"] == 3
    h.realtime(rt("input_audio_buffer.speech_stopped", audio_end_ms=500, item_id="u"))
    assert not h.call.gate.barge_in_active
    assert h.call.barge_ins[0].frames_during == 3


def test_truncate_never_exceeds_the_audio_received():
    h = Harness(hard(greet_first=False, chunk_ms=100, lead_ms=1000))
    h.ready()
    out = to_twilio(playing(h, audio=b"\x01" * 400))  # 50 ms only
    assert len(out) == 0  # a partial chunk waits for the rest of the item
    h.realtime(
        rt(
            "response.output_audio.done",
            response_id="resp_1",
            item_id="item_a",
            output_index=0,
            content_index=0,
        )
    )
    actions = h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u"), at=5000)
    (truncate,) = [e for e in to_realtime(actions) if e["type"] == "conversation.item.truncate"]
    assert truncate["audio_end_ms"] == 50


def test_no_barge_in_when_the_ai_is_silent():
    h = Harness()
    h.ready()
    actions = h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u"))
    assert to_twilio(actions) == [] and to_realtime(actions) == []
    assert not h.call.gate.barge_in_active and h.call.caller_speaking


def test_barge_in_while_audio_still_plays_after_response_done_sends_no_cancel():
    h = Harness()
    h.ready()
    playing(h)
    h.realtime(done("resp_1"))
    actions = h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u"))
    assert to_twilio(actions) == [{"event": "clear", "streamSid": STREAM}]
    assert [e["type"] for e in to_realtime(actions)] == ["conversation.item.truncate"]


def test_response_guard_never_creates_while_active_or_while_the_caller_speaks():
    h = Harness()
    h.ready()
    h.realtime(created("resp_1"))
    assert not h.call.request_response("test")
    h.realtime(done("resp_1"))
    h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u"))
    assert not h.call.request_response("test")
    h.realtime(rt("input_audio_buffer.speech_stopped", audio_end_ms=10, item_id="u"))
    assert not h.call.request_response("test")  # the server answers the turn itself (create_response)
    h.realtime(created("resp_2"))
    h.realtime(done("resp_2"))
    assert h.call.request_response("test")
    assert not h.call.request_response("twice")  # one is already on its way
    h.collect()
    assert [e for e in to_realtime(h.sent) if e["type"] == "response.create"] == [{"type": "response.create"}]


@pytest.mark.parametrize("state", ["barge_in", "speaking", "active"])
def test_server_events_while_busy_are_silent(state):
    h = Harness()
    h.ready()
    if state == "active":
        h.realtime(created("resp_1"))
    else:
        if state == "barge_in":
            playing(h)
            h.realtime(done("resp_1"))
        h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u"))
    h.collect()
    h.call.add_note("details collected but not confirmed yet", respond=True)
    events = to_realtime(h.collect())
    assert [e["type"] for e in events] == ["conversation.item.create"]
    assert events[0]["item"]["role"] == "system"
    h.realtime(done("resp_1"))
    h.realtime(rt("input_audio_buffer.speech_stopped", audio_end_ms=10, item_id="u"))
    h.tick(10_000)
    assert not [e for e in to_realtime(h.sent) if e["type"] == "response.create"]


def test_server_event_when_idle_responds_at_once():
    h = Harness()
    h.ready()
    h.call.add_note("ask for the callback number", respond=True)
    assert [e["type"] for e in to_realtime(h.collect())] == ["conversation.item.create", "response.create"]


def test_waiting_server_event_is_dropped_once_the_caller_speaks():
    h = Harness()
    h.ready()
    playing(h)
    h.realtime(done("resp_1"))
    h.call.add_note("note", respond=True)  # AI audio still plays: waits
    h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u"))
    h.realtime(rt("input_audio_buffer.speech_stopped", audio_end_ms=10, item_id="u"))
    h.tick(60_000)
    assert not [e for e in to_realtime(h.sent) if e["type"] == "response.create"]
    assert h.call.stats.notes_dropped_stale == 1


def test_waiting_server_event_fires_after_playback():
    h = Harness(hard(greet_first=False, chunk_ms=100, lead_ms=1000))
    h.ready()
    out = to_twilio(playing(h, audio=b"\x01" * 800))
    h.realtime(done("resp_1"))
    h.call.add_note("note", respond=True)
    assert not [e for e in to_realtime(h.collect()) if e["type"] == "response.create"]
    actions = h.twilio(mark(out[-1]["mark"]["name"]), at=200)
    assert [e["type"] for e in to_realtime(actions)] == ["response.create"]


@pytest.mark.parametrize(
    "bad",
    [
        "not json",
        "[]",
        '{"event": 5}',
        '{"event":"media","media":{"payload":"!!"}}',
        '{"event":"start"}',
        '{"event":"alien"}',
        b"\x00\x01",
    ],
)
def test_malformed_twilio_messages_are_logged_and_skipped(bad):
    h = Harness()
    h.ready()
    actions = h.twilio(bad)
    assert any("[MALFORMED] twilio" in line for line in logs(actions))
    assert h.call.stats.malformed_twilio == 1 and h.call.ended is None
    assert to_realtime(h.twilio(media(QUIET)))  # and the call goes on


@pytest.mark.parametrize(
    "bad",
    [
        "{",
        '{"type": 1}',
        '"x"',
        rt("response.output_audio.delta", response_id="r"),
        rt("response.output_audio.delta", response_id="r", item_id="i", delta="%%%"),
        rt("response.created"),
    ],
)
def test_malformed_realtime_events_are_logged_and_skipped(bad):
    h = Harness()
    h.ready()
    actions = h.realtime(bad)
    assert any("[MALFORMED] realtime" in line for line in logs(actions))
    assert h.call.ended is None


def test_cancel_not_active_is_tolerated():
    h = Harness()
    h.ready()
    actions = h.realtime(
        rt(
            "error",
            error={
                "type": "invalid_request_error",
                "code": "response_cancel_not_active",
                "message": "no active response",
            },
        )
    )
    assert "not a failure" in "\n".join(logs(actions))
    assert h.call.stats.realtime_errors == {"response_cancel_not_active": 1}


def test_stop_ends_the_call_once():
    h = Harness()
    h.ready()
    assert ends(h.twilio(json.dumps({"event": "stop", "streamSid": STREAM, "stop": {"callSid": "CA1"}}))) == [
        "caller hung up"
    ]
    h.call.end("again")
    assert ends(h.collect()) == []


def test_beta_audio_delta_names_are_understood():
    h = Harness()
    h.ready()
    h.realtime(created("resp_1"))
    h.realtime(
        rt(
            "response.audio.delta",
            response_id="resp_1",
            item_id="i",
            output_index=0,
            content_index=0,
            delta=base64.b64encode(b"\x01" * 800).decode(),
        )
    )
    assert h.call.playback.received_ms == {"i": 100}


def test_gate_summary_is_logged_periodically():
    h = Harness(hard(greet_first=False, gate_summary_ms=1000))
    h.ready()
    for n in range(10):
        h.twilio(media(QUIET), at=n * 20)
    assert any("[AUDIO GATE]" in line for line in logs(h.tick(1500)))


def test_received_audio_is_counted_in_bytes_whatever_the_delta_size():
    h = Harness()
    h.ready()
    h.realtime(created("resp_1"))
    for _ in range(10):  # ten 12-byte deltas: 1.5 ms each, 15 ms in all
        h.realtime(delta("resp_1", "i", b"\x01" * 12))
    assert h.call.playback.received_ms == {"i": 15}


def test_patience_lengthens_the_vad_silence_while_a_number_is_dictated_and_restores_it():
    from bridge.core.commands import Patience

    h = Harness(hard(greet_first=False, silence_duration_ms=500, dictation_silence_ms=1200))
    h.ready()
    h.call.apply(Patience(True), 0)
    (update,) = to_realtime(h.collect())
    assert update["session"]["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 1200
    h.call.apply(Patience(False), 0)
    (update,) = to_realtime(h.collect())
    assert update["session"]["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 500
    if RealtimeClientEvent is not None:
        TypeAdapter(RealtimeClientEvent).validate_python(update)
