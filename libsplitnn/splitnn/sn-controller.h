/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the auto-split controller: which option the edge runs for the
 *
 * Experimental: may change before 1.0 (docs/architecture.md, "Public API").
 * next frame, and everything that decision is fed.
 *
 * An *option* is something the edge can do with a frame: run up to a cut
 * and send the feature, run the whole network and send detections
 * ("edge-only"), or send the encoded frame ("cloud-only").  The controller
 * owns a planner (sn-planner.h) over its options and feeds it:
 *
 *  - priors: time in proportion to FLOPs (40 ms for the whole network on
 *    either side), bytes 0.4 x the raw quantized size
 *    (sn_controller_cut_options), or a measured profile (`splitnn plan`);
 *    the first measurement of an option replaces its prior and unmeasured
 *    cut priors are scaled by how far the measured ones were off (not
 *    those of options that are not cuts: their priors are their own);
 *  - the first frame: every cut's packet size (sn_feature_measure_cuts)
 *    and this machine's time for the whole network, which stands in for
 *    the cloud's (divided by the cloud-speed guess) until the cloud
 *    reports;
 *  - each frame's edge time and packet size;
 *  - the cloud's reports: its time for the option's frame, its network
 *    part, and its time for the whole network as it measured it at start.
 *    The controller keeps the one estimate of the cloud's speed: seeded by
 *    the reported whole-network time, refined (moving average, weight 0.1)
 *    from every reported frame whose cloud part is at least a quarter of
 *    the network (network time / share; the first 2 of each option are
 *    cold and skipped), with the smoothed time outside the network
 *    (cloud - network, weight 0.2) as a fixed cost.  Options the cloud
 *    has run are predicted from their own reports, the others from that
 *    speed and their cloud FLOPs;
 *  - the link: bandwidth and RTT as estimated (sn-linkest.h) or fixed by
 *    the application, which wins; the last estimate before a decision
 *    counts;
 *  - QoS: the worst proportion reported since the last decision;
 *  - fidelity: each option's stored fidelity_ap50 (sn-eval.h) and a floor.  Options under the
 *    floor are infeasible; if all are, a flag says so and they are ranked
 *    as if there were no floor;
 *  - candidates: once the cuts' packet sizes are known, only the cuts that
 *    can be the best for some edge speed, cloud speed and bandwidth
 *    (sn_plan_frontier over edge FLOPs and first-frame bytes), less those
 *    under the floor, which beat no other cut.  Options that are not cuts
 *    get no verdict and stay candidates.
 *
 * Every input is an explicit call with its figures passed in; the
 * controller reads no clock and does no I/O, so tests drive it with
 * tables.  Not thread-safe: a caller receiving events on several threads
 * serializes the calls (splitnnedge does it with its lock). */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-cut.h>
#include <splitnn/sn-feature.h>
#include <splitnn/sn-option.h>
#include <splitnn/sn-planner.h>

G_BEGIN_DECLS

typedef struct SnController SnController;

/* One option.  A cut's option has cut >= 0 and kind SN_OPTION_CUT; any
 * other option (edge-only, cloud-only) has cut = -1 and its kind. */
typedef struct {
  const char *name;         /* copied */
  int cut;                  /* the cut's id (sn-cut.h), or -1 */
  double edge_flops;        /* network work on the edge and in the cloud */
  double cloud_flops;
  double edge_ms;           /* priors; <= 0: unknown */
  double cloud_ms;
  double bytes;             /* per frame */
  double fidelity;          /* fidelity_ap50 0-100; < 0: unknown (never excluded by the floor) */
  SnOptionKind kind;        /* SN_OPTION_CUT (0) for a cut */
  SnFrameCodec frame_codec; /* SN_OPTION_CLOUD_ONLY: how the frame is coded */
  int quality;
} SnControllerOption;

/* What the cloud said about one frame (the "splitnn-cloud-time" event,
 * docs/adaptive.md). */
typedef struct {
  int cut;                  /* the cut the frame was made at; -1 for a baseline (kind) */
  double cloud_ms;          /* packet decoding + cloud part + detection decoding */
  double network_ms;        /* the cloud part of the network alone; < 0: = cloud_ms */
  double whole_ms;          /* the cloud's time for the whole network; <= 0: not said */
  SnOptionKind kind;        /* cut -1: edge-only (its whole_ms is all that counts: no network
                             * ran there) or cloud-only (the whole network ran there: its time
                             * goes to every cloud-only option) */
} SnCloudReport;

typedef struct {
  SnPlanDecision plan;      /* option indices, reason, the two predictions */
  int cut;                  /* the chosen option's cut id, or -1 */
  double bandwidth;         /* bit/s the decision assumed */
  double qos_proportion;    /* behind a "qos" move; else 0 */
  int cloud_reports;        /* cloud reports taken since the last decision */
} SnControllerDecision;

/* What a call changed or found; the caller warns on the last two. */
typedef enum {
  SN_CONTROLLER_FIDELITY_CHANGED = 1 << 0,   /* new figures or floor taken */
  SN_CONTROLLER_CANDIDATES_CHANGED = 1 << 1, /* the candidates were recomputed */
  SN_CONTROLLER_FLOOR_EXCLUDES_NOTHING = 1 << 2, /* a floor, but no option has a figure */
  SN_CONTROLLER_ALL_UNDER_FLOOR = 1 << 3,    /* every option is under the floor */
} SnControllerNews;

/* Ms for the whole network assumed on either side before anything is
 * measured, and the share of the raw quantized size a packet is assumed to
 * take (zstd over 8-bit codes of feature maps). */
#define SN_CONTROLLER_PRIOR_WHOLE_MS 40.0
#define SN_CONTROLLER_PRIOR_BYTES_RATIO 0.4

/* One option per cut of `cuts`, in cut order, with the priors above for a
 * model of `model_flops` at `bits` bits.  Names are borrowed from the cut
 * set.  g_free the array. */
SN_API SnControllerOption *sn_controller_cut_options (const SnCutSet *cuts, double model_flops, int bits,
    int *n_options);

/* The baselines as options: edge-only, then cloud-only at each frame codec
 * and quality that measures has (rows of `splitnn eval --json`,
 * sn_option_measures_load; rows of cuts are skipped).  measures NULL (or
 * without baseline rows): SN_CONTROLLER_DEFAULT_BASELINES, eval's figures
 * for the detector at 512x512 on frames 400-794 of vtest.avi
 * (docs/evaluation.md).  Their bytes and fidelity are the figures'; their
 * times:
 *   edge-only   edge = the whole network (model_flops, on the cuts' scale
 *               until the first frame says what the whole network costs
 *               here, sn_controller_observe_first_frame), cloud = its
 *               fixed overhead only (no network there);
 *   cloud-only  edge = the measure's coding time, halved (eval times
 *               encode and decode together; the edge only encodes), cloud
 *               = the whole network at the cloud's speed.
 * Names are allocated: free the array with sn_controller_options_free. */
SN_API SnControllerOption *sn_controller_baseline_options (double model_flops,
    const SnOptionMeasure *measures, int n_measures, int *n_options);
/* Frees an array of sn_controller_baseline_options (names and all). */
SN_API void sn_controller_options_free (SnControllerOption *options, int n_options);

/* eval's held-out figures (bytes, fidelity_ap50, coding ms) per baseline. */
#define SN_CONTROLLER_DEFAULT_BASELINES \
  { { SN_OPTION_EDGE_ONLY, 0, 0, 0, 0, 0 }, 287, 100.0, 0, 0, 0 }, \
  { { SN_OPTION_CLOUD_ONLY, 0, 0, 0, SN_FRAME_CODEC_H264, 20 }, 7461, 97.91, 0, 0, 83.7 }, \
  { { SN_OPTION_CLOUD_ONLY, 0, 0, 0, SN_FRAME_CODEC_H264, 26 }, 3514, 96.13, 0, 0, 57.2 }, \
  { { SN_OPTION_CLOUD_ONLY, 0, 0, 0, SN_FRAME_CODEC_H264, 32 }, 1787, 93.17, 0, 0, 48.7 }, \
  { { SN_OPTION_CLOUD_ONLY, 0, 0, 0, SN_FRAME_CODEC_JPEG, 90 }, 70655, 97.32, 0, 0, 16.0 }

/* model_flops: the whole network's work, for the cloud's speed. */
SN_API SnController *sn_controller_new (const SnControllerOption *options, int n_options, double model_flops);
SN_API void sn_controller_free (SnController *c);

SN_API int sn_controller_n_options (const SnController *c);
/* Borrowed; the name is the controller's copy. */
SN_API const SnControllerOption *sn_controller_option (const SnController *c, int option);
/* The option of a cut id, or -1. */
SN_API int sn_controller_find_cut (const SnController *c, int cut);

/* Settings (the element's properties; `splitnn plan`'s options). */
SN_API void sn_controller_set_objective (SnController *c, SnObjective objective);
SN_API void sn_controller_set_latency_budget (SnController *c, double ms);
/* A fixed link rate, which wins over sn_controller_observe_link; 0: use
 * the observed one. */
SN_API void sn_controller_set_bandwidth (SnController *c, double bits_per_second);
SN_API void sn_controller_set_rtt (SnController *c, double ms);
/* How many times faster than this machine the cloud is guessed to run the
 * network until it reports (default 1). */
SN_API void sn_controller_set_cloud_speedup (SnController *c, double times);
/* The stream's frame rate; the edge must keep up with it once QoS says it
 * is late.  fps_n <= 0: unknown. */
SN_API void sn_controller_set_frame_rate (SnController *c, int fps_n, int fps_d);

/* Exploration: a prediction never checked against a run may be far off
 * (cloud-only's: half eval's coding time, measured elsewhere, plus the
 * cloud's whole-network time), and within the hysteresis of the current
 * option's the planner never tries it, so never learns better.  When the
 * planner keeps an option that has run `frames` frames, the controller
 * runs the best option (in the planner's order) that
 *   - is feasible (a candidate, over the fidelity floor, within the
 *     latency budget and the edge deadline),
 *   - has not run in the last `interval` decisions (so: once, then again
 *     only after that long, and never back and forth),
 *   - predicts a score (the objective's figure) within the hysteresis of
 *     the current option's, above or below (one better by more the planner
 *     moves to itself after the dwell: while there is one, nothing is
 *     explored),
 *   - and whose predicted bytes the link carries within the latency
 *     target (the budget, else the current option's latency plus the
 *     hysteresis) and, at a known frame rate, within a frame interval,
 * for `frames` frames and until the cloud has reported 3 of them (at most
 * 4 x `frames`): the decision that starts it has reason "explore".  Then,
 * on the figures measured, it stays when the explored option does no
 * worse than the one it left, and goes back to that one otherwise (reason
 * "explored").  The planner may leave the explored option before (a broken
 * limit, QoS).  frames 0: off.  Defaults: 8 frames, every 300 decisions
 * (10 s at 30 fps).  The first decision never explores, nor does any
 * before the first frame's packet sizes are known. */
SN_API void sn_controller_set_exploration (SnController *c, int frames, int interval);

/* Fidelity figures per option (NULL: keep the current ones) and the floor
 * (< 0: off).  Recomputes the candidates when the cuts' sizes are known
 * and anything changed.  Returns SnControllerNews flags. */
SN_API guint sn_controller_set_fidelity (SnController *c, const double *fidelity, double floor);
/* The same, with each cut's figure looked up in the model's stored
 * splitnn.fidelity at the encoder setting cfg (sn_model_fidelity; options
 * that are not cuts keep theirs).  Looks up only when cfg or the floor
 * changed since the last call; 0 when nothing did. */
SN_API guint sn_controller_update_fidelity (SnController *c, const SnModel *model,
    const SnFeatureConfig *cfg, double floor);
/* The planner the controller ranks with, for what it adds over ranking:
 * option kinds, the frontier and the explanation (sn-planner.h).  Owned
 * by the controller. */
SN_API SnPlanner *sn_controller_planner (SnController *c);
/* The option's fidelity in force (< 0: unknown). */
SN_API double sn_controller_fidelity (const SnController *c, int option);
/* Is the option under the floor in force? */
SN_API gboolean sn_controller_below_floor (const SnController *c, int option);

/* Measurements. */
/* The first frame: bytes[cut] is the packet size of each cut id < n_cuts
 * (<= 0: not measured), whole_ms this machine's time for the whole
 * network (<= 0: not measured), which is edge-only's edge time (taken as
 * a measurement of it: the cuts' edge priors scale with it until they run).  bytes NULL: the measurement failed; the
 * priors stay and no candidates are set.  Returns SnControllerNews. */
SN_API guint sn_controller_observe_first_frame (SnController *c, const double *bytes, int n_cuts,
    double whole_ms);
SN_API gboolean sn_controller_first_frame_seen (const SnController *c);
/* A frame the edge ran at `option`: its edge time and packet bytes. */
SN_API void sn_controller_observe_frame (SnController *c, int option, double edge_ms, double bytes);
/* One cloud report, taken at the next decision (or rank); FALSE (ignored)
 * when no option has its cut (or, for cut -1, its kind). */
SN_API gboolean sn_controller_observe_cloud (SnController *c, const SnCloudReport *report);
/* A link estimate (sn-linkest.h, the "splitnn-bandwidth" event): bit/s
 * (<= 0: none) and base RTT (< 0: none).  The last one before a decision
 * counts. */
SN_API void sn_controller_observe_link (SnController *c, double bits_per_second, double rtt_ms);
/* Downstream QoS: proportion > 1, the edge is that many times too slow.
 * The worst since the last decision counts. */
SN_API void sn_controller_observe_qos (SnController *c, double proportion);

/* Decides the option for the next frame, after taking every observation
 * since the last decision.  Returns the option index. */
SN_API int sn_controller_decide (SnController *c, SnControllerDecision *decision);
/* Ranks the options as the next decision would see them, best first
 * (SnOptionPrediction.option is the option index); returns the count. */
SN_API int sn_controller_rank (SnController *c, SnOptionPrediction *out, int max);
SN_API void sn_controller_predict (SnController *c, int option, SnOptionPrediction *out);

/* The bandwidth the planner holds, bit/s. */
SN_API double sn_controller_bandwidth (const SnController *c);
/* The cloud's whole-network time as the controller estimates it; 0 before
 * any report. */
SN_API double sn_controller_cloud_whole_ms (const SnController *c);
/* The candidates as a comma-separated list (cut ids; names for options
 * that are not cuts), or NULL before the cuts' sizes are known.  g_free. */
SN_API char *sn_controller_candidates (const SnController *c);
SN_API gboolean sn_controller_is_candidate (const SnController *c, int option);

G_END_DECLS
