/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — capacity for n cameras: the link rate and the cloud cores that
 * n streams of one option need, and the most streams a link and a core
 * count carry.
 *
 * Experimental: may change before 1.0 (docs/architecture.md, "Public API").
 *
 * Model.  Each camera sends one packet per frame; its size B (bytes) is a
 * random variable with mean mu and variance sigma^2, measured on one
 * stream (per-frame samples or given moments).  The aggregate of n cameras
 * over one frame interval is S = B_1 + ... + B_n, and the link rate it
 * needs is 8 * fps * S bit/s (averaged over one frame interval: bursts
 * inside an interval are the queue's business, not this estimate's).
 * Assuming the streams are independent and identically distributed, S is
 * approximately normal with mean n mu and variance n sigma^2 (central
 * limit theorem), so the rate exceeded with probability p is
 *
 *     R(n) = 8 fps (n mu + z sqrt(n) sigma),   z = Phi^-1 (1 - p).
 *
 * Cloud cores: one frame costs c ms of one core, so a stream loads
 * fps c / 1000 cores; the same model over c (mean and variance) gives the
 * load exceeded with probability p, and the cores needed are that load
 * divided by the target utilisation (queues grow without bound at 1),
 * rounded up.
 *
 * Checks on the tail, reported beside the normal answer because the
 * normal approximation is only as good as n is large against the skew:
 *  - Cantelli's one-sided bound, P(S - n mu >= t) <= v / (v + t^2) with
 *    v = n sigma^2: holds for any distribution of uncorrelated streams,
 *    so it is an upper bound of the rate needed (often a loose one);
 *  - Cornish-Fisher: the normal quantile corrected by the skewness g of B
 *    (that of S is g / sqrt n), z + g (z^2 - 1) / (6 sqrt n);
 *  - resampled: with per-frame samples, the (1 - p) quantile of sums of n
 *    independent draws from them (fixed seed), i.e. the exact answer for
 *    independent streams with this empirical distribution;
 *  - comonotone: n times the per-stream (1 - p) quantile, what perfectly
 *    correlated streams (all scenes busy at once) need.
 * Where it breaks: correlated scenes (one event seen by many cameras, a
 * shift change, lights going off) move the answer toward the comonotone
 * one; keyframes or intra refresh that line up across streams are a
 * correlated burst too; with few streams or a skewed size (a codec whose
 * packets are mostly small with occasional large ones) the normal tail is
 * too light, which the Cornish-Fisher and resampled figures show. */
#pragma once

#include <splitnn/sn-api.h>

#include <glib.h>

G_BEGIN_DECLS

/* One stream of one option (cut, bit width, codec), as measured. */
typedef struct {
  double fps;               /* frames per second of each camera, > 0 */
  double bytes_mean;        /* bytes per frame, > 0 */
  double bytes_var;         /* variance of bytes per frame, >= 0 */
  double bytes_skew;        /* skewness of bytes per frame (0: unknown or symmetric) */
  /* Per-stream bytes per frame at the (1 - p) quantile for the p asked,
   * or < 0 when unknown (then computed from samples when there are any). */
  double bytes_quantile;
  /* Per-frame bytes of one stream (borrowed; may be NULL): enables the
   * resampled and comonotone checks. */
  const double *samples;
  size_t n_samples;
  double cloud_ms_mean;     /* cloud time per frame on one core, ms; 0: not known, no core figures */
  double cloud_ms_var;      /* its variance, >= 0 */
} SnStreamStats;

/* Zeroes @s and marks the quantile unknown. */
SN_API void sn_stream_stats_init (SnStreamStats *s);
/* Mean, variance (n - 1 denominator), skewness and samples from @n per-frame
 * sizes (borrowed; must outlive @s); needs n >= 2. */
SN_API gboolean sn_stream_stats_set_samples (SnStreamStats *s, const double *bytes, size_t n,
    GError **error);

typedef struct {
  double p;                 /* probability that the aggregate exceeds the answer, in (0, 0.5] */
  double utilisation;       /* target busy fraction of each cloud core, in (0, 1] */
  int resample_draws;       /* sums drawn for the resampled check; 0: none */
  guint32 seed;
} SnCapacityParams;

/* p 0.01, utilisation 0.8, 20000 draws, seed 1. */
SN_API void sn_capacity_params_init (SnCapacityParams *p);

typedef struct {
  int n;                    /* cameras */
  double z;                 /* Phi^-1 (1 - p) */
  double rate_mean;         /* bit/s: 8 fps n mu */
  double rate;              /* bit/s: the normal model's answer, R(n) above */
  double rate_cantelli;     /* bit/s: distribution-free bound for uncorrelated streams */
  double rate_cornish_fisher; /* bit/s: skew-corrected normal (= rate when the skew is 0) */
  double rate_resampled;    /* bit/s; NAN without samples, or for n above 4096 */
  double rate_comonotone;   /* bit/s; NAN without a per-stream quantile or samples */
  double load;              /* cores busy on average: n fps c / 1000 */
  double load_p;            /* cores busy, exceeded with probability p (normal) */
  int cores;                /* ceil (load_p / utilisation); 0 when cloud ms is unknown */
  /* TRUE when a tail check says the normal answer is too low by more than
   * 5 %: the skew-corrected or resampled rate is higher. */
  gboolean tail_heavier;
} SnCapacity;

/* Phi^-1 (p), the standard normal quantile, for p in (0, 1) (Wichura's
 * AS241, relative error about 1e-16); NAN outside. */
SN_API double sn_normal_quantile (double p);

/* The answers for @n cameras.  Errors (SN_ERROR_INVALID_ARGUMENT) name the
 * bad input: n < 1, p outside (0, 0.5], utilisation outside (0, 1],
 * fps or mean not > 0, a negative variance. */
SN_API gboolean sn_capacity_for_cameras (const SnStreamStats *s, const SnCapacityParams *params, int n,
    SnCapacity *out, GError **error);

/* The largest n whose rate (normal model) is at most @link_bps and whose
 * cores are at most @cores (ignored when <= 0 or when cloud ms is not
 * known); 0 when even one camera does not fit.  Capped at 1e8.
 * *limit (may be NULL): "link" or "cores", whichever binds. */
SN_API gboolean sn_capacity_max_cameras (const SnStreamStats *s, const SnCapacityParams *params,
    double link_bps, double cores, int *n_out, const char **limit, GError **error);

G_END_DECLS
