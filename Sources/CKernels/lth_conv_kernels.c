// The weight-sparse 3×3 convolution's kernels (see lth_conv_kernels.h and LotteryCore's SparseConv.swift).
// Unlike lth_kernels.c these use fused multiply-adds, explicitly, on both sides: the portable Swift loops call
// `addingProduct`, which is the same single-rounding IEEE fusedMultiplyAdd, so the bits still agree.
#include "lth_conv_kernels.h"

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>

int lth_has_avx2_fma(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

int lth_has_avx512f(void) { return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"); }

#define LTH_TILE(VEC, WIDTH, ZERO, LOAD, STORE, FMA, SET1, N)                                                  \
    for (size_t r = 0; r < rows; r++) {                                                                            \
        const int32_t *bounds = starts + r * (blocks + 1) + b;                                                     \
        if (b > 0 && bounds[0] == bounds[1]) continue;                                                             \
        float *o = out + r * out_stride + q;                                                                       \
        VEC a[N];                                                                                                  \
        for (int k = 0; k < N; k++) a[k] = b == 0 ? ZERO() : LOAD(o + WIDTH * k);                                  \
        for (int32_t t = bounds[0]; t < bounds[1]; t++) {                                                          \
            const VEC w = SET1(weights[taps[2 * t + 1]]);                                                          \
            const float *s = source + taps[2 * t] + q;                                                             \
            for (int k = 0; k < N; k++) a[k] = FMA(w, LOAD(s + WIDTH * k), a[k]);                                  \
        }                                                                                                          \
        for (int k = 0; k < N; k++) STORE(o + WIDTH * k, a[k]);                                                    \
    }

#define LTH_TILE256(N) \
    LTH_TILE(__m256, 8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_fmadd_ps, _mm256_set1_ps, N)
#define LTH_TILE512(N) \
    LTH_TILE(__m512, 16, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_fmadd_ps, _mm512_set1_ps, N)

// Tiles of positions, then blocks of source channels: the input one (tile, block) reads stays in L1 while every
// row walks its taps over it; a row's partial sums go to `out` between blocks (exactly, as floats). Tiles of 64
// (AVX2) or 128 (AVX-512) positions, then of 16 for the rest.
__attribute__((target("avx2,fma"))) void lth_sparse_conv_avx2(float *out, size_t out_stride, size_t rows,
                                                               size_t blocks, const int32_t *starts,
                                                               const int32_t *taps, const float *weights,
                                                               const float *source, size_t length) {
    size_t q = 0;
    for (; q + 64 <= length; q += 64) {
        for (size_t b = 0; b < blocks; b++) { LTH_TILE256(8) }
    }
    for (; q < length; q += 16) {
        for (size_t b = 0; b < blocks; b++) { LTH_TILE256(2) }
    }
}

// The 16 lanes' sum as a tree: s8[i] = l[i] + l[i+8], s4[i] = s8[i] + s8[i+4], s2[i] = s4[i] + s4[i+2],
// s2[0] + s2[1] (four dependent adds instead of fifteen).
__attribute__((target("avx2"))) static inline float lth_lane_sum16(__m256 low, __m256 high) {
    const __m256 s8 = _mm256_add_ps(low, high);
    const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

__attribute__((target("avx2,fma"))) void lth_sparse_conv_weight_grads_avx2(float *grads, size_t rows,
                                                                            const int32_t *starts,
                                                                            const int32_t *taps, const float *delta,
                                                                            size_t delta_stride,
                                                                            const float *source, size_t length) {
    for (size_t r = 0; r < rows; r++) {
        const float *d = delta + r * delta_stride;
        int32_t t = starts[r];
        const int32_t end = starts[r + 1];
        // Four taps at a time share each load of the delta row; lanes 0–7 and 8–15 in two registers per tap.
        for (; t + 4 <= end; t += 4) {
            const float *s0 = source + taps[2 * t], *s1 = source + taps[2 * t + 2], *s2 = source + taps[2 * t + 4],
                        *s3 = source + taps[2 * t + 6];
            __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
            for (size_t q = 0; q < length; q += 16) {
                const __m256 dl = _mm256_loadu_ps(d + q), dh = _mm256_loadu_ps(d + q + 8);
                a0 = _mm256_fmadd_ps(dl, _mm256_loadu_ps(s0 + q), a0);
                b0 = _mm256_fmadd_ps(dh, _mm256_loadu_ps(s0 + q + 8), b0);
                a1 = _mm256_fmadd_ps(dl, _mm256_loadu_ps(s1 + q), a1);
                b1 = _mm256_fmadd_ps(dh, _mm256_loadu_ps(s1 + q + 8), b1);
                a2 = _mm256_fmadd_ps(dl, _mm256_loadu_ps(s2 + q), a2);
                b2 = _mm256_fmadd_ps(dh, _mm256_loadu_ps(s2 + q + 8), b2);
                a3 = _mm256_fmadd_ps(dl, _mm256_loadu_ps(s3 + q), a3);
                b3 = _mm256_fmadd_ps(dh, _mm256_loadu_ps(s3 + q + 8), b3);
            }
            grads[taps[2 * t + 1]] = lth_lane_sum16(a0, b0);
            grads[taps[2 * t + 3]] = lth_lane_sum16(a1, b1);
            grads[taps[2 * t + 5]] = lth_lane_sum16(a2, b2);
            grads[taps[2 * t + 7]] = lth_lane_sum16(a3, b3);
        }
        for (; t < end; t++) {
            const float *s0 = source + taps[2 * t];
            __m256 a0 = _mm256_setzero_ps(), b0 = a0;
            for (size_t q = 0; q < length; q += 16) {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(d + q), _mm256_loadu_ps(s0 + q), a0);
                b0 = _mm256_fmadd_ps(_mm256_loadu_ps(d + q + 8), _mm256_loadu_ps(s0 + q + 8), b0);
            }
            grads[taps[2 * t + 1]] = lth_lane_sum16(a0, b0);
        }
    }
}

__attribute__((target("avx512f,fma"))) void lth_sparse_conv_avx512(float *out, size_t out_stride, size_t rows,
                                                                    size_t blocks, const int32_t *starts,
                                                                    const int32_t *taps, const float *weights,
                                                                    const float *source, size_t length) {
    size_t q = 0;
    for (; q + 128 <= length; q += 128) {
        for (size_t b = 0; b < blocks; b++) { LTH_TILE512(8) }
    }
    for (; q + 64 <= length; q += 64) {
        for (size_t b = 0; b < blocks; b++) { LTH_TILE512(4) }
    }
    for (; q < length; q += 16) {
        for (size_t b = 0; b < blocks; b++) { LTH_TILE512(1) }
    }
}

__attribute__((target("avx512f"))) static inline float lth_lane_sum16_512(__m512 v) {
    return lth_lane_sum16(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

__attribute__((target("avx512f,fma"))) void lth_sparse_conv_weight_grads_avx512(float *grads, size_t rows,
                                                                                 const int32_t *starts,
                                                                                 const int32_t *taps,
                                                                                 const float *delta,
                                                                                 size_t delta_stride,
                                                                                 const float *source, size_t length) {
    for (size_t r = 0; r < rows; r++) {
        const float *d = delta + r * delta_stride;
        int32_t t = starts[r];
        const int32_t end = starts[r + 1];
        for (; t + 4 <= end; t += 4) {
            const float *s0 = source + taps[2 * t], *s1 = source + taps[2 * t + 2], *s2 = source + taps[2 * t + 4],
                        *s3 = source + taps[2 * t + 6];
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (size_t q = 0; q < length; q += 16) {
                const __m512 dv = _mm512_loadu_ps(d + q);
                a0 = _mm512_fmadd_ps(dv, _mm512_loadu_ps(s0 + q), a0);
                a1 = _mm512_fmadd_ps(dv, _mm512_loadu_ps(s1 + q), a1);
                a2 = _mm512_fmadd_ps(dv, _mm512_loadu_ps(s2 + q), a2);
                a3 = _mm512_fmadd_ps(dv, _mm512_loadu_ps(s3 + q), a3);
            }
            grads[taps[2 * t + 1]] = lth_lane_sum16_512(a0);
            grads[taps[2 * t + 3]] = lth_lane_sum16_512(a1);
            grads[taps[2 * t + 5]] = lth_lane_sum16_512(a2);
            grads[taps[2 * t + 7]] = lth_lane_sum16_512(a3);
        }
        for (; t < end; t++) {
            const float *s0 = source + taps[2 * t];
            __m512 a0 = _mm512_setzero_ps();
            for (size_t q = 0; q < length; q += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(d + q), _mm512_loadu_ps(s0 + q), a0);
            grads[taps[2 * t + 1]] = lth_lane_sum16_512(a0);
        }
    }
}

// An 8×8 transpose of the rows r0..r7 (in place).
#define LTH_TRANSPOSE8(r0, r1, r2, r3, r4, r5, r6, r7)                                                          \
    do {                                                                                                           \
        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);                                   \
        __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);                                   \
        __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);                                   \
        __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);                                   \
        __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);                         \
        __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);                         \
        __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);                         \
        __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);                         \
        r0 = _mm256_permute2f128_ps(u0, u4, 0x20); r1 = _mm256_permute2f128_ps(u1, u5, 0x20);                      \
        r2 = _mm256_permute2f128_ps(u2, u6, 0x20); r3 = _mm256_permute2f128_ps(u3, u7, 0x20);                      \
        r4 = _mm256_permute2f128_ps(u0, u4, 0x31); r5 = _mm256_permute2f128_ps(u1, u5, 0x31);                      \
        r6 = _mm256_permute2f128_ps(u2, u6, 0x31); r7 = _mm256_permute2f128_ps(u3, u7, 0x31);                      \
    } while (0)

__attribute__((target("avx2"))) void lth_transpose_to_planes_avx2(const float *pixels, size_t count,
                                                                   size_t channels, float *planes,
                                                                   size_t plane_stride) {
    size_t p = 0;
    for (; p + 8 <= count; p += 8) {
        size_t c = 0;
        for (; c + 8 <= channels; c += 8) {
            const float *s = pixels + p * channels + c;
            __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + channels),
                   r2 = _mm256_loadu_ps(s + 2 * channels), r3 = _mm256_loadu_ps(s + 3 * channels),
                   r4 = _mm256_loadu_ps(s + 4 * channels), r5 = _mm256_loadu_ps(s + 5 * channels),
                   r6 = _mm256_loadu_ps(s + 6 * channels), r7 = _mm256_loadu_ps(s + 7 * channels);
            LTH_TRANSPOSE8(r0, r1, r2, r3, r4, r5, r6, r7);
            float *d = planes + c * plane_stride + p;
            _mm256_storeu_ps(d, r0);
            _mm256_storeu_ps(d + plane_stride, r1);
            _mm256_storeu_ps(d + 2 * plane_stride, r2);
            _mm256_storeu_ps(d + 3 * plane_stride, r3);
            _mm256_storeu_ps(d + 4 * plane_stride, r4);
            _mm256_storeu_ps(d + 5 * plane_stride, r5);
            _mm256_storeu_ps(d + 6 * plane_stride, r6);
            _mm256_storeu_ps(d + 7 * plane_stride, r7);
        }
        for (; c < channels; c++)
            for (size_t k = 0; k < 8; k++) planes[c * plane_stride + p + k] = pixels[(p + k) * channels + c];
    }
    for (; p < count; p++)
        for (size_t c = 0; c < channels; c++) planes[c * plane_stride + p] = pixels[p * channels + c];
}

__attribute__((target("avx2"))) void lth_transpose_from_rows_avx2(const float *rows, size_t row_stride,
                                                                  size_t count, size_t channels, const float *bias,
                                                                  float *pixels) {
    const __m256 zero = _mm256_setzero_ps();
    size_t p = 0;
    for (; p + 8 <= count; p += 8) {
        size_t c = 0;
        for (; c + 8 <= channels; c += 8) {
            const float *s = rows + c * row_stride + p;
            __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + row_stride),
                   r2 = _mm256_loadu_ps(s + 2 * row_stride), r3 = _mm256_loadu_ps(s + 3 * row_stride),
                   r4 = _mm256_loadu_ps(s + 4 * row_stride), r5 = _mm256_loadu_ps(s + 5 * row_stride),
                   r6 = _mm256_loadu_ps(s + 6 * row_stride), r7 = _mm256_loadu_ps(s + 7 * row_stride);
            LTH_TRANSPOSE8(r0, r1, r2, r3, r4, r5, r6, r7);
            __m256 out[8] = {r0, r1, r2, r3, r4, r5, r6, r7};
            if (bias) {
                const __m256 b = _mm256_loadu_ps(bias + c);
                for (int k = 0; k < 8; k++) out[k] = _mm256_max_ps(_mm256_add_ps(out[k], b), zero);
            }
            for (int k = 0; k < 8; k++) _mm256_storeu_ps(pixels + (p + k) * channels + c, out[k]);
        }
        for (; c < channels; c++)
            for (size_t k = 0; k < 8; k++) {
                float v = rows[c * row_stride + p + k];
                if (bias) { v = v + bias[c]; v = v > 0 ? v : 0; }
                pixels[(p + k) * channels + c] = v;
            }
    }
    for (; p < count; p++)
        for (size_t c = 0; c < channels; c++) {
            float v = rows[c * row_stride + p];
            if (bias) { v = v + bias[c]; v = v > 0 ? v : 0; }
            pixels[p * channels + c] = v;
        }
}

// All ones where slot == k, else all zeros.
__attribute__((target("avx2"))) static inline __m256 slot_is(__m256i slot, int k) {
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(slot, _mm256_set1_epi32(k)));
}

// The gradient of a 2×2 max-pool (stride 2, NHWC): each window's four positions get the output gradient where
// argmax names them and +0 elsewhere, 8 channels at a time (the same values as LotteryCore's portable loop).
__attribute__((target("avx2"))) void lth_unpool_avx2(const float *grad, const uint8_t *argmax, size_t images,
                                                     size_t h, size_t w, size_t c, float *out) {
    const size_t oh = h / 2, ow = w / 2;
    for (size_t i = 0; i < images; i++) {
        float *image = out + i * h * w * c;
        for (size_t y = 0; y < oh; y++) {
            for (size_t x = 0; x < ow; x++) {
                float *p0 = image + ((2 * y) * w + 2 * x) * c, *p1 = p0 + c, *p2 = p0 + w * c, *p3 = p2 + c;
                const size_t window = ((i * oh + y) * ow + x) * c;
                const float *g = grad + window;
                const uint8_t *a = argmax + window;
                size_t k = 0;
                for (; k + 8 <= c; k += 8) {
                    const __m256 v = _mm256_loadu_ps(g + k);
                    const __m256i slot = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(a + k)));
                    _mm256_storeu_ps(p0 + k, _mm256_and_ps(v, slot_is(slot, 0)));
                    _mm256_storeu_ps(p1 + k, _mm256_and_ps(v, slot_is(slot, 1)));
                    _mm256_storeu_ps(p2 + k, _mm256_and_ps(v, slot_is(slot, 2)));
                    _mm256_storeu_ps(p3 + k, _mm256_and_ps(v, slot_is(slot, 3)));
                }
                for (; k < c; k++) {
                    const float v = g[k];
                    p0[k] = a[k] == 0 ? v : 0;
                    p1[k] = a[k] == 1 ? v : 0;
                    p2[k] = a[k] == 2 ? v : 0;
                    p3[k] = a[k] == 3 ? v : 0;
                }
            }
        }
    }
}

#else

int lth_has_avx2_fma(void) { return 0; }

int lth_has_avx512f(void) { return 0; }

void lth_transpose_to_planes_avx2(const float *pixels, size_t count, size_t channels, float *planes,
                                  size_t plane_stride) {
    (void)pixels; (void)count; (void)channels; (void)planes; (void)plane_stride;
}

void lth_transpose_from_rows_avx2(const float *rows, size_t row_stride, size_t count, size_t channels,
                                  const float *bias, float *pixels) {
    (void)rows; (void)row_stride; (void)count; (void)channels; (void)bias; (void)pixels;
}

void lth_sparse_conv_avx512(float *out, size_t out_stride, size_t rows, size_t blocks, const int32_t *starts,
                            const int32_t *taps, const float *weights, const float *source, size_t length) {
    (void)out; (void)out_stride; (void)rows; (void)blocks; (void)starts; (void)taps; (void)weights; (void)source;
    (void)length;
}

void lth_sparse_conv_weight_grads_avx512(float *grads, size_t rows, const int32_t *starts, const int32_t *taps,
                                         const float *delta, size_t delta_stride, const float *source,
                                         size_t length) {
    (void)grads; (void)rows; (void)starts; (void)taps; (void)delta; (void)delta_stride; (void)source; (void)length;
}

void lth_sparse_conv_avx2(float *out, size_t out_stride, size_t rows, size_t blocks, const int32_t *starts,
                          const int32_t *taps, const float *weights, const float *source, size_t length) {
    (void)out; (void)out_stride; (void)rows; (void)blocks; (void)starts; (void)taps; (void)weights; (void)source;
    (void)length;
}

void lth_sparse_conv_weight_grads_avx2(float *grads, size_t rows, const int32_t *starts, const int32_t *taps,
                                       const float *delta, size_t delta_stride, const float *source, size_t length) {
    (void)grads; (void)rows; (void)starts; (void)taps; (void)delta; (void)delta_stride; (void)source; (void)length;
}

void lth_unpool_avx2(const float *grad, const uint8_t *argmax, size_t images, size_t h, size_t w, size_t c,
                     float *out) {
    (void)grad, (void)argmax, (void)images, (void)h, (void)w, (void)c, (void)out;
}

#endif
