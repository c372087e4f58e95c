/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — feature quantization (see sn-quant.h). */
#include "splitnn/sn-quant.h"

#include <math.h>
#include <string.h>

#include "splitnn/sn-error.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define HIST_BINS 2048
/* Codes are made and consumed in blocks of this many values on the stack,
 * so that the per-value loops are plain array loops the compiler
 * vectorizes; a multiple of 4 keeps every block byte-aligned at 2 bits. */
#define BLOCK 4096

gboolean
sn_quant_bits_valid (int bits)
{
  return bits == 2 || bits == 4 || bits == 8 || bits == 16 || bits == 32;
}

size_t
sn_quant_packed_size (int64_t n, int bits)
{
  return (size_t) ((n * bits + 7) / 8);
}

static int64_t
channels_of (const SnTensor *x, gboolean per_channel)
{
  return per_channel && x->shape.rank >= 2 ? x->shape.dims[1] : 1;
}

/* Folds p[0..n) into *mn / *mx with the rule mn = v < mn ? v : mn (NaNs
 * never win).  SSE's minps/maxps apply exactly that rule per lane, so the
 * vector path gives the scalar result; it is about 6x faster, and the
 * quantizer's range pass is a third of its time. */
static void
fold_minmax (const float *p, int64_t n, float *mn, float *mx)
{
  float a = *mn, b = *mx;
  int64_t i = 0;
#if defined(__SSE2__)
  if (n >= 16) {
    __m128 lo0 = _mm_set1_ps (a), lo1 = lo0, hi0 = _mm_set1_ps (b), hi1 = hi0;
    for (; i + 8 <= n; i += 8) {
      __m128 v0 = _mm_loadu_ps (p + i), v1 = _mm_loadu_ps (p + i + 4);
      lo0 = _mm_min_ps (v0, lo0);
      lo1 = _mm_min_ps (v1, lo1);
      hi0 = _mm_max_ps (v0, hi0);
      hi1 = _mm_max_ps (v1, hi1);
    }
    float l[8], h[8];
    _mm_storeu_ps (l, lo0);
    _mm_storeu_ps (l + 4, lo1);
    _mm_storeu_ps (h, hi0);
    _mm_storeu_ps (h + 4, hi1);
    for (int k = 0; k < 8; k++) {
      a = l[k] < a ? l[k] : a;
      b = h[k] > b ? h[k] : b;
    }
  }
#endif
  for (; i < n; i++) {
    a = p[i] < a ? p[i] : a;
    b = p[i] > b ? p[i] : b;
  }
  *mn = a;
  *mx = b;
}

/* Range of one channel: min/max, or clipped so that a `keep` fraction of
 * the values falls inside (two passes over a histogram of the min/max
 * range; the tails are trimmed symmetrically in count). */
static void
channel_range (const float *x, int64_t outer, int64_t stride, int64_t inner,
    double keep, float *lo, float *hi)
{
  float mn = INFINITY, mx = -INFINITY;
  for (int64_t o = 0; o < outer; o++)
    fold_minmax (x + o * stride, inner, &mn, &mx);
  if (!(mn <= mx)) {                    /* empty or all NaN */
    mn = mx = 0;
  }
  *lo = mn;
  *hi = mx;
  int64_t n = outer * inner;
  if (keep >= 1.0 || n < 64 || mx <= mn)
    return;
  guint32 hist[HIST_BINS] = { 0 };
  float k = (HIST_BINS - 1) / (mx - mn);
  for (int64_t o = 0; o < outer; o++) {
    const float *p = x + o * stride;
    for (int64_t i = 0; i < inner; i++) {
      float b = (p[i] - mn) * k;
      hist[b >= 0 ? (b < HIST_BINS ? (int) b : HIST_BINS - 1) : 0]++;
    }
  }
  int64_t drop = (int64_t) ((1.0 - keep) * n / 2);
  /* Post-ReLU features have a zero floor: keep it, trim only the top. */
  gboolean floor_at_min = mn >= 0;
  int64_t acc = 0;
  int top = HIST_BINS - 1;
  while (top > 0 && acc + hist[top] <= (floor_at_min ? 2 * drop : drop))
    acc += hist[top--];
  int bottom = 0;
  acc = 0;
  while (!floor_at_min && bottom < top && acc + hist[bottom] <= drop)
    acc += hist[bottom++];
  *hi = mn + (top + 1) / k;
  *lo = mn + bottom / k;
  if (*hi > mx)
    *hi = mx;
}

void
sn_quant_channel_ranges (const SnTensor *x, double clip, float *lo, float *hi)
{
  int64_t C = channels_of (x, TRUE);
  int64_t n = sn_tensor_numel (x);
  int64_t outer = x->shape.rank >= 2 && C > 1 ? x->shape.dims[0] : 1;
  int64_t inner = C ? n / (outer * C) : 0;
  for (int64_t c = 0; c < C; c++)
    channel_range ((const float *) x->data + c * inner, outer, C * inner, inner, clip,
        &lo[c], &hi[c]);
}

/* Packing and unpacking, one loop per width (the compiler vectorizes
 * these; the generic form's per-value division by `per` did not). */
void
sn_quant_pack (const guint8 *codes, int bits, int64_t n, guint8 *packed)
{
  if (bits == 8) {
    memcpy (packed, codes, n);
    return;
  }
  int per = 8 / bits;
  int64_t full = n / per;
  if (bits == 4)
    for (int64_t b = 0; b < full; b++)
      packed[b] = (guint8) (codes[2 * b] | codes[2 * b + 1] << 4);
  else
    for (int64_t b = 0; b < full; b++)
      packed[b] = (guint8) (codes[4 * b] | codes[4 * b + 1] << 2 | codes[4 * b + 2] << 4
          | codes[4 * b + 3] << 6);
  if (n % per) {
    guint8 v = 0;
    for (int k = 0; k < n % per; k++)
      v |= (guint8) (codes[full * per + k] << (k * bits));
    packed[full] = v;
  }
}

void
sn_quant_unpack (const guint8 *packed, int bits, int64_t n, guint8 *codes)
{
  if (bits == 8) {
    memcpy (codes, packed, n);
    return;
  }
  int per = 8 / bits;
  int64_t full = n / per;
  if (bits == 4)
    for (int64_t b = 0; b < full; b++) {
      codes[2 * b] = packed[b] & 15;
      codes[2 * b + 1] = packed[b] >> 4;
    }
  else
    for (int64_t b = 0; b < full; b++) {
      codes[4 * b] = packed[b] & 3;
      codes[4 * b + 1] = (packed[b] >> 2) & 3;
      codes[4 * b + 2] = (packed[b] >> 4) & 3;
      codes[4 * b + 3] = packed[b] >> 6;
    }
  guint8 mask = (guint8) ((1 << bits) - 1);
  for (int k = 0; k < n % per; k++)
    codes[full * per + k] = (packed[full] >> (k * bits)) & mask;
}

/* Codes of one run of values sharing a range.  NaN becomes 0 at the first
 * clamp, as it always did. */
static void
quantize_run (const float *restrict p, int64_t n, float off, float inv, float levels,
    guint8 *restrict codes)
{
  for (int64_t i = 0; i < n; i++) {
    float q = (p[i] - off) * inv + 0.5f;
    q = q > 0 ? q : 0;
    q = q < levels ? q : levels;
    codes[i] = (guint8) (int) q;
  }
}

static void
dequantize_run (const guint8 *restrict codes, int64_t n, float off, float scale,
    float *restrict dst)
{
  for (int64_t i = 0; i < n; i++)
    dst[i] = off + codes[i] * scale;
}

gboolean
sn_quantize (const SnTensor *x, const SnQuantConfig *cfg, const SnQuantParams *calib,
    SnQuantParams *params, guint8 *packed, GError **error)
{
  if (x->dtype != SN_DTYPE_FLOAT32 || !sn_quant_bits_valid (cfg->bits)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "cannot quantize %s to %d bits (float32 to 2, 4, 8, 16 or 32)",
        sn_dtype_name (x->dtype), cfg->bits);
    return FALSE;
  }
  int64_t n = sn_tensor_numel (x);
  const float *src = x->data;
  if (cfg->bits == 32) {
    params->n = 0;
    memcpy (packed, src, n * sizeof (float));
    return TRUE;
  }
  if (cfg->bits == 16) {
    params->n = 0;
    guint16 *h = (guint16 *) packed;
    for (int64_t i = 0; i < n; i++)
      h[i] = sn_float_to_half (src[i]);
    return TRUE;
  }
  int64_t C = channels_of (x, cfg->per_channel);
  if (C > SN_QUANT_MAX_CHANNELS) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "%" G_GINT64_FORMAT " channels exceed the %d a packet can describe", C, SN_QUANT_MAX_CHANNELS);
    return FALSE;
  }
  if (calib && calib->n != C) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "calibration has %d ranges for %" G_GINT64_FORMAT " channels", calib->n, C);
    return FALSE;
  }
  /* NCHW: channel c is `outer` runs of `inner` values, `stride` apart. */
  int64_t outer = x->shape.rank >= 2 && C > 1 ? x->shape.dims[0] : 1;
  int64_t inner = n / (outer * C);
  int64_t stride = C * inner;
  const int levels = (1 << cfg->bits) - 1;
  params->n = (int) C;
  for (int64_t c = 0; c < C; c++) {
    float lo, hi;
    if (calib) {
      lo = calib->offset[c];
      hi = lo + calib->scale[c] * levels;
    } else {
      channel_range (src + c * inner, outer, stride, inner, cfg->clip, &lo, &hi);
    }
    float scale = hi > lo ? (hi - lo) / levels : 1.0f;
    params->scale[c] = scale;
    params->offset[c] = lo;
  }
  /* Block by block in value order: each block's codes are made run by run
   * (a run is one channel's `inner` values) and then packed; at 8 bits the
   * codes are the packed bytes. */
  guint8 block[BLOCK];
  for (int64_t s = 0; s < n; s += BLOCK) {
    int64_t e = MIN (n, s + BLOCK);
    guint8 *codes = cfg->bits == 8 ? packed + s : block;
    for (int64_t i = s; i < e;) {
      int64_t run = i / inner, c = run % C, end = MIN (e, (run + 1) * inner);
      quantize_run (src + i, end - i, params->offset[c], 1.0f / params->scale[c], (float) levels,
          codes + (i - s));
      i = end;
    }
    if (cfg->bits < 8)
      sn_quant_pack (block, cfg->bits, e - s, packed + s * cfg->bits / 8);
  }
  return TRUE;
}

gboolean
sn_dequantize (const guint8 *packed, size_t len, int bits, const SnQuantParams *params,
    SnTensor *out, GError **error)
{
  int64_t n = sn_tensor_numel (out);
  if (out->dtype != SN_DTYPE_FLOAT32 || !sn_quant_bits_valid (bits)
      || len != sn_quant_packed_size (n, bits)) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "payload of %zu bytes does not hold %" G_GINT64_FORMAT " values at %d bits", len, n, bits);
    return FALSE;
  }
  float *dst = out->data;
  if (bits == 32) {
    memcpy (dst, packed, len);
    return TRUE;
  }
  if (bits == 16) {
    for (int64_t i = 0; i < n; i++) {
      guint16 h;
      memcpy (&h, packed + 2 * i, 2);
      dst[i] = sn_half_to_float (h);
    }
    return TRUE;
  }
  int64_t C = params->n;
  if (C < 1 || (C > 1 && (out->shape.rank < 2 || out->shape.dims[1] != C))) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "%" G_GINT64_FORMAT " quantization ranges do not fit the tensor's channels", C);
    return FALSE;
  }
  int64_t outer = C > 1 ? out->shape.dims[0] : 1;
  int64_t inner = n / (outer * C);
  /* The quantizer's blocks, backwards. */
  guint8 block[BLOCK];
  for (int64_t s = 0; s < n; s += BLOCK) {
    int64_t e = MIN (n, s + BLOCK);
    const guint8 *codes = packed + s;
    if (bits < 8) {
      sn_quant_unpack (packed + s * bits / 8, bits, e - s, block);
      codes = block;
    }
    for (int64_t i = s; i < e;) {
      int64_t run = i / inner, c = run % C, end = MIN (e, (run + 1) * inner);
      dequantize_run (codes + (i - s), end - i, params->offset[c], params->scale[c], dst + i);
      i = end;
    }
  }
  return TRUE;
}
