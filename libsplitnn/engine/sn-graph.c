/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — node attribute access and helpers shared by op implementations. */
#include "engine/sn-graph.h"

#include <stdarg.h>
#include <string.h>

const SnAttr *
sn_node_attr (const SnNode *node, const char *name)
{
  for (int i = 0; i < node->n_attrs; i++)
    if (strcmp (node->attrs[i].name, name) == 0)
      return &node->attrs[i];
  return NULL;
}

int64_t
sn_node_attr_int (const SnNode *node, const char *name, int64_t def)
{
  const SnAttr *a = sn_node_attr (node, name);
  return a && a->type == SN_ATTR_INT ? a->i : def;
}

float
sn_node_attr_float (const SnNode *node, const char *name, float def)
{
  const SnAttr *a = sn_node_attr (node, name);
  return a && a->type == SN_ATTR_FLOAT ? (float) a->f : def;
}

const char *
sn_node_attr_string (const SnNode *node, const char *name, const char *def)
{
  const SnAttr *a = sn_node_attr (node, name);
  return a && a->type == SN_ATTR_STRING ? a->s : def;
}

int
sn_node_attr_ints (const SnNode *node, const char *name, const int64_t **ints)
{
  const SnAttr *a = sn_node_attr (node, name);
  if (!a || a->type != SN_ATTR_INTS) {
    *ints = NULL;
    return 0;
  }
  *ints = a->ints;
  return a->n;
}

int
sn_node_attr_floats (const SnNode *node, const char *name, const float **floats)
{
  const SnAttr *a = sn_node_attr (node, name);
  if (!a || a->type != SN_ATTR_FLOATS) {
    *floats = NULL;
    return 0;
  }
  *floats = a->floats;
  return a->n;
}

void
sn_node_set_error (GError **error, const SnNode *node, SnError code,
    const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, SN_ERROR, code, "node '%s' (%s, opset %d): %s",
      node->name, node->op_type, node->opset, msg);
}

gboolean
sn_node_check_arity (SnNode *node, int min_in, int max_in, int min_out,
    int max_out, GError **error)
{
  if (node->n_inputs < min_in || node->n_inputs > max_in) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
        "has %d inputs, expected %d to %d", node->n_inputs, min_in, max_in);
    return FALSE;
  }
  if (node->n_outputs < min_out || node->n_outputs > max_out) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
        "has %d outputs, expected %d to %d", node->n_outputs, min_out, max_out);
    return FALSE;
  }
  for (int i = 0; i < min_in; i++) {
    if (!node->inputs[i]) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
          "required input %d is missing", i);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
sn_node_require_float (SnNode *node, int i, GError **error)
{
  const SnValue *v = node->inputs[i];
  if (v && v->dtype != SN_DTYPE_FLOAT32) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "input %d '%s' has dtype %s; only float32 is supported", i, v->name,
        sn_dtype_name (v->dtype));
    return FALSE;
  }
  return TRUE;
}

void
sn_node_set_output (SnNode *node, int i, SnDType dtype, const SnShape *shape)
{
  SnValue *v = node->outputs[i];
  if (!v)
    return;
  v->dtype = dtype;
  v->shape = *shape;
  v->shape_known = TRUE;
}

gboolean
sn_shape_broadcast (const SnShape *a, const SnShape *b, SnShape *out)
{
  int rank = MAX (a->rank, b->rank);
  SnShape r = { .rank = rank };
  for (int i = 0; i < rank; i++) {
    int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
    int64_t da = ia >= 0 ? a->dims[ia] : 1;
    int64_t db = ib >= 0 ? b->dims[ib] : 1;
    if (da == db || db == 1)
      r.dims[i] = da;
    else if (da == 1)
      r.dims[i] = db;
    else
      return FALSE;
  }
  *out = r;
  return TRUE;
}

int
sn_node_const_ints (SnNode *node, int i, int64_t *vals, int max_vals,
    GError **error)
{
  const SnValue *v = i < node->n_inputs ? node->inputs[i] : NULL;
  if (!v || !v->constant) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "input %d must be a constant (initializer or computable at load time)", i);
    return -1;
  }
  const SnTensor *t = v->constant;
  int64_t n = sn_tensor_numel (t);
  if (t->dtype != SN_DTYPE_INT64 && t->dtype != SN_DTYPE_INT32) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
        "input %d '%s' must be int64 or int32, not %s", i, v->name,
        sn_dtype_name (t->dtype));
    return -1;
  }
  if (n > max_vals) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "input %d '%s' has %" G_GINT64_FORMAT " values, at most %d supported",
        i, v->name, n, max_vals);
    return -1;
  }
  for (int64_t k = 0; k < n; k++)
    vals[k] = t->dtype == SN_DTYPE_INT64 ? ((const int64_t *) t->data)[k]
        : ((const int32_t *) t->data)[k];
  return (int) n;
}

gboolean
sn_axis_normalize (int64_t *axis, int rank)
{
  if (*axis < -rank || *axis >= rank)
    return FALSE;
  if (*axis < 0)
    *axis += rank;
  return TRUE;
}
