"""OpenAI ends a Realtime session at 60 minutes. Before the cap the bridge has the model close the call
politely; if the cap comes anyway, the caller hears the apology (or a person), not dead air. The
simulator lowers the cap (`RealtimeSettings.max_session_s`)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter
from websockets.exceptions import ConnectionClosed

from bridge.core.config import CallConfig
from bridge.core.events import EndReason
from bridge.server.session import SHIPPED_PROMPT
from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import Scenario, load_scenario
from bridge.sim.simulation import run_simulation
from test_sim_realtime import KEY, ready

SERVER_EVENT = TypeAdapter(RealtimeServerEvent)


def long_quiet_call(sim_cap_s: float, **session: int) -> Scenario:
    """The AI greets, the caller stays on the line saying nothing: only the cap can end the call."""
    base = load_scenario("noise-only")
    greeting = base.replies[0]
    return replace(
        base,
        session={**base.session, **session},
        realtime=replace(base.realtime, max_session_s=sim_cap_s),
        caller=replace(base.caller, hangup_after_ms=40_000, max_ms=40_000),
        replies=(greeting, replace(greeting, transcript="נציג יחזור אליך בהקדם. להתראות!")),
    )


def test_the_simulator_ends_a_session_at_its_cap_as_openai_does():
    async def go() -> tuple[list[dict], int | None]:
        async with RealtimeSimulator(long_quiet_call(sim_cap_s=2), time_scale=0.25, api_key=KEY) as sim:
            client = await ready(sim)
            with pytest.raises(ConnectionClosed):
                await client.until("never", timeout=5)
            return client.events, client.ws.close_code

    events, code = asyncio.run(go())
    for event in events:
        SERVER_EVENT.validate_python(event)
    assert events[0]["type"] == "session.created" and isinstance(events[0]["session"]["expires_at"], int)
    error = events[-1]["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "session_expired")
    assert error["message"] == "Your session hit the maximum duration of 0.0333333 minutes."
    assert code == 1000


def test_before_the_cap_the_model_wraps_up_and_the_bridge_hangs_up_after_its_goodbye():
    scenario = long_quiet_call(sim_cap_s=14, session_cap_ms=14_000, wrap_up_ms=9_000)
    sim = asyncio.run(run_simulation(scenario, time_scale=0.25))
    assert sim.report.end_reason is EndReason.GOODBYE_PLAYED
    assert any(line.tag == "SESSION CAP" for _, line in sim.report.log_lines)
    notes = [
        r.event["item"]
        for r in sim.server_session.record
        if r.direction == "in" and r.event["type"] == "conversation.item.create"
    ]
    assert any(CallConfig().wrap_up_note in str(item) for item in notes)
    assert len(sim.server_session.responses) == 2  # the greeting, then the wrap-up reply
    assert sim.errors() == []  # the cap never hit
    assert sim.caller.ended_by == "server"


def test_when_the_cap_hits_the_caller_hears_the_apology_and_the_call_ends_with_the_reason():
    scenario = long_quiet_call(sim_cap_s=6)  # the bridge expects 60 minutes: it is caught out
    sim = asyncio.run(run_simulation(scenario, time_scale=0.25))
    assert sim.report.end_reason is EndReason.SESSION_EXPIRED
    assert sim.report.ended.startswith("realtime session expired (Your session hit the maximum duration")
    prompt = SHIPPED_PROMPT.read_bytes()
    heard = b"".join(chunk for _, chunk in sim.caller.heard)
    assert heard.endswith(prompt) and sim.caller.ended_by == "server"
