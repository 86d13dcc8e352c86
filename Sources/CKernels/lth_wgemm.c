// The matrix products of Winograd F(4×4, 3×3) layers (lth_wgemm.h): C (+)= A·B with A read in place through two
// strides and B row-major, no packing. Every element is one fused multiply-add chain over k = 0, 1, … from +0, then
// stored or added to C, in every version (AVX-512, AVX2, the scalar tails, LotteryCore's portable loop), so all give
// the same bits.
#include "lth_wgemm.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define LTH_AVX512 __attribute__((target("avx512f,fma")))
#define LTH_AVX2FMA __attribute__((target("avx2,fma")))

// Rows of A and B a few steps of p ahead: with the large strides of the weight-gradient products (one tile's 36
// points apart) each step of p is on a new page, where the hardware prefetchers do not follow.
#define LTH_PREFETCH_AHEAD 8
#define LTH_PREFETCH(p)                                                                                            \
    do {                                                                                                           \
        if ((p) + LTH_PREFETCH_AHEAD < k) {                                                                        \
            _mm_prefetch((const char *)(a + ((p) + LTH_PREFETCH_AHEAD) * ak), _MM_HINT_T0);                        \
            _mm_prefetch((const char *)(b + ((p) + LTH_PREFETCH_AHEAD) * bk), _MM_HINT_T0);                        \
            _mm_prefetch((const char *)(b + ((p) + LTH_PREFETCH_AHEAD) * bk + 16), _MM_HINT_T0);                   \
        }                                                                                                          \
    } while (0)

// One element the scalar way (column tails).
LTH_AVX2FMA static inline float element(size_t k, const float *a, size_t ak, const float *b, size_t bk) {
    float acc = 0;
    for (size_t p = 0; p < k; p++) acc = fmaf(a[p * ak], b[p * bk], acc);
    return acc;
}

static inline void put(float *c, float value, int accumulate) { *c = accumulate ? *c + value : value; }

#ifndef LTH_WG_NV
#define LTH_WG_NV 2
#endif
#ifndef LTH_WG_MR
#define LTH_WG_MR 12
#endif
#define LTH_WG_NR (16 * LTH_WG_NV)
#define LTH_UNROLL _Pragma("clang loop unroll(full)")

// MR rows × NR columns (NV vectors), AVX-512. MR is a constant at each call site.
LTH_AVX512 static inline __attribute__((always_inline)) void block512(int mr, size_t k, const float *a, size_t ai,
                                                                     size_t ak, const float *b, size_t bk, float *c,
                                                                     size_t ci, int accumulate) {
    __m512 acc[LTH_WG_MR][LTH_WG_NV];
    LTH_UNROLL for (int r = 0; r < mr; r++) {
        LTH_UNROLL for (int v = 0; v < LTH_WG_NV; v++) acc[r][v] = _mm512_setzero_ps();
    }
    for (size_t p = 0; p < k; p++) {
        LTH_PREFETCH(p);
        __m512 bv[LTH_WG_NV];
        LTH_UNROLL for (int v = 0; v < LTH_WG_NV; v++) bv[v] = _mm512_loadu_ps(b + p * bk + 16 * v);
        LTH_UNROLL for (int r = 0; r < mr; r++) {
            const __m512 x = _mm512_set1_ps(a[r * ai + p * ak]);
            LTH_UNROLL for (int v = 0; v < LTH_WG_NV; v++) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
        }
    }
    LTH_UNROLL for (int r = 0; r < mr; r++) {
        float *row = c + r * ci;
        LTH_UNROLL for (int v = 0; v < LTH_WG_NV; v++) {
            if (accumulate) acc[r][v] = _mm512_add_ps(_mm512_loadu_ps(row + 16 * v), acc[r][v]);
            _mm512_storeu_ps(row + 16 * v, acc[r][v]);
        }
    }
}

// MR rows × up to 16 columns (`mask`), AVX-512: the column tail.
LTH_AVX512 static inline __attribute__((always_inline)) void block512_masked(int mr, size_t k, const float *a,
                                                                            size_t ai, size_t ak, const float *b,
                                                                            size_t bk, float *c, size_t ci,
                                                                            int accumulate, __mmask16 mask) {
    __m512 acc[LTH_WG_MR];
    for (int r = 0; r < mr; r++) acc[r] = _mm512_setzero_ps();
    for (size_t p = 0; p < k; p++) {
        const __m512 b0 = _mm512_maskz_loadu_ps(mask, b + p * bk);
        for (int r = 0; r < mr; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r * ai + p * ak]), b0, acc[r]);
    }
    for (int r = 0; r < mr; r++) {
        float *row = c + r * ci;
        if (accumulate) acc[r] = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, row), acc[r]);
        _mm512_mask_storeu_ps(row, mask, acc[r]);
    }
}

#define LTH_ROWS_SWITCH(MAXR, CALL)                                                                                \
    switch (mr) {                                                                                                  \
    case 1: CALL(1); break;                                                                                        \
    case 2: CALL(2); break;                                                                                        \
    case 3: CALL(3); break;                                                                                        \
    case 4: CALL(4); break;                                                                                        \
    case 5: CALL(5); break;                                                                                        \
    case 6: CALL(6); break;                                                                                        \
    case 7: CALL(7); break;                                                                                        \
    case 8: CALL(8); break;                                                                                        \
    case 9: CALL(9); break;                                                                                        \
    case 10: CALL(10); break;                                                                                      \
    case 11: CALL(11); break;                                                                                      \
    default: CALL(MAXR); break;                                                                                    \
    }

LTH_AVX512 void lth_wgemm_avx512(size_t m, size_t n, size_t k, const float *a, size_t ai, size_t ak, const float *b,
                                 size_t bk, float *c, size_t ci, int accumulate) {
    size_t j = 0;
    // Column blocks outer: a block's B panel (k × NR) stays in L1 while the rows stream past it.
    for (; j + LTH_WG_NR <= n; j += LTH_WG_NR) {
        for (size_t i = 0; i < m; i += LTH_WG_MR) {
            const int mr = m - i < LTH_WG_MR ? (int)(m - i) : LTH_WG_MR;
#define LTH_CALL512(R) block512(R, k, a + i * ai, ai, ak, b + j, bk, c + i * ci + j, ci, accumulate)
            LTH_ROWS_SWITCH(LTH_WG_MR, LTH_CALL512)
#undef LTH_CALL512
        }
    }
    for (; j < n; j += 16) {
        const size_t width = n - j < 16 ? n - j : 16;
        const __mmask16 mask = (__mmask16)((1u << width) - 1u);
        for (size_t i = 0; i < m; i += LTH_WG_MR) {
            const int mr = m - i < LTH_WG_MR ? (int)(m - i) : LTH_WG_MR;
#define LTH_CALL512M(R) block512_masked(R, k, a + i * ai, ai, ak, b + j, bk, c + i * ci + j, ci, accumulate, mask)
            LTH_ROWS_SWITCH(LTH_WG_MR, LTH_CALL512M)
#undef LTH_CALL512M
        }
    }
}

// MR rows × 16 columns (two vectors), AVX2 with FMA.
LTH_AVX2FMA static inline __attribute__((always_inline)) void block256(int mr, size_t k, const float *a, size_t ai,
                                                                      size_t ak, const float *b, size_t bk, float *c,
                                                                      size_t ci, int accumulate) {
    __m256 acc[6][2];
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (size_t p = 0; p < k; p++) {
        LTH_PREFETCH(p);
        const __m256 b0 = _mm256_loadu_ps(b + p * bk), b1 = _mm256_loadu_ps(b + p * bk + 8);
        for (int r = 0; r < mr; r++) {
            const __m256 x = _mm256_broadcast_ss(a + r * ai + p * ak);
            acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < mr; r++) {
        float *row = c + r * ci;
        if (accumulate) {
            acc[r][0] = _mm256_add_ps(_mm256_loadu_ps(row), acc[r][0]);
            acc[r][1] = _mm256_add_ps(_mm256_loadu_ps(row + 8), acc[r][1]);
        }
        _mm256_storeu_ps(row, acc[r][0]);
        _mm256_storeu_ps(row + 8, acc[r][1]);
    }
}

LTH_AVX2FMA void lth_wgemm_avx2(size_t m, size_t n, size_t k, const float *a, size_t ai, size_t ak, const float *b,
                                size_t bk, float *c, size_t ci, int accumulate) {
    size_t j = 0;
    for (; j + 16 <= n; j += 16) {
        for (size_t i = 0; i < m; i += 6) {
            const int mr = m - i < 6 ? (int)(m - i) : 6;
#define LTH_CALL256(R) block256(R, k, a + i * ai, ai, ak, b + j, bk, c + i * ci + j, ci, accumulate)
            LTH_ROWS_SWITCH(6, LTH_CALL256)
#undef LTH_CALL256
        }
    }
    for (; j < n; j++) {
        for (size_t i = 0; i < m; i++) put(c + i * ci + j, element(k, a + i * ai, ak, b + j, bk), accumulate);
    }
}

#else

void lth_wgemm_avx512(size_t m, size_t n, size_t k, const float *a, size_t ai, size_t ak, const float *b, size_t bk,
                      float *c, size_t ci, int accumulate) {
    (void)m, (void)n, (void)k, (void)a, (void)ai, (void)ak, (void)b, (void)bk, (void)c, (void)ci, (void)accumulate;
}
void lth_wgemm_avx2(size_t m, size_t n, size_t k, const float *a, size_t ai, size_t ak, const float *b, size_t bk,
                    float *c, size_t ci, int accumulate) {
    (void)m, (void)n, (void)k, (void)a, (void)ai, (void)ak, (void)b, (void)bk, (void)c, (void)ci, (void)accumulate;
}

#endif
