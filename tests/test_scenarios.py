"""Shipped scenarios load, and bad scenario files say what is wrong."""

from __future__ import annotations

import pytest

from bridge.core.config import CallConfig
from bridge.sim.scenario import ScenarioError, load_scenario, parse_scenario, scenario_names
from bridge.sim.simulation import call_config

REQUIRED = {"seed-barge-in", "noise-only", "cough", "happy-path"}


def test_the_required_scenarios_ship():
    assert set(scenario_names()) >= REQUIRED


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_scenario_loads_with_audio(name):
    sc = load_scenario(name)
    assert sc.replies and all(r.audio for r in sc.replies)
    assert all(u.audio for u in sc.utterances)
    assert isinstance(call_config(sc), CallConfig)


def test_seed_scenario_is_the_one_from_the_logs():
    sc = load_scenario("seed-barge-in")
    assert sc.replies[0].transcript.startswith("רק מוודאת — היית צריך פריצת דלתות בעיר")
    assert sc.utterances[0].transcript == "לא… קליבר אמונה… קריית שמונה"


def test_scenario_files_can_live_anywhere(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n[[replies]]\naudio = "ai_greeting"\ntranscript = "שלום"\n', "utf-8")
    assert load_scenario(str(path)).name == "mine"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"replies": [{"audio": "no_such_file"}]}, "neither a shipped fixture"),
        ({"caller": {"utterances": [{"audio": "caller_yes"}]}}, "exactly one of at_ms or after_ai_starts"),
        (
            {"caller": {"utterances": [{"audio": "caller_yes", "at_ms": 1, "after_ai_starts": 1}]}},
            "exactly one",
        ),
        ({"replies": [{"transcript": "x"}]}, "missing key"),
        ({"realtime": {"warp": 9}}, "warp"),
    ],
)
def test_bad_scenarios_say_why(data, message):
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(data)


def test_unknown_scenario_lists_the_shipped_ones():
    with pytest.raises(ScenarioError, match="seed-barge-in"):
        load_scenario("nope")


def test_unknown_session_keys_are_rejected():
    sc = parse_scenario({"session": {"warp_speed": 1}})
    with pytest.raises(ValueError, match="warp_speed"):
        call_config(sc)
