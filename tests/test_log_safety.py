"""Log output never carries a secret or a forged line, masks phone numbers unless asked, and a flood of
bad messages is counted rather than echoed."""

from __future__ import annotations

import asyncio
import logging
import signal

from bridge.core.actions import Log
from bridge.core.call import MALFORMED_LOGGED, Call
from bridge.core.config import CallConfig
from bridge.server.logsafety import SafeLogFilter
from bridge.sim.realtime_server import RealtimeSimulator
from bridge.sim.scenario import load_scenario
from bridge.sim.twilio_caller import TwilioCaller
from test_serve_process import serve

SECRET = "sk-test-THIS-IS-SECRET-123456"


def test_secrets_are_redacted_and_lines_cannot_be_forged() -> None:
    safe = SafeLogFilter([SECRET, "twilio-token-abc"])
    assert safe.clean(f"> Authorization: Bearer {SECRET}") == "> Authorization: Bearer ***"
    assert "SECRET" not in safe.clean(f"key={SECRET}") and "sk-***" in safe.clean("sk-otherkey123456")
    assert safe.clean("token twilio-token-abc") == "token ***"
    assert safe.clean("digit 1\n2025-01-01 ERROR forged") == "digit 1\\x0a2025-01-01 ERROR forged"


def test_phone_numbers_are_masked_unless_asked() -> None:
    masked = SafeLogFilter().clean('caller +972541234567 said "054-123-4567" at 12345678 ms')
    assert "541234" not in masked and "123-45" not in masked
    assert masked.endswith("at 12345678 ms")  # a plain figure is not a phone number
    assert "+972541234567" in SafeLogFilter(show_numbers=True).clean("caller +972541234567")


def test_the_filter_rewrites_records_of_any_library(caplog) -> None:
    record = logging.LogRecord(
        "websockets.client", logging.DEBUG, __file__, 1, "> %s", (f"Bearer {SECRET}",), None
    )
    SafeLogFilter([SECRET]).filter(record)
    assert record.getMessage() == "> Bearer ***"


def test_log_fields_from_input_stay_on_one_line() -> None:
    line = Log(logging.INFO, "DTMF", "digit 1\r\n[x] +0ms [END] forged", "CA1\nCA2", 5.0).message
    assert "\n" not in line and "\r" not in line


def test_a_flood_of_bad_messages_is_counted_not_echoed() -> None:
    call = Call(CallConfig(), now_ms=0.0)
    for n in range(5000):
        call.receive_twilio("not json {" + str(n), float(n))
    lines = [a for a in call.actions() if isinstance(a, Log) and a.tag == "MALFORMED"]
    assert call.stats.malformed_twilio == 5000
    assert MALFORMED_LOGGED <= len(lines) <= MALFORMED_LOGGED + 5


def test_serve_at_debug_never_prints_the_api_key(tmp_path) -> None:
    scenario = load_scenario("noise-only")

    async def go() -> str:
        async with RealtimeSimulator(scenario, time_scale=0.25) as sim:
            db = str(tmp_path / "leads.db")
            server, port = serve(sim.base_url, db, "--log-level", "DEBUG", "--no-intake", key=SECRET)
            try:
                await TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", scenario, time_scale=0.25).run()
                assert sim.sessions, "the call reached the Realtime simulator"
            finally:
                server.send_signal(signal.SIGTERM)
                _, err = server.communicate(timeout=30)
            return err.decode()

    stderr = asyncio.run(go())
    assert "Authorization: Bearer ***" in stderr  # the socket library logged the header, redacted
    assert "THIS-IS-SECRET" not in stderr


def serve_a_call_and_read_the_log(tmp_path, *extra: str) -> str:
    scenario = load_scenario("seed-barge-in")

    async def go() -> str:
        async with RealtimeSimulator(scenario, time_scale=0.25) as sim:
            server, port = serve(sim.base_url, str(tmp_path / "leads.db"), *extra)
            try:
                await TwilioCaller(f"ws://127.0.0.1:{port}/media-stream", scenario, time_scale=0.25).run()
            finally:
                server.send_signal(signal.SIGTERM)
                _, err = server.communicate(timeout=30)
            return err.decode()

    return asyncio.run(go())


def test_what_people_say_is_logged_as_its_length_unless_asked(tmp_path) -> None:
    hidden = serve_a_call_and_read_the_log(tmp_path)
    assert "[CALLER] (" in hidden and "characters; --log-transcripts yes shows them)" in hidden
    assert "[ASSISTANT] (" in hidden
    assert "קריית" not in hidden  # neither the caller's words nor the model's read-back
    shown = serve_a_call_and_read_the_log(tmp_path, "--log-transcripts", "yes")
    assert "קריית שמונה" in shown
