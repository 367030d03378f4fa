"""Voice models for local onset detection: one 20 ms mu-law frame in, "is it speech?" out.

They run only behind the compiled gate, while the AI is audible and the frame is louder than the
AI's echo, so an idle call costs nothing. Chosen by measurement (README, "Stop as fast as a person"):
webrtcvad is the default (8 kHz native, about 2 us a frame); ten-vad rejects coughs better at about
50x the CPU and needs libc++ (Debian's libc++1); "energy" trusts the gate alone.
"""

from __future__ import annotations

from collections.abc import Callable

import fastgate

VoiceModel = Callable[[bytes], bool]


def energy() -> VoiceModel:
    return lambda frame: True


def webrtc(mode: int = 3) -> VoiceModel:
    import webrtcvad

    vad = webrtcvad.Vad(mode)
    return lambda frame: bool(vad.is_speech(fastgate.ulaw_decode(frame), 8000))


def ten_vad() -> VoiceModel:
    import numpy as np
    from ten_vad import TenVad

    vad = TenVad(hop_size=160, threshold=0.5)

    def is_speech(frame: bytes) -> bool:
        pcm = np.frombuffer(fastgate.ulaw_decode(frame), dtype=np.int16)
        up = np.repeat(pcm, 2)  # 8 -> 16 kHz; ten-vad takes 16 kHz only
        flags = [vad.process(up[i : i + 160])[1] for i in range(0, len(up), 160)]
        return any(flags)

    return is_speech


DETECTORS: dict[str, Callable[[], VoiceModel]] = {"webrtc": webrtc, "ten-vad": ten_vad, "energy": energy}


def voice_model(name: str) -> VoiceModel:
    try:
        return DETECTORS[name]()
    except KeyError:
        raise ValueError(f"unknown voice detector {name!r}; known: {', '.join(DETECTORS)}") from None
