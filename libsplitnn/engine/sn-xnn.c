/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — XNNPACK fast path (see sn-xnn.h).
 *
 * Layouts.  A 4-D value inside a run is normally an NHWC XNNPACK value
 * (LAYOUT_NHWC); a Transpose to or from NHWC only relabels it as the
 * other value, in the engine's own layout (LAYOUT_NATIVE).  Values of any
 * other rank have one layout, the engine's.  A value coming from outside
 * the run is an XNNPACK external input, staged through a buffer when it is
 * 4-D and wanted in NHWC; a value read after the run is an external output
 * written straight into the engine's tensor, or staged and transposed back.
 *
 * Scales.  MobileNetV3 exports spell hard-swish as (x * a) * relu6 (x + 3)
 * with a = 1/6 rounded through float16 (0.16662598), not 1/6.  The pattern
 * becomes HardSwish, whose output then lacks the factor 6a; rather than a
 * full pass to multiply it back, the value carries the factor in its
 * binding and the next Conv multiplies its weights by it.  Linear consumers
 * (Mul, GlobalAveragePool) pass it on; any other consumer, and the run's
 * outputs, get the value multiplied back first. */
#include "engine/sn-xnn.h"
#include "engine/sn-pool.h"
#include "engine/sn-dwconv.h"
#include "engine/sn-gemm.h"

#include <math.h>
#include <string.h>

#ifdef SPLITNN_HAVE_XNNPACK
#include <pthreadpool.h>
#include <xnnpack.h>
#endif

#ifndef SPLITNN_HAVE_XNNPACK

gboolean sn_xnn_available (void) { return FALSE; }
gboolean sn_xnn_can_lower (const SnNode *node) { return FALSE; }
SnXnnRun *
sn_xnn_run_new (SnNode *const *nodes, int first, int last, SnTensor *const *tensors,
    const guint8 *outside, void *pool, GError **error)
{
  g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED, "built without XNNPACK");
  return NULL;
}
gboolean sn_xnn_run_invoke (SnXnnRun *run, GError **error) { return FALSE; }
void sn_xnn_run_free (SnXnnRun *run) { }
void *sn_xnn_pool_new (int n_threads) { return NULL; }
void sn_xnn_pool_free (void *pool) { }

#else

gboolean
sn_xnn_available (void)
{
  static gsize once = 0;
  static gboolean ok = FALSE;
  if (g_once_init_enter (&once)) {
    ok = xnn_initialize (NULL) == xnn_status_success;
    if (!ok)
      g_warning ("splitnn: XNNPACK does not initialise on this CPU; using reference kernels");
    g_once_init_leave (&once, 1);
  }
  return ok;
}

/* One pool per thread count for the whole process, shared by every
 * segment that asks for that count (sn-pool.c: libsplitnn's own pool, which
 * XNNPACK calls through pthreadpool's entry points).  Debian's pthreadpool,
 * used before, had its workers spin for a while after each job before they
 * slept; with a pool per segment, the
 * edge segment's idle workers were still spinning when the cloud segment's
 * pool started (and the other way round), and on two cores a split path at
 * 2 threads ran at half speed (bench/stages: cloud part of cut 4 14 ms
 * alone, 30 ms right after its edge part).  A shared pool's workers are the
 * ones that run the next job.  The pool serialises parallel jobs on one
 * pool (its execution mutex), so segments running at the same time in
 * different threads take turns per operator instead of fighting for the
 * cores. */
#define MAX_SHARED_POOLS 64
static GMutex pools_lock;
static struct {
  SnPool *pool;
  int refs;
} shared_pools[MAX_SHARED_POOLS + 1];

void *
sn_xnn_pool_new (int n_threads)
{
  if (n_threads <= 1)
    return NULL;
  if (n_threads > MAX_SHARED_POOLS)
    return sn_pool_new (n_threads);
  g_mutex_lock (&pools_lock);
  if (!shared_pools[n_threads].pool)
    shared_pools[n_threads].pool = sn_pool_new (n_threads);
  SnPool *pool = shared_pools[n_threads].pool;
  if (pool)
    shared_pools[n_threads].refs++;
  g_mutex_unlock (&pools_lock);
  return pool;
}

void
sn_xnn_pool_free (void *pool)
{
  if (!pool)
    return;
  g_mutex_lock (&pools_lock);
  for (int n = 2; n <= MAX_SHARED_POOLS; n++)
    if (shared_pools[n].pool == pool) {
      /* The last user stops the workers: no threads linger after every
       * segment is freed. */
      if (--shared_pools[n].refs == 0) {
        sn_pool_free (pool);
        shared_pools[n].pool = NULL;
      }
      g_mutex_unlock (&pools_lock);
      return;
    }
  g_mutex_unlock (&pools_lock);
  sn_pool_free (pool);
}

/* ---- What can be lowered -------------------------------------------------------- */

static gboolean
op_is (const SnNode *n, const char *op)
{
  return strcmp (n->op_type, op) == 0;
}

/* float32 with a static, non-empty shape XNNPACK can describe. */
static gboolean
is_f32 (const SnValue *v)
{
  if (!v || v->dtype != SN_DTYPE_FLOAT32 || !v->shape_known || v->shape.rank > XNN_MAX_TENSOR_DIMS)
    return FALSE;
  for (int i = 0; i < v->shape.rank; i++)
    if (v->shape.dims[i] <= 0)
      return FALSE;
  return TRUE;
}

static gboolean
is_var (const SnValue *v)
{
  return is_f32 (v) && !v->constant && v->shape.rank >= 1;
}

static gboolean
is_var4 (const SnValue *v)
{
  return is_var (v) && v->shape.rank == 4;
}

static gboolean
is_const (const SnValue *v)
{
  return is_f32 (v) && v->constant;
}

/* NCHW and NHWC order the elements of this 4-D shape the same way. */
static gboolean
order_neutral (const SnValue *v)
{
  return v->shape.rank != 4 || v->shape.dims[1] == 1 || v->shape.dims[2] * v->shape.dims[3] == 1;
}

static gboolean
const_scalar (const SnValue *v, float *out)
{
  if (!v || !v->constant || v->dtype != SN_DTYPE_FLOAT32 || sn_tensor_numel (v->constant) != 1)
    return FALSE;
  *out = *(const float *) v->constant->data;
  return TRUE;
}

static gboolean
only_first_output (const SnNode *n)
{
  for (int i = 1; i < n->n_outputs; i++)
    if (n->outputs[i])
      return FALSE;
  return n->n_outputs >= 1 && n->outputs[0];
}

static gboolean
clamp_bounds (const SnNode *n, float *lo, float *hi)
{
  *lo = -INFINITY;
  *hi = INFINITY;
  if (op_is (n, "Relu")) {
    *lo = 0;
    return TRUE;
  }
  if (!op_is (n, "Clip"))
    return FALSE;
  if (n->opset < 11) {
    *lo = sn_node_attr_float (n, "min", -INFINITY);
    *hi = sn_node_attr_float (n, "max", INFINITY);
  } else {
    if (n->n_inputs > 1 && n->inputs[1] && !const_scalar (n->inputs[1], lo))
      return FALSE;
    if (n->n_inputs > 2 && n->inputs[2] && !const_scalar (n->inputs[2], hi))
      return FALSE;
  }
  return *lo <= *hi && !isnan (*lo) && !isnan (*hi);
}

static gboolean
perm_is (const SnNode *n, const int64_t *want)
{
  const int64_t *perm;
  if (sn_node_attr_ints (n, "perm", &perm) != 4)
    return FALSE;
  for (int i = 0; i < 4; i++)
    if (perm[i] != want[i])
      return FALSE;
  return TRUE;
}

static const int64_t TO_NCHW[4] = { 0, 3, 1, 2 }, TO_NHWC[4] = { 0, 2, 3, 1 };

static const char *const unary_ops[] = {
  "Relu", "Clip", "Sigmoid", "HardSwish", "HardSigmoid", "Abs", "Neg", "Floor", "Ceil",
  "Sqrt", "Round", "LeakyRelu", "Elu", "Identity",
};

static const char *const binary_ops[] = { "Add", "Sub", "Mul", "Div", "Max", "Min" };

static gboolean
in_list (const char *op, const char *const *list, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (op, list[i]) == 0)
      return TRUE;
  return FALSE;
}

/* Binary arithmetic: with a 4-D result everything is NHWC (constants of
 * rank <= 4 are permuted to match), otherwise everything is native; a 4-D
 * operand of a result of another rank would need a layout we cannot tell. */
static gboolean
binary_ok (const SnNode *n)
{
  if (n->n_inputs != 2 || !is_f32 (n->inputs[0]) || !is_f32 (n->inputs[1]))
    return FALSE;
  if (n->inputs[0]->constant && n->inputs[1]->constant)
    return FALSE;
  const SnValue *y = n->outputs[0];
  if (y->shape.rank < 1)
    return FALSE;
  for (int i = 0; i < 2; i++) {
    const SnValue *v = n->inputs[i];
    if (y->shape.rank == 4 ? !v->constant && v->shape.rank != 4 : v->shape.rank == 4)
      return FALSE;
  }
  return TRUE;
}

typedef struct {
  int64_t kh, kw, sh, sw, dh, dw;
  int64_t pt, pl, pb, pr;       /* the node's own padding */
  int64_t xb, xr;               /* extra end padding that gives ceil_mode's size */
} Window;

/* Begin padding of one spatial axis (end padding in *end), from pads or
 * auto_pad, for Conv and the pools alike. */
static int64_t
axis_pads (const SnNode *n, int64_t in, int axis, int64_t k, int64_t stride, int64_t dil,
    int64_t *end)
{
  const char *auto_pad = sn_node_attr_string (n, "auto_pad", "NOTSET");
  const int64_t *pads;
  int np = sn_node_attr_ints (n, "pads", &pads);
  if (strcmp (auto_pad, "SAME_UPPER") == 0 || strcmp (auto_pad, "SAME_LOWER") == 0) {
    int64_t out = (in + stride - 1) / stride;
    int64_t total = MAX ((out - 1) * stride + (k - 1) * dil + 1 - in, 0);
    int64_t small = total / 2, big = total - small;
    gboolean upper = strcmp (auto_pad, "SAME_UPPER") == 0;
    *end = upper ? big : small;
    return upper ? small : big;
  }
  if (strcmp (auto_pad, "VALID") == 0 || np != 4) {
    *end = 0;
    return 0;
  }
  *end = pads[2 + axis];
  return pads[axis];
}

/* The 2-D window of a Conv (kernel from the weights) or pool (kernel_shape),
 * checked against the output shape the reference kernels computed: XNNPACK
 * must produce exactly that, with extra end padding standing in for
 * ceil_mode.  FALSE when it cannot. */
static gboolean
window_of (const SnNode *n, int64_t kh, int64_t kw, Window *w)
{
  const SnShape *x = &n->inputs[0]->shape, *y = &n->outputs[0]->shape;
  const int64_t *st, *dl;
  w->kh = kh;
  w->kw = kw;
  w->sh = w->sw = w->dh = w->dw = 1;
  if (sn_node_attr_ints (n, "strides", &st) == 2) {
    w->sh = st[0];
    w->sw = st[1];
  }
  if (sn_node_attr_ints (n, "dilations", &dl) == 2) {
    w->dh = dl[0];
    w->dw = dl[1];
  }
  if (kh < 1 || kw < 1 || w->sh < 1 || w->sw < 1 || w->dh < 1 || w->dw < 1
      || kh > G_MAXUINT32 || kw > G_MAXUINT32)
    return FALSE;
  w->pt = axis_pads (n, x->dims[2], 0, kh, w->sh, w->dh, &w->pb);
  w->pl = axis_pads (n, x->dims[3], 1, kw, w->sw, w->dw, &w->pr);
  if (w->pt < 0 || w->pb < 0 || w->pl < 0 || w->pr < 0)
    return FALSE;
  w->xb = w->xr = 0;
  for (int axis = 0; axis < 2; axis++) {
    int64_t in = x->dims[2 + axis], out = y->dims[2 + axis];
    int64_t k = axis ? kw : kh, s = axis ? w->sw : w->sh, d = axis ? w->dw : w->dh;
    int64_t pads = axis ? w->pl + w->pr : w->pt + w->pb;
    int64_t extent = (k - 1) * d + 1, span = in + pads - extent;
    int64_t extra = MAX (0, (out - 1) * s - span);
    if (span < 0 || (span + extra) / s + 1 != out)
      return FALSE;
    *(axis ? &w->xr : &w->xb) = extra;
  }
  return TRUE;
}

static gboolean
pool_ok (const SnNode *n, Window *w)
{
  const int64_t *ks;
  if (!is_var4 (n->inputs[0]) || sn_node_attr_ints (n, "kernel_shape", &ks) != 2)
    return FALSE;
  if (!window_of (n, ks[0], ks[1], w) || ks[0] * ks[1] < 2)
    return FALSE;
  if (op_is (n, "MaxPool")) {
    /* XNNPACK clamps padded taps to the edge; with dilation an edge pixel
     * may not be a tap of the window it lands in. */
    gboolean padded = w->pt || w->pb || w->pl || w->pr || w->xb || w->xr;
    return !(padded && (w->dh > 1 || w->dw > 1));
  }
  return w->dh == 1 && w->dw == 1;
}

static gboolean
resize_ok (const SnNode *n)
{
  const SnValue *x = n->inputs[0], *y = n->outputs[0];
  if (n->opset < 11 || !is_var4 (x) || !is_f32 (y) || y->shape.rank != 4)
    return FALSE;
  if (x->shape.dims[0] != y->shape.dims[0] || x->shape.dims[1] != y->shape.dims[1])
    return FALSE;
  if (strcmp (sn_node_attr_string (n, "mode", "nearest"), "linear") != 0
      || sn_node_attr_int (n, "antialias", 0) != 0 || sn_node_attr (n, "axes")
      || y->shape.dims[2] > G_MAXUINT32 || y->shape.dims[3] > G_MAXUINT32)
    return FALSE;
  /* XNNPACK derives the scale from the sizes; ONNX uses the given scale,
   * which differs when scale * size is not a whole number. */
  const SnValue *sc = n->n_inputs > 2 ? n->inputs[2] : NULL;
  if (sc && sc->constant && sn_tensor_numel (sc->constant) > 0) {
    if (sc->dtype != SN_DTYPE_FLOAT32 || sn_tensor_numel (sc->constant) != 4)
      return FALSE;
    const float *f = sc->constant->data;
    if ((double) f[2] * x->shape.dims[2] != (double) y->shape.dims[2]
        || (double) f[3] * x->shape.dims[3] != (double) y->shape.dims[3])
      return FALSE;
  }
  const char *ct = sn_node_attr_string (n, "coordinate_transformation_mode", "half_pixel");
  if (strcmp (ct, "pytorch_half_pixel") == 0)
    return y->shape.dims[2] > 1 && y->shape.dims[3] > 1;
  return strcmp (ct, "asymmetric") == 0 || strcmp (ct, "align_corners") == 0
      || strcmp (ct, "half_pixel") == 0;
}

/* ReduceMean over H and W of a 4-D value: global average pooling. */
static gboolean
reduce_hw_ok (const SnNode *n)
{
  if (!is_var4 (n->inputs[0]))
    return FALSE;
  int64_t axes[SN_MAX_DIMS];
  int na;
  if (n->opset >= 18) {
    if (n->n_inputs < 2 || !n->inputs[1])
      return FALSE;
    na = sn_node_const_ints ((SnNode *) n, 1, axes, SN_MAX_DIMS, NULL);
  } else {
    const int64_t *a;
    na = sn_node_attr_ints (n, "axes", &a);
    for (int i = 0; i < MIN (na, SN_MAX_DIMS); i++)
      axes[i] = a[i];
  }
  if (na != 2)
    return FALSE;
  gboolean seen[4] = { FALSE };
  for (int i = 0; i < 2; i++) {
    int64_t a = axes[i];
    if (!sn_axis_normalize (&a, 4) || a < 2 || seen[a])
      return FALSE;
    seen[a] = TRUE;
  }
  return TRUE;
}

gboolean
sn_xnn_can_lower (const SnNode *n)
{
  const char *op = n->op_type;
  if (n->n_inputs < 1 || !only_first_output (n) || !is_f32 (n->outputs[0]))
    return FALSE;
  const SnValue *x = n->inputs[0], *y = n->outputs[0];
  if (in_list (op, binary_ops, G_N_ELEMENTS (binary_ops)))
    return binary_ok (n);
  if (!is_var (x))
    return FALSE;
  if (in_list (op, unary_ops, G_N_ELEMENTS (unary_ops))) {
    float lo, hi;
    return !op_is (n, "Clip") || clamp_bounds (n, &lo, &hi);
  }
  if (op_is (n, "Conv")) {
    const SnValue *w = n->n_inputs > 1 ? n->inputs[1] : NULL;
    const SnValue *b = n->n_inputs > 2 ? n->inputs[2] : NULL;
    Window win;
    if (!is_var4 (x) || y->shape.rank != 4 || !is_const (w) || w->shape.rank != 4
        || (b && !is_const (b)))
      return FALSE;
    int64_t g = sn_node_attr_int (n, "group", 1), C = x->shape.dims[1], O = w->shape.dims[0];
    return g >= 1 && C % g == 0 && O % g == 0 && w->shape.dims[1] * g == C
        && window_of (n, w->shape.dims[2], w->shape.dims[3], &win);
  }
  if (op_is (n, "BatchNormalization")) {
    if (!is_var4 (x) || n->n_inputs != 5)
      return FALSE;
    for (int i = 1; i < 5; i++)
      if (!is_const (n->inputs[i]) || sn_shape_numel (&n->inputs[i]->shape) != x->shape.dims[1])
        return FALSE;
    return TRUE;
  }
  if (op_is (n, "PRelu")) {
    const SnValue *s = n->n_inputs > 1 ? n->inputs[1] : NULL;
    if (!is_var4 (x) || !is_const (s) || s->shape.rank > 4)
      return FALSE;
    /* One slope per channel (or one for all), never per pixel. */
    int64_t d4[4] = { 1, 1, 1, 1 };
    for (int i = 0; i < s->shape.rank; i++)
      d4[4 - s->shape.rank + i] = s->shape.dims[i];
    return d4[0] == 1 && d4[2] == 1 && d4[3] == 1 && (d4[1] == 1 || d4[1] == x->shape.dims[1]);
  }
  if (op_is (n, "GlobalAveragePool"))
    return is_var4 (x);
  if (op_is (n, "GlobalMaxPool"))
    return is_var4 (x) && x->shape.dims[2] * x->shape.dims[3] > 1
        && x->shape.dims[2] <= G_MAXUINT32 && x->shape.dims[3] <= G_MAXUINT32;
  if (op_is (n, "ReduceMean"))
    return reduce_hw_ok (n);
  if (op_is (n, "MaxPool") || op_is (n, "AveragePool")) {
    Window w;
    return pool_ok (n, &w);
  }
  if (op_is (n, "Resize"))
    return resize_ok (n);
  if (op_is (n, "Concat")) {
    int64_t axis = sn_node_attr_int (n, "axis", 1);
    if (y->shape.rank != 4 || (axis != 1 && axis != -3) || n->n_inputs < 2)
      return FALSE;
    for (int i = 0; i < n->n_inputs; i++)
      if (!is_var4 (n->inputs[i]))
        return FALSE;
    return TRUE;
  }
  if (op_is (n, "Transpose"))
    return is_var4 (x) && (perm_is (n, TO_NCHW) || perm_is (n, TO_NHWC));
  if (op_is (n, "Reshape") || op_is (n, "Flatten") || op_is (n, "Squeeze")
      || op_is (n, "Unsqueeze"))
    return y->shape.rank >= 1 && order_neutral (x) && order_neutral (y)
        && sn_shape_numel (&x->shape) == sn_shape_numel (&y->shape);
  if (op_is (n, "Gemm")) {
    const SnValue *b = n->n_inputs > 1 ? n->inputs[1] : NULL;
    const SnValue *c = n->n_inputs > 2 ? n->inputs[2] : NULL;
    if (x->shape.rank != 2 || sn_node_attr_int (n, "transA", 0) != 0 || !is_const (b)
        || b->shape.rank != 2 || y->shape.rank != 2)
      return FALSE;
    if (c) {
      int64_t nc = sn_shape_numel (&c->shape);
      if (!is_const (c) || c->shape.rank > 2 || (c->shape.rank == 2 && c->shape.dims[0] != 1)
          || (nc != 1 && nc != y->shape.dims[1]))
        return FALSE;
    }
    return TRUE;
  }
  if (op_is (n, "MatMul")) {
    const SnValue *b = n->n_inputs > 1 ? n->inputs[1] : NULL;
    return x->shape.rank <= 3 && is_const (b) && b->shape.rank == 2 && y->shape.rank == x->shape.rank;
  }
  if (op_is (n, "Softmax")) {
    int64_t axis = sn_node_attr_int (n, "axis", n->opset < 13 ? 1 : -1);
    if (!sn_axis_normalize (&axis, x->shape.rank))
      return FALSE;
    /* Over the last axis; for 4-D, over channels, the last axis of NHWC. */
    if (x->shape.rank == 4)
      return n->opset >= 13 && axis == 1;
    return axis == x->shape.rank - 1;
  }
  return FALSE;
}

/* ---- Lowering --------------------------------------------------------------------- */

typedef enum { LAYOUT_NATIVE, LAYOUT_NHWC } Layout;

typedef struct {
  const SnValue *value;
  Layout layout;
  uint32_t id;
  float scale;              /* the value is scale times what id holds */
  int part;                 /* the subgraph id belongs to; -1: none (own kernel) */
  float *buffer;            /* the run's NHWC buffer that holds it between parts, or NULL */
} Binding;

typedef struct {
  uint32_t id;
  SnTensor *tensor;         /* the engine's tensor, its data pointer read at every invoke */
  float *buffer;            /* or a staging buffer of the run */
} External;

typedef struct {
  const SnTensor *src;      /* NCHW */
  float *dst;               /* NHWC */
} StageIn;

typedef struct {
  const SnTensor *src_tensor;   /* NHWC data: another value's tensor ... */
  const float *src_buf;         /* ... or a staging buffer */
  SnTensor *dst;                /* NCHW */
} StageOut;

/* A run whose 1x1 convolutions use our own kernel (sn-gemm.c) is a chain
 * of steps: XNNPACK runtimes ("parts") and our convolutions in between.  A
 * value that one step writes and another reads lives in a buffer of the
 * run, in NHWC, an external output of the part that makes it and an
 * external input of each later part that reads it. */
typedef struct {
  xnn_subgraph_t subgraph;
  xnn_runtime_t runtime;
  GArray *externals;
  GArray *ext_values;
  gboolean set_up;
} Part;

typedef struct {
  SnGemm *gemm;             /* a 1x1 convolution, or */
  SnDwconv *dw;             /* a depthwise one (sn-dwconv.c) */
  const float *x;
  const float *res;         /* 1x1: a fused residual Add's other operand, or NULL */
  float *y;
  int64_t M;
} OwnConv;

typedef struct {
  int part;                 /* >= 0: that part; else the convolution -1 - part */
} Step;

/* A buffer between steps, reused like an arena: once the last node that
 * reads its value is behind the node being lowered, a later value may
 * take it (steps, and XNNPACK's operators in a runtime, run in node
 * order). */
typedef struct {
  float *data;
  size_t n;
  int free_after;           /* index of the last node reading the value it holds */
} StepBuffer;

struct SnXnnRun {
  xnn_runtime_t runtime;    /* the part being built */
  xnn_subgraph_t subgraph;
  void *pool;
  GArray *bindings;
  GArray *externals;
  GArray *stage_in;
  GArray *stage_out;
  GPtrArray *owned;         /* static weights and staging buffers */
  GArray *ext_values;       /* struct xnn_external_value of the last setup */
  gboolean set_up;
  uint32_t next_external;
  uint32_t max_external;
  SnNode *const *nodes;
  int first, last;
  guint8 *done;             /* per node of the run: lowered already (fused) */
  SnTensor *const *tensors;
  const guint8 *outside;
  int part;                 /* index of the part being built */
  int *part_of;             /* per node of the run: its part, -1 for our own
                             * convolutions; NULL when the run has none */
  GArray *parts;
  GArray *steps;
  GArray *convs;
  GArray *buffers;          /* StepBuffer: the buffers between steps */
  int lowering;             /* the node being lowered */
};

static gboolean
xnn_check (enum xnn_status st, const SnNode *n, const char *what, GError **error)
{
  if (st == xnn_status_success)
    return TRUE;
  sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED, "XNNPACK refused %s (status %d)", what, st);
  return FALSE;
}

/* XNNPACK may read XNN_EXTRA_BYTES past the end of what it is given. */
static float *
owned_floats (SnXnnRun *r, size_t n)
{
  size_t bytes = n * sizeof (float) + XNN_EXTRA_BYTES;
  float *p = sn_aligned_alloc (bytes);
  memset (p, 0, bytes);
  g_ptr_array_add (r->owned, p);
  return p;
}

static Layout
layout_of (const SnValue *v, Layout want)
{
  return v->shape.rank == 4 ? want : LAYOUT_NATIVE;
}

/* XNNPACK dims of v in layout l (rank 0 becomes [1]). */
static size_t
value_dims (const SnValue *v, Layout l, size_t *d)
{
  const SnShape *s = &v->shape;
  if (s->rank == 4 && l == LAYOUT_NHWC) {
    d[0] = s->dims[0];
    d[1] = s->dims[2];
    d[2] = s->dims[3];
    d[3] = s->dims[1];
    return 4;
  }
  if (s->rank == 0) {
    d[0] = 1;
    return 1;
  }
  for (int i = 0; i < s->rank; i++)
    d[i] = s->dims[i];
  return s->rank;
}

static Binding *
lookup (SnXnnRun *r, const SnValue *v, Layout l)
{
  for (guint i = 0; i < r->bindings->len; i++) {
    Binding *b = &g_array_index (r->bindings, Binding, i);
    if (b->value == v && b->layout == l && b->part == r->part)
      return b;
  }
  return NULL;
}

/* v's buffer between steps (NHWC), from any step. */
static Binding *
lookup_buffer (SnXnnRun *r, const SnValue *v)
{
  for (guint i = 0; i < r->bindings->len; i++) {
    Binding *b = &g_array_index (r->bindings, Binding, i);
    if (b->value == v && b->layout == LAYOUT_NHWC && b->buffer)
      return b;
  }
  return NULL;
}

/* v is bound in layout l, in this part or (NHWC) in a buffer between parts. */
static gboolean
has_layout (SnXnnRun *r, const SnValue *v, Layout l)
{
  return lookup (r, v, l) || (l == LAYOUT_NHWC && lookup_buffer (r, v));
}

static void
bind (SnXnnRun *r, const SnValue *v, Layout l, uint32_t id, float scale)
{
  Binding *old = lookup (r, v, l);
  if (old) {
    old->id = id;
    old->scale = scale;
    return;
  }
  Binding b = { v, l, id, scale, r->part, NULL };
  g_array_append_val (r->bindings, b);
}

static void
bind_buffer (SnXnnRun *r, const SnValue *v, uint32_t id, float scale, int part, float *buffer)
{
  Binding b = { v, LAYOUT_NHWC, id, scale, part, buffer };
  g_array_append_val (r->bindings, b);
}

/* v's buffer between steps: a free one large enough, or a new one (always
 * for a staged input, written before any step runs). */
static float *
step_buffer (SnXnnRun *r, const SnValue *v, gboolean fresh)
{
  size_t n = sn_shape_numel (&v->shape);
  int last = r->lowering;
  if (r->outside[v->index])
    last = G_MAXINT;
  else
    for (int s = r->first; s <= r->last; s++)
      for (int k = 0; k < r->nodes[s]->n_inputs; k++)
        if (r->nodes[s]->inputs[k] == v)
          last = MAX (last, s);
  StepBuffer *best = NULL;
  for (guint i = 0; i < r->buffers->len; i++) {
    StepBuffer *b = &g_array_index (r->buffers, StepBuffer, i);
    if (!fresh && b->free_after < r->lowering && b->n >= n && (!best || b->n < best->n))
      best = b;
  }
  if (best) {
    best->free_after = last;
    return best->data;
  }
  StepBuffer b = { owned_floats (r, n), n, last };
  g_array_append_val (r->buffers, b);
  return b.data;
}

/* Some node of the run that is in another step reads v. */
static gboolean
crosses (const SnXnnRun *r, const SnValue *v)
{
  if (!r->part_of)
    return FALSE;
  for (int s = r->first; s <= r->last; s++)
    for (int k = 0; k < r->nodes[s]->n_inputs; k++)
      if (r->nodes[s]->inputs[k] == v && r->part_of[s - r->first] != r->part)
        return TRUE;
  return FALSE;
}

static gboolean
produced_in_run (const SnXnnRun *r, const SnValue *v)
{
  for (int s = r->first; s <= r->last; s++)
    for (int k = 0; k < r->nodes[s]->n_outputs; k++)
      if (r->nodes[s]->outputs[k] == v)
        return TRUE;
  return FALSE;
}

/* How many times nodes of the run read v; *only is the last reader. */
static int
uses_in_run (const SnXnnRun *r, const SnValue *v, int *only)
{
  int n = 0;
  for (int s = r->first; s <= r->last; s++)
    for (int k = 0; k < r->nodes[s]->n_inputs; k++)
      if (r->nodes[s]->inputs[k] == v) {
        n++;
        *only = s;
      }
  return n;
}

/* The node that alone reads v, when v is read once, nowhere outside the
 * run, and that node is not lowered yet; else NULL. */
static const SnNode *
sole_user (const SnXnnRun *r, const SnValue *v, int *pos)
{
  int p = -1;
  if (r->outside[v->index] || uses_in_run (r, v, &p) != 1 || r->done[p - r->first])
    return NULL;
  if (pos)
    *pos = p;
  return r->nodes[p];
}

static void
mark_done (SnXnnRun *r, int pos)
{
  r->done[pos - r->first] = 1;
}

static gboolean
define_value (SnXnnRun *r, const SnNode *n, size_t nd, const size_t *dims, uint32_t *id,
    GError **error)
{
  return xnn_check (xnn_define_tensor_value (r->subgraph, xnn_datatype_fp32, nd, dims, NULL,
          XNN_INVALID_VALUE_ID, 0, id), n, "a value", error);
}

static gboolean
define_static (SnXnnRun *r, const SnNode *n, size_t nd, const size_t *dims, const float *data,
    uint32_t *id, GError **error)
{
  return xnn_check (xnn_define_tensor_value (r->subgraph, xnn_datatype_fp32, nd, dims, data,
          XNN_INVALID_VALUE_ID, 0, id), n, "a constant", error);
}

static gboolean
scalar_static (SnXnnRun *r, const SnNode *n, float value, uint32_t *id, GError **error)
{
  float *data = owned_floats (r, 1);
  size_t dims[1] = { 1 };
  data[0] = value;
  return define_static (r, n, 1, dims, data, id, error);
}

/* A constant operand.  In an NHWC context it broadcasts against 4-D NCHW
 * values: padded to rank 4 and permuted like them. */
static gboolean
static_value (SnXnnRun *r, const SnValue *v, Layout l, const SnNode *n, uint32_t *id,
    GError **error)
{
  Binding *b = lookup (r, v, l);
  if (b) {
    *id = b->id;
    return TRUE;
  }
  const float *src = v->constant->data;
  size_t numel = sn_shape_numel (&v->shape), dims[SN_MAX_DIMS], nd;
  float *data = owned_floats (r, numel);
  if (l == LAYOUT_NHWC) {
    int64_t d4[4] = { 1, 1, 1, 1 };
    for (int i = 0; i < v->shape.rank; i++)
      d4[4 - v->shape.rank + i] = v->shape.dims[i];
    for (int64_t a = 0; a < d4[0]; a++)
      for (int64_t c = 0; c < d4[1]; c++)
        for (int64_t h = 0; h < d4[2]; h++)
          for (int64_t w = 0; w < d4[3]; w++)
            data[((a * d4[2] + h) * d4[3] + w) * d4[1] + c] =
                src[((a * d4[1] + c) * d4[2] + h) * d4[3] + w];
    dims[0] = d4[0];
    dims[1] = d4[2];
    dims[2] = d4[3];
    dims[3] = d4[1];
    nd = 4;
  } else {
    memcpy (data, src, numel * sizeof (float));
    nd = value_dims (v, LAYOUT_NATIVE, dims);
  }
  if (!define_static (r, n, nd, dims, data, id, error))
    return FALSE;
  bind (r, v, l, *id, 1.0f);
  return TRUE;
}

static gboolean
new_external (SnXnnRun *r, const SnNode *n, size_t nd, const size_t *dims, uint32_t flags,
    SnTensor *tensor, float *buffer, uint32_t *id, GError **error)
{
  if (r->next_external >= r->max_external) {
    sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED, "too many external values in one XNNPACK run");
    return FALSE;
  }
  uint32_t ext = r->next_external++;
  if (!xnn_check (xnn_define_tensor_value (r->subgraph, xnn_datatype_fp32, nd, dims, NULL, ext,
              flags, id), n, "an external value", error))
    return FALSE;
  External e = { *id, buffer ? NULL : tensor, buffer };
  g_array_append_val (r->externals, e);
  return TRUE;
}

/* An operand in the wanted layout, possibly carrying a scale: a constant,
 * a value of this run, or a value from outside (staged through NHWC when
 * that is wanted). */
static gboolean
input_raw (SnXnnRun *r, const SnValue *v, Layout want, const SnNode *n, uint32_t *id,
    float *scale, GError **error)
{
  *scale = 1.0f;
  if (v->constant)
    return static_value (r, v, want, n, id, error);
  want = layout_of (v, want);
  const Binding *b = lookup (r, v, want);
  if (b) {
    *id = b->id;
    *scale = b->scale;
    return TRUE;
  }
  if (want == LAYOUT_NHWC && (b = lookup_buffer (r, v))) {
    float sc = b->scale, *buf = b->buffer;
    size_t dims[SN_MAX_DIMS], nd = value_dims (v, LAYOUT_NHWC, dims);
    if (!new_external (r, n, nd, dims, XNN_VALUE_FLAG_EXTERNAL_INPUT, NULL, buf, id, error))
      return FALSE;
    bind_buffer (r, v, *id, sc, r->part, buf);
    *scale = sc;
    return TRUE;
  }
  if (produced_in_run (r, v)) {
    sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED,
        "'%s' is not available in the layout needed", v->name);
    return FALSE;
  }
  SnTensor *t = r->tensors[v->index];
  size_t dims[SN_MAX_DIMS], nd = value_dims (v, want, dims);
  if (want == LAYOUT_NATIVE) {
    if (!new_external (r, n, nd, dims, XNN_VALUE_FLAG_EXTERNAL_INPUT, t, NULL, id, error))
      return FALSE;
  } else {
    float *buf = owned_floats (r, sn_shape_numel (&v->shape));
    if (!new_external (r, n, nd, dims, XNN_VALUE_FLAG_EXTERNAL_INPUT, t, buf, id, error))
      return FALSE;
    StageIn s = { t, buf };
    g_array_append_val (r->stage_in, s);
  }
  bind (r, v, want, *id, 1.0f);
  return TRUE;
}

/* An operand as its true value: a carried scale is multiplied back once. */
static gboolean
input_value (SnXnnRun *r, const SnValue *v, Layout want, const SnNode *n, uint32_t *id,
    GError **error)
{
  float scale;
  uint32_t raw, s;
  if (!input_raw (r, v, want, n, &raw, &scale, error))
    return FALSE;
  if (scale == 1.0f) {
    *id = raw;
    return TRUE;
  }
  size_t dims[SN_MAX_DIMS], nd = value_dims (v, layout_of (v, want), dims);
  if (!scalar_static (r, n, scale, &s, error) || !define_value (r, n, nd, dims, id, error)
      || !xnn_check (xnn_define_multiply2 (r->subgraph, -INFINITY, INFINITY, raw, s, *id, 0),
          n, "a rescale", error))
    return FALSE;
  bind (r, v, layout_of (v, want), *id, 1.0f);
  return TRUE;
}

/* Defines the XNNPACK value a node produces for v (NHWC when 4-D).  When v,
 * or the NHWC->NCHW relabelling of v by a Transpose in this run, is read
 * outside the run, the value is an external output written straight into
 * that engine tensor, or staged and transposed after the run. */
static gboolean
output_value (SnXnnRun *r, const SnValue *v, const SnNode *n, uint32_t *id, GError **error)
{
  size_t dims[SN_MAX_DIMS], nd = value_dims (v, LAYOUT_NHWC, dims);
  Layout l = layout_of (v, LAYOUT_NHWC);
  gboolean out = r->outside[v->index];
  int p = -1;
  const SnValue *native_out = NULL;
  if (crosses (r, v)) {
    if (l != LAYOUT_NHWC) {
      sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED, "'%s' would cross a step in layout %d",
          v->name, l);
      return FALSE;
    }
    float *buf = step_buffer (r, v, FALSE);
    if (!new_external (r, n, nd, dims, XNN_VALUE_FLAG_EXTERNAL_OUTPUT, NULL, buf, id, error))
      return FALSE;
    if (out) {
      StageOut so = { NULL, buf, r->tensors[v->index] };
      g_array_append_val (r->stage_out, so);
    }
    bind_buffer (r, v, *id, 1.0f, r->part, buf);
    return TRUE;
  }
  if (l == LAYOUT_NHWC && uses_in_run (r, v, &p) == 1 && op_is (r->nodes[p], "Transpose")
      && perm_is (r->nodes[p], TO_NHWC) && r->outside[r->nodes[p]->outputs[0]->index])
    native_out = r->nodes[p]->outputs[0];

  if (l == LAYOUT_NATIVE && out) {
    if (!new_external (r, n, nd, dims, XNN_VALUE_FLAG_EXTERNAL_OUTPUT, r->tensors[v->index],
            NULL, id, error))
      return FALSE;
  } else if (native_out) {
    /* The Transpose's result, in the engine's layout, is exactly v in
     * NHWC: the node writes there directly. */
    if (!new_external (r, n, nd, dims, XNN_VALUE_FLAG_EXTERNAL_OUTPUT,
            r->tensors[native_out->index], NULL, id, error))
      return FALSE;
    if (out) {
      StageOut s = { r->tensors[native_out->index], NULL, r->tensors[v->index] };
      g_array_append_val (r->stage_out, s);
    }
  } else if (out) {
    float *buf = owned_floats (r, sn_shape_numel (&v->shape));
    if (!new_external (r, n, nd, dims, XNN_VALUE_FLAG_EXTERNAL_OUTPUT, NULL, buf, id, error))
      return FALSE;
    StageOut s = { NULL, buf, r->tensors[v->index] };
    g_array_append_val (r->stage_out, s);
  } else if (!define_value (r, n, nd, dims, id, error)) {
    return FALSE;
  }
  bind (r, v, l, *id, 1.0f);
  return TRUE;
}

/* Makes v's engine tensor receive XNNPACK value id, which holds v in layout
 * l: for relabelling nodes (Transpose, Identity) whose result is read
 * outside the run.  XNNPACK has no copy node; a clamp without bounds is one. */
static gboolean
export_value (SnXnnRun *r, const SnValue *v, Layout l, uint32_t id, const SnNode *n,
    GError **error)
{
  size_t dims[SN_MAX_DIMS], nd = value_dims (v, l, dims);
  uint32_t ext;
  for (guint i = 0; i < r->externals->len; i++) {
    const External *e = &g_array_index (r->externals, External, i);
    if (e->id == id && e->tensor == r->tensors[v->index] && l == layout_of (v, LAYOUT_NATIVE))
      return TRUE;              /* the producer writes there already */
  }
  if (l == LAYOUT_NHWC && v->shape.rank == 4) {
    float *buf = owned_floats (r, sn_shape_numel (&v->shape));
    if (!new_external (r, n, nd, dims, XNN_VALUE_FLAG_EXTERNAL_OUTPUT, NULL, buf, &ext, error))
      return FALSE;
    StageOut s = { NULL, buf, r->tensors[v->index] };
    g_array_append_val (r->stage_out, s);
  } else if (!new_external (r, n, nd, dims, XNN_VALUE_FLAG_EXTERNAL_OUTPUT,
          r->tensors[v->index], NULL, &ext, error)) {
    return FALSE;
  }
  return xnn_check (xnn_define_clamp (r->subgraph, -INFINITY, INFINITY, id, ext, 0), n,
      "a copy", error);
}

/* A Relu/Clip that alone reads v: folded into the producer's output range.
 * Returns the value the pair produces, or v. */
static const SnValue *
fuse_clamp (SnXnnRun *r, const SnValue *v, float *lo, float *hi)
{
  int p;
  const SnNode *user = sole_user (r, v, &p);
  *lo = -INFINITY;
  *hi = INFINITY;
  if (!user || !clamp_bounds (user, lo, hi)) {
    *lo = -INFINITY;
    *hi = INFINITY;
    return v;
  }
  mark_done (r, p);
  return user->outputs[0];
}

/* A value that holds v / scale (a carried scale, see the top of this
 * file): in a buffer between steps when another step reads it. */
static gboolean
define_carried (SnXnnRun *r, const SnNode *n, const SnValue *v, Layout l, float scale,
    uint32_t *id, GError **error)
{
  size_t dims[SN_MAX_DIMS], nd = value_dims (v, l, dims);
  if (l == LAYOUT_NHWC && crosses (r, v)) {
    float *buf = step_buffer (r, v, FALSE);
    if (!new_external (r, n, nd, dims, XNN_VALUE_FLAG_EXTERNAL_OUTPUT, NULL, buf, id, error))
      return FALSE;
    bind_buffer (r, v, *id, scale, r->part, buf);
    return TRUE;
  }
  if (!define_value (r, n, nd, dims, id, error))
    return FALSE;
  bind (r, v, l, *id, scale);
  return TRUE;
}

/* Ends the part being built (its runtime is made now) and starts the next. */
static gboolean
close_part (SnXnnRun *r, const SnNode *n, GError **error)
{
  Part part = { r->subgraph, NULL, r->externals, r->ext_values, FALSE };
  r->subgraph = NULL;
  r->externals = g_array_new (FALSE, FALSE, sizeof (External));
  r->ext_values = g_array_new (FALSE, FALSE, sizeof (struct xnn_external_value));
  r->next_external = 0;
  g_array_append_val (r->parts, part);
  Part *pp = &g_array_index (r->parts, Part, r->parts->len - 1);
  Step step = { (int) r->parts->len - 1 };
  g_array_append_val (r->steps, step);
  /* Workers sleep after each inference: a pipeline has other threads to run. */
  if (!xnn_check (xnn_create_runtime_v2 (pp->subgraph, r->pool,
              r->pool ? XNN_FLAG_YIELD_WORKERS : 0, &pp->runtime), n, "the runtime", error))
    return FALSE;
  r->part++;
  return xnn_check (xnn_create_subgraph (r->max_external, 0, &r->subgraph), n, "a subgraph", error);
}

/* The NHWC buffer our convolution reads x from: an earlier step's, or a
 * staging buffer for a value from outside the run. */
static gboolean
own_input (SnXnnRun *r, const SnValue *x, const SnNode *n, const float **buf, float *scale,
    GError **error)
{
  const Binding *b = lookup_buffer (r, x);
  if (b) {
    *buf = b->buffer;
    *scale = b->scale;
    return TRUE;
  }
  if (produced_in_run (r, x) || x->constant) {
    sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED, "'%s' has no buffer for our kernel", x->name);
    return FALSE;
  }
  float *staged = step_buffer (r, x, TRUE);
  StageIn si = { r->tensors[x->index], staged };
  g_array_append_val (r->stage_in, si);
  bind_buffer (r, x, XNN_INVALID_VALUE_ID, 1.0f, -1, staged);
  *buf = staged;
  *scale = 1.0f;
  return TRUE;
}

typedef struct {
  const SnValue *x, *out;
  float scale;              /* out = scale * hardswish (x) */
  int pos[4];
  int n_pos;
} HardSwish;

static gboolean match_hardswish (SnXnnRun *r, int s, HardSwish *h);

/* A hard-swish, in any spelling match_hardswish () knows, that is the
 * only reader of v (an output of our own kernel): folded into that
 * kernel's store, *k set to its factor (scale / 6).  Returns the value
 * the hard-swish produces, or v with *k = 0. */
static const SnValue *
fuse_hardswish (SnXnnRun *r, const SnValue *v, float *k)
{
  *k = 0.0f;
  int only, readers = r->outside[v->index] ? -1 : uses_in_run (r, v, &only);
  for (int q = r->first; readers > 0 && q <= r->last; q++) {
    const SnNode *n = r->nodes[q];
    HardSwish h;
    if (r->done[q - r->first] || !(op_is (n, "Add") || op_is (n, "Mul") || op_is (n, "HardSigmoid"))
        || !match_hardswish (r, q, &h) || h.x != v || !sn_shape_equal (&h.out->shape, &v->shape)
        || !isfinite (h.scale) || h.scale == 0.0f)
      continue;
    /* Every reader of v must be a node of the pattern. */
    int inside = 0;
    for (int i = 0; i < h.n_pos; i++)
      for (int j = 0; j < r->nodes[h.pos[i]]->n_inputs; j++)
        inside += r->nodes[h.pos[i]]->inputs[j] == v;
    if (inside != readers)
      return v;
    for (int i = 0; i < h.n_pos; i++)
      mark_done (r, h.pos[i]);
    g_debug ("splitnn: hard-swish '%s' fused into our kernel", h.out->name);
    *k = h.scale / 6.0f;
    return h.out;
  }
  return v;
}

/* An Add that alone reads v (the output of our 1x1 kernel) and adds a
 * value of the same shape that is already in a buffer between steps, at its
 * true scale (the block input of a MobileNet residual): folded into the
 * kernel's store, *res set to that buffer.  Returns the sum, or v. */
static const SnValue *
fuse_residual (SnXnnRun *r, const SnValue *v, const float **res)
{
  int p;
  const SnNode *add = sole_user (r, v, &p);
  *res = NULL;
  if (!add || !op_is (add, "Add") || add->n_inputs != 2 || add->inputs[0] == add->inputs[1])
    return v;
  const SnValue *other = add->inputs[0] == v ? add->inputs[1] : add->inputs[0];
  const Binding *b = other ? lookup_buffer (r, other) : NULL;
  if (!b || b->scale != 1.0f || !sn_shape_equal (&other->shape, &v->shape)
      || !sn_shape_equal (&add->outputs[0]->shape, &v->shape))
    return v;
  mark_done (r, p);
  g_debug ("splitnn: residual add '%s' fused into our kernel", add->outputs[0]->name);
  *res = b->buffer;
  return add->outputs[0];
}

/* A 1x1 convolution on our kernel (sn-gemm.c), f [O][C], or a depthwise
 * one (sn-dwconv.c, win given), f [kh][kw][C]; f with the folded scales,
 * bias folded too; out is what the fused nodes produce, hswish the factor
 * of a fused hard-swish (0: none). */
static gboolean
lower_own_conv (SnXnnRun *r, const SnNode *n, const SnValue *out, const float *xbuf,
    const float *f, const float *bias, int64_t C, int64_t O, const Window *win, float lo, float hi,
    float hswish, const float *res, GError **error)
{
  if (!close_part (r, n, error))
    return FALSE;
  const SnShape *xs = &n->inputs[0]->shape, *ys = &out->shape;
  OwnConv c = { NULL, NULL, xbuf, res, step_buffer (r, out, FALSE),
    ys->dims[0] * ys->dims[2] * ys->dims[3] };
  if (win)
    g_debug ("splitnn: depthwise %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " stride %" G_GINT64_FORMAT
        " on %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " on our kernel",
        win->kh, win->kw, win->sh, xs->dims[2], xs->dims[3], C);
  if (win)
    c.dw = sn_dwconv_new (f, bias, C, (int) win->kh, (int) win->sh, (int) win->pt, (int) win->pl,
        xs->dims[2], xs->dims[3], ys->dims[2], ys->dims[3], lo, hi);
  else
    c.gemm = sn_gemm_new (f, bias, C, O, lo, hi);
  if (hswish != 0.0f && c.dw)
    sn_dwconv_set_hardswish (c.dw, hswish);
  else if (hswish != 0.0f)
    sn_gemm_set_hardswish (c.gemm, hswish);
  g_array_append_val (r->convs, c);
  /* Packed now: the unpacked copy of the weights is not needed any more. */
  g_ptr_array_remove_fast (r->owned, (gpointer) f);
  Step step = { -(int) r->convs->len };
  g_array_append_val (r->steps, step);
  bind_buffer (r, out, XNN_INVALID_VALUE_ID, 1.0f, -1, c.y);
  if (r->outside[out->index]) {
    StageOut so = { NULL, c.y, r->tensors[out->index] };
    g_array_append_val (r->stage_out, so);
  }
  return TRUE;
}

/* Depthwise Conv nodes our kernel takes (sn-dwconv.c): one input and one
 * output channel per group, batch 1, square windows, the same stride 1 or
 * 2 on both axes, no dilation; 5x5 windows, 3x3 ones on at most 32
 * channels, and 3x3 stride 1 ones (two output rows at a time) on at most
 * 96 channels or maps of at most 32 x 32.  Where it was not faster than
 * XNNPACK's on the detector's layers (3x3 stride 2, and stride 1 on
 * 128 x 128 x 128 and 64 x 64 x 192: 0.4-1.1x, docs/performance.md,
 * bench/dwconv-avx2), XNNPACK's up16x9 keeps them. */
static gboolean
own_depthwise_ok (const SnNode *n)
{
  const SnValue *x = n->inputs[0], *w = n->inputs[1];
  int64_t C = x->shape.dims[1], kh = w->shape.dims[2];
  Window win;
  return sn_node_attr_int (n, "group", 1) == C && C > 1 && w->shape.dims[0] == C
      && w->shape.dims[1] == 1 && kh == w->shape.dims[3] && x->shape.dims[0] == 1
      && window_of (n, kh, kh, &win) && win.sh == win.sw && win.dh == 1 && win.dw == 1
      && sn_dwconv_supports ((int) kh, (int) win.sh, (int) win.pt, (int) win.pl)
      && (kh == 5 || C <= 32
          || (win.sh == 1 && (C <= 96 || x->shape.dims[2] * x->shape.dims[3] <= 32 * 32)))
      && sn_dwconv_enabled ();
}

/* Conv nodes our kernels take: depthwise (above), or 1x1, one group,
 * stride 1, no padding, a few pixels at least (the squeeze-excitation
 * convolutions on 1x1 maps stay in XNNPACK's runtime, where a step would
 * cost more than they do). */
static gboolean
own_conv_ok (SnNode *const *nodes, int s)
{
  const SnNode *n = nodes[s];
  if (!op_is (n, "Conv") || !sn_xnn_can_lower (n))
    return FALSE;
  const SnValue *x = n->inputs[0], *w = n->inputs[1], *y = n->outputs[0];
  Window win;
  if (own_depthwise_ok (n))
    return TRUE;
  if (w->shape.dims[2] != 1 || w->shape.dims[3] != 1 || sn_node_attr_int (n, "group", 1) != 1
      || !window_of (n, 1, 1, &win))
    return FALSE;
  return win.sh == 1 && win.sw == 1 && !win.pt && !win.pb && !win.pl && !win.pr && !win.xb
      && !win.xr && x->shape.dims[2] == y->shape.dims[2] && x->shape.dims[3] == y->shape.dims[3]
      && x->shape.dims[0] * x->shape.dims[2] * x->shape.dims[3] >= 8;
}

static gboolean
lower_conv (SnXnnRun *r, int s, GError **error)
{
  const SnNode *n = r->nodes[s];
  const SnValue *x = n->inputs[0], *w = n->inputs[1];
  const SnValue *b = n->n_inputs > 2 ? n->inputs[2] : NULL;
  int64_t O = w->shape.dims[0], Ig = w->shape.dims[1], kh = w->shape.dims[2], kw = w->shape.dims[3];
  int64_t C = x->shape.dims[1], g = sn_node_attr_int (n, "group", 1);
  Window win;
  if (!window_of (n, kh, kw, &win)) {
    sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED, "window not expressible in XNNPACK");
    return FALSE;
  }

  uint32_t xid, fid, bid, yid;
  float xscale;
  gboolean own = r->part_of && r->part_of[s - r->first] < 0;
  const float *xbuf = NULL;
  if (own) {
    if (!own_input (r, x, n, &xbuf, &xscale, error))
      return FALSE;
  } else if (!input_raw (r, x, LAYOUT_NHWC, n, &xid, &xscale, error)) {
    return FALSE;
  }

  /* Per output channel, from a BatchNormalization that alone reads the
   * output: weights times k, bias (b - mean) * k + add.  The weights also
   * take the input's carried scale, the bias does not. */
  float *k = owned_floats (r, O), *mean = owned_floats (r, O), *add = owned_floats (r, O);
  for (int64_t o = 0; o < O; o++)
    k[o] = 1.0f;
  const SnValue *out = n->outputs[0];
  int p;
  const SnNode *bn = sole_user (r, out, &p);
  if (bn && op_is (bn, "BatchNormalization")) {
    const float *sc = bn->inputs[1]->constant->data, *bb = bn->inputs[2]->constant->data;
    const float *mu = bn->inputs[3]->constant->data, *var = bn->inputs[4]->constant->data;
    float eps = sn_node_attr_float (bn, "epsilon", 1e-5f);
    for (int64_t o = 0; o < O; o++) {
      k[o] = sc[o] / sqrtf (var[o] + eps);
      mean[o] = mu[o];
      add[o] = bb[o];
    }
    mark_done (r, p);
    out = bn->outputs[0];
  }
  float lo, hi, hswish = 0.0f;
  const float *res = NULL;
  out = fuse_clamp (r, out, &lo, &hi);
  if (own && lo == -INFINITY && hi == INFINITY)
    out = fuse_hardswish (r, out, &hswish);
  gboolean depthwise = g == C && g > 1 && Ig == 1;
  if (own && !depthwise && lo == -INFINITY && hi == INFINITY && hswish == 0.0f)
    out = fuse_residual (r, out, &res);

  const float *W = w->constant->data;
  float *f = owned_floats (r, O * Ig * kh * kw);
  size_t fdims[4];
  if (depthwise) {
    /* [1, kh, kw, O]; output channel o reads input channel o / (O / C). */
    for (int64_t o = 0; o < O; o++)
      for (int64_t y = 0; y < kh; y++)
        for (int64_t z = 0; z < kw; z++)
          f[(y * kw + z) * O + o] = W[(o * kh + y) * kw + z] * (k[o] * xscale);
    fdims[0] = 1; fdims[1] = kh; fdims[2] = kw; fdims[3] = O;
  } else {
    /* [O, kh, kw, I/g] */
    for (int64_t o = 0; o < O; o++)
      for (int64_t i = 0; i < Ig; i++)
        for (int64_t y = 0; y < kh; y++)
          for (int64_t z = 0; z < kw; z++)
            f[((o * kh + y) * kw + z) * Ig + i] = W[((o * Ig + i) * kh + y) * kw + z] * (k[o] * xscale);
    fdims[0] = O; fdims[1] = kh; fdims[2] = kw; fdims[3] = Ig;
  }
  float *bias = owned_floats (r, O);
  const float *B = b ? b->constant->data : NULL;
  for (int64_t o = 0; o < O; o++)
    bias[o] = ((B ? B[o] : 0.0f) - mean[o]) * k[o] + add[o];
  if (own)
    return lower_own_conv (r, n, out, xbuf, f, bias, C, O, depthwise ? &win : NULL, lo, hi, hswish,
        res, error);
  size_t bdims[1] = { O };
  if (!define_static (r, n, 4, fdims, f, &fid, error)
      || !define_static (r, n, 1, bdims, bias, &bid, error)
      || !output_value (r, out, n, &yid, error))
    return FALSE;
  enum xnn_status st = depthwise
      ? xnn_define_depthwise_convolution_2d (r->subgraph, win.pt, win.pr + win.xr,
          win.pb + win.xb, win.pl, kh, kw, win.sh, win.sw, win.dh, win.dw,
          O / C, C, lo, hi, xid, fid, bid, yid, 0)
      : xnn_define_convolution_2d (r->subgraph, win.pt, win.pr + win.xr, win.pb + win.xb,
          win.pl, kh, kw, win.sh, win.sw, win.dh, win.dw,
          g, C / g, O / g, lo, hi, xid, fid, bid, yid, 0);
  return xnn_check (st, n, "the convolution", error);
}

/* ---- Hard-swish patterns ---- */

static gboolean
binary_with_const (const SnNode *n, const char *op, const SnValue *v, float *c)
{
  if (!op_is (n, op) || n->n_inputs != 2)
    return FALSE;
  if (n->inputs[0] == v)
    return const_scalar (n->inputs[1], c);
  if (n->inputs[1] == v)
    return const_scalar (n->inputs[0], c);
  return FALSE;
}

static gboolean
reads_pair (const SnNode *n, const SnValue *a, const SnValue *b)
{
  return op_is (n, "Mul") && n->n_inputs == 2 && ((n->inputs[0] == a && n->inputs[1] == b)
      || (n->inputs[0] == b && n->inputs[1] == a));
}

static gboolean
is_relu6 (const SnNode *n)
{
  float lo, hi;
  return n && clamp_bounds (n, &lo, &hi) && lo == 0.0f && hi == 6.0f;
}

/* At node s reading x, one of:
 *   (x * a) * Clip (x + 3, 0, 6)              scale 6a  (TF / Keras exports)
 *   x * Clip (x + 3, 0, 6) [/ d | * m]        scale 1, 6 / d or 6m  (PyTorch)
 *   x * HardSigmoid (x, alpha 1/6, beta 1/2)  scale 1 */
static gboolean
match_hardswish (SnXnnRun *r, int s, HardSwish *h)
{
  const SnNode *n = r->nodes[s];
  float c;
  int p1, p2, p3;
  for (int i = 0; i < n->n_inputs; i++) {
    const SnValue *x = n->inputs[i];
    if (!x || x->constant)
      continue;
    h->x = x;
    h->pos[0] = s;
    if (binary_with_const (n, "Add", x, &c) && c == 3.0f) {
      const SnNode *cl = sole_user (r, n->outputs[0], &p1);
      if (!is_relu6 (cl))
        continue;
      const SnNode *m = sole_user (r, cl->outputs[0], &p2);
      if (!m)
        continue;
      if (reads_pair (m, x, cl->outputs[0])) {
        h->pos[1] = p1;
        h->pos[2] = p2;
        h->n_pos = 3;
        h->out = m->outputs[0];
        h->scale = 1.0f;
        const SnNode *d = sole_user (r, m->outputs[0], &p3);
        if (d && binary_with_const (d, "Div", m->outputs[0], &c) && d->inputs[0] == m->outputs[0]
            && c != 0.0f) {
          h->scale = 6.0f / c;
        } else if (d && binary_with_const (d, "Mul", m->outputs[0], &c)) {
          h->scale = 6.0f * c;
        } else {
          h->scale = 6.0f;
          return TRUE;
        }
        h->pos[3] = p3;
        h->n_pos = 4;
        h->out = d->outputs[0];
        return TRUE;
      }
      /* (x * a) * relu6 (x + 3): find x * a among x's other readers. */
      for (int q = s + 1; q <= r->last; q++) {
        const SnNode *ma = r->nodes[q];
        if (r->done[q - r->first] || !binary_with_const (ma, "Mul", x, &c))
          continue;
        if (sole_user (r, ma->outputs[0], NULL) == m && reads_pair (m, ma->outputs[0], cl->outputs[0])) {
          h->pos[1] = p1;
          h->pos[2] = p2;
          h->pos[3] = q;
          h->n_pos = 4;
          h->out = m->outputs[0];
          h->scale = 6.0f * c;
          return TRUE;
        }
      }
    } else if (binary_with_const (n, "Mul", x, &c)) {
      /* The same, met at x * a first. */
      const SnNode *m = sole_user (r, n->outputs[0], &p2);
      if (!m || !op_is (m, "Mul"))
        continue;
      const SnValue *other = m->inputs[0] == n->outputs[0] ? m->inputs[1] : m->inputs[0];
      const SnNode *cl = other && other->producer ? other->producer : NULL;
      const SnNode *ad = cl && cl->n_inputs > 0 && cl->inputs[0] ? cl->inputs[0]->producer : NULL;
      float three;
      if (!is_relu6 (cl) || !ad || !binary_with_const (ad, "Add", x, &three) || three != 3.0f)
        continue;
      int pc = -1, pa = -1;
      if (sole_user (r, ad->outputs[0], &pc) != cl || sole_user (r, cl->outputs[0], NULL) != m)
        continue;
      for (int q = r->first; q <= r->last; q++)
        if (r->nodes[q] == ad)
          pa = q;
      if (pa < 0 || r->done[pa - r->first] || !reads_pair (m, n->outputs[0], cl->outputs[0]))
        continue;
      h->pos[1] = pa;
      h->pos[2] = pc;
      h->pos[3] = p2;
      h->n_pos = 4;
      h->out = m->outputs[0];
      h->scale = 6.0f * c;
      return TRUE;
    } else if (op_is (n, "HardSigmoid")) {
      float alpha = sn_node_attr_float (n, "alpha", 0.2f), beta = sn_node_attr_float (n, "beta", 0.5f);
      const SnNode *m = sole_user (r, n->outputs[0], &p1);
      if (fabsf (alpha * 6.0f - 1.0f) > 1e-6f || beta != 0.5f || !m || !reads_pair (m, x, n->outputs[0]))
        continue;
      h->pos[1] = p1;
      h->n_pos = 2;
      h->out = m->outputs[0];
      h->scale = 1.0f;
      return TRUE;
    }
  }
  return FALSE;
}

static gboolean
lower_hardswish (SnXnnRun *r, const HardSwish *h, const SnNode *n, GError **error)
{
  uint32_t a, y, t, s;
  for (int i = 0; i < h->n_pos; i++)
    mark_done (r, h->pos[i]);
  gboolean carry = isfinite (h->scale) && h->scale != 0.0f;
  if (!input_value (r, h->x, LAYOUT_NHWC, n, &a, error))
    return FALSE;
  Layout l = layout_of (h->out, LAYOUT_NHWC);
  if (fabsf (h->scale - 1.0f) <= 1e-7f)
    return output_value (r, h->out, n, &y, error)
        && xnn_check (xnn_define_hardswish (r->subgraph, a, y, 0), n, "hardswish", error);
  if (carry && !r->outside[h->out->index]) {
    /* Carried to the consumers (see the top of this file). */
    return define_carried (r, n, h->out, l, h->scale, &y, error)
        && xnn_check (xnn_define_hardswish (r->subgraph, a, y, 0), n, "hardswish", error);
  }
  size_t dims[SN_MAX_DIMS], nd = value_dims (h->out, l, dims);
  return define_value (r, n, nd, dims, &t, error)
      && xnn_check (xnn_define_hardswish (r->subgraph, a, t, 0), n, "hardswish", error)
      && scalar_static (r, n, h->scale, &s, error)
      && output_value (r, h->out, n, &y, error)
      && xnn_check (xnn_define_multiply2 (r->subgraph, -INFINITY, INFINITY, t, s, y, 0), n,
          "a rescale", error);
}

/* ---- Other nodes ---- */

static gboolean
lower_transpose (SnXnnRun *r, const SnNode *n, GError **error)
{
  /* A relabelling: the same XNNPACK value seen in the other layout. */
  const SnValue *x = n->inputs[0], *y = n->outputs[0];
  gboolean to_nchw = perm_is (n, TO_NCHW);
  Layout from = to_nchw ? LAYOUT_NATIVE : LAYOUT_NHWC, to = to_nchw ? LAYOUT_NHWC : LAYOUT_NATIVE;
  uint32_t a;
  if (!input_value (r, x, from, n, &a, error))
    return FALSE;
  bind (r, y, to, a, 1.0f);
  if (to == LAYOUT_NHWC && y->shape.rank == 4 && crosses (r, y)) {
    /* Read by another step (our convolution): copied into a buffer
     * between steps, XNNPACK having no other way to hand it over. */
    size_t dims[SN_MAX_DIMS], nd = value_dims (y, LAYOUT_NHWC, dims);
    float *buf = step_buffer (r, y, FALSE);
    uint32_t c;
    if (!new_external (r, n, nd, dims, XNN_VALUE_FLAG_EXTERNAL_OUTPUT, NULL, buf, &c, error)
        || !xnn_check (xnn_define_clamp (r->subgraph, -INFINITY, INFINITY, a, c, 0), n,
            "a copy", error))
      return FALSE;
    bind_buffer (r, y, c, 1.0f, r->part, buf);
  }
  return !r->outside[y->index] || export_value (r, y, to, a, n, error);
}

static gboolean
lower_concat (SnXnnRun *r, const SnNode *n, GError **error)
{
  /* XNNPACK of 2022 has no concatenation: zero-pad each input to the full
   * channel count at its offset and add them up; a Relu/Clip after the
   * concatenation is the last add's output range. */
  float lo, hi;
  const SnValue *out = fuse_clamp (r, n->outputs[0], &lo, &hi);
  size_t total = n->outputs[0]->shape.dims[1], offset = 0, dims[4];
  value_dims (n->outputs[0], LAYOUT_NHWC, dims);
  uint32_t acc = XNN_INVALID_VALUE_ID;
  for (int i = 0; i < n->n_inputs; i++) {
    const SnValue *v = n->inputs[i];
    uint32_t in, padded, sum;
    if (!input_value (r, v, LAYOUT_NHWC, n, &in, error))
      return FALSE;
    size_t c = v->shape.dims[1];
    size_t pre[4] = { 0, 0, 0, offset }, post[4] = { 0, 0, 0, total - offset - c };
    offset += c;
    if (!define_value (r, n, 4, dims, &padded, error)
        || !xnn_check (xnn_define_static_constant_pad (r->subgraph, pre, post, 0.0f, in, padded, 0),
            n, "a pad", error))
      return FALSE;
    if (acc == XNN_INVALID_VALUE_ID) {
      acc = padded;
      continue;
    }
    gboolean last = i == n->n_inputs - 1;
    if (last ? !output_value (r, out, n, &sum, error) : !define_value (r, n, 4, dims, &sum, error))
      return FALSE;
    if (!xnn_check (xnn_define_add2 (r->subgraph, last ? lo : -INFINITY, last ? hi : INFINITY,
                acc, padded, sum, 0), n, "an add", error))
      return FALSE;
    acc = sum;
  }
  return TRUE;
}

static gboolean
lower_pool (SnXnnRun *r, const SnNode *n, GError **error)
{
  Window w;
  uint32_t a, y;
  float lo, hi;
  if (!pool_ok (n, &w)) {
    sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED, "window not expressible in XNNPACK");
    return FALSE;
  }
  const SnValue *out = fuse_clamp (r, n->outputs[0], &lo, &hi);
  if (!input_value (r, n->inputs[0], LAYOUT_NHWC, n, &a, error))
    return FALSE;
  if (op_is (n, "MaxPool")) {
    return output_value (r, out, n, &y, error)
        && xnn_check (xnn_define_max_pooling_2d (r->subgraph, w.pt, w.pr + w.xr, w.pb + w.xb,
                w.pl, w.kh, w.kw, w.sh, w.sw, w.dh, w.dw, lo, hi, a, y, 0), n, "max pooling", error);
  }
  /* XNNPACK leaves padding out of the average.  count_include_pad counts
   * the node's own padding (not ceil_mode's): pad with zeros first. */
  if (sn_node_attr_int (n, "count_include_pad", 0) && (w.pt || w.pb || w.pl || w.pr)) {
    const SnShape *xs = &n->inputs[0]->shape;
    size_t pre[4] = { 0, w.pt, w.pl, 0 }, post[4] = { 0, w.pb, w.pr, 0 };
    size_t dims[4] = { xs->dims[0], xs->dims[2] + w.pt + w.pb, xs->dims[3] + w.pl + w.pr, xs->dims[1] };
    uint32_t padded;
    if (!define_value (r, n, 4, dims, &padded, error)
        || !xnn_check (xnn_define_static_constant_pad (r->subgraph, pre, post, 0.0f, a, padded, 0),
            n, "a pad", error))
      return FALSE;
    a = padded;
    w.pt = w.pb = w.pl = w.pr = 0;
  }
  return output_value (r, out, n, &y, error)
      && xnn_check (xnn_define_average_pooling_2d (r->subgraph, w.pt, w.pr + w.xr, w.pb + w.xb,
              w.pl, w.kh, w.kw, w.sh, w.sw, lo, hi, a, y, 0), n, "average pooling", error);
}

/* GlobalAveragePool, and ReduceMean over H and W (keepdims or not). */
static gboolean
lower_global_pool (SnXnnRun *r, const SnNode *n, GError **error)
{
  const SnValue *x = n->inputs[0], *out = n->outputs[0];
  uint32_t a, y;
  float scale = 1.0f, lo, hi;
  gboolean avg = !op_is (n, "GlobalMaxPool");
  if (avg && !input_raw (r, x, LAYOUT_NHWC, n, &a, &scale, error))
    return FALSE;
  if (!avg && !input_value (r, x, LAYOUT_NHWC, n, &a, error))
    return FALSE;
  out = fuse_clamp (r, out, &lo, &hi);
  gboolean flat = out->shape.rank != 4;
  if (scale != 1.0f && (r->outside[out->index] || flat || lo != -INFINITY || hi != INFINITY)) {
    if (!input_value (r, x, LAYOUT_NHWC, n, &a, error))
      return FALSE;
    scale = 1.0f;
  }
  const SnShape *xs = &x->shape;
  size_t pooled[4] = { xs->dims[0], 1, 1, xs->dims[1] };
  if (flat) {
    if (!define_value (r, n, 4, pooled, &y, error))
      return FALSE;
  } else if (!output_value (r, out, n, &y, error)) {
    return FALSE;
  }
  enum xnn_status st = avg
      ? xnn_define_global_average_pooling_2d (r->subgraph, lo, hi, a, y, 0)
      : xnn_define_max_pooling_2d (r->subgraph, 0, 0, 0, 0, xs->dims[2], xs->dims[3], 1, 1, 1, 1,
          lo, hi, a, y, 0);
  if (!xnn_check (st, n, "global pooling", error))
    return FALSE;
  if (scale != 1.0f)
    bind (r, out, LAYOUT_NHWC, y, scale);
  if (!flat)
    return TRUE;
  uint32_t z;
  size_t dims[SN_MAX_DIMS], nd = value_dims (out, LAYOUT_NATIVE, dims);
  return output_value (r, out, n, &z, error)
      && xnn_check (xnn_define_static_reshape (r->subgraph, nd, dims, y, z, 0), n, "a reshape", error);
}

/* Reshape, Flatten, Squeeze, Unsqueeze between layout-neutral shapes: the
 * data are in the same order whichever layout the input is bound in. */
static gboolean
lower_reshape (SnXnnRun *r, const SnNode *n, GError **error)
{
  const SnValue *x = n->inputs[0], *out = n->outputs[0];
  uint32_t a, y;
  Layout l = LAYOUT_NATIVE;
  if (x->shape.rank == 4 && (has_layout (r, x, LAYOUT_NHWC)
          || (!lookup (r, x, LAYOUT_NATIVE) && produced_in_run (r, x))))
    l = LAYOUT_NHWC;
  if (!input_value (r, x, l, n, &a, error))
    return FALSE;
  size_t dims[SN_MAX_DIMS], nd = value_dims (out, LAYOUT_NHWC, dims);
  return output_value (r, out, n, &y, error)
      && xnn_check (xnn_define_static_reshape (r->subgraph, nd, dims, a, y, 0), n, "a reshape", error);
}

/* Gemm (transA = 0) and MatMul by a constant: fully connected. */
static gboolean
lower_fully_connected (SnXnnRun *r, const SnNode *n, GError **error)
{
  const SnValue *x = n->inputs[0], *bv = n->inputs[1];
  const SnValue *cv = op_is (n, "Gemm") && n->n_inputs > 2 ? n->inputs[2] : NULL;
  gboolean gemm = op_is (n, "Gemm");
  gboolean trans_b = gemm && sn_node_attr_int (n, "transB", 0) != 0;
  float alpha = gemm ? sn_node_attr_float (n, "alpha", 1.0f) : 1.0f;
  float beta = gemm ? sn_node_attr_float (n, "beta", 1.0f) : 1.0f;
  int64_t K = x->shape.dims[x->shape.rank - 1];
  int64_t N = n->outputs[0]->shape.dims[n->outputs[0]->shape.rank - 1];
  if (bv->shape.dims[trans_b ? 1 : 0] != K || bv->shape.dims[trans_b ? 0 : 1] != N) {
    sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED, "unexpected weight shape");
    return FALSE;
  }
  const float *B = bv->constant->data;
  float *f = owned_floats (r, N * K), *bias = owned_floats (r, N);
  for (int64_t o = 0; o < N; o++)
    for (int64_t i = 0; i < K; i++)
      f[o * K + i] = alpha * (trans_b ? B[o * K + i] : B[i * N + o]);
  if (cv) {
    const float *C = cv->constant->data;
    gboolean one = sn_shape_numel (&cv->shape) == 1;
    for (int64_t o = 0; o < N; o++)
      bias[o] = beta * C[one ? 0 : o];
  }
  size_t fdims[2] = { N, K }, bdims[1] = { N };
  uint32_t a, fid, bid, y;
  float lo, hi;
  const SnValue *out = fuse_clamp (r, n->outputs[0], &lo, &hi);
  return input_value (r, x, LAYOUT_NATIVE, n, &a, error)
      && define_static (r, n, 2, fdims, f, &fid, error)
      && define_static (r, n, 1, bdims, bias, &bid, error)
      && output_value (r, out, n, &y, error)
      && xnn_check (xnn_define_fully_connected (r->subgraph, lo, hi, a, fid, bid, y, 0), n,
          "fully connected", error);
}

static gboolean
lower_binary (SnXnnRun *r, const SnNode *n, GError **error)
{
  const char *op = n->op_type;
  const SnValue *y0 = n->outputs[0];
  Layout l = layout_of (y0, LAYOUT_NHWC);
  uint32_t a, b, y;
  float lo = -INFINITY, hi = INFINITY, sa = 1.0f, sb = 1.0f;
  gboolean clampable = !op_is (n, "Max") && !op_is (n, "Min");
  const SnValue *out = clampable ? fuse_clamp (r, y0, &lo, &hi) : y0;
  /* Only a product can pass a carried scale on. */
  gboolean carry = op_is (n, "Mul") && out == y0 && !r->outside[y0->index];
  if (carry) {
    if (!input_raw (r, n->inputs[0], l, n, &a, &sa, error)
        || !input_raw (r, n->inputs[1], l, n, &b, &sb, error))
      return FALSE;
  } else if (!input_value (r, n->inputs[0], l, n, &a, error)
      || !input_value (r, n->inputs[1], l, n, &b, error)) {
    return FALSE;
  }
  if (carry && sa * sb != 1.0f) {
    if (!define_carried (r, n, y0, l, sa * sb, &y, error))
      return FALSE;
  } else if (!output_value (r, out, n, &y, error)) {
    return FALSE;
  }
  enum xnn_status st;
  if (op_is (n, "Add"))
    st = xnn_define_add2 (r->subgraph, lo, hi, a, b, y, 0);
  else if (op_is (n, "Mul"))
    st = xnn_define_multiply2 (r->subgraph, lo, hi, a, b, y, 0);
  else if (op_is (n, "Sub"))
    st = xnn_define_subtract (r->subgraph, lo, hi, a, b, y, 0);
  else if (op_is (n, "Div"))
    st = xnn_define_divide (r->subgraph, lo, hi, a, b, y, 0);
  else if (op_is (n, "Max"))
    st = xnn_define_maximum2 (r->subgraph, a, b, y, 0);
  else
    st = xnn_define_minimum2 (r->subgraph, a, b, y, 0);
  return xnn_check (st, n, op, error);
}

static gboolean
lower_unary (SnXnnRun *r, const SnNode *n, GError **error)
{
  const SnValue *x = n->inputs[0];
  /* Element-wise: stay in whichever layout x is bound in already. */
  Layout l = x->shape.rank == 4 && !has_layout (r, x, LAYOUT_NHWC) && lookup (r, x, LAYOUT_NATIVE)
      ? LAYOUT_NATIVE : LAYOUT_NHWC;
  uint32_t a, y;
  if (!input_value (r, x, l, n, &a, error))
    return FALSE;
  l = layout_of (x, l);
  if (op_is (n, "Identity")) {
    bind (r, n->outputs[0], l, a, 1.0f);
    return !r->outside[n->outputs[0]->index] || export_value (r, n->outputs[0], l, a, n, error);
  }
  /* output_value picks NHWC for 4-D values; a native 4-D result is a value
   * of its own, exported like a relabelling. */
  const SnValue *out = n->outputs[0];
  gboolean native4 = l == LAYOUT_NATIVE && out->shape.rank == 4;
  if (native4) {
    size_t dims[SN_MAX_DIMS], nd = value_dims (out, LAYOUT_NATIVE, dims);
    if (!define_value (r, n, nd, dims, &y, error))
      return FALSE;
    bind (r, out, LAYOUT_NATIVE, y, 1.0f);
  } else if (!output_value (r, out, n, &y, error)) {
    return FALSE;
  }
  const char *op = n->op_type;
  enum xnn_status st;
  float lo, hi;
  if (clamp_bounds (n, &lo, &hi))
    st = xnn_define_clamp (r->subgraph, lo, hi, a, y, 0);
  else if (strcmp (op, "Sigmoid") == 0)
    st = xnn_define_sigmoid (r->subgraph, a, y, 0);
  else if (strcmp (op, "HardSwish") == 0)
    st = xnn_define_hardswish (r->subgraph, a, y, 0);
  else if (strcmp (op, "Abs") == 0)
    st = xnn_define_abs (r->subgraph, a, y, 0);
  else if (strcmp (op, "Neg") == 0)
    st = xnn_define_negate (r->subgraph, a, y, 0);
  else if (strcmp (op, "Floor") == 0)
    st = xnn_define_floor (r->subgraph, a, y, 0);
  else if (strcmp (op, "Ceil") == 0)
    st = xnn_define_ceiling (r->subgraph, a, y, 0);
  else if (strcmp (op, "Sqrt") == 0)
    st = xnn_define_square_root (r->subgraph, a, y, 0);
  else if (strcmp (op, "Round") == 0)
    st = xnn_define_bankers_rounding (r->subgraph, a, y, 0);
  else if (strcmp (op, "LeakyRelu") == 0)
    st = xnn_define_leaky_relu (r->subgraph, sn_node_attr_float (n, "alpha", 0.01f), a, y, 0);
  else if (strcmp (op, "Elu") == 0)
    st = xnn_define_elu (r->subgraph, sn_node_attr_float (n, "alpha", 1.0f), a, y, 0);
  else if (strcmp (op, "HardSigmoid") == 0) {
    /* clamp (alpha x + beta, 0, 1) */
    uint32_t al, be, t;
    size_t dims[SN_MAX_DIMS], nd = value_dims (out, l, dims);
    if (!scalar_static (r, n, sn_node_attr_float (n, "alpha", 0.2f), &al, error)
        || !scalar_static (r, n, sn_node_attr_float (n, "beta", 0.5f), &be, error)
        || !define_value (r, n, nd, dims, &t, error)
        || !xnn_check (xnn_define_multiply2 (r->subgraph, -INFINITY, INFINITY, a, al, t, 0), n,
            "a multiply", error))
      return FALSE;
    st = xnn_define_add2 (r->subgraph, 0.0f, 1.0f, t, be, y, 0);
  } else {
    sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED, "no XNNPACK lowering");
    return FALSE;
  }
  if (!xnn_check (st, n, op, error))
    return FALSE;
  return !native4 || !r->outside[out->index] || export_value (r, out, LAYOUT_NATIVE, y, n, error);
}

static gboolean
lower_node (SnXnnRun *r, int s, GError **error)
{
  const SnNode *n = r->nodes[s];
  uint32_t a, b, y;
  HardSwish h;

  if (op_is (n, "Conv"))
    return lower_conv (r, s, error);
  if ((op_is (n, "Add") || op_is (n, "Mul") || op_is (n, "HardSigmoid")) && match_hardswish (r, s, &h)
      && sn_shape_equal (&h.out->shape, &h.x->shape))
    return lower_hardswish (r, &h, n, error);
  if (in_list (n->op_type, binary_ops, G_N_ELEMENTS (binary_ops)))
    return lower_binary (r, n, error);
  if (in_list (n->op_type, unary_ops, G_N_ELEMENTS (unary_ops)))
    return lower_unary (r, n, error);
  if (op_is (n, "Transpose"))
    return lower_transpose (r, n, error);
  if (op_is (n, "Concat"))
    return lower_concat (r, n, error);
  if (op_is (n, "MaxPool") || op_is (n, "AveragePool"))
    return lower_pool (r, n, error);
  if (op_is (n, "GlobalAveragePool") || op_is (n, "GlobalMaxPool") || op_is (n, "ReduceMean"))
    return lower_global_pool (r, n, error);
  if (op_is (n, "Reshape") || op_is (n, "Flatten") || op_is (n, "Squeeze") || op_is (n, "Unsqueeze"))
    return lower_reshape (r, n, error);
  if (op_is (n, "Gemm") || op_is (n, "MatMul"))
    return lower_fully_connected (r, n, error);

  if (op_is (n, "BatchNormalization")) {
    /* Not after a Conv: x * k + (bias - mean * k), per channel. */
    int64_t C = n->inputs[0]->shape.dims[1];
    const float *sc = n->inputs[1]->constant->data, *bb = n->inputs[2]->constant->data;
    const float *mean = n->inputs[3]->constant->data, *var = n->inputs[4]->constant->data;
    float eps = sn_node_attr_float (n, "epsilon", 1e-5f), lo, hi;
    float *k = owned_floats (r, C), *add = owned_floats (r, C);
    for (int64_t c = 0; c < C; c++) {
      k[c] = sc[c] / sqrtf (var[c] + eps);
      add[c] = bb[c] - mean[c] * k[c];
    }
    size_t cdims[4] = { 1, 1, 1, C }, dims[4];
    uint32_t kid, aid, t;
    value_dims (n->outputs[0], LAYOUT_NHWC, dims);
    const SnValue *out = fuse_clamp (r, n->outputs[0], &lo, &hi);
    return input_value (r, n->inputs[0], LAYOUT_NHWC, n, &a, error)
        && define_static (r, n, 4, cdims, k, &kid, error)
        && define_static (r, n, 4, cdims, add, &aid, error)
        && define_value (r, n, 4, dims, &t, error)
        && output_value (r, out, n, &y, error)
        && xnn_check (xnn_define_multiply2 (r->subgraph, -INFINITY, INFINITY, a, kid, t, 0), n,
            "a multiply", error)
        && xnn_check (xnn_define_add2 (r->subgraph, lo, hi, t, aid, y, 0), n, "an add", error);
  }
  if (op_is (n, "PRelu")) {
    int64_t C = n->inputs[0]->shape.dims[1];
    const SnValue *sv = n->inputs[1];
    gboolean one = sn_shape_numel (&sv->shape) == 1;
    float *slope = owned_floats (r, C);
    for (int64_t c = 0; c < C; c++)
      slope[c] = ((const float *) sv->constant->data)[one ? 0 : c];
    size_t sdims[1] = { C };
    return input_value (r, n->inputs[0], LAYOUT_NHWC, n, &a, error)
        && define_static (r, n, 1, sdims, slope, &b, error)
        && output_value (r, n->outputs[0], n, &y, error)
        && xnn_check (xnn_define_prelu (r->subgraph, a, b, y, 0), n, "prelu", error);
  }
  if (op_is (n, "Softmax"))
    return input_value (r, n->inputs[0], LAYOUT_NHWC, n, &a, error)
        && output_value (r, n->outputs[0], n, &y, error)
        && xnn_check (xnn_define_softmax (r->subgraph, a, y, 0), n, "softmax", error);
  if (op_is (n, "Resize")) {
    const char *ct = sn_node_attr_string (n, "coordinate_transformation_mode", "half_pixel");
    uint32_t flags = strcmp (ct, "asymmetric") == 0 ? XNN_FLAG_TENSORFLOW_LEGACY_MODE
        : strcmp (ct, "align_corners") == 0 ? XNN_FLAG_ALIGN_CORNERS : 0;
    const SnShape *os = &n->outputs[0]->shape;
    return input_value (r, n->inputs[0], LAYOUT_NHWC, n, &a, error)
        && output_value (r, n->outputs[0], n, &y, error)
        && xnn_check (xnn_define_static_resize_bilinear_2d (r->subgraph, os->dims[2], os->dims[3],
                a, y, flags), n, "resize", error);
  }
  sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED, "no XNNPACK lowering");
  return FALSE;
}

void
sn_xnn_run_free (SnXnnRun *r)
{
  if (!r)
    return;
  for (guint i = 0; i < r->parts->len; i++) {
    Part *p = &g_array_index (r->parts, Part, i);
    if (p->runtime)
      xnn_delete_runtime (p->runtime);
    if (p->subgraph)
      xnn_delete_subgraph (p->subgraph);
    g_array_unref (p->externals);
    g_array_unref (p->ext_values);
  }
  for (guint i = 0; i < r->convs->len; i++) {
    sn_gemm_free (g_array_index (r->convs, OwnConv, i).gemm);
    sn_dwconv_free (g_array_index (r->convs, OwnConv, i).dw);
  }
  g_array_unref (r->parts);
  g_array_unref (r->steps);
  g_array_unref (r->convs);
  g_array_unref (r->buffers);
  g_free (r->part_of);
  if (r->subgraph)
    xnn_delete_subgraph (r->subgraph);
  g_array_unref (r->bindings);
  g_array_unref (r->externals);
  g_array_unref (r->stage_in);
  g_array_unref (r->stage_out);
  g_array_unref (r->ext_values);
  g_ptr_array_unref (r->owned);
  g_free (r->done);
  g_free (r);
}

static SnXnnRun *
run_new (SnNode *const *nodes, int first, int last, SnTensor *const *tensors,
    const guint8 *outside, void *pool, gboolean own, GError **error)
{
  SnXnnRun *r = g_new0 (SnXnnRun, 1);
  r->parts = g_array_new (FALSE, FALSE, sizeof (Part));
  r->steps = g_array_new (FALSE, FALSE, sizeof (Step));
  r->convs = g_array_new (FALSE, FALSE, sizeof (OwnConv));
  r->buffers = g_array_new (FALSE, FALSE, sizeof (StepBuffer));
  if (own) {
    int part = 0, n_own = 0;
    r->part_of = g_new0 (int, last - first + 1);
    for (int s = first; s <= last; s++) {
      gboolean mine = own_conv_ok (nodes, s);
      r->part_of[s - first] = mine ? -1 : part;
      part += mine;
      n_own += mine;
    }
    if (!n_own)
      g_clear_pointer (&r->part_of, g_free);
  }
  r->nodes = nodes;
  r->first = first;
  r->last = last;
  r->tensors = tensors;
  r->outside = outside;
  r->pool = pool;
  r->done = g_new0 (guint8, last - first + 1);
  r->bindings = g_array_new (FALSE, FALSE, sizeof (Binding));
  r->externals = g_array_new (FALSE, FALSE, sizeof (External));
  r->stage_in = g_array_new (FALSE, FALSE, sizeof (StageIn));
  r->stage_out = g_array_new (FALSE, FALSE, sizeof (StageOut));
  r->ext_values = g_array_new (FALSE, FALSE, sizeof (struct xnn_external_value));
  r->owned = g_ptr_array_new_with_free_func (sn_aligned_free);
  /* Each external is a distinct value some node reads or writes. */
  for (int s = first; s <= last; s++)
    r->max_external += nodes[s]->n_inputs + nodes[s]->n_outputs;
  r->max_external += 4;
  gboolean ok = xnn_check (xnn_create_subgraph (r->max_external, 0, &r->subgraph), nodes[first],
      "a subgraph", error);
  for (int s = first; ok && s <= last; s++) {
    if (r->done[s - first])
      continue;
    mark_done (r, s);
    r->lowering = s;
    ok = lower_node (r, s, error);
  }
  if (ok)
    ok = close_part (r, nodes[last], error);
  if (!ok) {
    sn_xnn_run_free (r);
    return NULL;
  }
  return r;
}

SnXnnRun *
sn_xnn_run_new (SnNode *const *nodes, int first, int last, SnTensor *const *tensors,
    const guint8 *outside, void *pool, GError **error)
{
  if (!sn_xnn_available ()) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED, "XNNPACK is not available");
    return NULL;
  }
  /* Our 1x1 kernel where the CPU runs it; should a run not lower with it
   * (a value that would have to cross a step in the engine's layout), the
   * same run without it. */
  if (sn_gemm_available ()) {
    GError *own_error = NULL;
    SnXnnRun *r = run_new (nodes, first, last, tensors, outside, pool, TRUE, &own_error);
    if (r)
      return r;
    g_debug ("splitnn: run of nodes %d-%d without our kernel: %s", first, last, own_error->message);
    g_error_free (own_error);
  }
  return run_new (nodes, first, last, tensors, outside, pool, FALSE, error);
}

/* ---- Running ----------------------------------------------------------------------- */

/* Batches of [rows x cols] matrices transposed in 32 x 32 tiles, one band of
 * source rows per pool task. */
typedef struct {
  const float *src;
  float *dst;
  size_t rows, cols, bands;
} Transpose;

#define TILE 32

static void
transpose_band (void *ctx, size_t task)
{
  const Transpose *t = ctx;
  size_t batch = task / t->bands, r0 = task % t->bands * TILE;
  size_t r1 = MIN (r0 + TILE, t->rows);
  const float *src = t->src + batch * t->rows * t->cols;
  float *dst = t->dst + batch * t->rows * t->cols;
  /* The inner loop walks the side whose other access has the smaller
   * stride.  A cut's output leaves XNNPACK as HW rows of C values (say
   * 16384 x 24): walking c innermost wrote 24 cache lines 64 KB apart,
   * which share one L1 set and evicted each other on every row; walking r
   * innermost writes contiguously and reads within a 3 KB block (the
   * transposes of cut 4's edge output went from ~1.5 ms to ~0.2 ms). */
  for (size_t c0 = 0; c0 < t->cols; c0 += TILE) {
    size_t c1 = MIN (c0 + TILE, t->cols);
    if (t->rows > t->cols) {
      for (size_t c = c0; c < c1; c++)
        for (size_t r = r0; r < r1; r++)
          dst[c * t->rows + r] = src[r * t->cols + c];
    } else {
      for (size_t r = r0; r < r1; r++)
        for (size_t c = c0; c < c1; c++)
          dst[c * t->rows + r] = src[r * t->cols + c];
    }
  }
}

static void
transpose (void *pool, const float *src, float *dst, size_t batch, size_t rows, size_t cols)
{
  Transpose t = { src, dst, rows, cols, (rows + TILE - 1) / TILE };
  sn_pool_run (pool, transpose_band, &t, batch * t.bands);
}

gboolean
sn_xnn_run_invoke (SnXnnRun *r, GError **error)
{
  for (guint i = 0; i < r->stage_in->len; i++) {
    const StageIn *s = &g_array_index (r->stage_in, StageIn, i);
    const SnShape *sh = &s->src->shape;
    transpose (r->pool, s->src->data, s->dst, sh->dims[0], sh->dims[1], sh->dims[2] * sh->dims[3]);
  }
  const SnNode *n = r->nodes[r->first];
  for (guint k = 0; k < r->steps->len; k++) {
    const Step *step = &g_array_index (r->steps, Step, k);
    if (step->part < 0) {
      const OwnConv *c = &g_array_index (r->convs, OwnConv, -1 - step->part);
      if (c->dw)
        sn_dwconv_run (c->dw, r->pool, c->x, c->y);
      else
        sn_gemm_run (c->gemm, r->pool, c->x, c->res, c->y, c->M);
      continue;
    }
    Part *p = &g_array_index (r->parts, Part, step->part);
    /* Setting up rebuilds what depends on the data pointers (indirection
     * buffers): only when a pointer moved, i.e. a caller's input did. */
    gboolean moved = !p->set_up;
    g_array_set_size (p->ext_values, p->externals->len);
    for (guint i = 0; i < p->externals->len; i++) {
      const External *e = &g_array_index (p->externals, External, i);
      struct xnn_external_value *v = &g_array_index (p->ext_values, struct xnn_external_value, i);
      void *data = e->buffer ? (void *) e->buffer : e->tensor->data;
      moved |= v->id != e->id || v->data != data;
      v->id = e->id;
      v->data = data;
    }
    if (moved) {
      p->set_up = FALSE;
      if (!xnn_check (xnn_setup_runtime (p->runtime, p->ext_values->len,
                  (const struct xnn_external_value *) p->ext_values->data), n, "setup", error))
        return FALSE;
      p->set_up = TRUE;
    }
    if (!xnn_check (xnn_invoke_runtime (p->runtime), n, "invoke", error))
      return FALSE;
  }
  for (guint i = 0; i < r->stage_out->len; i++) {
    const StageOut *s = &g_array_index (r->stage_out, StageOut, i);
    const SnShape *sh = &s->dst->shape;
    const float *src = s->src_tensor ? s->src_tensor->data : s->src_buf;
    transpose (r->pool, src, s->dst->data, sh->dims[0], sh->dims[2] * sh->dims[3], sh->dims[1]);
  }
  return TRUE;
}

#endif
