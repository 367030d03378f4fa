# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Per-call hysteresis gate on mu-law frames, and a framer to 20 ms frames."""
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport uint32_t
from libc.string cimport memcpy, memset

from fastgate._bytes cimport ByteView, borrow, release
from fastgate._g711 cimport fg_init_decode, fg_ulaw_rms

fg_init_decode()

_PASSED = ("speech", "hangover", "barge_in")
_BLOCKED = ("noise", "onset")


cdef class Gate:
    """Decides, frame by frame, whether caller audio is speech worth forwarding.

    Opens after ``open_frames`` consecutive frames whose RMS is at or above
    ``threshold``; closes after ``hangover_frames`` consecutive frames below
    ``close_threshold`` (``threshold * close_ratio``). ``threshold`` is
    ``max(min_threshold, noise_floor * open_factor)``: the noise floor follows
    quiet frames, falling fast and rising slowly, so a line's steady hiss raises
    the bar without tuning. While ``barge_in_active`` is set every frame passes.
    """

    def __init__(self, int open_frames=2, int hangover_frames=15,
                 double min_threshold=200.0, double open_factor=3.0,
                 double close_ratio=0.5, double floor_rise=0.02,
                 double floor_rise_open=0.001, double floor_fall=0.5,
                 double initial_floor=0.0):
        if open_frames < 1 or hangover_frames < 1:
            raise ValueError("open_frames and hangover_frames must be >= 1")
        if not (0.0 < close_ratio <= 1.0):
            raise ValueError("close_ratio must be in (0, 1]")
        for name, rate in (("floor_rise", floor_rise), ("floor_rise_open", floor_rise_open),
                           ("floor_fall", floor_fall)):
            if not (0.0 <= rate <= 1.0):
                raise ValueError(f"{name} must be in [0, 1]")
        if min_threshold < 0 or open_factor < 0 or initial_floor < 0:
            raise ValueError("thresholds, factors and the floor must be >= 0")
        self.open_frames = open_frames
        self.hangover_frames = hangover_frames
        self.min_threshold = min_threshold
        self.open_factor = open_factor
        self.close_ratio = close_ratio
        self.floor_rise = floor_rise
        self.floor_rise_open = floor_rise_open
        self.floor_fall = floor_fall
        self._initial_floor = initial_floor
        self.reset()

    def reset(self) -> None:
        """Back to a closed gate, the initial floor, zero counters; barge-in off."""
        self.barge_in_active = False
        self.is_open = False
        self.last_rms = 0
        self.noise_floor = self._initial_floor
        self._above_run = 0
        self._below_run = 0
        memset(self._counts, 0, sizeof(self._counts))

    cdef bint step(self, uint32_t rms) noexcept:
        cdef double threshold = self.noise_floor * self.open_factor
        if threshold < self.min_threshold:
            threshold = self.min_threshold
        cdef Reason reason
        self.last_rms = rms
        if self.is_open:
            if rms >= threshold * self.close_ratio:
                self._below_run = 0
                reason = PASS_SPEECH
            else:
                self._below_run += 1
                if self._below_run >= self.hangover_frames:
                    self.is_open = False
                    self._below_run = 0
                    self._above_run = 0
                    reason = BLOCK_NOISE
                else:
                    reason = PASS_HANGOVER
        elif rms >= threshold:
            self._above_run += 1
            if self._above_run >= self.open_frames:
                self.is_open = True
                self._below_run = 0
                reason = PASS_SPEECH
            else:
                reason = BLOCK_ONSET
        else:
            self._above_run = 0
            reason = BLOCK_NOISE
        if rms < self.noise_floor:
            self.noise_floor += (rms - self.noise_floor) * self.floor_fall
        elif self.is_open:
            self.noise_floor += (rms - self.noise_floor) * self.floor_rise_open
        elif rms < threshold:
            self.noise_floor += (rms - self.noise_floor) * self.floor_rise
        if self.barge_in_active:
            reason = PASS_BARGE_IN
        self._counts[<int>reason] += 1
        return reason <= PASS_BARGE_IN

    def process(self, frame) -> bool:
        """Feed one mu-law frame; True when it should be forwarded as speech."""
        cdef ByteView v
        borrow(frame, &v)
        cdef uint32_t rms = fg_ulaw_rms(v.data, <size_t>v.size)
        release(&v)
        return self.step(rms)

    def process_rms(self, unsigned int rms) -> bool:
        """Feed a frame by its RMS alone (when the caller already measured it)."""
        return self.step(rms)

    @property
    def onset_pending(self) -> bool:
        """True after a frame blocked as "onset": the gate may open on the next frame."""
        return not self.is_open and self._above_run > 0

    @property
    def threshold(self) -> float:
        """RMS at or above which a frame counts towards opening."""
        return max(self.min_threshold, self.noise_floor * self.open_factor)

    @property
    def close_threshold(self) -> float:
        """RMS below which an open gate counts down its hangover."""
        return self.threshold * self.close_ratio

    @property
    def passed(self) -> dict:
        """Frames passed, by reason: speech, hangover, barge_in."""
        return {name: self._counts[i] for i, name in enumerate(_PASSED)}

    @property
    def blocked(self) -> dict:
        """Frames blocked, by reason: noise, onset."""
        return {name: self._counts[<int>BLOCK_NOISE + i] for i, name in enumerate(_BLOCKED)}

    def __repr__(self) -> str:
        return (f"Gate(is_open={bool(self.is_open)}, barge_in_active={bool(self.barge_in_active)}, "
                f"last_rms={self.last_rms}, noise_floor={self.noise_floor:.1f}, "
                f"threshold={self.threshold:.1f})")


cdef class Framer:
    """Cuts a byte stream into fixed-size frames (160 bytes = 20 ms of 8 kHz mu-law)."""
    cdef readonly Py_ssize_t frame_bytes
    cdef bytearray _tail

    def __init__(self, Py_ssize_t frame_bytes=160):
        if frame_bytes < 1:
            raise ValueError("frame_bytes must be >= 1")
        self.frame_bytes = frame_bytes
        self._tail = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held back until the next push completes a frame."""
        return len(self._tail)

    def push(self, data) -> list:
        """Append data; return every complete frame, oldest first."""
        cdef ByteView v
        borrow(data, &v)
        cdef Py_ssize_t pos = 0, need, fb = self.frame_bytes
        cdef list frames = []
        try:
            if len(self._tail):
                need = fb - len(self._tail)
                if v.size < need:
                    self._tail += (<const char*>v.data)[:v.size]
                    return frames
                self._tail += (<const char*>v.data)[:need]
                frames.append(bytes(self._tail))
                del self._tail[:]
                pos = need
            while v.size - pos >= fb:
                frames.append(PyBytes_FromStringAndSize(<const char*>v.data + pos, fb))
                pos += fb
            if pos < v.size:
                self._tail += (<const char*>v.data)[pos:v.size]
        finally:
            release(&v)
        return frames

    def flush(self, int fill=0xFF):
        """Return the held tail padded to a whole frame with ``fill`` (mu-law silence), or None."""
        if not 0 <= fill <= 255:
            raise ValueError("fill must be a byte value")
        if not len(self._tail):
            return None
        cdef bytes out = bytes(self._tail) + bytes([fill]) * (self.frame_bytes - len(self._tail))
        del self._tail[:]
        return out

    def reset(self) -> None:
        """Drop whatever is held."""
        del self._tail[:]
