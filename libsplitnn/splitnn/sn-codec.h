/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — coding quantized features for the wire.
 *
 * A codec works on one tensor's packed codes (sn-quant.h):
 *
 *   none      the packed codes as they are;
 *   lossless  zstd over the packed codes, after a layout byte; the format
 *             also allows the codes one per byte (layout 1), which decoders
 *             read and the encoder no longer writes (docs/codecs.md);
 *   lossy     the AVSS 2018 idea (Ko et al.): channels tiled into one
 *             grayscale mosaic, codes stretched to 0-255, JPEG (libjpeg-
 *             turbo) at a given quality; decoding rounds back to codes;
 *   auto      chosen per tensor and per frame from the codes' statistics
 *             (see sn_codec_choose and docs/codecs.md).
 *
 * Decoders trust nothing: sizes are checked against the expected count. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-tensor.h>

G_BEGIN_DECLS

typedef enum {
  SN_CODEC_NONE = 0,
  SN_CODEC_LOSSLESS = 1,
  SN_CODEC_LOSSY = 2,
  SN_CODEC_AUTO = 3,        /* never on the wire: resolved to one of the above */
  /* The temporal feature codec (sn-fcodec.h): the payload is one of its
   * frames.  It keeps state per stream, so only the sessions code it
   * (sn_feature_encode_stream); sn_codec_encode/decode refuse it. */
  SN_CODEC_TEMPORAL = 4,
} SnCodec;

typedef struct SnCodecContext SnCodecContext;

SN_API SnCodecContext *sn_codec_context_new (void);
SN_API void sn_codec_context_free (SnCodecContext *ctx);
SN_API void sn_codec_set_quality (SnCodecContext *ctx, int jpeg_quality);   /* default 90 */
SN_API void sn_codec_set_level (SnCodecContext *ctx, int zstd_level);       /* default 1 */

SN_API const char *sn_codec_name (SnCodec c);
SN_API gboolean sn_codec_from_name (const char *name, SnCodec *out);

/* The rule behind `auto`, exposed for tests and docs: zero fraction and
 * empirical entropy (bits per code) of the codes. */
SN_API SnCodec sn_codec_choose (const guint8 *packed, int bits, const SnShape *shape,
    double *zero_fraction, double *entropy_bits);

/* Appends the coded form of the packed codes to out; *used says which
 * codec was applied (never AUTO). */
SN_API gboolean sn_codec_encode (SnCodecContext *ctx, SnCodec codec, int bits,
    const SnShape *shape, const guint8 *packed, GByteArray *out, SnCodec *used,
    GError **error);
/* Decodes into packed (sn_quant_packed_size (numel (shape), bits) bytes). */
SN_API gboolean sn_codec_decode (SnCodecContext *ctx, SnCodec codec, int bits,
    const SnShape *shape, const guint8 *data, size_t len, guint8 *packed,
    GError **error);

G_END_DECLS
