/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — ONNX loading: protobuf -> validated, shape-inferred SnModel.
 *
 * The protobuf code is generated at build time from Debian's onnx.proto.
 * Everything read from the file is checked before use: tensor byte sizes
 * against their dims, external data paths against the model's folder, node
 * inputs against the values defined so far.  Nodes whose inputs are all
 * constant are computed here (constant folding), which is how the shape
 * arithmetic of PyTorch exports (Shape -> Gather -> Concat -> Reshape)
 * becomes the static shapes the rest of the engine relies on. */
#include "engine/sn-model-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "onnx.pb-c.h"

#define SN_MIN_OPSET 1
#define SN_MAX_OPSET 18

/* Upper bound on any one tensor, so a corrupt dims field cannot make us
 * allocate absurd amounts; 4 GiB of elements is far beyond any model here. */
#define SN_MAX_TENSOR_ELEMENTS (G_GINT64_CONSTANT (1) << 32)

static SnValue *
model_add_value (SnModel *model, const char *name)
{
  SnValue *v = g_new0 (SnValue, 1);
  v->name = g_strdup (name);
  v->index = model->values->len;
  g_ptr_array_add (model->values, v);
  g_hash_table_insert (model->value_by_name, v->name, v);
  return v;
}

/* ---- Protobuf wire check -------------------------------------------------
 * protobuf-c only says "could not unpack".  When that happens we walk the
 * top-level fields (and those of the graph) ourselves to tell the user at
 * which byte offset the file stops making sense. */

static gboolean
read_varint (const guint8 *p, size_t len, size_t *pos, guint64 *out)
{
  guint64 v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*pos >= len)
      return FALSE;
    guint8 b = p[(*pos)++];
    v |= (guint64) (b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return TRUE;
    }
  }
  return FALSE;
}

/* Returns the offset of the first malformed field, or -1 if none found. */
static gssize
wire_find_error (const guint8 *p, size_t len, size_t base, int depth,
    char *what, size_t what_len)
{
  size_t pos = 0;
  while (pos < len) {
    size_t field_start = pos;
    guint64 key, v;
    if (!read_varint (p, len, &pos, &key)) {
      g_snprintf (what, what_len, "truncated field tag");
      return base + field_start;
    }
    guint field = key >> 3, wt = key & 7;
    switch (wt) {
      case 0:
        if (!read_varint (p, len, &pos, &v)) {
          g_snprintf (what, what_len, "truncated varint of field %u", field);
          return base + field_start;
        }
        break;
      case 1:
      case 5:{
        size_t n = wt == 1 ? 8 : 4;
        if (len - pos < n) {
          g_snprintf (what, what_len, "truncated fixed-size field %u", field);
          return base + field_start;
        }
        pos += n;
        break;
      }
      case 2:
        if (!read_varint (p, len, &pos, &v)) {
          g_snprintf (what, what_len, "truncated length of field %u", field);
          return base + field_start;
        }
        if (v > len - pos) {
          g_snprintf (what, what_len,
              "field %u declares %" G_GUINT64_FORMAT " bytes but only %zu remain",
              field, v, len - pos);
          return base + field_start;
        }
        /* ModelProto.graph (7), GraphProto.node (1) and .initializer (5). */
        if ((depth == 0 && field == 7) || (depth == 1 && (field == 1 || field == 5))) {
          gssize inner = wire_find_error (p + pos, v, base + pos, depth + 1,
              what, what_len);
          if (inner >= 0)
            return inner;
        }
        pos += v;
        break;
      default:
        g_snprintf (what, what_len, "invalid wire type %u in field %u", wt, field);
        return base + field_start;
    }
  }
  return -1;
}

/* ---- Tensors ------------------------------------------------------------- */

static gboolean
dtype_supported (int32_t dt)
{
  switch (dt) {
    case SN_DTYPE_FLOAT32: case SN_DTYPE_UINT8: case SN_DTYPE_INT8:
    case SN_DTYPE_UINT16: case SN_DTYPE_INT16: case SN_DTYPE_INT32:
    case SN_DTYPE_INT64: case SN_DTYPE_BOOL: case SN_DTYPE_FLOAT16:
    case SN_DTYPE_DOUBLE: case SN_DTYPE_UINT32: case SN_DTYPE_UINT64:
      return TRUE;
    default:
      return FALSE;
  }
}

/* External data: "location" is relative to the model's folder and must stay
 * inside it; "offset"/"length" select a byte range. */
static gboolean
read_external (const Onnx__TensorProto *tp, const char *base_dir, void *dst,
    size_t nbytes, GError **error)
{
  const char *location = NULL;
  guint64 offset = 0, length = G_MAXUINT64;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const char *k = tp->external_data[i]->key, *v = tp->external_data[i]->value;
    if (!k || !v)
      continue;
    if (strcmp (k, "location") == 0)
      location = v;
    else if (strcmp (k, "offset") == 0)
      offset = g_ascii_strtoull (v, NULL, 10);
    else if (strcmp (k, "length") == 0)
      length = g_ascii_strtoull (v, NULL, 10);
  }
  if (!location || !*location) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
        "initializer '%s': external data without a location", tp->name);
    return FALSE;
  }
  if (!base_dir) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
        "initializer '%s': external data '%s' but the model was not loaded from a file",
        tp->name, location);
    return FALSE;
  }
  if (g_path_is_absolute (location) || strstr (location, "..")) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
        "initializer '%s': external data location '%s' must be a relative path "
        "inside the model's folder", tp->name, location);
    return FALSE;
  }
  if (length != G_MAXUINT64 && length != nbytes) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
        "initializer '%s': external data length %" G_GUINT64_FORMAT
        " does not match its dims (%zu bytes)", tp->name, length, nbytes);
    return FALSE;
  }
  g_autofree char *path = g_build_filename (base_dir, location, NULL);
  if (!dst) {
    /* Checking only, before the tensor is allocated: a file of a few
     * bytes must not make the loader allocate what its dims claim. */
    GStatBuf st;
    if (g_stat (path, &st) != 0) {
      g_set_error (error, SN_ERROR, SN_ERROR_IO,
          "initializer '%s': cannot open external data '%s': %s", tp->name,
          path, g_strerror (errno));
      return FALSE;
    }
    if ((guint64) st.st_size < offset || (guint64) st.st_size - offset < nbytes) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
          "initializer '%s': external data '%s' has fewer than %zu bytes at offset %"
          G_GUINT64_FORMAT, tp->name, path, nbytes, offset);
      return FALSE;
    }
    return TRUE;
  }
  FILE *f = fopen (path, "rb");
  if (!f) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO,
        "initializer '%s': cannot open external data '%s': %s", tp->name,
        path, g_strerror (errno));
    return FALSE;
  }
  gboolean ok = fseeko (f, (off_t) offset, SEEK_SET) == 0
      && fread (dst, 1, nbytes, f) == nbytes;
  fclose (f);
  if (!ok) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
        "initializer '%s': external data '%s' has fewer than %zu bytes at offset %"
        G_GUINT64_FORMAT, tp->name, path, nbytes, offset);
    return FALSE;
  }
  return TRUE;
}

static SnTensor *
tensor_from_proto (const Onnx__TensorProto *tp, const char *base_dir,
    const char *what, GError **error)
{
  const char *name = tp->name && *tp->name ? tp->name : what;
  if (!tp->has_data_type || !dtype_supported (tp->data_type)) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "tensor '%s': data type %d is not supported", name, tp->data_type);
    return NULL;
  }
  if (tp->n_dims > SN_MAX_DIMS) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "tensor '%s': rank %zu exceeds the maximum of %d", name, tp->n_dims,
        SN_MAX_DIMS);
    return NULL;
  }
  SnShape shape = { .rank = (int) tp->n_dims };
  int64_t numel = 1;
  for (size_t i = 0; i < tp->n_dims; i++) {
    if (tp->dims[i] < 0 || (tp->dims[i] > 0 && numel > SN_MAX_TENSOR_ELEMENTS / tp->dims[i])) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
          "tensor '%s': invalid dimension %" G_GINT64_FORMAT " at axis %zu",
          name, tp->dims[i], i);
      return NULL;
    }
    shape.dims[i] = tp->dims[i];
    numel *= tp->dims[i];
  }
  /* The data present is checked against the dims before allocating: a
   * file of a few hundred bytes declaring a 2 GB initializer is refused
   * without allocating 2 GB (found by the fuzz target). */
  size_t nbytes = (size_t) numel * sn_dtype_size (tp->data_type);
  gboolean external = tp->has_data_location
      && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  size_t avail;
  if (external) {
    if (!read_external (tp, base_dir, NULL, nbytes, error))
      return NULL;
    avail = nbytes;
  } else if (tp->has_raw_data) {
    avail = tp->raw_data.len;
  } else {
    switch ((SnDType) tp->data_type) {
      case SN_DTYPE_FLOAT32: avail = tp->n_float_data; break;
      case SN_DTYPE_DOUBLE: avail = tp->n_double_data; break;
      case SN_DTYPE_INT64: avail = tp->n_int64_data; break;
      case SN_DTYPE_UINT32: case SN_DTYPE_UINT64: avail = tp->n_uint64_data; break;
      default: avail = tp->n_int32_data; break;
    }
    avail *= sn_dtype_size (tp->data_type);
  }
  if (avail != nbytes) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
        "tensor '%s': holds %zu bytes of data but its dims (%s) need %zu",
        name, avail, sn_shape_format (&shape, (char[96]) { 0 }, 96), nbytes);
    return NULL;
  }
  SnTensor *t = sn_tensor_new (tp->data_type, &shape);
  size_t have = 0;
  gboolean ok = TRUE;

  if (external) {
    ok = read_external (tp, base_dir, t->data, nbytes, error);
    have = nbytes;
  } else if (tp->has_raw_data) {
    have = tp->raw_data.len;
    if (have == nbytes && nbytes)
      memcpy (t->data, tp->raw_data.data, nbytes);
  } else {
    /* Typed fields: ONNX stores small int types and float16 bit patterns in
     * int32_data, unsigned 32/64 in uint64_data. */
    size_t n = 0;
    switch (t->dtype) {
      case SN_DTYPE_FLOAT32:
        n = tp->n_float_data;
        if (n == (size_t) numel && n)
          memcpy (t->data, tp->float_data, nbytes);
        break;
      case SN_DTYPE_DOUBLE:
        n = tp->n_double_data;
        if (n == (size_t) numel && n)
          memcpy (t->data, tp->double_data, nbytes);
        break;
      case SN_DTYPE_INT64:
        n = tp->n_int64_data;
        if (n == (size_t) numel && n)
          memcpy (t->data, tp->int64_data, nbytes);
        break;
      case SN_DTYPE_UINT32: case SN_DTYPE_UINT64:
        n = tp->n_uint64_data;
        if (n == (size_t) numel)
          for (int64_t k = 0; k < numel; k++) {
            if (t->dtype == SN_DTYPE_UINT32)
              ((guint32 *) t->data)[k] = (guint32) tp->uint64_data[k];
            else
              ((guint64 *) t->data)[k] = tp->uint64_data[k];
          }
        break;
      default:
        n = tp->n_int32_data;
        if (n == (size_t) numel)
          for (int64_t k = 0; k < numel; k++) {
            int32_t v = tp->int32_data[k];
            switch (sn_dtype_size (t->dtype)) {
              case 1: ((guint8 *) t->data)[k] = (guint8) v; break;
              case 2: ((guint16 *) t->data)[k] = (guint16) v; break;
              default: ((int32_t *) t->data)[k] = v; break;
            }
          }
        break;
    }
    have = n * sn_dtype_size (t->dtype);
  }
  if (ok && have != nbytes) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
        "tensor '%s': holds %zu bytes of data but its dims (%s) need %zu",
        name, have, sn_shape_format (&shape, (char[96]) { 0 }, 96), nbytes);
    ok = FALSE;
  }
  if (!ok) {
    sn_tensor_free (t);
    return NULL;
  }
  return t;
}

/* ---- Graph ---------------------------------------------------------------- */

static gboolean
convert_attr (SnAttr *dst, const Onnx__AttributeProto *ap, const char *base_dir,
    GError **error)
{
  dst->name = g_strdup (ap->name ? ap->name : "");
  dst->type = (SnAttrType) ap->type;
  switch (ap->type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
      dst->f = ap->f;
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
      dst->i = ap->i;
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
      /* A STRING attribute with no bytes is "" (g_strndup would give NULL,
       * which every op reading it would pass to strcmp: found by the fuzz
       * target through Resize's mode). */
      dst->s = ap->s.data ? g_strndup ((const char *) ap->s.data, ap->s.len) : g_strdup ("");
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
      dst->n = (int) ap->n_floats;
      dst->floats = g_memdup2 (ap->floats, ap->n_floats * sizeof (float));
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
      dst->n = (int) ap->n_ints;
      dst->ints = g_memdup2 (ap->ints, ap->n_ints * sizeof (int64_t));
      break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
      if (!ap->t) {
        g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
            "attribute '%s' is a tensor attribute without a tensor", dst->name);
        return FALSE;
      }
      dst->t = tensor_from_proto (ap->t, base_dir, dst->name, error);
      return dst->t != NULL;
    default:
      /* Graphs, strings lists, sparse tensors: kept as "present" so ops that
       * do not use them still load; ops that need them refuse in prepare. */
      break;
  }
  return TRUE;
}

static gboolean
shape_from_type (SnValue *v, const Onnx__TypeProto *type, GError **error)
{
  if (!type || type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE
      || !type->tensor_type) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "value '%s' is not a tensor (sequences, maps and optionals are not supported)",
        v->name);
    return FALSE;
  }
  const Onnx__TypeProto__Tensor *tt = type->tensor_type;
  if (!tt->has_elem_type || !dtype_supported (tt->elem_type)) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "value '%s' has unsupported element type %d", v->name, tt->elem_type);
    return FALSE;
  }
  v->dtype = tt->elem_type;
  if (!tt->shape)
    return TRUE;                /* rank unknown */
  if (tt->shape->n_dim > SN_MAX_DIMS) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "value '%s' has rank %zu, more than %d", v->name, tt->shape->n_dim, SN_MAX_DIMS);
    return FALSE;
  }
  v->shape.rank = (int) tt->shape->n_dim;
  v->shape_known = TRUE;
  for (size_t i = 0; i < tt->shape->n_dim; i++) {
    const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
    if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE
        && d->dim_value >= 0) {
      v->shape.dims[i] = d->dim_value;
    } else {
      /* Symbolic dims (batch "N") become 1: the engine plans static
       * shapes, and every model here runs one frame at a time. */
      g_debug ("value '%s': dim %zu is symbolic ('%s'), using 1", v->name, i,
          d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
          ? d->dim_param : "?");
      v->shape.dims[i] = 1;
    }
  }
  return TRUE;
}

/* The Constant op has no kernel: its value attribute becomes the output's
 * constant directly. */
static gboolean
load_constant_node (SnNode *node, GError **error)
{
  if (node->n_outputs != 1 || !node->outputs[0] || node->n_attrs != 1) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
        "Constant needs exactly one output and one value attribute");
    return FALSE;
  }
  const SnAttr *a = &node->attrs[0];
  SnTensor *t = NULL;
  SnShape scalar = { 0 }, vec = { .rank = 1, .dims = { a->n } };
  if (strcmp (a->name, "value") == 0 && a->t) {
    t = sn_tensor_copy (a->t);
  } else if (strcmp (a->name, "value_float") == 0 && a->type == SN_ATTR_FLOAT) {
    t = sn_tensor_new (SN_DTYPE_FLOAT32, &scalar);
    *(float *) t->data = (float) a->f;
  } else if (strcmp (a->name, "value_int") == 0 && a->type == SN_ATTR_INT) {
    t = sn_tensor_new (SN_DTYPE_INT64, &scalar);
    *(int64_t *) t->data = a->i;
  } else if (strcmp (a->name, "value_floats") == 0 && a->type == SN_ATTR_FLOATS) {
    t = sn_tensor_new (SN_DTYPE_FLOAT32, &vec);
    if (a->n)
      memcpy (t->data, a->floats, a->n * sizeof (float));
  } else if (strcmp (a->name, "value_ints") == 0 && a->type == SN_ATTR_INTS) {
    t = sn_tensor_new (SN_DTYPE_INT64, &vec);
    if (a->n)
      memcpy (t->data, a->ints, a->n * sizeof (int64_t));
  } else {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "Constant attribute '%s' is not supported", a->name);
    return FALSE;
  }
  SnValue *out = node->outputs[0];
  out->constant = t;
  out->dtype = t->dtype;
  out->shape = t->shape;
  out->shape_known = TRUE;
  return TRUE;
}

/* Runs a node at load time when every input it has is a constant. */
static void
fold_node (SnNode *node)
{
  const SnTensor *in[node->n_inputs + 1];
  SnTensor *out[node->n_outputs + 1];
  /* Shape and Size read only the shape of a non-constant input: give them a
   * data-less tensor that carries it. */
  SnTensor shape_only[node->n_inputs + 1];
  for (int i = 0; i < node->n_inputs; i++) {
    const SnValue *v = node->inputs[i];
    in[i] = v ? v->constant : NULL;
    if (v && !v->constant) {
      shape_only[i] = (SnTensor) { .dtype = v->dtype, .shape = v->shape };
      in[i] = &shape_only[i];
    }
  }
  for (int i = 0; i < node->n_outputs; i++) {
    SnValue *v = node->outputs[i];
    out[i] = v ? sn_tensor_new (v->dtype, &v->shape) : NULL;
  }
  SnExec exec = { .n_threads = 1 };
  node->op->run (node, in, out, &exec);
  for (int i = 0; i < node->n_outputs; i++)
    if (node->outputs[i])
      node->outputs[i]->constant = out[i];
}

static gboolean
node_all_inputs_constant (const SnNode *node)
{
  for (int i = 0; i < node->n_inputs; i++)
    if (node->inputs[i] && !node->inputs[i]->constant)
      return FALSE;
  return TRUE;
}

static int
find_opset (const Onnx__ModelProto *mp, GError **error)
{
  int opset = -1;
  for (size_t i = 0; i < mp->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
    if (!o->domain || !*o->domain || strcmp (o->domain, "ai.onnx") == 0)
      opset = (int) o->version;
  }
  if (opset < 0)
    return 0;                   /* only other domains; their nodes are refused one by one */
  if (opset < SN_MIN_OPSET || opset > SN_MAX_OPSET) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "opset %d is not supported (supported: %d to %d)", opset, SN_MIN_OPSET,
        SN_MAX_OPSET);
    return -1;
  }
  return opset;
}

/* Kahn's algorithm over node indices; ONNX requires topological order but
 * exporters get it wrong often enough that we sort rather than trust. */
static int *
topo_order (const Onnx__GraphProto *g, GHashTable *defined, GError **error)
{
  size_t n = g->n_node;
  g_autoptr (GHashTable) producer = g_hash_table_new (g_str_hash, g_str_equal);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < g->node[i]->n_output; k++)
      if (g->node[i]->output[k] && *g->node[i]->output[k])
        g_hash_table_insert (producer, g->node[i]->output[k], GSIZE_TO_POINTER (i + 1));

  g_autofree int *pending = g_new0 (int, n);
  g_autoptr (GPtrArray) users = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  for (size_t i = 0; i < n; i++)
    g_ptr_array_add (users, g_array_new (FALSE, FALSE, sizeof (int)));
  for (size_t i = 0; i < n; i++) {
    const Onnx__NodeProto *np = g->node[i];
    for (size_t k = 0; k < np->n_input; k++) {
      const char *in = np->input[k];
      if (!in || !*in || g_hash_table_contains (defined, in))
        continue;
      gsize p = GPOINTER_TO_SIZE (g_hash_table_lookup (producer, in));
      if (!p) {
        g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
            "node '%s' (%s): input '%s' is neither a graph input, an initializer "
            "nor produced by any node", np->name && *np->name ? np->name : "?",
            np->op_type ? np->op_type : "?", in);
        return NULL;
      }
      int me = (int) i;
      g_array_append_val (g_ptr_array_index (users, p - 1), me);
      pending[i]++;
    }
  }
  int *order = g_new (int, n + 1);
  size_t head = 0, tail = 0;
  for (size_t i = 0; i < n; i++)
    if (!pending[i])
      order[tail++] = (int) i;
  while (head < tail) {
    int i = order[head++];
    GArray *u = g_ptr_array_index (users, i);
    for (guint k = 0; k < u->len; k++) {
      int j = g_array_index (u, int, k);
      if (--pending[j] == 0)
        order[tail++] = j;
    }
  }
  if (tail != n) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
        "the graph has a cycle (%zu of %zu nodes cannot be ordered)", n - tail, n);
    g_free (order);
    return NULL;
  }
  return order;
}

/* Records which dims of a model input are symbolic and, when the caller
 * gives a shape for it (sn_model_at_shapes, already checked there), loads
 * the input at that shape instead of 1 per symbolic dim. */
static void
input_dims (SnModel *model, SnValue *v, const Onnx__TypeProto *type, GHashTable *at)
{
  const Onnx__TensorShapeProto *sp = type->tensor_type->shape;
  char *params[SN_MAX_DIMS] = { NULL };
  int n = 0;
  for (int d = 0; d < v->shape.rank; d++) {
    const Onnx__TensorShapeProto__Dimension *dim = sp->dim[d];
    if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dim->dim_value >= 0)
      continue;
    params[d] = g_strdup (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
        && dim->dim_param ? dim->dim_param : "");
    n++;
  }
  /* v is about to become input inputs->len; load_graph made room for
   * every graph input. */
  memcpy (model->dim_params[model->inputs->len], params, sizeof params);
  model->n_symbolic += n;
  const SnShape *s = at ? g_hash_table_lookup (at, v->name) : NULL;
  if (s)
    v->shape = *s;
  else if (model->symbolic_default > 1)
    for (int d = 1; d < v->shape.rank; d++)
      if (params[d])
        v->shape.dims[d] = model->symbolic_default;
}

static gboolean
load_graph (SnModel *model, const Onnx__GraphProto *g, const char *base_dir,
    SnTensor *const *bound, int n_bound, GHashTable *at, GError **error)
{
  /* Initializers become constant values. */
  for (size_t i = 0; i < g->n_initializer; i++) {
    const Onnx__TensorProto *tp = g->initializer[i];
    if (!tp->name || !*tp->name) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
          "initializer %zu has no name", i);
      return FALSE;
    }
    if (sn_model_lookup_value (model, tp->name)) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
          "initializer '%s' is defined twice", tp->name);
      return FALSE;
    }
    SnTensor *t = tensor_from_proto (tp, base_dir, tp->name, error);
    if (!t)
      return FALSE;
    SnValue *v = model_add_value (model, tp->name);
    v->constant = t;
    v->dtype = t->dtype;
    v->shape = t->shape;
    v->shape_known = TRUE;
    model->n_params += sn_tensor_numel (t);
    model->param_bytes += sn_tensor_nbytes (t);
  }
  if (g->n_sparse_initializer) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "sparse initializers are not supported");
    return FALSE;
  }

  /* Graph inputs that are not initializers are the model's inputs.  (Old
   * exporters list initializers as inputs too; those keep their value.) */
  int n_inputs_seen = 0;
  model->dim_params = g_new0 (SnDimParams, g->n_input + 1);
  for (size_t i = 0; i < g->n_input; i++) {
    const Onnx__ValueInfoProto *vi = g->input[i];
    if (!vi->name || !*vi->name) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL, "graph input %zu has no name", i);
      return FALSE;
    }
    if (sn_model_lookup_value (model, vi->name))
      continue;
    SnValue *v = model_add_value (model, vi->name);
    if (!shape_from_type (v, vi->type, error))
      return FALSE;
    const SnTensor *b = n_inputs_seen < n_bound ? bound[n_inputs_seen] : NULL;
    n_inputs_seen++;
    if (b) {
      /* A bound input is a constant from here on (see sn_model_load_bound). */
      if (b->dtype != v->dtype || (v->shape_known && v->shape.rank != b->shape.rank)) {
        g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
            "value bound to graph input '%s' is %s of rank %d, the input is %s of rank %d",
            vi->name, sn_dtype_name (b->dtype), b->shape.rank, sn_dtype_name (v->dtype),
            v->shape.rank);
        return FALSE;
      }
      v->constant = sn_tensor_copy (b);
      v->shape = b->shape;
      v->shape_known = TRUE;
      continue;
    }
    if (!v->shape_known) {
      g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
          "graph input '%s' has no shape (not even its rank)", vi->name);
      return FALSE;
    }
    input_dims (model, v, vi->type, at);
    g_ptr_array_add (model->inputs, v);
  }

  g_autoptr (GHashTable) defined = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < model->values->len; i++)
    g_hash_table_add (defined, ((SnValue *) g_ptr_array_index (model->values, i))->name);
  g_autofree int *order = topo_order (g, defined, error);
  if (!order)
    return FALSE;

  for (size_t oi = 0; oi < g->n_node; oi++) {
    const Onnx__NodeProto *np = g->node[order[oi]];
    SnNode *node = g_new0 (SnNode, 1);
    g_ptr_array_add (model->nodes, node);
    node->index = (int) oi;
    node->op_type = g_strdup (np->op_type ? np->op_type : "");
    node->domain = g_strdup (np->domain ? np->domain : "");
    node->name = np->name && *np->name ? g_strdup (np->name)
        : g_strdup_printf ("%s_%d", node->op_type, order[oi]);
    node->opset = model->opset;
    node->n_inputs = (int) np->n_input;
    node->inputs = g_new0 (SnValue *, np->n_input + 1);
    node->n_outputs = (int) np->n_output;
    node->outputs = g_new0 (SnValue *, np->n_output + 1);

    if (*node->domain && strcmp (node->domain, "ai.onnx") != 0) {
      sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
          "operator domain '%s' is not supported", node->domain);
      return FALSE;
    }
    if (model->opset == 0) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
          "the model imports no default-domain opset");
      return FALSE;
    }
    for (size_t k = 0; k < np->n_input; k++) {
      if (!np->input[k] || !*np->input[k])
        continue;
      node->inputs[k] = sn_model_lookup_value (model, np->input[k]);
      g_assert (node->inputs[k]);       /* topo_order checked it */
    }
    for (size_t k = 0; k < np->n_output; k++) {
      if (!np->output[k] || !*np->output[k])
        continue;
      if (sn_model_lookup_value (model, np->output[k])) {
        sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
            "output '%s' is already defined elsewhere", np->output[k]);
        return FALSE;
      }
      SnValue *v = model_add_value (model, np->output[k]);
      v->producer = node;
      node->outputs[k] = v;
    }
    node->n_attrs = (int) np->n_attribute;
    node->attrs = g_new0 (SnAttr, np->n_attribute + 1);
    for (size_t k = 0; k < np->n_attribute; k++) {
      GError *err = NULL;
      if (!convert_attr (&node->attrs[k], np->attribute[k], base_dir, &err)) {
        sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "%s", err->message);
        g_error_free (err);
        return FALSE;
      }
    }

    if (strcmp (node->op_type, "Constant") == 0) {
      if (!load_constant_node (node, error))
        return FALSE;
      continue;
    }
    node->op = sn_op_lookup (node->op_type);
    if (!node->op) {
      sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
          "operator '%s' is not supported", node->op_type);
      return FALSE;
    }
    /* Kernels write their first output unchecked (an omitted one reached a
     * Relu's kernel as NULL: found by the fuzz target); ONNX makes it
     * optional only for the recurrent ops. */
    if ((node->n_outputs == 0 || !node->outputs[0]) && strcmp (node->op_type, "LSTM") != 0
        && strcmp (node->op_type, "GRU") != 0 && strcmp (node->op_type, "RNN") != 0) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "the first output is missing");
      return FALSE;
    }
    if (model->opset < node->op->since_opset) {
      sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
          "this engine implements %s from opset %d on", node->op_type,
          node->op->since_opset);
      return FALSE;
    }
    for (int k = 0; k < node->n_inputs; k++) {
      if (node->inputs[k] && !node->inputs[k]->shape_known) {
        sn_node_set_error (error, node, SN_ERROR_SHAPE,
            "shape of input '%s' is unknown", node->inputs[k]->name);
        return FALSE;
      }
    }
    if (!node->op->prepare (node, error))
      return FALSE;
    for (int k = 0; k < node->n_outputs; k++) {
      SnValue *v = node->outputs[k];
      if (v && (!v->shape_known || sn_shape_numel (&v->shape) > SN_MAX_TENSOR_ELEMENTS)) {
        sn_node_set_error (error, node, SN_ERROR_SHAPE,
            "output '%s' has no valid shape after inference", v->name);
        return FALSE;
      }
    }
    /* Shape and Size depend only on static shapes, so they always fold;
     * that makes exported shape arithmetic constant. */
    if (node_all_inputs_constant (node) || strcmp (node->op_type, "Shape") == 0
        || strcmp (node->op_type, "Size") == 0)
      fold_node (node);
  }

  for (size_t i = 0; i < g->n_output; i++) {
    const Onnx__ValueInfoProto *vi = g->output[i];
    SnValue *v = vi->name ? sn_model_lookup_value (model, vi->name) : NULL;
    if (!v) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
          "graph output '%s' is not produced by the graph", vi->name ? vi->name : "?");
      return FALSE;
    }
    /* A declared, fully static output shape must match what we inferred:
     * disagreement means the file or our inference is wrong. */
    SnValue declared = { .name = v->name };
    if (vi->type && shape_from_type (&declared, vi->type, NULL) && declared.shape_known) {
      gboolean is_static = TRUE;
      for (size_t d = 0; d < vi->type->tensor_type->shape->n_dim; d++)
        if (vi->type->tensor_type->shape->dim[d]->value_case
            != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
          is_static = FALSE;
      if (is_static && !sn_shape_equal (&declared.shape, &v->shape)) {
        char a[96], b[96];
        g_set_error (error, SN_ERROR, SN_ERROR_SHAPE,
            "graph output '%s' is declared %s but the graph computes %s",
            v->name, sn_shape_format (&declared.shape, a, sizeof a),
            sn_shape_format (&v->shape, b, sizeof b));
        return FALSE;
      }
      if (declared.dtype != v->dtype) {
        g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
            "graph output '%s' is declared %s but the graph computes %s",
            v->name, sn_dtype_name (declared.dtype), sn_dtype_name (v->dtype));
        return FALSE;
      }
    }
    g_ptr_array_add (model->outputs, v);
  }
  if (model->outputs->len == 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL, "the graph has no outputs");
    return FALSE;
  }
  return TRUE;
}

static SnModel *
load_once (const void *data, size_t len, const char *base_dir, const char *source,
    SnTensor *const *bound, int n_bound, GHashTable *at, int64_t symbolic_default, GError **error)
{
  Onnx__ModelProto *mp = onnx__model_proto__unpack (NULL, len, data);
  if (!mp) {
    char what[160] = "not a protobuf message";
    gssize off = wire_find_error (data, len, 0, 0, what, sizeof what);
    if (off >= 0)
      g_set_error (error, SN_ERROR, SN_ERROR_PARSE,
          "%s: not a valid ONNX model: %s at byte offset %" G_GSSIZE_FORMAT
          " of %zu", source, what, off, len);
    else
      g_set_error (error, SN_ERROR, SN_ERROR_PARSE,
          "%s: not a valid ONNX model (%zu bytes): a field has the wrong type "
          "or the file is not ONNX", source, len);
    return NULL;
  }
  SnModel *model = sn_model_new (source, data, len);
  model->symbolic_default = symbolic_default;

  GError *err = NULL;
  gboolean ok = FALSE;
  if (!mp->graph) {
    g_set_error (&err, SN_ERROR, SN_ERROR_INVALID_MODEL, "the model has no graph");
  } else if ((model->opset = find_opset (mp, &err)) >= 0) {
    for (size_t i = 0; i < mp->n_metadata_props; i++)
      if (mp->metadata_props[i]->key)
        g_hash_table_replace (model->metadata, g_strdup (mp->metadata_props[i]->key),
            g_strdup (mp->metadata_props[i]->value ? mp->metadata_props[i]->value : ""));
    ok = load_graph (model, mp->graph, base_dir, bound, n_bound, at, &err);

  }
  onnx__model_proto__free_unpacked (mp, NULL);
  if (!ok) {
    g_set_error (error, err->domain, err->code, "%s: %s", source, err->message);
    g_error_free (err);
    sn_model_free (model);
    return NULL;
  }
  if (model->n_symbolic && !at && !n_bound) {
    model->bytes = g_bytes_new (data, len);
    model->base_dir = g_strdup (base_dir);
  }
  return model;
}

/* A model with symbolic input dims loads with 1 for each; one whose layers
 * cannot take 1 (a 2x2 pooling over a symbolic height) loads again with
 * SN_SYMBOLIC_FALLBACK for every symbolic dim but the first (the batch),
 * so that it can be inspected and cut; sn_model_at_shapes then gives it
 * the shapes actually run. */
#define SN_SYMBOLIC_FALLBACK 256

static SnModel *
load_from_data (const void *data, size_t len, const char *base_dir,
    const char *source, SnTensor *const *bound, int n_bound, GHashTable *at, GError **error)
{
  GError *err = NULL;
  SnModel *m = load_once (data, len, base_dir, source, bound, n_bound, at, 1, &err);
  if (!m && !at && err->domain == SN_ERROR && err->code == SN_ERROR_SHAPE) {
    GError *again = NULL;
    m = load_once (data, len, base_dir, source, bound, n_bound, NULL, SN_SYMBOLIC_FALLBACK, &again);
    if (m)
      g_clear_error (&err);
    else
      g_error_free (again);     /* the first error says what is wrong at 1 */
  }
  if (err)
    g_propagate_error (error, err);
  return m;
}

/* The cache key: every input's shape, in input order. */
static char *
shape_key (SnModel *model, GHashTable *at)
{
  GString *k = g_string_new (NULL);
  for (guint i = 0; i < model->inputs->len; i++) {
    const SnValue *v = g_ptr_array_index (model->inputs, i);
    const SnShape *s = g_hash_table_lookup (at, v->name);
    char buf[96];
    g_string_append_printf (k, "%s;", sn_shape_format (s ? s : &v->shape, buf, sizeof buf));
  }
  return g_string_free (k, FALSE);
}

SnModel *
sn_model_at_shapes (SnModel *model, const char *const *names, const SnShape *shapes, int n,
    GError **error)
{
  g_autoptr (GHashTable) at = g_hash_table_new (g_str_hash, g_str_equal);
  /* dim_param -> the first input and dim that gave it a value */
  g_autoptr (GHashTable) named = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean same = TRUE;
  for (int j = 0; j < n; j++) {
    int i = 0;
    while (i < (int) model->inputs->len
        && strcmp (((SnValue *) g_ptr_array_index (model->inputs, i))->name, names[j]) != 0)
      i++;
    if (i == (int) model->inputs->len) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "%s: '%s' is not an input of the model",
          model->source, names[j]);
      return NULL;
    }
    const SnValue *v = g_ptr_array_index (model->inputs, i);
    const SnShape *s = &shapes[j];
    if (s->rank != v->shape.rank) {
      g_set_error (error, SN_ERROR, SN_ERROR_SHAPE, "%s: input '%s' has rank %d, got a tensor of rank %d",
          model->source, v->name, v->shape.rank, s->rank);
      return NULL;
    }
    for (int d = 0; d < s->rank; d++) {
      const char *param = model->dim_params ? model->dim_params[i][d] : NULL;
      if (!param) {
        if (s->dims[d] != v->shape.dims[d]) {
          g_set_error (error, SN_ERROR, SN_ERROR_SHAPE, "%s: input '%s' dim %d is %" G_GINT64_FORMAT
              " in the model, got %" G_GINT64_FORMAT, model->source, v->name, d, v->shape.dims[d], s->dims[d]);
          return NULL;
        }
        continue;
      }
      if (s->dims[d] < 1) {
        g_set_error (error, SN_ERROR, SN_ERROR_SHAPE, "%s: input '%s' dim %d ('%s') must be at least 1, got %"
            G_GINT64_FORMAT, model->source, v->name, d, param, s->dims[d]);
        return NULL;
      }
      /* Dims that share a name share a value (ONNX's meaning of dim_param). */
      const int64_t *first = *param ? g_hash_table_lookup (named, param) : NULL;
      if (first && *first != s->dims[d]) {
        g_set_error (error, SN_ERROR, SN_ERROR_SHAPE, "%s: input '%s' dim %d ('%s') is %" G_GINT64_FORMAT
            ", but an earlier dim named '%s' is %" G_GINT64_FORMAT, model->source, v->name, d, param,
            s->dims[d], param, *first);
        return NULL;
      }
      if (*param && !first)
        g_hash_table_insert (named, (gpointer) param, (gpointer) &s->dims[d]);
      if (s->dims[d] != v->shape.dims[d])
        same = FALSE;
    }
    g_hash_table_insert (at, (gpointer) v->name, (gpointer) s);
  }
  if (same)
    return model;
  if (!model->bytes) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "%s: a model at fixed shapes cannot be "
        "reshaped again: ask the model it came from", model->source);
    return NULL;
  }
  g_autofree char *key = shape_key (model, at);
  g_mutex_lock (&model->at_shape_lock);
  if (!model->at_shape)
    model->at_shape = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) sn_model_free);
  SnModel *m = g_hash_table_lookup (model->at_shape, key);
  if (!m) {
    gsize len;
    const void *data = g_bytes_get_data (model->bytes, &len);
    GError *err = NULL;
    m = load_from_data (data, len, model->base_dir, model->source, NULL, 0, at, &err);
    if (m)
      g_hash_table_insert (model->at_shape, g_steal_pointer (&key), m);
    else {
      g_set_error (error, err->domain, err->code, "at input shapes %s: %s", key, err->message);
      g_error_free (err);
    }
  }
  g_mutex_unlock (&model->at_shape_lock);
  return m;
}

SnModel *
sn_model_load_from_data (const void *data, size_t len, const char *base_dir,
    GError **error)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  return load_from_data (data, len, base_dir, "<memory>", NULL, 0, NULL, error);
}

SnModel *
sn_model_load (const char *path, GError **error)
{
  return sn_model_load_bound (path, NULL, 0, error);
}

SnModel *
sn_model_load_bound (const char *path, SnTensor *const *bound, int n_bound,
    GError **error)
{
  g_autofree char *contents = NULL;
  gsize len = 0;
  GError *err = NULL;
  if (!g_file_get_contents (path, &contents, &len, &err)) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s", err->message);
    g_error_free (err);
    return NULL;
  }
  if (len == 0) {
    /* Protobuf reads zero bytes as an empty model; say what the file is. */
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: empty file, not an ONNX model", path);
    return NULL;
  }
  g_autofree char *dir = g_path_get_dirname (path);
  return load_from_data (contents, len, dir, path, bound, n_bound, NULL, error);
}

SnTensor *
sn_onnx_parse_tensor (const void *data, size_t len, GError **error)
{
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack (NULL, len, data);
  if (!tp) {
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "not a valid onnx.TensorProto (%zu bytes)", len);
    return NULL;
  }
  SnTensor *t = tensor_from_proto (tp, NULL, "tensor", error);
  onnx__tensor_proto__free_unpacked (tp, NULL);
  return t;
}
