/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Does a cloud worker gain by running the frames of several streams as one
 * batch?  (docs/workers.md, "Batching")
 *
 *   build/bench/batch MODEL.onnx VIDEO [--cuts 4,30] [--batches 1,2,4,8]
 *                     [--rounds 12] [--threads 1] [--first 400]
 *
 * The detector's ONNX file has a static batch of 1, and its upsamplings
 * name a constant output size 1 x C x H x W.  The bench edits both in the
 * protobuf (model_at_batch: batch N, nothing else changed) and loads that
 * model: shape inference, constant folding and the segment's plan at batch
 * N, as a server would have to.  Per cut, the cloud
 * segment (cut tensors -> heads) at batch N runs the features of N
 * different frames (frames --first, --first+25, ... of VIDEO through the
 * edge segment at batch 1), so every batch holds N streams' packets.
 *
 * Timed in interleaved rounds (each round runs every batch size once, in
 * turn) so that the shared machine's load falls on all alike; reported per
 * batch size: the median time of one batch, per frame, and frames/s
 * relative to batch 1 in the same run.  Each batched output is checked
 * against the same frame's output at batch 1 (max |difference| over both
 * heads): a batch must compute what N single runs compute.
 *
 * Prints the machine line (CPU, ISA flags, load before and after). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <splitnn/splitnn.h>

#include "onnx.pb-c.h"
#include "sn-frames.h"

#define MAX_LIST 8

static double
now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
quantile (double *v, int n, double q)
{
  qsort (v, n, sizeof *v, cmp_double);
  int i = (int) (q * (n - 1) + 0.5);
  return v[MIN (i, n - 1)];
}

static gboolean
parse_ints (const char *s, int *out, int max, int *n)
{
  g_auto (GStrv) parts = g_strsplit (s, ",", -1);
  *n = 0;
  for (int i = 0; parts[i]; i++) {
    char *end;
    long v = strtol (parts[i], &end, 10);
    if (*n >= max || end == parts[i] || *end || v < 0)
      return FALSE;
    out[(*n)++] = (int) v;
  }
  return *n > 0;
}

static void
machine_line (const char *when)
{
  if (!strcmp (when, "before")) {
    g_autofree char *info = NULL;
    char model[128] = "?";
    GString *isa = g_string_new (NULL);
    if (g_file_get_contents ("/proc/cpuinfo", &info, NULL, NULL)) {
      char *p = strstr (info, "model name");
      if (p && (p = strchr (p, ':')))
        sscanf (p + 1, " %127[^\n]", model);
      char *f = strstr (info, "\nflags");
      char *eol = f ? strchr (f + 1, '\n') : NULL;
      if (f && eol) {
        *eol = 0;
        const char *names[] = { "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni" };
        g_auto (GStrv) fl = g_strsplit (strchr (f, ':') + 1, " ", -1);
        for (int i = 0; i < (int) G_N_ELEMENTS (names); i++)
          if (g_strv_contains ((const char *const *) fl, names[i]))
            g_string_append_printf (isa, "%s%s", isa->len ? "," : "", names[i]);
      }
    }
    printf ("machine: %s; %u CPUs; ISA %s\n", model, g_get_num_processors (), isa->str);
    g_string_free (isa, TRUE);
  }
  g_autofree char *la = NULL;
  if (g_file_get_contents ("/proc/loadavg", &la, NULL, NULL)) {
    la[strcspn (la, "\n")] = 0;
    printf ("load %s: %s\n", when, la);
  }
}

/* Sets element 0 of an INT64 tensor of 4 elements that is 1 (a Resize's
 * "sizes": N, C, H, W) to n.  TRUE if it did. */
static gboolean
set_sizes_batch (Onnx__TensorProto *tp, int64_t n)
{
  if (!tp || tp->data_type != ONNX__TENSOR_PROTO__DATA_TYPE__INT64 || tp->n_dims != 1 || tp->dims[0] != 4)
    return FALSE;
  if (tp->n_int64_data == 4 && tp->int64_data[0] == 1) {
    tp->int64_data[0] = n;
    return TRUE;
  }
  if (tp->has_raw_data && tp->raw_data.len == 32) {
    int64_t v;
    memcpy (&v, tp->raw_data.data, 8);   /* little-endian, as ONNX stores it and x86 reads it */
    if (v == 1) {
      memcpy (tp->raw_data.data, &n, 8);
      return TRUE;
    }
  }
  return FALSE;
}

/* The model's bytes at batch n: dim 0 of every graph input and output is
 * n, and every Resize whose output size is a constant (N, C, H, W) with
 * N = 1 gets N = n (the detector's three upsamplings are such: exported
 * from TensorFlow at batch 1, they name their output size, not a scale,
 * so no loader can run them at another batch without this edit).  The
 * value_info is dropped: the loader infers every shape again. */
static guint8 *
model_at_batch (const char *path, int64_t n, size_t *len, int *n_resized, GError **error)
{
  g_autofree char *bytes = NULL;
  gsize sz;
  if (!g_file_get_contents (path, &bytes, &sz, error))
    return NULL;
  Onnx__ModelProto *mp = onnx__model_proto__unpack (NULL, sz, (const uint8_t *) bytes);
  if (!mp || !mp->graph) {
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: not an ONNX model", path);
    return NULL;
  }
  Onnx__GraphProto *g = mp->graph;
  Onnx__ValueInfoProto **lists[] = { g->input, g->output };
  size_t counts[] = { g->n_input, g->n_output };
  for (int l = 0; l < 2; l++)
    for (size_t i = 0; i < counts[l]; i++) {
      Onnx__TypeProto *t = lists[l][i]->type;
      if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type->shape
          || !t->tensor_type->shape->n_dim)
        continue;
      Onnx__TensorShapeProto__Dimension *d = t->tensor_type->shape->dim[0];
      if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
        d->dim_value = n;
    }
  g->n_value_info = 0;
  *n_resized = 0;
  for (size_t i = 0; i < g->n_node; i++) {
    Onnx__NodeProto *node = g->node[i];
    if (strcmp (node->op_type, "Resize") || node->n_input < 4 || !*node->input[3])
      continue;
    const char *sizes = node->input[3];
    for (size_t j = 0; j < g->n_initializer; j++)
      if (!strcmp (g->initializer[j]->name, sizes))
        *n_resized += set_sizes_batch (g->initializer[j], n);
    for (size_t j = 0; j < g->n_node; j++)
      if (!strcmp (g->node[j]->op_type, "Constant") && g->node[j]->n_output == 1
          && !strcmp (g->node[j]->output[0], sizes))
        for (size_t a = 0; a < g->node[j]->n_attribute; a++)
          if (!strcmp (g->node[j]->attribute[a]->name, "value"))
            *n_resized += set_sizes_batch (g->node[j]->attribute[a]->t, n);
  }
  *len = onnx__model_proto__get_packed_size (mp);
  guint8 *out = g_malloc (*len);
  onnx__model_proto__pack (mp, out);
  onnx__model_proto__free_unpacked (mp, NULL);
  return out;
}

int
main (int argc, char **argv)
{
  int rounds = 12, threads = 1, first = 400;
  g_autofree char *cuts_s = NULL, *batches_s = NULL;
  GOptionEntry entries[] = {
    { "cuts", 0, 0, G_OPTION_ARG_STRING, &cuts_s, "Cut ids (default 4,30)", "LIST" },
    { "batches", 0, 0, G_OPTION_ARG_STRING, &batches_s, "Batch sizes (default 1,2,4,8; 1 must be first)", "LIST" },
    { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Interleaved rounds (default 12)", "R" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads of each segment (default 1)", "T" },
    { "first", 0, 0, G_OPTION_ARG_INT, &first, "First frame of VIDEO taken (default 400)", "F" },
    { NULL }
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("MODEL.onnx VIDEO");
  g_option_context_set_summary (octx, "Cloud-part time per frame at batch 1 against batch N "
      "(N streams' packets of one cut run as one batch).");
  g_option_context_add_main_entries (octx, entries, NULL);
  GError *err = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &err) || argc != 3 || rounds < 1 || threads < 1) {
    fprintf (stderr, "batch: %s\n", err ? err->message : "usage: batch MODEL.onnx VIDEO [options]");
    return 2;
  }
  int cut_ids[MAX_LIST] = { 4, 30 }, n_cuts = 2, batches[MAX_LIST] = { 1, 2, 4, 8 }, n_batches = 4;
  if ((cuts_s && !parse_ints (cuts_s, cut_ids, MAX_LIST, &n_cuts))
      || (batches_s && !parse_ints (batches_s, batches, MAX_LIST, &n_batches)) || batches[0] != 1) {
    fprintf (stderr, "batch: --cuts and --batches take up to %d numbers; the first batch size is 1\n", MAX_LIST);
    return 2;
  }
  int max_n = 1;
  for (int b = 0; b < n_batches; b++)
    max_n = MAX (max_n, batches[b]);
  machine_line ("before");

  g_autofree char *dir = g_path_get_dirname (argv[1]);
  SnModel *m = sn_model_load (argv[1], &err);
  SnDetector *det = m ? sn_detector_new (m, &err) : NULL;
  SnCutSet *set = det ? sn_cut_set_new (m, &err) : NULL;
  SnFrames *frames = set ? sn_frames_open (argv[2], &err) : NULL;
  if (!frames) {
    fprintf (stderr, "batch: %s\n", err->message);
    return 1;
  }
  int W = sn_detector_input_width (det), H = sn_detector_input_height (det);
  SnPreprocessor *stretch = sn_preprocessor_new (W, H, SN_RESIZE_STRETCH, 1, 0, 0);
  SnShape in_shape = sn_shape_make (4, (int64_t[]) { 1, H, W, 3 });
  /* Frames first, +25, +50...: different scenes, as different streams. */
  SnTensor **x = g_new0 (SnTensor *, max_n);
  SnFrame f;
  int got = 0;
  while (got < max_n && sn_frames_next (frames, &f, &err)) {
    if (f.index < first || (f.index - first) % 25)
      continue;
    SnImage img = { .format = SN_PIXEL_RGB, .width = f.width, .height = f.height,
      .planes = { f.rgb }, .strides = { f.stride } };
    SnLetterbox lb;
    x[got] = sn_tensor_new (SN_DTYPE_FLOAT32, &in_shape);
    if (!sn_preprocess (stretch, &img, x[got], &lb, &err))
      break;
    got++;
  }
  sn_frames_close (frames);
  if (got < max_n) {
    fprintf (stderr, "batch: %s\n", err ? err->message : "the video has too few frames after --first");
    return 1;
  }
  printf ("model: %s; frames %d, %d, ... of %s; %d thread(s); %d interleaved rounds\n",
      argv[1], first, first + 25, argv[2], threads, rounds);

  const char *heads[] = { "keypoints", "wh" };
  for (int c = 0; c < n_cuts; c++) {
    char id[16];
    g_snprintf (id, sizeof id, "%d", cut_ids[c]);
    const SnCut *cut = sn_cut_set_find (set, id);
    SnSplit *split = cut ? sn_split_new (m, cut, &err) : NULL;
    if (!split) {
      fprintf (stderr, "batch: cut %s: %s\n", id, err ? err->message : "no such cut");
      return 1;
    }
    sn_segment_set_threads (sn_split_edge (split), threads);
    sn_segment_set_threads (sn_split_cloud (split), threads);
    /* Per frame: its cut tensors (edge part) and its heads at batch 1 (the oracle). */
    int nt = cut->n_tensors;
    SnTensor ***feat = g_new0 (SnTensor **, max_n), ***ref = g_new0 (SnTensor **, max_n);
    for (int k = 0; k < max_n; k++) {
      if (!sn_segment_run (sn_split_edge (split), (const SnTensor *[]) { x[k] }, &err)) {
        fprintf (stderr, "batch: %s\n", err->message);
        return 1;
      }
      feat[k] = g_new0 (SnTensor *, nt);
      for (int t = 0; t < nt; t++)
        feat[k][t] = sn_tensor_copy (sn_segment_output (sn_split_edge (split), t));
      if (!sn_segment_run (sn_split_cloud (split), (const SnTensor *const *) feat[k], &err)) {
        fprintf (stderr, "batch: %s\n", err->message);
        return 1;
      }
      ref[k] = g_new0 (SnTensor *, 2);
      for (int h = 0; h < 2; h++)
        ref[k][h] = sn_tensor_copy (sn_segment_output (sn_split_cloud (split), h));
    }
    /* Per batch size: the model at that batch, its cloud segment, its inputs
     * (the first N frames' features, stacked). */
    SnSegment *seg[MAX_LIST];
    SnModel *mb_of[MAX_LIST];
    SnTensor **in[MAX_LIST];
    double *ms[MAX_LIST];
    double maxdiff[MAX_LIST];
    for (int b = 0; b < n_batches; b++) {
      int N = batches[b];
      size_t len = 0;
      int n_resized = 0;
      g_autofree guint8 *bytes = N == 1 ? NULL : model_at_batch (argv[1], N, &len, &n_resized, &err);
      SnModel *mb = N == 1 ? m : bytes ? sn_model_load_from_data (bytes, len, dir, &err) : NULL;
      mb_of[b] = mb;
      if (c == 0 && b == n_batches - 1)
        printf ("model at batch N: input and outputs N x ..., %d Resize output sizes N x ...\n", n_resized);
      if (!mb || !(seg[b] = sn_segment_new (mb, cut->tensors, nt, heads, 2, &err))) {
        fprintf (stderr, "batch: batch %d: %s\n", N, err->message);
        return 1;
      }
      sn_segment_set_threads (seg[b], threads);
      in[b] = g_new0 (SnTensor *, nt);
      for (int t = 0; t < nt; t++) {
        SnShape ts = cut->shapes[t];
        ts.dims[0] = N;
        in[b][t] = sn_tensor_new (cut->dtypes[t], &ts);
        size_t one = sn_tensor_nbytes (feat[0][t]);
        for (int k = 0; k < N; k++)
          memcpy ((guint8 *) in[b][t]->data + k * one, feat[k][t]->data, one);
      }
      ms[b] = g_new0 (double, rounds);
      /* Warm-up (XNNPACK packs weights on the first run) and the check. */
      if (!sn_segment_run (seg[b], (const SnTensor *const *) in[b], &err)) {
        fprintf (stderr, "batch: batch %d: %s\n", N, err->message);
        return 1;
      }
      maxdiff[b] = 0;
      for (int h = 0; h < 2; h++) {
        const SnTensor *o = sn_segment_output (seg[b], h);
        int64_t one = sn_tensor_numel (ref[0][h]);
        if (sn_tensor_numel (o) != one * N) {
          fprintf (stderr, "batch: batch %d gives %" G_GINT64_FORMAT " values, not %d x %" G_GINT64_FORMAT "\n",
              N, sn_tensor_numel (o), N, one);
          return 1;
        }
        for (int k = 0; k < N; k++) {
          const float *a = (const float *) o->data + k * one, *r = ref[k][h]->data;
          for (int64_t i = 0; i < one; i++)
            maxdiff[b] = MAX (maxdiff[b], fabs ((double) a[i] - r[i]));
        }
      }
    }
    for (int r = 0; r < rounds; r++)
      for (int b = 0; b < n_batches; b++) {
        double t0 = now_ms ();
        if (!sn_segment_run (seg[b], (const SnTensor *const *) in[b], &err)) {
          fprintf (stderr, "batch: %s\n", err->message);
          return 1;
        }
        ms[b][r] = now_ms () - t0;
      }
    char shp[96];
    printf ("cut %d (%s, %.3f cloud GFLOP per frame):\n", cut_ids[c], sn_shape_format (&cut->shapes[0], shp, sizeof shp),
        cut->cloud_flops / 1e9);
    double per1 = 0;
    for (int b = 0; b < n_batches; b++) {
      int N = batches[b];
      double med = quantile (ms[b], rounds, 0.5), p10 = quantile (ms[b], rounds, 0.1),
          p90 = quantile (ms[b], rounds, 0.9);
      if (b == 0)
        per1 = med;
      printf ("  batch %d: %7.1f ms per batch (p10 %.1f, p90 %.1f), %6.1f ms per frame, "
          "frames/s x%.2f of batch 1; max |batched - single| %.2g; arena %.0f MB, %d of %d nodes on the fast path\n",
          N, med, p10, p90, med / N, per1 / (med / N), maxdiff[b], sn_segment_arena_bytes (seg[b]) / 1e6,
          sn_segment_n_fast_nodes (seg[b]), sn_segment_n_nodes (seg[b]));
    }
    for (int b = 0; b < n_batches; b++) {
      sn_segment_free (seg[b]);
      if (mb_of[b] != m)
        sn_model_free (mb_of[b]);
      for (int t = 0; t < nt; t++)
        sn_tensor_free (in[b][t]);
      g_free (in[b]);
      g_free (ms[b]);
    }
    for (int k = 0; k < max_n; k++) {
      for (int t = 0; t < nt; t++)
        sn_tensor_free (feat[k][t]);
      sn_tensor_free (ref[k][0]);
      sn_tensor_free (ref[k][1]);
      g_free (feat[k]);
      g_free (ref[k]);
    }
    g_free (feat);
    g_free (ref);
    sn_split_free (split);
  }
  machine_line ("after");
  for (int k = 0; k < max_n; k++)
    sn_tensor_free (x[k]);
  g_free (x);
  sn_preprocessor_free (stretch);
  sn_cut_set_free (set);
  sn_detector_free (det);
  sn_model_free (m);
  return 0;
}
