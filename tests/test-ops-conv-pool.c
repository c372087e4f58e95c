/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reference kernels of sn-ops-conv.c and sn-ops-pool.c on cases the ONNX
 * conformance data does not reach: ceil_mode windows past the padding,
 * asymmetric pads, grouped transposed convolution, numpy.matmul's 1-D and
 * batch broadcasting rules, Gemm's broadcast C, and the attribute
 * combinations that must be refused rather than guessed.
 *
 * Expected values come from an independent NumPy oracle (explicit padded
 * arrays and sliding windows, np.matmul, np.prod...) or are worked out by
 * hand where noted; none were produced by the code under test. */
#include <check.h>
#include <math.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "sn-test-onnx.h"

#define IN(...) ((const char *[]) { __VA_ARGS__, NULL })
#define DIMS(...) ((const int64_t[]) { __VA_ARGS__ })

/* Loads G (which it frees) and runs it on INPUTS; returns a copy of output
 * 0, or NULL with *error set when the model is refused.  *flops gets the
 * segment's FLOP count when not NULL. */
static SnTensor *
run_graph (SnTestGraph *g, const SnTensor *const *inputs, double *flops,
    GError **error)
{
  size_t len;
  g_autofree guint8 *buf = sn_test_graph_serialize (g, &len);
  sn_test_graph_free (g);

  SnModel *m = sn_model_load_from_data (buf, len, NULL, error);
  if (!m)
    return NULL;
  GError *err = NULL;
  SnSegment *seg = sn_segment_new (m, NULL, 0, NULL, 0, &err);
  ck_assert_msg (seg != NULL, "%s", err ? err->message : "");
  ck_assert_msg (sn_segment_run (seg, inputs, &err), "%s", err ? err->message : "");
  SnTensor *y = sn_tensor_copy (sn_segment_output (seg, 0));
  if (flops)
    *flops = sn_segment_flops (seg);
  sn_segment_free (seg);
  sn_model_free (m);
  return y;
}

static SnTensor *
run_ok (SnTestGraph *g, const SnTensor *const *inputs, double *flops)
{
  GError *err = NULL;
  SnTensor *y = run_graph (g, inputs, flops, &err);
  ck_assert_msg (y != NULL, "refused: %s", err ? err->message : "");
  return y;
}

static void
assert_refused (SnTestGraph *g, SnError code, const char *needle)
{
  GError *err = NULL;
  SnTensor *y = run_graph (g, NULL, NULL, &err);
  ck_assert_msg (y == NULL, "model was accepted");
  ck_assert_msg (g_error_matches (err, SN_ERROR, code),
      "expected code %d, got %d: %s", code, err->code, err->message);
  ck_assert_msg (strstr (err->message, needle), "'%s' not in: %s", needle,
      err->message);
  g_error_free (err);
}

static SnTensor *
wrap (int rank, const int64_t *dims, const float *data)
{
  SnShape s = sn_shape_make (rank, dims);
  return sn_tensor_new_wrap (SN_DTYPE_FLOAT32, &s, (void *) data);
}

static void
assert_close (const SnTensor *y, int rank, const int64_t *dims,
    const float *expect)
{
  SnShape s = sn_shape_make (rank, dims);
  char a[64], b[64];
  ck_assert_msg (sn_shape_equal (&y->shape, &s), "shape %s, expected %s",
      sn_shape_format (&y->shape, a, sizeof a), sn_shape_format (&s, b, sizeof b));
  const float *v = y->data;
  for (int64_t i = 0; i < sn_shape_numel (&s); i++)
    ck_assert_msg (fabs (v[i] - expect[i]) <= 1e-5 + 1e-5 * fabs (expect[i]),
        "element %" G_GINT64_FORMAT ": %.9g, expected %.9g", i, v[i], expect[i]);
}

static const float iota16[] = {
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};

/* k 3, stride 2, pads 1 on a 4 x 4 input with ceil_mode: the last window
 * covers row 3 (input), row 4 (explicit padding) and row 5, which lies
 * past all padding and must not count even with count_include_pad. */
static SnTensor *
average_pool_ceil (gboolean include_pad)
{
  SnTestGraph *g = sn_test_graph_new (11);
  sn_test_graph_input (g, "x", 4, DIMS (1, 1, 4, 4));
  sn_test_graph_output (g, "y", 4, DIMS (1, 1, 3, 3));
  sn_test_graph_node (g, "AveragePool", "pool", IN ("x"), IN ("y"));
  sn_test_graph_attr_ints (g, "kernel_shape", 2, DIMS (3, 3));
  sn_test_graph_attr_ints (g, "strides", 2, DIMS (2, 2));
  sn_test_graph_attr_ints (g, "pads", 4, DIMS (1, 1, 1, 1));
  sn_test_graph_attr_int (g, "ceil_mode", 1);
  sn_test_graph_attr_int (g, "count_include_pad", include_pad);
  g_autoptr (SnTensor) x = wrap (4, DIMS (1, 1, 4, 4), iota16);
  return run_ok (g, (const SnTensor *[]) { x }, NULL);
}

START_TEST (test_average_pool_ceil_count_include_pad)
{
  static const float incl[] = {
    1.55555556, 3.33333333, 2, 6.33333333, 11, 6, 4.5, 7.5, 4,
  };
  static const float excl[] = { 3.5, 5, 6, 9.5, 11, 12, 13.5, 15, 16 };
  g_autoptr (SnTensor) y1 = average_pool_ceil (TRUE);
  assert_close (y1, 4, DIMS (1, 1, 3, 3), incl);
  g_autoptr (SnTensor) y0 = average_pool_ceil (FALSE);
  assert_close (y0, 4, DIMS (1, 1, 3, 3), excl);
}
END_TEST

/* By hand: 5 + 2 pads - 2 = 5, ceil(5 / 2) + 1 = 4 windows, but the 4th
 * would start at padded index 6, past the input: PyTorch's rule keeps 3.
 * Windows [pad, 1], [5, 2], [4, 3]. */
START_TEST (test_max_pool_ceil_drops_window_in_padding)
{
  static const float xv[] = { 1, 5, 2, 4, 3 };
  static const float expect[] = { 1, 5, 4 };
  SnTestGraph *g = sn_test_graph_new (12);
  sn_test_graph_input (g, "x", 3, DIMS (1, 1, 5));
  sn_test_graph_output (g, "y", 3, DIMS (1, 1, 3));
  sn_test_graph_node (g, "MaxPool", "pool", IN ("x"), IN ("y"));
  sn_test_graph_attr_ints (g, "kernel_shape", 1, DIMS (2));
  sn_test_graph_attr_ints (g, "strides", 1, DIMS (2));
  sn_test_graph_attr_ints (g, "pads", 2, DIMS (1, 1));
  sn_test_graph_attr_int (g, "ceil_mode", 1);
  g_autoptr (SnTensor) x = wrap (3, DIMS (1, 1, 5), xv);
  g_autoptr (SnTensor) y = run_ok (g, (const SnTensor *[]) { x }, NULL);
  assert_close (y, 3, DIMS (1, 1, 3), expect);
}
END_TEST

/* By hand: all inputs negative, so a padding value of 0 taking part in the
 * maximum would show as 0. */
START_TEST (test_max_pool_padding_excluded)
{
  static const float xv[] = { -3, -1, -2 };
  static const float expect[] = { -1, -1, -1 };
  double flops;
  SnTestGraph *g = sn_test_graph_new (12);
  sn_test_graph_input (g, "x", 3, DIMS (1, 1, 3));
  sn_test_graph_output (g, "y", 3, DIMS (1, 1, 3));
  sn_test_graph_node (g, "MaxPool", "pool", IN ("x"), IN ("y"));
  sn_test_graph_attr_ints (g, "kernel_shape", 1, DIMS (3));
  sn_test_graph_attr_ints (g, "pads", 2, DIMS (1, 1));
  g_autoptr (SnTensor) x = wrap (3, DIMS (1, 1, 3), xv);
  g_autoptr (SnTensor) y = run_ok (g, (const SnTensor *[]) { x }, &flops);
  assert_close (y, 3, DIMS (1, 1, 3), expect);
  /* One per element read: 3 outputs x 3 taps. */
  ck_assert_double_eq (flops, 9.0);
}
END_TEST

/* Depthwise 1-D conv: group 2, dilation 2, stride 2, pads [2, 1], bias. */
START_TEST (test_conv1d_depthwise_dilated_asymmetric)
{
  static const float xv[] = { -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5 };
  static const float wv[] = { 1, -1, 2, 0.5 };
  static const float bv[] = { 0.25, -1 };
  static const float expect[] = { 2.25, -0.75, -0.75, 0.25, -0.5, 2, 4.5, 5 };
  double flops;
  SnTestGraph *g = sn_test_graph_new (11);
  sn_test_graph_input (g, "x", 3, DIMS (1, 2, 6));
  sn_test_graph_output (g, "y", 3, DIMS (1, 2, 4));
  sn_test_graph_initializer (g, "w", 3, DIMS (2, 1, 2), wv, 4);
  sn_test_graph_initializer (g, "b", 1, DIMS (2), bv, 2);
  sn_test_graph_node (g, "Conv", "conv", IN ("x", "w", "b"), IN ("y"));
  sn_test_graph_attr_int (g, "group", 2);
  sn_test_graph_attr_ints (g, "dilations", 1, DIMS (2));
  sn_test_graph_attr_ints (g, "strides", 1, DIMS (2));
  sn_test_graph_attr_ints (g, "pads", 2, DIMS (2, 1));
  g_autoptr (SnTensor) x = wrap (3, DIMS (1, 2, 6), xv);
  g_autoptr (SnTensor) y = run_ok (g, (const SnTensor *[]) { x }, &flops);
  assert_close (y, 3, DIMS (1, 2, 4), expect);
  /* 8 outputs x 1 channel x 2 taps, 2 FLOPs per multiply-add. */
  ck_assert_double_eq (flops, 32.0);
}
END_TEST

/* 2-D conv, pads top 1 / left 0 / bottom 0 / right 2, stride [1, 2]: the
 * last output column sees only padding. */
START_TEST (test_conv2d_asymmetric_pads)
{
  static const float xv[] = {
    0.5, 1.59, 1.1, -1.1, -0.8, 1.49, -1.98, 1.28, 1.19, -0.13, -0.79, -0.89,
    -0.98, -0.22, 0.02, 0.21, 1.98, 1.17, 0.49, 1.96, -1.14, -1.36, 0.45, -1.82,
  };
  static const float wv[] = {
    -0.93, 0.03, -0.07, 0.83, 0.26, 0.03, -0.01, -0.5, -0.98, -0.62, 0.38, -0.6,
    -0.26, -0.99, 0.66, -0.69, -0.46, 0.76, 0.02, 0.69, 0.28, 0.48, -0.82, 0.08,
  };
  static const float expect[] = {
    1.4045, -1.0952, 0, 0.0092, -0.8284, 0, 1.8388, 2.2881, 0,
    -1.259, 0.9463, 0, -1.7017, -3.1585, 0, -1.0967, 0.8656, 0,
    1.8931, -0.7366, 0, 0.0805, -0.637, 0, 3.3765, 1.8171, 0,
  };
  SnTestGraph *g = sn_test_graph_new (11);
  sn_test_graph_input (g, "x", 4, DIMS (1, 2, 3, 4));
  sn_test_graph_output (g, "y", 4, DIMS (1, 3, 3, 3));
  sn_test_graph_initializer (g, "w", 4, DIMS (3, 2, 2, 2), wv, 24);
  sn_test_graph_node (g, "Conv", "conv", IN ("x", "w"), IN ("y"));
  sn_test_graph_attr_ints (g, "kernel_shape", 2, DIMS (2, 2));
  sn_test_graph_attr_ints (g, "strides", 2, DIMS (1, 2));
  sn_test_graph_attr_ints (g, "pads", 4, DIMS (1, 0, 0, 2));
  g_autoptr (SnTensor) x = wrap (4, DIMS (1, 2, 3, 4), xv);
  g_autoptr (SnTensor) y = run_ok (g, (const SnTensor *[]) { x }, NULL);
  assert_close (y, 4, DIMS (1, 3, 3, 3), expect);
}
END_TEST

/* Grouped 1-D ConvTranspose: stride 2, dilation 2, pads [1, 2],
 * output_padding 1, bias; the oracle scatters into the full output and
 * crops the pads. */
START_TEST (test_conv_transpose_grouped)
{
  static const float xv[] = { 1, -2, 3, 0.5, 4, -1 };
  static const float wv[] = { 1, 2, -1, 0.5, -0.5, 3 };
  static const float bv[] = { 0.5, -0.25 };
  static const float expect[] = {
    0.5, 0.5, 0.5, -1.5, 0.5, 8.5, 0.5,
    -0.25, 1.5, -0.25, -1.25, -0.25, 12.25, -0.25,
  };
  SnTestGraph *g = sn_test_graph_new (11);
  sn_test_graph_input (g, "x", 3, DIMS (1, 2, 3));
  sn_test_graph_output (g, "y", 3, DIMS (1, 2, 7));
  sn_test_graph_initializer (g, "w", 3, DIMS (2, 1, 3), wv, 6);
  sn_test_graph_initializer (g, "b", 1, DIMS (2), bv, 2);
  sn_test_graph_node (g, "ConvTranspose", "deconv", IN ("x", "w", "b"), IN ("y"));
  sn_test_graph_attr_int (g, "group", 2);
  sn_test_graph_attr_ints (g, "strides", 1, DIMS (2));
  sn_test_graph_attr_ints (g, "dilations", 1, DIMS (2));
  sn_test_graph_attr_ints (g, "pads", 2, DIMS (1, 2));
  sn_test_graph_attr_ints (g, "output_padding", 1, DIMS (1));
  g_autoptr (SnTensor) x = wrap (3, DIMS (1, 2, 3), xv);
  g_autoptr (SnTensor) y = run_ok (g, (const SnTensor *[]) { x }, NULL);
  assert_close (y, 3, DIMS (1, 2, 7), expect);
}
END_TEST

static SnTensor *
matmul (int ra, const int64_t *da, const float *a, int rb, const int64_t *db,
    const float *b, int ry, const int64_t *dy)
{
  SnShape bs = sn_shape_make (rb, db);
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "a", ra, da);
  sn_test_graph_initializer (g, "b", rb, db, b, sn_shape_numel (&bs));
  sn_test_graph_output (g, "y", ry, dy);
  sn_test_graph_node (g, "MatMul", "mm", IN ("a", "b"), IN ("y"));
  g_autoptr (SnTensor) x = wrap (ra, da, a);
  return run_ok (g, (const SnTensor *[]) { x }, NULL);
}

START_TEST (test_matmul_broadcasting)
{
  static float b24[24], b18[18];
  for (int i = 0; i < 24; i++)
    b24[i] = i * 0.25f;
  for (int i = 0; i < 18; i++)
    b18[i] = i * 0.1f;

  /* 1-D A is a row vector whose axis is dropped: (3) x (2,3,4) -> (2,4). */
  static const float a1[] = { -1, 0, 1 };
  static const float y1[] = { 2, 2, 2, 2, 2, 2, 2, 2 };
  g_autoptr (SnTensor) r1 = matmul (1, DIMS (3), a1, 3, DIMS (2, 3, 4), b24,
      2, DIMS (2, 4));
  assert_close (r1, 2, DIMS (2, 4), y1);

  /* Batch axes broadcast both ways: (2,1,2,3) x (3,3,2) -> (2,3,2,2). */
  static const float a2[] = { -2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5 };
  static const float y2[] = {
    -0.7, -1.15, 0.2, 0.2, -3.4, -3.85, 0.2, 0.2, -6.1, -6.55, 0.2, 0.2,
    1.1, 1.55, 2, 2.9, 3.8, 4.25, 7.4, 8.3, 6.5, 6.95, 12.8, 13.7,
  };
  g_autoptr (SnTensor) r2 = matmul (4, DIMS (2, 1, 2, 3), a2, 3, DIMS (3, 3, 2),
      b18, 4, DIMS (2, 3, 2, 2));
  assert_close (r2, 4, DIMS (2, 3, 2, 2), y2);

  /* 1-D B is a column vector: (2,3) x (3) -> (2). */
  static const float a3[] = { -2, -1, 0, 1, 2, 3 };
  static const float b3[] = { 1, -2, 0.5 };
  static const float y3[] = { 0, -1.5 };
  g_autoptr (SnTensor) r3 = matmul (2, DIMS (2, 3), a3, 1, DIMS (3), b3, 1,
      DIMS (2));
  assert_close (r3, 1, DIMS (2), y3);
}
END_TEST

/* transA, transB, alpha 0.5, beta 2 and a C of shape (M, 1). */
START_TEST (test_gemm_transposed_column_bias)
{
  static const float av[] = { -1, 0, 1, 2, 3, 4 };                /* K x M */
  static const float bv[] = { 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5 };
  static const float cv[] = { 1, -3 };
  static const float expect[] = { 3.75, 6, 8.25, 10.5, -3.5, 1, 5.5, 10 };
  double flops;
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "a", 2, DIMS (3, 2));
  sn_test_graph_initializer (g, "b", 2, DIMS (4, 3), bv, 12);
  sn_test_graph_initializer (g, "c", 2, DIMS (2, 1), cv, 2);
  sn_test_graph_output (g, "y", 2, DIMS (2, 4));
  sn_test_graph_node (g, "Gemm", "gemm", IN ("a", "b", "c"), IN ("y"));
  sn_test_graph_attr_int (g, "transA", 1);
  sn_test_graph_attr_int (g, "transB", 1);
  sn_test_graph_attr_float (g, "alpha", 0.5f);
  sn_test_graph_attr_float (g, "beta", 2.0f);
  g_autoptr (SnTensor) a = wrap (2, DIMS (3, 2), av);
  g_autoptr (SnTensor) y = run_ok (g, (const SnTensor *[]) { a }, &flops);
  assert_close (y, 2, DIMS (2, 4), expect);
  ck_assert_double_eq (flops, 2.0 * 2 * 4 * 3);
}
END_TEST

/* Inference BatchNormalization, epsilon 1. */
START_TEST (test_batch_norm)
{
  static const float xv[] = { 1, 3, -1, 2 };
  static const float sv[] = { 2, 1 }, bv[] = { 0, 1 }, mv[] = { 1, 0 };
  static const float vv[] = { 3, 0.25 };
  static const float expect[] = { 0, 2, 0.105572809, 2.78885438 };
  SnTestGraph *g = sn_test_graph_new (9);
  sn_test_graph_input (g, "x", 4, DIMS (1, 2, 1, 2));
  sn_test_graph_initializer (g, "s", 1, DIMS (2), sv, 2);
  sn_test_graph_initializer (g, "b", 1, DIMS (2), bv, 2);
  sn_test_graph_initializer (g, "m", 1, DIMS (2), mv, 2);
  sn_test_graph_initializer (g, "v", 1, DIMS (2), vv, 2);
  sn_test_graph_output (g, "y", 4, DIMS (1, 2, 1, 2));
  sn_test_graph_node (g, "BatchNormalization", "bn", IN ("x", "s", "b", "m", "v"),
      IN ("y"));
  sn_test_graph_attr_float (g, "epsilon", 1.0f);
  g_autoptr (SnTensor) x = wrap (4, DIMS (1, 2, 1, 2), xv);
  g_autoptr (SnTensor) y = run_ok (g, (const SnTensor *[]) { x }, NULL);
  assert_close (y, 4, DIMS (1, 2, 1, 2), expect);
}
END_TEST

static float x24[24];

static SnTensor *
reduce (const char *op, int opset, int n_axes, const int64_t *axes,
    int keepdims, int noop, int ry, const int64_t *dy)
{
  for (int i = 0; i < 24; i++)
    x24[i] = i * 0.5f - 3;
  SnTestGraph *g = sn_test_graph_new (opset);
  sn_test_graph_input (g, "x", 3, DIMS (2, 3, 4));
  sn_test_graph_output (g, "y", ry, dy);
  sn_test_graph_node (g, op, "reduce", IN ("x"), IN ("y"));
  if (n_axes)
    sn_test_graph_attr_ints (g, "axes", n_axes, axes);
  if (keepdims >= 0)
    sn_test_graph_attr_int (g, "keepdims", keepdims);
  if (noop >= 0)
    sn_test_graph_attr_int (g, "noop_with_empty_axes", noop);
  g_autoptr (SnTensor) x = wrap (3, DIMS (2, 3, 4), x24);
  return run_ok (g, (const SnTensor *[]) { x }, NULL);
}

START_TEST (test_reductions)
{
  /* Two non-adjacent axes, dropped. */
  static const float mean[] = { 0.75, 2.75, 4.75 };
  g_autoptr (SnTensor) r1 = reduce ("ReduceMean", 13, 2, DIMS (0, -1), 0, -1,
      1, DIMS (3));
  assert_close (r1, 1, DIMS (3), mean);

  static const float l2[] = {
    3.31662479, 2.95803989, 2.82842712, 2.95803989,
    9.11043358, 9.93730346, 10.7703296, 11.6081868,
  };
  g_autoptr (SnTensor) r2 = reduce ("ReduceL2", 13, 1, DIMS (1), 1, -1,
      3, DIMS (2, 1, 4));
  assert_close (r2, 3, DIMS (2, 1, 4), l2);

  static const float prod[] = {
    -9, -8.75, -8, -6.75, -5, -2.75, 0, 3.25, 7, 11.25, 16, 21.25,
  };
  g_autoptr (SnTensor) r3 = reduce ("ReduceProd", 13, 1, DIMS (0), 0, -1,
      2, DIMS (3, 4));
  assert_close (r3, 2, DIMS (3, 4), prod);

  /* No axes: everything, keepdims by default.  By hand: max 8.5, sum of
   * 0.5 i - 3 over i < 24 is 138 - 72 = 66. */
  g_autoptr (SnTensor) r4 = reduce ("ReduceMax", 13, 0, NULL, -1, -1,
      3, DIMS (1, 1, 1));
  assert_close (r4, 3, DIMS (1, 1, 1), (const float[]) { 8.5 });
  g_autoptr (SnTensor) r5 = reduce ("ReduceSum", 13, 0, NULL, 0, -1, 0, NULL);
  assert_close (r5, 0, NULL, (const float[]) { 66 });

  /* ReduceSum 13 with no axes input and noop_with_empty_axes: identity. */
  g_autoptr (SnTensor) r6 = reduce ("ReduceSum", 13, 0, NULL, 1, 1,
      3, DIMS (2, 3, 4));
  assert_close (r6, 3, DIMS (2, 3, 4), x24);
}
END_TEST

/* exp (1000) overflows even a double; the result is 1000 + log 2. */
START_TEST (test_reduce_log_sum_exp_large)
{
  static const float xv[] = { 1000, 1000, -INFINITY, -INFINITY };
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 2, DIMS (2, 2));
  sn_test_graph_output (g, "y", 1, DIMS (2));
  sn_test_graph_node (g, "ReduceLogSumExp", "lse", IN ("x"), IN ("y"));
  sn_test_graph_attr_ints (g, "axes", 1, DIMS (1));
  sn_test_graph_attr_int (g, "keepdims", 0);
  g_autoptr (SnTensor) x = wrap (2, DIMS (2, 2), xv);
  g_autoptr (SnTensor) y = run_ok (g, (const SnTensor *[]) { x }, NULL);
  const float *v = y->data;
  ck_assert_float_eq_tol (v[0], 1000.0 + log (2.0), 1e-3);
  ck_assert (isinf (v[1]) && v[1] < 0);
}
END_TEST

START_TEST (test_refusals)
{
  SnTestGraph *g;

  /* MaxPool's Indices output. */
  g = sn_test_graph_new (12);
  sn_test_graph_input (g, "x", 4, DIMS (1, 1, 4, 4));
  sn_test_graph_output (g, "y", 0, NULL);
  sn_test_graph_output (g, "i", 0, NULL);
  sn_test_graph_node (g, "MaxPool", "pool", IN ("x"), IN ("y", "i"));
  sn_test_graph_attr_ints (g, "kernel_shape", 2, DIMS (2, 2));
  assert_refused (g, SN_ERROR_UNSUPPORTED, "Indices");

  /* Pads reaching the kernel would make windows of padding only. */
  g = sn_test_graph_new (11);
  sn_test_graph_input (g, "x", 4, DIMS (1, 1, 4, 4));
  sn_test_graph_output (g, "y", 0, NULL);
  sn_test_graph_node (g, "AveragePool", "pool", IN ("x"), IN ("y"));
  sn_test_graph_attr_ints (g, "kernel_shape", 2, DIMS (2, 2));
  sn_test_graph_attr_ints (g, "pads", 4, DIMS (0, 2, 0, 0));
  assert_refused (g, SN_ERROR_UNSUPPORTED, "pads");

  /* Pooling without kernel_shape. */
  g = sn_test_graph_new (11);
  sn_test_graph_input (g, "x", 4, DIMS (1, 1, 4, 4));
  sn_test_graph_output (g, "y", 0, NULL);
  sn_test_graph_node (g, "MaxPool", "pool", IN ("x"), IN ("y"));
  assert_refused (g, SN_ERROR_INVALID_MODEL, "kernel_shape");

  /* Training-mode BatchNormalization. */
  static const float c2[] = { 1, 1 };
  g = sn_test_graph_new (15);
  sn_test_graph_input (g, "x", 4, DIMS (1, 2, 1, 2));
  for (int i = 0; i < 4; i++)
    sn_test_graph_initializer (g, (const char *[]) { "s", "b", "m", "v" }[i],
        1, DIMS (2), c2, 2);
  sn_test_graph_output (g, "y", 0, NULL);
  sn_test_graph_node (g, "BatchNormalization", "bn",
      IN ("x", "s", "b", "m", "v"), IN ("y"));
  sn_test_graph_attr_int (g, "training_mode", 1);
  assert_refused (g, SN_ERROR_UNSUPPORTED, "training_mode");

  /* Conv weight made for 3 input channels on a 2-channel input. */
  static const float w[27] = { 0 };
  g = sn_test_graph_new (11);
  sn_test_graph_input (g, "x", 4, DIMS (1, 2, 4, 4));
  sn_test_graph_initializer (g, "w", 4, DIMS (1, 3, 3, 3), w, 27);
  sn_test_graph_output (g, "y", 0, NULL);
  sn_test_graph_node (g, "Conv", "conv", IN ("x", "w"), IN ("y"));
  assert_refused (g, SN_ERROR_SHAPE, "channels");

  /* kernel_shape that disagrees with W. */
  g = sn_test_graph_new (11);
  sn_test_graph_input (g, "x", 4, DIMS (1, 3, 4, 4));
  sn_test_graph_initializer (g, "w", 4, DIMS (1, 3, 3, 3), w, 27);
  sn_test_graph_output (g, "y", 0, NULL);
  sn_test_graph_node (g, "Conv", "conv", IN ("x", "w"), IN ("y"));
  sn_test_graph_attr_ints (g, "kernel_shape", 2, DIMS (2, 3));
  assert_refused (g, SN_ERROR_SHAPE, "kernel_shape");

  /* A zero stride. */
  g = sn_test_graph_new (11);
  sn_test_graph_input (g, "x", 4, DIMS (1, 3, 4, 4));
  sn_test_graph_initializer (g, "w", 4, DIMS (1, 3, 3, 3), w, 27);
  sn_test_graph_output (g, "y", 0, NULL);
  sn_test_graph_node (g, "Conv", "conv", IN ("x", "w"), IN ("y"));
  sn_test_graph_attr_ints (g, "strides", 2, DIMS (1, 0));
  assert_refused (g, SN_ERROR_INVALID_MODEL, "strides");

  /* A kernel larger than the padded input. */
  g = sn_test_graph_new (11);
  sn_test_graph_input (g, "x", 4, DIMS (1, 3, 2, 2));
  sn_test_graph_initializer (g, "w", 4, DIMS (1, 3, 3, 3), w, 27);
  sn_test_graph_output (g, "y", 0, NULL);
  sn_test_graph_node (g, "Conv", "conv", IN ("x", "w"), IN ("y"));
  assert_refused (g, SN_ERROR_SHAPE, "kernel extent");

  /* MatMul inner dimensions. */
  g = sn_test_graph_new (13);
  sn_test_graph_input (g, "a", 2, DIMS (2, 3));
  sn_test_graph_input (g, "b", 2, DIMS (4, 2));
  sn_test_graph_output (g, "y", 0, NULL);
  sn_test_graph_node (g, "MatMul", "mm", IN ("a", "b"), IN ("y"));
  assert_refused (g, SN_ERROR_SHAPE, "inner");

  /* Gemm C that does not broadcast to M x N. */
  g = sn_test_graph_new (13);
  sn_test_graph_input (g, "a", 2, DIMS (2, 3));
  sn_test_graph_input (g, "b", 2, DIMS (3, 4));
  sn_test_graph_input (g, "c", 1, DIMS (3));
  sn_test_graph_output (g, "y", 0, NULL);
  sn_test_graph_node (g, "Gemm", "gemm", IN ("a", "b", "c"), IN ("y"));
  assert_refused (g, SN_ERROR_SHAPE, "broadcast");

  /* A repeated reduction axis. */
  g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 3, DIMS (2, 3, 4));
  sn_test_graph_output (g, "y", 0, NULL);
  sn_test_graph_node (g, "ReduceMean", "r", IN ("x"), IN ("y"));
  sn_test_graph_attr_ints (g, "axes", 2, DIMS (1, -2));
  assert_refused (g, SN_ERROR_INVALID_MODEL, "repeated");
}
END_TEST

static Suite *
ops_suite (void)
{
  Suite *s = suite_create ("ops-conv-pool");
  TCase *tc = tcase_create ("core");
  tcase_add_test (tc, test_average_pool_ceil_count_include_pad);
  tcase_add_test (tc, test_max_pool_ceil_drops_window_in_padding);
  tcase_add_test (tc, test_max_pool_padding_excluded);
  tcase_add_test (tc, test_conv1d_depthwise_dilated_asymmetric);
  tcase_add_test (tc, test_conv2d_asymmetric_pads);
  tcase_add_test (tc, test_conv_transpose_grouped);
  tcase_add_test (tc, test_matmul_broadcasting);
  tcase_add_test (tc, test_gemm_transposed_column_bias);
  tcase_add_test (tc, test_batch_norm);
  tcase_add_test (tc, test_reductions);
  tcase_add_test (tc, test_reduce_log_sum_exp_large);
  tcase_add_test (tc, test_refusals);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (ops_suite ());
  srunner_run_all (sr, CK_ENV);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
