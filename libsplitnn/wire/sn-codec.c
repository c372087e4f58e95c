/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — feature codecs (see sn-codec.h). */
#include "splitnn/sn-codec.h"

#include <math.h>
#include <string.h>
#include <turbojpeg.h>
#include <zstd.h>

#include "splitnn/sn-error.h"
#include "splitnn/sn-quant.h"

struct SnCodecContext {
  ZSTD_CCtx *cctx;
  ZSTD_DCtx *dctx;
  tjhandle tj_enc, tj_dec;
  int quality, level;
  guint8 *scratch;          /* one byte per code; grown, never shrunk */
  size_t scratch_len;
  guint8 *mosaic;
  size_t mosaic_len;
};

SnCodecContext *
sn_codec_context_new (void)
{
  SnCodecContext *c = g_new0 (SnCodecContext, 1);
  c->cctx = ZSTD_createCCtx ();
  c->dctx = ZSTD_createDCtx ();
  c->tj_enc = tjInitCompress ();
  c->tj_dec = tjInitDecompress ();
  c->quality = 90;
  c->level = 1;
  return c;
}

void
sn_codec_context_free (SnCodecContext *c)
{
  if (!c)
    return;
  ZSTD_freeCCtx (c->cctx);
  ZSTD_freeDCtx (c->dctx);
  tjDestroy (c->tj_enc);
  tjDestroy (c->tj_dec);
  g_free (c->scratch);
  g_free (c->mosaic);
  g_free (c);
}

void sn_codec_set_quality (SnCodecContext *c, int q) { c->quality = CLAMP (q, 1, 100); }
void sn_codec_set_level (SnCodecContext *c, int l) { c->level = CLAMP (l, -7, 19); }

const char *
sn_codec_name (SnCodec c)
{
  static const char *names[] = { "none", "lossless", "lossy", "auto", "temporal" };
  return (unsigned) c < G_N_ELEMENTS (names) ? names[c] : "invalid";
}

gboolean
sn_codec_from_name (const char *name, SnCodec *out)
{
  for (SnCodec c = SN_CODEC_NONE; c <= SN_CODEC_TEMPORAL; c++)
    if (strcmp (name, sn_codec_name (c)) == 0) {
      *out = c;
      return TRUE;
    }
  return FALSE;
}

static guint8 *
scratch (SnCodecContext *c, size_t n)
{
  if (c->scratch_len < n) {
    c->scratch = g_realloc (c->scratch, n);
    c->scratch_len = n;
  }
  return c->scratch;
}

SnCodec
sn_codec_choose (const guint8 *packed, int bits, const SnShape *shape,
    double *zero_fraction, double *entropy_bits)
{
  int64_t n = sn_shape_numel (shape);
  guint64 hist[256] = { 0 };
  if (bits <= 8) {
    /* Whole bytes, then each byte's codes: one table pass instead of a
     * division and shift per code. */
    guint32 bytes[4][256] = { { 0 } };
    int64_t nb = (int64_t) sn_quant_packed_size (n, bits), full = n * bits / 8, i = 0;
    for (; i + 4 <= full; i += 4) {
      bytes[0][packed[i]]++;
      bytes[1][packed[i + 1]]++;
      bytes[2][packed[i + 2]]++;
      bytes[3][packed[i + 3]]++;
    }
    for (; i < full; i++)
      bytes[0][packed[i]]++;
    int per = 8 / bits;
    guint8 mask = (guint8) ((1 << bits) - 1);
    for (int v = 0; v < 256; v++) {
      guint64 count = (guint64) bytes[0][v] + bytes[1][v] + bytes[2][v] + bytes[3][v];
      for (int k = 0; count && k < per; k++)
        hist[(v >> (k * bits)) & mask] += count;
    }
    /* A partial last byte holds fewer codes. */
    for (int k = 0; full < nb && k < n - full * per; k++)
      hist[(packed[full] >> (k * bits)) & mask]++;
  }
  double h = 0;
  for (int k = 0; k < 256; k++)
    if (hist[k]) {
      double p = (double) hist[k] / n;
      h -= p * log2 (p);
    }
  double z = n ? (double) hist[0] / n : 0;
  if (zero_fraction)
    *zero_fraction = z;
  if (entropy_bits)
    *entropy_bits = h;
  /* Float payloads are not codes: leave them alone.  Low-entropy codes
   * (sparse, or few levels in use) code losslessly to well under `bits`;
   * dense 8-bit codes near full entropy gain little from zstd, and JPEG's
   * transform coding trades a little error for several times fewer bytes. */
  if (bits > 8)
    return SN_CODEC_NONE;
  if (bits == 8 && h > 5.0 && z < 0.5)
    return SN_CODEC_LOSSY;
  return SN_CODEC_LOSSLESS;
}

/* Mosaic geometry: C tiles of H x W laid out on a grid of cols columns.
 * Tensors of rank < 3 are one tile of 1 x numel. */
static void
mosaic_geometry (const SnShape *s, int64_t *tiles, int64_t *th, int64_t *tw, int64_t *cols, int64_t *rows)
{
  if (s->rank >= 3) {
    *tw = s->dims[s->rank - 1];
    *th = s->dims[s->rank - 2];
    *tiles = sn_shape_numel (s) / (*tw * *th);
  } else {
    *tw = sn_shape_numel (s);
    *th = 1;
    *tiles = 1;
  }
  *cols = (int64_t) ceil (sqrt ((double) *tiles));
  if (*cols < 1)
    *cols = 1;
  *rows = (*tiles + *cols - 1) / *cols;
}

static gboolean
encode_lossy (SnCodecContext *c, int bits, const SnShape *shape, const guint8 *codes,
    GByteArray *out, GError **error)
{
  int64_t tiles, th, tw, cols, rows;
  mosaic_geometry (shape, &tiles, &th, &tw, &cols, &rows);
  int64_t W = cols * tw, H = rows * th;
  if (W > 65535 || H > 65535) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "feature too large for a JPEG mosaic");
    return FALSE;
  }
  if (c->mosaic_len < (size_t) (W * H)) {
    c->mosaic = g_realloc (c->mosaic, W * H);
    c->mosaic_len = W * H;
  }
  memset (c->mosaic, 0, W * H);
  int levels = (1 << bits) - 1;
  guint8 stretch[256];          /* code -> gray level, no division per value */
  for (int q = 0; q < 256; q++)
    stretch[q] = (guint8) ((MIN (q, levels) * 255 + levels / 2) / levels);
  for (int64_t t = 0; t < tiles; t++) {
    int64_t ox = (t % cols) * tw, oy = (t / cols) * th;
    for (int64_t y = 0; y < th; y++) {
      const guint8 *src = codes + (t * th + y) * tw;
      guint8 *dst = c->mosaic + (oy + y) * W + ox;
      for (int64_t x = 0; x < tw; x++)
        dst[x] = stretch[src[x]];
    }
  }
  unsigned char *jpeg = NULL;
  unsigned long jlen = 0;
  if (!c->tj_enc || tjCompress2 (c->tj_enc, c->mosaic, (int) W, 0, (int) H, TJPF_GRAY, &jpeg,
          &jlen, TJSAMP_GRAY, c->quality, TJFLAG_FASTDCT) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "JPEG encoding failed: %s",
        c->tj_enc ? tjGetErrorStr2 (c->tj_enc) : "no TurboJPEG encoder");
    tjFree (jpeg);
    if (c->tj_enc)                /* undefined state after an error: start over */
      tjDestroy (c->tj_enc);
    c->tj_enc = tjInitCompress ();
    return FALSE;
  }
  g_byte_array_append (out, jpeg, jlen);
  tjFree (jpeg);
  return TRUE;
}

/* Stop at libjpeg's first warning (corrupt entropy data, premature end)
 * instead of returning a partly grey image as if it were the feature, and
 * refuse progressive streams with absurd scan counts (a cheap CPU DoS). */
#ifndef TJFLAG_STOPONWARNING
#define TJFLAG_STOPONWARNING 0
#endif
#ifndef TJFLAG_LIMITSCANS
#define TJFLAG_LIMITSCANS 0
#endif
#define SN_TJ_DECODE_FLAGS (TJFLAG_FASTDCT | TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS)

/* TurboJPEG leaves a handle in an undefined state after an error, so a
 * failed decode gets a fresh one: the next (good) packet must not pay for a
 * bad one. */
static gboolean
lossy_failed (SnCodecContext *c, GError **error, const char *what)
{
  g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "%s: %s", what,
      c->tj_dec ? tjGetErrorStr2 (c->tj_dec) : "no TurboJPEG decoder");
  if (c->tj_dec)
    tjDestroy (c->tj_dec);
  c->tj_dec = tjInitDecompress ();
  return FALSE;
}

static gboolean
decode_lossy (SnCodecContext *c, int bits, const SnShape *shape, const guint8 *data,
    size_t len, guint8 *codes, GError **error)
{
  int64_t tiles, th, tw, cols, rows;
  mosaic_geometry (shape, &tiles, &th, &tw, &cols, &rows);
  int64_t W = cols * tw, H = rows * th;
  int jw, jh, sub, cs;
  if (!c->tj_dec)
    return lossy_failed (c, error, "JPEG decoding failed");
  if (len > G_MAXULONG) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "lossy payload too large");
    return FALSE;
  }
  if (tjDecompressHeader3 (c->tj_dec, data, (unsigned long) len, &jw, &jh, &sub, &cs) != 0)
    return lossy_failed (c, error, "lossy payload is not a JPEG");
  if (jw != W || jh != H || cs != TJCS_GRAY) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "lossy payload is a %dx%d %s JPEG, not the %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
        " grayscale mosaic of this tensor", jw, jh, cs == TJCS_GRAY ? "grayscale" : "colour", W, H);
    return FALSE;
  }
  if (c->mosaic_len < (size_t) (W * H)) {
    c->mosaic = g_realloc (c->mosaic, W * H);
    c->mosaic_len = W * H;
  }
  if (tjDecompress2 (c->tj_dec, data, (unsigned long) len, c->mosaic, (int) W, 0, (int) H,
          TJPF_GRAY, SN_TJ_DECODE_FLAGS) != 0)
    return lossy_failed (c, error, "JPEG decoding failed");
  int levels = (1 << bits) - 1;
  guint8 squeeze[256];          /* gray level -> code */
  for (int g = 0; g < 256; g++)
    squeeze[g] = (guint8) ((g * levels + 127) / 255);
  for (int64_t t = 0; t < tiles; t++) {
    int64_t ox = (t % cols) * tw, oy = (t / cols) * th;
    for (int64_t y = 0; y < th; y++) {
      const guint8 *src = c->mosaic + (oy + y) * W + ox;
      guint8 *dst = codes + (t * th + y) * tw;
      for (int64_t x = 0; x < tw; x++)
        dst[x] = squeeze[src[x]];
    }
  }
  return TRUE;
}

enum { LAYOUT_PACKED = 0, LAYOUT_BYTES = 1 };

static void
put_layout_frame (SnCodecContext *c, GByteArray *out, guint8 layout, const guint8 *src,
    size_t slen, GError **error)
{
  size_t bound = ZSTD_compressBound (slen), at = out->len;
  g_byte_array_set_size (out, at + 1 + bound);
  out->data[at] = layout;
  size_t r = ZSTD_compressCCtx (c->cctx, out->data + at + 1, bound, src, slen, c->level);
  if (ZSTD_isError (r)) {
    g_byte_array_set_size (out, at);
    if (error && !*error)
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "zstd: %s", ZSTD_getErrorName (r));
    return;
  }
  g_byte_array_set_size (out, at + 1 + r);
}

gboolean
sn_codec_encode (SnCodecContext *c, SnCodec codec, int bits, const SnShape *shape,
    const guint8 *packed, GByteArray *out, SnCodec *used, GError **error)
{
  int64_t n = sn_shape_numel (shape);
  size_t plen = sn_quant_packed_size (n, bits);
  if (codec == SN_CODEC_AUTO)
    codec = sn_codec_choose (packed, bits, shape, NULL, NULL);
  if (bits > 8 && codec == SN_CODEC_LOSSY)
    codec = SN_CODEC_NONE;      /* JPEG carries codes, not floats */
  *used = codec;
  switch (codec) {
    case SN_CODEC_NONE:
      g_byte_array_append (out, packed, plen);
      return TRUE;
    case SN_CODEC_LOSSLESS:{
      /* One layout byte, then a zstd frame of the packed codes.  The format
       * also allows the codes one per byte (LAYOUT_BYTES, which the decoder
       * reads), and the encoder used to try both and keep the smaller; on
       * the real detector the packing was smaller in every one of 400
       * tensor-frames (cuts 3-45, 2 and 4 bits, sparse ones included), on
       * synthetic codes the byte layout never won by more than 2 %, and the
       * second zstd pass over a 2-4x larger input doubled the encode time
       * (docs/codecs.md). */
      size_t at = out->len;
      put_layout_frame (c, out, LAYOUT_PACKED, packed, plen, error);
      return out->len > at;
    }
    case SN_CODEC_LOSSY:{
      guint8 *codes = scratch (c, n);
      sn_quant_unpack (packed, bits, n, codes);
      return encode_lossy (c, bits, shape, codes, out, error);
    }
    default:
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "unknown codec %d", codec);
      return FALSE;
  }
}

gboolean
sn_codec_decode (SnCodecContext *c, SnCodec codec, int bits, const SnShape *shape,
    const guint8 *data, size_t len, guint8 *packed, GError **error)
{
  int64_t n = sn_shape_numel (shape);
  size_t plen = sn_quant_packed_size (n, bits);
  switch (codec) {
    case SN_CODEC_NONE:
      if (len != plen) {
        g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
            "raw payload has %zu bytes, %zu expected", len, plen);
        return FALSE;
      }
      memcpy (packed, data, len);
      return TRUE;
    case SN_CODEC_LOSSLESS:{
      if (len < 1 || data[0] > LAYOUT_BYTES || (data[0] == LAYOUT_BYTES && bits >= 8)) {
        g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "lossless payload has an invalid layout byte");
        return FALSE;
      }
      gboolean bytes = data[0] == LAYOUT_BYTES;
      size_t want = bytes ? (size_t) n : plen;
      unsigned long long fcs = ZSTD_getFrameContentSize (data + 1, len - 1);
      if (fcs != want) {
        g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
            "zstd frame declares %llu bytes, %zu expected", fcs, want);
        return FALSE;
      }
      guint8 *dst = bytes ? scratch (c, n) : packed;
      size_t r = ZSTD_decompressDCtx (c->dctx, dst, want, data + 1, len - 1);
      if (ZSTD_isError (r) || r != want) {
        g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "zstd: %s",
            ZSTD_isError (r) ? ZSTD_getErrorName (r) : "short frame");
        return FALSE;
      }
      if (bytes) {
        guint8 mask = (guint8) ((1 << bits) - 1);
        for (int64_t i = 0; i < n; i++)
          dst[i] &= mask;
        sn_quant_pack (dst, bits, n, packed);
      }
      return TRUE;
    }
    case SN_CODEC_LOSSY:{
      if (bits > 8) {
        g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "lossy payload for %d-bit values", bits);
        return FALSE;
      }
      guint8 *codes = scratch (c, n);
      if (!decode_lossy (c, bits, shape, data, len, codes, error))
        return FALSE;
      sn_quant_pack (codes, bits, n, packed);
      return TRUE;
    }
    default:
      g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "unknown codec %d", codec);
      return FALSE;
  }
}
