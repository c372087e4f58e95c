/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn profile MODEL.onnx: time every cut's edge and cloud part here.
 * splitnn plan MODEL.onnx --bandwidth 2M ...: rank the options for a link,
 *   with the fidelity the model stores per cut (splitnn.fidelity) and an
 *   optional floor on it.
 *
 * A profile is JSON: {"model": FINGERPRINT, "threads": N, "whole_ms": T,
 * "cuts": [{"id": I, "name": S, "edge_ms": E, "cloud_ms": C}, ...]}.  The
 * edge's profile comes from the camera box, the cloud's from the server;
 * without them `plan` profiles this machine.  Ranking goes through the
 * controller splitnnedge cut=auto uses (sn-controller.h); with --frame the
 * cuts' packet sizes are measured on a real frame as the element does on
 * its first one, and only the same candidates are considered. */
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "sn-cli.h"
#include "sn-frames.h"

typedef struct {
  int n_cuts;
  double whole_ms;
  double *edge_ms, *cloud_ms;
} Profile;

static void
profile_clear (Profile *p)
{
  g_free (p->edge_ms);
  g_free (p->cloud_ms);
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Median wall time of `repeat` runs after one warm-up run. */
static double
time_segment (SnSegment *seg, const SnTensor *const *inputs, int repeat, GError **error)
{
  g_autofree double *t = g_new (double, repeat);
  if (!sn_segment_run (seg, inputs, error))
    return -1;
  for (int r = 0; r < repeat; r++) {
    gint64 t0 = g_get_monotonic_time ();
    sn_segment_run (seg, inputs, NULL);
    t[r] = (g_get_monotonic_time () - t0) / 1000.0;
  }
  qsort (t, repeat, sizeof (double), cmp_double);
  return t[repeat / 2];
}

static SnTensor **
zero_inputs (SnSegment *seg)
{
  int n = sn_segment_n_inputs (seg);
  SnTensor **in = g_new0 (SnTensor *, n + 1);
  for (int i = 0; i < n; i++) {
    SnDType dt;
    SnShape s;
    sn_segment_input_info (seg, i, &dt, &s);
    in[i] = sn_tensor_new (dt, &s);
  }
  return in;
}

static void
free_inputs (SnTensor **in)
{
  for (int i = 0; in && in[i]; i++)
    sn_tensor_free (in[i]);
  g_free (in);
}

static gboolean
measure_profile (SnModel *m, const SnCutSet *set, int threads, int repeat,
    Profile *p, GError **error)
{
  p->n_cuts = sn_cut_set_n_cuts (set);
  p->edge_ms = g_new0 (double, p->n_cuts);
  p->cloud_ms = g_new0 (double, p->n_cuts);
  SnSegment *whole = sn_segment_new (m, NULL, 0, NULL, 0, error);
  if (!whole)
    return FALSE;
  sn_segment_set_threads (whole, threads);
  SnTensor **in = zero_inputs (whole);
  p->whole_ms = time_segment (whole, (const SnTensor * const *) in, repeat, error);
  free_inputs (in);
  sn_segment_free (whole);
  if (p->whole_ms < 0)
    return FALSE;
  for (int i = 0; i < p->n_cuts; i++) {
    SnSplit *split = sn_split_new (m, sn_cut_set_get (set, i), error);
    if (!split)
      return FALSE;
    SnSegment *edge = sn_split_edge (split), *cloud = sn_split_cloud (split);
    sn_segment_set_threads (edge, threads);
    sn_segment_set_threads (cloud, threads);
    SnTensor **ein = zero_inputs (edge), **cin = zero_inputs (cloud);
    p->edge_ms[i] = time_segment (edge, (const SnTensor * const *) ein, repeat, error);
    p->cloud_ms[i] = p->edge_ms[i] < 0 ? -1
        : time_segment (cloud, (const SnTensor * const *) cin, repeat, error);
    free_inputs (ein);
    free_inputs (cin);
    sn_split_free (split);
    if (p->cloud_ms[i] < 0)
      return FALSE;
  }
  return TRUE;
}

static gboolean
load_profile (const char *path, const SnModel *m, const SnCutSet *set, Profile *p,
    GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, path, error))
    return FALSE;
  JsonNode *root = json_parser_get_root (parser);
  JsonObject *o = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  if (!o || !json_object_has_member (o, "cuts") || !json_object_has_member (o, "whole_ms")) {
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: not a splitnn profile", path);
    return FALSE;
  }
  const char *fp = json_object_get_string_member_with_default (o, "model", "");
  if (strcmp (fp, sn_model_fingerprint (m)) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_MODEL_MISMATCH,
        "%s: profile was made for model %.12s..., not %.12s...", path, fp,
        sn_model_fingerprint (m));
    return FALSE;
  }
  JsonArray *cuts = json_object_get_array_member (o, "cuts");
  p->n_cuts = sn_cut_set_n_cuts (set);
  p->whole_ms = json_object_get_double_member (o, "whole_ms");
  p->edge_ms = g_new0 (double, p->n_cuts);
  p->cloud_ms = g_new0 (double, p->n_cuts);
  if (!cuts || (int) json_array_get_length (cuts) != p->n_cuts) {
    g_set_error (error, SN_ERROR, SN_ERROR_MODEL_MISMATCH,
        "%s: profile has a different number of cuts than the model", path);
    return FALSE;
  }
  for (int i = 0; i < p->n_cuts; i++) {
    JsonObject *c = json_array_get_object_element (cuts, i);
    p->edge_ms[i] = json_object_get_double_member_with_default (c, "edge_ms", -1);
    p->cloud_ms[i] = json_object_get_double_member_with_default (c, "cloud_ms", -1);
  }
  return TRUE;
}

int
sn_cli_profile (int argc, char **argv)
{
  int threads = 1, repeat = 5;
  GOptionEntry entries[] = {
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Kernel threads (default 1)", "N" },
    { "repeat", 'r', 0, G_OPTION_ARG_INT, &repeat, "Timed runs per segment; the median is kept (default 5)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.onnx");
  g_option_context_set_summary (ctx,
      "Time every cut's edge and cloud part on this machine; prints a JSON profile for 'splitnn plan'.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!sn_cli_parse (ctx, &argc, &argv, 1))
    return 2;
  if (threads < 1 || repeat < 1) {
    fprintf (stderr, "splitnn: --threads and --repeat must be at least 1\n");
    return 2;
  }
  GError *err = NULL;
  SnModel *m = sn_model_load (argv[1], &err);
  SnCutSet *set = m ? sn_cut_set_new (m, &err) : NULL;
  Profile p = { 0 };
  if (!set || !measure_profile (m, set, threads, repeat, &p, &err)) {
    fprintf (stderr, "splitnn: %s\n", err->message);
    g_error_free (err);
    profile_clear (&p);
    sn_cut_set_free (set);
    sn_model_free (m);
    return 1;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, sn_model_fingerprint (m));
  json_builder_set_member_name (b, "threads");
  json_builder_add_int_value (b, threads);
  json_builder_set_member_name (b, "whole_ms");
  json_builder_add_double_value (b, p.whole_ms);
  json_builder_set_member_name (b, "cuts");
  json_builder_begin_array (b);
  for (int i = 0; i < p.n_cuts; i++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, i);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, sn_cut_set_get (set, i)->name);
    json_builder_set_member_name (b, "edge_ms");
    json_builder_add_double_value (b, p.edge_ms[i]);
    json_builder_set_member_name (b, "cloud_ms");
    json_builder_add_double_value (b, p.cloud_ms[i]);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *s = json_to_string (root, TRUE);
  puts (s);
  profile_clear (&p);
  sn_cut_set_free (set);
  sn_model_free (m);
  return 0;
}

/* Options from `splitnn eval --json` rows: bytes and fidelity as measured,
 * times from the profiles, work from the cuts.  Cloud-only's edge time is
 * eval's coding time (encode and decode together: an upper bound on the
 * camera's encode).  fidelity[] gets the measured figures. */
static SnControllerOption *
measured_options (const char *path, const SnCutSet *set, const SnControllerOption *cut_options,
    double flops, const Profile *edge, const Profile *cloud, double edge_slowdown,
    GPtrArray *names, GArray *kinds, GArray *fidelity, int *n, GError **error)
{
  g_autoptr (GArray) ms = sn_option_measures_load (path, error);
  if (!ms)
    return NULL;
  SnControllerOption *o = g_new0 (SnControllerOption, ms->len);
  for (guint i = 0; i < ms->len; i++) {
    const SnOptionMeasure *m = &g_array_index (ms, SnOptionMeasure, i);
    char *name = sn_option_label (&m->option);
    g_ptr_array_add (names, name);
    g_array_append_val (kinds, m->option.kind);
    g_array_append_val (fidelity, m->fidelity);
    if (m->option.kind == SN_OPTION_CUT && m->option.cut >= (guint32) edge->n_cuts) {
      g_set_error (error, SN_ERROR, SN_ERROR_MODEL_MISMATCH, "%s: cut %u is not a cut of this "
          "model", path, m->option.cut);
      g_free (o);
      return NULL;
    }
    if (m->option.kind == SN_OPTION_CUT) {
      o[i] = cut_options[m->option.cut];
      o[i].edge_ms = edge->edge_ms[m->option.cut] * edge_slowdown;
      o[i].cloud_ms = cloud->cloud_ms[m->option.cut];
    } else if (m->option.kind == SN_OPTION_EDGE_ONLY) {
      o[i] = (SnControllerOption) { .cut = -1, .edge_flops = flops,
        .edge_ms = edge->whole_ms * edge_slowdown };
    } else {
      o[i] = (SnControllerOption) { .cut = -1, .cloud_flops = flops,
        .edge_ms = m->code_ms * edge_slowdown, .cloud_ms = cloud->whole_ms };
    }
    o[i].name = name;
    o[i].bytes = m->bytes;
    o[i].fidelity = m->fidelity;
  }
  *n = ms->len;
  return o;
}

/* What splitnnedge cut=auto does on its first frame: every cut's packet
 * size for the first frame of `path` at the encoder setting fc, into the
 * controller (no cloud-speed guess: the profiles have the cloud's times). */
static gboolean
measure_first_frame (SnController *controller, SnModel *m, const SnCutSet *set,
    const SnFeatureConfig *fc, const char *path, int threads, GError **error)
{
  /* The edge session splitnnedge runs, so the sizes are the element's. */
  SnEdgeSession *edge = sn_edge_session_new (m, (SnCutSet *) set, error);
  SnFrames *frames = edge ? sn_frames_open (path, error) : NULL;
  int n = sn_cut_set_n_cuts (set);
  g_autofree double *bytes = g_new0 (double, n);
  SnFrame f;
  SnLetterbox lb;
  const SnTensor *x = NULL;
  gboolean ok = FALSE;
  if (frames && sn_frames_next (frames, &f, error)) {
    SnImage img = { SN_PIXEL_RGB, f.width, f.height, { f.rgb }, { f.stride } };
    sn_edge_session_set_threads (edge, threads);
    x = sn_edge_session_preprocess (edge, &img, &lb, error);
  } else if (frames && !*error) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "%s: no frame", path);
  }
  if (x && sn_edge_session_measure_cuts (edge, fc, x, &lb, bytes, NULL, error)) {
    sn_controller_observe_first_frame (controller, bytes, n, 0);
    ok = TRUE;
  }
  if (frames)
    sn_frames_close (frames);
  sn_edge_session_free (edge);
  return ok;
}

int
sn_cli_plan (int argc, char **argv)
{
  g_autofree char *bandwidth_s = NULL, *edge_profile = NULL, *cloud_profile = NULL;
  g_autofree char *objective_s = NULL, *codec_s = NULL, *range_s = NULL, *frame = NULL;
  g_autofree char *measured = NULL;
  int bits = 4, threads = 1;
  gboolean per_channel = FALSE;
  double compression = 1.0, rtt = 0, budget = 0, edge_slowdown = 1.0, fid_floor = -1, clip = 1;
  double jpeg_bytes = 53000, result_bytes = 1000;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "bandwidth", 'b', 0, G_OPTION_ARG_STRING, &bandwidth_s, "Link rate, e.g. 2M, 500k, 1G (bit/s); required", "RATE" },
    { "edge-profile", 0, 0, G_OPTION_ARG_FILENAME, &edge_profile, "Profile measured on the edge device (default: profile here)", "FILE" },
    { "cloud-profile", 0, 0, G_OPTION_ARG_FILENAME, &cloud_profile, "Profile measured on the cloud server (default: profile here)", "FILE" },
    { "edge-slowdown", 0, 0, G_OPTION_ARG_DOUBLE, &edge_slowdown, "Scale edge times by X (an edge X times slower than the profile's machine)", "X" },
    { "bits", 0, 0, G_OPTION_ARG_INT, &bits, "Feature bits per value (default 4)", "N" },
    { "compression", 0, 0, G_OPTION_ARG_DOUBLE, &compression, "Codec ratio applied to the quantized feature (default 1)", "R" },
    { "jpeg-bytes", 0, 0, G_OPTION_ARG_DOUBLE, &jpeg_bytes, "Bytes per frame of the cloud-only option (default 53000)", "B" },
    { "rtt", 0, 0, G_OPTION_ARG_DOUBLE, &rtt, "Round-trip time in ms (default 0)", "MS" },
    { "objective", 0, 0, G_OPTION_ARG_STRING, &objective_s, "latency (default), throughput or bytes", "OBJ" },
    { "latency-budget", 0, 0, G_OPTION_ARG_DOUBLE, &budget, "Latency budget in ms for --objective bytes", "MS" },
    { "fidelity-floor", 0, 0, G_OPTION_ARG_DOUBLE, &fid_floor, "Options whose fidelity_ap50 is under X are infeasible: as --measured gives it, else as the model stores it per cut (splitnn.fidelity, from 'splitnn eval --store-fidelity'; map50 in files without ap50); options without a figure never are (default -1: off)", "X" },
    { "codec", 0, 0, G_OPTION_ARG_STRING, &codec_s, "Codec whose stored fidelity applies: none, lossless (default), lossy, auto (bytes come from --compression)", "C" },
    { "per-channel", 0, 0, G_OPTION_ARG_NONE, &per_channel, "Stored fidelity of per-channel ranges", NULL },
    { "clip", 0, 0, G_OPTION_ARG_DOUBLE, &clip, "Stored fidelity at this clip (default 1)", "F" },
    { "range", 0, 0, G_OPTION_ARG_STRING, &range_s, "Stored fidelity of frame (default) or calibrated ranges", "MODE" },
    { "frame", 0, 0, G_OPTION_ARG_FILENAME, &frame, "Measure every cut's packet size on the first frame of FILE (image or video) at these settings, as splitnnedge cut=auto does on its first frame, instead of --compression; cuts that are then no candidates rank as infeasible", "FILE" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads when profiling here (default 1)", "N" },
    { "measured", 0, 0, G_OPTION_ARG_FILENAME, &measured, "Rank every option 'splitnn eval --json' measured (edge-only, cloud-only per codec and quality, cut x bits x codec) with its bytes and fidelity_ap50", "EVAL.jsonl" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object per path, best first", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.onnx");
  g_option_context_set_summary (ctx,
      "Rank the options (every cut, edge-only, cloud-only) by predicted latency or throughput on a link.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!sn_cli_parse (ctx, &argc, &argv, 1))
    return 2;
  double bandwidth = 0;
  SnObjective objective = SN_OBJECTIVE_LATENCY;
  if (!bandwidth_s || !sn_cli_parse_rate (bandwidth_s, &bandwidth)) {
    fprintf (stderr, "splitnn: --bandwidth RATE is required, in bit/s like 2M, 500k or 1G\n");
    return 2;
  }
  if (objective_s) {
    if (strcmp (objective_s, "throughput") == 0)
      objective = SN_OBJECTIVE_THROUGHPUT;
    else if (strcmp (objective_s, "bytes") == 0)
      objective = SN_OBJECTIVE_BYTES;
    else if (strcmp (objective_s, "latency") != 0) {
      fprintf (stderr, "splitnn: --objective must be latency, throughput or bytes\n");
      return 2;
    }
  }
  if (bits < 1 || bits > 32 || compression <= 0 || edge_slowdown <= 0 || threads < 1) {
    fprintf (stderr, "splitnn: --bits must be 1-32; --compression, --edge-slowdown, --threads positive\n");
    return 2;
  }
  /* The encoder setting whose stored fidelity applies to the cuts. */
  SnFeatureConfig fc;
  sn_feature_config_init (&fc);
  fc.bits = bits;
  fc.per_channel = per_channel;
  fc.clip = clip;
  if ((codec_s && !sn_codec_from_name (codec_s, &fc.codec)) || !(clip > 0 && clip <= 1)
      || !(fid_floor < 0 || fid_floor <= 100)
      || (range_s && !sn_range_from_name (range_s, &fc.range))) {
    fprintf (stderr, "splitnn: --codec takes none, lossless, lossy or auto; --clip is in (0, 1]; "
        "--fidelity-floor at most 100; --range frame or calibrated\n");
    return 2;
  }

  GError *err = NULL;
  Profile edge = { 0 }, cloud = { 0 };
  SnModel *m = sn_model_load (argv[1], &err);
  SnCutSet *set = m ? sn_cut_set_new (m, &err) : NULL;
  int status = 1;
  g_autofree SnControllerOption *options = NULL, *cut_options = NULL;
  g_autofree SnOptionPrediction *rank = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) kinds = g_array_new (FALSE, TRUE, sizeof (SnOptionKind));
  g_autoptr (GArray) measured_fid = g_array_new (FALSE, TRUE, sizeof (double));
  g_autofree gboolean *frontier = NULL;
  g_autofree char *why = NULL;
  if (!set)
    goto out;
  if (edge_profile ? !load_profile (edge_profile, m, set, &edge, &err)
      : !measure_profile (m, set, threads, 3, &edge, &err))
    goto out;
  if (cloud_profile ? !load_profile (cloud_profile, m, set, &cloud, &err)
      : !measure_profile (m, set, threads, 3, &cloud, &err))
    goto out;

  /* The options splitnnedge cut=auto ranks (every cut, through the same
   * controller), with the profiles' times and --compression's bytes for
   * priors, and the two that split nothing. */
  SnModelInfo info;
  sn_model_get_info (m, &info);
  int n_cuts;
  cut_options = sn_controller_cut_options (set, info.flops, bits, &n_cuts);
  int n = n_cuts + 2;
  if (measured) {
    if (!(options = measured_options (measured, set, cut_options, info.flops, &edge, &cloud,
                edge_slowdown, names, kinds, measured_fid, &n, &err)))
      goto out;
  } else {
    options = g_new0 (SnControllerOption, n);
    g_array_set_size (kinds, n);
    g_array_index (kinds, SnOptionKind, n_cuts) = SN_OPTION_EDGE_ONLY;
    g_array_index (kinds, SnOptionKind, n_cuts + 1) = SN_OPTION_CLOUD_ONLY;
  }
  for (int i = 0; !measured && i < n_cuts; i++) {
    const SnCut *c = sn_cut_set_get (set, i);
    char *name = g_strdup_printf ("cut %d (%s)", i, c->name);
    g_ptr_array_add (names, name);
    options[i] = cut_options[i];
    options[i].name = name;
    options[i].edge_ms = edge.edge_ms[i] * edge_slowdown;
    options[i].cloud_ms = cloud.cloud_ms[i];
    options[i].bytes = sn_cut_bytes (c, bits) / compression;
  }
  /* Edge-only runs the unsplit float model: the reference fidelity is
   * measured against, so 100 by definition.  Cloud-only's JPEG is not
   * measured. */
  if (!measured) {
    options[n_cuts] = (SnControllerOption) { .name = "edge-only", .cut = -1,
      .edge_flops = info.flops, .edge_ms = edge.whole_ms * edge_slowdown, .bytes = result_bytes,
      .fidelity = 100 };
    options[n_cuts + 1] = (SnControllerOption) { .name = "cloud-only (JPEG)", .cut = -1,
      .cloud_flops = info.flops, .cloud_ms = cloud.whole_ms, .bytes = jpeg_bytes, .fidelity = -1 };
  }
  SnController *controller = sn_controller_new (options, n, info.flops);
  SnPlanner *planner = sn_controller_planner (controller);
  for (int i = 0; i < n; i++)
    sn_planner_set_kind (planner, i, g_array_index (kinds, SnOptionKind, i));
  sn_controller_set_bandwidth (controller, bandwidth);
  sn_controller_set_rtt (controller, rtt);
  sn_controller_set_objective (controller, objective);
  sn_controller_set_latency_budget (controller, budget);
  /* Measured rows carry their own fidelity; else the model's stored one. */
  if (measured)
    sn_controller_set_fidelity (controller, (const double *) measured_fid->data, fid_floor);
  else
    sn_controller_update_fidelity (controller, m, &fc, fid_floor);
  if (frame && !measure_first_frame (controller, m, set, &fc, frame, threads, &err)) {
    sn_controller_free (controller);
    goto out;
  }
  rank = g_new (SnOptionPrediction, n);
  sn_controller_rank (controller, rank, n);
  frontier = g_new0 (gboolean, n);
  sn_planner_frontier (planner, frontier);
  if (!json)
    printf ("%-4s %-48s %9s %9s %9s %9s %10s %8s %8s %s\n", "rank", "option", "edge ms", "link ms",
        "cloud ms", "total ms", "bytes", "fps", "fidelity", "frontier");
  for (int r = 0; r < n; r++) {
    const SnOptionPrediction *o = &rank[r];
    const SnControllerOption *opt = sn_controller_option (controller, o->option);
    const char *name = opt->name;
    double fid = sn_controller_fidelity (controller, o->option);
    char fid_s[32] = "-", fid_json[32] = "null";
    if (fid >= 0) {
      g_snprintf (fid_s, sizeof fid_s, "%.2f", fid);
      g_snprintf (fid_json, sizeof fid_json, "%.4f", fid);
    }
    if (json) {
      /* "option" is the option's kind, as in eval's rows; "name" says which. */
      printf ("{\"rank\": %d, \"name\": \"%s\", \"option\": \"%s\", \"cut\": %d, \"edge_ms\": %.3f, "
          "\"link_ms\": %.3f, \"cloud_ms\": %.3f, \"latency_ms\": %.3f, \"bytes\": %.0f, "
          "\"fps\": %.2f, \"fidelity\": %s, \"feasible\": %s, \"candidate\": %s, \"frontier\": %s}\n",
          r + 1, name, sn_option_kind_name (g_array_index (kinds, SnOptionKind, o->option)),
          opt->cut, o->edge_ms, o->link_ms, o->cloud_ms, o->latency_ms,
          o->bytes, o->fps, fid_json, o->feasible ? "true" : "false",
          sn_controller_is_candidate (controller, o->option) ? "true" : "false",
          frontier[o->option] ? "true" : "false");
    } else {
      printf ("%-4d %-48.48s %9.2f %9.2f %9.2f %9.2f %10.0f %8.1f %8s %s%s\n", r + 1, name,
          o->edge_ms, o->link_ms, o->cloud_ms, o->latency_ms, o->bytes, o->fps, fid_s,
          frontier[o->option] ? "*" : " ",
          !sn_controller_is_candidate (controller, o->option) ? "  (no candidate)"
          : o->feasible ? "" : "  (infeasible)");
    }
  }
  /* The why, for people: after the table, or on stderr beside JSON lines. */
  why = sn_planner_explain (planner, rank, n);
  fprintf (json ? stderr : stdout, "%s%s\n", json ? "plan: " : "\n", why);
  sn_controller_free (controller);
  status = 0;

out:
  if (err) {
    fprintf (stderr, "splitnn: %s\n", err->message);
    g_error_free (err);
  }
  profile_clear (&edge);
  profile_clear (&cloud);
  sn_cut_set_free (set);
  sn_model_free (m);
  return status;
}
