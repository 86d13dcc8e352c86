// Private to lth_winograd.c and lth_winograd4.c: what F(2×2, 3×3) and F(4×4, 3×3) share.
#ifndef LTH_WINOGRAD_WALK_H
#define LTH_WINOGRAD_WALK_H

#include <stddef.h>

#if defined(__x86_64__)
#define LTH_AVX2 __attribute__((target("avx2")))
#else
#define LTH_AVX2
#endif

typedef void (*lth_interior_tile)(const float *row, size_t stride, size_t c, float *o);
typedef void (*lth_edge_tile)(const float *const *pixels, size_t c, float *o);

// The input transform's walk over `images` NHWC maps h × w × c cut into tiles of m × m outputs, row-major per image,
// each read as an (m + 2) × (m + 2) patch starting one pixel up and left: `interior(first row, row stride, c, o)`
// when the patch lies on the map, else `edge(pixels, c, o)` with its pixel addresses row-major (`zeros`, holding c
// zeros, off the map). o = v + t · (m + 2)² · c for tile t. Inlined with constant functions, so each caller gets its
// own loop.
LTH_AVX2 static inline __attribute__((always_inline)) void lth_input_walk(const float *in, size_t images, size_t h,
                                                                         size_t w, size_t c, const float *zeros,
                                                                         float *v, size_t m,
                                                                         lth_interior_tile interior,
                                                                         lth_edge_tile edge) {
    const size_t th = (h + m - 1) / m, tw = (w + m - 1) / m, side = m + 2;
    for (size_t i = 0; i < images; i++) {
        const float *image = in + i * h * w * c;
        for (size_t ty = 0; ty < th; ty++) {
            for (size_t tx = 0; tx < tw; tx++) {
                float *o = v + ((i * th + ty) * tw + tx) * side * side * c;
                if (ty > 0 && tx > 0 && m * ty + m < h && m * tx + m < w) {
                    interior(image + ((m * ty - 1) * w + m * tx - 1) * c, w * c, c, o);
                    continue;
                }
                const float *p[36];
                for (size_t a = 0; a < side; a++) {
                    for (size_t b = 0; b < side; b++) {
                        const long y = (long)(m * ty + a) - 1, x = (long)(m * tx + b) - 1;
                        p[a * side + b] = (y < 0 || y >= (long)h || x < 0 || x >= (long)w)
                                              ? zeros
                                              : image + ((size_t)y * w + (size_t)x) * c;
                    }
                }
                edge(p, c, o);
            }
        }
    }
}

#endif
