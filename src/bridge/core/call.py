"""One phone call as a pure state machine: Twilio and Realtime messages in, actions out.

No sockets, no clocks of its own: the adapter passes the time with every event. Everything
about barge-in lives here:

1. the caller starts speaking (`input_audio_buffer.speech_started`) while a response is
   active or its audio still plays: Twilio `clear`, our queue flushed, `response.cancel` with
   the active id, late deltas of that response dropped;
2. the playing assistant item is truncated at the ms the caller heard (echoed marks);
3. the Gate's `barge_in_active` holds until `speech_stopped`, so no caller frame is gated;
4. response guards: no `response.create` while a response is active, one was requested, or
   the caller speaks; server notes raised then are added silently and trigger nothing.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from bridge.core.actions import Action, EndCall, Log, SendRealtime, SendTwilio
from bridge.core.config import CallConfig
from bridge.core.playback import Playback
from bridge.protocol import ProtocolError, realtime, twilio
from fastgate import Gate, process_twilio_media

MAX_REMEMBERED_CANCELS = 16
SERVER_ANSWER_WAIT_MS = 3000


class CallPolicy(Protocol):
    """The application side of a call (lead intake): tools, transcripts, function calls."""

    tools: list[dict[str, Any]]

    def attach(self, call: Call) -> None: ...
    def on_start(self, call_sid: str, caller_id: str | None) -> None: ...
    def on_caller_transcript(self, text: str) -> None: ...
    def on_assistant_transcript(self, text: str) -> None: ...
    def on_function_call(self, name: str, arguments: str) -> tuple[str, bool]: ...
    def on_playback_idle(self) -> None: ...
    def on_end(self, reason: str) -> None: ...


@dataclass
class BargeIn:
    at_ms: float
    response_id: str | None
    item_id: str | None
    truncated_at_ms: int | None
    flushed_frames: int
    ended_at_ms: float | None = None
    frames_during: int = 0


@dataclass
class CallStats:
    frames_in: int = 0
    frames_forwarded: int = 0  # caller audio sent as it was
    frames_silenced: int = 0  # gated: replaced by mu-law silence
    early_frames_dropped: int = 0
    malformed_twilio: int = 0
    malformed_realtime: int = 0
    late_deltas_dropped: int = 0
    audio_deltas: int = 0
    realtime_errors: dict[str, int] = field(default_factory=dict)
    responses_requested: int = 0
    responses_held_back: int = 0
    notes_silent: int = 0
    notes_dropped_stale: int = 0


class Call:
    def __init__(
        self, config: CallConfig | None = None, *, policy: CallPolicy | None = None, now_ms: float = 0.0
    ) -> None:
        self.config = config or CallConfig()
        self.policy = policy
        self.gate = Gate(**self.config.gate)
        self.playback = Playback(self.config.chunk_ms, self.config.lead_ms)
        self.stats = CallStats()
        self.stream_sid: str | None = None
        self.call_sid = "-"
        self.caller_id: str | None = None
        self.session_sent = False
        self.session_ready = False
        self.active_response: str | None = None
        self.response_requested = False
        self.cancelled: deque[str] = deque(maxlen=MAX_REMEMBERED_CANCELS)
        self.caller_speaking = False
        self.user_turns = 0
        self.pending_trigger: int | None = None  # user_turns when a note began waiting to respond
        self.greeted = False
        self.barge_ins: list[BargeIn] = []
        self.transcript: list[tuple[float, str, str]] = []  # (ms, "caller" | "assistant", text)
        self.ended: str | None = None
        self.hangup_when_idle = False
        self.awaiting_server_response: float | None = None  # a turn ended: the server is answering it
        self._hangup_on_next_response = False
        self._held_onset: tuple[str, str] | None = None  # (caller's payload, silence payload)
        self._early: deque[str] = deque()
        self._idle = True
        self._actions: list[Action] = []
        self._t0 = now_ms
        self._now = now_ms
        self._summary_at = now_ms
        self._summary_counts = (0, 0)
        if policy is not None:
            policy.attach(self)

    # -- the adapter's side ----------------------------------------------------------------------------
    def actions(self) -> list[Action]:
        out, self._actions = self._actions, []
        return out

    def realtime_connected(self, now_ms: float) -> None:
        self._now = now_ms
        c = self.config
        self._send_realtime(
            realtime.session_update(
                instructions=c.instructions,
                voice=c.voice,
                model=c.model,
                turn_detection=c.turn_detection(),
                transcription_model=c.transcription_model,
                tools=self.policy.tools if self.policy else None,
            )
        )
        self.session_sent = True
        while self._early:
            self._send_realtime(realtime.append_audio(self._early.popleft()))

    def receive_twilio(self, text: str | bytes, now_ms: float) -> None:
        self._now = now_ms
        try:
            fast = process_twilio_media(text, self.gate)
        except ValueError as exc:
            self._malformed("twilio", exc, text)
            return
        if fast is not None:
            self._caller_frame(fast[0], fast[2], text)
            return
        try:
            event = twilio.parse(text)
        except ProtocolError as exc:
            self._malformed("twilio", exc, text)
            return
        if isinstance(event, twilio.Media):  # a shape the fast path leaves to us
            passed = self.gate.process(event.audio)
            self._caller_frame(passed, event.payload if passed else _silence_b64(len(event.audio)), text)
        elif isinstance(event, twilio.Mark):
            self.playback.on_mark(event.name, now_ms)
            self._pump()
        elif isinstance(event, twilio.Start):
            self._on_start(event)
        elif isinstance(event, twilio.Stop):
            self.end("caller hung up")
        elif isinstance(event, twilio.Dtmf):
            self._log(logging.INFO, f"[DTMF] {event.digit}")

    def receive_realtime(self, text: str | bytes, now_ms: float) -> None:
        self._now = now_ms
        try:
            event = realtime.parse(text)
            kind = event["type"]
            if kind in realtime.AUDIO_DELTA:
                self._audio_delta(event)
                return
            handler = self._handlers.get(kind)
            if handler is not None:
                handler(self, event)
        except (ProtocolError, KeyError, TypeError, ValueError, binascii.Error) as exc:
            self._malformed("realtime", exc, text)

    def tick(self, now_ms: float) -> None:
        self._now = now_ms
        waiting = self.awaiting_server_response
        if waiting is not None and now_ms - waiting > SERVER_ANSWER_WAIT_MS:
            self.awaiting_server_response = None  # no automatic response came (e.g. an empty turn)
            self._pump()
        self._pump()
        if now_ms - self._summary_at >= self.config.gate_summary_ms:
            self._gate_summary()

    def add_server_event(self, text: str, *, respond: bool = False, now_ms: float | None = None) -> None:
        """Add an application note to the conversation; ask for a response only when that is safe."""
        if now_ms is not None:
            self._now = now_ms
        self._send_realtime(realtime.system_note(text))
        busy = self._busy_reason()
        if busy is not None:
            self.stats.notes_silent += 1
            self._log(logging.INFO, f"[SERVER EVENT] added silently ({busy}): {text!r}")
            return
        if not respond:
            self._log(logging.INFO, f"[SERVER EVENT] added: {text!r}")
        elif self.playback.is_playing:
            self.pending_trigger = self.user_turns
            self._log(logging.INFO, f"[SERVER EVENT] added, will respond after playback: {text!r}")
        else:
            self._log(logging.INFO, f"[SERVER EVENT] added, responding: {text!r}")
            self.request_response("server event")

    def request_response(self, why: str) -> bool:
        """The response guard: response.create only when nothing is active and nobody speaks."""
        busy = self._busy_reason() or (
            "a response was already requested" if self.response_requested else None
        )
        if busy is not None or not self.session_sent:
            self.stats.responses_held_back += 1
            self._log(logging.INFO, f"[GUARD] no response.create for {why}: {busy or 'session not ready'}")
            return False
        self.response_requested = True
        self._idle = False
        self.stats.responses_requested += 1
        self._send_realtime(realtime.response_create())
        return True

    def hang_up_after_reply(self) -> None:
        """Smart hangup: end the call once the reply now being made (or the next one) has played."""
        if self.active_response is not None:
            self.hangup_when_idle = True
        else:
            self._hangup_on_next_response = True

    def send_function_output(self, call_id: str, output: str) -> None:
        self._send_realtime(realtime.function_call_output(call_id, output))

    def end(self, reason: str) -> None:
        if self.ended is not None:
            return
        self.ended = reason
        self._gate_summary()
        self._log(logging.INFO, f"[END] {reason}")
        if self.policy is not None:
            self.policy.on_end(reason)
        self._actions.append(EndCall(reason))

    @property
    def elapsed_ms(self) -> float:
        return self._now - self._t0

    # -- caller audio ----------------------------------------------------------------------------------
    def _caller_frame(self, passed: bool, payload: str, text: str | bytes) -> None:
        self.stats.frames_in += 1
        if self.gate.barge_in_active and self.barge_ins:
            self.barge_ins[-1].frames_during += 1
        if self._held_onset is not None:
            original, silence = self._held_onset
            self._held_onset = None
            self._forward(original if passed else silence, passed)
        if not passed and self.gate.onset_pending:
            # Hold the frame one frame long: if the gate opens now, the word's onset goes as it was.
            self._held_onset = (twilio.parse(text).payload, payload)  # type: ignore[union-attr]
            return
        self._forward(payload, passed)

    def _forward(self, payload: str, as_is: bool) -> None:
        if as_is:
            self.stats.frames_forwarded += 1
        else:
            self.stats.frames_silenced += 1
        if self.session_sent:
            self._actions.append(SendRealtime(realtime.append_audio(payload)))
            return
        if len(self._early) >= self.config.max_early_audio_frames:
            self._early.popleft()
            self.stats.early_frames_dropped += 1
        self._early.append(payload)

    # -- Twilio control --------------------------------------------------------------------------------
    def _on_start(self, start: twilio.Start) -> None:
        self.stream_sid, self.call_sid = start.stream_sid, start.call_sid or start.stream_sid
        self.caller_id = start.custom_parameters.get("caller") or start.custom_parameters.get("From")
        if start.encoding != "audio/x-mulaw" or start.sample_rate != 8000:
            self._log(
                logging.WARNING, f"[START] unexpected media format {start.encoding}/{start.sample_rate}"
            )
        self._log(logging.INFO, f"[START] stream {start.stream_sid} caller {self.caller_id or 'unknown'}")
        if self.policy is not None:
            self.policy.on_start(self.call_sid, self.caller_id)
        self._maybe_greet()
        self._pump()

    def _maybe_greet(self) -> None:
        if self.config.greet_first and not self.greeted and self.session_ready and self.stream_sid:
            self.greeted = True
            self.request_response("greeting")

    # -- Realtime events -------------------------------------------------------------------------------
    def _audio_delta(self, event: dict[str, Any]) -> None:
        response_id = event.get("response_id")
        if response_id in self.cancelled:
            self.stats.late_deltas_dropped += 1
            return
        self.stats.audio_deltas += 1
        self.playback.add_audio(event["item_id"], binascii.a2b_base64(event["delta"], strict_mode=True))
        self._pump()

    def _pump(self) -> None:
        """Send queued AI audio to Twilio while the lead allows; act when playback goes idle."""
        if self.stream_sid is None:
            return
        sid = self.stream_sid
        for chunk in self.playback.release(self._now):
            self._actions.append(SendTwilio(twilio.media(sid, base64.b64encode(chunk.audio).decode("ascii"))))
            self._actions.append(SendTwilio(twilio.mark(sid, chunk.mark)))
        idle = (
            not self.playback.is_playing
            and self.active_response is None
            and not self.response_requested
            and self.awaiting_server_response is None
        )
        if idle and not self._idle:
            self._playback_idle()
        self._idle = idle

    def _playback_idle(self) -> None:
        if self.pending_trigger is not None and self._busy_reason() is None:
            self.pending_trigger = None
            self.request_response("server event after playback")
        if self.policy is not None:
            self.policy.on_playback_idle()
        if self.hangup_when_idle and self.ended is None:
            self.end("goodbye played")

    def _on_session_updated(self, event: dict[str, Any]) -> None:
        self.session_ready = True
        self._maybe_greet()

    def _on_response_created(self, event: dict[str, Any]) -> None:
        self.active_response = event["response"]["id"]
        self.response_requested = False
        self.awaiting_server_response = None
        if self._hangup_on_next_response:
            self._hangup_on_next_response = False
            self.hangup_when_idle = True
        self._pump()
        self._log(logging.INFO, f"[RESPONSE] {self.active_response} created")

    def _on_response_done(self, event: dict[str, Any]) -> None:
        response = event["response"]
        status = response.get("status")
        if response.get("id") == self.active_response:
            self.active_response = None
        self.response_requested = False
        self.playback.end_item()
        self._log(logging.INFO, f"[RESPONSE] {response.get('id')} {status}")
        self._pump()

    def _on_audio_done(self, event: dict[str, Any]) -> None:
        if event.get("response_id") not in self.cancelled:
            self.playback.end_item()
            self._pump()

    def _on_speech_started(self, event: dict[str, Any]) -> None:
        self.caller_speaking = True
        self.user_turns += 1
        if self.pending_trigger is not None:
            self.pending_trigger = None
            self.stats.notes_dropped_stale += 1
            self._log(logging.INFO, "[SERVER EVENT] waiting note dropped: the caller spoke after it")
        if self.active_response is not None or self.playback.is_playing:
            self._barge_in()

    def _barge_in(self) -> None:
        position = self.playback.playing_position(self._now)
        response_id = self.active_response
        record = BargeIn(self.elapsed_ms, response_id, position[0] if position else None, None, 0)
        self.barge_ins.append(record)
        self.gate.barge_in_active = True
        if self.hangup_when_idle or self._hangup_on_next_response:
            self._log(logging.INFO, "[HANGUP] cancelled: the caller spoke over the goodbye")
        self.hangup_when_idle = self._hangup_on_next_response = False
        self._log(
            logging.INFO,
            f"[BARGE-IN] caller spoke over the AI (response {response_id or 'done'}, "
            f"{'item ' + position[0] + f' at {position[1]} ms' if position else 'nothing playing'})",
        )
        if self.stream_sid is not None:
            self._actions.append(SendTwilio(twilio.clear(self.stream_sid)))
        if response_id is not None:
            self.cancelled.append(response_id)
            self.active_response = None
            self._send_realtime(realtime.response_cancel(response_id))
        self.response_requested = False
        record.flushed_frames = self.playback.flush()
        self._log(
            logging.INFO, f"[TX_FLUSH] {record.flushed_frames} frames dropped from our queue; Twilio cleared"
        )
        if position is not None:
            item_id, heard = position
            received = self.playback.received_ms.get(item_id)
            heard = heard if received is None else min(heard, received)
            record.truncated_at_ms = heard
            self._send_realtime(realtime.truncate(item_id, heard))
            self._log(logging.INFO, f"[TRUNCATE] {item_id} at {heard} ms (what the caller heard)")

    def _on_speech_stopped(self, event: dict[str, Any]) -> None:
        self.caller_speaking = False
        self.awaiting_server_response = self._now  # create_response: the server answers this turn
        if self.gate.barge_in_active:
            self.gate.barge_in_active = False
            record = self.barge_ins[-1]
            record.ended_at_ms = self.elapsed_ms
            self._log(
                logging.INFO,
                f"[BARGE-IN] caller done after {record.ended_at_ms - record.at_ms:.0f} ms; "
                f"{record.frames_during} caller frames passed ungated",
            )
        self._pump()

    def _on_caller_transcript(self, event: dict[str, Any]) -> None:
        text = str(event.get("transcript", ""))
        self.transcript.append((self.elapsed_ms, "caller", text))
        self._log(logging.INFO, f"[CALLER] {text!r}")
        if self.policy is not None:
            self.policy.on_caller_transcript(text)

    def _on_assistant_transcript(self, event: dict[str, Any]) -> None:
        text = str(event.get("transcript", ""))
        self.transcript.append((self.elapsed_ms, "assistant", text))
        self._log(logging.INFO, f"[ASSISTANT] {text!r}")
        if self.policy is not None:
            self.policy.on_assistant_transcript(text)

    def _on_function_call(self, event: dict[str, Any]) -> None:
        name, call_id = str(event["name"]), str(event["call_id"])
        self._log(logging.INFO, f"[TOOL] {name}({event.get('arguments', '')})")
        if self.policy is None:
            output, respond = '{"error": "no tools are configured"}', True
        else:
            output, respond = self.policy.on_function_call(name, str(event.get("arguments", "")))
        self.send_function_output(call_id, output)
        if respond:
            self.pending_trigger = self.user_turns  # answers once this response has finished

    def _on_truncated(self, event: dict[str, Any]) -> None:
        self._log(
            logging.DEBUG, f"[TRUNCATE] confirmed {event.get('item_id')} at {event.get('audio_end_ms')} ms"
        )

    def _on_error(self, event: dict[str, Any]) -> None:
        error = event.get("error") or {}
        code = str(error.get("code") or error.get("type") or "unknown")
        self.stats.realtime_errors[code] = self.stats.realtime_errors.get(code, 0) + 1
        if code == "response_cancel_not_active":
            self._log(logging.INFO, "[CANCEL] the server had already ended that response (not a failure)")
        else:
            self._log(logging.WARNING, f"[REALTIME ERROR] {code}: {error.get('message', '')}")

    _handlers: ClassVar[dict[str, Any]] = {
        "session.updated": _on_session_updated,
        "response.created": _on_response_created,
        "response.done": _on_response_done,
        "response.output_audio.done": _on_audio_done,
        "response.audio.done": _on_audio_done,
        "input_audio_buffer.speech_started": _on_speech_started,
        "input_audio_buffer.speech_stopped": _on_speech_stopped,
        "conversation.item.input_audio_transcription.completed": _on_caller_transcript,
        "response.output_audio_transcript.done": _on_assistant_transcript,
        "response.audio_transcript.done": _on_assistant_transcript,
        "response.function_call_arguments.done": _on_function_call,
        "conversation.item.truncated": _on_truncated,
        "error": _on_error,
    }

    # -- helpers ---------------------------------------------------------------------------------------
    def _busy_reason(self) -> str | None:
        if self.gate.barge_in_active:
            return "barge-in"
        if self.caller_speaking:
            return "caller speaking"
        if self.active_response is not None:
            return "response active"
        if self.awaiting_server_response is not None:
            return "the server is answering the caller"
        return None

    def _send_realtime(self, text: str) -> None:
        self._actions.append(SendRealtime(text))

    def _malformed(self, source: str, exc: Exception, text: str | bytes) -> None:
        if source == "twilio":
            self.stats.malformed_twilio += 1
        else:
            self.stats.malformed_realtime += 1
        self._log(logging.WARNING, f"[MALFORMED] {source} message skipped: {exc} ({str(text)[:80]!r})")

    def _gate_summary(self) -> None:
        fwd, sil = self.stats.frames_forwarded, self.stats.frames_silenced
        d_fwd, d_sil = fwd - self._summary_counts[0], sil - self._summary_counts[1]
        self._summary_counts = (fwd, sil)
        self._summary_at = self._now
        if d_fwd or d_sil:
            g = self.gate
            self._log(
                logging.INFO,
                f"[AUDIO GATE] {d_fwd + d_sil} frames: {d_fwd} passed, {d_sil} silenced; "
                f"floor {g.noise_floor:.0f}, threshold {g.threshold:.0f}, "
                f"passed {g.passed}, blocked {g.blocked}",
            )

    def _log(self, level: int, message: str) -> None:
        self._actions.append(Log(level, f"[{self.call_sid}] +{self.elapsed_ms:.0f}ms {message}"))


_SILENCE_CACHE: dict[int, str] = {}


def _silence_b64(nbytes: int) -> str:
    if nbytes not in _SILENCE_CACHE:
        _SILENCE_CACHE[nbytes] = base64.b64encode(b"\xff" * nbytes).decode("ascii")
    return _SILENCE_CACHE[nbytes]
