/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Quantization, codecs and the packet format. */
#include <check.h>
#include <math.h>
#include <string.h>

#include <splitnn/splitnn.h>
#include <zstd.h>

static SnTensor *
post_relu_like (int c, int h, int w, guint32 seed)
{
  SnShape s = sn_shape_make (4, (int64_t[]) { 1, c, h, w });
  SnTensor *t = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  GRand *r = g_rand_new_with_seed (seed);
  float *f = t->data;
  for (int64_t i = 0; i < sn_tensor_numel (t); i++) {
    double v = g_rand_double_range (r, -1.5, 2.5) * (1 + (i / (h * w)) % 3);
    f[i] = v > 0 ? (float) v : 0;
  }
  g_rand_free (r);
  return t;
}

static SnTensor *
signed_tensor (int64_t n, guint32 seed)
{
  SnShape s = sn_shape_make (1, &n);
  SnTensor *t = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  GRand *r = g_rand_new_with_seed (seed);
  for (int64_t i = 0; i < n; i++)
    ((float *) t->data)[i] = (float) g_rand_double_range (r, -3, 7);
  g_rand_free (r);
  return t;
}

/* ---- Quantization ---------------------------------------------------------- */

START_TEST (test_pack_matches_naive)
{
  /* Independent packing: bit k of element i goes to bit (i*b + k) of the stream. */
  static const int bits[] = { 2, 4, 8 };
  for (size_t b = 0; b < G_N_ELEMENTS (bits); b++) {
    for (int64_t n = 1; n < 40; n += 3) {
      guint8 codes[64], packed[64], naive[64] = { 0 }, back[64];
      for (int64_t i = 0; i < n; i++)
        codes[i] = (guint8) ((i * 37 + 11) & ((1 << bits[b]) - 1));
      sn_quant_pack (codes, bits[b], n, packed);
      for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < bits[b]; k++)
          if (codes[i] >> k & 1) {
            int64_t bit = i * bits[b] + k;
            naive[bit / 8] |= (guint8) (1 << (bit % 8));
          }
      ck_assert_uint_eq (sn_quant_packed_size (n, bits[b]), (n * bits[b] + 7) / 8);
      ck_assert_int_eq (memcmp (packed, naive, sn_quant_packed_size (n, bits[b])), 0);
      sn_quant_unpack (packed, bits[b], n, back);
      ck_assert_int_eq (memcmp (back, codes, n), 0);
    }
    /* Long random runs, odd lengths: the per-width loops and their tails. */
    GRand *r = g_rand_new_with_seed (7 + b);
    for (int64_t n = 4093; n < 4100; n++) {
      g_autofree guint8 *codes = g_malloc (n), *packed = g_malloc (n), *back = g_malloc (n);
      g_autofree guint8 *naive = g_malloc0 (n);
      for (int64_t i = 0; i < n; i++)
        codes[i] = (guint8) (g_rand_int (r) & ((1 << bits[b]) - 1));
      for (int64_t i = 0; i < n; i++)
        naive[i * bits[b] / 8] |= (guint8) (codes[i] << (i * bits[b] % 8));
      sn_quant_pack (codes, bits[b], n, packed);
      ck_assert_int_eq (memcmp (packed, naive, sn_quant_packed_size (n, bits[b])), 0);
      sn_quant_unpack (packed, bits[b], n, back);
      ck_assert_int_eq (memcmp (back, codes, n), 0);
    }
    g_rand_free (r);
  }
}
END_TEST

/* The quantizer's blocked, vectorized loops against the plain per-value
 * rule they replace: every range, every code and every dequantized value
 * must be identical.  Shapes cross block boundaries inside a channel and
 * channel boundaries inside a block; values include NaNs (code 0, skipped
 * by the range) and a batch of 2 for the per-channel stride. */
static void
reference_quantize (const float *x, int64_t outer, int64_t C, int64_t inner, int bits,
    float *scale, float *offset, guint8 *packed)
{
  int levels = (1 << bits) - 1;
  int64_t n = outer * C * inner;
  for (int64_t c = 0; c < C; c++) {
    float mn = INFINITY, mx = -INFINITY;
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < inner; i++) {
        float v = x[(o * C + c) * inner + i];
        if (v < mn)
          mn = v;
        if (v > mx)
          mx = v;
      }
    if (!(mn <= mx))
      mn = mx = 0;
    scale[c] = mx > mn ? (mx - mn) / levels : 1.0f;
    offset[c] = mn;
  }
  memset (packed, 0, sn_quant_packed_size (n, bits));
  for (int64_t idx = 0; idx < n; idx++) {
    int64_t c = idx / inner % C;
    float q = (x[idx] - offset[c]) * (1.0f / scale[c]) + 0.5f;
    if (!(q > 0))
      q = 0;
    if (q > levels)
      q = (float) levels;
    int64_t bit = idx * bits;
    packed[bit / 8] |= (guint8) ((guint8) q << (bit % 8));
  }
}

START_TEST (test_quant_matches_reference)
{
  static const int64_t shapes[][4] = {
    { 1, 7, 13, 11 }, { 2, 3, 5, 7 }, { 1, 24, 64, 65 }, { 1, 1, 1, 4099 }, { 1, 5, 1, 1 },
  };
  static const int bits[] = { 2, 4, 8 };
  SnQuantParams *q = g_new0 (SnQuantParams, 1);
  GRand *r = g_rand_new_with_seed (42);
  for (size_t k = 0; k < G_N_ELEMENTS (shapes); k++) {
    SnShape s = sn_shape_make (4, shapes[k]);
    g_autoptr (SnTensor) x = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
    g_autoptr (SnTensor) y = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
    int64_t n = sn_tensor_numel (x);
    float *f = x->data;
    for (int64_t i = 0; i < n; i++)
      f[i] = (float) g_rand_double_range (r, -2, 5) * (1 + i % 3);
    if (n > 20) {
      f[3] = NAN;
      f[n - 2] = NAN;
    }
    g_autofree float *scale = g_new (float, shapes[k][1]);
    g_autofree float *offset = g_new (float, shapes[k][1]);
    g_autofree guint8 *want = g_malloc (n), *got = g_malloc (n);
    for (size_t b = 0; b < G_N_ELEMENTS (bits); b++)
      for (int per_channel = 0; per_channel < 2; per_channel++) {
        int64_t C = per_channel ? shapes[k][1] : 1;
        int64_t outer = per_channel && C > 1 ? shapes[k][0] : 1;
        reference_quantize (f, outer, C, n / (outer * C), bits[b], scale, offset, want);
        SnQuantConfig cfg = { bits[b], per_channel, 1.0 };
        ck_assert (sn_quantize (x, &cfg, NULL, q, got, NULL));
        ck_assert_int_eq (q->n, C);
        for (int64_t c = 0; c < C; c++) {
          ck_assert_float_eq (q->scale[c], scale[c]);
          ck_assert_float_eq (q->offset[c], offset[c]);
        }
        size_t len = sn_quant_packed_size (n, bits[b]);
        for (size_t i = 0; i < len; i++)
          ck_assert_msg (got[i] == want[i], "shape %zu, %d bits, per channel %d: byte %zu is "
              "0x%02x, reference 0x%02x", k, bits[b], per_channel, i, got[i], want[i]);
        /* Dequantized: offset + code * scale, value by value. */
        ck_assert (sn_dequantize (got, len, bits[b], q, y, NULL));
        for (int64_t i = 0; i < n; i++) {
          int64_t c = i / (n / (outer * C)) % C;
          int64_t bit = i * bits[b];
          int code = want[bit / 8] >> (bit % 8) & ((1 << bits[b]) - 1);
          ck_assert_float_eq (((float *) y->data)[i], offset[c] + code * scale[c]);
        }
      }
  }
  g_rand_free (r);
  g_free (q);
}
END_TEST

START_TEST (test_quant_roundtrip_bounds)
{
  static const int bits[] = { 2, 4, 8 };
  static const int64_t sizes[] = { 1, 3, 7, 1001 };
  SnQuantParams *q = g_new0 (SnQuantParams, 1);
  for (size_t b = 0; b < G_N_ELEMENTS (bits); b++)
    for (size_t k = 0; k < G_N_ELEMENTS (sizes); k++) {
      g_autoptr (SnTensor) x = signed_tensor (sizes[k], 3 + k);
      g_autoptr (SnTensor) y = sn_tensor_copy (x);
      SnQuantConfig cfg = { bits[b], FALSE, 1.0 };
      size_t len = sn_quant_packed_size (sizes[k], bits[b]);
      g_autofree guint8 *packed = g_malloc (len);
      ck_assert (sn_quantize (x, &cfg, NULL, q, packed, NULL));
      ck_assert (sn_dequantize (packed, len, bits[b], q, y, NULL));
      const float *a = x->data, *c = y->data;
      float mn = a[0], mx = a[0];
      for (int64_t i = 0; i < sizes[k]; i++) {
        mn = MIN (mn, a[i]);
        mx = MAX (mx, a[i]);
      }
      float step = sizes[k] > 1 ? (mx - mn) / ((1 << bits[b]) - 1) : 0;
      for (int64_t i = 0; i < sizes[k]; i++)
        ck_assert_msg (fabsf (a[i] - c[i]) <= step / 2 + 1e-5f * (1 + fabsf (a[i])),
            "%d bits, n=%" G_GINT64_FORMAT ": %g -> %g (step %g)", bits[b], sizes[k], a[i], c[i], step);
      /* The extremes are on the grid: exact. */
      for (int64_t i = 0; i < sizes[k]; i++)
        if (a[i] == mn)
          ck_assert_float_eq_tol (c[i], mn, 1e-6);
    }
  g_free (q);
}
END_TEST

START_TEST (test_quant_per_channel_and_floats)
{
  g_autoptr (SnTensor) x = post_relu_like (7, 5, 3, 9);   /* odd channels, odd sizes */
  g_autoptr (SnTensor) y = sn_tensor_copy (x);
  int64_t n = sn_tensor_numel (x);
  SnQuantParams *q = g_new0 (SnQuantParams, 1);
  g_autofree guint8 *packed = g_malloc (n * 4);
  SnQuantConfig cfg = { 4, TRUE, 1.0 };
  ck_assert (sn_quantize (x, &cfg, NULL, q, packed, NULL));
  ck_assert_int_eq (q->n, 7);
  ck_assert (sn_dequantize (packed, sn_quant_packed_size (n, 4), 4, q, y, NULL));
  for (int64_t i = 0; i < n; i++) {
    int c = (int) (i / 15);
    ck_assert (fabsf (((float *) x->data)[i] - ((float *) y->data)[i]) <= q->scale[c] / 2 + 1e-5f);
  }
  /* float16 and float32 pass-through. */
  SnQuantConfig f16 = { 16, FALSE, 1.0 }, f32 = { 32, FALSE, 1.0 };
  ck_assert (sn_quantize (x, &f16, NULL, q, packed, NULL));
  ck_assert (sn_dequantize (packed, n * 2, 16, q, y, NULL));
  for (int64_t i = 0; i < n; i++)
    ck_assert_float_eq (((float *) y->data)[i], sn_half_to_float (sn_float_to_half (((float *) x->data)[i])));
  ck_assert (sn_quantize (x, &f32, NULL, q, packed, NULL));
  ck_assert (sn_dequantize (packed, n * 4, 32, q, y, NULL));
  ck_assert_int_eq (memcmp (x->data, y->data, n * 4), 0);
  /* Wrong payload size is refused. */
  GError *err = NULL;
  ck_assert (!sn_dequantize (packed, 3, 4, q, y, &err));
  g_clear_error (&err);
  g_free (q);
}
END_TEST

START_TEST (test_quant_clip)
{
  /* One huge outlier: without clipping 4-bit steps are ~6.7, with 0.999
   * clipping the bulk (0..1) keeps a fine grid. */
  int64_t n = 10000;
  SnShape s = sn_shape_make (1, &n);
  g_autoptr (SnTensor) x = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  for (int64_t i = 0; i < n; i++)
    ((float *) x->data)[i] = (float) (i % 100) / 100;
  ((float *) x->data)[17] = 100;
  SnQuantParams *q = g_new0 (SnQuantParams, 1);
  g_autofree guint8 *packed = g_malloc (n);
  SnQuantConfig plain = { 4, FALSE, 1.0 }, clipped = { 4, FALSE, 0.999 };
  ck_assert (sn_quantize (x, &plain, NULL, q, packed, NULL));
  ck_assert (q->scale[0] > 6);
  ck_assert (sn_quantize (x, &clipped, NULL, q, packed, NULL));
  ck_assert_msg (q->scale[0] < 0.1, "scale %g", q->scale[0]);
  ck_assert_float_eq (q->offset[0], 0);
  g_free (q);
}
END_TEST

/* ---- Codecs ------------------------------------------------------------------ */

START_TEST (test_codec_roundtrips)
{
  g_autoptr (SnTensor) x = post_relu_like (24, 32, 32, 1);
  int64_t n = sn_tensor_numel (x);
  SnQuantParams *q = g_new0 (SnQuantParams, 1);
  SnCodecContext *ctx = sn_codec_context_new ();
  static const int bits[] = { 2, 4, 8 };
  for (size_t b = 0; b < G_N_ELEMENTS (bits); b++) {
    SnQuantConfig cfg = { bits[b], FALSE, 1.0 };
    size_t len = sn_quant_packed_size (n, bits[b]);
    g_autofree guint8 *packed = g_malloc (len);
    g_autofree guint8 *back = g_malloc (len);
    ck_assert (sn_quantize (x, &cfg, NULL, q, packed, NULL));
    for (SnCodec c = SN_CODEC_NONE; c <= SN_CODEC_AUTO; c++) {
      GByteArray *out = g_byte_array_new ();
      SnCodec used;
      GError *err = NULL;
      ck_assert (sn_codec_encode (ctx, c, bits[b], &x->shape, packed, out, &used, &err));
      ck_assert (used != SN_CODEC_AUTO);
      ck_assert_msg (sn_codec_decode (ctx, used, bits[b], &x->shape, out->data, out->len, back, &err),
          "%s", err ? err->message : "");
      if (used != SN_CODEC_LOSSY) {
        ck_assert_int_eq (memcmp (packed, back, len), 0);
      } else {
        /* JPEG q90 on codes: mostly exact, never far. */
        g_autofree guint8 *a = g_malloc (n), *bb = g_malloc (n);
        sn_quant_unpack (packed, bits[b], n, a);
        sn_quant_unpack (back, bits[b], n, bb);
        int worst = 0;
        for (int64_t i = 0; i < n; i++)
          worst = MAX (worst, abs (a[i] - bb[i]));
        ck_assert_int_le (worst, bits[b] == 8 ? 24 : 2);
      }
      if (c == SN_CODEC_LOSSLESS)     /* post-ReLU: about half zeros */
        ck_assert_uint_lt (out->len, len);
      /* Truncated or garbled payloads are refused. */
      if (used != SN_CODEC_NONE && out->len > 8) {
        ck_assert (!sn_codec_decode (ctx, used, bits[b], &x->shape, out->data, out->len / 2, back, &err));
        g_clear_error (&err);
      }
      ck_assert (!sn_codec_decode (ctx, SN_CODEC_NONE, bits[b], &x->shape, packed, len - 1, back, &err));
      g_clear_error (&err);
      g_byte_array_unref (out);
    }
  }
  double z, h;
  guint8 zeros[64] = { 0 };
  SnShape s = sn_shape_make (1, (int64_t[]) { 64 });
  ck_assert_int_eq (sn_codec_choose (zeros, 8, &s, &z, &h), SN_CODEC_LOSSLESS);
  ck_assert_double_eq (z, 1.0);
  ck_assert_double_eq (h, 0.0);
  sn_codec_context_free (ctx);
  g_free (q);
}
END_TEST

/* A corrupt JPEG mosaic is refused with a clear error, and the same codec
 * context then decodes a good one exactly as a fresh context does: the
 * TurboJPEG handle is not left in its undefined after-error state. */
START_TEST (test_lossy_recovers_after_corrupt_jpeg)
{
  g_autoptr (SnTensor) x = post_relu_like (16, 24, 24, 3);
  int64_t n = sn_tensor_numel (x);
  size_t len = sn_quant_packed_size (n, 8);
  SnQuantParams *q = g_new0 (SnQuantParams, 1);
  SnQuantConfig cfg = { 8, FALSE, 1.0 };
  g_autofree guint8 *packed = g_malloc (len), *back = g_malloc (len), *fresh = g_malloc (len);
  ck_assert (sn_quantize (x, &cfg, NULL, q, packed, NULL));
  SnCodecContext *ctx = sn_codec_context_new (), *ctx2 = sn_codec_context_new ();
  GByteArray *good = g_byte_array_new ();
  SnCodec used;
  GError *err = NULL;
  ck_assert (sn_codec_encode (ctx, SN_CODEC_LOSSY, 8, &x->shape, packed, good, &used, &err));
  ck_assert_int_eq (used, SN_CODEC_LOSSY);
  ck_assert (sn_codec_decode (ctx2, used, 8, &x->shape, good->data, good->len, fresh, &err));

  /* Three kinds of damage: entropy data overwritten, the stream cut short
   * (end of image marker lost), and a header that is not a JPEG at all. */
  for (int kind = 0; kind < 3; kind++) {
    g_autofree guint8 *bad = g_memdup2 (good->data, good->len);
    size_t bad_len = good->len;
    if (kind == 0)
      memset (bad + good->len / 2, 0xff, 16);
    else if (kind == 1)
      bad_len = good->len * 2 / 3;
    else
      memset (bad, 0, 4);
    ck_assert_msg (!sn_codec_decode (ctx, used, 8, &x->shape, bad, bad_len, back, &err),
        "damage %d was accepted", kind);
    ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_CORRUPT_PACKET));
    ck_assert_msg (strstr (err->message, "JPEG") != NULL, "%s", err->message);
    g_clear_error (&err);
    memset (back, 0xab, len);
    ck_assert_msg (sn_codec_decode (ctx, used, 8, &x->shape, good->data, good->len, back, &err),
        "good mosaic after damage %d: %s", kind, err ? err->message : "");
    ck_assert_int_eq (memcmp (back, fresh, len), 0);
  }
  g_byte_array_unref (good);
  sn_codec_context_free (ctx);
  sn_codec_context_free (ctx2);
  g_free (q);
}
END_TEST

/* The `auto` statistics (zero fraction, entropy) from the byte-table
 * histogram against a per-code count. */
START_TEST (test_codec_choose_statistics)
{
  static const int bits[] = { 2, 4, 8 };
  GRand *r = g_rand_new_with_seed (5);
  for (size_t b = 0; b < G_N_ELEMENTS (bits); b++)
    for (int64_t n = 997; n < 1001; n++) {
      guint8 codes[1001], packed[1001];
      for (int64_t i = 0; i < n; i++)
        codes[i] = g_rand_int_range (r, 0, 3) ? 0 : (guint8) (g_rand_int (r) & ((1 << bits[b]) - 1));
      sn_quant_pack (codes, bits[b], n, packed);
      double count[256] = { 0 }, h = 0;
      for (int64_t i = 0; i < n; i++)
        count[codes[i]]++;
      for (int v = 0; v < 256; v++)
        if (count[v])
          h -= count[v] / n * log2 (count[v] / n);
      SnShape s = sn_shape_make (1, &n);
      double z, got_h;
      sn_codec_choose (packed, bits[b], &s, &z, &got_h);
      ck_assert_double_eq_tol (z, count[0] / n, 1e-12);
      ck_assert_double_eq_tol (got_h, h, 1e-9);
    }
  g_rand_free (r);
}
END_TEST

/* At quality 100 JPEG's error is far below half a code step at 2 and 4
 * bits, so the mosaic's stretch and its inverse must give back every code. */
START_TEST (test_lossy_exact_at_q100)
{
  SnCodecContext *ctx = sn_codec_context_new ();
  sn_codec_set_quality (ctx, 100);
  int64_t dims[] = { 1, 6, 16, 24 }, n = 6 * 16 * 24;
  SnShape s = sn_shape_make (4, dims);
  for (int bits = 2; bits <= 4; bits += 2) {
    guint8 codes[6 * 16 * 24], packed[6 * 16 * 24], back[6 * 16 * 24];
    for (int64_t i = 0; i < n; i++)         /* smooth ramps, as features are */
      codes[i] = (guint8) ((i % 24 + i / 24 % 16) * ((1 << bits) - 1) / 38);
    sn_quant_pack (codes, bits, n, packed);
    GByteArray *out = g_byte_array_new ();
    SnCodec used;
    ck_assert (sn_codec_encode (ctx, SN_CODEC_LOSSY, bits, &s, packed, out, &used, NULL));
    ck_assert_int_eq (used, SN_CODEC_LOSSY);
    ck_assert (sn_codec_decode (ctx, SN_CODEC_LOSSY, bits, &s, out->data, out->len, back, NULL));
    ck_assert_int_eq (memcmp (back, packed, sn_quant_packed_size (n, bits)), 0);
    g_byte_array_unref (out);
  }
  sn_codec_context_free (ctx);
}
END_TEST

/* The encoder writes the packed layout; the format's other layout (one
 * code per byte, layout byte 1) must still decode, masked to the width. */
START_TEST (test_lossless_byte_layout_decodes)
{
  int64_t n = 1001;
  SnShape s = sn_shape_make (1, &n);
  SnCodecContext *ctx = sn_codec_context_new ();
  for (int bits = 2; bits <= 4; bits += 2) {
    guint8 codes[1001], want[1001], got[1001];
    for (int64_t i = 0; i < n; i++)
      codes[i] = (guint8) ((i * 7 % 5 == 0 ? 0 : i * 13) | 0xf0);   /* high bits set: masked */
    guint8 masked[1001];
    for (int64_t i = 0; i < n; i++)
      masked[i] = codes[i] & ((1 << bits) - 1);
    sn_quant_pack (masked, bits, n, want);
    size_t bound = ZSTD_compressBound (n);
    g_autofree guint8 *payload = g_malloc (1 + bound);
    payload[0] = 1;
    size_t z = ZSTD_compress (payload + 1, bound, codes, n, 1);
    ck_assert (!ZSTD_isError (z));
    GError *err = NULL;
    ck_assert_msg (sn_codec_decode (ctx, SN_CODEC_LOSSLESS, bits, &s, payload, 1 + z, got, &err),
        "%s", err ? err->message : "");
    ck_assert_int_eq (memcmp (got, want, sn_quant_packed_size (n, bits)), 0);
    /* What the encoder writes: layout 0. */
    GByteArray *out = g_byte_array_new ();
    SnCodec used;
    ck_assert (sn_codec_encode (ctx, SN_CODEC_LOSSLESS, bits, &s, want, out, &used, NULL));
    ck_assert_int_eq (out->data[0], 0);
    g_byte_array_unref (out);
  }
  sn_codec_context_free (ctx);
}
END_TEST

/* ---- Packets ------------------------------------------------------------------- */

START_TEST (test_crc32c_vectors)
{
  /* The standard check value, and RFC 3720 B.4 vectors. */
  ck_assert_uint_eq (sn_crc32c (0, "123456789", 9), 0xE3069283u);
  guint8 zeros[32] = { 0 }, ones[32], inc[32];
  memset (ones, 0xff, 32);
  for (int i = 0; i < 32; i++)
    inc[i] = (guint8) i;
  ck_assert_uint_eq (sn_crc32c (0, zeros, 32), 0x8A9136AAu);
  ck_assert_uint_eq (sn_crc32c (0, ones, 32), 0x62A8AB43u);
  ck_assert_uint_eq (sn_crc32c (0, inc, 32), 0x46DD794Eu);
}
END_TEST

/* Whichever implementation this CPU uses (SSE4.2 or sliced; meson runs
 * this case again with SPLITNN_CRC=sliced) against the bitwise
 * definition: every length to 300 at every alignment, a large buffer, and
 * a checksum continued across calls. */
static guint32
crc32c_bitwise (const guint8 *p, size_t len)
{
  guint32 c = ~0u;
  for (size_t i = 0; i < len; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

START_TEST (test_crc32c_matches_bitwise)
{
  size_t big = 1 << 20;
  g_autofree guint8 *buf = g_malloc (big + 8);
  GRand *r = g_rand_new_with_seed (11);
  for (size_t i = 0; i < big + 8; i++)
    buf[i] = (guint8) g_rand_int (r);
  g_rand_free (r);
  for (size_t off = 0; off < 8; off++)
    for (size_t len = 0; len <= 300; len++)
      ck_assert_uint_eq (sn_crc32c (0, buf + off, len), crc32c_bitwise (buf + off, len));
  guint32 whole = crc32c_bitwise (buf + 3, big);
  ck_assert_uint_eq (sn_crc32c (0, buf + 3, big), whole);
  ck_assert_uint_eq (sn_crc32c (sn_crc32c (0, buf + 3, 12345), buf + 3 + 12345, big - 12345), whole);
}
END_TEST

static void
sample_packet (SnPacket *p, guint8 *ranges, guint8 *payload)
{
  memset (p, 0, sizeof *p);
  p->stream_id = 7;
  p->seq = 123456789012ULL;
  p->pts = 40000000;
  for (int i = 0; i < 32; i++)
    p->fingerprint[i] = (guint8) i;
  p->cut_id = 3;
  p->frame_width = 768;
  p->frame_height = 576;
  p->scale_x = 512.0f / 768;
  p->scale_y = 512.0f / 576;
  strcpy (p->cut_name, "a+b");
  p->n_tensors = 2;
  float r[4] = { 0.5f, -1, 0.25f, 0 };
  memcpy (ranges, r, 16);
  strcpy (p->tensors[0].name, "a");
  p->tensors[0].shape = sn_shape_make (4, (int64_t[]) { 1, 2, 3, 3 });
  p->tensors[0].bits = 4;
  p->tensors[0].codec = SN_CODEC_NONE;
  p->tensors[0].n_ranges = 1;
  p->tensors[0].ranges = ranges;
  p->tensors[0].payload = payload;
  p->tensors[0].payload_len = 9;                 /* 18 values at 4 bits */
  strcpy (p->tensors[1].name, "b");
  p->tensors[1].shape = sn_shape_make (2, (int64_t[]) { 1, 5 });
  p->tensors[1].bits = 32;
  p->tensors[1].codec = SN_CODEC_NONE;
  p->tensors[1].payload = payload + 9;
  p->tensors[1].payload_len = 20;
  for (int i = 0; i < 29; i++)
    payload[i] = (guint8) (i * 7);
}

START_TEST (test_packet_roundtrip_and_truncation)
{
  SnPacket p, q;
  guint8 ranges[16], payload[29];
  sample_packet (&p, ranges, payload);
  GByteArray *b = g_byte_array_new ();
  sn_packet_write (&p, b);
  GError *err = NULL;
  ck_assert_msg (sn_packet_parse (b->data, b->len, &q, &err), "%s", err ? err->message : "");
  ck_assert_uint_eq (q.seq, p.seq);
  ck_assert_uint_eq (q.pts, p.pts);
  ck_assert_uint_eq (q.stream_id, 7);
  ck_assert_str_eq (q.cut_name, "a+b");
  ck_assert_int_eq (q.n_tensors, 2);
  ck_assert (sn_shape_equal (&q.tensors[0].shape, &p.tensors[0].shape));
  ck_assert_int_eq (memcmp (q.tensors[1].payload, payload + 9, 20), 0);
  SnQuantParams *qp = g_new0 (SnQuantParams, 1);
  sn_packet_tensor_ranges (&q.tensors[0], qp);
  ck_assert_float_eq (qp->scale[0], 0.5f);
  ck_assert_float_eq (qp->offset[0], -1);
  g_free (qp);
  /* Every strict prefix is refused, each with a message. */
  for (guint cut = 0; cut < b->len; cut++) {
    g_autofree guint8 *pre = g_memdup2 (b->data, cut ? cut : 1);
    ck_assert_msg (!sn_packet_parse (pre, cut, &q, &err), "prefix %u parsed", cut);
    ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_CORRUPT_PACKET));
    g_clear_error (&err);
  }
  /* Every single bit flip is caught (CRC32C detects all of them). */
  for (guint i = 0; i < b->len; i++)
    for (int k = 0; k < 8; k++) {
      b->data[i] ^= (guint8) (1 << k);
      ck_assert (!sn_packet_parse (b->data, b->len, &q, &err));
      g_clear_error (&err);
      b->data[i] ^= (guint8) (1 << k);
    }
  g_byte_array_unref (b);
}
END_TEST

/* Rewrites the CRC after tampering, to reach the field checks behind it. */
static void
fix_crc (GByteArray *b)
{
  guint32 c = sn_crc32c (0, b->data, b->len - 4);
  memcpy (b->data + b->len - 4, &c, 4);
}

START_TEST (test_packet_fields_validated)
{
  SnPacket p, q;
  guint8 ranges[16], payload[29];
  GError *err = NULL;
  GByteArray *b = g_byte_array_new ();
  /* bits 3 */
  sample_packet (&p, ranges, payload);
  p.tensors[0].bits = 3;
  sn_packet_write (&p, b);
  ck_assert (!sn_packet_parse (b->data, b->len, &q, &err));
  ck_assert_msg (strstr (err->message, "bits"), "%s", err->message);
  g_clear_error (&err);
  /* raw payload of the wrong size */
  sample_packet (&p, ranges, payload);
  p.tensors[0].payload_len = 8;
  sn_packet_write (&p, b);
  ck_assert (!sn_packet_parse (b->data, b->len, &q, &err));
  ck_assert_msg (strstr (err->message, "raw payload"), "%s", err->message);
  g_clear_error (&err);
  /* three ranges for two channels */
  sample_packet (&p, ranges, payload);
  p.tensors[0].n_ranges = 3;
  guint8 r3[24] = { 0 };
  float one = 1;
  for (int k = 0; k < 3; k++)
    memcpy (r3 + 8 * k, &one, 4);
  p.tensors[0].ranges = r3;
  sn_packet_write (&p, b);
  ck_assert (!sn_packet_parse (b->data, b->len, &q, &err));
  ck_assert_msg (strstr (err->message, "ranges"), "%s", err->message);
  g_clear_error (&err);
  /* a zero scale */
  sample_packet (&p, ranges, payload);
  memset (ranges, 0, 4);
  sn_packet_write (&p, b);
  ck_assert (!sn_packet_parse (b->data, b->len, &q, &err));
  ck_assert_msg (strstr (err->message, "scale"), "%s", err->message);
  g_clear_error (&err);
  /* version 9, with a valid CRC */
  sample_packet (&p, ranges, payload);
  sn_packet_write (&p, b);
  b->data[4] = 9;
  fix_crc (b);
  ck_assert (!sn_packet_parse (b->data, b->len, &q, &err));
  ck_assert_msg (strstr (err->message, "version 9"), "%s", err->message);
  g_clear_error (&err);
  /* a huge dimension */
  sample_packet (&p, ranges, payload);
  p.tensors[1].shape.dims[1] = 1u << 30;
  sn_packet_write (&p, b);
  ck_assert (!sn_packet_parse (b->data, b->len, &q, &err));
  ck_assert_msg (strstr (err->message, "dimension"), "%s", err->message);
  g_clear_error (&err);
  /* random garbage with a valid CRC never crashes */
  GRand *r = g_rand_new_with_seed (77);
  for (int it = 0; it < 20000; it++) {
    sample_packet (&p, ranges, payload);
    sn_packet_write (&p, b);
    int flips = 1 + it % 6;
    for (int f = 0; f < flips; f++)
      b->data[4 + g_rand_int_range (r, 0, b->len - 8)] = (guint8) g_rand_int (r);
    fix_crc (b);
    if (!sn_packet_parse (b->data, b->len, &q, &err)) {
      ck_assert (err && *err->message);
      g_clear_error (&err);
    }
  }
  g_rand_free (r);
  g_byte_array_unref (b);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("feature");
  TCase *tc = tcase_create ("feature");
  tcase_add_test (tc, test_pack_matches_naive);
  tcase_add_test (tc, test_quant_matches_reference);
  tcase_add_test (tc, test_quant_roundtrip_bounds);
  tcase_add_test (tc, test_quant_per_channel_and_floats);
  tcase_add_test (tc, test_quant_clip);
  tcase_add_test (tc, test_codec_roundtrips);
  tcase_add_test (tc, test_lossy_recovers_after_corrupt_jpeg);
  tcase_add_test (tc, test_codec_choose_statistics);
  tcase_add_test (tc, test_lossy_exact_at_q100);
  tcase_add_test (tc, test_lossless_byte_layout_decodes);
  tcase_add_test (tc, test_packet_roundtrip_and_truncation);
  tcase_add_test (tc, test_packet_fields_validated);
  tcase_set_timeout (tc, 120);
  suite_add_tcase (s, tc);
  /* Its own case so that meson can run it alone with SPLITNN_CRC=sliced. */
  tc = tcase_create ("crc");
  tcase_add_test (tc, test_crc32c_vectors);
  tcase_add_test (tc, test_crc32c_matches_bitwise);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
