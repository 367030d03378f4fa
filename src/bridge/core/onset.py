"""Is the caller speaking over the AI? The local first stage of pause-then-decide barge-in.

Per inbound frame, cheapest test first: the compiled gate's RMS against its threshold; then the echo
guard (compiled, `fastgate.EchoGuard`: the bridge knows the AI audio it played and when, and an inbound
frame no louder than a share of what the caller heard in the last `echo_lag_ms` is the AI's own voice
coming back, as on a speakerphone); then the voice model. `onset_frames` voiced frames in a row make an onset.
"""

from __future__ import annotations

import base64

from bridge.core.config import LocalDetection
from bridge.core.voice import VoiceModel
from fastgate import EchoGuard


class LocalVoice:
    def __init__(self, config: LocalDetection, model: VoiceModel) -> None:
        self.config = config
        self.model = model
        self.echo = EchoGuard(config.echo_margin, config.echo_lag_ms)
        self.run = 0  # voiced frames in a row
        self.frames_checked = 0  # frames that reached the voice model (its CPU cost)
        self.last_rms = 0

    def voiced(self, rms: int, threshold: float, payload_b64: str) -> bool:
        """One inbound frame: is it the caller's voice (loud enough, not echo, speech to the model)?"""
        self.last_rms = rms
        echo = self.echo.heard(rms)
        if rms < threshold or echo:
            self.run = 0
            return False
        self.frames_checked += 1
        if not self.model(base64.b64decode(payload_b64)):
            self.run = 0
            return False
        self.run += 1
        return True

    def describe(self) -> str:
        e = self.echo
        return f"inbound RMS {self.last_rms}, the AI's {e.reference}, echo return {e.echo_return:.3f}"

    @property
    def onset(self) -> bool:
        return self.run >= self.config.onset_frames
