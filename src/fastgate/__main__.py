"""`python -m fastgate [FILE.ulaw]`: run a speech fixture through the Gate and print its timeline."""

from __future__ import annotations

import argparse
from importlib.resources import files
from pathlib import Path

from fastgate import FRAME_BYTES, FRAME_MS, Framer, Gate


def gate_timeline(audio: bytes, gate: Gate) -> list[tuple[int, str, int]]:
    """(ms, "open"/"close", rms) for every change of the gate's state."""
    events: list[tuple[int, str, int]] = []
    framer = Framer(FRAME_BYTES)
    frames = framer.push(audio)
    tail = framer.flush()
    if tail is not None:
        frames.append(tail)
    was_open = False
    for index, frame in enumerate(frames):
        gate.process(frame)
        if gate.is_open != was_open:
            events.append((index * FRAME_MS, "open" if gate.is_open else "close", gate.last_rms))
            was_open = gate.is_open
    return events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("audio", nargs="?", help="raw 8 kHz mu-law file (default: a Hebrew speech fixture)")
    args = parser.parse_args()
    fixtures = files("bridge.sim") / "audio"
    speech = Path(args.audio).read_bytes() if args.audio else (fixtures / "caller_no_city.ulaw").read_bytes()
    noise = (fixtures / "noise_rms100.ulaw").read_bytes()
    audio = noise[:8000] + speech + noise[:8000]
    gate = Gate()
    print(f"1 s line noise (RMS≈100) + {len(speech) / 8000:.2f} s speech + 1 s noise, {FRAME_MS} ms frames")
    for ms, what, rms in gate_timeline(audio, gate):
        print(f"{ms:6d} ms  gate {what:5s}  rms {rms}")
    print(f"passed {gate.passed}  blocked {gate.blocked}  noise floor {gate.noise_floor:.1f}")


if __name__ == "__main__":
    main()
