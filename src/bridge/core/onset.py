"""Is the caller speaking over the AI? The local first stage of pause-then-decide barge-in.

Per inbound frame, cheapest test first: the compiled gate's RMS against its threshold; then the echo
guard (the bridge knows the AI audio it played and when: an inbound frame no louder than a share of
what the caller heard in the last `echo_lag_ms` is the AI's own voice coming back, as on a
speakerphone); then the voice model. `onset_frames` voiced frames in a row make an onset.
"""

from __future__ import annotations

import base64
from bisect import bisect_left, insort
from collections import deque

from bridge.core.config import LocalDetection
from bridge.core.voice import VoiceModel
from fastgate import FRAME_MS

MIN_REFERENCE_RMS = 200  # quieter AI audio than this cannot hide a caller


class EchoGuard:
    """How much of the AI's voice comes back on the caller's track, learnt per call.

    The echo return (inbound RMS over the loudest AI audio heard within `lag_ms`) is the 90th percentile of
    the last second of frames heard once the AI had been audible for `lag_ms` (before that, its echo
    has not come back yet): a handset returns almost nothing (line noise, ~0.01), a speakerphone a
    steady share (-12 dB: ~0.2 of the loudest), and a caller who talks over the AI now and then does
    not move it much (the AI pauses at once). A frame under `margin` times that share of the AI's
    level is echo. Until half a second was learnt, a speakerphone is assumed.
    """

    def __init__(self, margin: float, lag_ms: int, assumed_return: float = 0.3) -> None:
        self.margin = margin
        self.assumed_return = assumed_return
        self._heard: deque[int] = deque(maxlen=max(1, lag_ms // FRAME_MS + 1))  # AI RMS per frame slot
        self._warm = 0  # frame slots since the AI became audible
        self._returns: deque[float] = deque(maxlen=50)  # in arrival order
        self._sorted: list[float] = []  # the same values in order of size: the percentile without a sort
        self.echo_return = assumed_return
        self.reference = 0  # the AI's recent RMS, as of the last inbound frame

    def played(self, rms: int) -> None:
        """The RMS of the AI audio the caller hears in this 20 ms slot (0 when none)."""
        self._heard.append(rms)
        self._warm += 1

    def restart(self) -> None:
        """The AI's audio stopped or starts again: its echo needs `lag_ms` to come back."""
        self._warm = 0

    def heard(self, inbound_rms: int) -> bool:
        """One inbound frame: learn the echo return from it; True when it is no more than echo."""
        reference = self.reference = max(self._heard) if self._heard else 0
        if reference < MIN_REFERENCE_RMS:
            return False
        if self._warm >= self._heard.maxlen:  # type: ignore[operator]
            self._learn(inbound_rms / reference)
        return inbound_rms < self.margin * self.echo_return * reference

    def _learn(self, share: float) -> None:
        returns, ordered = self._returns, self._sorted
        if len(returns) == returns.maxlen:
            del ordered[bisect_left(ordered, returns[0])]
        returns.append(share)
        insort(ordered, share)
        if len(ordered) >= returns.maxlen // 2:  # type: ignore[operator]
            self.echo_return = ordered[len(ordered) * 9 // 10]


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
