"""The load test: servers under test, each in its own process, ramped through steps of concurrent calls.

Each step opens N lean callers against a server (which talks to its own lean Realtime peer), lets
them settle, measures for a window, then hangs them all up; every server takes each step in turn. The
servers are pinned to one core and the load generator to another where the OS allows, so the figures
are the server's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import random
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

from bridge.load.lean_caller import LeanCaller, Metronome, speech_frames
from bridge.load.lean_realtime import LeanRealtime
from bridge.load.measure import Step, cpu_by_process, latencies, ms, open_fds, rss_kib

T = TypeVar("T")
CYCLE_MS = 9000  # each caller interrupts the AI once per cycle (the measurement)
SPEAK_AT_MS = 6000
SPEECH_MS = 1500
IDLE_S = 1.0  # after the calls connect and before their audio starts: RSS per idle call
LAST_FRAMES_S = 0.5  # after the window: the last frames reach the peer
LET_GO_S = 1.0  # after the hang-ups: the server lets the calls go
STEP_EXTRA_S = IDLE_S + LAST_FRAMES_S + LET_GO_S  # a step's time beyond settling and its window


@dataclass(frozen=True)
class LoadPlan:
    steps: tuple[int, ...] = (25, 50, 100, 150, 200)
    window_s: float = 15.0  # measured per step, after the calls settle
    settle_s: float = 2.0
    pin: bool = True
    workers: int = 1  # fastgate's --workers (more than 1: not pinned, the workers share the cores)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


RELAYS = {  # the baselines: the tutorial's pattern, and the same on picows (the floor of forwarding)
    "tutorial": "bridge.load.tutorial_relay",
    "picows relay": "bridge.load.picows_relay",
}


def server_command(kind: str, port: int, realtime_url: str, db: str, workers: int = 1) -> list[str]:
    if kind in RELAYS:
        return [sys.executable, "-m", RELAYS[kind], str(port), realtime_url]
    return [
        sys.executable, "-m", "bridge.cli", "--log-level", "WARNING", "serve",
        "--host", "127.0.0.1", "--port", str(port), "--realtime-url", realtime_url,
        "--db", db, "--no-intake", "--max-calls", "100000", "--workers", str(workers),
    ]  # fmt: skip


def machine() -> dict[str, Any]:
    try:
        lines = Path("/proc/cpuinfo").read_text("utf-8").splitlines()
    except OSError:
        lines = []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _pin(pid: int, core: int) -> bool:
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        return False
    os.sched_setaffinity(pid, {core})
    return True


def wait_listening(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server under test did not start (exit {proc.poll()})") from None
            time.sleep(0.1)


def voices() -> tuple[bytes, list[str]]:
    audio = files("bridge.sim") / "audio"
    ai = (audio / "ai_readback.ulaw").read_bytes()
    caller = (audio / "caller_no_city.ulaw").read_bytes()[: SPEECH_MS * 8]
    return ai, speech_frames(caller)


@dataclass
class UnderTest:
    """The server process under test, the lean Realtime peer it talks to, and what the callers need."""

    kind: str
    proc: subprocess.Popen[bytes]
    peer: LeanRealtime
    url: str
    speech: list[str]
    pinned: bool


@contextlib.asynccontextmanager
async def server_under_test(
    kind: str, workdir: str, *, pin: bool = True, workers: int = 1
) -> AsyncIterator[UnderTest]:
    ai, speech = voices()
    peer = LeanRealtime(ai)
    await peer.start()
    port = free_port()
    proc = subprocess.Popen(
        server_command(kind, port, peer.base_url, os.path.join(workdir, f"{kind}.db"), workers),
        env={**os.environ, "OPENAI_API_KEY": "k"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pinned = pin and workers == 1 and _pin(proc.pid, 0) and _pin(0, 1)
    try:
        wait_listening(proc, port)
        yield UnderTest(kind, proc, peer, f"ws://127.0.0.1:{port}/media-stream", speech, pinned)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        await peer.stop()


@dataclass
class Series:
    """One server's ramp: its process, its steps so far, and whether it has saturated (then it rests)."""

    name: str
    plan: LoadPlan
    server: UnderTest
    idle_rss: int
    steps: list[dict[str, Any]]
    done: bool = False

    def result(self) -> dict[str, Any]:
        return {
            "server": self.name,
            "workers": self.plan.workers,
            "pinned": self.server.pinned,
            "steps": self.steps,
        }


async def run_servers(
    plans: list[tuple[str, LoadPlan]], workdir: str, progress: Callable[[str], None] = lambda _: None
) -> list[dict[str, Any]]:
    """Every server up at once (the idle ones cost nothing), and each step run against each in turn,
    the order rotating: a shared machine's drift over minutes then weighs on every server alike, not
    on whichever ramp ran last. A server rests after the first step that saturates it."""
    async with contextlib.AsyncExitStack() as stack:
        series: list[Series] = []
        for kind, plan in plans:
            server = await stack.enter_async_context(
                server_under_test(kind, workdir, pin=plan.pin, workers=plan.workers)
            )
            if plan.workers > 1:
                await _wait_for_workers(server.proc.pid, plan.workers)
            name = series_name(kind, plan.workers)
            series.append(Series(name, plan, server, rss_kib(server.proc.pid), []))
        steps = sorted({n for _, plan in plans for n in plan.steps})
        for index, n in enumerate(steps):
            turn = index % len(series)
            for one in series[turn:] + series[:turn]:
                if one.done or n not in one.plan.steps:
                    continue
                step = await _step(n, one.plan, one.server, one.idle_rss)
                one.steps.append(step.as_dict())
                progress(_summary(one.name, step))
                one.done = _failed(step)
                one.idle_rss = rss_kib(one.server.proc.pid)
        return [one.result() for one in series]


def series_name(kind: str, workers: int) -> str:
    return kind if workers == 1 else f"{kind} ×{workers} workers"


async def _wait_for_workers(pid: int, workers: int) -> None:
    for _ in range(100):
        if len(cpu_by_process(pid)) > workers:
            await asyncio.sleep(1.0)  # each worker binds its socket
            return
        await asyncio.sleep(0.1)


async def _step(n: int, plan: LoadPlan, server: UnderTest, idle_rss: int) -> Step:
    url, peer, speech, pid = server.url, server.peer, server.speech, server.proc.pid
    rng = random.Random(n)
    callers = [
        LeanCaller(
            i,
            url,
            speech,
            cycle_ms=CYCLE_MS,
            speak_at_ms=SPEAK_AT_MS,
            phase_ms=rng.randrange(0, CYCLE_MS, 20),
        )
        for i in range(n)
    ]
    for i in range(0, n, 25):  # open in small batches, as calls arrive
        await asyncio.gather(*(c.open() for c in callers[i : i + 25]))
    await asyncio.sleep(IDLE_S)  # the server opens each call's Realtime session
    rss_idle_calls = rss_kib(pid)
    metronome = Metronome(callers)
    metronome.start()
    try:
        await asyncio.sleep(plan.settle_s)
        metronome.lag = 0.0
        since, cpu0, appends0 = time.perf_counter(), cpu_by_process(pid), _append_messages(peer)
        await asyncio.sleep(plan.window_s)
        until, cpu1, appends1 = time.perf_counter(), cpu_by_process(pid), _append_messages(peer)
        rss, fds = rss_kib(pid), open_fds(pid)
        held = sum(not c.closed for c in callers)
    finally:
        await metronome.stop()
    await asyncio.sleep(LAST_FRAMES_S)
    await asyncio.gather(*(c.close() for c in callers), return_exceptions=True)
    await asyncio.sleep(LET_GO_S)
    forward, forward_all, outbound, reaction, onset_clear, sent, lost, barge_ins, missed = latencies(
        callers, peer.connections, since, until
    )
    wall = until - since
    used = {p: cpu1[p] - cpu0.get(p, 0.0) for p in cpu1}
    cpu = sum(used.values())
    return Step(
        calls=n,
        calls_held=held,
        seconds=round(wall, 2),
        cpu_percent=round(cpu / wall * 100, 1),
        busiest_process_cpu_percent=round(max(used.values(), default=0.0) / wall * 100, 1),
        cpu_ms_per_call_second=round(cpu * 1000 / (wall * n), 3),
        appends_per_call_second=round((appends1 - appends0) / (wall * n), 1),
        rss_mib=round(rss / 1024, 1),
        rss_kib_per_call=round((rss - idle_rss) / n, 1),
        rss_kib_per_idle_call=round((rss_idle_calls - idle_rss) / n, 1),
        open_fds=fds,
        forward_ms=ms(forward),
        forward_all_ms=ms(forward_all),
        outbound_ms=ms(outbound),
        reaction_ms=ms(reaction),
        onset_to_clear_ms=ms(onset_clear),
        barge_ins=barge_ins,
        barge_ins_missed=missed,
        frames_sent=sent,
        frames_lost=lost,
        generator_lag_ms=round(metronome.lag * 1000, 1),
    )


def _append_messages(peer: LeanRealtime) -> int:
    return sum(c.append_messages for c in peer.connections)


def _failed(step: Step) -> bool:
    p99 = step.forward_ms["p99"]
    saturated = step.busiest_process_cpu_percent > 97
    return saturated or (p99 is not None and p99 > 200) or step.calls_held < step.calls


def _summary(kind: str, s: Step) -> str:
    return (
        f"{kind:9} {s.calls:5} calls  CPU {s.cpu_percent:5.1f} %  {s.cpu_ms_per_call_second:6.2f} ms/call-s  "
        f"appends {s.appends_per_call_second}/call-s  "
        f"RSS {s.rss_mib:6.1f} MiB (KiB per call {s.rss_kib_per_idle_call:6.1f} idle, "
        f"{s.rss_kib_per_call:6.1f} talking)  "
        f"forward p99 {s.forward_ms['p99']} ms  barge-in p99 {s.reaction_ms['p99']} ms  "
        f"lost {s.frames_lost}  lag {s.generator_lag_ms} ms"
    )


def headline(result: dict[str, Any], forward_ms: float = 10.0, reaction_ms: float = 5.0) -> int:
    """The most calls held with p99 forward and barge-in reaction within bounds and no frame lost, at
    that step and every step below it (a noisy pass above a failed step does not count)."""
    best = 0
    for s in sorted(result["steps"], key=lambda step: step["calls"]):
        fwd, react = s["forward_ms"]["p99"], s["reaction_ms"]["p99"]
        ok = (
            s["calls_held"] == s["calls"]
            and s["frames_lost"] == 0
            and s["barge_ins_missed"] == 0
            and fwd is not None
            and fwd <= forward_ms
            and (react is None or react <= reaction_ms)
        )
        if not ok:
            break
        best = s["calls"]
    return best


def at_calls(result: dict[str, Any], calls: int) -> dict[str, Any] | None:
    return next((s for s in result["steps"] if s["calls"] == calls), None)


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def run_sync(
    kinds: tuple[str, ...],
    plan: LoadPlan,
    workdir: str,
    progress: Callable[[str], None],
    more_workers: int = 1,
) -> dict[str, Any]:
    """Each kind with the plan; with more_workers > 1, fastgate again with that many workers, same run."""
    plans = [(kind, plan) for kind in kinds]
    if more_workers > 1:
        plans.append(("fastgate", replace(plan, workers=more_workers)))
    results = run_loop(run_servers(plans, workdir, progress))
    return {
        "machine": machine(),
        "plan": {"steps": list(plan.steps), "window_s": plan.window_s, "cycle_ms": CYCLE_MS},
        "results": results,
        "headline": {r["server"]: headline(r) for r in results},
    }


async def soak(
    kind: str, calls: int, minutes: float, round_s: float, workdir: str, progress: Callable[[str], None]
) -> dict[str, Any]:
    """Rounds of `calls` fresh calls for `minutes`: does memory grow, do descriptors leak, is a frame lost?"""
    plan = LoadPlan(window_s=round_s)
    rounds: list[dict[str, Any]] = []
    async with server_under_test(kind, workdir) as server:
        pid = server.proc.pid
        idle_fds, idle_rss = open_fds(pid), rss_kib(pid)
        began = time.monotonic()
        while time.monotonic() < began + minutes * 60:
            step = await _step(calls, plan, server, idle_rss)
            round_ = {
                **step.as_dict(),
                "idle_fds_after": open_fds(pid),
                "at_s": round(time.monotonic() - began),
            }
            rounds.append(round_)
            progress(f"soak round {len(rounds)}: {_summary(kind, step)}  idle fds {round_['idle_fds_after']}")
    return {
        "server": kind,
        "calls": calls,
        "minutes": minutes,
        "idle_fds_before": idle_fds,
        **soak_summary(rounds),
    }


WARM_UP_S = 60  # allocator arenas and caches fill in the first minute; growth is measured after it


def soak_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    first, last = rounds[0], rounds[-1]
    warm = next((r for r in rounds if r["at_s"] >= WARM_UP_S), first) if len(rounds) > 2 else first

    def growth(since: dict[str, Any]) -> float:
        return round((last["rss_mib"] - since["rss_mib"]) / since["rss_mib"] * 100, 2)

    return {
        "rounds": rounds,
        "rss_growth_percent": growth(warm),  # after the first minute
        "rss_growth_from_first_round_percent": growth(first),
        "idle_fds_first_last": [first["idle_fds_after"], last["idle_fds_after"]],
        "frames_lost": sum(r["frames_lost"] for r in rounds),
        "frames_sent": sum(r["frames_sent"] for r in rounds),
        "calls_dropped": sum(r["calls"] - r["calls_held"] for r in rounds),
        "machine": machine(),
    }
