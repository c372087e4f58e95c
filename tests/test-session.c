/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Edge and cloud sessions and the loopback.
 *
 * The oracle for detections is the unsplit detector (sn_detector_run: the
 * whole model in one segment, heads looked up by name), which shares no
 * code with the sessions' split path past preprocessing.  Stream
 * bookkeeping is checked against hand-written sequences, with time driven
 * explicitly (no sleeps). */
#include <check.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <turbojpeg.h>

#include <splitnn/splitnn.h>

#include "sn-test-onnx.h"
#include "sn-test-sanitizer.h"
#include "../tools/sn-frames.h"

/* ---- A tiny detector whose graph lists its outputs as (wh, keypoints) ------- */

/* images 1x8x8x3 -> f = images . W1 (1x8x8x4) -> keypoints = sigmoid (f . Wk)
 * (1x8x8x3: three classes, stride 1) and wh = relu (f . Ww) (1x8x8x4).
 * The graph's output list names wh first: a caller taking the cloud
 * segment's outputs by position would decode wh as heatmaps. */
static guint8 *
tiny_detector_bytes (gboolean wh_first, size_t *len)
{
  static const int64_t in_dims[] = { 1, 8, 8, 3 }, kp_dims[] = { 1, 8, 8, 3 }, wh_dims[] = { 1, 8, 8, 4 };
  float w1[3 * 4], wk[4 * 3], ww[4 * 4];
  GRand *r = g_rand_new_with_seed (5);
  for (int i = 0; i < 12; i++)
    w1[i] = (float) g_rand_double_range (r, -0.01, 0.01);
  for (int i = 0; i < 12; i++)
    wk[i] = (float) g_rand_double_range (r, -2, 2);
  for (int i = 0; i < 16; i++)
    ww[i] = (float) g_rand_double_range (r, -3, 3);
  g_rand_free (r);
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "images", 4, in_dims);
  if (wh_first)
    sn_test_graph_output (g, "wh", 4, wh_dims);
  sn_test_graph_output (g, "keypoints", 4, kp_dims);
  if (!wh_first)
    sn_test_graph_output (g, "wh", 4, wh_dims);
  sn_test_graph_initializer (g, "W1", 2, (const int64_t[]) { 3, 4 }, w1, 12);
  sn_test_graph_initializer (g, "Wk", 2, (const int64_t[]) { 4, 3 }, wk, 12);
  sn_test_graph_initializer (g, "Ww", 2, (const int64_t[]) { 4, 4 }, ww, 16);
  sn_test_graph_node (g, "MatMul", "mm_f", (const char *[]) { "images", "W1", NULL }, (const char *[]) { "f", NULL });
  sn_test_graph_node (g, "MatMul", "mm_k", (const char *[]) { "f", "Wk", NULL }, (const char *[]) { "k", NULL });
  sn_test_graph_node (g, "Sigmoid", "sig", (const char *[]) { "k", NULL }, (const char *[]) { "keypoints", NULL });
  sn_test_graph_node (g, "MatMul", "mm_w", (const char *[]) { "f", "Ww", NULL }, (const char *[]) { "w", NULL });
  sn_test_graph_node (g, "Relu", "relu", (const char *[]) { "w", NULL }, (const char *[]) { "wh", NULL });
  sn_test_graph_metadata (g, "splitnn.cuts", "mid=f");
  guint8 *buf = sn_test_graph_serialize (g, len);
  sn_test_graph_free (g);
  return buf;
}

static SnModel *
tiny_detector (gboolean wh_first)
{
  size_t len;
  g_autofree guint8 *buf = tiny_detector_bytes (wh_first, &len);
  GError *err = NULL;
  SnModel *m = sn_model_load_from_data (buf, len, NULL, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  return m;
}

/* A 24x16 RGB frame of pseudo-random pixels. */
typedef struct {
  guint8 rgb[16 * 24 * 3];
  SnImage img;
} TestFrame;

static void
test_frame (TestFrame *f, guint32 seed)
{
  GRand *r = g_rand_new_with_seed (seed);
  for (size_t i = 0; i < sizeof f->rgb; i++)
    f->rgb[i] = (guint8) g_rand_int (r);
  g_rand_free (r);
  f->img = (SnImage) { .format = SN_PIXEL_RGB, .width = 24, .height = 16, .planes = { f->rgb },
    .strides = { 24 * 3 } };
}

static void
assert_same_detections (const SnDetections *a, const SnDetections *b, const char *what)
{
  ck_assert_msg (a->n == b->n, "%s: %d detections, the unsplit detector %d", what, a->n, b->n);
  for (int i = 0; i < a->n; i++) {
    const SnDetection *x = &a->items[i], *y = &b->items[i];
    /* Scores exactly; boxes to float32 rounding, since the packet carries
     * the letterbox in float32 where the unsplit detector keeps doubles. */
    const float tol = 1e-3f;
    ck_assert_msg (x->class_id == y->class_id && x->score == y->score && fabsf (x->x0 - y->x0) < tol
        && fabsf (x->y0 - y->y0) < tol && fabsf (x->x1 - y->x1) < tol && fabsf (x->y1 - y->y1) < tol,
        "%s: detection %d differs: %s %.6f [%.3f %.3f %.3f %.3f] vs %s %.6f [%.3f %.3f %.3f %.3f]",
        what, i, x->label, x->score, x->x0, x->y0, x->x1, x->y1, y->label, y->score, y->x0, y->y0,
        y->x1, y->y1);
  }
}

/* Lossless 32-bit coding carries the cut's floats unchanged, so the split
 * path must give the unsplit detector's detections exactly. */
static void
assert_loopback_matches_unsplit (SnModel *m, const SnCut *cut, SnLoopback *lb, SnDetector *det,
    const SnImage *img, const char *what)
{
  GError *err = NULL;
  SnDetections want, got;
  sn_detections_init (&want);
  sn_detections_init (&got);
  ck_assert_msg (sn_detector_run (det, img, &want, NULL, &err), "%s", err ? err->message : "");
  SnOption opt;
  sn_option_init_split (&opt, cut);
  opt.feature.bits = 32;
  opt.feature.codec = SN_CODEC_LOSSLESS;
  SnEdgePacket pk;
  SnCloudFrame cf;
  ck_assert_msg (sn_loopback_process (lb, &opt, img, 1234, &got, &pk, &cf, &err), "%s: %s", what,
      err ? err->message : "");
  ck_assert_int_gt (pk.len, 0);
  ck_assert_ptr_eq (cf.cut, cut);
  ck_assert_uint_eq (cf.pts, 1234);
  ck_assert_uint_eq (cf.seq, pk.seq);
  ck_assert_int_gt (want.n, 0);     /* else the comparison says little */
  assert_same_detections (&got, &want, what);
  sn_detections_clear (&want);
  sn_detections_clear (&got);
  (void) m;
}

START_TEST (test_output_order_split_equals_unsplit)
{
  /* Both listings of the outputs; the split path must not care. */
  for (int wh_first = 1; wh_first >= 0; wh_first--) {
    SnModel *m = tiny_detector (wh_first);
    ck_assert_str_eq (sn_model_output_name (m, 0), wh_first ? "wh" : "keypoints");
    GError *err = NULL;
    SnDetector *det = sn_detector_new (m, &err);
    ck_assert_msg (det != NULL, "%s", err ? err->message : "");
    sn_detector_decode_params (det)->threshold = 0.05f;
    SnLoopback *lb = sn_loopback_new (m, NULL, &err);
    ck_assert_msg (lb != NULL, "%s", err ? err->message : "");
    sn_cloud_session_decode_params (sn_loopback_cloud (lb))->threshold = 0.05f;
    const SnCut *cut = sn_cut_set_find (sn_edge_session_cuts (sn_loopback_edge (lb)), "mid");
    ck_assert_ptr_nonnull (cut);
    for (guint32 seed = 1; seed <= 3; seed++) {
      TestFrame f;
      test_frame (&f, seed);
      assert_loopback_matches_unsplit (m, cut, lb, det, &f.img, wh_first ? "wh listed first" : "keypoints first");
    }
    /* The cloud's raw outputs are found by name too. */
    const SnTensor *wh = sn_cloud_session_output (sn_loopback_cloud (lb), "wh");
    ck_assert_ptr_nonnull (wh);
    ck_assert_int_eq (wh->shape.dims[3], 4);
    ck_assert_ptr_null (sn_cloud_session_output (sn_loopback_cloud (lb), "no-such-output"));
    sn_loopback_free (lb);
    sn_detector_free (det);
    sn_model_free (m);
  }
}
END_TEST

/* The command-line tool once took the heads by position on its split path
 * and failed on such a model ("got 1x8x8x4 and 1x8x8x3"); now its split
 * detections must be the unsplit ones, box for box. */
static char *
detect_json (const char *model, const char *image, const char *cut)
{
  g_autofree char *bin = g_build_filename (g_getenv ("SPLITNN_BUILD_ROOT"), "tools", "splitnn", NULL);
  const char *argv[] = { bin, "detect", model, image, "--threshold", "0.05", "--json",
    cut ? "--cut" : NULL, cut, "--bits", "32", NULL };
  char *out = NULL;
  int status = -1;
  GError *err = NULL;
  ck_assert_msg (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
          &out, NULL, &status, &err), "%s", err ? err->message : "");
  ck_assert_msg (g_spawn_check_wait_status (status, NULL), "splitnn detect%s%s failed",
      cut ? " --cut " : "", cut ? cut : "");
  return out;
}

START_TEST (test_cli_output_order)
{
  g_autofree char *dir = g_dir_make_tmp ("sn-session-XXXXXX", NULL);
  ck_assert (dir && sn_test_sanitizer_setenv (dir));
  g_autofree char *model = g_build_filename (dir, "wh-first.onnx", NULL);
  size_t len;
  g_autofree guint8 *buf = tiny_detector_bytes (TRUE, &len);
  ck_assert (g_file_set_contents (model, (const char *) buf, len, NULL));
  g_autofree char *image = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data", "person.jpg", NULL);
  g_autofree char *whole = detect_json (model, image, NULL);
  g_autofree char *split = detect_json (model, image, "mid");
  ck_assert_msg (strstr (whole, "\"label\""), "no detections unsplit: %s", whole);
  /* The records differ in their wall-clock time and cut; the detections
   * must not. */
  const char *dw = strstr (whole, "\"detections\""), *ds = strstr (split, "\"detections\"");
  ck_assert (dw && ds);
  ck_assert_str_eq (ds, dw);
  g_unlink (model);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
  ck_assert (system (cmd) == 0);
}
END_TEST

/* ---- Real model, real frames -------------------------------------------------- */

static guint8 *
load_jpeg (const char *name, int *w, int *h)
{
  g_autofree char *path = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data", name, NULL);
  g_autofree guint8 *jpeg = NULL;
  gsize len;
  ck_assert_msg (g_file_get_contents (path, (char **) &jpeg, &len, NULL), "cannot read %s", path);
  tjhandle tj = tjInitDecompress ();
  int sub, cs;
  ck_assert (tjDecompressHeader3 (tj, jpeg, len, w, h, &sub, &cs) == 0);
  guint8 *rgb = g_malloc ((size_t) *w * *h * 3);
  ck_assert (tjDecompress2 (tj, jpeg, len, rgb, *w, 0, *h, TJPF_RGB, 0) == 0);
  tjDestroy (tj);
  return rgb;
}

static SnImage
rgb_image (const guint8 *rgb, int w, int h)
{
  return (SnImage) { .format = SN_PIXEL_RGB, .width = w, .height = h, .planes = { rgb },
    .strides = { w * 3 } };
}

/* The real detector, models/centernet-mobilenetv3-coco.onnx. */
static char *
real_model_path (void)
{
  return g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "models", "centernet-mobilenetv3-coco.onnx",
      NULL);
}

static SnModel *
real_model (void)
{
  g_autofree char *path = real_model_path ();
  GError *err = NULL;
  SnModel *m = sn_model_load (path, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  return m;
}

START_TEST (test_real_model_loopback_equals_unsplit)
{
  SnModel *m = real_model ();
  GError *err = NULL;
  SnDetector *det = sn_detector_new (m, &err);
  SnLoopback *lb = sn_loopback_new (m, NULL, &err);
  ck_assert_msg (det && lb, "%s", err ? err->message : "");
  SnCutSet *cuts = sn_edge_session_cuts (sn_loopback_edge (lb));
  ck_assert_ptr_eq (cuts, sn_cloud_session_cuts (sn_loopback_cloud (lb)));
  /* An early cut, one in the middle and, when there is one, a cut of
   * several tensors (skip connections crossing). */
  int n = sn_cut_set_n_cuts (cuts);
  const SnCut *chosen[3] = { sn_cut_set_get (cuts, 0), sn_cut_set_get (cuts, n / 2), NULL };
  for (int i = 0; i < n && !chosen[2]; i++)
    if (sn_cut_set_get (cuts, i)->n_tensors > 1)
      chosen[2] = sn_cut_set_get (cuts, i);
  static const char *images[] = { "person.jpg", "dog.jpg" };
  for (size_t k = 0; k < G_N_ELEMENTS (images); k++) {
    int w, h;
    g_autofree guint8 *rgb = load_jpeg (images[k], &w, &h);
    SnImage img = rgb_image (rgb, w, h);
    for (int c = 0; c < 3; c++)
      if (chosen[c]) {
        g_autofree char *what = g_strdup_printf ("%s at cut %u '%s'", images[k], chosen[c]->id,
            chosen[c]->name);
        assert_loopback_matches_unsplit (m, chosen[c], lb, det, &img, what);
      }
  }
  SnCloudStats st;
  sn_cloud_session_get_stats (sn_loopback_cloud (lb), &st);
  ck_assert_uint_eq (st.bad_packets, 0);
  ck_assert_uint_eq (st.streams, 1);
  ck_assert_uint_eq (st.lost + st.late + st.restarts, 0);
  sn_loopback_free (lb);
  sn_detector_free (det);
  sn_model_free (m);
}
END_TEST

/* Edge-only: the whole network on the edge, its detections record on the
 * wire.  The cloud must give back exactly what the unsplit detector finds
 * (the oracle: sn_detector_run on the same frame), from a small packet. */
START_TEST (test_real_model_edge_only)
{
  SnModel *m = real_model ();
  GError *err = NULL;
  SnDetector *det = sn_detector_new (m, &err);
  SnLoopback *lb = sn_loopback_new (m, NULL, &err);
  ck_assert_msg (det && lb, "%s", err ? err->message : "");
  sn_edge_session_set_stream (sn_loopback_edge (lb), 42, 0);
  SnOption opt = { .kind = SN_OPTION_EDGE_ONLY };
  static const char *images[] = { "person.jpg", "dog.jpg" };
  for (size_t k = 0; k < G_N_ELEMENTS (images); k++) {
    int w, h;
    g_autofree guint8 *rgb = load_jpeg (images[k], &w, &h);
    SnImage img = rgb_image (rgb, w, h);
    SnDetections want, got;
    sn_detections_init (&want);
    sn_detections_init (&got);
    ck_assert_msg (sn_detector_run (det, &img, &want, NULL, &err), "%s", err ? err->message : "");
    SnEdgePacket pk;
    SnCloudFrame cf;
    ck_assert_msg (sn_loopback_process (lb, &opt, &img, 1000 + k, &got, &pk, &cf, &err), "%s: %s",
        images[k], err ? err->message : "");
    ck_assert_int_gt (want.n, 0);
    /* Boxes cross as float32 in source pixels: no letterbox rounding. */
    assert_same_detections (&got, &want, images[k]);
    ck_assert_msg (pk.len < 2048, "%s: edge-only packet of %zu bytes", images[k], (size_t) pk.len);
    ck_assert (memcmp (pk.data, SN_RESULT_MAGIC, 4) == 0);
    ck_assert_ptr_null (pk.cut);
    ck_assert_ptr_null (cf.cut);
    ck_assert_uint_eq (cf.stream_id, 42);
    ck_assert_uint_eq (cf.seq, k);
    ck_assert_uint_eq (pk.seq, k);
    ck_assert_uint_eq (cf.pts, 1000 + k);
    ck_assert (cf.timings.network_ms == 0 && cf.timings.detect_ms == 0);
    /* The packet is the documented record: parse it independently. */
    SnResultHeader rh;
    SnDetections parsed;
    sn_detections_init (&parsed);
    ck_assert (sn_result_parse (pk.data, pk.len, &rh, &parsed, &err));
    ck_assert_uint_eq (rh.cut_id, SN_CUT_ID_EDGE_ONLY);
    ck_assert_uint_eq (rh.stream_id, 42);
    ck_assert_uint_eq (rh.seq, k);
    ck_assert (sn_result_has_fingerprint (&rh));
    assert_same_detections (&parsed, &want, images[k]);
    fprintf (stderr, "edge-only %s: %zu bytes, %d detections\n", images[k], (size_t) pk.len, got.n);
    sn_detections_clear (&parsed);
    sn_detections_clear (&want);
    sn_detections_clear (&got);
  }
  /* A gap in the numbering is seen as on the split path. */
  sn_edge_session_set_stream (sn_loopback_edge (lb), 42, 5);
  int w, h;
  g_autofree guint8 *rgb = load_jpeg ("dog.jpg", &w, &h);
  SnImage img = rgb_image (rgb, w, h);
  SnDetections got;
  sn_detections_init (&got);
  SnCloudFrame cf;
  ck_assert (sn_loopback_process (lb, &opt, &img, 0, &got, NULL, &cf, &err));
  ck_assert_uint_eq (cf.lost, 3);
  /* The cloud's threshold is a floor on the edge's detections. */
  sn_cloud_session_decode_params (sn_loopback_cloud (lb))->threshold = 1.01f;
  ck_assert (sn_loopback_process (lb, &opt, &img, 0, &got, NULL, &cf, &err));
  ck_assert_int_eq (got.n, 0);
  sn_detections_clear (&got);
  SnCloudStats st;
  sn_cloud_session_get_stats (sn_loopback_cloud (lb), &st);
  ck_assert_uint_eq (st.packets, 4);
  ck_assert_uint_eq (st.bad_packets, 0);
  ck_assert_uint_eq (st.streams, 1);
  ck_assert_uint_eq (st.lost, 3);
  sn_loopback_free (lb);
  sn_detector_free (det);
  sn_model_free (m);
}
END_TEST

/* A cloud refuses an edge-only record of another model (or of none), and
 * a detections record that is not edge-only, and serves on. */
START_TEST (test_edge_only_foreign_record)
{
  SnModel *m = tiny_detector (FALSE);
  GError *err = NULL;
  SnCloudSession *cloud = sn_cloud_session_new (m, NULL, &err);
  ck_assert_msg (cloud != NULL, "%s", err ? err->message : "");
  SnDetections d, got;
  sn_detections_init (&d);
  sn_detections_init (&got);
  SnDetection one = { .class_id = 0, .label = sn_coco_label (0), .score = 0.9f, .x0 = 1, .y0 = 2,
    .x1 = 10, .y1 = 20 };
  sn_detections_add (&d, &one);
  SnResultHeader h;
  sn_result_header_init (&h);
  h.stream_id = 3;
  h.cut_id = SN_CUT_ID_EDGE_ONLY;
  GByteArray *rec = g_byte_array_new ();
  SnCloudFrame f;
  /* Another model's fingerprint. */
  memset (h.fingerprint, 0xAB, 32);
  sn_result_write (&h, &d, rec);
  ck_assert (!sn_cloud_session_process (cloud, rec->data, rec->len, 0, &f, &got, &err));
  ck_assert_msg (g_error_matches (err, SN_ERROR, SN_ERROR_MODEL_MISMATCH), "%s", err->message);
  g_clear_error (&err);
  /* No fingerprint at all. */
  memset (h.fingerprint, 0, 32);
  sn_result_write (&h, &d, rec);
  ck_assert (!sn_cloud_session_process (cloud, rec->data, rec->len, 0, &f, &got, &err));
  ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_MODEL_MISMATCH));
  g_clear_error (&err);
  /* This model's, but not an edge-only record (a cloud's own output). */
  ck_assert (sn_fingerprint_from_hex (sn_model_fingerprint (m), h.fingerprint));
  h.cut_id = 1;
  sn_result_write (&h, &d, rec);
  ck_assert (!sn_cloud_session_process (cloud, rec->data, rec->len, 0, &f, &got, &err));
  ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_CORRUPT_PACKET));
  g_clear_error (&err);
  SnCloudStats st;
  sn_cloud_session_get_stats (cloud, &st);
  ck_assert_uint_eq (st.bad_packets, 3);
  ck_assert_uint_eq (st.streams, 0);       /* bad records touch no stream */
  /* The right record is accepted and given back as sent. */
  h.cut_id = SN_CUT_ID_EDGE_ONLY;
  h.seq = 9;
  sn_result_write (&h, &d, rec);
  ck_assert_msg (sn_cloud_session_process (cloud, rec->data, rec->len, 0, &f, &got, &err), "%s",
      err ? err->message : "");
  ck_assert_int_eq (got.n, 1);
  ck_assert (got.items[0].score == 0.9f && got.items[0].x0 == 1 && got.items[0].y1 == 20);
  ck_assert_uint_eq (f.seq, 9);
  ck_assert (f.new_stream);
  ck_assert_ptr_null (f.cut);
  g_byte_array_unref (rec);
  sn_detections_clear (&d);
  sn_detections_clear (&got);
  sn_cloud_session_free (cloud);
  sn_model_free (m);
}
END_TEST

/* ---- Streams ----------------------------------------------------------------- */

typedef struct {
  SnModel *m;
  SnEdgeSession *edge;
  SnCloudSession *cloud;
  SnOption opt;
  TestFrame frame;
  SnDetections dets;
} Rig;

static void
rig_open (Rig *r)
{
  GError *err = NULL;
  r->m = tiny_detector (TRUE);
  r->edge = sn_edge_session_new (r->m, NULL, &err);
  ck_assert_msg (r->edge != NULL, "%s", err ? err->message : "");
  r->cloud = sn_cloud_session_new (r->m, NULL, &err);
  ck_assert_msg (r->cloud != NULL, "%s", err ? err->message : "");
  sn_option_init_split (&r->opt, sn_cut_set_find (sn_edge_session_cuts (r->edge), "mid"));
  test_frame (&r->frame, 9);
  sn_detections_init (&r->dets);
}

static void
rig_close (Rig *r)
{
  sn_detections_clear (&r->dets);
  sn_cloud_session_free (r->cloud);
  sn_edge_session_free (r->edge);
  sn_model_free (r->m);
}

/* A packet of stream `stream` numbered `seq` (a copy; free with g_bytes_unref). */
static GBytes *
packet_of (Rig *r, guint32 stream, guint64 seq)
{
  GError *err = NULL;
  SnEdgePacket pk;
  sn_edge_session_set_stream (r->edge, stream, seq);
  ck_assert_msg (sn_edge_session_process (r->edge, &r->opt, &r->frame.img, SN_PTS_NONE, &pk, &err),
      "%s", err ? err->message : "");
  ck_assert_uint_eq (pk.stream_id, stream);
  ck_assert_uint_eq (pk.seq, seq);
  ck_assert_uint_eq (sn_edge_session_next_seq (r->edge), seq + 1);
  return g_bytes_new (pk.data, pk.len);
}

static void
send (Rig *r, guint32 stream, guint64 seq, gint64 now_us, SnCloudFrame *f)
{
  GError *err = NULL;
  g_autoptr (GBytes) b = packet_of (r, stream, seq);
  gsize len;
  const guint8 *d = g_bytes_get_data (b, &len);
  ck_assert_msg (sn_cloud_session_process (r->cloud, d, len, now_us, f, &r->dets, &err), "%s",
      err ? err->message : "");
  ck_assert_uint_eq (f->stream_id, stream);
  ck_assert_uint_eq (f->seq, seq);
}

#define S (G_USEC_PER_SEC)

START_TEST (test_stream_cap_evicts_least_recent)
{
  Rig r;
  rig_open (&r);
  sn_cloud_session_set_stream_limits (r.cloud, 2, 0);
  SnCloudFrame f;
  SnCloudStats st;
  send (&r, 1, 0, 0 * S, &f);
  ck_assert (f.new_stream);
  send (&r, 2, 0, 1 * S, &f);
  send (&r, 1, 1, 2 * S, &f);        /* 1 is now the more recent */
  ck_assert (!f.new_stream);
  send (&r, 3, 0, 3 * S, &f);        /* full: 2 goes */
  sn_cloud_session_get_stats (r.cloud, &st);
  ck_assert_uint_eq (st.evicted_cap, 1);
  ck_assert_uint_eq (st.evicted_idle, 0);
  ck_assert_uint_eq (st.streams, 2);
  ck_assert (sn_cloud_session_has_stream (r.cloud, 1));
  ck_assert (!sn_cloud_session_has_stream (r.cloud, 2));
  ck_assert (sn_cloud_session_has_stream (r.cloud, 3));
  /* 2 comes back: a new stream again, and 1 (least recent now) goes. */
  send (&r, 2, 5, 4 * S, &f);
  ck_assert (f.new_stream);
  ck_assert_uint_eq (f.lost, 0);
  sn_cloud_session_get_stats (r.cloud, &st);
  ck_assert_uint_eq (st.evicted_cap, 2);
  ck_assert (!sn_cloud_session_has_stream (r.cloud, 1));
  ck_assert_uint_eq (st.packets, 5);
  rig_close (&r);
}
END_TEST

START_TEST (test_stream_idle_timeout)
{
  Rig r;
  rig_open (&r);
  sn_cloud_session_set_stream_limits (r.cloud, 8, 10 * S);
  SnCloudFrame f;
  SnCloudStats st;
  send (&r, 1, 0, 0, &f);
  send (&r, 2, 0, 5 * S, &f);
  send (&r, 2, 1, 10 * S, &f);       /* 1 idle exactly 10 s: kept */
  ck_assert (sn_cloud_session_has_stream (r.cloud, 1));
  send (&r, 2, 2, 10 * S + 1, &f);   /* 1 idle longer: gone */
  ck_assert (!sn_cloud_session_has_stream (r.cloud, 1));
  sn_cloud_session_get_stats (r.cloud, &st);
  ck_assert_uint_eq (st.evicted_idle, 1);
  ck_assert_uint_eq (st.evicted_cap, 0);
  /* expire() without a packet, at a time of our choosing. */
  ck_assert_uint_eq (sn_cloud_session_expire (r.cloud, 20 * S), 0);
  ck_assert_uint_eq (sn_cloud_session_expire (r.cloud, 20 * S + 2), 1);
  sn_cloud_session_get_stats (r.cloud, &st);
  ck_assert_uint_eq (st.evicted_idle, 2);
  ck_assert_uint_eq (st.streams, 0);
  /* A stream that comes back after its timeout starts over. */
  send (&r, 1, 7, 30 * S, &f);
  ck_assert (f.new_stream);
  ck_assert_uint_eq (f.lost, 0);
  rig_close (&r);
}
END_TEST

START_TEST (test_stream_sequences)
{
  Rig r;
  rig_open (&r);
  SnCloudFrame f;
  SnCloudStats st;
  send (&r, 4, 0, 0, &f);
  ck_assert (f.new_stream && !f.late && !f.restarted);
  ck_assert_uint_eq (f.lost, 0);
  send (&r, 4, 1, 1, &f);
  ck_assert (!f.new_stream && !f.late);
  ck_assert_uint_eq (f.lost, 0);
  send (&r, 4, 4, 2, &f);            /* 2 and 3 lost */
  ck_assert_uint_eq (f.lost, 2);
  send (&r, 4, 3, 3, &f);            /* arrives after 4 */
  ck_assert (f.late);
  ck_assert_uint_eq (f.lost, 0);
  send (&r, 4, 5, 4, &f);            /* 3 being late does not move the stream back */
  ck_assert (!f.late);
  ck_assert_uint_eq (f.lost, 0);
  send (&r, 9, 100, 5, &f);          /* another stream numbers on its own */
  ck_assert (f.new_stream);
  send (&r, 4, 0, 6, &f);            /* the edge started again */
  ck_assert (f.restarted && !f.late);
  send (&r, 4, 1, 7, &f);
  ck_assert (!f.restarted && !f.late);
  ck_assert_uint_eq (f.lost, 0);
  sn_cloud_session_get_stats (r.cloud, &st);
  ck_assert_uint_eq (st.lost, 2);
  ck_assert_uint_eq (st.late, 1);
  ck_assert_uint_eq (st.restarts, 1);
  ck_assert_uint_eq (st.packets, 8);
  rig_close (&r);
}
END_TEST

START_TEST (test_bad_packet_keeps_serving)
{
  Rig r;
  rig_open (&r);
  SnCloudFrame f;
  SnCloudStats st;
  GError *err = NULL;
  send (&r, 1, 0, 0, &f);
  send (&r, 2, 0, 0, &f);
  g_autoptr (GBytes) good = packet_of (&r, 1, 1);
  gsize len;
  const guint8 *d = g_bytes_get_data (good, &len);
  /* Truncated, then one byte of the payload flipped, then garbage. */
  ck_assert (!sn_cloud_session_process (r.cloud, d, len / 2, 1, &f, &r.dets, &err));
  ck_assert_msg (err && err->domain == SN_ERROR, "no error set for a truncated packet");
  g_clear_error (&err);
  g_autofree guint8 *flipped = g_memdup2 (d, len);
  flipped[len - 3] ^= 0x40;
  ck_assert (!sn_cloud_session_process (r.cloud, flipped, len, 1, &f, &r.dets, &err));
  ck_assert (err && err->domain == SN_ERROR);
  g_clear_error (&err);
  static const guint8 junk[] = "not a packet at all";
  ck_assert (!sn_cloud_session_process (r.cloud, junk, sizeof junk, 1, &f, &r.dets, &err));
  ck_assert (err && err->domain == SN_ERROR);
  g_clear_error (&err);
  /* A packet for another model: refused as such. */
  SnModel *other = tiny_detector (FALSE);
  SnEdgeSession *oe = sn_edge_session_new (other, NULL, &err);
  SnOption oo;
  sn_option_init_split (&oo, sn_cut_set_find (sn_edge_session_cuts (oe), "mid"));
  SnEdgePacket opk;
  ck_assert (sn_edge_session_process (oe, &oo, &r.frame.img, SN_PTS_NONE, &opk, &err));
  ck_assert (!sn_cloud_session_process (r.cloud, opk.data, opk.len, 1, &f, &r.dets, &err));
  ck_assert_msg (err && g_error_matches (err, SN_ERROR, SN_ERROR_MODEL_MISMATCH), "%s",
      err ? err->message : "no error");
  g_clear_error (&err);
  sn_edge_session_free (oe);
  sn_model_free (other);
  sn_cloud_session_get_stats (r.cloud, &st);
  ck_assert_uint_eq (st.bad_packets, 4);
  ck_assert_uint_eq (st.streams, 2);
  /* Both streams go on where they were: nothing lost, nothing late. */
  ck_assert (sn_cloud_session_process (r.cloud, d, len, 2, &f, &r.dets, &err));
  ck_assert_uint_eq (f.stream_id, 1);
  ck_assert (!f.new_stream && !f.late);
  ck_assert_uint_eq (f.lost, 0);
  send (&r, 2, 1, 3, &f);
  ck_assert (!f.new_stream && !f.late);
  ck_assert_uint_eq (f.lost, 0);
  sn_cloud_session_get_stats (r.cloud, &st);
  ck_assert_uint_eq (st.packets, 4);
  ck_assert_uint_eq (st.lost + st.late, 0);
  rig_close (&r);
}
END_TEST

START_TEST (test_edge_session_numbering_and_recode)
{
  Rig r;
  rig_open (&r);
  GError *err = NULL;
  SnEdgePacket a, b;
  sn_edge_session_set_stream (r.edge, 7, 40);
  ck_assert (sn_edge_session_process (r.edge, &r.opt, &r.frame.img, 99, &a, &err));
  ck_assert_uint_eq (a.seq, 40);
  ck_assert (a.timings.network_ms >= 0 && a.timings.encode_ms >= 0);
  /* A failing frame still takes its number (the cloud sees the gap). */
  SnOption bad = r.opt;
  bad.cut = NULL;
  ck_assert (!sn_edge_session_process (r.edge, &bad, &r.frame.img, 99, &b, &err));
  ck_assert (err != NULL);
  g_clear_error (&err);
  ck_assert_uint_eq (sn_edge_session_next_seq (r.edge), 42);
  /* Recode needs a frame at that cut; then gives the same frame and
   * number at other coding. */
  ck_assert (!sn_edge_session_recode (r.edge, &r.opt, &b, &err));
  g_clear_error (&err);
  ck_assert (sn_edge_session_process (r.edge, &r.opt, &r.frame.img, 100, &a, &err));
  gsize len8 = a.len;
  SnOption raw = r.opt;
  raw.feature.bits = 32;
  ck_assert (sn_edge_session_recode (r.edge, &raw, &b, &err));
  ck_assert_uint_eq (b.seq, 42);
  ck_assert_uint_gt (b.len, len8);
  /* First-frame sizing gives each cut the bytes a frame at it sends. */
  SnCutSet *cuts = sn_edge_session_cuts (r.edge);
  g_autofree double *bytes = g_new0 (double, sn_cut_set_n_cuts (cuts));
  SnLetterbox lb;
  const SnTensor *x = sn_edge_session_preprocess (r.edge, &r.frame.img, &lb, &err);
  ck_assert (x);
  ck_assert (sn_edge_session_measure_cuts (r.edge, &r.opt.feature, x, &lb, bytes, NULL, &err));
  ck_assert (sn_edge_session_process (r.edge, &r.opt, &r.frame.img, 100, &a, &err));
  ck_assert_double_eq (bytes[r.opt.cut->id], (double) a.len);
  /* A cut of another cut set is refused with an error, not used. */
  SnCutSet *foreign = sn_cut_set_new (r.m, &err);
  SnOption fo;
  sn_option_init_split (&fo, sn_cut_set_find (foreign, "mid"));
  ck_assert (!sn_edge_session_process (r.edge, &fo, &r.frame.img, 1, &b, &err));
  ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_INVALID_ARGUMENT));
  g_clear_error (&err);
  sn_cut_set_free (foreign);
  rig_close (&r);
}
END_TEST

/* ---- Codec temporal through the sessions ------------------------------------ */

#define TEMPORAL_CUT 4          /* expanded_conv_2/add, 1x24x128x128 */
#define TEMPORAL_FRAMES 20      /* report frames 400-419 of vtest.avi */

/* Frames of vtest.avi as RGB copies: every 40th of 0-399 (calibration) and
 * 400 .. 400 + TEMPORAL_FRAMES - 1 (the report frames, the rule of the
 * developers' guide). */
static GPtrArray *
vtest_frames (GPtrArray **report, int *w, int *h)
{
  g_autofree char *path = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data",
      "vtest.avi", NULL);
  GError *err = NULL;
  SnFrames *fr = sn_frames_open (path, &err);
  ck_assert_msg (fr != NULL, "%s", err ? err->message : "");
  GPtrArray *calib = g_ptr_array_new_with_free_func (g_free);
  *report = g_ptr_array_new_with_free_func (g_free);
  SnFrame f;
  while (sn_frames_next (fr, &f, &err) && f.index < 400 + TEMPORAL_FRAMES) {
    *w = f.width;
    *h = f.height;
    guint8 *rgb = g_malloc ((size_t) f.width * f.height * 3);
    for (int y = 0; y < f.height; y++)
      memcpy (rgb + (size_t) y * f.width * 3, f.rgb + (size_t) y * f.stride, (size_t) f.width * 3);
    if (f.index >= 400)
      g_ptr_array_add (*report, rgb);
    else if (f.index % 40 == 0)
      g_ptr_array_add (calib, rgb);
    else
      g_free (rgb);
  }
  ck_assert_msg (err == NULL, "%s", err ? err->message : "");
  sn_frames_close (fr);
  ck_assert_uint_eq ((*report)->len, TEMPORAL_FRAMES);
  return calib;
}

static void
temporal_option (SnOption *opt, const SnCut *cut)
{
  sn_option_init_split (opt, cut);
  opt->feature.codec = SN_CODEC_TEMPORAL;
  opt->feature.range = SN_RANGE_CALIBRATED;
  opt->feature.clip = 0.999;     /* the 99.9 % ranges */
  opt->feature.bits = 5;
  opt->feature.temporal.dead_zone = 1;
  opt->feature.temporal.refresh = 0;     /* intra only at the start and on request */
}

/* The detector with the cut's ranges calibrated on `calib` by the
 * library's calibrator, as 'splitnn calibrate' stores them. */
static SnModel *
calibrated_detector (GPtrArray *calib, int w, int h, const char *dir)
{
  g_autofree char *path = real_model_path ();
  SnModel *m = real_model ();
  GError *err = NULL;
  SnEdgeSession *edge = sn_edge_session_new (m, NULL, &err);
  ck_assert_msg (edge != NULL, "%s", err ? err->message : "");
  SnOption opt;
  sn_option_init_split (&opt, sn_cut_set_get (sn_edge_session_cuts (edge), TEMPORAL_CUT));
  /* Without stored calibration codec temporal is refused, naming the fix. */
  {
    SnOption t;
    SnEdgePacket pk;
    SnImage img = rgb_image (calib->pdata[0], w, h);
    temporal_option (&t, opt.cut);
    ck_assert (!sn_edge_session_process (edge, &t, &img, SN_PTS_NONE, &pk, &err));
    ck_assert_msg (strstr (err->message, "splitnn calibrate"), "%s", err->message);
    g_clear_error (&err);
  }
  SnCalibrator *cal = sn_calibrator_new (0.999);
  for (guint i = 0; i < calib->len; i++) {
    SnImage img = rgb_image (calib->pdata[i], w, h);
    SnEdgePacket pk;
    ck_assert_msg (sn_edge_session_process (edge, &opt, &img, SN_PTS_NONE, &pk, &err), "%s",
        err ? err->message : "");
    ck_assert (sn_calibrator_add (cal, opt.cut->tensors[0], sn_edge_session_cut_tensor (edge, 0),
            &err));
  }
  g_autofree char *json = sn_calibrator_to_json (cal, "vtest.avi every 40th of 0-399");
  sn_calibrator_free (cal);
  sn_edge_session_free (edge);
  sn_model_free (m);
  g_autofree char *out = g_build_filename (dir, "calibrated.onnx", NULL);
  ck_assert_msg (sn_onnx_save_with_metadata (path, out, SN_CALIBRATION_KEY, json, &err), "%s",
      err ? err->message : "");
  m = sn_model_load (out, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  g_unlink (out);
  return m;
}

/* Edge packet -> cloud; returns the cloud's verdict, error code in *code. */
static gboolean
deliver (SnCloudSession *cloud, const SnEdgePacket *pk, gint64 now_us, SnCloudFrame *f,
    SnDetections *dets, int *code)
{
  GError *err = NULL;
  gboolean ok = sn_cloud_session_process (cloud, pk->data, pk->len, now_us, f, dets, &err);
  *code = err ? err->code : -1;
  if (err && err->code != SN_ERROR_NO_REFERENCE)
    ck_abort_msg ("cloud: %s", err->message);
  g_clear_error (&err);
  return ok;
}

START_TEST (test_temporal_loopback)
{
  GPtrArray *report;
  int w = 0, h = 0;
  g_autoptr (GPtrArray) calib = vtest_frames (&report, &w, &h);
  g_autofree char *dir = g_dir_make_tmp ("sn-temporal-XXXXXX", NULL);
  SnModel *m = calibrated_detector (calib, w, h, dir);
  g_rmdir (dir);
  GError *err = NULL;
  SnDetector *det = sn_detector_new (m, &err);
  SnLoopback *lb = sn_loopback_new (m, NULL, &err);
  ck_assert_msg (det && lb, "%s", err ? err->message : "");
  SnEdgeSession *edge = sn_loopback_edge (lb);
  SnCloudSession *cloud = sn_loopback_cloud (lb);
  /* The fidelity metric's candidate floor on both sides. */
  sn_detector_decode_params (det)->threshold = SN_EVAL_PRED_MIN_SCORE;
  sn_cloud_session_decode_params (cloud)->threshold = SN_EVAL_PRED_MIN_SCORE;
  const SnCut *cut = sn_cut_set_get (sn_edge_session_cuts (edge), TEMPORAL_CUT);
  SnOption opt, lossless;
  temporal_option (&opt, cut);
  sn_option_init_split (&lossless, cut);        /* 8-bit lossless, per-frame ranges */


  SnEval *fid_t = sn_eval_new_fidelity ();
  SnDetections ref, got;
  sn_detections_init (&ref);
  sn_detections_init (&got);
  double bytes_t = 0, bytes_l = 0;
  size_t first_t = 0;
  SnCloudFrame f;
  int code;
  for (int i = 0; i < TEMPORAL_FRAMES; i++) {
    SnImage img = rgb_image (report->pdata[i], w, h);
    ck_assert (sn_detector_run (det, &img, &ref, NULL, &err));
    SnEdgePacket pk;
    ck_assert_msg (sn_edge_session_process (edge, &opt, &img, SN_PTS_NONE, &pk, &err), "%s",
        err ? err->message : "");
    ck_assert_int_eq (pk.intra, i == 0);
    ck_assert (deliver (cloud, &pk, SN_SESSION_NOW, &f, &got, &code));
    sn_eval_add_frame (fid_t, &got, &ref);
    size_t tbytes = pk.len;
    /* The same frame, 8-bit lossless: the size to beat, and its fidelity. */
    ck_assert (sn_edge_session_recode (edge, &lossless, &pk, &err));
    if (i == 0)
      first_t = tbytes;
    else {
      bytes_t += tbytes;
      bytes_l += pk.len;
    }
  }
  double ap_t = sn_eval_ap50 (fid_t);
  bytes_t /= TEMPORAL_FRAMES - 1;
  bytes_l /= TEMPORAL_FRAMES - 1;
  fprintf (stderr, "temporal 5-bit dead zone 1: first packet %zu bytes, then %.0f bytes/frame; "
      "8-bit lossless %.0f bytes/frame (%.1fx); fidelity_ap50 %.2f on %d frames\n", first_t,
      bytes_t, bytes_l, bytes_l / bytes_t, ap_t, TEMPORAL_FRAMES);
  ck_assert_msg (ap_t >= 90, "fidelity_ap50 %.2f", ap_t);
  ck_assert_msg (bytes_t * 4 < bytes_l, "temporal %.0f bytes/frame, lossless %.0f", bytes_t, bytes_l);
  SnCloudStats st;
  sn_cloud_session_get_stats (cloud, &st);
  ck_assert_uint_eq (st.refused, 0);
  ck_assert_uint_eq (st.packets, TEMPORAL_FRAMES);

  /* A packet lost in the middle: the next inter frames are refused (never
   * decoded against the stale reference) and counted, until the edge is
   * asked for an intra frame; then decoding goes on. */
  SnImage img0 = rgb_image (report->pdata[0], w, h), img1 = rgb_image (report->pdata[1], w, h);
  SnEdgePacket pk;
  ck_assert (sn_edge_session_process (edge, &opt, &img0, SN_PTS_NONE, &pk, &err));   /* lost */
  ck_assert (!pk.intra);
  for (int k = 0; k < 3; k++) {
    ck_assert (sn_edge_session_process (edge, &opt, k % 2 ? &img0 : &img1, SN_PTS_NONE, &pk, &err));
    ck_assert (!pk.intra);
    ck_assert (!deliver (cloud, &pk, SN_SESSION_NOW, &f, &got, &code));
    ck_assert_int_eq (code, SN_ERROR_NO_REFERENCE);
    ck_assert_uint_eq (f.lost, k == 0 ? 1 : 0);
    ck_assert_uint_eq (f.seq, pk.seq);
  }
  sn_cloud_session_get_stats (cloud, &st);
  ck_assert_uint_eq (st.refused, 3);
  ck_assert_uint_eq (st.lost, 1);
  ck_assert_uint_eq (st.bad_packets, 0);
  sn_edge_session_request_refresh (edge);
  for (int k = 0; k < 3; k++) {
    SnImage img = rgb_image (report->pdata[2 + k], w, h);
    ck_assert (sn_edge_session_process (edge, &opt, &img, SN_PTS_NONE, &pk, &err));
    ck_assert_int_eq (pk.intra, k == 0);
    ck_assert (deliver (cloud, &pk, SN_SESSION_NOW, &f, &got, &code));
    /* Recovered: the detections are the in-order run's quality again. */
    ck_assert (sn_detector_run (det, &img, &ref, NULL, &err));
    SnEval *e = sn_eval_new_fidelity ();
    sn_eval_add_frame (e, &got, &ref);
    ck_assert_msg (sn_eval_ap50 (e) >= 80, "frame %d after the refresh: %.1f", k, sn_eval_ap50 (e));
    sn_eval_free (e);
  }
  sn_cloud_session_get_stats (cloud, &st);
  ck_assert_uint_eq (st.refused, 3);

  /* An edge frame that fails makes a gap the cloud sees: the edge sends an
   * intra frame next by itself. */
  {
    SnImage bad = { .format = SN_PIXEL_RGB, .width = 0, .height = 0 };
    ck_assert (!sn_edge_session_process (edge, &opt, &bad, SN_PTS_NONE, &pk, &err));
    g_clear_error (&err);
    ck_assert (sn_edge_session_process (edge, &opt, &img0, SN_PTS_NONE, &pk, &err));
    ck_assert (pk.intra);
    ck_assert (deliver (cloud, &pk, SN_SESSION_NOW, &f, &got, &code));
    ck_assert_uint_eq (f.lost, 1);
  }

  /* Eviction drops the stream's reference: with room for one stream, a
   * second edge's stream evicts the first, whose next inter frame is then
   * refused as a new stream's. */
  sn_cloud_session_set_stream_limits (cloud, 1, 0);
  SnEdgeSession *edge2 = sn_edge_session_new (m, sn_edge_session_cuts (edge), &err);
  ck_assert_msg (edge2 != NULL, "%s", err ? err->message : "");
  sn_edge_session_set_stream (edge2, 7, 0);
  ck_assert (sn_edge_session_process (edge2, &opt, &img0, SN_PTS_NONE, &pk, &err));
  ck_assert (pk.intra);
  ck_assert (deliver (cloud, &pk, SN_SESSION_NOW, &f, &got, &code));
  ck_assert (f.new_stream);
  sn_cloud_session_get_stats (cloud, &st);
  ck_assert_uint_eq (st.evicted_cap, 1);
  ck_assert (!sn_cloud_session_has_stream (cloud, 0));
  ck_assert (sn_edge_session_process (edge, &opt, &img1, SN_PTS_NONE, &pk, &err));
  ck_assert (!pk.intra);
  ck_assert (!deliver (cloud, &pk, SN_SESSION_NOW, &f, &got, &code));
  ck_assert_int_eq (code, SN_ERROR_NO_REFERENCE);
  ck_assert (f.new_stream);
  sn_cloud_session_get_stats (cloud, &st);
  ck_assert_uint_eq (st.refused, 4);
  ck_assert_uint_eq (st.evicted_cap, 2);
  sn_edge_session_free (edge2);

  sn_eval_free (fid_t);
  sn_detections_clear (&ref);
  sn_detections_clear (&got);
  sn_loopback_free (lb);
  sn_detector_free (det);
  sn_model_free (m);
  g_ptr_array_unref (report);
}
END_TEST


static Suite *
session_suite (void)
{
  Suite *s = suite_create ("session");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 600);
  tcase_add_test (tc, test_output_order_split_equals_unsplit);
  tcase_add_test (tc, test_stream_cap_evicts_least_recent);
  tcase_add_test (tc, test_stream_idle_timeout);
  tcase_add_test (tc, test_stream_sequences);
  tcase_add_test (tc, test_bad_packet_keeps_serving);
  tcase_add_test (tc, test_edge_session_numbering_and_recode);
  tcase_add_test (tc, test_real_model_loopback_equals_unsplit);
  tcase_add_test (tc, test_cli_output_order);
  tcase_add_test (tc, test_real_model_edge_only);
  tcase_add_test (tc, test_edge_only_foreign_record);
  tcase_add_test (tc, test_temporal_loopback);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (session_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
