/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cuts and split paths: enumeration finds the narrow points, declared cuts
 * are validated, and edge + cloud computes exactly what the whole model
 * computes for every cut. */
#include <check.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "sn-test-onnx.h"

/*   x ─ Relu ─ a ─ MaxPool ─ b ─ Relu ─ c ─ GlobalAveragePool ─ d ─┐
 *                └──────────────────────────────────────────────── Mul ─ y
 * a is a skip connection: any cut after it and before Mul carries a. */
static SnModel *
skip_model (const char *declared_cuts)
{
  static const int64_t x_dims[] = { 1, 4, 8, 8 };
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, x_dims);
  sn_test_graph_output (g, "y", 4, x_dims);
  sn_test_graph_node (g, "Relu", "relu_a", (const char *[]) { "x", NULL }, (const char *[]) { "a", NULL });
  sn_test_graph_node (g, "MaxPool", "pool_b", (const char *[]) { "a", NULL }, (const char *[]) { "b", NULL });
  sn_test_graph_attr_ints (g, "kernel_shape", 2, (const int64_t[]) { 2, 2 });
  sn_test_graph_attr_ints (g, "strides", 2, (const int64_t[]) { 2, 2 });
  sn_test_graph_node (g, "Relu", "relu_c", (const char *[]) { "b", NULL }, (const char *[]) { "c", NULL });
  sn_test_graph_node (g, "GlobalAveragePool", "gap_d", (const char *[]) { "c", NULL }, (const char *[]) { "d", NULL });
  sn_test_graph_node (g, "Mul", "mul_y", (const char *[]) { "a", "d", NULL }, (const char *[]) { "y", NULL });
  if (declared_cuts)
    sn_test_graph_metadata (g, "splitnn.cuts", declared_cuts);
  size_t len;
  g_autofree guint8 *buf = sn_test_graph_serialize (g, &len);
  sn_test_graph_free (g);
  GError *err = NULL;
  SnModel *m = sn_model_load_from_data (buf, len, NULL, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  return m;
}

static SnTensor *
random_input (const SnModel *m, guint32 seed)
{
  SnShape shape;
  sn_model_value_info (m, "x", NULL, &shape);
  SnTensor *t = sn_tensor_new (SN_DTYPE_FLOAT32, &shape);
  GRand *r = g_rand_new_with_seed (seed);
  for (int64_t i = 0; i < sn_tensor_numel (t); i++)
    ((float *) t->data)[i] = (float) g_rand_double_range (r, -2, 2);
  g_rand_free (r);
  return t;
}

/* Runs the cut's edge then cloud segment and compares with the whole model
 * bit for bit. */
static void
assert_split_exact (SnModel *m, const SnCut *cut, const SnTensor *x)
{
  GError *err = NULL;
  SnSegment *whole = sn_segment_new (m, NULL, 0, NULL, 0, &err);
  ck_assert_ptr_nonnull (whole);
  ck_assert (sn_segment_run (whole, (const SnTensor *[]) { x }, &err));
  SnSplit *split = sn_split_new (m, cut, &err);
  ck_assert_msg (split != NULL, "%s", err ? err->message : "");
  SnSegment *edge = sn_split_edge (split), *cloud = sn_split_cloud (split);
  ck_assert (sn_segment_run (edge, (const SnTensor *[]) { x }, &err));
  /* The cloud's inputs are the edge's outputs, in the cut's order. */
  ck_assert_int_eq (sn_segment_n_outputs (edge), cut->n_tensors);
  ck_assert_int_eq (sn_segment_n_inputs (cloud), cut->n_tensors);
  const SnTensor *mid[8];
  for (int i = 0; i < cut->n_tensors; i++) {
    ck_assert_str_eq (sn_segment_output_name (edge, i), sn_segment_input_name (cloud, i));
    mid[i] = sn_segment_output (edge, i);
  }
  ck_assert (sn_segment_run (cloud, mid, &err));
  const SnTensor *a = sn_segment_output (whole, 0), *b = sn_segment_output (cloud, 0);
  ck_assert (sn_shape_equal (&a->shape, &b->shape));
  ck_assert_msg (memcmp (a->data, b->data, sn_tensor_nbytes (a)) == 0,
      "split at '%s' differs from the whole model", cut->name);
  sn_split_free (split);
  sn_segment_free (whole);
}

START_TEST (test_enumerate_and_exact)
{
  SnModel *m = skip_model (NULL);
  GError *err = NULL;
  SnCutSet *set = sn_cut_set_new (m, &err);
  ck_assert_msg (set != NULL, "%s", err ? err->message : "");
  ck_assert_int_ge (sn_cut_set_n_cuts (set), 1);
  /* The narrowest interior point is right after the first Relu: {a}. */
  const SnCut *first = sn_cut_set_get (set, 0);
  ck_assert_str_eq (first->name, "a");
  ck_assert_int_eq (first->values, 256);
  ck_assert_int_eq (sn_cut_bytes (first, 4), 128);
  ck_assert_int_eq (sn_cut_bytes (first, 32), 1024);
  ck_assert (first->edge_flops >= 0 && first->cloud_flops > 0);
  g_autoptr (SnTensor) x = random_input (m, 7);
  for (int i = 0; i < sn_cut_set_n_cuts (set); i++)
    assert_split_exact (m, sn_cut_set_get (set, i), x);
  sn_cut_set_free (set);
  sn_model_free (m);
}
END_TEST

START_TEST (test_declared_multi_tensor_cut)
{
  SnModel *m = skip_model ("deep=a,d; mid = a , c");
  GError *err = NULL;
  SnCutSet *set = sn_cut_set_new (m, &err);
  ck_assert_msg (set != NULL, "%s", err ? err->message : "");
  const SnCut *deep = sn_cut_set_find (set, "deep");
  ck_assert_ptr_nonnull (deep);
  ck_assert (deep->declared);
  ck_assert_int_eq (deep->n_tensors, 2);
  ck_assert_int_eq (deep->values, 256 + 4);
  ck_assert_ptr_eq (sn_cut_set_find (set, "0"), sn_cut_set_get (set, 0));
  ck_assert_ptr_eq (sn_cut_set_find (set, "mid"), sn_cut_set_get (set, 1));
  ck_assert_ptr_null (sn_cut_set_find (set, "999"));
  g_autoptr (SnTensor) x = random_input (m, 11);
  assert_split_exact (m, deep, x);
  assert_split_exact (m, sn_cut_set_find (set, "mid"), x);

  /* {d} alone does not separate the graph: Mul still needs a. */
  const char *only_d[] = { "d" };
  ck_assert_ptr_null (sn_cut_set_add (set, "bad", only_d, 1, &err));
  ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_INVALID_ARGUMENT));
  ck_assert_msg (strstr (err->message, "'a'"), "%s", err->message);
  g_clear_error (&err);

  /* Recognising a cut from its tensor shapes (patent [0061]). */
  SnShape shapes[2] = { deep->shapes[0], deep->shapes[1] };
  ck_assert_ptr_eq (sn_cut_set_find_by_shapes (set, 2, shapes), deep);
  shapes[1].dims[1] = 5;
  ck_assert_ptr_null (sn_cut_set_find_by_shapes (set, 2, shapes));
  sn_cut_set_free (set);
  sn_model_free (m);
}
END_TEST

START_TEST (test_bad_declared_cuts)
{
  SnModel *m = skip_model ("broken");
  GError *err = NULL;
  ck_assert_ptr_null (sn_cut_set_new (m, &err));
  ck_assert (strstr (err->message, "splitnn.cuts"));
  g_clear_error (&err);
  sn_model_free (m);
  m = skip_model ("x1=nosuchtensor");
  ck_assert_ptr_null (sn_cut_set_new (m, &err));
  ck_assert (strstr (err->message, "nosuchtensor"));
  g_clear_error (&err);
  sn_model_free (m);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("cut");
  TCase *tc = tcase_create ("cut");
  tcase_add_test (tc, test_enumerate_and_exact);
  tcase_add_test (tc, test_declared_multi_tensor_cut);
  tcase_add_test (tc, test_bad_declared_cuts);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
