from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastgate import Framer


def test_exact_frames_pass_through():
    framer = Framer()
    frame = bytes(range(160))
    assert framer.push(frame) == [frame]
    assert framer.pending == 0
    assert framer.flush() is None


def test_remainder_is_kept_for_the_next_push():
    framer = Framer(160)
    assert framer.push(b"\x01" * 100) == []
    assert framer.pending == 100
    frames = framer.push(memoryview(b"\x02" * 250))
    assert frames == [b"\x01" * 100 + b"\x02" * 60, b"\x02" * 160]
    assert framer.pending == 30


def test_flush_pads_with_ulaw_silence():
    framer = Framer(160)
    framer.push(b"\x10" * 10)
    assert framer.flush() == b"\x10" * 10 + b"\xff" * 150
    assert framer.pending == 0
    framer.push(bytearray(b"\x10"))
    assert framer.flush(fill=0x7F) == b"\x10" + b"\x7f" * 159


@pytest.mark.parametrize("bad", [0, -1])
def test_frame_size_must_be_positive(bad):
    with pytest.raises(ValueError):
        Framer(bad)


def test_fill_must_be_a_byte():
    framer = Framer()
    framer.push(b"x")
    with pytest.raises(ValueError):
        framer.flush(fill=256)


@given(st.lists(st.binary(max_size=700), max_size=30), st.integers(1, 400))
def test_any_chunking_yields_the_same_stream(chunks, size):
    framer = Framer(size)
    out = []
    for chunk in chunks:
        out.extend(framer.push(chunk))
    assert all(len(frame) == size for frame in out)
    stream = b"".join(chunks)
    assert b"".join(out) == stream[: len(stream) - len(stream) % size]
    assert framer.pending == len(stream) % size
    tail = framer.flush()
    if stream and len(stream) % size:
        assert tail == stream[-(len(stream) % size) :] + b"\xff" * (size - len(stream) % size)
    else:
        assert tail is None
