"""The Gate on real Hebrew speech (espeak-ng) and measured line noise."""

from __future__ import annotations

import struct

import pytest

import fastgate
from fastgate import FRAME_BYTES, FRAME_MS, Gate

SPEECH = ["caller_no_city", "caller_yes", "caller_need", "caller_details"]
LEAD_IN_MS = 1000


def mix(bed: bytes, speech: bytes, at_ms: int) -> bytes:
    """Speech laid over a looped noise bed from at_ms on (decoded, summed, re-encoded)."""
    total = at_ms * 8 + len(speech) + 8000
    bed_pcm = struct.unpack(f"<{total}h", fastgate.ulaw_decode((bed * (total // len(bed) + 1))[:total]))
    speech_pcm = struct.unpack(f"<{len(speech)}h", fastgate.ulaw_decode(speech))
    mixed = list(bed_pcm)
    for i, sample in enumerate(speech_pcm):
        j = at_ms * 8 + i
        mixed[j] = max(-32768, min(32767, mixed[j] + sample))
    return fastgate.ulaw_encode(struct.pack(f"<{total}h", *mixed))


def onset_ms(speech: bytes) -> float:
    """First 5 ms window of clearly audible speech (RMS >= 300)."""
    for start in range(0, len(speech) - 40, 40):
        if fastgate.rms_ulaw(speech[start : start + 40]) >= 300:
            return start / 8
    raise AssertionError("no speech in fixture")


def frames(audio: bytes) -> list[bytes]:
    return [audio[i : i + FRAME_BYTES] for i in range(0, len(audio) - FRAME_BYTES + 1, FRAME_BYTES)]


def first_open_ms(gate: Gate, audio: bytes) -> float | None:
    for index, frame in enumerate(frames(audio)):
        if gate.process(frame):
            return (index + 1) * FRAME_MS  # the decision exists once the frame has arrived
    return None


@pytest.mark.parametrize("bed", ["noise_rms8", "noise_rms100"])
@pytest.mark.parametrize("utterance", SPEECH)
def test_speech_opens_the_gate_within_60_ms_of_onset(audio, bed, utterance):
    speech = audio(utterance)
    line = mix(audio(bed), speech, LEAD_IN_MS)
    gate = Gate()
    opened = first_open_ms(gate, line)
    assert opened is not None
    assert opened >= LEAD_IN_MS, "noise alone opened the gate"
    assert opened - (LEAD_IN_MS + onset_ms(speech)) <= 60


@pytest.mark.parametrize("bed", ["noise_rms8", "noise_rms100"])
def test_line_noise_keeps_the_gate_closed(audio, bed):
    gate = Gate()
    noise = audio(bed) * 3
    decisions = [gate.process(frame) for frame in frames(noise)]
    assert not any(decisions)
    assert gate.passed == {"speech": 0, "hangover": 0, "barge_in": 0}
    assert gate.blocked["noise"] == len(decisions)
    assert gate.noise_floor == pytest.approx(fastgate.rms_ulaw(noise), rel=0.25)


@pytest.mark.parametrize("bed", ["noise_rms8", "noise_rms100"])
def test_barge_in_passes_every_frame_noise_included(audio, bed):
    gate = Gate()
    gate.barge_in_active = True
    line = mix(audio(bed), audio("caller_no_city"), 500)
    decisions = [gate.process(frame) for frame in frames(line)]
    assert all(decisions)
    assert gate.passed["barge_in"] == len(decisions)
    assert sum(gate.blocked.values()) == 0
    gate.barge_in_active = False
    assert not gate.process(audio(bed)[:FRAME_BYTES])


def test_hysteresis_opens_after_open_frames_and_closes_after_hangover():
    gate = Gate(open_frames=2, hangover_frames=3, min_threshold=200, close_ratio=0.5)
    assert gate.process_rms(1000) is False and gate.blocked["onset"] == 1
    assert gate.onset_pending
    assert gate.process_rms(1000) is True and gate.is_open
    # Between the close (100) and open (200) thresholds: speech goes on.
    assert gate.process_rms(150) is True and gate.passed["speech"] == 2
    assert [gate.process_rms(50) for _ in range(3)] == [True, True, False]
    assert gate.passed["hangover"] == 2 and not gate.is_open
    # One loud frame after a quiet one does not open it again.
    assert gate.process_rms(1000) is False and gate.process_rms(10) is False


def test_a_single_click_does_not_open_the_gate():
    gate = Gate()
    assert not gate.process_rms(20000)
    assert not gate.process_rms(0)
    assert not gate.is_open


def test_noise_floor_falls_fast_and_rises_slowly():
    gate = Gate(initial_floor=1000)
    gate.process_rms(0)
    assert gate.noise_floor == pytest.approx(500)
    gate.process_rms(200)
    assert gate.noise_floor == pytest.approx(350)  # still falling, halfway to 200
    gate.reset()
    assert gate.noise_floor == 1000  # reset returns to the configured initial floor
    rising = Gate()
    rising.process_rms(100)
    assert rising.noise_floor == pytest.approx(100 * rising.floor_rise)


def test_threshold_adapts_to_a_noisy_line_but_never_below_the_minimum():
    gate = Gate(min_threshold=200, open_factor=3)
    for _ in range(500):
        gate.process_rms(120)
    assert gate.threshold == pytest.approx(360, rel=0.05)
    gate.reset()
    for _ in range(500):
        gate.process_rms(8)
    assert gate.threshold == 200


def test_reset_clears_state_and_counters():
    gate = Gate()
    gate.barge_in_active = True
    for _ in range(5):
        gate.process_rms(5000)
    gate.reset()
    assert not gate.barge_in_active and not gate.is_open
    assert gate.last_rms == 0 and gate.noise_floor == 0
    assert sum(gate.passed.values()) == sum(gate.blocked.values()) == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"open_frames": 0},
        {"hangover_frames": 0},
        {"close_ratio": 0},
        {"close_ratio": 1.5},
        {"floor_rise": 2},
        {"min_threshold": -1},
    ],
)
def test_bad_settings_are_rejected(kwargs):
    with pytest.raises(ValueError):
        Gate(**kwargs)


def test_process_accepts_any_bytes_like():
    gate = Gate()
    frame = b"\x80" * FRAME_BYTES  # the loudest code
    assert gate.process(bytearray(frame)) is False
    assert gate.process(memoryview(frame)) is True
    assert gate.last_rms == fastgate.rms_ulaw(frame)
