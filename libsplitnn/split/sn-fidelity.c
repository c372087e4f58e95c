/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — stored fidelity per cut and encoder setting (see sn-fidelity.h). */
#include "splitnn/sn-fidelity.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "splitnn/sn-error.h"
#include "engine/sn-model-private.h"
#include "split/sn-split-private.h"

static gboolean
fail (GError **error, int row, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, int row, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (row >= 0)
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL, SN_FIDELITY_KEY ", rows[%d]: %s", row,
        msg);
  else
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL, SN_FIDELITY_KEY ": %s", msg);
  return FALSE;
}

static GType
value_type (JsonObject *o, const char *field)
{
  JsonNode *n = json_object_get_member (o, field);
  if (!n)
    return G_TYPE_NONE;
  return JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n) : G_TYPE_INVALID;
}

/* clip >= 1 means min/max, whatever the number (sn-quant.h). */
static double
clip_of (double clip)
{
  return clip >= 1 ? 1 : clip;
}

/* Would the encoder, set like b, quantize as it did for row a?  (The codec
 * is compared by the callers, which treat none and lossless alike or not.) */
static gboolean
same_setting (const SnFidelityRow *a, guint32 cut, int bits, SnRangeMode range,
    gboolean per_channel, double clip)
{
  if (a->cut != cut || a->bits != bits)
    return FALSE;
  if (bits >= 16)
    return TRUE;
  return a->range == range && !a->per_channel == !per_channel
      && fabs (clip_of (a->clip) - clip_of (clip)) <= 1e-9;
}

static gboolean
parse_row (JsonNode *node, int i, const SnCutSet *cuts, SnFidelityRow *r, GError **error)
{
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, i, "not a JSON object");
  JsonObject *o = json_node_get_object (node);
  int n_cuts = sn_cut_set_n_cuts (cuts);
  if (value_type (o, "cut") != G_TYPE_INT64)
    return fail (error, i, "'cut' is missing or not an integer");
  gint64 cut = json_object_get_int_member (o, "cut");
  if (cut < 0 || cut >= n_cuts)
    return fail (error, i, "unknown cut id %" G_GINT64_FORMAT " (the model has cuts 0-%d)", cut,
        n_cuts - 1);
  r->cut = (guint32) cut;
  const SnCut *c = sn_cut_set_get (cuts, (int) cut);
  if (value_type (o, "cut_name") == G_TYPE_STRING) {
    r->cut_name = g_strdup (json_object_get_string_member (o, "cut_name"));
    /* Ids are positions in the enumeration: if this build enumerates
     * differently, the figures belong to other cuts. */
    if (strcmp (r->cut_name, c->name) != 0)
      return fail (error, i, "cut %u is '%s' in this model, not '%s' (re-run splitnn eval "
          "--store-fidelity)", r->cut, c->name, r->cut_name);
  } else if (value_type (o, "cut_name") != G_TYPE_NONE) {
    return fail (error, i, "'cut_name' is not a string");
  }
  if (value_type (o, "bits") != G_TYPE_INT64
      || !sn_quant_bits_valid ((int) CLAMP (json_object_get_int_member (o, "bits"), 0, 64)))
    return fail (error, i, "'bits' must be 2, 4, 8, 16 or 32");
  r->bits = (int) json_object_get_int_member (o, "bits");
  if (value_type (o, "codec") != G_TYPE_STRING)
    return fail (error, i, "'codec' is missing or not a string");
  if (!sn_codec_from_name (json_object_get_string_member (o, "codec"), &r->codec))
    return fail (error, i, "unknown codec '%s' (none, lossless, lossy or auto)",
        json_object_get_string_member (o, "codec"));
  r->range = SN_RANGE_FRAME;
  if (value_type (o, "range") == G_TYPE_STRING) {
    const char *s = json_object_get_string_member (o, "range");
    if (!sn_range_from_name (s, &r->range))
      return fail (error, i, "unknown range '%s' (frame or calibrated)", s);
  } else if (value_type (o, "range") != G_TYPE_NONE) {
    return fail (error, i, "'range' is not a string");
  }
  GType t = value_type (o, "per_channel");
  if (t == G_TYPE_BOOLEAN)
    r->per_channel = json_object_get_boolean_member (o, "per_channel");
  else if (t != G_TYPE_NONE)
    return fail (error, i, "'per_channel' is not true or false");
  r->clip = 1;
  t = value_type (o, "clip");
  if (t == G_TYPE_DOUBLE || t == G_TYPE_INT64)
    r->clip = json_object_get_double_member (o, "clip");
  else if (t != G_TYPE_NONE)
    return fail (error, i, "'clip' is not a number");
  if (!(r->clip > 0 && r->clip <= 1))
    return fail (error, i, "'clip' must be in (0, 1]");
  t = value_type (o, "map50");
  if (t != G_TYPE_DOUBLE && t != G_TYPE_INT64)
    return fail (error, i, "'map50' is missing or not a number");
  r->map50 = json_object_get_double_member (o, "map50");
  if (!isfinite (r->map50) || r->map50 < 0 || r->map50 > 100)
    return fail (error, i, "'map50' %g is not in 0-100", r->map50);
  /* ap50 came later: optional, so files written before it still load (and
   * older builds ignore it). */
  t = value_type (o, "ap50");
  if (t == G_TYPE_DOUBLE || t == G_TYPE_INT64) {
    r->ap50 = json_object_get_double_member (o, "ap50");
    r->has_ap50 = TRUE;
    if (!isfinite (r->ap50) || r->ap50 < 0 || r->ap50 > 100)
      return fail (error, i, "'ap50' %g is not in 0-100", r->ap50);
  } else if (t != G_TYPE_NONE) {
    return fail (error, i, "'ap50' is not a number");
  }
  return TRUE;
}

static void
row_clear (gpointer p)
{
  g_free ((char *) ((SnFidelityRow *) p)->cut_name);
}

/* Parses metadata splitnn.fidelity into rows, checking cut ids against
 * cuts, the model's enumeration. */
static gboolean
parse_fidelity (const SnModel *model, const SnCutSet *cuts, GArray *rows_out, GError **error)
{
  const char *meta = sn_model_metadata (model, SN_FIDELITY_KEY);
  if (!meta)
    return TRUE;
  g_autoptr (JsonParser) parser = json_parser_new ();
  GError *err = NULL;
  if (!json_parser_load_from_data (parser, meta, -1, &err)) {
    fail (error, -1, "malformed JSON: %s", err->message);
    g_error_free (err);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    return fail (error, -1, "not a JSON object");
  JsonObject *o = json_node_get_object (root);
  gint64 version = json_object_get_int_member_with_default (o, "version", 0);
  if (version != 1)
    return fail (error, -1, "unknown version %" G_GINT64_FORMAT " (this build reads 1)", version);
  if (json_object_get_int_member_with_default (o, "frames", 0) < 1)
    return fail (error, -1, "'frames' must be a positive count");
  JsonNode *rn = json_object_get_member (o, "rows");
  if (!rn || !JSON_NODE_HOLDS_ARRAY (rn))
    return fail (error, -1, "'rows' is missing or not an array");
  JsonArray *rows = json_node_get_array (rn);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < json_array_get_length (rows); i++) {
    SnFidelityRow r = { 0 };
    ok = parse_row (json_array_get_element (rows, i), (int) i, cuts, &r, error);
    for (guint j = 0; ok && j < rows_out->len; j++) {
      const SnFidelityRow *p = &g_array_index (rows_out, SnFidelityRow, j);
      if (p->codec == r.codec && same_setting (p, r.cut, r.bits, r.range, r.per_channel, r.clip))
        ok = fail (error, (int) i, "repeats the setting of rows[%u]", j);
    }
    if (ok)
      g_array_append_val (rows_out, r);
    else
      row_clear (&r);
  }
  return ok;
}

#define FIDELITY_ATTACHMENT "split/fidelity"

gboolean
sn_fidelity_attach (const SnModel *model, const SnCutSet *cuts, GError **error)
{
  if (sn_model_get_attachment (model, FIDELITY_ATTACHMENT))
    return TRUE;
  GArray *rows = g_array_new (FALSE, TRUE, sizeof (SnFidelityRow));
  g_array_set_clear_func (rows, row_clear);
  if (!parse_fidelity (model, cuts, rows, error)) {
    g_array_unref (rows);
    return FALSE;
  }
  sn_model_attach (model, FIDELITY_ATTACHMENT, rows, (GDestroyNotify) g_array_unref);
  return TRUE;
}

/* The parsed rows.  sn_cut_set_new parses them (cut ids only mean something
 * against the enumeration) and reports a malformed key; a caller that made
 * no cut set gets one made here, and no rows if the key is bad. */
static GArray *
fidelity_of (const SnModel *model)
{
  GArray *rows = sn_model_get_attachment (model, FIDELITY_ATTACHMENT);
  if (rows || !sn_model_metadata (model, SN_FIDELITY_KEY))
    return rows;
  sn_cut_set_free (sn_cut_set_new ((SnModel *) model, NULL));
  return sn_model_get_attachment (model, FIDELITY_ATTACHMENT);
}

const SnFidelityRow *
sn_model_fidelity_rows (const SnModel *model, int *n)
{
  GArray *rows = fidelity_of (model);
  *n = rows ? (int) rows->len : 0;
  return *n ? (const SnFidelityRow *) rows->data : NULL;
}

double
sn_model_fidelity (const SnModel *model, guint32 cut_id, const SnFeatureConfig *cfg)
{
  GArray *rows = fidelity_of (model);
  if (!rows || cfg->path)
    return -1;
  SnCodec twin = cfg->codec == SN_CODEC_NONE ? SN_CODEC_LOSSLESS
      : cfg->codec == SN_CODEC_LOSSLESS ? SN_CODEC_NONE : cfg->codec;
  double found = -1;
  for (guint i = 0; i < rows->len; i++) {
    const SnFidelityRow *r = &g_array_index (rows, SnFidelityRow, i);
    if (!same_setting (r, cut_id, cfg->bits, cfg->range, cfg->per_channel, cfg->clip))
      continue;
    double f = r->has_ap50 ? r->ap50 : r->map50;
    if (r->codec == cfg->codec)
      return f;
    if (r->codec == twin && found < 0)
      found = f;
  }
  return found;
}

char *
sn_fidelity_to_json (const SnFidelityRow *rows, int n_rows, int frames, const char *source)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "frames");
  json_builder_add_int_value (b, frames);
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, source ? source : "");
  json_builder_set_member_name (b, "rows");
  json_builder_begin_array (b);
  for (int i = 0; i < n_rows; i++) {
    const SnFidelityRow *r = &rows[i];
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "cut");
    json_builder_add_int_value (b, r->cut);
    if (r->cut_name) {
      json_builder_set_member_name (b, "cut_name");
      json_builder_add_string_value (b, r->cut_name);
    }
    json_builder_set_member_name (b, "bits");
    json_builder_add_int_value (b, r->bits);
    json_builder_set_member_name (b, "codec");
    json_builder_add_string_value (b, sn_codec_name (r->codec));
    json_builder_set_member_name (b, "range");
    json_builder_add_string_value (b, sn_range_name (r->range));
    json_builder_set_member_name (b, "per_channel");
    json_builder_add_boolean_value (b, r->per_channel);
    json_builder_set_member_name (b, "clip");
    json_builder_add_double_value (b, clip_of (r->clip));
    json_builder_set_member_name (b, "map50");
    json_builder_add_double_value (b, r->map50);
    if (r->has_ap50) {
      json_builder_set_member_name (b, "ap50");
      json_builder_add_double_value (b, r->ap50);
    }
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}
