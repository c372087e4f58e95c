/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — from cut tensors to a packet and back: the quantization
 * switch, the codecs and the packet format put together.
 *
 * The edge quantizes only the tensors of the cut it runs (per tensor or per
 * channel, 2/4/8 bits, float16 or raw), codes them, and writes one packet.
 * The cloud parses the packet, checks that it was made for its model,
 * finds the cut (by id, checking the shapes; by shapes alone when the id is
 * unknown, patent [0061]), decodes and dequantizes into tensors ready for
 * the cut's cloud segment.  Steady state allocates nothing. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-cut.h>
#include <splitnn/sn-packet.h>
#include <splitnn/sn-image.h>
#include <splitnn/sn-path.h>
#include <splitnn/sn-calib.h>
#include <splitnn/sn-fcodec.h>

G_BEGIN_DECLS

typedef struct SnFeatureEncoder SnFeatureEncoder;
typedef struct SnFeatureDecoder SnFeatureDecoder;

/* Where the quantization ranges come from. */
typedef enum {
  SN_RANGE_FRAME,           /* each frame's own min/max (or clipped range) */
  SN_RANGE_CALIBRATED,      /* the model's stored calibration (sn-calib.h); values outside are clamped */
} SnRangeMode;

typedef struct {
  int bits;                 /* 2, 4, 8, 16, 32 */
  gboolean per_channel;
  double clip;              /* fraction of values kept inside the range; 1 = min/max */
  SnCodec codec;
  int jpeg_quality;
  int zstd_level;
  /* A trained path of the cut (sn-path.h): its tensors go through the
   * path's bottleneck before quantization (ranges then are per channel, as
   * in training) and the cloud restores them.  NULL: plain cut tensors. */
  const SnPath *path;
  /* SN_RANGE_CALIBRATED: per tensor, the stored min over channels to max
   * over channels; per channel, each channel's stored range; the clipped
   * ranges when clip < 1.  A cut tensor without calibration is an error.
   * Ignored for 16/32 bits and for trained paths. */
  SnRangeMode range;
  /* codec SN_CODEC_TEMPORAL (sn-fcodec.h): dead zone, lone dead zone,
   * tile, refresh and temporal; its bits are `bits` above (2..8), its
   * per-channel ranges the stored calibration's (clipped when clip < 1),
   * and it needs range SN_RANGE_CALIBRATED. */
  SnFcodecConfig temporal;
} SnFeatureConfig;

/* "frame" or "calibrated", as the tools, the elements and splitnn.fidelity
 * name the range modes; from_name returns FALSE for any other name. */
SN_API const char *sn_range_name (SnRangeMode r);
SN_API gboolean sn_range_from_name (const char *name, SnRangeMode *out);

SN_API void sn_feature_config_init (SnFeatureConfig *cfg);   /* 8 bits, per tensor, clip 1, lossless, frame ranges; temporal: sn_fcodec_config_init's */


/* The encoder keeps a pointer to model (for its calibration). */
SN_API SnFeatureEncoder *sn_feature_encoder_new (const SnModel *model);
SN_API void sn_feature_encoder_free (SnFeatureEncoder *enc);
/* out is replaced by the packet. */
/* lb (may be NULL) is how the frame became the model input; the cloud
 * uses it to give boxes in source-frame pixels. */
SN_API gboolean sn_feature_encode (SnFeatureEncoder *enc, const SnFeatureConfig *cfg,
    const SnCut *cut, const SnTensor *const *tensors, guint32 stream_id, guint64 seq,
    guint64 pts, const SnLetterbox *lb, GByteArray *out, GError **error);
/* TRUE when the model stores calibration for every tensor of cut (what
 * SN_RANGE_CALIBRATED needs); otherwise the error names the first tensor
 * without. */
SN_API gboolean sn_feature_check_calibration (const SnModel *model, const SnCut *cut, GError **error);

/* The letterbox a packet carries. */
SN_API void sn_packet_letterbox (const SnPacket *p, SnLetterbox *lb);
/* Its inverse: the frame size and geometry of lb into the packet header. */
SN_API void sn_packet_set_letterbox (SnPacket *p, const SnLetterbox *lb);

/* Calibration: runs the network once from @input (the model input, e.g.
 * from sn_detector_preprocess) to every tensor any cut of @cuts sends and
 * codes each cut's packet: bytes[i] (n_cuts entries) is the size cut i
 * would send for this input, 0 where it could not be coded.  Costs about
 * one whole-network run and one encode per cut; gives a planner real
 * packet sizes for every cut instead of guesses.  *run_ms (may be NULL):
 * how long that network run took, a first-run measure of this machine's
 * speed. */
SN_API gboolean sn_feature_measure_cuts (SnModel *model, const SnCutSet *cuts, SnFeatureEncoder *enc,
    const SnFeatureConfig *cfg, const SnTensor *input, const SnLetterbox *lb, int threads,
    double *bytes, double *run_ms, GError **error);

/* ---- The temporal codec's state per stream ----------------------------------
 * Codec SN_CODEC_TEMPORAL codes each cut tensor against the previous frame
 * of the same stream, so each end keeps one of these per stream (the edge
 * and cloud sessions do).  The edge's is made for one cut and setting at a
 * time: a change of either starts again with an intra frame.  Intra frames
 * carry the tensor's C per-channel ranges in the packet, inter frames none. */
typedef struct SnFeatureStreamEncoder SnFeatureStreamEncoder;
typedef struct SnFeatureStreamDecoder SnFeatureStreamDecoder;

SN_API SnFeatureStreamEncoder *sn_feature_stream_encoder_new (void);
SN_API void sn_feature_stream_encoder_free (SnFeatureStreamEncoder *se);
/* The next frame is intra (the receiver lost one, or will see a gap). */
SN_API void sn_feature_stream_encoder_request_refresh (SnFeatureStreamEncoder *se);
/* sn_feature_encode with per-stream state: the only way to code
 * SN_CODEC_TEMPORAL (other codecs ignore se).  *intra (may be NULL): the
 * packet's temporal frames are intra. */
SN_API gboolean sn_feature_encode_stream (SnFeatureEncoder *enc, SnFeatureStreamEncoder *se,
    const SnFeatureConfig *cfg, const SnCut *cut, const SnTensor *const *tensors,
    guint32 stream_id, guint64 seq, guint64 pts, const SnLetterbox *lb, GByteArray *out,
    gboolean *intra, GError **error);

/* Starts needing an intra frame (refuses inter frames until one). */
SN_API SnFeatureStreamDecoder *sn_feature_stream_decoder_new (void);
SN_API void sn_feature_stream_decoder_free (SnFeatureStreamDecoder *sd);
/* Forget the reference: the stream lost a frame, restarted or is new. */
SN_API void sn_feature_stream_decoder_reset (SnFeatureStreamDecoder *sd);
/* TRUE until an intra frame decodes, and after a reset or a refused or bad frame. */
SN_API gboolean sn_feature_stream_decoder_needs_refresh (const SnFeatureStreamDecoder *sd);

/* For sn_feature_decode_stream: the state of the stream packet p belongs
 * to, or NULL with error set to refuse the packet. */
typedef SnFeatureStreamDecoder *(*SnFeatureStreamLookup) (const SnPacket *p, gpointer user,
    GError **error);

SN_API SnFeatureDecoder *sn_feature_decoder_new (const SnModel *model, const SnCutSet *cuts);
/* The model's trained paths, for packets that name one (borrowed; may be NULL). */
SN_API void sn_feature_decoder_set_paths (SnFeatureDecoder *dec, const SnPathSet *paths);
SN_API void sn_feature_decoder_free (SnFeatureDecoder *dec);
/* On success *cut is the packet's cut and tensors[i] (owned by the decoder,
 * valid until the next call) its dequantized tensors in the cut's order. */
SN_API gboolean sn_feature_decode (SnFeatureDecoder *dec, const guint8 *data, size_t len,
    SnPacket *packet, const SnCut **cut, SnTensor *const **tensors, GError **error);
/* The same for packets that may carry temporal frames: after the packet
 * parsed and its cut was found, lookup gives the stream's state.  An inter
 * frame that state cannot decode (reset, new, a frame number that does not
 * follow, an earlier error) is refused with SN_ERROR_NO_REFERENCE and never
 * decoded against a stale reference.  sn_feature_decode refuses temporal
 * frames. */
SN_API gboolean sn_feature_decode_stream (SnFeatureDecoder *dec, SnFeatureStreamLookup lookup,
    gpointer user, const guint8 *data, size_t len, SnPacket *packet, const SnCut **cut,
    SnTensor *const **tensors, GError **error);

G_END_DECLS
