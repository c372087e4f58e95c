/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The real detector against two independent runtimes.
 *
 * Frames (the first SPLITNN_ORACLE_FRAMES of vtest.avi, default 10, and
 * five darknet stills) are preprocessed by libsplitnn and written as .npy;
 * TensorFlow.js runs the ORIGINAL graph (model.json from @vladmandic/human)
 * on them (its WebAssembly backend; SPLITNN_TFJS_BACKEND=cpu for pure JS), ONNX Runtime runs our converted ONNX, and libsplitnn runs the
 * converted ONNX on both of its engines.  All must agree on keypoints and
 * wh.  Detections are checked against TF.js's own post-processing (the
 * graph's tower_0/detections + tf.image.nonMaxSuppression, as Human does),
 * so neither the expected objects nor the decoding come from our code.
 *
 * Tolerances: keypoints (sigmoid outputs, 0-1) within 1e-5 absolute; wh
 * (box distances in pixels, up to ~500) within 5e-2 absolute, a twentieth
 * of a pixel: XNNPACK sums in another order than TF.js and the largest
 * difference seen on these frames is about 0.011.  The worst errors seen
 * are printed. */
#include <check.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "../tools/sn-frames.h"

#define KEYPOINTS_ATOL 1e-5
#define WH_ATOL 5e-2

static char *root, *tmp;
static GPtrArray *names;        /* input basenames */

static char *
src_path (const char *rel)
{
  return g_build_filename (root, rel, NULL);
}

static int
spawn (char **argv)
{
  int status = -1;
  GError *err = NULL;
  g_autofree char *cwd = src_path ("tests/oracle");
  if (!g_spawn_sync (cwd, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
          NULL, NULL, NULL, NULL, &status, &err)) {
    fprintf (stderr, "spawn %s: %s\n", argv[0], err->message);
    g_error_free (err);
    return -1;
  }
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

/* Preprocesses up to `max` frames of `file` into tmp/<prefix><i>.npy. */
static void
add_frames (SnDetector *det, const char *file, const char *prefix, int max)
{
  GError *err = NULL;
  g_autofree char *path = src_path (file);
  SnFrames *f = sn_frames_open (path, &err);
  ck_assert_msg (f != NULL, "%s", err ? err->message : "");
  SnFrame fr;
  for (int i = 0; i < max && sn_frames_next (f, &fr, &err); i++) {
    SnImage img = { SN_PIXEL_RGB, fr.width, fr.height, { fr.rgb }, { fr.stride } };
    const SnTensor *x = sn_detector_preprocess (det, &img, NULL, &err);
    ck_assert_ptr_nonnull (x);
    char *name = max > 1 ? g_strdup_printf ("%s%03d", prefix, i) : g_strdup (prefix);
    g_autofree char *npy = g_strdup_printf ("%s/%s.npy", tmp, name);
    ck_assert (sn_tensor_save_npy (x, npy, NULL));
    g_ptr_array_add (names, name);
  }
  ck_assert_ptr_null (err);
  sn_frames_close (f);
}

static void
setup (void)
{
  root = g_strdup (g_getenv ("SPLITNN_SOURCE_ROOT"));
  tmp = g_dir_make_tmp ("sn-oracle-XXXXXX", NULL);
  names = g_ptr_array_new_with_free_func (g_free);
}

static void
teardown (void)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmp);
  ck_assert_int_eq (system (cmd), 0);
  g_ptr_array_unref (names);
  g_free (tmp);
  g_free (root);
}

static double
max_abs_diff (const SnTensor *a, const SnTensor *b)
{
  ck_assert (sn_shape_equal (&a->shape, &b->shape));
  const float *x = a->data, *y = b->data;
  double worst = 0;
  for (int64_t i = 0; i < sn_tensor_numel (a); i++)
    worst = MAX (worst, fabs ((double) x[i] - y[i]));
  return worst;
}

static SnTensor *
load (const char *dir, const char *name, const char *what)
{
  g_autofree char *p = g_strdup_printf ("%s/%s/%s.%s.npy", tmp, dir, name, what);
  GError *err = NULL;
  SnTensor *t = sn_tensor_load_npy (p, &err);
  ck_assert_msg (t != NULL, "%s", err ? err->message : "");
  return t;
}

/* Every oracle detection has a counterpart of the same class with nearly
 * the same box and score, and there are no extra ones. */
static void
check_detections (const char *name, const SnDetections *ours)
{
  g_autofree char *p = g_strdup_printf ("%s/tfjs/%s.detections.json", tmp, name);
  g_autoptr (JsonParser) parser = json_parser_new ();
  ck_assert (json_parser_load_from_file (parser, p, NULL));
  JsonArray *arr = json_node_get_array (json_parser_get_root (parser));
  int n = json_array_get_length (arr);
  ck_assert_msg (n == ours->n, "%s: TF.js finds %d objects, libsplitnn %d", name, n, ours->n);
  for (int i = 0; i < n; i++) {
    JsonObject *o = json_array_get_object_element (arr, i);
    JsonArray *b = json_object_get_array_member (o, "box");
    SnDetection ref = { (int) json_object_get_double_member (o, "class_id"), NULL,
      (float) json_object_get_double_member (o, "score"),
      json_array_get_double_element (b, 0), json_array_get_double_element (b, 1),
      json_array_get_double_element (b, 2), json_array_get_double_element (b, 3) };
    gboolean found = FALSE;
    for (int k = 0; k < ours->n && !found; k++)
      found = ours->items[k].class_id == ref.class_id && sn_box_iou (&ours->items[k], &ref) > 0.99
          && fabsf (ours->items[k].score - ref.score) < 1e-4f;
    ck_assert_msg (found, "%s: TF.js's %s %.3f [%.1f %.1f %.1f %.1f] has no match", name,
        sn_coco_label (ref.class_id), ref.score, ref.x0, ref.y0, ref.x1, ref.y1);
  }
}

START_TEST (test_three_way_agreement)
{
  g_autofree char *model_path = src_path ("models/centernet-mobilenetv3-coco.onnx");
  GError *err = NULL;
  SnModel *m = sn_model_load (model_path, &err);
  ck_assert_msg (m != NULL, "%s (run scripts/fetch-assets)", err ? err->message : "");
  SnDetector *det = sn_detector_new (m, &err);
  ck_assert_ptr_nonnull (det);
  const char *env = g_getenv ("SPLITNN_ORACLE_FRAMES");
  int n_video = env ? atoi (env) : 10;
  add_frames (det, "data/vtest.avi", "vtest", n_video);
  static const char *stills[] = { "person", "dog", "horses", "giraffe", "eagle" };
  for (size_t i = 0; i < G_N_ELEMENTS (stills); i++) {
    g_autofree char *file = g_strdup_printf ("data/%s.jpg", stills[i]);
    add_frames (det, file, stills[i], 1);
  }

  /* The oracles, on the same .npy inputs. */
  g_autofree char *tfjs_dir = g_build_filename (tmp, "tfjs", NULL);
  g_autofree char *ort_dir = g_build_filename (tmp, "ort", NULL);
  g_mkdir (tfjs_dir, 0755);
  g_mkdir (ort_dir, 0755);
  g_autofree char *model_json = src_path (".cache/human/centernet.json");
  GPtrArray *a = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *b = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (a, g_strdup ("node"));
  g_ptr_array_add (a, g_strdup ("run-tfjs.mjs"));
  g_ptr_array_add (a, g_strdup (model_json));
  g_ptr_array_add (a, g_strdup (tfjs_dir));
  g_ptr_array_add (b, g_strdup ("node"));
  g_ptr_array_add (b, g_strdup ("run-ort.mjs"));
  g_ptr_array_add (b, g_strdup (model_path));
  g_ptr_array_add (b, g_strdup (ort_dir));
  for (guint i = 0; i < names->len; i++) {
    g_ptr_array_add (a, g_strdup_printf ("%s/%s.npy", tmp, (char *) g_ptr_array_index (names, i)));
    g_ptr_array_add (b, g_strdup_printf ("%s/%s.npy", tmp, (char *) g_ptr_array_index (names, i)));
  }
  g_ptr_array_add (a, g_strdup ("--detections"));
  g_ptr_array_add (a, g_strdup ("0.2,0.4,100"));
  g_ptr_array_add (a, NULL);
  g_ptr_array_add (b, NULL);
  ck_assert_int_eq (spawn ((char **) a->pdata), 0);
  ck_assert_int_eq (spawn ((char **) b->pdata), 0);
  g_ptr_array_unref (a);
  g_ptr_array_unref (b);

  const char *outs[] = { "keypoints", "wh" };
  SnSegment *ref = sn_segment_new (m, NULL, 0, outs, 2, &err);
  SnSegment *fast = sn_segment_new (m, NULL, 0, outs, 2, &err);
  sn_segment_set_engine (ref, SN_ENGINE_REFERENCE);
  sn_segment_set_engine (fast, SN_ENGINE_FAST);
  double worst[2][3] = { { 0 } };   /* [keypoints, wh][ref-tfjs, fast-tfjs, ort-tfjs] */
  SnDecodeParams dp;
  sn_decode_params_init (&dp);
  SnDetections d;
  sn_detections_init (&d);
  for (guint i = 0; i < names->len; i++) {
    const char *name = g_ptr_array_index (names, i);
    g_autofree char *in_path = g_strdup_printf ("%s/%s.npy", tmp, name);
    g_autoptr (SnTensor) x = sn_tensor_load_npy (in_path, NULL);
    ck_assert (sn_segment_run (ref, (const SnTensor *[]) { x }, &err));
    ck_assert (sn_segment_run (fast, (const SnTensor *[]) { x }, &err));
    for (int o = 0; o < 2; o++) {
      g_autoptr (SnTensor) tfjs = load ("tfjs", name, outs[o]);
      g_autoptr (SnTensor) ort = load ("ort", name, outs[o]);
      double e[3] = { max_abs_diff (sn_segment_output (ref, o), tfjs),
        max_abs_diff (sn_segment_output (fast, o), tfjs), max_abs_diff (ort, tfjs) };
      double tol = o == 0 ? KEYPOINTS_ATOL : WH_ATOL;
      for (int k = 0; k < 3; k++) {
        worst[o][k] = MAX (worst[o][k], e[k]);
        ck_assert_msg (e[k] <= tol, "%s %s: %s differs from TF.js by %g (tolerance %g)", name,
            outs[o], k == 0 ? "libsplitnn reference" : k == 1 ? "libsplitnn fast" : "ONNX Runtime",
            e[k], tol);
      }
    }
    /* Detections in model pixels (no letterbox), as the oracle reports them. */
    ck_assert (sn_centernet_decode (sn_segment_output (fast, 0), sn_segment_output (fast, 1),
            &dp, NULL, &d, &err));
    check_detections (name, &d);
  }
  printf ("oracles: %u inputs; worst |diff| vs TF.js: keypoints ref %.3g fast %.3g ort %.3g; "
      "wh ref %.3g fast %.3g ort %.3g\n", names->len, worst[0][0], worst[0][1], worst[0][2],
      worst[1][0], worst[1][1], worst[1][2]);
  sn_detections_clear (&d);
  sn_segment_free (ref);
  sn_segment_free (fast);
  sn_detector_free (det);
  sn_model_free (m);
}
END_TEST

/* Every candidate cut of the real detector: edge then cloud, unquantized,
 * gives exactly the unsplit model's heads on the reference kernels.  The
 * fast path fuses differently on either side of a cut (e.g. an activation
 * into the op before it), so there the split agrees within float rounding:
 * 1e-5 on keypoints, 0.05 px on wh.
 *
 * The fast engine checks every cut.  The reference kernels take about 8 s
 * for the whole network, so by default they check every
 * SPLITNN_ORACLE_CUT_STRIDE-th cut (default 4) and the last one, which
 * covers each kind of cut (single tensor, residual pairs, the heads);
 * SPLITNN_ORACLE_CUT_STRIDE=1 checks all of them (about 7 minutes). */
START_TEST (test_real_detector_splits_exact)
{
  g_autofree char *model_path = src_path ("models/centernet-mobilenetv3-coco.onnx");
  GError *err = NULL;
  SnModel *m = sn_model_load (model_path, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  SnCutSet *set = sn_cut_set_new (m, &err);
  ck_assert_ptr_nonnull (set);
  SnShape s = sn_shape_make (4, (int64_t[]) { 1, 512, 512, 3 });
  g_autoptr (SnTensor) x = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  GRand *r = g_rand_new_with_seed (42);
  for (int64_t i = 0; i < sn_tensor_numel (x); i++)
    ((float *) x->data)[i] = (float) g_rand_int_range (r, 0, 256);
  g_rand_free (r);
  const char *outs[] = { "keypoints", "wh" };
  int n = sn_cut_set_n_cuts (set);
  const char *stride_env = g_getenv ("SPLITNN_ORACLE_CUT_STRIDE");
  int stride = stride_env ? MAX (1, atoi (stride_env)) : 4;
  int n_reference = 0;
  for (int engine = SN_ENGINE_REFERENCE; engine <= SN_ENGINE_FAST; engine++) {
  SnSegment *whole = sn_segment_new (m, NULL, 0, outs, 2, &err);
  sn_segment_set_engine (whole, engine);
  ck_assert (sn_segment_run (whole, (const SnTensor *[]) { x }, &err));
  for (int c = 0; c < n; c++) {
    if (engine == SN_ENGINE_REFERENCE && c % stride != 0 && c != n - 1)
      continue;
    n_reference += engine == SN_ENGINE_REFERENCE;
    const SnCut *cut = sn_cut_set_get (set, c);
    SnSplit *split = sn_split_new (m, cut, &err);
    ck_assert_msg (split != NULL, "cut %d: %s", c, err ? err->message : "");
    SnSegment *edge = sn_split_edge (split), *cloud = sn_split_cloud (split);
    sn_segment_set_engine (edge, engine);
    sn_segment_set_engine (cloud, engine);
    ck_assert (sn_segment_run (edge, (const SnTensor *[]) { x }, &err));
    const SnTensor *mid[16];
    for (int k = 0; k < cut->n_tensors; k++)
      mid[k] = sn_segment_output (edge, k);
    ck_assert (sn_segment_run (cloud, mid, &err));
    /* The cloud segment's outputs are the model's outputs in model order. */
    for (int o = 0; o < 2; o++) {
      const SnTensor *a = sn_segment_output (whole, o), *b = NULL;
      for (int k = 0; k < sn_segment_n_outputs (cloud); k++)
        if (strcmp (sn_segment_output_name (cloud, k), outs[o]) == 0)
          b = sn_segment_output (cloud, k);
      ck_assert_ptr_nonnull (b);
      if (engine == SN_ENGINE_FAST) {
        double e = max_abs_diff (a, b);
        ck_assert_msg (e <= (o == 0 ? KEYPOINTS_ATOL : WH_ATOL), "cut %d (%s), fast engine: %s "
            "differs from the unsplit model by %g", c, cut->name, outs[o], e);
        continue;
      }
      ck_assert_msg (memcmp (a->data, b->data, sn_tensor_nbytes (a)) == 0,
          "cut %d (%s), %s engine: %s differs from the unsplit model", c, cut->name,
          engine == SN_ENGINE_FAST ? "fast" : "reference", outs[o]);
    }
    sn_split_free (split);
  }
  sn_segment_free (whole);
  }
  printf ("splits: %d of the detector's %d cuts are bit-identical to the unsplit model (reference "
      "kernels), all %d within tolerance (fast path)\n", n_reference, n, n);
  sn_cut_set_free (set);
  sn_model_free (m);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("oracles");
  TCase *tc = tcase_create ("oracles");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_three_way_agreement);
  tcase_add_test (tc, test_real_detector_splits_exact);
  tcase_set_timeout (tc, 1100);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
