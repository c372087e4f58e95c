/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — split planner (see sn-planner.h for the model it follows). */
#include "splitnn/sn-planner.h"

#include <math.h>
#include <string.h>

typedef struct {
  char *name;
  double edge_ms, cloud_ms, bytes, fidelity, cloud_flops;
  int edge_samples, cloud_samples;  /* samples seen since the option last started */
  gboolean disabled;
  SnOptionKind kind;
  gboolean prior_exact;       /* never scaled by prior_scale */
  double edge_prior, bytes_prior;
  int edge_measured, bytes_measured, cloud_measured;  /* samples taken into the estimates */
} Option;

struct SnPlanner {
  Option *options;
  int n_options;
  SnObjective objective;
  double latency_budget_ms;
  double fidelity_floor;
  double hysteresis;
  int min_dwell;
  int warmup;
  double alpha;
  double frame_interval_ms;
  double bandwidth_bps;
  double rtt_ms;
  double cloud_ms_per_flop;   /* 0: use the cloud_ms priors */
  double cloud_overhead_ms;
  gboolean edge_overloaded;   /* QoS said the edge is late */
  gboolean bandwidth_changed;
  gboolean learn_priors;
  int current;
  int frames_on_current;
};

SnPlanner *
sn_planner_new (const SnOptionPrior *options, int n_options)
{
  g_return_val_if_fail (n_options > 0, NULL);
  SnPlanner *p = g_new0 (SnPlanner, 1);
  p->options = g_new0 (Option, n_options);
  p->n_options = n_options;
  for (int i = 0; i < n_options; i++) {
    p->options[i].name = g_strdup (options[i].name);
    p->options[i].edge_ms = MAX (options[i].edge_ms, 0);
    p->options[i].cloud_ms = MAX (options[i].cloud_ms, 0);
    p->options[i].bytes = MAX (options[i].bytes, 0);
    p->options[i].fidelity = options[i].fidelity;
    p->options[i].cloud_flops = MAX (options[i].cloud_flops, 0);
    p->options[i].edge_prior = p->options[i].edge_ms;
    p->options[i].bytes_prior = p->options[i].bytes;
  }
  p->objective = SN_OBJECTIVE_LATENCY;
  p->fidelity_floor = -1;
  p->hysteresis = 0.10;
  p->min_dwell = 15;
  p->warmup = 2;
  p->alpha = 0.2;
  p->bandwidth_bps = 100e6;
  p->current = -1;
  return p;
}

void
sn_planner_free (SnPlanner *p)
{
  if (!p)
    return;
  for (int i = 0; i < p->n_options; i++)
    g_free (p->options[i].name);
  g_free (p->options);
  g_free (p);
}

void sn_planner_set_objective (SnPlanner *p, SnObjective o) { p->objective = o; }
void sn_planner_set_latency_budget (SnPlanner *p, double ms) { p->latency_budget_ms = ms; }
void sn_planner_set_fidelity_floor (SnPlanner *p, double f) { p->fidelity_floor = f; }
void sn_planner_set_hysteresis (SnPlanner *p, double h) { p->hysteresis = MAX (h, 0); }
void sn_planner_set_min_dwell (SnPlanner *p, int frames) { p->min_dwell = MAX (frames, 0); }
void sn_planner_set_warmup (SnPlanner *p, int frames) { p->warmup = MAX (frames, 0); }
void sn_planner_set_smoothing (SnPlanner *p, double a) { p->alpha = CLAMP (a, 0.01, 1.0); }
void sn_planner_set_frame_interval (SnPlanner *p, double ms) { p->frame_interval_ms = ms; }
void sn_planner_set_rtt (SnPlanner *p, double ms) { p->rtt_ms = MAX (ms, 0); }
void sn_planner_set_learn_priors (SnPlanner *p, gboolean learn) { p->learn_priors = learn; }

void
sn_planner_set_fidelity (SnPlanner *p, int option, double fidelity)
{
  g_return_if_fail (option >= 0 && option < p->n_options);
  p->options[option].fidelity = fidelity;
}

double
sn_planner_fidelity (const SnPlanner *p, int option)
{
  g_return_val_if_fail (option >= 0 && option < p->n_options, -1);
  return p->options[option].fidelity;
}

void
sn_planner_set_enabled (SnPlanner *p, int option, gboolean enabled)
{
  g_return_if_fail (option >= 0 && option < p->n_options);
  p->options[option].disabled = !enabled;
}

void
sn_planner_set_prior_exact (SnPlanner *p, int option, gboolean exact)
{
  g_return_if_fail (option >= 0 && option < p->n_options);
  p->options[option].prior_exact = exact;
}

void
sn_planner_set_cloud_speed (SnPlanner *p, double ms_per_flop, double overhead_ms)
{
  p->cloud_ms_per_flop = MAX (ms_per_flop, 0);
  p->cloud_overhead_ms = MAX (overhead_ms, 0);
}
int sn_planner_n_options (const SnPlanner *p) { return p->n_options; }
double sn_planner_bandwidth (const SnPlanner *p) { return p->bandwidth_bps; }

const char *
sn_planner_option_name (const SnPlanner *p, int option)
{
  g_return_val_if_fail (option >= 0 && option < p->n_options, NULL);
  return p->options[option].name;
}

/* The first sample replaces a missing prior outright; later ones blend. */
static void
blend (double *estimate, double sample, double alpha, gboolean have_prior)
{
  *estimate = have_prior ? (1 - alpha) * *estimate + alpha * sample : sample;
}

void
sn_planner_observe_edge (SnPlanner *p, int option, double ms)
{
  g_return_if_fail (option >= 0 && option < p->n_options);
  Option *x = &p->options[option];
  /* The first runs of an option pay for cold caches and first-use setup. */
  if (x->edge_samples++ < p->warmup && x->edge_ms > 0)
    return;
  /* Learning priors: a measurement beats a guess outright. */
  blend (&x->edge_ms, ms, p->alpha, x->edge_ms > 0 && !(p->learn_priors && x->edge_measured == 0));
  x->edge_measured++;
}

void
sn_planner_observe_bytes (SnPlanner *p, int option, double bytes)
{
  g_return_if_fail (option >= 0 && option < p->n_options);
  Option *x = &p->options[option];
  blend (&x->bytes, bytes, p->alpha, x->bytes > 0 && !(p->learn_priors && x->bytes_measured == 0));
  x->bytes_measured++;
}

/* How far measurements are from their priors, over the measured options
 * (geometric mean of estimate / prior); 1 with none. */
static double
prior_scale (const SnPlanner *p, gboolean bytes)
{
  double log_sum = 0;
  int n = 0;
  for (int i = 0; i < p->n_options; i++) {
    const Option *x = &p->options[i];
    double prior = bytes ? x->bytes_prior : x->edge_prior;
    double est = bytes ? x->bytes : x->edge_ms;
    if ((bytes ? x->bytes_measured : x->edge_measured) > 0 && prior > 0 && est > 0) {
      log_sum += log (est / prior);
      n++;
    }
  }
  return n ? exp (log_sum / n) : 1.0;
}

/* The cloud time an option predicts: its measurements once there are any,
 * else the cloud's reported speed times the option's cloud work, else the
 * prior. */
static double
cloud_estimate (const SnPlanner *p, const Option *x)
{
  if (x->cloud_measured == 0 && p->cloud_ms_per_flop > 0)
    return p->cloud_overhead_ms + x->cloud_flops * p->cloud_ms_per_flop;
  return x->cloud_ms;
}

void
sn_planner_observe_cloud (SnPlanner *p, int option, double ms)
{
  g_return_if_fail (option >= 0 && option < p->n_options);
  Option *x = &p->options[option];
  double current = cloud_estimate (p, x);
  /* The cloud's first frames of an option pay for cold caches too. */
  if (x->cloud_samples++ < p->warmup && current > 0)
    return;
  x->cloud_ms = current;
  blend (&x->cloud_ms, ms, p->alpha, current > 0 && !(p->learn_priors && x->cloud_measured == 0));
  x->cloud_measured++;
}

void
sn_planner_set_bandwidth (SnPlanner *p, double bps)
{
  if (bps <= 0)
    return;
  /* Only a real change (over a quarter) reopens the decision early. */
  if (fabs (bps - p->bandwidth_bps) > 0.25 * p->bandwidth_bps)
    p->bandwidth_changed = TRUE;
  p->bandwidth_bps = bps;
}

void
sn_planner_observe_qos (SnPlanner *p, double proportion)
{
  if (proportion <= 1.0 || p->current < 0)
    return;
  Option *x = &p->options[p->current];
  x->edge_ms = MAX (x->edge_ms, 1e-3) * proportion;
  p->edge_overloaded = TRUE;
}

void
sn_planner_predict (const SnPlanner *p, int option, SnOptionPrediction *o)
{
  const Option *x = &p->options[option];
  memset (o, 0, sizeof *o);
  o->option = option;
  o->edge_ms = x->edge_ms;
  o->cloud_ms = cloud_estimate (p, x);
  o->bytes = x->bytes;
  /* Priors off by a common factor (a slower machine, a codec that
   * compresses less than assumed) are corrected by what the measured
   * options say; without it every unmeasured option looks better than the
   * measured ones and the planner tries them all, one dwell each. */
  if (p->learn_priors && !x->prior_exact && x->bytes_measured == 0)
    o->bytes *= prior_scale (p, TRUE);
  if (p->learn_priors && !x->prior_exact && x->edge_measured == 0)
    o->edge_ms *= prior_scale (p, FALSE);
  o->link_ms = o->bytes * 8.0 / p->bandwidth_bps * 1000.0;
  o->latency_ms = o->edge_ms + o->link_ms + p->rtt_ms / 2 + o->cloud_ms;
  double slowest = MAX (o->edge_ms, MAX (o->link_ms, o->cloud_ms));
  o->fps = slowest > 0 ? 1000.0 / slowest : INFINITY;
  o->feasible = !x->disabled;
  if (p->fidelity_floor >= 0 && x->fidelity >= 0 && x->fidelity < p->fidelity_floor)
    o->feasible = FALSE;
  if (p->objective == SN_OBJECTIVE_BYTES && p->latency_budget_ms > 0
      && o->latency_ms > p->latency_budget_ms)
    o->feasible = FALSE;
  /* Once QoS has said the edge is late, an option that cannot keep the frame
   * rate on the edge is not a candidate. */
  if (p->edge_overloaded && p->frame_interval_ms > 0 && o->edge_ms > p->frame_interval_ms)
    o->feasible = FALSE;
}

/* Lower is better. */
static double
score (const SnPlanner *p, const SnOptionPrediction *o)
{
  switch (p->objective) {
    case SN_OBJECTIVE_THROUGHPUT:
      return 1000.0 / o->fps;   /* the slowest stage, in ms */
    case SN_OBJECTIVE_BYTES:
      return o->bytes;
    default:
      return o->latency_ms;
  }
}

static int
compare_predictions (const SnPlanner *p, const SnOptionPrediction *a, const SnOptionPrediction *b)
{
  if (a->feasible != b->feasible)
    return a->feasible ? -1 : 1;
  double sa = score (p, a), sb = score (p, b);
  if (sa != sb)
    return sa < sb ? -1 : 1;
  /* Ties: lower latency, then lower index (stable). */
  if (a->latency_ms != b->latency_ms)
    return a->latency_ms < b->latency_ms ? -1 : 1;
  return a->option - b->option;
}

int
sn_planner_rank (const SnPlanner *p, SnOptionPrediction *out, int max)
{
  int n = MIN (max, p->n_options);
  g_autofree SnOptionPrediction *all = g_new (SnOptionPrediction, p->n_options);
  for (int i = 0; i < p->n_options; i++)
    sn_planner_predict (p, i, &all[i]);
  /* Insertion sort: a handful of options. */
  for (int i = 1; i < p->n_options; i++)
    for (int k = i; k > 0 && compare_predictions (p, &all[k], &all[k - 1]) < 0; k--) {
      SnOptionPrediction t = all[k];
      all[k] = all[k - 1];
      all[k - 1] = t;
    }
  memcpy (out, all, n * sizeof *out);
  return n;
}

/* The option runs from the next frame: its warm-up and dwell start over. */
static void
start_option (SnPlanner *p, int option)
{
  p->current = option;
  p->frames_on_current = 0;
  p->options[option].edge_samples = 0;
  p->options[option].cloud_samples = 0;
  p->bandwidth_changed = FALSE;
  p->edge_overloaded = FALSE;
}

int
sn_planner_decide (SnPlanner *p, SnPlanDecision *d)
{
  SnOptionPrediction best;
  sn_planner_rank (p, &best, 1);
  SnPlanDecision local;
  if (!d)
    d = &local;
  memset (d, 0, sizeof *d);
  d->previous = p->current;
  d->new_prediction = best;

  if (p->current < 0) {
    d->reason = "initial";
    d->chosen = best.option;
  } else {
    SnOptionPrediction cur;
    sn_planner_predict (p, p->current, &cur);
    d->old_prediction = cur;
    double s_cur = score (p, &cur), s_best = score (p, &best);
    gboolean dwell_over = p->frames_on_current >= p->min_dwell;
    if (best.option == p->current) {
      d->chosen = p->current;
    } else if (!cur.feasible && best.feasible) {
      /* The current option broke a hard limit: leave it now. */
      d->chosen = best.option;
      d->reason = p->edge_overloaded ? "qos" : "infeasible";
    } else if (dwell_over && s_best < s_cur * (1.0 - p->hysteresis)) {
      d->chosen = best.option;
      d->reason = p->bandwidth_changed ? "bandwidth" : "better";
    } else {
      d->chosen = p->current;
    }
  }
  d->changed = d->chosen != p->current;
  if (d->changed) {
    if (d->previous >= 0)
      sn_planner_predict (p, d->chosen, &d->new_prediction);
    start_option (p, d->chosen);
  } else {
    d->new_prediction = d->old_prediction;
    if (!d->reason)
      d->reason = "kept";
  }
  p->frames_on_current++;
  return d->chosen;
}

void
sn_planner_set_kind (SnPlanner *p, int option, SnOptionKind kind)
{
  g_return_if_fail (option >= 0 && option < p->n_options);
  p->options[option].kind = kind;
}

SnOptionKind
sn_planner_kind (const SnPlanner *p, int option)
{
  g_return_val_if_fail (option >= 0 && option < p->n_options, SN_OPTION_CUT);
  return p->options[option].kind;
}

void
sn_planner_observe_edge_warm (SnPlanner *p, int option, double ms)
{
  g_return_if_fail (option >= 0 && option < p->n_options);
  Option *x = &p->options[option];
  blend (&x->edge_ms, ms, p->alpha, x->edge_ms > 0 && !(p->learn_priors && x->edge_measured == 0));
  x->edge_measured++;
}

int
sn_planner_frontier (const SnPlanner *p, gboolean *on_frontier)
{
  g_autofree SnOptionPrediction *o = g_new (SnOptionPrediction, p->n_options);
  for (int i = 0; i < p->n_options; i++)
    sn_planner_predict (p, i, &o[i]);
  int kept = 0;
  for (int i = 0; i < p->n_options; i++) {
    double fi = MAX (p->options[i].fidelity, 0);
    gboolean beaten = !o[i].feasible;
    for (int j = 0; j < p->n_options && !beaten; j++) {
      if (j == i || !o[j].feasible)
        continue;
      double fj = MAX (p->options[j].fidelity, 0);
      if (o[j].bytes <= o[i].bytes && fj >= fi && o[j].latency_ms <= o[i].latency_ms
          && (o[j].bytes < o[i].bytes || fj > fi || o[j].latency_ms < o[i].latency_ms))
        beaten = TRUE;
    }
    on_frontier[i] = !beaten;
    kept += !beaten;
  }
  return kept;
}

static const char *
objective_words (SnObjective o)
{
  switch (o) {
    case SN_OBJECTIVE_THROUGHPUT: return "the highest throughput";
    case SN_OBJECTIVE_BYTES: return "the fewest bytes within the latency budget";
    default: return "the lowest latency";
  }
}

/* "edge 201.8 ms", the stage that bounds an option's throughput. */
static void
append_slowest (GString *s, const SnOptionPrediction *o)
{
  const char *stage = "edge";
  double ms = o->edge_ms;
  if (o->link_ms > ms) {
    stage = "link";
    ms = o->link_ms;
  }
  if (o->cloud_ms > ms) {
    stage = "cloud";
    ms = o->cloud_ms;
  }
  g_string_append_printf (s, "%s %.1f ms", stage, ms);
}

static void
append_figures (const SnPlanner *p, GString *s, const SnOptionPrediction *o)
{
  double f = p->options[o->option].fidelity;
  g_string_append_printf (s, "%.1f ms latency, %.1f fps, %.0f bytes, fidelity ", o->latency_ms,
      o->fps, o->bytes);
  if (f >= 0)
    g_string_append_printf (s, "%.1f", f);
  else
    g_string_append (s, "unknown");
}

char *
sn_planner_explain (const SnPlanner *p, const SnOptionPrediction *rank, int n)
{
  GString *s = g_string_new (NULL);
  if (n <= 0)
    return g_string_free (s, FALSE);
  const SnOptionPrediction *w = &rank[0];
  int n_floor = 0;
  for (int i = 0; i < n; i++)
    if (!rank[i].feasible)
      n_floor++;
  if (!w->feasible) {
    g_string_append_printf (s, "No option is feasible; %s is the least bad: ",
        p->options[w->option].name);
    append_figures (p, s, w);
    g_string_append (s, ".");
    return g_string_free (s, FALSE);
  }
  g_string_append_printf (s, "%s wins with %s at %.0f kbit/s (", p->options[w->option].name,
      objective_words (p->objective), p->bandwidth_bps / 1000);
  append_figures (p, s, w);
  g_string_append (s, "; bounded by ");
  append_slowest (s, w);
  g_string_append (s, ").");
  if (n > 1 && rank[1].feasible) {
    double a = score (p, w), b = score (p, &rank[1]);
    g_string_append_printf (s, " Next: %s, %.2fx worse (", p->options[rank[1].option].name,
        a > 0 ? b / a : 1);
    append_figures (p, s, &rank[1]);
    g_string_append (s, ").");
  }
  /* The best of each other kind, and what held it back. */
  for (int kind = SN_OPTION_CUT; kind <= SN_OPTION_CLOUD_ONLY; kind++) {
    if (kind == (int) p->options[w->option].kind)
      continue;
    for (int i = 1; i < n; i++) {
      const SnOptionPrediction *o = &rank[i];
      if ((int) p->options[o->option].kind != kind)
        continue;
      g_string_append_printf (s, " Best %s: %s, ", kind == SN_OPTION_CUT ? "feature cut"
          : sn_option_kind_name (kind), p->options[o->option].name);
      if (!o->feasible) {
        g_string_append (s, "infeasible (");
        append_figures (p, s, o);
        g_string_append (s, ").");
      } else {
        double a = score (p, w);
        g_string_append_printf (s, "%.2fx worse, bounded by ", a > 0 ? score (p, o) / a : 1);
        append_slowest (s, o);
        g_string_append (s, ".");
      }
      break;
    }
  }
  if (p->fidelity_floor >= 0 && n_floor > 0)
    g_string_append_printf (s, " %d of %d options are infeasible (fidelity floor %.1f, budgets).",
        n_floor, n, p->fidelity_floor);
  return g_string_free (s, FALSE);
}

/* Is cut i beaten, for a cloud faster (sign 1) or slower (sign -1) than
 * the edge, by a cut with no more bytes and no more (sign 1) or no less
 * (sign -1) edge work? */
static gboolean
dominated (int n, const double *work, const double *bytes, int i, int sign)
{
  for (int j = 0; j < n; j++) {
    if (j == i || bytes[j] <= 0 || bytes[j] > bytes[i])
      continue;
    /* Work figures of the same layers summed in another order may differ
     * in the last bits. */
    double d = sign * (work[j] - work[i]);
    double tol = 1e-9 * MAX (fabs (work[i]), fabs (work[j]));
    if (d > tol)
      continue;
    if (bytes[j] < bytes[i] || d < -tol || j < i)
      return TRUE;
  }
  return FALSE;
}

int
sn_plan_frontier (int n, const double *edge_work, const double *bytes, gboolean *keep)
{
  int kept = 0;
  for (int i = 0; i < n; i++) {
    keep[i] = bytes[i] <= 0 || !dominated (n, edge_work, bytes, i, 1)
        || !dominated (n, edge_work, bytes, i, -1);
    kept += keep[i];
  }
  return kept;
}

double
sn_planner_hysteresis (const SnPlanner *p)
{
  return p->hysteresis;
}

double
sn_planner_score (const SnPlanner *p, const SnOptionPrediction *o)
{
  return score (p, o);
}

int
sn_planner_switch (SnPlanner *p, int option, const char *reason, SnPlanDecision *d)
{
  g_return_val_if_fail (option >= 0 && option < p->n_options, p->current);
  SnPlanDecision local;
  if (!d)
    d = &local;
  memset (d, 0, sizeof *d);
  d->previous = p->current;
  d->chosen = option;
  d->reason = reason;
  if (p->current >= 0)
    sn_planner_predict (p, p->current, &d->old_prediction);
  sn_planner_predict (p, option, &d->new_prediction);
  d->changed = option != p->current;
  if (d->changed)
    start_option (p, option);
  p->frames_on_current++;
  return option;
}
