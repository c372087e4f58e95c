/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The split planner: predictions from the stated model, objectives,
 * hysteresis, dwell, warm-up, QoS and fidelity floors.  Expected choices
 * are worked out by hand from the formulas in sn-planner.h. */
#include <check.h>
#include <math.h>
#include <string.h>

#include <splitnn/sn-planner.h>

/* early cut: little edge work, many bytes; late cut; edge-only. */
static const SnOptionPrior priors[] = {
  { "early", 5, 20, 200000, -1, 0 },
  { "late", 20, 10, 20000, 98, 0 },
  { "edge-only", 60, 0, 500, 100, 0 },
};

static SnPlanner *
planner (double bandwidth)
{
  SnPlanner *p = sn_planner_new (priors, 3);
  sn_planner_set_bandwidth (p, bandwidth);
  return p;
}

START_TEST (test_predictions)
{
  SnPlanner *p = planner (100e6);
  SnOptionPrediction o;
  sn_planner_set_rtt (p, 4);
  sn_planner_predict (p, 0, &o);
  /* 200000 B * 8 / 100 Mbit/s = 16 ms; + 5 + 20 + rtt/2 */
  ck_assert_double_eq_tol (o.link_ms, 16.0, 1e-9);
  ck_assert_double_eq_tol (o.latency_ms, 43.0, 1e-9);
  ck_assert_double_eq_tol (o.fps, 50.0, 1e-9);     /* slowest stage: cloud 20 ms */
  sn_planner_free (p);
}
END_TEST

START_TEST (test_latency_objective_follows_bandwidth)
{
  /* 100 Mbit/s: early 41, late 31.6, edge-only 60.04 -> late */
  SnPlanner *p = planner (100e6);
  ck_assert_int_eq (sn_planner_decide (p, NULL), 1);
  sn_planner_free (p);
  /* 2 Mbit/s: early 825, late 110, edge-only 62 -> edge-only */
  p = planner (2e6);
  ck_assert_int_eq (sn_planner_decide (p, NULL), 2);
  sn_planner_free (p);
  /* 1 Gbit/s: early 26.6, late 30.16 -> early */
  p = planner (1e9);
  ck_assert_int_eq (sn_planner_decide (p, NULL), 0);
  sn_planner_free (p);
}
END_TEST

START_TEST (test_dwell_and_bandwidth_step)
{
  SnPlanner *p = planner (100e6);
  sn_planner_set_min_dwell (p, 10);
  SnPlanDecision d;
  sn_planner_decide (p, &d);
  ck_assert_str_eq (d.reason, "initial");
  ck_assert_int_eq (d.chosen, 1);
  sn_planner_set_bandwidth (p, 2e6);
  /* Frames 2..10: dwell not over, the planner keeps "late". */
  for (int f = 1; f < 10; f++) {
    sn_planner_decide (p, &d);
    ck_assert_int_eq (d.chosen, 1);
    ck_assert (!d.changed);
  }
  sn_planner_decide (p, &d);
  ck_assert (d.changed);
  ck_assert_int_eq (d.chosen, 2);
  ck_assert_str_eq (d.reason, "bandwidth");
  ck_assert_double_eq_tol (d.old_prediction.latency_ms, 110.0, 1e-9);
  ck_assert_double_eq_tol (d.new_prediction.latency_ms, 62.0, 1e-9);
  sn_planner_free (p);
}
END_TEST

START_TEST (test_hysteresis)
{
  /* At 1 Gbit/s early (26.6) beats late (30.16) by 11.8%. */
  SnPlanner *p = planner (1e9);
  sn_planner_set_min_dwell (p, 0);
  ck_assert_int_eq (sn_planner_decide (p, NULL), 0);
  /* Make late slightly better: 25.5 vs 26.6 is 4%, under the 10% margin. */
  for (int i = 0; i < 50; i++)
    sn_planner_observe_edge (p, 1, 15.34);
  SnOptionPrediction o;
  sn_planner_predict (p, 1, &o);
  ck_assert (o.latency_ms < 26.6 && o.latency_ms > 26.6 * 0.9);
  ck_assert_int_eq (sn_planner_decide (p, NULL), 0);
  /* A clear win (> 10%) switches. */
  for (int i = 0; i < 50; i++)
    sn_planner_observe_edge (p, 1, 10);
  ck_assert_int_eq (sn_planner_decide (p, NULL), 1);
  sn_planner_free (p);
}
END_TEST

START_TEST (test_warmup_and_smoothing)
{
  SnPlanner *p = planner (100e6);
  sn_planner_set_warmup (p, 2);
  sn_planner_set_smoothing (p, 0.5);
  SnOptionPrediction o;
  sn_planner_observe_edge (p, 0, 500);   /* cold: ignored */
  sn_planner_observe_edge (p, 0, 500);   /* cold: ignored */
  sn_planner_predict (p, 0, &o);
  ck_assert_double_eq_tol (o.edge_ms, 5.0, 1e-9);
  sn_planner_observe_edge (p, 0, 7);     /* 0.5 * 5 + 0.5 * 7 */
  sn_planner_predict (p, 0, &o);
  ck_assert_double_eq_tol (o.edge_ms, 6.0, 1e-9);
  sn_planner_observe_bytes (p, 0, 100000);
  sn_planner_predict (p, 0, &o);
  ck_assert_double_eq_tol (o.bytes, 150000.0, 1e-6);
  sn_planner_free (p);
}
END_TEST

START_TEST (test_qos_moves_work_off_the_edge)
{
  SnPlanner *p = planner (2e6);
  sn_planner_set_frame_interval (p, 50);
  sn_planner_set_min_dwell (p, 100);
  SnPlanDecision d;
  ck_assert_int_eq (sn_planner_decide (p, &d), 2);   /* edge-only: 60 ms edge */
  /* The sink reports we are 1.5x too slow: 90 ms > 50 ms interval, so
   * edge-only is infeasible and the planner leaves at once, dwell or not. */
  sn_planner_observe_qos (p, 1.5);
  sn_planner_decide (p, &d);
  ck_assert (d.changed);
  ck_assert_str_eq (d.reason, "qos");
  ck_assert_int_eq (d.chosen, 1);
  sn_planner_free (p);
}
END_TEST

START_TEST (test_other_objectives)
{
  SnPlanner *p = planner (100e6);
  /* Throughput: early max(5,16,20)=20, late max(20,1.6,10)=20: tie broken
   * by latency (late 31.6 < early 41). */
  sn_planner_set_objective (p, SN_OBJECTIVE_THROUGHPUT);
  ck_assert_int_eq (sn_planner_decide (p, NULL), 1);
  sn_planner_free (p);

  p = planner (100e6);
  sn_planner_set_objective (p, SN_OBJECTIVE_BYTES);
  sn_planner_set_latency_budget (p, 100);
  ck_assert_int_eq (sn_planner_decide (p, NULL), 2);  /* 500 B, 60 ms */
  sn_planner_free (p);

  p = planner (100e6);
  sn_planner_set_objective (p, SN_OBJECTIVE_BYTES);
  sn_planner_set_latency_budget (p, 50);               /* edge-only (60 ms) out */
  ck_assert_int_eq (sn_planner_decide (p, NULL), 1);
  sn_planner_free (p);
}
END_TEST

START_TEST (test_fidelity_floor)
{
  SnPlanner *p = planner (100e6);
  sn_planner_set_fidelity_floor (p, 99);               /* late has 98 */
  SnOptionPrediction r[3];
  ck_assert_int_eq (sn_planner_rank (p, r, 3), 3);
  ck_assert_int_eq (r[0].option, 0);                   /* unknown fidelity: allowed */
  ck_assert (!r[2].feasible);
  ck_assert_int_eq (r[2].option, 1);
  /* Fidelities set later (another encoder setting): late now meets the
   * floor and wins again (31.6 ms); early falls under it. */
  ck_assert_double_eq (sn_planner_fidelity (p, 1), 98);
  sn_planner_set_fidelity (p, 1, 99.5);
  sn_planner_set_fidelity (p, 0, 50);
  ck_assert_double_eq (sn_planner_fidelity (p, 0), 50);
  sn_planner_rank (p, r, 3);
  ck_assert_int_eq (r[0].option, 1);
  ck_assert (r[1].feasible && r[1].option == 2);
  ck_assert (!r[2].feasible && r[2].option == 0);
  /* Back to unknown: never excluded. */
  sn_planner_set_fidelity (p, 0, -1);
  sn_planner_predict (p, 0, &r[0]);
  ck_assert (r[0].feasible);
  sn_planner_free (p);
}
END_TEST

START_TEST (test_learn_priors)
{
  /* Four options whose priors all underestimate bytes by 2x, except the
   * last, which is really small. */
  static const SnOptionPrior pr[] = {
    { "a", 10, 10, 100000, -1, 0 },
    { "b", 10, 10, 105000, -1, 0 },
    { "c", 10, 10, 120000, -1, 0 },
    { "d", 10, 10, 300000, -1, 0 },
  };
  SnPlanner *p = sn_planner_new (pr, 4);
  sn_planner_set_bandwidth (p, 2e6);
  sn_planner_set_min_dwell (p, 1);
  SnOptionPrediction o;
  /* Without learning, a measured 200 kB option loses to b's untouched prior
   * (105 kB): the planner would go and try it. */
  ck_assert_int_eq (sn_planner_decide (p, NULL), 0);
  sn_planner_observe_bytes (p, 0, 200000);
  sn_planner_predict (p, 0, &o);
  ck_assert_double_eq_tol (o.bytes, 120000, 1e-6);     /* blended 0.8 * 100k + 0.2 * 200k */
  ck_assert_int_eq (sn_planner_decide (p, NULL), 1);
  sn_planner_free (p);

  p = sn_planner_new (pr, 4);
  sn_planner_set_learn_priors (p, TRUE);
  sn_planner_set_bandwidth (p, 2e6);
  sn_planner_set_min_dwell (p, 1);
  ck_assert_int_eq (sn_planner_decide (p, NULL), 0);
  sn_planner_observe_bytes (p, 0, 200000);
  sn_planner_predict (p, 0, &o);
  ck_assert_double_eq_tol (o.bytes, 200000, 1e-6);     /* the measurement replaces the prior */
  sn_planner_predict (p, 1, &o);
  ck_assert_double_eq_tol (o.bytes, 210000, 1e-6);     /* prior x 2 */
  sn_planner_predict (p, 3, &o);
  ck_assert_double_eq_tol (o.bytes, 600000, 1e-6);
  ck_assert_double_eq_tol (o.link_ms, 2400, 1e-6);
  ck_assert_int_eq (sn_planner_decide (p, NULL), 0);   /* nothing to try */
  /* Geometric mean of the ratios: a at 2x and d measured at 0.5x -> 1x. */
  sn_planner_observe_bytes (p, 3, 150000);
  sn_planner_predict (p, 1, &o);
  ck_assert_double_eq_tol (o.bytes, 105000, 1e-6);
  /* And edge times the same way: a measured at 3x its prior. */
  sn_planner_set_warmup (p, 0);
  sn_planner_observe_edge (p, 0, 30);
  sn_planner_predict (p, 2, &o);
  ck_assert_double_eq_tol (o.edge_ms, 30, 1e-9);
  /* A cloud time replaces its prior too (the edge's calibration). */
  sn_planner_observe_cloud (p, 2, 33);
  sn_planner_predict (p, 2, &o);
  ck_assert_double_eq_tol (o.cloud_ms, 33, 1e-9);
  sn_planner_observe_cloud (p, 2, 43);                 /* then blends: 0.8 * 33 + 0.2 * 43 */
  sn_planner_predict (p, 2, &o);
  ck_assert_double_eq_tol (o.cloud_ms, 35, 1e-9);
  sn_planner_free (p);
}
END_TEST

START_TEST (test_cloud_reports)
{
  /* Priors from a guess that the cloud is slow (10 ms per GFLOP). */
  static const SnOptionPrior pr[] = {
    { "early", 10, 90, 100000, -1, 9e9 },
    { "mid", 30, 50, 100000, -1, 5e9 },
    { "late", 60, 10, 50000, -1, 1e9 },
  };
  SnPlanner *p = sn_planner_new (pr, 3);
  sn_planner_set_bandwidth (p, 100e6);
  sn_planner_set_learn_priors (p, TRUE);
  sn_planner_set_min_dwell (p, 0);
  sn_planner_set_warmup (p, 2);
  SnOptionPrediction o;
  /* early 10 + 8 + 90 = 108, mid 30 + 8 + 50 = 88, late 60 + 4 + 10 = 74 */
  ck_assert_int_eq (sn_planner_decide (p, NULL), 2);
  /* The cloud reports its speed: 2 ms per GFLOP plus 3 ms per frame.
   * Unmeasured options follow it: early 3 + 18, mid 3 + 10, late 3 + 2. */
  sn_planner_set_cloud_speed (p, 2e-9, 3);
  sn_planner_predict (p, 0, &o);
  ck_assert_double_eq_tol (o.cloud_ms, 21, 1e-9);
  ck_assert_double_eq_tol (o.latency_ms, 39, 1e-9);
  sn_planner_predict (p, 1, &o);
  ck_assert_double_eq_tol (o.cloud_ms, 13, 1e-9);
  /* Its times for the current option: the first two (cold) are ignored, the
   * next replaces the prediction, later ones blend. */
  sn_planner_observe_cloud (p, 2, 500);
  sn_planner_observe_cloud (p, 2, 500);
  sn_planner_predict (p, 2, &o);
  ck_assert_double_eq_tol (o.cloud_ms, 5, 1e-9);
  sn_planner_observe_cloud (p, 2, 6);
  sn_planner_observe_cloud (p, 2, 11);                 /* 0.8 * 6 + 0.2 * 11 */
  sn_planner_predict (p, 2, &o);
  ck_assert_double_eq_tol (o.cloud_ms, 7, 1e-9);
  /* late 60 + 4 + 7 = 71 against early 39: the edge moves work to the
   * fast cloud. */
  SnPlanDecision d;
  ck_assert_int_eq (sn_planner_decide (p, &d), 0);
  ck_assert_str_eq (d.reason, "better");
  ck_assert_double_eq_tol (d.new_prediction.cloud_ms, 21, 1e-9);
  /* A new speed moves the unmeasured options only. */
  sn_planner_set_cloud_speed (p, 4e-9, 3);
  sn_planner_predict (p, 1, &o);
  ck_assert_double_eq_tol (o.cloud_ms, 23, 1e-9);
  sn_planner_predict (p, 2, &o);
  ck_assert_double_eq_tol (o.cloud_ms, 7, 1e-9);
  /* Without a speed, the priors again. */
  sn_planner_set_cloud_speed (p, 0, 0);
  sn_planner_predict (p, 1, &o);
  ck_assert_double_eq_tol (o.cloud_ms, 50, 1e-9);
  sn_planner_free (p);

  /* Without learning, the first measurement blends with the prediction. */
  p = sn_planner_new (pr, 3);
  sn_planner_set_warmup (p, 0);
  sn_planner_set_cloud_speed (p, 2e-9, 3);
  sn_planner_observe_cloud (p, 0, 31);                 /* 0.8 * 21 + 0.2 * 31 */
  sn_planner_predict (p, 0, &o);
  ck_assert_double_eq_tol (o.cloud_ms, 23, 1e-9);
  sn_planner_free (p);
}
END_TEST

START_TEST (test_disabled_paths)
{
  SnPlanner *p = planner (100e6);
  sn_planner_set_min_dwell (p, 100);
  SnPlanDecision d;
  ck_assert_int_eq (sn_planner_decide (p, &d), 1);     /* late, 31.6 ms */
  /* Disabling the current option leaves it at once, dwell or not. */
  sn_planner_set_enabled (p, 1, FALSE);
  sn_planner_decide (p, &d);
  ck_assert (d.changed);
  ck_assert_str_eq (d.reason, "infeasible");
  ck_assert_int_eq (d.chosen, 0);                      /* early 41 < edge-only 60.04 */
  SnOptionPrediction r[3];
  sn_planner_rank (p, r, 3);
  ck_assert_int_eq (r[2].option, 1);
  ck_assert (!r[2].feasible);
  sn_planner_set_enabled (p, 1, TRUE);
  sn_planner_predict (p, 1, &r[0]);
  ck_assert (r[0].feasible);
  sn_planner_free (p);
}
END_TEST

START_TEST (test_frontier)
{
  /* edge work, bytes: the image (0 work, big), an early cut that is small,
   * one that is bigger and later (beaten by the early one for a fast
   * cloud, by the last one for a slow cloud), a tie of the early cut with
   * the same work, the heads (all the work, smallest), and one not
   * measured. */
  const double work[] = { 0, 1, 2, 1, 10, 5 };
  const double bytes[] = { 600, 300, 400, 300, 200, 0 };
  gboolean keep[6];
  ck_assert_int_eq (sn_plan_frontier (6, work, bytes, keep), 4);
  ck_assert (keep[0]);          /* least work */
  ck_assert (keep[1]);
  ck_assert (!keep[2]);         /* cut 1 (fast cloud) and cut 4 (slow cloud) beat it */
  ck_assert (!keep[3]);         /* the same as cut 1, which comes first */
  ck_assert (keep[4]);          /* fewest bytes */
  ck_assert (keep[5]);          /* no verdict */
  /* A cut beaten only for a fast cloud stays: with a slow cloud, the
   * most edge work with fewer bytes than the rest wins. */
  const double work2[] = { 0, 3, 8 };
  const double bytes2[] = { 500, 300, 400 };
  ck_assert_int_eq (sn_plan_frontier (3, work2, bytes2, keep), 3);
}
END_TEST

/* The rate-fidelity-latency frontier and the explanation, on a link of
 * 8 Mbit/s where 1000 bytes take 1 ms:
 *   A edge-only   edge 10, bytes 1000: latency 11, fidelity 100
 *   B cut         edge 1, cloud 5, bytes 5000: latency 11, fidelity 97
 *                 (A: fewer bytes, same latency, more fidelity: beaten)
 *   C cloud-only  edge 1, cloud 2, bytes 3000: latency 6, fidelity 90
 *                 (the fastest: on the frontier)
 *   D cut         edge 1, cloud 2.5, bytes 3000: latency 6.5, fidelity
 *                 unknown (counts 0: beaten by C)
 *   E cut         disabled: infeasible, never on the frontier */
START_TEST (test_option_frontier_and_explain)
{
  const SnOptionPrior pr[] = {
    { .name = "A", .edge_ms = 10, .bytes = 1000, .fidelity = 100 },
    { .name = "B", .edge_ms = 1, .cloud_ms = 5, .bytes = 5000, .fidelity = 97 },
    { .name = "C", .edge_ms = 1, .cloud_ms = 2, .bytes = 3000, .fidelity = 90 },
    { .name = "D", .edge_ms = 1, .cloud_ms = 2.5, .bytes = 3000, .fidelity = -1 },
    { .name = "E", .edge_ms = 0.1, .bytes = 10, .fidelity = 100 },
  };
  SnPlanner *p = sn_planner_new (pr, 5);
  sn_planner_set_bandwidth (p, 8e6);
  sn_planner_set_enabled (p, 4, FALSE);
  sn_planner_set_kind (p, 0, SN_OPTION_EDGE_ONLY);
  sn_planner_set_kind (p, 2, SN_OPTION_CLOUD_ONLY);
  gboolean f[5];
  ck_assert_int_eq (sn_planner_frontier (p, f), 2);
  ck_assert (f[0] && !f[1] && f[2] && !f[3] && !f[4]);

  SnOptionPrediction rank[5];
  ck_assert_int_eq (sn_planner_rank (p, rank, 5), 5);
  ck_assert_int_eq (rank[0].option, 2);
  g_autofree char *why = sn_planner_explain (p, rank, 5);
  /* C wins at 6 ms, D next at 6.5 (6.5 / 6 = 1.08), then A and B tie at
   * 11 ms (A first by index; 11 / 6 = 1.83).  D's unknown fidelity does
   * not exclude it without a floor. */
  ck_assert_msg (g_str_has_prefix (why, "C wins with the lowest latency at 8000 kbit/s"), "%s", why);
  ck_assert_msg (strstr (why, "Next: D, 1.08x worse") != NULL, "%s", why);
  ck_assert_msg (strstr (why, "Best edge-only: A, 1.83x worse, bounded by edge 10.0 ms.") != NULL,
      "%s", why);
  ck_assert_msg (strstr (why, "Best feature cut: D, 1.08x worse, bounded by link 3.0 ms.") != NULL,
      "%s", why);

  /* A fidelity floor of 95 takes C out; D's unknown fidelity is never
   * excluded, so D (6.5 ms) wins.  Frontier: D (the fastest) and A (the
   * most fidelity, fewest bytes); B is still beaten by A.  Infeasible: C
   * and the disabled E. */
  sn_planner_set_fidelity_floor (p, 95);
  ck_assert_int_eq (sn_planner_frontier (p, f), 2);
  ck_assert (f[0] && f[3]);
  sn_planner_rank (p, rank, 5);
  ck_assert_int_eq (rank[0].option, 3);
  g_free (why);
  why = sn_planner_explain (p, rank, 5);
  ck_assert_msg (strstr (why, "Best cloud-only: C, infeasible") != NULL, "%s", why);
  ck_assert_msg (strstr (why, "2 of 5 options are infeasible (fidelity floor 95.0") != NULL, "%s", why);
  sn_planner_free (p);
}
END_TEST

/* The option names (sn-option.h): one table for CLI, planner, elements and
 * packet header. */
START_TEST (test_option_names)
{
  ck_assert_int_eq (sn_option_kind_from_cut_arg ("edge-only"), SN_OPTION_EDGE_ONLY);
  ck_assert_int_eq (sn_option_kind_from_cut_arg ("cloud-only"), SN_OPTION_CLOUD_ONLY);
  ck_assert_int_eq (sn_option_kind_from_cut_arg ("4"), SN_OPTION_CUT);
  ck_assert_int_eq (sn_option_kind_from_cut_arg ("edge"), SN_OPTION_CUT);
  ck_assert_int_eq (sn_option_kind_from_cut_arg (NULL), SN_OPTION_CUT);
  for (int k = SN_OPTION_EDGE_ONLY; k <= SN_OPTION_CLOUD_ONLY; k++) {
    ck_assert_int_eq (sn_option_kind_from_cut_arg (sn_option_kind_name (k)), k);
    ck_assert_int_eq (sn_option_kind_from_cut_id (sn_option_kind_cut_id (k)), k);
  }
  ck_assert_int_eq (sn_option_kind_from_cut_id (48), SN_OPTION_CUT);
  SnFrameCodec c;
  ck_assert (sn_frame_codec_from_name ("h264", &c) && c == SN_FRAME_CODEC_H264);
  ck_assert (sn_frame_codec_from_name ("jpeg", &c) && c == SN_FRAME_CODEC_JPEG);
  /* Feature codec names are not frame codec names, and the other way. */
  SnCodec fc;
  ck_assert (!sn_frame_codec_from_name ("lossless", &c) && !sn_frame_codec_from_name ("lossy", &c));
  ck_assert (!sn_codec_from_name ("h264", &fc) && !sn_codec_from_name ("jpeg", &fc));
  ck_assert (sn_frame_codec_quality_valid (SN_FRAME_CODEC_H264, 0));
  ck_assert (sn_frame_codec_quality_valid (SN_FRAME_CODEC_H264, 51));
  ck_assert (!sn_frame_codec_quality_valid (SN_FRAME_CODEC_H264, 52));
  ck_assert (!sn_frame_codec_quality_valid (SN_FRAME_CODEC_JPEG, 0));
  ck_assert (sn_frame_codec_quality_valid (SN_FRAME_CODEC_JPEG, 100));
  SnOptionSpec o = { .kind = SN_OPTION_CLOUD_ONLY, .frame_codec = SN_FRAME_CODEC_H264, .quality = 26 };
  g_autofree char *a = sn_option_label (&o);
  ck_assert_str_eq (a, "cloud-only h264 qp26");
  o = (SnOptionSpec) { .kind = SN_OPTION_CUT, .cut = 4, .bits = 8, .codec = SN_CODEC_LOSSLESS };
  g_autofree char *b = sn_option_label (&o);
  ck_assert_str_eq (b, "cut 4 8-bit lossless");
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("planner");
  TCase *tc = tcase_create ("planner");
  tcase_add_test (tc, test_predictions);
  tcase_add_test (tc, test_latency_objective_follows_bandwidth);
  tcase_add_test (tc, test_dwell_and_bandwidth_step);
  tcase_add_test (tc, test_hysteresis);
  tcase_add_test (tc, test_warmup_and_smoothing);
  tcase_add_test (tc, test_qos_moves_work_off_the_edge);
  tcase_add_test (tc, test_other_objectives);
  tcase_add_test (tc, test_fidelity_floor);
  tcase_add_test (tc, test_learn_priors);
  tcase_add_test (tc, test_cloud_reports);
  tcase_add_test (tc, test_disabled_paths);
  tcase_add_test (tc, test_frontier);
  tcase_add_test (tc, test_option_frontier_and_explain);
  tcase_add_test (tc, test_option_names);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
