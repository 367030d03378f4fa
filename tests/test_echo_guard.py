"""The compiled echo guard: what it learns, and step for step the same answers as the plain-Python model
it replaced (kept here as the reference, as audioop is for the codecs)."""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastgate import FRAME_MS, EchoGuard

MIN_REFERENCE_RMS = 200


class ReferenceEchoGuard:
    """The echo guard as it was written in Python (bridge/core/onset.py before it was compiled)."""

    def __init__(self, margin: float, lag_ms: int, assumed_return: float = 0.3) -> None:
        self.margin = margin
        self._heard: deque[int] = deque(maxlen=max(1, lag_ms // FRAME_MS + 1))
        self._warm = 0
        self._returns: deque[float] = deque(maxlen=50)
        self._sorted: list[float] = []
        self.echo_return = assumed_return
        self.reference = 0

    def played(self, rms: int) -> None:
        self._heard.append(rms)
        self._warm += 1

    def restart(self) -> None:
        self._warm = 0

    def heard(self, inbound_rms: int) -> bool:
        reference = self.reference = max(self._heard) if self._heard else 0
        if reference < MIN_REFERENCE_RMS:
            return False
        if self._warm >= self._heard.maxlen:  # type: ignore[operator]
            returns, ordered = self._returns, self._sorted
            if len(returns) == returns.maxlen:
                del ordered[bisect_left(ordered, returns[0])]
            share = inbound_rms / reference
            returns.append(share)
            insort(ordered, share)
            if len(ordered) >= 25:
                self.echo_return = ordered[len(ordered) * 9 // 10]
        return inbound_rms < self.margin * self.echo_return * reference


def test_the_echo_guard_learns_a_speakerphone_and_a_handset():
    speaker, handset = EchoGuard(2.0, 400), EchoGuard(2.0, 400)
    for k in range(80):
        ai = 4000 if k % 10 < 7 else 300
        speaker.played(ai)
        handset.played(ai)
        speaker.heard(ai // 4)  # -12 dB of the AI comes back
        handset.heard(8)  # line noise only
    assert speaker.heard(1000) and not speaker.heard(3500)  # echo; the caller talking over it
    assert not handset.heard(600) and handset.echo_return < 0.01


def test_until_the_ai_was_heard_nothing_is_echo_and_a_speakerphone_is_assumed():
    guard = EchoGuard(2.0, 400, assumed_return=0.25)
    assert not guard.heard(50) and guard.reference == 0
    assert (guard.margin, guard.assumed_return, guard.echo_return) == (2.0, 0.25, 0.25)
    guard.played(150)  # too quiet to hide a caller
    assert not guard.heard(10) and guard.reference == 150


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=4000), min_size=1, max_size=200))
def test_the_echo_return_is_the_90th_percentile_of_the_last_50_shares(inbound):
    guard = EchoGuard(margin=2.0, lag_ms=0)
    shares: list[float] = []
    for rms in inbound:
        guard.played(1000)
        guard.heard(rms)
        shares = [*shares, rms / 1000][-50:]
        if len(shares) >= 25:
            assert guard.echo_return == sorted(shares)[len(shares) * 9 // 10]


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("played"), st.integers(min_value=0, max_value=32124)),
        st.tuples(st.just("heard"), st.integers(min_value=0, max_value=32124)),
        st.tuples(st.just("restart"), st.just(0)),
    ),
    max_size=400,
)


@settings(max_examples=300, deadline=None)
@given(
    margin=st.floats(min_value=0.0, max_value=8.0),
    lag_ms=st.integers(min_value=-40, max_value=1000),
    steps=STEPS,
)
def test_the_compiled_guard_answers_as_the_python_model_step_for_step(margin, lag_ms, steps):
    compiled, model = EchoGuard(margin, lag_ms), ReferenceEchoGuard(margin, lag_ms)
    for name, rms in steps:
        if name == "heard":
            assert compiled.heard(rms) == model.heard(rms)
            assert (compiled.reference, compiled.echo_return) == (model.reference, model.echo_return)
        elif name == "played":
            compiled.played(rms)
            model.played(rms)
        else:
            compiled.restart()
            model.restart()


def test_a_guard_rejects_what_is_not_a_number():
    with pytest.raises(TypeError):
        EchoGuard("2", 400)  # type: ignore[arg-type]
