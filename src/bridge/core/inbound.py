"""The caller's frames on their way to the model: the gate, the early buffer, quiet frames batched.

Each frame is forwarded exactly as spoken when the gate passes it or when it may start a word (the
fast path's `pass_onsets`: no word loses its first 20 ms, and nothing is held back), or as mu-law
silence of the same length otherwise (the server's VAD and the model then hear line noise as
silence). Until the Realtime session is up, frames wait in a bounded buffer.

Silence long past the caller's last word (`quiet_batch_after_ms`, more than any end-of-turn window
the bridge asks the server for) travels in appends of `quiet_batch_ms` rather than one per 20 ms:
the same audio, in order, in a fifth of the messages. Held silence goes out before any spoken frame
and before any other event to the Realtime API, so the model's audio timeline and every onset are
exactly as spoken.
"""

from __future__ import annotations

import base64
from collections import deque
from dataclasses import asdict
from functools import lru_cache

from bridge.core.actions import Action, SendRealtime
from bridge.core.config import GateConfig
from bridge.core.stats import CallStats
from bridge.protocol.realtime import append_audio
from fastgate import FRAME_MS, Gate


@lru_cache(maxsize=8)  # bounded: a caller choosing odd frame sizes must not grow it for ever
def silence_payload(nbytes: int) -> str:
    return base64.b64encode(b"\xff" * nbytes).decode("ascii")


def decoded_size(payload: str) -> int:
    return len(payload) * 3 // 4 - payload[-2:].count("=")


class CallerAudio:
    def __init__(
        self,
        gate: GateConfig,
        max_early_frames: int,
        stats: CallStats,
        *,
        quiet_batch_ms: int,
        quiet_batch_after_ms: int,
    ) -> None:
        self.gate = Gate(**asdict(gate))
        self.stats = stats
        self._max_early = max_early_frames
        self._early: deque[str] = deque()
        self._out: list[Action] | None = None  # the call's actions, once the Realtime session is up
        self._batch_frames = quiet_batch_ms // FRAME_MS  # 0 or 1: every frame goes at once
        self._batch_after = quiet_batch_after_ms // FRAME_MS
        self._quiet_run = 0  # silenced frames since the last spoken one
        self._held_frames = 0
        self._held_bytes = 0
        self._held_since = 0.0

    def connect(self, out: list[Action]) -> None:
        """The Realtime session is up: the early frames go first, in order, then every new one."""
        while self._early:
            out.append(SendRealtime(append_audio(self._early.popleft())))
        self._out = out

    def frame(self, as_spoken: bool, payload: str, now_ms: float) -> None:
        """One frame after the gate: `payload` is the caller's own when `as_spoken`, silence otherwise."""
        self.stats.frames_in += 1
        if as_spoken:
            self.stats.frames_forwarded += 1
            self._quiet_run = 0
        else:
            self.stats.frames_silenced += 1
            self._quiet_run += 1
        out = self._out
        if out is None:
            if len(self._early) >= self._max_early:
                self._early.popleft()
                self.stats.early_frames_dropped += 1
            self._early.append(payload)
            return
        if as_spoken or self._batch_frames < 2 or self._quiet_run <= self._batch_after:
            if self._held_frames:
                self.release()
            out.append(SendRealtime(append_audio(payload)))
            return
        if not self._held_frames:
            self._held_since = now_ms
        self._held_frames += 1
        self._held_bytes += decoded_size(payload)
        if self._held_frames >= self._batch_frames:
            self.release()

    def release(self) -> None:
        """Held silence goes out now (before anything else is sent to the Realtime API)."""
        if not self._held_frames or self._out is None:
            return
        self._out.append(SendRealtime(append_audio(silence_payload(self._held_bytes))))
        self.stats.quiet_batches += 1
        self.stats.frames_batched += self._held_frames
        self._held_frames = self._held_bytes = 0

    def release_if_older(self, now_ms: float) -> None:
        """The clock ticked: silence held a whole batch's time goes out even if no frame followed it."""
        if self._held_frames and now_ms - self._held_since >= self._batch_frames * FRAME_MS:
            self.release()
