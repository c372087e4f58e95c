/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The temporal feature codec (sn-fcodec.h): round trip, drift bound, loss
 * and refresh, malformed input.  The oracle for the codes is the
 * quantization formula written out here, not the codec's quantizer. */
#include <check.h>
#include <math.h>
#include <string.h>

#include <splitnn/splitnn.h>

#define C 5
#define H 37                    /* not a multiple of the tile: edge tiles */
#define W 42

static const float lo[C] = { -2, -1, 0, -3, -0.5f };
static const float hi[C] = { 2, 3, 1, 3, 0.5f };

/* A scene: a smooth background, a blob that moves one pixel a frame, and
 * small noise (what the dead zone is for); some values outside the range. */
static void
scene (SnTensor *t, int frame, GRand *r)
{
  float *f = t->data;
  for (int c = 0; c < C; c++)
    for (int y = 0; y < H; y++)
      for (int x = 0; x < W; x++) {
        double bg = sin (0.2 * x + c) * cos (0.15 * y) * (hi[c] - lo[c]) * 0.3
            + (hi[c] + lo[c]) / 2;
        double bx = 5 + frame % 30, by = 10 + c;
        double blob = exp (-((x - bx) * (x - bx) + (y - by) * (y - by)) / 12.0) * (hi[c] - lo[c]);
        double noise = g_rand_double_range (r, -0.04, 0.04) * (hi[c] - lo[c]);
        f[(c * H + y) * W + x] = (float) (bg + blob + noise);
      }
}

/* The quantization formula (docs/protocol.md), independently, in double:
 * TRUE when `got` is within `dz` steps of round((v - lo) / scale), clamped.
 * Within 1e-3 of a half step either neighbour counts (the codec computes in
 * float). */
static gboolean
code_ok (int got, float v, int c, int bits, int dz)
{
  int levels = (1 << bits) - 1;
  double t = (v - lo[c]) / ((double) (hi[c] - lo[c]) / levels);
  double q = floor (t + 0.5);
  int a = (int) CLAMP (q, 0, levels), b = a;
  if (fabs (t - floor (t) - 0.5) < 1e-3)
    b = (int) CLAMP (floor (t), 0, levels);
  return abs (got - a) <= dz || abs (got - b) <= dz;
}

static SnShape
shape (void)
{
  return sn_shape_make (4, (int64_t[]) { 1, C, H, W });
}

static void
run_sequence_full (int bits, int dz, int lone, int rolling, int step, int refresh,
    gboolean temporal, size_t *inter_bytes)
{
  SnShape s = shape ();
  SnFcodecConfig cfg;
  sn_fcodec_config_init (&cfg);
  cfg.bits = bits;
  cfg.dead_zone = dz;
  cfg.lone_dead_zone = lone;
  cfg.refresh = refresh;
  cfg.rolling = rolling;
  cfg.residual_step = step;
  cfg.temporal = temporal;
  int bound = MAX (MAX (dz, lone), (step ? step : MIN (16, 2 * dz + 1)) - 1);
  GError *err = NULL;
  SnFcodecEncoder *e = sn_fcodec_encoder_new (&s, lo, hi, &cfg, &err);
  ck_assert_msg (e, "%s", err ? err->message : "");
  SnFcodecDecoder *d = sn_fcodec_decoder_new (&s, lo, hi, &err);
  ck_assert (d);
  ck_assert (sn_fcodec_decoder_needs_refresh (d));
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &s), *y = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  GByteArray *buf = g_byte_array_new ();
  GRand *r = g_rand_new_with_seed (bits * 100 + dz);
  *inter_bytes = 0;
  for (int f = 0; f < 100; f++) {
    scene (x, f, r);
    g_byte_array_set_size (buf, 0);
    ck_assert (sn_fcodec_encode (e, x, buf, &err));
    SnFcodecStats es, ds;
    sn_fcodec_encoder_stats (e, &es);
    ck_assert_uint_eq (es.bytes, buf->len);
    ck_assert_msg (sn_fcodec_decode (d, buf->data, buf->len, y, &err), "frame %d: %s", f,
        err ? err->message : "");
    sn_fcodec_decoder_stats (d, &ds);
    ck_assert_int_eq (es.intra, ds.intra);
    ck_assert_int_eq (es.updated, ds.updated);
    ck_assert_int_eq (es.tiles_coded, ds.tiles_coded);
    ck_assert_int_eq (es.intra, f == 0 || !temporal || (refresh && f % refresh == 0));
    if (!es.intra)
      *inter_bytes += buf->len;
    /* Closed loop: both references identical, every frame. */
    const guint8 *re = sn_fcodec_encoder_reference (e), *rd = sn_fcodec_decoder_reference (d);
    ck_assert_int_eq (memcmp (re, rd, C * H * W), 0);
    /* Drift bound: each code within the dead zone of the frame's own code
     * (exact in intra frames), and the output its dequantized value. */
    const float *xv = x->data, *yv = y->data;
    int bad = -1, bad_out = -1;     /* (check's asserts are too slow per value) */
    for (int c = 0; c < C; c++)
      for (int i = 0; i < H * W; i++) {
        int k = c * H * W + i;
        /* In a tile's rolling-refresh turn (docs/protocol.md: (tile + channel)
         * mod period == frame mod period) the code is exact. */
        int t = (i / W / 8) * ((W + 7) / 8) + (i % W) / 8;
        gboolean turn = rolling > 0 && (t + c) % rolling == f % rolling;
        if (bad < 0 && !code_ok (rd[k], xv[k], c, bits, es.intra || turn ? 0 : bound))
          bad = k;
        float want = lo[c] + rd[k] * ((hi[c] - lo[c]) / ((1 << bits) - 1));
        if (bad_out < 0 && fabsf (yv[k] - want) > 1e-5f * (hi[c] - lo[c]))
          bad_out = k;
      }
    ck_assert_msg (bad < 0, "frame %d, value %d: code %d for %g (dead zone %d)", f, bad,
        bad < 0 ? 0 : rd[bad], bad < 0 ? 0 : xv[bad], dz);
    ck_assert_msg (bad_out < 0, "frame %d, value %d: output %g", f, bad_out,
        bad_out < 0 ? 0 : yv[bad_out]);
  }
  g_rand_free (r);
  g_byte_array_unref (buf);
  sn_tensor_free (x);
  sn_tensor_free (y);
  sn_fcodec_encoder_free (e);
  sn_fcodec_decoder_free (d);
}

static void
run_sequence_lone (int bits, int dz, int lone, int refresh, gboolean temporal, size_t *inter_bytes)
{
  run_sequence_full (bits, dz, lone, 0, 1, refresh, temporal, inter_bytes);
}

static void
run_sequence (int bits, int dz, int refresh, gboolean temporal, size_t *inter_bytes)
{
  run_sequence_lone (bits, dz, 0, refresh, temporal, inter_bytes);
}

START_TEST (test_round_trip_and_drift_bound)
{
  static const int bits[] = { 2, 3, 4, 6, 8 };
  for (size_t b = 0; b < G_N_ELEMENTS (bits); b++)
    for (int dz = 0; dz <= 2; dz++) {
      size_t inter;
      run_sequence (bits[b], dz, 30, TRUE, &inter);
    }
}
END_TEST

START_TEST (test_rolling_refresh)
{
  /* Every value of a tile in its turn is exact (checked per frame in
   * run_sequence_full), with and without a lone dead zone. */
  size_t inter;
  run_sequence_full (4, 2, 0, 7, 1, 0, TRUE, &inter);
  run_sequence_full (6, 1, 3, 3, 1, 0, TRUE, &inter);
  run_sequence_full (3, 1, 0, 1, 1, 30, TRUE, &inter);
  run_sequence_full (5, 2, 0, 5, 5, 0, TRUE, &inter);
}
END_TEST

START_TEST (test_residual_step)
{
  /* Updates rounded to the step: the bound is MAX (dead zone, step - 1),
   * checked per frame, and coarser updates cost fewer bytes. */
  size_t exact, coarse;
  run_sequence_full (6, 2, 0, 0, 1, 0, TRUE, &exact);
  run_sequence_full (6, 2, 0, 0, 5, 0, TRUE, &coarse);
  ck_assert_uint_lt (coarse, exact);
  run_sequence_full (4, 1, 3, 0, 3, 30, TRUE, &coarse);
  run_sequence_full (8, 3, 0, 0, 7, 0, TRUE, &coarse);
  run_sequence_full (5, 2, 0, 0, 0, 0, TRUE, &coarse);      /* 0: 2 x dead zone + 1 */
}
END_TEST

START_TEST (test_intra_only_and_no_refresh)
{
  size_t inter;
  run_sequence (4, 1, 0, TRUE, &inter);
  run_sequence (4, 0, 0, FALSE, &inter);
  ck_assert_uint_eq (inter, 0);
}
END_TEST

START_TEST (test_lone_dead_zone)
{
  /* Lone flickers held back: the bound is the lone dead zone, and the
   * stream is smaller than with the plain dead zone. */
  size_t plain, lone;
  run_sequence_lone (6, 1, 0, 0, TRUE, &plain);
  run_sequence_lone (6, 1, 3, 0, TRUE, &lone);
  ck_assert_uint_lt (lone, plain);
  run_sequence_lone (4, 0, 2, 30, TRUE, &lone);
}
END_TEST

START_TEST (test_dead_zone_saves_bytes)
{
  /* The noise moves codes by about one step at 6 bits: a dead zone of one
   * step must cost fewer bytes than none. */
  size_t dz0, dz1;
  run_sequence (6, 0, 0, TRUE, &dz0);
  run_sequence (6, 1, 0, TRUE, &dz1);
  ck_assert_uint_lt (dz1, dz0);
}
END_TEST

START_TEST (test_still_frame_skips_every_tile)
{
  SnShape s = shape ();
  SnFcodecConfig cfg;
  sn_fcodec_config_init (&cfg);
  GError *err = NULL;
  SnFcodecEncoder *e = sn_fcodec_encoder_new (&s, lo, hi, &cfg, &err);
  SnFcodecDecoder *d = sn_fcodec_decoder_new (&s, lo, hi, &err);
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &s), *y = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  GRand *r = g_rand_new_with_seed (3);
  scene (x, 0, r);
  GByteArray *buf = g_byte_array_new ();
  for (int f = 0; f < 5; f++) {
    g_byte_array_set_size (buf, 0);
    ck_assert (sn_fcodec_encode (e, x, buf, &err));
    ck_assert (sn_fcodec_decode (d, buf->data, buf->len, y, &err));
    SnFcodecStats st;
    sn_fcodec_encoder_stats (e, &st);
    ck_assert_int_eq (st.tiles, C * 5 * 6);     /* ceil(37/8) x ceil(42/8) per channel */
    if (f > 0) {
      ck_assert_int_eq (st.tiles_coded, 0);
      ck_assert_int_eq (st.updated, 0);
      /* 150 skip flags (19 bytes raw) in adaptive contexts: fewer bytes
       * than raw, and fewer as the contexts learn. */
      ck_assert_uint_le (buf->len, SN_FCODEC_HEADER_BYTES + (f == 1 ? 16 : 10));
    }
  }
  g_rand_free (r);
  g_byte_array_unref (buf);
  sn_tensor_free (x);
  sn_tensor_free (y);
  sn_fcodec_encoder_free (e);
  sn_fcodec_decoder_free (d);
}
END_TEST

START_TEST (test_loss_and_refresh)
{
  SnShape s = shape ();
  SnFcodecConfig cfg;
  sn_fcodec_config_init (&cfg);
  cfg.refresh = 0;
  GError *err = NULL;
  SnFcodecEncoder *e = sn_fcodec_encoder_new (&s, lo, hi, &cfg, &err);
  SnFcodecDecoder *d = sn_fcodec_decoder_new (&s, lo, hi, &err);
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &s), *y = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  GRand *r = g_rand_new_with_seed (5);
  GByteArray *buf = g_byte_array_new ();
  for (int f = 0; f < 8; f++) {
    scene (x, f, r);
    g_byte_array_set_size (buf, 0);
    ck_assert (sn_fcodec_encode (e, x, buf, &err));
    if (f == 3)
      continue;                 /* lost in flight */
    gboolean ok = sn_fcodec_decode (d, buf->data, buf->len, y, &err);
    if (f == 4 || f == 5) {
      /* The frame after the loss, and every inter frame until a refresh. */
      ck_assert (!ok);
      ck_assert_int_eq (err->code, SN_ERROR_CORRUPT_PACKET);
      ck_assert_ptr_nonnull (strstr (err->message, f == 4 ? "lost" : "without a reference"));
      g_clear_error (&err);
      ck_assert (sn_fcodec_decoder_needs_refresh (d));
      if (f == 5)
        sn_fcodec_encoder_request_refresh (e);   /* the receiver's loss report arrives */
    } else {
      ck_assert_msg (ok, "frame %d: %s", f, err ? err->message : "");
      ck_assert (!sn_fcodec_decoder_needs_refresh (d));
      ck_assert_int_eq (memcmp (sn_fcodec_encoder_reference (e), sn_fcodec_decoder_reference (d),
              C * H * W), 0);
    }
  }
  g_rand_free (r);
  g_byte_array_unref (buf);
  sn_tensor_free (x);
  sn_tensor_free (y);
  sn_fcodec_encoder_free (e);
  sn_fcodec_decoder_free (d);
}
END_TEST

/* Decodes data into a fresh decoder that has seen `before` (an intra frame). */
static gboolean
try_decode (const GByteArray *before, const guint8 *data, size_t len, GError **err)
{
  SnShape s = shape ();
  SnFcodecDecoder *d = sn_fcodec_decoder_new (&s, lo, hi, NULL);
  SnTensor *y = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  gboolean ok = TRUE;
  if (before)
    ok = sn_fcodec_decode (d, before->data, before->len, y, NULL);
  ck_assert (ok);
  ok = sn_fcodec_decode (d, data, len, y, err);
  if (!ok)
    ck_assert (sn_fcodec_decoder_needs_refresh (d));
  sn_tensor_free (y);
  sn_fcodec_decoder_free (d);
  return ok;
}

START_TEST (test_malformed_frames)
{
  SnShape s = shape ();
  SnFcodecConfig cfg;
  sn_fcodec_config_init (&cfg);
  GError *err = NULL;
  SnFcodecEncoder *e = sn_fcodec_encoder_new (&s, lo, hi, &cfg, &err);
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  GRand *r = g_rand_new_with_seed (9);
  GByteArray *intra = g_byte_array_new (), *inter = g_byte_array_new ();
  scene (x, 0, r);
  ck_assert (sn_fcodec_encode (e, x, intra, &err));
  scene (x, 1, r);
  ck_assert (sn_fcodec_encode (e, x, inter, &err));
  ck_assert (try_decode (intra, inter->data, inter->len, NULL));
  /* Every truncation is refused, with an error naming the frame. */
  for (size_t n = 0; n < intra->len; n++) {
    ck_assert (!try_decode (NULL, intra->data, n, &err));
    ck_assert_int_eq (err->code, SN_ERROR_CORRUPT_PACKET);
    ck_assert_ptr_nonnull (strstr (err->message, "temporal feature frame"));
    g_clear_error (&err);
  }
  for (size_t n = 0; n < inter->len; n++) {
    ck_assert (!try_decode (intra, inter->data, n, &err));
    g_clear_error (&err);
  }
  /* Trailing bytes are refused too. */
  GByteArray *longer = g_byte_array_new ();
  g_byte_array_append (longer, intra->data, intra->len);
  g_byte_array_append (longer, (const guint8 *) "\x01", 1);
  ck_assert (!try_decode (NULL, longer->data, longer->len, &err));
  ck_assert_ptr_nonnull (strstr (err->message, "after the end"));
  g_clear_error (&err);
  /* Each header field out of range. */
  static const struct { int at; guint8 v; const char *says; } bad[] = {
    { 0, 'X', "magic" }, { 2, 1, "version" }, { 3, 0x81, "reserved flag" }, { 4, 9, "bits" },
    { 4, 1, "bits" }, { 5, 3, "dead zone" }, { 6, 7, "tile" }, { 7, 1, "rolling refresh" },
    { 12, 6, "shape" }, { 16, 1, "shape" },
  };
  for (size_t k = 0; k < G_N_ELEMENTS (bad); k++) {
    GByteArray *m = g_byte_array_new ();
    g_byte_array_append (m, intra->data, intra->len);
    m->data[bad[k].at] = bad[k].v;
    ck_assert (!try_decode (NULL, m->data, m->len, &err));
    ck_assert_msg (strstr (err->message, bad[k].says), "byte %d: %s", bad[k].at, err->message);
    g_clear_error (&err);
    g_byte_array_unref (m);
  }
  /* Random corruption of the coded values: never a crash, and when a
   * frame decodes, the codes are in range (the decoder checks each). */
  for (int k = 0; k < 300; k++) {
    GByteArray *src = k & 1 ? inter : intra;
    GByteArray *m = g_byte_array_new ();
    g_byte_array_append (m, src->data, src->len);
    int flips = 1 + g_rand_int_range (r, 0, 4);
    for (int j = 0; j < flips; j++)
      m->data[g_rand_int_range (r, SN_FCODEC_HEADER_BYTES, m->len)] ^=
          (guint8) (1 << g_rand_int_range (r, 0, 8));
    if (!try_decode (k & 1 ? intra : NULL, m->data, m->len, &err))
      g_clear_error (&err);
    g_byte_array_unref (m);
  }
  g_byte_array_unref (longer);
  g_byte_array_unref (intra);
  g_byte_array_unref (inter);
  g_rand_free (r);
  sn_tensor_free (x);
  sn_fcodec_encoder_free (e);
}
END_TEST

START_TEST (test_bad_configuration)
{
  SnShape s = shape ();
  SnFcodecConfig cfg;
  sn_fcodec_config_init (&cfg);
  GError *err = NULL;
  cfg.bits = 9;
  ck_assert_ptr_null (sn_fcodec_encoder_new (&s, lo, hi, &cfg, &err));
  ck_assert_int_eq (err->code, SN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&err);
  sn_fcodec_config_init (&cfg);
  cfg.tile = 6;
  ck_assert_ptr_null (sn_fcodec_encoder_new (&s, lo, hi, &cfg, &err));
  g_clear_error (&err);
  sn_fcodec_config_init (&cfg);
  cfg.residual_step = 2 * cfg.dead_zone + 2;
  ck_assert_ptr_null (sn_fcodec_encoder_new (&s, lo, hi, &cfg, &err));
  ck_assert_ptr_nonnull (strstr (err->message, "residual step"));
  g_clear_error (&err);
  sn_fcodec_config_init (&cfg);
  cfg.rolling = 256;
  ck_assert_ptr_null (sn_fcodec_encoder_new (&s, lo, hi, &cfg, &err));
  g_clear_error (&err);
  float bad_hi[C];
  memcpy (bad_hi, hi, sizeof bad_hi);
  bad_hi[2] = -1;               /* below its lo */
  ck_assert_ptr_null (sn_fcodec_decoder_new (&s, lo, bad_hi, &err));
  ck_assert_ptr_nonnull (strstr (err->message, "channel 2"));
  g_clear_error (&err);
  SnShape flat = sn_shape_make (2, (int64_t[]) { 5, 10 });
  ck_assert_ptr_null (sn_fcodec_decoder_new (&flat, lo, hi, &err));
  g_clear_error (&err);
  /* A tensor of another shape is refused by the encoder. */
  sn_fcodec_config_init (&cfg);
  SnFcodecEncoder *e = sn_fcodec_encoder_new (&s, lo, hi, &cfg, &err);
  SnShape other = sn_shape_make (4, (int64_t[]) { 1, C, W, H });
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &other);
  GByteArray *buf = g_byte_array_new ();
  ck_assert (!sn_fcodec_encode (e, x, buf, &err));
  g_clear_error (&err);
  g_byte_array_unref (buf);
  sn_tensor_free (x);
  sn_fcodec_encoder_free (e);
}
END_TEST

static Suite *
fcodec_suite (void)
{
  Suite *s = suite_create ("fcodec");
  TCase *tc = tcase_create ("core");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_round_trip_and_drift_bound);
  tcase_add_test (tc, test_intra_only_and_no_refresh);
  tcase_add_test (tc, test_rolling_refresh);
  tcase_add_test (tc, test_residual_step);
  tcase_add_test (tc, test_dead_zone_saves_bytes);
  tcase_add_test (tc, test_lone_dead_zone);
  tcase_add_test (tc, test_still_frame_skips_every_tile);
  tcase_add_test (tc, test_loss_and_refresh);
  tcase_add_test (tc, test_malformed_frames);
  tcase_add_test (tc, test_bad_configuration);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (fcodec_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
