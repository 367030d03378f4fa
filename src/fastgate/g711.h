/* G.711 mu-law / A-law, bit-exact with CPython's audioop (Modules/audioop.c).
 * Tables are filled once at module import by the reference algorithms, so the
 * hot loops are plain lookups. Shared by the fastgate extension modules. */
#ifndef FASTGATE_G711_H
#define FASTGATE_G711_H
#include <stdint.h>
#include <stddef.h>
#include <math.h>

#define FG_UNUSED __attribute__((unused))

static int16_t fg_ulaw2lin[256] FG_UNUSED;
static int16_t fg_alaw2lin[256] FG_UNUSED;
static uint32_t fg_ulaw_sq[256] FG_UNUSED;  /* square of each decoded mu-law code */
static uint8_t fg_lin2ulaw[65536] FG_UNUSED; /* indexed by (uint16_t)sample */
static uint8_t fg_lin2alaw[65536] FG_UNUSED;

static int16_t fg_ulaw_expand(uint8_t code) {
    int u = ~code & 0xFF;
    int t = ((u & 0x0F) << 3) + 0x84;
    t <<= (u & 0x70) >> 4;
    return (int16_t)((u & 0x80) ? (0x84 - t) : (t - 0x84));
}

static int16_t fg_alaw_expand(uint8_t code) {
    int a = code ^ 0x55;
    int t = (a & 0x0F) << 4;
    int seg = (a & 0x70) >> 4;
    if (seg == 0) t += 8;
    else if (seg == 1) t += 0x108;
    else { t += 0x108; t <<= seg - 1; }
    return (int16_t)((a & 0x80) ? t : -t);
}

static int fg_segment(int val, const int16_t *table) {
    for (int i = 0; i < 8; i++) if (val <= table[i]) return i;
    return 8;
}

/* audioop's st_14linear2ulaw: input is the 16-bit sample >> 2 */
static uint8_t fg_ulaw_compress14(int pcm) {
    static const int16_t seg_uend[8] = {0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF};
    int mask;
    if (pcm < 0) { pcm = -pcm; mask = 0x7F; } else { mask = 0xFF; }
    if (pcm > 8159) pcm = 8159;
    pcm += (0x84 >> 2);
    int seg = fg_segment(pcm, seg_uend);
    if (seg >= 8) return (uint8_t)(0x7F ^ mask);
    return (uint8_t)((((seg << 4) | ((pcm >> (seg + 1)) & 0xF)) ^ mask) & 0xFF);
}

/* audioop's st_linear2alaw: input is the 16-bit sample >> 3 */
static uint8_t fg_alaw_compress13(int pcm) {
    static const int16_t seg_aend[8] = {0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF};
    int mask;
    if (pcm >= 0) { mask = 0xD5; } else { mask = 0x55; pcm = -pcm - 1; }
    int seg = fg_segment(pcm, seg_aend);
    if (seg >= 8) return (uint8_t)(0x7F ^ mask);
    int aval = seg << 4;
    aval |= (seg < 2) ? ((pcm >> 1) & 0xF) : ((pcm >> seg) & 0xF);
    return (uint8_t)((aval ^ mask) & 0xFF);
}

static FG_UNUSED void fg_init_decode(void) {
    for (int c = 0; c < 256; c++) {
        fg_ulaw2lin[c] = fg_ulaw_expand((uint8_t)c);
        fg_alaw2lin[c] = fg_alaw_expand((uint8_t)c);
        int32_t v = fg_ulaw2lin[c];
        fg_ulaw_sq[c] = (uint32_t)(v * v);
    }
}

static FG_UNUSED void fg_init_encode(void) {
    for (int i = 0; i < 65536; i++) {
        int16_t s = (int16_t)(uint16_t)i;
        fg_lin2ulaw[i] = fg_ulaw_compress14(s >> 2);
        fg_lin2alaw[i] = fg_alaw_compress13(s >> 3);
    }
}

/* Sum of squared decoded samples: exact in uint64 for any length we accept. */
static inline uint64_t fg_ulaw_sum_squares_scalar(const uint8_t *p, size_t n) {
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        a0 += fg_ulaw_sq[p[i]];
        a1 += fg_ulaw_sq[p[i + 1]];
        a2 += fg_ulaw_sq[p[i + 2]];
        a3 += fg_ulaw_sq[p[i + 3]];
    }
    for (; i < n; i++) a0 += fg_ulaw_sq[p[i]];
    return a0 + a1 + a2 + a3;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* 32 codes per step, decoded arithmetically: with u = ~code, the magnitude is
 * (8*(u & 15) + 132) * 2^((u >> 4) & 7) - 132 (<= 32124, an int16), taken from
 * two pshufb tables and one 16-bit multiply; pmaddwd then squares and adds pairs
 * (<= 2 * 32124^2 < 2^31), and two pairs still fit an unsigned 32-bit lane. */
__attribute__((target("avx2")))
static uint64_t fg_ulaw_sum_squares_avx2(const uint8_t *p, size_t n) {
    const __m256i base_tbl = _mm256_setr_epi8(
        (char)132, (char)140, (char)148, (char)156, (char)164, (char)172, (char)180, (char)188,
        (char)196, (char)204, (char)212, (char)220, (char)228, (char)236, (char)244, (char)252,
        (char)132, (char)140, (char)148, (char)156, (char)164, (char)172, (char)180, (char)188,
        (char)196, (char)204, (char)212, (char)220, (char)228, (char)236, (char)244, (char)252);
    const __m256i pow_tbl = _mm256_setr_epi8(
        1, 2, 4, 8, 16, 32, 64, (char)128, 0, 0, 0, 0, 0, 0, 0, 0,
        1, 2, 4, 8, 16, 32, 64, (char)128, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i low4 = _mm256_set1_epi8(0x0F), low3 = _mm256_set1_epi8(0x07);
    const __m256i ones = _mm256_set1_epi8((char)0xFF), zero = _mm256_setzero_si256();
    const __m256i bias = _mm256_set1_epi16(132);
    __m256i acc = zero;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(p + i)), ones);
        __m256i base = _mm256_shuffle_epi8(base_tbl, _mm256_and_si256(u, low4));
        __m256i pw = _mm256_shuffle_epi8(pow_tbl, _mm256_and_si256(_mm256_srli_epi16(u, 4), low3));
        __m256i lo = _mm256_sub_epi16(_mm256_mullo_epi16(_mm256_unpacklo_epi8(base, zero),
                                                         _mm256_unpacklo_epi8(pw, zero)), bias);
        __m256i hi = _mm256_sub_epi16(_mm256_mullo_epi16(_mm256_unpackhi_epi8(base, zero),
                                                         _mm256_unpackhi_epi8(pw, zero)), bias);
        __m256i sq = _mm256_add_epi32(_mm256_madd_epi16(lo, lo), _mm256_madd_epi16(hi, hi));
        acc = _mm256_add_epi64(acc, _mm256_unpacklo_epi32(sq, zero));
        acc = _mm256_add_epi64(acc, _mm256_unpackhi_epi32(sq, zero));
    }
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, acc);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + fg_ulaw_sum_squares_scalar(p + i, n - i);
}

static int fg_have_avx2 FG_UNUSED = -1;

static inline uint64_t fg_ulaw_sum_squares(const uint8_t *p, size_t n) {
    if (fg_have_avx2 < 0) {
        __builtin_cpu_init();
        fg_have_avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    if (fg_have_avx2 && n >= 32) return fg_ulaw_sum_squares_avx2(p, n);
    return fg_ulaw_sum_squares_scalar(p, n);
}
#else
static inline uint64_t fg_ulaw_sum_squares(const uint8_t *p, size_t n) {
    return fg_ulaw_sum_squares_scalar(p, n);
}
#endif

/* audioop.rms accumulates squares in a double. Each square is <= 2^30, so the
 * double sum is exact (and equals the integer sum) while it stays below 2^53,
 * i.e. for up to 2^23 samples; past that we replay audioop's double loop. */
#define FG_EXACT_SAMPLES ((size_t)1 << 23)

static inline uint32_t fg_rms_from_sum(uint64_t sum, size_t n) {
    if (n == 0) return 0;
    return (uint32_t)sqrt((double)sum / (double)n);
}

static FG_UNUSED uint32_t fg_ulaw_rms(const uint8_t *p, size_t n) {
    if (n <= FG_EXACT_SAMPLES) return fg_rms_from_sum(fg_ulaw_sum_squares(p, n), n);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = fg_ulaw2lin[p[i]];
        sum += v * v;
    }
    return (uint32_t)sqrt(sum / (double)n);
}
#endif
