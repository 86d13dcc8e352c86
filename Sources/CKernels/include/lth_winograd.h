#ifndef LTH_WINOGRAD_H
#define LTH_WINOGRAD_H

#include <stddef.h>

// Winograd F(2×2, 3×3) transforms of the dense 3×3 convolution (LotteryCore's Winograd.swift explains the
// algorithm, the layouts and the adjoints). AVX2 builds of plain C loops; call only when lth_has_avx2(). Every
// output element is the same IEEE additions, subtractions and multiplications by 0.5 in the same order as the
// portable Swift loops, never contracted into FMAs, so both give the same bits.
//
// Maps are NHWC (`images × h × w × c`); a map has ceil(h/2)·ceil(w/2) tiles per image, row-major.

/// v[t][ξ][k] (ξ = 4a + b < 16, k < c): Bᵀ d B of tile t's 4×4 input patch d (rows 2ty−1…2ty+2, columns
/// 2tx−1…2tx+2, zero off the map). `zeros` holds at least c zeros.
void lth_winograd_input_avx2(const float *in, size_t images, size_t h, size_t w, size_t c, const float *zeros,
                             float *v);

/// out[i, 2ty+u, 2tx+v, k] = Aᵀ m A (+ bias[k], then max(·, 0) when relu), m[ξ] read at m + ξ·plane + t·c + k.
/// Positions off the map (odd h or w) are not written. `bias` may be NULL.
void lth_winograd_output_avx2(const float *m, size_t plane, size_t images, size_t h, size_t w, size_t c,
                              const float *bias, int relu, float *out);

/// y[t][ξ][k] = A δ Aᵀ of tile t's 2×2 output delta δ (zero off the map): the adjoint of the output transform.
void lth_winograd_output_adjoint_avx2(const float *delta, size_t images, size_t h, size_t w, size_t c, float *y);

/// u[ξ][ci][o] = G g Gᵀ of each kernel g[ky][kx] = weights[((ky·3 + kx)·cin + ci)·cout + o].
void lth_winograd_weights_avx2(const float *weights, size_t cin, size_t cout, float *u);

/// grad[((ky·3 + kx)·cin + ci)·cout + o] = (Gᵀ du G)[ky][kx]: the adjoint of the weight transform.
void lth_winograd_weights_adjoint_avx2(const float *du, size_t cin, size_t cout, float *grad);

// Winograd F(4×4, 3×3): the same layouts with 36 transform points ξ = 6a + b, tiles of 4×4 outputs reading a 6×6
// patch (rows 4ty−1…4ty+4, columns 4tx−1…4tx+4, zero off the map), ceil(h/4)·ceil(w/4) tiles per image.

void lth_winograd4_input_avx2(const float *in, size_t images, size_t h, size_t w, size_t c, const float *zeros,
                              float *v);
void lth_winograd4_output_avx2(const float *m, size_t plane, size_t images, size_t h, size_t w, size_t c,
                               const float *bias, int relu, float *out);
void lth_winograd4_output_adjoint_avx2(const float *delta, size_t images, size_t h, size_t w, size_t c, float *y);
/// u[ξ][ci][o] = G g Gᵀ of each kernel, or (rotated ≠ 0) of each kernel rotated by 180°.
void lth_winograd4_weights_avx2(const float *weights, size_t cin, size_t cout, int rotated, float *u);
void lth_winograd4_weights_adjoint_avx2(const float *du, size_t cin, size_t cout, float *grad);

#endif
