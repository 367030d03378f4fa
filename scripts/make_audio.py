#!/usr/bin/env python3
"""Regenerate the committed Hebrew speech and noise fixtures (8 kHz mono mu-law, raw).

Speech: Debian's espeak-ng (voice he) rendered to WAV, then sox to 8 kHz mu-law.
Noise: seeded Gaussian noise at a measured int16 RMS, encoded with fastgate.
Run from the repository root after `pip install .`:  python scripts/make_audio.py
It writes the fixtures that are missing; `--all` writes every one again. sox runs without dither
(`-D`), so the same espeak-ng gives the same bytes.
"""

from __future__ import annotations

import math
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import fastgate

OUT = Path(__file__).resolve().parent.parent / "src" / "bridge" / "sim" / "audio"
PROMPTS_OUT = OUT.parent.parent / "server" / "audio"  # what the server itself plays (no model behind it)
AI_VOICE = "he+f3"
CALLER_VOICE = "he"

SPEECH = {
    "ai_greeting": (AI_VOICE, "שלום, הגעת למנעולן הצפון. במה אפשר לעזור?"),
    "ai_confirm_wrong_city": (AI_VOICE, "רק מוודאת — היית צריך פריצת דלתות בעיר קריית אתא, נכון?"),
    "ai_confirm_fixed_city": (AI_VOICE, "סליחה על הטעות. קריית שמונה, נכון?"),
    "ai_ask_details": (AI_VOICE, "מצוין. מה השם שלך, ולאיזה מספר לחזור אליך?"),
    "ai_readback": (
        AI_VOICE,
        "רק מוודאת: פריצת דלתות בקריית שמונה, על שם דני, בטלפון אפס חמש ארבע, "
        "אחת שתיים שלוש, ארבע חמש שש שבע. נכון?",
    ),
    "ai_confirm_tsfat": (AI_VOICE, "הבנתי, צפת. נכון?"),
    "ai_goodbye": (AI_VOICE, "מעולה, הפרטים נשמרו וטכנאי יחזור אליך בהקדם. להתראות!"),
    "caller_need": (CALLER_VOICE, "שלום, ננעלתי מחוץ לבית. אני צריך פריצת דלתות בקריית שמונה."),
    "caller_no_city": (CALLER_VOICE, "לא… קליבר אמונה… קריית שמונה"),
    "caller_yes": (CALLER_VOICE, "כן, נכון."),
    "caller_backchannel": (CALLER_VOICE, "אהה, כן."),
    "caller_no_stop": (CALLER_VOICE, "לא, לא, רגע. אני בכלל בצפת."),
    "caller_details": (
        CALLER_VOICE,
        "קוראים לי דני. הטלפון אפס חמש ארבע, אחת שתיים שלוש, ארבע חמש שש שבע.",
    ),
}


def speak(voice: str, text: str, dest: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(wav), text], check=True)
        subprocess.run(
            ["sox", "-D", str(wav), "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", str(dest)],
            check=True,
        )


def noise(rms: int, seconds: float, seed: int) -> bytes:
    """Gaussian noise whose mu-law encoding measures `rms` (quantisation adds a little)."""
    sigma = float(rms)
    while True:
        rng = random.Random(seed)
        samples = [max(-32768, min(32767, round(rng.gauss(0.0, sigma)))) for _ in range(int(8000 * seconds))]
        encoded = fastgate.ulaw_encode(b"".join(s.to_bytes(2, "little", signed=True) for s in samples))
        measured = fastgate.rms_ulaw(encoded)
        if abs(measured - rms) <= 1 or sigma < 1:
            return encoded
        sigma *= rms / measured


def cough(seed: int) -> bytes:
    """A 160 ms burst of loud, decaying noise: not speech, but loud enough for any VAD."""
    rng = random.Random(seed)
    n = int(8000 * 0.16)
    samples = []
    for i in range(n):
        envelope = math.sin(math.pi * i / n) ** 0.5
        samples.append(max(-32768, min(32767, round(rng.gauss(0.0, 6000.0) * envelope))))
    return fastgate.ulaw_encode(b"".join(s.to_bytes(2, "little", signed=True) for s in samples))


PROMPTS = {
    "realtime_unavailable_he": (
        AI_VOICE,
        "מצטערים, יש לנו תקלה טכנית כרגע. פרטי הפנייה שלך נשמרו, ונחזור אליך בהקדם. להתראות.",
    ),
}


def main(everything: bool) -> None:
    PROMPTS_OUT.mkdir(parents=True, exist_ok=True)
    for name, (voice, text) in PROMPTS.items():
        if everything or not (PROMPTS_OUT / f"{name}.ulaw").exists():
            speak(voice, text, PROMPTS_OUT / f"{name}.ulaw")
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (voice, text) in SPEECH.items():
        if everything or not (OUT / f"{name}.ulaw").exists():
            speak(voice, text, OUT / f"{name}.ulaw")
    made = {
        "noise_rms8": lambda: noise(8, 4.0, seed=8),
        "noise_rms100": lambda: noise(100, 4.0, seed=100),
        "noise_rms300": lambda: noise(300, 4.0, seed=300),
        "cough": lambda: cough(seed=7),
    }
    for name, make in made.items():
        if everything or not (OUT / f"{name}.ulaw").exists():
            (OUT / f"{name}.ulaw").write_bytes(make())
    for path in sorted(OUT.glob("*.ulaw")):
        data = path.read_bytes()
        print(f"{path.name:28s} {len(data) / 8000:5.2f} s  rms {fastgate.rms_ulaw(data)}")


if __name__ == "__main__":
    main(everything="--all" in sys.argv[1:])
