/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the temporal feature codec (wire layer).
 *
 * Experimental: may change before 1.0 (docs/architecture.md, "Public API").
 *
 * Codes one cut tensor (1 x C x H x W, float32) per frame against the
 * previous frame, as video codecs do, instead of each frame alone:
 *
 *   1. uniform quantization at `bits` (2..8) with per-channel ranges from
 *      calibration (sn-calib.h; frames 0-399 of the clip), values outside
 *      clamped;
 *   2. temporal prediction in the code domain: the residual against the
 *      reference (the decoder's reconstruction of the previous frame, which
 *      the encoder keeps identically: closed loop, so no drift), with a dead
 *      zone (a value is updated only when its code moved by more than
 *      `dead_zone` steps) against source noise, updates sent to
 *      `residual_step` codes' precision (the dead zone's tolerance), tiles of
 *      `tile` x `tile` values of one channel skipped when nothing in them is
 *      updated, and optionally a rolling refresh of a few tiles a frame;
 *      intra frames (spatial prediction, every value exact) every `refresh`
 *      frames, on the first frame, and when the caller asks (a loss);
 *   3. an adaptive binary range coder whose contexts come from the channel,
 *      the neighbours' significance in this frame and the same position's
 *      significance in the previous frame (docs/codecs.md says why it is
 *      written here and not taken from a library).
 *
 * The bitstream is in docs/protocol.md ("Temporal feature codec").  The
 * encoder and decoder objects hold one stream's state (reference, contexts,
 * frame number); a session owns one of each per stream.  The decoder trusts
 * nothing: every malformed frame is a GError (SN_ERROR_CORRUPT_PACKET), after
 * which it refuses inter frames until the next intra frame. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-tensor.h>

G_BEGIN_DECLS

#define SN_FCODEC_VERSION 2
#define SN_FCODEC_HEADER_BYTES 18

typedef struct {
  int bits;                 /* 2..8 bits per code */
  int dead_zone;            /* 0..15: update a value only when its code moved by more */
  /* 0..255; a lone value (no neighbour in its channel's 3x3 window moved
   * beyond dead_zone) is updated only when it moved by more than this.
   * Encoder only; the drift bound is MAX (dead_zone, lone_dead_zone). */
  int lone_dead_zone;
  int tile;                 /* 4, 8, 16 or 32: side of a skippable tile */
  int refresh;              /* intra frame every this many frames; 0: only first and on request */
  /* 0..255: rolling refresh period in frames (0: off).  In each inter
   * frame one tile in `rolling` of every channel is coded without dead zone,
   * in turn, so no value stays off by the dead zone for more than `rolling`
   * frames and no frame carries a whole intra frame's spike. */
  int rolling;
  /* 1..2 x dead_zone + 1 (at most 16), or 0: that largest one.  An inter
   * frame's update is sent to this many codes' precision (1: exact), the
   * nearest of dead_zone + 1, dead_zone + 1 + step, ...  The dead zone
   * already leaves values that far off; coarser updates cost fewer
   * magnitude bits (docs/performance.md).  Drift bound:
   * MAX (dead_zone, lone_dead_zone, residual_step - 1). */
  int residual_step;
  gboolean temporal;        /* FALSE: every frame intra (the ablation's "no prediction") */
} SnFcodecConfig;

/* 4 bits, dead zone 1, no lone dead zone, 8x8 tiles, intra every 30
 * frames, no rolling refresh, residual step 0 (2 x dead zone + 1), temporal. */
SN_API void sn_fcodec_config_init (SnFcodecConfig *cfg);

/* What the last frame cost (encoder and decoder alike). */
typedef struct {
  gboolean intra;
  int64_t values;           /* values in the tensor */
  int64_t updated;          /* values whose code was sent as changed (inter) or nonzero residual (intra) */
  int tiles, tiles_coded;   /* tiles in the tensor, tiles not skipped */
  size_t bytes;             /* the coded frame, header included */
} SnFcodecStats;

typedef struct SnFcodecEncoder SnFcodecEncoder;
typedef struct SnFcodecDecoder SnFcodecDecoder;

/* shape: rank 4, 1 x C x H x W, C <= 4096, H and W <= 65535.  lo/hi: C
 * per-channel ranges (hi >= lo, finite), e.g. SnCalibration.clip_min/max. */
SN_API SnFcodecEncoder *sn_fcodec_encoder_new (const SnShape *shape, const float *lo, const float *hi,
    const SnFcodecConfig *cfg, GError **error);
SN_API void sn_fcodec_encoder_free (SnFcodecEncoder *enc);
/* The next frame will be intra (call it when the receiver reported a loss). */
SN_API void sn_fcodec_encoder_request_refresh (SnFcodecEncoder *enc);
/* Appends the coded frame to out.  x: float32 of the encoder's shape. */
SN_API gboolean sn_fcodec_encode (SnFcodecEncoder *enc, const SnTensor *x, GByteArray *out,
    GError **error);
/* The reference after the last frame: one code per value (C*H*W bytes), what
 * the decoder holds when it decoded the same frames. */
SN_API const guint8 *sn_fcodec_encoder_reference (const SnFcodecEncoder *enc);
SN_API void sn_fcodec_encoder_stats (const SnFcodecEncoder *enc, SnFcodecStats *stats);

SN_API SnFcodecDecoder *sn_fcodec_decoder_new (const SnShape *shape, const float *lo, const float *hi,
    GError **error);
SN_API void sn_fcodec_decoder_free (SnFcodecDecoder *dec);
/* Decodes one frame into out (float32 of the decoder's shape).  An inter
 * frame that does not follow the last decoded frame (a frame was lost) or
 * comes after an error is refused: the caller should ask for a refresh. */
SN_API gboolean sn_fcodec_decode (SnFcodecDecoder *dec, const guint8 *data, size_t len, SnTensor *out,
    GError **error);
/* TRUE until an intra frame is decoded, and after any refused frame. */
SN_API gboolean sn_fcodec_decoder_needs_refresh (const SnFcodecDecoder *dec);
SN_API const guint8 *sn_fcodec_decoder_reference (const SnFcodecDecoder *dec);
SN_API void sn_fcodec_decoder_stats (const SnFcodecDecoder *dec, SnFcodecStats *stats);

G_END_DECLS
