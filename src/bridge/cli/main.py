"""fastgate-bridge: serve | simulate | sim realtime | sim caller | scenarios."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

from bridge.core.config import CallConfig
from bridge.server.settings import OPENAI_WS_BASE, Settings, env

log = logging.getLogger("fastgate")


def run(main: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:  # uvloop does not build on Windows: plain asyncio then
        return asyncio.run(main)
    return uvloop.run(main)


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the call server (Twilio webhook + media websocket)")
    p.add_argument("--host", default=env("FASTGATE_HOST", "0.0.0.0"), help="bind address [FASTGATE_HOST]")
    p.add_argument(
        "--port",
        type=int,
        default=int(env("FASTGATE_PORT", env("PORT", "8080"))),
        help="HTTP port [FASTGATE_PORT, PORT] (default 8080)",
    )
    p.add_argument(
        "--realtime-url",
        default=env("OPENAI_REALTIME_URL", OPENAI_WS_BASE),
        help="Realtime websocket base URL; /realtime?model=M is appended [OPENAI_REALTIME_URL]",
    )
    p.add_argument(
        "--model",
        default=env("OPENAI_REALTIME_MODEL", "gpt-realtime"),
        help="Realtime model [OPENAI_REALTIME_MODEL]",
    )
    p.add_argument("--voice", default=env("FASTGATE_VOICE", "marin"), help="AI voice [FASTGATE_VOICE]")
    p.add_argument(
        "--instructions-file",
        default=env("FASTGATE_INSTRUCTIONS_FILE", ""),
        help="system instructions, UTF-8 text [FASTGATE_INSTRUCTIONS_FILE]",
    )
    p.add_argument(
        "--public-url",
        default=env("FASTGATE_PUBLIC_URL", ""),
        help="https://host as Twilio reaches this server (signatures, stream URL) [FASTGATE_PUBLIC_URL]",
    )
    p.add_argument(
        "--silence-ms",
        type=int,
        default=int(env("FASTGATE_SILENCE_MS", "500")),
        help="server VAD silence_duration_ms [FASTGATE_SILENCE_MS]",
    )
    p.add_argument(
        "--server-interrupt",
        action="store_true",
        default=env("FASTGATE_SERVER_INTERRUPT", "") in ("1", "true", "yes"),
        help="also let the server cancel on VAD (interrupt_response) [FASTGATE_SERVER_INTERRUPT]",
    )
    _add_intake_flags(p)
    p.add_argument(
        "--drain-seconds",
        type=float,
        default=float(env("FASTGATE_DRAIN_SECONDS", "30")),
        help="on SIGTERM, how long calls in progress may go on [FASTGATE_DRAIN_SECONDS]",
    )


def _add_intake_flags(p: argparse.ArgumentParser, db_default: str | None = None) -> None:
    p.add_argument(
        "--profile",
        default=env("FASTGATE_PROFILE", ""),
        help="business profile TOML (default: the shipped Hebrew locksmith) [FASTGATE_PROFILE]",
    )
    p.add_argument(
        "--db",
        default=env("FASTGATE_DB", db_default or "fastgate-leads.db"),
        help="SQLite file for leads [FASTGATE_DB]",
    )
    p.add_argument("--no-intake", action="store_true", help="a plain voice bridge: no tools, no leads")


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="one call through the bridge between the simulators (no API key)")
    p.add_argument("scenario", nargs="?", default="seed-barge-in", help="shipped name or .toml path")
    p.add_argument("--time-scale", type=float, default=1.0, help="0.25 plays four times faster (default 1)")
    p.add_argument("--json", metavar="FILE", help="write the timeline and figures as JSON")
    p.add_argument("--gate-lines", action="store_true", help="show the [AUDIO GATE] summaries too")
    p.add_argument("--profile", default="", help="business profile TOML (default: the shipped example)")
    p.add_argument("--db", default="", help="keep the lead in this SQLite file (default: a temporary one)")
    p.add_argument("--no-intake", action="store_true", help="no tools, no leads")


def _add_leads(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leads", help="list or export the leads")
    p.add_argument("--db", default=env("FASTGATE_DB", "fastgate-leads.db"), help="[FASTGATE_DB]")
    p.add_argument("--status", choices=["partial", "confirmed", "abandoned"])
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--out", help="write to this file instead of standard output")


def _add_sim(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="run one simulator alone, to test any bridge")
    sims = p.add_subparsers(dest="sim", required=True)
    rt = sims.add_parser("realtime", help="serve the Realtime simulator at ws://HOST:PORT/v1/realtime")
    rt.add_argument("--host", default="127.0.0.1")
    rt.add_argument("--port", type=int, default=9000)
    rt.add_argument("--scenario", help="replies and transcripts to play (default: none)")
    rt.add_argument("--time-scale", type=float, default=1.0)
    rt.add_argument("--api-key", help="accept only this bearer token (default: any)")
    caller = sims.add_parser("caller", help="place one simulated Twilio call to a bridge")
    caller.add_argument("--url", required=True, help="ws://host:port/media-stream")
    caller.add_argument("--scenario", default="seed-barge-in")
    caller.add_argument("--time-scale", type=float, default=1.0)
    caller.add_argument("--json", metavar="FILE", help="write the caller's record as JSON")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastgate-bridge", description=__doc__)
    p.add_argument("--log-level", default=env("FASTGATE_LOG_LEVEL", "INFO"), help="[FASTGATE_LOG_LEVEL]")
    sub = p.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    _add_simulate(sub)
    _add_sim(sub)
    _add_leads(sub)
    sub.add_parser("scenarios", help="list the shipped scenarios")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.command == "serve":
        return run(serve(args))
    if args.command == "simulate":
        logging.getLogger("fastgate").setLevel(logging.ERROR)  # the story is printed below
        logging.getLogger("websockets").setLevel(logging.WARNING)
        return run(simulate(args))
    if args.command == "leads":
        from bridge.cli.leads import show_leads

        return show_leads(args)
    if args.command == "scenarios":
        from bridge.sim.scenario import load_scenario, scenario_names

        for name in scenario_names():
            print(f"{name:16s} {load_scenario(name).description}")
        return 0
    return run(sim_realtime(args) if args.sim == "realtime" else sim_caller(args))


async def serve(args: argparse.Namespace) -> int:
    from bridge.server.session import BridgeServer

    instructions = Path(args.instructions_file).read_text("utf-8") if args.instructions_file else None
    call = CallConfig(
        model=args.model,
        voice=args.voice,
        silence_duration_ms=args.silence_ms,
        server_interrupt=args.server_interrupt,
    )
    intake = None if args.no_intake else _intake(args.profile, args.db)
    if intake is not None:
        call = replace(call, instructions=intake[0].render_instructions())
    if instructions:
        call = replace(call, instructions=instructions)
    settings = Settings(
        host=args.host,
        port=args.port,
        realtime_url=args.realtime_url,
        api_key=os.environ.get("OPENAI_API_KEY"),
        public_url=args.public_url or None,
        twilio_auth_token=os.environ.get("TWILIO_AUTH_TOKEN"),
        twilio_account_sid=os.environ.get("TWILIO_ACCOUNT_SID"),
        drain_seconds=args.drain_seconds,
        call=call,
        db_path=None if args.no_intake else args.db,
        profile_path=args.profile or None,
        intake=not args.no_intake,
    )
    if not settings.api_key:
        log.warning("OPENAI_API_KEY is not set: the Realtime API will refuse the calls")
    server = BridgeServer(settings, policy_factory=intake[1] if intake else None)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: no new calls; draining for up to %.0f s", settings.drain_seconds)
    await server.stop()
    return 0


async def simulate(args: argparse.Namespace) -> int:
    from bridge.cli.report import print_leads, print_simulation
    from bridge.sim.scenario import load_scenario
    from bridge.sim.simulation import run_simulation

    scenario = load_scenario(args.scenario)
    with tempfile.TemporaryDirectory() as tmp:
        intake = None if args.no_intake else _intake(args.profile, args.db or str(Path(tmp) / "leads.db"))
        config = CallConfig(instructions=intake[0].render_instructions()) if intake else None
        sim = await run_simulation(
            scenario, time_scale=args.time_scale, config=config, policy_factory=intake[1] if intake else None
        )
        print_simulation(sim, gate_lines=args.gate_lines)
        if intake is not None:
            print_leads(intake[2], sim.report.call_sid)
            sim.leads = [lead.as_dict() for lead in intake[2].leads() if lead.call_sid == sim.report.call_sid]
            intake[2].close()
    if args.json:
        Path(args.json).write_text(json.dumps(sim.to_json(), ensure_ascii=False, indent=2), "utf-8")
        print(f"\nwrote {args.json}")
    return 0 if not sim.errors() else 1


def _intake(profile_path: str, db: str):
    """(profile, policy factory, store) for lead intake."""
    from bridge.intake import intake_factory
    from bridge.intake.profile import load_profile
    from bridge.intake.store import LeadStore

    profile = load_profile(profile_path or None)
    store = LeadStore(db)
    return profile, intake_factory(profile, store), store


async def sim_realtime(args: argparse.Namespace) -> int:
    from bridge.sim.realtime_server import RealtimeSimulator
    from bridge.sim.scenario import load_scenario

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
    from bridge.sim.scenario import load_scenario
    from bridge.sim.twilio_caller import TwilioCaller

    caller = TwilioCaller(args.url, load_scenario(args.scenario), time_scale=args.time_scale)
    record = await caller.run()
    t0 = record.started_at
    for t in record.ai_onsets:
        print(f"{t - t0:8.0f} ms  starts hearing the AI")
    for t, dropped in record.clears:
        print(f"{t - t0:8.0f} ms  clear: {dropped / 8:.0f} ms of buffered audio dropped")
    for start, end, text in record.utterances:
        print(f"{start - t0:8.0f} ms  says {text!r} until {end - t0:.0f} ms")
    heard = sum(len(c) for _, c in record.heard) / 8
    print(f"heard {heard:.0f} ms of AI audio in {record.duration_ms:.0f} ms; call ended by {record.ended_by}")
    if args.json:
        Path(args.json).write_text(json.dumps(record.to_json(), ensure_ascii=False, indent=2), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
