// Element-wise kernels with wider vectors than Swift's baseline x86-64 code generation (SSE2), selected at run time
// (so the binary still runs on CPUs without AVX2), and bit-identical to the portable Swift loops: the same IEEE
// operations per lane, in the same order, never contracted into FMAs.
#include "lth_kernels.h"

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>

int lth_has_avx2(void) { return __builtin_cpu_supports("avx2"); }

int lth_has_avx512(void) {
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512cd");
}

__attribute__((target("avx2"))) void lth_adam_avx2(float *w, const float *g, float *m, float *v, const float *mask,
                                                    size_t count, float b1, float b2, float c1, float c2, float eps,
                                                    float step_size, float v_scale) {
    const __m256 vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2), vc1 = _mm256_set1_ps(c1),
                 vc2 = _mm256_set1_ps(c2), veps = _mm256_set1_ps(eps), vstep = _mm256_set1_ps(step_size),
                 vscale = _mm256_set1_ps(v_scale);
    size_t end = count & ~(size_t)7, i = 0;
    if (mask) {
        for (; i < end; i += 8) {
            __m256 keep = _mm256_loadu_ps(mask + i);
            __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), keep);
            __m256 mi = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(vc1, gi));
            __m256 vi =
                _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(vc2, _mm256_mul_ps(gi, gi)));
            _mm256_storeu_ps(m + i, mi);
            _mm256_storeu_ps(v + i, vi);
            __m256 denom = _mm256_add_ps(_mm256_sqrt_ps(_mm256_mul_ps(vi, vscale)), veps);
            __m256 delta = _mm256_mul_ps(keep, _mm256_div_ps(_mm256_mul_ps(vstep, mi), denom));
            _mm256_storeu_ps(w + i, _mm256_sub_ps(_mm256_loadu_ps(w + i), delta));
        }
        for (; i < count; i++) {
            float keep = mask[i];
            float gi = g[i] * keep;
            float mi = b1 * m[i] + c1 * gi;
            float vi = b2 * v[i] + c2 * (gi * gi);
            m[i] = mi;
            v[i] = vi;
            float root = _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(vi * v_scale)));
            w[i] -= keep * (step_size * mi / (root + eps));
        }
    } else {
        for (; i < end; i += 8) {
            __m256 gi = _mm256_loadu_ps(g + i);
            __m256 mi = _mm256_add_ps(_mm256_mul_ps(vb1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(vc1, gi));
            __m256 vi =
                _mm256_add_ps(_mm256_mul_ps(vb2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(vc2, _mm256_mul_ps(gi, gi)));
            _mm256_storeu_ps(m + i, mi);
            _mm256_storeu_ps(v + i, vi);
            __m256 denom = _mm256_add_ps(_mm256_sqrt_ps(_mm256_mul_ps(vi, vscale)), veps);
            __m256 delta = _mm256_div_ps(_mm256_mul_ps(vstep, mi), denom);
            _mm256_storeu_ps(w + i, _mm256_sub_ps(_mm256_loadu_ps(w + i), delta));
        }
        for (; i < count; i++) {
            float gi = g[i];
            float mi = b1 * m[i] + c1 * gi;
            float vi = b2 * v[i] + c2 * (gi * gi);
            m[i] = mi;
            v[i] = vi;
            float root = _mm_cvtss_f32(_mm_sqrt_ss(_mm_set_ss(vi * v_scale)));
            w[i] -= step_size * mi / (root + eps);
        }
    }
}

__attribute__((target("avx2"))) void lth_bias_activate_avx2(float *out, const float *bias, size_t rows, size_t n,
                                                             int relu) {
    const __m256 zero = _mm256_setzero_ps();
    size_t end = n & ~(size_t)7;
    for (size_t r = 0; r < rows; r++) {
        float *row = out + r * n;
        size_t j = 0;
        if (relu) {
            // _mm256_max_ps(v, 0) is `v > 0 ? v : 0` exactly: it returns the second operand unless v > 0.
            for (; j < end; j += 8) {
                __m256 v = _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(bias + j));
                _mm256_storeu_ps(row + j, _mm256_max_ps(v, zero));
            }
            for (; j < n; j++) {
                float v = row[j] + bias[j];
                row[j] = v > 0 ? v : 0;
            }
        } else {
            for (; j < end; j += 8) {
                _mm256_storeu_ps(row + j, _mm256_add_ps(_mm256_loadu_ps(row + j), _mm256_loadu_ps(bias + j)));
            }
            for (; j < n; j++) row[j] += bias[j];
        }
    }
}

__attribute__((target("avx2"))) void lth_relu_mask_avx2(float *delta, const float *act, size_t count) {
    const __m256 zero = _mm256_setzero_ps();
    size_t end = count & ~(size_t)7, i = 0;
    for (; i < end; i += 8) {
        __m256 keep = _mm256_cmp_ps(_mm256_loadu_ps(act + i), zero, _CMP_GT_OQ);
        _mm256_storeu_ps(delta + i, _mm256_and_ps(_mm256_loadu_ps(delta + i), keep));
    }
    for (; i < count; i++) delta[i] = act[i] > 0 ? delta[i] : 0;
}

__attribute__((target("avx2"))) void lth_sparse_forward_avx2(float *out, const float *bias, const float *values,
                                                              const int32_t *rows, const int32_t *cols,
                                                              const int32_t *starts, size_t live, const float *x,
                                                              size_t columns, int relu) {
    const __m256 zero = _mm256_setzero_ps();
    for (size_t c = 0; c < live; c++) {
        const int32_t j = cols[c];
        float *o = out + (size_t)j * columns;
        const int32_t start = starts[c], end = starts[c + 1];
        size_t col = 0;
        // 64 columns (a batch of 60) in eight accumulators: one walk of the kept weights per 64 images.
        for (; col + 64 <= columns; col += 64) {
            __m256 a[8];
            for (int k = 0; k < 8; k++) a[k] = _mm256_set1_ps(bias[j]);
            for (int32_t p = start; p < end; p++) {
                const __m256 w = _mm256_set1_ps(values[p]);
                const float *src = x + (size_t)rows[p] * columns + col;
                for (int k = 0; k < 8; k++) a[k] = _mm256_add_ps(a[k], _mm256_mul_ps(w, _mm256_loadu_ps(src + 8 * k)));
            }
            for (int k = 0; k < 8; k++) _mm256_storeu_ps(o + col + 8 * k, relu ? _mm256_max_ps(a[k], zero) : a[k]);
        }
        for (; col < columns; col += 8) {
            __m256 a0 = _mm256_set1_ps(bias[j]);
            for (int32_t p = start; p < end; p++) {
                a0 = _mm256_add_ps(
                    a0, _mm256_mul_ps(_mm256_set1_ps(values[p]), _mm256_loadu_ps(x + (size_t)rows[p] * columns + col)));
            }
            _mm256_storeu_ps(o + col, relu ? _mm256_max_ps(a0, zero) : a0);
        }
    }
}

__attribute__((target("avx2"))) void lth_sparse_weight_grads_avx2(float *g, const float *x, const float *delta,
                                                                   const int32_t *rows, const int32_t *cols,
                                                                   const int32_t *starts, size_t live,
                                                                   size_t columns) {
    for (size_t c = 0; c < live; c++) {
        const float *d = delta + (size_t)cols[c] * columns;
        for (int32_t p = starts[c]; p < starts[c + 1]; p++) {
            const float *a = x + (size_t)rows[p] * columns;
            __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
            size_t col = 0;
            for (; col + 16 <= columns; col += 16) {
                s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(a + col), _mm256_loadu_ps(d + col)));
                s1 = _mm256_add_ps(s1, _mm256_mul_ps(_mm256_loadu_ps(a + col + 8), _mm256_loadu_ps(d + col + 8)));
            }
            if (col < columns) s0 = _mm256_add_ps(s0, _mm256_mul_ps(_mm256_loadu_ps(a + col), _mm256_loadu_ps(d + col)));
            float lanes[8];
            _mm256_storeu_ps(lanes, _mm256_add_ps(s0, s1));
            // Swift's SIMD8.sum(): -0 + lane 0 + lane 1 + … + lane 7, left to right.
            float sum = -0.0f;
            for (int k = 0; k < 8; k++) sum += lanes[k];
            g[p] = sum;
        }
    }
}

__attribute__((target("avx2"))) void lth_sparse_scatter_avx2(float *below, const float *values, const int32_t *rows,
                                                              const int32_t *cols, const int32_t *starts, size_t live,
                                                              const float *delta, size_t columns) {
    for (size_t c = 0; c < live; c++) {
        const float *d = delta + (size_t)cols[c] * columns;
        const int32_t start = starts[c], end = starts[c + 1];
        size_t col = 0;
        for (; col + 32 <= columns; col += 32) {
            const __m256 d0 = _mm256_loadu_ps(d + col), d1 = _mm256_loadu_ps(d + col + 8),
                         d2 = _mm256_loadu_ps(d + col + 16), d3 = _mm256_loadu_ps(d + col + 24);
            for (int32_t p = start; p < end; p++) {
                const __m256 w = _mm256_set1_ps(values[p]);
                float *dst = below + (size_t)rows[p] * columns + col;
                _mm256_storeu_ps(dst, _mm256_add_ps(_mm256_loadu_ps(dst), _mm256_mul_ps(w, d0)));
                _mm256_storeu_ps(dst + 8, _mm256_add_ps(_mm256_loadu_ps(dst + 8), _mm256_mul_ps(w, d1)));
                _mm256_storeu_ps(dst + 16, _mm256_add_ps(_mm256_loadu_ps(dst + 16), _mm256_mul_ps(w, d2)));
                _mm256_storeu_ps(dst + 24, _mm256_add_ps(_mm256_loadu_ps(dst + 24), _mm256_mul_ps(w, d3)));
            }
        }
        for (; col < columns; col += 8) {
            const __m256 d0 = _mm256_loadu_ps(d + col);
            for (int32_t p = start; p < end; p++) {
                float *dst = below + (size_t)rows[p] * columns + col;
                _mm256_storeu_ps(dst, _mm256_add_ps(_mm256_loadu_ps(dst), _mm256_mul_ps(_mm256_set1_ps(values[p]), d0)));
            }
        }
    }
}

// Twelve 8-wide accumulators (96 columns) stay in registers while the list is walked.
#define LTH_ACC(k) a[k] = _mm256_add_ps(a[k], _mm256_mul_ps(x, _mm256_loadu_ps(src + 8 * (k))))
__attribute__((target("avx2"))) void lth_list_product_avx2(float *out, size_t n, const ptrdiff_t *starts,
                                                            const int32_t *index, const float *values, size_t count,
                                                            const float *m) {
    for (size_t r = 0; r < count; r++) {
        const ptrdiff_t begin = starts[r], end = starts[r + 1];
        float *o = out + r * n;
        size_t j = 0;
        for (; j + 96 <= n; j += 96) {
            __m256 a[12];
            for (int k = 0; k < 12; k++) a[k] = _mm256_setzero_ps();
            for (ptrdiff_t q = begin; q < end; q++) {
                const __m256 x = _mm256_set1_ps(values[q]);
                const float *src = m + (size_t)index[q] * n + j;
                LTH_ACC(0); LTH_ACC(1); LTH_ACC(2); LTH_ACC(3); LTH_ACC(4); LTH_ACC(5);
                LTH_ACC(6); LTH_ACC(7); LTH_ACC(8); LTH_ACC(9); LTH_ACC(10); LTH_ACC(11);
            }
            for (int k = 0; k < 12; k++) _mm256_storeu_ps(o + j + 8 * k, a[k]);
        }
        for (; j + 8 <= n; j += 8) {
            __m256 a[1] = {_mm256_setzero_ps()};
            for (ptrdiff_t q = begin; q < end; q++) {
                const __m256 x = _mm256_set1_ps(values[q]);
                const float *src = m + (size_t)index[q] * n + j;
                LTH_ACC(0);
            }
            _mm256_storeu_ps(o + j, a[0]);
        }
        for (; j < n; j++) {
            float acc = 0;
            for (ptrdiff_t q = begin; q < end; q++) acc += values[q] * m[(size_t)index[q] * n + j];
            o[j] = acc;
        }
    }
}
#undef LTH_ACC

// For each 8-bit mask, the positions of its set bits, in increasing order, then zeros: a permutation that moves the
// selected lanes to the front. Filled once before main() runs.
static int32_t lth_compress_table[256][8];

__attribute__((constructor)) static void lth_fill_compress_table(void) {
    for (int mask = 0; mask < 256; mask++) {
        int n = 0;
        for (int bit = 0; bit < 8; bit++)
            if (mask & (1 << bit)) lth_compress_table[mask][n++] = bit;
        while (n < 8) lth_compress_table[mask][n++] = 0;
    }
}

__attribute__((target("avx2,popcnt"))) void lth_compress_rows_avx2(const float *images, const ptrdiff_t *order,
                                                                    size_t rows, size_t features, ptrdiff_t *starts,
                                                                    int32_t *columns, float *values) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256i step = _mm256_set1_epi32(8);
    ptrdiff_t n = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *row = images + (size_t)(order ? order[r] : (ptrdiff_t)r) * features;
        __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        size_t f = 0;
        for (; f + 8 <= features; f += 8) {
            const __m256 v = _mm256_loadu_ps(row + f);
            const int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ));
            if (mask) {
                const __m256i perm = _mm256_loadu_si256((const __m256i *)lth_compress_table[mask]);
                _mm256_storeu_ps(values + n, _mm256_permutevar8x32_ps(v, perm));
                _mm256_storeu_si256((__m256i *)(columns + n), _mm256_permutevar8x32_epi32(index, perm));
                n += __builtin_popcount((unsigned)mask);
            }
            index = _mm256_add_epi32(index, step);
        }
        for (; f < features; f++) {
            if (row[f] != 0) {
                columns[n] = (int32_t)f;
                values[n] = row[f];
                n++;
            }
        }
        starts[r + 1] = n;
    }
}

#else

int lth_has_avx2(void) { return 0; }

int lth_has_avx512(void) { return 0; }

void lth_sparse_forward_avx2(float *out, const float *bias, const float *values, const int32_t *rows,
                             const int32_t *cols, const int32_t *starts, size_t live, const float *x, size_t columns,
                             int relu) {
    (void)out; (void)bias; (void)values; (void)rows; (void)cols; (void)starts; (void)live; (void)x; (void)columns;
    (void)relu;
}

void lth_sparse_weight_grads_avx2(float *g, const float *x, const float *delta, const int32_t *rows,
                                  const int32_t *cols, const int32_t *starts, size_t live, size_t columns) {
    (void)g; (void)x; (void)delta; (void)rows; (void)cols; (void)starts; (void)live; (void)columns;
}

void lth_sparse_scatter_avx2(float *below, const float *values, const int32_t *rows, const int32_t *cols,
                             const int32_t *starts, size_t live, const float *delta, size_t columns) {
    (void)below; (void)values; (void)rows; (void)cols; (void)starts; (void)live; (void)delta; (void)columns;
}

void lth_bias_activate_avx2(float *out, const float *bias, size_t rows, size_t n, int relu) {
    (void)out; (void)bias; (void)rows; (void)n; (void)relu;
}

void lth_relu_mask_avx2(float *delta, const float *act, size_t count) {
    (void)delta; (void)act; (void)count;
}

void lth_compress_rows_avx2(const float *images, const ptrdiff_t *order, size_t rows, size_t features,
                            ptrdiff_t *starts, int32_t *columns, float *values) {
    (void)images; (void)order; (void)rows; (void)features; (void)starts; (void)columns; (void)values;
}

void lth_list_product_avx2(float *out, size_t n, const ptrdiff_t *starts, const int32_t *index, const float *values,
                           size_t count, const float *m) {
    (void)out; (void)n; (void)starts; (void)index; (void)values; (void)count; (void)m;
}

void lth_adam_avx2(float *w, const float *g, float *m, float *v, const float *mask, size_t count, float b1, float b2,
                   float c1, float c2, float eps, float step_size, float v_scale) {
    (void)w; (void)g; (void)m; (void)v; (void)mask; (void)count; (void)b1; (void)b2; (void)c1; (void)c2;
    (void)eps; (void)step_size; (void)v_scale;
}

#endif
