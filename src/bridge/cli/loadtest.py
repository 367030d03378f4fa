"""`fastgate-bridge loadtest`: ramp concurrent calls against `serve` (and the tutorial relay, same run),
or soak one load for minutes; loopback only, bounded in calls and time, stops by itself."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from bridge.load.run import STEP_EXTRA_S, LoadPlan, at_calls, run_loop, run_sync, soak


def calls_list(text: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: comma-separated numbers of calls, e.g. 25,50,100"
        ) from None
    if not steps or min(steps) < 1 or max(steps) > 5000:
        raise argparse.ArgumentTypeError("each step is 1 to 5000 calls")
    return steps


def add_loadtest(sub: argparse._SubParsersAction) -> None:
    from bridge.cli.main import positive_float

    p = sub.add_parser(
        "loadtest", help="ramp simulated calls against serve (and the tutorial relay): CPU, latency"
    )
    p.add_argument(
        "--steps",
        type=calls_list,
        default=LoadPlan().steps,
        help="calls per step (default 25,50,100,150,200)",
    )
    p.add_argument(
        "--window", type=positive_float, default=LoadPlan().window_s, help="seconds measured per step (15)"
    )
    p.add_argument(
        "--no-baseline", action="store_true", help="fastgate only (no tutorial relay in the same run)"
    )
    p.add_argument(
        "--floor",
        action="store_true",
        help="also the tutorial relay's logic on picows: the cost of forwarding alone, same run",
    )
    p.add_argument(
        "--no-pin", action="store_true", help="do not pin the server and the load to separate cores"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="also ramp fastgate with this many worker processes (not pinned), to compare with one",
    )
    p.add_argument(
        "--soak-minutes", type=positive_float, help="instead of a ramp: rounds of --calls calls this long"
    )
    p.add_argument("--calls", type=int, default=100, help="calls per soak round (default 100)")
    p.add_argument("--out-dir", default="benchmarks/results", help="where the JSON and PNG go (created)")
    p.add_argument(
        "--plot", action=argparse.BooleanOptionalAction, default=True, help="draw the PNG (matplotlib)"
    )


def loadtest(args: argparse.Namespace) -> int:
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        if args.soak_minutes:
            result = run_loop(_soak(args, work))
            path = out / "soak.json"
            path.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
            print(
                f"soak: {result['calls']} calls × {len(result['rounds'])} rounds "
                f"in {result['minutes']:g} min: "
                f"RSS growth {result['rss_growth_percent']} % after the first minute "
                f"({result['rss_growth_from_first_round_percent']} % from the first round), "
                f"idle fds {result['idle_fds_first_last']}, "
                f"frames lost {result['frames_lost']} of {result['frames_sent']}, calls dropped "
                f"{result['calls_dropped']} → {path}"
            )
            return 0 if result["frames_lost"] == 0 and result["calls_dropped"] == 0 else 1
        kinds = ("fastgate",) if args.no_baseline else ("tutorial", "fastgate")
        if args.floor:
            kinds = ("picows relay", *kinds)
        plan = LoadPlan(steps=args.steps, window_s=args.window, pin=not args.no_pin)
        result = run_sync(kinds, plan, work, print, more_workers=args.workers)
    path = out / "loadtest.json"
    path.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    print(_headline(result) + f"\n→ {path}")
    if args.plot:
        try:
            from bridge.load.chart import plot_load

            print(f"→ {plot_load(result, out / 'loadtest.png')}")
        except ImportError:
            print("(no chart: pip install 'fastgate[plot]' for matplotlib)")
    return 0


async def _soak(args: argparse.Namespace, work: str) -> dict[str, Any]:
    # at least four rounds to compare: each also settles, and waits around its window
    rounds_of = args.soak_minutes * 60 / 4 - LoadPlan.settle_s - STEP_EXTRA_S
    round_s = min(30.0, max(2.0, rounds_of))
    return await soak("fastgate", args.calls, args.soak_minutes, round_s, work, print)


def _cpu_ratios(series: dict[str, Any], name: str) -> list[str]:
    lines = []
    for calls in sorted({s["calls"] for s in series[name]["steps"]}):
        ours, theirs = at_calls(series[name], calls), at_calls(series["tutorial"], calls)
        if ours and theirs and theirs["cpu_ms_per_call_second"]:
            ratio = ours["cpu_ms_per_call_second"] / theirs["cpu_ms_per_call_second"]
            lines.append(
                f"{calls} calls: CPU per call-second {name} {ours['cpu_ms_per_call_second']} ms, "
                f"tutorial {theirs['cpu_ms_per_call_second']} ms (ratio {ratio:.2f})"
            )
    return lines


def _headline(result: dict[str, Any]) -> str:
    lines = [
        "most calls with p99 forward ≤ 10 ms, barge-in p99 ≤ 5 ms, no frame lost: "
        + ", ".join(f"{k} {v}" for k, v in result["headline"].items())
    ]
    series = {r["server"]: r for r in result["results"]}
    if "tutorial" in series:
        for name in ("fastgate", "picows relay"):
            lines += _cpu_ratios(series, name) if name in series else []
    for r in result["results"]:
        if r.get("workers", 1) > 1 and "fastgate" in result["headline"]:
            one, many = result["headline"]["fastgate"], result["headline"][r["server"]]
            scale = f" ({many / one:.2f}×)" if one else ""
            lines.append(f"{r['server']}: {many} calls, one worker {one}{scale}")
    return "\n".join(lines)
