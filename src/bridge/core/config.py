"""Per-call settings of the bridge (the server's own settings live in settings.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_INSTRUCTIONS = (
    "את נציגת שירות טלפונית. דברי עברית קצרה וטבעית, משפט אחד או שניים בכל פעם. "
    "אם הלקוח קוטע אותך, הפסיקי מיד, הקשיבי, והמשיכי רק ממה שהוא אמר עכשיו."
)


@dataclass(frozen=True)
class CallConfig:
    model: str = "gpt-realtime"
    voice: str = "marin"
    instructions: str = DEFAULT_INSTRUCTIONS
    transcription_model: str | None = "gpt-4o-mini-transcribe"
    vad_threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    # The bridge cancels on barge-in itself. Letting the server cancel too (interrupt_response)
    # races with our response.cancel and earns a harmless response_cancel_not_active error.
    server_interrupt: bool = False
    greet_first: bool = True
    chunk_ms: int = 100  # AI audio per Twilio media message (>= 50 ms plays smoothly)
    lead_ms: int = 300  # AI audio allowed ahead at Twilio; the rest waits in our queue
    gate: dict[str, Any] = field(default_factory=dict)  # fastgate.Gate keyword arguments
    gate_summary_ms: int = 5000
    max_early_audio_frames: int = 100  # caller frames held until the Realtime session is up

    def turn_detection(self) -> dict[str, Any]:
        return {
            "type": "server_vad",
            "threshold": self.vad_threshold,
            "prefix_padding_ms": self.prefix_padding_ms,
            "silence_duration_ms": self.silence_duration_ms,
            "create_response": True,
            "interrupt_response": self.server_interrupt,
        }
