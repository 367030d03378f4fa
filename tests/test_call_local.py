"""Pause-then-decide in the sans-I/O Call: a local onset pauses the AI at once; the interruption is
then decided real (the hard barge-in) or false (resume where it paused). No sockets, no sleeps."""

from __future__ import annotations

import base64

import pytest

from bridge.core.config import CallConfig, LocalDetection
from bridge.core.interruption import Verdict, classify
from helpers import (
    LOUD,
    QUIET,
    STREAM,
    Harness,
    created,
    delta,
    done,
    logs,
    mark,
    media,
    rt,
    to_realtime,
    to_twilio,
)

AI = bytes(range(64, 192)) * 50  # 6400 bytes = 800 ms, loud enough to be heard


def local_call(**settings) -> Harness:
    # the "energy" model: the gate alone says voice (the voice model is measured in benchmarks/)
    config = CallConfig(greet_first=False, local=LocalDetection(detector="energy", **settings))
    h = Harness(config)
    h.ready()
    return h


def speaking_ai(h: Harness) -> list[dict]:
    h.realtime(created("resp_1"), at=0)
    out = to_twilio(h.realtime(delta("resp_1", "item_a", AI), at=0))
    h.twilio(mark(out[1]["mark"]["name"]), at=100)
    return out


def caller(h: Harness, frame: bytes, at: float) -> list:
    return h.twilio(media(frame), at=at)


def test_create_response_is_off_the_bridge_answers_real_turns():
    h = local_call()
    update = next(e for e in to_realtime(h.sent) if e["type"] == "session.update")
    assert update["session"]["audio"]["input"]["turn_detection"]["create_response"] is False


def test_a_local_onset_pauses_the_ai_at_once_without_cancelling():
    h = local_call()
    speaking_ai(h)
    caller(h, LOUD, 120)
    actions = caller(h, LOUD, 140)  # two voiced frames: an onset
    assert to_twilio(actions) == [{"event": "clear", "streamSid": STREAM}]
    assert [e["type"] for e in to_realtime(actions)] == ["input_audio_buffer.append"]  # no cancel yet
    assert h.call.gate.barge_in_active and h.call.interruption is not None
    assert any("[PAUSE]" in line for line in logs(actions))
    assert to_twilio(h.realtime(delta("resp_1", "item_a", AI), at=150)) == []  # nothing goes out while paused


def test_the_caller_keeps_talking_the_hard_barge_in_follows_at_the_paused_position():
    h = local_call(confirm_ms=200)
    speaking_ai(h)
    for t in range(120, 360, 20):
        actions = caller(h, LOUD, t)
        if any(e["type"] == "response.cancel" for e in to_realtime(actions)):
            break
    cancel, truncate = [e for e in to_realtime(actions) if e["type"] != "input_audio_buffer.append"]
    assert cancel == {"type": "response.cancel", "response_id": "resp_1"}
    assert truncate["item_id"] == "item_a" and truncate["audio_end_ms"] == 140  # where it paused
    assert h.call.barge_ins and h.call.gate.barge_in_active
    h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1"), at=400)
    h.realtime(rt("input_audio_buffer.speech_stopped", audio_end_ms=500, item_id="u1"), at=600)
    h.realtime(done("resp_1", "cancelled"), at=610)
    assert not h.call.gate.barge_in_active
    assert [e["type"] for e in to_realtime(h.sent)].count("response.create") == 1  # the answer to the turn


def test_a_cough_resumes_where_it_paused_and_its_turn_is_deleted_unanswered():
    h = local_call()
    speaking_ai(h)
    caller(h, LOUD, 120)
    caller(h, LOUD, 140)
    for t in range(160, 300, 20):
        caller(h, QUIET, t)
    h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1"), at=300)
    h.realtime(rt("input_audio_buffer.speech_stopped", audio_end_ms=700, item_id="u1"), at=900)
    h.realtime(rt("input_audio_buffer.committed", item_id="u1", previous_item_id=None), at=900)
    actions = h.realtime(
        rt("conversation.item.input_audio_transcription.completed", item_id="u1", transcript=""), at=950
    )
    resumed = to_twilio(actions)
    assert resumed and resumed[0]["event"] == "media"  # the AI goes on
    played = b"".join(base64.b64decode(m["media"]["payload"]) for m in resumed if m["event"] == "media")
    assert played.startswith(AI[140 * 8 : 300 * 8])  # from exactly where it paused
    assert {"type": "conversation.item.delete", "item_id": "u1"} in to_realtime(actions)
    assert not h.call.gate.barge_in_active and h.call.false_interruptions == 1
    assert "response.cancel" not in [e["type"] for e in to_realtime(h.sent)]
    assert "response.create" not in [e["type"] for e in to_realtime(h.sent)]
    assert h.call.transcript == []


def test_a_sound_the_server_never_heard_resumes_after_a_short_quiet():
    h = local_call(end_quiet_ms=200)
    speaking_ai(h)
    caller(h, LOUD, 120)
    caller(h, LOUD, 140)
    for t in range(160, 420, 20):
        caller(h, QUIET, t)
    assert h.call.interruption is None and h.call.false_interruptions == 1


def test_the_servers_speech_while_the_bridge_hears_none_is_echo():
    h = local_call()
    speaking_ai(h)
    actions = h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="e1"), at=120)
    assert to_twilio(actions) == [] and any("[ECHO]" in line for line in logs(actions))
    h.realtime(rt("input_audio_buffer.speech_stopped", audio_end_ms=300, item_id="e1"), at=400)
    actions = h.realtime(rt("input_audio_buffer.committed", item_id="e1", previous_item_id=None), at=400)
    assert to_realtime(actions) == [{"type": "conversation.item.delete", "item_id": "e1"}]
    assert "response.create" not in [e["type"] for e in to_realtime(h.sent)]


def test_a_turn_while_the_ai_is_silent_is_answered_by_the_bridge():
    h = local_call()
    h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u1"), at=0)
    actions = h.realtime(rt("input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="u1"), at=1000)
    assert [e["type"] for e in to_realtime(actions)] == ["response.create"]


def test_local_detection_off_is_todays_hard_barge_in():
    h = Harness(CallConfig(greet_first=False, local=LocalDetection(enabled=False)))
    h.ready()
    speaking_ai(h)
    assert to_twilio(caller(h, LOUD, 120) + caller(h, LOUD, 140)) == []  # frames alone never stop the AI


@pytest.mark.parametrize(
    ("transcript", "verdict"),
    [
        ("", Verdict.FALSE),
        ("אהה, כן.", Verdict.FALSE),
        ("כן כן", Verdict.FALSE),
        ("אוקיי", Verdict.FALSE),
        ("מממ... נכון", Verdict.FALSE),
        ("לא", Verdict.REAL),
        ("כן, לא, רגע", Verdict.REAL),
        ("רגע", Verdict.REAL),
        ("אני בכלל בצפת", Verdict.REAL),
        ("כן אבל העיר לא נכונה", Verdict.REAL),
    ],
)
def test_transcripts_decide_between_a_backchannel_and_a_turn(transcript, verdict):
    assert classify(transcript, LocalDetection().backchannels)[0] is verdict
