/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the auto-split controller (see sn-controller.h for what it is
 * fed and how). */
#include "splitnn/sn-controller.h"

#include <math.h>
#include <string.h>

#include "splitnn/sn-fidelity.h"

/* The cloud's whole-network estimate learns from frames whose cloud part
 * is at least this share of the network (smaller parts say little about
 * it), once the option has been reported this many times (the first runs
 * are cold), with this weight. */
#define WHOLE_MIN_SHARE 0.25
#define WHOLE_WARMUP 2
#define WHOLE_ALPHA 0.1
/* Weight of a new sample of the cloud's time outside the network. */
#define OVERHEAD_ALPHA 0.2
/* Exploration (sn_controller_set_exploration): the defaults, and how many
 * times the frames an exploration waits at most for the cloud's reports
 * (more than the planner's warm-up of 2, so that one is measured). */
#define EXPLORE_FRAMES 8
#define EXPLORE_INTERVAL 300
#define EXPLORE_MAX_FACTOR 4
#define EXPLORE_MIN_REPORTS 3

struct SnController {
  SnPlanner *planner;
  SnControllerOption *options;        /* names owned */
  int n;
  double model_flops;

  /* Settings. */
  double fixed_bps;                   /* 0: the observed link */
  double cloud_speedup;

  /* Fidelity and candidates. */
  gboolean fidelity_looked_up;        /* fidelity_cfg is valid */
  SnFeatureConfig fidelity_cfg;
  double floor;                       /* < 0: off */
  double *first_bytes;                /* per option, from the first frame; NULL before */
  gboolean first_frame_seen;
  gboolean *candidate;                /* per option */
  gboolean candidates_set;

  /* The cloud. */
  gboolean cloud_speed_known;
  double cloud_whole_ms;              /* 0: no estimate */
  double reported_whole_ms;           /* the last whole-ms a report carried */
  double cloud_overhead_ms;
  guint *cloud_runs;                  /* per option: reports counted towards the whole estimate */

  /* Observations waiting for the next decision. */
  double pending_bps;                 /* 0: none */
  double pending_rtt_ms;              /* < 0: none */
  double pending_qos;                 /* worst proportion; 0: none */
  double last_qos;                    /* taken into the planner, for the decision */
  GArray *pending_reports;            /* SnCloudReport */
  int reports_taken;                  /* since the last decision */

  /* What limits an exploration (kept here too: the planner does not say). */
  double latency_budget_ms;           /* <= 0: none */
  double frame_interval_ms;           /* <= 0: unknown */

  /* Exploration. */
  int explore_frames;                 /* 0: off */
  int explore_interval;
  gint64 decisions;                   /* made so far */
  gint64 *last_run;                   /* per option: the decision it last ran at; -1: never */
  int current;                        /* -1 before the first decision */
  int frames_on_current;
  int exploring;                      /* the option being explored; -1: none */
  int explore_from;                   /* the option it left */
  int explore_done;                   /* frames run in it so far */
  int explore_reports;                /* the cloud's reports of it taken so far */
};

/* Reports waiting for the next decision; more than this between two
 * decisions means something is wrong with whoever sends them, and the
 * oldest are enough. */
#define MAX_PENDING_REPORTS 256

SnControllerOption *
sn_controller_cut_options (const SnCutSet *cuts, double model_flops, int bits, int *n_options)
{
  int n = sn_cut_set_n_cuts (cuts);
  double ms_per_flop = SN_CONTROLLER_PRIOR_WHOLE_MS / MAX (model_flops, 1);
  SnControllerOption *o = g_new0 (SnControllerOption, MAX (n, 1));
  for (int i = 0; i < n; i++) {
    const SnCut *c = sn_cut_set_get (cuts, i);
    o[i] = (SnControllerOption) { .name = c->name, .cut = (int) c->id,
      .edge_flops = c->edge_flops, .cloud_flops = c->cloud_flops,
      .edge_ms = c->edge_flops * ms_per_flop, .cloud_ms = c->cloud_flops * ms_per_flop,
      .bytes = sn_cut_bytes (c, bits) * SN_CONTROLLER_PRIOR_BYTES_RATIO, .fidelity = -1 };
  }
  *n_options = n;
  return o;
}

SnControllerOption *
sn_controller_baseline_options (double model_flops, const SnOptionMeasure *measures,
    int n_measures, int *n_options)
{
  static const SnOptionMeasure defaults[] = { SN_CONTROLLER_DEFAULT_BASELINES };
  int n_base = 0;
  for (int i = 0; measures && i < n_measures; i++)
    n_base += measures[i].option.kind != SN_OPTION_CUT;
  if (n_base == 0) {
    measures = defaults;
    n_measures = G_N_ELEMENTS (defaults);
  }
  double ms_per_flop = SN_CONTROLLER_PRIOR_WHOLE_MS / MAX (model_flops, 1);
  SnControllerOption *o = g_new0 (SnControllerOption, n_measures);
  int n = 0;
  for (int i = 0; i < n_measures; i++) {
    const SnOptionMeasure *m = &measures[i];
    if (m->option.kind == SN_OPTION_CUT)
      continue;
    gboolean edge_only = m->option.kind == SN_OPTION_EDGE_ONLY;
    o[n++] = (SnControllerOption) { .name = sn_option_label (&m->option), .cut = -1,
      .kind = m->option.kind, .frame_codec = m->option.frame_codec, .quality = m->option.quality,
      .edge_flops = edge_only ? model_flops : 0, .cloud_flops = edge_only ? 0 : model_flops,
      .edge_ms = edge_only ? SN_CONTROLLER_PRIOR_WHOLE_MS : MAX (m->code_ms / 2, 0.1),
      .cloud_ms = edge_only ? 0.1 : model_flops * ms_per_flop,
      .bytes = m->bytes, .fidelity = m->fidelity };
  }
  *n_options = n;
  return o;
}

void
sn_controller_options_free (SnControllerOption *options, int n)
{
  for (int i = 0; options && i < n; i++)
    g_free ((char *) options[i].name);
  g_free (options);
}

SnController *
sn_controller_new (const SnControllerOption *options, int n, double model_flops)
{
  g_return_val_if_fail (options && n > 0, NULL);
  SnController *c = g_new0 (SnController, 1);
  c->n = n;
  c->model_flops = model_flops;
  c->options = g_memdup2 (options, n * sizeof *options);
  g_autofree SnOptionPrior *priors = g_new0 (SnOptionPrior, n);
  for (int i = 0; i < n; i++) {
    c->options[i].name = g_strdup (options[i].name);
    priors[i] = (SnOptionPrior) { .name = options[i].name, .edge_ms = options[i].edge_ms,
      .cloud_ms = options[i].cloud_ms, .bytes = options[i].bytes,
      .fidelity = options[i].fidelity, .cloud_flops = options[i].cloud_flops };
  }
  c->planner = sn_planner_new (priors, n);
  /* The priors of options that are not cuts (a result's size, a JPEG's)
   * are no guesses on the cuts' scale: what the cuts' measurements teach
   * does not apply to them. */
  for (int i = 0; i < n; i++) {
    sn_planner_set_prior_exact (c->planner, i, options[i].cut < 0);
    sn_planner_set_kind (c->planner, i, options[i].kind);
  }
  /* The priors are rough (a fixed speed, a fixed compression ratio); let
   * each measurement correct the ones not measured yet.  With a measured
   * profile nothing changes until something is observed. */
  sn_planner_set_learn_priors (c->planner, TRUE);
  c->candidate = g_new (gboolean, n);
  for (int i = 0; i < n; i++)
    c->candidate[i] = TRUE;
  c->cloud_runs = g_new0 (guint, n);
  c->cloud_speedup = 1;
  c->floor = -1;
  c->pending_rtt_ms = -1;
  c->pending_reports = g_array_new (FALSE, FALSE, sizeof (SnCloudReport));
  c->explore_frames = EXPLORE_FRAMES;
  c->explore_interval = EXPLORE_INTERVAL;
  c->last_run = g_new (gint64, n);
  for (int i = 0; i < n; i++)
    c->last_run[i] = -1;
  c->current = -1;
  c->exploring = -1;
  return c;
}

void
sn_controller_free (SnController *c)
{
  if (!c)
    return;
  for (int i = 0; i < c->n; i++)
    g_free ((char *) c->options[i].name);
  g_free (c->options);
  sn_planner_free (c->planner);
  g_free (c->first_bytes);
  g_free (c->candidate);
  g_free (c->cloud_runs);
  g_free (c->last_run);
  g_array_unref (c->pending_reports);
  g_free (c);
}

int sn_controller_n_options (const SnController *c) { return c->n; }
double sn_controller_bandwidth (const SnController *c) { return sn_planner_bandwidth (c->planner); }
double sn_controller_cloud_whole_ms (const SnController *c) { return c->cloud_whole_ms; }
gboolean sn_controller_first_frame_seen (const SnController *c) { return c->first_frame_seen; }

const SnControllerOption *
sn_controller_option (const SnController *c, int option)
{
  g_return_val_if_fail (option >= 0 && option < c->n, NULL);
  return &c->options[option];
}

int
sn_controller_find_cut (const SnController *c, int cut)
{
  for (int i = 0; cut >= 0 && i < c->n; i++)
    if (c->options[i].cut == cut)
      return i;
  return -1;
}

void sn_controller_set_objective (SnController *c, SnObjective o) { sn_planner_set_objective (c->planner, o); }
void
sn_controller_set_latency_budget (SnController *c, double ms)
{
  c->latency_budget_ms = ms;
  sn_planner_set_latency_budget (c->planner, ms);
}
void sn_controller_set_bandwidth (SnController *c, double bps) { c->fixed_bps = MAX (bps, 0); }
void sn_controller_set_rtt (SnController *c, double ms) { sn_planner_set_rtt (c->planner, ms); }

void
sn_controller_set_cloud_speedup (SnController *c, double times)
{
  c->cloud_speedup = times > 0 ? times : 1;
}

void
sn_controller_set_frame_rate (SnController *c, int fps_n, int fps_d)
{
  c->frame_interval_ms = fps_n > 0 && fps_d > 0 ? 1000.0 * fps_d / fps_n : 0;
  sn_planner_set_frame_interval (c->planner, c->frame_interval_ms);
}

void
sn_controller_set_exploration (SnController *c, int frames, int interval)
{
  c->explore_frames = MAX (frames, 0);
  c->explore_interval = MAX (interval, 0);
  if (c->explore_frames == 0)
    c->exploring = -1;
}

SnPlanner *
sn_controller_planner (SnController *c)
{
  return c->planner;
}

double
sn_controller_fidelity (const SnController *c, int option)
{
  return sn_planner_fidelity (c->planner, option);
}

gboolean
sn_controller_below_floor (const SnController *c, int option)
{
  double f = sn_planner_fidelity (c->planner, option);
  return c->floor >= 0 && f >= 0 && f < c->floor;
}

gboolean
sn_controller_is_candidate (const SnController *c, int option)
{
  g_return_val_if_fail (option >= 0 && option < c->n, FALSE);
  return c->candidate[option];
}

/* Only options that can be the best for some edge speed, cloud speed and
 * bandwidth stay candidates (sn_plan_frontier): on the detector at 8 bits
 * 5 of 49 cuts, so the planner never tries a cut that another beats on
 * edge work and bytes at once.  Options under the floor are no candidates
 * and beat none: a cut they alone dominate may be the best one left.
 * Options without first-frame bytes (not cuts, or not measured) get no
 * verdict. */
static guint
restrict_to_frontier (SnController *c)
{
  int n = c->n, n_below = 0;
  guint news = SN_CONTROLLER_CANDIDATES_CHANGED;
  g_autofree double *work = g_new (double, n);
  g_autofree double *bytes = g_new (double, n);
  for (int i = 0; i < n; i++) {
    work[i] = c->options[i].edge_flops;
    n_below += sn_controller_below_floor (c, i);
  }
  /* All infeasible: the planner ranks them by its objective alone. */
  gboolean all_below = n_below == n;
  if (all_below)
    news |= SN_CONTROLLER_ALL_UNDER_FLOOR;
  for (int i = 0; i < n; i++)
    bytes[i] = !all_below && sn_controller_below_floor (c, i) ? 0 : c->first_bytes[i];
  sn_plan_frontier (n, work, bytes, c->candidate);
  for (int i = 0; i < n; i++) {
    c->candidate[i] = c->candidate[i] && (all_below || !sn_controller_below_floor (c, i));
    sn_planner_set_enabled (c->planner, i, c->candidate[i]);
  }
  c->candidates_set = TRUE;
  return news;
}

guint
sn_controller_set_fidelity (SnController *c, const double *fidelity, double floor)
{
  int known = 0;
  for (int i = 0; i < c->n; i++) {
    if (fidelity)
      sn_planner_set_fidelity (c->planner, i, fidelity[i]);
    known += sn_planner_fidelity (c->planner, i) >= 0;
  }
  c->floor = floor < 0 ? -1 : floor;
  sn_planner_set_fidelity_floor (c->planner, c->floor);
  guint news = SN_CONTROLLER_FIDELITY_CHANGED;
  if (c->floor >= 0 && known == 0)
    news |= SN_CONTROLLER_FLOOR_EXCLUDES_NOTHING;
  if (c->first_bytes)
    news |= restrict_to_frontier (c);
  return news;
}

guint
sn_controller_update_fidelity (SnController *c, const SnModel *model, const SnFeatureConfig *cfg,
    double floor)
{
  const SnFeatureConfig *o = &c->fidelity_cfg;
  floor = floor < 0 ? -1 : floor;
  /* The properties may change while playing; look up only when they did. */
  if (c->fidelity_looked_up && o->bits == cfg->bits && o->codec == cfg->codec
      && o->per_channel == cfg->per_channel && o->clip == cfg->clip && o->range == cfg->range
      && o->path == cfg->path && c->floor == floor)
    return 0;
  g_autofree double *f = g_new (double, c->n);
  for (int i = 0; i < c->n; i++)
    f[i] = c->options[i].cut >= 0 ? sn_model_fidelity (model, c->options[i].cut, cfg)
        : c->options[i].fidelity;
  c->fidelity_cfg = *cfg;
  c->fidelity_looked_up = TRUE;
  return sn_controller_set_fidelity (c, f, floor);
}

guint
sn_controller_observe_first_frame (SnController *c, const double *bytes, int n_cuts, double whole_ms)
{
  c->first_frame_seen = TRUE;
  if (!bytes)
    return 0;
  g_free (c->first_bytes);
  c->first_bytes = g_new0 (double, c->n);
  for (int i = 0; i < c->n; i++) {
    int cut = c->options[i].cut;
    if (cut >= 0 && cut < n_cuts && bytes[cut] > 0) {
      c->first_bytes[i] = bytes[cut];
      sn_planner_observe_bytes (c->planner, i, bytes[cut]);
    }
  }
  /* Until the cloud reports its speed, guess it from the speed this
   * machine just ran the whole network at and the cloud-speed setting.
   * (A fixed 40 ms prior was far off on a slow or busy box, and sent all
   * the work to a cloud that could not keep up.) */
  if (!c->cloud_speed_known && whole_ms > 0 && c->model_flops > 0)
    sn_planner_set_cloud_speed (c->planner, whole_ms / c->model_flops / c->cloud_speedup, 0);
  /* Edge-only runs the whole network here: what was just timed is its
   * edge time, a measurement, which (as any) also rescales the edge priors
   * of the cuts not run yet, so that both stand on the same footing. */
  for (int i = 0; i < c->n && whole_ms > 0; i++)
    if (c->options[i].kind == SN_OPTION_EDGE_ONLY)
      sn_planner_observe_edge_warm (c->planner, i, whole_ms);
  return restrict_to_frontier (c);
}

void
sn_controller_observe_frame (SnController *c, int option, double edge_ms, double bytes)
{
  g_return_if_fail (option >= 0 && option < c->n);
  sn_planner_observe_edge (c->planner, option, edge_ms);
  sn_planner_observe_bytes (c->planner, option, bytes);
}

/* The first option a report is about: its cut's, or for a baseline's
 * (cut -1) the first of its kind; -1 when none. */
static int
report_option (const SnController *c, const SnCloudReport *r)
{
  if (r->cut >= 0)
    return sn_controller_find_cut (c, r->cut);
  for (int i = 0; r->kind != SN_OPTION_CUT && i < c->n; i++)
    if (c->options[i].kind == r->kind)
      return i;
  return -1;
}

gboolean
sn_controller_observe_cloud (SnController *c, const SnCloudReport *r)
{
  if (report_option (c, r) < 0 || !(r->cloud_ms >= 0))
    return FALSE;
  if (c->pending_reports->len < MAX_PENDING_REPORTS)
    g_array_append_val (c->pending_reports, *r);
  return TRUE;
}

static void
apply_cloud_report (SnController *c, const SnCloudReport *r)
{
  int i = report_option (c, r);
  double network_ms = r->network_ms >= 0 ? r->network_ms : r->cloud_ms;
  /* A cloud-only frame's time is every cloud-only option's (the same
   * network after decoding a picture); a cut's is its own. */
  for (int j = i; j < c->n; j++)
    if (j == i || (r->cut < 0 && c->options[j].kind == r->kind)) {
      sn_planner_observe_cloud (c->planner, j, r->cloud_ms);
      c->explore_reports += j == c->exploring;
    }
  /* What does not scale with the network: packet and detection decoding
   * (not an edge-only record's parsing, which no other option pays). */
  double overhead = MAX (r->cloud_ms - network_ms, 0);
  if (r->cut >= 0 || r->kind == SN_OPTION_CLOUD_ONLY)
    c->cloud_overhead_ms = c->cloud_speed_known
        ? (1 - OVERHEAD_ALPHA) * c->cloud_overhead_ms + OVERHEAD_ALPHA * overhead : overhead;
  /* The whole-network time the cloud measured at its start seeds the
   * estimate; a different one is a restarted (or another) cloud. */
  if (r->whole_ms > 0 && r->whole_ms != c->reported_whole_ms) {
    c->reported_whole_ms = r->whole_ms;
    c->cloud_whole_ms = r->whole_ms;
  }
  /* Then this cloud's frames refine it.  Why the whole network and not
   * only this option's time: on the last cut the cloud runs no layer, and
   * its time says nothing about how fast it would run an early one. */
  double share = c->model_flops > 0 ? c->options[i].cloud_flops / c->model_flops : 0;
  if (share >= WHOLE_MIN_SHARE && ++c->cloud_runs[i] > WHOLE_WARMUP) {
    double whole = network_ms / share;
    c->cloud_whole_ms = c->cloud_whole_ms > 0
        ? (1 - WHOLE_ALPHA) * c->cloud_whole_ms + WHOLE_ALPHA * whole : whole;
  }
  if (c->cloud_whole_ms > 0 && c->model_flops > 0) {
    c->cloud_speed_known = TRUE;
    sn_planner_set_cloud_speed (c->planner, c->cloud_whole_ms / c->model_flops, c->cloud_overhead_ms);
  }
}

void
sn_controller_observe_link (SnController *c, double bps, double rtt_ms)
{
  if (bps > 0)
    c->pending_bps = bps;
  if (rtt_ms >= 0)
    c->pending_rtt_ms = rtt_ms;
}

void
sn_controller_observe_qos (SnController *c, double proportion)
{
  if (proportion > 1.0)
    c->pending_qos = MAX (c->pending_qos, proportion);
}

/* The observations since the last decision go to the planner: the last
 * link estimate (one that changed by more than a quarter marks the next
 * switch "bandwidth"), the worst QoS, the cloud's reports in order. */
static void
apply_pending (SnController *c)
{
  /* The fixed rate, when set, wins over estimates. */
  if (c->fixed_bps > 0)
    sn_planner_set_bandwidth (c->planner, c->fixed_bps);
  else if (c->pending_bps > 0)
    sn_planner_set_bandwidth (c->planner, c->pending_bps);
  c->pending_bps = 0;
  if (c->pending_rtt_ms >= 0)
    sn_planner_set_rtt (c->planner, c->pending_rtt_ms);
  c->pending_rtt_ms = -1;
  if (c->pending_qos > 1.0) {
    sn_planner_observe_qos (c->planner, c->pending_qos);
    c->last_qos = c->pending_qos;
  }
  c->pending_qos = 0;
  int n_reports = c->pending_reports->len;
  for (int i = 0; i < n_reports; i++)
    apply_cloud_report (c, &g_array_index (c->pending_reports, SnCloudReport, i));
  g_array_set_size (c->pending_reports, 0);
  c->reports_taken += n_reports;
}

/* The option worth exploring from the current one (cur, as predicted),
 * or -1.  Only an option the next decision could pick (feasible: a
 * candidate, over the floor, within the budget and the edge deadline), that
 * has not run in the last interval, whose prediction is within the
 * hysteresis of the current one's, above or below (the planner alone
 * never tries those, and a prediction never checked against a run may be
 * far off; one better by more the planner moves to itself once the dwell
 * is over, so while there is one nothing is explored), and whose predicted bytes
 * the link can carry within the latency target (the budget, or else the
 * current option's latency plus the hysteresis) and, when the frame rate
 * is known, within a frame interval: a frame queued behind the link is
 * not worth what the exploration would learn.  The best such option in
 * the planner's order. */
static int
explore_candidate (SnController *c, const SnOptionPrediction *cur)
{
  double h = sn_planner_hysteresis (c->planner);
  double s_cur = sn_planner_score (c->planner, cur);
  double target = c->latency_budget_ms > 0 ? c->latency_budget_ms : cur->latency_ms * (1 + h);
  g_autofree SnOptionPrediction *rank = g_new (SnOptionPrediction, c->n);
  int n = sn_planner_rank (c->planner, rank, c->n);
  for (int k = 0; k < n; k++) {
    const SnOptionPrediction *r = &rank[k];
    int i = r->option;
    if (i == c->current || !r->feasible || sn_controller_below_floor (c, i) || !c->candidate[i])
      continue;
    if (c->last_run[i] >= 0 && c->decisions - c->last_run[i] < c->explore_interval)
      continue;
    double s = sn_planner_score (c->planner, r);
    if (s < s_cur * (1 - h))
      return -1;          /* the planner's own move */
    if (!(s < s_cur * (1 + h)))
      break;              /* ranked: the rest are clearly worse too */
    if (r->link_ms > target || (c->frame_interval_ms > 0 && r->link_ms > c->frame_interval_ms))
      continue;
    return i;
  }
  return -1;
}

/* An exploration has learnt enough once it has run its frames and the
 * cloud has reported past the planner's warm-up, or has waited long
 * enough for that. */
static gboolean
exploration_over (const SnController *c)
{
  return c->explore_done >= c->explore_frames
      && (c->explore_reports >= EXPLORE_MIN_REPORTS
          || c->explore_done >= EXPLORE_MAX_FACTOR * c->explore_frames);
}

/* The decision during or right after an exploration: the planner's, unless
 * the exploration is over and its option, on what was measured, does worse
 * than the one it left (a return, reason "explored"; it stays otherwise).
 * The planner leaving the explored option on its own (infeasible, QoS)
 * ends the exploration too. */
static int
decide_exploring (SnController *c, SnPlanDecision *d)
{
  int explored = c->exploring;
  if (exploration_over (c)) {
    c->exploring = -1;
    SnOptionPrediction e, from;
    sn_planner_predict (c->planner, explored, &e);
    sn_planner_predict (c->planner, c->explore_from, &from);
    gboolean worse = (from.feasible && !e.feasible)
        || (from.feasible == e.feasible
            && sn_planner_score (c->planner, &e) > sn_planner_score (c->planner, &from));
    if (worse)
      return sn_planner_switch (c->planner, c->explore_from, "explored", d);
    return sn_planner_decide (c->planner, d);
  }
  int chosen = sn_planner_decide (c->planner, d);
  if (chosen != explored)
    c->exploring = -1;
  else
    c->explore_done++;
  return chosen;
}

int
sn_controller_decide (SnController *c, SnControllerDecision *d)
{
  SnControllerDecision local;
  if (!d)
    d = &local;
  memset (d, 0, sizeof *d);
  apply_pending (c);
  d->cloud_reports = c->reports_taken;
  c->reports_taken = 0;
  int chosen;
  if (c->exploring >= 0) {
    chosen = decide_exploring (c, &d->plan);
  } else {
    chosen = sn_planner_decide (c->planner, &d->plan);
    /* Kept, and the current option has run long enough to be measured
     * itself: is there an option the planner would not try on its own? */
    int e = -1;
    if (c->explore_frames > 0 && !d->plan.changed && chosen == c->current
        && c->frames_on_current >= c->explore_frames && c->candidates_set)
      e = explore_candidate (c, &d->plan.old_prediction);
    if (e >= 0) {
      chosen = sn_planner_switch (c->planner, e, "explore", &d->plan);
      c->exploring = e;
      c->explore_from = c->current;
      c->explore_done = 1;
      c->explore_reports = 0;
    }
  }
  if (chosen != c->current) {
    c->current = chosen;
    c->frames_on_current = 0;
  }
  c->frames_on_current++;
  c->last_run[chosen] = c->decisions++;
  d->cut = c->options[chosen].cut;
  d->bandwidth = sn_planner_bandwidth (c->planner);
  d->qos_proportion = g_str_equal (d->plan.reason, "qos") ? c->last_qos : 0;
  return chosen;
}

int
sn_controller_rank (SnController *c, SnOptionPrediction *out, int max)
{
  apply_pending (c);
  return sn_planner_rank (c->planner, out, max);
}

void
sn_controller_predict (SnController *c, int option, SnOptionPrediction *out)
{
  g_return_if_fail (option >= 0 && option < c->n);
  apply_pending (c);
  sn_planner_predict (c->planner, option, out);
}

char *
sn_controller_candidates (const SnController *c)
{
  if (!c->candidates_set)
    return NULL;
  GString *list = g_string_new (NULL);
  for (int i = 0; i < c->n; i++) {
    if (!c->candidate[i])
      continue;
    if (list->len)
      g_string_append_c (list, ',');
    if (c->options[i].cut >= 0)
      g_string_append_printf (list, "%d", c->options[i].cut);
    else
      g_string_append (list, c->options[i].name);
  }
  return g_string_free (list, FALSE);
}
