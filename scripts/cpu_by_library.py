#!/usr/bin/env python3
"""Where each server's CPU goes under the load test: kernel, the Python interpreter, each native library.

For each server (fastgate, the tutorial relay, the picows relay), in turn and in the same run: one
load-test step of N calls, with Linux `perf record` attached to the server process for the measured
window; then the share of the samples per shared object, given as ms of CPU per call-second (the
step's own CPU figure split by those shares). Needs `perf` (Debian: linux-perf) and permission to
trace the process (root, or kernel.perf_event_paranoid <= 1).

    python scripts/cpu_by_library.py --calls 300 --window 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict

from bridge.load.run import LoadPlan, _step, run_loop, server_under_test

KINDS = ("fastgate", "tutorial", "picows relay")


def shares(perf_data: str) -> dict[str, float]:
    report = subprocess.run(
        ["perf", "report", "-i", perf_data, "--sort", "dso", "--stdio"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return parse_report(report)


def parse_report(report: str) -> dict[str, float]:
    """Percent of samples per library, from what `perf report --sort dso --stdio` prints."""
    result: dict[str, float] = defaultdict(float)
    for line in report.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0].endswith("%"):
            result[group(fields[1])] += float(fields[0][:-1])
    return dict(result)


def group(dso: str) -> str:
    if dso.startswith("[kernel"):
        return "kernel"
    if dso.startswith("libpython"):
        return "Python interpreter"
    return dso.split(".")[0]  # picows.cpython-311-… -> picows


async def measure(kinds: tuple[str, ...], calls: int, window: float, workdir: str) -> None:
    plan = LoadPlan(window_s=window + 2)
    for kind in kinds:
        async with server_under_test(kind, workdir) as server:
            data = os.path.join(workdir, f"{kind}.perf".replace(" ", "-"))
            record = ["perf", "record", "-q", "-F", "999", "-p", str(server.proc.pid), "-o", data]

            async def attach(record: list[str] = record) -> subprocess.Popen[bytes]:
                await asyncio.sleep(plan.settle_s + 1)  # inside the measured window
                return subprocess.Popen(
                    [*record, "--", "sleep", str(window)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )

            perf = asyncio.ensure_future(attach())
            step = await _step(calls, plan, server, 0)
            (await perf).wait()
        total = step.cpu_ms_per_call_second
        print(f"\n{kind}: {total:.2f} ms CPU per call-second at {calls} calls")
        for name, percent in sorted(shares(data).items(), key=lambda kv: -kv[1])[:8]:
            print(f"  {percent:5.1f} %  {total * percent / 100:5.2f} ms  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--window", type=float, default=10.0, help="seconds recorded per server")
    parser.add_argument("--servers", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    args = parser.parse_args()
    if shutil.which("perf") is None:
        sys.exit("needs Linux perf (Debian: apt-get install linux-perf)")
    kinds = tuple(k.strip() for k in args.servers.split(","))
    with tempfile.TemporaryDirectory() as workdir:
        run_loop(measure(kinds, args.calls, args.window, workdir))


if __name__ == "__main__":
    main()
