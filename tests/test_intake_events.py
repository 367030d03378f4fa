"""Lead intake as an application of the call: events in, lead writes and commands out, in order;
the writes run on the server's writer thread, and a failing store never ends a call."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading

from bridge.core.commands import AddNote, HangUpAfterReply, Patience, SendFunctionOutput
from bridge.core.events import (
    BargeInStarted,
    CallEnded,
    CallerTranscript,
    CallStarted,
    EndReason,
    FunctionCalled,
)
from bridge.intake.intake import LeadIntake, SaveField, SetStatus, StartLead
from bridge.intake.profile import load_profile
from bridge.intake.store import LeadStore
from bridge.sim.scenario import load_scenario
from bridge.sim.simulation import run_simulation

PROFILE = load_profile()


def call(name: str, **args: str) -> FunctionCalled:
    return FunctionCalled(f"call_{name}", name, json.dumps(args, ensure_ascii=False))


def test_the_start_opens_a_lead_then_offers_the_caller_id():
    out = LeadIntake(PROFILE).handle(CallStarted("CA1", "MZ1", "+972541234567"))
    assert isinstance(out[0], StartLead) and out[0].call_sid == "CA1"
    assert isinstance(out[1], AddNote) and "+972541234567" in out[1].text and not out[1].respond


def test_a_tools_writes_come_before_its_output_and_its_notes_after():
    intake = LeadIntake(PROFILE)
    intake.handle(CallStarted("CA1", "MZ1", None))
    out = intake.handle(call("set_field", field="city", value="צפת"))
    assert out == [SaveField("city", "צפת", False), SendFunctionOutput("call_set_field", out[1].output)]
    intake.handle(call("request_confirmation", field="city"))
    out = intake.handle(CallerTranscript("לא, טבריה"))
    assert [type(i) for i in out] == [SaveField, AddNote]  # corrected, then the model is told
    assert out[0] == SaveField("city", "טבריה", False)


def test_the_last_yes_saves_then_says_goodbye_then_hangs_up():
    intake = LeadIntake(PROFILE)
    intake.handle(CallStarted("CA1", "MZ1", None))
    for name, value in (
        ("service", "פריצת דלתות"),
        ("city", "צפת"),
        ("name", "דני"),
        ("phone", "0541234567"),
    ):
        intake.handle(call("set_field", field=name, value=value))
    intake.handle(call("request_confirmation", field="all"))
    out = intake.handle(CallerTranscript("כן, נכון"))
    kinds = [type(i) for i in out]
    assert kinds[-3:] == [SetStatus, AddNote, HangUpAfterReply] and out[-3] == SetStatus("confirmed")
    assert kinds.count(SaveField) == 4
    assert list(intake.handle(CallEnded(EndReason.GOODBYE_PLAYED))) == []  # confirmed: nothing to downgrade


def test_speaking_over_the_goodbye_rearms_the_hangup_after_the_next_reply():
    intake = LeadIntake(PROFILE)
    intake.hangup_armed = True
    intake.state.phase = intake.state.phase.GOODBYE
    intake.handle(BargeInStarted(0.0, "r", "i", 10, 0))
    assert intake.handle(CallerTranscript("תודה רבה")) == [HangUpAfterReply()]


def test_an_unfinished_call_leaves_a_partial_or_abandoned_lead():
    intake = LeadIntake(PROFILE)
    intake.handle(CallStarted("CA1", "MZ1", None))
    assert intake.handle(CallEnded(EndReason.CALLER_HUNG_UP)) == [SetStatus("abandoned")]
    intake.handle(call("set_field", field="city", value="צפת"))
    assert intake.handle(CallEnded(EndReason.CALLER_HUNG_UP)) == [SetStatus("partial")]


def test_bad_tool_arguments_get_an_error_output_and_no_write():
    out = LeadIntake(PROFILE).handle(FunctionCalled("c1", "set_field", "[1, 2]"))
    assert len(out) == 1 and isinstance(out[0], SendFunctionOutput) and "bad arguments" in out[0].output


class RecordingStore(LeadStore):
    """A real SQLite store that notes which thread wrote, and can fail like a locked database."""

    def __init__(self, path: str, fail_fields: str = "") -> None:
        super().__init__(path, retry_seconds=0.2)
        self.threads: set[str] = set()
        self.fail_fields = fail_fields  # the error every set_field raises, if any

    def start(self, *args):  # type: ignore[no-untyped-def]
        self.threads.add(threading.current_thread().name)
        return super().start(*args)

    def set_field(self, *args):  # type: ignore[no-untyped-def]
        self.threads.add(threading.current_thread().name)
        if self.fail_fields:
            raise sqlite3.OperationalError(self.fail_fields)
        return super().set_field(*args)


def simulate_with(store: LeadStore):
    return asyncio.run(
        run_simulation(
            load_scenario("seed-barge-in"), time_scale=0.25, app_factory=lambda: LeadIntake(PROFILE, store)
        )
    )


def test_lead_writes_run_on_the_writer_thread_not_the_event_loop(tmp_path):
    store = RecordingStore(str(tmp_path / "leads.db"))
    sim = simulate_with(store)
    assert store.threads == {"fastgate-writer_0"}
    (lead,) = store.leads()
    assert lead.fields["city"] == "קריית שמונה" and sim.report.app_errors == 0


def test_a_failing_store_is_logged_and_the_call_goes_on(tmp_path):
    store = RecordingStore(str(tmp_path / "leads.db"), fail_fields="disk I/O error")
    sim = simulate_with(store)
    assert sim.report.app_errors >= 2 and sim.report.ended == "caller hung up"
    assert sim.errors() == [] and len(sim.barge_ins()) == 1
    record = sim.server_session.record
    calls = {r.event["call_id"] for r in record if r.event["type"] == "response.function_call_arguments.done"}
    answered = {
        r.event["item"]["call_id"]
        for r in record
        if r.event["type"] == "conversation.item.create" and r.event["item"]["type"] == "function_call_output"
    }
    assert calls and answered == calls  # every tool was still answered
    assert store.leads()[0].status == "partial"


def test_the_vad_is_patient_while_the_phone_number_is_dictated():
    intake = LeadIntake(PROFILE)
    intake.handle(CallStarted("CA1", "MZ1", None))
    for name, value in (("service", "פריצת דלתות"), ("city", "צפת")):
        assert Patience(True) not in intake.handle(call("set_field", field=name, value=value))
    assert intake.handle(call("set_field", field="name", value="דני"))[-1] == Patience(True)
    half = intake.handle(call("set_field", field="phone", value="אפס חמש ארבע"))  # too short: not taken
    assert Patience(False) not in half and "phone" not in intake.state.values
    out = intake.handle(call("set_field", field="phone", value="0541234567"))
    assert out[-1] == Patience(False) and intake.state.values["phone"] == "+972541234567"


def test_a_store_locked_for_the_whole_call_keeps_every_write_and_replays_them_in_order(tmp_path):
    path = str(tmp_path / "leads.db")
    store = LeadStore(path, retry_seconds=0.2, busy_ms=50)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock for the whole call
    sim = simulate_with(store)
    assert sim.report.app_errors == 0 and sim.errors() == [] and len(sim.barge_ins()) == 1
    assert store.spilled() and not store.leads()  # every write waits beside the database, in order
    locker.execute("ROLLBACK")
    assert store.replay_spilled() >= 4  # what the next write, or the next start of the server, does
    (lead,) = store.leads()
    assert lead.fields["city"] == "קריית שמונה" and lead.status == "partial"
    assert [e[0] for e in store.events(lead.id)][-2:] == ["confirm", "status"]
    assert not store.spilled()
