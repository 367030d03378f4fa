# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The echo guard: is an inbound frame no more than the AI's own voice coming back? One per call.

It runs on every caller frame while the AI is audible, so it lives here rather than in Python: there it
cost about 4 µs a frame under load (a max over the lag window, a sorted window kept by bisection),
here a few dozen nanoseconds.
"""
from libc.stdlib cimport free, malloc
from libc.string cimport memmove

cdef enum:
    RETURNS = 50  # echo returns remembered: a second of frames
    MIN_REFERENCE_RMS = 200  # quieter AI audio than this cannot hide a caller
    FRAME_MS = 20


cdef class EchoGuard:
    """How much of the AI's voice comes back on the caller's track, learnt per call.

    The echo return (inbound RMS over the loudest AI audio heard within ``lag_ms``) is the 90th
    percentile of the last second of frames heard once the AI had been audible for ``lag_ms`` (before
    that, its echo has not come back yet): a handset returns almost nothing (line noise, ~0.01), a
    speakerphone a steady share (-12 dB: ~0.2 of the loudest), and a caller who talks over the AI now
    and then does not move it much (the AI pauses at once). A frame under ``margin`` times that share of
    the AI's level is echo. Until half a second was learnt, ``assumed_return`` (a speakerphone).
    """

    cdef int *_heard  # the AI's RMS per 20 ms slot, a ring of `_slots`
    cdef Py_ssize_t _slots, _heard_count, _heard_next
    cdef long long _warm  # frame slots since the AI became audible
    cdef double _returns[RETURNS]  # a ring, in arrival order
    cdef double _sorted[RETURNS]  # the same values in order of size: the percentile without a sort
    cdef Py_ssize_t _returns_count, _returns_next
    cdef readonly double margin
    cdef readonly double assumed_return
    cdef readonly double echo_return
    cdef readonly int reference  # the AI's recent RMS, as of the last inbound frame

    def __cinit__(self, double margin, lag_ms, double assumed_return=0.3):
        self._slots = max(1, lag_ms // FRAME_MS + 1)
        self._heard = <int *> malloc(self._slots * sizeof(int))
        if self._heard == NULL:
            raise MemoryError()
        self.margin = margin
        self.assumed_return = assumed_return
        self.echo_return = assumed_return

    def __dealloc__(self):
        free(self._heard)

    cpdef void played(self, int rms):
        """The RMS of the AI audio the caller hears in this 20 ms slot (0 when none)."""
        self._heard[self._heard_next] = rms
        self._heard_next = (self._heard_next + 1) % self._slots
        if self._heard_count < self._slots:
            self._heard_count += 1
        self._warm += 1

    cpdef void restart(self):
        """The AI's audio stopped or starts again: its echo needs ``lag_ms`` to come back."""
        self._warm = 0

    cpdef bint heard(self, int inbound_rms):
        """One inbound frame: learn the echo return from it; True when it is no more than echo."""
        cdef Py_ssize_t i
        cdef int reference = self._heard[0] if self._heard_count else 0
        for i in range(1, self._heard_count):
            if self._heard[i] > reference:
                reference = self._heard[i]
        self.reference = reference
        if reference < MIN_REFERENCE_RMS:
            return False
        if self._warm >= self._slots:
            self._learn(<double> inbound_rms / <double> reference)
        return inbound_rms < self.margin * self.echo_return * reference

    cdef void _learn(self, double share):
        cdef Py_ssize_t n = self._returns_count, at
        if n == RETURNS:  # the oldest leaves the sorted window first
            at = _bisect_left(self._sorted, n, self._returns[self._returns_next])
            memmove(&self._sorted[at], &self._sorted[at + 1], (n - at - 1) * sizeof(double))
            n -= 1
        self._returns[self._returns_next] = share
        self._returns_next = (self._returns_next + 1) % RETURNS
        at = _bisect_right(self._sorted, n, share)
        memmove(&self._sorted[at + 1], &self._sorted[at], (n - at) * sizeof(double))
        self._sorted[at] = share
        n += 1
        self._returns_count = n
        if n >= RETURNS // 2:
            self.echo_return = self._sorted[n * 9 // 10]


cdef inline Py_ssize_t _bisect_left(double *values, Py_ssize_t n, double x):
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if values[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline Py_ssize_t _bisect_right(double *values, Py_ssize_t n, double x):
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if x < values[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo
