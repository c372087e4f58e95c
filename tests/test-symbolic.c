/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Models with symbolic input dims (batch N, height H, width W) run at the
 * shape of the input actually given (sn_model_at_shapes), as ONNX Runtime
 * runs them.  Oracles: the Conv 1x1 + Relu worked out by hand, and the same
 * graph exported with static dims at each shape. */
#include <check.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "sn-test-onnx.h"

static const float W[4] = { 1, -1, 2, 0.5f };       /* Conv 2 -> 2, 1x1 */

/* x[N,2,H,W] -> Conv 1x1 -> Relu -> y[N,2,H,W] -> MaxPool 2x2/2 -> p
 * -> Reshape to [N, -1] with N read by Shape + Gather -> r.  With
 * static_dims, the same graph at that one shape. */
static SnModel *
model (const int64_t *static_dims)
{
  static const char *const sym[] = { "N", NULL, "H", "W" };
  static const char *const rsym[] = { "N", "k" };
  static const int64_t any[] = { 1, 2, 1, 1 }, w_dims[] = { 2, 2, 1, 1 }, one[] = { 1 }, zero[] = { 0 },
      minus1[] = { -1 };
  SnTestGraph *g = sn_test_graph_new (13);
  if (static_dims) {
    int64_t r_dims[2] = { static_dims[0], 2 * (static_dims[2] / 2) * (static_dims[3] / 2) };
    sn_test_graph_input (g, "x", 4, static_dims);
    sn_test_graph_output (g, "y", 4, static_dims);
    sn_test_graph_output (g, "r", 2, r_dims);
  } else {
    sn_test_graph_input_symbolic (g, "x", 4, any, sym);
    sn_test_graph_output_symbolic (g, "y", 4, any, sym);
    sn_test_graph_output_symbolic (g, "r", 2, any, rsym);
  }
  sn_test_graph_initializer (g, "W", 4, w_dims, W, 4);
  sn_test_graph_initializer_int64 (g, "i0", 1, one, zero, 1);
  sn_test_graph_initializer_int64 (g, "m1", 1, one, minus1, 1);
  sn_test_graph_node (g, "Conv", "conv", (const char *[]) { "x", "W", NULL }, (const char *[]) { "c", NULL });
  sn_test_graph_node (g, "Relu", "relu", (const char *[]) { "c", NULL }, (const char *[]) { "y", NULL });
  sn_test_graph_node (g, "MaxPool", "pool", (const char *[]) { "y", NULL }, (const char *[]) { "p", NULL });
  sn_test_graph_attr_ints (g, "kernel_shape", 2, (const int64_t[]) { 2, 2 });
  sn_test_graph_attr_ints (g, "strides", 2, (const int64_t[]) { 2, 2 });
  sn_test_graph_node (g, "Shape", "shape", (const char *[]) { "x", NULL }, (const char *[]) { "s", NULL });
  sn_test_graph_node (g, "Gather", "n", (const char *[]) { "s", "i0", NULL }, (const char *[]) { "n", NULL });
  sn_test_graph_node (g, "Concat", "to", (const char *[]) { "n", "m1", NULL }, (const char *[]) { "to", NULL });
  sn_test_graph_attr_int (g, "axis", 0);
  sn_test_graph_node (g, "Reshape", "flat", (const char *[]) { "p", "to", NULL }, (const char *[]) { "r", NULL });
  size_t len;
  g_autofree guint8 *buf = sn_test_graph_serialize (g, &len);
  sn_test_graph_free (g);
  GError *err = NULL;
  SnModel *m = sn_model_load_from_data (buf, len, NULL, &err);
  ck_assert_msg (m, "%s", err ? err->message : "");
  return m;
}

static SnTensor *
input (const int64_t *dims, int salt)
{
  SnShape s = sn_shape_make (4, dims);
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  float *v = x->data;
  for (int64_t i = 0; i < sn_tensor_numel (x); i++)
    v[i] = (float) ((i * 7 + salt) % 11) - 5.0f;
  return x;
}

static SnSegment *
whole (SnModel *m)
{
  GError *err = NULL;
  SnSegment *seg = sn_segment_new (m, (const char *[]) { "x" }, 1, NULL, 0, &err);
  ck_assert_msg (seg, "%s", err ? err->message : "");
  return seg;
}

static void
run (SnSegment *seg, const SnTensor *x)
{
  GError *err = NULL;
  ck_assert_msg (sn_segment_run (seg, (const SnTensor *[]) { x }, &err), "%s", err ? err->message : "");
}

/* y by hand: y[n,o,h,w] = max (0, sum_c W[o,c] x[n,c,h,w]). */
static void
check_y (const SnTensor *x, const SnTensor *y)
{
  ck_assert (sn_shape_equal (&x->shape, &y->shape));
  int64_t N = x->shape.dims[0], HW = x->shape.dims[2] * x->shape.dims[3];
  const float *xv = x->data, *yv = y->data;
  for (int64_t n = 0; n < N; n++)
    for (int o = 0; o < 2; o++)
      for (int64_t p = 0; p < HW; p++) {
        float a = W[o * 2] * xv[(n * 2) * HW + p] + W[o * 2 + 1] * xv[(n * 2 + 1) * HW + p];
        ck_assert_float_eq_tol (yv[(n * 2 + o) * HW + p], a > 0 ? a : 0, 1e-6);
      }
}

START_TEST (test_two_shapes)
{
  SnModel *m = model (NULL);
  ck_assert (sn_model_has_symbolic_dims (m));
  static const int64_t d1[] = { 2, 2, 4, 6 }, d2[] = { 1, 2, 6, 4 };
  const int64_t *dims[] = { d1, d2 };
  SnModel *at[2];
  SnSegment *seg[2];
  SnTensor *x[2];
  GError *err = NULL;
  for (int k = 0; k < 2; k++) {
    x[k] = input (dims[k], k);
    at[k] = sn_model_at_shapes (m, (const char *[]) { "x" }, &x[k]->shape, 1, &err);
    ck_assert_msg (at[k], "%s", err ? err->message : "");
    ck_assert_ptr_ne (at[k], m);
    seg[k] = whole (at[k]);
  }
  /* The plans are kept per shape: asking again gives the same model. */
  ck_assert_ptr_eq (sn_model_at_shapes (m, (const char *[]) { "x" }, &x[0]->shape, 1, &err), at[0]);
  /* Run A, B, A: each plan runs in its own buffers. */
  const SnTensor *first_y = NULL;
  for (int r = 0; r < 3; r++) {
    int k = r % 2;
    run (seg[k], x[k]);
    check_y (x[k], sn_segment_output (seg[k], 0));
    if (r == 0)
      first_y = sn_segment_output (seg[0], 0);
  }
  ck_assert_ptr_eq (sn_segment_output (seg[0], 0), first_y);
  /* r against the graph exported at each static shape. */
  for (int k = 0; k < 2; k++) {
    SnModel *st = model (dims[k]);
    ck_assert (!sn_model_has_symbolic_dims (st));
    SnSegment *ss = whole (st);
    run (ss, x[k]);
    run (seg[k], x[k]);
    for (int o = 0; o < 2; o++) {
      const SnTensor *a = sn_segment_output (seg[k], o), *b = sn_segment_output (ss, o);
      ck_assert (sn_shape_equal (&a->shape, &b->shape));
      ck_assert_int_eq (memcmp (a->data, b->data, sn_tensor_nbytes (a)), 0);
    }
    const SnTensor *r = sn_segment_output (seg[k], 1);
    ck_assert_int_eq (r->shape.rank, 2);
    ck_assert_int_eq (r->shape.dims[0], dims[k][0]);
    ck_assert_int_eq (r->shape.dims[1], 2 * (dims[k][2] / 2) * (dims[k][3] / 2));
    sn_segment_free (ss);
    sn_model_free (st);
  }
  for (int k = 0; k < 2; k++) {
    sn_segment_free (seg[k]);
    sn_tensor_free (x[k]);
  }
  sn_model_free (m);            /* frees the models at each shape too */
}
END_TEST

/* The pooling cannot take H = W = 1, so the model loads with its symbolic
 * H and W at 256 (the batch stays 1); that shape is the model itself, and
 * 1x1 is refused with the layer's own reason. */
START_TEST (test_own_shape)
{
  SnModel *m = model (NULL);
  SnShape s;
  SnDType dt;
  ck_assert (sn_model_value_info (m, "x", &dt, &s));
  ck_assert_int_eq (s.dims[0], 1);
  ck_assert_int_eq (s.dims[2], 256);
  ck_assert_int_eq (s.dims[3], 256);
  GError *err = NULL;
  ck_assert_ptr_eq (sn_model_at_shapes (m, (const char *[]) { "x" }, &s, 1, &err), m);
  s = sn_shape_make (4, (const int64_t[]) { 1, 2, 1, 1 });
  ck_assert (!sn_model_at_shapes (m, (const char *[]) { "x" }, &s, 1, &err));
  ck_assert_msg (strstr (err->message, "1x2x1x1") && strstr (err->message, "pool"), "%s", err->message);
  g_error_free (err);
  sn_model_free (m);
}
END_TEST

static void
expect_error (SnModel *m, const char *const *names, const SnShape *s, int n, const char *const *words)
{
  GError *err = NULL;
  ck_assert (!sn_model_at_shapes (m, names, s, n, &err));
  ck_assert (err);
  for (int i = 0; words[i]; i++)
    ck_assert_msg (strstr (err->message, words[i]), "'%s' not in: %s", words[i], err->message);
  g_error_free (err);
}

/* Errors name the input and the dim. */
START_TEST (test_errors)
{
  SnModel *m = model (NULL);
  const char *x[] = { "x" };
  SnShape s = sn_shape_make (4, (const int64_t[]) { 1, 3, 4, 4 });        /* C is static 2 */
  expect_error (m, x, &s, 1, (const char *[]) { "'x'", "dim 1", "3", NULL });
  s = sn_shape_make (3, (const int64_t[]) { 1, 2, 4 });
  expect_error (m, x, &s, 1, (const char *[]) { "'x'", "rank 4", "rank 3", NULL });
  s = sn_shape_make (4, (const int64_t[]) { 1, 2, 0, 4 });
  expect_error (m, x, &s, 1, (const char *[]) { "'x'", "dim 2", "'H'", NULL });
  s = sn_shape_make (4, (const int64_t[]) { 1, 2, 4, 4 });
  expect_error (m, (const char *[]) { "nope" }, &s, 1, (const char *[]) { "'nope'", "not an input", NULL });
  /* A static model given another shape: the same kind of message. */
  SnModel *st = model ((const int64_t[]) { 1, 2, 4, 4 });
  s = sn_shape_make (4, (const int64_t[]) { 2, 2, 4, 4 });
  expect_error (st, x, &s, 1, (const char *[]) { "'x'", "dim 0", "2", NULL });
  /* A segment made at one shape, run at another, says why. */
  SnSegment *seg = whole (m);
  SnTensor *t = input ((const int64_t[]) { 2, 2, 4, 4 }, 0);
  GError *err = NULL;
  ck_assert (!sn_segment_run (seg, (const SnTensor *[]) { t }, &err));
  ck_assert_msg (strstr (err->message, "symbolic"), "%s", err->message);
  g_error_free (err);
  sn_tensor_free (t);
  sn_segment_free (seg);
  sn_model_free (st);
  sn_model_free (m);
}
END_TEST

/* Two inputs share the dim_param "N": their dims must agree. */
START_TEST (test_shared_dim_param)
{
  static const char *const sym[] = { "N", NULL };
  static const int64_t any[] = { 1, 2 };
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input_symbolic (g, "a", 2, any, sym);
  sn_test_graph_input_symbolic (g, "b", 2, any, sym);
  sn_test_graph_output_symbolic (g, "c", 2, any, sym);
  sn_test_graph_node (g, "Add", "add", (const char *[]) { "a", "b", NULL }, (const char *[]) { "c", NULL });
  size_t len;
  g_autofree guint8 *buf = sn_test_graph_serialize (g, &len);
  sn_test_graph_free (g);
  GError *err = NULL;
  SnModel *m = sn_model_load_from_data (buf, len, NULL, &err);
  ck_assert_msg (m, "%s", err ? err->message : "");
  const char *names[] = { "a", "b" };
  SnShape s[2] = { sn_shape_make (2, (const int64_t[]) { 2, 2 }), sn_shape_make (2, (const int64_t[]) { 3, 2 }) };
  expect_error (m, names, s, 2, (const char *[]) { "'b'", "dim 0", "'N'", NULL });
  s[0] = s[1];
  SnModel *at = sn_model_at_shapes (m, names, s, 2, &err);
  ck_assert_msg (at, "%s", err ? err->message : "");
  SnSegment *seg = sn_segment_new (at, names, 2, NULL, 0, &err);
  ck_assert_msg (seg, "%s", err->message);
  SnTensor *a = sn_tensor_new (SN_DTYPE_FLOAT32, &s[0]), *b = sn_tensor_new (SN_DTYPE_FLOAT32, &s[0]);
  for (int i = 0; i < 6; i++) {
    ((float *) a->data)[i] = (float) i;
    ((float *) b->data)[i] = 10.0f * i;
  }
  ck_assert (sn_segment_run (seg, (const SnTensor *[]) { a, b }, &err));
  const SnTensor *c = sn_segment_output (seg, 0);
  ck_assert_int_eq (c->shape.dims[0], 3);
  for (int i = 0; i < 6; i++)
    ck_assert_float_eq (((float *) c->data)[i], 11.0f * i);
  sn_tensor_free (a);
  sn_tensor_free (b);
  sn_segment_free (seg);
  sn_model_free (m);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("symbolic");
  TCase *tc = tcase_create ("symbolic");
  tcase_add_test (tc, test_two_shapes);
  tcase_add_test (tc, test_own_shape);
  tcase_add_test (tc, test_errors);
  tcase_add_test (tc, test_shared_dim_param);
  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
