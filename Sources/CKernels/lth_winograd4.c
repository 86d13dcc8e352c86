// Winograd F(4×4, 3×3) transforms (see lth_winograd.h and LotteryCore's Winograd.swift). Plain C loops over the
// channel axis, contiguous in every layout here, compiled for AVX2 so they run 8 channels at a time. Every value is
// the fixed sequence of IEEE operations of the portable Swift loops (Winograd+F4.swift), never contracted into
// FMAs, so both give the same bits on any CPU. The 1-D transforms are macros so that C and Swift read alike.
#include "lth_winograd.h"
#include "lth_winograd_walk.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#pragma clang fp contract(off)


// Bᵀ of a column d0…d5 into r0…r5 (points 0, 1, −1, 2, −2, ∞).
#define LTH_B6(d0, d1, d2, d3, d4, d5, r0, r1, r2, r3, r4, r5)                                                         \
    do {                                                                                                               \
        const __auto_type t0_ = (d4) - (d2) * 4.0f; const __auto_type t1_ = (d3) - (d1) * 4.0f;                        \
        const __auto_type t2_ = (d4) - (d2); const __auto_type t3_ = ((d3) - (d1)) * 2.0f;                             \
        r0 = ((d0) * 4.0f - (d2) * 5.0f) + (d4);                                                                       \
        r1 = t0_ + t1_;                                                                                                \
        r2 = t0_ - t1_;                                                                                                \
        r3 = t2_ + t3_;                                                                                                \
        r4 = t2_ - t3_;                                                                                                \
        r5 = ((d1) * 4.0f - (d3) * 5.0f) + (d5);                                                                       \
    } while (0)

// Aᵀ of a column m0…m5 into s0…s3.
#define LTH_A6(m0, m1, m2, m3, m4, m5, s0, s1, s2, s3)                                                                 \
    do {                                                                                                               \
        const __auto_type a_ = (m1) + (m2); const __auto_type b_ = (m1) - (m2);                                        \
        const __auto_type c_ = (m3) + (m4); const __auto_type d_ = (m3) - (m4);                                        \
        s0 = ((m0) + a_) + c_;                                                                                         \
        s1 = b_ + d_ * 2.0f;                                                                                           \
        s2 = a_ + c_ * 4.0f;                                                                                           \
        s3 = (b_ + d_ * 8.0f) + (m5);                                                                                  \
    } while (0)

// A of a column e0…e3 into y0…y5 (the adjoint of LTH_A6).
#define LTH_AT6(e0, e1, e2, e3, y0, y1, y2, y3, y4, y5)                                                                \
    do {                                                                                                               \
        const __auto_type p_ = (e0) + (e2); const __auto_type q_ = (e1) + (e3);                                        \
        const __auto_type r_ = (e0) + (e2) * 4.0f; const __auto_type s_ = (e1) * 2.0f + (e3) * 8.0f;                   \
        y0 = (e0);                                                                                                     \
        y1 = p_ + q_;                                                                                                  \
        y2 = p_ - q_;                                                                                                  \
        y3 = r_ + s_;                                                                                                  \
        y4 = r_ - s_;                                                                                                  \
        y5 = (e3);                                                                                                     \
    } while (0)

// Six values y0…y5 to out, out + stride, …, out + 5·stride (one transformed row of a tile).
#define LTH_STORE6(STORE, out, stride, y0, y1, y2, y3, y4, y5)                                                         \
    do {                                                                                                               \
        STORE((out), y0);                                                                                              \
        STORE((out) + (stride), y1);                                                                                   \
        STORE((out) + 2 * (stride), y2);                                                                               \
        STORE((out) + 3 * (stride), y3);                                                                               \
        STORE((out) + 4 * (stride), y4);                                                                               \
        STORE((out) + 5 * (stride), y5);                                                                               \
    } while (0)

// G of a kernel column g0…g2 into u0…u5.
#define LTH_G6(g0, g1, g2, u0, u1, u2, u3, u4, u5)                                                                     \
    do {                                                                                                               \
        const __auto_type a_ = (g0) + (g2); const __auto_type q_ = (g1) * (1.0f / 12.0f);                              \
        const __auto_type p_ = (g0) * (1.0f / 24.0f) + (g2) * (1.0f / 6.0f);                                           \
        u0 = (g0) * 0.25f;                                                                                             \
        u1 = (a_ + (g1)) * (-1.0f / 6.0f);                                                                             \
        u2 = (a_ - (g1)) * (-1.0f / 6.0f);                                                                             \
        u3 = p_ + q_;                                                                                                  \
        u4 = p_ - q_;                                                                                                  \
        u5 = (g2);                                                                                                     \
    } while (0)

// Gᵀ of a column u0…u5 into g0…g2 (the adjoint of LTH_G6).
#define LTH_GT6(u0, u1, u2, u3, u4, u5, g0, g1, g2)                                                                    \
    do {                                                                                                               \
        const __auto_type a_ = (u1) + (u2); const __auto_type b_ = (u1) - (u2);                                        \
        const __auto_type c_ = (u3) + (u4); const __auto_type d_ = (u3) - (u4);                                        \
        g0 = ((u0) * 0.25f - a_ * (1.0f / 6.0f)) + c_ * (1.0f / 24.0f);                                                \
        g1 = d_ * (1.0f / 12.0f) - b_ * (1.0f / 6.0f);                                                                 \
        g2 = (c_ - a_) * (1.0f / 6.0f) + (u5);                                                                         \
    } while (0)

// Eight channels at once in a vector of the compiler's vector extension: its +, −, × are the IEEE operations of
// each lane, so a lane's bits equal the scalar tail's (the same macros on `float`). Unaligned loads and stores.
typedef float lth_v8 __attribute__((vector_size(32), aligned(4)));
#define LTH_LOAD8(p) (*(const lth_v8 *)(p))
#define LTH_STORE8(p, x) (*(lth_v8 *)(p) = (x))
#define LTH_LOAD1(p) (*(p))
#define LTH_STORE1(p, x) (*(p) = (x))

// Runs BODY(V, LOAD, STORE) for k = 0, 8, … (V = lth_v8) and then for the remaining channels one by one (V = float).
#define LTH_CHANNELS(c, BODY)                                                                                          \
    do {                                                                                                               \
        size_t k = 0;                                                                                                  \
        for (; k + 8 <= (c); k += 8) BODY(lth_v8, LTH_LOAD8, LTH_STORE8)                                               \
        for (; k < (c); k++) BODY(float, LTH_LOAD1, LTH_STORE1)                                                        \
    } while (0)

// Bᵀ d B of one tile into o[ξ·c + k] (ξ = 6a + b), PIXEL(a, b) the address of patch pixel (a, b) (channel 0).
#define LTH_INPUT_BODY(V, LOAD, STORE)                                                                                 \
    {                                                                                                                  \
        V r[36];                                                                                                       \
        for (int b = 0; b < 6; b++) {                                                                                  \
            LTH_B6(LOAD(PIXEL(0, b) + k), LOAD(PIXEL(1, b) + k), LOAD(PIXEL(2, b) + k), LOAD(PIXEL(3, b) + k),         \
                   LOAD(PIXEL(4, b) + k), LOAD(PIXEL(5, b) + k), r[b], r[6 + b], r[12 + b], r[18 + b], r[24 + b],      \
                   r[30 + b]);                                                                                         \
        }                                                                                                              \
        for (int a = 0; a < 6; a++) {                                                                                  \
            V y0, y1, y2, y3, y4, y5;                                                                                  \
            LTH_B6(r[6 * a], r[6 * a + 1], r[6 * a + 2], r[6 * a + 3], r[6 * a + 4], r[6 * a + 5], y0, y1, y2, y3,     \
                   y4, y5);                                                                                            \
            float *out = o + (size_t)a * 6 * c + k;                                                                    \
            LTH_STORE6(STORE, out, c, y0, y1, y2, y3, y4, y5);                                                         \
        }                                                                                                              \
    }

LTH_AVX2 static inline __attribute__((always_inline))
void input_tile4(const float *const p[36], size_t c, float *o) {
#define PIXEL(a, b) p[(a) * 6 + (b)]
    LTH_CHANNELS(c, LTH_INPUT_BODY);
#undef PIXEL
}

LTH_AVX2 static inline __attribute__((always_inline))
void input_tile4_interior(const float *row, size_t stride, size_t c,
                          float *o) {
#define PIXEL(a, b) (row + (a) * stride + (b) * c)
    LTH_CHANNELS(c, LTH_INPUT_BODY);
#undef PIXEL
}

LTH_AVX2 void lth_winograd4_input_avx2(const float *in, size_t images, size_t h, size_t w, size_t c,
                                       const float *zeros, float *v) {
    lth_input_walk(in, images, h, w, c, zeros, v, 4, input_tile4_interior, input_tile4);
}

// One tile's outputs Aᵀ m A (+ bias, ReLU), `rows × cols` of them on the map (4 × 4 except at the edge).
#define LTH_OUTPUT_BODY(V, LOAD, STORE)                                                                                \
    {                                                                                                                  \
        V s[24];                                                                                                       \
        for (int b = 0; b < 6; b++) {                                                                                  \
            const float *col = q + (size_t)b * plane + k;                                                              \
            LTH_A6(LOAD(col), LOAD(col + 6 * plane), LOAD(col + 12 * plane), LOAD(col + 18 * plane),                   \
                   LOAD(col + 24 * plane), LOAD(col + 30 * plane), s[b], s[6 + b], s[12 + b], s[18 + b]);              \
        }                                                                                                              \
        for (int u = 0; u < rows; u++) {                                                                               \
            V y[4];                                                                                                    \
            LTH_A6(s[6 * u], s[6 * u + 1], s[6 * u + 2], s[6 * u + 3], s[6 * u + 4], s[6 * u + 5], y[0], y[1],         \
                   y[2], y[3]);                                                                                        \
            for (int x = 0; x < cols; x++) {                                                                           \
                V value = y[x];                                                                                        \
                if (bias) value = value + LOAD(bias + k);                                                              \
                if (relu) value = LTH_RELU(value);                                                                     \
                STORE(o00 + ((size_t)u * w + (size_t)x) * c + k, value);                                               \
            }                                                                                                          \
        }                                                                                                              \
    }

// max(x, +0) as `x > 0 ? x : 0` per lane (vmaxps returns its second operand unless the first is greater).
#if defined(__x86_64__)
LTH_AVX2 static inline lth_v8 relu8(lth_v8 x) { return (lth_v8)_mm256_max_ps((__m256)x, _mm256_setzero_ps()); }
#else
static inline lth_v8 relu8(lth_v8 x) {
    for (int i = 0; i < 8; i++) x[i] = x[i] > 0 ? x[i] : 0;
    return x;
}
#endif
static inline float relu1(float x) { return x > 0 ? x : 0; }
#define LTH_RELU(x) _Generic((x), lth_v8: relu8, float: relu1)(x)

LTH_AVX2 static inline __attribute__((always_inline))
void output_tile4(const float *q, size_t plane, size_t c, size_t w,
                  const float *bias, int relu, int rows, int cols,
                  float *o00) {
    LTH_CHANNELS(c, LTH_OUTPUT_BODY);
}

LTH_AVX2 void lth_winograd4_output_avx2(const float *m, size_t plane, size_t images, size_t h, size_t w, size_t c,
                                        const float *bias, int relu, float *out) {
    const size_t th = (h + 3) / 4, tw = (w + 3) / 4;
    for (size_t i = 0; i < images; i++) {
        for (size_t ty = 0; ty < th; ty++) {
            for (size_t tx = 0; tx < tw; tx++) {
                const size_t t = (i * th + ty) * tw + tx;
                const float *q = m + t * c;
                const size_t y0 = 4 * ty, x0 = 4 * tx;
                const int rows = h - y0 < 4 ? (int)(h - y0) : 4, cols = w - x0 < 4 ? (int)(w - x0) : 4;
                float *o00 = out + ((i * h + y0) * w + x0) * c;
                if (rows == 4 && cols == 4) {
                    if (bias && relu) output_tile4(q, plane, c, w, bias, 1, 4, 4, o00);
                    else if (bias) output_tile4(q, plane, c, w, bias, 0, 4, 4, o00);
                    else if (relu) output_tile4(q, plane, c, w, NULL, 1, 4, 4, o00);
                    else output_tile4(q, plane, c, w, NULL, 0, 4, 4, o00);
                } else {
                    output_tile4(q, plane, c, w, bias, relu, rows, cols, o00);
                }
            }
        }
    }
}

// A δ Aᵀ of one tile's 4×4 delta (rows × cols on the map, the rest zero) into o[ξ·c + k].
#define LTH_OUTPUT_ADJOINT_BODY(V, LOAD, STORE)                                                                        \
    {                                                                                                                  \
        V e[16], q[24];                                                                                                \
        for (int u = 0; u < 4; u++) {                                                                                  \
            for (int x = 0; x < 4; x++) {                                                                              \
                e[4 * u + x] = (u < rows && x < cols) ? LOAD(d00 + ((size_t)u * w + (size_t)x) * c + k) : (V){0};      \
            }                                                                                                          \
        }                                                                                                              \
        for (int x = 0; x < 4; x++) {                                                                                  \
            LTH_AT6(e[x], e[4 + x], e[8 + x], e[12 + x], q[x], q[4 + x], q[8 + x], q[12 + x], q[16 + x], q[20 + x]);   \
        }                                                                                                              \
        for (int a = 0; a < 6; a++) {                                                                                  \
            V y0, y1, y2, y3, y4, y5;                                                                                  \
            LTH_AT6(q[4 * a], q[4 * a + 1], q[4 * a + 2], q[4 * a + 3], y0, y1, y2, y3, y4, y5);                       \
            float *out = o + (size_t)a * 6 * c + k;                                                                    \
            LTH_STORE6(STORE, out, c, y0, y1, y2, y3, y4, y5);                                                         \
        }                                                                                                              \
    }

LTH_AVX2 static inline __attribute__((always_inline))
void output_adjoint_tile4(const float *d00, size_t c, size_t w,
                          int rows, int cols, float *o) {
    LTH_CHANNELS(c, LTH_OUTPUT_ADJOINT_BODY);
}

LTH_AVX2 void lth_winograd4_output_adjoint_avx2(const float *delta, size_t images, size_t h, size_t w, size_t c,
                                                float *y) {
    const size_t th = (h + 3) / 4, tw = (w + 3) / 4;
    for (size_t i = 0; i < images; i++) {
        for (size_t ty = 0; ty < th; ty++) {
            for (size_t tx = 0; tx < tw; tx++) {
                const size_t y0 = 4 * ty, x0 = 4 * tx;
                const int rows = h - y0 < 4 ? (int)(h - y0) : 4, cols = w - x0 < 4 ? (int)(w - x0) : 4;
                const float *d00 = delta + ((i * h + y0) * w + x0) * c;
                float *o = y + ((i * th + ty) * tw + tx) * 36 * c;
                if (rows == 4 && cols == 4) output_adjoint_tile4(d00, c, w, 4, 4, o);
                else output_adjoint_tile4(d00, c, w, rows, cols, o);
            }
        }
    }
}

// G g Gᵀ of the kernels at g (tap t at g + t·tap) into o[ξ·plane + k].
#define LTH_WEIGHTS_BODY(V, LOAD, STORE)                                                                               \
    {                                                                                                                  \
        V s[18];                                                                                                       \
        for (int kx = 0; kx < 3; kx++) {                                                                               \
            LTH_G6(LOAD(g + TAP(0, kx) * tap + k), LOAD(g + TAP(1, kx) * tap + k), LOAD(g + TAP(2, kx) * tap + k),     \
                   s[kx], s[3 + kx], s[6 + kx], s[9 + kx], s[12 + kx], s[15 + kx]);                                    \
        }                                                                                                              \
        for (int a = 0; a < 6; a++) {                                                                                  \
            V y0, y1, y2, y3, y4, y5;                                                                                  \
            LTH_G6(s[3 * a], s[3 * a + 1], s[3 * a + 2], y0, y1, y2, y3, y4, y5);                                      \
            float *out = o + (size_t)a * 6 * plane + k;                                                                \
            LTH_STORE6(STORE, out, plane, y0, y1, y2, y3, y4, y5);                                                     \
        }                                                                                                              \
    }

LTH_AVX2 void lth_winograd4_weights_avx2(const float *weights, size_t cin, size_t cout, int rotated, float *u) {
    const size_t tap = cin * cout, plane = cin * cout;
    for (size_t ci = 0; ci < cin; ci++) {
        const float *g = weights + ci * cout;
        float *o = u + ci * cout;
        if (rotated) {
#define TAP(ky, kx) (size_t)(8 - ((ky) * 3 + (kx)))
            LTH_CHANNELS(cout, LTH_WEIGHTS_BODY);
#undef TAP
        } else {
#define TAP(ky, kx) (size_t)((ky) * 3 + (kx))
            LTH_CHANNELS(cout, LTH_WEIGHTS_BODY);
#undef TAP
        }
    }
}

// Gᵀ du G of the kernels' ∂U at d (point ξ at d + ξ·plane) into o[t·tap + k].
#define LTH_WEIGHTS_ADJOINT_BODY(V, LOAD, STORE)                                                                       \
    {                                                                                                                  \
        V q[18];                                                                                                       \
        for (int b = 0; b < 6; b++) {                                                                                  \
            const float *col = d + (size_t)b * plane + k;                                                              \
            LTH_GT6(LOAD(col), LOAD(col + 6 * plane), LOAD(col + 12 * plane), LOAD(col + 18 * plane),                  \
                    LOAD(col + 24 * plane), LOAD(col + 30 * plane), q[b], q[6 + b], q[12 + b]);                        \
        }                                                                                                              \
        for (int ky = 0; ky < 3; ky++) {                                                                               \
            V g0, g1, g2;                                                                                              \
            LTH_GT6(q[6 * ky], q[6 * ky + 1], q[6 * ky + 2], q[6 * ky + 3], q[6 * ky + 4], q[6 * ky + 5], g0, g1,      \
                    g2);                                                                                               \
            float *out = o + (size_t)ky * 3 * tap + k;                                                                 \
            STORE(out, g0);                                                                                            \
            STORE(out + tap, g1);                                                                                      \
            STORE(out + 2 * tap, g2);                                                                                  \
        }                                                                                                              \
    }

LTH_AVX2 void lth_winograd4_weights_adjoint_avx2(const float *du, size_t cin, size_t cout, float *grad) {
    const size_t tap = cin * cout, plane = cin * cout;
    for (size_t ci = 0; ci < cin; ci++) {
        const float *d = du + ci * cout;
        float *o = grad + ci * cout;
        LTH_CHANNELS(cout, LTH_WEIGHTS_ADJOINT_BODY);
    }
}
