/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — reference kernels for the multiply-accumulate ops: Conv,
 * ConvTranspose, BatchNormalization (inference), Gemm and MatMul.
 *
 * These loops are the oracle the fast paths are tested against, so they
 * favour being obviously right over being quick: one accumulator per output
 * element, summed in double so that the result does not depend on the order
 * a faster kernel happens to pick.  1-D and 2-D convolutions run through the
 * 3-D loops with leading spatial axes of size 1. */
#include "sn-ops.h"

#include <math.h>
#include <string.h>

#define SPATIAL 3               /* spatial axes the loops handle */
/* Bound on attribute values so that sizes computed from them cannot
 * overflow int64 however they are combined. */
#define ATTR_MAX ((int64_t) 1 << 30)

typedef enum {
  AUTO_PAD_NOTSET,
  AUTO_PAD_SAME_UPPER,
  AUTO_PAD_SAME_LOWER,
  AUTO_PAD_VALID,
} AutoPad;

static gboolean
parse_auto_pad (SnNode *node, AutoPad *auto_pad, GError **error)
{
  const char *s = sn_node_attr_string (node, "auto_pad", "NOTSET");

  if (strcmp (s, "NOTSET") == 0)
    *auto_pad = AUTO_PAD_NOTSET;
  else if (strcmp (s, "SAME_UPPER") == 0)
    *auto_pad = AUTO_PAD_SAME_UPPER;
  else if (strcmp (s, "SAME_LOWER") == 0)
    *auto_pad = AUTO_PAD_SAME_LOWER;
  else if (strcmp (s, "VALID") == 0)
    *auto_pad = AUTO_PAD_VALID;
  else {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "attribute 'auto_pad' has unknown value '%s'", s);
    return FALSE;
  }
  return TRUE;
}

/* Reads INTS attribute NAME into out[0..n).  Absent (or empty) means every
 * value is DEF; values below LO break the ONNX rules, values above
 * ATTR_MAX are refused rather than risking overflow. */
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

static int64_t
floor_div2 (int64_t v)
{
  return v >= 0 ? v / 2 : -((-v + 1) / 2);
}

static int64_t
shape_volume (const int64_t *dims, int n)
{
  int64_t v = 1;
  for (int i = 0; i < n; i++)
    v *= dims[i];
  return v;
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
/* Conv and ConvTranspose share their geometry.                        */

typedef struct {
  int64_t batch, in_c, out_c, group;
  /* Spatial axes right-aligned into SPATIAL slots; unused ones are 1. */
  int64_t in[SPATIAL], out[SPATIAL], k[SPATIAL];
  int64_t stride[SPATIAL], dil[SPATIAL], pad[SPATIAL];  /* pad: at the start */
  gboolean has_bias;
} ConvParams;

/* Validates X, W and B of a Conv (transpose = FALSE) or ConvTranspose and
 * fills the non-spatial fields and kernel, stride and dilation of P.
 * Returns the number of spatial axes, 0 on error. */
static int
conv_common (SnNode *node, gboolean transpose, ConvParams *p, GError **error)
{
  if (!sn_node_check_arity (node, 2, 3, 1, 1, error))
    return 0;
  for (int i = 0; i < node->n_inputs; i++)
    if (!sn_node_require_float (node, i, error))
      return 0;

  const SnShape *xs = &node->inputs[0]->shape;
  const SnShape *ws = &node->inputs[1]->shape;
  int nsp = xs->rank - 2;
  if (xs->rank < 3) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE,
        "input '%s' has rank %d; expected N x C x spatial",
        node->inputs[0]->name, xs->rank);
    return 0;
  }
  if (nsp > SPATIAL) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "input '%s' has %d spatial axes; at most %d supported",
        node->inputs[0]->name, nsp, SPATIAL);
    return 0;
  }
  if (ws->rank != xs->rank) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE,
        "weight '%s' has rank %d, input '%s' rank %d",
        node->inputs[1]->name, ws->rank, node->inputs[0]->name, xs->rank);
    return 0;
  }

  int64_t group = sn_node_attr_int (node, "group", 1);
  if (group < 1 || group > ATTR_MAX) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
        "attribute 'group' is %" G_GINT64_FORMAT, group);
    return 0;
  }
  p->batch = xs->dims[0];
  p->in_c = xs->dims[1];
  p->group = group;
  /* Conv's W is M x C/group x k...; ConvTranspose's is C x M/group x k... */
  int64_t w_in = transpose ? ws->dims[0] : ws->dims[1] * group;
  p->out_c = transpose ? ws->dims[1] * group : ws->dims[0];
  if (p->in_c % group != 0 || p->out_c % group != 0 || w_in != p->in_c) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE,
        "input '%s' has %" G_GINT64_FORMAT " channels, weight '%s' expects %"
        G_GINT64_FORMAT " (group %" G_GINT64_FORMAT ")", node->inputs[0]->name,
        p->in_c, node->inputs[1]->name, w_in, group);
    return 0;
  }

  p->has_bias = node->n_inputs > 2 && node->inputs[2];
  if (p->has_bias) {
    const SnShape *bs = &node->inputs[2]->shape;
    if (bs->rank != 1 || bs->dims[0] != p->out_c) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE,
          "bias '%s' must have shape [%" G_GINT64_FORMAT "]",
          node->inputs[2]->name, p->out_c);
      return 0;
    }
  }

  int64_t ks[SPATIAL], st[SPATIAL], dl[SPATIAL];
  if (!read_ints (node, "kernel_shape", nsp, 1, 0, ks, error)
      || !read_ints (node, "strides", nsp, 1, 1, st, error)
      || !read_ints (node, "dilations", nsp, 1, 1, dl, error))
    return 0;
  const SnAttr *ks_attr = sn_node_attr (node, "kernel_shape");
  gboolean has_ks = ks_attr && ks_attr->type == SN_ATTR_INTS && ks_attr->n > 0;
  int off = SPATIAL - nsp;
  for (int i = 0; i < SPATIAL; i++) {
    p->in[i] = p->out[i] = p->k[i] = p->stride[i] = p->dil[i] = 1;
    p->pad[i] = 0;
  }
  for (int i = 0; i < nsp; i++) {
    int64_t wk = ws->dims[2 + i];
    if (wk < 1 || (has_ks && ks[i] != wk)) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE,
          "weight '%s' spatial axis %d is %" G_GINT64_FORMAT
          ", attribute 'kernel_shape' disagrees or it is empty",
          node->inputs[1]->name, i, wk);
      return 0;
    }
    p->in[off + i] = xs->dims[2 + i];
    p->k[off + i] = wk;
    p->stride[off + i] = st[i];
    p->dil[off + i] = dl[i];
  }
  return nsp;
}

static gboolean
conv_prepare (SnNode *node, GError **error)
{
  ConvParams p;
  int nsp = conv_common (node, FALSE, &p, error);
  if (!nsp)
    return FALSE;

  AutoPad auto_pad;
  int64_t pads[2 * SPATIAL];
  if (!parse_auto_pad (node, &auto_pad, error)
      || !read_ints (node, "pads", 2 * nsp, 0, 0, pads, error))
    return FALSE;

  int off = SPATIAL - nsp;
  for (int i = 0; i < nsp; i++) {
    int j = off + i;
    int64_t in = p.in[j], s = p.stride[j];
    int64_t extent = (p.k[j] - 1) * p.dil[j] + 1;
    int64_t pb = pads[i], pe = pads[nsp + i];
    int64_t out;

    switch (auto_pad) {
      case AUTO_PAD_SAME_UPPER:
      case AUTO_PAD_SAME_LOWER: {
        out = (in + s - 1) / s;
        int64_t total = MAX (0, (out - 1) * s + extent - in);
        /* The odd pixel goes to the end for SAME_UPPER. */
        pb = auto_pad == AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
        break;
      }
      case AUTO_PAD_VALID:
        pb = pe = 0;
        /* fall through */
      case AUTO_PAD_NOTSET:
      default:
        if (in + pb + pe < extent) {
          sn_node_set_error (error, node, SN_ERROR_SHAPE,
              "spatial axis %d: padded input %" G_GINT64_FORMAT
              " is smaller than the kernel extent %" G_GINT64_FORMAT,
              i, in + pb + pe, extent);
          return FALSE;
        }
        out = (in + pb + pe - extent) / s + 1;
        break;
    }
    p.out[j] = out;
    p.pad[j] = pb;
  }

  SnShape ys = { .rank = nsp + 2 };
  ys.dims[0] = p.batch;
  ys.dims[1] = p.out_c;
  for (int i = 0; i < nsp; i++)
    ys.dims[2 + i] = p.out[off + i];
  sn_node_set_output (node, 0, SN_DTYPE_FLOAT32, &ys);

  node->flops = 2.0 * (double) sn_shape_numel (&ys)
      * (double) (p.in_c / p.group) * (double) shape_volume (p.k, SPATIAL);
  node->params = g_memdup2 (&p, sizeof p);
  return TRUE;
}

static void
conv_run (const SnNode *node, const SnTensor *const *in,
    SnTensor *const *out, SnExec *exec)
{
  const ConvParams *p = node->params;
  const float *x = in[0]->data, *w = in[1]->data;
  const float *bias = p->has_bias ? in[2]->data : NULL;
  float *y = out[0]->data;
  int64_t cg = p->in_c / p->group, mg = p->out_c / p->group;
  int64_t in_vol = shape_volume (p->in, SPATIAL);
  int64_t out_vol = shape_volume (p->out, SPATIAL);
  int64_t k_vol = shape_volume (p->k, SPATIAL);
  const int64_t *s = p->stride, *d = p->dil, *pad = p->pad, *k = p->k;
  int64_t ih_n = p->in[1], iw_n = p->in[2];

  for (int64_t n = 0; n < p->batch; n++) {
    for (int64_t oc = 0; oc < p->out_c; oc++) {
      const float *xg = x + (n * p->in_c + oc / mg * cg) * in_vol;
      const float *wo = w + oc * cg * k_vol;
      float *yo = y + (n * p->out_c + oc) * out_vol;

      for (int64_t od = 0; od < p->out[0]; od++) {
        int64_t d0, d1;
        taps_in_range (od, s[0], pad[0], d[0], k[0], p->in[0], &d0, &d1);
        for (int64_t oh = 0; oh < p->out[1]; oh++) {
          int64_t h0, h1;
          taps_in_range (oh, s[1], pad[1], d[1], k[1], ih_n, &h0, &h1);
          for (int64_t ow = 0; ow < p->out[2]; ow++) {
            int64_t w0, w1;
            taps_in_range (ow, s[2], pad[2], d[2], k[2], iw_n, &w0, &w1);
            double acc = bias ? bias[oc] : 0.0;

            for (int64_t ic = 0; ic < cg; ic++) {
              const float *xc = xg + ic * in_vol;
              const float *wc = wo + ic * k_vol;
              for (int64_t kd = d0; kd < d1; kd++) {
                int64_t id = od * s[0] - pad[0] + kd * d[0];
                for (int64_t kh = h0; kh < h1; kh++) {
                  int64_t ih = oh * s[1] - pad[1] + kh * d[1];
                  /* Index of tap 0 on this row; it may lie in the
                   * padding, taps w0..w1 do not. */
                  int64_t row = (id * ih_n + ih) * iw_n + ow * s[2] - pad[2];
                  const float *wr = wc + (kd * k[1] + kh) * k[2];
                  for (int64_t kw = w0; kw < w1; kw++)
                    acc += (double) xc[row + kw * d[2]] * wr[kw];
                }
              }
            }
            yo[(od * p->out[1] + oh) * p->out[2] + ow] = (float) acc;
          }
        }
      }
    }
  }
}

static const SnOpDef op_conv = {
  .op_type = "Conv",
  .since_opset = 1,
  .prepare = conv_prepare,
  .run = conv_run,
  .free_params = g_free,
};

/* ConvTranspose: output position o along an axis receives input i through
 * tap t when o = i * stride - pad + t * dilation. */
static gboolean
conv_transpose_prepare (SnNode *node, GError **error)
{
  ConvParams p;
  int nsp = conv_common (node, TRUE, &p, error);
  if (!nsp)
    return FALSE;

  AutoPad auto_pad;
  int64_t pads[2 * SPATIAL], out_pad[SPATIAL], out_shape[SPATIAL];
  if (!parse_auto_pad (node, &auto_pad, error)
      || !read_ints (node, "pads", 2 * nsp, 0, 0, pads, error)
      || !read_ints (node, "output_padding", nsp, 0, 0, out_pad, error))
    return FALSE;

  /* output_shape lists the spatial sizes; some exporters prefix N and C. */
  const SnAttr *os = sn_node_attr (node, "output_shape");
  gboolean has_out_shape = os && os->type == SN_ATTR_INTS && os->n > 0;
  if (has_out_shape) {
    if (os->n != nsp && os->n != nsp + 2) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
          "attribute 'output_shape' has %d values for %d spatial axes",
          os->n, nsp);
      return FALSE;
    }
    for (int i = 0; i < nsp; i++) {
      out_shape[i] = os->ints[os->n - nsp + i];
      if (out_shape[i] < 0 || out_shape[i] > ATTR_MAX) {
        sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
            "attribute 'output_shape'[%d] is %" G_GINT64_FORMAT, i, out_shape[i]);
        return FALSE;
      }
    }
  }

  int off = SPATIAL - nsp;
  for (int i = 0; i < nsp; i++) {
    int j = off + i;
    int64_t in = p.in[j], s = p.stride[j];
    int64_t full = s * (in - 1) + out_pad[i] + (p.k[j] - 1) * p.dil[j] + 1;
    int64_t pb = pads[i], pe = pads[nsp + i], out;

    if (in < 1) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE,
          "input '%s' spatial axis %d is empty", node->inputs[0]->name, i);
      return FALSE;
    }
    if (has_out_shape || auto_pad == AUTO_PAD_SAME_UPPER
        || auto_pad == AUTO_PAD_SAME_LOWER) {
      out = has_out_shape ? out_shape[i] : in * s;
      /* May be negative: the output is then longer than the full
       * transposed convolution and its tail only holds the bias.  The
       * split follows the ONNX text with Python's floor division, which
       * is what the conformance data was made with. */
      int64_t total = full - out;
      pb = auto_pad == AUTO_PAD_SAME_UPPER ? floor_div2 (total)
          : total - floor_div2 (total);
    } else {
      if (auto_pad == AUTO_PAD_VALID)
        pb = pe = 0;
      out = full - pb - pe;
      if (out < 1) {
        sn_node_set_error (error, node, SN_ERROR_SHAPE,
            "spatial axis %d: output size %" G_GINT64_FORMAT " after padding",
            i, out);
        return FALSE;
      }
    }
    p.out[j] = out;
    p.pad[j] = pb;
  }

  SnShape ys = { .rank = nsp + 2 };
  ys.dims[0] = p.batch;
  ys.dims[1] = p.out_c;
  for (int i = 0; i < nsp; i++)
    ys.dims[2 + i] = p.out[off + i];
  sn_node_set_output (node, 0, SN_DTYPE_FLOAT32, &ys);

  node->flops = 2.0 * (double) sn_shape_numel (&node->inputs[0]->shape)
      * (double) (p.out_c / p.group) * (double) shape_volume (p.k, SPATIAL);
  node->params = g_memdup2 (&p, sizeof p);
  return TRUE;
}

/* Input index feeding output O through tap T, or -1 when none does. */
static inline int64_t
transpose_src (int64_t o, int64_t t, int64_t s, int64_t pad, int64_t d,
    int64_t in)
{
  int64_t v = o + pad - t * d;
  if (v < 0 || v % s != 0 || v / s >= in)
    return -1;
  return v / s;
}

static void
conv_transpose_run (const SnNode *node, const SnTensor *const *in,
    SnTensor *const *out, SnExec *exec)
{
  const ConvParams *p = node->params;
  const float *x = in[0]->data, *w = in[1]->data;
  const float *bias = p->has_bias ? in[2]->data : NULL;
  float *y = out[0]->data;
  int64_t cg = p->in_c / p->group, mg = p->out_c / p->group;
  int64_t in_vol = shape_volume (p->in, SPATIAL);
  int64_t out_vol = shape_volume (p->out, SPATIAL);
  int64_t k_vol = shape_volume (p->k, SPATIAL);
  const int64_t *s = p->stride, *d = p->dil, *pad = p->pad, *k = p->k;

  for (int64_t n = 0; n < p->batch; n++) {
    for (int64_t oc = 0; oc < p->out_c; oc++) {
      int64_t g = oc / mg, ocg = oc % mg;
      const float *xg = x + (n * p->in_c + g * cg) * in_vol;
      /* W[ic][ocg][taps] for the group's input channels ic. */
      const float *wg = w + (g * cg * mg + ocg) * k_vol;
      float *yo = y + (n * p->out_c + oc) * out_vol;

      for (int64_t od = 0; od < p->out[0]; od++)
        for (int64_t oh = 0; oh < p->out[1]; oh++)
          for (int64_t ow = 0; ow < p->out[2]; ow++) {
            double acc = bias ? bias[oc] : 0.0;
            for (int64_t kd = 0; kd < k[0]; kd++) {
              int64_t id = transpose_src (od, kd, s[0], pad[0], d[0], p->in[0]);
              if (id < 0)
                continue;
              for (int64_t kh = 0; kh < k[1]; kh++) {
                int64_t ih = transpose_src (oh, kh, s[1], pad[1], d[1], p->in[1]);
                if (ih < 0)
                  continue;
                for (int64_t kw = 0; kw < k[2]; kw++) {
                  int64_t iw = transpose_src (ow, kw, s[2], pad[2], d[2], p->in[2]);
                  if (iw < 0)
                    continue;
                  int64_t xi = (id * p->in[1] + ih) * p->in[2] + iw;
                  int64_t wi = (kd * k[1] + kh) * k[2] + kw;
                  for (int64_t ic = 0; ic < cg; ic++)
                    acc += (double) xg[ic * in_vol + xi] * wg[ic * mg * k_vol + wi];
                }
              }
            }
            yo[(od * p->out[1] + oh) * p->out[2] + ow] = (float) acc;
          }
    }
  }
}

static const SnOpDef op_conv_transpose = {
  .op_type = "ConvTranspose",
  .since_opset = 1,
  .prepare = conv_transpose_prepare,
  .run = conv_transpose_run,
  .free_params = g_free,
};

/* ------------------------------------------------------------------ */
/* BatchNormalization, inference form: y = (x - mean) / sqrt(var + eps)
 * * scale + bias per channel (axis 1). */

typedef struct {
  int64_t batch, channels, inner;
  double epsilon;
} BatchNormParams;

static gboolean
batch_norm_prepare (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 5, 5, 1, 5, error))
    return FALSE;
  for (int i = 0; i < 5; i++)
    if (!sn_node_require_float (node, i, error))
      return FALSE;

  /* Each opset spelled "training" differently; all of it is refused. */
  if (node->opset < 7 && sn_node_attr_int (node, "is_test", 0) == 0) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "attribute 'is_test' is 0 (training); only inference is supported");
    return FALSE;
  }
  if (sn_node_attr_int (node, "training_mode", 0) != 0) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "attribute 'training_mode' is set; only inference is supported");
    return FALSE;
  }
  if (node->opset < 9 && sn_node_attr_int (node, "spatial", 1) != 1) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "attribute 'spatial' = 0 (per-activation statistics) is not supported");
    return FALSE;
  }
  for (int i = 1; i < node->n_outputs; i++) {
    if (node->outputs[i]) {
      sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
          "output %d '%s' (running statistics) is only produced in training",
          i, node->outputs[i]->name);
      return FALSE;
    }
  }

  const SnShape *xs = &node->inputs[0]->shape;
  if (xs->rank < 2) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE,
        "input '%s' has rank %d; expected N x C x ...", node->inputs[0]->name,
        xs->rank);
    return FALSE;
  }
  BatchNormParams p = {
    .batch = xs->dims[0],
    .channels = xs->dims[1],
    .inner = 1,
    .epsilon = sn_node_attr_float (node, "epsilon", 1e-5f),
  };
  for (int i = 2; i < xs->rank; i++)
    p.inner *= xs->dims[i];
  for (int i = 1; i < 5; i++) {
    const SnShape *s = &node->inputs[i]->shape;
    if (s->rank != 1 || s->dims[0] != p.channels) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE,
          "input %d '%s' must have shape [%" G_GINT64_FORMAT "]", i,
          node->inputs[i]->name, p.channels);
      return FALSE;
    }
  }

  sn_node_set_output (node, 0, SN_DTYPE_FLOAT32, xs);
  node->flops = 2.0 * (double) sn_shape_numel (xs);
  node->params = g_memdup2 (&p, sizeof p);
  return TRUE;
}

static void
batch_norm_run (const SnNode *node, const SnTensor *const *in,
    SnTensor *const *out, SnExec *exec)
{
  const BatchNormParams *p = node->params;
  const float *x = in[0]->data, *scale = in[1]->data, *bias = in[2]->data;
  const float *mean = in[3]->data, *var = in[4]->data;
  float *y = out[0]->data;

  for (int64_t n = 0; n < p->batch; n++) {
    for (int64_t c = 0; c < p->channels; c++) {
      double a = scale[c] / sqrt ((double) var[c] + p->epsilon);
      const float *xc = x + (n * p->channels + c) * p->inner;
      float *yc = y + (n * p->channels + c) * p->inner;
      for (int64_t i = 0; i < p->inner; i++)
        yc[i] = (float) (((double) xc[i] - mean[c]) * a + bias[c]);
    }
  }
}

static const SnOpDef op_batch_norm = {
  .op_type = "BatchNormalization",
  .since_opset = 6,
  .prepare = batch_norm_prepare,
  .run = batch_norm_run,
  .free_params = g_free,
};

/* ------------------------------------------------------------------ */
/* Gemm: Y = alpha * A' B' + beta * C, C broadcast to M x N. */

typedef struct {
  int64_t m, k, n;
  gboolean trans_a, trans_b;
  double alpha, beta;
  gboolean has_c;
  int64_t c_stride_m, c_stride_n;  /* 0 along broadcast axes */
} GemmParams;

static gboolean
gemm_prepare (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 2, 3, 1, 1, error))
    return FALSE;
  for (int i = 0; i < node->n_inputs; i++)
    if (!sn_node_require_float (node, i, error))
      return FALSE;

  const SnShape *as = &node->inputs[0]->shape, *bs = &node->inputs[1]->shape;
  if (as->rank != 2 || bs->rank != 2) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE,
        "inputs '%s' and '%s' must be matrices (ranks %d, %d)",
        node->inputs[0]->name, node->inputs[1]->name, as->rank, bs->rank);
    return FALSE;
  }
  GemmParams p = {
    .trans_a = sn_node_attr_int (node, "transA", 0) != 0,
    .trans_b = sn_node_attr_int (node, "transB", 0) != 0,
    .alpha = sn_node_attr_float (node, "alpha", 1.0f),
    .beta = sn_node_attr_float (node, "beta", 1.0f),
  };
  p.m = as->dims[p.trans_a ? 1 : 0];
  p.k = as->dims[p.trans_a ? 0 : 1];
  p.n = bs->dims[p.trans_b ? 0 : 1];
  int64_t kb = bs->dims[p.trans_b ? 1 : 0];
  if (kb != p.k) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE,
        "inner dimensions differ: '%s' gives %" G_GINT64_FORMAT ", '%s' %"
        G_GINT64_FORMAT, node->inputs[0]->name, p.k, node->inputs[1]->name, kb);
    return FALSE;
  }

  p.has_c = node->n_inputs > 2 && node->inputs[2];
  if (p.has_c) {
    /* Unidirectional broadcast (opset 7+); opset 6's 'broadcast' = 1
     * meant the same and broadcast = 0 only demanded the exact shape,
     * which this accepts as well. */
    const SnShape *cs = &node->inputs[2]->shape;
    int64_t cm = cs->rank == 2 ? cs->dims[0] : 1;
    int64_t cn = cs->rank >= 1 ? cs->dims[cs->rank - 1] : 1;
    if (cs->rank > 2 || (cm != 1 && cm != p.m) || (cn != 1 && cn != p.n)) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE,
          "input '%s' cannot be broadcast to %" G_GINT64_FORMAT " x %"
          G_GINT64_FORMAT, node->inputs[2]->name, p.m, p.n);
      return FALSE;
    }
    p.c_stride_n = cn == 1 ? 0 : 1;
    p.c_stride_m = cm == 1 ? 0 : cn;
  }

  SnShape ys = { .rank = 2, .dims = { p.m, p.n } };
  sn_node_set_output (node, 0, SN_DTYPE_FLOAT32, &ys);
  node->flops = 2.0 * (double) p.m * (double) p.n * (double) p.k;
  node->params = g_memdup2 (&p, sizeof p);
  return TRUE;
}

static void
gemm_run (const SnNode *node, const SnTensor *const *in,
    SnTensor *const *out, SnExec *exec)
{
  const GemmParams *p = node->params;
  const float *a = in[0]->data, *b = in[1]->data;
  const float *c = p->has_c ? in[2]->data : NULL;
  float *y = out[0]->data;
  /* Element strides of A' (M x K) and B' (K x N). */
  int64_t a_sm = p->trans_a ? 1 : p->k, a_sk = p->trans_a ? p->m : 1;
  int64_t b_sk = p->trans_b ? 1 : p->n, b_sn = p->trans_b ? p->k : 1;

  for (int64_t i = 0; i < p->m; i++) {
    for (int64_t j = 0; j < p->n; j++) {
      double acc = 0.0;
      for (int64_t kk = 0; kk < p->k; kk++)
        acc += (double) a[i * a_sm + kk * a_sk] * b[kk * b_sk + j * b_sn];
      double v = p->alpha * acc;
      /* beta = 0 ignores C entirely, as the runtimes do. */
      if (c && p->beta != 0.0)
        v += p->beta * c[i * p->c_stride_m + j * p->c_stride_n];
      y[i * p->n + j] = (float) v;
    }
  }
}

static const SnOpDef op_gemm = {
  .op_type = "Gemm",
  .since_opset = 6,
  .prepare = gemm_prepare,
  .run = gemm_run,
  .free_params = g_free,
};

/* ------------------------------------------------------------------ */
/* MatMul with numpy.matmul semantics: a 1-D A is a row vector and a 1-D B
 * a column vector, the added axis being dropped from the result; leading
 * (batch) axes broadcast. */

typedef struct {
  int64_t m, k, n;
  int batch_rank;
  int64_t batch[SN_MAX_DIMS];
  int64_t a_stride[SN_MAX_DIMS], b_stride[SN_MAX_DIMS];  /* in elements */
  int64_t n_batch;
} MatMulParams;

static gboolean
matmul_prepare (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 2, 2, 1, 1, error))
    return FALSE;
  if (!sn_node_require_float (node, 0, error)
      || !sn_node_require_float (node, 1, error))
    return FALSE;

  const SnShape *as = &node->inputs[0]->shape, *bs = &node->inputs[1]->shape;
  if (as->rank < 1 || bs->rank < 1) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE,
        "inputs '%s' and '%s' must not be scalars", node->inputs[0]->name,
        node->inputs[1]->name);
    return FALSE;
  }
  MatMulParams p = { 0 };
  p.m = as->rank == 1 ? 1 : as->dims[as->rank - 2];
  p.k = as->dims[as->rank - 1];
  p.n = bs->rank == 1 ? 1 : bs->dims[bs->rank - 1];
  int64_t kb = bs->dims[bs->rank == 1 ? 0 : bs->rank - 2];
  if (kb != p.k) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE,
        "inner dimensions differ: '%s' gives %" G_GINT64_FORMAT ", '%s' %"
        G_GINT64_FORMAT, node->inputs[0]->name, p.k, node->inputs[1]->name, kb);
    return FALSE;
  }

  SnShape ab = { .rank = MAX (as->rank - 2, 0) };
  SnShape bb = { .rank = MAX (bs->rank - 2, 0) };
  memcpy (ab.dims, as->dims, ab.rank * sizeof (int64_t));
  memcpy (bb.dims, bs->dims, bb.rank * sizeof (int64_t));
  SnShape batch;
  if (!sn_shape_broadcast (&ab, &bb, &batch)) {
    sn_node_set_error (error, node, SN_ERROR_SHAPE,
        "batch axes of '%s' and '%s' do not broadcast", node->inputs[0]->name,
        node->inputs[1]->name);
    return FALSE;
  }

  SnShape ys = batch;
  if (as->rank > 1)
    ys.dims[ys.rank++] = p.m;
  if (bs->rank > 1) {
    if (ys.rank >= SN_MAX_DIMS) {
      sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
          "output rank exceeds %d", SN_MAX_DIMS);
      return FALSE;
    }
    ys.dims[ys.rank++] = p.n;
  }

  p.batch_rank = batch.rank;
  p.n_batch = 1;
  int64_t sa = p.m * p.k, sb = p.k * p.n;
  for (int i = batch.rank - 1; i >= 0; i--) {
    int ia = i - (batch.rank - ab.rank), ib = i - (batch.rank - bb.rank);
    int64_t da = ia >= 0 ? ab.dims[ia] : 1, db = ib >= 0 ? bb.dims[ib] : 1;
    p.batch[i] = batch.dims[i];
    p.a_stride[i] = da == 1 ? 0 : sa;
    p.b_stride[i] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
    p.n_batch *= batch.dims[i];
  }

  sn_node_set_output (node, 0, SN_DTYPE_FLOAT32, &ys);
  node->flops = 2.0 * (double) p.n_batch * (double) p.m * (double) p.n
      * (double) p.k;
  node->params = g_memdup2 (&p, sizeof p);
  return TRUE;
}

static void
matmul_run (const SnNode *node, const SnTensor *const *in,
    SnTensor *const *out, SnExec *exec)
{
  const MatMulParams *p = node->params;
  const float *a = in[0]->data, *b = in[1]->data;
  float *y = out[0]->data;

  for (int64_t bi = 0; bi < p->n_batch; bi++) {
    int64_t a_off = 0, b_off = 0, rest = bi;
    for (int i = p->batch_rank - 1; i >= 0; i--) {
      int64_t idx = rest % p->batch[i];
      rest /= p->batch[i];
      a_off += idx * p->a_stride[i];
      b_off += idx * p->b_stride[i];
    }
    const float *am = a + a_off, *bm = b + b_off;
    float *ym = y + bi * p->m * p->n;
    for (int64_t i = 0; i < p->m; i++)
      for (int64_t j = 0; j < p->n; j++) {
        double acc = 0.0;
        for (int64_t kk = 0; kk < p->k; kk++)
          acc += (double) am[i * p->k + kk] * bm[kk * p->n + j];
        ym[i * p->n + j] = (float) acc;
      }
  }
}

static const SnOpDef op_matmul = {
  .op_type = "MatMul",
  .since_opset = 1,
  .prepare = matmul_prepare,
  .run = matmul_run,
  .free_params = g_free,
};

const SnOpDef *const sn_ops_conv[] = {
  &op_conv,
  &op_conv_transpose,
  &op_batch_norm,
  &op_gemm,
  &op_matmul,
  NULL,
};
