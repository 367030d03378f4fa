"""The turn-taking state on its own: the table of moves, the one response rule, illegal moves."""

from __future__ import annotations

import pytest

from bridge.core.state import (
    ASSISTANT_MOVES,
    CALLER_MOVES,
    HANGUP_MOVES,
    Assistant,
    Caller,
    Hangup,
    IllegalTransition,
    TurnState,
)


def test_a_reply_from_request_to_idle():
    s = TurnState()
    assert s.response_blocker() is None
    s.request()
    assert s.assistant is Assistant.REQUESTED and s.response_blocker() == "a response was already requested"
    s.response_created("r1")
    assert s.assistant is Assistant.RESPONDING and s.response_id == "r1"
    assert s.response_blocker() == "response active"
    assert s.response_done("r1")
    assert s.assistant is Assistant.PLAYING and s.response_id is None and s.response_blocker() is None
    assert s.playback_drained() and s.idle


def test_the_done_of_another_response_changes_nothing():
    s = TurnState()
    s.response_created("r2")
    assert not s.response_done("r1")
    assert s.assistant is Assistant.RESPONDING and s.response_id == "r2"


def test_barge_in_cancels_the_active_reply_and_the_hangup():
    s = TurnState()
    s.response_created("r1")
    s.arm_hangup()
    assert s.hangup is Hangup.AFTER_THIS_REPLY
    s.caller_starts()
    assert s.barge_in(0.0) == "r1"
    assert (s.caller, s.assistant, s.hangup) == (Caller.INTERRUPTING, Assistant.IDLE, Hangup.NONE)
    assert s.response_blocker() == "barge-in"
    assert s.caller_stops(1000.0)
    assert s.caller is Caller.SILENT and s.assistant is Assistant.AWAITING_SERVER
    assert s.response_blocker() == "the server is answering the caller"


def test_the_wait_for_the_servers_answer_ends():
    s = TurnState()
    s.caller_starts()
    assert not s.caller_stops(100.0)
    assert not s.wait_over(3000.0, 3000)
    assert s.wait_over(3101.0, 3000) and s.idle and s.awaiting_since is None


def test_a_hangup_armed_before_the_reply_waits_for_it():
    s = TurnState()
    s.arm_hangup()
    assert s.hangup is Hangup.ARMED
    s.response_created("goodbye")
    assert s.hangup is Hangup.AFTER_THIS_REPLY


def test_the_caller_speaking_blocks_responses_and_drops_an_owed_one():
    s = TurnState()
    s.respond_when_idle = True
    s.caller_starts()
    assert s.response_blocker() == "caller speaking" and not s.respond_when_idle


@pytest.mark.parametrize(
    ("move", "state"),
    [
        (lambda s: s.request(), lambda s: s.response_created("r")),  # request while responding
        (lambda s: s.request(), lambda s: (s.caller_starts(), s.caller_stops(0.0))),  # while awaiting
    ],
)
def test_illegal_moves_raise(move, state):
    s = TurnState()
    state(s)
    with pytest.raises(IllegalTransition, match="not allowed"):
        move(s)


def test_the_tables_cover_every_caller_and_hangup_state():
    for caller in Caller:
        for event in ("speech_started", "barge_in", "speech_stopped"):
            assert (caller, event) in CALLER_MOVES
    for hangup in Hangup:
        assert (hangup, "barge_in") in HANGUP_MOVES
    for assistant in Assistant:
        assert (assistant, "created") in ASSISTANT_MOVES and (assistant, "turn_ended") in ASSISTANT_MOVES
