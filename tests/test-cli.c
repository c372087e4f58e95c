/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The splitnn command-line tool, run as a user would: exit codes, JSON,
 * and .npy outputs checked against values worked out by hand. */
#include <check.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "sn-test-onnx.h"
#include "sn-test-sanitizer.h"

static char *tmp_dir, *model_path, *splitnn;


/* y = Relu (Conv (x, W)), 1x1 kernel, W = [[1, -1], [2, 0.5]] */
static void
setup (void)
{
  static const int64_t x_dims[] = { 1, 2, 1, 1 }, w_dims[] = { 2, 2, 1, 1 };
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, x_dims);
  sn_test_graph_output (g, "y", 4, x_dims);
  float w[4] = { 1, -1, 2, 0.5f };
  sn_test_graph_initializer (g, "W", 4, w_dims, w, 4);
  sn_test_graph_node (g, "Conv", "conv", (const char *[]) { "x", "W", NULL }, (const char *[]) { "c", NULL });
  sn_test_graph_node (g, "Relu", "relu", (const char *[]) { "c", NULL }, (const char *[]) { "y", NULL });
  size_t len;
  g_autofree guint8 *buf = sn_test_graph_serialize (g, &len);
  sn_test_graph_free (g);
  tmp_dir = g_dir_make_tmp ("sn-cli-XXXXXX", NULL);
  model_path = g_build_filename (tmp_dir, "m.onnx", NULL);
  g_assert (g_file_set_contents (model_path, (char *) buf, len, NULL));
  splitnn = g_build_filename (g_getenv ("SPLITNN_BUILD_ROOT"), "tools", "splitnn", NULL);
}

static void
teardown (void)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmp_dir);
  g_assert (system (cmd) == 0);
  g_free (tmp_dir);
  g_free (model_path);
  g_free (splitnn);
}

static int
run (char **out, const char *first, ...)
{
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, splitnn);
  va_list ap;
  va_start (ap, first);
  for (const char *a = first; a; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (char *) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  int status = -1;
  GError *err = NULL;
  g_autofree char *errout = NULL;
  gboolean ok = g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT,
      NULL, NULL, out, &errout, &status, &err);
  g_autofree char *cmd = g_strjoinv (" ", (char **) argv->pdata + 1);
  g_ptr_array_free (argv, TRUE);
  ck_assert_msg (ok, "%s", err ? err->message : "");
  /* A child killed by a signal (a sanitizer's abort, the OOM killer) is a
   * failure whatever exit code the test expected: say which, with its
   * stderr, instead of a bare -1. */
  ck_assert_msg (WIFEXITED (status), "splitnn %s: killed by signal %d\n%s", cmd,
      WIFSIGNALED (status) ? WTERMSIG (status) : -1, errout);
  return WEXITSTATUS (status);
}

START_TEST (test_usage_errors)
{
  g_autofree char *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL;
  ck_assert_int_eq (run (&o1, NULL), 2);
  ck_assert_int_eq (run (&o2, "frobnicate", NULL), 2);
  ck_assert_int_eq (run (&o3, "inspect", NULL), 2);
  ck_assert_int_eq (run (&o4, "run", model_path, "--input", "novalue", NULL), 2);
}
END_TEST

START_TEST (test_inspect_json)
{
  g_autofree char *out = NULL;
  ck_assert_int_eq (run (&out, "inspect", model_path, "--json", NULL), 0);
  g_autoptr (JsonParser) p = json_parser_new ();
  ck_assert (json_parser_load_from_data (p, out, -1, NULL));
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  ck_assert_int_eq (json_object_get_int_member (o, "parameters"), 4);
  ck_assert_int_eq (json_object_get_int_member (o, "nodes"), 2);
  /* Conv: 2 outputs x 2 inputs MACs = 8 FLOPs; Relu: 2. */
  ck_assert_int_eq ((int) json_object_get_double_member (o, "flops"), 10);
  JsonObject *ops = json_object_get_object_member (o, "ops");
  ck_assert_int_eq (json_object_get_int_member (ops, "Conv"), 1);
  ck_assert_int_eq (strlen (json_object_get_string_member (o, "fingerprint")), 64);
}
END_TEST

START_TEST (test_missing_model)
{
  g_autofree char *out = NULL;
  ck_assert_int_eq (run (&out, "inspect", "/nonexistent/model.onnx", NULL), 1);
}
END_TEST

START_TEST (test_run_segment)
{
  /* x = [3, 5]: conv = [3 - 5, 6 + 2.5] = [-2, 8.5]; relu = [0, 8.5]. */
  int64_t d[] = { 1, 2, 1, 1 };
  SnShape s = sn_shape_make (4, d);
  float xv[2] = { 3, 5 };
  g_autoptr (SnTensor) x = sn_tensor_new_wrap (SN_DTYPE_FLOAT32, &s, xv);
  g_autofree char *x_path = g_build_filename (tmp_dir, "x.npy", NULL);
  ck_assert (sn_tensor_save_npy (x, x_path, NULL));
  g_autofree char *spec = g_strdup_printf ("x=%s", x_path);
  g_autofree char *out = NULL;
  ck_assert_int_eq (run (&out, "run", model_path, "--input", spec, "--out-dir", tmp_dir, NULL), 0);
  g_autofree char *y_path = g_build_filename (tmp_dir, "y.npy", NULL);
  g_autoptr (SnTensor) y = sn_tensor_load_npy (y_path, NULL);
  ck_assert_ptr_nonnull (y);
  ck_assert_float_eq (((float *) y->data)[0], 0);
  ck_assert_float_eq (((float *) y->data)[1], 8.5f);

  /* Only the segment up to 'c': the Conv output before the Relu. */
  g_autofree char *out2 = NULL;
  ck_assert_int_eq (run (&out2, "run", model_path, "--input", spec, "--output", "c",
          "--out-dir", tmp_dir, NULL), 0);
  g_autofree char *c_path = g_build_filename (tmp_dir, "c.npy", NULL);
  g_autoptr (SnTensor) c = sn_tensor_load_npy (c_path, NULL);
  ck_assert_ptr_nonnull (c);
  ck_assert_float_eq (((float *) c->data)[0], -2);
  ck_assert_float_eq (((float *) c->data)[1], 8.5f);

  /* Starting from 'c' computes the Relu alone. */
  g_autofree char *spec_c = g_strdup_printf ("c=%s", c_path);
  g_autofree char *out3 = NULL;
  g_unlink (y_path);
  ck_assert_int_eq (run (&out3, "run", model_path, "--input", spec_c, "--out-dir", tmp_dir, NULL), 0);
  g_autoptr (SnTensor) y2 = sn_tensor_load_npy (y_path, NULL);
  ck_assert_ptr_nonnull (y2);
  ck_assert_float_eq (((float *) y2->data)[1], 8.5f);

  /* An input of the wrong shape is an error, not a crash. */
  int64_t d3[] = { 1, 3, 1, 1 };
  SnShape s3 = sn_shape_make (4, d3);
  g_autoptr (SnTensor) bad = sn_tensor_new (SN_DTYPE_FLOAT32, &s3);
  ck_assert (sn_tensor_save_npy (bad, x_path, NULL));
  g_autofree char *out4 = NULL;
  ck_assert_int_eq (run (&out4, "run", model_path, "--input", spec, "--out-dir", tmp_dir, NULL), 1);
}
END_TEST

START_TEST (test_cuts_json)
{
  g_autofree char *out = NULL;
  ck_assert_int_eq (run (&out, "cuts", model_path, "--json", NULL), 0);
  /* One line per cut; the graph x -> c -> y has the cut {c}. */
  g_auto (GStrv) lines = g_strsplit (g_strstrip (out), "\n", -1);
  ck_assert_int_ge (g_strv_length (lines), 1);
  g_autoptr (JsonParser) p = json_parser_new ();
  ck_assert (json_parser_load_from_data (p, lines[0], -1, NULL));
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  ck_assert_str_eq (json_object_get_string_member (o, "name"), "c");
  ck_assert_int_eq (json_object_get_int_member (json_object_get_object_member (o, "bytes"), "4"), 1);
}
END_TEST

/* A detector small enough to calibrate in a test: NHWC x[1,8,8,3] -
 * Transpose - t - Conv(4x3x1x1) - c - Relu - r - Transpose - wh[1,8,8,4],
 * keypoints = Sigmoid (wh). */
static char *
write_tiny_detector_sized (int side)
{
  const int64_t x_dims[] = { 1, side, side, 3 }, o_dims[] = { 1, side, side, 4 };
  static const int64_t w_dims[] = { 4, 3, 1, 1 };
  static const float w[12] = { 0.01f, -0.02f, 0.01f, 0.02f, 0, -0.01f, -0.005f, 0.003f, 0.01f, 0.02f, 0.01f, -0.01f };
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, x_dims);
  sn_test_graph_output (g, "keypoints", 4, o_dims);
  sn_test_graph_output (g, "wh", 4, o_dims);
  sn_test_graph_initializer (g, "W", 4, w_dims, w, 12);
  sn_test_graph_node (g, "Transpose", "nchw", (const char *[]) { "x", NULL }, (const char *[]) { "t", NULL });
  sn_test_graph_attr_ints (g, "perm", 4, (const int64_t[]) { 0, 3, 1, 2 });
  sn_test_graph_node (g, "Conv", "conv", (const char *[]) { "t", "W", NULL }, (const char *[]) { "c", NULL });
  sn_test_graph_node (g, "Relu", "relu", (const char *[]) { "c", NULL }, (const char *[]) { "r", NULL });
  sn_test_graph_node (g, "Transpose", "nhwc", (const char *[]) { "r", NULL }, (const char *[]) { "wh", NULL });
  sn_test_graph_attr_ints (g, "perm", 4, (const int64_t[]) { 0, 2, 3, 1 });
  sn_test_graph_node (g, "Sigmoid", "sig", (const char *[]) { "wh", NULL }, (const char *[]) { "keypoints", NULL });
  sn_test_graph_metadata (g, "splitnn.cuts", "at_c=c");
  size_t len;
  g_autofree guint8 *buf = sn_test_graph_serialize (g, &len);
  sn_test_graph_free (g);
  g_autofree char *name = g_strdup_printf ("det%d.onnx", side);
  char *path = g_build_filename (tmp_dir, side == 8 ? "det.onnx" : name, NULL);
  g_assert (g_file_set_contents (path, (char *) buf, len, NULL));
  return path;
}

static char *
write_tiny_detector (void)
{
  return write_tiny_detector_sized (8);
}

/* A tool that starts GStreamer builds its registry when there is none (a
 * fresh checkout) by loading every installed plugin: minutes under ASan on
 * a busy machine.  Done once here, without the per-run limit, so that the
 * timings of the tests below are those of the tools. */
static void
warm_registry (void)
{
  g_autofree char *out = NULL;
  g_autofree char *none = g_build_filename (tmp_dir, "no-such-video.avi", NULL);
  g_autofree char *det = write_tiny_detector ();
  ck_assert (sn_test_sanitizer_setenv (tmp_dir));
  ck_assert_int_eq (run (&out, "detect", det, none, NULL), 1);
}

START_TEST (test_calibrate)
{
  warm_registry ();
  g_autofree char *det = write_tiny_detector ();
  g_autofree char *out = g_build_filename (tmp_dir, "det-cal.onnx", NULL);
  g_autofree char *image = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data", "person.jpg", NULL);
  g_autofree char *o1 = NULL, *o2 = NULL, *o3 = NULL, *o4 = NULL, *o5 = NULL;
  ck_assert (sn_test_sanitizer_setenv (tmp_dir));
  /* Usage errors: no -o; -o the model itself (refused before any frame). */
  ck_assert_int_eq (run (&o1, "calibrate", det, image, NULL), 2);
  ck_assert_int_eq (run (&o2, "calibrate", det, image, "-o", det, NULL), 2);
  ck_assert_int_eq (run (&o3, "calibrate", det, image, "--frames", "1", "--cuts", "at_c",
      "--clip", "0.99", "-o", out, NULL), 0);
  GError *err = NULL;
  SnModel *m = sn_model_load (out, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  SnCalibration cal;
  ck_assert (sn_model_calibration (m, "c", &cal));
  ck_assert_int_eq (cal.channels, 4);
  ck_assert_int_eq (cal.frames, 1);
  ck_assert_double_eq_tol (cal.clip, 0.99, 1e-12);
  for (int k = 0; k < 4; k++)
    ck_assert (cal.min[k] <= cal.clip_min[k] && cal.clip_max[k] <= cal.max[k]);
  /* Only the listed cut's tensor; the graph input is never calibrated. */
  ck_assert (!sn_model_calibration (m, "t", &cal));
  ck_assert (!sn_model_calibration (m, "x", &cal));
  sn_model_free (m);
  /* eval --range calibrated: runs on the calibrated copy, refused without. */
  ck_assert_int_eq (run (&o4, "eval", out, image, "--frames", "1", "--cuts", "at_c", "--bits", "8",
      "--codec", "lossless", "--range", "calibrated", "--json", NULL), 0);
  ck_assert (strstr (o4, "\"bytes_per_frame\""));
  ck_assert_int_eq (run (&o5, "eval", det, image, "--frames", "1", "--cuts", "at_c", "--bits", "8",
      "--codec", "lossless", "--range", "calibrated", NULL), 1);
}
END_TEST

/* Runs splitnn under coreutils' timeout, so that a tool that hangs fails
 * the test with 124 instead of holding it until Check's own limit.  The
 * limit is generous (sanitizer build, busy machine): a clear error takes
 * well under a second.  Returns the exit status; *err gets stderr. */
static int
run_limited (char **err, const char *const *args)
{
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, "timeout");
  g_ptr_array_add (argv, "-s");
  g_ptr_array_add (argv, "KILL");
  g_ptr_array_add (argv, "60");
  g_ptr_array_add (argv, splitnn);
  for (int i = 0; args[i]; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  int status = -1;
  GError *e = NULL;
  gboolean ok = g_spawn_sync (NULL, (char **) argv->pdata, NULL,
      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, err, &status, &e);
  g_ptr_array_free (argv, TRUE);
  ck_assert_msg (ok, "%s", e ? e->message : "");
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

/* splitnn run on a model with symbolic dims x[N,2,H,W] (Conv 1x1 + Relu,
 * the fixture's weights) at two shapes; y worked out by hand.  A static
 * dim given another size is refused naming the input and the dim. */
START_TEST (test_run_symbolic)
{
  static const char *const sym[] = { "N", NULL, "H", "W" };
  static const int64_t any[] = { 1, 2, 1, 1 }, w_dims[] = { 2, 2, 1, 1 };
  static const float w[4] = { 1, -1, 2, 0.5f };
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input_symbolic (g, "x", 4, any, sym);
  sn_test_graph_output_symbolic (g, "y", 4, any, sym);
  sn_test_graph_initializer (g, "W", 4, w_dims, w, 4);
  sn_test_graph_node (g, "Conv", "conv", (const char *[]) { "x", "W", NULL }, (const char *[]) { "c", NULL });
  sn_test_graph_node (g, "Relu", "relu", (const char *[]) { "c", NULL }, (const char *[]) { "y", NULL });
  size_t len;
  g_autofree guint8 *buf = sn_test_graph_serialize (g, &len);
  sn_test_graph_free (g);
  g_autofree char *sym_path = g_build_filename (tmp_dir, "sym.onnx", NULL);
  ck_assert (g_file_set_contents (sym_path, (char *) buf, len, NULL));
  g_autofree char *x_path = g_build_filename (tmp_dir, "x.npy", NULL);
  g_autofree char *y_path = g_build_filename (tmp_dir, "y.npy", NULL);
  g_autofree char *spec = g_strdup_printf ("x=%s", x_path);
  static const int64_t shapes[][4] = { { 1, 2, 1, 1 }, { 2, 2, 3, 2 } };
  for (int k = 0; k < 2; k++) {
    SnShape s = sn_shape_make (4, shapes[k]);
    g_autoptr (SnTensor) x = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
    int64_t n = sn_tensor_numel (x), hw = shapes[k][2] * shapes[k][3];
    for (int64_t i = 0; i < n; i++)
      ((float *) x->data)[i] = (float) (i % 5) - 1.5f;
    ck_assert (sn_tensor_save_npy (x, x_path, NULL));
    g_autofree char *out = NULL;
    g_unlink (y_path);
    ck_assert_int_eq (run (&out, "run", sym_path, "--input", spec, "--out-dir", tmp_dir, NULL), 0);
    g_autoptr (SnTensor) y = sn_tensor_load_npy (y_path, NULL);
    ck_assert_ptr_nonnull (y);
    ck_assert (sn_shape_equal (&y->shape, &s));
    const float *xv = x->data, *yv = y->data;
    for (int64_t b = 0; b < shapes[k][0]; b++)
      for (int o = 0; o < 2; o++)
        for (int64_t p = 0; p < hw; p++) {
          float a = w[2 * o] * xv[(2 * b) * hw + p] + w[2 * o + 1] * xv[(2 * b + 1) * hw + p];
          ck_assert_float_eq_tol (yv[(2 * b + o) * hw + p], a > 0 ? a : 0, 1e-6);
        }
  }
  /* Channels are static (2): 3 is refused, naming x and dim 1. */
  SnShape s3 = sn_shape_make (4, (const int64_t[]) { 1, 3, 2, 2 });
  g_autoptr (SnTensor) x3 = sn_tensor_new (SN_DTYPE_FLOAT32, &s3);
  ck_assert (sn_tensor_save_npy (x3, x_path, NULL));
  g_autofree char *err = NULL;
  const char *const bad[] = { "run", sym_path, "--input", spec, "--out-dir", tmp_dir, NULL };
  ck_assert_int_eq (run_limited (&err, bad), 1);
  ck_assert_msg (strstr (err, "'x'") && strstr (err, "dim 1"), "%s", err);
}
END_TEST

/* Files that are not what a tool expects: empty, random bytes under a
 * video's name, text under an image's name, an image or video cut short,
 * a directory.  Each tool that reads frames exits 1 within the limit with
 * a message naming the file (it once waited for ever on the first two). */
START_TEST (test_bad_frame_files)
{
  g_autofree char *det = write_tiny_detector ();
  g_autofree char *out = g_build_filename (tmp_dir, "cal.onnx", NULL);
  g_autofree char *jpeg = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data", "person.jpg", NULL);
  g_autofree char *avi = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data", "vtest.avi", NULL);
  char *names[] = { "empty.avi", "random.avi", "text.jpg", "cut.jpg", "cut.avi", "dir.avi" };
  char *paths[G_N_ELEMENTS (names)];
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    paths[i] = g_build_filename (tmp_dir, names[i], NULL);
  ck_assert (g_file_set_contents (paths[0], "", 0, NULL));
  guint8 noise[1000];
  GRand *r = g_rand_new_with_seed (20);
  for (guint i = 0; i < sizeof noise; i++)
    noise[i] = (guint8) g_rand_int (r);
  g_rand_free (r);
  ck_assert (g_file_set_contents (paths[1], (char *) noise, sizeof noise, NULL));
  ck_assert (g_file_set_contents (paths[2], "this is text, not a JPEG\n", -1, NULL));
  /* The JPEG's first 2,000 bytes (headers, no complete scan) and the
   * video's first 30,000 (the AVI header, no complete frame). */
  g_autofree char *data = NULL;
  gsize len;
  ck_assert (g_file_get_contents (jpeg, &data, &len, NULL) && len > 2000);
  ck_assert (g_file_set_contents (paths[3], data, 2000, NULL));
  g_clear_pointer (&data, g_free);
  ck_assert (g_file_get_contents (avi, &data, &len, NULL) && len > 30000);
  ck_assert (g_file_set_contents (paths[4], data, 30000, NULL));
  ck_assert (g_mkdir (paths[5], 0700) == 0);
  warm_registry ();
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    const char *const cmds[][12] = {
      { "detect", det, paths[i], NULL },
      { "eval", det, paths[i], "--frames", "1", "--cuts", "at_c", "--bits", "8", NULL },
      { "calibrate", det, paths[i], "--frames", "1", "-o", out, NULL },
    };
    for (guint c = 0; c < G_N_ELEMENTS (cmds); c++) {
      g_autofree char *err = NULL;
      int rc = run_limited (&err, cmds[c]);
      ck_assert_msg (rc == 1, "%s on %s: exit %d (124 or 137: hung)\n%s", cmds[c][0], names[i], rc, err);
      ck_assert_msg (strstr (err, names[i]), "%s on %s: the message does not name the file:\n%s",
          cmds[c][0], names[i], err);
    }
  }
  ck_assert (!g_file_test (out, G_FILE_TEST_EXISTS));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_free (paths[i]);
}
END_TEST

/* Model files that are not ONNX models: empty, cut short, text, a
 * directory.  Every tool that loads a model exits 1 naming the file. */
START_TEST (test_bad_model_files)
{
  g_autofree char *image = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data", "person.jpg", NULL);
  g_autofree char *npy = g_build_filename (tmp_dir, "x.npy", NULL);
  g_autofree char *out = g_build_filename (tmp_dir, "cal.onnx", NULL);
  /* A valid input for run, so that only the model can be the cause. */
  float xv[2] = { 1, 2 };
  SnShape xs = sn_shape_make (4, (const int64_t[]) { 1, 2, 1, 1 });
  g_autoptr (SnTensor) xt = sn_tensor_new_wrap (SN_DTYPE_FLOAT32, &xs, xv);
  ck_assert (sn_tensor_save_npy (xt, npy, NULL));
  g_autofree char *input = g_strdup_printf ("x=%s", npy);
  /* The run case first with the good model: the input file is good. */
  {
    const char *const ok[] = { "run", model_path, "--input", input, NULL };
    g_autofree char *err = NULL;
    ck_assert_msg (run_limited (&err, ok) == 0, "%s", err);
  }
  char *names[] = { "empty.onnx", "cut.onnx", "text.onnx", "dir.onnx" };
  char *paths[G_N_ELEMENTS (names)];
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    paths[i] = g_build_filename (tmp_dir, names[i], NULL);
  g_autofree char *data = NULL;
  gsize len;
  ck_assert (g_file_get_contents (model_path, &data, &len, NULL));
  ck_assert (g_file_set_contents (paths[0], "", 0, NULL));
  ck_assert (g_file_set_contents (paths[1], data, len / 2, NULL));
  ck_assert (g_file_set_contents (paths[2], "ir_version: 8\ngraph { node { op_type: \"Relu\" } }\n", -1, NULL));
  ck_assert (g_mkdir (paths[3], 0700) == 0);
  ck_assert (sn_test_sanitizer_setenv (tmp_dir));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    const char *const cmds[][12] = {
      { "inspect", paths[i], NULL },
      { "cuts", paths[i], NULL },
      { "run", paths[i], "--input", input, NULL },
      { "plan", paths[i], "--bandwidth", "2M", NULL },
      { "detect", paths[i], image, NULL },
      { "eval", paths[i], image, "--frames", "1", NULL },
      { "calibrate", paths[i], image, "--frames", "1", "-o", out, NULL },
    };
    for (guint c = 0; c < G_N_ELEMENTS (cmds); c++) {
      g_autofree char *err = NULL;
      int rc = run_limited (&err, cmds[c]);
      ck_assert_msg (rc == 1, "%s on %s: exit %d (124 or 137: hung)\n%s", cmds[c][0], names[i], rc, err);
      ck_assert_msg (strstr (err, names[i]), "%s on %s: the message does not name the file:\n%s",
          cmds[c][0], names[i], err);
    }
  }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_free (paths[i]);
}
END_TEST

static JsonObject *
json_line (JsonParser *p, const char *line)
{
  ck_assert_msg (json_parser_load_from_data (p, line, -1, NULL), "%s", line);
  return json_node_get_object (json_parser_get_root (p));
}

/* eval --store-fidelity: the copy keeps the calibration and the other
 * metadata, and its splitnn.fidelity rows are the rows eval printed. */
START_TEST (test_store_fidelity)
{
  g_autofree char *det = write_tiny_detector ();
  g_autofree char *cal = g_build_filename (tmp_dir, "det-cal.onnx", NULL);
  g_autofree char *out = g_build_filename (tmp_dir, "det-fid.onnx", NULL);
  g_autofree char *image = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data", "person.jpg", NULL);
  g_autofree char *o1 = NULL, *o2 = NULL, *o3 = NULL;
  ck_assert (sn_test_sanitizer_setenv (tmp_dir));
  ck_assert_int_eq (run (&o1, "calibrate", det, image, "--frames", "1", "-o", cal, NULL), 0);
  ck_assert_int_eq (run (&o2, "eval", cal, image, "--store-fidelity", cal, NULL), 2);
  ck_assert_int_eq (run (&o3, "eval", cal, image, "--frames", "1", "--bits", "2,8", "--codec",
      "none,lossy", "--json", "--store-fidelity", out, NULL), 0);

  GError *err = NULL;
  SnModel *m = sn_model_load (out, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  SnCalibration c;
  ck_assert (sn_model_calibration (m, "c", &c));
  ck_assert_str_eq (sn_model_metadata (m, "splitnn.cuts"), "at_c=c");
  int n;
  const SnFidelityRow *rows = sn_model_fidelity_rows (m, &n);
  g_auto (GStrv) lines = g_strsplit (g_strstrip (o3), "\n", -1);
  ck_assert_int_eq (n, g_strv_length (lines));
  ck_assert_int_ge (n, 4);                    /* every cut x 2 bit widths x 2 codecs */
  for (int i = 0; i < n; i++) {
    g_autoptr (JsonParser) p = json_parser_new ();
    JsonObject *o = json_line (p, lines[i]);
    ck_assert_uint_eq (rows[i].cut, json_object_get_int_member (o, "cut"));
    ck_assert_str_eq (rows[i].cut_name, json_object_get_string_member (o, "cut_name"));
    ck_assert_int_eq (rows[i].bits, json_object_get_int_member (o, "bits"));
    ck_assert_str_eq (sn_codec_name (rows[i].codec), json_object_get_string_member (o, "codec"));
    ck_assert_int_eq (rows[i].range, SN_RANGE_FRAME);
    ck_assert (!rows[i].per_channel && rows[i].clip == 1.0);
    /* eval prints two decimals. */
    ck_assert_double_eq_tol (rows[i].map50, json_object_get_double_member (o, "fidelity_map50"),
        0.005 + 1e-9);
    ck_assert (rows[i].has_ap50);
    ck_assert_double_eq_tol (rows[i].ap50, json_object_get_double_member (o, "fidelity_ap50"),
        0.005 + 1e-9);
    ck_assert (json_object_has_member (o, "person_ap50"));
    /* The floor reads ap50 where it is stored. */
    SnFeatureConfig fc;
    sn_feature_config_init (&fc);
    fc.bits = rows[i].bits;
    fc.codec = rows[i].codec;
    ck_assert_double_eq (sn_model_fidelity (m, rows[i].cut, &fc), rows[i].ap50);
  }
  sn_model_free (m);
}
END_TEST

/* eval's baselines: edge-only sends the reference's own detections (so its
 * fidelity is 100 by construction of the reference, whatever the model),
 * cloud-only codes the model input with each frame codec and quality.  A
 * coarser H.264 quantizer spends fewer bytes; on one frame the JPEG row's
 * bytes are the JPEG q90 of the same input eval reports beside every row. */
START_TEST (test_eval_baselines)
{
  g_autofree char *det = write_tiny_detector_sized (64);
  g_autofree char *image = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data", "person.jpg", NULL);
  g_autofree char *out = NULL, *e1 = NULL, *e2 = NULL, *e3 = NULL;
  ck_assert (sn_test_sanitizer_setenv (tmp_dir));
  ck_assert_int_eq (run (&e1, "eval", det, image, "--cuts", "cloud-only", "--qp", "52", NULL), 2);
  ck_assert_int_eq (run (&e2, "eval", det, image, "--cuts", "cloud-only", "--codec", "h265", NULL), 2);
  ck_assert_int_eq (run (&e3, "eval", det, image, "--cuts", "cloud-only", "--jpeg-quality", "0", NULL), 2);
  /* x264enc and avdec_h264 come in by dlopen with thread-local storage, and
   * the LeakSanitizer of Debian 12's GCC crashes reading such a thread's
   * dynamic TLS at exit ("Tracer caught signal 11": a runtime bug, not a
   * leak).  This one child runs with leak checking off; ASan and UBSan
   * still check it, and the other eval runs keep leak checking. */
  g_autofree char *asan = g_strdup (g_getenv ("ASAN_OPTIONS"));
  if (asan) {
    g_autofree char *no_leaks = g_strdup_printf ("%s:detect_leaks=0", asan);
    g_setenv ("ASAN_OPTIONS", no_leaks, TRUE);
  }
  int status = run (&out, "eval", det, image, "--frames", "1", "--cuts", "edge-only,cloud-only,0",
      "--codec", "lossless,h264,jpeg", "--qp", "10,45", "--bits", "8", "--json", NULL);
  if (asan)
    g_setenv ("ASAN_OPTIONS", asan, TRUE);
  ck_assert_int_eq (status, 0);
  g_auto (GStrv) lines = g_strsplit (g_strstrip (out), "\n", -1);
  ck_assert_int_eq (g_strv_length (lines), 5);   /* cut 0, edge-only, h264 x 2, jpeg */
  double h264_bytes[2] = { -1, -1 };
  int seen = 0;
  for (int i = 0; lines[i]; i++) {
    g_autoptr (JsonParser) p = json_parser_new ();
    JsonObject *o = json_line (p, lines[i]);
    const char *option = json_object_get_string_member (o, "option");
    const char *codec = json_object_get_string_member (o, "codec");
    double bytes = json_object_get_double_member (o, "bytes_per_frame");
    double ap50 = json_object_get_double_member (o, "fidelity_ap50");
    ck_assert (ap50 >= 0 && ap50 <= 100);
    ck_assert (json_object_has_member (o, "person_ap50") && json_object_has_member (o, "fidelity_map50"));
    if (strcmp (option, "edge-only") == 0) {
      ck_assert_int_eq (json_object_get_int_member (o, "cut"), -1);
      ck_assert_str_eq (codec, "detections");
      ck_assert_double_eq (ap50, 100);
      ck_assert_double_eq (json_object_get_double_member (o, "fidelity_map50"), 100);
      /* At least the detections message's header. */
      SnDetections none = { 0 };
      SnResultHeader h = { 0 };
      g_autoptr (GByteArray) msg = g_byte_array_new ();
      sn_result_write (&h, &none, msg);
      ck_assert (bytes >= msg->len);
      seen |= 1;
    } else if (strcmp (option, "cloud-only") == 0) {
      ck_assert_int_eq (json_object_get_int_member (o, "cut"), -1);
      int q = json_object_get_int_member (o, "quality");
      ck_assert (bytes > 0);
      if (strcmp (codec, "h264") == 0) {
        ck_assert (q == 10 || q == 45);
        h264_bytes[q == 45] = bytes;
        seen |= 2;
      } else {
        ck_assert_str_eq (codec, "jpeg");
        ck_assert_int_eq (q, 90);
        ck_assert_double_eq (bytes, json_object_get_double_member (o, "jpeg_bytes_per_frame"));
        seen |= 4;
      }
    } else {
      ck_assert_str_eq (option, "cut");
      ck_assert_int_eq (json_object_get_int_member (o, "cut"), 0);
      ck_assert (JSON_NODE_HOLDS_NULL (json_object_get_member (o, "quality")));
      seen |= 8;
    }
  }
  ck_assert_int_eq (seen, 15);
  ck_assert (h264_bytes[1] > 0 && h264_bytes[1] < h264_bytes[0]);
}
END_TEST

/* detect --cut edge-only is the whole network, so its detections are
 * detect's without --cut, byte for byte; --cut cloud-only runs, and refuses a
 * feature codec or a quality out of range. */
START_TEST (test_detect_baselines)
{
  g_autofree char *det = write_tiny_detector_sized (64);
  g_autofree char *image = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data", "person.jpg", NULL);
  g_autofree char *whole = NULL, *edge = NULL, *cloud = NULL, *e1 = NULL, *e2 = NULL;
  ck_assert (sn_test_sanitizer_setenv (tmp_dir));
  ck_assert_int_eq (run (&whole, "detect", det, image, "--json", "--threshold", "0", NULL), 0);
  ck_assert_int_eq (run (&edge, "detect", det, image, "--json", "--threshold", "0", "--cut", "edge-only", NULL), 0);
  /* The same detections; the lines differ only in their wall-clock time. */
  ck_assert (strstr (edge, "\"detections\"") && strstr (whole, "\"detections\""));
  ck_assert (strcmp (strstr (edge, "\"detections\""), strstr (whole, "\"detections\"")) == 0);
  ck_assert_int_eq (run (&cloud, "detect", det, image, "--json", "--cut", "cloud-only", "--codec", "jpeg",
      "--quality", "95", NULL), 0);
  ck_assert (strstr (cloud, "\"detections\"") != NULL);
  ck_assert_int_eq (run (&e1, "detect", det, image, "--cut", "cloud-only", "--codec", "lossless", NULL), 2);
  ck_assert_int_eq (run (&e2, "detect", det, image, "--cut", "cloud-only", "--quality", "60", NULL), 2);
}
END_TEST

/* plan --measured: every option of eval's JSON lines is ranked with its
 * measured bytes and fidelity.  On a 1 kbit/s link the link dominates:
 * edge-only's 200 bytes take 1.6 s, cloud-only's 3000 24 s, the cut's
 * 10^6 bytes 8000 s; edge-only also has the most fidelity, so it alone is
 * on the frontier. */
START_TEST (test_plan_measured)
{
  g_autofree char *det = write_tiny_detector ();
  g_autofree char *rows = g_build_filename (tmp_dir, "eval.jsonl", NULL);
  g_autofree char *bad = g_build_filename (tmp_dir, "bad.jsonl", NULL);
  const char *text =
      "{\"option\": \"cut\", \"cut\": 0, \"path\": \"\", \"bits\": 8, \"codec\": \"lossless\", "
      "\"quality\": null, \"bytes_per_frame\": 1000000, \"fidelity_ap50\": 99, \"code_ms\": 1}\n"
      "{\"option\": \"edge-only\", \"cut\": -1, \"path\": \"\", \"bits\": 0, \"codec\": \"detections\", "
      "\"quality\": null, \"bytes_per_frame\": 200, \"fidelity_ap50\": 100}\n"
      "{\"option\": \"cloud-only\", \"cut\": -1, \"path\": \"\", \"bits\": 0, \"codec\": \"h264\", "
      "\"quality\": 26, \"bytes_per_frame\": 3000, \"fidelity_ap50\": 96, \"code_ms\": 2}\n";
  ck_assert (g_file_set_contents (rows, text, -1, NULL));
  ck_assert (g_file_set_contents (bad, "{\"option\": \"cloud-only\", \"codec\": \"h264\", "
          "\"quality\": 99, \"bytes_per_frame\": 1, \"fidelity_ap50\": 1}\n", -1, NULL));
  g_autofree char *out = NULL, *e1 = NULL;
  ck_assert_int_eq (run (&e1, "plan", det, "--bandwidth", "1k", "--measured", bad, NULL), 1);
  ck_assert_int_eq (run (&out, "plan", det, "--bandwidth", "1k", "--json", "--measured", rows, NULL), 0);
  g_auto (GStrv) lines = g_strsplit (g_strstrip (out), "\n", -1);
  ck_assert_int_eq (g_strv_length (lines), 3);
  const char *order[] = { "edge-only", "cloud-only h264 qp26", "cut 0 8-bit lossless" };
  const double bytes[] = { 200, 3000, 1000000 }, fid[] = { 100, 96, 99 };
  for (int i = 0; i < 3; i++) {
    g_autoptr (JsonParser) p = json_parser_new ();
    JsonObject *o = json_line (p, lines[i]);
    ck_assert_str_eq (json_object_get_string_member (o, "name"), order[i]);
    ck_assert_double_eq (json_object_get_double_member (o, "bytes"), bytes[i]);
    ck_assert_double_eq (json_object_get_double_member (o, "fidelity"), fid[i]);
    ck_assert_double_eq_tol (json_object_get_double_member (o, "link_ms"), bytes[i] * 8, 1e-6);
    ck_assert_int_eq (json_object_get_boolean_member (o, "frontier"), i == 0);
    ck_assert_int_eq (json_object_get_int_member (o, "cut"), i == 2 ? 0 : -1);
  }
}
END_TEST

/* One `plan --json` run: the option ranked first, and per cut its fidelity
 * (-1: null) and feasibility. */
static int
plan_json (const char *model, const char *min_fid, double *fidelity, gboolean *feasible, int max)
{
  g_autofree char *out = NULL;
  g_autofree char *opt = g_strdup_printf ("--fidelity-floor=%s", min_fid);
  ck_assert_int_eq (run (&out, "plan", model, "--bandwidth", "1k", "--json", opt, NULL), 0);
  g_auto (GStrv) lines = g_strsplit (g_strstrip (out), "\n", -1);
  int first = -2;
  for (int i = 0; lines[i]; i++) {
    g_autoptr (JsonParser) p = json_parser_new ();
    JsonObject *o = json_line (p, lines[i]);
    int cut = json_object_get_int_member (o, "cut");
    JsonNode *f = json_object_get_member (o, "fidelity");
    if (i == 0)
      first = cut;
    if (cut < 0 && strcmp (json_object_get_string_member (o, "name"), "edge-only") == 0)
      ck_assert_double_eq (json_node_get_double (f), 100);    /* the reference itself */
    if (cut < 0 || cut >= max)
      continue;
    fidelity[cut] = JSON_NODE_HOLDS_NULL (f) ? -1 : json_node_get_double (f);
    feasible[cut] = json_object_get_boolean_member (o, "feasible");
  }
  return first;
}

/* plan --fidelity-floor: the cut ranked first on a 1 kbit/s link (the
 * fewest bytes), stored at mAP 10, is infeasible under floor 50 and no
 * longer first; another cut stored at 90 stays feasible.  The rows carry
 * map50 only, as files written before ap50 existed: map50 stands in. */
START_TEST (test_plan_fidelity_floor)
{
  g_autofree char *det = write_tiny_detector ();
  g_autofree char *fid = g_build_filename (tmp_dir, "det-fid.onnx", NULL);
  double f[16];
  gboolean ok[16];
  int x = plan_json (det, "-1", f, ok, 16);
  ck_assert_int_ge (x, 0);
  GError *err = NULL;
  SnModel *m = sn_model_load (det, &err);
  SnCutSet *set = sn_cut_set_new (m, &err);
  int n_cuts = sn_cut_set_n_cuts (set);
  ck_assert_int_ge (n_cuts, 2);
  ck_assert_int_le (n_cuts, 16);
  int y = x == 0 ? 1 : 0;
  /* plan's defaults: 4 bits, lossless. */
  SnFidelityRow rows[2] = {
    { x, NULL, 4, SN_CODEC_LOSSLESS, SN_RANGE_FRAME, FALSE, 1, 10, 0, FALSE },
    { y, NULL, 4, SN_CODEC_LOSSLESS, SN_RANGE_FRAME, FALSE, 1, 90, 0, FALSE },
  };
  g_autofree char *json = sn_fidelity_to_json (rows, 2, 1, "test");
  ck_assert (sn_onnx_save_with_metadata (det, fid, SN_FIDELITY_KEY, json, &err));
  sn_cut_set_free (set);
  sn_model_free (m);

  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < 16; i++)
      f[i] = -2;
    int first = plan_json (fid, pass ? "50" : "-1", f, ok, 16);
    for (int i = 0; i < n_cuts; i++) {
      ck_assert_double_eq (f[i], i == x ? 10 : i == y ? 90 : -1);
      ck_assert_msg (ok[i] == !(pass && i == x), "pass %d cut %d", pass, i);
    }
    if (pass)
      ck_assert_int_ne (first, x);
  }
}
END_TEST

/* plan --frame: the cuts' sizes measured on a real image, as splitnnedge
 * cut=auto does on its first frame; a cut that is then no candidate ranks
 * infeasible, below every candidate.  A frame that cannot be read fails. */
START_TEST (test_plan_frame)
{
  g_autofree char *det = write_tiny_detector ();
  g_autofree char *image = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data", "person.jpg", NULL);
  g_autofree char *missing = g_build_filename (tmp_dir, "missing.jpg", NULL);
  g_autofree char *out = NULL, *out2 = NULL, *out3 = NULL;
  ck_assert (sn_test_sanitizer_setenv (tmp_dir));
  ck_assert_int_eq (run (&out, "plan", det, "--bandwidth", "1M", "--json", "--frame", image, NULL), 0);
  g_auto (GStrv) lines = g_strsplit (g_strstrip (out), "\n", -1);
  gboolean seen_other = FALSE;
  int n = 0;
  for (int i = 0; lines[i]; i++, n++) {
    g_autoptr (JsonParser) p = json_parser_new ();
    JsonObject *o = json_line (p, lines[i]);
    gboolean cand = json_object_get_boolean_member (o, "candidate");
    if (!cand) {
      ck_assert (!json_object_get_boolean_member (o, "feasible"));
      seen_other = TRUE;
    } else {
      ck_assert_msg (!seen_other, "a candidate ranked below a non-candidate: %s", lines[i]);
    }
  }
  ck_assert_int_ge (n, 3);
  /* Without --frame every option is a candidate. */
  ck_assert_int_eq (run (&out2, "plan", det, "--bandwidth", "1M", "--json", NULL), 0);
  ck_assert_ptr_null (strstr (out2, "\"candidate\": false"));
  ck_assert_int_eq (run (&out3, "plan", det, "--bandwidth", "1M", "--frame", missing, NULL), 1);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("cli");
  TCase *tc = tcase_create ("cli");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_usage_errors);
  tcase_add_test (tc, test_inspect_json);
  tcase_add_test (tc, test_missing_model);
  tcase_add_test (tc, test_run_segment);
  tcase_add_test (tc, test_run_symbolic);
  tcase_add_test (tc, test_cuts_json);
  tcase_add_test (tc, test_calibrate);
  tcase_add_test (tc, test_store_fidelity);
  tcase_add_test (tc, test_eval_baselines);
  tcase_add_test (tc, test_plan_measured);
  tcase_add_test (tc, test_detect_baselines);
  tcase_add_test (tc, test_plan_fidelity_floor);
  tcase_add_test (tc, test_plan_frame);
  /* Generous: a child that builds GStreamer's registry (fresh checkout)
   * takes minutes under ASan on a busy machine; a hang still fails. */
  tcase_set_timeout (tc, 300);
  suite_add_tcase (s, tc);
  /* Many short runs of the tools, each under its own 60 s limit. */
  TCase *bad = tcase_create ("bad-files");
  tcase_add_checked_fixture (bad, setup, teardown);
  tcase_add_test (bad, test_bad_frame_files);
  tcase_add_test (bad, test_bad_model_files);
  tcase_set_timeout (bad, 600);
  suite_add_tcase (s, bad);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
