"""What a call counts: figures for logs, metrics and reports, never read by the call's logic."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CallStats:
    frames_in: int = 0
    frames_forwarded: int = 0  # caller audio sent as it was
    frames_silenced: int = 0  # gated: replaced by mu-law silence
    quiet_batches: int = 0  # appends carrying several silenced frames (long after the caller's last word)
    frames_batched: int = 0  # ... the frames they carried
    early_frames_dropped: int = 0
    malformed_twilio: int = 0
    malformed_realtime: int = 0
    late_deltas_dropped: int = 0
    audio_deltas: int = 0
    realtime_errors: dict[str, int] = field(default_factory=dict)
    responses_requested: int = 0
    responses_held_back: int = 0
    notes_silent: int = 0
    notes_dropped_stale: int = 0


@dataclass
class BargeIn:
    """One barge-in as it happened, for reports (the application gets BargeInStarted/Ended)."""

    at_ms: float
    response_id: str | None
    item_id: str | None
    truncated_at_ms: int | None
    flushed_frames: int
    ended_at_ms: float | None = None
    frames_during: int = 0
