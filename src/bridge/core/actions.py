"""What the sans-I/O Call asks its adapter to do, in order."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SendTwilio:
    text: str


@dataclass(frozen=True, slots=True)
class SendRealtime:
    text: str


@dataclass(frozen=True, slots=True)
class Log:
    level: int
    message: str


@dataclass(frozen=True, slots=True)
class EndCall:
    reason: str


Action = SendTwilio | SendRealtime | Log | EndCall
