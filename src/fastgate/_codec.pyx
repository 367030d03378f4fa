# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""G.711 codecs and RMS, bit-exact with CPython's audioop."""
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.stdint cimport int16_t, uint8_t, uint16_t
from libc.string cimport memcpy

from fastgate._bytes cimport ByteView, borrow, release
from fastgate._g711 cimport (
    fg_alaw2lin, fg_init_decode, fg_init_encode, fg_lin2alaw, fg_lin2ulaw,
    fg_ulaw2lin, fg_ulaw_rms,
)

fg_init_decode()
fg_init_encode()


cdef bytes _expand(object data, const int16_t* table):
    cdef ByteView v
    borrow(data, &v)
    cdef Py_ssize_t i, n = v.size
    cdef bytes out
    try:
        out = PyBytes_FromStringAndSize(NULL, n * 2)
        dst = <int16_t*>PyBytes_AS_STRING(out)
        for i in range(n):
            dst[i] = table[v.data[i]]
    finally:
        release(&v)
    return out


cdef bytes _compress(object pcm, const uint8_t* table):
    cdef ByteView v
    borrow(pcm, &v)
    cdef Py_ssize_t i, n
    cdef int16_t sample
    cdef bytes out
    try:
        if v.size & 1:
            raise ValueError(f"PCM must hold whole 16-bit samples; got {v.size} bytes")
        n = v.size // 2
        out = PyBytes_FromStringAndSize(NULL, n)
        dst = <uint8_t*>PyBytes_AS_STRING(out)
        for i in range(n):
            memcpy(&sample, v.data + 2 * i, 2)
            dst[i] = table[<uint16_t>sample]
    finally:
        release(&v)
    return out


def ulaw_decode(data) -> bytes:
    """G.711 mu-law bytes -> int16 native-endian PCM, as audioop.ulaw2lin(data, 2)."""
    return _expand(data, fg_ulaw2lin)


def alaw_decode(data) -> bytes:
    """G.711 A-law bytes -> int16 native-endian PCM, as audioop.alaw2lin(data, 2)."""
    return _expand(data, fg_alaw2lin)


def ulaw_encode(pcm) -> bytes:
    """int16 native-endian PCM -> G.711 mu-law, as audioop.lin2ulaw(pcm, 2)."""
    return _compress(pcm, fg_lin2ulaw)


def alaw_encode(pcm) -> bytes:
    """int16 native-endian PCM -> G.711 A-law, as audioop.lin2alaw(pcm, 2)."""
    return _compress(pcm, fg_lin2alaw)


def rms_ulaw(data) -> int:
    """RMS of mu-law audio, equal to audioop.rms(audioop.ulaw2lin(data, 2), 2)."""
    cdef ByteView v
    borrow(data, &v)
    cdef unsigned int result
    try:
        result = fg_ulaw_rms(v.data, <size_t>v.size)
    finally:
        release(&v)
    return result
