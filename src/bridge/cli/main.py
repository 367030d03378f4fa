"""fastgate-bridge: serve | simulate | check | loadtest | sim realtime | sim caller | leads | scenarios."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Coroutine
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from picows import PICOWS_DEBUG_LL

from bridge.server import logsafety
from bridge.server.settings import OPENAI_WS_BASE, SERVE_OPTIONS, add_options, load_settings

log = logging.getLogger("fastgate")

LOG_LEVEL = next(option for option in SERVE_OPTIONS if option.target == "log_level")


def run(main: Coroutine[Any, Any, int]) -> int:
    try:
        import uvloop
    except ImportError:  # uvloop does not build on Windows: plain asyncio then
        return asyncio.run(main)
    return uvloop.run(main)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
    return value


def writable_file(text: str) -> str:
    """An output path whose folder exists: checked before the call runs, not after."""
    folder = os.path.dirname(os.path.abspath(text))
    if not os.path.isdir(folder):
        raise argparse.ArgumentTypeError(f"the folder {folder} does not exist")
    return text


def _package_version() -> str:
    try:
        return version("fastgate")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the call server (Twilio webhook + media websocket)")
    add_options(p)


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="one call through the bridge between the simulators (no API key)")
    p.add_argument("scenario", nargs="?", default="seed-barge-in", help="shipped name or .toml path")
    p.add_argument(
        "--time-scale", type=positive_float, default=1.0, help="0.25 plays four times faster (default 1)"
    )
    p.add_argument(
        "--json", metavar="FILE", type=writable_file, help="write the timeline and figures as JSON"
    )
    p.add_argument("--plot", metavar="PNG", type=writable_file, help="draw the call (needs matplotlib)")
    p.add_argument("--gate-lines", action="store_true", help="show the [AUDIO GATE] summaries too")
    p.add_argument("--profile", default="", help="business profile TOML (default: the shipped example)")
    p.add_argument("--db", default="", help="keep the lead in this SQLite file (default: a temporary one)")
    p.add_argument("--no-intake", action="store_true", help="no tools, no leads")


def _add_leads(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("leads", help="list or export the leads")
    p.add_argument("--db", default=os.environ.get("FASTGATE_DB", "fastgate-leads.db"), help="[FASTGATE_DB]")
    p.add_argument("--status", choices=["partial", "confirmed", "abandoned"])
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--out", type=writable_file, help="write to this file instead of standard output")


def _add_sim(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sim", help="run one simulator alone, to test any bridge")
    sims = p.add_subparsers(dest="sim", required=True)
    rt = sims.add_parser("realtime", help="serve the Realtime simulator at ws://HOST:PORT/v1/realtime")
    rt.add_argument("--host", default="127.0.0.1")
    rt.add_argument("--port", type=int, default=9000)
    rt.add_argument("--scenario", help="replies and transcripts to play (default: none)")
    rt.add_argument("--time-scale", type=positive_float, default=1.0)
    rt.add_argument("--api-key", help="accept only this bearer token (default: any)")
    caller = sims.add_parser("caller", help="place one simulated Twilio call to a bridge")
    caller.add_argument("--url", required=True, help="ws://host:port/media-stream")
    caller.add_argument("--scenario", default="seed-barge-in")
    caller.add_argument("--time-scale", type=positive_float, default=1.0)
    caller.add_argument("--header", action="append", help="NAME:VALUE sent with the websocket handshake")
    caller.add_argument("--param", action="append", help="NAME=VALUE in the start message's customParameters")
    caller.add_argument(
        "--json", metavar="FILE", type=writable_file, help="write the caller's record as JSON"
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastgate-bridge", description=__doc__)
    p.add_argument("--version", action="version", version=f"%(prog)s {_package_version()}")
    p.add_argument("--log-level", dest="top_log_level", help="[FASTGATE_LOG_LEVEL] (default: INFO)")
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = p.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    _add_simulate(sub)
    _add_sim(sub)
    _add_leads(sub)
    from bridge.cli.check import add_check
    from bridge.cli.loadtest import add_loadtest

    add_check(sub)
    add_loadtest(sub)
    sub.add_parser("scenarios", help="list the shipped scenarios")
    for command in sub.choices.values():
        _accept_log_level(command)
    return p


def _accept_log_level(command: argparse.ArgumentParser) -> None:
    """`--log-level` after the command as well as before it (serve declares its own)."""
    if any("--log-level" in action.option_strings for action in command._actions):
        return
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for nested in action.choices.values():
                _accept_log_level(nested)
            return
    command.add_argument("--log-level", dest="log_level", help="as before the command")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what a worker process is started with
    if args.debug:
        return _main(args)
    try:
        return _main(args)
    except KeyboardInterrupt:
        print(f"fastgate-bridge {args.command}: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, sqlite3.Error) as exc:
        print(f"fastgate-bridge {args.command}: {_explain(exc, args)} (--debug shows where)", file=sys.stderr)
        return 2
    except Exception as exc:
        if not type(exc).__module__.startswith("psycopg"):  # PostgreSQL refused or unreachable
            raise
        print(f"fastgate-bridge {args.command}: PostgreSQL: {exc} (--debug shows where)", file=sys.stderr)
        return 2


def _explain(exc: BaseException, args: argparse.Namespace) -> str:
    if isinstance(exc, sqlite3.DatabaseError) and getattr(args, "db", None):
        return f"{args.db}: {exc}"
    if isinstance(exc, ConnectionRefusedError) and getattr(args, "url", None):
        return f"nothing listens at {args.url}: start the bridge first"
    return str(exc) or type(exc).__name__


def _quiet_libraries() -> None:
    logging.getLogger("fastgate").setLevel(logging.ERROR)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    logging.getLogger("picows").setLevel(logging.WARNING)


def _main(args: argparse.Namespace) -> int:
    if getattr(args, "log_level", None) is None:  # `--log-level` before the command, or none
        args.log_level = args.top_log_level
    try:
        level = load_settings(args, options=(LOG_LEVEL,)).log_level.upper()
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        if level == "DEBUG":  # picows logs its handshakes (headers and all, redacted below) a level lower
            logging.getLogger("picows").setLevel(PICOWS_DEBUG_LL)
        logsafety.install([os.environ.get("OPENAI_API_KEY"), os.environ.get("TWILIO_AUTH_TOKEN")])
    except ValueError as exc:
        print(f"fastgate-bridge: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve_or_supervise(args)
    if args.command == "simulate":
        from bridge.cli.simulate import simulate

        _quiet_libraries()  # the story is printed below
        return run(simulate(args))
    if args.command == "check":
        from bridge.cli.check import check

        _quiet_libraries()  # the grades are printed below
        return run(check(args))
    if args.command == "loadtest":
        from bridge.cli.loadtest import loadtest

        _quiet_libraries()
        return loadtest(args)
    if args.command == "leads":
        from bridge.cli.leads import show_leads

        return show_leads(args)
    if args.command == "scenarios":
        from bridge.sim.scenario import load_scenario, scenario_names

        for name in scenario_names():
            print(f"{name:16s} {load_scenario(name).description}")
        return 0
    from bridge.cli.sim import sim_caller, sim_realtime

    return run(sim_realtime(args) if args.sim == "realtime" else sim_caller(args))


def _serve_or_supervise(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args)
    except (ValueError, OSError) as exc:
        print(f"fastgate-bridge serve: {exc}", file=sys.stderr)
        return 2
    if settings.workers > 1 and "FASTGATE_WORKER" not in os.environ:
        from bridge.server.workers import supervise

        return supervise(args.argv, settings.workers, settings.drain_seconds)
    return run(serve(args))


async def serve(args: argparse.Namespace) -> int:
    from bridge.server.app import BridgeServer

    try:
        settings = load_settings(args)
    except (ValueError, OSError) as exc:
        print(f"fastgate-bridge serve: {exc}", file=sys.stderr)
        return 2
    logging.getLogger().setLevel(settings.log_level)
    logsafety.install([settings.api_key, settings.twilio_auth_token], show_numbers=settings.log_phone_numbers)
    if not settings.api_key:
        log.warning("OPENAI_API_KEY is not set: the Realtime API will refuse the calls")
    if settings.realtime_url != OPENAI_WS_BASE:
        log.info("Realtime API at %s (not OpenAI's)", settings.realtime_url)
    server = BridgeServer.for_settings(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # before the port opens: a SIGTERM then still drains
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    # What startup built (modules, classes, routes, the voice model) lives as long as the process: out
    # of the collector's sight, a full collection scans only the calls' objects, and pauses the loop
    # (and every call's audio) for proportionally less.
    gc.collect()
    gc.freeze()
    log.debug("%d startup objects kept out of the garbage collector's full scans", gc.get_freeze_count())
    await stop.wait()
    log.info("shutting down: no new calls; draining for up to %.0f s", settings.drain_seconds)
    await server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
