/* Fused max-norm kernels of the KSG search (infossl.estimators._native compiles and loads this file).
 *
 * Data: a transposed screen zt (d, npad), feature-major, columns n .. npad-1 zero padding that is never
 * reported. A row's distance to column j is D = max_f |zt[f, i] - zt[f, j]|, computed in the screen's
 * own type (int16 or float32) exactly as the torch kernels compute it: a correctly rounded (or, for
 * int16, exact) difference, its absolute value and a running maximum. The work is done in registers,
 * R query rows at a time against BJ columns, in column tiles that stay in cache: no (rows, columns)
 * block is written to memory.
 *
 * ksg_knn_sym_*   : each row's q smallest D over the other columns in (value, index) order (the order of
 *                   a stable sort), each unordered pair computed once (see the function's comment).
 * ksg_count_sym_*  : for each row i with thresholds lo_i <= hi_i, the number of columns with D < lo_i (the
 *                   row itself included) and the list of pairs with lo_i <= D <= hi_i (the band the caller
 *                   settles from the data), each unordered pair computed once.
 * ksg_count_*      : the count of one strip of rows against every column without the symmetry, kept as
 *                   the distance-rate probe of benchmarks/limits.py.
 * Return codes: 0 done, 1 the band exceeded its capacity (ksg_count_*), 2 out of memory, 3 arguments out
 * of range (q < 1 or q >= n, d < 1, rows outside [0, n), a strip not made of whole register blocks).
 *
 * Built with -O3 and the host's vector extensions, never with -ffast-math: the compare-and-select
 * maximum and the absolute value are exact, so every D equals the torch kernels' value bit for bit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define R 4            /* query rows per register block */
#define TILE_BYTES (96 * 1024)  /* a column tile of the screen stays in a core's L2 */

/* One register of the host's widest vector unit per vector (GCC/clang vector extensions): a vector wider
 * than the registers is split by the compiler and spills, which made an AVX2 build 20x slower. */
#if defined(__AVX512F__) && defined(__AVX512BW__)
#define VBYTES 64
#elif defined(__AVX2__)
#define VBYTES 32
#else
#define VBYTES 16
#endif
typedef int16_t vi16 __attribute__((vector_size(VBYTES), aligned(2)));
typedef float vf32 __attribute__((vector_size(VBYTES), aligned(4)));
typedef int32_t vi32 __attribute__((vector_size(VBYTES), aligned(4)));

static inline vi16 vabs_i16(vi16 v) { vi16 m = v >> 15; return (v ^ m) - m; }
static inline vi16 vmax_i16(vi16 a, vi16 b) { vi16 gt = a > b; return (a & gt) | (b & ~gt); }
static inline vf32 vabs_f32(vf32 v) { return (vf32)((vi32)v & 0x7fffffff); }
static inline vf32 vmax_f32(vf32 a, vf32 b) {
    vi32 gt = a > b;
    return (vf32)(((vi32)a & gt) | ((vi32)b & ~gt));
}

#define U 2  /* vectors per row and block: BJ = U * lanes columns */

/* A growable list of (row, column) pairs, allocated here and released by the caller with maxnorm_free. */
typedef struct { int64_t *p; int64_t n, cap; } band_t;

static int band_push(band_t *b, int64_t row, int64_t col) {
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 1024;
        int64_t *p = (int64_t *)realloc(b->p, sizeof(int64_t) * 2 * (size_t)cap);
        if (!p) return 1;
        b->p = p;
        b->cap = cap;
    }
    b->p[2 * b->n] = row;
    b->p[2 * b->n + 1] = col;
    b->n++;
    return 0;
}

void maxnorm_free(void *p) { free(p); }

#define DEFINE_KERNELS(T, SUF, VT, BJ)                                                                    \
static inline void block_##SUF(const T *restrict zt, int64_t npad, int d, const T *restrict a,          \
                               int rr, int64_t j0, T acc[R][BJ]) {                                      \
    VT z = {0}, s00 = z, s01 = z, s10 = z, s11 = z, s20 = z, s21 = z, s30 = z, s31 = z;                  \
    for (int f = 0; f < d; f++) {                                                                        \
        const T *col = zt + (int64_t)f * npad + j0;                                                      \
        VT v0 = *(const VT *)col, v1 = *(const VT *)(col + BJ / U);                                      \
        VT a0 = z + a[0 * d + f], a1 = z + a[(1 < rr ? 1 : 0) * d + f];                                  \
        VT a2 = z + a[(2 < rr ? 2 : 0) * d + f], a3 = z + a[(3 < rr ? 3 : 0) * d + f];                   \
        s00 = vmax_##SUF(s00, vabs_##SUF(v0 - a0)); s01 = vmax_##SUF(s01, vabs_##SUF(v1 - a0));         \
        s10 = vmax_##SUF(s10, vabs_##SUF(v0 - a1)); s11 = vmax_##SUF(s11, vabs_##SUF(v1 - a1));         \
        s20 = vmax_##SUF(s20, vabs_##SUF(v0 - a2)); s21 = vmax_##SUF(s21, vabs_##SUF(v1 - a2));         \
        s30 = vmax_##SUF(s30, vabs_##SUF(v0 - a3)); s31 = vmax_##SUF(s31, vabs_##SUF(v1 - a3));         \
    }                                                                                                    \
    memcpy(acc[0], &s00, VBYTES); memcpy(acc[0] + BJ / U, &s01, VBYTES);                                 \
    memcpy(acc[1], &s10, VBYTES); memcpy(acc[1] + BJ / U, &s11, VBYTES);                                 \
    memcpy(acc[2], &s20, VBYTES); memcpy(acc[2] + BJ / U, &s21, VBYTES);                                 \
    memcpy(acc[3], &s30, VBYTES); memcpy(acc[3] + BJ / U, &s31, VBYTES);                                 \
}                                                                                                        \
                                                                                                         \
/* (v, j) before (w, k) in the (value, index) order */                                                  \
static inline int before_##SUF(T v, int64_t j, T w, int64_t k) { return v < w || (v == w && j < k); }  \
                                                                                                         \
/* insert (v, j) into the list (vals, idx) of length q kept in (value, index) order, when it ranks       \
 * before the last entry; candidates may arrive in any order */                                         \
static inline void insert_lex_##SUF(T *vals, int64_t *idx, int q, T v, int64_t j) {                    \
    int p = q - 1;                                                                                       \
    if (!before_##SUF(v, j, vals[p], idx[p])) return;                                                    \
    while (p > 0 && before_##SUF(v, j, vals[p - 1], idx[p - 1])) {                                       \
        vals[p] = vals[p - 1]; idx[p] = idx[p - 1]; p--;                                                 \
    }                                                                                                    \
    vals[p] = v; idx[p] = j;                                                                             \
}                                                                                                        \
                                                                                                         \
static void gather_##SUF(const T *zt, int64_t npad, int d, int64_t i0, int rr, T *a) {                 \
    for (int r = 0; r < rr; r++)                                                                         \
        for (int f = 0; f < d; f++) a[r * d + f] = zt[(int64_t)f * npad + i0 + r];                      \
}                                                                                                        \
                                                                                                         \
int ksg_count_##SUF(const T *zt, int64_t n, int64_t npad, int d, int64_t r0, int64_t r1,              \
                    const T *lo, const T *hi, int64_t *sure, int64_t *band_row, int64_t *band_col,     \
                    int64_t cap, int64_t *nband) {                                                      \
    int64_t c = r1 - r0, nb = 0;                                                                         \
    if (d < 1 || r0 < 0 || r1 > n || r0 > r1) return 3;                                                 \
    T *a = (T *)malloc(sizeof(T) * (size_t)R * (size_t)(d > 0 ? d : 1));                                \
    if (!a) return 2;                                                                                    \
    for (int64_t i = 0; i < c; i++) sure[i] = 0;                                                         \
    int64_t tile = (TILE_BYTES / ((int64_t)sizeof(T) * (d > 0 ? d : 1))) / BJ * BJ;                     \
    if (tile < BJ) tile = BJ;                                                                            \
    T acc[R][BJ];                                                                                        \
    int32_t cnt[R][BJ];                                                                                  \
    for (int64_t t0 = 0; t0 < n; t0 += tile) {                                                           \
        int64_t t1 = t0 + tile < n ? t0 + tile : n;                                                      \
        for (int64_t g = 0; g < c; g += R) {                                                             \
            int rr = (int)(c - g < R ? c - g : R);                                                       \
            gather_##SUF(zt, npad, d, r0 + g, rr, a);                                                    \
            T l0 = lo[g], l1 = lo[g + (1 < rr ? 1 : 0)], l2 = lo[g + (2 < rr ? 2 : 0)];                  \
            T l3 = lo[g + (3 < rr ? 3 : 0)];                                                             \
            memset(cnt, 0, sizeof(cnt));                                                                 \
            for (int64_t j0 = t0; j0 < t1; j0 += BJ) {                                                   \
                block_##SUF(zt, npad, d, a, rr, j0, acc);                                                \
                int w = (int)(t1 - j0 < BJ ? t1 - j0 : BJ);                                              \
                if (w == BJ) {                                                                           \
                    for (int l = 0; l < BJ; l++) {                                                       \
                        cnt[0][l] += acc[0][l] < l0; cnt[1][l] += acc[1][l] < l1;                        \
                        cnt[2][l] += acc[2][l] < l2; cnt[3][l] += acc[3][l] < l3;                        \
                    }                                                                                    \
                } else {                                                                                 \
                    for (int r = 0; r < R; r++)                                                          \
                        for (int l = 0; l < w; l++) cnt[r][l] += acc[r][l] < lo[g + (r < rr ? r : 0)];   \
                }                                                                                        \
                for (int r = 0; r < rr; r++) {                                                           \
                    T lr = lo[g + r], hr = hi[g + r];                                                    \
                    int any = 0;                                                                         \
                    for (int l = 0; l < BJ; l++) any |= (acc[r][l] >= lr) & (acc[r][l] <= hr);           \
                    if (!any) continue;                                                                  \
                    for (int l = 0; l < w; l++) {                                                        \
                        if (acc[r][l] >= lr && acc[r][l] <= hr) {                                        \
                            if (nb >= cap) { free(a); *nband = nb; return 1; }                           \
                            band_row[nb] = g + r; band_col[nb] = j0 + l; nb++;                           \
                        }                                                                                \
                    }                                                                                    \
                }                                                                                        \
            }                                                                                            \
            for (int r = 0; r < rr; r++) {                                                               \
                int64_t s = 0;                                                                           \
                for (int l = 0; l < BJ; l++) s += cnt[r][l];                                             \
                sure[g + r] += s;                                                                        \
            }                                                                                            \
        }                                                                                                \
    }                                                                                                    \
    free(a);                                                                                             \
    *nband = nb;                                                                                         \
    return 0;                                                                                            \
}                                                                                                        \
                                                                                                         \
/* Symmetric neighbour pass over the strip of rows [r0, r1) and columns [r0, n): the square [r0, r1)   \
 * updates its rows only (each ordered pair is in it once), the columns from r1 on update both the row  \
 * and the column, so every ordered pair (i, j), i != j, reaches i's list exactly once over all strips. \
 * vals/idx (n, q) and lim (npad,) = vals[:, q-1] are the calling thread's lists, kept in (value, index) \
 * order from vals = far, idx = INT64_MAX; the caller merges the threads' lists. r0 and r1 are multiples \
 * of BJ (or r1 = n). */                                                                                 \
int ksg_knn_sym_##SUF(const T *zt, int64_t n, int64_t npad, int d, int64_t r0, int64_t r1, int q,    \
                      T *vals, int64_t *idx, T *lim) {                                                  \
    int64_t c = r1 - r0;                                                                                 \
    if (q < 1 || q >= n || d < 1 || r0 < 0 || r1 > n || r0 > r1) return 3;                             \
    if (r0 % BJ || (r1 != n && r1 % BJ)) return 3;  /* strips of whole register blocks */                \
    T *a = (T *)malloc(sizeof(T) * (size_t)R * (size_t)(d > 0 ? d : 1));                                \
    if (!a) return 2;                                                                                    \
    int64_t tile = (TILE_BYTES / ((int64_t)sizeof(T) * (d > 0 ? d : 1))) / BJ * BJ;                     \
    if (tile < BJ) tile = BJ;                                                                            \
    T acc[R][BJ], mc[BJ];                                                                                \
    for (int64_t t0 = r0; t0 < n; t0 += tile) {                                                          \
        int64_t t1 = t0 + tile < n ? t0 + tile : n;                                                      \
        for (int64_t g = 0; g < c; g += R) {                                                             \
            int rr = (int)(c - g < R ? c - g : R);                                                       \
            gather_##SUF(zt, npad, d, r0 + g, rr, a);                                                    \
            for (int64_t j0 = t0; j0 < t1; j0 += BJ) {                                                   \
                block_##SUF(zt, npad, d, a, rr, j0, acc);                                                \
                int w = (int)(t1 - j0 < BJ ? t1 - j0 : BJ);                                              \
                for (int r = 0; r < rr; r++) {                                                           \
                    int64_t i = r0 + g + r;                                                              \
                    T m = acc[r][0];                                                                     \
                    for (int l = 1; l < BJ; l++) m = m < acc[r][l] ? m : acc[r][l];                      \
                    if (m > lim[i] && w == BJ) continue;                                                 \
                    for (int l = 0; l < w; l++)                                                          \
                        if (j0 + l != i) insert_lex_##SUF(vals + i * q, idx + i * q, q, acc[r][l], j0 + l); \
                    lim[i] = vals[i * q + q - 1];                                                        \
                }                                                                                        \
                if (j0 < r1) continue;  /* inside the square: rows only */                               \
                int any = 0;                                                                             \
                for (int l = 0; l < BJ; l++) {                                                           \
                    T v = acc[0][l];                                                                     \
                    for (int r = 1; r < rr; r++) v = v < acc[r][l] ? v : acc[r][l];                      \
                    mc[l] = v;                                                                           \
                    any |= v <= lim[j0 + l];                                                             \
                }                                                                                        \
                if (!any) continue;                                                                      \
                for (int l = 0; l < w; l++) {                                                            \
                    int64_t j = j0 + l;                                                                  \
                    if (mc[l] > lim[j]) continue;                                                        \
                    for (int r = 0; r < rr; r++)                                                         \
                        insert_lex_##SUF(vals + j * q, idx + j * q, q, acc[r][l], r0 + g + r);           \
                    lim[j] = vals[j * q + q - 1];                                                        \
                }                                                                                        \
            }                                                                                            \
        }                                                                                                \
    }                                                                                                    \
    free(a);                                                                                             \
    return 0;                                                                                            \
}                                                                                                        \
                                                                                                         \
/* Symmetric count pass over the same strip: for each ordered pair (i, j) once, sure[i] += D < lo[i]   \
 * and (i, j) joins the band when lo[i] <= D <= hi[i]. sure (n,) is the calling thread's accumulator;   \
 * lo and hi hold npad entries. The band is allocated here (*band_out, 2 * *nband int64: row, column);  \
 * the caller releases it with maxnorm_free. Returns 2 when memory runs out (nothing to release). */    \
int ksg_count_sym_##SUF(const T *zt, int64_t n, int64_t npad, int d, int64_t r0, int64_t r1,          \
                        const T *lo, const T *hi, int64_t *sure, void **band_out, int64_t *nband) {    \
    int64_t c = r1 - r0;                                                                                 \
    band_t b = {0, 0, 0};                                                                                \
    *band_out = 0; *nband = 0;                                                                           \
    if (d < 1 || r0 < 0 || r1 > n || r0 > r1) return 3;                                                 \
    if (r0 % BJ || (r1 != n && r1 % BJ)) return 3;  /* strips of whole register blocks */                \
    T *a = (T *)malloc(sizeof(T) * (size_t)R * (size_t)(d > 0 ? d : 1));                                \
    if (!a) return 2;                                                                                    \
    int64_t tile = (TILE_BYTES / ((int64_t)sizeof(T) * (d > 0 ? d : 1))) / BJ * BJ;                     \
    if (tile < BJ) tile = BJ;                                                                            \
    T acc[R][BJ];                                                                                        \
    int32_t cnt[R][BJ], ccol[BJ];                                                                        \
    for (int64_t t0 = r0; t0 < n; t0 += tile) {                                                          \
        int64_t t1 = t0 + tile < n ? t0 + tile : n;                                                      \
        for (int64_t g = 0; g < c; g += R) {                                                             \
            int rr = (int)(c - g < R ? c - g : R);                                                       \
            int64_t i0 = r0 + g;                                                                         \
            gather_##SUF(zt, npad, d, i0, rr, a);                                                        \
            T l0 = lo[i0], l1 = lo[i0 + (1 < rr ? 1 : 0)], l2 = lo[i0 + (2 < rr ? 2 : 0)];               \
            T l3 = lo[i0 + (3 < rr ? 3 : 0)];                                                            \
            memset(cnt, 0, sizeof(cnt));                                                                 \
            for (int64_t j0 = t0; j0 < t1; j0 += BJ) {                                                   \
                block_##SUF(zt, npad, d, a, rr, j0, acc);                                                \
                int w = (int)(t1 - j0 < BJ ? t1 - j0 : BJ);                                              \
                if (w == BJ) {                                                                           \
                    for (int l = 0; l < BJ; l++) {                                                       \
                        cnt[0][l] += acc[0][l] < l0; cnt[1][l] += acc[1][l] < l1;                        \
                        cnt[2][l] += acc[2][l] < l2; cnt[3][l] += acc[3][l] < l3;                        \
                    }                                                                                    \
                } else {                                                                                 \
                    for (int r = 0; r < rr; r++)                                                         \
                        for (int l = 0; l < w; l++) cnt[r][l] += acc[r][l] < lo[i0 + r];                 \
                }                                                                                        \
                for (int r = 0; r < rr; r++) {                                                           \
                    T lr = lo[i0 + r], hr = hi[i0 + r];                                                  \
                    int any = 0;                                                                         \
                    for (int l = 0; l < BJ; l++) any |= (acc[r][l] >= lr) & (acc[r][l] <= hr);           \
                    if (!any) continue;                                                                  \
                    for (int l = 0; l < w; l++)                                                          \
                        if (acc[r][l] >= lr && acc[r][l] <= hr && band_push(&b, i0 + r, j0 + l))         \
                            goto oom;                                                                    \
                }                                                                                        \
                if (j0 < r1) continue;  /* inside the square: rows only */                               \
                const T *lc = lo + j0, *hc = hi + j0;                                                    \
                int any = 0;                                                                             \
                if (rr == R) {                                                                           \
                    for (int l = 0; l < BJ; l++)                                                         \
                        ccol[l] = (acc[0][l] < lc[l]) + (acc[1][l] < lc[l]) + (acc[2][l] < lc[l])         \
                                  + (acc[3][l] < lc[l]);                                                 \
                } else {                                                                                 \
                    for (int l = 0; l < BJ; l++) {                                                       \
                        ccol[l] = 0;                                                                     \
                        for (int r = 0; r < rr; r++) ccol[l] += acc[r][l] < lc[l];                       \
                    }                                                                                    \
                }                                                                                        \
                for (int l = 0; l < w; l++) sure[j0 + l] += ccol[l];                                     \
                for (int r = 0; r < rr; r++)                                                             \
                    for (int l = 0; l < BJ; l++) any |= (acc[r][l] >= lc[l]) & (acc[r][l] <= hc[l]);     \
                if (!any) continue;                                                                      \
                for (int l = 0; l < w; l++)                                                              \
                    for (int r = 0; r < rr; r++)                                                         \
                        if (acc[r][l] >= lc[l] && acc[r][l] <= hc[l] && band_push(&b, j0 + l, i0 + r))   \
                            goto oom;                                                                    \
            }                                                                                            \
            for (int r = 0; r < rr; r++) {                                                               \
                int64_t s = 0;                                                                           \
                for (int l = 0; l < BJ; l++) s += cnt[r][l];                                             \
                sure[i0 + r] += s;                                                                       \
            }                                                                                            \
        }                                                                                                \
    }                                                                                                    \
    free(a);                                                                                             \
    *band_out = b.p; *nband = b.n;                                                                       \
    return 0;                                                                                            \
oom:                                                                                                     \
    free(a); free(b.p);                                                                                  \
    return 2;                                                                                            \
}

DEFINE_KERNELS(int16_t, i16, vi16, (U * VBYTES / 2))
DEFINE_KERNELS(float, f32, vf32, (U * VBYTES / 4))

/* The kernels' version: the loader refuses a library built from another text of this file. */
int maxnorm_version(void) { return 2; }
/* Columns per register block (BJ) of each type: the caller pads the screen's columns to a multiple. */
int maxnorm_columns_i16(void) { return U * VBYTES / 2; }
int maxnorm_columns_f32(void) { return U * VBYTES / 4; }
