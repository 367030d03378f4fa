"""A picture of one simulated call: what the caller said and heard on one time axis, with the barge-in
markers (speech_started, clear, response.cancel, truncate, marks) and the transcript lines.

Drawn only from the two simulators' records, like the grading, so it works for any bridge. Needs
matplotlib (`pip install "fastgate[plot]"`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastgate
from bridge.sim.realtime_server import SimSession
from bridge.sim.twilio_caller import CallerRecord
from fastgate import FRAME_BYTES, FRAME_MS


def _envelope(pieces: list[tuple[float, bytes]], end_ms: float) -> tuple[list[float], list[float]]:
    """RMS per 20 ms slot of the call, zero where nothing played (so gaps show as gaps)."""
    levels = [0.0] * (int(end_ms // FRAME_MS) + 2)
    for t, chunk in pieces:
        for i in range(0, len(chunk) - FRAME_BYTES + 1, FRAME_BYTES):
            slot = int((t + i / 8) // FRAME_MS)
            if 0 <= slot < len(levels):
                levels[slot] = max(levels[slot], fastgate.rms_ulaw(chunk[i : i + FRAME_BYTES]))
    return [k * FRAME_MS / 1000 for k in range(len(levels))], levels


def _events(session: SimSession | None, direction: str, kind: str) -> list[tuple[float, dict[str, Any]]]:
    if session is None:
        return []
    return [(r.t_ms, r.event) for r in session.record if r.direction == direction and r.event["type"] == kind]


def plot_call(caller: CallerRecord, session: SimSession | None, path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (said, heard) = plt.subplots(2, 1, sharex=True, figsize=(13, 5.5), height_ratios=(1, 1))
    said_pieces = [(caller.started_at + k * FRAME_MS, frame) for k, frame in enumerate(caller.sent)]
    end_ms = max([t for t, _ in said_pieces] + [t + len(c) / 8 for t, c in caller.heard] + [0.0])
    t, level = _envelope(said_pieces, end_ms)
    said.fill_between(t, level, color="tab:blue", alpha=0.6, step="post", label="caller's audio (RMS)")
    t, level = _envelope(caller.heard, end_ms)
    heard.fill_between(
        t, level, color="tab:orange", alpha=0.7, step="post", label="AI audio the caller heard"
    )
    top = max([*level, 1]) * 1.35
    for start, _end, text in caller.utterances:
        said.annotate(text[:60], (start / 1000, 0), xytext=(2, 42), textcoords="offset points", fontsize=8)
    markers: list[tuple[list[tuple[float, dict[str, Any]]], str, str]] = [
        (_events(session, "out", "input_audio_buffer.speech_started"), "tab:green", "speech_started"),
        ([(ms, {}) for ms, _ in caller.clears], "tab:red", "Twilio clear"),
        (_events(session, "in", "response.cancel"), "black", "response.cancel"),
    ]
    for events, color, label in markers:
        for n, (ms, _event) in enumerate(events):
            for ax in (said, heard):
                ax.axvline(
                    ms / 1000, color=color, lw=1.2, ls="--", label=label if n == 0 and ax is heard else None
                )
    for ms, event in _events(session, "in", "conversation.item.truncate"):
        heard.annotate(
            f"truncate at {event.get('audio_end_ms')} ms",
            (ms / 1000, top * 0.8),
            fontsize=8,
            color="purple",
            rotation=90,
            va="top",
        )
    for ms, _name, _by_clear in caller.marks_echoed:
        heard.plot(ms / 1000, top * 0.95, marker="|", color="grey", ms=6)
    for ms, event in _events(session, "out", "response.output_audio_transcript.done"):
        heard.annotate(str(event.get("transcript", ""))[:60], (ms / 1000, top * 0.6), fontsize=8, ha="right")
    said.set_ylabel("caller")
    heard.set_ylabel("heard")
    heard.set_ylim(0, top)
    heard.set_xlabel("call time (s); grey ticks: marks echoed back")
    said.set_title(title or f"call {caller.call_sid}")
    heard.legend(loc="upper left", fontsize=8, ncols=4)
    said.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
