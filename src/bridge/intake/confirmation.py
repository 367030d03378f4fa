"""The per-call lead state machine: collecting -> confirming -> confirmed -> saved -> goodbye.

Pure: tool calls and caller transcripts in, what changed and what to tell the model out. A "no" while
confirming un-confirms and clears the field being confirmed (or replaces it with the value the caller
gave right after the "no"); a "yes" confirms only what was read back; anything else confirms nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum

from bridge.intake import fields as check
from bridge.intake.answers import Answer, Kind, classify_answer
from bridge.intake.profile import BusinessProfile


class Phase(StrEnum):
    COLLECTING = "collecting"
    CONFIRMING = "confirming"
    CONFIRMED = "confirmed"
    SAVED = "saved"
    GOODBYE = "goodbye"


@dataclass
class Change:
    field: str
    value: str | None
    confirmed: bool


@dataclass
class Outcome:
    """What one input did: field changes to persist, a note for the model, and whether the lead is done."""

    changes: list[Change] = field(default_factory=list)
    note: str | None = None
    complete: bool = False
    output: str = ""  # the function_call_output, for tool calls


class LeadState:
    def __init__(self, profile: BusinessProfile, caller_id: str | None = None) -> None:
        self.profile = profile
        self.values: dict[str, str] = {}
        self.confirmed: set[str] = set()
        self.confirming: tuple[str, ...] = ()
        self.confirmed_last: tuple[str, ...] = ()  # what the last yes confirmed (a later no reverts it)
        self.heard: Answer | None = None  # the classifier's reading of the caller's answer
        self.model: Answer | None = None  # the model's (caller_answered)
        self.phase = Phase.COLLECTING
        self.caller_id = check.check_phone(caller_id).value if caller_id else None

    # -- questions --------------------------------------------------------------------------------------
    @property
    def missing(self) -> list[str]:
        return [f for f in self.profile.required_fields if f not in self.values]

    @property
    def unconfirmed(self) -> list[str]:
        return [f for f in self.profile.required_fields if f not in self.confirmed]

    @property
    def complete(self) -> bool:
        return not self.unconfirmed

    def summary(self, names: tuple[str, ...]) -> str:
        labels = self.profile.labels
        return ", ".join(f"{labels.get(n, n)}: {self.values[n]}" for n in names if n in self.values)

    # -- tool calls -------------------------------------------------------------------------------------
    def set_field(self, name: str, raw: str) -> Outcome:
        if name not in self.profile.required_fields:
            return Outcome(
                output=_json(
                    ok=False, error=f"unknown field {name!r}", fields=list(self.profile.required_fields)
                )
            )
        result = self._check(name, raw)
        if not result.ok or result.value is None:
            return Outcome(output=_json(ok=False, field=name, error=result.problem))
        changed = self.values.get(name) != result.value
        self.values[name] = result.value
        if changed:
            self.confirmed.discard(name)
        if self.phase in (Phase.CONFIRMED, Phase.SAVED, Phase.GOODBYE) and changed:
            self.phase = Phase.COLLECTING
        out = Outcome([Change(name, result.value, name in self.confirmed)] if changed else [])
        out.output = _json(
            ok=True,
            field=name,
            value=result.value,
            heard=raw,
            exact_match=result.exact,
            warning=result.problem or None,
            missing=self.missing,
            next="confirm with the caller" if not self.missing else "read back all details",
        )
        return out

    def request_confirmation(self, what: str) -> Outcome:
        if what == "all":
            names = tuple(f for f in self.profile.required_fields if f in self.values)
            if self.missing:
                return Outcome(output=_json(ok=False, missing=self.missing, error="collect these first"))
        elif what in self.values:
            names = (what,)
        else:
            return Outcome(output=_json(ok=False, error=f"no value recorded for {what!r}"))
        self.confirming = names
        self.confirmed_last = ()
        self.heard = self.model = None
        self.phase = Phase.CONFIRMING
        read_back = self.profile.confirm_template.format(summary=self.summary(names))
        return Outcome(output=_json(ok=True, read_back=read_back, wait_for="an explicit yes"))

    # -- the caller's words, and the model's reading of them ------------------------------------------
    def caller_said(self, text: str) -> Outcome:
        """The transcript of the caller's answer (the classifier's side)."""
        answer = classify_answer(text)
        if self.phase == Phase.CONFIRMING:
            self.heard = answer
            return self._decide()
        if self.confirmed_last and answer.negative and self.phase is not Phase.CONFIRMING:
            return self._reverted(answer.value, "the transcript")  # a "no" that came after a yes
        if answer.negative and self.phase in (Phase.SAVED, Phase.GOODBYE):
            self.phase = Phase.COLLECTING
            return Outcome(note="הלקוח אמר 'לא' אחרי הסיכום: שאלי איזה פרט צריך לתקן. אל תסיימי את השיחה.")
        return Outcome()

    def model_answered(self, what: str, answer: str, corrected: str = "") -> Outcome:
        """The model's reading of the caller's answer (the tool caller_answered): the second opinion."""
        kind = {"yes": Kind.YES, "no": Kind.NO, "unclear": Kind.UNCLEAR}.get(answer)
        if kind is None:
            return Outcome(output=_json(ok=False, error="answer must be yes, no or unclear"))
        if kind is Kind.NO and corrected:
            kind = Kind.CORRECTION
        if self.phase != Phase.CONFIRMING:
            if kind in (Kind.NO, Kind.CORRECTION) and self.confirmed_last:
                out = self._reverted(corrected, "the model")
                out.output = _json(ok=True, result="cleared; ask again")
                return out
            return Outcome(output=_json(ok=True, result="nothing was being confirmed"))
        self.model = Answer(kind, corrected)
        out = self._decide()
        out.output = out.output or _json(ok=True, result=self.phase.value)
        return out

    def _decide(self) -> Outcome:
        """The rule: confirmed only when the transcript holds no negation and one side says yes with
        the other not saying no; a clear no from either clears the field; disagreement asks again."""
        heard, model = self.heard, self.model
        for side in (heard, model):
            if side is not None and side.negative:
                other = model if side is heard else heard
                value = side.value or (other.value if other is not None else "")
                return self._rejected(value)
        yes = [side for side in (heard, model) if side is not None and side.kind is Kind.YES]
        unclear = [side for side in (heard, model) if side is not None and side.kind is Kind.UNCLEAR]
        if heard is not None and heard.kind is Kind.YES:
            return self._accepted()
        if yes and unclear:
            return self._ask_again()
        return Outcome()  # keeps waiting: nothing yet is a yes

    def _ask_again(self) -> Outcome:
        names = ", ".join(self.profile.labels.get(n, n) for n in self.confirming)
        self.heard = self.model = None
        return Outcome(note=f"לא ברור אם הלקוח אישר את {names}. שאלי שוב בקצרה ובמילים אחרות: כן או לא?")

    def _reverted(self, value: str, by: str) -> Outcome:
        """A clear no right after a yes (from the later of the two sides): the field is cleared again."""
        targets, self.confirmed_last = self.confirmed_last, ()
        for name in targets:
            self.confirmed.discard(name)
        self.confirming = targets
        self.phase = Phase.CONFIRMING
        return self._rejected(value)

    def _accepted(self) -> Outcome:
        out = Outcome()
        for name in self.confirming:
            if name in self.values and name not in self.confirmed:
                self.confirmed.add(name)
                out.changes.append(Change(name, self.values[name], True))
        self.confirmed_last = self.confirming
        self.confirming = ()
        self.heard = self.model = None
        if self.complete:
            self.phase = Phase.CONFIRMED
            out.complete = True
        else:
            self.phase = Phase.COLLECTING
            missing = ", ".join(self.profile.labels.get(f, f) for f in self.unconfirmed)
            out.note = f"הלקוח אישר. עדיין חסר או לא מאושר: {missing}."
        return out

    def _rejected(self, rest: str) -> Outcome:
        out = Outcome()
        targets = self.confirming
        self.confirming = ()
        self.heard = self.model = None
        self.phase = Phase.COLLECTING
        corrected = self._correction(targets, rest)
        if len(targets) == 1 or corrected:
            name = corrected[0] if corrected else targets[0]
            old = self.values.pop(name, None)
            self.confirmed.discard(name)
            labels = self.profile.labels
            if corrected:
                self.values[name] = corrected[1]
                out.changes.append(Change(name, corrected[1], False))
                out.note = (
                    f"הלקוח תיקן את {labels.get(name, name)}: לא {old} אלא {corrected[1]}. "
                    f"אל תחזרי על {old}. ודאי איתו: {corrected[1]}, נכון?"
                )
            else:
                out.changes.append(Change(name, None, False))
                out.note = (
                    f"הלקוח אמר ש{old} שגוי ({labels.get(name, name)}). שאלי מה הנכון, ואל תחזרי על {old}."
                )
        else:
            out.note = "הלקוח אמר 'לא' לסיכום. שאלי איזה פרט שגוי ותקני רק אותו."
        return out

    def _correction(self, targets: tuple[str, ...], rest: str) -> tuple[str, str] | None:
        """The value the caller gave right after the "no", for one of the fields read back.

        With one field read back, any valid value for it counts. With several, only what cannot be
        mistaken: a phone number (digits), or an exact city or service.
        """
        if not rest:
            return None
        order = sorted(targets, key=lambda n: ("phone", "city", "service", "name").index(n))
        for name in order:
            if len(targets) > 1 and name == "name":
                continue  # any words look like a name: trusted only when the name alone was asked
            result = self._check(name, rest)
            if not (result.ok and result.value) or result.value == self.values.get(name):
                continue
            if len(targets) > 1 and not result.exact:
                continue
            return name, result.value
        return None

    def _check(self, name: str, raw: str) -> check.Checked:
        p = self.profile
        return {
            "city": lambda: check.check_city(raw, p.cities),
            "phone": lambda: check.check_phone(raw),
            "service": lambda: check.check_service(raw, p.services),
            "name": lambda: check.check_name(raw),
        }[name]()


def _json(**fields: object) -> str:
    return json.dumps({k: v for k, v in fields.items() if v is not None}, ensure_ascii=False)
