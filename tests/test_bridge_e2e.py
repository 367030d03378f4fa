"""The bridge between the two simulators over real websockets on 127.0.0.1, scenario by scenario.

Timing bounds here are generous on purpose; the tight figures live in benchmarks/.
"""

from __future__ import annotations

import asyncio
import functools
import os
import tempfile

import pytest
from pydantic import TypeAdapter

from bridge.core.config import CallConfig
from bridge.intake import intake_factory
from bridge.intake.profile import load_profile
from bridge.intake.store import Lead, LeadStore
from bridge.sim.scenario import load_scenario
from bridge.sim.simulation import Simulation, run_simulation

CLIENT_EVENTS = TypeAdapter(__import__("openai.types.realtime", fromlist=["x"]).RealtimeClientEvent)


DB_DIR = tempfile.mkdtemp(prefix="fastgate-e2e-")


@functools.cache
def simulated(name: str, time_scale: float, server_interrupt: bool = False) -> Simulation:
    """One simulated call with lead intake writing to a real SQLite file (see lead_of)."""
    profile = load_profile()
    config = CallConfig(instructions=profile.render_instructions(), server_interrupt=server_interrupt)
    scenario = load_scenario(name)
    if server_interrupt:
        scenario = scenario.__class__(
            **{**scenario.__dict__, "session": {**scenario.session, "server_interrupt": True}}
        )
    store = LeadStore(db_path(name, time_scale, server_interrupt))
    try:
        return asyncio.run(
            run_simulation(
                scenario, time_scale=time_scale, config=config, app_factory=intake_factory(profile, store)
            )
        )
    finally:
        store.close()


def db_path(*key: object) -> str:
    return os.path.join(DB_DIR, "-".join(map(str, key)) + ".db")


def lead_of(sim: Simulation, *key: object) -> Lead:
    """The lead of that call, read back from the SQLite file after the call, by a new connection."""
    store = LeadStore(db_path(*key))
    try:
        (lead,) = [lead for lead in store.leads() if lead.call_sid == sim.report.call_sid]
        return lead
    finally:
        store.close()


def client_events_are_valid_ga(sim: Simulation) -> None:
    for r in sim.server_session.record:
        if r.direction == "in":
            event = dict(r.event)
            if event["type"] == "input_audio_buffer.append":
                event["audio"] = ""
            CLIENT_EVENTS.validate_python(event)


@pytest.fixture(scope="module")
def seed() -> Simulation:
    return simulated("seed-barge-in", 0.5)


def test_seed_one_barge_in_with_every_rule(seed):
    (b,) = seed.barge_ins()
    assert b.heard_after_clear_ms <= 20, "the caller heard AI audio more than one frame after clear"
    assert b.cancel_id_ok, "response.cancel did not carry the active response id"
    assert b.truncate_ms is not None and abs(b.truncate_ms - b.heard_ms) <= 40
    assert b.frames_checked > 50 and b.frames_unchanged == b.frames_checked
    assert b.next_response_after_turn
    assert b.reaction_ms < 250


def test_seed_drops_the_late_deltas_and_provokes_no_error(seed):
    (b,) = seed.barge_ins()
    assert b.late_deltas >= 1
    assert seed.report.stats.late_deltas_dropped == b.late_deltas
    assert seed.errors() == []


def test_seed_next_answer_is_about_the_new_words(seed):
    caller_lines = [text for _, who, text in seed.report.transcript if who == "caller"]
    ai_lines = [text for _, who, text in seed.report.transcript if who == "assistant"]
    assert caller_lines[0] == "לא… קליבר אמונה… קריית שמונה"
    assert ai_lines[0] == "סליחה על הטעות. קריית שמונה, נכון?"  # the interrupted line never completed
    truncated = seed.server_session.truncations
    assert len(truncated) == 1
    item = seed.server_session.items[truncated[0][0]]
    assert item["truncated_ms"] == truncated[0][1] < len(item["audio"]) // 8


def test_seed_bridge_speaks_valid_ga_events(seed):
    client_events_are_valid_ga(seed)
    kinds = [r.event["type"] for r in seed.server_session.record if r.direction == "in"]
    assert "session.update" in kinds[:2]
    creates = [
        r.t_ms
        for r in seed.server_session.record
        if r.direction == "in" and r.event["type"] == "response.create"
    ]
    outputs = [
        r.t_ms
        for r in seed.server_session.record
        if r.direction == "in"
        and r.event["type"] == "conversation.item.create"
        and r.event["item"]["type"] == "function_call_output"
    ]
    tool_rounds = [
        r
        for r in seed.server_session.record
        if r.direction == "out"
        and r.event["type"] == "response.done"
        and any(o.get("type") == "function_call" for o in r.event["response"]["output"])
    ]
    turns_ended = [
        r.t_ms
        for r in seed.server_session.record
        if r.direction == "out" and r.event["type"] == "input_audio_buffer.speech_stopped"
    ]
    # the greeting, one after each round of tool outputs, and (create_response is off with local
    # detection) one for each of the caller's turns, asked for once the turn has ended
    assert len(creates) == 1 + len(tool_rounds) + len(turns_ended) == 5
    after_tools = [c for c in creates[1:] if any(0 <= c - o < 50 for o in outputs)]
    after_turns = [c for c in creates[1:] if any(0 <= c - t < 50 for t in turns_ended)]
    assert len(after_tools) == len(tool_rounds) and len(after_turns) == len(turns_ended)


def test_seed_story_is_in_the_logs(seed):
    text = "\n".join(line.message for _, line in seed.report.log_lines)
    for tag in ("[BARGE-IN]", "[TX_FLUSH]", "[TRUNCATE]", "[AUDIO GATE]", "[END]"):
        assert tag in text


def test_seed_ends_with_the_city_confirmed_in_the_database(seed):
    lead = lead_of(seed, "seed-barge-in", 0.5, False)
    assert lead.fields["city"] == "קריית שמונה" and "city" in lead.confirmed
    assert lead.status == "partial"  # name and number were never given: no hangup, no "confirmed"
    assert lead.caller_id == "+972541234567"


def test_happy_path_saves_a_confirmed_lead_and_hangs_up_after_the_goodbye():
    sim = simulated("happy-path", 0.25)
    lead = lead_of(sim, "happy-path", 0.25, False)
    assert lead.status == "confirmed"
    assert lead.fields == {
        "service": "פריצת דלתות",
        "city": "קריית שמונה",
        "name": "דני",
        "phone": "+972541234567",
    }
    assert sorted(lead.confirmed) == ["city", "name", "phone", "service"]
    assert sim.report.ended == "goodbye played" and sim.caller.ended_by == "server"
    goodbye = sim.scenario.replies[-1].audio
    assert sim.caller.heard[-1][1] == goodbye[-len(sim.caller.heard[-1][1]) :]  # heard to its last frame


def test_noise_only_never_barges_in_and_the_ai_finishes():
    sim = simulated("noise-only", 0.25)
    assert sim.barge_ins() == [] and sim.errors() == []
    heard = sum(len(chunk) for _, chunk in sim.caller.heard)
    assert heard == len(sim.scenario.replies[0].audio)
    assert sim.report.stats.frames_forwarded == 0  # line noise never passed the gate


def test_happy_path_has_no_barge_in_and_every_reply_is_heard():
    sim = simulated("happy-path", 0.25)
    assert sim.barge_ins() == [] and sim.errors() == []
    assert len(sim.caller.ai_onsets) == 4
    heard = sum(len(chunk) for _, chunk in sim.caller.heard)
    assert heard == sum(len(r.audio) for r in sim.scenario.replies)
    client_events_are_valid_ga(sim)


def test_server_interrupt_on_is_tolerated():
    sim = simulated("seed-barge-in", 0.5, server_interrupt=True)
    (b,) = sim.barge_ins()
    codes = [e["code"] for e in sim.errors()]
    assert set(codes) <= {"response_cancel_not_active"}
    assert sim.report.stats.realtime_errors == {c: codes.count(c) for c in set(codes)}
    assert b.heard_after_clear_ms <= 20 and b.next_response_after_turn
    assert sim.report.ended == "caller hung up"


def test_the_caller_corrects_the_city_twice_and_the_lead_ends_right():
    sim = simulated("city-corrected-twice", 0.25)
    lead = lead_of(sim, "city-corrected-twice", 0.25, False)
    assert lead.fields["city"] == "צפת" and "city" in lead.confirmed
    store = LeadStore(db_path("city-corrected-twice", 0.25, False))
    try:
        cities = [value for kind, field, value in store.events(lead.id) if field == "city" and kind == "set"]
    finally:
        store.close()
    assert cities == ["קריית אתא", "קריית שמונה", "צפת"]
    assert sim.errors() == []
