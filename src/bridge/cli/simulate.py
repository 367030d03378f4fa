"""`fastgate-bridge simulate`: one call through the bridge between the two simulators, told as it went."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from bridge.cli.report import print_leads, print_simulation
from bridge.core.config import CallConfig
from bridge.intake import intake_factory
from bridge.intake.profile import load_profile
from bridge.intake.store import LeadStore
from bridge.sim.scenario import ScenarioError, load_scenario
from bridge.sim.simulation import run_simulation


async def show_progress() -> None:
    """A second counter on the terminal while the call runs (the timeline is printed when it ends)."""
    started = time.monotonic()
    while True:
        await asyncio.sleep(1)
        print(f"\r  … {time.monotonic() - started:.0f} s", end="", file=sys.stderr, flush=True)


def plot_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


async def simulate(args: argparse.Namespace) -> int:
    if args.plot and not plot_available():
        print(
            'fastgate-bridge simulate: --plot needs matplotlib: pip install "fastgate[plot]"', file=sys.stderr
        )
        return 2
    try:
        scenario = load_scenario(args.scenario)
        profile = None if args.no_intake else load_profile(args.profile or None)
    except (ScenarioError, ValueError, OSError) as exc:
        print(f"fastgate-bridge simulate: {exc}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        store = None if profile is None else LeadStore(args.db or str(Path(tmp) / "leads.db"))
        config = None
        if profile is not None:
            config = CallConfig(
                instructions=profile.render_instructions(),
                transcription_prompt=profile.transcription_prompt(),
            )
        limit_s = scenario.caller.max_ms / 1000 * args.time_scale
        print(
            f"calling through the bridge: scenario {scenario.name}, time scale {args.time_scale:g} "
            f"(at most {limit_s:.0f} s) ...",
            file=sys.stderr,
            flush=True,
        )
        ticker = asyncio.create_task(show_progress()) if sys.stderr.isatty() else None
        try:
            sim = await run_simulation(
                scenario,
                time_scale=args.time_scale,
                config=config,
                app_factory=intake_factory(profile, store) if profile is not None else None,
            )
            if ticker is not None:
                ticker.cancel()
                print(file=sys.stderr)
            print_simulation(sim, gate_lines=args.gate_lines)
            if store is not None:
                print_leads(store, sim.report.call_sid)
                sim.leads = [lead.as_dict() for lead in store.leads() if lead.call_sid == sim.report.call_sid]
        finally:
            if store is not None:
                store.close()
    if args.plot:
        from bridge.sim.plot import plot_call

        plot_call(sim.caller, sim.server_session, args.plot, f"{scenario.name}: {scenario.description}")
        print(f"\ndrew {args.plot}")
    if args.json:
        Path(args.json).write_text(json.dumps(sim.to_json(), ensure_ascii=False, indent=2), "utf-8")
        print(f"\nwrote {args.json}")
    return 0 if not sim.errors() else 1
