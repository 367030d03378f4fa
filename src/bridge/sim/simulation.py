"""`fastgate-bridge simulate`: the bridge between the two simulators over loopback, and what happened."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from bridge.core.commands import Application
from bridge.core.config import CallConfig
from bridge.server.app import BridgeServer
from bridge.server.session import CallReport
from bridge.server.settings import Settings
from bridge.sim.clock import ScaledClock
from bridge.sim.grading import BargeInFigures, figures, interruptions
from bridge.sim.realtime_server import RealtimeSimulator, SimSession
from bridge.sim.scenario import Scenario
from bridge.sim.twilio_caller import CallerRecord, TwilioCaller

SIM_KEY = "sim-key"


@dataclass
class Simulation:
    scenario: Scenario
    caller: CallerRecord
    server_session: SimSession
    report: CallReport
    time_scale: float
    leads: list[dict[str, Any]] = field(default_factory=list)  # filled in when lead intake ran

    def barge_ins(self) -> list[BargeInFigures]:
        """Each interruption, graded from the simulators' records (the bridge's own report is not used)."""
        s, c = self.server_session, self.caller
        return [figures(c, s, voice_at) for voice_at in interruptions(self.scenario, c, s)]

    def errors(self) -> list[dict[str, Any]]:
        return self.server_session.errors()

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
