/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — our own 1x1 convolution for the fast path (see sn-gemm.h). */
#include "engine/sn-gemm.h"
#include "engine/sn-act.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "splitnn/sn-tensor.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86 1
#include <immintrin.h>
#endif

#define NR 16
#define MR 6
/* Rows per pool item: a few kernel calls, so that an item is worth
 * handing out but a layer still makes several per thread.  (Fewer rows
 * for deep layers, so that x's rows stay in L1 beside a panel, made no
 * difference measurable on this machine.) */
#define ROWS_PER_ITEM (MR * 8)

struct SnGemm {
  int64_t K, N, panels;
  float lo, hi;
  float hswish;             /* sn_gemm_set_hardswish (); 0: none */
  /* The last panel is 8 columns wide when N % 16 is 1..8 (the heads'
   * 4 and 18 channels, the 22 and 24 of narrow layers): a 6x8 kernel
   * runs it, instead of 16 columns of which half or more are padding. */
  gboolean narrow_last;
  float *packed;            /* panels x (K + 1) x 16, the last x 8 if narrow_last */
};

gboolean
sn_gemm_available (void)
{
#ifdef HAVE_X86
  static gsize once = 0;
  static gboolean ok = FALSE;
  if (g_once_init_enter (&once)) {
    const char *k = g_getenv ("SPLITNN_KERNELS");
    __builtin_cpu_init ();
    ok = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma")
        && !(k && strcmp (k, "xnnpack") == 0);
    g_once_init_leave (&once, 1);
  }
  return ok;
#else
  return FALSE;
#endif
}

SnGemm *
sn_gemm_new (const float *w, const float *bias, int64_t K, int64_t N, float lo, float hi)
{
  SnGemm *g = g_new0 (SnGemm, 1);
  g->K = K;
  g->N = N;
  g->lo = lo;
  g->hi = hi;
  g->panels = (N + NR - 1) / NR;
  g->narrow_last = N % NR != 0 && N % NR <= NR / 2;
  size_t n = (size_t) g->panels * (K + 1) * NR;
  g->packed = sn_aligned_alloc (n * sizeof (float));
  memset (g->packed, 0, n * sizeof (float));
  for (int64_t p = 0; p < g->panels; p++) {
    int64_t width = p == g->panels - 1 && g->narrow_last ? NR / 2 : NR;
    float *dst = g->packed + (size_t) p * (K + 1) * NR;
    for (int64_t j = 0; j < width && p * NR + j < N; j++) {
      int64_t o = p * NR + j;
      dst[j] = bias ? bias[o] : 0.0f;
      for (int64_t k = 0; k < K; k++)
        dst[(k + 1) * width + j] = w[o * K + k];
    }
  }
  return g;
}

void
sn_gemm_set_hardswish (SnGemm *g, float k)
{
  g->hswish = k;
}

void
sn_gemm_free (SnGemm *g)
{
  if (!g)
    return;
  sn_aligned_free (g->packed);
  g_free (g);
}

#ifdef HAVE_X86
/* The store of one row of a tile: residual, activation, 16 (or `cols`)
 * values. */
__attribute__((always_inline, target ("avx2,fma")))
static inline void
store_row (__m256 v0, __m256 v1, int cols, const float *res, float *dst, __m256 vlo, __m256 vhi,
    float hswish, const gboolean full, const gboolean has_res)
{
  if (has_res && res) {
    const float *src = res;
    float tmp[NR];
    if (!full && cols < NR) {
      /* A partial panel: the residual row is read through a copy, so
       * that no load runs past its end. */
      memset (tmp + cols, 0, (NR - cols) * sizeof (float));
      src = memcpy (tmp, src, cols * sizeof (float));
    }
    v0 = _mm256_add_ps (v0, _mm256_loadu_ps (src));
    v1 = _mm256_add_ps (v1, _mm256_loadu_ps (src + 8));
  }
  v0 = sn_act_avx2 (v0, vlo, vhi, hswish);
  v1 = sn_act_avx2 (v1, vlo, vhi, hswish);
  if (full || cols == NR) {
    _mm256_storeu_ps (dst, v0);
    _mm256_storeu_ps (dst + 8, v1);
  } else {
    float tmp[NR];
    _mm256_storeu_ps (tmp, v0);
    _mm256_storeu_ps (tmp + 8, v1);
    memcpy (dst, tmp, cols * sizeof (float));
  }
}

/* rows (1..6) x cols (1..16) of y.  Rows past `rows` read the last row
 * again, so that the loop is the same for every tile; their results are
 * not stored.  `full` (6 x 16), `has_res` and `hsw` are constants at every
 * call: each combination gets its own code, so that a full tile's store
 * is straight-line (no accumulator array on the stack, no tests per row):
 * with the few input channels of the early layers (K = 16..24) the store
 * was a third of a tile's time. */
__attribute__((always_inline, target ("avx2,fma")))
static inline void
kernel_body (int rows, int cols, int64_t K, const float *a, int64_t lda, const float *panel,
    const float *res, float *c, int64_t ldc, float lo, float hi, float hswish,
    const gboolean full, const gboolean has_res, const gboolean hsw)
{
  if (full)
    rows = MR;
  const float *a0 = a, *a1 = rows > 1 ? a0 + lda : a0, *a2 = rows > 2 ? a1 + lda : a1;
  const float *a3 = rows > 3 ? a2 + lda : a2, *a4 = rows > 4 ? a3 + lda : a3;
  const float *a5 = rows > 5 ? a4 + lda : a4;
  __m256 b0 = _mm256_load_ps (panel), b1 = _mm256_load_ps (panel + 8);
  __m256 c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1;
  __m256 c30 = b0, c31 = b1, c40 = b0, c41 = b1, c50 = b0, c51 = b1;
  const float *w = panel + NR;
  for (int64_t k = 0; k < K; k++, w += NR) {
    b0 = _mm256_load_ps (w);
    b1 = _mm256_load_ps (w + 8);
    __m256 x = _mm256_broadcast_ss (a0 + k);
    c00 = _mm256_fmadd_ps (x, b0, c00);
    c01 = _mm256_fmadd_ps (x, b1, c01);
    x = _mm256_broadcast_ss (a1 + k);
    c10 = _mm256_fmadd_ps (x, b0, c10);
    c11 = _mm256_fmadd_ps (x, b1, c11);
    x = _mm256_broadcast_ss (a2 + k);
    c20 = _mm256_fmadd_ps (x, b0, c20);
    c21 = _mm256_fmadd_ps (x, b1, c21);
    x = _mm256_broadcast_ss (a3 + k);
    c30 = _mm256_fmadd_ps (x, b0, c30);
    c31 = _mm256_fmadd_ps (x, b1, c31);
    x = _mm256_broadcast_ss (a4 + k);
    c40 = _mm256_fmadd_ps (x, b0, c40);
    c41 = _mm256_fmadd_ps (x, b1, c41);
    x = _mm256_broadcast_ss (a5 + k);
    c50 = _mm256_fmadd_ps (x, b0, c50);
    c51 = _mm256_fmadd_ps (x, b1, c51);
  }
  const __m256 vlo = _mm256_set1_ps (lo), vhi = _mm256_set1_ps (hi);
  const float hk = hsw ? hswish : 0.0f;
#define ROW(r, v0, v1) \
  if (full || rows > r) \
    store_row (v0, v1, cols, res ? res + r * ldc : NULL, c + r * ldc, vlo, vhi, hk, full, \
        has_res)
  ROW (0, c00, c01);
  ROW (1, c10, c11);
  ROW (2, c20, c21);
  ROW (3, c30, c31);
  ROW (4, c40, c41);
  ROW (5, c50, c51);
#undef ROW
}

#define DEFINE_KERNEL(name, full, has_res, hsw) \
  __attribute__((target ("avx2,fma"))) static void \
  name (int rows, int cols, int64_t K, const float *a, int64_t lda, const float *panel, \
      const float *res, float *c, int64_t ldc, float lo, float hi, float hswish) \
  { \
    kernel_body (rows, cols, K, a, lda, panel, res, c, ldc, lo, hi, hswish, full, has_res, hsw); \
  }
DEFINE_KERNEL (kernel_full, TRUE, FALSE, FALSE)
DEFINE_KERNEL (kernel_full_res, TRUE, TRUE, FALSE)
DEFINE_KERNEL (kernel_full_hsw, TRUE, FALSE, TRUE)
DEFINE_KERNEL (kernel_full_res_hsw, TRUE, TRUE, TRUE)
DEFINE_KERNEL (kernel_edge, FALSE, TRUE, TRUE)

/* rows (1..6) x cols (1..8) of y, from an 8-column panel: 6 accumulators,
 * 1 weight vector, 1 broadcast. */
__attribute__((target ("avx2,fma")))
static void
kernel_6x8 (int rows, int cols, int64_t K, const float *a, int64_t lda, const float *panel,
    const float *res, float *c, int64_t ldc, float lo, float hi, float hswish)
{
  const float *a0 = a, *a1 = rows > 1 ? a0 + lda : a0, *a2 = rows > 2 ? a1 + lda : a1;
  const float *a3 = rows > 3 ? a2 + lda : a2, *a4 = rows > 4 ? a3 + lda : a3;
  const float *a5 = rows > 5 ? a4 + lda : a4;
  __m256 b = _mm256_load_ps (panel);
  __m256 c0 = b, c1 = b, c2 = b, c3 = b, c4 = b, c5 = b;
  const float *w = panel + NR / 2;
  for (int64_t k = 0; k < K; k++, w += NR / 2) {
    b = _mm256_load_ps (w);
    c0 = _mm256_fmadd_ps (_mm256_broadcast_ss (a0 + k), b, c0);
    c1 = _mm256_fmadd_ps (_mm256_broadcast_ss (a1 + k), b, c1);
    c2 = _mm256_fmadd_ps (_mm256_broadcast_ss (a2 + k), b, c2);
    c3 = _mm256_fmadd_ps (_mm256_broadcast_ss (a3 + k), b, c3);
    c4 = _mm256_fmadd_ps (_mm256_broadcast_ss (a4 + k), b, c4);
    c5 = _mm256_fmadd_ps (_mm256_broadcast_ss (a5 + k), b, c5);
  }
  const __m256 vlo = _mm256_set1_ps (lo), vhi = _mm256_set1_ps (hi);
  const __m256 acc[MR] = { c0, c1, c2, c3, c4, c5 };
  for (int r = 0; r < rows; r++) {
    float tmp[NR / 2];
    __m256 v = acc[r];
    if (res) {
      /* Through a copy: no load runs past the residual row's end. */
      memset (tmp, 0, sizeof tmp);
      memcpy (tmp, res + r * ldc, cols * sizeof (float));
      v = _mm256_add_ps (v, _mm256_loadu_ps (tmp));
    }
    v = sn_act_avx2 (v, vlo, vhi, hswish);
    if (cols == NR / 2) {
      _mm256_storeu_ps (c + r * ldc, v);
    } else {
      _mm256_storeu_ps (tmp, v);
      memcpy (c + r * ldc, tmp, cols * sizeof (float));
    }
  }
}

typedef void (*KernelFn) (int, int, int64_t, const float *, int64_t, const float *, const float *,
    float *, int64_t, float, float, float);
#endif

typedef struct {
  const SnGemm *g;
  const float *x, *res;
  float *y;
  int64_t M, blocks;
} Job;

/* One item: ROWS_PER_ITEM rows of one panel.  Items run panel-major
 * within a block of rows, so that neighbouring items share the rows of x. */
static void
run_item (void *ctx, size_t item)
{
#ifdef HAVE_X86
  const Job *j = ctx;
  const SnGemm *g = j->g;
  int64_t block = (int64_t) item / g->panels, p = (int64_t) item % g->panels;
  int64_t m0 = block * ROWS_PER_ITEM, m1 = MIN (m0 + ROWS_PER_ITEM, j->M);
  int cols = (int) MIN (NR, g->N - p * NR);
  const float *panel = g->packed + (size_t) p * (g->K + 1) * NR;
  /* Full tiles on a specialised kernel; a partial panel or the last rows
   * on the general one (residual and hard-swish tested at run time, a
   * NULL residual and a zero hswish meaning none). */
  const gboolean has_res = j->res != NULL, hsw = g->hswish != 0.0f;
  KernelFn full = has_res ? (hsw ? kernel_full_res_hsw : kernel_full_res)
      : (hsw ? kernel_full_hsw : kernel_full);
  KernelFn edge = kernel_edge;
  if (p == g->panels - 1 && g->narrow_last)
    full = edge = kernel_6x8;
  for (int64_t m = m0; m < m1; m += MR) {
    int rows = (int) MIN (MR, m1 - m);
    (rows == MR && cols == NR ? full : edge) (rows, cols, g->K, j->x + m * g->K, g->K, panel,
        has_res ? j->res + m * g->N + p * NR : NULL, j->y + m * g->N + p * NR, g->N, g->lo, g->hi,
        g->hswish);
  }
#else
  (void) ctx;
  (void) item;
  g_assert_not_reached ();
#endif
}

void
sn_gemm_run (const SnGemm *g, SnPool *pool, const float *x, const float *residual, float *y,
    int64_t M)
{
  Job j = { g, x, residual, y, M, (M + ROWS_PER_ITEM - 1) / ROWS_PER_ITEM };
  sn_pool_run (pool, run_item, &j, (size_t) (j.blocks * g->panels));
}
