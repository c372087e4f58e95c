/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn cuts MODEL.onnx [--json]: the split points of a model. */
#include <json-glib/json-glib.h>
#include <stdio.h>

#include <splitnn/splitnn.h>

#include "sn-cli.h"

static const int report_bits[] = { 2, 4, 8, 16, 32 };

static void
add_cut_json (JsonBuilder *b, const SnCut *c)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, c->id);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, c->name);
  json_builder_set_member_name (b, "declared");
  json_builder_add_boolean_value (b, c->declared);
  json_builder_set_member_name (b, "tensors");
  json_builder_begin_array (b);
  for (int t = 0; t < c->n_tensors; t++) {
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, c->tensors[t]);
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    for (int d = 0; d < c->shapes[t].rank; d++)
      json_builder_add_int_value (b, c->shapes[t].dims[d]);
    json_builder_end_array (b);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "values");
  json_builder_add_int_value (b, c->values);
  json_builder_set_member_name (b, "bytes");
  json_builder_begin_object (b);
  for (size_t k = 0; k < G_N_ELEMENTS (report_bits); k++) {
    g_autofree char *key = g_strdup_printf ("%d", report_bits[k]);
    json_builder_set_member_name (b, key);
    json_builder_add_int_value (b, sn_cut_bytes (c, report_bits[k]));
  }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "edge_flops");
  json_builder_add_double_value (b, c->edge_flops);
  json_builder_set_member_name (b, "cloud_flops");
  json_builder_add_double_value (b, c->cloud_flops);
  json_builder_end_object (b);
}

int
sn_cli_cuts (int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object per cut", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.onnx");
  g_option_context_set_summary (ctx,
      "List the split points of a model: crossing tensors, bytes per bit width, edge and cloud FLOPs.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!sn_cli_parse (ctx, &argc, &argv, 1))
    return 2;

  GError *err = NULL;
  SnModel *m = sn_model_load (argv[1], &err);
  SnCutSet *set = m ? sn_cut_set_new (m, &err) : NULL;
  if (!set) {
    fprintf (stderr, "splitnn: %s\n", err->message);
    g_error_free (err);
    sn_model_free (m);
    return 1;
  }
  if (!json)
    printf ("%4s  %-8s %10s %10s %10s %10s %9s %9s  %s\n", "id", "tensors", "values",
        "2-bit B", "4-bit B", "8-bit B", "edge GF", "cloud GF", "name (shapes)");
  for (int i = 0; i < sn_cut_set_n_cuts (set); i++) {
    const SnCut *c = sn_cut_set_get (set, i);
    if (json) {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      add_cut_json (b, c);
      g_autoptr (JsonNode) root = json_builder_get_root (b);
      g_autofree char *s = json_to_string (root, FALSE);
      puts (s);
      continue;
    }
    GString *shapes = g_string_new (NULL);
    for (int t = 0; t < c->n_tensors; t++) {
      char buf[96];
      g_string_append_printf (shapes, "%s%s", t ? ", " : "",
          sn_shape_format (&c->shapes[t], buf, sizeof buf));
    }
    printf ("%4u  %-8d %10" G_GINT64_FORMAT " %10" G_GINT64_FORMAT " %10" G_GINT64_FORMAT
        " %10" G_GINT64_FORMAT " %9.3f %9.3f  %s (%s)\n", c->id, c->n_tensors, c->values,
        sn_cut_bytes (c, 2), sn_cut_bytes (c, 4), sn_cut_bytes (c, 8),
        c->edge_flops / 1e9, c->cloud_flops / 1e9, c->name, shapes->str);
    g_string_free (shapes, TRUE);
  }
  sn_cut_set_free (set);
  sn_model_free (m);
  return 0;
}
