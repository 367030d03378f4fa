"""One phone call as a pure state machine: Twilio and Realtime messages in, actions and events out.

No sockets, no clocks of its own: the adapter passes the time with every input. It drains
`actions()` (wire messages, log lines, the end) and `events()` (for the application), and hands
the application's commands back to `apply()`. The turn-taking state lives in `state.py`; this file
says what each input does to it. What happens when the caller interrupts is `_barge_in`:

1. the caller starts speaking (`input_audio_buffer.speech_started`) while a response is active or
   its audio still plays: Twilio `clear`, our queue flushed, `response.cancel` with the active id,
   late deltas of that response dropped;
2. the playing assistant item is truncated at the ms the caller heard (echoed marks);
3. the gate's bypass holds until `speech_stopped`, so no caller frame is gated;
4. response guards: no `response.create` while a response is active, one was requested, or the
   caller speaks; notes raised then are added silently and trigger nothing.
"""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Callable
from typing import Any

from bridge.core.actions import DEBUG, INFO, WARNING, Action, EndCall, Log, SendRealtime, SendTwilio
from bridge.core.commands import (
    AddNote,
    Command,
    HangUpAfterReply,
    Patience,
    RequestResponse,
    SendFunctionOutput,
)
from bridge.core.config import CallConfig
from bridge.core.events import (
    AssistantPaused,
    AssistantResumed,
    AssistantTranscript,
    BargeInEnded,
    BargeInStarted,
    CallEnded,
    CallerTranscript,
    CallerTurnEnded,
    CallStarted,
    ConversationIdle,
    EndReason,
    Event,
    FunctionCalled,
    WrapUpStarted,
)
from bridge.core.inbound import CallerAudio, silence_payload
from bridge.core.interruption import Interruption, Verdict
from bridge.core.onset import LocalVoice
from bridge.core.playback import Playback
from bridge.core.state import Assistant, Caller, Hangup, TurnState
from bridge.core.stats import BargeIn, CallStats
from bridge.core.voice import VoiceModel, voice_model
from bridge.protocol import ProtocolError, realtime, twilio
from bridge.protocol.realtime import ServerEvent
from fastgate import process_twilio_media

MAX_REMEMBERED_CANCELS = 16
MAX_REMEMBERED_ITEMS = 32
_INTERRUPTING = Caller.INTERRUPTING  # looked up once: checked on every caller frame


MALFORMED_LOGGED = 10  # malformed messages of a call logged one by one; after that, one line per ...
MALFORMED_LOG_EVERY = 1000


class Call:
    def __init__(
        self,
        config: CallConfig | None = None,
        *,
        tools: list[dict[str, Any]] | None = None,
        now_ms: float = 0.0,
        voice: VoiceModel | None = None,
    ) -> None:
        self.config = config or CallConfig()
        self.tools = tools
        self.state = TurnState()
        self.stats = CallStats()
        c = self.config
        self.inbound = CallerAudio(
            c.gate,
            c.max_early_audio_frames,
            self.stats,
            quiet_batch_ms=c.quiet_batch_ms,
            quiet_batch_after_ms=max(c.quiet_batch_after_ms, c.silence_duration_ms, c.dictation_silence_ms),
        )
        self.playback = Playback(self.config.chunk_ms, self.config.lead_ms)
        self.stream_sid: str | None = None
        self.call_sid = "-"
        self.caller_id: str | None = None
        self.custom_parameters: dict[str, str] = {}  # the <Stream>'s <Parameter>s, from `start`
        self.session_sent = False
        self.session_ready = False
        self.greeted = False
        self.cancelled: deque[str] = deque(maxlen=MAX_REMEMBERED_CANCELS)
        local = self.config.local
        self.local = LocalVoice(local, voice or voice_model(local.detector)) if local.enabled else None
        self.interruption: Interruption | None = None  # the AI is paused while this is decided
        self.ignored_items: deque[str] = deque(maxlen=MAX_REMEMBERED_ITEMS)  # not the caller's turns
        self._committed: deque[str] = deque(maxlen=MAX_REMEMBERED_ITEMS)
        self._open_server_turn: str | None = None  # speech_started seen, speech_stopped not yet
        self.pauses = 0
        self.false_interruptions = 0
        self.barge_ins: list[BargeIn] = []
        self.transcript: list[tuple[float, str, str]] = []  # (ms, "caller" | "assistant", text)
        self.ending: CallEnded | None = None
        self._actions: list[Action] = []
        self._held_realtime: list[str] = []  # control messages raised before the session was up
        self._events: list[Event] = []
        self._t0 = self._now = self._summary_at = now_ms
        self._wrap_up_at: float | None = None  # when the model is asked to close (the session cap nears)
        self._summary_counts = (0, 0, 0)

    # -- the adapter's side ----------------------------------------------------------------------------
    @property
    def has_output(self) -> bool:
        """Actions or events wait to be taken (most quiet frames and clock ticks produce none)."""
        return bool(self._actions or self._events)

    def actions(self) -> list[Action]:
        out = self._actions[:]  # the list itself stays: the inbound audio appends to it
        self._actions.clear()
        return out

    def events(self) -> list[Event]:
        out, self._events = self._events, []
        return out

    @property
    def gate(self) -> Any:
        return self.inbound.gate

    @property
    def ended(self) -> str | None:
        return self.ending.description if self.ending is not None else None

    @property
    def caller_speaking(self) -> bool:
        return self.state.caller is not Caller.SILENT

    @property
    def hangup_when_idle(self) -> bool:
        return self.state.hangup is Hangup.AFTER_THIS_REPLY

    @property
    def _barge_in_open(self) -> bool:
        return bool(self.barge_ins) and self.barge_ins[-1].ended_at_ms is None

    @property
    def elapsed_ms(self) -> float:
        return self._now - self._t0

    def realtime_connected(self, now_ms: float) -> None:
        self._now = now_ms
        c = self.config
        self._actions.append(
            SendRealtime(
                realtime.session_update(
                    instructions=c.instructions,
                    voice=c.voice,
                    model=c.model,
                    turn_detection=c.turn_detection(),
                    transcription=c.transcription(),
                    tools=self.tools,
                )
            )
        )
        self.session_sent = True
        self._wrap_up_at = now_ms + c.session_cap_ms - c.wrap_up_ms
        for text in self._held_realtime:
            self._actions.append(SendRealtime(text))
        self._held_realtime.clear()
        self.inbound.connect(self._actions)

    def receive_twilio(self, text: str | bytes, now_ms: float) -> None:
        self._now = now_ms
        gate = self.inbound.gate
        try:
            fast = process_twilio_media(text, gate, True)
        except ValueError as exc:
            self._malformed("twilio", exc, text)
            return
        if fast is not None:
            passed, rms, payload = fast
            if self.local is not None and (self.interruption is not None or self.playback.audible):
                self._listen(rms, payload)
            if (
                self.state.caller is _INTERRUPTING
                and self.barge_ins
                and self.barge_ins[-1].ended_at_ms is None
            ):
                self.barge_ins[-1].frames_during += 1
            self.inbound.frame(passed or gate.onset_pending, payload, now_ms)
            return
        try:
            event = twilio.parse(text)
        except ProtocolError as exc:
            self._malformed("twilio", exc, text)
            return
        if isinstance(event, twilio.Media):  # a shape the fast path leaves to us
            as_spoken = gate.process(event.audio) or gate.onset_pending
            self.inbound.frame(
                as_spoken, event.payload if as_spoken else silence_payload(len(event.audio)), now_ms
            )
        elif isinstance(event, twilio.Mark):
            self.playback.on_mark(event.name, now_ms)
            self._pump()
        elif isinstance(event, twilio.Start):
            self._on_start(event)
        elif isinstance(event, twilio.Stop):
            self.end(EndReason.CALLER_HUNG_UP)
        elif isinstance(event, twilio.Dtmf):
            self._log(INFO, "DTMF", event.digit)

    def receive_realtime(self, text: str | bytes, now_ms: float) -> None:
        self._now = now_ms
        try:
            event = realtime.parse(text)
        except ProtocolError as exc:
            self._malformed("realtime", exc, text)
            return
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(self, event)

    def tick(self, now_ms: float) -> None:
        self._now = now_ms
        if self.interruption is not None:
            self._decide()
        limit = self.config.server_answer_wait_ms
        if self.state.wait_over(now_ms, limit) and not self.playback.is_playing:
            self._conversation_idle()  # no answer came for the caller's turn (an empty turn)
        elif self.state.cancel_ended(None, now_ms, limit):
            self._pay_owed_response()  # the cancelled response's done never came
        self._pump()
        self.inbound.release_if_older(now_ms)
        if self._wrap_up_at is not None and now_ms >= self._wrap_up_at:
            self._wrap_up()
        if now_ms - self._summary_at >= self.config.gate_summary_ms:
            self._gate_summary()

    def _wrap_up(self) -> None:
        """Before the session cap: the model closes the call (summary, callback promise, goodbye), then
        the bridge hangs up once that reply has played. If the caller talks over it, the cap ends the call."""
        self._wrap_up_at = None
        c = self.config
        remaining = c.wrap_up_ms
        self._log(INFO, "SESSION CAP", f"the Realtime session ends in {remaining / 1000:.0f} s: wrapping up")
        self._events.append(WrapUpStarted(remaining))
        self.state.arm_hangup(next_reply=True)  # the wrap-up's own reply, not the one playing now
        self.add_note(c.wrap_up_note, respond=True)

    def apply(self, command: Command, now_ms: float | None = None) -> None:
        """Carry out one command of the application, through the call's guards."""
        if now_ms is not None:
            self._now = now_ms
        if self.ending is not None:
            return
        if isinstance(command, SendFunctionOutput):
            self._send_realtime(realtime.function_call_output(command.call_id, command.output))
            self.state.unanswered_calls.discard(command.call_id)
            if command.respond:
                self._owe_response()
        elif isinstance(command, AddNote):
            self.add_note(command.text, respond=command.respond)
        elif isinstance(command, HangUpAfterReply):
            self.state.arm_hangup()
        elif isinstance(command, RequestResponse):
            self.request_response(command.why)
        elif isinstance(command, Patience):
            self._send_realtime(
                realtime.turn_detection_update(self.config.turn_detection(patient=command.on))
            )
            silence = self.config.dictation_silence_ms if command.on else self.config.silence_duration_ms
            self._log(INFO, "VAD", f"silence before the end of a turn: {silence} ms")
        self._pump()

    def add_note(self, text: str, *, respond: bool = False) -> None:
        """Add an application note to the conversation; ask for a response only when that is safe."""
        self._send_realtime(realtime.system_note(text))
        busy = self.state.response_blocker()
        if busy is not None:
            self.stats.notes_silent += 1
            self._log(INFO, "SERVER EVENT", f"added silently ({busy}): {text!r}")
        elif not respond:
            self._log(INFO, "SERVER EVENT", f"added: {text!r}")
        else:
            self._log(INFO, "SERVER EVENT", f"added, responding once the AI is silent: {text!r}")
            self._owe_response()

    def request_response(self, why: str) -> bool:
        """The response guard: response.create only when nothing is active and nobody speaks."""
        busy = self.state.response_blocker() or (None if self.session_sent else "session not ready")
        if busy is not None:
            self.stats.responses_held_back += 1
            self._log(INFO, "GUARD", f"no response.create for {why}: {busy}")
            return False
        self.state.request()
        self.stats.responses_requested += 1
        self._send_realtime(realtime.response_create())
        return True

    def _owe_response(self) -> None:
        """The model should speak once it is silent and every tool call answered; never for a stale turn."""
        if self.state.caller is not Caller.SILENT:
            self.stats.notes_dropped_stale += 1
            self._log(INFO, "GUARD", "no response owed: the caller is speaking")
            return
        self.state.respond_when_idle = True
        self._pay_owed_response()

    def _pay_owed_response(self) -> None:
        s = self.state
        if not s.respond_when_idle or s.unanswered_calls or not s.idle or self.playback.is_playing:
            return
        if s.response_blocker() is None:
            s.respond_when_idle = False
            self.request_response("the caller's turn or the application's")

    def end(self, reason: EndReason, detail: str = "") -> None:
        if self.ending is not None:
            return
        self.ending = CallEnded(reason, detail)
        self._gate_summary()
        self._log(INFO, "END", self.ending.description)
        self._events.append(self.ending)
        self._actions.append(EndCall(self.ending.description))

    # -- pause-then-decide barge-in --------------------------------------------------------------------
    def _listen(self, rms: int, payload: str) -> None:
        """Local detection, per caller frame while the AI is audible or paused."""
        local = self.local
        assert local is not None
        now = self._now
        local.echo.played(self.playback.heard_rms(now))
        voiced = local.voiced(rms, self.inbound.gate.threshold, payload)
        interruption = self.interruption
        if interruption is None:
            if local.onset and self.state.assistant in (Assistant.RESPONDING, Assistant.PLAYING):
                self._pause()
            return
        if voiced:
            interruption.last_voice_ms = now
            interruption.voiced_frames += 1
        self._decide()

    def _pause(self) -> None:
        now = self._now
        self.state.caller_pauses_the_ai()
        self.inbound.gate.barge_in_active = True
        if self.stream_sid is not None:
            self._actions.append(SendTwilio(twilio.clear(self.stream_sid)))
        position = self.playback.pause(now)
        self.local.echo.restart()  # type: ignore[union-attr]
        self.interruption = Interruption(now, self.state.response_id, now)
        open_turn = self._open_server_turn
        if open_turn is not None and open_turn in self.ignored_items:  # the server heard it first
            self.ignored_items.remove(open_turn)
            self.interruption.server_item = open_turn
        self.pauses += 1
        where = f"item {position[0]} at {position[1]} ms" if position else "nothing playing"
        heard = self.local.describe() if self.local else ""
        self._log(INFO, "PAUSE", f"the caller may be interrupting: the AI stops ({where}; {heard}); deciding")
        self._events.append(
            AssistantPaused(
                self.elapsed_ms, position[0] if position else None, position[1] if position else None
            )
        )

    def _decide(self) -> None:
        interruption = self.interruption
        assert interruption is not None and self.local is not None
        verdict = interruption.verdict(self._now, self.local.config)
        if verdict is None:
            return
        self.interruption = None
        kind, why = verdict
        paused_ms = self._now - interruption.started_ms
        if kind is Verdict.REAL:
            self._log(INFO, "INTERRUPTION", f"real after {paused_ms:.0f} ms: {why}")
            self._barge_in()
            if interruption.server_stopped:
                self._turn_over(interruption.server_item)
            return
        self.false_interruptions += 1
        self.state.false_interruption()
        self.inbound.gate.barge_in_active = False
        self.playback.resume()
        self.local.echo.restart()
        self._log(INFO, "FALSE-INTERRUPTION", f"{why}; the AI goes on after a {paused_ms:.0f} ms pause")
        self._events.append(AssistantResumed(paused_ms, why))
        if interruption.server_item is not None:
            self._ignore_item(interruption.server_item)
        self._pump()

    def _ignore_item(self, item_id: str) -> None:
        """A server turn that was not the caller's (echo, cough, backchannel): no answer, and deleted."""
        self.ignored_items.append(item_id)
        if item_id in self._committed:
            self._send_realtime(realtime.item_delete(item_id))

    def _turn_over(self, item_id: str | None) -> None:
        """The caller's (real) turn ended: the gate goes back to work, and the model answers it."""
        if self.state.caller_stops(self._now, server_answers=self.local is None):
            self.inbound.gate.barge_in_active = False
            record = self.barge_ins[-1] if self.barge_ins else None
            if record is not None and record.ended_at_ms is None:
                record.ended_at_ms = self.elapsed_ms
                duration = record.ended_at_ms - record.at_ms
                passed = f"{record.frames_during} caller frames passed ungated"
                self._log(INFO, "BARGE-IN", f"caller done after {duration:.0f} ms; {passed}")
                self._events.append(BargeInEnded(duration, record.frames_during))
        self._events.append(CallerTurnEnded(self.elapsed_ms))
        if self.local is not None:
            self._owe_response()  # create_response is off: the bridge answers real turns itself

    # -- Twilio control --------------------------------------------------------------------------------
    def _on_start(self, start: twilio.Start) -> None:
        if self.stream_sid is not None:  # one socket, one call: a second start may not change who it is
            self._log(WARNING, "START", f"a second start (stream {start.stream_sid}) on this socket: ignored")
            return
        self.stream_sid, self.call_sid = start.stream_sid, start.call_sid or start.stream_sid
        self.custom_parameters = start.custom_parameters
        self.caller_id = start.custom_parameters.get("caller") or start.custom_parameters.get("From")
        if start.encoding != "audio/x-mulaw" or start.sample_rate != 8000:
            self._log(WARNING, "START", f"unexpected media format {start.encoding}/{start.sample_rate}")
        self._log(INFO, "START", f"stream {start.stream_sid} caller {self.caller_id or 'unknown'}")
        self._events.append(CallStarted(self.call_sid, start.stream_sid, self.caller_id))
        self._maybe_greet()
        self._pump()

    def _maybe_greet(self) -> None:
        if self.config.greet_first and not self.greeted and self.session_ready and self.stream_sid:
            self.greeted = True
            self.request_response("greeting")

    # -- AI audio out ----------------------------------------------------------------------------------
    def _pump(self) -> None:
        """Send queued AI audio to Twilio while the lead allows; act when the assistant goes idle."""
        if self.stream_sid is None:
            return
        sid = self.stream_sid
        for chunk in self.playback.release(self._now):
            self._actions.append(SendTwilio(twilio.media(sid, base64.b64encode(chunk.audio).decode("ascii"))))
            self._actions.append(SendTwilio(twilio.mark(sid, chunk.mark)))
        if not self.playback.is_playing and self.state.playback_drained():
            self._conversation_idle()

    def _conversation_idle(self) -> None:
        self._pay_owed_response()
        self._events.append(ConversationIdle())
        if self.state.hangup is Hangup.AFTER_THIS_REPLY:
            self.end(EndReason.GOODBYE_PLAYED)

    # -- Realtime events -------------------------------------------------------------------------------
    def _on_audio_delta(self, event: realtime.AudioDelta) -> None:
        if event.response_id in self.cancelled:
            self.stats.late_deltas_dropped += 1
            return
        self.stats.audio_deltas += 1
        self.playback.add_audio(event.item_id, event.audio)
        self._pump()

    def _on_session_updated(self, event: realtime.SessionUpdated) -> None:
        self.session_ready = True
        self._maybe_greet()

    def _on_response_created(self, event: realtime.ResponseCreated) -> None:
        replaced = self.state.response_created(event.response_id)
        if replaced is not None:
            self._log(WARNING, "RESPONSE", f"{event.response_id} created while {replaced} was active")
        self._pump()
        self._log(INFO, "RESPONSE", f"{event.response_id} created")

    def _on_response_done(self, event: realtime.ResponseDone) -> None:
        if self.state.cancel_ended(event.response_id, self._now, self.config.server_answer_wait_ms):
            self._pay_owed_response()
        self.state.response_done(event.response_id)
        self.playback.end_item()
        self._log(INFO, "RESPONSE", f"{event.response_id} {event.status}")
        self._pump()

    def _on_audio_done(self, event: realtime.AudioDone) -> None:
        if event.response_id not in self.cancelled:
            self.playback.end_item()
            self._pump()

    def _on_speech_started(self, event: realtime.SpeechStarted) -> None:
        self._open_server_turn = event.item_id
        if self.interruption is not None:  # the server heard the sound the bridge paused for
            self.interruption.server_item = event.item_id
            return
        if self.local is not None and self.playback.audible and event.item_id is not None:
            # the bridge hears the caller itself while the AI is audible: this is not their voice
            self.ignored_items.append(event.item_id)
            self._log(
                INFO, "ECHO", "the server heard speech the bridge did not (the AI's echo?): the AI goes on"
            )
            return
        if self.state.respond_when_idle:
            self.stats.notes_dropped_stale += 1
            self._log(INFO, "SERVER EVENT", "waiting note dropped: the caller spoke after it")
        self.state.caller_starts()
        if self.state.response_id is not None or self.playback.is_playing:
            self._barge_in()

    def _barge_in(self) -> None:
        position = self.playback.playing_position(self._now)
        if self.state.hangup is not Hangup.NONE:
            self._log(INFO, "HANGUP", "cancelled: the caller spoke over the goodbye")
        response_id = self.state.barge_in(self._now)
        self.inbound.gate.barge_in_active = True
        playing = f"item {position[0]} at {position[1]} ms" if position else "nothing playing"
        self._log(INFO, "BARGE-IN", f"caller spoke over the AI (response {response_id or 'done'}, {playing})")
        if self.stream_sid is not None:
            self._actions.append(SendTwilio(twilio.clear(self.stream_sid)))
        if response_id is not None:
            self.cancelled.append(response_id)
            self._send_realtime(realtime.response_cancel(response_id))
        flushed = self.playback.flush()
        self._log(INFO, "TX_FLUSH", f"{flushed} frames dropped from our queue; Twilio cleared")
        item_id, truncated_at = None, None
        if position is not None:
            item_id, heard = position
            received = self.playback.received_ms.get(item_id)
            truncated_at = heard if received is None else min(heard, received)
            self._send_realtime(realtime.truncate(item_id, truncated_at))
            self._log(INFO, "TRUNCATE", f"{item_id} at {truncated_at} ms (what the caller heard)")
        self.barge_ins.append(BargeIn(self.elapsed_ms, response_id, item_id, truncated_at, flushed))
        self._events.append(BargeInStarted(self.elapsed_ms, response_id, item_id, truncated_at, flushed))

    def _on_speech_stopped(self, event: realtime.SpeechStopped) -> None:
        self._open_server_turn = None
        interruption = self.interruption
        if interruption is not None and interruption.server_item == event.item_id:
            interruption.server_stopped = True
            self._decide()
        elif event.item_id is None or event.item_id not in self.ignored_items:
            self._turn_over(event.item_id)
        self._pump()

    def _on_committed(self, event: realtime.Committed) -> None:
        if event.item_id is None:
            return
        self._committed.append(event.item_id)
        if event.item_id in self.ignored_items:
            self._send_realtime(realtime.item_delete(event.item_id))

    def _on_caller_transcript(self, event: realtime.InputTranscript) -> None:
        interruption = self.interruption
        if interruption is not None and event.item_id == interruption.server_item:
            interruption.transcript = event.text
            self._decide()
        if event.item_id is not None and event.item_id in self.ignored_items:
            self._log(INFO, "CALLER", f"{event.text!r} (not a turn: left out)")
            return
        self.transcript.append((self.elapsed_ms, "caller", event.text))
        self._log(INFO, "CALLER", repr(event.text))
        self._events.append(CallerTranscript(event.text))

    def _on_assistant_transcript(self, event: realtime.OutputTranscript) -> None:
        if event.response_id is not None and event.response_id in self.cancelled:
            # What the model had generated, not what the caller heard: no line of the conversation.
            self._log(INFO, "ASSISTANT", f"cut off: {event.text!r} (only the heard part stays in the item)")
            return
        self.transcript.append((self.elapsed_ms, "assistant", event.text))
        self._log(INFO, "ASSISTANT", repr(event.text))
        self._events.append(AssistantTranscript(event.text))

    def _on_function_call(self, event: realtime.FunctionCallDone) -> None:
        self._log(INFO, "TOOL", f"{event.name}({event.arguments})")
        self.state.unanswered_calls.add(event.call_id)
        self._events.append(FunctionCalled(event.call_id, event.name, event.arguments))

    def _on_truncated(self, event: realtime.ItemTruncated) -> None:
        self._log(DEBUG, "TRUNCATE", f"confirmed {event.item_id} at {event.audio_end_ms} ms")

    def _on_error(self, event: realtime.ServerError) -> None:
        errors = self.stats.realtime_errors
        errors[event.code] = errors.get(event.code, 0) + 1
        if event.code == "response_cancel_not_active":
            self._log(INFO, "CANCEL", "the server had already ended that response (not a failure)")
        elif event.code == "session_expired":  # the socket closes next: the model is gone
            self.end(EndReason.SESSION_EXPIRED, event.message)
        else:
            self._log(WARNING, "REALTIME ERROR", f"{event.code}: {event.message}")

    _handlers: dict[type[ServerEvent], Callable[[Call, Any], None]] = {  # noqa: RUF012
        realtime.AudioDelta: _on_audio_delta,
        realtime.SessionUpdated: _on_session_updated,
        realtime.ResponseCreated: _on_response_created,
        realtime.ResponseDone: _on_response_done,
        realtime.AudioDone: _on_audio_done,
        realtime.SpeechStarted: _on_speech_started,
        realtime.SpeechStopped: _on_speech_stopped,
        realtime.Committed: _on_committed,
        realtime.InputTranscript: _on_caller_transcript,
        realtime.OutputTranscript: _on_assistant_transcript,
        realtime.FunctionCallDone: _on_function_call,
        realtime.ItemTruncated: _on_truncated,
        realtime.ServerError: _on_error,
    }

    # -- helpers ---------------------------------------------------------------------------------------
    def _send_realtime(self, text: str) -> None:
        if self.session_sent:
            self.inbound.release()  # held silence was spoken first
            self._actions.append(SendRealtime(text))
        else:
            self._held_realtime.append(text)

    def _malformed(self, source: str, exc: Exception, text: str | bytes) -> None:
        if source == "twilio":
            self.stats.malformed_twilio += 1
        else:
            self.stats.malformed_realtime += 1
        count = self.stats.malformed_twilio + self.stats.malformed_realtime
        if count <= MALFORMED_LOGGED or count % MALFORMED_LOG_EVERY == 0:  # a flood is counted, not echoed
            more = (
                f"; {count} so far, now one line per {MALFORMED_LOG_EVERY}"
                if count >= MALFORMED_LOGGED
                else ""
            )
            self._log(WARNING, "MALFORMED", f"{source} message skipped: {exc} ({str(text)[:80]!r}){more}")

    def _gate_summary(self) -> None:
        st = self.stats
        fwd, sil, batched = st.frames_forwarded, st.frames_silenced, st.frames_batched
        was_fwd, was_sil, was_batched = self._summary_counts
        d_fwd, d_sil, d_batched = fwd - was_fwd, sil - was_sil, batched - was_batched
        self._summary_counts = (fwd, sil, batched)
        self._summary_at = self._now
        if d_fwd or d_sil:
            g = self.inbound.gate
            together = f" ({d_batched} of them sent several to an append)" if d_batched else ""
            self._log(
                INFO,
                "AUDIO GATE",
                f"{d_fwd + d_sil} frames: {d_fwd} passed, {d_sil} silenced{together}; "
                f"floor {g.noise_floor:.0f}, threshold {g.threshold:.0f}, "
                f"passed {g.passed}, blocked {g.blocked}",
            )

    def _log(self, level: int, tag: str, text: str) -> None:
        self._actions.append(Log(level, tag, text, self.call_sid, self.elapsed_ms))
