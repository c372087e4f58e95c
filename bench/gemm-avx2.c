/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Is Debian's XNNPACK build the limit on AVX2 CPUs?  Times a 1x1
 * convolution (an NHWC GEMM, M pixels x K input channels -> N output
 * channels, + bias, ReLU) two ways on one thread:
 *   - XNNPACK's operator (Debian 0.0~git20220216), which on AVX2 + FMA
 *     runs its 5x16 fma3-broadcast GEMM; Debian's compiler spills one of
 *     its 10 accumulators (docs/performance.md);
 *   - libsplitnn's own 1x1 kernel (libsplitnn/engine/sn-gemm.c: 6x16 tiles
 *     for 16 ymm registers over weights packed once in 16-column panels),
 *     the one the fast path runs, called as the fast path calls it.
 * Both are checked against a double-precision GEMM first.  Thread CPU time
 * (CLOCK_THREAD_CPUTIME_ID), interleaved, best of ROUNDS: a shared machine
 * inflates it much less than wall time.
 *
 *   gemm-avx2 [ROUNDS]      prints one line per layer shape */
#include <immintrin.h>
#include <math.h>
#include <pthreadpool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xnnpack.h>

#include "engine/sn-gemm.h"

static double
thread_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static float
rnd (unsigned *s)
{
  *s = *s * 1664525u + 1013904223u;
  return (float) ((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

int
main (int argc, char **argv)
{
  int rounds = argc > 1 ? atoi (argv[1]) : 5;
  if (!__builtin_cpu_supports ("avx2") || !__builtin_cpu_supports ("fma")) {
    printf ("gemm-avx2: this CPU has no AVX2 + FMA\n");
    return 0;
  }
  if (xnn_initialize (NULL) != xnn_status_success)
    return 1;
  SnPool *pool = sn_pool_new (1);
  /* Layer shapes of CenterNet-MobileNetV3 at 512x512 (pixels, in, out):
   * the ones with the most FLOPs at each map size, the heads (80 and 4
   * channels) and the narrow ones whose last panel is 8 columns wide. */
  static const int shapes[][3] = {
    { 256 * 256, 16, 64 }, { 128 * 128, 24, 72 }, { 128 * 128, 128, 80 }, { 128 * 128, 128, 4 },
    { 128 * 128, 72, 18 }, { 128 * 128, 72, 24 }, { 64 * 64, 192, 64 }, { 64 * 64, 96, 24 },
    { 32 * 32, 88, 528 }, { 32 * 32, 256, 96 }, { 32 * 32, 528, 88 }, { 16 * 16, 120, 720 },
    { 16 * 16, 720, 120 },
  };
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
    unsigned seed = 1;
    float *a = aligned_alloc (64, (size_t) M * K * 4 + 64), *w = malloc ((size_t) N * K * 4);
    float *bias = malloc (N * 4), *c1 = aligned_alloc (64, (size_t) M * N * 4 + 64);
    float *c2 = aligned_alloc (64, (size_t) M * N * 4 + 64);
    for (size_t i = 0; i < (size_t) M * K; i++)
      a[i] = rnd (&seed);
    for (size_t i = 0; i < (size_t) N * K; i++)
      w[i] = rnd (&seed) / sqrtf (K);
    for (int i = 0; i < N; i++)
      bias[i] = rnd (&seed) * 0.1f;
    SnGemm *g = sn_gemm_new (w, bias, K, N, 0.0f, INFINITY);
    xnn_operator_t op = NULL;
    if (xnn_create_convolution2d_nhwc_f32 (0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, K, N, K, N, w, bias, 0,
            INFINITY, 0, &op) != xnn_status_success
        || xnn_setup_convolution2d_nhwc_f32 (op, 1, M, 1, a, c1, NULL) != xnn_status_success)
      return 1;
    xnn_run_operator (op, NULL);
    sn_gemm_run (g, pool, a, NULL, c2, M);
    /* Both against a double-precision GEMM on a sample of rows. */
    double err1 = 0, err2 = 0;
    for (int m = 0; m < M; m += 97)
      for (int n = 0; n < N; n++) {
        double ref = bias[n];
        for (int k = 0; k < K; k++)
          ref += (double) a[(size_t) m * K + k] * w[(size_t) n * K + k];
        ref = ref > 0 ? ref : 0;
        err1 = fmax (err1, fabs (c1[(size_t) m * N + n] - ref));
        err2 = fmax (err2, fabs (c2[(size_t) m * N + n] - ref));
      }
    if (err1 > 1e-3 || err2 > 1e-3) {
      printf ("gemm-avx2: wrong result for %dx%dx%d (XNNPACK %g, ours %g)\n", M, K, N, err1, err2);
      return 1;
    }
    double best1 = 1e9, best2 = 1e9, flop = 2.0 * M * K * N;
    int reps = (int) (2e8 / flop) + 1;
    for (int r = 0; r < rounds; r++) {
      double t0 = thread_seconds ();
      for (int i = 0; i < reps; i++)
        xnn_run_operator (op, NULL);
      double t1 = thread_seconds ();
      for (int i = 0; i < reps; i++)
        sn_gemm_run (g, pool, a, NULL, c2, M);
      double t2 = thread_seconds ();
      best1 = fmin (best1, (t1 - t0) / reps);
      best2 = fmin (best2, (t2 - t1) / reps);
    }
    printf ("1x1 conv %6d px x %4d -> %4d ch: XNNPACK 5x16 %5.1f GFLOP/s, libsplitnn 6x16 %5.1f GFLOP/s (%.2fx)\n",
        M, K, N, flop / best1 / 1e9, flop / best2 / 1e9, best1 / best2);
    xnn_delete_operator (op);
    free (a); free (w); free (bias); free (c1); free (c2);
    sn_gemm_free (g);
  }
  sn_pool_free (pool);
  return 0;
}
