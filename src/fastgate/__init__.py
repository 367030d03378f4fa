"""fastgate: compiled G.711 codec, 20 ms framing, RMS, a barge-in-aware speech gate and an echo guard."""

from fastgate._codec import alaw_decode, alaw_encode, rms_ulaw, ulaw_decode, ulaw_encode
from fastgate._echo import EchoGuard
from fastgate._gate import Framer, Gate
from fastgate._twilio import process_twilio_media

FRAME_MS = 20
FRAME_BYTES = 160  # 20 ms of 8 kHz mu-law
ULAW_SILENCE = 0xFF  # decodes to 0

__all__ = [
    "FRAME_BYTES",
    "FRAME_MS",
    "ULAW_SILENCE",
    "EchoGuard",
    "Framer",
    "Gate",
    "alaw_decode",
    "alaw_encode",
    "process_twilio_media",
    "rms_ulaw",
    "ulaw_decode",
    "ulaw_encode",
]
