"""What an application asks of a call, answering its events. `Call.apply` carries them out.

Every command goes through the call's guards: a note never triggers a response while the caller
speaks or a response is active, a hang-up never cuts a reply the caller is interrupting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bridge.core.events import Event, FunctionCalled


@dataclass(frozen=True, slots=True)
class AddNote:
    """A system note for the model; `respond` asks for an answer once that is safe (never a stale one)."""

    text: str
    respond: bool = False


@dataclass(frozen=True, slots=True)
class SendFunctionOutput:
    """The answer to a tool call; `respond`: the model speaks again once the response that called it ends."""

    call_id: str
    output: str
    respond: bool = True


@dataclass(frozen=True, slots=True)
class HangUpAfterReply:
    """End the call once the reply being made (or the next one) has played to its end."""


@dataclass(frozen=True, slots=True)
class RequestResponse:
    why: str


@dataclass(frozen=True, slots=True)
class Patience:
    """While the caller dictates (a phone number, in groups with pauses), the server's VAD waits longer
    before it ends their turn; `on=False` restores the session's silence."""

    on: bool


Command = AddNote | SendFunctionOutput | HangUpAfterReply | RequestResponse | Patience


class Application(Protocol):
    """The side of a call that is not audio: its tools, and what it does with the call's events.

    `handle` returns commands for the call and may return other records of its own (lead writes):
    the adapter carries those out with `perform`, off its event loop, in order, before the
    commands that follow them.
    """

    tools: list[dict[str, Any]]

    def handle(self, event: Event) -> Sequence[object]: ...

    def perform(self, effect: Any) -> None: ...


class PlainBridge:
    """No tools: a plain voice bridge. A tool call (the model only makes declared ones) gets an error."""

    tools: list[dict[str, Any]] = []  # noqa: RUF012  (read-only)

    def handle(self, event: Event) -> Sequence[object]:
        if isinstance(event, FunctionCalled):
            return [SendFunctionOutput(event.call_id, '{"error": "no tools are configured"}')]
        return ()

    def perform(self, effect: Any) -> None:
        return None
