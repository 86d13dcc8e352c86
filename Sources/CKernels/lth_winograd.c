// Winograd F(2×2, 3×3) transforms (see lth_winograd.h and LotteryCore's Winograd.swift). Plain C loops over the
// channel axis, which is contiguous in every layout here, compiled for AVX2 so they run 8 channels at a time.
// Every value is a fixed sequence of additions, subtractions and multiplications by 0.5, never contracted into
// FMAs, so the bits equal the portable Swift loops' on any CPU.
#include "lth_winograd.h"
#include "lth_winograd_walk.h"

#pragma clang fp contract(off)


// Bᵀ d B of one tile for channels 0..<c into o[ξ·c + k], where PIXEL(a, b) is the address of patch pixel (a, b).
#define LTH_INPUT_TILE(PIXEL)                                                                                      \
    _Pragma("clang loop vectorize(assume_safety)") for (size_t k = 0; k < c; k++) {                              \
        float r[16];                                                                                               \
        for (int b = 0; b < 4; b++) {                                                                              \
            const float d0 = PIXEL(0, b)[k], d1 = PIXEL(1, b)[k], d2 = PIXEL(2, b)[k], d3 = PIXEL(3, b)[k];        \
            r[b] = d0 - d2;                                                                                        \
            r[4 + b] = d1 + d2;                                                                                    \
            r[8 + b] = d2 - d1;                                                                                    \
            r[12 + b] = d1 - d3;                                                                                   \
        }                                                                                                          \
        for (int a = 0; a < 4; a++) {                                                                              \
            o[(a * 4 + 0) * c + k] = r[a * 4 + 0] - r[a * 4 + 2];                                                  \
            o[(a * 4 + 1) * c + k] = r[a * 4 + 1] + r[a * 4 + 2];                                                  \
            o[(a * 4 + 2) * c + k] = r[a * 4 + 2] - r[a * 4 + 1];                                                  \
            o[(a * 4 + 3) * c + k] = r[a * 4 + 1] - r[a * 4 + 3];                                                  \
        }                                                                                                          \
    }

// A tile at the map's edge: 16 pixel pointers, those off the map at `zeros`.
static inline __attribute__((always_inline)) void input_tile(const float *const p[16], size_t c, float *o) {
#define LTH_EDGE_PIXEL(a, b) p[(a) * 4 + (b)]
    LTH_INPUT_TILE(LTH_EDGE_PIXEL)
#undef LTH_EDGE_PIXEL
}

// A tile whose 4×4 patch is all on the map: four row pointers, the columns at constant offsets (fewer live
// pointers than at the edge, so the loop keeps them in registers).
static inline __attribute__((always_inline)) void input_tile_interior(const float *row, size_t stride, size_t c,
                                                                      float *o) {
    const float *rows[4] = {row, row + stride, row + 2 * stride, row + 3 * stride};
#define LTH_INTERIOR_PIXEL(a, b) (rows[a] + (b) * c)
    LTH_INPUT_TILE(LTH_INTERIOR_PIXEL)
#undef LTH_INTERIOR_PIXEL
}

LTH_AVX2 void lth_winograd_input_avx2(const float *in, size_t images, size_t h, size_t w, size_t c,
                                      const float *zeros, float *v) {
    lth_input_walk(in, images, h, w, c, zeros, v, 2, input_tile_interior, input_tile);
}

// One tile's outputs; `bias`, `relu` and `full` (the whole 2×2 on the map) are constants at each call site below,
// so each of the eight variants is its own branch-free vector loop.
static inline __attribute__((always_inline)) void output_tile(const float *q, size_t plane, size_t c, size_t w,
                                                              const float *bias, int relu, int full, int down,
                                                              int right, float *o00) {
    float *o01 = o00 + c, *o10 = o00 + w * c, *o11 = o10 + c;
#pragma clang loop vectorize(assume_safety)
    for (size_t k = 0; k < c; k++) {
        float r0[4], r1[4];
        for (int b = 0; b < 4; b++) {
            const float m0 = q[(size_t)b * plane + k], m1 = q[(size_t)(4 + b) * plane + k],
                        m2 = q[(size_t)(8 + b) * plane + k], m3 = q[(size_t)(12 + b) * plane + k];
            r0[b] = m0 + m1 + m2;
            r1[b] = m1 - m2 - m3;
        }
        float y00 = r0[0] + r0[1] + r0[2], y01 = r0[1] - r0[2] - r0[3];
        float y10 = r1[0] + r1[1] + r1[2], y11 = r1[1] - r1[2] - r1[3];
        if (bias) {
            const float bk = bias[k];
            y00 = y00 + bk;
            y01 = y01 + bk;
            y10 = y10 + bk;
            y11 = y11 + bk;
        }
        if (relu) {
            y00 = y00 > 0 ? y00 : 0;
            y01 = y01 > 0 ? y01 : 0;
            y10 = y10 > 0 ? y10 : 0;
            y11 = y11 > 0 ? y11 : 0;
        }
        o00[k] = y00;
        if (full) {
            o01[k] = y01;
            o10[k] = y10;
            o11[k] = y11;
        } else {
            if (right) o01[k] = y01;
            if (down) o10[k] = y10;
        }
    }
}

LTH_AVX2 void lth_winograd_output_avx2(const float *m, size_t plane, size_t images, size_t h, size_t w, size_t c,
                                       const float *bias, int relu, float *out) {
    const size_t th = (h + 1) / 2, tw = (w + 1) / 2;
    for (size_t i = 0; i < images; i++) {
        for (size_t ty = 0; ty < th; ty++) {
            for (size_t tx = 0; tx < tw; tx++) {
                const size_t t = (i * th + ty) * tw + tx;
                const float *q = m + t * c;
                const size_t y0 = 2 * ty, x0 = 2 * tx;
                const int down = y0 + 1 < h, right = x0 + 1 < w;
                float *o00 = out + ((i * h + y0) * w + x0) * c;
                if (down && right) {
                    if (bias && relu) output_tile(q, plane, c, w, bias, 1, 1, 1, 1, o00);
                    else if (bias) output_tile(q, plane, c, w, bias, 0, 1, 1, 1, o00);
                    else if (relu) output_tile(q, plane, c, w, NULL, 1, 1, 1, 1, o00);
                    else output_tile(q, plane, c, w, NULL, 0, 1, 1, 1, o00);
                } else {
                    output_tile(q, plane, c, w, bias, relu, 0, down, right, o00);
                }
            }
        }
    }
}

LTH_AVX2 void lth_winograd_output_adjoint_avx2(const float *delta, size_t images, size_t h, size_t w, size_t c,
                                               float *y) {
    const size_t th = (h + 1) / 2, tw = (w + 1) / 2;
    for (size_t i = 0; i < images; i++) {
        for (size_t ty = 0; ty < th; ty++) {
            for (size_t tx = 0; tx < tw; tx++) {
                const size_t y0 = 2 * ty, x0 = 2 * tx;
                const int down = y0 + 1 < h, right = x0 + 1 < w;
                const float *d00 = delta + ((i * h + y0) * w + x0) * c;
                const float *d01 = d00 + c, *d10 = d00 + w * c, *d11 = d10 + c;
                float *o = y + ((i * th + ty) * tw + tx) * 16 * c;
#pragma clang loop vectorize(assume_safety)
                for (size_t k = 0; k < c; k++) {
                    const float e00 = d00[k], e01 = right ? d01[k] : 0, e10 = down ? d10[k] : 0,
                                e11 = (down && right) ? d11[k] : 0;
                    // q = A δ (rows a of A = [1,0], [1,1], [1,−1], [0,−1]), then q Aᵀ along the columns.
                    const float q[4][2] = {{e00, e01}, {e00 + e10, e01 + e11}, {e00 - e10, e01 - e11}, {-e10, -e11}};
                    for (int a = 0; a < 4; a++) {
                        o[(a * 4 + 0) * c + k] = q[a][0];
                        o[(a * 4 + 1) * c + k] = q[a][0] + q[a][1];
                        o[(a * 4 + 2) * c + k] = q[a][0] - q[a][1];
                        o[(a * 4 + 3) * c + k] = -q[a][1];
                    }
                }
            }
        }
    }
}

LTH_AVX2 void lth_winograd_weights_avx2(const float *weights, size_t cin, size_t cout, float *u) {
    const size_t tap = cin * cout, plane = cin * cout;
    for (size_t ci = 0; ci < cin; ci++) {
        const float *g = weights + ci * cout;
        float *o = u + ci * cout;
#pragma clang loop vectorize(assume_safety)
        for (size_t k = 0; k < cout; k++) {
            float s[4][3];
            for (int kx = 0; kx < 3; kx++) {
                const float g0 = g[(size_t)kx * tap + k], g1 = g[(size_t)(3 + kx) * tap + k],
                            g2 = g[(size_t)(6 + kx) * tap + k];
                s[0][kx] = g0;
                s[1][kx] = (g0 + g1 + g2) * 0.5f;
                s[2][kx] = (g0 - g1 + g2) * 0.5f;
                s[3][kx] = g2;
            }
            for (int a = 0; a < 4; a++) {
                o[(size_t)(a * 4 + 0) * plane + k] = s[a][0];
                o[(size_t)(a * 4 + 1) * plane + k] = (s[a][0] + s[a][1] + s[a][2]) * 0.5f;
                o[(size_t)(a * 4 + 2) * plane + k] = (s[a][0] - s[a][1] + s[a][2]) * 0.5f;
                o[(size_t)(a * 4 + 3) * plane + k] = s[a][2];
            }
        }
    }
}

LTH_AVX2 void lth_winograd_weights_adjoint_avx2(const float *du, size_t cin, size_t cout, float *grad) {
    const size_t tap = cin * cout, plane = cin * cout;
    for (size_t ci = 0; ci < cin; ci++) {
        const float *d = du + ci * cout;
        float *o = grad + ci * cout;
#pragma clang loop vectorize(assume_safety)
        for (size_t k = 0; k < cout; k++) {
            // q = Gᵀ du (rows ky), then q G along the columns; the halves first, as the Swift loop does.
            float q[3][4];
            for (int b = 0; b < 4; b++) {
                const float u0 = d[(size_t)b * plane + k], h1 = d[(size_t)(4 + b) * plane + k] * 0.5f,
                            h2 = d[(size_t)(8 + b) * plane + k] * 0.5f, u3 = d[(size_t)(12 + b) * plane + k];
                q[0][b] = u0 + h1 + h2;
                q[1][b] = h1 - h2;
                q[2][b] = h1 + h2 + u3;
            }
            for (int ky = 0; ky < 3; ky++) {
                const float u0 = q[ky][0], h1 = q[ky][1] * 0.5f, h2 = q[ky][2] * 0.5f, u3 = q[ky][3];
                o[(size_t)(ky * 3 + 0) * tap + k] = u0 + h1 + h2;
                o[(size_t)(ky * 3 + 1) * tap + k] = h1 - h2;
                o[(size_t)(ky * 3 + 2) * tap + k] = h1 + h2 + u3;
            }
        }
    }
}
