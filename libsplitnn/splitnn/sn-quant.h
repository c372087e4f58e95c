/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the quantization switch's quantizer.
 *
 * Only the tensors of the selected cut are quantized.  Affine quantization
 * maps x to an unsigned code q = round ((x - offset) / scale) in
 * [0, 2^bits - 1] and back to offset + q * scale, per tensor or per
 * channel (axis 1 of NCHW).  The range [offset, offset + (2^bits-1) scale]
 * comes from the frame itself (min/max, optionally clipped at a percentile
 * of a histogram, which matters at 2 and 4 bits) or from calibration.
 * Codes are packed densely, least significant bits first: 4 per byte at 2
 * bits, 2 per byte at 4 bits.  16 bits means IEEE half, 32 raw float. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-tensor.h>

G_BEGIN_DECLS

#define SN_QUANT_MAX_CHANNELS 4096

typedef struct {
  int bits;                 /* 2, 4, 8 (affine), 16 (float16), 32 (float32) */
  gboolean per_channel;     /* one range per channel (axis 1) instead of per tensor */
  double clip;              /* keep this fraction of values inside the range (e.g. 0.9999); >= 1: min/max */
} SnQuantConfig;

typedef struct {
  int n;                    /* 1 (per tensor) or the channel count; 0 for 16/32 bits */
  float scale[SN_QUANT_MAX_CHANNELS];
  float offset[SN_QUANT_MAX_CHANNELS];
} SnQuantParams;

SN_API gboolean sn_quant_bits_valid (int bits);
/* Bytes of the packed payload for n values. */
SN_API size_t sn_quant_packed_size (int64_t n, int bits);

/* Quantizes x (float32) into packed (sn_quant_packed_size bytes) and fills
 * params.  With calib non-NULL its ranges are used instead of the frame's. */
SN_API gboolean sn_quantize (const SnTensor *x, const SnQuantConfig *cfg,
    const SnQuantParams *calib, SnQuantParams *params, guint8 *packed, GError **error);
/* The inverse: packed codes -> out (float32, shape given by out). */
SN_API gboolean sn_dequantize (const guint8 *packed, size_t len, int bits,
    const SnQuantParams *params, SnTensor *out, GError **error);

/* The frame's own range of every channel (axis 1; one range for rank < 2),
 * as sn_quantize would pick it per channel with this clip: lo and hi hold
 * the channel count (calibration accumulates these over frames). */
SN_API void sn_quant_channel_ranges (const SnTensor *x, double clip, float *lo, float *hi);

/* Unpacks codes to one byte each (for codecs that work on whole bytes). */
SN_API void sn_quant_unpack (const guint8 *packed, int bits, int64_t n, guint8 *codes);
SN_API void sn_quant_pack (const guint8 *codes, int bits, int64_t n, guint8 *packed);

G_END_DECLS
