"""fastgate's per-frame and per-message cost beside its baselines (audioop, numpy, json+base64)."""

from __future__ import annotations

import audioop
import base64
import json
import random

import numpy as np
import pytest

import fastgate
from fastgate import FRAME_BYTES, Gate, process_twilio_media

BATCH = 1000
rng = random.Random(1)
FRAMES = [bytes(rng.getrandbits(8) for _ in range(FRAME_BYTES)) for _ in range(BATCH)]
MESSAGES = [
    json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(i + 2),
            "media": {
                "track": "inbound",
                "chunk": str(i + 1),
                "timestamp": str(i * 20),
                "payload": base64.b64encode(frame).decode(),
            },
            "streamSid": "MZ18ad3ab5a668481ce02b83e7395059f0",
        }
    )
    for i, frame in enumerate(FRAMES)
]
ULAW_LUT = np.frombuffer(fastgate.ulaw_decode(bytes(range(256))), dtype=np.int16).astype(np.float64)


class PythonGate:
    """The same hysteresis in pure Python: what each baseline would still have to run."""

    def __init__(self) -> None:
        self.is_open, self.run = False, 0

    def process_rms(self, rms: int) -> bool:
        if rms >= 200:
            self.run += 1
            self.is_open = self.is_open or self.run >= 2
        else:
            self.run = 0
        return self.is_open


def fastgate_frames(frames):
    process = Gate().process
    for frame in frames:
        process(frame)


def audioop_frames(frames):
    gate = PythonGate()
    for frame in frames:
        gate.process_rms(audioop.rms(audioop.ulaw2lin(frame, 2), 2))


def numpy_frames(frames):
    gate = PythonGate()
    for frame in frames:
        pcm = ULAW_LUT[np.frombuffer(frame, dtype=np.uint8)]
        gate.process_rms(int(np.sqrt(np.mean(pcm * pcm))))


def fused_messages(messages):
    gate = Gate()
    for message in messages:
        process_twilio_media(message, gate)


def json_audioop_messages(messages):
    gate = PythonGate()
    for message in messages:
        msg = json.loads(message)
        if msg["event"] == "media":
            frame = base64.b64decode(msg["media"]["payload"])
            gate.process_rms(audioop.rms(audioop.ulaw2lin(frame, 2), 2))


def json_fastgate_messages(messages):
    gate = Gate()
    for message in messages:
        msg = json.loads(message)
        if msg["event"] == "media":
            gate.process(base64.b64decode(msg["media"]["payload"]))


def test_frame_fastgate(per_item):
    per_item(
        "decode+RMS+gate, one 160-byte frame", "fastgate Gate.process", fastgate_frames, FRAMES, ours=True
    )


def test_frame_audioop(per_item):
    per_item(
        "decode+RMS+gate, one 160-byte frame",
        "audioop ulaw2lin + rms (+ Python gate)",
        audioop_frames,
        FRAMES,
    )


def test_frame_numpy(per_item):
    per_item(
        "decode+RMS+gate, one 160-byte frame",
        "numpy lookup table + RMS (+ Python gate)",
        numpy_frames,
        FRAMES,
    )


def test_message_fused(per_item):
    per_item("Twilio media message", "fastgate process_twilio_media", fused_messages, MESSAGES, ours=True)


def test_message_json_audioop(per_item):
    per_item(
        "Twilio media message",
        "json.loads + b64decode + audioop (+ Python gate)",
        json_audioop_messages,
        MESSAGES,
    )


def test_message_json_fastgate(per_item):
    per_item(
        "Twilio media message", "json.loads + b64decode + Gate.process", json_fastgate_messages, MESSAGES
    )


@pytest.mark.parametrize("name", ["ulaw_decode", "ulaw_encode", "rms_ulaw"])
def test_codec_fastgate(per_item, name):
    func = getattr(fastgate, name)
    data = FRAMES if name != "ulaw_encode" else [fastgate.ulaw_decode(f) for f in FRAMES]
    per_item(
        f"codec: {name}, one frame",
        f"fastgate.{name}",
        lambda batch: [func(f) for f in batch],
        data,
        ours=True,
    )


@pytest.mark.parametrize("name", ["ulaw_decode", "ulaw_encode", "rms_ulaw"])
def test_codec_audioop(per_item, name):
    func = {
        "ulaw_decode": lambda f: audioop.ulaw2lin(f, 2),
        "ulaw_encode": lambda f: audioop.lin2ulaw(f, 2),
        "rms_ulaw": lambda f: audioop.rms(audioop.ulaw2lin(f, 2), 2),
    }[name]
    data = FRAMES if name != "ulaw_encode" else [fastgate.ulaw_decode(f) for f in FRAMES]
    per_item(f"codec: {name}, one frame", "audioop", lambda batch: [func(f) for f in batch], data)


def test_baselines_do_the_same_work():
    gate = PythonGate()
    for frame in FRAMES[:50]:
        pcm = ULAW_LUT[np.frombuffer(frame, dtype=np.uint8)]
        assert int(np.sqrt(np.mean(pcm * pcm))) in (fastgate.rms_ulaw(frame), fastgate.rms_ulaw(frame) - 1)
        assert fastgate.rms_ulaw(frame) == audioop.rms(audioop.ulaw2lin(frame, 2), 2)
        assert gate.process_rms(fastgate.rms_ulaw(frame)) in (True, False)
