"""Fuzzing a live Call: well-formed messages with fields of the wrong type, truncated messages, random JSON
and random bytes, from both peers, in any order. Zero exceptions; the call goes on (only a Twilio `stop`
may end it); every message that is not even a JSON object is counted as malformed.

Quick in CI (FASTGATE_FUZZ_EXAMPLES, default 150 calls of up to 40 messages, about 6 fuzzed messages a
call on average); the long mode, about a million messages in some ten minutes:
`FASTGATE_FUZZ_EXAMPLES=160000 python -m pytest tests/test_fuzz_call.py`.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.core.call import Call
from bridge.core.config import CallConfig
from bridge.core.events import EndReason
from helpers import LOUD, QUIET, created, delta, done, hard, mark, media, rt, start

EXAMPLES = int(os.environ.get("FASTGATE_FUZZ_EXAMPLES", "150"))

TWILIO_SHAPES = [media(LOUD), media(QUIET), mark("m1"), start(), '{"event":"dtmf","dtmf":{"digit":"1"}}']
REALTIME_SHAPES = [
    created("resp_1"),
    delta("resp_1", "item_1", LOUD * 5),
    done("resp_1"),
    rt("input_audio_buffer.speech_started", audio_start_ms=100, item_id="item_2"),
    rt("input_audio_buffer.speech_stopped", audio_end_ms=900, item_id="item_2"),
    rt("conversation.item.input_audio_transcription.completed", item_id="item_2", transcript="לא"),
    rt("response.output_audio_transcript.done", response_id="resp_1", transcript="שלום"),
    rt("response.function_call_arguments.done", call_id="c1", name="set_field", arguments="{}"),
    rt("error", error={"type": "invalid_request_error", "code": "x", "message": "m"}),
    rt("session.updated", session={}),
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _set_path(obj: Any, value: Any, depth: int) -> Any:
    """Replace one field (at some depth) of a parsed message with an arbitrary value."""
    if not isinstance(obj, dict) or not obj or depth == 0:
        return value
    key = sorted(obj)[depth % len(obj)]
    return {**obj, key: _set_path(obj[key], value, depth - 1)}


@st.composite
def message(draw: st.DrawFn, shapes: list[str]) -> tuple[str | bytes, bool]:
    """(message, certainly malformed: not a JSON object at all)."""
    base = draw(st.sampled_from(shapes))
    kind = draw(st.sampled_from(["valid", "mutated", "truncated", "json", "bytes"]))
    if kind == "valid":
        return base, False
    if kind == "mutated":
        mutated = _set_path(json.loads(base), draw(json_values), draw(st.integers(0, 3)))
        return json.dumps(mutated, ensure_ascii=draw(st.booleans())), not isinstance(mutated, dict)
    if kind == "truncated":
        return base[: draw(st.integers(0, max(0, len(base) - 1)))], True
    if kind == "json":
        value = draw(json_values)
        return json.dumps(value), not isinstance(value, dict)
    return draw(st.binary(max_size=40)), True


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    local=st.booleans(),
    steps=st.lists(
        st.tuples(st.sampled_from(["twilio", "realtime"]), st.data()),
        max_size=40,
    ),
)
def test_no_message_from_either_peer_can_crash_or_end_the_call(local: bool, steps: list[Any]) -> None:
    config = CallConfig() if local else hard()
    call = Call(config, now_ms=0.0)
    call.realtime_connected(0.0)
    call.receive_twilio(start(), 0.0)
    now, garbage = 0.0, {"twilio": 0, "realtime": 0}
    for side, data in steps:
        now += 20.0
        text, certainly_bad = data.draw(message(TWILIO_SHAPES if side == "twilio" else REALTIME_SHAPES))
        if side == "twilio":
            call.receive_twilio(text, now)
        else:
            call.receive_realtime(text, now)
        garbage[side] += certainly_bad
        call.tick(now)
        call.actions(), call.events()
        if call.ending is not None:
            assert call.ending.reason is EndReason.CALLER_HUNG_UP, call.ending
            return
    assert call.stats.malformed_twilio >= garbage["twilio"]
    assert call.stats.malformed_realtime >= garbage["realtime"]
