/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — stored calibration of feature ranges (see sn-calib.h). */
#include "splitnn/sn-calib.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "splitnn/sn-error.h"
#include "splitnn/sn-quant.h"
#include "engine/sn-model-private.h"
#include "split/sn-split-private.h"
#include "onnx.pb-c.h"

typedef struct {
  SnCalibration pub;
  float *values;            /* 4 x channels: min, max, clip_min, clip_max */
} CalibEntry;

static void
entry_free (gpointer p)
{
  CalibEntry *e = p;
  g_free (e->values);
  g_free (e);
}

static int
channels_of (const SnShape *s)
{
  return s->rank >= 2 ? (int) s->dims[1] : 1;
}

static gboolean
fail (GError **error, const char *tensor, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, const char *tensor, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  if (tensor)
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL, SN_CALIBRATION_KEY ", tensor '%s': %s",
        tensor, msg);
  else
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL, SN_CALIBRATION_KEY ": %s", msg);
  return FALSE;
}

/* field: an array of `channels` finite numbers (also finite as float32). */
static gboolean
parse_array (JsonObject *o, const char *tensor, const char *field, int channels, float *dst,
    GError **error)
{
  JsonNode *n = json_object_get_member (o, field);
  if (!n || !JSON_NODE_HOLDS_ARRAY (n))
    return fail (error, tensor, "'%s' is missing or not an array", field);
  JsonArray *a = json_node_get_array (n);
  if ((int) json_array_get_length (a) != channels)
    return fail (error, tensor, "'%s' has %u values but the tensor has %d channels", field,
        json_array_get_length (a), channels);
  for (int c = 0; c < channels; c++) {
    JsonNode *v = json_array_get_element (a, c);
    GType t = JSON_NODE_HOLDS_VALUE (v) ? json_node_get_value_type (v) : G_TYPE_INVALID;
    if (t != G_TYPE_DOUBLE && t != G_TYPE_INT64)
      return fail (error, tensor, "'%s'[%d] is not a number", field, c);
    dst[c] = (float) json_node_get_double (v);
    if (!isfinite (dst[c]))
      return fail (error, tensor, "'%s'[%d] is not finite as float32", field, c);
  }
  return TRUE;
}

static gboolean
parse_tensor (const SnModel *model, GHashTable *table, const char *name, JsonNode *node,
    int frames, double clip, GError **error)
{
  SnDType dt;
  SnShape shape;
  if (!sn_model_value_info (model, name, &dt, &shape))
    return fail (error, name, "the model has no tensor of that name");
  if (dt != SN_DTYPE_FLOAT32)
    return fail (error, name, "the tensor is %s, not float32", sn_dtype_name (dt));
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return fail (error, name, "not a JSON object");
  JsonObject *o = json_node_get_object (node);
  int channels = channels_of (&shape);
  CalibEntry *e = g_new0 (CalibEntry, 1);
  e->values = g_new (float, 4 * (size_t) channels);
  e->pub = (SnCalibration) { channels, frames, clip, e->values, e->values + channels,
    e->values + 2 * channels, e->values + 3 * channels };
  static const char *const fields[] = { "min", "max", "clip_min", "clip_max" };
  for (int f = 0; f < 4; f++)
    if (!parse_array (o, name, fields[f], channels, e->values + f * channels, error))
      goto error;
  for (int c = 0; c < channels; c++)
    if (e->pub.min[c] > e->pub.max[c] || e->pub.clip_min[c] > e->pub.clip_max[c]) {
      fail (error, name, "channel %d: %s %g > %s %g", c,
          e->pub.min[c] > e->pub.max[c] ? "min" : "clip_min",
          e->pub.min[c] > e->pub.max[c] ? e->pub.min[c] : e->pub.clip_min[c],
          e->pub.min[c] > e->pub.max[c] ? "max" : "clip_max",
          e->pub.min[c] > e->pub.max[c] ? e->pub.max[c] : e->pub.clip_max[c]);
      goto error;
    }
  g_hash_table_replace (table, g_strdup (name), e);
  return TRUE;
error:
  entry_free (e);
  return FALSE;
}

/* Parses metadata splitnn.calibration into table (tensor -> CalibEntry). */
static gboolean
parse_calibration (const SnModel *model, GHashTable *table, GError **error)
{
  const char *meta = sn_model_metadata (model, SN_CALIBRATION_KEY);
  if (!meta)
    return TRUE;
  g_autoptr (JsonParser) parser = json_parser_new ();
  GError *err = NULL;
  if (!json_parser_load_from_data (parser, meta, -1, &err)) {
    fail (error, NULL, "malformed JSON: %s", err->message);
    g_error_free (err);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    return fail (error, NULL, "not a JSON object");
  JsonObject *o = json_node_get_object (root);
  gint64 version = json_object_get_int_member_with_default (o, "version", 0);
  if (version != 1)
    return fail (error, NULL, "unknown version %" G_GINT64_FORMAT " (this build reads 1)", version);
  gint64 frames = json_object_get_int_member_with_default (o, "frames", 0);
  double clip = json_object_get_double_member_with_default (o, "clip", 1.0);
  if (frames < 1 || frames > G_MAXINT)
    return fail (error, NULL, "'frames' must be a positive count");
  if (!(clip > 0 && clip <= 1))
    return fail (error, NULL, "'clip' must be in (0, 1]");
  JsonNode *tn = json_object_get_member (o, "tensors");
  if (!tn || !JSON_NODE_HOLDS_OBJECT (tn))
    return fail (error, NULL, "'tensors' is missing or not an object");
  JsonObject *tensors = json_node_get_object (tn);
  g_autoptr (GList) names = json_object_get_members (tensors);
  for (GList *l = names; l; l = l->next)
    if (!parse_tensor (model, table, l->data, json_object_get_member (tensors, l->data),
            (int) frames, clip, error))
      return FALSE;
  return TRUE;
}

#define CALIBRATION_ATTACHMENT "split/calibration"

static GHashTable *
attach_calibration (const SnModel *model, GError **error)
{
  GHashTable *table = sn_model_get_attachment (model, CALIBRATION_ATTACHMENT);
  if (table)
    return table;
  table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, entry_free);
  if (!parse_calibration (model, table, error)) {
    g_hash_table_unref (table);
    return NULL;
  }
  return sn_model_attach (model, CALIBRATION_ATTACHMENT, table,
      (GDestroyNotify) g_hash_table_unref);
}

gboolean
sn_calibration_attach (const SnModel *model, GError **error)
{
  return attach_calibration (model, error) != NULL;
}

gboolean
sn_model_calibration (const SnModel *model, const char *tensor, SnCalibration *out)
{
  /* Normally parsed by sn_cut_set_new, which reports a malformed key; a
   * caller that made no cut set gets it parsed here, and none if bad. */
  GHashTable *table = attach_calibration (model, NULL);
  CalibEntry *e = table ? g_hash_table_lookup (table, tensor) : NULL;
  if (e)
    *out = e->pub;
  return e != NULL;
}

/* ---- Accumulating over frames ------------------------------------------------ */

typedef struct {
  int channels, frames;
  float *min, *max;
  double *clip_lo, *clip_hi;    /* sums over frames */
  float *lo, *hi;               /* one frame's clipped ranges (scratch) */
} Acc;

struct SnCalibrator {
  double clip;
  GHashTable *acc;              /* name -> Acc* */
  GPtrArray *order;             /* names in the order first added */
};

static void
acc_free (gpointer p)
{
  Acc *a = p;
  g_free (a->min);
  g_free (a->max);
  g_free (a->clip_lo);
  g_free (a->clip_hi);
  g_free (a->lo);
  g_free (a->hi);
  g_free (a);
}

SnCalibrator *
sn_calibrator_new (double clip)
{
  SnCalibrator *c = g_new0 (SnCalibrator, 1);
  c->clip = clip;
  c->acc = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, acc_free);
  c->order = g_ptr_array_new ();
  return c;
}

void
sn_calibrator_free (SnCalibrator *c)
{
  if (!c)
    return;
  g_ptr_array_unref (c->order);
  g_hash_table_unref (c->acc);
  g_free (c);
}

gboolean
sn_calibrator_add (SnCalibrator *c, const char *tensor, const SnTensor *x, GError **error)
{
  int channels = channels_of (&x->shape);
  if (x->dtype != SN_DTYPE_FLOAT32 || channels < 1) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "calibration of '%s': needs a float32 tensor with channels", tensor);
    return FALSE;
  }
  Acc *a = g_hash_table_lookup (c->acc, tensor);
  if (!a) {
    a = g_new0 (Acc, 1);
    a->channels = channels;
    a->min = g_new (float, channels);
    a->max = g_new (float, channels);
    a->clip_lo = g_new0 (double, channels);
    a->clip_hi = g_new0 (double, channels);
    a->lo = g_new (float, channels);
    a->hi = g_new (float, channels);
    for (int k = 0; k < channels; k++) {
      a->min[k] = INFINITY;
      a->max[k] = -INFINITY;
    }
    char *key = g_strdup (tensor);
    g_hash_table_insert (c->acc, key, a);
    g_ptr_array_add (c->order, key);
  } else if (a->channels != channels) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "calibration of '%s': %d channels, earlier frames had %d", tensor, channels, a->channels);
    return FALSE;
  }
  /* Exact min/max over all frames.  The clipped range is the mean over
   * frames of each frame's own clipped range: an exact percentile over all
   * frames would need every value of every frame in memory (hundreds of MB
   * for early cuts), while the mean of per-frame percentiles is what the
   * per-frame encoder would have used on an average frame. */
  sn_quant_channel_ranges (x, 1.0, a->lo, a->hi);
  for (int k = 0; k < channels; k++) {
    a->min[k] = MIN (a->min[k], a->lo[k]);
    a->max[k] = MAX (a->max[k], a->hi[k]);
  }
  if (c->clip < 1.0)
    sn_quant_channel_ranges (x, c->clip, a->lo, a->hi);
  for (int k = 0; k < channels; k++) {
    a->clip_lo[k] += a->lo[k];
    a->clip_hi[k] += a->hi[k];
  }
  a->frames++;
  return TRUE;
}

static void
add_array (JsonBuilder *b, const char *field, const float *v, const double *sum, int n,
    int frames)
{
  json_builder_set_member_name (b, field);
  json_builder_begin_array (b);
  /* Doubles of float32 values: written and read back exactly. */
  for (int k = 0; k < n; k++)
    json_builder_add_double_value (b, v ? v[k] : (float) (sum[k] / frames));
  json_builder_end_array (b);
}

char *
sn_calibrator_to_json (const SnCalibrator *c, const char *source)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  int frames = G_MAXINT;
  for (guint i = 0; i < c->order->len; i++)
    frames = MIN (frames, ((Acc *) g_hash_table_lookup (c->acc, g_ptr_array_index (c->order, i)))->frames);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "frames");
  json_builder_add_int_value (b, c->order->len ? frames : 0);
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, source ? source : "");
  json_builder_set_member_name (b, "clip");
  json_builder_add_double_value (b, c->clip < 1.0 ? c->clip : 1.0);
  json_builder_set_member_name (b, "tensors");
  json_builder_begin_object (b);
  for (guint i = 0; i < c->order->len; i++) {
    const char *name = g_ptr_array_index (c->order, i);
    const Acc *a = g_hash_table_lookup (c->acc, name);
    json_builder_set_member_name (b, name);
    json_builder_begin_object (b);
    add_array (b, "min", a->min, NULL, a->channels, 1);
    add_array (b, "max", a->max, NULL, a->channels, 1);
    add_array (b, "clip_min", NULL, a->clip_lo, a->channels, a->frames);
    add_array (b, "clip_max", NULL, a->clip_hi, a->channels, a->frames);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, NULL);
}

/* ---- Writing the model with new metadata -------------------------------------- */

static gboolean
same_file (const char *a, const char *b)
{
  GStatBuf sa, sb;
  if (g_stat (a, &sa) == 0 && g_stat (b, &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  g_autofree char *ca = g_canonicalize_filename (a, NULL);
  g_autofree char *cb = g_canonicalize_filename (b, NULL);
  return strcmp (ca, cb) == 0;
}

gboolean
sn_onnx_save_with_metadata (const char *in_path, const char *out_path, const char *key,
    const char *value, GError **error)
{
  if (same_file (in_path, out_path)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "%s: will not overwrite the model it reads; give another output file", out_path);
    return FALSE;
  }
  g_autofree char *data = NULL;
  gsize len = 0;
  GError *err = NULL;
  if (!g_file_get_contents (in_path, &data, &len, &err)) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s", err->message);
    g_error_free (err);
    return FALSE;
  }
  Onnx__ModelProto *mp = onnx__model_proto__unpack (NULL, len, (const guint8 *) data);
  if (!mp) {
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: not a valid ONNX model", in_path);
    return FALSE;
  }
  /* The unpacked message owns its strings; swap ours in for the write and
   * restore the originals before freeing it. */
  Onnx__StringStringEntryProto entry = ONNX__STRING_STRING_ENTRY_PROTO__INIT;
  entry.key = (char *) key;
  entry.value = (char *) value;
  Onnx__StringStringEntryProto **old = mp->metadata_props;
  size_t old_n = mp->n_metadata_props;
  Onnx__StringStringEntryProto **props = g_new (Onnx__StringStringEntryProto *, old_n + 1);
  size_t n = 0;
  for (size_t i = 0; i < old_n; i++)
    if (!old[i]->key || strcmp (old[i]->key, key) != 0)
      props[n++] = old[i];
  props[n++] = &entry;
  mp->metadata_props = props;
  mp->n_metadata_props = n;
  size_t out_len = onnx__model_proto__get_packed_size (mp);
  guint8 *out = g_malloc (out_len);
  onnx__model_proto__pack (mp, out);
  mp->metadata_props = old;
  mp->n_metadata_props = old_n;
  g_free (props);
  onnx__model_proto__free_unpacked (mp, NULL);
  gboolean ok = g_file_set_contents (out_path, (const char *) out, out_len, &err);
  g_free (out);
  if (!ok) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s", err->message);
    g_error_free (err);
  }
  return ok;
}
