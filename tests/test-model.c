/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Model loading: malformed files give a GError that names what is wrong,
 * never a crash; segments refuse impossible requests. */
#include <check.h>
#include <glib/gstdio.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "sn-test-onnx.h"

static const int64_t vec4[] = { 4 };
static const int64_t mat23[] = { 2, 3 };

/* A graph with input x and output y, both of shape [4]; the test adds
 * the nodes between them. */
static SnTestGraph *
vec4_graph (int opset)
{
  SnTestGraph *g = sn_test_graph_new (opset);
  sn_test_graph_input (g, "x", 1, vec4);
  sn_test_graph_output (g, "y", 1, vec4);
  return g;
}

/* x -> Relu -> y, with an unused weight, the smallest graph with a kernel. */
static guint8 *
relu_model (size_t *len)
{
  SnTestGraph *g = vec4_graph (13);
  float w[6] = { 1, 2, 3, 4, 5, 6 };
  sn_test_graph_initializer (g, "w", 2, mat23, w, 6);
  sn_test_graph_node (g, "Relu", "relu0", (const char *[]) { "x", NULL },
      (const char *[]) { "y", NULL });
  sn_test_graph_metadata (g, "splitnn.test", "yes");
  guint8 *buf = sn_test_graph_serialize (g, len);
  sn_test_graph_free (g);
  return buf;
}

/* Serialises the graph, frees it and loads the bytes as a model. */
static SnModel *
load_graph (SnTestGraph *g, GError **error)
{
  size_t len;
  g_autofree guint8 *buf = sn_test_graph_serialize (g, &len);
  sn_test_graph_free (g);
  return sn_model_load_from_data (buf, len, NULL, error);
}

static void
assert_error (SnModel *m, GError *err, SnError code, const char *needle)
{
  ck_assert_ptr_null (m);
  ck_assert_ptr_nonnull (err);
  ck_assert_msg (g_error_matches (err, SN_ERROR, code),
      "expected code %d, got %d: %s", code, err->code, err->message);
  ck_assert_msg (strstr (err->message, needle), "'%s' not in: %s", needle, err->message);
}

START_TEST (test_load_valid)
{
  size_t len;
  g_autofree guint8 *buf = relu_model (&len);
  GError *err = NULL;
  SnModel *m = sn_model_load_from_data (buf, len, NULL, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  ck_assert_int_eq (sn_model_n_inputs (m), 1);
  ck_assert_str_eq (sn_model_output_name (m, 0), "y");
  ck_assert_str_eq (sn_model_metadata (m, "splitnn.test"), "yes");
  ck_assert_int_eq (strlen (sn_model_fingerprint (m)), 64);
  SnModelInfo info;
  sn_model_get_info (m, &info);
  ck_assert_int_eq (info.n_params, 6);
  ck_assert_int_eq (info.param_bytes, 24);
  sn_model_free (m);
}
END_TEST

START_TEST (test_truncated_every_length)
{
  size_t len;
  g_autofree guint8 *buf = relu_model (&len);
  int parse_errors = 0;
  for (size_t cut = 0; cut < len; cut++) {
    GError *err = NULL;
    /* A fresh copy of exactly `cut` bytes lets ASan catch any over-read. */
    g_autofree guint8 *prefix = g_memdup2 (buf, cut ? cut : 1);
    SnModel *m = sn_model_load_from_data (prefix, cut, NULL, &err);
    if (m) {
      /* A prefix that ends between top-level fields is a valid model that
       * lacks the later fields (here the metadata, packed last). */
      ck_assert_msg (sn_model_metadata (m, "splitnn.test") == NULL,
          "the %zu-byte prefix of %zu loaded with all its fields", cut, len);
      sn_model_free (m);
      continue;
    }
    ck_assert_ptr_nonnull (err);
    ck_assert (err->message && *err->message);
    if (err->code == SN_ERROR_PARSE) {
      ck_assert_msg (strstr (err->message, "byte offset"), "%s", err->message);
      parse_errors++;
    }
    g_error_free (err);
  }
  /* Most prefixes end inside a field and must be reported as such. */
  ck_assert_int_gt (parse_errors, (int) len / 2);
}
END_TEST

START_TEST (test_truncated_file_on_disk)
{
  size_t len;
  g_autofree guint8 *buf = relu_model (&len);
  g_autofree char *path = g_build_filename (g_get_tmp_dir (), "sn-truncated.onnx", NULL);
  ck_assert (g_file_set_contents (path, (char *) buf, len - 3, NULL));
  GError *err = NULL;
  SnModel *m = sn_model_load (path, &err);
  assert_error (m, err, SN_ERROR_PARSE, "sn-truncated.onnx");
  g_clear_error (&err);
  g_unlink (path);
  m = sn_model_load (path, &err);
  assert_error (m, err, SN_ERROR_IO, "sn-truncated.onnx");
  g_clear_error (&err);
}
END_TEST

START_TEST (test_unknown_op)
{
  SnTestGraph *g = vec4_graph (13);
  sn_test_graph_node (g, "FrobnicateV2", "frob", (const char *[]) { "x", NULL },
      (const char *[]) { "y", NULL });
  GError *err = NULL;
  SnModel *m = load_graph (g, &err);
  assert_error (m, err, SN_ERROR_UNSUPPORTED, "FrobnicateV2");
  ck_assert (strstr (err->message, "'frob'"));
  ck_assert (strstr (err->message, "opset 13"));
  g_clear_error (&err);
}
END_TEST

START_TEST (test_missing_initializer)
{
  SnTestGraph *g = vec4_graph (13);
  sn_test_graph_node (g, "Add", "add0", (const char *[]) { "x", "bias", NULL },
      (const char *[]) { "y", NULL });
  GError *err = NULL;
  SnModel *m = load_graph (g, &err);
  assert_error (m, err, SN_ERROR_INVALID_MODEL, "'bias'");
  ck_assert (strstr (err->message, "add0"));
  g_clear_error (&err);
}
END_TEST

START_TEST (test_wrong_dims)
{
  SnTestGraph *g = vec4_graph (13);
  float w[5] = { 0 };
  sn_test_graph_initializer (g, "weights", 2, mat23, w, 5);   /* 2x3 needs 6 */
  sn_test_graph_node (g, "Relu", "r", (const char *[]) { "x", NULL },
      (const char *[]) { "y", NULL });
  GError *err = NULL;
  SnModel *m = load_graph (g, &err);
  assert_error (m, err, SN_ERROR_INVALID_MODEL, "'weights'");
  ck_assert (strstr (err->message, "2x3"));
  g_clear_error (&err);
}
END_TEST

START_TEST (test_negative_dim)
{
  SnTestGraph *g = vec4_graph (13);
  int64_t bad[] = { -2, 3 };
  float w[6] = { 0 };
  sn_test_graph_initializer (g, "k", 2, bad, w, 6);
  sn_test_graph_node (g, "Relu", "r", (const char *[]) { "x", NULL },
      (const char *[]) { "y", NULL });
  GError *err = NULL;
  SnModel *m = load_graph (g, &err);
  assert_error (m, err, SN_ERROR_INVALID_MODEL, "'k'");
  g_clear_error (&err);
}
END_TEST

START_TEST (test_cycle)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 1, vec4);
  sn_test_graph_output (g, "b", 1, vec4);
  sn_test_graph_node (g, "Add", "n1", (const char *[]) { "x", "b", NULL },
      (const char *[]) { "a", NULL });
  sn_test_graph_node (g, "Relu", "n2", (const char *[]) { "a", NULL },
      (const char *[]) { "b", NULL });
  GError *err = NULL;
  SnModel *m = load_graph (g, &err);
  assert_error (m, err, SN_ERROR_INVALID_MODEL, "cycle");
  g_clear_error (&err);
}
END_TEST

START_TEST (test_unsupported_opset)
{
  SnTestGraph *g = vec4_graph (99);
  sn_test_graph_node (g, "Relu", "r", (const char *[]) { "x", NULL },
      (const char *[]) { "y", NULL });
  GError *err = NULL;
  SnModel *m = load_graph (g, &err);
  assert_error (m, err, SN_ERROR_UNSUPPORTED, "opset 99");
  g_clear_error (&err);
}
END_TEST

START_TEST (test_garbage_and_bit_flips)
{
  size_t len;
  g_autofree guint8 *buf = relu_model (&len);
  GRand *rand = g_rand_new_with_seed (1234);
  int loaded = 0;
  for (int iter = 0; iter < 3000; iter++) {
    g_autofree guint8 *copy = g_memdup2 (buf, len);
    if (iter < 500) {
      for (size_t i = 0; i < len; i++)
        copy[i] = (guint8) g_rand_int (rand);
    } else {
      int flips = 1 + iter % 4;
      for (int f = 0; f < flips; f++)
        copy[g_rand_int_range (rand, 0, (gint32) len)] ^= 1u << g_rand_int_range (rand, 0, 8);
    }
    GError *err = NULL;
    SnModel *m = sn_model_load_from_data (copy, len, NULL, &err);
    /* Either it loads (a flip in a name or in weight bytes is still a valid
     * model) or it fails with a message; ASan checks everything between. */
    if (m) {
      loaded++;
      SnModelInfo info;
      sn_model_get_info (m, &info);
      sn_model_free (m);
      ck_assert_ptr_null (err);
    } else {
      ck_assert (err && err->domain == SN_ERROR && *err->message);
      g_error_free (err);
    }
  }
  g_rand_free (rand);
  ck_assert_int_lt (loaded, 3000);
}
END_TEST

START_TEST (test_segment_errors)
{
  size_t len;
  g_autofree guint8 *buf = relu_model (&len);
  SnModel *m = sn_model_load_from_data (buf, len, NULL, NULL);
  ck_assert_ptr_nonnull (m);
  GError *err = NULL;
  const char *nope[] = { "nope" };
  SnSegment *s = sn_segment_new (m, nope, 1, NULL, 0, &err);
  ck_assert_ptr_null (s);
  ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_INVALID_ARGUMENT));
  ck_assert (strstr (err->message, "'nope'"));
  g_clear_error (&err);
  /* Asking for y from nothing: x is needed but not given. */
  const char *y[] = { "y" };
  const char *w[] = { "w" };
  s = sn_segment_new (m, w, 1, y, 1, &err);
  ck_assert_ptr_null (s);
  ck_assert (strstr (err->message, "'w'"));     /* a constant cannot be an input */
  g_clear_error (&err);
  s = sn_segment_new (m, NULL, 0, y, 1, &err);
  ck_assert_ptr_nonnull (s);
  /* Wrong shape for the input is refused at run time with both shapes named. */
  int64_t d5[] = { 5 };
  SnShape shape5 = sn_shape_make (1, d5);
  g_autoptr (SnTensor) x5 = sn_tensor_new (SN_DTYPE_FLOAT32, &shape5);
  ck_assert (!sn_segment_run (s, (const SnTensor *[]) { x5 }, &err));
  ck_assert (strstr (err->message, "float32 4"));
  ck_assert (strstr (err->message, "float32 5"));
  g_clear_error (&err);
  sn_segment_free (s);
  sn_model_free (m);
}
END_TEST

START_TEST (test_npy_roundtrip)
{
  int64_t d[] = { 2, 3, 5 };
  SnShape shape = sn_shape_make (3, d);
  g_autoptr (SnTensor) t = sn_tensor_new (SN_DTYPE_FLOAT32, &shape);
  for (int i = 0; i < 30; i++)
    ((float *) t->data)[i] = i * 0.25f - 3;
  g_autofree char *path = g_build_filename (g_get_tmp_dir (), "sn-test.npy", NULL);
  ck_assert (sn_tensor_save_npy (t, path, NULL));
  GError *err = NULL;
  g_autoptr (SnTensor) back = sn_tensor_load_npy (path, &err);
  ck_assert_msg (back != NULL, "%s", err ? err->message : "");
  ck_assert (sn_shape_equal (&back->shape, &shape));
  ck_assert_int_eq (memcmp (back->data, t->data, 120), 0);
  /* A truncated file is an error, not a short read. */
  g_autofree char *bytes = NULL;
  gsize len;
  ck_assert (g_file_get_contents (path, &bytes, &len, NULL));
  ck_assert (g_file_set_contents (path, bytes, len - 4, NULL));
  ck_assert_ptr_null (sn_tensor_load_npy (path, &err));
  ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_PARSE));
  g_clear_error (&err);
  g_unlink (path);
}
END_TEST

/* y = Conv(x, W) with a 1x1 kernel: y[c] = sum_k W[c][k] x[k]. */
static guint8 *
conv_model_external (const char *location, int64_t offset, size_t *len)
{
  static const int64_t x_dims[] = { 1, 2, 1, 1 }, w_dims[] = { 3, 2, 1, 1 };
  static const int64_t y_dims[] = { 1, 3, 1, 1 };
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, x_dims);
  sn_test_graph_output (g, "y", 4, y_dims);
  sn_test_graph_initializer_external (g, "W", 4, w_dims, location, offset, 6 * sizeof (float));
  sn_test_graph_node (g, "Conv", "conv", (const char *[]) { "x", "W", NULL },
      (const char *[]) { "y", NULL });
  guint8 *buf = sn_test_graph_serialize (g, len);
  sn_test_graph_free (g);
  return buf;
}

START_TEST (test_external_data)
{
  g_autofree char *dir = g_dir_make_tmp ("sn-ext-XXXXXX", NULL);
  ck_assert_ptr_nonnull (dir);
  /* 8 bytes of padding, then W = [[1,2],[3,4],[5,6]]. */
  float blob[8] = { -1, -1, 1, 2, 3, 4, 5, 6 };
  g_autofree char *weights = g_build_filename (dir, "weights.bin", NULL);
  ck_assert (g_file_set_contents (weights, (char *) blob, sizeof blob, NULL));
  size_t len;
  g_autofree guint8 *buf = conv_model_external ("weights.bin", 8, &len);
  g_autofree char *model_path = g_build_filename (dir, "model.onnx", NULL);
  ck_assert (g_file_set_contents (model_path, (char *) buf, len, NULL));

  GError *err = NULL;
  SnModel *m = sn_model_load (model_path, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  SnSegment *s = sn_segment_new (m, NULL, 0, NULL, 0, &err);
  ck_assert_ptr_nonnull (s);
  int64_t xd[] = { 1, 2, 1, 1 };
  SnShape xs = sn_shape_make (4, xd);
  float xv[2] = { 10, 100 };
  g_autoptr (SnTensor) x = sn_tensor_new_wrap (SN_DTYPE_FLOAT32, &xs, xv);
  ck_assert (sn_segment_run (s, (const SnTensor *[]) { x }, &err));
  const float *y = sn_segment_output (s, 0)->data;
  ck_assert_float_eq (y[0], 210);
  ck_assert_float_eq (y[1], 430);
  ck_assert_float_eq (y[2], 650);
  sn_segment_free (s);
  sn_model_free (m);

  /* The same model from memory has no folder to resolve the file in. */
  m = sn_model_load_from_data (buf, len, NULL, &err);
  assert_error (m, err, SN_ERROR_INVALID_MODEL, "'W'");
  g_clear_error (&err);

  /* Locations may not leave the model's folder. */
  g_autofree guint8 *esc = conv_model_external ("../weights.bin", 8, &len);
  ck_assert (g_file_set_contents (model_path, (char *) esc, len, NULL));
  m = sn_model_load (model_path, &err);
  assert_error (m, err, SN_ERROR_INVALID_MODEL, "../weights.bin");
  g_clear_error (&err);

  /* A file too short for the declared range. */
  g_autofree guint8 *far = conv_model_external ("weights.bin", 16, &len);
  ck_assert (g_file_set_contents (model_path, (char *) far, len, NULL));
  m = sn_model_load (model_path, &err);
  assert_error (m, err, SN_ERROR_INVALID_MODEL, "weights.bin");
  g_clear_error (&err);

  /* A missing file. */
  g_unlink (weights);
  g_autofree guint8 *ok = conv_model_external ("weights.bin", 8, &len);
  ck_assert (g_file_set_contents (model_path, (char *) ok, len, NULL));
  m = sn_model_load (model_path, &err);
  assert_error (m, err, SN_ERROR_IO, "weights.bin");
  g_clear_error (&err);
  g_unlink (model_path);
  g_rmdir (dir);
}
END_TEST

/* Weights stored as float16 and cast to float32 at load (constant folding),
 * as exporters of half-precision models do. */
START_TEST (test_float16_initializer)
{
  static const int64_t d3[] = { 3 };
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 1, d3);
  sn_test_graph_output (g, "y", 1, d3);
  float w[3] = { 0.1f, -2.5f, 65504.0f };
  sn_test_graph_initializer_f16 (g, "w16", 1, d3, w, 3);
  sn_test_graph_node (g, "Cast", "cast", (const char *[]) { "w16", NULL }, (const char *[]) { "w", NULL });
  sn_test_graph_attr_int (g, "to", SN_DTYPE_FLOAT32);
  sn_test_graph_node (g, "Add", "add", (const char *[]) { "x", "w", NULL }, (const char *[]) { "y", NULL });
  GError *err = NULL;
  SnModel *m = load_graph (g, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  SnModelInfo info;
  sn_model_get_info (m, &info);
  ck_assert_int_eq (info.param_bytes, 6);       /* stored as half */
  SnSegment *s = sn_segment_new (m, NULL, 0, NULL, 0, &err);
  ck_assert_int_eq (sn_segment_n_nodes (s), 1); /* the Cast was folded */
  float xv[3] = { 1, 1, 1 };
  SnShape xs = sn_shape_make (1, d3);
  g_autoptr (SnTensor) x = sn_tensor_new_wrap (SN_DTYPE_FLOAT32, &xs, xv);
  ck_assert (sn_segment_run (s, (const SnTensor *[]) { x }, &err));
  const float *y = sn_segment_output (s, 0)->data;
  /* 0.1 is not a half: it rounds to 0.0999755859375. */
  ck_assert_float_eq (y[0], 1.0f + 0.0999755859375f);
  ck_assert_float_eq (y[1], -1.5f);
  ck_assert_float_eq (y[2], 65505.0f);
  sn_segment_free (s);
  sn_model_free (m);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("model");
  TCase *tc = tcase_create ("load");
  tcase_add_test (tc, test_load_valid);
  tcase_add_test (tc, test_truncated_every_length);
  tcase_add_test (tc, test_truncated_file_on_disk);
  tcase_add_test (tc, test_unknown_op);
  tcase_add_test (tc, test_missing_initializer);
  tcase_add_test (tc, test_wrong_dims);
  tcase_add_test (tc, test_negative_dim);
  tcase_add_test (tc, test_cycle);
  tcase_add_test (tc, test_unsupported_opset);
  tcase_add_test (tc, test_garbage_and_bit_flips);
  tcase_add_test (tc, test_segment_errors);
  tcase_add_test (tc, test_npy_roundtrip);
  tcase_add_test (tc, test_external_data);
  tcase_add_test (tc, test_float16_initializer);
  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
