"""Grading a call from what the two simulators saw: no bridge internals, so any bridge can be graded.

An interruption is a caller utterance meant to interrupt (speech, not a backchannel) that begins
while the AI is audible or a response is being made. For each one: when the AI stopped, what the
caller still heard, whether the active response was cancelled by id, where the item was truncated
against what was heard, whether every caller frame reached the server unchanged, and whether the
next answer came from the new words.
"""

from __future__ import annotations

from dataclasses import dataclass

import fastgate
from bridge.sim.realtime_server import Recorded, SimSession
from bridge.sim.scenario import Scenario
from bridge.sim.twilio_caller import CallerRecord
from fastgate import FRAME_BYTES, FRAME_MS

VOICE_RMS = 400  # a fixture frame this loud is the caller's voice (the line noise is far below)
OVERLAP_MS = 1000  # an utterance interrupts what is audible or being made within this of its onset

# what a good bridge does; each check below says which figure it reads
STOP_WITHIN_MS = 500
STALE_AFTER_CLEAR_MS = 20
TRUNCATE_TOLERANCE_MS = 60
CLOSE_WITHIN_MS = 2000


def voice_onset_ms(audio: bytes) -> int:
    """Where the voice starts in a caller fixture (they begin with a little silence)."""
    for k in range(0, len(audio) // FRAME_BYTES):
        if fastgate.rms_ulaw(audio[k * FRAME_BYTES : (k + 1) * FRAME_BYTES]) >= VOICE_RMS:
            return k * FRAME_MS
    return 0


@dataclass
class BargeInFigures:
    at_ms: float  # the caller's voice onset (clock ms)
    reaction_ms: float  # the caller's onset -> the AI's audio stopped (Twilio clear at the caller)
    heard_after_onset_ms: float  # AI audio the caller heard after starting to speak
    cancel_after_speech_started_ms: float | None  # server speech_started -> response.cancel received
    heard_after_clear_ms: float  # AI audio of the interrupted reply the caller still heard
    cancel_id_ok: bool
    response_active: bool  # the server was still making the reply when the bridge acted
    truncate_ms: int | None  # the truncate the server received for the interrupted item
    heard_ms: float  # how much of the interrupted reply the caller heard
    late_deltas: int  # deltas the server sent after the response.cancel
    frames_checked: int  # caller frames of the interrupting utterance
    frames_unchanged: int  # ... that reached the server exactly as sent
    next_response_after_turn: bool  # the next answer came after the new utterance's turn ended


def _out(session: SimSession, kind: str) -> list[Recorded]:
    return [r for r in session.record if r.direction == "out" and r.event["type"] == kind]


def _in(session: SimSession, kind: str) -> list[Recorded]:
    return [r for r in session.record if r.direction == "in" and r.event["type"] == kind]


def active_response_at(session: SimSession, t_ms: float) -> str | None:
    """The response the server was making at t_ms."""
    active = None
    for r in session.record:
        if r.direction != "out" or r.t_ms > t_ms:
            continue
        if r.event["type"] == "response.created":
            active = r.event["response"]["id"]
        elif r.event["type"] == "response.done" and r.event["response"]["id"] == active:
            active = None
    return active


def _done_before(session: SimSession, response_id: str | None, t_ms: float | None) -> bool:
    """The response finished by itself before the bridge decided (its truncate): nothing left to cancel."""
    if response_id is None or t_ms is None:
        return False
    return any(
        r.t_ms <= t_ms and r.event["response"]["id"] == response_id for r in _out(session, "response.done")
    )


def _making_or_audible(caller: CallerRecord, session: SimSession, start: float, end: float) -> bool:
    if any(start - 2 * FRAME_MS <= t < end for t, _ in caller.heard):
        return True
    return any(active_response_at(session, t) for t in range(int(start), int(end), FRAME_MS))


def interruptions(scenario: Scenario, caller: CallerRecord, session: SimSession) -> list[float]:
    """Voice onsets (clock ms) of the caller's utterances that interrupt the AI."""
    onsets = []
    for (start, _end, _text), u in zip(caller.utterances, scenario.utterances, strict=False):
        voice = start + voice_onset_ms(u.audio)
        if u.interrupts and _making_or_audible(caller, session, voice, voice + OVERLAP_MS):
            onsets.append(voice)
    return onsets


def figures(caller: CallerRecord, session: SimSession, voice_at: float) -> BargeInFigures:
    started = _out(session, "input_audio_buffer.speech_started")
    after = [r for r in started if r.t_ms >= voice_at - 50]
    trigger = after[0] if after else (started[-1] if started else None)
    t_ss = trigger.t_ms if trigger is not None else voice_at
    cancels = [r for r in _in(session, "response.cancel") if r.t_ms >= voice_at]
    clears = [t for t, _ in caller.clears if t >= voice_at]
    t_clear = clears[0] if clears else float("inf")
    next_onset = next((t for t in caller.ai_onsets if t > t_clear), float("inf"))
    heard_after = sum(len(c) / 8 for t, c in caller.heard if t_clear <= t < next_onset)
    reply_onset = max((t for t in caller.ai_onsets if t <= voice_at), default=caller.started_at)
    heard = sum(len(c) / 8 for t, c in caller.heard if reply_onset <= t < t_clear)
    stop_at = t_clear if clears else next((t for t, _ in caller.heard if t >= voice_at), voice_at)
    heard_after_onset = sum(len(c) / 8 for t, c in caller.heard if voice_at <= t < min(t_clear, next_onset))
    interrupted = active_response_at(session, min(t_clear, t_ss + 1))
    truncates = [r for r in _in(session, "conversation.item.truncate") if r.t_ms >= voice_at]
    cancel_ok = (
        bool(cancels) and interrupted is not None and cancels[0].event.get("response_id") == interrupted
    ) or (not cancels and _done_before(session, interrupted, truncates[0].t_ms if truncates else None))
    late = 0
    if cancels and interrupted is not None:
        late = sum(
            1
            for r in _out(session, "response.output_audio.delta")
            if r.t_ms >= cancels[0].t_ms and r.event.get("response_id") == interrupted
        )
    stopped = next((r for r in _out(session, "input_audio_buffer.speech_stopped") if r.t_ms > t_ss), None)
    checked = unchanged = 0
    if trigger is not None:
        prefix = int(session.config["audio"]["input"].get("turn_detection", {}).get("prefix_padding_ms", 300))
        first = (trigger.event["audio_start_ms"] + prefix) // FRAME_MS
        last = (stopped.event["audio_end_ms"] // FRAME_MS) if stopped else len(caller.sent)
        for k in range(first, min(last, len(caller.sent))):
            checked += 1
            unchanged += bytes(session.input_audio[k * FRAME_BYTES : (k + 1) * FRAME_BYTES]) == caller.sent[k]
    created_after = [r for r in _out(session, "response.created") if r.t_ms > t_ss]
    until = stopped.t_ms if stopped else float("inf")
    talking_over = [r for r in _in(session, "response.create") if t_ss <= r.t_ms < until]
    next_ok = (
        bool(created_after)
        and stopped is not None
        and created_after[0].t_ms >= stopped.t_ms
        and not talking_over
    )
    return BargeInFigures(
        at_ms=voice_at,
        reaction_ms=stop_at - voice_at,
        heard_after_onset_ms=heard_after_onset,
        cancel_after_speech_started_ms=(cancels[0].t_ms - t_ss) if cancels else None,
        heard_after_clear_ms=heard_after,
        cancel_id_ok=cancel_ok,
        response_active=interrupted is not None,
        truncate_ms=truncates[0].event.get("audio_end_ms") if truncates else None,
        heard_ms=heard,
        late_deltas=late,
        frames_checked=checked,
        frames_unchanged=unchanged,
        next_response_after_turn=next_ok,
    )


# -- checks: (name, passed, detail) ---------------------------------------------------------------------
Check = tuple[str, bool, str]


def _barge_in_checks(n: int, b: BargeInFigures) -> list[Check]:
    tag = f"barge-in {n}"
    truncate_ok = (
        (b.truncate_ms is None or b.truncate_ms <= TRUNCATE_TOLERANCE_MS)
        if b.heard_ms == 0
        else b.truncate_ms is not None and abs(b.truncate_ms - b.heard_ms) <= TRUNCATE_TOLERANCE_MS
    )
    return [
        (
            f"{tag}: the AI stops within {STOP_WITHIN_MS} ms",
            b.heard_after_onset_ms <= STOP_WITHIN_MS,
            f"{b.heard_after_onset_ms:.0f} ms of AI audio heard after the caller began",
        ),
        (
            f"{tag}: no stale audio after the clear",
            b.heard_after_clear_ms <= STALE_AFTER_CLEAR_MS,
            f"{b.heard_after_clear_ms:.0f} ms of the interrupted reply after the clear",
        ),
        (
            f"{tag}: response.cancel with the active id",
            b.cancel_id_ok or not b.response_active,
            (
                "cancelled by id"
                if b.cancel_after_speech_started_ms is not None
                else "it finished before the truncate"
            )
            if b.cancel_id_ok
            else ("no response active" if not b.response_active else "no"),
        ),
        (
            f"{tag}: truncated at what was heard",
            truncate_ok,
            f"truncate at {b.truncate_ms} ms, heard {b.heard_ms:.0f} ms",
        ),
        (
            f"{tag}: every caller frame forwarded unchanged",
            b.frames_checked > 0 and b.frames_unchanged == b.frames_checked,
            f"{b.frames_unchanged}/{b.frames_checked}",
        ),
        (
            f"{tag}: the next answer is for the new words",
            b.next_response_after_turn,
            "asked for after the caller's turn" if b.next_response_after_turn else "not so",
        ),
    ]


def grade(scenario: Scenario, caller: CallerRecord, session: SimSession) -> list[Check]:
    checks: list[Check] = []
    onsets = interruptions(scenario, caller, session)
    for n, voice_at in enumerate(onsets, 1):
        checks += _barge_in_checks(n, figures(caller, session, voice_at))
    if not any(u.interrupts for u in scenario.utterances):
        reply = scenario.replies[0].audio if scenario.replies else b""
        heard = sum(len(c) for _, c in caller.heard)
        checks.append(
            (
                "no false stop: the first reply is heard to its end",
                not caller.clears and heard >= len(reply),
                f"{heard / 8:.0f} of {len(reply) / 8:.0f} ms heard, {len(caller.clears)} clear(s)",
            )
        )
    errors = [e for e in session.errors() if e.get("code") != "response_cancel_not_active"]
    checks.append(
        ("no Realtime error events", not errors, ", ".join(str(e.get("code")) for e in errors) or "none")
    )
    end = caller.duration_ms  # the caller's hang-up, on the clock both simulators share
    closed = session.closed_at is not None and session.closed_at - end <= CLOSE_WITHIN_MS
    checks.append(
        (
            "the Realtime session is closed at hang-up",
            closed,
            "closed" if closed else "still open 2 s after the call ended",
        )
    )
    return checks


def summary(checks: list[Check]) -> tuple[int, int, list[str]]:
    passed = sum(1 for _, ok, _ in checks if ok)
    return passed, len(checks), [name for name, ok, _ in checks if not ok]
