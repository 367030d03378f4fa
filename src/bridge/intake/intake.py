"""LeadIntake: the CallPolicy that turns a call into a lead (tools, transcripts, store, hangup)."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from bridge.intake.confirmation import LeadState, Outcome, Phase
from bridge.intake.profile import BusinessProfile

if TYPE_CHECKING:
    from bridge.core.call import Call
    from bridge.intake.store import LeadStore

log = logging.getLogger("fastgate.intake")

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
]


class LeadIntake:
    """One per call. Without a store it still runs the state machine (nothing is written)."""

    tools = TOOLS

    def __init__(self, profile: BusinessProfile, store: LeadStore | None = None) -> None:
        self.profile = profile
        self.store = store
        self.state = LeadState(profile)
        self.lead_id: int | None = None
        self.call: Call | None = None

    def attach(self, call: Call) -> None:
        self.call = call

    def on_start(self, call_sid: str, caller_id: str | None) -> None:
        self.state = LeadState(self.profile, caller_id)
        if self.store is not None:
            self.lead_id = self.store.start(call_sid, caller_id, self.profile.business_name)
        if self.state.caller_id and self.call is not None:
            self.call.add_server_event(
                f"מספר המזוהה של הלקוח: {self.state.caller_id}. הציעי אותו כמספר לחזרה.", respond=False
            )

    def on_caller_transcript(self, text: str) -> None:
        self._apply(self.state.caller_said(text))
        if self.state.phase == Phase.GOODBYE and self.call is not None and not self.call.hangup_when_idle:
            # they spoke over the goodbye without a "no": end after this reply
            self.call.hang_up_after_reply()

    def on_assistant_transcript(self, text: str) -> None:
        return None

    def on_function_call(self, name: str, arguments: str) -> tuple[str, bool]:
        try:
            args = json.loads(arguments or "{}")
            if name == "set_field":
                outcome = self.state.set_field(str(args["field"]), str(args["value"]))
            elif name == "request_confirmation":
                outcome = self.state.request_confirmation(str(args.get("field", "all")))
            else:
                return json.dumps({"ok": False, "error": f"unknown tool {name!r}"}), True
        except (ValueError, KeyError, TypeError) as exc:
            return json.dumps({"ok": False, "error": f"bad arguments: {exc}"}), True
        self._apply(outcome)
        return outcome.output, True

    def on_playback_idle(self) -> None:
        return None

    def on_end(self, reason: str) -> None:
        if self.store is None or self.lead_id is None:
            return
        if self.state.complete:
            return  # saved as confirmed already
        self.store.set_status(self.lead_id, "partial" if self.state.values else "abandoned")

    def _apply(self, outcome: Outcome) -> None:
        if self.store is not None and self.lead_id is not None:
            for change in outcome.changes:
                self.store.set_field(self.lead_id, change.field, change.value, change.confirmed)
        if outcome.note and self.call is not None:
            self.call.add_server_event(outcome.note, respond=False)
        if outcome.complete:
            self._save_and_say_goodbye()

    def _save_and_say_goodbye(self) -> None:
        if self.store is not None and self.lead_id is not None:
            self.store.set_status(self.lead_id, "confirmed")
        self.state.phase = Phase.SAVED
        log.info("lead %s confirmed and saved: %s", self.lead_id, self.state.values)
        if self.call is not None:
            self.call.add_server_event(
                f"כל הפרטים אושרו ונשמרו. אמרי את משפט הסיום ואל תשאלי שאלות נוספות: {self.profile.goodbye}",
                respond=False,
            )
            self.call.hang_up_after_reply()
            self.state.phase = Phase.GOODBYE
