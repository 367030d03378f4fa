"""Server settings from one source: flags over environment over defaults, with clear errors."""

from __future__ import annotations

import argparse
from dataclasses import asdict

import pytest

from bridge.core.config import CallConfig, GateConfig
from bridge.server.settings import Settings, add_options, load_settings
from fastgate import Gate


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_options(p)
    return p.parse_args(argv)


def test_defaults_come_from_the_dataclasses():
    s = load_settings(parse(), environ={})
    assert (s.port, s.host, s.drain_seconds, s.call.voice) == (8080, "0.0.0.0", 30.0, CallConfig().voice)
    assert s.intake and s.db_path == "fastgate-leads.db" and s.api_key is None


def test_flags_win_over_the_environment_which_wins_over_defaults():
    env = {"FASTGATE_PORT": "9000", "PORT": "7000", "FASTGATE_VOICE": "cedar", "OPENAI_API_KEY": "sk-x"}
    s = load_settings(parse("--voice", "ash"), environ=env)
    assert s.port == 9000 and s.call.voice == "ash" and s.api_key == "sk-x"
    assert load_settings(parse(), environ={"PORT": "7000"}).port == 7000


def test_call_options_and_switches():
    s = load_settings(
        parse("--silence-ms", "700", "--server-interrupt", "yes", "--no-intake", "--model", "m2"), environ={}
    )
    assert s.call.silence_duration_ms == 700 and s.call.server_interrupt and not s.intake
    assert s.realtime_endpoint.endswith("/realtime?model=m2")
    assert s.call.instructions == CallConfig().instructions  # no profile without intake


def test_the_profile_gives_the_instructions_and_the_transcription_prompt():
    s = load_settings(parse(), environ={})
    assert "מנעולן הצפון" in s.call.instructions
    spec = s.call.transcription()
    assert spec is not None and spec["language"] == "he" and "קריית שמונה" in spec["prompt"]


def test_an_instructions_file_overrides_the_profile(tmp_path):
    path = tmp_path / "i.txt"
    path.write_text("היי קצרה", "utf-8")
    assert load_settings(parse("--instructions-file", str(path)), environ={}).call.instructions == "היי קצרה"


@pytest.mark.parametrize(
    ("argv", "env", "says"),
    [
        (("--port", "eighty"), {}, "--port"),
        ((), {"FASTGATE_PORT": "x"}, "FASTGATE_PORT"),
        ((), {"FASTGATE_SERVER_INTERRUPT": "maybe"}, "FASTGATE_SERVER_INTERRUPT"),
        (("--log-level", "bogus"), {}, "unknown log level"),
    ],
)
def test_bad_values_name_the_flag_or_variable(argv, env, says):
    with pytest.raises(ValueError, match=says):
        load_settings(parse(*argv), environ=env)


def test_the_gate_config_defaults_are_the_compiled_gates():
    gate = Gate()
    for name, value in asdict(GateConfig()).items():
        if name != "initial_floor":
            assert getattr(gate, name) == pytest.approx(value), name
    assert Gate(**asdict(GateConfig())).noise_floor == Gate().noise_floor


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings().port = 1  # type: ignore[misc]


def test_local_detection_settings():
    s = load_settings(parse("--local-detection", "no", "--voice-detector", "energy"), environ={})
    assert not s.call.local.enabled and s.call.local.detector == "energy"
    assert s.call.turn_detection()["create_response"] is True  # the server answers turns again
    s = load_settings(parse(), environ={"FASTGATE_BACKCHANNELS": "אהה, יופי", "FASTGATE_MAX_PAUSE_MS": "900"})
    assert s.call.local.backchannels == ("אהה", "יופי") and s.call.local.max_pause_ms == 900
    assert s.call.local.enabled and s.call.turn_detection()["create_response"] is False
