"""The simulated server VAD: energy on the real appended audio, with OpenAI's server_vad settings."""

from __future__ import annotations

from dataclasses import dataclass

import fastgate
from fastgate import FRAME_BYTES, FRAME_MS


@dataclass
class VadEvent:
    kind: str  # "started" | "stopped"
    audio_ms: int  # audio_start_ms (prefix padding included) or audio_end_ms


class ServerVad:
    """Speech starts after `min_speech_ms` of frames at or above the level that `threshold` maps
    to, and stops after `silence_duration_ms` below it, as server_vad reports them."""

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        rms_at_half: int = 500,
        min_speech_ms: int = 40,
    ) -> None:
        self.level = rms_at_half * 2 * threshold
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self.min_speech_frames = max(1, min_speech_ms // FRAME_MS)
        self.framer = fastgate.Framer(FRAME_BYTES)
        self.position_ms = 0
        self.speaking = False
        self._voiced_run = 0
        self._quiet_ms = 0
        self._last_voice_end_ms = 0

    def push(self, ulaw: bytes) -> list[VadEvent]:
        events = []
        for frame in self.framer.push(ulaw):
            voiced = fastgate.rms_ulaw(frame) >= self.level
            self.position_ms += FRAME_MS
            if not self.speaking:
                self._voiced_run = self._voiced_run + 1 if voiced else 0
                if self._voiced_run >= self.min_speech_frames:
                    self.speaking = True
                    self._quiet_ms = 0
                    onset = self.position_ms - self._voiced_run * FRAME_MS
                    events.append(VadEvent("started", max(0, onset - self.prefix_padding_ms)))
            elif voiced:
                self._quiet_ms = 0
                self._last_voice_end_ms = self.position_ms
            else:
                self._quiet_ms += FRAME_MS
                if self._quiet_ms >= self.silence_duration_ms:
                    self.speaking = False
                    self._voiced_run = 0
                    events.append(VadEvent("stopped", self.position_ms))
        return events

    def clear(self) -> None:
        """input_audio_buffer.clear: forget the speech in progress; the audio clock runs on."""
        self.framer = fastgate.Framer(FRAME_BYTES)
        self.speaking = False
        self._voiced_run = 0
        self._quiet_ms = 0
