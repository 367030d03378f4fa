"""The caller's frames on their way to the model: the gate, the early buffer.

Each frame is forwarded exactly as spoken when the gate passes it or when it may start a word (the
fast path's `pass_onsets`: no word loses its first 20 ms, and nothing is held back), or as mu-law
silence of the same length otherwise (the server's VAD and the model then hear line noise as
silence). Until the Realtime session is up, frames wait in a bounded buffer.
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
from fastgate import Gate


class CallerAudio:
    def __init__(self, gate: GateConfig, max_early_frames: int, stats: CallStats) -> None:
        self.gate = Gate(**asdict(gate))
        self.stats = stats
        self._max_early = max_early_frames
        self._early: deque[str] = deque()
        self._out: list[Action] | None = None  # the call's actions, once the Realtime session is up

    def connect(self, out: list[Action]) -> None:
        """The Realtime session is up: the early frames go first, in order, then every new one."""
        while self._early:
            out.append(SendRealtime(append_audio(self._early.popleft())))
        self._out = out

    def frame(self, as_spoken: bool, payload: str) -> None:
        """One frame after the gate: `payload` is the caller's own when `as_spoken`, silence otherwise."""
        self.stats.frames_in += 1
        if as_spoken:
            self.stats.frames_forwarded += 1
        else:
            self.stats.frames_silenced += 1
        if self._out is not None:
            self._out.append(SendRealtime(append_audio(payload)))
            return
        if len(self._early) >= self._max_early:
            self._early.popleft()
            self.stats.early_frames_dropped += 1
        self._early.append(payload)


@lru_cache(maxsize=8)  # bounded: a caller choosing odd frame sizes must not grow it for ever
def silence_payload(nbytes: int) -> str:
    return base64.b64encode(b"\xff" * nbytes).decode("ascii")
