/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — our own depthwise convolution for the fast path (see sn-dwconv.h). */
#include "engine/sn-dwconv.h"
#include "engine/sn-act.h"

#include "engine/sn-gemm.h"

#include <string.h>

#include "splitnn/sn-tensor.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86 1
#include <immintrin.h>
#endif

/* Channels per block (one ymm register) and blocks per pool item: an item
 * is one output row of up to 256 channels, whose weights (at most 26 KB)
 * stay in L1.  Splitting a row's pixels into more items made the 3x3
 * layers slower (each item reads the same input lines again). */
#define CB 8
#define BLOCKS_PER_ITEM 32
/* Output pixels computed together: each weight vector loaded serves TILE FMAs. */
#define TILE 4
/* Input rows of at least this many floats are prefetched (prefetch_next). */
#define PREFETCH_MIN_FLOATS (8 * 1024)

struct SnDwconv {
  int64_t C, blocks, groups, H, W, OH, OW;
  int K, S, pt, pl;
  float lo, hi;
  float hswish;             /* sn_dwconv_set_hardswish (); 0: none */
  gboolean pair_rows;       /* 3x3 stride 1 on wide maps: two output rows an item */
  float *packed;            /* blocks x (1 + K * K) x 8 */
};

gboolean
sn_dwconv_enabled (void)
{
  const char *k = g_getenv ("SPLITNN_KERNELS");
  return sn_gemm_available () && !(k && strcmp (k, "gemm") == 0);
}

gboolean
sn_dwconv_supports (int kernel, int stride, int pad_top, int pad_left)
{
  return (kernel == 3 || kernel == 5) && (stride == 1 || stride == 2) && pad_top >= 0
      && pad_left >= 0 && pad_top < kernel && pad_left < kernel;
}

SnDwconv *
sn_dwconv_new (const float *w, const float *bias, int64_t C, int kernel, int stride, int pad_top,
    int pad_left, int64_t H, int64_t W, int64_t OH, int64_t OW, float lo, float hi)
{
  g_return_val_if_fail (sn_dwconv_supports (kernel, stride, pad_top, pad_left), NULL);
  SnDwconv *d = g_new0 (SnDwconv, 1);
  int KK = kernel * kernel;
  d->C = C;
  d->blocks = (C + CB - 1) / CB;
  d->groups = (d->blocks + BLOCKS_PER_ITEM - 1) / BLOCKS_PER_ITEM;
  d->H = H;
  d->W = W;
  d->OH = OH;
  d->OW = OW;
  d->K = kernel;
  d->S = stride;
  d->pt = pad_top;
  d->pl = pad_left;
  d->lo = lo;
  d->hi = hi;
  d->pair_rows = kernel == 3 && stride == 1;
  size_t n = (size_t) d->blocks * (1 + KK) * CB;
  d->packed = sn_aligned_alloc (n * sizeof (float));
  memset (d->packed, 0, n * sizeof (float));
  for (int64_t b = 0; b < d->blocks; b++) {
    float *dst = d->packed + (size_t) b * (1 + KK) * CB;
    for (int64_t j = 0; j < CB && b * CB + j < C; j++) {
      int64_t c = b * CB + j;
      dst[j] = bias ? bias[c] : 0.0f;
      for (int k = 0; k < KK; k++)
        dst[(1 + k) * CB + j] = w[k * C + c];
    }
  }
  return d;
}

void
sn_dwconv_set_hardswish (SnDwconv *d, float k)
{
  d->hswish = k;
}

void
sn_dwconv_free (SnDwconv *d)
{
  if (!d)
    return;
  sn_aligned_free (d->packed);
  g_free (d);
}

#ifdef HAVE_X86
#define LDX(p) (masked ? _mm256_maskload_ps ((p), mask) : _mm256_loadu_ps (p))

/* Where one output row's windows lie in the image. */
typedef struct {
  int64_t iy0;              /* input row of kernel row 0 */
  int ky0, ky1;             /* kernel rows inside the image */
} RowSpan;

/* Output pixels [ox, ox + TILE) of one row, channels [8 b, 8 b + 8), all of
 * whose windows lie inside the image columns.  K, S and masked are
 * constants at every call, so that each (kernel, stride) gets its own
 * unrolled loop; masked is for a last block of fewer than 8 channels. */
__attribute__((always_inline, target ("avx2,fma")))
static inline void
tile (const SnDwconv *d, const float *x, float *yrow, RowSpan r, int64_t ox, int64_t b,
    const int K, const int S, const gboolean masked)
{
  const int64_t C = d->C, W = d->W, c0 = b * CB;
  const __m256i mask = _mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int) MIN (CB, C - c0)),
      _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7));
  const float *wb = d->packed + (size_t) b * (1 + K * K) * CB;
  const __m256 bias = _mm256_load_ps (wb), vlo = _mm256_set1_ps (d->lo),
      vhi = _mm256_set1_ps (d->hi);
  wb += CB;
  /* Each input column of the tile's window is loaded once and used by
   * every output pixel whose window holds it: (TILE - 1) S + K loads and
   * K weight loads for TILE K FMAs per kernel row. */
  __m256 acc[TILE];
  for (int t = 0; t < TILE; t++)
    acc[t] = bias;
  for (int ky = r.ky0; ky < r.ky1; ky++) {
    const float *xr = x + ((r.iy0 + ky) * W + ox * S - d->pl) * C + c0;
    const float *wr = wb + ky * K * CB;
    __m256 wv[5];
#pragma GCC unroll 5
    for (int kx = 0; kx < K; kx++)
      wv[kx] = _mm256_load_ps (wr + kx * CB);
#pragma GCC unroll 16
    for (int j = 0; j < (TILE - 1) * S + K; j++) {
      const __m256 xv = LDX (xr + j * C);
#pragma GCC unroll 4
      for (int t = 0; t < TILE; t++) {
        const int kx = j - t * S;
        if (kx >= 0 && kx < K)
          acc[t] = _mm256_fmadd_ps (xv, wv[kx], acc[t]);
      }
    }
  }
  for (int t = 0; t < TILE; t++) {
    __m256 v = sn_act_avx2 (acc[t], vlo, vhi, d->hswish);
    if (masked)
      _mm256_maskstore_ps (yrow + (ox + t) * C + c0, mask, v);
    else
      _mm256_storeu_ps (yrow + (ox + t) * C + c0, v);
  }
}

/* One output pixel, at a border (or among the interior's last few):
 * columns outside the image are the zero padding, so they are skipped. */
__attribute__((always_inline, target ("avx2,fma")))
static inline void
pixel (const SnDwconv *d, const float *x, float *yrow, RowSpan r, int64_t ox, int64_t b,
    const int K, const int S, const gboolean masked)
{
  const int64_t C = d->C, W = d->W, c0 = b * CB;
  const __m256i mask = _mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int) MIN (CB, C - c0)),
      _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7));
  const float *wb = d->packed + (size_t) b * (1 + K * K) * CB;
  __m256 a = _mm256_load_ps (wb);
  wb += CB;
  const int64_t ix0 = ox * S - d->pl;
  for (int ky = r.ky0; ky < r.ky1; ky++) {
    const float *wr = wb + ky * K * CB;
    for (int kx = 0; kx < K; kx++) {
      int64_t ix = ix0 + kx;
      if (ix < 0 || ix >= W)
        continue;
      a = _mm256_fmadd_ps (LDX (x + ((r.iy0 + ky) * W + ix) * C + c0),
          _mm256_load_ps (wr + kx * CB), a);
    }
  }
  a = sn_act_avx2 (a, _mm256_set1_ps (d->lo), _mm256_set1_ps (d->hi), d->hswish);
  if (masked)
    _mm256_maskstore_ps (yrow + ox * C + c0, mask, a);
  else
    _mm256_storeu_ps (yrow + ox * C + c0, a);
}

/* The input rows that the next output row will read and this one does not
 * (S of them), at this tile's columns and channels, on their way into the
 * caches while this row is computed.  On wide maps (128 x 128 x 128: 64 KB
 * an input row) the new row otherwise arrived line by line on demand. */
__attribute__((always_inline, target ("avx2,fma")))
static inline void
prefetch_next (const SnDwconv *d, const float *x, RowSpan r, int64_t ox, int64_t b0, int64_t b1,
    const int K, const int S)
{
  const int64_t C = d->C, W = d->W;
  const int64_t c0 = b0 * CB, c1 = MIN (C, b1 * CB);
  for (int s = 0; s < S; s++) {
    int64_t iy = r.iy0 + K + s;
    if (iy >= d->H)
      return;
    int64_t ix0 = MAX (0, ox * S - d->pl + K), ix1 = MIN (W, ox * S - d->pl + K + TILE * S);
    for (int64_t ix = ix0; ix < ix1; ix++) {
      const char *p = (const char *) (x + (iy * W + ix) * C + c0);
      for (int64_t o = 0; o < (c1 - c0) * 4; o += 64)
        _mm_prefetch (p + o, _MM_HINT_T1);
    }
  }
}

/* One output row oy, channel blocks [b0, b1): pixels outer, channels
 * inner, so that the cache lines of a pixel's channels are used while
 * they are in L1, and the group's weights (at most 8 x 26 vectors) stay
 * there too. */
__attribute__((always_inline, target ("avx2,fma")))
static inline void
row_group (const SnDwconv *d, const float *x, float *y, int64_t oy, int64_t b0, int64_t b1,
    const int K, const int S)
{
  const int64_t W = d->W, OW = d->OW;
  /* Prefetch only where the rows are long enough to miss the caches. */
  const gboolean prefetch = W * d->C >= PREFETCH_MIN_FLOATS;
  RowSpan r;
  r.iy0 = oy * S - d->pt;
  r.ky0 = (int) MAX (0, -r.iy0);
  r.ky1 = (int) MIN (K, d->H - r.iy0);
  /* Output columns whose whole window is inside the image: [ox_lo, ox_hi). */
  const int64_t ox_lo = MIN (OW, (d->pl + S - 1) / S);
  const int64_t ox_hi = W - K + d->pl >= 0 ? MAX (ox_lo, MIN (OW, (W - K + d->pl) / S + 1)) : ox_lo;
  /* Blocks of 8 full channels, and a last partial one. */
  const int64_t bf = MIN (b1, d->C / CB);
  float *yrow = y + (size_t) oy * OW * d->C;
  int64_t ox = 0;
  while (ox < OW) {
    if (ox >= ox_lo && ox + TILE <= ox_hi) {
      if (prefetch)
        prefetch_next (d, x, r, ox, b0, b1, K, S);
      for (int64_t b = b0; b < bf; b++)
        tile (d, x, yrow, r, ox, b, K, S, FALSE);
      for (int64_t b = MAX (b0, bf); b < b1; b++)
        tile (d, x, yrow, r, ox, b, K, S, TRUE);
      ox += TILE;
    } else {
      for (int64_t b = b0; b < bf; b++)
        pixel (d, x, yrow, r, ox, b, K, S, FALSE);
      for (int64_t b = MAX (b0, bf); b < b1; b++)
        pixel (d, x, yrow, r, ox, b, K, S, TRUE);
      ox++;
    }
  }
}

/* Output pixels [ox, ox + TILE) of the rows oy and oy + 1 (3x3, stride 1,
 * both rows' windows inside the image rows, the tile's inside its
 * columns), channels [8 b, 8 b + 8): the 4 input rows are loaded once for
 * both output rows (24 input loads for 72 FMAs, against 36 row by row),
 * and each input row is read by half as many items. */
__attribute__((always_inline, target ("avx2,fma")))
static inline void
tile2_3x3 (const SnDwconv *d, const float *x, float *y0, float *y1, int64_t iy0, int64_t ox,
    int64_t b, const gboolean masked)
{
  const int64_t C = d->C, W = d->W, c0 = b * CB;
  const __m256i mask = _mm256_cmpgt_epi32 (_mm256_set1_epi32 ((int) MIN (CB, C - c0)),
      _mm256_setr_epi32 (0, 1, 2, 3, 4, 5, 6, 7));
  const float *wb = d->packed + (size_t) b * (1 + 9) * CB;
  const __m256 bias = _mm256_load_ps (wb);
  wb += CB;
  __m256 a0[TILE], a1[TILE];
  for (int t = 0; t < TILE; t++)
    a0[t] = a1[t] = bias;
#pragma GCC unroll 4
  for (int r = 0; r < 4; r++) {
    const float *xr = x + ((iy0 + r) * W + ox - d->pl) * C + c0;
    /* Kernel row r for output row oy, r - 1 for oy + 1. */
    __m256 w0[3], w1[3];
#pragma GCC unroll 3
    for (int kx = 0; kx < 3; kx++) {
      if (r < 3)
        w0[kx] = _mm256_load_ps (wb + (r * 3 + kx) * CB);
      if (r > 0)
        w1[kx] = _mm256_load_ps (wb + ((r - 1) * 3 + kx) * CB);
    }
#pragma GCC unroll 6
    for (int j = 0; j < TILE + 2; j++) {
      const __m256 xv = LDX (xr + j * C);
#pragma GCC unroll 4
      for (int t = 0; t < TILE; t++) {
        const int kx = j - t;
        if (kx >= 0 && kx < 3) {
          if (r < 3)
            a0[t] = _mm256_fmadd_ps (xv, w0[kx], a0[t]);
          if (r > 0)
            a1[t] = _mm256_fmadd_ps (xv, w1[kx], a1[t]);
        }
      }
    }
  }
  const __m256 vlo = _mm256_set1_ps (d->lo), vhi = _mm256_set1_ps (d->hi);
  for (int t = 0; t < TILE; t++) {
    __m256 v0 = sn_act_avx2 (a0[t], vlo, vhi, d->hswish);
    __m256 v1 = sn_act_avx2 (a1[t], vlo, vhi, d->hswish);
    if (masked) {
      _mm256_maskstore_ps (y0 + (ox + t) * C + c0, mask, v0);
      _mm256_maskstore_ps (y1 + (ox + t) * C + c0, mask, v1);
    } else {
      _mm256_storeu_ps (y0 + (ox + t) * C + c0, v0);
      _mm256_storeu_ps (y1 + (ox + t) * C + c0, v1);
    }
  }
}

/* Output rows oy and oy + 1 of a 3x3 stride-1 convolution, channel blocks
 * [b0, b1): the pair's interior tiles on tile2_3x3, the rest (border
 * columns, or a pair that touches the top or bottom padding, or a last
 * single row) row by row. */
__attribute__((target ("avx2,fma")))
static void
rows2_3_1 (const SnDwconv *d, const float *x, float *y, int64_t oy, int64_t b0, int64_t b1)
{
  const int64_t OW = d->OW;
  const int64_t iy0 = oy - d->pt;
  if (oy + 1 >= d->OH || iy0 < 0 || iy0 + 4 > d->H) {
    row_group (d, x, y, oy, b0, b1, 3, 1);
    if (oy + 1 < d->OH)
      row_group (d, x, y, oy + 1, b0, b1, 3, 1);
    return;
  }
  RowSpan r0 = { iy0, 0, 3 }, r1 = { iy0 + 1, 0, 3 };
  const int64_t ox_lo = MIN (OW, d->pl);
  const int64_t ox_hi = d->W - 3 + d->pl >= 0 ? MAX (ox_lo, MIN (OW, d->W - 3 + d->pl + 1)) : ox_lo;
  const int64_t bf = MIN (b1, d->C / CB);
  const gboolean prefetch = d->W * d->C >= PREFETCH_MIN_FLOATS;
  float *y0 = y + (size_t) oy * OW * d->C, *y1 = y0 + OW * d->C;
  int64_t ox = 0;
  while (ox < OW) {
    if (ox >= ox_lo && ox + TILE <= ox_hi) {
      if (prefetch) {
        /* The next pair's two new input rows. */
        const RowSpan n0 = { iy0 + 1, 0, 3 }, n1 = { iy0 + 2, 0, 3 };
        prefetch_next (d, x, n0, ox, b0, b1, 3, 1);
        prefetch_next (d, x, n1, ox, b0, b1, 3, 1);
      }
      for (int64_t b = b0; b < bf; b++)
        tile2_3x3 (d, x, y0, y1, iy0, ox, b, FALSE);
      for (int64_t b = MAX (b0, bf); b < b1; b++)
        tile2_3x3 (d, x, y0, y1, iy0, ox, b, TRUE);
      ox += TILE;
    } else {
      for (int64_t b = b0; b < bf; b++) {
        pixel (d, x, y0, r0, ox, b, 3, 1, FALSE);
        pixel (d, x, y1, r1, ox, b, 3, 1, FALSE);
      }
      for (int64_t b = MAX (b0, bf); b < b1; b++) {
        pixel (d, x, y0, r0, ox, b, 3, 1, TRUE);
        pixel (d, x, y1, r1, ox, b, 3, 1, TRUE);
      }
      ox++;
    }
  }
}

#define DEFINE_ROW(K, S) \
  __attribute__((target ("avx2,fma"))) static void \
  row_##K##_##S (const SnDwconv *d, const float *x, float *y, int64_t oy, int64_t b0, int64_t b1) \
  { \
    row_group (d, x, y, oy, b0, b1, K, S); \
  }
DEFINE_ROW (3, 1)
DEFINE_ROW (3, 2)
DEFINE_ROW (5, 1)
DEFINE_ROW (5, 2)
#endif

typedef struct {
  const SnDwconv *d;
  const float *x;
  float *y;
} Job;

/* One item: one output row (two for pair_rows), BLOCKS_PER_ITEM blocks
 * of channels. */
static void
run_item (void *ctx, size_t item)
{
#ifdef HAVE_X86
  const Job *j = ctx;
  const SnDwconv *d = j->d;
  int64_t oy = (int64_t) item / d->groups, g = (int64_t) item % d->groups;
  int64_t b1 = MIN (d->blocks, (g + 1) * BLOCKS_PER_ITEM);
  if (d->pair_rows) {
    rows2_3_1 (d, j->x, j->y, 2 * oy, g * BLOCKS_PER_ITEM, b1);
    return;
  }
  void (*row) (const SnDwconv *, const float *, float *, int64_t, int64_t, int64_t) =
      d->K == 3 ? (d->S == 1 ? row_3_1 : row_3_2) : (d->S == 1 ? row_5_1 : row_5_2);
  row (d, j->x, j->y, oy, g * BLOCKS_PER_ITEM, b1);
#else
  (void) ctx;
  (void) item;
  g_assert_not_reached ();
#endif
}

void
sn_dwconv_run (const SnDwconv *d, SnPool *pool, const float *x, float *y)
{
  Job j = { d, x, y };
  int64_t rows = d->pair_rows ? (d->OH + 1) / 2 : d->OH;
  sn_pool_run (pool, run_item, &j, (size_t) (rows * d->groups));
}
