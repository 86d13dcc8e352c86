#ifndef LTH_KERNELS_H
#define LTH_KERNELS_H

#include <stddef.h>

#include "lth_conv_kernels.h"
#include "lth_winograd.h"
#include "lth_wgemm.h"

/// Whether this CPU runs the AVX2 kernels below (checked once per call; a load of a libgcc/compiler-rt global).
int lth_has_avx2(void);

/// Whether the CPU (and OS) support AVX-512 F, BW, DQ, VL and CD: what OpenBLAS's SkylakeX kernels use.
int lth_has_avx512(void);

/// One Adam step over `count` parameters, 8 lanes per instruction (AVX2; call only when lth_has_avx2()).
///
/// Per parameter, exactly these IEEE single-precision operations in this order, no fused multiply-add (the same
/// as LotteryCore's portable Swift loop, so results are bit-identical):
///   gi = g * keep                      (keep = mask[i]; the masked form only)
///   mi = b1 * m + c1 * gi
///   vi = b2 * v + c2 * (gi * gi)
///   m = mi; v = vi
///   w = w - keep * (step_size * mi / (sqrt(vi * v_scale) + eps))     (masked)
///   w = w - step_size * mi / (sqrt(vi * v_scale) + eps)              (mask == NULL)
void lth_adam_avx2(float *w, const float *g, float *m, float *v, const float *mask, size_t count, float b1,
                   float b2, float c1, float c2, float eps, float step_size, float v_scale);

/// Adds `bias[j]` to every row of the row-major `rows × n` matrix `out`, then (when `relu` is non-zero) applies
/// `v > 0 ? v : 0` (−0 and NaN become +0): max(v, 0) with the operands in that order. AVX2; bit-identical to the
/// scalar loop.
void lth_bias_activate_avx2(float *out, const float *bias, size_t rows, size_t n, int relu);

/// `delta[i] = act[i] > 0 ? delta[i] : 0` (the ReLU derivative; +0 where cleared). AVX2; bit-identical.
void lth_relu_mask_avx2(float *delta, const float *act, size_t count);


#include <stdint.h>

/// A sparse layer's forward pass over feature-major activations (AVX2; bit-identical to SparseNetwork's Swift
/// loops): for each live output unit `j = cols[c]`, lane by lane over the `columns` images (a multiple of 8),
/// `out[j, :] = bias[j] + Σ_{p = starts[c] ..< starts[c+1]} values[p] · x[rows[p], :]` accumulated in increasing p
/// (multiply, then add), then `v > 0 ? v : 0` when `relu`.
void lth_sparse_forward_avx2(float *out, const float *bias, const float *values, const int32_t *rows,
                             const int32_t *cols, const int32_t *starts, size_t live, const float *x, size_t columns,
                             int relu);

/// A sparse layer's weight gradients: `g[p] = Σ_images x[rows[p], :] · delta[cols[c], :]` for every packed weight,
/// as SparseNetwork's `dot`: two 8-lane partial sums over alternate blocks of 8 (a last odd block into the first),
/// added lane-wise, then the 8 lanes summed in order from lane 0.
void lth_sparse_weight_grads_avx2(float *g, const float *x, const float *delta, const int32_t *rows,
                                  const int32_t *cols, const int32_t *starts, size_t live, size_t columns);

/// A sparse layer's input deltas (before the ReLU mask): `below[rows[p], :] += values[p] · delta[cols[c], :]` for
/// every packed weight in increasing p (`below` zeroed by the caller).
void lth_sparse_scatter_avx2(float *below, const float *values, const int32_t *rows, const int32_t *cols,
                             const int32_t *starts, size_t live, const float *delta, size_t columns);

/// A list-by-dense product, the kernel of a first layer whose inputs are mostly zero (AVX2; bit-identical to
/// LotteryCore's `listProduct`): for each of the `count` lists r, over the `n` columns j,
///   `out[r * n + j] = Σ_{q = starts[r] ..< starts[r+1]} values[q] · m[index[q] * n + j]`,
/// starting from +0 and accumulated in increasing q (multiply, then add). An empty list gives a row of +0.
/// Forward: the lists are an input row's nonzero entries and `m` the weights; weight gradients: the lists are a
/// feature's nonzero entries over the batch and `m` the deltas.
void lth_list_product_avx2(float *out, size_t n, const ptrdiff_t *starts, const int32_t *index, const float *values,
                           size_t count, const float *m);

/// Lists the nonzero entries of `rows` rows of `features` floats (AVX2; the same lists as LotteryCore's portable
/// loop): row r is `images + (order ? order[r] : r) * features`; each entry that is not ±0 (NaN counts as nonzero)
/// is appended as (index, value) in increasing index, and `starts[r + 1]` is the count so far (`starts[0]` must be
/// 0). `columns` and `values` need room for every entry plus 8 (whole vectors are stored).
void lth_compress_rows_avx2(const float *images, const ptrdiff_t *order, size_t rows, size_t features,
                            ptrdiff_t *starts, int32_t *columns, float *values);

#endif
