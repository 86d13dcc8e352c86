#ifndef LTH_CONV_KERNELS_H
#define LTH_CONV_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Whether the CPU has AVX2 and FMA3: what the weight-sparse convolution kernels below use.
int lth_has_avx2_fma(void);

/// The weight-sparse 3×3 convolution's kernel (forward and input-gradient passes), over planes of a fixed
/// `length` (a multiple of 16) and fused multiply-adds:
///   for each row r < rows, each q < length:
///     out[r * out_stride + q] = Σ_t weights[taps[2t+1]] · source[taps[2t] + q]
/// over the row's taps t = starts[r·(blocks+1)] ..< starts[r·(blocks+1) + blocks] (its taps cut into `blocks`
/// blocks of source channels at the boundaries between), starting from +0 and accumulated in increasing t with
/// one fused multiply-add each (fmaf(w, x, acc)): the same IEEE operations as LotteryCore's portable Swift loop
/// (`acc.addingProduct(w, x)`), so the bits agree. `taps` holds (source offset, weight index) pairs.
/// AVX2 + FMA: call only when lth_has_avx2_fma().
void lth_sparse_conv_avx2(float *out, size_t out_stride, size_t rows, size_t blocks, const int32_t *starts,
                          const int32_t *taps, const float *weights, const float *source, size_t length);

/// The weight-sparse convolution's weight gradients: for each row r < rows and each tap t of row r,
///   grads[taps[2t+1]] = Σ_{q < length} delta[r * delta_stride + q] · source[taps[2t] + q]
/// in 16 lanes (lane l takes q ≡ l mod 16, in increasing q, one fused multiply-add each, from +0), then the
/// lanes summed as a tree: s8[i] = l[i] + l[i+8], s4[i] = s8[i] + s8[i+4], s2[i] = s4[i] + s4[i+2], s2[0] + s2[1]. `length` is a multiple of 16. AVX2 + FMA; bit-identical to
/// the portable Swift loop.
void lth_sparse_conv_weight_grads_avx2(float *grads, size_t rows, const int32_t *starts, const int32_t *taps,
                                       const float *delta, size_t delta_stride, const float *source, size_t length);

/// Whether the CPU has AVX-512 F and FMA: the wider versions of the two kernels above.
/// The gradient of a 2×2 max-pool (stride 2) of `images` NHWC maps h × w × c: out's window positions get grad where
/// argmax (0…3, row-major in the window) names them, +0 elsewhere. Rows or columns an odd side dropped are not
/// written. Call only when lth_has_avx2().
void lth_unpool_avx2(const float *grad, const uint8_t *argmax, size_t images, size_t h, size_t w, size_t c,
                     float *out);

int lth_has_avx512f(void);

/// lth_sparse_conv_avx2 with 16-lane vectors: the same operations per output, so the same bits.
void lth_sparse_conv_avx512(float *out, size_t out_stride, size_t rows, size_t blocks, const int32_t *starts,
                            const int32_t *taps, const float *weights, const float *source, size_t length);

/// lth_sparse_conv_weight_grads_avx2 with one 16-lane register per tap: the same bits.
void lth_sparse_conv_weight_grads_avx512(float *grads, size_t rows, const int32_t *starts, const int32_t *taps,
                                         const float *delta, size_t delta_stride, const float *source,
                                         size_t length);

/// Copies `count` pixels of `channels` values (`pixels[p * channels + c]`) into channel planes
/// (`planes[c * plane_stride + p]`), 8×8 blocks at a time. AVX2; copies only, so the same bits as any loop.
void lth_transpose_to_planes_avx2(const float *pixels, size_t count, size_t channels, float *planes,
                                  size_t plane_stride);

/// The reverse: `pixels[p * channels + c] = rows[c * row_stride + p]`, and with `bias` non-NULL
/// `v + bias[c]` then `v > 0 ? v : 0` (max(v, 0) with the operands in that order, as lth_bias_activate_avx2).
void lth_transpose_from_rows_avx2(const float *rows, size_t row_stride, size_t count, size_t channels,
                                  const float *bias, float *pixels);

#endif
