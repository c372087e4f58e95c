/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Is Debian's XNNPACK build the limit on AVX2 CPUs?  Times a 1x1
 * convolution (an NHWC GEMM, M pixels x K input channels -> N output
 * channels, + bias, ReLU) two ways on one thread:
 *   - XNNPACK's operator (Debian 0.0~git20220216), which on AVX2 + FMA
 *     runs its 5x16 fma3-broadcast GEMM; Debian's compiler spills one of
 *     its 10 accumulators (docs/performance.md);
 *   - a 6x16 AVX2/FMA microkernel written for 16 ymm registers (12
 *     accumulators, 2 B vectors, 1 broadcast) over weights packed once in
 *     16-column panels, the layout XNNPACK also uses.
 * Both are checked against a double-precision GEMM first.  Thread CPU time
 * (CLOCK_THREAD_CPUTIME_ID), interleaved, best of ROUNDS: a shared machine
 * inflates it much less than wall time.  The prototype kernel is the lead
 * for issue 21 (own kernels for the fast path); it is not used by the
 * library yet.
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

#define NR 16
#define MR 6

static double
thread_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Weights [N][K] -> panels of 16 columns: per panel, 16 biases then K rows
 * of 16 weights (zero-padded past N). */
static float *
pack (const float *w, const float *bias, int K, int N)
{
  int panels = (N + NR - 1) / NR;
  float *p = aligned_alloc (64, (size_t) panels * (K + 1) * NR * sizeof (float));
  for (int pn = 0; pn < panels; pn++) {
    float *dst = p + (size_t) pn * (K + 1) * NR;
    for (int j = 0; j < NR; j++) {
      int n = pn * NR + j;
      dst[j] = n < N ? bias[n] : 0;
      for (int k = 0; k < K; k++)
        dst[(k + 1) * NR + j] = n < N ? w[(size_t) n * K + k] : 0;
    }
  }
  return p;
}

/* rows (<= 6) x 16 columns of C = relu (A B + bias).  Rows past `rows`
 * alias the last one, so the loop body is the same for every tile. */
__attribute__((target ("avx2,fma")))
static void
kernel_6x16 (int rows, int K, const float *a, size_t lda, const float *panel, float *c,
    size_t ldc, int cols)
{
  const float *a0 = a, *a1 = rows > 1 ? a0 + lda : a0, *a2 = rows > 2 ? a1 + lda : a1;
  const float *a3 = rows > 3 ? a2 + lda : a2, *a4 = rows > 4 ? a3 + lda : a3;
  const float *a5 = rows > 5 ? a4 + lda : a4;
  __m256 b0 = _mm256_load_ps (panel), b1 = _mm256_load_ps (panel + 8);
  __m256 c00 = b0, c01 = b1, c10 = b0, c11 = b1, c20 = b0, c21 = b1;
  __m256 c30 = b0, c31 = b1, c40 = b0, c41 = b1, c50 = b0, c51 = b1;
  const float *w = panel + NR;
  for (int k = 0; k < K; k++, w += NR) {
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
  __m256 z = _mm256_setzero_ps ();
  __m256 acc[MR][2] = {
    { c00, c01 }, { c10, c11 }, { c20, c21 }, { c30, c31 }, { c40, c41 }, { c50, c51 },
  };
  for (int r = 0; r < rows; r++) {
    float *dst = c + r * ldc;
    __m256 lo = _mm256_max_ps (acc[r][0], z), hi = _mm256_max_ps (acc[r][1], z);
    if (cols == NR) {
      _mm256_storeu_ps (dst, lo);
      _mm256_storeu_ps (dst + 8, hi);
    } else {
      float tmp[NR];
      _mm256_storeu_ps (tmp, lo);
      _mm256_storeu_ps (tmp + 8, hi);
      memcpy (dst, tmp, cols * sizeof (float));
    }
  }
}

/* C[M][N] = relu (A[M][K] W^T + bias); panels outer, so that one panel
 * (K x 16 floats) stays in L1/L2 while A streams. */
static void
gemm_ours (int M, int K, int N, const float *a, const float *packed, float *c)
{
  int panels = (N + NR - 1) / NR;
  for (int pn = 0; pn < panels; pn++) {
    const float *panel = packed + (size_t) pn * (K + 1) * NR;
    int cols = N - pn * NR < NR ? N - pn * NR : NR;
    for (int m = 0; m < M; m += MR)
      kernel_6x16 (M - m < MR ? M - m : MR, K, a + (size_t) m * K, K, panel, c + (size_t) m * N + pn * NR,
          N, cols);
  }
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
  /* Layer shapes of CenterNet-MobileNetV3 at 512x512 (pixels, in, out). */
  static const int shapes[][3] = {
    { 128 * 128, 16, 64 }, { 128 * 128, 24, 72 }, { 64 * 64, 40, 120 }, { 64 * 64, 120, 40 },
    { 32 * 32, 80, 480 }, { 32 * 32, 480, 112 }, { 16 * 16, 160, 960 }, { 64 * 64, 96, 576 },
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
    float *packed = pack (w, bias, K, N);
    xnn_operator_t op = NULL;
    if (xnn_create_convolution2d_nhwc_f32 (0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, K, N, K, N, w, bias, 0,
            INFINITY, 0, &op) != xnn_status_success
        || xnn_setup_convolution2d_nhwc_f32 (op, 1, M, 1, a, c1, NULL) != xnn_status_success)
      return 1;
    xnn_run_operator (op, NULL);
    gemm_ours (M, K, N, a, packed, c2);
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
        gemm_ours (M, K, N, a, packed, c2);
      double t2 = thread_seconds ();
      best1 = fmin (best1, (t1 - t0) / reps);
      best2 = fmin (best2, (t2 - t1) / reps);
    }
    printf ("1x1 conv %6d px x %4d -> %4d ch: XNNPACK 5x16 %5.1f GFLOP/s, 6x16 prototype %5.1f GFLOP/s (%.2fx)\n",
        M, K, N, flop / best1 / 1e9, flop / best2 / 1e9, best1 / best2);
    xnn_delete_operator (op);
    free (a); free (w); free (bias); free (c1); free (c2); free (packed);
  }
  return 0;
}
