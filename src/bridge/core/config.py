"""Per-call settings of the bridge (the server's own settings live in server/settings.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_INSTRUCTIONS = (
    "את נציגת שירות טלפונית. דברי עברית קצרה וטבעית, משפט אחד או שניים בכל פעם. "
    "אם הלקוח קוטע אותך, הפסיקי מיד, הקשיבי, והמשיכי רק ממה שהוא אמר עכשיו."
)


@dataclass(frozen=True)
class GateConfig:
    """The compiled gate's settings (`fastgate.Gate` keyword arguments; a test keeps the defaults equal)."""

    open_frames: int = 2  # loud frames in a row before the gate opens
    hangover_frames: int = 15  # quiet frames before it closes again (300 ms)
    min_threshold: float = 200.0  # RMS below which nothing ever opens it
    open_factor: float = 3.0  # opens at this multiple of the noise floor
    close_ratio: float = 0.5
    floor_rise: float = 0.02
    floor_rise_open: float = 0.001
    floor_fall: float = 0.5
    initial_floor: float = 0.0


BACKCHANNELS_HE = (
    "אהה", "אה", "אהא", "אמ", "אממ", "הממ", "ממ", "מממ", "אוקיי", "אוקי", "אוקיי אוקיי", "נכון", "יופי",
    "כן", "כן כן", "טוב", "בסדר", "סבבה", "ברור", "אהה כן", "נו", "וואו", "אה הא", "אהה אוקיי",
)  # fmt: skip


@dataclass(frozen=True)
class LocalDetection:
    """Pause-then-decide barge-in: the bridge hears the caller itself while the AI is audible.

    On a local onset (the gate sees energy, the voice model says speech, and it is not the AI's own
    echo) the AI's audio pauses at once. Then: the caller keeps talking for `confirm_ms` (or the
    transcript holds real words, or any "לא") -> the hard barge-in; the sound ends within that and its
    transcript is empty or a backchannel -> the AI resumes exactly where it paused.
    """

    enabled: bool = True
    detector: str = "webrtc"  # the voice model: webrtc (webrtcvad), ten-vad, energy (the gate alone)
    onset_frames: int = 2  # voiced frames in a row that make an onset (40 ms)
    confirm_ms: int = 600  # an utterance this long since its onset is a real interruption
    end_quiet_ms: int = 400  # this long without voice ends a short utterance
    max_pause_ms: int = 1500  # undecided this long: resume (short sound) or interrupt (long)
    echo_margin: float = 2.0  # inbound under this many times the measured echo of the AI is echo (+6 dB)
    echo_lag_ms: int = 400  # how far back the AI's audio may come back as echo
    backchannels: tuple[str, ...] = BACKCHANNELS_HE


@dataclass(frozen=True)
class CallConfig:
    model: str = "gpt-realtime"
    voice: str = "marin"
    instructions: str = DEFAULT_INSTRUCTIONS
    transcription_model: str | None = "gpt-4o-mini-transcribe"
    transcription_language: str = "he"
    transcription_prompt: str = ""  # words the recogniser should expect (services, cities)
    vad_threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_duration_ms: int = 500
    dictation_silence_ms: int = 1200  # while a phone number is dictated (Patience)
    # The bridge cancels on barge-in itself. Letting the server cancel too (interrupt_response)
    # races with our response.cancel and earns a harmless response_cancel_not_active error.
    server_interrupt: bool = False
    greet_first: bool = True
    chunk_ms: int = 100  # AI audio per Twilio media message (>= 50 ms plays smoothly)
    lead_ms: int = 300  # AI audio allowed ahead at Twilio; the rest waits in our queue
    gate: GateConfig = field(default_factory=GateConfig)
    gate_summary_ms: int = 5000
    # Silence this long after the caller's last word (more than any end-of-turn window above) goes to the
    # model in appends of quiet_batch_ms instead of one per 20 ms frame; 0 sends every frame at once
    quiet_batch_ms: int = 100
    quiet_batch_after_ms: int = 1500
    max_early_audio_frames: int = 100  # caller frames held until the Realtime session is up
    server_answer_wait_ms: int = 3000  # after a caller's turn, how long the server may take to answer
    local: LocalDetection = field(default_factory=LocalDetection)
    # OpenAI ends a Realtime session at 60 minutes; this long before, the model is asked to wrap up
    session_cap_ms: int = 3_600_000
    wrap_up_ms: int = 120_000
    wrap_up_note: str = (
        "השיחה מגיעה למגבלת הזמן שלה. סכמי בקצרה את הפרטים שנאספו, אמרי ללקוח שנציג יחזור אליו, ונפרדי לשלום."
    )

    def turn_detection(self, *, patient: bool = False) -> dict[str, Any]:
        return {
            "type": "server_vad",
            "threshold": self.vad_threshold,
            "prefix_padding_ms": self.prefix_padding_ms,
            "silence_duration_ms": self.dictation_silence_ms if patient else self.silence_duration_ms,
            # with local detection the bridge decides which turns are real and asks for the answer
            "create_response": not self.local.enabled,
            "interrupt_response": self.server_interrupt,
        }

    def transcription(self) -> dict[str, Any] | None:
        if not self.transcription_model:
            return None
        spec: dict[str, Any] = {"model": self.transcription_model, "language": self.transcription_language}
        if self.transcription_prompt:
            spec["prompt"] = self.transcription_prompt
        return spec
