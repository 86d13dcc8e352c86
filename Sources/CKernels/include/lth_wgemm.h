#ifndef LTH_WGEMM_H
#define LTH_WGEMM_H

#include <stddef.h>

// C (+)= A·B for the per-point products of Winograd F(4×4, 3×3) layers, without packing:
//     C[i·ci + j] = (accumulate ? C[i·ci + j] : 0) + acc,   acc = fma chain over p = 0..<k of a[i·ai + p·ak]·b[p·bk + j]
// starting from +0, for i < m, j < n. Every version computes each element with that same chain, so they agree bit
// for bit. lth_wgemm_avx512 needs lth_has_avx512f(), lth_wgemm_avx2 needs lth_has_avx2() (which includes FMA).
void lth_wgemm_avx512(size_t m, size_t n, size_t k, const float *a, size_t ai, size_t ak, const float *b, size_t bk,
                      float *c, size_t ci, int accumulate);
void lth_wgemm_avx2(size_t m, size_t n, size_t k, const float *a, size_t ai, size_t ak, const float *b, size_t bk,
                    float *c, size_t ci, int accumulate);

#endif
