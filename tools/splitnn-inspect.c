/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn inspect MODEL.onnx [--json] */
#include <json-glib/json-glib.h>
#include <stdio.h>

#include <splitnn/splitnn.h>

#include "sn-cli.h"

static void
add_values (JsonBuilder *b, const SnModel *m, gboolean inputs)
{
  int n = inputs ? sn_model_n_inputs (m) : sn_model_n_outputs (m);
  json_builder_begin_array (b);
  for (int i = 0; i < n; i++) {
    const char *name = inputs ? sn_model_input_name (m, i) : sn_model_output_name (m, i);
    SnDType dt;
    SnShape s;
    sn_model_value_info (m, name, &dt, &s);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, name);
    json_builder_set_member_name (b, "dtype");
    json_builder_add_string_value (b, sn_dtype_name (dt));
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    for (int d = 0; d < s.rank; d++)
      json_builder_add_int_value (b, s.dims[d]);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

static void
print_json (const char *path, const SnModel *m, const SnModelInfo *info)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, path);
  json_builder_set_member_name (b, "fingerprint");
  json_builder_add_string_value (b, sn_model_fingerprint (m));
  json_builder_set_member_name (b, "opset");
  json_builder_add_int_value (b, info->opset);
  json_builder_set_member_name (b, "inputs");
  add_values (b, m, TRUE);
  json_builder_set_member_name (b, "outputs");
  add_values (b, m, FALSE);
  json_builder_set_member_name (b, "nodes");
  json_builder_add_int_value (b, info->n_nodes);
  json_builder_set_member_name (b, "ops");
  json_builder_begin_object (b);
  for (const SnOpCount *c = sn_model_op_counts (m); c->op_type; c++) {
    json_builder_set_member_name (b, c->op_type);
    json_builder_add_int_value (b, c->count);
  }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "parameters");
  json_builder_add_int_value (b, info->n_params);
  json_builder_set_member_name (b, "parameter_bytes");
  json_builder_add_int_value (b, info->param_bytes);
  json_builder_set_member_name (b, "flops");
  json_builder_add_double_value (b, info->flops);
  json_builder_set_member_name (b, "peak_activation_bytes");
  json_builder_add_int_value (b, info->peak_activation_bytes);
  json_builder_set_member_name (b, "total_activation_bytes");
  json_builder_add_int_value (b, info->total_activation_bytes);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autofree char *s = json_to_string (root, TRUE);
  puts (s);
}

static void
print_values (const SnModel *m, gboolean inputs)
{
  int n = inputs ? sn_model_n_inputs (m) : sn_model_n_outputs (m);
  for (int i = 0; i < n; i++) {
    const char *name = inputs ? sn_model_input_name (m, i) : sn_model_output_name (m, i);
    SnDType dt;
    SnShape s;
    char buf[96];
    sn_model_value_info (m, name, &dt, &s);
    printf ("  %-32s %-8s %s\n", name, sn_dtype_name (dt), sn_shape_format (&s, buf, sizeof buf));
  }
}

/* Trained split paths (tools/train), if the model carries any. */
static gboolean
print_paths (SnModel *m)
{
  GError *err = NULL;
  SnCutSet *cuts = sn_cut_set_new (m, &err);
  SnPathSet *paths = cuts ? sn_path_set_new (m, cuts, &err) : NULL;
  if (!paths) {
    fprintf (stderr, "splitnn: %s\n", err->message);
    g_error_free (err);
    sn_cut_set_free (cuts);
    return FALSE;
  }
  if (sn_path_set_n_paths (paths))
    printf ("trained paths: %d\n", sn_path_set_n_paths (paths));
  for (int i = 0; i < sn_path_set_n_paths (paths); i++) {
    const SnPath *p = sn_path_set_get (paths, i);
    const SnCut *c = sn_path_cut (p);
    printf ("  %-10s cut %3u  %2d bits  %8" G_GINT64_FORMAT " values on the wire (%.1f KiB) "
        "instead of %" G_GINT64_FORMAT "\n", sn_path_name (p), c->id, sn_path_bits (p),
        sn_path_wire_values (p), sn_path_wire_values (p) * sn_path_bits (p) / 8192.0, c->values);
  }
  sn_path_set_free (paths);
  sn_cut_set_free (cuts);
  return TRUE;
}

int
sn_cli_inspect (int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.onnx");
  g_option_context_set_summary (ctx, "Show a model's inputs, outputs, ops, parameters, FLOPs and memory.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!sn_cli_parse (ctx, &argc, &argv, 1))
    return 2;

  GError *err = NULL;
  SnModel *m = sn_model_load (argv[1], &err);
  if (!m) {
    fprintf (stderr, "splitnn: %s\n", err->message);
    g_error_free (err);
    return 1;
  }
  SnModelInfo info;
  int status = 0;
  sn_model_get_info (m, &info);
  if (json) {
    print_json (argv[1], m, &info);
  } else {
    printf ("model:       %s\nfingerprint: %s\nopset:       %d\n", argv[1],
        sn_model_fingerprint (m), info.opset);
    printf ("inputs:\n");
    print_values (m, TRUE);
    printf ("outputs:\n");
    print_values (m, FALSE);
    printf ("nodes:       %" G_GINT64_FORMAT "\nops:        ", info.n_nodes);
    for (const SnOpCount *c = sn_model_op_counts (m); c->op_type; c++)
      printf (" %s x%d", c->op_type, c->count);
    printf ("\nparameters:  %" G_GINT64_FORMAT " (%.2f M, %.2f MB as stored)\n",
        info.n_params, info.n_params / 1e6, info.param_bytes / 1e6);
    printf ("flops:       %.3f GFLOP per inference\n", info.flops / 1e9);
    printf ("activations: %.2f MB peak with buffer reuse (%.2f MB without)\n",
        info.peak_activation_bytes / 1e6, info.total_activation_bytes / 1e6);
    if (!print_paths (m))
      status = 1;
  }
  sn_model_free (m);
  return status;
}
