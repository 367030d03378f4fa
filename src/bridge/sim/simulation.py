"""`fastgate-bridge simulate`: the bridge between the two simulators over loopback, and what happened."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import fastgate
from bridge.core.commands import Application
from bridge.core.config import CallConfig
from bridge.server.app import BridgeServer
from bridge.server.session import CallReport
from bridge.server.settings import Settings
from bridge.sim.clock import ScaledClock
from bridge.sim.realtime_server import RealtimeSimulator, SimSession
from bridge.sim.scenario import Scenario
from bridge.sim.twilio_caller import CallerRecord, TwilioCaller
from fastgate import FRAME_BYTES, FRAME_MS

SIM_KEY = "sim-key"


VOICE_RMS = 400  # a fixture frame this loud is the caller's voice (the line noise is far below)


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
    response_active: bool  # the server was still making the reply when the caller spoke
    truncate_ms: int | None
    heard_ms: float  # how much of the interrupted reply the caller heard
    late_deltas: int  # deltas the server sent after our response.cancel
    frames_checked: int  # caller frames of the interrupting utterance
    frames_unchanged: int  # ... that reached the server exactly as sent
    next_response_after_turn: bool  # the next answer came from the new utterance's turn


@dataclass
class Simulation:
    scenario: Scenario
    caller: CallerRecord
    server_session: SimSession
    report: CallReport
    time_scale: float
    leads: list[dict[str, Any]] = field(default_factory=list)  # filled in when lead intake ran

    def barge_ins(self) -> list[BargeInFigures]:
        return [self._barge_in_figures(i) for i in range(len(self.report.barge_ins))]

    def errors(self) -> list[dict[str, Any]]:
        return self.server_session.errors()

    def _barge_in_figures(self, index: int) -> BargeInFigures:
        s, c = self.server_session, self.caller
        started = [
            r
            for r in s.record
            if r.direction == "out" and r.event["type"] == "input_audio_buffer.speech_started"
        ]
        barge = self.report.barge_ins[index]
        t_barge = self.report.started_at + barge.at_ms
        # the caller's utterance that made it: the last one begun before it
        spoken = [
            (start + voice_onset_ms(u.audio), start)
            for (start, _end, _text), u in zip(c.utterances, self.scenario.utterances, strict=False)
        ]
        voice_at = max((v for v, start in spoken if start <= t_barge), default=t_barge)
        # the server's speech_started for it: the first after the voice began (or the last before)
        after = [r for r in started if r.t_ms >= voice_at - 50]
        trigger = after[0] if after else max(started, key=lambda r: r.t_ms)
        t_ss = trigger.t_ms
        cancels = [
            r
            for r in s.record
            if r.direction == "in" and r.event["type"] == "response.cancel" and r.t_ms >= voice_at
        ]
        clears = [t for t, _ in c.clears if t >= voice_at]
        t_clear = clears[0] if clears else float("inf")
        onsets_after = [t for t in c.ai_onsets if t > t_clear]
        next_onset = onsets_after[0] if onsets_after else float("inf")
        heard_after = sum(len(chunk) / 8 for t, chunk in c.heard if t_clear <= t < next_onset)
        onset = max((t for t in c.ai_onsets if t <= voice_at), default=c.started_at)
        heard = sum(len(chunk) / 8 for t, chunk in c.heard if onset <= t < t_clear)
        heard_after_onset = sum(len(chunk) / 8 for t, chunk in c.heard if voice_at <= t < t_clear)
        interrupted = self._active_response_at(min(t_clear, t_ss + 1))  # when the bridge acted
        cancel_ok = (
            bool(cancels) and interrupted is not None and cancels[0].event.get("response_id") == interrupted
        )
        late = 0
        if cancels and interrupted is not None:
            late = sum(
                1
                for r in s.record
                if r.direction == "out"
                and r.t_ms >= cancels[0].t_ms
                and r.event["type"] == "response.output_audio.delta"
                and r.event.get("response_id") == interrupted
            )
        stopped = next(
            (
                r
                for r in s.record
                if r.direction == "out"
                and r.t_ms > t_ss
                and r.event["type"] == "input_audio_buffer.speech_stopped"
            ),
            None,
        )
        prefix = int(s.config["audio"]["input"]["turn_detection"].get("prefix_padding_ms", 300))
        first = (trigger.event["audio_start_ms"] + prefix) // FRAME_MS
        last = (stopped.event["audio_end_ms"] // FRAME_MS) if stopped else len(c.sent)
        checked = unchanged = 0
        for k in range(first, min(last, len(c.sent))):
            checked += 1
            unchanged += bytes(s.input_audio[k * FRAME_BYTES : (k + 1) * FRAME_BYTES]) == c.sent[k]
        created_after = [
            r
            for r in s.record
            if r.direction == "out" and r.event["type"] == "response.created" and r.t_ms > t_ss
        ]
        creates_between = [  # a response asked for while the caller was still talking
            r
            for r in s.record
            if r.direction == "in"
            and r.event["type"] == "response.create"
            and t_ss <= r.t_ms < (stopped.t_ms if stopped else float("inf"))
        ]
        next_ok = (
            bool(created_after)
            and stopped is not None
            and created_after[0].t_ms >= stopped.t_ms
            and not creates_between
        )
        return BargeInFigures(
            at_ms=voice_at,
            reaction_ms=t_clear - voice_at,
            heard_after_onset_ms=heard_after_onset,
            cancel_after_speech_started_ms=(cancels[0].t_ms - t_ss) if cancels else None,
            heard_after_clear_ms=heard_after,
            cancel_id_ok=cancel_ok,
            response_active=interrupted is not None,
            truncate_ms=barge.truncated_at_ms,
            heard_ms=heard,
            late_deltas=late,
            frames_checked=checked,
            frames_unchanged=unchanged,
            next_response_after_turn=next_ok,
        )

    def _active_response_at(self, t_ms: float) -> str | None:
        """The response the server was making (or whose audio was still coming) at t_ms."""
        active = None
        for r in self.server_session.record:
            if r.direction != "out" or r.t_ms > t_ms:
                continue
            if r.event["type"] == "response.created":
                active = r.event["response"]["id"]
            elif r.event["type"] == "response.done" and r.event["response"]["id"] == active:
                active = None
        return active

    def timeline(self, *, gate_lines: bool = True) -> list[tuple[float, str, str]]:
        rows: list[tuple[float, str, str]] = []
        for t, line in self.report.log_lines:
            if gate_lines or line.tag != "AUDIO GATE":
                rows.append((t, "bridge", f"[{line.tag}] {line.text}"))
        shown_out = {
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "response.created",
            "response.done",
            "conversation.item.input_audio_transcription.completed",
            "conversation.item.truncated",
            "error",
            "response.function_call_arguments.done",
        }
        shown_in = {
            "response.cancel",
            "conversation.item.truncate",
            "response.create",
            "session.update",
            "conversation.item.create",
        }
        for r in self.server_session.record:
            kind = r.event["type"]
            if (r.direction == "out" and kind in shown_out) or (r.direction == "in" and kind in shown_in):
                rows.append(
                    (r.t_ms, "realtime " + ("->" if r.direction == "out" else "<-"), _describe(r.event))
                )
        c = self.caller
        for t in c.ai_onsets:
            rows.append((t, "caller", "starts hearing the AI"))
        for t, dropped in c.clears:
            rows.append((t, "caller", f"Twilio clear: {dropped / 8:.0f} ms of buffered AI audio dropped"))
        for start, end, text in c.utterances:
            rows.append((start, "caller", f"says {text!r} ({end - start:.0f} ms)"))
        rows.sort(key=lambda row: row[0])
        t0 = c.started_at
        return [(t - t0, who, what) for t, who, what in rows]

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.name,
            "time_scale": self.time_scale,
            "ended": self.report.ended,
            "duration_ms": round(self.report.duration_ms),
            "barge_ins": [{f.name: getattr(b, f.name) for f in fields(b)} for b in self.barge_ins()],
            "stats": dict(self.report.stats.__dict__),
            "server_errors": self.errors(),
            "transcript": [
                {"ms": round(t), "who": who, "text": text} for t, who, text in self.report.transcript
            ],
            "timeline": [{"ms": round(t), "who": who, "what": what} for t, who, what in self.timeline()],
            "caller": self.caller.to_json(),
            "leads": self.leads,
        }


def _describe(event: dict[str, Any]) -> str:
    kind = event["type"]
    details = {
        "input_audio_buffer.speech_started": lambda e: f"audio_start_ms={e['audio_start_ms']}",
        "input_audio_buffer.speech_stopped": lambda e: f"audio_end_ms={e['audio_end_ms']}",
        "response.created": lambda e: e["response"]["id"],
        "response.done": lambda e: f"{e['response']['id']} {e['response']['status']}",
        "conversation.item.input_audio_transcription.completed": lambda e: repr(e["transcript"]),
        "conversation.item.truncated": lambda e: f"{e['item_id']} at {e['audio_end_ms']} ms",
        "conversation.item.truncate": lambda e: f"{e['item_id']} at {e['audio_end_ms']} ms",
        "response.cancel": lambda e: str(e.get("response_id")),
        "error": lambda e: f"{e['error'].get('code')}: {e['error'].get('message')}",
        "response.function_call_arguments.done": lambda e: f"{e['name']}({e['arguments']})",
        "conversation.item.create": lambda e: e["item"].get("type", ""),
    }.get(kind)
    return f"{kind} {details(event)}" if details else kind


def call_config(scenario: Scenario, base: CallConfig | None = None) -> CallConfig:
    base = base or CallConfig()
    known = {f.name for f in fields(CallConfig)}
    unknown = set(scenario.session) - known
    if unknown:
        raise ValueError(f"scenario [session] has unknown keys: {', '.join(sorted(unknown))}")
    return replace(base, **scenario.session)


async def run_simulation(
    scenario: Scenario,
    *,
    time_scale: float = 1.0,
    config: CallConfig | None = None,
    app_factory: Callable[[], Application] | None = None,
    timeout_s: float | None = None,
) -> Simulation:
    """The bridge between the two simulators; `app_factory` plugs in lead intake (intake_factory)."""
    clock = ScaledClock(time_scale)
    async with RealtimeSimulator(scenario, api_key=SIM_KEY, clock=clock) as realtime:
        settings = Settings(
            host="127.0.0.1",
            port=0,
            realtime_url=realtime.base_url,
            api_key=SIM_KEY,
            call=call_config(scenario, config),
            drain_seconds=5.0,
        )
        server = BridgeServer(settings, clock=clock.now_ms, time_scale=time_scale, app_factory=app_factory)
        port = await server.start()
        try:
            caller = TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", scenario, clock=clock)
            limit = timeout_s or (scenario.caller.max_ms / 1000 * time_scale + 30)
            record = await asyncio.wait_for(caller.run(), limit)
            while not server.finished:
                await asyncio.sleep(0.01)
        finally:
            await server.stop(drain_seconds=2.0)
        await asyncio.sleep(0.05)
        return Simulation(scenario, record, realtime.sessions[-1], server.finished[-1], time_scale)
