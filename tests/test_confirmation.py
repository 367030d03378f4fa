"""The lead state machine: "no" un-confirms and clears, "yes" confirms what was read back."""

from __future__ import annotations

import json

import pytest

from bridge.intake.confirmation import LeadState, Phase
from bridge.intake.intake import LeadIntake
from bridge.intake.profile import load_profile, parse_profile
from helpers import Harness, created, done, hard, rt

PROFILE = load_profile()


def confirming_city(city: str = "קריית אתא") -> LeadState:
    state = LeadState(PROFILE, "+972541234567")
    state.set_field("service", "פריצת דלתות")
    state.set_field("city", city)
    state.request_confirmation("city")
    assert state.phase == Phase.CONFIRMING
    return state


def test_the_exact_sequence_from_the_logs():
    state = confirming_city()
    out = state.caller_said("לא…")
    assert "city" not in state.values and "city" not in state.confirmed
    assert [(c.field, c.value, c.confirmed) for c in out.changes] == [("city", None, False)]
    assert "קריית אתא" in out.note and state.phase == Phase.COLLECTING
    fuzzy = json.loads(state.set_field("city", "קליבר אמונה").output)
    assert fuzzy["value"] == "קריית שמונה" and fuzzy["exact_match"] is False
    state.request_confirmation("city")
    assert state.caller_said("קריית שמונה").changes == []  # a repeat is not a yes
    assert "city" not in state.confirmed and state.phase == Phase.CONFIRMING
    state.caller_said("כן")
    assert state.values["city"] == "קריית שמונה" and "city" in state.confirmed


def test_no_then_the_right_city_in_one_breath():
    state = confirming_city()
    out = state.caller_said("לא… קליבר אמונה… קריית שמונה")
    assert state.values["city"] == "קריית שמונה" and "city" not in state.confirmed
    assert [(c.field, c.value, c.confirmed) for c in out.changes] == [("city", "קריית שמונה", False)]
    assert "אל תחזרי על קריית אתא" in out.note


@pytest.mark.parametrize("no", ["לא", "לא נכון", "ממש לא", "לא לא", "טעות", "זה לא", "לא.", "לֹא!", "בכלל לא"])
def test_every_no_clears_the_field_under_confirmation(no):
    state = confirming_city()
    state.caller_said(no)
    assert "city" not in state.values and not state.confirmed and not state.complete


def test_it_is_not_x_keeps_x_out():
    state = confirming_city()
    state.caller_said("זה לא קריית אתא")
    assert "city" not in state.values  # the rejected value is not taken back as a correction


@pytest.mark.parametrize(
    "other", ["אולי", "רגע", "מה?", "קריית שמונה", "אני לא בטוח", "כן אבל", "לא יודעת", "הממ", ""]
)
def test_anything_else_keeps_waiting(other):
    state = confirming_city()
    out = state.caller_said(other)
    assert state.phase == Phase.CONFIRMING and not state.confirmed and out.changes == []


def full_state() -> LeadState:
    state = LeadState(PROFILE)
    for name, value in (
        ("service", "פריצת דלתות"),
        ("city", "קריית שמונה"),
        ("name", "דני"),
        ("phone", "054-1234567"),
    ):
        assert json.loads(state.set_field(name, value).output)["ok"]
    return state


def test_yes_confirms_only_what_was_read_back():
    state = full_state()
    state.request_confirmation("city")
    out = state.caller_said("כן, נכון.")
    assert state.confirmed == {"city"} and not out.complete and "השירות" in out.note
    state.request_confirmation("all")
    out = state.caller_said("בדיוק")
    assert out.complete and state.complete and state.phase == Phase.CONFIRMED


def test_read_back_of_all_needs_every_field_first():
    state = LeadState(PROFILE)
    state.set_field("city", "צפת")
    result = json.loads(state.request_confirmation("all").output)
    assert not result["ok"] and result["missing"] == ["service", "name", "phone"]
    assert state.phase == Phase.COLLECTING


def test_no_to_the_summary_with_a_correction_fixes_that_field_only():
    state = full_state()
    state.request_confirmation("all")
    out = state.caller_said("לא, הטלפון אפס חמש שתיים, שבע שש חמש, ארבע שלוש שתיים אחת")
    assert state.values["phone"] == "+972527654321" and state.values["city"] == "קריית שמונה"
    assert [c.field for c in out.changes] == ["phone"] and not state.confirmed


def test_no_to_the_summary_without_a_correction_clears_nothing_and_asks():
    state = full_state()
    state.request_confirmation("all")
    out = state.caller_said("לא")
    assert len(state.values) == 4 and not state.confirmed and out.changes == []
    assert "איזה פרט" in out.note


def test_changing_a_confirmed_value_unconfirms_it():
    state = full_state()
    state.request_confirmation("all")
    state.caller_said("כן")
    assert state.complete
    state.set_field("phone", "052-7654321")
    assert not state.complete and "phone" not in state.confirmed and state.phase == Phase.COLLECTING


def test_tool_errors_are_explained():
    state = LeadState(PROFILE)
    assert "unknown field" in state.set_field("email", "x@y").output
    bad = json.loads(state.set_field("phone", "12345").output)
    assert not bad["ok"] and "Israeli phone" in bad["error"]
    assert "no value" in state.request_confirmation("name").output


def test_profiles_reject_unknown_fields():
    with pytest.raises(ValueError, match="unknown required fields"):
        parse_profile({"business": {"name": "x", "services": []}, "lead": {"required_fields": ["email"]}})
    with pytest.raises(ValueError, match="missing"):
        parse_profile({})


# -- the policy inside a Call: hangup only after a confirmed, saved lead and a goodbye heard ------------
def call_with_intake() -> tuple[Harness, LeadIntake]:
    intake = LeadIntake(PROFILE)
    h = Harness(hard(greet_first=False), app=intake)
    h.ready()
    return h, intake


def tool(h: Harness, name: str, **args: str) -> list:
    return h.realtime(
        rt(
            "response.function_call_arguments.done",
            response_id="r",
            item_id="i",
            output_index=0,
            call_id=f"call_{name}",
            name=name,
            arguments=json.dumps(args, ensure_ascii=False),
        )
    )


def caller(h: Harness, text: str) -> None:
    h.realtime(
        rt(
            "conversation.item.input_audio_transcription.completed",
            item_id="u",
            content_index=0,
            transcript=text,
            usage={"type": "duration", "seconds": 1},
        )
    )


def record_all_fields(h: Harness) -> None:
    for name, value in DETAILS:
        tool(h, "set_field", field=name, value=value)


DETAILS = (("service", "פריצת דלתות"), ("city", "צפת"), ("name", "דני"), ("phone", "0541234567"))


def test_never_hangs_up_with_an_unconfirmed_field():
    h, _intake = call_with_intake()
    record_all_fields(h)
    tool(h, "request_confirmation", field="city")
    caller(h, "כן")
    h.realtime(created("resp_goodbye"))
    h.realtime(done("resp_goodbye"))
    h.tick(10_000)
    assert h.call.ended is None and not h.call.hangup_when_idle


def test_hangs_up_after_the_goodbye_has_played():
    h, intake = call_with_intake()
    record_all_fields(h)
    tool(h, "request_confirmation", field="all")
    caller(h, "כן, נכון")
    assert intake.state.phase == Phase.GOODBYE
    h.realtime(created("resp_goodbye"))
    h.realtime(done("resp_goodbye"))
    assert h.call.ended == "goodbye played"


def test_interrupting_the_goodbye_cancels_the_hangup():
    h, intake = call_with_intake()
    record_all_fields(h)
    tool(h, "request_confirmation", field="all")
    caller(h, "כן")
    h.realtime(created("resp_goodbye"))
    h.realtime(
        rt(
            "response.output_audio.delta",
            response_id="resp_goodbye",
            item_id="i_g",
            output_index=0,
            content_index=0,
            delta="//////////8=",
        )
    )
    h.realtime(rt("input_audio_buffer.speech_started", audio_start_ms=0, item_id="u2"))
    assert not h.call.hangup_when_idle
    h.realtime(done("resp_goodbye", "cancelled"))
    h.realtime(rt("input_audio_buffer.speech_stopped", audio_end_ms=10, item_id="u2"))
    h.tick(5000)
    assert h.call.ended is None
    caller(h, "לא, רגע")
    assert intake.state.phase == Phase.COLLECTING and h.call.ended is None


def test_a_yes_but_no_is_a_no():
    state = confirming_city()
    out = state.caller_said("כן אבל לא")
    assert "city" not in state.values and out.changes and out.changes[0].value is None


# -- the second opinion: the model's reading of the answer (caller_answered) ---------------------------
@pytest.mark.parametrize(
    ("transcript", "model", "confirmed", "cleared"),
    [
        ("כן", None, True, False),  # the classifier alone
        ("כן", "yes", True, False),
        ("כן", "unclear", True, False),  # one side yes, the other not no
        ("כן", "no", False, True),  # a clear no from either clears the field
        ("לא", "yes", False, True),
        ("לא יודעת", "yes", False, False),  # disagreement: asked again, never confirmed
        ("לא יודעת", None, False, False),
        ("", "no", False, True),
    ],
)
def test_the_rule_that_combines_both_sides(transcript, model, confirmed, cleared):
    state = confirming_city()
    state.caller_said(transcript)
    if model is not None:
        state.model_answered("city", model)
    assert ("city" in state.confirmed) is confirmed
    assert ("city" not in state.values) is cleared


def test_a_model_no_after_the_transcripts_yes_reverts_the_confirmation():
    state = confirming_city()
    assert state.caller_said("כן נכון").changes[0].confirmed
    out = state.model_answered("city", "no", "טבריה")
    assert "city" not in state.confirmed and state.values["city"] == "טבריה" and out.note


def test_disagreement_asks_again_with_a_different_question():
    state = confirming_city()
    state.caller_said("לא יודעת")
    out = state.model_answered("city", "yes")
    assert out.note and "שאלי שוב" in out.note and state.phase == Phase.CONFIRMING
