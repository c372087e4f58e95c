/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — trained split paths: metadata, adapters (see sn-path.h). */
#include "splitnn/sn-path.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "splitnn/sn-error.h"
#include "engine/sn-model-private.h"

typedef struct {
  int channels, k, stride;      /* C, k, s */
  const SnTensor *edge_w;       /* [k, C, s, s] */
  const SnTensor *edge_b;       /* [k] */
  const SnTensor *cloud_w;      /* [k, C, s, s] (transposed conv) */
  const SnTensor *cloud_b;      /* [C] */
  SnShape wire;
} SnAdapter;

struct SnPath {
  char *name;
  const SnCut *cut;
  int bits;
  SnAdapter *adapters;          /* one per cut tensor, in the cut's order */
};

struct SnPathSet {
  GPtrArray *paths;             /* SnPath*, owned */
};

static void
path_free (gpointer p)
{
  SnPath *path = p;
  g_free (path->name);
  g_free (path->adapters);
  g_free (path);
}

static gboolean
fail (GError **error, const char *path, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
fail (GError **error, const char *path, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL, "splitnn.paths, path '%s': %s", path, msg);
  return FALSE;
}

/* The float32 initializer `name` with exactly the given dims. */
static const SnTensor *
weight (const SnModel *model, JsonObject *o, const char *field, const char *path,
    int rank, const int64_t *dims, GError **error)
{
  const char *name = json_object_get_string_member_with_default (o, field, NULL);
  if (!name) {
    fail (error, path, "adapter has no '%s'", field);
    return NULL;
  }
  const SnValue *v = sn_model_lookup_value (model, name);
  if (!v || !v->constant || v->producer || v->constant->dtype != SN_DTYPE_FLOAT32) {
    fail (error, path, "'%s' is not a float32 initializer of the model", name);
    return NULL;
  }
  const SnShape *s = &v->constant->shape;
  gboolean ok = s->rank == rank;
  for (int i = 0; ok && i < rank; i++)
    ok = s->dims[i] == dims[i];
  if (!ok) {
    char got[128];
    fail (error, path, "initializer '%s' has shape %s, not what the adapter needs", name,
        sn_shape_format (s, got, sizeof got));
    return NULL;
  }
  return v->constant;
}

static gboolean
parse_adapter (const SnModel *model, const SnPath *p, int i, JsonObject *o, SnAdapter *a,
    GError **error)
{
  const char *tname = json_object_get_string_member_with_default (o, "tensor", "");
  if (g_strcmp0 (tname, p->cut->tensors[i]) != 0)
    return fail (error, p->name, "adapter %d is for '%s' but the cut's tensor %d is '%s'",
        i, tname, i, p->cut->tensors[i]);
  const SnShape *shape = &p->cut->shapes[i];
  if (shape->rank != 4 || shape->dims[0] != 1)
    return fail (error, p->name, "tensor '%s' is not 1xCxHxW", tname);
  a->channels = (int) json_object_get_int_member_with_default (o, "channels", 0);
  a->k = (int) json_object_get_int_member_with_default (o, "k", 0);
  a->stride = (int) json_object_get_int_member_with_default (o, "stride", 1);
  if (a->channels != shape->dims[1] || a->k < 1 || a->k > 65536 || a->stride < 1
      || shape->dims[2] % a->stride || shape->dims[3] % a->stride)
    return fail (error, p->name, "adapter of '%s': channels %d / k %d / stride %d do not fit %"
        G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT, tname, a->channels, a->k,
        a->stride, shape->dims[1], shape->dims[2], shape->dims[3]);
  const int64_t wdims[4] = { a->k, a->channels, a->stride, a->stride };
  const int64_t kdim[1] = { a->k }, cdim[1] = { a->channels };
  if (!(a->edge_w = weight (model, o, "edge_weight", p->name, 4, wdims, error))
      || !(a->edge_b = weight (model, o, "edge_bias", p->name, 1, kdim, error))
      || !(a->cloud_w = weight (model, o, "cloud_weight", p->name, 4, wdims, error))
      || !(a->cloud_b = weight (model, o, "cloud_bias", p->name, 1, cdim, error)))
    return FALSE;
  a->wire = (SnShape) { 4, { 1, a->k, shape->dims[2] / a->stride, shape->dims[3] / a->stride } };
  return TRUE;
}

SnPathSet *
sn_path_set_new (const SnModel *model, const SnCutSet *cuts, GError **error)
{
  SnPathSet *set = g_new0 (SnPathSet, 1);
  set->paths = g_ptr_array_new_with_free_func (path_free);
  const char *meta = sn_model_metadata (model, "splitnn.paths");
  if (!meta)
    return set;
  g_autoptr (JsonParser) parser = json_parser_new ();
  GError *err = NULL;
  if (!json_parser_load_from_data (parser, meta, -1, &err)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL, "splitnn.paths: %s", err->message);
    g_error_free (err);
    goto error;
  }
  JsonNode *root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_ARRAY (root)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL, "splitnn.paths is not a JSON array");
    goto error;
  }
  JsonArray *arr = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (arr); i++) {
    JsonNode *n = json_array_get_element (arr, i);
    if (!JSON_NODE_HOLDS_OBJECT (n)) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL, "splitnn.paths[%u] is not an object", i);
      goto error;
    }
    JsonObject *o = json_node_get_object (n);
    SnPath *p = g_new0 (SnPath, 1);
    g_ptr_array_add (set->paths, p);
    p->name = g_strdup (json_object_get_string_member_with_default (o, "name", ""));
    if (!*p->name || sn_path_set_find (set, p->name) != p) {
      fail (error, p->name, "missing or duplicate name (entry %u)", i);
      goto error;
    }
    const char *cut = json_object_get_string_member_with_default (o, "cut", "");
    p->cut = sn_cut_set_find (cuts, cut);
    if (!p->cut) {
      fail (error, p->name, "the model has no cut '%s'", cut);
      goto error;
    }
    p->bits = (int) json_object_get_int_member_with_default (o, "bits", 0);
    if (p->bits != 2 && p->bits != 4 && p->bits != 8 && p->bits != 16 && p->bits != 32) {
      fail (error, p->name, "bits %d is not 2, 4, 8, 16 or 32", p->bits);
      goto error;
    }
    JsonArray *ads = json_object_has_member (o, "adapters")
        ? json_object_get_array_member (o, "adapters") : NULL;
    if (!ads || (int) json_array_get_length (ads) != p->cut->n_tensors) {
      fail (error, p->name, "needs one adapter per tensor of its cut (%d)", p->cut->n_tensors);
      goto error;
    }
    p->adapters = g_new0 (SnAdapter, p->cut->n_tensors);
    for (int t = 0; t < p->cut->n_tensors; t++) {
      JsonNode *an = json_array_get_element (ads, t);
      if (!JSON_NODE_HOLDS_OBJECT (an)) {
        fail (error, p->name, "adapter %d is not an object", t);
        goto error;
      }
      if (!parse_adapter (model, p, t, json_node_get_object (an), &p->adapters[t], error))
        goto error;
    }
  }
  return set;
error:
  sn_path_set_free (set);
  return NULL;
}

void
sn_path_set_free (SnPathSet *set)
{
  if (!set)
    return;
  g_ptr_array_unref (set->paths);
  g_free (set);
}

int
sn_path_set_n_paths (const SnPathSet *set)
{
  return (int) set->paths->len;
}

const SnPath *
sn_path_set_get (const SnPathSet *set, int i)
{
  return i >= 0 && i < (int) set->paths->len ? g_ptr_array_index (set->paths, i) : NULL;
}

const SnPath *
sn_path_set_find (const SnPathSet *set, const char *name)
{
  for (guint i = 0; i < set->paths->len; i++) {
    const SnPath *p = g_ptr_array_index (set->paths, i);
    if (g_strcmp0 (p->name, name) == 0)
      return p;
  }
  guint64 idx;
  if (name && *name && g_ascii_string_to_unsigned (name, 10, 0, G_MAXINT, &idx, NULL))
    return sn_path_set_get (set, (int) idx);
  return NULL;
}

const char *sn_path_name (const SnPath *p) { return p->name; }
const SnCut *sn_path_cut (const SnPath *p) { return p->cut; }
int sn_path_bits (const SnPath *p) { return p->bits; }

void
sn_path_wire_shape (const SnPath *p, int i, SnShape *shape)
{
  *shape = p->adapters[i].wire;
}

int64_t
sn_path_wire_values (const SnPath *p)
{
  int64_t n = 0;
  for (int i = 0; i < p->cut->n_tensors; i++)
    n += sn_shape_numel (&p->adapters[i].wire);
  return n;
}

static gboolean
check_io (const SnPath *p, int i, const SnTensor *in, const SnShape *in_shape,
    const SnTensor *out, const SnShape *out_shape, GError **error)
{
  if (i < 0 || i >= p->cut->n_tensors || in->dtype != SN_DTYPE_FLOAT32
      || out->dtype != SN_DTYPE_FLOAT32 || !sn_shape_equal (&in->shape, in_shape)
      || !sn_shape_equal (&out->shape, out_shape)) {
    g_set_error (error, SN_ERROR, SN_ERROR_SHAPE,
        "path '%s', tensor %d: the adapter's input or output is not float32 of the expected shape",
        p->name, i);
    return FALSE;
  }
  return TRUE;
}

/* z[k, y, x] = b[k] + sum over c, dy, dx of W[k, c, dy, dx] x[c, s y + dy, s x + dx].
 * Loops run over whole rows so the compiler vectorises the inner one. */
gboolean
sn_path_edge_apply (const SnPath *p, int i, const SnTensor *in, SnTensor *out, GError **error)
{
  const SnAdapter *a = &p->adapters[i];
  if (!check_io (p, i, in, &p->cut->shapes[i], out, &a->wire, error))
    return FALSE;
  const int C = a->channels, K = a->k, s = a->stride;
  const int64_t H = in->shape.dims[2], W = in->shape.dims[3], h = H / s, w = W / s;
  const float *x = in->data, *wt = a->edge_w->data, *b = a->edge_b->data;
  float *z = out->data;
  for (int k = 0; k < K; k++) {
    float *zk = z + k * h * w;
    for (int64_t j = 0; j < h * w; j++)
      zk[j] = b[k];
    for (int c = 0; c < C; c++)
      for (int dy = 0; dy < s; dy++)
        for (int dx = 0; dx < s; dx++) {
          const float wv = wt[((k * C + c) * s + dy) * s + dx];
          for (int64_t y = 0; y < h; y++) {
            const float *row = x + (c * H + s * y + dy) * W + dx;
            float *zr = zk + y * w;
            for (int64_t xx = 0; xx < w; xx++)
              zr[xx] += wv * row[s * xx];
          }
        }
  }
  return TRUE;
}

/* x[c, s y + dy, s x + dx] = b[c] + sum over k of W[k, c, dy, dx] z[k, y, x]. */
gboolean
sn_path_cloud_apply (const SnPath *p, int i, const SnTensor *in, SnTensor *out, GError **error)
{
  const SnAdapter *a = &p->adapters[i];
  if (!check_io (p, i, in, &a->wire, out, &p->cut->shapes[i], error))
    return FALSE;
  const int C = a->channels, K = a->k, s = a->stride;
  const int64_t H = out->shape.dims[2], W = out->shape.dims[3], h = H / s, w = W / s;
  const float *z = in->data, *wt = a->cloud_w->data, *b = a->cloud_b->data;
  float *x = out->data;
  for (int c = 0; c < C; c++) {
    float *xc = x + c * H * W;
    for (int64_t j = 0; j < H * W; j++)
      xc[j] = b[c];
    for (int k = 0; k < K; k++)
      for (int dy = 0; dy < s; dy++)
        for (int dx = 0; dx < s; dx++) {
          const float wv = wt[((k * C + c) * s + dy) * s + dx];
          for (int64_t y = 0; y < h; y++) {
            const float *zr = z + (k * h + y) * w;
            float *row = xc + (s * y + dy) * W + dx;
            for (int64_t xx = 0; xx < w; xx++)
              row[s * xx] += wv * zr[xx];
          }
        }
  }
  return TRUE;
}
