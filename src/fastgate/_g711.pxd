from libc.stdint cimport int16_t, uint8_t, uint32_t, uint64_t


cdef extern from "g711.h" nogil:
    int16_t fg_ulaw2lin[256]
    int16_t fg_alaw2lin[256]
    uint8_t fg_lin2ulaw[65536]
    uint8_t fg_lin2alaw[65536]
    uint32_t fg_ulaw_sq[256]
    void fg_init_decode()
    void fg_init_encode()
    uint64_t fg_ulaw_sum_squares(const uint8_t* p, size_t n)
    uint32_t fg_rms_from_sum(uint64_t total, size_t n)
    uint32_t fg_ulaw_rms(const uint8_t* p, size_t n)
