/* splitnn — XNNPACK fast path (see sn-xnn.h). */
#include "sn-xnn.h"

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

void *
sn_xnn_pool_new (int n_threads)
{
  return n_threads > 1 ? pthreadpool_create ((size_t) n_threads) : NULL;
}

void
sn_xnn_pool_free (void *pool)
{
  if (pool)
    pthreadpool_destroy (pool);
}

/* ---- What can be lowered -------------------------------------------------------- */

static gboolean
is_float4 (const SnValue *v)
{
  return v && v->dtype == SN_DTYPE_FLOAT32 && v->shape.rank == 4;
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
clamp_bounds (const SnNode *n, float *lo, float *hi)
{
  *lo = -INFINITY;
  *hi = INFINITY;
  if (strcmp (n->op_type, "Relu") == 0) {
    *lo = 0;
    return TRUE;
  }
  if (strcmp (n->op_type, "Clip") != 0)
    return FALSE;
  if (n->opset < 11) {
    *lo = sn_node_attr_float (n, "min", -INFINITY);
    *hi = sn_node_attr_float (n, "max", INFINITY);
    return TRUE;
  }
  if (n->n_inputs > 1 && n->inputs[1] && !const_scalar (n->inputs[1], lo))
    return FALSE;
  if (n->n_inputs > 2 && n->inputs[2] && !const_scalar (n->inputs[2], hi))
    return FALSE;
  return *lo <= *hi;
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

/* Constants must broadcast against a 4-D tensor: rank <= 4. */
static gboolean
operand_ok (const SnValue *v)
{
  if (!v || v->dtype != SN_DTYPE_FLOAT32)
    return FALSE;
  return v->constant ? v->shape.rank <= 4 : v->shape.rank == 4;
}

gboolean
sn_xnn_can_lower (const SnNode *n)
{
  const char *op = n->op_type;
  if (n->n_outputs < 1 || !n->outputs[0])
    return FALSE;
  const SnValue *x = n->inputs[0], *y = n->outputs[0];
  if (!x)
    return FALSE;
  if (strcmp (op, "Add") == 0 || strcmp (op, "Mul") == 0 || strcmp (op, "Sub") == 0
      || strcmp (op, "Div") == 0)
    return is_float4 (y) && operand_ok (n->inputs[0]) && operand_ok (n->inputs[1])
        && !(n->inputs[0]->constant && n->inputs[1]->constant);
  if (x->constant)
    return FALSE;
  if (strcmp (op, "Conv") == 0) {
    const SnValue *w = n->inputs[1], *b = n->n_inputs > 2 ? n->inputs[2] : NULL;
    return is_float4 (x) && is_float4 (y) && w && w->constant && w->shape.rank == 4
        && (!b || b->constant);
  }
  if (strcmp (op, "Relu") == 0 || strcmp (op, "Clip") == 0) {
    float lo, hi;
    return is_float4 (x) && clamp_bounds (n, &lo, &hi);
  }
  if (strcmp (op, "Sigmoid") == 0 || strcmp (op, "HardSwish") == 0
      || strcmp (op, "GlobalAveragePool") == 0)
    return is_float4 (x) && is_float4 (y);
  if (strcmp (op, "Resize") == 0) {
    /* XNNPACK derives the scale from the sizes; ONNX uses the given scale,
     * which differs when scale * size is not a whole number. */
    const SnValue *sc = n->n_inputs > 2 ? n->inputs[2] : NULL;
    if (sc && sc->constant && sn_tensor_numel (sc->constant) == 4 && sc->dtype == SN_DTYPE_FLOAT32) {
      const float *f = sc->constant->data;
      if ((double) f[2] * x->shape.dims[2] != (double) y->shape.dims[2]
          || (double) f[3] * x->shape.dims[3] != (double) y->shape.dims[3])
        return FALSE;
    }
    const char *mode = sn_node_attr_string (n, "mode", "nearest");
    const char *ct = sn_node_attr_string (n, "coordinate_transformation_mode", "half_pixel");
    return n->opset >= 11 && is_float4 (x) && is_float4 (y) && strcmp (mode, "linear") == 0
        && x->shape.dims[0] == y->shape.dims[0] && x->shape.dims[1] == y->shape.dims[1]
        && (strcmp (ct, "asymmetric") == 0 || strcmp (ct, "align_corners") == 0
            || strcmp (ct, "half_pixel") == 0);
  }
  if (strcmp (op, "Concat") == 0) {
    int64_t axis = sn_node_attr_int (n, "axis", 1);
    if (!is_float4 (y) || (axis != 1 && axis != -3) || n->n_inputs < 2)
      return FALSE;
    for (int i = 0; i < n->n_inputs; i++)
      if (!is_float4 (n->inputs[i]) || n->inputs[i]->constant)
        return FALSE;
    return TRUE;
  }
  if (strcmp (op, "Transpose") == 0)
    return is_float4 (x) && (perm_is (n, TO_NCHW) || perm_is (n, TO_NHWC));
  return FALSE;
}

/* ---- Lowering --------------------------------------------------------------------- */

typedef enum { LAYOUT_NATIVE, LAYOUT_NHWC } Layout;

typedef struct {
  const SnValue *value;
  Layout layout;
  uint32_t id;
} Binding;

typedef struct {
  uint32_t id;
  SnTensor *tensor;         /* NATIVE externals: pointer re-read at every invoke */
  float *buffer;            /* NHWC staging for externals that need a transpose */
} External;

typedef struct {
  const SnTensor *src;      /* NCHW */
  float *dst;               /* NHWC */
} StageIn;

typedef struct {
  const float *src;         /* NHWC */
  SnTensor *dst;            /* NCHW */
} StageOut;

struct SnXnnRun {
  xnn_runtime_t runtime;
  xnn_subgraph_t subgraph;
  GArray *bindings;
  GArray *externals;
  GArray *stage_in;
  GArray *stage_out;
  GPtrArray *owned;         /* static weights and staging buffers */
  GArray *ext_values;       /* struct xnn_external_value, rebuilt per invoke */
  uint32_t next_external;
  uint32_t max_external;
  SnNode *const *nodes;
  int first, last;
  SnTensor *const *tensors;
  const guint8 *outside;
};

static gboolean
xnn_check (enum xnn_status st, const SnNode *n, const char *what, GError **error)
{
  if (st == xnn_status_success)
    return TRUE;
  sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED, "XNNPACK refused %s (status %d)", what, st);
  return FALSE;
}

static float *
owned_floats (SnXnnRun *r, size_t n)
{
  float *p = sn_aligned_alloc ((n ? n : 1) * sizeof (float));
  g_ptr_array_add (r->owned, p);
  return p;
}

static void
nhwc_dims (const SnShape *s, size_t *d)
{
  d[0] = s->dims[0];
  d[1] = s->dims[2];
  d[2] = s->dims[3];
  d[3] = s->dims[1];
}

static gboolean
lookup (SnXnnRun *r, const SnValue *v, Layout l, uint32_t *id)
{
  for (guint i = 0; i < r->bindings->len; i++) {
    const Binding *b = &g_array_index (r->bindings, Binding, i);
    if (b->value == v && b->layout == l) {
      *id = b->id;
      return TRUE;
    }
  }
  return FALSE;
}

static void
bind (SnXnnRun *r, const SnValue *v, Layout l, uint32_t id)
{
  Binding b = { v, l, id };
  g_array_append_val (r->bindings, b);
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

static int
uses_in_run (const SnXnnRun *r, const SnValue *v, const SnNode **only)
{
  int n = 0;
  for (int s = r->first; s <= r->last; s++)
    for (int k = 0; k < r->nodes[s]->n_inputs; k++)
      if (r->nodes[s]->inputs[k] == v) {
        n++;
        *only = r->nodes[s];
      }
  return n;
}

/* A constant broadcasting against a 4-D NCHW tensor, as an NHWC static. */
static gboolean
static_value (SnXnnRun *r, const SnValue *v, const SnNode *n, uint32_t *id, GError **error)
{
  if (lookup (r, v, LAYOUT_NHWC, id))
    return TRUE;
  int64_t d4[4] = { 1, 1, 1, 1 };
  for (int i = 0; i < v->shape.rank; i++)
    d4[4 - v->shape.rank + i] = v->shape.dims[i];
  size_t dims[4] = { d4[0], d4[2], d4[3], d4[1] };
  float *data = owned_floats (r, sn_shape_numel (&v->shape));
  const float *src = v->constant->data;
  for (int64_t a = 0; a < d4[0]; a++)
    for (int64_t c = 0; c < d4[1]; c++)
      for (int64_t h = 0; h < d4[2]; h++)
        for (int64_t w = 0; w < d4[3]; w++)
          data[((a * d4[2] + h) * d4[3] + w) * d4[1] + c] = src[((a * d4[1] + c) * d4[2] + h) * d4[3] + w];
  if (!xnn_check (xnn_define_tensor_value (r->subgraph, xnn_datatype_fp32, 4, dims, data,
              XNN_INVALID_VALUE_ID, 0, id), n, "a constant", error))
    return FALSE;
  bind (r, v, LAYOUT_NHWC, *id);
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

/* An input operand in the wanted layout: a constant, a value of this run,
 * or a value from outside (staged through NHWC when that is wanted). */
static gboolean
input_value (SnXnnRun *r, const SnValue *v, Layout want, const SnNode *n, uint32_t *id,
    GError **error)
{
  if (v->constant)
    return want == LAYOUT_NHWC && static_value (r, v, n, id, error);
  if (lookup (r, v, want, id))
    return TRUE;
  if (produced_in_run (r, v)) {
    sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED, "'%s' is not available in the layout needed", v->name);
    return FALSE;
  }
  SnTensor *t = r->tensors[v->index];
  if (want == LAYOUT_NATIVE) {
    size_t dims[SN_MAX_DIMS];
    for (int i = 0; i < v->shape.rank; i++)
      dims[i] = v->shape.dims[i];
    if (!new_external (r, n, v->shape.rank, dims, XNN_VALUE_FLAG_EXTERNAL_INPUT, t, NULL, id, error))
      return FALSE;
  } else {
    size_t dims[4];
    nhwc_dims (&v->shape, dims);
    float *buf = owned_floats (r, sn_shape_numel (&v->shape));
    if (!new_external (r, n, 4, dims, XNN_VALUE_FLAG_EXTERNAL_INPUT, t, buf, id, error))
      return FALSE;
    StageIn s = { t, buf };
    g_array_append_val (r->stage_in, s);
  }
  bind (r, v, want, *id);
  return TRUE;
}

/* Defines the NHWC value a node produces for v.  When v (or the NHWC->NCHW
 * relabelling of v by a Transpose in this run) is read outside the run, the
 * value is an external output written straight into the engine's tensor,
 * or staged and transposed after the run. */
static gboolean
output_value (SnXnnRun *r, const SnValue *v, const SnNode *n, uint32_t *id, GError **error)
{
  size_t dims[4];
  nhwc_dims (&v->shape, dims);
  const SnNode *user = NULL;
  const SnValue *native_out = NULL;
  if (uses_in_run (r, v, &user) == 1 && strcmp (user->op_type, "Transpose") == 0
      && perm_is (user, TO_NHWC) && r->outside[user->outputs[0]->index])
    native_out = user->outputs[0];
  gboolean out_nchw = r->outside[v->index];
  if (native_out) {
    /* NHWC data is exactly the Transpose's output: write it in place. */
    if (!new_external (r, n, 4, dims, XNN_VALUE_FLAG_EXTERNAL_OUTPUT,
            r->tensors[native_out->index], NULL, id, error))
      return FALSE;
    if (out_nchw) {
      StageOut s = { NULL, r->tensors[v->index] };
      /* src is the external tensor's data, known only at invoke time. */
      s.src = (const float *) r->tensors[native_out->index];
      g_array_append_val (r->stage_out, s);
    }
  } else if (out_nchw) {
    float *buf = owned_floats (r, sn_shape_numel (&v->shape));
    if (!new_external (r, n, 4, dims, XNN_VALUE_FLAG_EXTERNAL_OUTPUT, NULL, buf, id, error))
      return FALSE;
    StageOut s = { buf, r->tensors[v->index] };
    g_array_append_val (r->stage_out, s);
  } else if (!xnn_check (xnn_define_tensor_value (r->subgraph, xnn_datatype_fp32, 4, dims, NULL,
              XNN_INVALID_VALUE_ID, 0, id), n, "a value", error)) {
    return FALSE;
  }
  bind (r, v, LAYOUT_NHWC, *id);
  return TRUE;
}

/* A Relu/Clip right after a node, reading only its output: fold it into
 * the node's output range.  Returns the value the pair produces. */
static const SnValue *
fuse_clamp (SnXnnRun *r, int s, float *lo, float *hi)
{
  const SnValue *v = r->nodes[s]->outputs[0];
  const SnNode *user = NULL;
  *lo = -INFINITY;
  *hi = INFINITY;
  if (s + 1 > r->last || r->outside[v->index] || uses_in_run (r, v, &user) != 1
      || user != r->nodes[s + 1] || !clamp_bounds (user, lo, hi)) {
    *lo = -INFINITY;
    *hi = INFINITY;
    return NULL;
  }
  return user->outputs[0];
}

static int64_t
conv_pads (const SnNode *n, const SnShape *x, int axis, int64_t k, int64_t stride,
    int64_t dil, int64_t *end)
{
  const char *auto_pad = sn_node_attr_string (n, "auto_pad", "NOTSET");
  const int64_t *pads;
  int np = sn_node_attr_ints (n, "pads", &pads);
  if (strcmp (auto_pad, "SAME_UPPER") == 0 || strcmp (auto_pad, "SAME_LOWER") == 0) {
    int64_t in = x->dims[2 + axis];
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

static gboolean
lower_conv (SnXnnRun *r, int s, int *consumed, GError **error)
{
  const SnNode *n = r->nodes[s];
  const SnValue *x = n->inputs[0], *w = n->inputs[1];
  const SnValue *b = n->n_inputs > 2 ? n->inputs[2] : NULL;
  int64_t O = w->shape.dims[0], Ig = w->shape.dims[1], kh = w->shape.dims[2], kw = w->shape.dims[3];
  int64_t C = x->shape.dims[1], g = sn_node_attr_int (n, "group", 1);
  const int64_t *st, *dl;
  int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  if (sn_node_attr_ints (n, "strides", &st) == 2) {
    sh = st[0];
    sw = st[1];
  }
  if (sn_node_attr_ints (n, "dilations", &dl) == 2) {
    dh = dl[0];
    dw = dl[1];
  }
  int64_t pb, pr, pt = conv_pads (n, &x->shape, 0, kh, sh, dh, &pb);
  int64_t pl = conv_pads (n, &x->shape, 1, kw, sw, dw, &pr);
  float lo, hi;
  const SnValue *out = fuse_clamp (r, s, &lo, &hi);
  *consumed = out ? 2 : 1;
  if (!out)
    out = n->outputs[0];

  uint32_t xid, fid, bid, yid;
  if (!input_value (r, x, LAYOUT_NHWC, n, &xid, error))
    return FALSE;
  gboolean depthwise = g == C && g > 1 && Ig == 1 && O % C == 0;
  const float *W = w->constant->data;
  float *f = owned_floats (r, O * Ig * kh * kw);
  size_t fdims[4];
  if (depthwise) {
    /* [1, kh, kw, O] */
    for (int64_t o = 0; o < O; o++)
      for (int64_t y = 0; y < kh; y++)
        for (int64_t z = 0; z < kw; z++)
          f[(y * kw + z) * O + o] = W[(o * kh + y) * kw + z];
    fdims[0] = 1; fdims[1] = kh; fdims[2] = kw; fdims[3] = O;
  } else {
    /* [O, kh, kw, I/g] */
    for (int64_t o = 0; o < O; o++)
      for (int64_t i = 0; i < Ig; i++)
        for (int64_t y = 0; y < kh; y++)
          for (int64_t z = 0; z < kw; z++)
            f[((o * kh + y) * kw + z) * Ig + i] = W[((o * Ig + i) * kh + y) * kw + z];
    fdims[0] = O; fdims[1] = kh; fdims[2] = kw; fdims[3] = Ig;
  }
  float *bias = owned_floats (r, O);
  if (b)
    memcpy (bias, b->constant->data, O * sizeof (float));
  else
    memset (bias, 0, O * sizeof (float));
  size_t bdims[1] = { O };
  if (!xnn_check (xnn_define_tensor_value (r->subgraph, xnn_datatype_fp32, 4, fdims, f,
              XNN_INVALID_VALUE_ID, 0, &fid), n, "the filter", error)
      || !xnn_check (xnn_define_tensor_value (r->subgraph, xnn_datatype_fp32, 1, bdims, bias,
              XNN_INVALID_VALUE_ID, 0, &bid), n, "the bias", error)
      || !output_value (r, out, n, &yid, error))
    return FALSE;
  enum xnn_status stt = depthwise
      ? xnn_define_depthwise_convolution_2d (r->subgraph, pt, pr, pb, pl, kh, kw, sh, sw, dh, dw,
          O / C, C, lo, hi, xid, fid, bid, yid, 0)
      : xnn_define_convolution_2d (r->subgraph, pt, pr, pb, pl, kh, kw, sh, sw, dh, dw,
          g, C / g, O / g, lo, hi, xid, fid, bid, yid, 0);
  return xnn_check (stt, n, "the convolution", error);
}

static gboolean
lower_node (SnXnnRun *r, int s, int *consumed, GError **error)
{
  const SnNode *n = r->nodes[s];
  const char *op = n->op_type;
  *consumed = 1;
  if (strcmp (op, "Conv") == 0)
    return lower_conv (r, s, consumed, error);

  uint32_t a, b, y;
  if (strcmp (op, "Transpose") == 0) {
    /* A relabelling: the same XNNPACK value seen in the other layout. */
    gboolean to_nchw = perm_is (n, TO_NCHW);
    if (!input_value (r, n->inputs[0], to_nchw ? LAYOUT_NATIVE : LAYOUT_NHWC, n, &a, error))
      return FALSE;
    if (!to_nchw && r->outside[n->outputs[0]->index]) {
      /* Only valid when output_value made the producer write here. */
      gboolean ok = FALSE;
      for (guint i = 0; i < r->externals->len; i++) {
        const External *e = &g_array_index (r->externals, External, i);
        ok |= e->id == a && e->tensor == r->tensors[n->outputs[0]->index];
      }
      if (!ok) {
        sn_node_set_error (error, n, SN_ERROR_UNSUPPORTED, "transpose output cannot alias");
        return FALSE;
      }
    }
    bind (r, n->outputs[0], to_nchw ? LAYOUT_NHWC : LAYOUT_NATIVE, a);
    return TRUE;
  }
  if (strcmp (op, "Concat") == 0) {
    /* XNNPACK of 2022 has no concatenation: zero-pad each input to the full
     * channel count at its offset and add them up. */
    const SnValue *out = n->outputs[0];
    size_t total = out->shape.dims[1], offset = 0;
    uint32_t acc = XNN_INVALID_VALUE_ID;
    for (int i = 0; i < n->n_inputs; i++) {
      const SnValue *v = n->inputs[i];
      uint32_t in, padded;
      if (!input_value (r, v, LAYOUT_NHWC, n, &in, error))
        return FALSE;
      size_t c = v->shape.dims[1];
      size_t pre[4] = { 0, 0, 0, offset }, post[4] = { 0, 0, 0, total - offset - c };
      size_t dims[4];
      nhwc_dims (&out->shape, dims);
      if (!xnn_check (xnn_define_tensor_value (r->subgraph, xnn_datatype_fp32, 4, dims, NULL,
                  XNN_INVALID_VALUE_ID, 0, &padded), n, "a value", error)
          || !xnn_check (xnn_define_static_constant_pad (r->subgraph, pre, post, 0.0f, in, padded, 0),
              n, "a pad", error))
        return FALSE;
      offset += c;
      if (acc == XNN_INVALID_VALUE_ID) {
        acc = padded;
        continue;
      }
      uint32_t sum;
      gboolean last = i == n->n_inputs - 1;
      if (last ? !output_value (r, out, n, &sum, error)
          : !xnn_check (xnn_define_tensor_value (r->subgraph, xnn_datatype_fp32, 4, dims, NULL,
                  XNN_INVALID_VALUE_ID, 0, &sum), n, "a value", error))
        return FALSE;
      if (!xnn_check (xnn_define_add2 (r->subgraph, -INFINITY, INFINITY, acc, padded, sum, 0),
              n, "an add", error))
        return FALSE;
      acc = sum;
    }
    return TRUE;
  }

  float lo = -INFINITY, hi = INFINITY;
  if (!input_value (r, n->inputs[0], LAYOUT_NHWC, n, &a, error))
    return FALSE;
  if (strcmp (op, "Relu") == 0 || strcmp (op, "Clip") == 0) {
    clamp_bounds (n, &lo, &hi);
    return output_value (r, n->outputs[0], n, &y, error)
        && xnn_check (xnn_define_clamp (r->subgraph, lo, hi, a, y, 0), n, "clamp", error);
  }
  if (strcmp (op, "Sigmoid") == 0)
    return output_value (r, n->outputs[0], n, &y, error)
        && xnn_check (xnn_define_sigmoid (r->subgraph, a, y, 0), n, "sigmoid", error);
  if (strcmp (op, "HardSwish") == 0)
    return output_value (r, n->outputs[0], n, &y, error)
        && xnn_check (xnn_define_hardswish (r->subgraph, a, y, 0), n, "hardswish", error);
  if (strcmp (op, "GlobalAveragePool") == 0)
    return output_value (r, n->outputs[0], n, &y, error)
        && xnn_check (xnn_define_global_average_pooling_2d (r->subgraph, -INFINITY, INFINITY, a, y, 0),
            n, "global average pooling", error);
  if (strcmp (op, "Resize") == 0) {
    const char *ct = sn_node_attr_string (n, "coordinate_transformation_mode", "half_pixel");
    uint32_t flags = strcmp (ct, "asymmetric") == 0 ? XNN_FLAG_TENSORFLOW_LEGACY_MODE
        : strcmp (ct, "align_corners") == 0 ? XNN_FLAG_ALIGN_CORNERS : 0;
    const SnShape *os = &n->outputs[0]->shape;
    return output_value (r, n->outputs[0], n, &y, error)
        && xnn_check (xnn_define_static_resize_bilinear_2d (r->subgraph, os->dims[2], os->dims[3],
                a, y, flags), n, "resize", error);
  }
  /* Binary arithmetic, possibly with a clamp folded in. */
  if (!input_value (r, n->inputs[1], LAYOUT_NHWC, n, &b, error))
    return FALSE;
  const SnValue *out = NULL;
  if (strcmp (op, "Add") == 0 || strcmp (op, "Mul") == 0)
    out = fuse_clamp (r, s, &lo, &hi);
  *consumed = out ? 2 : 1;
  if (!output_value (r, out ? out : n->outputs[0], n, &y, error))
    return FALSE;
  enum xnn_status st;
  if (strcmp (op, "Add") == 0)
    st = xnn_define_add2 (r->subgraph, lo, hi, a, b, y, 0);
  else if (strcmp (op, "Mul") == 0)
    st = xnn_define_multiply2 (r->subgraph, lo, hi, a, b, y, 0);
  else if (strcmp (op, "Sub") == 0)
    st = xnn_define_subtract (r->subgraph, -INFINITY, INFINITY, a, b, y, 0);
  else
    st = xnn_define_divide (r->subgraph, -INFINITY, INFINITY, a, b, y, 0);
  return xnn_check (st, n, op, error);
}

void
sn_xnn_run_free (SnXnnRun *r)
{
  if (!r)
    return;
  if (r->runtime)
    xnn_delete_runtime (r->runtime);
  if (r->subgraph)
    xnn_delete_subgraph (r->subgraph);
  g_array_unref (r->bindings);
  g_array_unref (r->externals);
  g_array_unref (r->stage_in);
  g_array_unref (r->stage_out);
  g_array_unref (r->ext_values);
  g_ptr_array_unref (r->owned);
  g_free (r);
}

SnXnnRun *
sn_xnn_run_new (SnNode *const *nodes, int first, int last, SnTensor *const *tensors,
    const guint8 *outside, void *pool, GError **error)
{
  if (!sn_xnn_available ()) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED, "XNNPACK is not available");
    return NULL;
  }
  SnXnnRun *r = g_new0 (SnXnnRun, 1);
  r->nodes = nodes;
  r->first = first;
  r->last = last;
  r->tensors = tensors;
  r->outside = outside;
  r->bindings = g_array_new (FALSE, FALSE, sizeof (Binding));
  r->externals = g_array_new (FALSE, FALSE, sizeof (External));
  r->stage_in = g_array_new (FALSE, FALSE, sizeof (StageIn));
  r->stage_out = g_array_new (FALSE, FALSE, sizeof (StageOut));
  r->ext_values = g_array_new (FALSE, FALSE, sizeof (struct xnn_external_value));
  r->owned = g_ptr_array_new_with_free_func (sn_aligned_free);
  for (int s = first; s <= last; s++)
    r->max_external += nodes[s]->n_inputs + nodes[s]->n_outputs;
  r->max_external += 4;
  gboolean ok = xnn_check (xnn_create_subgraph (r->max_external, 0, &r->subgraph), nodes[first],
      "a subgraph", error);
  for (int s = first; ok && s <= last;) {
    int consumed = 1;
    ok = lower_node (r, s, &consumed, error);
    s += consumed;
  }
  if (ok)
    ok = xnn_check (xnn_create_runtime_v2 (r->subgraph, pool, 0, &r->runtime), nodes[first],
        "the runtime", error);
  if (!ok) {
    sn_xnn_run_free (r);
    return NULL;
  }
  return r;
}

static void
nchw_to_nhwc (const float *src, float *dst, const SnShape *s)
{
  int64_t N = s->dims[0], C = s->dims[1], HW = s->dims[2] * s->dims[3];
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t p = 0; p < HW; p++)
        dst[(n * HW + p) * C + c] = src[(n * C + c) * HW + p];
}

static void
nhwc_to_nchw (const float *src, float *dst, const SnShape *s)
{
  int64_t N = s->dims[0], C = s->dims[1], HW = s->dims[2] * s->dims[3];
  for (int64_t n = 0; n < N; n++)
    for (int64_t p = 0; p < HW; p++)
      for (int64_t c = 0; c < C; c++)
        dst[(n * C + c) * HW + p] = src[(n * HW + p) * C + c];
}

gboolean
sn_xnn_run_invoke (SnXnnRun *r, GError **error)
{
  for (guint i = 0; i < r->stage_in->len; i++) {
    const StageIn *s = &g_array_index (r->stage_in, StageIn, i);
    nchw_to_nhwc (s->src->data, s->dst, &s->src->shape);
  }
  g_array_set_size (r->ext_values, 0);
  for (guint i = 0; i < r->externals->len; i++) {
    const External *e = &g_array_index (r->externals, External, i);
    struct xnn_external_value v = { e->id, e->buffer ? (void *) e->buffer : e->tensor->data };
    g_array_append_val (r->ext_values, v);
  }
  const SnNode *n = r->nodes[r->first];
  if (!xnn_check (xnn_setup_runtime (r->runtime, r->ext_values->len,
              (const struct xnn_external_value *) r->ext_values->data), n, "setup", error)
      || !xnn_check (xnn_invoke_runtime (r->runtime), n, "invoke", error))
    return FALSE;
  for (guint i = 0; i < r->stage_out->len; i++) {
    const StageOut *s = &g_array_index (r->stage_out, StageOut, i);
    const float *src = s->src;
    /* Staged from another external's tensor: its data pointer, read now. */
    for (guint k = 0; k < r->externals->len; k++) {
      const External *e = &g_array_index (r->externals, External, k);
      if (e->tensor && (const void *) e->tensor == (const void *) s->src)
        src = e->tensor->data;
    }
    nhwc_to_nchw (src, s->dst->data, &s->dst->shape);
  }
  return TRUE;
}

#endif
