/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — reference Resize (opsets 10-13+) and Upsample (7, 9).
 *
 * Interpolation is separable: prepare() turns every output coordinate of
 * every axis into at most four (source index, weight) taps, following the
 * ONNX reference (onnx/backend/test/case/node/resize.py): source coordinate
 * by the coordinate transformation mode, neighbours taken with edge
 * padding, the left neighbour preferred so the fractional part lies in
 * (0, 1].  run() sums the products of the taps of all axes. */
#include "sn-ops.h"

#include <math.h>
#include <string.h>

#define MAX_TAPS 4

typedef enum { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC } InterpMode;

typedef enum {
  CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC,
  CT_TF_HALF_PIXEL_FOR_NN, CT_TF_CROP_AND_RESIZE,
} CoordMode;

typedef enum { NEAREST_ROUND_PREFER_FLOOR, NEAREST_ROUND_PREFER_CEIL, NEAREST_FLOOR, NEAREST_CEIL } NearestMode;

typedef struct {
  int n_taps;                   /* per output coordinate of this axis */
  int64_t *idx;                 /* [out_len * n_taps] */
  float *w;
  guint8 *outside;              /* tf_crop_and_resize: coordinate outside the input */
} AxisTaps;

typedef struct {
  int rank;
  AxisTaps axes[SN_MAX_DIMS];
  float extrapolation;
} ResizeParams;

static void
resize_params_free (void *p)
{
  ResizeParams *r = p;
  for (int i = 0; i < r->rank; i++) {
    g_free (r->axes[i].idx);
    g_free (r->axes[i].w);
    g_free (r->axes[i].outside);
  }
  g_free (r);
}

static void
cubic_coeffs (double r, double A, double *c)
{
  c[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
  c[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
  c[2] = ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1;
  c[3] = ((A * ((1 - r) + 1) - 5 * A) * ((1 - r) + 1) + 8 * A) * ((1 - r) + 1) - 4 * A;
}

typedef struct {
  InterpMode mode;
  CoordMode coord;
  NearestMode nearest;
  double cubic_a;
  gboolean exclude_outside;
} Options;

/* Source coordinate of output coordinate x (ONNX's get_original_coordinate). */
/* out_len is scale * in_len, unrounded: the ONNX reference uses it so in
 * the align_corners and crop formulas, which matters when downsampling by
 * a scale whose product is not an integer. */
static double
source_coordinate (const Options *o, double x, double scale, int64_t in_len,
    double out_len, double roi_start, double roi_end, gboolean *outside)
{
  double xo = 0;
  *outside = FALSE;
  switch (o->coord) {
    case CT_HALF_PIXEL:
      xo = (x + 0.5) / scale - 0.5;
      break;
    case CT_PYTORCH_HALF_PIXEL:
      xo = out_len > 1 ? (x + 0.5) / scale - 0.5 : -0.5;
      break;
    case CT_ALIGN_CORNERS:
      xo = out_len == 1 ? 0 : x * (double) (in_len - 1) / (out_len - 1);
      break;
    case CT_ASYMMETRIC:
      xo = x / scale;
      break;
    case CT_TF_HALF_PIXEL_FOR_NN:
      xo = (x + 0.5) / scale;
      break;
    case CT_TF_CROP_AND_RESIZE:
      xo = out_len == 1 ? (roi_end - roi_start) * (in_len - 1) / 2
          : x * (roi_end - roi_start) * (in_len - 1) / (out_len - 1);
      xo += roi_start * (in_len - 1);
      *outside = xo < 0 || xo > in_len - 1;
      break;
  }
  return xo;
}

static void
axis_taps (const Options *o, AxisTaps *a, int64_t in_len, int64_t out_len,
    double scale, double roi_start, double roi_end)
{
  a->n_taps = o->mode == MODE_CUBIC ? 4 : 2;
  a->idx = g_new0 (int64_t, out_len * a->n_taps + 1);
  a->w = g_new0 (float, out_len * a->n_taps + 1);
  a->outside = g_new0 (guint8, out_len + 1);
  for (int64_t x = 0; x < out_len; x++) {
    gboolean outside;
    double xo = source_coordinate (o, (double) x, scale, in_len, scale * (double) in_len,
        roi_start, roi_end, &outside);
    a->outside[x] = outside;
    /* The left neighbour is preferred: an integer coordinate is the right
     * end of its interval, with ratio 1. */
    double fl = floor (xo);
    int64_t x0 = (int64_t) fl;
    double r = xo - fl;
    if (r == 0) {
      x0 -= 1;
      r = 1;
    }
    double c[MAX_TAPS] = { 0 };
    int64_t first;
    if (o->mode == MODE_CUBIC) {
      cubic_coeffs (r, o->cubic_a, c);
      first = x0 - 1;
    } else {
      first = x0;
      if (o->mode == MODE_LINEAR) {
        c[0] = 1 - r;
        c[1] = r;
      } else {
        gboolean right;
        if (r == 1)
          right = TRUE;
        else if (o->nearest == NEAREST_ROUND_PREFER_FLOOR)
          right = r > 0.5;
        else if (o->nearest == NEAREST_ROUND_PREFER_CEIL)
          right = r >= 0.5;
        else
          right = o->nearest == NEAREST_CEIL;
        c[right ? 1 : 0] = 1;
      }
    }
    if (o->exclude_outside) {
      double sum = 0;
      for (int t = 0; t < a->n_taps; t++) {
        int64_t i = first + t;
        if (i < 0 || i >= in_len)
          c[t] = 0;
        sum += c[t];
      }
      for (int t = 0; t < a->n_taps && sum != 0; t++)
        c[t] /= sum;
    }
    for (int t = 0; t < a->n_taps; t++) {
      a->idx[x * a->n_taps + t] = CLAMP (first + t, 0, in_len - 1);  /* edge padding */
      a->w[x * a->n_taps + t] = (float) c[t];
    }
  }
}

static gboolean
parse_options (SnNode *node, gboolean upsample, Options *o, GError **error)
{
  const char *mode = sn_node_attr_string (node, "mode", "nearest");
  const char *coord = "asymmetric";
  const char *nearest = "round_prefer_floor";
  memset (o, 0, sizeof *o);
  /* Upsample and Resize-10 are asymmetric, and their nearest rounds down. */
  if (upsample || node->opset < 11) {
    nearest = "floor";
  } else {
    coord = sn_node_attr_string (node, "coordinate_transformation_mode", "half_pixel");
    nearest = sn_node_attr_string (node, "nearest_mode", "round_prefer_floor");
  }
  o->cubic_a = sn_node_attr_float (node, "cubic_coeff_a", -0.75f);
  o->exclude_outside = sn_node_attr_int (node, "exclude_outside", 0) != 0;

  if (strcmp (mode, "nearest") == 0)
    o->mode = MODE_NEAREST;
  else if (strcmp (mode, "linear") == 0 || strcmp (mode, "bilinear") == 0)
    o->mode = MODE_LINEAR;
  else if (strcmp (mode, "cubic") == 0 && !upsample)
    o->mode = MODE_CUBIC;
  else {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "mode '%s' is not supported", mode);
    return FALSE;
  }
  static const struct { const char *name; CoordMode mode; } coords[] = {
    { "half_pixel", CT_HALF_PIXEL }, { "pytorch_half_pixel", CT_PYTORCH_HALF_PIXEL },
    { "align_corners", CT_ALIGN_CORNERS }, { "asymmetric", CT_ASYMMETRIC },
    { "tf_half_pixel_for_nn", CT_TF_HALF_PIXEL_FOR_NN }, { "tf_crop_and_resize", CT_TF_CROP_AND_RESIZE },
  };
  static const struct { const char *name; NearestMode mode; } nearests[] = {
    { "round_prefer_floor", NEAREST_ROUND_PREFER_FLOOR }, { "round_prefer_ceil", NEAREST_ROUND_PREFER_CEIL },
    { "floor", NEAREST_FLOOR }, { "ceil", NEAREST_CEIL },
  };
  size_t i;
  for (i = 0; i < G_N_ELEMENTS (coords) && strcmp (coords[i].name, coord); i++)
    ;
  if (i == G_N_ELEMENTS (coords)) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "coordinate_transformation_mode '%s' is not supported", coord);
    return FALSE;
  }
  o->coord = coords[i].mode;
  for (i = 0; i < G_N_ELEMENTS (nearests) && strcmp (nearests[i].name, nearest); i++)
    ;
  if (i == G_N_ELEMENTS (nearests)) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "nearest_mode '%s' is not supported", nearest);
    return FALSE;
  }
  o->nearest = nearests[i].mode;
  return TRUE;
}

/* Reads a constant float tensor input (scales or roi); returns its length,
 * 0 when absent or empty, -1 on error. */
static int
const_floats (SnNode *node, int i, double *vals, int max, GError **error)
{
  const SnValue *v = i < node->n_inputs ? node->inputs[i] : NULL;
  if (!v)
    return 0;
  if (!v->constant) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "input %d '%s' must be a constant (scales and roi are fixed at load time)", i, v->name);
    return -1;
  }
  int64_t n = sn_tensor_numel (v->constant);
  if (v->dtype != SN_DTYPE_FLOAT32 && v->dtype != SN_DTYPE_DOUBLE) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "input '%s' must be float", v->name);
    return -1;
  }
  if (n > max) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "input '%s' is too long", v->name);
    return -1;
  }
  for (int64_t k = 0; k < n; k++)
    vals[k] = v->dtype == SN_DTYPE_FLOAT32 ? ((const float *) v->constant->data)[k]
        : ((const double *) v->constant->data)[k];
  return (int) n;
}

static gboolean
prepare_resize_common (SnNode *node, gboolean upsample, GError **error)
{
  int max_in = upsample ? (node->opset < 9 ? 1 : 2) : (node->opset < 11 ? 2 : 4);
  if (!sn_node_check_arity (node, 1, max_in, 1, 1, error) || !sn_node_require_float (node, 0, error))
    return FALSE;
  Options o;
  if (!parse_options (node, upsample, &o, error))
    return FALSE;
  const SnShape *in = &node->inputs[0]->shape;
  int r = in->rank;
  double scales[SN_MAX_DIMS], roi[2 * SN_MAX_DIMS];
  int64_t sizes[SN_MAX_DIMS];
  int n_scales = 0, n_sizes = 0, n_roi = 0;
  if (upsample && node->opset < 9) {
    const float *s;
    n_scales = sn_node_attr_floats (node, "scales", &s);
    for (int i = 0; i < MIN (n_scales, SN_MAX_DIMS); i++)
      scales[i] = s[i];
  } else if (upsample || node->opset < 11) {
    n_scales = const_floats (node, 1, scales, SN_MAX_DIMS, error);
  } else {
    n_roi = const_floats (node, 1, roi, 2 * SN_MAX_DIMS, error);
    n_scales = n_roi < 0 ? -1 : const_floats (node, 2, scales, SN_MAX_DIMS, error);
    if (n_scales >= 0 && node->n_inputs > 3 && node->inputs[3]) {
      n_sizes = sn_node_const_ints (node, 3, sizes, SN_MAX_DIMS, error);
      if (n_sizes < 0)
        return FALSE;
    }
  }
  if (n_scales < 0 || n_roi < 0)
    return FALSE;
  if ((n_scales && n_sizes) || (n_scales != r && n_sizes != r)) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL,
        "exactly one of scales and sizes must be given, with %d values", r);
    return FALSE;
  }
  if (o.coord == CT_TF_CROP_AND_RESIZE && n_roi != 2 * r) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "tf_crop_and_resize needs a roi of %d values", 2 * r);
    return FALSE;
  }
  SnShape out = { .rank = r };
  for (int i = 0; i < r; i++) {
    if (n_sizes) {
      out.dims[i] = sizes[i];
      scales[i] = in->dims[i] ? (double) sizes[i] / (double) in->dims[i] : 1;
    } else {
      if (!(scales[i] > 0)) {
        sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "scale %d is not positive", i);
        return FALSE;
      }
      out.dims[i] = (int64_t) floor (scales[i] * (double) in->dims[i]);
    }
    if (out.dims[i] < 0) {
      sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "negative output size");
      return FALSE;
    }
  }
  ResizeParams *p = g_new0 (ResizeParams, 1);
  p->rank = r;
  p->extrapolation = sn_node_attr_float (node, "extrapolation_value", 0.0f);
  node->params = p;
  for (int i = 0; i < r; i++)
    axis_taps (&o, &p->axes[i], in->dims[i], out.dims[i], scales[i],
        n_roi ? roi[i] : 0, n_roi ? roi[i + r] : 1);
  sn_node_set_output (node, 0, SN_DTYPE_FLOAT32, &out);
  int taps = 1;
  for (int i = 0; i < r; i++)
    taps *= p->axes[i].n_taps;
  node->flops = 2.0 * taps * sn_shape_numel (&out);
  return TRUE;
}

static void
run_resize (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const ResizeParams *p = node->params;
  const SnShape *is = &in[0]->shape, *os = &out[0]->shape;
  int r = p->rank;
  int64_t ist[SN_MAX_DIMS], st = 1;
  for (int i = r - 1; i >= 0; i--) {
    ist[i] = st;
    st *= is->dims[i];
  }
  const float *x = in[0]->data;
  float *y = out[0]->data;
  int64_t total = sn_tensor_numel (out[0]);
  int64_t idx[SN_MAX_DIMS] = { 0 };
  for (int64_t o = 0; o < total; o++) {
    gboolean outside = FALSE;
    for (int d = 0; d < r; d++)
      outside |= p->axes[d].outside[idx[d]];
    if (outside) {
      y[o] = p->extrapolation;
    } else {
      /* Sum over the cartesian product of the axes' taps. */
      int t[SN_MAX_DIMS] = { 0 };
      double acc = 0;
      for (;;) {
        double w = 1;
        int64_t off = 0;
        for (int d = 0; d < r; d++) {
          const AxisTaps *a = &p->axes[d];
          w *= a->w[idx[d] * a->n_taps + t[d]];
          off += a->idx[idx[d] * a->n_taps + t[d]] * ist[d];
        }
        if (w != 0)
          acc += w * x[off];
        int d = r - 1;
        for (; d >= 0; d--) {
          if (++t[d] < p->axes[d].n_taps)
            break;
          t[d] = 0;
        }
        if (d < 0)
          break;
      }
      y[o] = (float) acc;
    }
    for (int d = r - 1; d >= 0; d--) {
      if (++idx[d] < os->dims[d])
        break;
      idx[d] = 0;
    }
  }
}

static gboolean prepare_resize (SnNode *n, GError **e) { return prepare_resize_common (n, FALSE, e); }
static gboolean prepare_upsample (SnNode *n, GError **e) { return prepare_resize_common (n, TRUE, e); }

static const SnOpDef op_Resize = { "Resize", 10, prepare_resize, run_resize, resize_params_free };
static const SnOpDef op_Upsample = { "Upsample", 7, prepare_upsample, run_resize, resize_params_free };

const SnOpDef *const sn_ops_resize[] = {
  &op_Resize, &op_Upsample,
  NULL,
};
