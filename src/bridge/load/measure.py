"""What one step of a load test measured, from the lean peers' records and the server's /proc."""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bridge.load.lean_caller import LeanCaller
from bridge.load.lean_realtime import PeerConnection

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
REACTION_WINDOW = 2.0  # a clear this soon after the caller's voice is that barge-in's


def family(pid: int) -> list[int]:
    """The process and its descendants (`serve --workers N` is a parent and N workers)."""
    pids, i = [pid], 0
    while i < len(pids):
        try:
            tasks = os.listdir(f"/proc/{pids[i]}/task")
        except OSError:
            tasks = []
        for task in tasks:
            with contextlib.suppress(OSError):
                pids += [int(c) for c in Path(f"/proc/{pids[i]}/task/{task}/children").read_text().split()]
        i += 1
    return pids


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def cpu_seconds(pid: int) -> float:
    return sum(_cpu(p) for p in family(pid))


def cpu_by_process(pid: int) -> dict[int, float]:
    return {p: _cpu(p) for p in family(pid)}


def rss_kib(pid: int) -> int:
    total = 0
    for p in family(pid):
        try:
            lines = Path(f"/proc/{p}/status").read_text().splitlines()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), 0)
    return total


def open_fds(pid: int) -> int:
    return sum(len(os.listdir(f"/proc/{p}/fd")) for p in family(pid) if os.path.isdir(f"/proc/{p}/fd"))


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def ms(values: list[float]) -> dict[str, float | None]:
    def r(x: float | None) -> float | None:
        return None if x is None else round(x * 1000, 2)

    return {
        "p50": r(percentile(values, 50)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values, default=None)),
    }


@dataclass
class Step:
    calls: int
    calls_held: int  # connected and still up at the end of the window
    seconds: float
    cpu_percent: float  # of one core, over the window (every process of the server)
    busiest_process_cpu_percent: float  # the busiest one (a worker, with --workers)
    cpu_ms_per_call_second: float
    appends_per_call_second: float  # input_audio_buffer.append messages the Realtime peer received
    rss_mib: float
    rss_kib_per_call: float  # (RSS with the calls talking - RSS of the server alone) / calls
    rss_kib_per_idle_call: float  # ... every call connected, its Realtime session open, no caller audio yet
    open_fds: int
    forward_ms: dict[str, float | None]  # speech or turn-end frame sent -> its append at the Realtime peer
    forward_all_ms: dict[str, float | None]  # ... every frame, the silence long after the words too
    outbound_ms: dict[str, float | None]  # a reply's first delta sent -> its first media at the caller
    reaction_ms: dict[
        str, float | None
    ]  # speech_started -> clear at the caller (0: the AI was already paused)
    onset_to_clear_ms: dict[str, float | None]  # the caller's voice -> clear (the VAD included)
    barge_ins: int  # voice onsets over audible AI
    barge_ins_missed: int  # ... with no clear within 2 s
    frames_sent: int
    frames_lost: int  # sent but never appended
    generator_lag_ms: (
        float  # how late the callers' worst frame tick ran (> 20: the generator, not the server, is slow)
    )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def latencies(
    callers: list[LeanCaller], peers: list[PeerConnection], since: float, until: float
) -> tuple[list[float], list[float], list[float], list[float], list[float], int, int, int, int]:
    forward: list[float] = []
    forward_all: list[float] = []
    outbound: list[float] = []
    reaction: list[float] = []
    onset_clear: list[float] = []
    sent = lost = barge_ins = missed = 0
    for caller in callers:
        peer = peers[caller.connection] if caller.connection is not None else None
        appends = peer.appends if peer is not None else []
        sent += len(caller.sent)
        lost += max(0, len(caller.sent) - len(appends))
        for k in range(min(len(caller.sent), len(appends))):
            t = caller.sent[k]
            if since <= t <= until:
                forward_all.append(appends[k] - t)
                if caller.prompt[k]:
                    forward.append(appends[k] - t)
        if peer is not None:
            outbound += [
                t - peer.reply_sent[r] for r, t in caller.first_media.items() if r in peer.reply_sent
            ]
        for onset, over_ai in caller.voice_onsets:
            if not over_ai or not since <= onset <= until - REACTION_WINDOW:
                continue  # a voice in the window's last seconds has no time left to be answered
            barge_ins += 1
            clear = next((c for c in caller.clears if onset <= c <= onset + REACTION_WINDOW), None)
            if clear is None:
                missed += 1
                continue
            onset_clear.append(clear - onset)
            started = next(
                (s for s in (peer.speech_started if peer else []) if onset <= s <= onset + REACTION_WINDOW),
                None,
            )
            if started is not None:
                reaction.append(max(0.0, clear - started))
    return forward, forward_all, outbound, reaction, onset_clear, sent, lost, barge_ins, missed
