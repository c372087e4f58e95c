/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn capacity STATS.json [--cameras 4,8,16] [--link RATE] [--cores C]
 *                  [--p 0.01] [--utilisation 0.8] [--fps F] [--json]
 * splitnn capacity STATS.json --measure VIDEO --model MODEL.onnx --cut N
 *                  [--bits 8] [--codec lossless,lossy] [--frames F] [--start S] ...
 *
 * Link rate and cloud cores for n cameras, and the most cameras a link and
 * a core count carry, from per-stream statistics (sn-capacity.h has the
 * model).  The statistics file is JSON:
 *
 *   { "fps": 10, "options": [ { "name": "cut 4 8-bit lossless",
 *       "cloud_ms": 31.5, "cloud_ms_var": 4.1,
 *       "bytes": [ per-frame packet sizes of one stream ... ] }, ... ] }
 *
 * where an option may give "bytes_mean", "bytes_var", "bytes_skew" and
 * "bytes_quantiles" ({"0.99": bytes, ...}) instead of the samples.
 * --measure writes that file first from a video through the split path
 * (edge segment, feature encode and decode, cloud segment), one option
 * per bit width x codec at one cut, and then answers from it.  The frames
 * are one stream's; n cameras are modelled as n independent such streams. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <json-glib/json-glib.h>

#include <splitnn/splitnn.h>

#include "sn-cli.h"
#include "sn-frames.h"

#define MODEL_TEXT \
  "model: n independent streams, each like the measured one; the aggregate bytes of one frame\n" \
  "interval are taken as normal (central limit theorem): rate(n) = 8 fps (n mu + z sqrt(n) sigma),\n" \
  "z = Phi^-1(1 - p).  Cores: the same over cloud ms x fps, / utilisation, rounded up.\n" \
  "checks: cantelli = distribution-free bound for uncorrelated streams; cornish-fisher = normal\n" \
  "corrected for skew; resampled = sums of n independent draws of the measured sizes;\n" \
  "comonotone = n x per-stream quantile (perfectly correlated scenes).  It breaks for correlated\n" \
  "scenes (one event seen by many cameras), keyframe or refresh bursts that line up, and few or\n" \
  "skewed streams ('tail!' marks where a check exceeds the normal answer by > 5 % of its margin).\n" \
  "Rates are averages over one frame interval; bursts within it need queue room.\n"

typedef struct {
  char *name;
  SnStreamStats s;
  GArray *samples;          /* double; may be empty */
  GHashTable *quantiles;    /* "0.99" -> double *, may be NULL */
} Option;

static void
option_clear (Option *o)
{
  g_free (o->name);
  g_array_unref (o->samples);
  if (o->quantiles)
    g_hash_table_unref (o->quantiles);
}

static gboolean
number_member (JsonObject *o, const char *key, double *out, gboolean required, const char *where,
    GError **error)
{
  JsonNode *n = json_object_get_member (o, key);
  if (!n) {
    if (required)
      g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: no \"%s\"", where, key);
    return !required;
  }
  if (!JSON_NODE_HOLDS_VALUE (n) || (json_node_get_value_type (n) != G_TYPE_DOUBLE
          && json_node_get_value_type (n) != G_TYPE_INT64)) {
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: \"%s\" is not a number", where, key);
    return FALSE;
  }
  *out = json_node_get_double (n);
  return TRUE;
}

static GArray *
load_stats (const char *path, double *fps, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, path, error))
    return NULL;
  JsonNode *root = json_parser_get_root (parser);
  JsonObject *ro = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root) : NULL;
  JsonNode *opts = ro ? json_object_get_member (ro, "options") : NULL;
  if (!opts || !JSON_NODE_HOLDS_ARRAY (opts) || json_array_get_length (json_node_get_array (opts)) == 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: not a statistics file (an object with a "
        "non-empty \"options\" array)", path);
    return NULL;
  }
  if (!number_member (ro, "fps", fps, TRUE, path, error))
    return NULL;
  GArray *out = g_array_new (FALSE, TRUE, sizeof (Option));
  g_array_set_clear_func (out, (GDestroyNotify) option_clear);
  JsonArray *a = json_node_get_array (opts);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *on = json_array_get_element (a, i);
    g_autofree char *where = g_strdup_printf ("%s: options[%u]", path, i);
    if (!JSON_NODE_HOLDS_OBJECT (on)) {
      g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s is not an object", where);
      goto fail;
    }
    JsonObject *oo = json_node_get_object (on);
    Option o = { .samples = g_array_new (FALSE, FALSE, sizeof (double)) };
    const char *name = json_object_get_string_member_with_default (oo, "name", NULL);
    o.name = name ? g_strdup (name) : g_strdup_printf ("option %u", i);
    sn_stream_stats_init (&o.s);
    g_array_append_val (out, o);
    Option *op = &g_array_index (out, Option, out->len - 1);
    JsonNode *bytes = json_object_get_member (oo, "bytes");
    if (bytes) {
      if (!JSON_NODE_HOLDS_ARRAY (bytes)) {
        g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: \"bytes\" is not an array", where);
        goto fail;
      }
      JsonArray *ba = json_node_get_array (bytes);
      for (guint k = 0; k < json_array_get_length (ba); k++) {
        JsonNode *e = json_array_get_element (ba, k);
        if (!JSON_NODE_HOLDS_VALUE (e) || (json_node_get_value_type (e) != G_TYPE_DOUBLE
                && json_node_get_value_type (e) != G_TYPE_INT64)) {
          g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: bytes[%u] is not a number", where, k);
          goto fail;
        }
        double v = json_node_get_double (e);
        g_array_append_val (op->samples, v);
      }
    } else {
      if (!number_member (oo, "bytes_mean", &op->s.bytes_mean, TRUE, where, error)
          || !number_member (oo, "bytes_var", &op->s.bytes_var, TRUE, where, error)
          || !number_member (oo, "bytes_skew", &op->s.bytes_skew, FALSE, where, error))
        goto fail;
      JsonNode *q = json_object_get_member (oo, "bytes_quantiles");
      if (q && JSON_NODE_HOLDS_OBJECT (q)) {
        op->quantiles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
        JsonObject *qo = json_node_get_object (q);
        g_autoptr (GList) keys = json_object_get_members (qo);
        for (GList *l = keys; l; l = l->next) {
          double *v = g_new (double, 1);
          if (!number_member (qo, l->data, v, TRUE, where, error)) {
            g_free (v);
            goto fail;
          }
          g_hash_table_insert (op->quantiles, g_strdup (l->data), v);
        }
      } else if (q) {
        g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: \"bytes_quantiles\" is not an object", where);
        goto fail;
      }
    }
    if (!number_member (oo, "cloud_ms", &op->s.cloud_ms_mean, FALSE, where, error)
        || !number_member (oo, "cloud_ms_var", &op->s.cloud_ms_var, FALSE, where, error))
      goto fail;
  }
  return out;
fail:
  g_array_unref (out);
  return NULL;
}

static void
mean_var (const GArray *v, double *mean, double *var)
{
  double s = 0, s2 = 0;
  for (guint i = 0; i < v->len; i++)
    s += g_array_index (v, double, i);
  *mean = v->len ? s / v->len : 0;
  for (guint i = 0; i < v->len; i++) {
    double d = g_array_index (v, double, i) - *mean;
    s2 += d * d;
  }
  *var = v->len > 1 ? s2 / (v->len - 1) : 0;
}

/* One stream of VIDEO through the split at one cut, by the sessions
 * (sn-session.h): per frame, the packet size of every bits x codec option
 * (the edge runs the network once and recodes the cut for the others), and
 * every cloud_every frames the cloud session's time for each option's
 * packet (decode, network from the cut, detections).  Writes the
 * statistics file. */
static gboolean
measure (const char *model_path, const char *video, const char *cut_s, const char *bits_s,
    const char *codecs_s, int start, int max_frames, double fps, int threads, int cloud_every,
    const char *out, GError **error)
{
  gboolean ok = FALSE;
  SnModel *m = sn_model_load (model_path, error);
  SnCutSet *set = m ? sn_cut_set_new (m, error) : NULL;
  const SnCut *cut = set ? sn_cut_set_find (set, cut_s) : NULL;
  if (set && !cut)
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "no cut '%s' (see 'splitnn cuts')", cut_s);
  SnLoopback *loop = cut ? sn_loopback_new (m, set, error) : NULL;
  SnFrames *frames = loop ? sn_frames_open (video, error) : NULL;
  g_auto (GStrv) bits = g_strsplit (bits_s, ",", -1), codecs = g_strsplit (codecs_s, ",", -1);
  int n_opt = g_strv_length (bits) * g_strv_length (codecs);
  SnOption *opt = g_new0 (SnOption, n_opt);
  GArray **sizes = g_new0 (GArray *, n_opt), **cloud = g_new0 (GArray *, n_opt);
  for (int b = 0, k = 0; bits[b]; b++)
    for (int c = 0; codecs[c]; c++, k++) {
      sn_option_init_split (&opt[k], cut);
      char *end;
      opt[k].feature.bits = (int) g_ascii_strtoll (bits[b], &end, 10);
      if (!*bits[b] || *end || !sn_quant_bits_valid (opt[k].feature.bits)
          || !sn_codec_from_name (g_strstrip (codecs[c]), &opt[k].feature.codec)) {
        if (!*error)
          g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
              "--bits takes 2,4,8,16,32 and --codec none,lossless,lossy,auto; got '%s' and '%s'",
              bits[b], codecs[c]);
      }
      sizes[k] = g_array_new (FALSE, FALSE, sizeof (double));
      cloud[k] = g_array_new (FALSE, FALSE, sizeof (double));
    }
  SnDetections dets;
  sn_detections_init (&dets);
  guint64 pts0 = G_MAXUINT64, pts1 = 0;
  g_autofree char *vbase = g_path_get_basename (video), *mbase = g_path_get_basename (model_path);
  int n = 0;
  if (!frames || *error)
    goto done;
  SnEdgeSession *edge = sn_loopback_edge (loop);
  SnCloudSession *cs = sn_loopback_cloud (loop);
  sn_edge_session_set_threads (edge, threads);
  sn_cloud_session_set_threads (cs, threads);
  SnFrame f;
  for (int i = 0; i < start; i++)
    if (!sn_frames_next (frames, &f, error)) {
      if (!*error)
        g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "%s has only %d frames; --start %d",
            video, i, start);
      goto done;
    }
  while (n < max_frames && sn_frames_next (frames, &f, error)) {
    SnImage img = { SN_PIXEL_RGB, f.width, f.height, { f.rgb }, { f.stride } };
    for (int k = 0; k < n_opt; k++) {
      SnEdgePacket pk;
      if (!(k == 0 ? sn_edge_session_process (edge, &opt[k], &img, f.pts, &pk, error)
              : sn_edge_session_recode (edge, &opt[k], &pk, error)))
        goto done;
      double size = pk.len;
      g_array_append_val (sizes[k], size);
      if ((n + 1) % cloud_every != 0)
        continue;
      SnCloudFrame cf;
      if (!sn_cloud_session_process (cs, pk.data, pk.len, SN_SESSION_NOW, &cf, &dets, error))
        goto done;
      double ms = cf.timings.decode_ms + cf.timings.network_ms + cf.timings.detect_ms;
      g_array_append_val (cloud[k], ms);
    }
    if (f.pts != G_MAXUINT64) {
      pts0 = MIN (pts0, f.pts);
      pts1 = MAX (pts1, f.pts);
    }
    n++;
    fprintf (stderr, "\rcapacity: frame %d/%d", n, max_frames);
  }
  fprintf (stderr, "\n");
  if (*error)
    goto done;
  if (n < 2) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "%s: %d frames measured; need 2 or more",
        video, n);
    goto done;
  }
  if (fps <= 0) {
    if (pts0 == G_MAXUINT64 || pts1 <= pts0) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "%s has no timestamps to take the frame rate from; give --fps", video);
      goto done;
    }
    fps = (n - 1) / ((pts1 - pts0) / 1e9);
  }
  GString *js = g_string_new (NULL);
  g_string_append_printf (js, "{\"source\": \"%s\", \"model\": \"%s\", \"start\": %d, \"frames\": %d, "
      "\"fps\": %.6g, \"options\": [", vbase, mbase, start, n, fps);
  for (int k = 0; k < n_opt; k++) {
    double cm, cv;
    mean_var (cloud[k], &cm, &cv);
    const SnFeatureConfig *fc = &opt[k].feature;
    g_string_append_printf (js, "%s\n {\"name\": \"cut %u %d-bit %s\", \"cut\": %u, \"bits\": %d, "
        "\"codec\": \"%s\", \"cloud_ms\": %.4f, \"cloud_ms_var\": %.4f, \"bytes\": [",
        k ? "," : "", cut->id, fc->bits, sn_codec_name (fc->codec), cut->id, fc->bits,
        sn_codec_name (fc->codec), cm, cv);
    for (guint i = 0; i < sizes[k]->len; i++)
      g_string_append_printf (js, "%s%.0f", i ? ", " : "", g_array_index (sizes[k], double, i));
    g_string_append (js, "]}");
  }
  g_string_append (js, "\n]}\n");
  ok = g_file_set_contents (out, js->str, js->len, error);
  g_string_free (js, TRUE);
  if (ok)
    fprintf (stderr, "capacity: %d frames of %s, %d options -> %s\n", n, vbase, n_opt, out);
done:
  for (int k = 0; k < n_opt; k++) {
    g_array_unref (sizes[k]);
    g_array_unref (cloud[k]);
  }
  g_free (sizes);
  g_free (cloud);
  g_free (opt);
  sn_detections_clear (&dets);
  if (frames)
    sn_frames_close (frames);
  if (loop)
    sn_loopback_free (loop);
  sn_cut_set_free (set);
  sn_model_free (m);
  return ok;
}

/* NAN as JSON null. */
static void
json_num (const char *key, double v, const char *fmt)
{
  printf (", \"%s\": ", key);
  if (isnan (v))
    printf ("null");
  else
    printf (fmt, v);
}

int
sn_cli_capacity (int argc, char **argv)
{
  g_autofree char *cameras_s = NULL, *link_s = NULL, *video = NULL, *model = NULL;
  g_autofree char *cut_s = NULL, *bits_s = NULL, *codecs_s = NULL;
  double cores = 0, p = 0.01, utilisation = 0.8, fps = 0, cloud_ms = -1;
  int frames = 400, start = 0, threads = 1, cloud_every = 1;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "cameras", 'n', 0, G_OPTION_ARG_STRING, &cameras_s, "Numbers of cameras to answer for, e.g. 4,8,16", "LIST" },
    { "link", 0, 0, G_OPTION_ARG_STRING, &link_s, "Link rate for the largest number of cameras, e.g. 100M (bit/s)", "RATE" },
    { "cores", 0, 0, G_OPTION_ARG_DOUBLE, &cores, "Cloud cores for the largest number of cameras (default: not a limit)", "C" },
    { "p", 0, 0, G_OPTION_ARG_DOUBLE, &p, "Probability that the aggregate exceeds the answer, (0, 0.5] (default 0.01)", "P" },
    { "utilisation", 0, 0, G_OPTION_ARG_DOUBLE, &utilisation, "Target busy fraction of a cloud core, (0, 1] (default 0.8)", "U" },
    { "fps", 0, 0, G_OPTION_ARG_DOUBLE, &fps, "Frames per second of each camera (default: the statistics' own)", "F" },
    { "cloud-ms", 0, 0, G_OPTION_ARG_DOUBLE, &cloud_ms, "Cloud time per frame on one core of the cloud host, "
      "ms (e.g. from 'splitnn profile' there); replaces the statistics' own, variance 0", "MS" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per answer", NULL },
    { "measure", 0, 0, G_OPTION_ARG_FILENAME, &video, "Measure one stream of this video first and write STATS.json", "VIDEO" },
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model, "With --measure: the model", "MODEL.onnx" },
    { "cut", 0, 0, G_OPTION_ARG_STRING, &cut_s, "With --measure: the cut (id or name)", "N" },
    { "bits", 0, 0, G_OPTION_ARG_STRING, &bits_s, "With --measure: bit widths (default 8)", "LIST" },
    { "codec", 0, 0, G_OPTION_ARG_STRING, &codecs_s, "With --measure: codecs (default lossless,lossy)", "LIST" },
    { "frames", 0, 0, G_OPTION_ARG_INT, &frames, "With --measure: frames (default 400)", "F" },
    { "start", 0, 0, G_OPTION_ARG_INT, &start, "With --measure: skip this many frames first", "S" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "With --measure: kernel threads (default 1)", "N" },
    { "cloud-every", 0, 0, G_OPTION_ARG_INT, &cloud_every, "With --measure: time the cloud on every Nth frame only "
      "(default 1; the cloud segment is most of the cost, packet sizes do not need it)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("STATS.json");
  g_option_context_set_summary (ctx, "Link rate and cloud cores for n cameras, and the most cameras "
      "a link and a core count carry, from per-stream statistics (written first by --measure).");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!sn_cli_parse (ctx, &argc, &argv, 1))
    return 2;
  double link = 0;
  g_autoptr (GArray) ns = g_array_new (FALSE, FALSE, sizeof (int));
  if (cameras_s) {
    g_auto (GStrv) parts = g_strsplit (cameras_s, ",", -1);
    for (int i = 0; parts[i]; i++) {
      char *end;
      gint64 v = g_ascii_strtoll (g_strstrip (parts[i]), &end, 10);
      if (!*parts[i] || *end || v < 1 || v > 100000000) {
        fprintf (stderr, "splitnn: --cameras takes numbers from 1 to 100000000, e.g. 4,8,16\n");
        return 2;
      }
      int n = (int) v;
      g_array_append_val (ns, n);
    }
  }
  if ((link_s && (!sn_cli_parse_rate (link_s, &link) || !isfinite (link))) || cores < 0 || fps < 0
      || (cloud_ms < 0 && cloud_ms != -1)) {
    fprintf (stderr, "splitnn: --link takes a rate such as 100M, 2.5G (bit/s); --cores, --fps and --cloud-ms >= 0\n");
    return 2;
  }
  if (video && (!model || !cut_s || frames < 2 || start < 0 || threads < 1
          || cloud_every < 1)) {
    fprintf (stderr, "splitnn: --measure needs --model and --cut, --frames >= 2, --start >= 0, "
        "--threads and --cloud-every >= 1\n");
    return 2;
  }
  if (!video && !cameras_s && !link_s) {
    fprintf (stderr, "splitnn: give --cameras, --link, or --measure\n");
    return 2;
  }
  GError *err = NULL;
  if (video && !measure (model, video, cut_s, bits_s ? bits_s : "8",
          codecs_s ? codecs_s : "lossless,lossy", start, frames, fps, threads, cloud_every, argv[1], &err)) {
    fprintf (stderr, "splitnn: %s\n", err->message);
    g_error_free (err);
    return 1;
  }
  double file_fps = 0;
  g_autoptr (GArray) opts = load_stats (argv[1], &file_fps, &err);
  if (!opts) {
    fprintf (stderr, "splitnn: %s\n", err->message);
    g_error_free (err);
    return 1;
  }
  SnCapacityParams prm;
  sn_capacity_params_init (&prm);
  prm.p = p;
  prm.utilisation = utilisation;
  g_autofree char *pkey = g_strdup_printf ("%g", 1 - p);
  /* Every option checked before anything is printed. */
  for (guint i = 0; i < opts->len && !err; i++) {
    Option *o = &g_array_index (opts, Option, i);
    o->s.fps = fps > 0 ? fps : file_fps;
    if (cloud_ms >= 0) {
      o->s.cloud_ms_mean = cloud_ms;
      o->s.cloud_ms_var = 0;
    }
    if (o->samples->len && !sn_stream_stats_set_samples (&o->s, (const double *) o->samples->data,
            o->samples->len, &err))
      break;
    double *q = o->quantiles ? g_hash_table_lookup (o->quantiles, pkey) : NULL;
    o->s.bytes_quantile = q ? *q : -1;
    SnCapacity c;
    if (!sn_capacity_for_cameras (&o->s, &prm, 1, &c, &err))
      g_prefix_error (&err, "%s: ", o->name);
  }
  if (!err && json)
    printf ("{\"model\": \"normal\", \"assumptions\": [\"streams independent and each like the "
        "measured one\", \"aggregate of one frame interval normal (central limit theorem)\", "
        "\"rates averaged over one frame interval\", \"one cloud core serves one frame at a time\"], "
        "\"breaks\": [\"correlated scenes\", \"keyframe or refresh bursts that line up\", "
        "\"few or skewed streams (see tail_heavier)\", \"drift of the scene\"]}\n");
  if (!err && !json && (cameras_s || link_s)) {
    fputs (MODEL_TEXT, stdout);
    printf ("\np %g (z %.4f), utilisation %g; rates in Mbit/s\n", p, sn_normal_quantile (1 - p),
        utilisation);
  }
  int rc = 0;
  for (guint i = 0; i < opts->len && !err; i++) {
    Option *o = &g_array_index (opts, Option, i);
    if (!json && cameras_s)
      printf ("\n%s: %.0f bytes/frame, sd %.0f, skew %.2f, %g fps, cloud %.1f ms/frame\n"
          "%8s %9s %9s %9s %9s %9s %10s %8s %6s\n", o->name, o->s.bytes_mean, sqrt (o->s.bytes_var),
          o->s.bytes_skew, o->s.fps, o->s.cloud_ms_mean, "cameras", "mean", "rate(p)", "cantelli",
          "corn-fish", "resampled", "comonotone", "load", "cores");
    for (guint k = 0; k < ns->len; k++) {
      SnCapacity c;
      if (!sn_capacity_for_cameras (&o->s, &prm, g_array_index (ns, int, k), &c, &err))
        break;
      if (json) {
        g_autofree char *esc = g_strescape (o->name, NULL);
        printf ("{\"option\": \"%s\", \"cameras\": %d, \"p\": %g, \"z\": %.6f, \"fps\": %g, "
            "\"bytes_mean\": %.2f, \"bytes_sd\": %.2f, \"bytes_skew\": %.4f", esc, c.n, p, c.z,
            o->s.fps, o->s.bytes_mean, sqrt (o->s.bytes_var), o->s.bytes_skew);
        json_num ("rate_mean_bps", c.rate_mean, "%.0f");
        json_num ("rate_bps", c.rate, "%.0f");
        json_num ("rate_cantelli_bps", c.rate_cantelli, "%.0f");
        json_num ("rate_cornish_fisher_bps", c.rate_cornish_fisher, "%.0f");
        json_num ("rate_resampled_bps", c.rate_resampled, "%.0f");
        json_num ("rate_comonotone_bps", c.rate_comonotone, "%.0f");
        json_num ("cloud_ms", o->s.cloud_ms_mean, "%.3f");
        json_num ("load_cores", c.load, "%.4f");
        printf (", \"cores\": %d, \"utilisation\": %g, \"tail_heavier\": %s}\n", c.cores,
            utilisation, c.tail_heavier ? "true" : "false");
      } else {
        printf ("%8d %9.3f %9.3f %9.3f %9.3f %9.3f %10.3f %8.2f %6d%s\n", c.n, c.rate_mean / 1e6,
            c.rate / 1e6, c.rate_cantelli / 1e6, c.rate_cornish_fisher / 1e6,
            c.rate_resampled / 1e6, c.rate_comonotone / 1e6, c.load, c.cores,
            c.tail_heavier ? " tail!" : "");
      }
    }
    if (err)
      break;
    if (link_s) {
      int n;
      const char *limit;
      if (!sn_capacity_max_cameras (&o->s, &prm, link, cores, &n, &limit, &err))
        break;
      g_autofree char *esc = g_strescape (o->name, NULL);
      if (json)
        printf ("{\"option\": \"%s\", \"max_cameras\": %d, \"link_bps\": %.0f, \"cores\": %g, "
            "\"p\": %g, \"utilisation\": %g, \"limit\": \"%s\"}\n", esc, n, link, cores, p,
            utilisation, limit);
      else if (cores > 0)
        printf ("%s: at most %d cameras on %.3f Mbit/s and %g cores (%s binds)\n", o->name, n,
            link / 1e6, cores, limit);
      else
        printf ("%s: at most %d cameras on %.3f Mbit/s\n", o->name, n, link / 1e6);
    }
  }
  if (err) {
    fprintf (stderr, "splitnn: %s: %s\n", argv[1], err->message);
    g_error_free (err);
    rc = 1;
  }
  return rc;
}
