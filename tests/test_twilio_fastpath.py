"""process_twilio_media: same answers as json + base64 + Gate on valid messages, no crash on garbage."""

from __future__ import annotations

import base64
import binascii
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.protocol import ProtocolError
from bridge.protocol.twilio import parse as parse_twilio
from fastgate import FRAME_BYTES, Gate, process_twilio_media


def general_path(message: str | bytes, gate: Gate):
    """The reference: what the bridge would do with json.loads and base64."""
    try:
        msg = json.loads(message)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(str(exc)) from exc
    if not isinstance(msg, dict):
        raise ValueError("not a JSON object")
    if msg.get("event") != "media":
        return None
    media = msg.get("media")
    payload = media.get("payload") if isinstance(media, dict) else None
    if not isinstance(payload, str):
        raise ValueError("media event without media.payload")
    if len(payload) % 4:
        raise ValueError("not canonical base64")  # Python 3.13 rejects excess '='; 3.11 took it
    frame = base64.b64decode(payload, validate=True)
    passed = gate.process(frame)
    forward = payload if passed else base64.b64encode(b"\xff" * len(frame)).decode()
    return passed, gate.last_rms, forward


def media_message(frame: bytes, seq: int = 1, **extra) -> str:
    return json.dumps(
        {
            "event": "media",
            "sequenceNumber": str(seq),
            "media": {
                "track": "inbound",
                "chunk": str(seq),
                "timestamp": str(seq * 20),
                "payload": base64.b64encode(frame).decode(),
            },
            "streamSid": "MZ18ad3ab5a668481ce02b83e7395059f0",
            **extra,
        }
    )


def test_a_twilio_media_frame(audio):
    speech = audio("caller_yes")
    fast_gate, slow_gate = Gate(), Gate()
    for seq, start in enumerate(range(0, len(speech) - FRAME_BYTES, FRAME_BYTES)):
        message = media_message(speech[start : start + FRAME_BYTES], seq)
        assert process_twilio_media(message, fast_gate) == general_path(message, slow_gate)
    assert fast_gate.passed == slow_gate.passed and fast_gate.passed["speech"] > 0
    assert fast_gate.blocked == slow_gate.blocked


def test_gated_frames_forward_ulaw_silence_of_the_same_length():
    passed, rms, payload = process_twilio_media(media_message(b"\x7e" * 160), Gate())
    assert not passed and rms > 0
    assert base64.b64decode(payload) == b"\xff" * 160


def test_bytes_messages_work_too():
    message = media_message(b"\x00" * 160)
    assert process_twilio_media(message.encode(), Gate()) == general_path(message, Gate())


@pytest.mark.parametrize(
    "message",
    [
        '{"event":"connected","protocol":"Call","version":"1.0.0"}',
        '{"event":"mark","sequenceNumber":"4","streamSid":"MZ1","mark":{"name":"a1"}}',
        '{"event":"stop","streamSid":"MZ1","stop":{"callSid":"CA1"}}',
        '{"media":{"payload":"//8="}}',  # no event at all
        '{"event":"start","start":{"customParameters":{"שם":"דני"}}}',  # non-ASCII: general path
        '{"ev\\u0065nt":"media","media":{"payload":"//8="}}',  # escaped key: general path
        '{"event":"media","media":{"payload":"\\/\\/8="}}',  # escaped payload: general path
        '{"event":"med\\u0069a","media":{"payload":"//8="}}',
    ],
)
def test_other_events_and_unusual_shapes_go_to_the_general_path(message):
    gate = Gate()
    assert process_twilio_media(message, gate) is None
    assert sum(gate.passed.values()) + sum(gate.blocked.values()) == 0


@pytest.mark.parametrize(
    "message",
    [
        "",
        "   ",
        "[]",
        "null",
        "not json",
        '{"event":"media"',
        '{"event":"media","media":{"payload":"//8="}} trailing',
        '{"event":"media"}',
        '{"event":"media","media":{}}',
        '{"event":"media","media":{"payload":7}}',
        '{"event":"media","media":{"payload":"not base64!"}}',
        '{"event":"media","media":{"payload":"QQ="}}',
        '{"event":"media","media":{"payload":"Q"}}',
        '{"event":"media","media":{"payload":"QQ==="}}',
        '{"event":"media","media":{"payload":"QQ==QQ=="}}',
    ],
)
def test_garbage_and_bad_media_raise_value_error(message):
    gate = Gate()
    with pytest.raises(ValueError):
        process_twilio_media(message, gate)
    with pytest.raises((ValueError, binascii.Error)):
        general_path(message, Gate())
    assert sum(gate.passed.values()) + sum(gate.blocked.values()) == 0


@pytest.mark.parametrize("payload", ["", "QQ==", "QUI=", "QUJD", "QUJDRA=="])
def test_base64_edge_cases_match_the_standard_library(payload):
    message = json.dumps({"event": "media", "media": {"payload": payload}})
    assert process_twilio_media(message, Gate()) == general_path(message, Gate())


@pytest.mark.parametrize("payload", ["QUJD=", "QUJD==", "QUI==", "QUI", "QQ="])
def test_non_canonical_padding_is_refused_on_every_python(payload):
    message = json.dumps({"event": "media", "media": {"payload": payload}})
    with pytest.raises(ValueError):
        process_twilio_media(message, Gate())
    with pytest.raises(ProtocolError):
        parse_twilio(message)


def test_wrong_argument_types():
    with pytest.raises(TypeError):
        process_twilio_media(123, Gate())
    with pytest.raises(TypeError):
        process_twilio_media("{}", object())


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=6,
)
extra_fields = st.dictionaries(
    st.sampled_from(
        ["sequenceNumber", "streamSid", "track", "chunk", "timestamp", "x", "event_", "payloads"]
    ),
    json_values,
    max_size=4,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    frame=st.binary(max_size=700),
    top_extra=extra_fields,
    media_extra=extra_fields,
    order=st.randoms(use_true_random=False),
    separators=st.sampled_from([(",", ":"), (", ", ": "), (" ,\n", " :\t")]),
    as_bytes=st.booleans(),
)
def test_fast_path_equals_general_path_on_valid_messages(
    frame, top_extra, media_extra, order, separators, as_bytes
):
    media = {**media_extra, "payload": base64.b64encode(frame).decode()}
    items = [*top_extra.items(), ("event", "media"), ("media", media)]
    order.shuffle(items)
    message: str | bytes = json.dumps(dict(items), separators=separators)
    if as_bytes:
        message = message.encode()
    assert process_twilio_media(message, Gate()) == general_path(message, Gate())


def outcome(message, gate):
    try:
        return process_twilio_media(message, gate)
    except ValueError:
        return "ValueError"


@settings(max_examples=1500)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_fuzz_arbitrary_input_never_crashes(message):
    result = outcome(message, Gate())
    assert result is None or result == "ValueError" or isinstance(result, tuple)


@settings(max_examples=600)
@given(st.binary(max_size=200), st.data())
def test_fuzz_mutated_media_messages(frame, data):
    raw = bytearray(media_message(frame).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.sampled_from(b'{}[]",:\\ =/+Aa0\x00\x7f'))
    cut = data.draw(st.integers(0, len(raw)))
    message = bytes(raw[:cut])
    result = outcome(message, Gate())
    if isinstance(result, tuple):  # when the fast path answers, it agrees with json
        assert result == general_path(message, Gate())


def test_every_truncation_of_a_message_is_handled():
    message = media_message(bytes(range(160)))
    for cut in range(len(message)):
        assert outcome(message[:cut], Gate()) in (None, "ValueError")


@pytest.mark.parametrize(
    "around",
    [
        '"streamSid":"MZ\\q"',  # an escape JSON does not have
        '"streamSid":"MZ\\u12"',  # a short \u escape
        '"sequenceNumber":1.2.3',
        '"sequenceNumber":01',
        '"sequenceNumber":-',
        '"sequenceNumber":1e',
        '"sequenceNumber":1.',
        '"sequenceNumber":+1',
    ],
)
def test_invalid_json_around_a_valid_payload_is_never_forwarded(around):
    message = '{"event":"media",' + around + ',"media":{"payload":"//8="}}'
    with pytest.raises(ValueError):
        json.loads(message)
    with pytest.raises(ValueError):
        process_twilio_media(message, Gate())


def test_a_surrogate_escape_is_left_to_the_general_path():
    message = '{"event":"media","streamSid":"MZ\\ud800","media":{"payload":"//8="}}'
    assert process_twilio_media(message, Gate()) is None


@settings(max_examples=1500)
@given(st.binary(max_size=120), st.data())
def test_fuzz_the_fast_path_forwards_only_what_json_accepts(frame, data):
    raw = bytearray(media_message(frame).encode())
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(raw)))
        raw[pos:pos] = data.draw(st.sampled_from([b"\\", b"\\q", b"\\u", b".", b"0", b"e", b"-", b"\\u00e9"]))
    message = bytes(raw)
    try:
        json.loads(message)
    except ValueError:
        assert not isinstance(outcome(message, Gate()), tuple)
