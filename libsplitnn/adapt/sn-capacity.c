/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — capacity for n cameras (see sn-capacity.h for the model). */
#include "splitnn/sn-capacity.h"
#include "splitnn/sn-error.h"

#include <math.h>
#include <stdlib.h>

#define MAX_CAMERAS 100000000
#define MAX_RESAMPLED_N 4096    /* above this the CLT is safe and the draws cost too much */

/* Wichura, "Algorithm AS 241: the percentage points of the normal
 * distribution", Applied Statistics 37 (1988), PPND16.  Written out here
 * because neither libm (no erfinv) nor GLib has the inverse; inverting
 * erfc numerically would be slower and no more exact. */
double
sn_normal_quantile (double p)
{
  if (!(p > 0 && p < 1))
    return NAN;
  double q = p - 0.5, r, v;
  if (fabs (q) <= 0.425) {
    r = 0.180625 - q * q;
    return q * (((((((2.5090809287301226727e+3 * r + 3.3430575583588128105e+4) * r
                                + 6.7265770927008700853e+4) * r + 4.5921953931549871457e+4) * r
                        + 1.3731693765509461125e+4) * r + 1.9715909503065514427e+3) * r
                + 1.3314166789178437745e+2) * r + 3.3871328727963666080e+0)
        / (((((((5.2264952788528545610e+3 * r + 2.8729085735721942674e+4) * r
                                + 3.9307895800092710610e+4) * r + 2.1213794301586595867e+4) * r
                        + 5.3941960214247511077e+3) * r + 6.8718700749205790830e+2) * r
                + 4.2313330701600911252e+1) * r + 1.0);
  }
  r = sqrt (-log (q < 0 ? p : 1 - p));
  if (r <= 5) {
    r -= 1.6;
    v = (((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
                                + 2.41780725177450611770e-1) * r + 1.27045825245236838258e+0) * r
                        + 3.64784832476320460504e+0) * r + 5.76949722146069140550e+0) * r
                + 4.63033784615654529590e+0) * r + 1.42343711074968357734e+0)
        / (((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
                                + 1.51986665636164571966e-2) * r + 1.48103976427480074590e-1) * r
                        + 6.89767334985100004550e-1) * r + 1.67638483018380384940e+0) * r
                + 2.05319162663775882187e+0) * r + 1.0);
  } else {
    r -= 5;
    v = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                                + 1.24266094738807843860e-3) * r + 2.65321895265761230930e-2) * r
                        + 2.96560571828504891230e-1) * r + 1.78482653991729133580e+0) * r
                + 5.46378491116411436990e+0) * r + 6.65790464350110377720e+0)
        / (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
                                + 1.84631831751005468180e-5) * r + 7.86869131145613259100e-4) * r
                        + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r
                + 5.99832206555887937690e-1) * r + 1.0);
  }
  return q < 0 ? -v : v;
}

void
sn_stream_stats_init (SnStreamStats *s)
{
  *s = (SnStreamStats) { 0 };
  s->bytes_quantile = -1;
}

gboolean
sn_stream_stats_set_samples (SnStreamStats *s, const double *bytes, size_t n, GError **error)
{
  if (!bytes || n < 2) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "capacity: %zu per-frame sizes; need at least 2 for a variance", bytes ? n : 0);
    return FALSE;
  }
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    if (!(bytes[i] >= 0) || !isfinite (bytes[i])) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "capacity: per-frame size %zu is %g; sizes are finite and >= 0", i, bytes[i]);
      return FALSE;
    }
    sum += bytes[i];
  }
  double mean = sum / n, m2 = 0, m3 = 0;
  for (size_t i = 0; i < n; i++) {
    double d = bytes[i] - mean;
    m2 += d * d;
    m3 += d * d * d;
  }
  s->bytes_mean = mean;
  s->bytes_var = m2 / (n - 1);
  /* Moment skewness g1 = m3 / m2^1.5 (population moments). */
  s->bytes_skew = m2 > 0 ? (m3 / n) / pow (m2 / n, 1.5) : 0;
  s->samples = bytes;
  s->n_samples = n;
  return TRUE;
}

void
sn_capacity_params_init (SnCapacityParams *p)
{
  *p = (SnCapacityParams) { .p = 0.01, .utilisation = 0.8, .resample_draws = 20000, .seed = 1 };
}

static gboolean
check_inputs (const SnStreamStats *s, const SnCapacityParams *params, GError **error)
{
  const char *bad = NULL;
  if (!(params->p > 0 && params->p <= 0.5))
    bad = "p (probability of exceeding the answer) must be in (0, 0.5]";
  else if (!(params->utilisation > 0 && params->utilisation <= 1))
    bad = "utilisation must be in (0, 1]";
  else if (!(s->fps > 0) || !isfinite (s->fps))
    bad = "frame rate must be > 0";
  else if (!(s->bytes_mean > 0) || !isfinite (s->bytes_mean))
    bad = "mean bytes per frame must be > 0";
  else if (!(s->bytes_var >= 0) || !isfinite (s->bytes_var))
    bad = "variance of bytes per frame must be >= 0";
  else if (!(s->cloud_ms_mean >= 0) || !(s->cloud_ms_var >= 0))
    bad = "cloud time per frame and its variance must be >= 0";
  else if (!isfinite (s->bytes_skew))
    bad = "skewness must be finite";
  if (bad) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "capacity: %s", bad);
    return FALSE;
  }
  return TRUE;
}

/* 8 fps (n mu + z sqrt(n) sigma): the normal model's rate. */
static double
rate_normal (const SnStreamStats *s, double z, double n)
{
  return 8 * s->fps * (n * s->bytes_mean + z * sqrt (n) * sqrt (s->bytes_var));
}

static double
load_normal (const SnStreamStats *s, double z, double n)
{
  return s->fps / 1000 * (n * s->cloud_ms_mean + z * sqrt (n) * sqrt (s->cloud_ms_var));
}

/* Rounded up, but not past an exact multiple that floating point missed
 * by an ulp or two (4 / 0.8 must give 5 cores, not 6). */
static int
cores_for (double load, double utilisation)
{
  double x = load / utilisation;
  return (int) ceil (x - 1e-9 * MAX (x, 1));
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* The (1 - p) quantile of sorted v, linear between order statistics. */
static double
upper_quantile (const double *sorted, size_t n, double p)
{
  double h = (n - 1) * (1 - p);
  size_t i = (size_t) floor (h);
  if (i + 1 >= n)
    return sorted[n - 1];
  return sorted[i] + (h - i) * (sorted[i + 1] - sorted[i]);
}

gboolean
sn_capacity_for_cameras (const SnStreamStats *s, const SnCapacityParams *params, int n,
    SnCapacity *out, GError **error)
{
  if (!check_inputs (s, params, error))
    return FALSE;
  if (n < 1 || n > MAX_CAMERAS) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "capacity: %d cameras; give 1 to %d", n, MAX_CAMERAS);
    return FALSE;
  }
  double p = params->p, z = sn_normal_quantile (1 - p), sd = sqrt (s->bytes_var);
  SnCapacity c = { .n = n, .z = z };
  c.rate_mean = 8 * s->fps * n * s->bytes_mean;
  c.rate = rate_normal (s, z, n);
  c.rate_cantelli = 8 * s->fps * (n * s->bytes_mean + sqrt (n) * sd * sqrt ((1 - p) / p));
  c.rate_cornish_fisher = 8 * s->fps * (n * s->bytes_mean
      + sqrt (n) * sd * (z + s->bytes_skew / sqrt (n) * (z * z - 1) / 6));
  c.rate_resampled = NAN;
  c.rate_comonotone = s->bytes_quantile >= 0 ? 8 * s->fps * n * s->bytes_quantile : NAN;

  if (s->samples && s->n_samples >= 2) {
    double *sorted = g_memdup2 (s->samples, s->n_samples * sizeof (double));
    qsort (sorted, s->n_samples, sizeof (double), cmp_double);
    if (s->bytes_quantile < 0)
      c.rate_comonotone = 8 * s->fps * n * upper_quantile (sorted, s->n_samples, p);
    g_free (sorted);
    if (params->resample_draws > 0 && n <= MAX_RESAMPLED_N) {
      /* Sums of n independent draws (with replacement) from the samples. */
      GRand *rng = g_rand_new_with_seed (params->seed);
      double *sums = g_new (double, params->resample_draws);
      for (int d = 0; d < params->resample_draws; d++) {
        double sum = 0;
        for (int k = 0; k < n; k++)
          sum += s->samples[g_rand_int_range (rng, 0, (gint32) s->n_samples)];
        sums[d] = sum;
      }
      qsort (sums, params->resample_draws, sizeof (double), cmp_double);
      c.rate_resampled = 8 * s->fps * upper_quantile (sums, params->resample_draws, p);
      g_free (sums);
      g_rand_free (rng);
    }
  }
  double margin = c.rate - c.rate_mean;
  c.tail_heavier = c.rate_cornish_fisher > c.rate + 0.05 * MAX (margin, 0)
      || (!isnan (c.rate_resampled) && c.rate_resampled > c.rate + 0.05 * MAX (margin, 0));

  if (s->cloud_ms_mean > 0) {
    c.load = s->fps / 1000 * n * s->cloud_ms_mean;
    c.load_p = load_normal (s, z, n);
    c.cores = cores_for (c.load_p, params->utilisation);
  }
  *out = c;
  return TRUE;
}

/* Largest n with a n + b sqrt(n) <= limit (a > 0, b >= 0), from the
 * positive root of a x^2 + b x - limit in x = sqrt(n); the caller corrects
 * rounding with the exact test. */
static double
solve_n (double a, double b, double limit)
{
  if (limit <= 0)
    return 0;
  double x = (-b + sqrt (b * b + 4 * a * limit)) / (2 * a);
  return floor (x * x);
}

static gboolean
fits (const SnStreamStats *s, const SnCapacityParams *params, double z, double n, double link,
    int max_cores, gboolean use_cores)
{
  if (rate_normal (s, z, n) > link)
    return FALSE;
  return !use_cores || cores_for (load_normal (s, z, n), params->utilisation) <= max_cores;
}

gboolean
sn_capacity_max_cameras (const SnStreamStats *s, const SnCapacityParams *params,
    double link_bps, double cores, int *n_out, const char **limit, GError **error)
{
  if (!check_inputs (s, params, error))
    return FALSE;
  if (!(link_bps > 0) || !isfinite (link_bps)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "capacity: link rate %g bit/s; it must be > 0", link_bps);
    return FALSE;
  }
  double z = sn_normal_quantile (1 - params->p);
  gboolean use_cores = cores > 0 && s->cloud_ms_mean > 0;
  int max_cores = use_cores ? (int) MIN (floor (cores), G_MAXINT) : 0;
  double n_link = solve_n (8 * s->fps * s->bytes_mean, 8 * s->fps * z * sqrt (s->bytes_var),
      link_bps);
  double n_cores = use_cores ? solve_n (s->fps / 1000 * s->cloud_ms_mean,
      s->fps / 1000 * z * sqrt (s->cloud_ms_var), max_cores * params->utilisation) : INFINITY;
  double n = MIN (MIN (n_link, n_cores), MAX_CAMERAS);
  /* The closed form is off by one at most after rounding; settle it with
   * the same test sn_capacity_for_cameras answers by. */
  while (n > 0 && !fits (s, params, z, n, link_bps, max_cores, use_cores))
    n--;
  while (n < MAX_CAMERAS && fits (s, params, z, n + 1, link_bps, max_cores, use_cores))
    n++;
  *n_out = (int) n;
  if (limit)
    *limit = use_cores && n < MAX_CAMERAS && rate_normal (s, z, n + 1) <= link_bps ? "cores" : "link";
  return TRUE;
}
