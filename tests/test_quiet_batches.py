"""Silence long after the caller's last word goes to the model in batches: same audio, fewer messages."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import LOUD, QUIET, Harness, hard, logs, media, to_realtime

AFTER = 1500 // 20  # frames of silence before batching starts (the default quiet_batch_after_ms)


def appended(actions) -> list[bytes]:
    return [
        base64.b64decode(e["audio"]) for e in to_realtime(actions) if e["type"] == "input_audio_buffer.append"
    ]


def test_silence_after_the_turn_window_goes_in_100_ms_appends():
    h = Harness(hard(greet_first=False))
    h.ready()
    h.twilio(media(LOUD))
    h.twilio(media(LOUD))
    sent = [appended(h.twilio(media(QUIET))) for _ in range(AFTER + 60)]
    first_held = next(i for i, s in enumerate(sent) if not s)
    assert first_held >= AFTER  # the turn's end (and the gate's hangover) goes frame by frame, at once
    assert all(s == [QUIET] for s in sent[:first_held])
    later = sent[first_held : first_held + 20]
    assert [len(s) for s in later] == [0, 0, 0, 0, 1] * 4
    assert all(s == [QUIET * 5] for s in later if s)
    assert h.call.stats.quiet_batches >= 4
    assert h.call.stats.frames_batched == 5 * h.call.stats.quiet_batches


def test_the_gate_summary_tells_how_much_silence_went_batched():
    h = Harness(hard(greet_first=False))
    h.ready()
    for _ in range(AFTER + 25):
        h.twilio(media(QUIET), at=h.now + 20)
    summary = [line for line in logs(h.tick(h.now + 5000)) if "[AUDIO GATE]" in line]
    assert summary and "(25 of them sent several to an append)" in summary[0]


def test_a_word_flushes_the_held_silence_first_and_goes_at_once():
    h = Harness(hard(greet_first=False))
    h.ready()
    for _ in range(AFTER + 3):
        h.twilio(media(QUIET))
    assert appended(h.twilio(media(LOUD))) == [QUIET * 3, LOUD]  # in order, nothing held back


def test_any_other_event_to_the_model_waits_for_the_held_silence():
    h = Harness(hard(greet_first=False))
    h.ready()
    for _ in range(AFTER + 2):
        h.twilio(media(QUIET))
    h.call.add_note("the caller's callback number was saved")
    sent = to_realtime(h.collect())
    assert sent[0]["type"] == "input_audio_buffer.append"
    assert base64.b64decode(sent[0]["audio"]) == QUIET * 2
    assert sent[1]["type"] == "conversation.item.create"


def test_the_clock_sends_silence_held_a_batch_long_when_frames_stop():
    h = Harness(hard(greet_first=False))
    h.ready()
    for _ in range(AFTER + 2):
        h.twilio(media(QUIET), at=h.now + 20)
    assert appended(h.tick(h.now + 50)) == []
    assert appended(h.tick(h.now + 60)) == [QUIET * 2]


def test_batching_off_sends_every_frame_on_its_own():
    h = Harness(hard(greet_first=False, quiet_batch_ms=0))
    h.ready()
    assert all(len(appended(h.twilio(media(QUIET)))) == 1 for _ in range(AFTER + 20))


def test_batching_waits_for_the_longest_end_of_turn_window_asked_of_the_server():
    h = Harness(hard(greet_first=False, quiet_batch_after_ms=100, dictation_silence_ms=1200))
    h.ready()
    h.twilio(media(LOUD))
    assert all(len(appended(h.twilio(media(QUIET)))) == 1 for _ in range(60))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["loud", "quiet", "tick"]), max_size=400))
def test_the_model_hears_the_same_audio_batched_or_not(steps):
    batched = Harness(hard(greet_first=False, quiet_batch_after_ms=0))
    plain = Harness(hard(greet_first=False, quiet_batch_ms=0))
    streams: list[bytes] = []
    for h in (batched, plain):
        h.ready()
        audio = b""
        for step in steps:
            if step == "tick":
                audio += b"".join(appended(h.tick(h.now + 100)))
            else:
                audio += b"".join(appended(h.twilio(media(LOUD if step == "loud" else QUIET), at=h.now + 20)))
        streams.append(audio)
    held = len(streams[1]) - len(streams[0])
    assert streams[1].startswith(streams[0]) and 0 <= held < 5 * 160  # at most one batch still held


def test_a_held_frame_leaves_nothing_for_the_adapter_to_flush():
    h = Harness(hard(greet_first=False))
    h.ready()
    for _ in range(AFTER + 1):
        h.twilio(media(QUIET), at=h.now + 20)
    h.call.receive_twilio(media(QUIET), h.now + 20)
    assert not h.call.has_output  # held: the server skips its writer for this frame
    h.call.receive_twilio(media(LOUD), h.now + 40)
    assert h.call.has_output
