# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The fused fast path for Twilio Media Streams ``media`` messages.

One call scans the message text (no json.loads), decodes the base64 payload
straight into the RMS sum (no PCM buffer), steps the caller's Gate and returns
what to forward. Every read is bounds-checked against the message length.
"""
from cpython.bytes cimport PyBytes_Check, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_Check
from libc.stdint cimport uint8_t, uint32_t, uint64_t

from fastgate._g711 cimport fg_init_decode, fg_rms_from_sum, fg_ulaw_sum_squares
from fastgate._gate cimport Gate

import base64

fg_init_decode()

cdef extern from "Python.h":
    bint PyUnicode_IS_COMPACT_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    object PyUnicode_FromStringAndSize(const char* s, Py_ssize_t n)

cdef signed char B64[256]
cdef int _i
for _i in range(256):
    B64[_i] = -1
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
for _i in range(64):
    B64[ord(_ALPHABET[_i])] = _i

cdef dict _silence_cache = {}

cdef str _silence_b64(Py_ssize_t nbytes):
    cached = _silence_cache.get(nbytes)
    if cached is None:
        cached = base64.b64encode(b"\xff" * nbytes).decode("ascii")
        if len(_silence_cache) < 64:
            _silence_cache[nbytes] = cached
    return cached

# Scanner results: an index >= 0 is the position after what was read.
cdef enum:
    GARBAGE = -1    # not valid JSON as far as the scanner can tell
    GENERAL = -2    # valid-looking, but a shape left to the general path
    MAX_DEPTH = 32


cdef inline Py_ssize_t _ws(const uint8_t* s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    while i < n and (s[i] == 32 or s[i] == 9 or s[i] == 10 or s[i] == 13):
        i += 1
    return i


cdef Py_ssize_t _string(const uint8_t* s, Py_ssize_t i, Py_ssize_t n, bint* escaped) noexcept nogil:
    # s[i] is the opening quote; returns the index after the closing one.
    cdef uint8_t c
    escaped[0] = False
    i += 1
    while i < n:
        c = s[i]
        if c == 34:
            return i + 1
        if c == 92:
            escaped[0] = True
            i = _escape(s, i + 1, n)
            if i < 0:
                return i
            continue
        if c < 32:
            return GARBAGE
        i += 1
    return GARBAGE


cdef Py_ssize_t _escape(const uint8_t* s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    # s[i] follows a backslash; returns the index after the escape. JSON allows \" \\ \/ \b \f \n \r \t
    # and \uXXXX; a surrogate pair is one escape, a lone surrogate is left to the general path's parser.
    cdef uint8_t c
    cdef int unit
    if i >= n:
        return GARBAGE
    c = s[i]
    if c == 34 or c == 92 or c == 47 or c == 98 or c == 102 or c == 110 or c == 114 or c == 116:
        return i + 1
    if c != 117:
        return GARBAGE
    unit = _unit(s, i + 1, n)
    if unit < 0:
        return GARBAGE
    if unit < 0xD800 or unit > 0xDFFF:
        return i + 5
    if unit <= 0xDBFF and i + 6 < n and s[i + 5] == 92 and s[i + 6] == 117:
        unit = _unit(s, i + 7, n)
        if 0xDC00 <= unit <= 0xDFFF:
            return i + 11
    return GENERAL


cdef inline int _nibble(uint8_t c) noexcept nogil:
    if 48 <= c <= 57:
        return c - 48
    if 65 <= c <= 70:
        return c - 55
    if 97 <= c <= 102:
        return c - 87
    return -1


cdef int _unit(const uint8_t* s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    # the four hex digits of a \u escape at s[i]; -1 when they are not
    cdef int value = 0, d
    cdef Py_ssize_t k
    if i + 4 > n:
        return -1
    for k in range(4):
        d = _nibble(s[i + k])
        if d < 0:
            return -1
        value = (value << 4) | d
    return value


cdef Py_ssize_t _number(const uint8_t* s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    # JSON's grammar exactly: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    if i < n and s[i] == 45:
        i += 1
    if i >= n or not (48 <= s[i] <= 57):
        return GARBAGE
    if s[i] == 48:
        i += 1
    else:
        while i < n and 48 <= s[i] <= 57:
            i += 1
    if i < n and s[i] == 46:
        i += 1
        if i >= n or not (48 <= s[i] <= 57):
            return GARBAGE
        while i < n and 48 <= s[i] <= 57:
            i += 1
    if i < n and (s[i] == 101 or s[i] == 69):
        i += 1
        if i < n and (s[i] == 43 or s[i] == 45):
            i += 1
        if i >= n or not (48 <= s[i] <= 57):
            return GARBAGE
        while i < n and 48 <= s[i] <= 57:
            i += 1
    return i


cdef Py_ssize_t _value(const uint8_t* s, Py_ssize_t i, Py_ssize_t n, int depth) noexcept nogil:
    # Skips one JSON value starting at s[i] (no leading whitespace).
    cdef bint escaped
    cdef uint8_t c, close
    if i >= n or depth > MAX_DEPTH:
        return GARBAGE if i >= n else GENERAL
    c = s[i]
    if c == 34:
        return _string(s, i, n, &escaped)
    if c == 123 or c == 91:
        close = 125 if c == 123 else 93
        i = _ws(s, i + 1, n)
        if i < n and s[i] == close:
            return i + 1
        while True:
            if c == 123:
                if i >= n or s[i] != 34:
                    return GARBAGE
                i = _string(s, i, n, &escaped)
                if i < 0:
                    return i
                i = _ws(s, i, n)
                if i >= n or s[i] != 58:
                    return GARBAGE
                i = _ws(s, i + 1, n)
            i = _value(s, i, n, depth + 1)
            if i < 0:
                return i
            i = _ws(s, i, n)
            if i >= n:
                return GARBAGE
            if s[i] == close:
                return i + 1
            if s[i] != 44:
                return GARBAGE
            i = _ws(s, i + 1, n)
    if c == 45 or 48 <= c <= 57:
        return _number(s, i, n)
    if c == 116 and i + 4 <= n and s[i+1] == 114 and s[i+2] == 117 and s[i+3] == 101:
        return i + 4
    if c == 102 and i + 5 <= n and s[i+1] == 97 and s[i+2] == 108 and s[i+3] == 115 and s[i+4] == 101:
        return i + 5
    if c == 110 and i + 4 <= n and s[i+1] == 117 and s[i+2] == 108 and s[i+3] == 108:
        return i + 4
    return GARBAGE


cdef inline bint _is(const uint8_t* s, Py_ssize_t start, Py_ssize_t end, const char* word, Py_ssize_t wlen) noexcept nogil:
    cdef Py_ssize_t k
    if end - start != wlen:
        return False
    for k in range(wlen):
        if s[start + k] != <uint8_t>word[k]:
            return False
    return True


cdef struct Found:
    Py_ssize_t event_start, event_end      # inside the quotes
    Py_ssize_t payload_start, payload_end  # inside the quotes
    bint event_escaped, payload_escaped, media_seen


cdef Py_ssize_t _media_object(const uint8_t* s, Py_ssize_t i, Py_ssize_t n, Found* f) noexcept nogil:
    # s[i] == '{': the value of "media"; records "payload", skips the rest.
    cdef bint escaped
    cdef Py_ssize_t k0, k1
    i = _ws(s, i + 1, n)
    if i < n and s[i] == 125:
        return i + 1
    while True:
        if i >= n or s[i] != 34:
            return GARBAGE
        k0 = i + 1
        i = _string(s, i, n, &escaped)
        if i < 0:
            return i
        if escaped:
            return GENERAL
        k1 = i - 1
        i = _ws(s, i, n)
        if i >= n or s[i] != 58:
            return GARBAGE
        i = _ws(s, i + 1, n)
        if _is(s, k0, k1, b"payload", 7) and i < n and s[i] == 34:
            f.payload_start = i + 1
            i = _string(s, i, n, &f.payload_escaped)
            f.payload_end = i - 1
        else:
            if _is(s, k0, k1, b"payload", 7):
                f.payload_start = -1
            i = _value(s, i, n, 1)
        if i < 0:
            return i
        i = _ws(s, i, n)
        if i >= n:
            return GARBAGE
        if s[i] == 125:
            return i + 1
        if s[i] != 44:
            return GARBAGE
        i = _ws(s, i + 1, n)


cdef Py_ssize_t _scan(const uint8_t* s, Py_ssize_t n, Found* f) noexcept nogil:
    cdef bint escaped
    cdef Py_ssize_t i, k0, k1
    f.event_start = f.payload_start = -1
    f.event_end = f.payload_end = 0
    f.event_escaped = f.payload_escaped = f.media_seen = False
    i = _ws(s, 0, n)
    if i >= n or s[i] != 123:
        return GARBAGE
    i = _ws(s, i + 1, n)
    if i < n and s[i] == 125:
        return _ws(s, i + 1, n)
    while True:
        if i >= n or s[i] != 34:
            return GARBAGE
        k0 = i + 1
        i = _string(s, i, n, &escaped)
        if i < 0:
            return i
        if escaped:
            return GENERAL
        k1 = i - 1
        i = _ws(s, i, n)
        if i >= n or s[i] != 58:
            return GARBAGE
        i = _ws(s, i + 1, n)
        if _is(s, k0, k1, b"event", 5) and i < n and s[i] == 34:
            f.event_start = i + 1
            i = _string(s, i, n, &f.event_escaped)
            f.event_end = i - 1
        elif _is(s, k0, k1, b"media", 5) and i < n and s[i] == 123:
            f.media_seen = True
            f.payload_start = -1
            i = _media_object(s, i, n, f)
        else:
            if _is(s, k0, k1, b"event", 5):
                f.event_start = -1
            elif _is(s, k0, k1, b"media", 5):
                f.media_seen = False
            i = _value(s, i, n, 1)
        if i < 0:
            return i
        i = _ws(s, i, n)
        if i >= n:
            return GARBAGE
        if s[i] == 125:
            return _ws(s, i + 1, n)
        if s[i] != 44:
            return GARBAGE
        i = _ws(s, i + 1, n)


cdef enum:
    CHUNK = 960  # decoded mu-law bytes summed per step (stack, not a PCM buffer)


cdef int _b64_sum(const uint8_t* s, Py_ssize_t n, uint64_t* total, Py_ssize_t* nbytes) noexcept nogil:
    # Accepts canonical base64 only, as base64.b64decode(..., validate=True) does on Python 3.13:
    # alphabet characters, then exactly the padding the length needs (3.11 also took excess '=').
    # Decodes in stack chunks and sums squares.
    cdef uint8_t buf[CHUNK]
    cdef Py_ssize_t q, pads = 0, m, full, used = 0
    cdef int a, b, c, d, rest
    cdef uint64_t acc = 0
    while pads < n and s[n - 1 - pads] == 61:
        pads += 1
    m = n - pads
    rest = m & 3
    if not ((rest == 0 and pads == 0) or (rest == 2 and pads == 2) or (rest == 3 and pads == 1)):
        return -1
    full = m - rest
    nbytes[0] = (full // 4) * 3 + (rest - 1 if rest else 0)
    for q in range(0, full, 4):
        a = B64[s[q]]
        b = B64[s[q + 1]]
        c = B64[s[q + 2]]
        d = B64[s[q + 3]]
        if (a | b | c | d) < 0:
            return -1
        buf[used] = <uint8_t>((a << 2) | (b >> 4))
        buf[used + 1] = <uint8_t>((b << 4) | (c >> 2))
        buf[used + 2] = <uint8_t>((c << 6) | d)
        used += 3
        if used == CHUNK:
            acc += fg_ulaw_sum_squares(buf, used)
            used = 0
    if rest:
        a = B64[s[full]]
        b = B64[s[full + 1]]
        c = B64[s[full + 2]] if rest == 3 else 0
        if (a | b | c) < 0:
            return -1
        buf[used] = <uint8_t>((a << 2) | (b >> 4))
        used += 1
        if rest == 3:
            buf[used] = <uint8_t>((b << 4) | (c >> 2))
            used += 1
    total[0] = acc + fg_ulaw_sum_squares(buf, used)
    return 0


def process_twilio_media(message, Gate gate, bint pass_onsets=False):
    """Gate one Twilio ``media`` message without parsing it as JSON.

    ``message`` is the websocket text frame (``str``, or UTF-8 ``bytes``).
    Returns ``(passed, rms, payload)``: the gate's decision, the frame's RMS and
    the base64 payload to forward (the caller's own when it passed, mu-law
    silence of the same length when it was gated). With ``pass_onsets``, a frame
    that may start a word (the gate's ``onset_pending``) is forwarded as spoken
    too, so no word loses its first frame (``passed`` stays the gate's decision). Returns ``None`` for any other
    event, and for valid JSON whose shape is left to the general path (escapes in
    keys or payload, non-ASCII text). Raises ``ValueError`` for text that is not
    a JSON object, and for a ``media`` event whose payload is missing or is not
    valid base64. The gate is stepped only when a tuple is returned.
    """
    cdef const uint8_t* s
    cdef Py_ssize_t n, i
    if PyUnicode_Check(message):
        if not PyUnicode_IS_COMPACT_ASCII(message):
            return None
        s = <const uint8_t*>PyUnicode_DATA(message)
        n = PyUnicode_GET_LENGTH(message)
    elif PyBytes_Check(message):
        s = <const uint8_t*>PyBytes_AS_STRING(message)
        n = PyBytes_GET_SIZE(message)
        for i in range(n):
            if s[i] >= 128:
                return None
    else:
        raise TypeError(f"message must be str or bytes, not {type(message).__name__}")
    cdef Found f
    cdef Py_ssize_t end = _scan(s, n, &f)
    if end == GENERAL:
        return None
    if end == GARBAGE or end != n:
        raise ValueError("not a JSON object")
    if f.event_start < 0 or f.event_escaped or not _is(s, f.event_start, f.event_end, b"media", 5):
        return None
    if not f.media_seen or f.payload_start < 0:
        raise ValueError("media event without media.payload")
    if f.payload_escaped:
        return None
    cdef uint64_t total
    cdef Py_ssize_t nbytes
    if _b64_sum(s + f.payload_start, f.payload_end - f.payload_start, &total, &nbytes) < 0:
        raise ValueError("media.payload is not valid base64")
    cdef uint32_t rms = fg_rms_from_sum(total, <size_t>nbytes)
    cdef bint passed = gate.step(rms)
    if passed or (pass_onsets and not gate.is_open and gate._above_run > 0):
        payload = PyUnicode_FromStringAndSize(<const char*>s + f.payload_start,
                                              f.payload_end - f.payload_start)
    else:
        payload = _silence_b64(nbytes)
    return (passed, rms, payload)
