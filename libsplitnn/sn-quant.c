/* splitnn — feature quantization (see sn-quant.h). */
#include "splitnn/sn-quant.h"

#include <math.h>
#include <string.h>

#include "splitnn/sn-error.h"

#define HIST_BINS 2048

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

/* Range of one channel: min/max, or clipped so that a `keep` fraction of
 * the values falls inside (two passes over a histogram of the min/max
 * range; the tails are trimmed symmetrically in count). */
static void
channel_range (const float *x, int64_t outer, int64_t stride, int64_t inner,
    double keep, float *lo, float *hi)
{
  float mn = INFINITY, mx = -INFINITY;
  for (int64_t o = 0; o < outer; o++) {
    const float *p = x + o * stride;
    for (int64_t i = 0; i < inner; i++) {
      mn = p[i] < mn ? p[i] : mn;
      mx = p[i] > mx ? p[i] : mx;
    }
  }
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

void
sn_quant_pack (const guint8 *codes, int bits, int64_t n, guint8 *packed)
{
  if (bits == 8) {
    memcpy (packed, codes, n);
    return;
  }
  int per = 8 / bits;
  int64_t full = n / per;
  for (int64_t b = 0; b < full; b++) {
    guint8 v = 0;
    for (int k = 0; k < per; k++)
      v |= (guint8) (codes[b * per + k] << (k * bits));
    packed[b] = v;
  }
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
  guint8 mask = (guint8) ((1 << bits) - 1);
  for (int64_t i = 0; i < n; i++)
    codes[i] = (packed[i / per] >> ((i % per) * bits)) & mask;
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
  /* Channel by channel, so no per-element division; codes are OR-ed into
   * the zeroed output (per is 1, 2 or 4: index / per is a shift). */
  int per = 8 / cfg->bits, shift = per == 4 ? 2 : per == 2 ? 1 : 0;
  memset (packed, 0, sn_quant_packed_size (n, cfg->bits));
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t c = 0; c < C; c++) {
      const float off = params->offset[c], inv = 1.0f / params->scale[c];
      int64_t base = (o * C + c) * inner;
      const float *p = src + base;
      for (int64_t i = 0; i < inner; i++) {
        float q = (p[i] - off) * inv + 0.5f;
        q = q > 0 ? q : 0;              /* NaN becomes 0 here */
        q = q < levels ? q : levels;
        int64_t idx = base + i;
        packed[idx >> shift] |= (guint8) ((guint8) q << ((idx & (per - 1)) * cfg->bits));
      }
    }
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
  int per = 8 / bits, shift = per == 4 ? 2 : per == 2 ? 1 : 0;
  guint8 mask = (guint8) ((1 << bits) - 1);
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t c = 0; c < C; c++) {
      const float off = params->offset[c], scale = params->scale[c];
      int64_t base = (o * C + c) * inner;
      for (int64_t i = 0; i < inner; i++) {
        int64_t idx = base + i;
        guint8 q = (packed[idx >> shift] >> ((idx & (per - 1)) * bits)) & mask;
        dst[idx] = off + q * scale;
      }
    }
  }
  return TRUE;
}
