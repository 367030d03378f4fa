"""`fastgate-bridge check`: grade any Twilio <-> Realtime bridge on barge-in, with the simulators.

The bridge under test is started from a command line (or already running): it takes calls from the
simulated Twilio caller and talks to the simulated Realtime server, and every check is graded from
what those two saw (bridge/sim/grading.py). Loopback only; each call is bounded by its scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bridge.cli.sim import pairs
from bridge.sim.clock import ScaledClock
from bridge.sim.grading import Check, grade, summary
from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import ScenarioError, load_scenario
from bridge.sim.twilio_caller import TwilioCaller

SUITE = ("seed-barge-in", "double-barge-in", "barge-in-before-audio", "noise-only", "happy-path")
START_TIMEOUT_S = 30.0


def add_check(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="grade any bridge on barge-in with the simulators (PASS/FAIL)")
    p.add_argument(
        "--bridge-cmd",
        help="the bridge's command line; placeholders {port} (its listen port), {rt_url} (the Realtime "
        "simulator's base URL, ws://127.0.0.1:Q/v1) and {host}. Example: \"fastgate-bridge serve "
        '--host {host} --port {port} --realtime-url {rt_url} --no-intake"',
    )
    p.add_argument("--bridge-url", help="a bridge already running: its ws://host:port/media-stream")
    p.add_argument(
        "--realtime-port", type=int, default=0, help="the Realtime simulator's port (with --bridge-url)"
    )
    p.add_argument("--scenario", action="append", help=f"repeatable (default: {', '.join(SUITE)})")
    p.add_argument("--time-scale", type=float, default=1.0, help="0.5 plays twice as fast (default 1)")
    p.add_argument(
        "--header", action="append", default=[], help="NAME:VALUE sent with the caller's handshake"
    )
    p.add_argument("--json", metavar="FILE", help="write every check and figure as JSON")
    p.add_argument("--plot", metavar="DIR", help="draw each call as DIR/SCENARIO.png (needs matplotlib)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_listening(port: int, proc: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(
                    f"the bridge exited with status {proc.returncode} before listening"
                ) from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on port {port} after {START_TIMEOUT_S:.0f} s") from None
            await asyncio.sleep(0.1)


async def run_check(args: argparse.Namespace) -> tuple[list[dict[str, Any]], bool]:
    names = args.scenario or list(SUITE)
    scenarios = [load_scenario(n) for n in names]
    headers = pairs(args.header, ":")
    clock = ScaledClock(args.time_scale)
    results: list[dict[str, Any]] = []
    async with RealtimeSimulator(None, port=args.realtime_port, clock=clock) as sim:
        proc = None
        if args.bridge_cmd:
            port = _free_port()
            cmd = args.bridge_cmd.format(port=port, rt_url=sim.base_url, host="127.0.0.1")
            env = {"OPENAI_API_KEY": "fastgate-check", **os.environ}  # the simulator takes any bearer token
            proc = subprocess.Popen(
                shlex.split(cmd), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            url = f"ws://127.0.0.1:{port}/media-stream"
        else:
            url = args.bridge_url
            port = int(url.split(":")[2].split("/")[0])
        try:
            await _wait_listening(port, proc)
            for scenario in scenarios:
                sim.scenario = scenario
                before = len(sim.sessions)
                caller = TwilioCaller(url, scenario, headers=headers, clock=clock)
                limit = scenario.caller.max_ms / 1000 * args.time_scale + 30
                record = await asyncio.wait_for(caller.run(), limit)
                if len(sim.sessions) == before:
                    checks: list[Check] = [("the bridge opened a Realtime session", False, "none was opened")]
                else:
                    session = sim.sessions[-1]
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(session.closed.wait(), 3 * max(args.time_scale, 0.5))
                    checks = grade(scenario, record, session)
                    if args.plot:
                        from bridge.sim.plot import plot_call

                        plot_call(record, session, Path(args.plot) / f"{scenario.name}.png", scenario.name)
                results.append(
                    {
                        "scenario": scenario.name,
                        "checks": [{"check": c, "pass": ok, "detail": d} for c, ok, d in checks],
                    }
                )
                print_scenario(scenario.name, checks)
        finally:
            if proc is not None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)
    every = [(c["check"], c["pass"], c["detail"]) for r in results for c in r["checks"]]
    passed, total, failed = summary(every)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"bridge": args.bridge_cmd or url, "results": results}, indent=2), "utf-8"
        )
    last = (
        f"PASS {passed}/{total}" if not failed else f"FAIL {passed}/{total}: {'; '.join(sorted(set(failed)))}"
    )
    print(last)
    return results, not failed


def print_scenario(name: str, checks: list[Check]) -> None:
    print(f"\n{name}")
    for check, ok, detail in checks:
        print(f"  {'pass' if ok else 'FAIL'}  {check:<52s} {detail}")
    sys.stdout.flush()


async def check(args: argparse.Namespace) -> int:
    if bool(args.bridge_cmd) == bool(args.bridge_url):
        print("fastgate-bridge check: give exactly one of --bridge-cmd or --bridge-url", file=sys.stderr)
        return 2
    if args.plot:
        from bridge.cli.simulate import plot_available

        if not plot_available():
            print(
                'fastgate-bridge check: --plot needs matplotlib: pip install "fastgate[plot]"',
                file=sys.stderr,
            )
            return 2
        Path(args.plot).mkdir(parents=True, exist_ok=True)
    try:
        _results, ok = await run_check(args)
    except (ScenarioError, RuntimeError, OSError, ValueError) as exc:
        print(f"fastgate-bridge check: {exc}", file=sys.stderr)
        return 2
    return 0 if ok else 1
