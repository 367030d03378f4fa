"""What the sans-I/O Call asks its adapter to do, in order: wire messages, log lines, the end."""

from __future__ import annotations

from dataclasses import dataclass

# The values of the logging module's levels, without importing it: core/ does no I/O.
DEBUG, INFO, WARNING = 10, 20, 30


# The two wire actions are made for every frame: plain slots classes, since a frozen dataclass's
# __init__ costs three times as much (about 300 vs 100 ns here). Nothing mutates them.
@dataclass(slots=True)
class SendTwilio:
    text: str


@dataclass(slots=True)
class SendRealtime:
    text: str


@dataclass(frozen=True, slots=True)
class Log:
    """One line of the call's story: `tag` names the kind of line ("BARGE-IN", "AUDIO GATE", ...)."""

    level: int
    tag: str
    text: str
    call_sid: str
    at_ms: float  # since the call began

    @property
    def message(self) -> str:
        """One line, whatever the caller or a peer put in the fields (no forged lines)."""
        return f"[{one_line(self.call_sid)}] +{self.at_ms:.0f}ms [{self.tag}] {one_line(self.text)}"


_CONTROL = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)} | {0x2028: "\\u2028", 0x2029: "\\u2029"}


def one_line(text: str) -> str:
    """Control characters and line separators escaped, so input can never start a log line."""
    return text.translate(_CONTROL) if not text.isprintable() else text


@dataclass(frozen=True, slots=True)
class EndCall:
    """Close both sockets; `reason` is the call's end, as told to the application (CallEnded)."""

    reason: str


Action = SendTwilio | SendRealtime | Log | EndCall
