"""Pause-then-decide barge-in end to end: the bridge between the simulators with realistic server
timing (speech_started ~250 ms after the onset, 60 ms each way to Realtime, 20 ms to Twilio)."""

from __future__ import annotations

import asyncio
import functools

import pytest

from bridge.core.config import CallConfig, LocalDetection
from bridge.sim.scenario import load_scenario
from bridge.sim.simulation import Simulation, run_simulation

TIME_SCALE = 0.5


@functools.cache
def simulated(name: str, local: bool = True) -> Simulation:
    config = CallConfig(local=LocalDetection(enabled=local))
    return asyncio.run(run_simulation(load_scenario(name), time_scale=TIME_SCALE, config=config))


def client_events(sim: Simulation, kind: str) -> list[dict]:
    return [r.event for r in sim.server_session.record if r.direction == "in" and r.event["type"] == kind]


def heard_audio(sim: Simulation) -> bytes:
    return b"".join(chunk for _, chunk in sim.caller.heard)


def resume_error_ms(heard: bytes, reply: bytes) -> float:
    """0 when the reply was heard exactly once; else the ms repeated (+) or lost (-) at the pause."""
    if heard == reply:
        return 0.0
    i = next(k for k in range(min(len(heard), len(reply))) if heard[k] != reply[k])
    for shift in range(1, 8 * 100):
        if heard[i + shift :] == reply[i:]:
            return shift / 8
        if heard[i:] == reply[i + shift :]:
            return -shift / 8
    raise AssertionError("the audio after the pause is not the rest of the reply")


def pause_lengths(sim: Simulation) -> list[float]:
    return [
        float(line.text.rsplit("after a ", 1)[1].split(" ms")[0])
        for _, line in sim.report.log_lines
        if line.tag == "FALSE-INTERRUPTION"
    ]


@pytest.mark.parametrize("name", ["cough", "backchannel-he"])
def test_a_false_interruption_pauses_then_resumes_exactly_where_it_stopped(name):
    sim = simulated(name)
    assert sim.barge_ins() == [] and sim.errors() == []
    assert sim.report.pauses == sim.report.false_interruptions == 1
    assert client_events(sim, "response.cancel") == []
    reply = sim.scenario.replies[0].audio
    assert abs(resume_error_ms(heard_audio(sim), reply)) <= 20, "more than a frame lost or repeated"
    assert all(ms <= 1500 for ms in pause_lengths(sim))
    assert len(sim.caller.clears) == 1
    # the sound was not a turn: its item is deleted, nothing answers it, intake never sees it
    assert len(client_events(sim, "conversation.item.delete")) == 1
    assert len(client_events(sim, "response.create")) == 1  # the greeting or read-back only
    assert [text for _, who, text in sim.report.transcript if who == "caller"] == []


def test_the_cough_without_local_detection_cancels_the_answer_as_before():
    sim = simulated("cough", local=False)
    assert len(sim.report.barge_ins) == 1 and sim.errors() == []  # the bridge's own record: it barged in
    assert len(sim.caller.ai_onsets) == 2  # the AI asks again: the answer was lost


def test_speakerphone_echo_is_not_an_interruption_and_the_answer_plays_to_its_end():
    sim = simulated("speakerphone-echo")
    assert sim.barge_ins() == [] and sim.errors() == []
    assert client_events(sim, "response.cancel") == []
    assert sim.report.pauses == 0
    assert resume_error_ms(heard_audio(sim), sim.scenario.replies[0].audio) == 0
    echo_turns = [
        r for r in sim.server_session.record if r.event["type"] == "input_audio_buffer.speech_started"
    ]
    assert echo_turns, "the simulated server VAD should hear the echo"
    assert len(client_events(sim, "conversation.item.delete")) == len(echo_turns)
    assert len(client_events(sim, "response.create")) == 1


def test_the_same_echo_without_local_detection_cancels_the_answer():
    sim = simulated("speakerphone-echo", local=False)
    assert client_events(sim, "response.cancel"), "the server VAD alone is fooled by the echo"
    assert len(heard_audio(sim)) < len(sim.scenario.replies[0].audio)


@pytest.mark.parametrize("name", ["noisy-street", "double-barge-in"])
def test_real_interruptions_keep_every_hard_barge_in_rule(name):
    sim = simulated(name)
    figures = sim.barge_ins()
    assert len(figures) == sim.scenario.expect["barge_ins"] and sim.errors() == []
    for b in figures:
        assert b.heard_after_onset_ms <= 120, "the AI did not stop within 120 ms of the caller's voice"
        if b.response_active:
            assert b.cancel_id_ok
            assert b.cancel_after_speech_started_ms is not None and b.cancel_after_speech_started_ms <= 500
        assert b.heard_after_clear_ms <= 20
        assert b.truncate_ms is not None and abs(b.truncate_ms - b.heard_ms) <= 20
        assert b.frames_checked > 50 and b.frames_unchanged == b.frames_checked
        assert b.next_response_after_turn


def test_a_barge_in_before_any_audio_cancels_and_truncates_nothing():
    sim = simulated("barge-in-before-audio")
    (b,) = sim.barge_ins()
    assert b.cancel_id_ok and sim.errors() == []
    assert client_events(sim, "conversation.item.truncate") == []
    assert b.heard_ms == 0 and b.next_response_after_turn
    assert sim.caller.heard, "the answer to the caller's words was played"
