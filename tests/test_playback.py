"""AI audio on its way to the caller, alone: chunks, the lead over Twilio, marks, what was heard."""

from __future__ import annotations

from bridge.core.playback import Playback


def sent(p: Playback, now: float = 0.0) -> list[tuple[str, int, int, str]]:
    return [(c.item_id, c.start_ms, len(c.audio), c.mark) for c in p.release(now)]


def test_deltas_are_recut_into_chunks_with_unique_marks_and_a_lead_limit():
    p = Playback(chunk_ms=100, lead_ms=200)
    p.add_audio("a", b"\x01" * 2000)  # 250 ms: two whole chunks and 50 ms pending
    assert sent(p) == [("a", 0, 800, "fg1"), ("a", 100, 800, "fg2")]
    assert p.outstanding_ms == 200 and p.is_playing
    p.end_item()  # the tail goes out as it is, no padding
    assert sent(p) == []  # 200 ms already at Twilio
    assert p.on_mark("fg1", 100.0)
    assert sent(p, 100.0) == [("a", 200, 400, "fg3")]


def test_a_mark_acknowledges_everything_before_it_and_unknown_marks_are_ignored():
    p = Playback(chunk_ms=100, lead_ms=1000)
    p.add_audio("a", b"\x01" * 2400)
    p.release(0.0)
    assert not p.on_mark("fg99", 10.0)
    assert p.on_mark("fg2", 200.0)
    assert [c.mark for c in p.outstanding] == ["fg3"]


def test_the_position_heard_is_marks_plus_the_clock_within_the_chunk_playing():
    p = Playback(chunk_ms=100, lead_ms=1000)
    p.add_audio("a", b"\x01" * 2400)
    p.release(0.0)
    p.on_mark("fg1", 100.0)
    assert p.playing_position(140.0) == ("a", 140)
    assert p.playing_position(900.0) == ("a", 200)  # never past the chunk being played


def test_received_audio_counts_bytes_and_flush_drops_what_was_not_played():
    p = Playback(chunk_ms=100, lead_ms=100)
    for _ in range(3):
        p.add_audio("a", b"\x01" * 404)
    assert p.received_ms == {"a": 151}
    p.release(0.0)
    assert p.flush() == 3  # 412 bytes queued or pending locally: three 20 ms frames
    assert not p.is_playing and p.playing_position(0.0) is None


def test_a_new_item_closes_the_previous_one():
    p = Playback(chunk_ms=100, lead_ms=10_000)
    p.add_audio("a", b"\x01" * 500)
    p.add_audio("b", b"\x02" * 800)
    assert [(c.item_id, c.start_ms, len(c.audio)) for c in p.release(0.0)] == [("a", 0, 500), ("b", 0, 800)]


def test_the_round_trip_to_twilio_is_learnt_and_counted_in_what_was_heard():
    p = Playback(chunk_ms=100, lead_ms=300)
    p.add_audio("a", b"\x01" * 4000)
    p.release(0.0)  # to an idle line: the first chunk plays on arrival, 20 ms later
    assert p.on_mark("fg1", 140.0)  # played 20..120, its mark back at 140: a 40 ms round trip
    assert p.rtt_ms == 40.0
    # chunk 2 began when mark 1 left Twilio (at 120); a clear sent at 150 arrives at 170
    assert p.playing_position(150.0) == ("a", 150)
