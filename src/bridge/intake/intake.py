"""LeadIntake: the application that turns a call's events into a lead.

`handle` is pure: a call event in, commands for the call and lead writes out, in the order they must
happen (a tool's writes before its output, its output before any note). `perform` carries out one
write on the store; the server runs it on the store's writer thread, never on the event loop.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bridge.core.commands import AddNote, HangUpAfterReply, Patience, SendFunctionOutput
from bridge.core.events import BargeInStarted, CallEnded, CallerTranscript, CallStarted, Event, FunctionCalled
from bridge.intake.confirmation import LeadState, Outcome, Phase
from bridge.intake.profile import BusinessProfile
from bridge.intake.store import LeadStore

log = logging.getLogger("fastgate.leads")

TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "set_field",
        "description": "Record one lead detail as soon as the caller says it. The bridge validates and "
        "normalises it and answers with the value to use.",
        "parameters": {
            "type": "object",
            "properties": {
                "field": {"type": "string", "enum": ["service", "city", "name", "phone"]},
                "value": {"type": "string", "description": "as the caller said it"},
            },
            "required": ["field", "value"],
        },
    },
    {
        "type": "function",
        "name": "request_confirmation",
        "description": "Before reading details back to the caller: says what to read, then wait for an "
        "explicit yes. Use field 'all' for the final summary.",
        "parameters": {
            "type": "object",
            "properties": {"field": {"type": "string", "enum": ["service", "city", "name", "phone", "all"]}},
            "required": ["field"],
        },
    },
    {
        "type": "function",
        "name": "caller_answered",
        "description": "Right after the caller answers a read-back: how you understood the answer. The "
        "bridge also reads the transcript; a detail is confirmed only when neither of you heard a no.",
        "parameters": {
            "type": "object",
            "properties": {
                "field": {"type": "string", "enum": ["service", "city", "name", "phone", "all"]},
                "answer": {"type": "string", "enum": ["yes", "no", "unclear"]},
                "corrected_value": {"type": "string", "description": "what the caller said instead, if any"},
            },
            "required": ["field", "answer"],
        },
    },
]


GOODBYE_NOTE = "כל הפרטים אושרו ונשמרו. אמרי את משפט הסיום ואל תשאלי שאלות נוספות"


# -- lead writes: what `perform` does on the store ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StartLead:
    call_sid: str
    caller_id: str | None
    business: str


@dataclass(frozen=True, slots=True)
class SaveField:
    field: str
    value: str | None
    confirmed: bool


@dataclass(frozen=True, slots=True)
class SetStatus:
    status: str  # partial | confirmed | abandoned


LeadWrite = StartLead | SaveField | SetStatus


class LeadIntake:
    """One per call. Without a store it still runs the state machine (nothing is written)."""

    tools = TOOLS

    def __init__(self, profile: BusinessProfile, store: LeadStore | None = None) -> None:
        self.profile = profile
        self.store = store
        self.state = LeadState(profile)
        self.lead_id: int | None = None
        self.call_sid = ""
        self.hangup_armed = False
        self.patient = False  # the server's VAD waits longer: the phone number is being dictated

    def handle(self, event: Event) -> Sequence[object]:
        out = list(self._handle(event))
        dictating = self.state.missing == ["phone"]
        if dictating != self.patient and not isinstance(event, CallEnded):
            self.patient = dictating
            out.append(Patience(dictating))
        return out

    def _handle(self, event: Event) -> Sequence[object]:
        if isinstance(event, FunctionCalled):
            return self._function_call(event)
        if isinstance(event, CallerTranscript):
            writes, commands = self._apply(self.state.caller_said(event.text))
            out = [*writes, *commands]
            if self.state.phase == Phase.GOODBYE and not self.hangup_armed:
                # they spoke over the goodbye without a "no": end after this reply
                self.hangup_armed = True
                out.append(HangUpAfterReply())
            return out
        if isinstance(event, BargeInStarted):
            self.hangup_armed = False  # the call drops a hang-up the caller talks over
            return ()
        if isinstance(event, CallStarted):
            return self._start(event)
        if isinstance(event, CallEnded) and not self.state.complete:
            return [SetStatus("partial" if self.state.values else "abandoned")]
        return ()

    def perform(self, write: LeadWrite) -> None:
        """One lead write, on the store (blocking: the server runs it on the store's writer thread).

        Writes that could not land earlier go first; a database that stays locked gets this one spilled
        beside it, to be replayed in order (see `store.py`)."""
        store = self.store
        if store is None:
            return
        try:
            if store.spilled():
                try:
                    store.retrying(store.replay_spilled)
                except ValueError as exc:
                    log.error("[%s] %s", self.call_sid, exc)
            self._write(store, write)  # the store waits out a lock for a while itself
        except Exception as exc:
            if not store.retryable(exc):
                raise
            store.spill(self._spill_record(write))
            log.warning(
                "[%s] the lead database is locked: %s kept in %s",
                self.call_sid,
                type(write).__name__,
                store.spill_path,
            )

    def _write(self, store: LeadStore, write: LeadWrite) -> None:
        if isinstance(write, StartLead):
            self.lead_id = store.start(write.call_sid, write.caller_id, write.business)
            return
        if self.lead_id is None:  # its start was spilled, then replayed
            self.lead_id = store.lead_for_call(self.call_sid)
        if self.lead_id is None:
            raise LookupError(f"{type(write).__name__} before the lead was started")
        if isinstance(write, SaveField):
            store.set_field(self.lead_id, write.field, write.value, write.confirmed)
        else:
            store.set_status(self.lead_id, write.status)

    def _spill_record(self, write: LeadWrite) -> dict[str, Any]:
        record: dict[str, Any] = {"call_sid": self.call_sid, "lead_id": self.lead_id}
        if isinstance(write, StartLead):
            return {**record, "kind": "start", "caller_id": write.caller_id, "business": write.business}
        if isinstance(write, SaveField):
            return {
                **record,
                "kind": "field",
                "field": write.field,
                "value": write.value,
                "confirmed": write.confirmed,
            }
        return {**record, "kind": "status", "status": write.status}

    # -------------------------------------------------------------------------------------------------------
    def _start(self, event: CallStarted) -> list[object]:
        self.state = LeadState(self.profile, event.caller_id)
        self.call_sid = event.call_sid
        out: list[object] = [StartLead(event.call_sid, event.caller_id, self.profile.business_name)]
        if self.state.caller_id:
            out.append(AddNote(f"מספר המזוהה של הלקוח: {self.state.caller_id}. הציעי אותו כמספר לחזרה."))
        return out

    def _function_call(self, event: FunctionCalled) -> list[object]:
        try:
            args = json.loads(event.arguments or "{}")
            if event.name == "set_field":
                outcome = self.state.set_field(str(args["field"]), str(args["value"]))
            elif event.name == "request_confirmation":
                outcome = self.state.request_confirmation(str(args.get("field", "all")))
            elif event.name == "caller_answered":
                outcome = self.state.model_answered(
                    str(args["field"]), str(args["answer"]), str(args.get("corrected_value") or "")
                )
            else:
                error = json.dumps({"ok": False, "error": f"unknown tool {event.name!r}"})
                return [SendFunctionOutput(event.call_id, error)]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            error = json.dumps({"ok": False, "error": f"bad arguments: {exc}"})
            return [SendFunctionOutput(event.call_id, error)]
        writes, commands = self._apply(outcome)
        return [*writes, SendFunctionOutput(event.call_id, outcome.output), *commands]

    def _apply(self, outcome: Outcome) -> tuple[list[LeadWrite], list[object]]:
        """What one outcome of the lead state means: writes first, then commands for the call."""
        writes: list[LeadWrite] = [SaveField(c.field, c.value, c.confirmed) for c in outcome.changes]
        commands: list[object] = [AddNote(outcome.note)] if outcome.note else []
        if outcome.complete:  # saved, then the goodbye, then the end once it has played
            self.state.phase = Phase.GOODBYE
            self.hangup_armed = True
            goodbye = (
                f"כל הפרטים אושרו ונשמרו. אמרי את משפט הסיום ואל תשאלי שאלות נוספות: {self.profile.goodbye}"
            )
            writes.append(SetStatus("confirmed"))
            commands += [AddNote(goodbye), HangUpAfterReply()]
        return writes, commands
