/* splitnn — reference kernels for ops that move data or compute shapes:
 * Concat, Split, Slice, Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
 * Pad, Shape, Size, Gather, Cast, ConstantOfShape, Expand, Tile, Range,
 * Where, comparisons, DepthToSpace and SpaceToDepth.
 *
 * Data movement works on any dtype by element size: these ops run on int64
 * shape tensors at load time (constant folding) as well as on float32
 * activations. */
#include "sn-ops.h"

#include <math.h>
#include <string.h>

static gboolean
require_sized (SnNode *node, int i, GError **error)
{
  const SnValue *v = node->inputs[i];
  if (v && sn_dtype_size (v->dtype) == 0) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "input '%s' has unsupported dtype %s",
        v->name, sn_dtype_name (v->dtype));
    return FALSE;
  }
  return TRUE;
}

/* memcpy of an attribute's ints; absent attributes have a NULL array. */
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
    char a[96], b[96];
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "cannot reshape %s (%" G_GINT64_FORMAT
        " elements) to %s", sn_shape_format (in, a, sizeof a), sn_shape_numel (in),
        sn_shape_format (out, b, sizeof b));
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
      sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "rank %d is too large", n);
      return FALSE;
    }
    copy_ints (dims, s, n);
  } else if ((n = sn_node_const_ints (node, 1, dims, SN_MAX_DIMS, error)) < 0) {
    return FALSE;
  }
  gboolean allowzero = sn_node_attr_int (node, "allowzero", 0) != 0;
  const SnShape *in = &node->inputs[0]->shape;
  SnShape out = { .rank = n };
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < n; i++) {
    int64_t d = dims[i];
    if (d == 0 && !allowzero) {
      if (i >= in->rank) {
        sn_node_set_error (error, node, SN_ERROR_SHAPE, "shape[%d] = 0 copies a dim the input lacks", i);
        return FALSE;
      }
      d = in->dims[i];
    }
    if (d == -1) {
      if (infer >= 0) {
        sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "shape has more than one -1");
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
    known *= d;
  }
  if (infer >= 0) {
    int64_t total = sn_shape_numel (in);
    if (known == 0 || total % known) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "cannot infer the -1 dim: %"
          G_GINT64_FORMAT " elements do not divide by %" G_GINT64_FORMAT, total, known);
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
    if (node->n_inputs < 2 || !node->inputs[1])
      return 0;
    return sn_node_const_ints (node, 1, axes, SN_MAX_DIMS, error);
  }
  const int64_t *a;
  int n = sn_node_attr_ints (node, "axes", &a);
  if (n > SN_MAX_DIMS) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "too many axes");
    return -1;
  }
  copy_ints (axes, a, n);
  return n;
}

static gboolean
prepare_squeeze (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 2, 1, 1, error) || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  int64_t axes[SN_MAX_DIMS];
  int n = read_axes (node, axes, error);
  if (n < 0)
    return FALSE;
  gboolean drop[SN_MAX_DIMS] = { FALSE };
  for (int i = 0; i < n; i++) {
    if (!sn_axis_normalize (&axes[i], in->rank) || in->dims[axes[i]] != 1) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "axis %" G_GINT64_FORMAT
          " cannot be squeezed", axes[i]);
      return FALSE;
    }
    drop[axes[i]] = TRUE;
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
  if (!sn_node_check_arity (node, node->opset >= 13 ? 2 : 1, 2, 1, 1, error)
      || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  int64_t axes[SN_MAX_DIMS];
  int n = read_axes (node, axes, error);
  if (n < 0)
    return FALSE;
  int rank = in->rank + n;
  if (rank > SN_MAX_DIMS) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "result rank %d is too large", rank);
    return FALSE;
  }
  gboolean ins[SN_MAX_DIMS] = { FALSE };
  for (int i = 0; i < n; i++) {
    if (!sn_axis_normalize (&axes[i], rank) || ins[axes[i]]) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis %" G_GINT64_FORMAT
          " is out of range or repeated", axes[i]);
      return FALSE;
    }
    ins[axes[i]] = TRUE;
  }
  SnShape out = { .rank = rank };
  for (int i = 0, k = 0; i < rank; i++)
    out.dims[i] = ins[i] ? 1 : in->dims[k++];
  return set_reshaped (node, &out, error);
}

/* ---- Strided copies: Transpose, Slice, Expand, Tile, Concat, Split ---------
 * All of them copy an N-D box of the input into an N-D box of the output;
 * one odometer routine does that with per-axis strides. */

typedef struct {
  int rank;
  int64_t dims[SN_MAX_DIMS];        /* box size */
  int64_t src_stride[SN_MAX_DIMS];  /* in elements; may be negative or 0 */
  int64_t dst_stride[SN_MAX_DIMS];
  int64_t src_offset, dst_offset;
} Box;

static void
contiguous_strides (const SnShape *s, int64_t *strides)
{
  int64_t st = 1;
  for (int i = s->rank - 1; i >= 0; i--) {
    strides[i] = st;
    st *= s->dims[i];
  }
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
  int64_t idx[SN_MAX_DIMS] = { 0 };
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
box_params_new (int n)
{
  BoxParams *p = g_new0 (BoxParams, 1);
  p->n = n;
  p->copies = g_new0 (BoxCopy, n);
  return p;
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
    if (!sn_axis_normalize (&p[i], in->rank) || seen[p[i]]) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "perm is not a permutation");
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
  BoxParams *bp = box_params_new (1);
  Box *b = &bp->copies[0].box;
  b->rank = out.rank;
  for (int i = 0; i < out.rank; i++) {
    b->dims[i] = out.dims[i];
    b->src_stride[i] = ist[p[i]];
    b->dst_stride[i] = ost[i];
  }
  node->params = bp;
  sn_node_set_output (node, 0, node->inputs[0]->dtype, &out);
  return TRUE;
}

/* Clamps per the ONNX Slice rules; INT64_MAX/MIN sentinels fall out of it. */
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
    *count = end > start ? (end - start + step - 1) / step : 0;
  } else {
    start = CLAMP (start, 0, dim - 1);
    end = CLAMP (end, -1, dim - 1);
    *count = start > end ? (start - end + (-step) - 1) / (-step) : 0;
  }
  *first = start;
}

static gboolean
prepare_slice (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, node->opset < 10 ? 1 : 3, node->opset < 10 ? 1 : 5, 1, 1, error)
      || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  int64_t starts[SN_MAX_DIMS], ends[SN_MAX_DIMS], axes[SN_MAX_DIMS], steps[SN_MAX_DIMS];
  int n, na, ns;
  if (node->opset < 10) {
    const int64_t *s, *e, *a;
    n = sn_node_attr_ints (node, "starts", &s);
    if (sn_node_attr_ints (node, "ends", &e) != n || n > SN_MAX_DIMS) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "starts and ends differ in length");
      return FALSE;
    }
    na = sn_node_attr_ints (node, "axes", &a);
    copy_ints (starts, s, n);
    copy_ints (ends, e, n);
    copy_ints (axes, a, MIN (na, SN_MAX_DIMS));
    ns = 0;
  } else {
    n = sn_node_const_ints (node, 1, starts, SN_MAX_DIMS, error);
    if (n < 0 || sn_node_const_ints (node, 2, ends, SN_MAX_DIMS, error) != n) {
      if (n >= 0)
        sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "starts and ends differ in length");
      return FALSE;
    }
    na = node->n_inputs > 3 && node->inputs[3] ? sn_node_const_ints (node, 3, axes, SN_MAX_DIMS, error) : 0;
    ns = node->n_inputs > 4 && node->inputs[4] ? sn_node_const_ints (node, 4, steps, SN_MAX_DIMS, error) : 0;
    if (na < 0 || ns < 0)
      return FALSE;
  }
  if ((na && na != n) || (ns && ns != n)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axes/steps differ in length from starts");
    return FALSE;
  }
  int64_t first[SN_MAX_DIMS], step_of[SN_MAX_DIMS];
  SnShape out = *in;
  gboolean used[SN_MAX_DIMS] = { FALSE };
  for (int i = 0; i < in->rank; i++) {
    first[i] = 0;
    step_of[i] = 1;
  }
  for (int i = 0; i < n; i++) {
    int64_t ax = na ? axes[i] : i;
    int64_t st = ns ? steps[i] : 1;
    if (!sn_axis_normalize (&ax, in->rank) || used[ax] || st == 0) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "invalid or repeated axis, or zero step");
      return FALSE;
    }
    used[ax] = TRUE;
    slice_axis (in->dims[ax], starts[i], ends[i], st, &first[ax], &out.dims[ax]);
    step_of[ax] = st;
  }
  int64_t ist[SN_MAX_DIMS], ost[SN_MAX_DIMS];
  contiguous_strides (in, ist);
  contiguous_strides (&out, ost);
  BoxParams *bp = box_params_new (1);
  Box *b = &bp->copies[0].box;
  b->rank = in->rank;
  for (int i = 0; i < in->rank; i++) {
    b->dims[i] = out.dims[i];
    b->src_stride[i] = ist[i] * step_of[i];
    b->dst_stride[i] = ost[i];
    b->src_offset += first[i] * ist[i];
  }
  node->params = bp;
  sn_node_set_output (node, 0, node->inputs[0]->dtype, &out);
  return TRUE;
}

static gboolean
prepare_concat (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1024, 1, 1, error))
    return FALSE;
  const SnValue *first = node->inputs[0];
  int64_t axis = sn_node_attr_int (node, "axis", node->opset < 4 ? 1 : G_MAXINT64);
  if (axis == G_MAXINT64 || !sn_axis_normalize (&axis, first->shape.rank)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis is missing or out of range");
    return FALSE;
  }
  SnShape out = first->shape;
  out.dims[axis] = 0;
  for (int i = 0; i < node->n_inputs; i++) {
    const SnValue *v = node->inputs[i];
    if (!v || !require_sized (node, i, error))
      return FALSE;
    gboolean ok = v->dtype == first->dtype && v->shape.rank == out.rank;
    for (int d = 0; ok && d < out.rank; d++)
      ok = d == axis || v->shape.dims[d] == out.dims[d];
    if (!ok) {
      char a[96], b[96];
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "input '%s' (%s %s) does not match "
          "'%s' (%s %s) outside axis %" G_GINT64_FORMAT, v->name, sn_dtype_name (v->dtype),
          sn_shape_format (&v->shape, a, sizeof a), first->name, sn_dtype_name (first->dtype),
          sn_shape_format (&first->shape, b, sizeof b), axis);
      return FALSE;
    }
    out.dims[axis] += v->shape.dims[axis];
  }
  int64_t ost[SN_MAX_DIMS];
  contiguous_strides (&out, ost);
  BoxParams *bp = box_params_new (node->n_inputs);
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
  node->params = bp;
  sn_node_set_output (node, 0, first->dtype, &out);
  return TRUE;
}

static gboolean
prepare_split (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 2, 1, 64, error) || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  int64_t axis = sn_node_attr_int (node, "axis", 0);
  if (!sn_axis_normalize (&axis, in->rank)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis is out of range");
    return FALSE;
  }
  int nout = node->n_outputs;
  int64_t sizes[64];
  int n = 0;
  if (node->opset >= 13 && node->n_inputs > 1 && node->inputs[1]) {
    n = sn_node_const_ints (node, 1, sizes, 64, error);
    if (n < 0)
      return FALSE;
  } else if (node->opset < 13) {
    const int64_t *s;
    n = sn_node_attr_ints (node, "split", &s);
    copy_ints (sizes, s, MIN (n, 64));
  }
  if (n == 0) {
    int64_t num = sn_node_attr_int (node, "num_outputs", nout);
    if (num != nout || in->dims[axis] % nout) {
      sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
          "dim %" G_GINT64_FORMAT " does not split evenly into %d outputs", in->dims[axis], nout);
      return FALSE;
    }
    for (int i = 0; i < nout; i++)
      sizes[i] = in->dims[axis] / nout;
    n = nout;
  }
  int64_t total = 0;
  for (int i = 0; i < n; i++)
    total += sizes[i] >= 0 ? sizes[i] : in->dims[axis] + 1;
  if (n != nout || total != in->dims[axis]) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
        "split sizes do not add up to dim %" G_GINT64_FORMAT " across %d outputs", in->dims[axis], nout);
    return FALSE;
  }
  int64_t ist[SN_MAX_DIMS];
  contiguous_strides (in, ist);
  BoxParams *bp = box_params_new (nout);
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
  node->params = bp;
  return TRUE;
}

/* Expand and Tile: a box over the output whose source stride is 0 where the
 * input is broadcast (Expand), or several boxes per tile (Tile). */
static gboolean
prepare_expand (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 2, 2, 1, 1, error) || !require_sized (node, 0, error))
    return FALSE;
  int64_t dims[SN_MAX_DIMS];
  int n = sn_node_const_ints (node, 1, dims, SN_MAX_DIMS, error);
  if (n < 0)
    return FALSE;
  SnShape target = sn_shape_make (n, dims), out;
  const SnShape *in = &node->inputs[0]->shape;
  if (!sn_shape_broadcast (in, &target, &out)) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "input does not broadcast to the shape");
    return FALSE;
  }
  int64_t ist[SN_MAX_DIMS], ost[SN_MAX_DIMS];
  contiguous_strides (in, ist);
  contiguous_strides (&out, ost);
  BoxParams *bp = box_params_new (1);
  Box *b = &bp->copies[0].box;
  b->rank = out.rank;
  for (int i = 0; i < out.rank; i++) {
    int j = i - (out.rank - in->rank);
    b->dims[i] = out.dims[i];
    b->src_stride[i] = j >= 0 && in->dims[j] != 1 ? ist[j] : 0;
    b->dst_stride[i] = ost[i];
  }
  node->params = bp;
  sn_node_set_output (node, 0, node->inputs[0]->dtype, &out);
  return TRUE;
}

static gboolean
prepare_tile (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 2, 2, 1, 1, error) || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  int64_t reps[SN_MAX_DIMS];
  int n = sn_node_const_ints (node, 1, reps, SN_MAX_DIMS, error);
  if (n < 0)
    return FALSE;
  if (n != in->rank) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "repeats has %d entries for rank %d", n, in->rank);
    return FALSE;
  }
  /* The output viewed as [r0, d0, r1, d1, ...] is a broadcast of the input
   * over the r axes: one box of rank 2n. */
  if (2 * n > SN_MAX_DIMS) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "rank %d is too large for Tile", n);
    return FALSE;
  }
  SnShape out = *in;
  int64_t ist[SN_MAX_DIMS], ost[SN_MAX_DIMS];
  for (int i = 0; i < n; i++) {
    if (reps[i] < 0) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "negative repeat");
      return FALSE;
    }
    out.dims[i] = in->dims[i] * reps[i];
  }
  contiguous_strides (in, ist);
  contiguous_strides (&out, ost);
  BoxParams *bp = box_params_new (1);
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
  node->params = bp;
  sn_node_set_output (node, 0, node->inputs[0]->dtype, &out);
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
  const char *mode = sn_node_attr_string (node, "mode", "DCR");
  gboolean crd = to_space && strcmp (mode, "CRD") == 0;
  if (in->rank != 4 || bs < 1 || (to_space && in->dims[1] % (bs * bs))
      || (!to_space && (in->dims[2] % bs || in->dims[3] % bs))) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "needs a 4-D input divisible by blocksize");
    return FALSE;
  }
  int64_t N = in->dims[0], C = in->dims[1], H = in->dims[2], W = in->dims[3];
  SnShape out = to_space ? sn_shape_make (4, (int64_t[]) { N, C / (bs * bs), H * bs, W * bs })
      : sn_shape_make (4, (int64_t[]) { N, C * bs * bs, H / bs, W / bs });
  BoxParams *bp = box_params_new (1);
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
  node->params = bp;
  sn_node_set_output (node, 0, node->inputs[0]->dtype, &out);
  return TRUE;
}

static gboolean prepare_d2s (SnNode *n, GError **e) { return prepare_space_depth (n, TRUE, e); }
static gboolean prepare_s2d (SnNode *n, GError **e) { return prepare_space_depth (n, FALSE, e); }

/* ---- Pad ----------------------------------------------------------------- */

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE } PadMode;

typedef struct {
  PadMode mode;
  int64_t pads[2 * SN_MAX_DIMS];
  float value;                  /* opset < 11 */
} PadParams;

static gboolean
prepare_pad (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 3, 1, 1, error) || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  PadParams *p = g_new0 (PadParams, 1);
  node->params = p;
  const char *mode = sn_node_attr_string (node, "mode", "constant");
  if (strcmp (mode, "constant") == 0)
    p->mode = PAD_CONSTANT;
  else if (strcmp (mode, "reflect") == 0)
    p->mode = PAD_REFLECT;
  else if (strcmp (mode, "edge") == 0)
    p->mode = PAD_EDGE;
  else {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "mode '%s' is not supported", mode);
    return FALSE;
  }
  int n;
  if (node->opset < 11) {
    const int64_t *pads;
    n = sn_node_attr_ints (node, node->opset < 2 ? "paddings" : "pads", &pads);
    copy_ints (p->pads, pads, MIN (n, 2 * SN_MAX_DIMS));
    p->value = sn_node_attr_float (node, "value", 0);
  } else {
    if (node->n_inputs < 2 || !node->inputs[1]) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "pads input is missing");
      return FALSE;
    }
    n = sn_node_const_ints (node, 1, p->pads, 2 * SN_MAX_DIMS, error);
    if (n < 0)
      return FALSE;
    const SnValue *cv = node->n_inputs > 2 ? node->inputs[2] : NULL;
    if (cv && (cv->dtype != node->inputs[0]->dtype || sn_shape_numel (&cv->shape) != 1)) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "constant_value must be a scalar of the input's dtype");
      return FALSE;
    }
  }
  if (n != 2 * in->rank) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "pads has %d entries for rank %d", n, in->rank);
    return FALSE;
  }
  if (p->mode != PAD_CONSTANT && node->inputs[0]->dtype != SN_DTYPE_FLOAT32
      && sn_dtype_size (node->inputs[0]->dtype) != 4 && sn_dtype_size (node->inputs[0]->dtype) != 8) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "dtype not supported in this mode");
    return FALSE;
  }
  if (node->opset < 11 && p->mode == PAD_CONSTANT && node->inputs[0]->dtype != SN_DTYPE_FLOAT32) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "value attribute needs float32 data");
    return FALSE;
  }
  SnShape out = *in;
  for (int i = 0; i < in->rank; i++) {
    out.dims[i] = in->dims[i] + p->pads[i] + p->pads[i + in->rank];
    gboolean wraps = p->mode == PAD_REFLECT
        && (p->pads[i] >= in->dims[i] || p->pads[i + in->rank] >= in->dims[i]) && (p->pads[i] > 0 || p->pads[i + in->rank] > 0);
    if (out.dims[i] < 0 || (p->mode != PAD_CONSTANT && in->dims[i] == 0 && out.dims[i] > 0) || wraps) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "pads are invalid for axis %d", i);
      return FALSE;
    }
  }
  sn_node_set_output (node, 0, node->inputs[0]->dtype, &out);
  return TRUE;
}

/* Maps an output coordinate to the input (or -1 for the constant). */
static int64_t
pad_source (PadMode mode, int64_t o, int64_t before, int64_t dim)
{
  int64_t i = o - before;
  if (i >= 0 && i < dim)
    return i;
  if (mode == PAD_CONSTANT)
    return -1;
  if (mode == PAD_EDGE)
    return i < 0 ? 0 : dim - 1;
  /* reflect without repeating the edge */
  if (dim == 1)
    return 0;
  int64_t period = 2 * (dim - 1);
  i = ((i % period) + period) % period;
  return i < dim ? i : period - i;
}

static void
run_pad (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const PadParams *p = node->params;
  const SnShape *is = &in[0]->shape, *os = &out[0]->shape;
  size_t es = sn_dtype_size (in[0]->dtype);
  guint8 fill[8] = { 0 };
  if (node->opset < 11)
    memcpy (fill, &p->value, 4);
  else if (node->n_inputs > 2 && in[2])
    memcpy (fill, in[2]->data, es);
  int64_t total = sn_tensor_numel (out[0]);
  int64_t ist[SN_MAX_DIMS], idx[SN_MAX_DIMS] = { 0 };
  contiguous_strides (is, ist);
  const guint8 *src = in[0]->data;
  guint8 *dst = out[0]->data;
  int r = is->rank;
  for (int64_t o = 0; o < total; o++) {
    int64_t off = 0;
    gboolean constant = FALSE;
    for (int d = 0; d < r && !constant; d++) {
      int64_t s = pad_source (p->mode, idx[d], p->pads[d], is->dims[d]);
      if (s < 0)
        constant = TRUE;
      else
        off += s * ist[d];
    }
    memcpy (dst + o * es, constant ? fill : src + off * es, es);
    for (int d = r - 1; d >= 0; d--) {
      if (++idx[d] < os->dims[d])
        break;
      idx[d] = 0;
    }
  }
}

/* ---- Shape, Size, ConstantOfShape, Range ---------------------------------- */

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
  if (start < 0)
    start += r;
  if (end < 0)
    end += r;
  ShapeParams *p = g_new0 (ShapeParams, 1);
  p->start = CLAMP (start, 0, r);
  p->end = CLAMP (end, 0, r);
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
  SnDType dt = v && v->t ? v->t->dtype : SN_DTYPE_FLOAT32;
  if (v && v->t && (sn_tensor_numel (v->t) != 1 || sn_dtype_size (dt) == 0)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "value must be a one-element tensor");
    return FALSE;
  }
  for (int i = 0; i < n; i++)
    if (dims[i] < 0) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "negative dim");
      return FALSE;
    }
  SnShape out = sn_shape_make (n, dims);
  sn_node_set_output (node, 0, dt, &out);
  return TRUE;
}

static void
run_constant_of_shape (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const SnAttr *v = sn_node_attr (node, "value");
  size_t es = sn_dtype_size (out[0]->dtype);
  int64_t n = sn_tensor_numel (out[0]);
  guint8 *y = out[0]->data;
  if (!v || !v->t) {
    memset (y, 0, n * es);
    return;
  }
  for (int64_t i = 0; i < n; i++)
    memcpy (y + i * es, v->t->data, es);
}

static double
scalar_as_double (const SnTensor *t)
{
  switch (t->dtype) {
    case SN_DTYPE_FLOAT32: return *(const float *) t->data;
    case SN_DTYPE_DOUBLE: return *(const double *) t->data;
    case SN_DTYPE_INT32: return *(const int32_t *) t->data;
    case SN_DTYPE_INT64: return (double) *(const int64_t *) t->data;
    case SN_DTYPE_INT16: return *(const int16_t *) t->data;
    default: return 0;
  }
}

static gboolean
prepare_range (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 3, 3, 1, 1, error))
    return FALSE;
  SnDType dt = node->inputs[0]->dtype;
  for (int i = 0; i < 3; i++) {
    const SnValue *v = node->inputs[i];
    if (!v->constant || sn_tensor_numel (v->constant) != 1 || v->dtype != dt) {
      sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "start, limit and delta must be constant scalars of one dtype");
      return FALSE;
    }
  }
  if (dt != SN_DTYPE_FLOAT32 && dt != SN_DTYPE_INT32 && dt != SN_DTYPE_INT64 && dt != SN_DTYPE_DOUBLE
      && dt != SN_DTYPE_INT16) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "dtype %s is not supported", sn_dtype_name (dt));
    return FALSE;
  }
  double start = scalar_as_double (node->inputs[0]->constant);
  double limit = scalar_as_double (node->inputs[1]->constant);
  double delta = scalar_as_double (node->inputs[2]->constant);
  if (delta == 0) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "delta is zero");
    return FALSE;
  }
  SnShape out = { .rank = 1, .dims = { MAX (0, (int64_t) ceil ((limit - start) / delta)) } };
  sn_node_set_output (node, 0, dt, &out);
  return TRUE;
}

static void
run_range (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  int64_t n = sn_tensor_numel (out[0]);
  double start = scalar_as_double (in[0]), delta = scalar_as_double (in[2]);
  for (int64_t i = 0; i < n; i++) {
    switch (out[0]->dtype) {
      case SN_DTYPE_FLOAT32: ((float *) out[0]->data)[i] = (float) (start + i * delta); break;
      case SN_DTYPE_DOUBLE: ((double *) out[0]->data)[i] = start + i * delta; break;
      case SN_DTYPE_INT32: ((int32_t *) out[0]->data)[i] = (int32_t) (start + i * delta); break;
      case SN_DTYPE_INT16: ((int16_t *) out[0]->data)[i] = (int16_t) (start + i * delta); break;
      default: ((int64_t *) out[0]->data)[i] = *(const int64_t *) in[0]->data + i * *(const int64_t *) in[2]->data; break;
    }
  }
}

/* ---- Gather ---------------------------------------------------------------- */

typedef struct {
  int64_t outer, axis_len, inner, n_idx;
} GatherParams;

static gboolean
prepare_gather (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 2, 2, 1, 1, error) || !require_sized (node, 0, error))
    return FALSE;
  const SnShape *d = &node->inputs[0]->shape, *ix = &node->inputs[1]->shape;
  SnDType it = node->inputs[1]->dtype;
  if (it != SN_DTYPE_INT64 && it != SN_DTYPE_INT32) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "indices must be int32 or int64");
    return FALSE;
  }
  int64_t axis = sn_node_attr_int (node, "axis", 0);
  if (!sn_axis_normalize (&axis, d->rank) || d->rank + ix->rank - 1 > SN_MAX_DIMS) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis out of range or result rank too large");
    return FALSE;
  }
  GatherParams *p = g_new0 (GatherParams, 1);
  p->outer = p->inner = 1;
  SnShape out = { 0 };
  for (int i = 0; i < axis; i++) {
    p->outer *= d->dims[i];
    out.dims[out.rank++] = d->dims[i];
  }
  for (int i = 0; i < ix->rank; i++)
    out.dims[out.rank++] = ix->dims[i];
  for (int i = axis + 1; i < d->rank; i++) {
    p->inner *= d->dims[i];
    out.dims[out.rank++] = d->dims[i];
  }
  p->axis_len = d->dims[axis];
  p->n_idx = sn_shape_numel (ix);
  node->params = p;
  /* Constant indices are checked now; runtime ones are clamped in run(). */
  const SnTensor *c = node->inputs[1]->constant;
  for (int64_t k = 0; c && k < p->n_idx; k++) {
    int64_t v = it == SN_DTYPE_INT64 ? ((const int64_t *) c->data)[k] : ((const int32_t *) c->data)[k];
    if (v < -p->axis_len || v >= p->axis_len) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "index %" G_GINT64_FORMAT
          " is out of range for a dim of %" G_GINT64_FORMAT, v, p->axis_len);
      return FALSE;
    }
  }
  sn_node_set_output (node, 0, node->inputs[0]->dtype, &out);
  return TRUE;
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
      int64_t v = in[1]->dtype == SN_DTYPE_INT64 ? ((const int64_t *) in[1]->data)[k]
          : ((const int32_t *) in[1]->data)[k];
      if (v < 0)
        v += p->axis_len;
      v = CLAMP (v, 0, p->axis_len - 1);      /* a bad runtime index must not read out of bounds */
      memcpy (dst + (o * p->n_idx + k) * row, src + (o * p->axis_len + v) * row, row);
    }
  }
}

/* ---- Cast -------------------------------------------------------------------- */

static gboolean
castable (SnDType d)
{
  return d != SN_DTYPE_STRING && sn_dtype_size (d) != 0;
}

static gboolean
prepare_cast (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error))
    return FALSE;
  SnDType to = (SnDType) sn_node_attr_int (node, "to", 0);
  if (!castable (to) || !castable (node->inputs[0]->dtype)) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "cast from %s to %s is not supported",
        sn_dtype_name (node->inputs[0]->dtype), sn_dtype_name (to));
    return FALSE;
  }
  sn_node_set_output (node, 0, to, &node->inputs[0]->shape);
  return TRUE;
}

static double
load_as_double (const void *p, SnDType d, int64_t i)
{
  switch (d) {
    case SN_DTYPE_FLOAT32: return ((const float *) p)[i];
    case SN_DTYPE_DOUBLE: return ((const double *) p)[i];
    case SN_DTYPE_FLOAT16: return sn_half_to_float (((const guint16 *) p)[i]);
    case SN_DTYPE_INT8: return ((const int8_t *) p)[i];
    case SN_DTYPE_UINT8: return ((const guint8 *) p)[i];
    case SN_DTYPE_BOOL: return ((const guint8 *) p)[i] != 0;
    case SN_DTYPE_INT16: return ((const int16_t *) p)[i];
    case SN_DTYPE_UINT16: return ((const guint16 *) p)[i];
    case SN_DTYPE_INT32: return ((const int32_t *) p)[i];
    case SN_DTYPE_UINT32: return ((const guint32 *) p)[i];
    case SN_DTYPE_INT64: return (double) ((const int64_t *) p)[i];
    case SN_DTYPE_UINT64: return (double) ((const guint64 *) p)[i];
    default: return 0;
  }
}

/* Float-to-int conversion of out-of-range values is undefined in C; ONNX
 * leaves it undefined too, so we saturate. */
#define SAT(T, LO, HI, V) ((T) (isnan (V) ? 0 : (V) <= (double) (LO) ? (LO) : (V) >= (double) (HI) ? (HI) : (V)))

static void
store_double (void *p, SnDType d, int64_t i, double v)
{
  switch (d) {
    case SN_DTYPE_FLOAT32: ((float *) p)[i] = (float) v; break;
    case SN_DTYPE_DOUBLE: ((double *) p)[i] = v; break;
    case SN_DTYPE_FLOAT16: ((guint16 *) p)[i] = sn_float_to_half ((float) v); break;
    case SN_DTYPE_INT8: ((int8_t *) p)[i] = SAT (int8_t, G_MININT8, G_MAXINT8, v); break;
    case SN_DTYPE_UINT8: ((guint8 *) p)[i] = SAT (guint8, 0, G_MAXUINT8, v); break;
    case SN_DTYPE_BOOL: ((guint8 *) p)[i] = v != 0; break;
    case SN_DTYPE_INT16: ((int16_t *) p)[i] = SAT (int16_t, G_MININT16, G_MAXINT16, v); break;
    case SN_DTYPE_UINT16: ((guint16 *) p)[i] = SAT (guint16, 0, G_MAXUINT16, v); break;
    case SN_DTYPE_INT32: ((int32_t *) p)[i] = SAT (int32_t, G_MININT32, G_MAXINT32, v); break;
    case SN_DTYPE_UINT32: ((guint32 *) p)[i] = SAT (guint32, 0, G_MAXUINT32, v); break;
    case SN_DTYPE_INT64: ((int64_t *) p)[i] = SAT (int64_t, G_MININT64, G_MAXINT64, v); break;
    case SN_DTYPE_UINT64: ((guint64 *) p)[i] = SAT (guint64, 0, G_MAXUINT64, v); break;
    default: break;
  }
}

static void
run_cast (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  int64_t n = sn_tensor_numel (in[0]);
  SnDType from = in[0]->dtype, to = out[0]->dtype;
  /* int64 <-> int64-like copies keep every bit (doubles would not). */
  if (from == to) {
    copy_all (in[0], out[0]);
    return;
  }
  if (from == SN_DTYPE_INT64 && to == SN_DTYPE_INT32) {
    for (int64_t i = 0; i < n; i++)
      ((int32_t *) out[0]->data)[i] = (int32_t) ((const int64_t *) in[0]->data)[i];
    return;
  }
  for (int64_t i = 0; i < n; i++)
    store_double (out[0]->data, to, i, load_as_double (in[0]->data, from, i));
}

/* ---- Comparisons and Where ---------------------------------------------------- */

typedef enum { CMP_EQ, CMP_LT, CMP_GT, CMP_LE, CMP_GE } CmpOp;

typedef struct {
  CmpOp op;
  int n;                        /* operands */
  int64_t strides[3][SN_MAX_DIMS];
  SnShape out;
} CmpParams;

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
prepare_cmp_op (SnNode *node, CmpOp op, GError **error)
{
  if (!sn_node_check_arity (node, 2, 2, 1, 1, error))
    return FALSE;
  if (node->inputs[0]->dtype != node->inputs[1]->dtype || !castable (node->inputs[0]->dtype)) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "inputs must share a numeric dtype");
    return FALSE;
  }
  CmpParams *p = g_new0 (CmpParams, 1);
  node->params = p;
  p->op = op;
  p->n = 2;
  if (!sn_shape_broadcast (&node->inputs[0]->shape, &node->inputs[1]->shape, &p->out)) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "shapes do not broadcast");
    return FALSE;
  }
  for (int k = 0; k < 2; k++)
    strides_for (&node->inputs[k]->shape, &p->out, p->strides[k]);
  sn_node_set_output (node, 0, SN_DTYPE_BOOL, &p->out);
  return TRUE;
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

static void
run_cmp (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const CmpParams *p = node->params;
  int64_t idx[SN_MAX_DIMS] = { 0 }, n = sn_shape_numel (&p->out);
  guint8 *y = out[0]->data;
  for (int64_t o = 0; o < n; o++) {
    double a = load_as_double (in[0]->data, in[0]->dtype, offset_of (idx, p->strides[0], p->out.rank));
    double b = load_as_double (in[1]->data, in[1]->dtype, offset_of (idx, p->strides[1], p->out.rank));
    switch (p->op) {
      case CMP_EQ: y[o] = a == b; break;
      case CMP_LT: y[o] = a < b; break;
      case CMP_GT: y[o] = a > b; break;
      case CMP_LE: y[o] = a <= b; break;
      case CMP_GE: y[o] = a >= b; break;
    }
    next_index (idx, &p->out);
  }
}

static gboolean prepare_equal (SnNode *n, GError **e) { return prepare_cmp_op (n, CMP_EQ, e); }
static gboolean prepare_less (SnNode *n, GError **e) { return prepare_cmp_op (n, CMP_LT, e); }
static gboolean prepare_greater (SnNode *n, GError **e) { return prepare_cmp_op (n, CMP_GT, e); }
static gboolean prepare_less_eq (SnNode *n, GError **e) { return prepare_cmp_op (n, CMP_LE, e); }
static gboolean prepare_greater_eq (SnNode *n, GError **e) { return prepare_cmp_op (n, CMP_GE, e); }

static gboolean
prepare_where (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 3, 3, 1, 1, error))
    return FALSE;
  if (node->inputs[0]->dtype != SN_DTYPE_BOOL || node->inputs[1]->dtype != node->inputs[2]->dtype
      || !require_sized (node, 1, error)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "needs a bool condition and two inputs of one dtype");
    return FALSE;
  }
  CmpParams *p = g_new0 (CmpParams, 1);
  node->params = p;
  p->n = 3;
  SnShape s;
  if (!sn_shape_broadcast (&node->inputs[0]->shape, &node->inputs[1]->shape, &s)
      || !sn_shape_broadcast (&s, &node->inputs[2]->shape, &p->out)) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "shapes do not broadcast");
    return FALSE;
  }
  for (int k = 0; k < 3; k++)
    strides_for (&node->inputs[k]->shape, &p->out, p->strides[k]);
  sn_node_set_output (node, 0, node->inputs[1]->dtype, &p->out);
  return TRUE;
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
    gboolean take_x = c[offset_of (idx, p->strides[0], p->out.rank)] != 0;
    int k = take_x ? 1 : 2;
    memcpy (y + o * es, (const guint8 *) in[k]->data + offset_of (idx, p->strides[k], p->out.rank) * es, es);
    next_index (idx, &p->out);
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
static const SnOpDef op_Tile = { "Tile", 6, prepare_tile, run_boxes, box_params_free };
static const SnOpDef op_DepthToSpace = { "DepthToSpace", 1, prepare_d2s, run_boxes, box_params_free };
static const SnOpDef op_SpaceToDepth = { "SpaceToDepth", 1, prepare_s2d, run_boxes, box_params_free };
static const SnOpDef op_Pad = { "Pad", 1, prepare_pad, run_pad, g_free };
static const SnOpDef op_Shape = { "Shape", 1, prepare_shape, run_shape, g_free };
static const SnOpDef op_Size = { "Size", 1, prepare_size, run_size, NULL };
static const SnOpDef op_ConstantOfShape = { "ConstantOfShape", 9, prepare_constant_of_shape, run_constant_of_shape, NULL };
static const SnOpDef op_Range = { "Range", 11, prepare_range, run_range, NULL };
static const SnOpDef op_Gather = { "Gather", 1, prepare_gather, run_gather, g_free };
static const SnOpDef op_Cast = { "Cast", 6, prepare_cast, run_cast, NULL };
static const SnOpDef op_Equal = { "Equal", 7, prepare_equal, run_cmp, g_free };
static const SnOpDef op_Less = { "Less", 7, prepare_less, run_cmp, g_free };
static const SnOpDef op_Greater = { "Greater", 7, prepare_greater, run_cmp, g_free };
static const SnOpDef op_LessOrEqual = { "LessOrEqual", 12, prepare_less_eq, run_cmp, g_free };
static const SnOpDef op_GreaterOrEqual = { "GreaterOrEqual", 12, prepare_greater_eq, run_cmp, g_free };
static const SnOpDef op_Where = { "Where", 9, prepare_where, run_where, g_free };

const SnOpDef *const sn_ops_shape[] = {
  &op_Reshape, &op_Flatten, &op_Squeeze, &op_Unsqueeze, &op_Transpose, &op_Slice,
  &op_Concat, &op_Split, &op_Expand, &op_Tile, &op_DepthToSpace, &op_SpaceToDepth,
  &op_Pad, &op_Shape, &op_Size, &op_ConstantOfShape, &op_Range, &op_Gather, &op_Cast,
  &op_Equal, &op_Less, &op_Greater, &op_LessOrEqual, &op_GreaterOrEqual, &op_Where,
  NULL,
};
