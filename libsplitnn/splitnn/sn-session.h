/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — sessions: the owners of a frame's path through the library.
 *
 * Experimental: may change before 1.0 (docs/architecture.md, "Public API").
 *
 * An edge session takes a frame (or a model input already made from one),
 * runs the network up to the cut an option names, codes the cut's tensors
 * and hands out the packet's bytes.  A cloud session takes packet bytes,
 * decodes them, runs the rest of the network and decodes detections.
 * Both compile a cut's segment the first time they need it and keep it, so
 * a later switch back costs nothing.  Both look the detector's outputs up
 * by name ("keypoints" heatmaps, "wh" box sizes), never by their position
 * in the graph's output list.
 *
 * State that lives per camera stream lives here: the edge session is one
 * stream (its id and the next sequence number); the cloud session keeps a
 * table of streams keyed by stream id, bounded by a cap on their number
 * and an idle timeout (both count what they evict), that notices lost,
 * late and restarted sequences.  Stream state hangs off those two places:
 * a temporal feature coder's reference, cloud-only's video encoder (edge)
 * and decoders (cloud, one per stream).
 *
 * The loopback is one edge and one cloud session in one process, sharing
 * a model and a cut set: frame -> packet bytes -> detections, exactly the
 * bytes the two elements would exchange.  Tools and tests use it.
 *
 * Times: calls that need "now" take it in microseconds of
 * g_get_monotonic_time's clock, so tests can drive time; SN_SESSION_NOW
 * reads the clock.  Timings come back per frame in milliseconds.
 *
 * A session is used from one thread at a time.  The model, and a cut set
 * passed in, are borrowed: they must outlive the session. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-feature.h>
#include <splitnn/sn-detect.h>
#include <splitnn/sn-image.h>
#include <splitnn/sn-option.h>

G_BEGIN_DECLS

/* What the edge does with a frame: an option (sn-option.h names them)
 * bound to the session's cut set.  The sessions run SN_OPTION_CUT and
 * SN_OPTION_EDGE_ONLY (cut and feature unused: the whole network runs on
 * the edge and the packet is the frame's detections record, SNDT with cut
 * id SN_CUT_ID_EDGE_ONLY, docs/protocol.md) and SN_OPTION_CLOUD_ONLY (the
 * packet carries the model input as a coded picture, frame_codec at
 * quality, through the caller's frame coder below; the cloud decodes it
 * with its per-stream decoder and runs the whole network).  SnOptionSpec is the same
 * option named by ids, as the CLI, eval rows and packets name it. */
typedef struct {
  SnOptionKind kind;
  const SnCut *cut;         /* SN_OPTION_CUT: a cut of the session's cut set */
  SnFeatureConfig feature;  /* SN_OPTION_CUT: how the cut's tensors are quantized and coded (and the trained path) */
  SnFrameCodec frame_codec; /* SN_OPTION_CLOUD_ONLY: h264 or jpeg */
  int quality;              /* SN_OPTION_CLOUD_ONLY: QP (h264) or quality (jpeg); 0: the codec's default */
} SnOption;

/* ---- Frame coders: cloud-only's video codec, supplied by the caller ----------
 *
 * A cloud-only option sends the model input (H x W x 3 8-bit RGB, the
 * detector's own resize of the frame) as a coded picture.  libsplitnn links
 * no video codec (the good H.264 encoders are GPL, cameras have their own
 * hardware ones): the caller fills these functions, the sessions call them
 * and own what they make, one encoder per edge session (its stream) and one
 * decoder per cloud stream.  gst-plugins/gstsplitnnframecoder.c implements
 * them with GStreamer elements (x264enc, jpegenc, avdec_h264, jpegdec).
 *
 * encoder_new: a stream's encoder for codec at quality (sn-option.h's
 *   ranges), pictures of width x height.
 * encode: codes one picture (packed RGB, width x 3 bytes a row) and appends
 *   the coded access unit (H.264: Annex-B byte stream, parameter sets in
 *   band at keyframes) to out; key: this picture must be decodable alone.
 * decoder_new, decode: the cloud's side; decode writes the picture into rgb
 *   (width x height x 3), or fails with error set, and must not keep the
 *   caller waiting for a picture that will not come.
 * A failing encode or decode leaves the coder usable: the sessions ask for
 * a keyframe next. */
typedef struct {
  gpointer (*encoder_new) (SnFrameCodec codec, int quality, int width, int height,
      gpointer user_data, GError **error);
  gboolean (*encode) (gpointer encoder, const guint8 *rgb, guint64 pts, gboolean key,
      GByteArray *out, GError **error);
  void (*encoder_free) (gpointer encoder);
  gpointer (*decoder_new) (SnFrameCodec codec, int width, int height, gpointer user_data,
      GError **error);
  gboolean (*decode) (gpointer decoder, const guint8 *data, gsize len, guint8 *rgb,
      GError **error);
  void (*decoder_free) (gpointer decoder);
} SnFrameCoderFuncs;

/* TRUE when the coded picture is decodable alone: an H.264 access unit with
 * an IDR slice; any JPEG.  Also FALSE for H.264 data that is not an Annex-B
 * byte stream with a slice in it. */
SN_API gboolean sn_frame_is_key (SnFrameCodec codec, const guint8 *data, gsize len);

/* A SPLIT option at cut with sn_feature_config_init's coding. */
SN_API void sn_option_init_split (SnOption *opt, const SnCut *cut);

/* For a now_us argument: read g_get_monotonic_time. */
#define SN_SESSION_NOW G_MININT64

/* ---- Edge session ------------------------------------------------------------ */

typedef struct SnEdgeSession SnEdgeSession;

typedef struct {
  double preprocess_ms;     /* frame -> model input; 0 when the input came as a tensor */
  double compile_ms;        /* compiling the cut's edge segment: its first frame only, not in network_ms */
  double network_ms;        /* network up to the cut (edge-only: the whole network) */
  double encode_ms;         /* quantization, coding and packet writing (edge-only: decoding the
                             * heads into detections and writing the record) */
} SnEdgeTimings;

typedef struct {
  guint32 stream_id;
  guint64 seq;
  const SnCut *cut;         /* NULL for edge-only */
  const guint8 *data;       /* the packet; owned by the session, valid until its next frame */
  gsize len;
  SnEdgeTimings timings;
  gboolean intra;           /* codec temporal, cloud-only: the packet is decodable alone */
} SnEdgePacket;

/* model must fit the detector contract (sn-detector.h): the session
 * preprocesses frames as the unsplit detector does.  cuts NULL: the
 * session enumerates and owns the model's cut set. */
SN_API SnEdgeSession *sn_edge_session_new (SnModel *model, SnCutSet *cuts, GError **error);
SN_API void sn_edge_session_free (SnEdgeSession *s);

SN_API SnModel *sn_edge_session_model (SnEdgeSession *s);
SN_API SnCutSet *sn_edge_session_cuts (SnEdgeSession *s);
/* The session's encoder, for sn_feature_measure_cuts (first-frame packet sizing). */
SN_API SnFeatureEncoder *sn_edge_session_encoder (SnEdgeSession *s);
SN_API int sn_edge_session_input_width (const SnEdgeSession *s);
SN_API int sn_edge_session_input_height (const SnEdgeSession *s);

/* Kernel threads of every segment, compiled or not (default 1). */
SN_API void sn_edge_session_set_threads (SnEdgeSession *s, int n_threads);
SN_API int sn_edge_session_get_threads (const SnEdgeSession *s);
SN_API void sn_edge_session_set_engine (SnEdgeSession *s, SnEngine engine);
SN_API void sn_edge_session_set_resize (SnEdgeSession *s, SnResizeMode mode);
/* Threshold, top-K, NMS of the detections an edge-only frame sends
 * (sn_decode_params_init's defaults, as the unsplit detector's). */
SN_API SnDecodeParams *sn_edge_session_decode_params (SnEdgeSession *s);

/* The stream this session is: its id on the wire and the sequence number
 * the next frame gets (default 0 and 0).  Every frame takes the next
 * number, also one that fails, so the cloud sees the gap. */
SN_API void sn_edge_session_set_stream (SnEdgeSession *s, guint32 stream_id, guint64 next_seq);
SN_API guint32 sn_edge_session_stream_id (const SnEdgeSession *s);
SN_API guint64 sn_edge_session_next_seq (const SnEdgeSession *s);

/* Codec temporal (SN_CODEC_TEMPORAL): the session keeps the stream's
 * encoder state (made on the first frame, and again when the cut or the
 * setting changes, which starts with an intra frame).  This makes the next
 * frame intra: call it when the cloud reports a loss or a refused frame.
 * The session also sends an intra frame by itself after any gap the cloud
 * will see (a failed frame, set_stream to another stream or number). */
SN_API void sn_edge_session_request_refresh (SnEdgeSession *s);

/* Cloud-only's encoder (funcs NULL: none; a cloud-only frame then fails
 * with SN_ERROR_UNSUPPORTED).  funcs and user_data must outlive the
 * session.  The encoder is made on the first cloud-only frame and again
 * when the codec or quality changes; a keyframe goes out first, after
 * sn_edge_session_request_refresh and after any gap the cloud will see,
 * as for codec temporal. */
SN_API void sn_edge_session_set_frame_coder (SnEdgeSession *s, const SnFrameCoderFuncs *funcs,
    gpointer user_data);

/* Compiles the cut's edge segment now and runs it once on a blank input
 * (the fast path packs its weights on the first run), so that the first
 * frame at this cut pays nothing extra. */
SN_API gboolean sn_edge_session_prepare (SnEdgeSession *s, const SnCut *cut, GError **error);

/* Frame -> model input (owned by the session, valid until the next call)
 * and its letterbox; what sn_edge_session_process does first. */
SN_API const SnTensor *sn_edge_session_preprocess (SnEdgeSession *s, const SnImage *frame,
    SnLetterbox *lb, GError **error);

/* Frame in, packet out.  pts in ns or SN_PTS_NONE. */
SN_API gboolean sn_edge_session_process (SnEdgeSession *s, const SnOption *opt, const SnImage *frame,
    guint64 pts, SnEdgePacket *out, GError **error);
/* The same from a model input (lb may be NULL: boxes stay in model pixels). */
SN_API gboolean sn_edge_session_process_input (SnEdgeSession *s, const SnOption *opt,
    const SnTensor *input, const SnLetterbox *lb, guint64 pts, SnEdgePacket *out, GError **error);
/* The last frame once more at the same cut with other coding (opt->cut
 * must be that cut): no network run, same sequence number.  For tools
 * that compare codings of one frame. */
SN_API gboolean sn_edge_session_recode (SnEdgeSession *s, const SnOption *opt, SnEdgePacket *out,
    GError **error);

/* First-frame packet sizing: sn_feature_measure_cuts on the session's
 * model, cut set, encoder and thread count (bytes has one entry per cut
 * of the set; see sn-feature.h). */
SN_API gboolean sn_edge_session_measure_cuts (SnEdgeSession *s, const SnFeatureConfig *cfg,
    const SnTensor *input, const SnLetterbox *lb, double *bytes, double *run_ms, GError **error);

/* The last frame's k-th cut tensor, float, as the network computed it
 * (before quantization; owned by the session, valid until its next
 * frame); NULL when the last frame failed or k is out of range. */
SN_API const SnTensor *sn_edge_session_cut_tensor (SnEdgeSession *s, int k);

/* ---- Cloud session ----------------------------------------------------------- */

typedef struct SnCloudSession SnCloudSession;

typedef struct {
  double decode_ms;         /* packet parsing, decoding, dequantization, path restoration */
  double compile_ms;        /* compiling the cut's cloud segment: its first packet only, not in network_ms */
  double network_ms;        /* network from the cut */
  double detect_ms;         /* heads -> detections */
} SnCloudTimings;

/* An edge-only packet (a detections record with cut id
 * SN_CUT_ID_EDGE_ONLY) ran no network here: its cut is NULL, its letterbox
 * and path_name are zero, and of its timings only decode_ms is set.  A
 * cloud-only packet ran the whole network: its cut is NULL, decode_ms is
 * the picture's decoding. */
typedef struct {
  guint32 stream_id;
  guint64 seq;
  guint64 pts;
  const SnCut *cut;         /* NULL for an edge-only packet */
  SnLetterbox letterbox;    /* the frame's, from the packet (zero for edge-only) */
  char path_name[SN_PACKET_MAX_NAME + 1];  /* trained path the feature took; "" for a plain cut */
  SnCloudTimings timings;
  gboolean new_stream;      /* first packet of this stream since the session (or the stream's eviction) began */
  gboolean restarted;       /* seq 0 on a stream that was further: the edge started again */
  guint64 lost;             /* sequence numbers skipped since this stream's previous packet */
  gboolean late;            /* seq not above one already seen on this stream (reordered or repeated) */
  SnOptionKind kind;        /* what the packet was: a cut, edge-only or cloud-only */
} SnCloudFrame;

typedef struct {
  guint streams;            /* live now */
  guint64 packets;          /* processed, detections given */
  guint64 bad_packets;      /* refused with an error */
  guint64 evicted_cap;      /* streams dropped to make room for a new one (least recently seen first) */
  guint64 evicted_idle;     /* streams dropped after the idle timeout */
  guint64 restarts, lost, late;
  /* Codec temporal: packets refused for want of a reference (an inter frame
   * after a loss, a restart, an error, or on a stream new here), until the
   * stream's next intra frame.  No frame is ever decoded against a stale
   * reference; these get no detections and are not in `packets`. */
  guint64 refused;
} SnCloudStats;

#define SN_CLOUD_DEFAULT_MAX_STREAMS 256
#define SN_CLOUD_DEFAULT_IDLE_US (60 * G_USEC_PER_SEC)

/* model must fit the detector contract (sn-detector.h).  cuts NULL: the
 * session enumerates and owns the model's cut set. */
SN_API SnCloudSession *sn_cloud_session_new (SnModel *model, SnCutSet *cuts, GError **error);
SN_API void sn_cloud_session_free (SnCloudSession *s);

SN_API SnCutSet *sn_cloud_session_cuts (SnCloudSession *s);
/* Threshold, top-K, NMS of the detections; change between packets at will. */
SN_API SnDecodeParams *sn_cloud_session_decode_params (SnCloudSession *s);
/* The model's trained paths, for packets that name one (borrowed; may be NULL). */
SN_API void sn_cloud_session_set_paths (SnCloudSession *s, const SnPathSet *paths);
SN_API void sn_cloud_session_set_threads (SnCloudSession *s, int n_threads);
SN_API void sn_cloud_session_set_engine (SnCloudSession *s, SnEngine engine);
/* At most max_streams streams (>= 1), each dropped after idle_us without
 * a packet (<= 0: never).  Defaults above. */
/* Cloud-only's decoders, one per stream (see sn_edge_session_set_frame_coder). */
SN_API void sn_cloud_session_set_frame_coder (SnCloudSession *s, const SnFrameCoderFuncs *funcs,
    gpointer user_data);
SN_API void sn_cloud_session_set_stream_limits (SnCloudSession *s, guint max_streams, gint64 idle_us);

/* Compiles the cut's cloud segment now instead of on its first packet. */
SN_API gboolean sn_cloud_session_prepare (SnCloudSession *s, const SnCut *cut, GError **error);

/* Packet bytes in, detections out (dets' contents replaced).  A feature
 * packet (SNFP) runs the rest of the network; an edge-only detections
 * record (SNDT, cut id SN_CUT_ID_EDGE_ONLY, the session model's
 * fingerprint) runs nothing: its detections, in source pixels as the edge
 * computed them, come back unchanged except that those scoring under this
 * session's threshold are dropped (the threshold is a floor either way;
 * top-K and NMS were the edge's).  Both count in the same stream table.  A bad
 * packet sets error (SN_ERROR_CORRUPT_PACKET, SN_ERROR_MODEL_MISMATCH, ...),
 * is counted, and leaves every stream's state as it was (except that a
 * temporal stream whose frame failed to decode waits for an intra frame).
 * A temporal inter frame without its reference is refused with
 * SN_ERROR_NO_REFERENCE and counted in `refused`; its stream is accounted
 * as for a good packet (frame's stream_id, seq, lost... are set) and the
 * edge should be asked for an intra frame (sn_edge_session_request_refresh). */
SN_API gboolean sn_cloud_session_process (SnCloudSession *s, const guint8 *data, gsize len,
    gint64 now_us, SnCloudFrame *frame, SnDetections *dets, GError **error);
/* A graph output of the last processed packet by name (owned by the
 * session, valid until the next packet); NULL if there is none. */
SN_API const SnTensor *sn_cloud_session_output (SnCloudSession *s, const char *name);
/* Drops the streams idle since before now_us - idle timeout (process does
 * this too); returns how many. */
SN_API guint sn_cloud_session_expire (SnCloudSession *s, gint64 now_us);
SN_API gboolean sn_cloud_session_has_stream (SnCloudSession *s, guint32 stream_id);
SN_API void sn_cloud_session_get_stats (SnCloudSession *s, SnCloudStats *stats);

/* ---- Loopback ---------------------------------------------------------------- */

typedef struct SnLoopback SnLoopback;

/* One edge and one cloud session on model and one cut set (cuts NULL:
 * the loopback's own). */
SN_API SnLoopback *sn_loopback_new (SnModel *model, SnCutSet *cuts, GError **error);
SN_API void sn_loopback_free (SnLoopback *lb);
SN_API SnEdgeSession *sn_loopback_edge (SnLoopback *lb);
SN_API SnCloudSession *sn_loopback_cloud (SnLoopback *lb);

/* Frame -> packet bytes -> detections.  packet and frame_out (either may
 * be NULL) tell what each side did. */
SN_API gboolean sn_loopback_process (SnLoopback *lb, const SnOption *opt, const SnImage *frame,
    guint64 pts, SnDetections *dets, SnEdgePacket *packet, SnCloudFrame *frame_out,
    GError **error);
/* The same from a model input and its letterbox (may be NULL). */
SN_API gboolean sn_loopback_process_input (SnLoopback *lb, const SnOption *opt, const SnTensor *input,
    const SnLetterbox *letterbox, guint64 pts, SnDetections *dets, SnEdgePacket *packet,
    SnCloudFrame *frame_out, GError **error);

G_END_DECLS
