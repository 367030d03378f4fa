"""The Call driven by random interleavings of Twilio and Realtime events, its invariants checked after
every step (hypothesis' stateful testing). No step may raise, whatever order the peers choose."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from bridge.core.actions import Action, SendRealtime, SendTwilio
from bridge.core.call import Call
from bridge.core.commands import AddNote, SendFunctionOutput
from bridge.core.config import CallConfig
from bridge.core.events import FunctionCalled
from helpers import LOUD, QUIET, created, delta, done, hard, mark, media, rt, start

ANSWER_WAIT_MS = CallConfig().server_answer_wait_ms


class CallMachine(RuleBasedStateMachine):
    @initialize(greet=st.booleans(), lead_ms=st.sampled_from([100, 300, 10_000]))
    def setup(self, greet: bool, lead_ms: int) -> None:
        self.call = Call(hard(greet_first=greet, chunk_ms=100, lead_ms=lead_ms), now_ms=0.0)
        self.now = 0.0
        self.responses = 0
        self.items = 0
        self.server_active: str | None = None  # what the server told the call
        self.caller_speaking = False
        self.bypass_expected = False
        self.greeting_owed = greet
        self.owed = False  # the application asked for a response, and the caller has not spoken since
        self.cancelled: set[str] = set()
        self.cancelled_at: dict[str, float] = {}
        self.received: dict[str, int] = {}  # bytes of AI audio sent per item (an upper bound)
        self.marks: list[str] = []
        self.step_actions: list[Action] = []
        self.step_input = ""
        self.call.realtime_connected(0.0)
        self._run(lambda: self.call.receive_twilio(start(), self.now), "start")

    # -- inputs ---------------------------------------------------------------------------------------------
    def _run(self, feed: Any, what: str) -> None:
        feed()
        actions = self.call.actions()
        for event in self.call.events():  # a minimal application: answers tools, adds notes
            if isinstance(event, FunctionCalled):
                self.owed = self.owed or not self.caller_speaking
                self.call.apply(SendFunctionOutput(event.call_id, "{}"), self.now)
                self.call.apply(AddNote("a note", respond=True), self.now)
            actions += self.call.actions()
        self.step_actions, self.step_input = actions, what
        for action in actions:
            if isinstance(action, SendTwilio) and '"mark"' in action.text:
                self.marks.append(json.loads(action.text)["mark"]["name"])
            if isinstance(action, SendRealtime) and '"response.cancel"' in action.text:
                rid = json.loads(action.text)["response_id"]
                self.cancelled.add(rid)
                self.cancelled_at.setdefault(rid, self.now)
            if isinstance(action, SendTwilio) and '"clear"' in action.text:
                self.bypass_expected = True
                self.marks.clear()

    def _realtime(self, text: str, what: str) -> None:
        self._run(lambda: self.call.receive_realtime(text, self.now), what)

    @rule()
    def session_updated(self) -> None:
        self._realtime(rt("session.updated", session={}), "session.updated")

    @rule()
    def response_created(self) -> None:
        self.responses += 1
        self.server_active = f"resp_{self.responses}"
        self._realtime(created(self.server_active), "created")

    @rule(status=st.sampled_from(["completed", "cancelled"]))
    def response_done(self, status: str) -> None:
        self.step_actions, self.step_input = [], "no done"
        if self.server_active is not None:
            rid, self.server_active = self.server_active, None
            self._realtime(done(rid, status), "done")

    @rule(stale=st.booleans(), ms=st.integers(1, 300), new_item=st.booleans())
    def audio_delta(self, stale: bool, ms: int, new_item: bool) -> None:
        rid = (sorted(self.cancelled)[0] if self.cancelled else "resp_0") if stale else self.server_active
        if rid is None:
            self.step_actions, self.step_input = [], "no delta"
            return
        if new_item or not self.items:
            self.items += 1
        item = f"item_{self.items}"
        self.received[item] = self.received.get(item, 0) + ms * 8
        self._realtime(delta(rid, item, b"\x01" * (ms * 8)), f"delta {rid}")

    @rule()
    def audio_done(self) -> None:
        self._realtime(
            rt("response.output_audio.done", response_id=self.server_active or "resp_0", item_id="x"),
            "audio done",
        )

    @rule()
    def speech_started(self) -> None:
        self.caller_speaking = True
        self.owed = False
        self._realtime(
            rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u"), "speech_started"
        )

    @rule()
    def speech_stopped(self) -> None:
        self.caller_speaking = False
        self.bypass_expected = False
        self._realtime(rt("input_audio_buffer.speech_stopped", audio_end_ms=0, item_id="u"), "speech_stopped")

    @rule(n=st.integers(0, 9))
    def function_call(self, n: int) -> None:
        self._realtime(
            rt(
                "response.function_call_arguments.done", call_id=f"call_{n}", name="set_field", arguments="{}"
            ),
            "function call",
        )

    @rule(text=st.sampled_from(["לא", "כן", ""]))
    def transcript(self, text: str) -> None:
        self._realtime(
            rt("conversation.item.input_audio_transcription.completed", transcript=text), "transcript"
        )

    @rule(bad=st.sampled_from(["{", '{"type": 1}', rt("response.created"), rt("error", error="x")]))
    def malformed_realtime(self, bad: str) -> None:
        self._realtime(bad, "malformed")

    @precondition(lambda self: self.marks)
    @rule(data=st.data())
    def mark_echo(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(self.marks))
        self.marks = self.marks[self.marks.index(name) + 1 :]
        self._run(lambda: self.call.receive_twilio(mark(name), self.now), "mark")

    @rule(loud=st.booleans())
    def caller_frame(self, loud: bool) -> None:
        frame = LOUD if loud else QUIET
        self._run(lambda: self.call.receive_twilio(media(frame), self.now), "media")
        if self.bypass_expected:
            appended = [
                json.loads(a.text)["audio"]
                for a in self.step_actions
                if isinstance(a, SendRealtime) and "input_audio_buffer.append" in a.text
            ]
            assert appended and base64.b64decode(appended[-1]) == frame, (
                "a caller frame was gated in a barge-in"
            )

    @rule(ms=st.integers(1, 4000))
    def tick(self, ms: int) -> None:
        self.now += ms
        self._run(lambda: self.call.tick(self.now), "tick")

    # -- invariants -----------------------------------------------------------------------------------------
    @invariant()
    def no_create_while_active_or_while_the_caller_speaks(self) -> None:
        if any(isinstance(a, SendRealtime) and '"response.create"' in a.text for a in self.step_actions):
            assert not self.caller_speaking, f"response.create while the caller speaks ({self.step_input})"
            assert self.server_active is None or self._done_given_up(self.server_active), (
                f"response.create while a response is active ({self.step_input})"
            )

    def _done_given_up(self, rid: str) -> bool:
        """The bridge cancelled it and its response.done has not come within the answer wait: by design the
        bridge stops waiting (a done lost by the server must not silence the call for good)."""
        cancelled_at = self.cancelled_at.get(rid)
        return cancelled_at is not None and self.now - cancelled_at > ANSWER_WAIT_MS

    @invariant()
    def every_create_is_the_greeting_or_owed_since_the_callers_last_words(self) -> None:
        if any(isinstance(a, SendRealtime) and '"response.create"' in a.text for a in self.step_actions):
            if self.greeting_owed:
                self.greeting_owed = False
            else:
                assert self.owed, f"stale response.create ({self.step_input})"
                self.owed = False

    @invariant()
    def nothing_of_a_cancelled_response_is_sent(self) -> None:
        if self.step_input.startswith("delta") and self.step_input.split()[1] in self.cancelled:
            assert not any(isinstance(a, SendTwilio) for a in self.step_actions), "stale audio after clear"
        kinds = [json.loads(a.text)["event"] for a in self.step_actions if isinstance(a, SendTwilio)]
        if "clear" in kinds:
            assert "media" not in kinds[kinds.index("clear") :], "media after the clear in the same step"

    @invariant()
    def truncates_never_exceed_the_audio_received(self) -> None:
        for a in self.step_actions:
            if isinstance(a, SendRealtime) and "conversation.item.truncate" in a.text:
                event = json.loads(a.text)
                assert event["audio_end_ms"] <= self.received.get(event["item_id"], 0) // 8

    @invariant()
    def the_gate_bypass_holds_until_speech_stopped(self) -> None:
        if getattr(self, "call", None) is not None:
            assert self.call.gate.barge_in_active == self.bypass_expected


EXAMPLES = int(os.environ.get("FASTGATE_PROPERTY_EXAMPLES", "300"))  # more for a long run
CallMachine.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=40, deadline=None)
TestCallProperties = CallMachine.TestCase
