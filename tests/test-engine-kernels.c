/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Our own kernels (libsplitnn/engine/sn-gemm.c, sn-dwconv.c) called
 * directly, against plain double-precision loops written here (the
 * oracle): every code path of a kernel on sizes chosen to hit it (full
 * tiles, partial and 8-column panels, row tiles, odd channel counts,
 * borders, pairs of output rows and a last single one, images smaller
 * than the window), with and without the fused residual,
 * clamp and hard-swish, on 1 and 2 threads.  The model-level tests
 * (test-fast.c) reach these kernels only through the shapes a model
 * gives; these reach each specialised variant on purpose. */
#include <check.h>
#include <math.h>

#include "engine/sn-dwconv.h"
#include "engine/sn-gemm.h"
#include "engine/sn-pool.h"

static float *
random_floats (size_t n, guint32 seed)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (seed);
  float *v = g_new (float, n + 1);
  for (size_t i = 0; i < n; i++)
    v[i] = (float) g_rand_double_range (r, -1.0, 1.0);
  return v;
}

static double
act (double v, float lo, float hi, float hswish)
{
  v = fmin (fmax (v, lo), hi);
  if (hswish != 0.0f)
    v = hswish * v * fmin (fmax (v + 3.0, 0.0), 6.0);
  return v;
}

static void
assert_close (const float *got, const double *want, size_t n, const char *what)
{
  /* ck_assert only on a mismatch: Check records every assertion. */
  for (size_t i = 0; i < n; i++)
    if (!(fabs (got[i] - want[i]) <= 1e-4 + 1e-4 * fabs (want[i])))
      ck_abort_msg ("%s: element %zu is %.7g, the oracle says %.7g", what, i, got[i], want[i]);
}

/* One 1x1 convolution: y[M][N] = act (x[M][K] w^T + bias (+ residual)).
 * inplace: the residual is y itself (as when the fast path adds a block's
 * input that y overwrites). */
static void
check_gemm (SnPool *pool, int64_t M, int64_t K, int64_t N, gboolean with_res, gboolean inplace,
    float lo, float hi, float hswish)
{
  g_autofree float *x = random_floats (M * K, 1 + M + 7 * K);
  g_autofree float *w = random_floats (N * K, 2 + N);
  g_autofree float *bias = random_floats (N, 3);
  g_autofree float *res = random_floats (M * N, 4);
  g_autofree float *y = random_floats (M * N, 5);
  g_autofree double *want = g_new (double, M * N + 1);
  for (int64_t m = 0; m < M; m++)
    for (int64_t n = 0; n < N; n++) {
      double s = bias[n];
      for (int64_t k = 0; k < K; k++)
        s += (double) x[m * K + k] * w[n * K + k];
      if (with_res)
        s += inplace ? y[m * N + n] : res[m * N + n];
      want[m * N + n] = act (s, lo, hi, hswish);
    }
  SnGemm *g = sn_gemm_new (w, bias, K, N, lo, hi);
  if (hswish != 0.0f)
    sn_gemm_set_hardswish (g, hswish);
  sn_gemm_run (g, pool, x, with_res ? (inplace ? y : res) : NULL, y, M);
  sn_gemm_free (g);
  g_autofree char *what = g_strdup_printf ("1x1 M %" G_GINT64_FORMAT " K %" G_GINT64_FORMAT
      " N %" G_GINT64_FORMAT " res %d inplace %d hswish %g, %d threads", M, K, N, with_res,
      inplace, hswish, sn_pool_threads (pool));
  assert_close (y, want, M * N, what);
}

START_TEST (test_gemm_against_loops)
{
  if (!sn_gemm_available ())
    return;
  SnPool *pool = _i ? sn_pool_new (2) : NULL;
  /* M: under one 6-row tile, exactly one, one and a bit, several items
   * (48 rows each) and a ragged end; N: under 8, 8, a full 16-column
   * panel, one past it, 24, and panels plus a ragged one; K from 1. */
  static const int64_t Ms[] = { 1, 5, 6, 7, 48, 103 };
  static const int64_t Ks[] = { 1, 3, 16, 24, 37 };
  static const int64_t Ns[] = { 1, 4, 8, 15, 16, 17, 24, 33, 48 };
  for (size_t a = 0; a < G_N_ELEMENTS (Ms); a++)
    for (size_t b = 0; b < G_N_ELEMENTS (Ks); b++)
      for (size_t c = 0; c < G_N_ELEMENTS (Ns); c++) {
        int v = (int) (a + b + c) % 5;
        /* Every variant: plain, residual, residual in place, ReLU6 with
         * hard-swish, and residual with hard-swish. */
        check_gemm (pool, Ms[a], Ks[b], Ns[c], v == 1 || v == 2 || v == 4, v == 2,
            v == 3 ? 0.0f : -INFINITY, v == 3 ? 6.0f : INFINITY, v >= 3 ? 1.0f / 6 : 0.0f);
      }
  sn_pool_free (pool);
}
END_TEST

/* One depthwise convolution, NHWC, zero padding pt/pl (and whatever the
 * output size leaves at the bottom and right). */
static void
check_dwconv (SnPool *pool, int64_t H, int64_t W, int64_t C, int k, int s, int pt, int pl,
    float lo, float hi, float hswish)
{
  int64_t OH = (H + 2 * pt - k) / s + 1, OW = (W + 2 * pl - k) / s + 1;
  if (OH < 1 || OW < 1)
    return;
  g_autofree float *x = random_floats (H * W * C, 11 + H + C);
  g_autofree float *w = random_floats (k * k * C, 12 + C);     /* [kh][kw][C] */
  g_autofree float *bias = random_floats (C, 13);
  g_autofree float *y = g_new0 (float, OH * OW * C + 1);
  g_autofree double *want = g_new (double, OH * OW * C + 1);
  for (int64_t oy = 0; oy < OH; oy++)
    for (int64_t ox = 0; ox < OW; ox++)
      for (int64_t c = 0; c < C; c++) {
        double acc = bias[c];
        for (int ky = 0; ky < k; ky++)
          for (int kx = 0; kx < k; kx++) {
            int64_t iy = oy * s - pt + ky, ix = ox * s - pl + kx;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W)
              acc += (double) x[(iy * W + ix) * C + c] * w[(ky * k + kx) * C + c];
          }
        want[(oy * OW + ox) * C + c] = act (acc, lo, hi, hswish);
      }
  SnDwconv *d = sn_dwconv_new (w, bias, C, k, s, pt, pl, H, W, OH, OW, lo, hi);
  if (hswish != 0.0f)
    sn_dwconv_set_hardswish (d, hswish);
  sn_dwconv_run (d, pool, x, y);
  sn_dwconv_free (d);
  g_autofree char *what = g_strdup_printf ("depthwise %dx%d s%d pad %d,%d, %" G_GINT64_FORMAT
      "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT ", %d threads", k, k, s, pt, pl, H, W, C,
      sn_pool_threads (pool));
  assert_close (y, want, OH * OW * C, what);
}

START_TEST (test_dwconv_against_loops)
{
  if (!sn_dwconv_enabled ())
    return;
  SnPool *pool = _i ? sn_pool_new (2) : NULL;
  /* Channels: under one 8-channel block, odd, 16-channel pairs and a
   * ragged block, and wide maps (>= 64 channels, up to more than one
   * 256-channel item); sizes: smaller than the window, a few tiles and
   * ragged ends, and rows long enough to be prefetched (>= 8192 floats:
   * 64 x 136 and 64 x 264). */
  static const int64_t Cs[] = { 3, 8, 13, 16, 24, 40, 64, 72, 136, 264 };
  static const int64_t HWs[][2] = { { 2, 3 }, { 5, 5 }, { 9, 13 }, { 17, 11 }, { 6, 64 } };
  for (size_t c = 0; c < G_N_ELEMENTS (Cs); c++)
    for (size_t h = 0; h < G_N_ELEMENTS (HWs); h++)
      for (int k = 3; k <= 5; k += 2)
        for (int s = 1; s <= 2; s++) {
          int v = (int) (c + h + (size_t) k + (size_t) s) % 3;
          /* Symmetric padding, and none at the top / left (TF SAME's at
           * stride 2; "valid" at stride 1). */
          int pad = v == 1 ? 0 : k / 2;
          check_dwconv (pool, HWs[h][0], HWs[h][1], Cs[c], k, s, pad, pad,
              v == 2 ? 0.0f : -INFINITY, v == 2 ? 6.0f : INFINITY, v == 0 ? 1.0f / 6 : 0.0f);
        }
  sn_pool_free (pool);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("engine-kernels");
  TCase *tc = tcase_create ("kernels");
  tcase_set_timeout (tc, 120);
  tcase_add_loop_test (tc, test_gemm_against_loops, 0, 2);
  tcase_add_loop_test (tc, test_dwconv_against_loops, 0, 2);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
