/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — reference kernels for ops that move data or compute shapes:
 * Concat, Split, Slice, Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
 * Pad, Shape, Size, Gather, GatherElements, GatherND, Cast, CastLike,
 * ConstantOfShape, EyeLike, Expand, Tile, Trilu, Range, Where, comparisons,
 * boolean logic, DepthToSpace and SpaceToDepth.
 *
 * Data movement works on any dtype by element size: these ops run on int64
 * shape tensors at load time (constant folding) as well as on float32
 * activations.  Every shape that comes out of a model's numbers (Reshape's
 * shape, Tile's repeats, pads, ranges) is checked for negative dims and
 * int64 overflow here, before anything multiplies it. */
#include "sn-ops.h"

#include <math.h>
#include <string.h>

/* ---- Shared checks ---------------------------------------------------------- */

static gboolean
require_sized (SnNode *node, int i, GError **error)
{
  const SnValue *v = node->inputs[i];
  if (v && (sn_dtype_size (v->dtype) == 0 || v->dtype == SN_DTYPE_STRING)) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "input %d '%s' has unsupported dtype %s",
        i, v->name, sn_dtype_name (v->dtype));
    return FALSE;
  }
  return TRUE;
}

/* Ops whose attribute became an input in a later opset: silently ignoring a
 * stale attribute would compute something else than the model means. */
static gboolean
refuse_attr (SnNode *node, const char *name, int input, GError **error)
{
  if (sn_node_attr (node, name)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
        "attribute '%s' is not allowed in opset %d; it is input %d", name, node->opset, input);
    return FALSE;
  }
  return TRUE;
}

static gboolean
has_input (const SnNode *node, int i)
{
  return i < node->n_inputs && node->inputs[i] != NULL;
}

/* Sets output i after checking that no dim is negative and that the element
 * count fits in int64 (the loader bounds it further, but only after calling
 * sn_shape_numel, which must not overflow). */
static gboolean
set_output_checked (SnNode *node, int i, SnDType dtype, const SnShape *s, GError **error)
{
  int64_t n = 1;
  for (int d = 0; d < s->rank; d++) {
    if (s->dims[d] < 0 || __builtin_mul_overflow (n, s->dims[d], &n)) {
      char buf[192];
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "output %d would have shape %s", i,
          sn_shape_format (s, buf, sizeof buf));
      return FALSE;
    }
  }
  sn_node_set_output (node, i, dtype, s);
  return TRUE;
}

static void
copy_ints (int64_t *dst, const int64_t *src, int n)
{
  if (n > 0)
    memcpy (dst, src, n * sizeof (int64_t));
}

static void
copy_all (const SnTensor *in, SnTensor *out)
{
  size_t n = sn_tensor_nbytes (in);
  if (n && in->data != out->data)
    memmove (out->data, in->data, n);
}

static void
contiguous_strides (const SnShape *s, int64_t *strides)
{
  int64_t st = 1;
  for (int i = s->rank - 1; i >= 0; i--) {
    strides[i] = st;
    st *= s->dims[i];
  }
}

/* Reads integer element i of an int32/int64 tensor. */
static int64_t
index_at (const SnTensor *t, int64_t i)
{
  return t->dtype == SN_DTYPE_INT64 ? ((const int64_t *) t->data)[i] : ((const int32_t *) t->data)[i];
}

/* Constant indices are validated in prepare; runtime ones can only be
 * clamped, because run() cannot fail and must not read out of bounds. */
static gboolean
check_const_indices (SnNode *node, int input, int64_t len, GError **error)
{
  const SnTensor *c = node->inputs[input]->constant;
  for (int64_t k = 0; c && k < sn_tensor_numel (c); k++) {
    int64_t v = index_at (c, k);
    if (v < -len || v >= len) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "index %" G_GINT64_FORMAT
          " (element %" G_GINT64_FORMAT " of '%s') is out of range for a dim of %" G_GINT64_FORMAT,
          v, k, node->inputs[input]->name, len);
      return FALSE;
    }
  }
  return TRUE;
}

static int64_t
fix_index (int64_t v, int64_t len)
{
  if (v < 0)
    v += len;
  return CLAMP (v, 0, len - 1);
}

static gboolean
require_index_dtype (SnNode *node, int i, GError **error)
{
  SnDType d = node->inputs[i]->dtype;
  if (d != SN_DTYPE_INT64 && d != SN_DTYPE_INT32) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "input %d '%s' must be int32 or int64, not %s",
        i, node->inputs[i]->name, sn_dtype_name (d));
    return FALSE;
  }
  return TRUE;
}

/* ---- Reshape-like ops: the data is copied unchanged ---------------------- */

static void
run_copy (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  copy_all (in[0], out[0]);
}

static gboolean
set_reshaped (SnNode *node, const SnShape *out, GError **error)
{
  const SnShape *in = &node->inputs[0]->shape;
  if (sn_shape_numel (out) != sn_shape_numel (in)) {
    char a[192], b[192];
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "cannot reshape %s (%" G_GINT64_FORMAT
        " elements) to %s (%" G_GINT64_FORMAT " elements)", sn_shape_format (in, a, sizeof a),
        sn_shape_numel (in), sn_shape_format (out, b, sizeof b), sn_shape_numel (out));
    return FALSE;
  }
  sn_node_set_output (node, 0, node->inputs[0]->dtype, out);
  return TRUE;
}

static gboolean
prepare_reshape (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, node->opset < 5 ? 1 : 2, 2, 1, 1, error)
      || !require_sized (node, 0, error))
    return FALSE;
  int64_t dims[SN_MAX_DIMS];
  int n;
  if (node->opset < 5) {
    const int64_t *s;
    n = sn_node_attr_ints (node, "shape", &s);
    if (n > SN_MAX_DIMS) {
      sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "rank %d is above %d", n, SN_MAX_DIMS);
      return FALSE;
    }
    copy_ints (dims, s, n);
  } else if (!refuse_attr (node, "shape", 1, error)
      || (n = sn_node_const_ints (node, 1, dims, SN_MAX_DIMS, error)) < 0) {
    return FALSE;
  }
  gboolean allowzero = sn_node_attr_int (node, "allowzero", 0) != 0;
  const SnShape *in = &node->inputs[0]->shape;
  SnShape out = { .rank = n };
  int infer = -1;
  gboolean has_zero = FALSE;
  int64_t known = 1;
  for (int i = 0; i < n; i++) {
    int64_t d = dims[i];
    if (d == 0 && !allowzero) {
      if (i >= in->rank) {
        sn_node_set_error (error, node, SN_ERROR_SHAPE, "shape[%d] = 0 copies input dim %d, "
            "but the input has rank %d", i, i, in->rank);
        return FALSE;
      }
      d = in->dims[i];
    } else if (d == 0) {
      has_zero = TRUE;
    }
    if (d == -1) {
      if (infer >= 0) {
        sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "shape[%d] and shape[%d] are both -1",
            infer, i);
        return FALSE;
      }
      infer = i;
      d = 1;
    } else if (d < 0) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "shape[%d] = %" G_GINT64_FORMAT
          " is invalid", i, d);
      return FALSE;
    }
    out.dims[i] = d;
    if (__builtin_mul_overflow (known, d, &known)) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "shape[%d] = %" G_GINT64_FORMAT
          " makes the element count overflow", i, d);
      return FALSE;
    }
  }
  int64_t total = sn_shape_numel (in);
  if (infer >= 0) {
    if (has_zero) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
          "with allowzero = 1 the shape may not hold both 0 and -1");
      return FALSE;
    }
    if (known == 0 || total % known) {
      char a[192];
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "cannot infer shape[%d] = -1: %s has %"
          G_GINT64_FORMAT " elements, not a multiple of %" G_GINT64_FORMAT, infer,
          sn_shape_format (in, a, sizeof a), total, known);
      return FALSE;
    }
    out.dims[infer] = total / known;
  }
  return set_reshaped (node, &out, error);
}

static gboolean
prepare_flatten (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error) || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  int64_t axis = sn_node_attr_int (node, "axis", 1);
  if (axis < -in->rank || axis > in->rank) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis %" G_GINT64_FORMAT
        " is out of range for rank %d", axis, in->rank);
    return FALSE;
  }
  if (axis < 0)
    axis += in->rank;
  SnShape out = { .rank = 2, .dims = { 1, 1 } };
  for (int i = 0; i < in->rank; i++)
    out.dims[i < axis ? 0 : 1] *= in->dims[i];
  return set_reshaped (node, &out, error);
}

/* Squeeze / Unsqueeze take axes as an attribute before opset 13 and as an
 * optional constant input from 13. */
static int
read_axes (SnNode *node, int64_t *axes, GError **error)
{
  if (node->opset >= 13) {
    if (!refuse_attr (node, "axes", 1, error))
      return -1;
    if (!has_input (node, 1))
      return 0;
    return sn_node_const_ints (node, 1, axes, SN_MAX_DIMS, error);
  }
  const int64_t *a;
  int n = sn_node_attr_ints (node, "axes", &a);
  if (n > SN_MAX_DIMS) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "%d axes; at most %d are supported", n,
        SN_MAX_DIMS);
    return -1;
  }
  copy_ints (axes, a, n);
  return n;
}

static gboolean
prepare_squeeze (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, node->opset >= 13 ? 2 : 1, 1, 1, error)
      || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  int64_t axes[SN_MAX_DIMS];
  int n = read_axes (node, axes, error);
  if (n < 0)
    return FALSE;
  gboolean drop[SN_MAX_DIMS] = { FALSE };
  for (int i = 0; i < n; i++) {
    int64_t a = axes[i];
    if (!sn_axis_normalize (&a, in->rank)) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis %" G_GINT64_FORMAT
          " is out of range for rank %d", axes[i], in->rank);
      return FALSE;
    }
    if (in->dims[a] != 1) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "axis %" G_GINT64_FORMAT " has dim %"
          G_GINT64_FORMAT ", not 1, and cannot be squeezed", axes[i], in->dims[a]);
      return FALSE;
    }
    drop[a] = TRUE;
  }
  SnShape out = { 0 };
  for (int i = 0; i < in->rank; i++)
    if (!(n ? drop[i] : in->dims[i] == 1))
      out.dims[out.rank++] = in->dims[i];
  return set_reshaped (node, &out, error);
}

static gboolean
prepare_unsqueeze (SnNode *node, GError **error)
{
  gboolean v13 = node->opset >= 13;
  if (!sn_node_check_arity (node, v13 ? 2 : 1, v13 ? 2 : 1, 1, 1, error)
      || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  int64_t axes[SN_MAX_DIMS];
  int n = read_axes (node, axes, error);
  if (n < 0)
    return FALSE;
  int rank = in->rank + n;
  if (rank > SN_MAX_DIMS) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "result rank %d is above %d", rank,
        SN_MAX_DIMS);
    return FALSE;
  }
  gboolean ins[SN_MAX_DIMS] = { FALSE };
  for (int i = 0; i < n; i++) {
    int64_t a = axes[i];
    if (!sn_axis_normalize (&a, rank) || ins[a]) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis %" G_GINT64_FORMAT
          " is out of range for result rank %d, or repeated", axes[i], rank);
      return FALSE;
    }
    ins[a] = TRUE;
  }
  SnShape out = { .rank = rank };
  for (int i = 0, k = 0; i < rank; i++)
    out.dims[i] = ins[i] ? 1 : in->dims[k++];
  return set_reshaped (node, &out, error);
}

/* ---- Strided copies: Transpose, Slice, Expand, Tile, Concat, Split ---------
 * All of them copy an N-D box of the input into an N-D box of the output;
 * one odometer routine does that with per-axis strides.  Tile views its
 * output with two axes per input axis, hence twice SN_MAX_DIMS. */

#define BOX_MAX_DIMS (2 * SN_MAX_DIMS)

typedef struct {
  int rank;
  int64_t dims[BOX_MAX_DIMS];        /* box size */
  int64_t src_stride[BOX_MAX_DIMS];  /* in elements; may be negative or 0 */
  int64_t dst_stride[BOX_MAX_DIMS];
  int64_t src_offset, dst_offset;
} Box;

/* Drops unit axes and merges axes that are contiguous in both source and
 * destination, so that e.g. a channel Concat copies whole planes. */
static void
box_simplify (Box *b)
{
  Box o = { .src_offset = b->src_offset, .dst_offset = b->dst_offset };
  for (int i = 0; i < b->rank; i++) {
    if (b->dims[i] == 1)
      continue;
    int r = o.rank;
    if (r > 0 && o.src_stride[r - 1] == b->src_stride[i] * b->dims[i]
        && o.dst_stride[r - 1] == b->dst_stride[i] * b->dims[i]) {
      o.dims[r - 1] *= b->dims[i];
      o.src_stride[r - 1] = b->src_stride[i];
      o.dst_stride[r - 1] = b->dst_stride[i];
    } else {
      o.dims[r] = b->dims[i];
      o.src_stride[r] = b->src_stride[i];
      o.dst_stride[r] = b->dst_stride[i];
      o.rank++;
    }
  }
  *b = o;
}

static void
box_copy (const Box *b, const void *src, void *dst, size_t es)
{
  int64_t total = 1;
  for (int i = 0; i < b->rank; i++)
    total *= b->dims[i];
  if (total == 0)
    return;
  const guint8 *s = src;
  guint8 *d = dst;
  if (b->rank == 0) {
    memcpy (d + b->dst_offset * es, s + b->src_offset * es, es);
    return;
  }
  int inner = b->rank - 1;
  int64_t n = b->dims[inner], ss = b->src_stride[inner], ds = b->dst_stride[inner];
  int64_t idx[BOX_MAX_DIMS] = { 0 };
  int64_t so = b->src_offset, dof = b->dst_offset;
  for (int64_t done = 0; done < total; done += n) {
    if (ss == 1 && ds == 1) {
      memcpy (d + dof * es, s + so * es, n * es);
    } else {
      for (int64_t i = 0; i < n; i++)
        memcpy (d + (dof + i * ds) * es, s + (so + i * ss) * es, es);
    }
    for (int i = inner - 1; i >= 0; i--) {
      idx[i]++;
      so += b->src_stride[i];
      dof += b->dst_stride[i];
      if (idx[i] < b->dims[i])
        break;
      so -= b->src_stride[i] * b->dims[i];
      dof -= b->dst_stride[i] * b->dims[i];
      idx[i] = 0;
    }
  }
}

/* Params holding a list of boxes: each copies input[in_index] to output[out_index]. */
typedef struct {
  int in_index, out_index;
  Box box;
} BoxCopy;

typedef struct {
  int n;
  BoxCopy *copies;
} BoxParams;

static void
box_params_free (void *p)
{
  BoxParams *bp = p;
  g_free (bp->copies);
  g_free (bp);
}

static void
run_boxes (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const BoxParams *p = node->params;
  for (int i = 0; i < p->n; i++) {
    const BoxCopy *c = &p->copies[i];
    if (out[c->out_index])
      box_copy (&c->box, in[c->in_index]->data, out[c->out_index]->data,
          sn_dtype_size (in[c->in_index]->dtype));
  }
}

static BoxParams *
box_params_new (SnNode *node, int n)
{
  BoxParams *p = g_new0 (BoxParams, 1);
  p->n = n;
  p->copies = g_new0 (BoxCopy, n);
  node->params = p;
  return p;
}

static void
box_params_finish (BoxParams *p)
{
  for (int i = 0; i < p->n; i++)
    box_simplify (&p->copies[i].box);
}

static gboolean
prepare_transpose (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error) || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  const int64_t *perm;
  int n = sn_node_attr_ints (node, "perm", &perm);
  int64_t p[SN_MAX_DIMS];
  gboolean seen[SN_MAX_DIMS] = { FALSE };
  if (n && n != in->rank) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "perm has %d entries for rank %d", n, in->rank);
    return FALSE;
  }
  for (int i = 0; i < in->rank; i++) {
    p[i] = n ? perm[i] : in->rank - 1 - i;
    if (p[i] < 0 || p[i] >= in->rank || seen[p[i]]) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "perm[%d] = %" G_GINT64_FORMAT
          " is out of range for rank %d or repeated", i, p[i], in->rank);
      return FALSE;
    }
    seen[p[i]] = TRUE;
  }
  int64_t ist[SN_MAX_DIMS], ost[SN_MAX_DIMS];
  SnShape out = { .rank = in->rank };
  for (int i = 0; i < in->rank; i++)
    out.dims[i] = in->dims[p[i]];
  contiguous_strides (in, ist);
  contiguous_strides (&out, ost);
  BoxParams *bp = box_params_new (node, 1);
  Box *b = &bp->copies[0].box;
  b->rank = out.rank;
  for (int i = 0; i < out.rank; i++) {
    b->dims[i] = out.dims[i];
    b->src_stride[i] = ist[p[i]];
    b->dst_stride[i] = ost[i];
  }
  box_params_finish (bp);
  sn_node_set_output (node, 0, node->inputs[0]->dtype, &out);
  return TRUE;
}

/* The ONNX Slice rules: negative starts/ends count from the end, then both
 * are clamped to [0, dim] (positive step) or [-1, dim - 1] (negative step),
 * which is what makes INT64_MAX / INT64_MIN work as "to the end".  Written
 * so that no step, however large, overflows. */
static void
slice_axis (int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *first, int64_t *count)
{
  if (start < 0)
    start += dim;
  if (end < 0)
    end += dim;
  if (step > 0) {
    start = CLAMP (start, 0, dim);
    end = CLAMP (end, 0, dim);
    *count = end > start ? (end - start - 1) / step + 1 : 0;
  } else if (dim == 0) {
    *count = 0;
  } else {
    start = CLAMP (start, 0, dim - 1);
    end = CLAMP (end, -1, dim - 1);
    guint64 mag = (guint64) (-(step + 1)) + 1;
    *count = start > end ? (int64_t) ((guint64) (start - end - 1) / mag) + 1 : 0;
  }
  *first = *count ? start : 0;
}

static gboolean
prepare_slice (SnNode *node, GError **error)
{
  gboolean v10 = node->opset >= 10;
  if (!sn_node_check_arity (node, v10 ? 3 : 1, v10 ? 5 : 1, 1, 1, error)
      || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  int64_t starts[SN_MAX_DIMS], ends[SN_MAX_DIMS], axes[SN_MAX_DIMS], steps[SN_MAX_DIMS];
  int n, ne, na = 0, ns = 0;
  if (!v10) {
    const int64_t *s, *e, *a;
    n = sn_node_attr_ints (node, "starts", &s);
    ne = sn_node_attr_ints (node, "ends", &e);
    na = sn_node_attr_ints (node, "axes", &a);
    if (MAX (n, MAX (ne, na)) > SN_MAX_DIMS) {
      sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "more than %d starts, ends or axes",
          SN_MAX_DIMS);
      return FALSE;
    }
    copy_ints (starts, s, n);
    copy_ints (ends, e, ne);
    copy_ints (axes, a, na);
  } else {
    if (!refuse_attr (node, "starts", 1, error) || !refuse_attr (node, "ends", 2, error)
        || !refuse_attr (node, "axes", 3, error))
      return FALSE;
    if ((n = sn_node_const_ints (node, 1, starts, SN_MAX_DIMS, error)) < 0
        || (ne = sn_node_const_ints (node, 2, ends, SN_MAX_DIMS, error)) < 0
        || (has_input (node, 3) && (na = sn_node_const_ints (node, 3, axes, SN_MAX_DIMS, error)) < 0)
        || (has_input (node, 4) && (ns = sn_node_const_ints (node, 4, steps, SN_MAX_DIMS, error)) < 0))
      return FALSE;
  }
  gboolean axes_given = v10 ? has_input (node, 3) : sn_node_attr (node, "axes") != NULL;
  gboolean steps_given = v10 && has_input (node, 4);
  if (ne != n || (axes_given && na != n) || (steps_given && ns != n)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "starts, ends, axes and steps have %d, "
        "%d, %d and %d entries", n, ne, na, ns);
    return FALSE;
  }
  int64_t first[SN_MAX_DIMS] = { 0 }, step_of[SN_MAX_DIMS];
  SnShape out = *in;
  gboolean used[SN_MAX_DIMS] = { FALSE };
  for (int i = 0; i < in->rank; i++)
    step_of[i] = 1;
  for (int i = 0; i < n; i++) {
    int64_t ax = axes_given ? axes[i] : i;
    int64_t st = steps_given ? steps[i] : 1;
    if (!sn_axis_normalize (&ax, in->rank) || used[ax]) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis %" G_GINT64_FORMAT
           " is out of range for rank %d or repeated", axes_given ? axes[i] : i, in->rank);
      return FALSE;
    }
    if (st == 0) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "step for axis %" G_GINT64_FORMAT
          " is 0", ax);
      return FALSE;
    }
    used[ax] = TRUE;
    slice_axis (in->dims[ax], starts[i], ends[i], st, &first[ax], &out.dims[ax]);
    /* The step only matters when two or more elements are taken, and then
     * |step| < dim, so the stride product cannot overflow. */
    step_of[ax] = out.dims[ax] > 1 ? st : 1;
  }
  int64_t ist[SN_MAX_DIMS], ost[SN_MAX_DIMS];
  contiguous_strides (in, ist);
  contiguous_strides (&out, ost);
  BoxParams *bp = box_params_new (node, 1);
  Box *b = &bp->copies[0].box;
  b->rank = in->rank;
  for (int i = 0; i < in->rank; i++) {
    b->dims[i] = out.dims[i];
    b->src_stride[i] = ist[i] * step_of[i];
    b->dst_stride[i] = ost[i];
    b->src_offset += first[i] * ist[i];
  }
  box_params_finish (bp);
  sn_node_set_output (node, 0, node->inputs[0]->dtype, &out);
  return TRUE;
}

static gboolean
prepare_concat (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 4096, 1, 1, error))
    return FALSE;
  const SnValue *first = node->inputs[0];
  if (!require_sized (node, 0, error))
    return FALSE;
  int64_t axis = sn_node_attr_int (node, "axis", node->opset < 4 ? 1 : G_MAXINT64);
  if (axis == G_MAXINT64) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "attribute 'axis' is missing");
    return FALSE;
  }
  int64_t a = axis;
  if (!sn_axis_normalize (&a, first->shape.rank)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis %" G_GINT64_FORMAT
        " is out of range for rank %d", axis, first->shape.rank);
    return FALSE;
  }
  axis = a;
  SnShape out = first->shape;
  out.dims[axis] = 0;
  for (int i = 0; i < node->n_inputs; i++) {
    const SnValue *v = node->inputs[i];
    if (!v) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "input %d is empty", i);
      return FALSE;
    }
    if (v->dtype != first->dtype) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "input %d '%s' is %s, input 0 '%s' is %s",
          i, v->name, sn_dtype_name (v->dtype), first->name, sn_dtype_name (first->dtype));
      return FALSE;
    }
    int bad = v->shape.rank == out.rank ? -1 : out.rank;
    for (int d = 0; bad < 0 && d < out.rank; d++)
      if (d != axis && v->shape.dims[d] != first->shape.dims[d])
        bad = d;
    if (bad >= 0) {
      char s1[192], s2[192];
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "input %d '%s' (%s) does not match input 0 '%s' "
          "(%s) outside axis %" G_GINT64_FORMAT, i, v->name, sn_shape_format (&v->shape, s1, sizeof s1),
          first->name, sn_shape_format (&first->shape, s2, sizeof s2), axis);
      return FALSE;
    }
    out.dims[axis] += v->shape.dims[axis];
  }
  if (!set_output_checked (node, 0, first->dtype, &out, error))
    return FALSE;
  int64_t ost[SN_MAX_DIMS];
  contiguous_strides (&out, ost);
  BoxParams *bp = box_params_new (node, node->n_inputs);
  int64_t at = 0;
  for (int i = 0; i < node->n_inputs; i++) {
    const SnShape *s = &node->inputs[i]->shape;
    BoxCopy *c = &bp->copies[i];
    c->in_index = i;
    c->box.rank = s->rank;
    contiguous_strides (s, c->box.src_stride);
    for (int d = 0; d < s->rank; d++) {
      c->box.dims[d] = s->dims[d];
      c->box.dst_stride[d] = ost[d];
    }
    c->box.dst_offset = at * ost[axis];
    at += s->dims[axis];
  }
  box_params_finish (bp);
  return TRUE;
}

#define SPLIT_MAX_OUTPUTS 1024

/* The split sizes: attribute 'split' before opset 13 (opset 1 also took an
 * input), input 1 from 13, and opset 18's 'num_outputs' (last part smaller
 * when the dim does not divide).  With none of them the parts are equal. */
static int
split_sizes (SnNode *node, int64_t dim, int64_t *sizes, GError **error)
{
  int nout = node->n_outputs, n = 0;
  gboolean input_form = node->opset >= 13 || (node->opset < 2 && has_input (node, 1));
  if (input_form) {
    if (node->opset >= 13 && !refuse_attr (node, "split", 1, error))
      return -1;
    if (has_input (node, 1) && (n = sn_node_const_ints (node, 1, sizes, SPLIT_MAX_OUTPUTS, error)) < 0)
      return -1;
  } else {
    const int64_t *s;
    n = sn_node_attr_ints (node, "split", &s);
    copy_ints (sizes, s, MIN (n, SPLIT_MAX_OUTPUTS));
  }
  const SnAttr *num = sn_node_attr (node, "num_outputs");
  if (num && (node->opset < 18 || num->type != SN_ATTR_INT || n > 0 || num->i != nout)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "attribute 'num_outputs' needs opset 18, "
        "no split sizes, and must equal the %d outputs", nout);
    return -1;
  }
  if (n > 0)
    return n;
  if (num) {
    int64_t part = (dim + nout - 1) / nout;
    if (nout > 1 && part * (nout - 1) >= dim) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "dim %" G_GINT64_FORMAT " cannot be split into "
          "%d non-empty parts of %" G_GINT64_FORMAT " with a smaller last one", dim, nout, part);
      return -1;
    }
    for (int i = 0; i < nout; i++)
      sizes[i] = i < nout - 1 ? part : dim - part * (nout - 1);
    return nout;
  }
  if (dim % nout) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "dim %" G_GINT64_FORMAT
        " does not split evenly into %d outputs", dim, nout);
    return -1;
  }
  for (int i = 0; i < nout; i++)
    sizes[i] = dim / nout;
  return nout;
}

static gboolean
prepare_split (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 2, 1, SPLIT_MAX_OUTPUTS, error) || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  int64_t axis = sn_node_attr_int (node, "axis", 0);
  int64_t a = axis;
  if (!sn_axis_normalize (&a, in->rank)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis %" G_GINT64_FORMAT
        " is out of range for rank %d", axis, in->rank);
    return FALSE;
  }
  axis = a;
  int nout = node->n_outputs;
  int64_t *sizes = g_new (int64_t, SPLIT_MAX_OUTPUTS);
  int n = split_sizes (node, in->dims[axis], sizes, error);
  if (n < 0) {
    g_free (sizes);
    return FALSE;
  }
  int64_t total = 0;
  gboolean ok = n == nout;
  for (int i = 0; ok && i < n; i++)
    ok = sizes[i] >= 0 && sizes[i] <= in->dims[axis] && (total += sizes[i]) <= in->dims[axis];
  if (!ok || total != in->dims[axis]) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "%d split sizes for %d outputs do not add up "
        "to dim %" G_GINT64_FORMAT " of axis %" G_GINT64_FORMAT, n, nout, in->dims[axis], axis);
    g_free (sizes);
    return FALSE;
  }
  int64_t ist[SN_MAX_DIMS];
  contiguous_strides (in, ist);
  BoxParams *bp = box_params_new (node, nout);
  int64_t at = 0;
  for (int i = 0; i < nout; i++) {
    SnShape s = *in;
    s.dims[axis] = sizes[i];
    BoxCopy *c = &bp->copies[i];
    c->out_index = i;
    c->box.rank = s.rank;
    contiguous_strides (&s, c->box.dst_stride);
    for (int d = 0; d < s.rank; d++) {
      c->box.dims[d] = s.dims[d];
      c->box.src_stride[d] = ist[d];
    }
    c->box.src_offset = at * ist[axis];
    at += sizes[i];
    sn_node_set_output (node, i, node->inputs[0]->dtype, &s);
  }
  box_params_finish (bp);
  g_free (sizes);
  return TRUE;
}

/* Expand: one box over the output whose source stride is 0 where the input
 * is broadcast. */
static gboolean
prepare_expand (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 2, 2, 1, 1, error) || !require_sized (node, 0, error))
    return FALSE;
  int64_t dims[SN_MAX_DIMS];
  int n = sn_node_const_ints (node, 1, dims, SN_MAX_DIMS, error);
  if (n < 0)
    return FALSE;
  for (int i = 0; i < n; i++)
    if (dims[i] < 0) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "shape[%d] = %" G_GINT64_FORMAT
          " is negative", i, dims[i]);
      return FALSE;
    }
  SnShape target = sn_shape_make (n, dims), out;
  const SnShape *in = &node->inputs[0]->shape;
  if (!sn_shape_broadcast (in, &target, &out)) {
    char a[192], b[192];
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "input %s does not broadcast to shape %s",
        sn_shape_format (in, a, sizeof a), sn_shape_format (&target, b, sizeof b));
    return FALSE;
  }
  if (!set_output_checked (node, 0, node->inputs[0]->dtype, &out, error))
    return FALSE;
  int64_t ist[SN_MAX_DIMS], ost[SN_MAX_DIMS];
  contiguous_strides (in, ist);
  contiguous_strides (&out, ost);
  BoxParams *bp = box_params_new (node, 1);
  Box *b = &bp->copies[0].box;
  b->rank = out.rank;
  for (int i = 0; i < out.rank; i++) {
    int j = i - (out.rank - in->rank);
    b->dims[i] = out.dims[i];
    b->src_stride[i] = j >= 0 && in->dims[j] != 1 ? ist[j] : 0;
    b->dst_stride[i] = ost[i];
  }
  box_params_finish (bp);
  return TRUE;
}

/* Tile: the output viewed as [r0, d0, r1, d1, ...] is a broadcast of the
 * input over the r axes, so one box of rank 2n does it. */
static gboolean
prepare_tile (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 2, node->opset < 6 ? 3 : 2, 1, 1, error)
      || !require_sized (node, 0, error))
    return FALSE;
  if (node->opset < 6) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "Tile before opset 6 (tiles/axis inputs)");
    return FALSE;
  }
  const SnShape *in = &node->inputs[0]->shape;
  int64_t reps[SN_MAX_DIMS];
  int n = sn_node_const_ints (node, 1, reps, SN_MAX_DIMS, error);
  if (n < 0)
    return FALSE;
  if (n != in->rank) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "repeats has %d entries for rank %d", n, in->rank);
    return FALSE;
  }
  SnShape out = *in;
  for (int i = 0; i < n; i++) {
    if (reps[i] < 0 || __builtin_mul_overflow (in->dims[i], reps[i], &out.dims[i])) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "repeats[%d] = %" G_GINT64_FORMAT
          " is invalid for dim %" G_GINT64_FORMAT, i, reps[i], in->dims[i]);
      return FALSE;
    }
  }
  if (!set_output_checked (node, 0, node->inputs[0]->dtype, &out, error))
    return FALSE;
  int64_t ist[SN_MAX_DIMS], ost[SN_MAX_DIMS];
  contiguous_strides (in, ist);
  contiguous_strides (&out, ost);
  BoxParams *bp = box_params_new (node, 1);
  Box *b = &bp->copies[0].box;
  b->rank = 2 * n;
  for (int i = 0; i < n; i++) {
    b->dims[2 * i] = reps[i];
    b->src_stride[2 * i] = 0;
    b->dst_stride[2 * i] = ost[i] * in->dims[i];
    b->dims[2 * i + 1] = in->dims[i];
    b->src_stride[2 * i + 1] = ist[i];
    b->dst_stride[2 * i + 1] = ost[i];
  }
  box_params_finish (bp);
  return TRUE;
}

/* DepthToSpace / SpaceToDepth are a reshape + transpose + reshape: one box. */
static gboolean
prepare_space_depth (SnNode *node, gboolean to_space, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error) || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  int64_t bs = sn_node_attr_int (node, "blocksize", 0);
  gboolean crd = FALSE;
  if (to_space && node->opset >= 11) {
    const char *mode = sn_node_attr_string (node, "mode", "DCR");
    crd = strcmp (mode, "CRD") == 0;
    if (!crd && strcmp (mode, "DCR") != 0) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "mode '%s' is neither DCR nor CRD", mode);
      return FALSE;
    }
  }
  if (bs < 1) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "blocksize %" G_GINT64_FORMAT
        " is missing or not positive", bs);
    return FALSE;
  }
  char s[192];
  if (in->rank != 4) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "input is %s, not 4-D",
        sn_shape_format (in, s, sizeof s));
    return FALSE;
  }
  int64_t N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3];
  /* bs <= C (or <= H and W) keeps every product below the input's size. */
  if (to_space ? (bs > C || C % (bs * bs)) : (bs > H || bs > W || H % bs || W % bs)) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "input %s does not fit blocksize %" G_GINT64_FORMAT,
        sn_shape_format (in, s, sizeof s), bs);
    return FALSE;
  }
  SnShape out = to_space ? sn_shape_make (4, (int64_t[]) { N, C / (bs * bs), H * bs, W * bs })
      : sn_shape_make (4, (int64_t[]) { N, C * bs * bs, H / bs, W / bs });
  BoxParams *bp = box_params_new (node, 1);
  Box *b = &bp->copies[0].box;
  b->rank = 6;
  if (to_space) {
    /* Output axes [N, c, h, b1, w, b2]; input channel = b1*bs*c' + b2*c' + c
     * (DCR) or c*bs*bs + b1*bs + b2 (CRD). */
    int64_t Co = C / (bs * bs);
    int64_t d[6] = { N, Co, H, bs, W, bs };
    int64_t src[6] = { C * H * W, crd ? bs * bs * H * W : H * W, W, crd ? bs * H * W : bs * Co * H * W,
      1, crd ? H * W : Co * H * W };
    int64_t Ho = H * bs, Wo = W * bs;
    int64_t dst[6] = { Co * Ho * Wo, Ho * Wo, bs * Wo, Wo, bs, 1 };
    memcpy (b->dims, d, sizeof d);
    memcpy (b->src_stride, src, sizeof src);
    memcpy (b->dst_stride, dst, sizeof dst);
  } else {
    /* Input axes [N, c, h, b1, w, b2] -> output channel b1*bs*C + b2*C + c. */
    int64_t Ho = H / bs, Wo = W / bs;
    int64_t d[6] = { N, C, Ho, bs, Wo, bs };
    int64_t src[6] = { C * H * W, H * W, bs * W, W, bs, 1 };
    int64_t dst[6] = { C * bs * bs * Ho * Wo, Ho * Wo, Wo, bs * C * Ho * Wo, 1, C * Ho * Wo };
    memcpy (b->dims, d, sizeof d);
    memcpy (b->src_stride, src, sizeof src);
    memcpy (b->dst_stride, dst, sizeof dst);
  }
  box_params_finish (bp);
  sn_node_set_output (node, 0, node->inputs[0]->dtype, &out);
  return TRUE;
}

static gboolean prepare_d2s (SnNode *n, GError **e) { return prepare_space_depth (n, TRUE, e); }
static gboolean prepare_s2d (SnNode *n, GError **e) { return prepare_space_depth (n, FALSE, e); }

/* ---- Element conversion (Cast, Pad's value, comparisons) -------------------- */

static gboolean
is_float_dtype (SnDType d)
{
  return d == SN_DTYPE_FLOAT32 || d == SN_DTYPE_DOUBLE || d == SN_DTYPE_FLOAT16;
}

static gboolean
is_numeric_dtype (SnDType d)
{
  return d != SN_DTYPE_STRING && sn_dtype_size (d) != 0;
}

static double
load_float (const void *p, SnDType d, int64_t i)
{
  switch (d) {
    case SN_DTYPE_FLOAT32: return ((const float *) p)[i];
    case SN_DTYPE_DOUBLE: return ((const double *) p)[i];
    default: return sn_half_to_float (((const guint16 *) p)[i]);
  }
}

/* Integers (and bool) as int64; uint64 comes back as its bit pattern. */
static int64_t
load_int (const void *p, SnDType d, int64_t i)
{
  switch (d) {
    case SN_DTYPE_INT8: return ((const int8_t *) p)[i];
    case SN_DTYPE_UINT8: return ((const guint8 *) p)[i];
    case SN_DTYPE_BOOL: return ((const guint8 *) p)[i] != 0;
    case SN_DTYPE_INT16: return ((const int16_t *) p)[i];
    case SN_DTYPE_UINT16: return ((const guint16 *) p)[i];
    case SN_DTYPE_INT32: return ((const int32_t *) p)[i];
    case SN_DTYPE_UINT32: return ((const guint32 *) p)[i];
    case SN_DTYPE_INT64: return ((const int64_t *) p)[i];
    default: return (int64_t) ((const guint64 *) p)[i];
  }
}

/* Integer to integer keeps the low bits, like C's and NumPy's casts. */
static void
store_int (void *p, SnDType d, int64_t i, int64_t v)
{
  guint64 u = (guint64) v;
  switch (d) {
    case SN_DTYPE_INT8: ((int8_t *) p)[i] = (int8_t) (guint8) u; break;
    case SN_DTYPE_UINT8: ((guint8 *) p)[i] = (guint8) u; break;
    case SN_DTYPE_BOOL: ((guint8 *) p)[i] = v != 0; break;
    case SN_DTYPE_INT16: ((int16_t *) p)[i] = (int16_t) (guint16) u; break;
    case SN_DTYPE_UINT16: ((guint16 *) p)[i] = (guint16) u; break;
    case SN_DTYPE_INT32: ((int32_t *) p)[i] = (int32_t) (guint32) u; break;
    case SN_DTYPE_UINT32: ((guint32 *) p)[i] = (guint32) u; break;
    case SN_DTYPE_INT64: ((int64_t *) p)[i] = v; break;
    case SN_DTYPE_UINT64: ((guint64 *) p)[i] = u; break;
    default: break;
  }
}

/* IEEE double to half, rounding once to nearest even (going through float
 * would round twice and can be off by one unit in the last place). */
static guint16
double_to_half (double v)
{
  guint64 x;
  memcpy (&x, &v, 8);
  guint16 sign = (guint16) ((x >> 48) & 0x8000);
  int exp = (int) ((x >> 52) & 0x7ff);
  guint64 mant = x & ((G_GUINT64_CONSTANT (1) << 52) - 1);
  if (exp == 0x7ff)
    return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp == 0)                 /* zero or a double subnormal: far below half's range */
    return sign;
  int e = exp - 1023;
  if (e > 15)
    return sign | 0x7c00;
  guint64 full = mant | (G_GUINT64_CONSTANT (1) << 52);
  /* Normal halves keep 11 significant bits; subnormals fewer, down to 0. */
  int shift = e >= -14 ? 42 : 42 + (-14 - e);
  if (shift > 53)
    return sign;
  guint64 kept = full >> shift;
  guint64 rem = full & ((G_GUINT64_CONSTANT (1) << shift) - 1);
  guint64 halfway = G_GUINT64_CONSTANT (1) << (shift - 1);
  guint32 h = e >= -14 ? ((guint32) (e + 15) << 10) | (guint32) (kept & 0x3ff) : (guint32) kept;
  /* A carry out of the mantissa correctly bumps the exponent (up to inf). */
  if (rem > halfway || (rem == halfway && (kept & 1)))
    h++;
  return sign | (guint16) h;
}

static void
store_float (void *p, SnDType d, int64_t i, double v)
{
  switch (d) {
    case SN_DTYPE_FLOAT32: ((float *) p)[i] = (float) v; break;
    case SN_DTYPE_DOUBLE: ((double *) p)[i] = v; break;
    default: ((guint16 *) p)[i] = double_to_half (v); break;
  }
}

/* Float to integer truncates toward zero.  Out-of-range values are
 * undefined in C and in ONNX; we saturate (NaN gives 0). */
static int64_t
float_to_int64 (double v, SnDType to)
{
  if (isnan (v))
    return 0;
  double lo, hi;
  switch (to) {
    case SN_DTYPE_INT8: lo = G_MININT8; hi = G_MAXINT8; break;
    case SN_DTYPE_UINT8: lo = 0; hi = G_MAXUINT8; break;
    case SN_DTYPE_INT16: lo = G_MININT16; hi = G_MAXINT16; break;
    case SN_DTYPE_UINT16: lo = 0; hi = G_MAXUINT16; break;
    case SN_DTYPE_INT32: lo = G_MININT32; hi = G_MAXINT32; break;
    case SN_DTYPE_UINT32: lo = 0; hi = G_MAXUINT32; break;
    case SN_DTYPE_UINT64:
      if (v <= 0)
        return 0;
      return v >= 18446744073709551616.0 ? (int64_t) G_MAXUINT64 : (int64_t) (guint64) v;
    default:
      if (v <= -9223372036854775808.0)
        return G_MININT64;
      return v >= 9223372036854775808.0 ? G_MAXINT64 : (int64_t) v;
  }
  return (int64_t) CLAMP (trunc (v), lo, hi);
}

/* Converts element i of (src, from) into element i of (dst, to). */
static void
convert_element (const void *src, SnDType from, void *dst, SnDType to, int64_t i)
{
  if (is_float_dtype (from)) {
    double v = load_float (src, from, i);
    if (is_float_dtype (to))
      store_float (dst, to, i, v);
    else if (to == SN_DTYPE_BOOL)
      ((guint8 *) dst)[i] = v != 0;   /* NaN is true, as in NumPy */
    else
      store_int (dst, to, i, float_to_int64 (v, to));
    return;
  }
  int64_t v = load_int (src, from, i);
  if (!is_float_dtype (to)) {
    store_int (dst, to, i, v);
    return;
  }
  /* Convert straight from the integer, not through double, which would
   * round twice for large int64 values. */
  float f = from == SN_DTYPE_UINT64 ? (float) (guint64) v : (float) v;
  switch (to) {
    case SN_DTYPE_FLOAT32: ((float *) dst)[i] = f; break;
    case SN_DTYPE_DOUBLE:
      ((double *) dst)[i] = from == SN_DTYPE_UINT64 ? (double) (guint64) v : (double) v;
      break;
    default: ((guint16 *) dst)[i] = sn_float_to_half (f); break;  /* |v| > 2^24 is inf in half anyway */
  }
}

/* ---- Pad ----------------------------------------------------------------- */

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE } PadMode;

/* Per axis: negative pads crop first (lo elements from the front, kept
 * remain); the output then starts with `before` padded positions. */
typedef struct {
  PadMode mode;
  int64_t before, lo, kept;
} PadAxis;

typedef struct {
  int rank;
  PadAxis axis[SN_MAX_DIMS];
  int64_t in_stride[SN_MAX_DIMS];
  guint8 fill[8];
  gboolean fill_from_input;     /* opset 11+: constant_value is input 2 */
} PadParams;

static gboolean
pad_axis_init (SnNode *node, PadMode mode, int axis, int64_t dim, int64_t before, int64_t after,
    PadAxis *pa, GError **error)
{
  pa->lo = before < 0 ? -before : 0;
  pa->kept = dim - pa->lo - (after < 0 ? -after : 0);
  int64_t b = MAX (before, 0), a = MAX (after, 0);
  pa->before = b;
  /* NumPy reflects a single element onto itself. */
  if (mode == PAD_REFLECT && pa->kept == 1)
    mode = PAD_EDGE;
  pa->mode = mode;
  if (mode != PAD_CONSTANT && (a || b) && (pa->kept < 1 || (mode == PAD_REFLECT && (b >= pa->kept || a >= pa->kept)))) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "%s padding of %" G_GINT64_FORMAT " and %"
        G_GINT64_FORMAT " is not possible on axis %d, which has %" G_GINT64_FORMAT " elements",
        mode == PAD_REFLECT ? "reflect" : "edge", b, a, axis, pa->kept);
    return FALSE;
  }
  return TRUE;
}

/* The input index output index o reads on this axis, or -1 for the
 * constant.  prepare() made sure reflect stays within one mirror. */
static int64_t
pad_source (const PadAxis *pa, int64_t o)
{
  int64_t i = o - pa->before;
  if (i < 0 || i >= pa->kept) {
    if (pa->mode == PAD_CONSTANT)
      return -1;
    if (pa->mode == PAD_EDGE)
      i = i < 0 ? 0 : pa->kept - 1;
    else
      i = i < 0 ? -i : 2 * (pa->kept - 1) - i;    /* mirror without repeating the edge */
  }
  return pa->lo + i;
}

static gboolean
prepare_pad (SnNode *node, GError **error)
{
  int max_in = node->opset >= 18 ? 4 : node->opset >= 11 ? 3 : 1;
  if (!sn_node_check_arity (node, node->opset >= 11 ? 2 : 1, max_in, 1, 1, error)
      || !require_sized (node, 0, error))
    return FALSE;
  const SnValue *x = node->inputs[0];
  const SnShape *in = &x->shape;
  int r = in->rank;
  PadParams *p = g_new0 (PadParams, 1);
  node->params = p;
  const char *mode_s = sn_node_attr_string (node, "mode", "constant");
  PadMode mode;
  if (strcmp (mode_s, "constant") == 0)
    mode = PAD_CONSTANT;
  else if (strcmp (mode_s, "reflect") == 0)
    mode = PAD_REFLECT;
  else if (strcmp (mode_s, "edge") == 0)
    mode = PAD_EDGE;
  else {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "mode '%s' is not supported", mode_s);
    return FALSE;
  }
  int64_t raw[2 * SN_MAX_DIMS], pads[2 * SN_MAX_DIMS] = { 0 };
  int n;
  if (node->opset < 11) {
    const int64_t *a;
    n = sn_node_attr_ints (node, node->opset < 2 ? "paddings" : "pads", &a);
    if (n > 2 * SN_MAX_DIMS) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "pads has %d entries for rank %d", n, r);
      return FALSE;
    }
    copy_ints (raw, a, n);
    /* The float attribute, converted to the data's dtype. */
    float value = sn_node_attr_float (node, "value", 0);
    convert_element (&value, SN_DTYPE_FLOAT32, p->fill, x->dtype, 0);
  } else {
    if (!refuse_attr (node, "pads", 1, error) || !refuse_attr (node, "value", 2, error))
      return FALSE;
    if ((n = sn_node_const_ints (node, 1, raw, 2 * SN_MAX_DIMS, error)) < 0)
      return FALSE;
    const SnValue *cv = has_input (node, 2) ? node->inputs[2] : NULL;
    if (cv && (cv->dtype != x->dtype || sn_shape_numel (&cv->shape) != 1)) {
      char s[192];
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "constant_value '%s' is %s %s, not a "
          "one-element %s", cv->name, sn_dtype_name (cv->dtype), sn_shape_format (&cv->shape, s, sizeof s),
          sn_dtype_name (x->dtype));
      return FALSE;
    }
    p->fill_from_input = cv != NULL;
  }
  /* Opset 18: pads may cover only the axes listed in input 3. */
  int64_t axes[SN_MAX_DIMS];
  int na = r;
  if (has_input (node, 3)) {
    if ((na = sn_node_const_ints (node, 3, axes, SN_MAX_DIMS, error)) < 0)
      return FALSE;
  } else {
    for (int i = 0; i < r; i++)
      axes[i] = i;
  }
  if (n != 2 * na) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "pads has %d entries for %d axes", n, na);
    return FALSE;
  }
  gboolean seen[SN_MAX_DIMS] = { FALSE };
  for (int i = 0; i < na; i++) {
    int64_t a = axes[i];
    if (!sn_axis_normalize (&a, r) || seen[a]) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis %" G_GINT64_FORMAT
          " is out of range for rank %d or repeated", axes[i], r);
      return FALSE;
    }
    seen[a] = TRUE;
    pads[a] = raw[i];
    pads[a + r] = raw[i + na];
  }
  SnShape out = *in;
  for (int i = 0; i < r; i++) {
    if (__builtin_add_overflow (in->dims[i], pads[i], &out.dims[i])
        || __builtin_add_overflow (out.dims[i], pads[i + r], &out.dims[i]) || out.dims[i] < 0) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "pads %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT
          " do not fit axis %d of dim %" G_GINT64_FORMAT, pads[i], pads[i + r], i, in->dims[i]);
      return FALSE;
    }
  }
  if (!set_output_checked (node, 0, x->dtype, &out, error))
    return FALSE;
  p->rank = r;
  contiguous_strides (in, p->in_stride);
  for (int i = 0; i < r; i++)
    if (!pad_axis_init (node, mode, i, in->dims[i], pads[i], pads[i + r], &p->axis[i], error))
      return FALSE;
  return TRUE;
}

static void
run_pad (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const PadParams *p = node->params;
  const SnShape *os = &out[0]->shape;
  size_t es = sn_dtype_size (in[0]->dtype);
  const guint8 *fill = p->fill_from_input ? in[2]->data : p->fill;
  int64_t total = sn_tensor_numel (out[0]);
  if (total == 0)
    return;
  const guint8 *src = in[0]->data;
  guint8 *dst = out[0]->data;
  if (p->rank == 0) {
    memcpy (dst, src, es);
    return;
  }
  int r = p->rank, last = r - 1;
  int64_t idx[SN_MAX_DIMS] = { 0 }, row = os->dims[last];
  for (int64_t o = 0; o < total; o += row) {
    /* Offset of the row from the outer axes, or -1 when it lies in padding. */
    int64_t base = 0;
    for (int d = 0; d < last && base >= 0; d++) {
      int64_t s = pad_source (&p->axis[d], idx[d]);
      base = s < 0 ? -1 : base + s * p->in_stride[d];
    }
    for (int64_t k = 0; k < row; k++) {
      int64_t s = base < 0 ? -1 : pad_source (&p->axis[last], k);
      memcpy (dst + (o + k) * es, s < 0 ? fill : src + (base + s) * es, es);
    }
    for (int d = last - 1; d >= 0; d--) {
      if (++idx[d] < os->dims[d])
        break;
      idx[d] = 0;
    }
  }
}

/* ---- Shape, Size, ConstantOfShape, EyeLike, Range ------------------------- */

typedef struct {
  int64_t start, end;
} ShapeParams;

static gboolean
prepare_shape (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error))
    return FALSE;
  int r = node->inputs[0]->shape.rank;
  int64_t start = sn_node_attr_int (node, "start", 0), end = sn_node_attr_int (node, "end", r);
  /* Negative values count from the end; then both clamp to [0, rank]. */
  if (start < 0)
    start = start < -r ? 0 : start + r;
  if (end < 0)
    end = end < -r ? 0 : end + r;
  ShapeParams *p = g_new0 (ShapeParams, 1);
  p->start = MIN (start, r);
  p->end = MIN (end, r);
  node->params = p;
  SnShape out = { .rank = 1, .dims = { MAX (0, p->end - p->start) } };
  sn_node_set_output (node, 0, SN_DTYPE_INT64, &out);
  return TRUE;
}

static void
run_shape (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const ShapeParams *p = node->params;
  int64_t *y = out[0]->data;
  for (int64_t i = p->start; i < p->end; i++)
    y[i - p->start] = in[0]->shape.dims[i];
}

static gboolean
prepare_size (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error))
    return FALSE;
  SnShape scalar = { 0 };
  sn_node_set_output (node, 0, SN_DTYPE_INT64, &scalar);
  return TRUE;
}

static void
run_size (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  *(int64_t *) out[0]->data = sn_tensor_numel (in[0]);
}

static gboolean
prepare_constant_of_shape (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error))
    return FALSE;
  int64_t dims[SN_MAX_DIMS];
  int n = sn_node_const_ints (node, 0, dims, SN_MAX_DIMS, error);
  if (n < 0)
    return FALSE;
  const SnAttr *v = sn_node_attr (node, "value");
  if (v && (v->type != SN_ATTR_TENSOR || !v->t)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "attribute 'value' is not a tensor");
    return FALSE;
  }
  SnDType dt = v ? v->t->dtype : SN_DTYPE_FLOAT32;
  if (v && !is_numeric_dtype (dt)) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "value of dtype %s", sn_dtype_name (dt));
    return FALSE;
  }
  if (v && sn_tensor_numel (v->t) != 1) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "value has %" G_GINT64_FORMAT
        " elements, not 1", sn_tensor_numel (v->t));
    return FALSE;
  }
  SnShape out = sn_shape_make (n, dims);
  return set_output_checked (node, 0, dt, &out, error);
}

static void
run_constant_of_shape (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const SnAttr *v = sn_node_attr (node, "value");
  size_t es = sn_dtype_size (out[0]->dtype);
  int64_t n = sn_tensor_numel (out[0]);
  guint8 *y = out[0]->data;
  if (!v) {
    memset (y, 0, n * es);
    return;
  }
  for (int64_t i = 0; i < n; i++)
    memcpy (y + i * es, v->t->data, es);
}

static gboolean
prepare_eye_like (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error))
    return FALSE;
  const SnValue *x = node->inputs[0];
  SnDType dt = (SnDType) sn_node_attr_int (node, "dtype", x->dtype);
  if (!is_numeric_dtype (dt)) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "output dtype %d (%s)", dt, sn_dtype_name (dt));
    return FALSE;
  }
  if (x->shape.rank != 2) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "input '%s' has rank %d, not 2", x->name, x->shape.rank);
    return FALSE;
  }
  sn_node_set_output (node, 0, dt, &x->shape);
  return TRUE;
}

static void
run_eye_like (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  int64_t k = sn_node_attr_int (node, "k", 0);
  int64_t rows = out[0]->shape.dims[0], cols = out[0]->shape.dims[1];
  memset (out[0]->data, 0, sn_tensor_nbytes (out[0]));
  guint8 u8_one = 1, one[8];
  size_t es = sn_dtype_size (out[0]->dtype);
  convert_element (&u8_one, SN_DTYPE_UINT8, one, out[0]->dtype, 0);
  /* Beyond these bounds the diagonal misses the matrix (and i + k could
   * overflow for an absurd k). */
  if (k >= cols || k <= -rows)
    return;
  for (int64_t i = 0; i < rows; i++) {
    int64_t j = i + k;
    if (j >= 0 && j < cols)
      memcpy ((guint8 *) out[0]->data + (i * cols + j) * es, one, es);
  }
}

typedef struct {
  double start, delta;          /* float types */
  int64_t istart, idelta;       /* integer types */
} RangeParams;

static gboolean
prepare_range (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 3, 3, 1, 1, error))
    return FALSE;
  SnDType dt = node->inputs[0]->dtype;
  if (dt != SN_DTYPE_FLOAT32 && dt != SN_DTYPE_DOUBLE && dt != SN_DTYPE_INT16 && dt != SN_DTYPE_INT32
      && dt != SN_DTYPE_INT64) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "dtype %s", sn_dtype_name (dt));
    return FALSE;
  }
  static const char *const names[] = { "start", "limit", "delta" };
  for (int i = 0; i < 3; i++) {
    const SnValue *v = node->inputs[i];
    if (v->dtype != dt || sn_shape_numel (&v->shape) != 1) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "%s '%s' is not a %s scalar", names[i],
          v->name, sn_dtype_name (dt));
      return FALSE;
    }
    /* The output length depends on the values. */
    if (!v->constant) {
      sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "%s '%s' must be a constant", names[i], v->name);
      return FALSE;
    }
  }
  RangeParams *p = g_new0 (RangeParams, 1);
  node->params = p;
  int64_t count;
  if (is_float_dtype (dt)) {
    double start = load_float (node->inputs[0]->constant->data, dt, 0);
    double limit = load_float (node->inputs[1]->constant->data, dt, 0);
    double delta = load_float (node->inputs[2]->constant->data, dt, 0);
    double c = ceil ((limit - start) / delta);
    if (delta == 0 || !isfinite (c) || c > (double) G_MAXINT32 * 4) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "range from %g to %g by %g has no valid length",
          start, limit, delta);
      return FALSE;
    }
    count = c > 0 ? (int64_t) c : 0;
    p->start = start;
    p->delta = delta;
  } else {
    int64_t start = load_int (node->inputs[0]->constant->data, dt, 0);
    int64_t limit = load_int (node->inputs[1]->constant->data, dt, 0);
    int64_t delta = load_int (node->inputs[2]->constant->data, dt, 0);
    int64_t diff;
    if (delta == 0 || __builtin_sub_overflow (limit, start, &diff)) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "range from %" G_GINT64_FORMAT " to %"
          G_GINT64_FORMAT " by %" G_GINT64_FORMAT " has no valid length", start, limit, delta);
      return FALSE;
    }
    /* ceil (diff / delta) without overflow; C division truncates. */
    if (delta > 0)
      count = diff > 0 ? (diff - 1) / delta + 1 : 0;
    else
      count = diff < 0 ? (diff + 1) / delta + 1 : 0;
    p->istart = start;
    p->idelta = delta;
  }
  SnShape out = { .rank = 1, .dims = { count } };
  sn_node_set_output (node, 0, dt, &out);
  return TRUE;
}

static void
run_range (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const RangeParams *p = node->params;
  int64_t n = sn_tensor_numel (out[0]);
  void *y = out[0]->data;
  for (int64_t i = 0; i < n; i++) {
    switch (out[0]->dtype) {
      /* float32 ranges are computed in float32, as the ONNX definition does. */
      case SN_DTYPE_FLOAT32: ((float *) y)[i] = (float) p->start + (float) i * (float) p->delta; break;
      case SN_DTYPE_DOUBLE: ((double *) y)[i] = p->start + (double) i * p->delta; break;
      default: store_int (y, out[0]->dtype, i, p->istart + i * p->idelta); break;
    }
  }
}

/* ---- Gather, GatherElements, GatherND -------------------------------------- */

typedef struct {
  int64_t outer, axis_len, inner, n_idx;
} GatherParams;

static gboolean
prepare_gather (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 2, 2, 1, 1, error) || !require_sized (node, 0, error)
      || !require_index_dtype (node, 1, error))
    return FALSE;
  const SnShape *d = &node->inputs[0]->shape, *ix = &node->inputs[1]->shape;
  int64_t axis = sn_node_attr_int (node, "axis", 0), a = axis;
  if (!sn_axis_normalize (&a, d->rank)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis %" G_GINT64_FORMAT
        " is out of range for rank %d", axis, d->rank);
    return FALSE;
  }
  if (d->rank + ix->rank - 1 > SN_MAX_DIMS) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "result rank %d is above %d",
        d->rank + ix->rank - 1, SN_MAX_DIMS);
    return FALSE;
  }
  GatherParams *p = g_new0 (GatherParams, 1);
  node->params = p;
  p->outer = p->inner = 1;
  SnShape out = { 0 };
  for (int i = 0; i < a; i++) {
    p->outer *= d->dims[i];
    out.dims[out.rank++] = d->dims[i];
  }
  for (int i = 0; i < ix->rank; i++)
    out.dims[out.rank++] = ix->dims[i];
  for (int i = a + 1; i < d->rank; i++) {
    p->inner *= d->dims[i];
    out.dims[out.rank++] = d->dims[i];
  }
  p->axis_len = d->dims[a];
  p->n_idx = sn_shape_numel (ix);
  if (p->axis_len == 0 && p->n_idx > 0) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "gathers from axis %" G_GINT64_FORMAT
        ", which is empty", axis);
    return FALSE;
  }
  return check_const_indices (node, 1, p->axis_len, error)
      && set_output_checked (node, 0, node->inputs[0]->dtype, &out, error);
}

static void
run_gather (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const GatherParams *p = node->params;
  size_t es = sn_dtype_size (in[0]->dtype);
  const guint8 *src = in[0]->data;
  guint8 *dst = out[0]->data;
  size_t row = p->inner * es;
  for (int64_t o = 0; o < p->outer; o++) {
    for (int64_t k = 0; k < p->n_idx; k++) {
      int64_t v = fix_index (index_at (in[1], k), p->axis_len);
      memcpy (dst + (o * p->n_idx + k) * row, src + (o * p->axis_len + v) * row, row);
    }
  }
}

typedef struct {
  int rank, axis;
  int64_t data_stride[SN_MAX_DIMS];
} GatherElementsParams;

static gboolean
prepare_gather_elements (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 2, 2, 1, 1, error) || !require_sized (node, 0, error)
      || !require_index_dtype (node, 1, error))
    return FALSE;
  const SnShape *d = &node->inputs[0]->shape, *ix = &node->inputs[1]->shape;
  int64_t axis = sn_node_attr_int (node, "axis", 0), a = axis;
  if (!sn_axis_normalize (&a, d->rank)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis %" G_GINT64_FORMAT
        " is out of range for rank %d", axis, d->rank);
    return FALSE;
  }
  /* Indices may be smaller than the data on every axis but the gathered
   * one; larger would read past it. */
  gboolean ok = ix->rank == d->rank;
  for (int i = 0; ok && i < d->rank; i++)
    ok = i == a ? (d->dims[i] > 0 || ix->dims[i] == 0) : ix->dims[i] <= d->dims[i];
  if (!ok) {
    char s1[192], s2[192];
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "indices %s do not fit data %s on axis %"
        G_GINT64_FORMAT, sn_shape_format (ix, s1, sizeof s1), sn_shape_format (d, s2, sizeof s2), axis);
    return FALSE;
  }
  GatherElementsParams *p = g_new0 (GatherElementsParams, 1);
  node->params = p;
  p->rank = d->rank;
  p->axis = (int) a;
  contiguous_strides (d, p->data_stride);
  if (!check_const_indices (node, 1, d->dims[a], error))
    return FALSE;
  sn_node_set_output (node, 0, node->inputs[0]->dtype, ix);
  return TRUE;
}

static void
run_gather_elements (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const GatherElementsParams *p = node->params;
  size_t es = sn_dtype_size (in[0]->dtype);
  int64_t n = sn_tensor_numel (out[0]), idx[SN_MAX_DIMS] = { 0 };
  int64_t len = in[0]->shape.dims[p->axis];
  const guint8 *src = in[0]->data;
  guint8 *dst = out[0]->data;
  for (int64_t o = 0; o < n; o++) {
    int64_t off = 0;
    for (int d = 0; d < p->rank; d++)
      off += (d == p->axis ? fix_index (index_at (in[1], o), len) : idx[d]) * p->data_stride[d];
    memcpy (dst + o * es, src + off * es, es);
    for (int d = p->rank - 1; d >= 0; d--) {
      if (++idx[d] < out[0]->shape.dims[d])
        break;
      idx[d] = 0;
    }
  }
}

typedef struct {
  int64_t batches, tuples, m, slice;       /* slice: elements copied per index tuple */
  int64_t batch_stride;                   /* elements of data per batch */
  int64_t dims[SN_MAX_DIMS], stride[SN_MAX_DIMS];  /* of the m indexed data axes */
} GatherNDParams;

static gboolean
prepare_gather_nd (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 2, 2, 1, 1, error) || !require_sized (node, 0, error))
    return FALSE;
  if (node->inputs[1]->dtype != SN_DTYPE_INT64) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "indices must be int64");
    return FALSE;
  }
  const SnShape *d = &node->inputs[0]->shape, *ix = &node->inputs[1]->shape;
  int64_t b = sn_node_attr_int (node, "batch_dims", 0);
  int r = d->rank, q = ix->rank;
  int64_t m = q > 0 ? ix->dims[q - 1] : 0;
  char s1[192], s2[192];
  gboolean ok = r >= 1 && q >= 1 && b >= 0 && b < MIN (r, q) && m >= 1 && m <= r - b;
  for (int i = 0; ok && i < b; i++)
    ok = d->dims[i] == ix->dims[i];
  if (!ok || q - 1 + (r - b - m) > SN_MAX_DIMS) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "indices %s with batch_dims %" G_GINT64_FORMAT
        " do not fit data %s", sn_shape_format (ix, s1, sizeof s1), b, sn_shape_format (d, s2, sizeof s2));
    return FALSE;
  }
  GatherNDParams *p = g_new0 (GatherNDParams, 1);
  node->params = p;
  SnShape out = { 0 };
  p->batches = p->tuples = p->slice = p->batch_stride = 1;
  for (int i = 0; i < q - 1; i++) {
    out.dims[out.rank++] = ix->dims[i];
    if (i < b)
      p->batches *= ix->dims[i];
    else
      p->tuples *= ix->dims[i];
  }
  for (int i = b + m; i < r; i++) {
    out.dims[out.rank++] = d->dims[i];
    p->slice *= d->dims[i];
  }
  p->m = m;
  for (int i = b; i < r; i++)
    p->batch_stride *= d->dims[i];
  int64_t st = p->slice;
  for (int k = (int) m - 1; k >= 0; k--) {
    p->dims[k] = d->dims[b + k];
    p->stride[k] = st;
    st *= p->dims[k];
    if (p->dims[k] == 0 && p->tuples * p->batches > 0) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "indexes axis %" G_GINT64_FORMAT ", which is empty", b + k);
      return FALSE;
    }
  }
  /* Constant indices: each component against its own axis. */
  const SnTensor *c = node->inputs[1]->constant;
  for (int64_t k = 0; c && k < sn_tensor_numel (c); k++) {
    int64_t v = ((const int64_t *) c->data)[k], len = p->dims[k % m];
    if (v < -len || v >= len) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "index %" G_GINT64_FORMAT
          " is out of range for a dim of %" G_GINT64_FORMAT, v, len);
      return FALSE;
    }
  }
  return set_output_checked (node, 0, node->inputs[0]->dtype, &out, error);
}

static void
run_gather_nd (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const GatherNDParams *p = node->params;
  size_t es = sn_dtype_size (in[0]->dtype);
  const int64_t *ix = in[1]->data;
  const guint8 *src = in[0]->data;
  guint8 *dst = out[0]->data;
  for (int64_t bt = 0; bt < p->batches; bt++) {
    for (int64_t t = 0; t < p->tuples; t++) {
      const int64_t *tuple = ix + (bt * p->tuples + t) * p->m;
      int64_t off = bt * p->batch_stride;
      for (int k = 0; k < p->m; k++)
        off += fix_index (tuple[k], p->dims[k]) * p->stride[k];
      memcpy (dst + (bt * p->tuples + t) * p->slice * es, src + off * es, p->slice * es);
    }
  }
}

/* ---- Cast, CastLike ----------------------------------------------------------- */

static gboolean
prepare_cast_to (SnNode *node, SnDType to, GError **error)
{
  SnDType from = node->inputs[0]->dtype;
  if (!is_numeric_dtype (to) || !is_numeric_dtype (from)) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "cast from %s to %s (type %d)",
        sn_dtype_name (from), sn_dtype_name (to), to);
    return FALSE;
  }
  sn_node_set_output (node, 0, to, &node->inputs[0]->shape);
  return TRUE;
}

static gboolean
prepare_cast (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error))
    return FALSE;
  const SnAttr *to = sn_node_attr (node, "to");
  if (!to || to->type != SN_ATTR_INT) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "attribute 'to' is missing");
    return FALSE;
  }
  return prepare_cast_to (node, (SnDType) to->i, error);
}

static gboolean
prepare_cast_like (SnNode *node, GError **error)
{
  return sn_node_check_arity (node, 2, 2, 1, 1, error)
      && prepare_cast_to (node, node->inputs[1]->dtype, error);
}

static void
run_cast (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  int64_t n = sn_tensor_numel (in[0]);
  SnDType from = in[0]->dtype, to = out[0]->dtype;
  if (from == to) {
    copy_all (in[0], out[0]);
    return;
  }
  for (int64_t i = 0; i < n; i++)
    convert_element (in[0]->data, from, out[0]->data, to, i);
}

/* ---- Comparisons, logic and Where ---------------------------------------------- */

typedef enum { CMP_EQ, CMP_LT, CMP_GT, CMP_LE, CMP_GE, LOGIC_AND, LOGIC_OR, LOGIC_XOR } CmpOp;

typedef struct {
  CmpOp op;
  int64_t strides[3][SN_MAX_DIMS];
  SnShape out;
} CmpParams;

/* Strides of IN inside the broadcast shape OUT (0 along broadcast axes). */
static void
strides_for (const SnShape *in, const SnShape *out, int64_t *st)
{
  int64_t s = 1;
  for (int i = out->rank - 1; i >= 0; i--) {
    int j = i - (out->rank - in->rank);
    int64_t d = j >= 0 ? in->dims[j] : 1;
    st[i] = d == 1 ? 0 : s;
    s *= d;
  }
}

static gboolean
broadcast_inputs (SnNode *node, int first, int n, CmpParams *p, GError **error)
{
  p->out = node->inputs[first]->shape;
  for (int k = first + 1; k < first + n; k++) {
    SnShape s;
    if (!sn_shape_broadcast (&p->out, &node->inputs[k]->shape, &s)) {
      char a[192], b[192];
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "input %d '%s' (%s) does not broadcast with %s",
          k, node->inputs[k]->name, sn_shape_format (&node->inputs[k]->shape, a, sizeof a),
          sn_shape_format (&p->out, b, sizeof b));
      return FALSE;
    }
    p->out = s;
  }
  for (int k = 0; k < n; k++)
    strides_for (&node->inputs[first + k]->shape, &p->out, p->strides[k]);
  return TRUE;
}

static gboolean
prepare_cmp_op (SnNode *node, CmpOp op, GError **error)
{
  if (!sn_node_check_arity (node, 2, 2, 1, 1, error))
    return FALSE;
  SnDType a = node->inputs[0]->dtype, b = node->inputs[1]->dtype;
  gboolean logic = op >= LOGIC_AND;
  if (a != b || (logic ? a != SN_DTYPE_BOOL : !is_numeric_dtype (a))) {
    sn_node_set_error (error, node, logic ? SN_ERROR_INVALID_MODEL : SN_ERROR_UNSUPPORTED,
        "inputs are %s and %s; %s", sn_dtype_name (a), sn_dtype_name (b),
        logic ? "both must be bool" : "they must share a numeric dtype");
    return FALSE;
  }
  CmpParams *p = g_new0 (CmpParams, 1);
  node->params = p;
  p->op = op;
  return broadcast_inputs (node, 0, 2, p, error)
      && set_output_checked (node, 0, SN_DTYPE_BOOL, &p->out, error);
}

static int64_t
offset_of (const int64_t *idx, const int64_t *st, int rank)
{
  int64_t o = 0;
  for (int i = 0; i < rank; i++)
    o += idx[i] * st[i];
  return o;
}

static void
next_index (int64_t *idx, const SnShape *s)
{
  for (int d = s->rank - 1; d >= 0; d--) {
    if (++idx[d] < s->dims[d])
      return;
    idx[d] = 0;
  }
}

/* -1, 0 or 1; integers compare exactly (int64 values above 2^53 would
 * collide as doubles), NaN compares as unordered (2). */
static int
compare_elements (const void *pa, int64_t ia, const void *pb, int64_t ib, SnDType d)
{
  if (is_float_dtype (d)) {
    double a = load_float (pa, d, ia), b = load_float (pb, d, ib);
    return a < b ? -1 : a > b ? 1 : a == b ? 0 : 2;
  }
  if (d == SN_DTYPE_UINT64) {
    guint64 a = ((const guint64 *) pa)[ia], b = ((const guint64 *) pb)[ib];
    return a < b ? -1 : a > b;
  }
  int64_t a = load_int (pa, d, ia), b = load_int (pb, d, ib);
  return a < b ? -1 : a > b;
}

static void
run_cmp (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const CmpParams *p = node->params;
  int64_t idx[SN_MAX_DIMS] = { 0 }, n = sn_shape_numel (&p->out);
  SnDType dt = in[0]->dtype;
  guint8 *y = out[0]->data;
  for (int64_t o = 0; o < n; o++) {
    int64_t ia = offset_of (idx, p->strides[0], p->out.rank);
    int64_t ib = offset_of (idx, p->strides[1], p->out.rank);
    if (p->op >= LOGIC_AND) {
      gboolean a = ((const guint8 *) in[0]->data)[ia] != 0, b = ((const guint8 *) in[1]->data)[ib] != 0;
      y[o] = p->op == LOGIC_AND ? a && b : p->op == LOGIC_OR ? a || b : a != b;
    } else {
      int c = compare_elements (in[0]->data, ia, in[1]->data, ib, dt);
      switch (p->op) {
        case CMP_EQ: y[o] = c == 0; break;
        case CMP_LT: y[o] = c == -1; break;
        case CMP_GT: y[o] = c == 1; break;
        case CMP_LE: y[o] = c == -1 || c == 0; break;
        default: y[o] = c == 1 || c == 0; break;
      }
    }
    next_index (idx, &p->out);
  }
}

static gboolean prepare_equal (SnNode *n, GError **e) { return prepare_cmp_op (n, CMP_EQ, e); }
static gboolean prepare_less (SnNode *n, GError **e) { return prepare_cmp_op (n, CMP_LT, e); }
static gboolean prepare_greater (SnNode *n, GError **e) { return prepare_cmp_op (n, CMP_GT, e); }
static gboolean prepare_less_eq (SnNode *n, GError **e) { return prepare_cmp_op (n, CMP_LE, e); }
static gboolean prepare_greater_eq (SnNode *n, GError **e) { return prepare_cmp_op (n, CMP_GE, e); }
static gboolean prepare_and (SnNode *n, GError **e) { return prepare_cmp_op (n, LOGIC_AND, e); }
static gboolean prepare_or (SnNode *n, GError **e) { return prepare_cmp_op (n, LOGIC_OR, e); }
static gboolean prepare_xor (SnNode *n, GError **e) { return prepare_cmp_op (n, LOGIC_XOR, e); }

static gboolean
prepare_not (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error))
    return FALSE;
  if (node->inputs[0]->dtype != SN_DTYPE_BOOL) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "input '%s' is %s, not bool",
        node->inputs[0]->name, sn_dtype_name (node->inputs[0]->dtype));
    return FALSE;
  }
  sn_node_set_output (node, 0, SN_DTYPE_BOOL, &node->inputs[0]->shape);
  return TRUE;
}

static void
run_not (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const guint8 *x = in[0]->data;
  guint8 *y = out[0]->data;
  for (int64_t i = 0; i < sn_tensor_numel (in[0]); i++)
    y[i] = !x[i];
}

static gboolean
prepare_where (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 3, 3, 1, 1, error) || !require_sized (node, 1, error))
    return FALSE;
  const SnValue *c = node->inputs[0], *x = node->inputs[1], *y = node->inputs[2];
  if (c->dtype != SN_DTYPE_BOOL || x->dtype != y->dtype) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "condition '%s' is %s (must be bool); "
        "'%s' and '%s' are %s and %s (must match)", c->name, sn_dtype_name (c->dtype), x->name,
        y->name, sn_dtype_name (x->dtype), sn_dtype_name (y->dtype));
    return FALSE;
  }
  CmpParams *p = g_new0 (CmpParams, 1);
  node->params = p;
  return broadcast_inputs (node, 0, 3, p, error)
      && set_output_checked (node, 0, x->dtype, &p->out, error);
}

static void
run_where (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const CmpParams *p = node->params;
  size_t es = sn_dtype_size (out[0]->dtype);
  int64_t idx[SN_MAX_DIMS] = { 0 }, n = sn_shape_numel (&p->out);
  const guint8 *c = in[0]->data;
  guint8 *y = out[0]->data;
  for (int64_t o = 0; o < n; o++) {
    int k = c[offset_of (idx, p->strides[0], p->out.rank)] ? 1 : 2;
    memcpy (y + o * es, (const guint8 *) in[k]->data + offset_of (idx, p->strides[k], p->out.rank) * es, es);
    next_index (idx, &p->out);
  }
}

/* ---- Trilu ------------------------------------------------------------------- */

static gboolean
prepare_trilu (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 2, 1, 1, error) || !require_sized (node, 0, error))
    return FALSE;
  const SnValue *x = node->inputs[0];
  if (x->shape.rank < 2) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "input '%s' has rank %d; Trilu needs 2 or more",
        x->name, x->shape.rank);
    return FALSE;
  }
  if (has_input (node, 1) && (node->inputs[1]->dtype != SN_DTYPE_INT64
          || sn_shape_numel (&node->inputs[1]->shape) != 1)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "k '%s' is not an int64 scalar",
        node->inputs[1]->name);
    return FALSE;
  }
  sn_node_set_output (node, 0, x->dtype, &x->shape);
  return TRUE;
}

static void
run_trilu (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  gboolean upper = sn_node_attr_int (node, "upper", 1) != 0;
  int64_t k = node->n_inputs > 1 && in[1] ? *(const int64_t *) in[1]->data : 0;
  const SnShape *s = &in[0]->shape;
  int64_t rows = s->dims[s->rank - 2], cols = s->dims[s->rank - 1];
  int64_t mats = rows > 0 && cols > 0 ? sn_tensor_numel (in[0]) / (rows * cols) : 0;
  size_t es = sn_dtype_size (in[0]->dtype);
  const guint8 *x = in[0]->data;
  guint8 *y = out[0]->data;
  memset (y, 0, sn_tensor_nbytes (out[0]));
  for (int64_t m = 0; m < mats; m++)
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < cols; j++) {
        /* j - i never overflows; compare with k as upper: j - i >= k. */
        int64_t diag = j - i;
        if (upper ? diag >= k : diag <= k) {
          int64_t o = (m * rows + i) * cols + j;
          memcpy (y + o * es, x + o * es, es);
        }
      }
}

/* ---- Table ------------------------------------------------------------------- */

static const SnOpDef op_Reshape = { "Reshape", 1, prepare_reshape, run_copy, NULL };
static const SnOpDef op_Flatten = { "Flatten", 1, prepare_flatten, run_copy, NULL };
static const SnOpDef op_Squeeze = { "Squeeze", 1, prepare_squeeze, run_copy, NULL };
static const SnOpDef op_Unsqueeze = { "Unsqueeze", 1, prepare_unsqueeze, run_copy, NULL };
static const SnOpDef op_Transpose = { "Transpose", 1, prepare_transpose, run_boxes, box_params_free };
static const SnOpDef op_Slice = { "Slice", 1, prepare_slice, run_boxes, box_params_free };
static const SnOpDef op_Concat = { "Concat", 1, prepare_concat, run_boxes, box_params_free };
static const SnOpDef op_Split = { "Split", 1, prepare_split, run_boxes, box_params_free };
static const SnOpDef op_Expand = { "Expand", 8, prepare_expand, run_boxes, box_params_free };
static const SnOpDef op_Tile = { "Tile", 1, prepare_tile, run_boxes, box_params_free };
static const SnOpDef op_DepthToSpace = { "DepthToSpace", 1, prepare_d2s, run_boxes, box_params_free };
static const SnOpDef op_SpaceToDepth = { "SpaceToDepth", 1, prepare_s2d, run_boxes, box_params_free };
static const SnOpDef op_Pad = { "Pad", 1, prepare_pad, run_pad, g_free };
static const SnOpDef op_Shape = { "Shape", 1, prepare_shape, run_shape, g_free };
static const SnOpDef op_Size = { "Size", 1, prepare_size, run_size, NULL };
static const SnOpDef op_ConstantOfShape = { "ConstantOfShape", 9, prepare_constant_of_shape, run_constant_of_shape, NULL };
static const SnOpDef op_EyeLike = { "EyeLike", 9, prepare_eye_like, run_eye_like, NULL };
static const SnOpDef op_Range = { "Range", 11, prepare_range, run_range, g_free };
static const SnOpDef op_Gather = { "Gather", 1, prepare_gather, run_gather, g_free };
static const SnOpDef op_GatherElements = { "GatherElements", 11, prepare_gather_elements, run_gather_elements, g_free };
static const SnOpDef op_GatherND = { "GatherND", 11, prepare_gather_nd, run_gather_nd, g_free };
static const SnOpDef op_Cast = { "Cast", 6, prepare_cast, run_cast, NULL };
static const SnOpDef op_CastLike = { "CastLike", 15, prepare_cast_like, run_cast, NULL };
static const SnOpDef op_Equal = { "Equal", 7, prepare_equal, run_cmp, g_free };
static const SnOpDef op_Less = { "Less", 7, prepare_less, run_cmp, g_free };
static const SnOpDef op_Greater = { "Greater", 7, prepare_greater, run_cmp, g_free };
static const SnOpDef op_LessOrEqual = { "LessOrEqual", 12, prepare_less_eq, run_cmp, g_free };
static const SnOpDef op_GreaterOrEqual = { "GreaterOrEqual", 12, prepare_greater_eq, run_cmp, g_free };
static const SnOpDef op_And = { "And", 7, prepare_and, run_cmp, g_free };
static const SnOpDef op_Or = { "Or", 7, prepare_or, run_cmp, g_free };
static const SnOpDef op_Xor = { "Xor", 7, prepare_xor, run_cmp, g_free };
static const SnOpDef op_Not = { "Not", 1, prepare_not, run_not, NULL };
static const SnOpDef op_Where = { "Where", 9, prepare_where, run_where, g_free };
static const SnOpDef op_Trilu = { "Trilu", 14, prepare_trilu, run_trilu, NULL };

const SnOpDef *const sn_ops_shape[] = {
  &op_Reshape, &op_Flatten, &op_Squeeze, &op_Unsqueeze, &op_Transpose, &op_Slice,
  &op_Concat, &op_Split, &op_Expand, &op_Tile, &op_DepthToSpace, &op_SpaceToDepth,
  &op_Pad, &op_Shape, &op_Size, &op_ConstantOfShape, &op_EyeLike, &op_Range,
  &op_Gather, &op_GatherElements, &op_GatherND, &op_Cast, &op_CastLike,
  &op_Equal, &op_Less, &op_Greater, &op_LessOrEqual, &op_GreaterOrEqual,
  &op_And, &op_Or, &op_Xor, &op_Not, &op_Where, &op_Trilu,
  NULL,
};
