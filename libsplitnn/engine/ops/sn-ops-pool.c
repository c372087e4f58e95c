/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — reference kernels for pooling and reductions: MaxPool,
 * AveragePool, GlobalAveragePool, GlobalMaxPool, ReduceSum, ReduceMean,
 * ReduceMax, ReduceMin.
 *
 * Like the convolution kernels these are the oracle for faster paths: one
 * output element at a time, sums in double.  1-D and 2-D pooling run
 * through the 3-D loops with leading spatial axes of size 1. */
#include "sn-ops.h"

#include <float.h>
#include <math.h>
#include <string.h>

#define SPATIAL 3
#define ATTR_MAX ((int64_t) 1 << 30)

/* Reads INTS attribute NAME into out[0..n); absent (or empty) means DEF. */
static gboolean
read_ints (SnNode *node, const char *name, int n, int64_t lo, int64_t def,
    int64_t *out, GError **error)
{
  const SnAttr *a = sn_node_attr (node, name);

  if (!a || (a->type == SN_ATTR_INTS && a->n == 0)) {
    for (int i = 0; i < n; i++)
      out[i] = def;
    return TRUE;
  }
  if (a->type != SN_ATTR_INTS || a->n != n) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
        "attribute '%s' must be a list of %d integers", name, n);
    return FALSE;
  }
  for (int i = 0; i < n; i++) {
    if (a->ints[i] < lo) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
          "attribute '%s'[%d] is %" G_GINT64_FORMAT ", must be >= %" G_GINT64_FORMAT,
          name, i, a->ints[i], lo);
      return FALSE;
    }
    if (a->ints[i] > ATTR_MAX) {
      sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
          "attribute '%s'[%d] is %" G_GINT64_FORMAT ", larger than supported",
          name, i, a->ints[i]);
      return FALSE;
    }
    out[i] = a->ints[i];
  }
  return TRUE;
}

/* Kernel taps [*lo, *hi) of output position O whose input index
 * O * S - PB + tap * D lies inside [0, IN). */
static void
taps_in_range (int64_t o, int64_t s, int64_t pb, int64_t d, int64_t k,
    int64_t in, int64_t *lo, int64_t *hi)
{
  int64_t start = o * s - pb;
  int64_t a = start < 0 ? (-start + d - 1) / d : 0;
  int64_t b = in - 1 - start < 0 ? 0 : (in - 1 - start) / d + 1;

  b = MIN (b, k);
  *lo = MIN (a, b);
  *hi = b;
}

/* ------------------------------------------------------------------ */
/* MaxPool and AveragePool. */

typedef struct {
  int64_t planes;                   /* N * C */
  /* Spatial axes right-aligned into SPATIAL slots; unused ones are 1. */
  int64_t in[SPATIAL], out[SPATIAL], k[SPATIAL];
  int64_t stride[SPATIAL], dil[SPATIAL], pad[SPATIAL], pad_end[SPATIAL];
  gboolean count_include_pad;
  SnDType dtype;
} PoolParams;

static gboolean
pool_prepare (SnNode *node, gboolean is_max, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, is_max ? 2 : 1, error))
    return FALSE;
  if (node->n_outputs > 1 && node->outputs[1]) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "output 'Indices' ('%s') is not supported", node->outputs[1]->name);
    return FALSE;
  }

  const SnValue *xv = node->inputs[0];
  SnDType dt = xv->dtype;
  if (dt != SN_DTYPE_FLOAT32
      && !(is_max && (dt == SN_DTYPE_UINT8 || dt == SN_DTYPE_INT8))) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "input '%s' has dtype %s; supported: float32%s", xv->name,
        sn_dtype_name (dt), is_max ? ", uint8, int8" : "");
    return FALSE;
  }
  const SnShape *xs = &xv->shape;
  int nsp = xs->rank - 2;
  if (xs->rank < 3 || nsp > SPATIAL) {
    sn_node_set_error (error, node, xs->rank < 3 ? SN_ERROR_SHAPE
        : SN_ERROR_UNSUPPORTED, "input '%s' has rank %d; supported: N x C x "
        "1 to %d spatial axes", xv->name, xs->rank, SPATIAL);
    return FALSE;
  }

  if (!sn_node_attr (node, "kernel_shape")) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
        "required attribute 'kernel_shape' is missing");
    return FALSE;
  }
  int64_t ks[SPATIAL], st[SPATIAL], dl[SPATIAL], pads[2 * SPATIAL];
  if (!read_ints (node, "kernel_shape", nsp, 1, 1, ks, error)
      || !read_ints (node, "strides", nsp, 1, 1, st, error)
      || !read_ints (node, "dilations", nsp, 1, 1, dl, error)
      || !read_ints (node, "pads", 2 * nsp, 0, 0, pads, error))
    return FALSE;

  const char *auto_pad = sn_node_attr_string (node, "auto_pad", "NOTSET");
  gboolean same_upper = strcmp (auto_pad, "SAME_UPPER") == 0;
  gboolean same_lower = strcmp (auto_pad, "SAME_LOWER") == 0;
  gboolean valid = strcmp (auto_pad, "VALID") == 0;
  if (!same_upper && !same_lower && !valid && strcmp (auto_pad, "NOTSET") != 0) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "attribute 'auto_pad' has unknown value '%s'", auto_pad);
    return FALSE;
  }
  int64_t ceil_mode = sn_node_attr_int (node, "ceil_mode", 0);
  if (ceil_mode != 0 && ceil_mode != 1) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
        "attribute 'ceil_mode' is %" G_GINT64_FORMAT, ceil_mode);
    return FALSE;
  }
  /* Opsets and runtimes disagree on whether ceil_mode changes a VALID
   * output; refuse rather than guess. */
  if (ceil_mode && valid) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "attribute 'ceil_mode' = 1 with auto_pad VALID is not supported");
    return FALSE;
  }

  PoolParams p = {
    .planes = xs->dims[0] * xs->dims[1],
    .count_include_pad = sn_node_attr_int (node, "count_include_pad", 0) != 0,
    .dtype = dt,
  };
  for (int i = 0; i < SPATIAL; i++) {
    p.in[i] = p.out[i] = p.k[i] = p.stride[i] = p.dil[i] = 1;
    p.pad[i] = p.pad_end[i] = 0;
  }

  int off = SPATIAL - nsp;
  for (int i = 0; i < nsp; i++) {
    int64_t in = xs->dims[2 + i], s = st[i];
    int64_t extent = (ks[i] - 1) * dl[i] + 1;
    int64_t pb = pads[i], pe = pads[nsp + i], out;

    if (same_upper || same_lower) {
      out = (in + s - 1) / s;
      int64_t total = MAX (0, (out - 1) * s + extent - in);
      /* The odd pixel goes to the end for SAME_UPPER. */
      pb = same_upper ? total / 2 : total - total / 2;
      pe = total - pb;
    } else {
      if (valid)
        pb = pe = 0;
      /* A window lying wholly in the padding has nothing to pool. */
      if (pb >= extent || pe >= extent) {
        sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
            "spatial axis %d: pads %" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
            " reach the kernel extent %" G_GINT64_FORMAT, i, pb, pe, extent);
        return FALSE;
      }
      int64_t span = in + pb + pe - extent;
      if (span < 0) {
        sn_node_set_error (error, node, SN_ERROR_SHAPE,
            "spatial axis %d: padded input %" G_GINT64_FORMAT
            " is smaller than the kernel extent %" G_GINT64_FORMAT,
            i, in + pb + pe, extent);
        return FALSE;
      }
      out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
      /* The extra window ceil_mode adds must start inside the input or
       * the start padding (PyTorch and ONNX Runtime both drop it). */
      if (ceil_mode && (out - 1) * s >= in + pb)
        out--;
    }
    p.in[off + i] = in;
    p.out[off + i] = out;
    p.k[off + i] = ks[i];
    p.stride[off + i] = s;
    p.dil[off + i] = dl[i];
    p.pad[off + i] = pb;
    p.pad_end[off + i] = pe;
  }

  SnShape ys = *xs;
  for (int i = 0; i < nsp; i++)
    ys.dims[2 + i] = p.out[off + i];
  sn_node_set_output (node, 0, dt, &ys);

  /* One per input element read. */
  node->flops = (double) sn_shape_numel (&ys)
      * (double) (p.k[0] * p.k[1] * p.k[2]);
  node->params = g_memdup2 (&p, sizeof p);
  return TRUE;
}

static gboolean
max_pool_prepare (SnNode *node, GError **error)
{
  return pool_prepare (node, TRUE, error);
}

static gboolean
average_pool_prepare (SnNode *node, GError **error)
{
  return pool_prepare (node, FALSE, error);
}

/* The in-range taps of one pooling window: [lo, hi) per axis, and the
 * input coordinate of tap 0 (which may lie in the padding). */
typedef struct {
  int64_t lo[SPATIAL], hi[SPATIAL], start[SPATIAL];
} Window;

static void
pool_window (const PoolParams *p, const int64_t o[SPATIAL], Window *w)
{
  for (int i = 0; i < SPATIAL; i++) {
    w->start[i] = o[i] * p->stride[i] - p->pad[i];
    taps_in_range (o[i], p->stride[i], p->pad[i], p->dil[i], p->k[i],
        p->in[i], &w->lo[i], &w->hi[i]);
  }
}

/* Index within a plane of the input element under tap (kd, kh, kw). */
static inline int64_t
tap_index (const PoolParams *p, const Window *w, int64_t kd, int64_t kh,
    int64_t kw)
{
  return ((w->start[0] + kd * p->dil[0]) * p->in[1]
      + w->start[1] + kh * p->dil[1]) * p->in[2]
      + w->start[2] + kw * p->dil[2];
}

/* Taps that fall in the padding never take part in the maximum; a window
 * with no tap inside the input (possible only with dilations) yields the
 * type's lowest value. */
#define DEFINE_MAX_POOL(name, T, LOWEST) \
static void \
name (const PoolParams *p, const T *x, T *y) \
{ \
  int64_t in_vol = p->in[0] * p->in[1] * p->in[2]; \
  int64_t o[SPATIAL]; \
  Window w; \
  for (int64_t pl = 0; pl < p->planes; pl++) { \
    const T *xp = x + pl * in_vol; \
    for (o[0] = 0; o[0] < p->out[0]; o[0]++) \
      for (o[1] = 0; o[1] < p->out[1]; o[1]++) \
        for (o[2] = 0; o[2] < p->out[2]; o[2]++) { \
          pool_window (p, o, &w); \
          T m = LOWEST; \
          for (int64_t kd = w.lo[0]; kd < w.hi[0]; kd++) \
            for (int64_t kh = w.lo[1]; kh < w.hi[1]; kh++) \
              for (int64_t kw = w.lo[2]; kw < w.hi[2]; kw++) { \
                T v = xp[tap_index (p, &w, kd, kh, kw)]; \
                if (v > m) \
                  m = v; \
              } \
          *y++ = m; \
        } \
  } \
}

DEFINE_MAX_POOL (max_pool_f32, float, -FLT_MAX)
DEFINE_MAX_POOL (max_pool_u8, uint8_t, 0)
DEFINE_MAX_POOL (max_pool_i8, int8_t, INT8_MIN)

static void
max_pool_run (const SnNode *node, const SnTensor *const *in,
    SnTensor *const *out, SnExec *exec)
{
  const PoolParams *p = node->params;

  switch (p->dtype) {
    case SN_DTYPE_UINT8:
      max_pool_u8 (p, in[0]->data, out[0]->data);
      break;
    case SN_DTYPE_INT8:
      max_pool_i8 (p, in[0]->data, out[0]->data);
      break;
    default:
      max_pool_f32 (p, in[0]->data, out[0]->data);
      break;
  }
}

/* Taps counted by count_include_pad: those on the input or on the
 * explicit (or SAME) padding, but not past it, where only ceil_mode puts
 * them. */
static int64_t
padded_tap_count (const PoolParams *p, const int64_t o[SPATIAL])
{
  int64_t count = 1;
  for (int i = 0; i < SPATIAL; i++) {
    int64_t lo, hi;
    taps_in_range (o[i], p->stride[i], 0, p->dil[i], p->k[i],
        p->in[i] + p->pad[i] + p->pad_end[i], &lo, &hi);
    count *= hi - lo;
  }
  return count;
}

static void
average_pool_run (const SnNode *node, const SnTensor *const *in,
    SnTensor *const *out, SnExec *exec)
{
  const PoolParams *p = node->params;
  const float *x = in[0]->data;
  float *y = out[0]->data;
  int64_t in_vol = p->in[0] * p->in[1] * p->in[2];
  int64_t o[SPATIAL];
  Window w;

  for (int64_t pl = 0; pl < p->planes; pl++) {
    const float *xp = x + pl * in_vol;
    for (o[0] = 0; o[0] < p->out[0]; o[0]++)
      for (o[1] = 0; o[1] < p->out[1]; o[1]++)
        for (o[2] = 0; o[2] < p->out[2]; o[2]++) {
          pool_window (p, o, &w);
          double sum = 0.0;
          for (int64_t kd = w.lo[0]; kd < w.hi[0]; kd++)
            for (int64_t kh = w.lo[1]; kh < w.hi[1]; kh++)
              for (int64_t kw = w.lo[2]; kw < w.hi[2]; kw++)
                sum += xp[tap_index (p, &w, kd, kh, kw)];
          int64_t count = p->count_include_pad ? padded_tap_count (p, o)
              : (w.hi[0] - w.lo[0]) * (w.hi[1] - w.lo[1]) * (w.hi[2] - w.lo[2]);
          *y++ = count > 0 ? (float) (sum / (double) count) : NAN;
        }
  }
}

static const SnOpDef op_max_pool = {
  .op_type = "MaxPool",
  .since_opset = 1,
  .prepare = max_pool_prepare,
  .run = max_pool_run,
  .free_params = g_free,
};

static const SnOpDef op_average_pool = {
  .op_type = "AveragePool",
  .since_opset = 1,
  .prepare = average_pool_prepare,
  .run = average_pool_run,
  .free_params = g_free,
};

/* ------------------------------------------------------------------ */
/* GlobalAveragePool and GlobalMaxPool: one value per (n, c) plane. */

typedef struct {
  int64_t planes, plane_size;
} GlobalPoolParams;

static gboolean
global_pool_prepare (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error)
      || !sn_node_require_float (node, 0, error))
    return FALSE;
  const SnShape *xs = &node->inputs[0]->shape;
  if (xs->rank < 2) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE,
        "input '%s' has rank %d; expected N x C x ...", node->inputs[0]->name,
        xs->rank);
    return FALSE;
  }
  GlobalPoolParams p = { .planes = xs->dims[0] * xs->dims[1], .plane_size = 1 };
  SnShape ys = *xs;
  for (int i = 2; i < xs->rank; i++) {
    p.plane_size *= xs->dims[i];
    ys.dims[i] = 1;
  }
  sn_node_set_output (node, 0, SN_DTYPE_FLOAT32, &ys);
  node->flops = (double) sn_shape_numel (xs);
  node->params = g_memdup2 (&p, sizeof p);
  return TRUE;
}

static void
global_average_pool_run (const SnNode *node, const SnTensor *const *in,
    SnTensor *const *out, SnExec *exec)
{
  const GlobalPoolParams *p = node->params;
  const float *x = in[0]->data;
  float *y = out[0]->data;

  for (int64_t pl = 0; pl < p->planes; pl++) {
    double sum = 0.0;
    for (int64_t i = 0; i < p->plane_size; i++)
      sum += x[pl * p->plane_size + i];
    y[pl] = p->plane_size > 0 ? (float) (sum / (double) p->plane_size) : NAN;
  }
}

static void
global_max_pool_run (const SnNode *node, const SnTensor *const *in,
    SnTensor *const *out, SnExec *exec)
{
  const GlobalPoolParams *p = node->params;
  const float *x = in[0]->data;
  float *y = out[0]->data;

  for (int64_t pl = 0; pl < p->planes; pl++) {
    float m = -INFINITY;
    for (int64_t i = 0; i < p->plane_size; i++)
      if (x[pl * p->plane_size + i] > m)
        m = x[pl * p->plane_size + i];
    y[pl] = m;
  }
}

static const SnOpDef op_global_average_pool = {
  .op_type = "GlobalAveragePool",
  .since_opset = 1,
  .prepare = global_pool_prepare,
  .run = global_average_pool_run,
  .free_params = g_free,
};

static const SnOpDef op_global_max_pool = {
  .op_type = "GlobalMaxPool",
  .since_opset = 1,
  .prepare = global_pool_prepare,
  .run = global_max_pool_run,
  .free_params = g_free,
};

/* ------------------------------------------------------------------ */
/* ReduceSum, ReduceMean, ReduceMax, ReduceMin and the rest of the Reduce
 * family (Prod, L1, L2, LogSum, LogSumExp, SumSquare), which differ only in
 * how elements combine. */

typedef enum {
  REDUCE_SUM,
  REDUCE_MEAN,
  REDUCE_MAX,
  REDUCE_MIN,
  REDUCE_PROD,
  REDUCE_L1,
  REDUCE_L2,
  REDUCE_LOG_SUM,
  REDUCE_LOG_SUM_EXP,
  REDUCE_SUM_SQUARE,
} ReduceKind;

/* Integer inputs are taken where the result stays an exact integer. */
static gboolean
reduce_takes_ints (ReduceKind kind)
{
  return kind == REDUCE_SUM || kind == REDUCE_MAX || kind == REDUCE_MIN
      || kind == REDUCE_PROD;
}

typedef struct {
  ReduceKind kind;
  SnDType dtype;
  gboolean copy;            /* noop_with_empty_axes and no axes given */
  int64_t numel;            /* of the input */
  /* The input's axes, size-1 ones dropped and neighbours of the same kind
   * merged, split into kept and reduced groups with element strides. */
  int n_keep, n_red;
  int64_t keep_dims[SN_MAX_DIMS], keep_strides[SN_MAX_DIMS];
  int64_t red_dims[SN_MAX_DIMS], red_strides[SN_MAX_DIMS];
  int64_t n_out, n_red_elems;
} ReduceParams;

static gboolean
reduce_prepare (SnNode *node, ReduceKind kind, GError **error)
{
  /* axes moved from attribute to input: ReduceSum in 13, the rest in 18. */
  gboolean axes_input = node->opset >= (kind == REDUCE_SUM ? 13 : 18);
  if (!sn_node_check_arity (node, 1, axes_input ? 2 : 1, 1, 1, error))
    return FALSE;

  const SnValue *xv = node->inputs[0];
  SnDType dt = xv->dtype;
  if (dt != SN_DTYPE_FLOAT32 && !(reduce_takes_ints (kind)
          && (dt == SN_DTYPE_INT32 || dt == SN_DTYPE_INT64))) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "input '%s' has dtype %s; supported: float32%s", xv->name,
        sn_dtype_name (dt), reduce_takes_ints (kind) ? ", int32, int64" : "");
    return FALSE;
  }

  const SnShape *xs = &xv->shape;
  int64_t axes[SN_MAX_DIMS];
  int n_axes = 0;
  if (axes_input) {
    /* Silently ignoring a stale attribute would reduce every axis. */
    if (sn_node_attr (node, "axes")) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
          "attribute 'axes' is not allowed in opset %d; axes are input 1",
          node->opset);
      return FALSE;
    }
    if (node->n_inputs > 1 && node->inputs[1]) {
      n_axes = sn_node_const_ints (node, 1, axes, SN_MAX_DIMS, error);
      if (n_axes < 0)
        return FALSE;
    }
  } else {
    const int64_t *a;
    n_axes = sn_node_attr_ints (node, "axes", &a);
    if (n_axes > SN_MAX_DIMS) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
          "attribute 'axes' lists %d axes", n_axes);
      return FALSE;
    }
    if (n_axes > 0)
      memcpy (axes, a, n_axes * sizeof (int64_t));
  }
  gboolean keepdims = sn_node_attr_int (node, "keepdims", 1) != 0;
  gboolean noop = axes_input
      && sn_node_attr_int (node, "noop_with_empty_axes", 0) != 0;

  ReduceParams p = {
    .kind = kind,
    .dtype = dt,
    .numel = sn_shape_numel (xs),
    .n_out = 1,
    .n_red_elems = 1,
  };
  gboolean reduced[SN_MAX_DIMS] = { FALSE };
  if (n_axes == 0) {
    if (noop)
      p.copy = TRUE;
    else
      for (int i = 0; i < xs->rank; i++)
        reduced[i] = TRUE;
  }
  for (int i = 0; i < n_axes; i++) {
    int64_t ax = axes[i];
    if (!sn_axis_normalize (&ax, xs->rank) || reduced[ax]) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
          "axis %" G_GINT64_FORMAT " is out of range for rank %d or repeated",
          axes[i], xs->rank);
      return FALSE;
    }
    reduced[ax] = TRUE;
  }

  SnShape ys = { .rank = 0 };
  if (p.copy)
    ys = *xs;
  else
    for (int i = 0; i < xs->rank; i++) {
      if (!reduced[i])
        ys.dims[ys.rank++] = xs->dims[i];
      else if (keepdims)
        ys.dims[ys.rank++] = 1;
    }

  /* Group the axes from the innermost out; a run of same-kind axes is one
   * axis with the innermost stride. */
  int64_t stride = 1;
  int last = -1;                /* kind of the previous group: 0 keep, 1 reduce */
  int64_t keep_rev[SN_MAX_DIMS], keep_srev[SN_MAX_DIMS];
  int64_t red_rev[SN_MAX_DIMS], red_srev[SN_MAX_DIMS];
  for (int i = xs->rank - 1; i >= 0; i--) {
    int64_t dim = xs->dims[i];
    if (dim != 1) {
      int kind_i = reduced[i] ? 1 : 0;
      int64_t *dims = kind_i ? red_rev : keep_rev;
      int64_t *strides = kind_i ? red_srev : keep_srev;
      int *n = kind_i ? &p.n_red : &p.n_keep;
      if (last == kind_i)
        dims[*n - 1] *= dim;
      else {
        dims[*n] = dim;
        strides[*n] = stride;
        (*n)++;
      }
      last = kind_i;
      if (kind_i)
        p.n_red_elems *= dim;
      else
        p.n_out *= dim;
    }
    stride *= dim;
  }
  for (int i = 0; i < p.n_keep; i++) {
    p.keep_dims[i] = keep_rev[p.n_keep - 1 - i];
    p.keep_strides[i] = keep_srev[p.n_keep - 1 - i];
  }
  for (int i = 0; i < p.n_red; i++) {
    p.red_dims[i] = red_rev[p.n_red - 1 - i];
    p.red_strides[i] = red_srev[p.n_red - 1 - i];
  }
  sn_node_set_output (node, 0, dt, &ys);
  node->flops = (double) p.numel;
  node->params = g_memdup2 (&p, sizeof p);
  return TRUE;
}

/* Element offset of linear index IDX over DIMS laid out with STRIDES. */
static inline int64_t
strided_offset (int64_t idx, int n, const int64_t *dims, const int64_t *strides)
{
  int64_t off = 0;
  for (int i = n - 1; i >= 0; i--) {
    off += idx % dims[i] * strides[i];
    idx /= dims[i];
  }
  return off;
}

static void
reduce_f32 (const ReduceParams *p, const float *x, float *y)
{
  for (int64_t o = 0; o < p->n_out; o++) {
    int64_t base = strided_offset (o, p->n_keep, p->keep_dims, p->keep_strides);
    double acc = p->kind == REDUCE_PROD ? 1.0 : 0.0;
    double m = p->kind == REDUCE_MIN ? INFINITY : -INFINITY;

    /* LogSumExp shifts by the maximum so that exp() cannot overflow. */
    if (p->kind == REDUCE_MAX || p->kind == REDUCE_MIN
        || p->kind == REDUCE_LOG_SUM_EXP) {
      for (int64_t r = 0; r < p->n_red_elems; r++) {
        float v = x[base + strided_offset (r, p->n_red, p->red_dims, p->red_strides)];
        /* A NaN sticks, as in NumPy. */
        if (isnan (v) || (p->kind == REDUCE_MIN ? v < m : v > m))
          m = v;
      }
    }
    for (int64_t r = 0; p->kind != REDUCE_MAX && p->kind != REDUCE_MIN
        && r < p->n_red_elems; r++) {
      double v = x[base + strided_offset (r, p->n_red, p->red_dims, p->red_strides)];
      switch (p->kind) {
        case REDUCE_PROD:
          acc *= v;
          break;
        case REDUCE_L1:
          acc += fabs (v);
          break;
        case REDUCE_L2:
        case REDUCE_SUM_SQUARE:
          acc += v * v;
          break;
        case REDUCE_LOG_SUM_EXP:
          acc += exp (v - m);
          break;
        default:                /* SUM, MEAN, LOG_SUM */
          acc += v;
          break;
      }
    }

    switch (p->kind) {
      case REDUCE_MAX:
      case REDUCE_MIN:
        acc = m;
        break;
      case REDUCE_MEAN:
        acc = p->n_red_elems > 0 ? acc / (double) p->n_red_elems : NAN;
        break;
      case REDUCE_L2:
        acc = sqrt (acc);
        break;
      case REDUCE_LOG_SUM:
        acc = log (acc);
        break;
      case REDUCE_LOG_SUM_EXP:
        /* All -inf (or an empty set) gives -inf, any +inf gives +inf. */
        acc = isinf (m) ? m : m + log (acc);
        break;
      default:
        break;
    }
    y[o] = (float) acc;
  }
}

/* Integer sums and products wrap like the runtimes' do, through unsigned
 * arithmetic so that overflow is defined. */
#define DEFINE_REDUCE_INT(name, T, TMIN, TMAX) \
static void \
name (const ReduceParams *p, const T *x, T *y) \
{ \
  for (int64_t o = 0; o < p->n_out; o++) { \
    int64_t base = strided_offset (o, p->n_keep, p->keep_dims, p->keep_strides); \
    uint64_t sum = 0, prod = 1; \
    T m = p->kind == REDUCE_MAX ? TMIN : TMAX; \
    for (int64_t r = 0; r < p->n_red_elems; r++) { \
      T v = x[base + strided_offset (r, p->n_red, p->red_dims, p->red_strides)]; \
      sum += (uint64_t) v; \
      prod *= (uint64_t) v; \
      if (p->kind == REDUCE_MAX ? v > m : v < m) \
        m = v; \
    } \
    y[o] = p->kind == REDUCE_SUM ? (T) sum \
        : p->kind == REDUCE_PROD ? (T) prod : m; \
  } \
}

DEFINE_REDUCE_INT (reduce_i32, int32_t, INT32_MIN, INT32_MAX)
DEFINE_REDUCE_INT (reduce_i64, int64_t, INT64_MIN, INT64_MAX)

static void
reduce_run (const SnNode *node, const SnTensor *const *in,
    SnTensor *const *out, SnExec *exec)
{
  const ReduceParams *p = node->params;

  if (p->copy) {
    memcpy (out[0]->data, in[0]->data, p->numel * sn_dtype_size (p->dtype));
    return;
  }
  switch (p->dtype) {
    case SN_DTYPE_INT32:
      reduce_i32 (p, in[0]->data, out[0]->data);
      break;
    case SN_DTYPE_INT64:
      reduce_i64 (p, in[0]->data, out[0]->data);
      break;
    default:
      reduce_f32 (p, in[0]->data, out[0]->data);
      break;
  }
}

#define DEFINE_REDUCE_OP(var, name, kind) \
static gboolean \
var##_prepare (SnNode *node, GError **error) \
{ \
  return reduce_prepare (node, kind, error); \
} \
static const SnOpDef var = { \
  .op_type = name, \
  .since_opset = 1, \
  .prepare = var##_prepare, \
  .run = reduce_run, \
  .free_params = g_free, \
};

DEFINE_REDUCE_OP (op_reduce_sum, "ReduceSum", REDUCE_SUM)
DEFINE_REDUCE_OP (op_reduce_mean, "ReduceMean", REDUCE_MEAN)
DEFINE_REDUCE_OP (op_reduce_max, "ReduceMax", REDUCE_MAX)
DEFINE_REDUCE_OP (op_reduce_min, "ReduceMin", REDUCE_MIN)
DEFINE_REDUCE_OP (op_reduce_prod, "ReduceProd", REDUCE_PROD)
DEFINE_REDUCE_OP (op_reduce_l1, "ReduceL1", REDUCE_L1)
DEFINE_REDUCE_OP (op_reduce_l2, "ReduceL2", REDUCE_L2)
DEFINE_REDUCE_OP (op_reduce_log_sum, "ReduceLogSum", REDUCE_LOG_SUM)
DEFINE_REDUCE_OP (op_reduce_log_sum_exp, "ReduceLogSumExp", REDUCE_LOG_SUM_EXP)
DEFINE_REDUCE_OP (op_reduce_sum_square, "ReduceSumSquare", REDUCE_SUM_SQUARE)

const SnOpDef *const sn_ops_pool[] = {
  &op_max_pool,
  &op_average_pool,
  &op_global_average_pool,
  &op_global_max_pool,
  &op_reduce_sum,
  &op_reduce_mean,
  &op_reduce_max,
  &op_reduce_min,
  &op_reduce_prod,
  &op_reduce_l1,
  &op_reduce_l2,
  &op_reduce_log_sum,
  &op_reduce_log_sum_exp,
  &op_reduce_sum_square,
  NULL,
};
