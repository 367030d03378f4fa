"""Baseline: the tutorial bridge pattern against the same simulators, beside fastgate's bridge.

The official Twilio + Realtime samples send `clear` and a clock-estimated truncate on speech_started,
but no response.cancel (they rely on the server's interrupt_response) and forward every audio delta,
late ones included. Over the same scenario, the caller keeps hearing the cancelled reply.
"""

from __future__ import annotations

import asyncio

from websockets.asyncio.server import serve

from bridge.load.tutorial_relay import TutorialRelay
from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import load_scenario
from bridge.sim.simulation import run_simulation
from bridge.sim.twilio_caller import CallerRecord, TwilioCaller

KEY = "k"


def heard_after_first_clear(record: CallerRecord) -> float:
    clear_at = record.clears[0][0]
    onsets = [t for t in record.ai_onsets if t > clear_at + 20]
    until = onsets[0] if onsets else float("inf")
    return sum(len(chunk) / 8 for t, chunk in record.heard if clear_at + 20 <= t < until)


def test_the_tutorial_pattern_lets_the_cancelled_reply_through_and_fastgate_does_not():
    scenario = load_scenario("seed-barge-in")
    scenario = scenario.__class__(
        **{
            **scenario.__dict__,
            "replies": tuple(r.__class__(r.audio, r.transcript) for r in scenario.replies),
        }
    )  # no tools: audio only

    async def tutorial() -> CallerRecord:
        async with RealtimeSimulator(scenario, api_key=KEY, time_scale=0.5) as sim:
            relay = TutorialRelay(sim.base_url)
            async with serve(relay.handle, "127.0.0.1", 0) as server:
                port = server.sockets[0].getsockname()[1]
                return await TwilioCaller(
                    f"ws://127.0.0.1:{port}/media-stream", scenario, time_scale=0.5
                ).run()

    baseline = asyncio.run(tutorial())
    ours = asyncio.run(run_simulation(scenario, time_scale=0.5))
    assert baseline.clears and ours.caller.clears
    stale_baseline = heard_after_first_clear(baseline)
    stale_ours = heard_after_first_clear(ours.caller)
    print(f"\nAI audio heard after clear: tutorial {stale_baseline:.0f} ms, fastgate {stale_ours:.0f} ms")
    assert stale_baseline >= 100  # the in-flight deltas of the cancelled reply reach the caller
    assert stale_ours == 0
    assert ours.errors() == []
