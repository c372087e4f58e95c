/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn run MODEL.onnx --input NAME=FILE.npy ... [--output NAME ...] */
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <splitnn/splitnn.h>

#include "sn-cli.h"

/* Output files are named after the tensor; path separators become '_'. */
static char *
output_path (const char *dir, const char *name)
{
  g_autofree char *safe = g_strdup (name);
  for (char *p = safe; *p; p++)
    if (*p == '/' || *p == '\\' || *p == ':')
      *p = '_';
  g_autofree char *file = g_strdup_printf ("%s.npy", safe);
  return g_build_filename (dir, file, NULL);
}

static void
stats (const SnTensor *t, double *min, double *max, double *mean)
{
  int64_t n = sn_tensor_numel (t);
  *min = INFINITY, *max = -INFINITY, *mean = 0;
  if (t->dtype != SN_DTYPE_FLOAT32 || n == 0) {
    *min = *max = *mean = NAN;
    return;
  }
  const float *f = t->data;
  for (int64_t i = 0; i < n; i++) {
    *min = MIN (*min, f[i]);
    *max = MAX (*max, f[i]);
    *mean += f[i];
  }
  *mean /= n;
}

/* The model's outputs through a trained path: edge segment, the path's
 * bottleneck, quantization at `bits` (32: none), coding, decoding,
 * restoration, cloud segment (the library's loopback; the model must be a
 * detector).  What the training tool's test compares with PyTorch. */
static gboolean
run_path (SnModel *m, const char *path_name, int bits, SnTensor *const *inputs,
    const char *out_dir, GError **error)
{
  gboolean ok = FALSE;
  SnCutSet *cuts = sn_cut_set_new (m, error);
  SnPathSet *paths = cuts ? sn_path_set_new (m, cuts, error) : NULL;
  const SnPath *path = paths ? sn_path_set_find (paths, path_name) : NULL;
  SnLoopback *loop = NULL;
  SnDetections dets;
  sn_detections_init (&dets);
  if (paths && !path)
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "the model has no trained path '%s'",
        path_name);
  if (!path || !(loop = sn_loopback_new (m, cuts, error)))
    goto out;
  sn_cloud_session_set_paths (sn_loopback_cloud (loop), paths);
  SnOption opt;
  sn_option_init_split (&opt, sn_path_cut (path));
  opt.feature.bits = bits ? bits : sn_path_bits (path);
  opt.feature.path = path;
  SnEdgePacket pk;
  if (!sn_loopback_process_input (loop, &opt, inputs[0], NULL, SN_PTS_NONE, &dets, &pk, NULL, error))
    goto out;
  for (int i = 0; i < sn_model_n_outputs (m); i++) {
    const char *name = sn_model_output_name (m, i);
    g_autofree char *file = output_path (out_dir, name);
    if (!sn_tensor_save_npy (sn_cloud_session_output (sn_loopback_cloud (loop), name), file, error))
      goto out;
    printf ("%s -> %s\n", name, file);
  }
  printf ("path %s: %" G_GSIZE_FORMAT " bytes on the wire at %d bits\n", path_name, pk.len,
      opt.feature.bits);
  ok = TRUE;
out:
  sn_detections_clear (&dets);
  sn_loopback_free (loop);
  sn_path_set_free (paths);
  sn_cut_set_free (cuts);
  return ok;
}

static double
cpu_seconds (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int
sn_cli_run (int argc, char **argv)
{
  g_auto (GStrv) input_specs = NULL, output_names = NULL;
  g_autofree char *out_dir = NULL, *path_name = NULL;
  gboolean json = FALSE;
  int threads = 1, repeat = 1, bits = 0;
  GOptionEntry entries[] = {
    { "input", 'i', 0, G_OPTION_ARG_STRING_ARRAY, &input_specs,
      "Segment input as NAME=FILE.npy (repeat; default: the model's inputs, all required)", "NAME=FILE" },
    { "output", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &output_names,
      "Tensor to compute and write (repeat; default: the model's outputs)", "NAME" },
    { "out-dir", 'd', 0, G_OPTION_ARG_FILENAME, &out_dir,
      "Folder for NAME.npy outputs (default: current folder)", "DIR" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Kernel threads (default 1; 0: one per CPU this process may use)", "N" },
    { "repeat", 'r', 0, G_OPTION_ARG_INT, &repeat, "Run N times and report the median time", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print a JSON summary", NULL },
    { "path", 0, 0, G_OPTION_ARG_STRING, &path_name, "Run the whole model through this trained path (see 'splitnn inspect'); inputs are the model's", "NAME" },
    { "bits", 0, 0, G_OPTION_ARG_INT, &bits, "With --path: quantize at this width instead of the path's (32: no quantization)", "N" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.onnx");
  g_option_context_set_summary (ctx,
      "Run a model, or the segment between the given inputs and outputs, and write .npy outputs.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!sn_cli_parse (ctx, &argc, &argv, 1))
    return 2;
  if (!input_specs || threads < 0 || repeat < 1) {
    fprintf (stderr, "splitnn: %s\n", !input_specs ? "at least one --input NAME=FILE.npy is required"
        : threads < 0 ? "--threads must be 0 (one per CPU) or more" : "--repeat must be at least 1");
    return 2;
  }

  int n_in = g_strv_length (input_specs);
  g_autofree const char **in_names = g_new0 (const char *, n_in + 1);
  g_autofree SnTensor **in_tensors = g_new0 (SnTensor *, n_in + 1);
  int status = 1;
  GError *err = NULL;
  SnModel *m = NULL;
  SnSegment *seg = NULL;
  g_autofree double *times = g_new (double, repeat);
  g_autoptr (JsonBuilder) jb = json_builder_new ();
  for (int i = 0; i < n_in; i++) {
    char *eq = strchr (input_specs[i], '=');
    if (!eq || eq == input_specs[i] || !eq[1]) {
      fprintf (stderr, "splitnn: --input '%s' is not NAME=FILE.npy\n", input_specs[i]);
      status = 2;
      goto out;
    }
    *eq = '\0';
    in_names[i] = input_specs[i];
    if (!(in_tensors[i] = sn_tensor_load_npy (eq + 1, &err)))
      goto out;
  }
  if (!(m = sn_model_load (argv[1], &err)))
    goto out;
  if (path_name) {
    status = run_path (m, path_name, bits, in_tensors, out_dir ? out_dir : ".", &err) ? 0 : 1;
    goto out;
  }
  int n_out = output_names ? g_strv_length (output_names) : 0;
  /* Graph inputs given at other shapes than the model's: the model at
   * those shapes (symbolic dims), or an error naming the input and dim. */
  SnModel *at = m;
  {
    g_autofree const char **names = g_new0 (const char *, n_in + 1);
    g_autofree SnShape *shapes = g_new0 (SnShape, n_in + 1);
    int n = 0;
    for (int i = 0; i < n_in; i++)
      for (int k = 0; k < sn_model_n_inputs (m); k++)
        if (strcmp (sn_model_input_name (m, k), in_names[i]) == 0) {
          names[n] = in_names[i];
          shapes[n++] = in_tensors[i]->shape;
        }
    if (n && !(at = sn_model_at_shapes (m, names, shapes, n, &err)))
      goto out;
  }
  if (!(seg = sn_segment_new (at, in_names, n_in, (const char *const *) output_names, n_out, &err)))
    goto out;
  sn_segment_set_threads (seg, threads);
  /* Inputs are matched by name: the segment orders them as given. */
  /* CPU time of the process (every thread) per run, the first run (which
   * packs XNNPACK's weights) left out: a busy machine inflates it much
   * less than wall time, and it shows what threads spend waiting. */
  double cpu0 = 0;
  for (int r = 0; r < repeat; r++) {
    if (r == MIN (1, repeat - 1))
      cpu0 = cpu_seconds ();
    gint64 t0 = g_get_monotonic_time ();
    if (!sn_segment_run (seg, (const SnTensor * const *) in_tensors, &err))
      goto out;
    times[r] = (g_get_monotonic_time () - t0) / 1000.0;
  }
  double cpu_ms = (cpu_seconds () - cpu0) * 1000.0 / MAX (1, repeat - 1);
  for (int a = 0; a < repeat; a++)       /* insertion sort: repeat is small */
    for (int b = a; b > 0 && times[b] < times[b - 1]; b--) {
      double t = times[b];
      times[b] = times[b - 1];
      times[b - 1] = t;
    }
  double median_ms = times[repeat / 2];

  json_builder_begin_object (jb);
  json_builder_set_member_name (jb, "median_ms");
  json_builder_add_double_value (jb, median_ms);
  json_builder_set_member_name (jb, "min_ms");
  json_builder_add_double_value (jb, times[0]);
  json_builder_set_member_name (jb, "cpu_ms");
  json_builder_add_double_value (jb, cpu_ms);
  json_builder_set_member_name (jb, "outputs");
  json_builder_begin_array (jb);
  for (int i = 0; i < sn_segment_n_outputs (seg); i++) {
    const SnTensor *t = sn_segment_output (seg, i);
    const char *name = sn_segment_output_name (seg, i);
    g_autofree char *path = output_path (out_dir ? out_dir : ".", name);
    if (!sn_tensor_save_npy (t, path, &err))
      goto out;
    double mn, mx, mean;
    char buf[96];
    stats (t, &mn, &mx, &mean);
    if (!json)
      printf ("%-32s %-8s %-16s -> %s  (min %.6g max %.6g mean %.6g)\n", name,
          sn_dtype_name (t->dtype), sn_shape_format (&t->shape, buf, sizeof buf),
          path, mn, mx, mean);
    json_builder_begin_object (jb);
    json_builder_set_member_name (jb, "name");
    json_builder_add_string_value (jb, name);
    json_builder_set_member_name (jb, "file");
    json_builder_add_string_value (jb, path);
    json_builder_set_member_name (jb, "shape");
    json_builder_begin_array (jb);
    for (int d = 0; d < t->shape.rank; d++)
      json_builder_add_int_value (jb, t->shape.dims[d]);
    json_builder_end_array (jb);
    json_builder_set_member_name (jb, "dtype");
    json_builder_add_string_value (jb, sn_dtype_name (t->dtype));
    json_builder_end_object (jb);
  }
  json_builder_end_array (jb);
  json_builder_end_object (jb);
  if (json) {
    g_autoptr (JsonNode) root = json_builder_get_root (jb);
    g_autofree char *s = json_to_string (root, FALSE);
    puts (s);
  } else {
    printf ("%d nodes, %.3f GFLOP, median %.2f ms over %d run%s\n", sn_segment_n_nodes (seg),
        sn_segment_flops (seg) / 1e9, median_ms, repeat, repeat == 1 ? "" : "s");
  }
  status = 0;

out:
  if (err) {
    fprintf (stderr, "splitnn: %s\n", err->message);
    g_error_free (err);
  }
  for (int i = 0; i < n_in; i++)
    sn_tensor_free (in_tensors[i]);
  sn_segment_free (seg);
  sn_model_free (m);
  return status;
}
