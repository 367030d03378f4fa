"""fastgate's G.711 codecs and RMS against CPython's audioop, exhaustively and by property."""

from __future__ import annotations

import array
import audioop
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastgate

ALL_CODES = bytes(range(256))
ALL_SAMPLES = struct.pack("<65536h", *range(-32768, 32768))
BYTE_LIKES = [bytes, bytearray, memoryview, lambda b: array.array("B", b)]


def test_every_ulaw_code_decodes_like_audioop():
    assert fastgate.ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)


def test_every_alaw_code_decodes_like_audioop():
    assert fastgate.alaw_decode(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


def test_every_int16_encodes_to_ulaw_like_audioop():
    assert fastgate.ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES, 2)


def test_every_int16_encodes_to_alaw_like_audioop():
    assert fastgate.alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES, 2)


@pytest.mark.parametrize("code", range(256))
def test_rms_of_each_single_code(code):
    frame = bytes([code]) * 160
    assert fastgate.rms_ulaw(frame) == audioop.rms(audioop.ulaw2lin(frame, 2), 2)


def test_empty_input():
    assert fastgate.ulaw_decode(b"") == b""
    assert fastgate.alaw_decode(b"") == b""
    assert fastgate.ulaw_encode(b"") == b""
    assert fastgate.alaw_encode(b"") == b""
    assert fastgate.rms_ulaw(b"") == 0


@pytest.mark.parametrize("encode", [fastgate.ulaw_encode, fastgate.alaw_encode])
def test_odd_pcm_length_is_a_clear_error(encode):
    with pytest.raises(ValueError, match="whole 16-bit samples"):
        encode(b"\x00\x01\x02")


@pytest.mark.parametrize(
    "func", [fastgate.ulaw_decode, fastgate.alaw_decode, fastgate.rms_ulaw, fastgate.ulaw_encode]
)
def test_text_is_rejected(func):
    with pytest.raises(TypeError):
        func("not bytes")


@given(st.binary(max_size=4000), st.sampled_from(BYTE_LIKES))
def test_decode_and_rms_match_audioop_for_any_frame(data, wrap):
    pcm = audioop.ulaw2lin(data, 2)
    assert fastgate.ulaw_decode(wrap(data)) == pcm
    assert fastgate.alaw_decode(wrap(data)) == audioop.alaw2lin(data, 2)
    assert fastgate.rms_ulaw(wrap(data)) == audioop.rms(pcm, 2)


@given(st.binary(max_size=4000).map(lambda b: b[: len(b) & ~1]), st.sampled_from(BYTE_LIKES))
def test_encode_matches_audioop_for_any_pcm(pcm, wrap):
    assert fastgate.ulaw_encode(wrap(pcm)) == audioop.lin2ulaw(pcm, 2)
    assert fastgate.alaw_encode(wrap(pcm)) == audioop.lin2alaw(pcm, 2)


def test_memoryview_slices_are_read_in_place():
    data = bytes(range(256)) * 3
    view = memoryview(data)[7:501]
    assert fastgate.rms_ulaw(view) == audioop.rms(audioop.ulaw2lin(bytes(view), 2), 2)


def test_round_trip_is_stable():
    once = fastgate.ulaw_encode(fastgate.ulaw_decode(ALL_CODES))
    assert fastgate.ulaw_decode(once) == fastgate.ulaw_decode(ALL_CODES)


def test_rms_is_exact_past_the_integer_fast_path():
    # Above 2**23 samples the sum leaves the exact-double range; audioop's own loop is replayed.
    data = bytes([0x00, 0x80, 0x10, 0x90]) * ((1 << 23) // 4 + 3)
    assert fastgate.rms_ulaw(data) == audioop.rms(audioop.ulaw2lin(data, 2), 2)
