"""`fastgate-bridge sim realtime|caller`: one simulator alone, to test any bridge."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path

from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import load_scenario
from bridge.sim.twilio_caller import TwilioCaller


async def sim_realtime(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario) if args.scenario else None
    sim = RealtimeSimulator(
        scenario, host=args.host, port=args.port, time_scale=args.time_scale, api_key=args.api_key
    )
    await sim.start()
    print(f"Realtime simulator at {sim.base_url}/realtime (websocket_base_url={sim.base_url}); Ctrl-C stops")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await sim.stop()
    return 0


async def sim_caller(args: argparse.Namespace) -> int:
    caller = TwilioCaller(
        args.url,
        load_scenario(args.scenario),
        time_scale=args.time_scale,
        headers=pairs(args.header, ":"),
        custom_parameters=pairs(args.param, "="),
    )
    record = await caller.run()
    t0 = record.started_at
    lines = [(t, "starts hearing the AI") for t in record.ai_onsets]
    lines += [(t, f"clear: {dropped / 8:.0f} ms of buffered audio dropped") for t, dropped in record.clears]
    lines += [(start, f"says {text!r} until {end - t0:.0f} ms") for start, end, text in record.utterances]
    for t, line in sorted(lines):
        print(f"{t - t0:8.0f} ms  {line}")
    heard = sum(len(c) for _, c in record.heard) / 8
    print(f"heard {heard:.0f} ms of AI audio in {record.duration_ms:.0f} ms; call ended by {record.ended_by}")
    if args.json:
        Path(args.json).write_text(json.dumps(record.to_json(), ensure_ascii=False, indent=2), "utf-8")
    return 0


def pairs(items: list[str] | None, sep: str) -> dict[str, str]:
    """NAME<sep>VALUE strings from the command line as a dict; a missing separator is a usage error."""
    out = {}
    for item in items or []:
        name, found, value = item.partition(sep)
        if not found or not name:
            raise ValueError(f"expected NAME{sep}VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out
