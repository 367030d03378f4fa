"""Baseline: the tutorial bridge pattern against the same simulators, beside fastgate's bridge.

The official Twilio + Realtime samples send `clear` and a clock-estimated truncate on speech_started,
but no response.cancel (they rely on the server's interrupt_response) and forward every audio delta,
late ones included. Over the same scenario, the caller keeps hearing the cancelled reply.
"""

from __future__ import annotations

import asyncio
import json
import time

from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import load_scenario
from bridge.sim.twilio_caller import CallerRecord, TwilioCaller
from bridge.simulate import run_simulation

KEY = "k"


class TutorialRelay:
    """What the samples do, written down faithfully and no better."""

    def __init__(self, realtime_base: str) -> None:
        self.realtime_base = realtime_base

    async def handle(self, twilio: ServerConnection) -> None:
        async with connect(
            f"{self.realtime_base}/realtime?model=gpt-realtime",
            additional_headers={"Authorization": f"Bearer {KEY}"},
        ) as rt:
            await rt.send(
                json.dumps(
                    {
                        "type": "session.update",
                        "session": {
                            "type": "realtime",
                            "audio": {
                                "input": {
                                    "format": {"type": "audio/pcmu"},
                                    "turn_detection": {
                                        "type": "server_vad",
                                        "silence_duration_ms": 600,
                                        "interrupt_response": True,
                                    },
                                },
                                "output": {"format": {"type": "audio/pcmu"}},
                            },
                        },
                    }
                )
            )
            await rt.send(json.dumps({"type": "response.create"}))
            state: dict = {"sid": None, "item": None, "started": None}
            await asyncio.gather(
                self.from_twilio(twilio, rt, state),
                self.from_realtime(twilio, rt, state),
                return_exceptions=True,
            )

    async def from_twilio(self, twilio, rt, state) -> None:
        async for raw in twilio:
            msg = json.loads(raw)
            if msg["event"] == "start":
                state["sid"] = msg["start"]["streamSid"]
            elif msg["event"] == "media":
                await rt.send(
                    json.dumps({"type": "input_audio_buffer.append", "audio": msg["media"]["payload"]})
                )
            elif msg["event"] == "stop":
                await rt.close()
                return

    async def from_realtime(self, twilio, rt, state) -> None:
        async for raw in rt:
            event = json.loads(raw)
            if event["type"] == "response.output_audio.delta" and state["sid"]:
                if state["item"] != event["item_id"]:
                    state["item"], state["started"] = event["item_id"], time.monotonic()
                await twilio.send(
                    json.dumps(
                        {"event": "media", "streamSid": state["sid"], "media": {"payload": event["delta"]}}
                    )
                )
            elif event["type"] == "input_audio_buffer.speech_started" and state["item"]:
                elapsed = int((time.monotonic() - state["started"]) * 1000)
                await rt.send(
                    json.dumps(
                        {
                            "type": "conversation.item.truncate",
                            "item_id": state["item"],
                            "content_index": 0,
                            "audio_end_ms": elapsed,
                        }
                    )
                )
                await twilio.send(json.dumps({"event": "clear", "streamSid": state["sid"]}))
                state["item"] = None


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
