/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the split planner: which option to run for the next frame.
 *
 * An option is anything the edge can do with a frame: run up to a cut and send
 * the feature, run everything and send detections ("edge-only"), or send
 * the encoded frame ("cloud-only").  For each option the planner keeps
 * estimates of edge time, bytes per frame and cloud time, refined online
 * from measurements (exponentially weighted, ignoring the first frames
 * after an option starts, which pay for cold caches), and the link's bandwidth
 * and round-trip time.  From those it predicts per option
 *
 *   latency    = edge + 8 * bytes / bandwidth + rtt / 2 + cloud
 *   throughput = 1 / max (edge, 8 * bytes / bandwidth, cloud)   (pipelined)
 *
 * and picks by the objective.  A switch needs the new option to win by the
 * hysteresis margin and the current option to have run for the minimum dwell,
 * so measurement noise does not make the cut flap.  Usable without
 * GStreamer; the elements feed it. */
#pragma once

#include <splitnn/sn-api.h>

#include <glib.h>
#include <splitnn/sn-option.h>

G_BEGIN_DECLS

typedef struct SnPlanner SnPlanner;

typedef enum {
  SN_OBJECTIVE_LATENCY,     /* minimum end-to-end latency (default) */
  SN_OBJECTIVE_THROUGHPUT,  /* maximum frames per second, stages pipelined */
  SN_OBJECTIVE_BYTES,       /* fewest bytes with latency within the budget */
} SnObjective;

typedef struct {
  const char *name;         /* copied */
  double edge_ms;           /* prior estimates (profile); <= 0 means unknown */
  double cloud_ms;
  double bytes;
  double fidelity;          /* 0-100, or < 0 if unknown (never excluded by the floor) */
  double cloud_flops;       /* work of the cloud part; with sn_planner_set_cloud_speed it
                             * predicts the cloud time until the option's is measured */
} SnOptionPrior;

typedef struct {
  int option;               /* index */
  double latency_ms;
  double fps;
  double edge_ms, link_ms, cloud_ms;
  double bytes;
  gboolean feasible;        /* meets the fidelity floor, the latency budget and the edge deadline */
} SnOptionPrediction;

typedef struct {
  int previous;             /* -1 before the first decision */
  int chosen;
  gboolean changed;
  const char *reason;       /* static string: "initial", "better", "qos", "bandwidth", "infeasible", "kept";
                             * the controller's "explore" and "explored" */
  SnOptionPrediction old_prediction;
  SnOptionPrediction new_prediction;
} SnPlanDecision;

SN_API SnPlanner *sn_planner_new (const SnOptionPrior *options, int n_options);
SN_API void sn_planner_free (SnPlanner *p);

SN_API void sn_planner_set_objective (SnPlanner *p, SnObjective objective);
SN_API void sn_planner_set_latency_budget (SnPlanner *p, double ms);     /* for SN_OBJECTIVE_BYTES; <= 0: none */
SN_API void sn_planner_set_fidelity_floor (SnPlanner *p, double floor);  /* < 0: none */
SN_API void sn_planner_set_hysteresis (SnPlanner *p, double fraction);   /* default 0.10 */
SN_API void sn_planner_set_min_dwell (SnPlanner *p, int frames);         /* default 15 */
SN_API void sn_planner_set_warmup (SnPlanner *p, int frames);            /* default 2 */
SN_API void sn_planner_set_smoothing (SnPlanner *p, double alpha);       /* EWMA weight of a new sample, default 0.2 */
/* Learn from measurements how far the priors are off: the first
 * measurement of an option (edge, bytes or cloud) replaces its prior, and the priors of options not
 * measured yet are scaled by the geometric mean of estimate / prior over
 * the measured ones (bytes and edge time separately).  Off by default. */
SN_API void sn_planner_set_learn_priors (SnPlanner *p, gboolean learn);
/* The option's priors are figures of their own (a profile, a known size),
 * not guesses on the common scale of the others: learning never scales
 * them.  Off for all options by default. */
SN_API void sn_planner_set_prior_exact (SnPlanner *p, int option, gboolean exact);
/* An option's fidelity (0-100; < 0: unknown, never excluded by the floor),
 * e.g. when the encoder setting it was looked up for changes. */
SN_API void sn_planner_set_fidelity (SnPlanner *p, int option, double fidelity);
SN_API double sn_planner_fidelity (const SnPlanner *p, int option);
/* The frame interval the edge must keep up with (1/fps); <= 0: none. */
SN_API void sn_planner_set_frame_interval (SnPlanner *p, double ms);
/* A disabled option is never chosen (it ranks as infeasible); the current
 * option, once disabled, is left at the next decision.  All start enabled. */
SN_API void sn_planner_set_enabled (SnPlanner *p, int option, gboolean enabled);
/* The cloud's speed, as it reports it (or a guess before it does): an option
 * whose cloud time has not been measured yet predicts
 *   overhead_ms + cloud_flops * ms_per_flop
 * instead of its cloud_ms prior.  ms_per_flop <= 0 goes back to the priors.
 * Measured options keep their measurements. */
SN_API void sn_planner_set_cloud_speed (SnPlanner *p, double ms_per_flop, double overhead_ms);

/* Measurements. */
SN_API void sn_planner_observe_edge (SnPlanner *p, int option, double ms);
SN_API void sn_planner_observe_bytes (SnPlanner *p, int option, double bytes);
/* The cloud's time for a frame of this option, as it reports it back; like
 * edge times, the first samples after the option starts are ignored. */
SN_API void sn_planner_observe_cloud (SnPlanner *p, int option, double ms);
SN_API void sn_planner_set_bandwidth (SnPlanner *p, double bits_per_second);
SN_API void sn_planner_set_rtt (SnPlanner *p, double ms);
/* Downstream QoS: proportion > 1 means the edge is that many times too
 * slow for the stream; the current option's edge estimate is raised to match
 * and the edge deadline becomes binding. */
SN_API void sn_planner_observe_qos (SnPlanner *p, double proportion);

SN_API int sn_planner_n_options (const SnPlanner *p);
SN_API const char *sn_planner_option_name (const SnPlanner *p, int option);
SN_API double sn_planner_bandwidth (const SnPlanner *p);
SN_API void sn_planner_predict (const SnPlanner *p, int option, SnOptionPrediction *out);
/* Decides the option for the next frame.  Returns the chosen option index. */
SN_API int sn_planner_decide (SnPlanner *p, SnPlanDecision *decision);
/* Ranks all options by the objective, best first; returns the count. */
SN_API int sn_planner_rank (const SnPlanner *p, SnOptionPrediction *out, int max);
/* The hysteresis in force (a fraction). */
SN_API double sn_planner_hysteresis (const SnPlanner *p);
/* What the objective ranks a prediction by (lower is better): latency
 * ms, the slowest stage's ms (throughput) or bytes. */
SN_API double sn_planner_score (const SnPlanner *p, const SnOptionPrediction *o);
/* Runs `option` from the next frame whatever the ranking says (the
 * controller's exploration, sn-controller.h), as a decision with `reason`
 * (a static string) would: warm-up and dwell start over.  Fills decision
 * like sn_planner_decide; returns option. */
SN_API int sn_planner_switch (SnPlanner *p, int option, const char *reason, SnPlanDecision *decision);

/* What an option is (sn-option.h): a feature cut (the default), edge-only or
 * cloud-only.  Ranking ignores it; explanations name the best of each. */
SN_API void sn_planner_set_kind (SnPlanner *p, int option, SnOptionKind kind);
SN_API SnOptionKind sn_planner_kind (const SnPlanner *p, int option);
/* An edge time measured outside the option's own runs (edge-only's: the
 * whole network as just timed here), taken as a measurement without the
 * warm-up skip: learning priors then scales the options not measured yet by
 * it too. */
SN_API void sn_planner_observe_edge_warm (SnPlanner *p, int option, double ms);

/* Marks the options on the rate-fidelity-latency frontier at the current
 * bandwidth: feasible options that no other feasible option beats on all three
 * (bytes no more, fidelity no less, latency no more, and one of them
 * strictly).  An unknown fidelity (< 0) counts as 0: an option must be
 * measured to claim fidelity.  on_frontier has n_options entries; returns
 * how many are on it. */
SN_API int sn_planner_frontier (const SnPlanner *p, gboolean *on_frontier);

/* Why rank[0] won, in a few sentences for people: the objective and its
 * figure, the runner-up and the margin, the best option of each other kind
 * (edge-only, cloud-only, feature cut) and what held it back (its slowest
 * stage, or the fidelity floor).  rank as sn_planner_rank fills it; g_free
 * the result. */
SN_API char *sn_planner_explain (const SnPlanner *p, const SnOptionPrediction *rank, int n);

/* Which of n cuts can be the fastest for some edge speed, cloud speed and
 * bandwidth.  With the time on each side in proportion to its work and
 * the two sides sharing out the whole network's work W, a cut costs
 *   (e - c) * edge_work + c * W + 8 * bytes / bandwidth
 * (e, c: time per unit of work on the edge and in the cloud).  A cloud
 * faster than the edge (e > c) favours little edge work and few bytes; a
 * slower one much edge work and few bytes; equal ones few bytes.  A cut
 * that another beats on both counts for e > c, and another (or the same)
 * for e < c, is never the best: keep[i] is FALSE for those and TRUE for
 * the rest (and for bytes[i] <= 0: not measured, no verdict).  Of exact
 * ties the first is kept.  Returns how many are kept. */
SN_API int sn_plan_frontier (int n, const double *edge_work, const double *bytes, gboolean *keep);

G_END_DECLS
