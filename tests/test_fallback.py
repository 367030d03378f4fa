"""When the model is gone and a fallback number is set, Twilio hands the caller to a person."""

from __future__ import annotations

import aiohttp
from twilio.request_validator import RequestValidator

from bridge.server.app import BridgeServer
from bridge.server.settings import Settings, load_settings
from bridge.sim.scenario import load_scenario
from bridge.sim.twilio_caller import TwilioCaller
from test_server import KEY, TOKEN, run, wait_for

NUMBER = "+97246900000"


def unreachable(**extra) -> Settings:
    return Settings(host="127.0.0.1", port=0, realtime_url="ws://127.0.0.1:9/v1", api_key=KEY, **extra)


async def post(url: str, params: dict[str, str], signature: str | None = None) -> tuple[int, str]:
    headers = {"X-Twilio-Signature": signature} if signature else {}
    async with aiohttp.ClientSession() as http, http.post(url, data=params, headers=headers) as r:
        return r.status, await r.text()


def test_the_stream_asks_what_next_only_when_a_fallback_is_set():
    async def go():
        for settings, action in ((unreachable(fallback_number=NUMBER), True), (unreachable(), False)):
            server = BridgeServer(settings)
            port = await server.start()
            try:
                _, twiml = await post(f"http://127.0.0.1:{port}/incoming-call", {"CallSid": "CA1"})
                assert (f'<Connect action="http://127.0.0.1:{port}/stream-ended">' in twiml) is action
            finally:
                await server.stop(0)

    run(go())


def test_when_the_model_is_gone_the_caller_is_dialled_through_to_a_person():
    async def go():
        server = BridgeServer(unreachable(fallback_number=NUMBER))
        port = await server.start()
        try:
            record = await TwilioCaller(
                f"ws://127.0.0.1:{port}/media-stream", load_scenario("noise-only")
            ).run()
            await wait_for(lambda: server.finished)
            report = server.finished[-1]
            assert report.ended.startswith("realtime connection failed")
            assert not record.heard and record.ended_by == "server"  # no apology: a person is next
            url = f"http://127.0.0.1:{port}/stream-ended"
            status, twiml = await post(url, {"CallSid": report.call_sid})
            assert status == 200
            assert f"<Dial>{NUMBER}</Dial>" in twiml and "<Say" in twiml and "מעבירים אותך לנציג" in twiml
            _, again = await post(url, {"CallSid": report.call_sid})  # once only
            assert "<Hangup />" in again and "<Dial>" not in again
            _, other = await post(url, {"CallSid": "CA-a-call-that-ended-well"})
            assert "<Hangup />" in other and "<Dial>" not in other
        finally:
            await server.stop(0)

    run(go())


def test_the_stream_ended_request_must_be_signed_when_a_token_is_set():
    async def go():
        server = BridgeServer(unreachable(fallback_number=NUMBER, twilio_auth_token=TOKEN))
        port = await server.start()
        try:
            url = f"http://127.0.0.1:{port}/stream-ended"
            params = {"CallSid": "CA1"}
            assert (await post(url, params))[0] == 403
            signed = RequestValidator(TOKEN).compute_signature(url, params)
            status, twiml = await post(url, params, signed)
            assert status == 200 and "<Hangup />" in twiml
        finally:
            await server.stop(0)

    run(go())


def test_the_profile_names_the_fallback_and_a_flag_overrides_it(tmp_path):
    profile = tmp_path / "p.toml"
    profile.write_text(
        '[business]\nname = "x"\nservices = ["a"]\n[failure]\n'
        f'fallback_number = "{NUMBER}"\ntransfer_message = "רגע"\n',
        "utf-8",
    )
    from_profile = load_settings(environ={"FASTGATE_PROFILE": str(profile)})
    assert (from_profile.fallback_number, from_profile.transfer_message) == (NUMBER, "רגע")
    flag = load_settings(environ={"FASTGATE_PROFILE": str(profile), "FASTGATE_FALLBACK_NUMBER": "+1555"})
    assert flag.fallback_number == "+1555"
    assert load_settings(environ={}).fallback_number is None  # the shipped profile names none
