from libc.stdint cimport uint32_t, uint64_t

cdef enum Reason:
    PASS_SPEECH
    PASS_HANGOVER
    PASS_BARGE_IN
    BLOCK_NOISE
    BLOCK_ONSET
    N_REASONS


cdef class Gate:
    cdef public bint barge_in_active
    cdef readonly bint is_open
    cdef readonly uint32_t last_rms
    cdef readonly double noise_floor
    cdef readonly int open_frames
    cdef readonly int hangover_frames
    cdef readonly double min_threshold
    cdef readonly double open_factor
    cdef readonly double close_ratio
    cdef readonly double floor_rise
    cdef readonly double floor_rise_open
    cdef readonly double floor_fall
    cdef double _initial_floor
    cdef int _above_run
    cdef int _below_run
    cdef uint64_t _counts[<int>N_REASONS]

    cdef bint step(self, uint32_t rms) noexcept
