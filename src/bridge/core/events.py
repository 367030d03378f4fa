"""What a call tells its application (lead intake, metrics, reports): small frozen records.

The Call produces them in order with `Call.events()`; the application answers with commands
(`bridge.core.commands`). The application never holds the Call.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EndReason(StrEnum):
    CALLER_HUNG_UP = "caller hung up"
    GOODBYE_PLAYED = "goodbye played"
    TWILIO_CLOSED = "twilio socket closed"
    TWILIO_ERROR = "twilio socket error"
    TWILIO_STALLED = "twilio stopped reading"
    TWILIO_SILENT = "twilio went silent"
    NO_START = "no start from twilio"
    BAD_STREAM_TOKEN = "stream token missing or wrong"
    REALTIME_FAILED = "realtime connection failed"
    REALTIME_LOST = "realtime connection lost"
    SESSION_EXPIRED = "realtime session expired"
    SHUTDOWN = "server shutting down"
    INTERNAL_ERROR = "internal error"


@dataclass(frozen=True, slots=True)
class CallStarted:
    call_sid: str
    stream_sid: str
    caller_id: str | None


@dataclass(frozen=True, slots=True)
class CallerTurnEnded:
    """The server's VAD heard the caller stop; with create_response it answers this turn itself."""

    at_ms: float


@dataclass(frozen=True, slots=True)
class CallerTranscript:
    text: str


@dataclass(frozen=True, slots=True)
class AssistantTranscript:
    text: str


@dataclass(frozen=True, slots=True)
class FunctionCalled:
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class BargeInStarted:
    at_ms: float
    response_id: str | None  # the response cancelled, None when only its audio was still playing
    item_id: str | None
    truncated_at_ms: int | None
    flushed_frames: int


@dataclass(frozen=True, slots=True)
class BargeInEnded:
    duration_ms: float
    frames_during: int  # caller frames that passed ungated meanwhile


@dataclass(frozen=True, slots=True)
class AssistantPaused:
    """A local onset over the AI: its audio stopped at once, the interruption is being decided."""

    at_ms: float
    item_id: str | None
    heard_ms: int | None


@dataclass(frozen=True, slots=True)
class AssistantResumed:
    """It was not the caller's turn (cough, echo, backchannel): the AI goes on where it paused."""

    paused_ms: float
    why: str


@dataclass(frozen=True, slots=True)
class WrapUpStarted:
    """The Realtime session nears its cap: the model was asked to close the call politely."""

    remaining_ms: float


@dataclass(frozen=True, slots=True)
class ConversationIdle:
    """No response is active, requested or awaited, and no AI audio plays."""


@dataclass(frozen=True, slots=True)
class CallEnded:
    reason: EndReason
    detail: str = ""

    @property
    def description(self) -> str:
        return f"{self.reason.value} ({self.detail})" if self.detail else self.reason.value


Event = (
    CallStarted
    | CallerTurnEnded
    | CallerTranscript
    | AssistantTranscript
    | FunctionCalled
    | BargeInStarted
    | BargeInEnded
    | AssistantPaused
    | AssistantResumed
    | ConversationIdle
    | WrapUpStarted
    | CallEnded
)
