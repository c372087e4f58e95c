/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Stored calibration (metadata splitnn.calibration): the calibrator's
 * ranges survive save and reload and equal ranges worked out here
 * independently; every malformed entry is refused at load with the key,
 * the tensor and the problem; the encoder's calibrated ranges clamp.
 * Stored fidelity (splitnn.fidelity): looked up by the documented rules,
 * and every malformed table refused at load with the key and the problem. */
#include <check.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "sn-test-onnx.h"

#define C 4
#define H 16

/* x[1,3,16,16] - Conv(W[4,3,1,1]) - c - Relu - r - Conv(W2[2,4,1,1]) - y */
static guint8 *
model_bytes (const char *calibration, const char *fidelity, size_t *len)
{
  static const int64_t x_dims[] = { 1, 3, H, H }, y_dims[] = { 1, 2, H, H };
  static const int64_t w_dims[] = { C, 3, 1, 1 }, w2_dims[] = { 2, C, 1, 1 };
  static const float w[C * 3] = { 1, -1, 0.5f, 2, 0, -1, -0.5f, 0.25f, 1, 3, 1, -2 };
  static const float w2[2 * C] = { 1, 1, -1, 0.5f, 0.5f, -2, 1, 1 };
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, x_dims);
  sn_test_graph_output (g, "y", 4, y_dims);
  sn_test_graph_initializer (g, "W", 4, w_dims, w, G_N_ELEMENTS (w));
  sn_test_graph_initializer (g, "W2", 4, w2_dims, w2, G_N_ELEMENTS (w2));
  sn_test_graph_node (g, "Conv", "conv", (const char *[]) { "x", "W", NULL }, (const char *[]) { "c", NULL });
  sn_test_graph_node (g, "Relu", "relu", (const char *[]) { "c", NULL }, (const char *[]) { "r", NULL });
  sn_test_graph_node (g, "Conv", "conv2", (const char *[]) { "r", "W2", NULL }, (const char *[]) { "y", NULL });
  /* Declared, so that c has a cut of its own (enumeration keeps only the
   * last tensor of a Conv-Relu plateau). */
  sn_test_graph_metadata (g, "splitnn.cuts", "at_c=c;at_r=r");
  if (calibration)
    sn_test_graph_metadata (g, SN_CALIBRATION_KEY, calibration);
  if (fidelity)
    sn_test_graph_metadata (g, SN_FIDELITY_KEY, fidelity);
  guint8 *buf = sn_test_graph_serialize (g, len);
  sn_test_graph_free (g);
  return buf;
}

static SnModel *
load_with (const char *calibration, const char *fidelity, GError **error)
{
  size_t len;
  g_autofree guint8 *buf = model_bytes (calibration, fidelity, &len);
  return sn_model_load_from_data (buf, len, NULL, error);
}

static SnTensor *
random_input (guint32 seed)
{
  SnShape s = { 4, { 1, 3, H, H } };
  SnTensor *t = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  GRand *r = g_rand_new_with_seed (seed);
  for (int64_t i = 0; i < sn_tensor_numel (t); i++)
    ((float *) t->data)[i] = (float) g_rand_double_range (r, -3, 3);
  g_rand_free (r);
  return t;
}

START_TEST (test_roundtrip)
{
  enum { FRAMES = 5 };
  const double clip = 0.9;
  GError *err = NULL;
  g_autofree char *dir = g_dir_make_tmp ("sn-calib-XXXXXX", NULL);
  g_autofree char *in = g_build_filename (dir, "m.onnx", NULL);
  g_autofree char *out = g_build_filename (dir, "cal.onnx", NULL);
  size_t len;
  g_autofree guint8 *buf = model_bytes (NULL, NULL, &len);
  ck_assert (g_file_set_contents (in, (char *) buf, len, NULL));
  SnModel *m = sn_model_load (in, &err);
  ck_assert_ptr_nonnull (m);
  SnSegment *seg = sn_segment_new (m, NULL, 0, (const char *[]) { "c", "r" }, 2, &err);
  ck_assert_ptr_nonnull (seg);
  SnCalibrator *cal = sn_calibrator_new (clip);
  /* The oracle: min/max by a plain loop over NCHW; the clipped range of a
   * frame is what the per-frame quantizer picks with this clip (offset and
   * offset + 255 scale at 8 bits), averaged over frames. */
  float mn[2][C], mx[2][C];
  double clo[2][C] = { { 0 } }, chi[2][C] = { { 0 } };
  for (int t = 0; t < 2; t++)
    for (int k = 0; k < C; k++) {
      mn[t][k] = INFINITY;
      mx[t][k] = -INFINITY;
    }
  static SnQuantParams qp;
  guint8 *packed = g_malloc (C * H * H);
  for (int f = 0; f < FRAMES; f++) {
    SnTensor *x = random_input (100 + f);
    ck_assert (sn_segment_run (seg, (const SnTensor *[]) { x }, &err));
    for (int t = 0; t < 2; t++) {
      const SnTensor *v = sn_segment_output (seg, t);
      ck_assert (sn_calibrator_add (cal, t ? "r" : "c", v, &err));
      const float *d = v->data;
      for (int k = 0; k < C; k++)
        for (int i = 0; i < H * H; i++) {
          mn[t][k] = fminf (mn[t][k], d[k * H * H + i]);
          mx[t][k] = fmaxf (mx[t][k], d[k * H * H + i]);
        }
      SnQuantConfig qc = { 8, TRUE, clip };
      ck_assert (sn_quantize (v, &qc, NULL, &qp, packed, &err));
      for (int k = 0; k < C; k++) {
        clo[t][k] += qp.offset[k];
        chi[t][k] += qp.offset[k] + 255.0 * qp.scale[k];
      }
    }
    sn_tensor_free (x);
  }
  g_free (packed);
  g_autofree char *json = sn_calibrator_to_json (cal, "test");
  sn_calibrator_free (cal);
  ck_assert (sn_onnx_save_with_metadata (in, out, SN_CALIBRATION_KEY, json, &err));
  /* Never over the model it reads. */
  ck_assert (!sn_onnx_save_with_metadata (in, in, SN_CALIBRATION_KEY, json, &err));
  ck_assert (strstr (err->message, "will not overwrite"));
  g_clear_error (&err);

  SnModel *m2 = sn_model_load (out, &err);
  ck_assert_msg (m2 != NULL, "%s", err ? err->message : "");
  ck_assert_int_eq (sn_model_n_inputs (m2), 1);
  ck_assert_str_ne (sn_model_fingerprint (m), sn_model_fingerprint (m2));
  SnCalibration got;
  ck_assert (!sn_model_calibration (m, "c", &got));
  ck_assert (!sn_model_calibration (m2, "y", &got));
  for (int t = 0; t < 2; t++) {
    ck_assert (sn_model_calibration (m2, t ? "r" : "c", &got));
    ck_assert_int_eq (got.channels, C);
    ck_assert_int_eq (got.frames, FRAMES);
    ck_assert_double_eq_tol (got.clip, clip, 1e-12);
    for (int k = 0; k < C; k++) {
      ck_assert_float_eq (got.min[k], mn[t][k]);
      ck_assert_float_eq (got.max[k], mx[t][k]);
      double tol = 1e-5 * (fabs (chi[t][k] / FRAMES) + 1);
      ck_assert_double_eq_tol (got.clip_min[k], clo[t][k] / FRAMES, tol);
      ck_assert_double_eq_tol (got.clip_max[k], chi[t][k] / FRAMES, tol);
      /* Clipping at 0.9 keeps less than the full range, at least on top. */
      ck_assert (got.clip_max[k] < got.max[k]);
    }
  }
  /* r is post-ReLU: its floor is 0 in every channel the inputs reach. */
  sn_model_calibration (m2, "r", &got);
  for (int k = 0; k < C; k++)
    ck_assert_float_eq (got.min[k], 0);
  sn_segment_free (seg);
  sn_model_free (m);
  sn_model_free (m2);
  g_unlink (in);
  g_unlink (out);
  g_rmdir (dir);
}
END_TEST

static const struct {
  const char *json, *expect[3];
} bad[] = {
  { "{\"version\": 1, ", { "malformed JSON" } },
  { "[1, 2]", { "not a JSON object" } },
  { "{\"version\": 2, \"frames\": 1, \"tensors\": {}}", { "unknown version 2" } },
  { "{\"version\": 1, \"frames\": 1}", { "'tensors'" } },
  { "{\"version\": 1, \"frames\": 1, \"tensors\": {\"nope\": {}}}",
    { "tensor 'nope'", "no tensor of that name" } },
  { "{\"version\": 1, \"frames\": 1, \"tensors\": {\"c\": {\"min\": [0, 0, 0], \"max\": [1, 1, 1],"
    " \"clip_min\": [0, 0, 0], \"clip_max\": [1, 1, 1]}}}",
    { "tensor 'c'", "'min' has 3 values but the tensor has 4 channels" } },
  { "{\"version\": 1, \"frames\": 1, \"tensors\": {\"r\": {\"min\": [0, 2, 0, 0], \"max\": [1, 1, 1, 1],"
    " \"clip_min\": [0, 0, 0, 0], \"clip_max\": [1, 1, 1, 1]}}}",
    { "tensor 'r'", "channel 1: min 2 > max 1" } },
  { "{\"version\": 1, \"frames\": 1, \"tensors\": {\"r\": {\"min\": [0, 0, 0, 0], \"max\": [1, 1, 1, 1],"
    " \"clip_min\": [0, 0, 0, 0.5], \"clip_max\": [1, 1, 1, 0.25]}}}",
    { "tensor 'r'", "channel 3: clip_min 0.5 > clip_max 0.25" } },
  { "{\"version\": 1, \"frames\": 1, \"tensors\": {\"c\": {\"min\": [0, 0, -1e300, 0], \"max\": [1, 1, 1, 1],"
    " \"clip_min\": [0, 0, 0, 0], \"clip_max\": [1, 1, 1, 1]}}}",
    { "tensor 'c'", "'min'[2] is not finite" } },
  { "{\"version\": 1, \"frames\": 1, \"tensors\": {\"c\": {\"min\": [0, 0, 0, 0], \"max\": [1, \"a\", 1, 1],"
    " \"clip_min\": [0, 0, 0, 0], \"clip_max\": [1, 1, 1, 1]}}}",
    { "tensor 'c'", "'max'[1] is not a number" } },
  { "{\"version\": 1, \"frames\": 1, \"tensors\": {\"c\": {\"min\": [0, 0, 0, 0], \"max\": [1, 1, 1, 1],"
    " \"clip_min\": [0, 0, 0, 0]}}}",
    { "tensor 'c'", "'clip_max' is missing" } },
  { "{\"version\": 1, \"frames\": 0, \"tensors\": {}}", { "'frames'" } },
};

/* The model with metadata key = json loads (the engine does not read the
 * key), but its cut set, where the split layer parses the key, is refused,
 * naming the model, the key and each expected part; the accessors then
 * find nothing stored. */
static void
check_refused (const char *key, const char *json, const char *const *expect, int n_expect)
{
  GError *err = NULL;
  gboolean calibration = strcmp (key, SN_CALIBRATION_KEY) == 0;
  SnModel *m = load_with (calibration ? json : NULL, calibration ? NULL : json, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  SnCutSet *set = sn_cut_set_new (m, &err);
  ck_assert_ptr_null (set);
  ck_assert_ptr_nonnull (err);
  ck_assert_msg (g_str_has_prefix (err->message, "<memory>: "), "%s", err->message);
  SnCalibration cal;
  ck_assert (!sn_model_calibration (m, "c", &cal));
  int n;
  ck_assert_ptr_null (sn_model_fidelity_rows (m, &n));
  sn_model_free (m);
  ck_assert_msg (strstr (err->message, key), "%s", err->message);
  ck_assert_int_eq (err->code, SN_ERROR_INVALID_MODEL);
  for (int k = 0; k < n_expect && expect[k]; k++)
    ck_assert_msg (strstr (err->message, expect[k]), "'%s' lacks '%s'", err->message, expect[k]);
  g_error_free (err);
}

START_TEST (test_metadata_errors)
{
  check_refused (SN_CALIBRATION_KEY, bad[_i].json, bad[_i].expect, G_N_ELEMENTS (bad[_i].expect));
}
END_TEST

static const SnCut *
cut_of (const SnCutSet *set, const char *tensor)
{
  for (int i = 0; i < sn_cut_set_n_cuts (set); i++) {
    const SnCut *c = sn_cut_set_get (set, i);
    if (c->n_tensors == 1 && strcmp (c->tensors[0], tensor) == 0)
      return c;
  }
  ck_abort_msg ("no cut sends '%s'", tensor);
  return NULL;
}

/* Calibration of c: channel k in [-(k+1), k+1], clipped to half of that. */
static const char *calibrated_c =
    "{\"version\": 1, \"frames\": 3, \"source\": \"hand\", \"clip\": 0.99, \"tensors\": {\"c\": {"
    "\"min\": [-1, -2, -3, -4], \"max\": [1, 2, 3, 4],"
    "\"clip_min\": [-0.5, -1, -1.5, -2], \"clip_max\": [0.5, 1, 1.5, 2]}}}";

/* Encodes x through cut with cfg and returns the cloud's dequantized tensor. */
static const float *
roundtrip (SnFeatureEncoder *enc, SnFeatureDecoder *dec, const SnFeatureConfig *cfg,
    const SnCut *cut, const SnTensor *x)
{
  g_autoptr (GByteArray) pkt = g_byte_array_new ();
  GError *err = NULL;
  ck_assert_msg (sn_feature_encode (enc, cfg, cut, (const SnTensor *[]) { x }, 0, 0, SN_PTS_NONE,
      NULL, pkt, &err), "%s", err ? err->message : "");
  SnPacket p;
  const SnCut *dcut;
  SnTensor *const *deq;
  ck_assert (sn_feature_decode (dec, pkt->data, pkt->len, &p, &dcut, &deq, &err));
  ck_assert_ptr_eq (dcut, cut);
  return deq[0]->data;
}

START_TEST (test_encoder_clamps)
{
  GError *err = NULL;
  SnModel *m = load_with (calibrated_c, NULL, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  SnCutSet *set = sn_cut_set_new (m, &err);
  ck_assert_ptr_nonnull (set);
  const SnCut *cut = cut_of (set, "c");
  ck_assert (sn_feature_check_calibration (m, cut, &err));
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &cut->shapes[0]);
  float *v = x->data;
  GRand *r = g_rand_new_with_seed (7);
  for (int k = 0; k < C; k++)
    for (int i = 0; i < H * H; i++)
      v[k * H * H + i] = (float) g_rand_double_range (r, -0.45 * (k + 1), 0.45 * (k + 1));
  g_rand_free (r);
  v[5] = 9;                             /* channel 0, far above */
  v[3 * H * H + 7] = -20;               /* channel 3, far below */
  v[1 * H * H + 9] = 1.8f;              /* channel 1: inside min/max, outside the clipped range */
  SnFeatureEncoder *enc = sn_feature_encoder_new (m);
  SnFeatureDecoder *dec = sn_feature_decoder_new (m, set);
  SnFeatureConfig cfg;
  sn_feature_config_init (&cfg);
  ck_assert_int_eq (cfg.range, SN_RANGE_FRAME);
  cfg.bits = 8;

  /* Per frame the outliers set the range and come back. */
  const float *y = roundtrip (enc, dec, &cfg, cut, x);
  ck_assert_double_eq_tol (y[5], 9, 29.0 / 255);
  ck_assert_double_eq_tol (y[3 * H * H + 7], -20, 29.0 / 255);

  /* Per tensor: one range, [-4, 4]. */
  cfg.range = SN_RANGE_CALIBRATED;
  y = roundtrip (enc, dec, &cfg, cut, x);
  double step = 8.0 / 255;
  ck_assert_double_eq_tol (y[5], 4, 1e-5);
  ck_assert_double_eq_tol (y[3 * H * H + 7], -4, 1e-5);
  for (int i = 0; i < C * H * H; i++)
    if (i != 5 && i != 3 * H * H + 7)
      ck_assert_double_le (fabs (y[i] - v[i]), step / 2 + 1e-5);

  /* Per channel: channel k in [-(k+1), k+1]. */
  cfg.per_channel = TRUE;
  y = roundtrip (enc, dec, &cfg, cut, x);
  ck_assert_double_eq_tol (y[5], 1, 1e-5);
  ck_assert_double_eq_tol (y[3 * H * H + 7], -4, 1e-5);
  for (int k = 0; k < C; k++)
    for (int i = 0; i < H * H; i++) {
      int at = k * H * H + i;
      if (at != 5 && at != 3 * H * H + 7)
        ck_assert_double_le (fabs (y[at] - v[at]), (2.0 * (k + 1) / 255) / 2 + 1e-5);
    }

  /* clip < 1: the clipped ranges; 1.8 in channel 1 clamps to 1. */
  cfg.clip = 0.99;
  y = roundtrip (enc, dec, &cfg, cut, x);
  ck_assert_double_eq_tol (y[1 * H * H + 9], 1, 1e-5);
  ck_assert_double_eq_tol (y[5], 0.5, 1e-5);
  ck_assert_double_le (fabs (y[2 * H * H + 3] - v[2 * H * H + 3]), (3.0 / 255) / 2 + 1e-5);

  /* Trained paths aside, 16 bits carries floats whatever the range mode. */
  cfg.bits = 16;
  y = roundtrip (enc, dec, &cfg, cut, x);
  ck_assert_double_eq_tol (y[5], 9, 1e-2);

  /* The cut that sends r has no calibration: refused, naming the tensor. */
  const SnCut *other = cut_of (set, "r");
  cfg.bits = 8;
  g_autoptr (GByteArray) pkt = g_byte_array_new ();
  SnTensor *xr = sn_tensor_new (SN_DTYPE_FLOAT32, &other->shapes[0]);
  ck_assert (!sn_feature_encode (enc, &cfg, other, (const SnTensor *[]) { xr }, 0, 0, SN_PTS_NONE,
      NULL, pkt, &err));
  ck_assert_msg (strstr (err->message, "tensor 'r'") && strstr (err->message, "no stored calibration"),
      "%s", err->message);
  g_clear_error (&err);
  ck_assert (!sn_feature_check_calibration (m, other, &err));
  ck_assert (strstr (err->message, "tensor 'r'"));
  g_clear_error (&err);
  sn_tensor_free (xr);
  sn_tensor_free (x);
  sn_feature_encoder_free (enc);
  sn_feature_decoder_free (dec);
  sn_cut_set_free (set);
  sn_model_free (m);
}
END_TEST

/* ---- Stored fidelity ---------------------------------------------------------- */

/* Cut 0 is the declared at_c, cut 1 at_r (checked below). */
static const char *fidelity_table =
    "{\"version\": 1, \"frames\": 3, \"source\": \"hand\", \"rows\": ["
    "{\"cut\": 0, \"cut_name\": \"at_c\", \"bits\": 8, \"codec\": \"lossless\", \"range\": \"frame\","
    " \"per_channel\": false, \"clip\": 1.0, \"map50\": 97.5},"
    "{\"cut\": 0, \"bits\": 8, \"codec\": \"lossy\", \"map50\": 80},"
    "{\"cut\": 1, \"bits\": 4, \"codec\": \"none\", \"per_channel\": true, \"clip\": 0.999,"
    " \"map50\": 60.25},"
    "{\"cut\": 1, \"bits\": 16, \"codec\": \"lossless\", \"range\": \"calibrated\","
    " \"per_channel\": true, \"clip\": 0.5, \"map50\": 99}]}";

static double
lookup (const SnModel *m, guint32 cut, int bits, SnCodec codec, SnRangeMode range,
    gboolean per_channel, double clip)
{
  SnFeatureConfig cfg;
  sn_feature_config_init (&cfg);
  cfg.bits = bits;
  cfg.codec = codec;
  cfg.range = range;
  cfg.per_channel = per_channel;
  cfg.clip = clip;
  return sn_model_fidelity (m, cut, &cfg);
}

START_TEST (test_fidelity_lookup)
{
  GError *err = NULL;
  /* Next to a calibration: each key is parsed on its own. */
  SnModel *m = load_with (calibrated_c, fidelity_table, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  SnCutSet *set = sn_cut_set_new (m, &err);
  ck_assert_int_eq (sn_cut_set_find (set, "at_c")->id, 0);
  ck_assert_int_eq (sn_cut_set_find (set, "at_r")->id, 1);
  SnCalibration cal;
  ck_assert (sn_model_calibration (m, "c", &cal));

  int n;
  const SnFidelityRow *rows = sn_model_fidelity_rows (m, &n);
  ck_assert_int_eq (n, 4);
  ck_assert_str_eq (rows[0].cut_name, "at_c");
  ck_assert_ptr_null (rows[1].cut_name);
  /* Defaults of the optional fields: the encoder's (sn_feature_config_init). */
  ck_assert_int_eq (rows[1].range, SN_RANGE_FRAME);
  ck_assert (!rows[1].per_channel);
  ck_assert (rows[1].clip == 1.0);
  ck_assert_int_eq (rows[1].codec, SN_CODEC_LOSSY);
  ck_assert_int_eq (rows[2].bits, 4);
  ck_assert (rows[2].per_channel);

  const SnRangeMode F = SN_RANGE_FRAME, K = SN_RANGE_CALIBRATED;
  ck_assert_double_eq (lookup (m, 0, 8, SN_CODEC_LOSSLESS, F, FALSE, 1), 97.5);
  /* none stands for lossless and the other way round... */
  ck_assert_double_eq (lookup (m, 0, 8, SN_CODEC_NONE, F, FALSE, 1), 97.5);
  ck_assert_double_eq (lookup (m, 1, 4, SN_CODEC_LOSSLESS, F, TRUE, 0.999), 60.25);
  ck_assert_double_eq (lookup (m, 1, 4, SN_CODEC_NONE, F, TRUE, 0.999), 60.25);
  /* ...but not for lossy or auto. */
  ck_assert_double_eq (lookup (m, 0, 8, SN_CODEC_LOSSY, F, FALSE, 1), 80);
  ck_assert_double_eq (lookup (m, 0, 8, SN_CODEC_AUTO, F, FALSE, 1), -1);
  ck_assert_double_eq (lookup (m, 1, 4, SN_CODEC_LOSSY, F, TRUE, 0.999), -1);
  /* At 2-8 bits ranges, per_channel and clip are part of the setting. */
  ck_assert_double_eq (lookup (m, 0, 8, SN_CODEC_LOSSLESS, F, TRUE, 1), -1);
  ck_assert_double_eq (lookup (m, 0, 8, SN_CODEC_LOSSLESS, F, FALSE, 0.999), -1);
  ck_assert_double_eq (lookup (m, 0, 8, SN_CODEC_LOSSLESS, K, FALSE, 1), -1);
  ck_assert_double_eq (lookup (m, 1, 4, SN_CODEC_NONE, F, FALSE, 0.999), -1);
  /* Other bits or cuts: nothing stored. */
  ck_assert_double_eq (lookup (m, 0, 4, SN_CODEC_LOSSLESS, F, FALSE, 1), -1);
  ck_assert_double_eq (lookup (m, 1, 8, SN_CODEC_LOSSLESS, F, FALSE, 1), -1);
  ck_assert_double_eq (lookup (m, 2, 8, SN_CODEC_LOSSLESS, F, FALSE, 1), -1);
  /* At 16 bits floats travel: range, per_channel and clip do not matter. */
  ck_assert_double_eq (lookup (m, 1, 16, SN_CODEC_LOSSLESS, F, FALSE, 1), 99);
  ck_assert_double_eq (lookup (m, 1, 16, SN_CODEC_NONE, K, TRUE, 0.9), 99);
  ck_assert_double_eq (lookup (m, 1, 32, SN_CODEC_LOSSLESS, K, TRUE, 0.5), -1);
  sn_cut_set_free (set);
  sn_model_free (m);

  /* Without the key: no rows, every lookup unknown. */
  m = load_with (NULL, NULL, &err);
  ck_assert_ptr_null (sn_model_fidelity_rows (m, &n));
  ck_assert_int_eq (n, 0);
  ck_assert_double_eq (lookup (m, 0, 8, SN_CODEC_LOSSLESS, F, FALSE, 1), -1);
  sn_model_free (m);
}
END_TEST

/* What sn_fidelity_to_json writes, the loader reads back unchanged. */
START_TEST (test_fidelity_json_roundtrip)
{
  const SnFidelityRow rows[] = {
    { 0, "at_c", 2, SN_CODEC_AUTO, SN_RANGE_CALIBRATED, TRUE, 0.75, 12.345678901234, 23.5, TRUE },
    { 1, NULL, 32, SN_CODEC_NONE, SN_RANGE_FRAME, FALSE, 1, 100, 0, FALSE },   /* an older file: no ap50 */
  };
  g_autofree char *json = sn_fidelity_to_json (rows, 2, 7, "clip.avi");
  GError *err = NULL;
  SnModel *m = load_with (NULL, json, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  int n;
  const SnFidelityRow *got = sn_model_fidelity_rows (m, &n);
  ck_assert_int_eq (n, 2);
  for (int i = 0; i < 2; i++) {
    ck_assert_uint_eq (got[i].cut, rows[i].cut);
    ck_assert_int_eq (got[i].bits, rows[i].bits);
    ck_assert_int_eq (got[i].codec, rows[i].codec);
    ck_assert_int_eq (got[i].range, rows[i].range);
    ck_assert_int_eq (got[i].per_channel, rows[i].per_channel);
    ck_assert (got[i].clip == rows[i].clip);
    ck_assert (got[i].map50 == rows[i].map50);
    ck_assert_int_eq (got[i].has_ap50, rows[i].has_ap50);
    ck_assert (got[i].ap50 == rows[i].ap50);
  }
  /* The floor's figure: ap50 where stored, else map50. */
  SnFeatureConfig fc;
  sn_feature_config_init (&fc);
  fc.bits = 2;
  fc.codec = SN_CODEC_AUTO;
  fc.range = SN_RANGE_CALIBRATED;
  fc.per_channel = TRUE;
  fc.clip = 0.75;
  ck_assert (sn_model_fidelity (m, 0, &fc) == 23.5);
  sn_feature_config_init (&fc);
  fc.bits = 32;
  fc.codec = SN_CODEC_NONE;
  ck_assert (sn_model_fidelity (m, 1, &fc) == 100);
  ck_assert_str_eq (got[0].cut_name, "at_c");
  ck_assert_ptr_null (got[1].cut_name);
  sn_model_free (m);
}
END_TEST

#define ROW(fields) "{\"version\": 1, \"frames\": 1, \"rows\": [{" fields "}]}"
#define GOOD "\"cut\": 0, \"bits\": 8, \"codec\": \"lossless\", \"map50\": 50"

static const struct {
  const char *json, *expect[2];
} bad_fidelity[] = {
  { "{\"version\": 1, ", { "malformed JSON" } },
  { "[1]", { "not a JSON object" } },
  { "{\"version\": 3, \"frames\": 1, \"rows\": []}", { "unknown version 3" } },
  { "{\"version\": 1, \"frames\": 0, \"rows\": []}", { "'frames'" } },
  { "{\"version\": 1, \"frames\": 1, \"rows\": {}}", { "'rows' is missing or not an array" } },
  { "{\"version\": 1, \"frames\": 1, \"rows\": [" "{" GOOD "}, 7]}", { "rows[1]", "not a JSON object" } },
  { ROW ("\"bits\": 8, \"codec\": \"lossless\", \"map50\": 50"), { "rows[0]", "'cut' is missing" } },
  { ROW ("\"cut\": 99, \"bits\": 8, \"codec\": \"lossless\", \"map50\": 50"), { "rows[0]", "unknown cut id 99" } },
  { ROW ("\"cut\": -1, \"bits\": 8, \"codec\": \"lossless\", \"map50\": 50"), { "unknown cut id -1" } },
  { ROW ("\"cut\": 1.5, \"bits\": 8, \"codec\": \"lossless\", \"map50\": 50"), { "'cut' is missing or not an integer" } },
  { ROW (GOOD ", \"cut_name\": \"at_r\""), { "cut 0 is 'at_c' in this model, not 'at_r'" } },
  { ROW ("\"cut\": 0, \"bits\": 3, \"codec\": \"lossless\", \"map50\": 50"), { "'bits' must be 2, 4, 8, 16 or 32" } },
  { ROW ("\"cut\": 0, \"bits\": \"8\", \"codec\": \"lossless\", \"map50\": 50"), { "'bits' must be" } },
  { ROW ("\"cut\": 0, \"bits\": 8, \"codec\": \"zip\", \"map50\": 50"), { "unknown codec 'zip'" } },
  { ROW ("\"cut\": 0, \"bits\": 8, \"map50\": 50"), { "'codec' is missing" } },
  { ROW (GOOD ", \"range\": \"global\""), { "unknown range 'global'" } },
  { ROW (GOOD ", \"per_channel\": 1"), { "'per_channel' is not true or false" } },
  { ROW (GOOD ", \"clip\": 0"), { "'clip' must be in (0, 1]" } },
  { ROW (GOOD ", \"clip\": \"all\""), { "'clip' is not a number" } },
  { ROW ("\"cut\": 0, \"bits\": 8, \"codec\": \"lossless\", \"map50\": 100.5"), { "'map50' 100.5 is not in 0-100" } },
  { ROW ("\"cut\": 0, \"bits\": 8, \"codec\": \"lossless\", \"map50\": -3"), { "'map50' -3 is not in 0-100" } },
  { ROW ("\"cut\": 0, \"bits\": 8, \"codec\": \"lossless\", \"map50\": 1e999"), { "'map50' inf is not in 0-100" } },
  { ROW ("\"cut\": 0, \"bits\": 8, \"codec\": \"lossless\""), { "'map50' is missing" } },
  { ROW ("\"cut\": 0, \"bits\": 8, \"codec\": \"lossless\", \"map50\": 90, \"ap50\": 101"), { "'ap50' 101 is not in 0-100" } },
  { ROW ("\"cut\": 0, \"bits\": 8, \"codec\": \"lossless\", \"map50\": 90, \"ap50\": \"high\""), { "'ap50' is not a number" } },
  { "{\"version\": 1, \"frames\": 1, \"rows\": [{" GOOD "}, {" GOOD ", \"map50\": 60}]}",
    { "rows[1]", "repeats the setting of rows[0]" } },
  /* none and lossless are different rows, but 16 bits ignores the range. */
  { "{\"version\": 1, \"frames\": 1, \"rows\": [{\"cut\": 1, \"bits\": 16, \"codec\": \"none\", \"map50\": 9},"
    " {\"cut\": 1, \"bits\": 16, \"codec\": \"lossless\", \"map50\": 9},"
    " {\"cut\": 1, \"bits\": 16, \"codec\": \"none\", \"range\": \"calibrated\", \"map50\": 9}]}",
    { "rows[2]", "repeats the setting of rows[0]" } },
};

START_TEST (test_fidelity_errors)
{
  check_refused (SN_FIDELITY_KEY, bad_fidelity[_i].json, bad_fidelity[_i].expect,
      G_N_ELEMENTS (bad_fidelity[_i].expect));
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("calib");
  TCase *tc = tcase_create ("calib");
  tcase_add_test (tc, test_roundtrip);
  tcase_add_loop_test (tc, test_metadata_errors, 0, G_N_ELEMENTS (bad));
  tcase_add_test (tc, test_encoder_clamps);
  tcase_add_test (tc, test_fidelity_lookup);
  tcase_add_test (tc, test_fidelity_json_roundtrip);
  tcase_add_loop_test (tc, test_fidelity_errors, 0, G_N_ELEMENTS (bad_fidelity));
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
