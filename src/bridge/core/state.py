"""All the turn-taking state of a call, in one place, with the moves allowed between states.

Three parties move independently:
- the caller: silent, speaking, or interrupting (speaking over the AI: every frame passes the gate);
- the assistant's reply: idle, requested (our response.create is on its way), awaiting the server
  (a caller's turn ended and the server answers it by itself), responding, playing (the response
  is done, its audio still plays at the caller), or paused (the caller may be interrupting: its audio
  waits, the response may still be generating, until the interruption is decided);
- the hang-up: none, armed (after the next reply), or after this reply.
Each move is a row of a table; a move that is not in it raises `IllegalTransition`. The one rule
"may the model be asked to respond now?" is `response_blocker`.
"""

from __future__ import annotations

from enum import Enum


class Caller(Enum):
    SILENT = "silent"
    SPEAKING = "speaking"
    INTERRUPTING = "interrupting"


class Assistant(Enum):
    IDLE = "idle"
    REQUESTED = "requested"
    AWAITING_SERVER = "awaiting server"
    RESPONDING = "responding"
    PLAYING = "playing"
    PAUSED = "paused"


class Hangup(Enum):
    NONE = "none"
    ARMED = "armed"  # after the next reply
    AFTER_THIS_REPLY = "after this reply"


class IllegalTransition(RuntimeError):
    pass


C, A, H = Caller, Assistant, Hangup

CALLER_MOVES: dict[tuple[Caller, str], Caller] = {
    **{(c, "speech_started"): (C.INTERRUPTING if c is C.INTERRUPTING else C.SPEAKING) for c in C},
    **{(c, "barge_in"): C.INTERRUPTING for c in C},
    **{(c, "speech_stopped"): C.SILENT for c in C},
}

ASSISTANT_MOVES: dict[tuple[Assistant, str], Assistant] = {
    (A.IDLE, "request"): A.REQUESTED,
    (A.PLAYING, "request"): A.REQUESTED,
    # the caller's turn ended: the server answers it, unless a reply is already on its way
    (A.IDLE, "turn_ended"): A.AWAITING_SERVER,
    (A.PLAYING, "turn_ended"): A.AWAITING_SERVER,
    (A.AWAITING_SERVER, "turn_ended"): A.AWAITING_SERVER,
    (A.REQUESTED, "turn_ended"): A.REQUESTED,
    (A.RESPONDING, "turn_ended"): A.RESPONDING,
    (A.PAUSED, "turn_ended"): A.PAUSED,
    (A.AWAITING_SERVER, "wait_over"): A.IDLE,
    # the server may create a response in any state (its VAD answers turns by itself)
    **{(a, "created"): A.RESPONDING for a in A if a is not A.PAUSED},
    (A.PAUSED, "created"): A.PAUSED,
    (A.RESPONDING, "done"): A.PLAYING,
    (A.PAUSED, "done"): A.PAUSED,
    # pause-then-decide: the audio waits; then either resume or the barge-in
    (A.RESPONDING, "pause"): A.PAUSED,
    (A.PLAYING, "pause"): A.PAUSED,
    (A.PAUSED, "resume_responding"): A.RESPONDING,
    (A.PAUSED, "resume_playing"): A.PLAYING,
    (A.PLAYING, "drained"): A.IDLE,
    # barge-in: the reply is cancelled and its audio flushed
    (A.RESPONDING, "barge_in"): A.IDLE,
    (A.PLAYING, "barge_in"): A.IDLE,
    (A.REQUESTED, "barge_in"): A.IDLE,
    (A.IDLE, "barge_in"): A.IDLE,
    (A.AWAITING_SERVER, "barge_in"): A.AWAITING_SERVER,
    (A.PAUSED, "barge_in"): A.IDLE,
}

HANGUP_MOVES: dict[tuple[Hangup, str], Hangup] = {
    (H.NONE, "arm"): H.ARMED,
    (H.ARMED, "arm"): H.ARMED,
    (H.NONE, "arm_now"): H.AFTER_THIS_REPLY,
    (H.ARMED, "arm_now"): H.AFTER_THIS_REPLY,
    (H.AFTER_THIS_REPLY, "arm"): H.AFTER_THIS_REPLY,
    (H.AFTER_THIS_REPLY, "arm_now"): H.AFTER_THIS_REPLY,
    (H.ARMED, "created"): H.AFTER_THIS_REPLY,
    **{(h, "barge_in"): H.NONE for h in H},
}


def _move(table: dict, state: Enum, event: str) -> Enum:  # type: ignore[type-arg]
    try:
        return table[(state, event)]  # type: ignore[no-any-return]
    except KeyError:
        raise IllegalTransition(f"{event!r} is not allowed while {state.value}") from None


class TurnState:
    def __init__(self) -> None:
        self.caller = Caller.SILENT
        self.assistant = Assistant.IDLE
        self.hangup = Hangup.NONE
        self.response_id: str | None = None  # the active response, while RESPONDING
        self.cancelling: tuple[str, float] | None = None  # (response, when): cancelled, its done not seen
        self.awaiting_since: float | None = None  # when AWAITING_SERVER began
        self.respond_when_idle = False  # a response is owed once the AI is silent (tool output, note)
        self.unanswered_calls: set[str] = set()  # tool calls the application has not answered yet
        self.user_turns = 0

    # -- the rule ------------------------------------------------------------------------------------------
    def response_blocker(self) -> str | None:
        """Why the model may not be asked to respond now, or None when it may."""
        if self.caller is Caller.INTERRUPTING:
            return "barge-in"
        if self.caller is Caller.SPEAKING:
            return "caller speaking"
        if self.assistant is Assistant.RESPONDING:
            return "response active"
        if self.assistant is Assistant.AWAITING_SERVER:
            return "the server is answering the caller"
        if self.assistant is Assistant.REQUESTED:
            return "a response was already requested"
        if self.assistant is Assistant.PAUSED:
            return "the AI is paused: a possible interruption"
        if self.cancelling is not None:
            return "the cancelled response has not ended yet"
        return None

    @property
    def idle(self) -> bool:
        return self.assistant is Assistant.IDLE

    # -- the caller ----------------------------------------------------------------------------------------
    def caller_starts(self) -> None:
        self.caller = _move(CALLER_MOVES, self.caller, "speech_started")  # type: ignore[assignment]
        self.user_turns += 1
        self.respond_when_idle = False

    def caller_stops(self, now_ms: float, server_answers: bool = True) -> bool:
        """The caller's turn ended. True when it was an interruption."""
        was_interrupting = self.caller is Caller.INTERRUPTING
        self.caller = _move(CALLER_MOVES, self.caller, "speech_stopped")  # type: ignore[assignment]
        if server_answers:
            self._assistant("turn_ended")
        if self.assistant is Assistant.AWAITING_SERVER and self.awaiting_since is None:
            self.awaiting_since = now_ms
        return was_interrupting

    def barge_in(self, now_ms: float) -> str | None:
        """The caller speaks over the AI. Returns the response to cancel, if one was active."""
        cancelled = self.response_id
        if cancelled is not None:
            self.cancelling = (cancelled, now_ms)
        self.caller = _move(CALLER_MOVES, self.caller, "barge_in")  # type: ignore[assignment]
        self._assistant("barge_in")
        self.hangup = _move(HANGUP_MOVES, self.hangup, "barge_in")  # type: ignore[assignment]
        return cancelled

    # -- the assistant -------------------------------------------------------------------------------------
    def request(self) -> None:
        self._assistant("request")

    def response_created(self, response_id: str) -> str | None:
        """Returns the id it replaces when the server created one while another was active."""
        replaced = self.response_id
        self._assistant("created")
        self.response_id = response_id
        self.awaiting_since = None
        self.cancelling = None  # the server has one response at a time: the cancelled one has ended
        if self.hangup is Hangup.ARMED:
            self.hangup = _move(HANGUP_MOVES, self.hangup, "created")  # type: ignore[assignment]
        return replaced

    def response_done(self, response_id: str | None) -> bool:
        """True when it was the active response (a cancelled one's done changes nothing)."""
        if self.assistant not in (Assistant.RESPONDING, Assistant.PAUSED) or response_id != self.response_id:
            return False
        self._assistant("done")
        self.response_id = None
        return True

    def pause(self) -> None:
        self._assistant("pause")

    def resume(self) -> None:
        self._assistant("resume_responding" if self.response_id is not None else "resume_playing")

    def caller_pauses_the_ai(self) -> None:
        """A local onset over the AI: the caller may be interrupting (every frame passes meanwhile)."""
        self.caller = _move(CALLER_MOVES, self.caller, "barge_in")  # type: ignore[assignment]
        self.pause()

    def false_interruption(self) -> None:
        """It was not the caller's turn: the AI goes on, the caller counts as silent again."""
        self.caller = _move(CALLER_MOVES, self.caller, "speech_stopped")  # type: ignore[assignment]
        self.resume()

    def cancel_ended(self, response_id: str | None, now_ms: float, limit_ms: float) -> bool:
        """The cancelled response's done came (or never will: past the limit). True when it ended now."""
        if self.cancelling is None:
            return False
        if response_id == self.cancelling[0] or now_ms - self.cancelling[1] > limit_ms:
            self.cancelling = None
            return True
        return False

    def playback_drained(self) -> bool:
        """The last of the reply's audio was played. True when the assistant became idle."""
        if self.assistant is Assistant.PLAYING:
            self._assistant("drained")
            return True
        return False

    def wait_over(self, now_ms: float, limit_ms: float) -> bool:
        """No answer came for the caller's turn (an empty turn): stop waiting. True when it did."""
        if self.awaiting_since is not None and now_ms - self.awaiting_since > limit_ms:
            self._assistant("wait_over")
            return True
        return False

    # -- the hang-up ---------------------------------------------------------------------------------------
    def arm_hangup(self, *, next_reply: bool = False) -> None:
        """Hang up after the reply now playing, or (next_reply, or none playing) after the next one."""
        event = "arm_now" if self.assistant is Assistant.RESPONDING and not next_reply else "arm"
        self.hangup = _move(HANGUP_MOVES, self.hangup, event)  # type: ignore[assignment]

    def _assistant(self, event: str) -> None:
        self.assistant = _move(ASSISTANT_MOVES, self.assistant, event)  # type: ignore[assignment]
        if self.assistant not in (Assistant.RESPONDING, Assistant.PAUSED):
            self.response_id = None
        if self.assistant is not Assistant.AWAITING_SERVER:
            self.awaiting_since = None
