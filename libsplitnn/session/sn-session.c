/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — edge and cloud sessions and the loopback (see sn-session.h). */
#include "splitnn/sn-session.h"

#include <string.h>

#include "splitnn/sn-detector.h"
#include "splitnn/sn-error.h"
#include "splitnn/sn-result.h"

G_STATIC_ASSERT (SN_CUT_ID_CLOUD_ONLY == SN_PACKET_CLOUD_ONLY_CUT_ID);
G_STATIC_ASSERT (SN_FRAME_CODEC_COUNT == SN_PACKET_N_FRAME_CODECS);

/* The detector heads the cloud decodes, by name (sn-detector.h). */
#define HEAT_OUTPUT "keypoints"
#define WH_OUTPUT "wh"

void
sn_option_init_split (SnOption *opt, const SnCut *cut)
{
  memset (opt, 0, sizeof *opt);
  opt->kind = SN_OPTION_CUT;
  opt->cut = cut;
  sn_feature_config_init (&opt->feature);
}

static gint64
resolve_now (gint64 now_us)
{
  return now_us == SN_SESSION_NOW ? g_get_monotonic_time () : now_us;
}

static double
ms_between (gint64 t0, gint64 t1)
{
  return (t1 - t0) / 1000.0;
}

/* Segments per cut, compiled on first use and kept: a cut pointer is
 * stable for the life of its set, also for cuts added later. */
typedef struct {
  GHashTable *by_cut;       /* const SnCut* -> SnSegment* */
  int threads;
  SnEngine engine;
  gboolean engine_set;
} SegmentCache;

static void
cache_init (SegmentCache *c)
{
  c->by_cut = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
      (GDestroyNotify) sn_segment_free);
  c->threads = 1;
}

static void
cache_clear (SegmentCache *c)
{
  g_clear_pointer (&c->by_cut, g_hash_table_unref);
}

static void
cache_configure (SegmentCache *c, SnSegment *seg)
{
  sn_segment_set_threads (seg, c->threads);
  if (c->engine_set)
    sn_segment_set_engine (seg, c->engine);
}

static void
cache_set_threads (SegmentCache *c, int n)
{
  c->threads = MAX (1, n);
  GHashTableIter it;
  gpointer seg;
  g_hash_table_iter_init (&it, c->by_cut);
  while (g_hash_table_iter_next (&it, NULL, &seg))
    sn_segment_set_threads (seg, c->threads);
}

static void
cache_set_engine (SegmentCache *c, SnEngine engine)
{
  c->engine = engine;
  c->engine_set = TRUE;
  GHashTableIter it;
  gpointer seg;
  g_hash_table_iter_init (&it, c->by_cut);
  while (g_hash_table_iter_next (&it, NULL, &seg))
    sn_segment_set_engine (seg, engine);
}

/* The segment cached under key, compiled from the model between the given
 * tensors on first use; *compile_ms (if given) gets what compiling it
 * cost now.  The edge and cloud sessions, per cut and for the whole
 * network, all fill their caches through here. */
static SnSegment *
cache_segment (SegmentCache *c, SnModel *model, gconstpointer key,
    const char *const *inputs, int n_inputs, const char *const *outputs, int n_outputs,
    double *compile_ms, GError **error)
{
  SnSegment *seg = g_hash_table_lookup (c->by_cut, key);
  if (seg)
    return seg;
  gint64 t0 = g_get_monotonic_time ();
  seg = sn_segment_new (model, inputs, n_inputs, outputs, n_outputs, error);
  if (!seg)
    return NULL;
  cache_configure (c, seg);
  g_hash_table_insert (c->by_cut, (gpointer) key, seg);
  if (compile_ms)
    *compile_ms += ms_between (t0, g_get_monotonic_time ());
  return seg;
}

static gboolean
check_cut (SnCutSet *cuts, const SnCut *cut, GError **error)
{
  for (int i = 0; cut && i < sn_cut_set_n_cuts (cuts); i++)
    if (sn_cut_set_get (cuts, i) == cut)
      return TRUE;
  g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
      "cut '%s' is not one of this session's cut set", cut ? cut->name : "(none)");
  return FALSE;
}

/* ---- Edge session ------------------------------------------------------------ */

struct SnEdgeSession {
  SnModel *model;
  SnCutSet *cuts;
  gboolean own_cuts;
  SnDetector *detector;     /* preprocessing, exactly as the unsplit detector does it */
  SegmentCache edge;        /* cut -> segment from the graph inputs to the cut's tensors */
  SnFeatureEncoder *encoder;
  GByteArray *packet;
  /* The stream this session is.  A temporal coder's reference (the last
   * reconstruction it sent) belongs here too. */
  guint32 stream_id;
  guint64 next_seq;
  /* The last frame, for recode: its cut's tensors (in the cut's order)
   * stay valid in the segment until the next run. */
  const SnCut *last_cut;
  const SnTensor *last[SN_PACKET_MAX_TENSORS];
  SnLetterbox last_lb;
  gboolean last_has_lb;
  guint64 last_seq, last_pts;
  gboolean has_last;
  /* Codec temporal: the stream's encoder state (made on first use), and
   * the stream and number its next frame must have for the cloud to see no
   * gap; any other gets an intra frame. */
  SnFeatureStreamEncoder *temporal;
  guint32 temporal_stream;
  guint64 temporal_next_seq;
  /* Cloud-only: the caller's frame coder, the stream's encoder (made on
   * first use, again when codec or quality change), the picture it codes
   * and, as for temporal, the stream and number that need no keyframe. */
  const SnFrameCoderFuncs *coder;
  gpointer coder_data;
  gpointer frame_enc;
  SnFrameCodec frame_codec;
  int frame_quality;
  guint8 *rgb;
  GByteArray *coded;
  gboolean frame_key;       /* the next picture must be a keyframe */
  guint32 frame_stream;
  guint64 frame_next_seq;
};

/* What both sessions start from: the model's detector, and a cut set, the
 * caller's or (cuts NULL) one of their own. */
static gboolean
session_open (SnModel *model, SnCutSet **cuts, gboolean *own_cuts, SnDetector **det,
    GError **error)
{
  if (!(*det = sn_detector_new (model, error)))
    return FALSE;
  *own_cuts = *cuts == NULL;
  if (*own_cuts && !(*cuts = sn_cut_set_new (model, error))) {
    g_clear_pointer (det, sn_detector_free);
    return FALSE;
  }
  return TRUE;
}

SnEdgeSession *
sn_edge_session_new (SnModel *model, SnCutSet *cuts, GError **error)
{
  SnDetector *det;
  gboolean own;
  if (!session_open (model, &cuts, &own, &det, error))
    return NULL;
  SnEdgeSession *s = g_new0 (SnEdgeSession, 1);
  s->model = model;
  s->cuts = cuts;
  s->own_cuts = own;
  s->detector = det;
  cache_init (&s->edge);
  s->encoder = sn_feature_encoder_new (model);
  s->packet = g_byte_array_new ();
  return s;
}

void
sn_edge_session_free (SnEdgeSession *s)
{
  if (!s)
    return;
  cache_clear (&s->edge);
  sn_feature_stream_encoder_free (s->temporal);
  if (s->frame_enc)
    s->coder->encoder_free (s->frame_enc);
  g_free (s->rgb);
  if (s->coded)
    g_byte_array_unref (s->coded);
  sn_feature_encoder_free (s->encoder);
  g_byte_array_unref (s->packet);
  sn_detector_free (s->detector);
  if (s->own_cuts)
    sn_cut_set_free (s->cuts);
  g_free (s);
}

SnModel *sn_edge_session_model (SnEdgeSession *s) { return s->model; }
SnCutSet *sn_edge_session_cuts (SnEdgeSession *s) { return s->cuts; }
SnFeatureEncoder *sn_edge_session_encoder (SnEdgeSession *s) { return s->encoder; }
int sn_edge_session_input_width (const SnEdgeSession *s) { return sn_detector_input_width (s->detector); }
int sn_edge_session_input_height (const SnEdgeSession *s) { return sn_detector_input_height (s->detector); }
int sn_edge_session_get_threads (const SnEdgeSession *s) { return s->edge.threads; }
guint32 sn_edge_session_stream_id (const SnEdgeSession *s) { return s->stream_id; }
guint64 sn_edge_session_next_seq (const SnEdgeSession *s) { return s->next_seq; }

void
sn_edge_session_set_threads (SnEdgeSession *s, int n)
{
  cache_set_threads (&s->edge, n);
  sn_detector_set_threads (s->detector, s->edge.threads);
}

void
sn_edge_session_set_engine (SnEdgeSession *s, SnEngine engine)
{
  cache_set_engine (&s->edge, engine);
}

void
sn_edge_session_set_resize (SnEdgeSession *s, SnResizeMode mode)
{
  sn_detector_set_resize (s->detector, mode);
}

SnDecodeParams *
sn_edge_session_decode_params (SnEdgeSession *s)
{
  return sn_detector_decode_params (s->detector);
}

void
sn_edge_session_set_stream (SnEdgeSession *s, guint32 stream_id, guint64 next_seq)
{
  s->stream_id = stream_id;
  s->next_seq = next_seq;
  s->has_last = FALSE;
}

/* The cut's edge segment; *compile_ms gets what compiling it cost now. */
static SnSegment *
edge_segment (SnEdgeSession *s, const SnCut *cut, double *compile_ms, GError **error)
{
  if (!g_hash_table_contains (s->edge.by_cut, cut) && !check_cut (s->cuts, cut, error))
    return NULL;
  return cache_segment (&s->edge, s->model, cut, NULL, 0, cut->tensors, cut->n_tensors, compile_ms, error);
}

/* The segment's output named name; NULL if it has none. */
static const SnTensor *
output_by_name (const SnSegment *seg, const char *name)
{
  for (int i = 0; i < sn_segment_n_outputs (seg); i++)
    if (g_strcmp0 (sn_segment_output_name (seg, i), name) == 0)
      return sn_segment_output (seg, i);
  return NULL;
}

gboolean
sn_edge_session_prepare (SnEdgeSession *s, const SnCut *cut, GError **error)
{
  static const guint8 black[16 * 16 * 3];
  const SnImage blank = { .format = SN_PIXEL_RGB, .width = 16, .height = 16, .planes = { black },
    .strides = { 16 * 3 } };
  SnLetterbox lb;
  SnSegment *seg = edge_segment (s, cut, NULL, error);
  const SnTensor *x = seg ? sn_detector_preprocess (s->detector, &blank, &lb, error) : NULL;
  s->has_last = FALSE;
  return x && sn_segment_run (seg, &x, error);
}

const SnTensor *
sn_edge_session_preprocess (SnEdgeSession *s, const SnImage *frame, SnLetterbox *lb,
    GError **error)
{
  return sn_detector_preprocess (s->detector, frame, lb, error);
}

static gboolean
check_option (const SnOption *opt, GError **error)
{
  if (opt->kind != SN_OPTION_CUT || !opt->cut) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "an edge session runs split options with a cut, not kind %d", (int) opt->kind);
    return FALSE;
  }
  if (opt->cut->n_tensors > SN_PACKET_MAX_TENSORS) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "cut '%s' has %d tensors; a packet carries at most %d", opt->cut->name,
        opt->cut->n_tensors, SN_PACKET_MAX_TENSORS);
    return FALSE;
  }
  return TRUE;
}

void
sn_edge_session_request_refresh (SnEdgeSession *s)
{
  if (s->temporal)
    sn_feature_stream_encoder_request_refresh (s->temporal);
  s->frame_key = TRUE;
}

void
sn_edge_session_set_frame_coder (SnEdgeSession *s, const SnFrameCoderFuncs *funcs,
    gpointer user_data)
{
  if (s->frame_enc)
    s->coder->encoder_free (s->frame_enc);
  s->frame_enc = NULL;
  s->coder = funcs;
  s->coder_data = user_data;
}

/* Codec temporal: the last frame coded against the stream's previous one. */
static gboolean
encode_last_temporal (SnEdgeSession *s, const SnOption *opt, gboolean *intra, GError **error)
{
  if (!s->temporal)
    s->temporal = sn_feature_stream_encoder_new ();
  else if (s->stream_id != s->temporal_stream || s->last_seq != s->temporal_next_seq)
    sn_feature_stream_encoder_request_refresh (s->temporal);
  s->temporal_stream = s->stream_id;
  s->temporal_next_seq = s->last_seq + 1;
  if (sn_feature_encode_stream (s->encoder, s->temporal, &opt->feature, s->last_cut, s->last,
          s->stream_id, s->last_seq, s->last_pts, s->last_has_lb ? &s->last_lb : NULL, s->packet,
          intra, error))
    return TRUE;
  sn_feature_stream_encoder_request_refresh (s->temporal);
  return FALSE;
}

static gboolean
encode_last (SnEdgeSession *s, const SnOption *opt, SnEdgePacket *out, GError **error)
{
  gint64 t0 = g_get_monotonic_time ();
  gboolean intra = FALSE;
  if (opt->feature.codec == SN_CODEC_TEMPORAL
      ? !encode_last_temporal (s, opt, &intra, error)
      : !sn_feature_encode (s->encoder, &opt->feature, s->last_cut, s->last, s->stream_id,
          s->last_seq, s->last_pts, s->last_has_lb ? &s->last_lb : NULL, s->packet, error))
    return FALSE;
  out->intra = intra;
  out->timings.encode_ms = ms_between (t0, g_get_monotonic_time ());
  out->stream_id = s->stream_id;
  out->seq = s->last_seq;
  out->cut = s->last_cut;
  out->data = s->packet->data;
  out->len = s->packet->len;
  return TRUE;
}

/* ---- Edge-only: the whole network here, the detections record on the wire ---- */

/* The whole network's segment lives in the edge cache under this key (no
 * cut has its address), so thread and engine settings reach it too. */
static const char whole_network_key;

static SnSegment *
whole_segment (SnEdgeSession *s, double *compile_ms, GError **error)
{
  static const char *const heads[] = { HEAT_OUTPUT, WH_OUTPUT };
  return cache_segment (&s->edge, s->model, &whole_network_key, NULL, 0, heads, G_N_ELEMENTS (heads),
      compile_ms, error);
}

/* Runs the whole network, decodes the heads as the unsplit detector does
 * (the session's decode parameters) and writes the frame's detections
 * record (SNDT, sn-result.h) as the packet: a few hundred bytes. */
static gboolean
edge_only_process (SnEdgeSession *s, const SnTensor *input, const SnLetterbox *lb, guint64 seq,
    guint64 pts, SnEdgePacket *out, GError **error)
{
  SnSegment *seg = whole_segment (s, &out->timings.compile_ms, error);
  if (!seg)
    return FALSE;
  gint64 t0 = g_get_monotonic_time ();
  if (!sn_segment_run (seg, &input, error))
    return FALSE;
  out->timings.network_ms = ms_between (t0, g_get_monotonic_time ());
  t0 = g_get_monotonic_time ();
  const SnTensor *heat = output_by_name (seg, HEAT_OUTPUT), *wh = output_by_name (seg, WH_OUTPUT);
  SnDetections dets;
  sn_detections_init (&dets);
  gboolean ok = heat && wh && sn_detector_decode (s->detector, heat, wh, lb, &dets, error);
  if (ok) {
    SnResultHeader h;
    sn_result_header_init (&h);
    h.stream_id = s->stream_id;
    h.seq = seq;
    h.pts = pts;
    h.cut_id = SN_CUT_ID_EDGE_ONLY;
    h.time_us = g_get_real_time ();
    /* The cloud refuses another model's detections, as it does features. */
    sn_fingerprint_from_hex (sn_model_fingerprint (s->model), h.fingerprint);
    sn_result_serialize (SN_RESULT_BINARY, &h, &dets, s->packet);
    out->timings.encode_ms = ms_between (t0, g_get_monotonic_time ());
    out->stream_id = s->stream_id;
    out->seq = seq;
    out->data = s->packet->data;
    out->len = s->packet->len;
  } else if (!heat || !wh) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL, "the model has no '%s' or '%s' output",
        HEAT_OUTPUT, WH_OUTPUT);
  }
  sn_detections_clear (&dets);
  return ok;
}

/* ---- Cloud-only: the model input as a coded picture ------------------------ */

/* Walks the Annex-B NAL units of data: FALSE unless it starts with a start
 * code and holds a slice; *has_idr when one of them is an IDR slice. */
static gboolean
h264_scan (const guint8 *data, gsize len, gboolean *has_idr)
{
  gboolean slice = FALSE, started = FALSE;
  *has_idr = FALSE;
  for (gsize i = 0; i + 3 < len; i++) {
    if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1) {
      if (!started && i > 1)    /* garbage before the first start code */
        return FALSE;
      started = TRUE;
      guint8 h = data[i + 3];
      int type = h & 0x1f;
      if (h & 0x80)             /* forbidden_zero_bit */
        return FALSE;
      if (type == 1 || type == 5)
        slice = TRUE;
      if (type == 5)
        *has_idr = TRUE;
      i += 2;
    }
  }
  return started && slice;
}

gboolean
sn_frame_is_key (SnFrameCodec codec, const guint8 *data, gsize len)
{
  gboolean idr;
  if (codec == SN_FRAME_CODEC_JPEG)
    return len >= 4 && data[0] == 0xff && data[1] == 0xd8;
  return h264_scan (data, len, &idr) && idr;
}

/* The coded data is of its codec's form at all (a cheap check made before
 * a decoder sees it: foreign bytes must not reach one). */
static gboolean
frame_data_valid (SnFrameCodec codec, const guint8 *data, gsize len)
{
  gboolean idr;
  if (codec == SN_FRAME_CODEC_JPEG)
    return len >= 4 && data[0] == 0xff && data[1] == 0xd8 && data[len - 2] == 0xff
        && data[len - 1] == 0xd9;
  return h264_scan (data, len, &idr);
}

static int
option_quality (const SnOption *opt)
{
  return opt->quality ? opt->quality : sn_frame_codec_default_quality (opt->frame_codec);
}

/* The model input (1 x H x W x 3 float, 0-255: the detector's own
 * preprocessing) as 8-bit RGB, coded by the stream's encoder, written as a
 * cloud-only packet. */
static gboolean
cloud_only_process (SnEdgeSession *s, const SnOption *opt, const SnTensor *input,
    const SnLetterbox *lb, guint64 seq, guint64 pts, SnEdgePacket *out, GError **error)
{
  int quality = option_quality (opt);
  int w = sn_detector_input_width (s->detector), h = sn_detector_input_height (s->detector);
  if (!s->coder) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED, "cloud-only needs a frame coder "
        "(sn_edge_session_set_frame_coder): libsplitnn codes no video itself");
    return FALSE;
  }
  if (!sn_frame_codec_quality_valid (opt->frame_codec, quality)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "cloud-only: quality %d is out of "
        "range for %s", quality, sn_frame_codec_name (opt->frame_codec));
    return FALSE;
  }
  if (input->shape.rank != 4 || input->shape.dims[0] != 1 || input->shape.dims[1] != h
      || input->shape.dims[2] != w || input->shape.dims[3] != 3 || input->dtype != SN_DTYPE_FLOAT32) {
    g_set_error (error, SN_ERROR, SN_ERROR_SHAPE, "cloud-only codes a 1 x %d x %d x 3 float "
        "model input", h, w);
    return FALSE;
  }
  gint64 t0 = g_get_monotonic_time ();
  if (s->frame_enc && (s->frame_codec != opt->frame_codec || s->frame_quality != quality)) {
    s->coder->encoder_free (s->frame_enc);
    s->frame_enc = NULL;
  }
  if (!s->frame_enc) {
    if (!(s->frame_enc = s->coder->encoder_new (opt->frame_codec, quality, w, h, s->coder_data,
                error)))
      return FALSE;
    s->frame_codec = opt->frame_codec;
    s->frame_quality = quality;
    s->frame_key = TRUE;
  }
  if (!s->rgb) {
    s->rgb = g_malloc ((gsize) w * h * 3);
    s->coded = g_byte_array_new ();
  }
  /* A gap the cloud will see (another stream, a skipped number) needs a
   * keyframe: the cloud refuses a predicted picture after one. */
  if (s->stream_id != s->frame_stream || seq != s->frame_next_seq)
    s->frame_key = TRUE;
  s->frame_stream = s->stream_id;
  s->frame_next_seq = seq + 1;
  const float *x = input->data;
  for (gsize i = 0, n = (gsize) w * h * 3; i < n; i++)
    s->rgb[i] = (guint8) CLAMP (x[i] + 0.5f, 0.0f, 255.0f);
  gboolean want_key = s->frame_key;
  g_byte_array_set_size (s->coded, 0);
  if (!s->coder->encode (s->frame_enc, s->rgb, pts, want_key, s->coded, error)) {
    s->frame_key = TRUE;
    return FALSE;
  }
  if (s->coded->len == 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "cloud-only: the %s encoder gave no picture for "
        "frame %" G_GUINT64_FORMAT, sn_frame_codec_name (opt->frame_codec), seq);
    s->frame_key = TRUE;
    return FALSE;
  }
  gboolean key = sn_frame_is_key (opt->frame_codec, s->coded->data, s->coded->len);
  if (want_key && !key) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "cloud-only: the %s encoder did not make frame %"
        G_GUINT64_FORMAT " a keyframe when asked", sn_frame_codec_name (opt->frame_codec), seq);
    return FALSE;
  }
  s->frame_key = FALSE;
  SnPacket p;
  memset (&p, 0, sizeof p);
  p.stream_id = s->stream_id;
  p.seq = seq;
  p.pts = pts;
  sn_fingerprint_from_hex (sn_model_fingerprint (s->model), p.fingerprint);
  p.cut_id = SN_CUT_ID_CLOUD_ONLY;
  SnLetterbox identity = { 1, 1, 0, 0, w, h };
  if (!lb)
    lb = &identity;
  sn_packet_set_letterbox (&p, lb);
  g_strlcpy (p.cut_name, SN_OPTION_CLOUD_ONLY_NAME, sizeof p.cut_name);
  p.n_tensors = 1;
  SnPacketTensor *t = &p.tensors[0];
  g_strlcpy (t->name, "frame", sizeof t->name);
  t->shape = (SnShape) { .rank = 4, .dims = { 1, h, w, 3 } };
  t->bits = 8;
  t->codec = (SnCodec) (SN_PACKET_CODEC_FRAME + opt->frame_codec);
  t->payload = s->coded->data;
  t->payload_len = s->coded->len;
  sn_packet_write (&p, s->packet);
  out->timings.encode_ms = ms_between (t0, g_get_monotonic_time ());
  out->intra = key;
  out->stream_id = s->stream_id;
  out->seq = seq;
  out->data = s->packet->data;
  out->len = s->packet->len;
  return TRUE;
}

gboolean
sn_edge_session_process_input (SnEdgeSession *s, const SnOption *opt, const SnTensor *input,
    const SnLetterbox *lb, guint64 pts, SnEdgePacket *out, GError **error)
{
  memset (out, 0, sizeof *out);
  /* The number is taken even when the frame fails: the cloud then sees a
   * gap where a frame was lost, not a silent renumbering. */
  guint64 seq = s->next_seq++;
  s->has_last = FALSE;
  if (opt->kind == SN_OPTION_EDGE_ONLY)
    return edge_only_process (s, input, lb, seq, pts, out, error);
  if (opt->kind == SN_OPTION_CLOUD_ONLY)
    return cloud_only_process (s, opt, input, lb, seq, pts, out, error);
  if (!check_option (opt, error))
    return FALSE;
  const SnCut *cut = opt->cut;
  SnSegment *seg = edge_segment (s, cut, &out->timings.compile_ms, error);
  if (!seg)
    return FALSE;
  gint64 t0 = g_get_monotonic_time ();
  if (!sn_segment_run (seg, &input, error))
    return FALSE;
  out->timings.network_ms = ms_between (t0, g_get_monotonic_time ());
  for (int k = 0; k < cut->n_tensors; k++)
    if (!(s->last[k] = output_by_name (seg, cut->tensors[k]))) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "the edge segment of cut '%s' has no output '%s'", cut->name, cut->tensors[k]);
      return FALSE;
    }
  s->last_cut = cut;
  s->last_has_lb = lb != NULL;
  if (lb)
    s->last_lb = *lb;
  s->last_seq = seq;
  s->last_pts = pts;
  s->has_last = TRUE;
  return encode_last (s, opt, out, error);
}

gboolean
sn_edge_session_process (SnEdgeSession *s, const SnOption *opt, const SnImage *frame,
    guint64 pts, SnEdgePacket *out, GError **error)
{
  SnLetterbox lb;
  gint64 t0 = g_get_monotonic_time ();
  const SnTensor *x = sn_detector_preprocess (s->detector, frame, &lb, error);
  if (!x) {
    memset (out, 0, sizeof *out);
    s->next_seq++;
    s->has_last = FALSE;
    return FALSE;
  }
  double pre_ms = ms_between (t0, g_get_monotonic_time ());
  gboolean ok = sn_edge_session_process_input (s, opt, x, &lb, pts, out, error);
  out->timings.preprocess_ms = pre_ms;
  return ok;
}

gboolean
sn_edge_session_recode (SnEdgeSession *s, const SnOption *opt, SnEdgePacket *out,
    GError **error)
{
  memset (out, 0, sizeof *out);
  if (!check_option (opt, error))
    return FALSE;
  if (opt->feature.codec == SN_CODEC_TEMPORAL) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "recode: codec temporal codes a stream's frames in order, once each");
    return FALSE;
  }
  if (!s->has_last || opt->cut != s->last_cut) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "recode needs the last frame to have run at cut '%s'", opt->cut->name);
    return FALSE;
  }
  return encode_last (s, opt, out, error);
}

gboolean
sn_edge_session_measure_cuts (SnEdgeSession *s, const SnFeatureConfig *cfg,
    const SnTensor *input, const SnLetterbox *lb, double *bytes, double *run_ms, GError **error)
{
  return sn_feature_measure_cuts (s->model, s->cuts, s->encoder, cfg, input, lb, s->edge.threads,
      bytes, run_ms, error);
}

const SnTensor *
sn_edge_session_cut_tensor (SnEdgeSession *s, int k)
{
  return s->has_last && k >= 0 && k < s->last_cut->n_tensors ? s->last[k] : NULL;
}

/* ---- Cloud session ----------------------------------------------------------- */

/* What the cloud knows of one stream.  A temporal decoder's previous
 * reconstruction and a cloud-only option's video decoder go here; free
 * them in stream_free. */
typedef struct {
  guint32 id;
  guint64 next_seq;         /* one above the highest seen */
  gint64 last_seen_us;
  guint64 packets;
  SnFeatureStreamDecoder *temporal;   /* codec temporal's reference; made on first use */
  /* Cloud-only: the stream's picture decoder (the session's frame coder),
   * its codec, and whether it lacks its reference (a loss, an error) and
   * so takes only a keyframe next. */
  gpointer frame_dec;
  const SnFrameCoderFuncs *frame_coder;
  SnFrameCodec frame_codec;
  gboolean frame_need_key;
} CloudStream;

static void
stream_free (CloudStream *st)
{
  sn_feature_stream_decoder_free (st->temporal);
  if (st->frame_dec)
    st->frame_coder->decoder_free (st->frame_dec);
  g_free (st);
}

struct SnCloudSession {
  SnModel *model;
  SnCutSet *cuts;
  gboolean own_cuts;
  SnDetector *detector;     /* decode parameters (stride from the model) and decoding */
  SnFeatureDecoder *decoder;
  SegmentCache cloud;       /* cut -> segment from the cut's tensors to the graph outputs */
  SnSegment *last;          /* of the last processed packet */
  GHashTable *streams;      /* stream id -> CloudStream* */
  guint max_streams;
  gint64 idle_us;
  SnCloudStats stats;
  /* Codec temporal: the state a stream new here decodes with; it moves into
   * the stream once the stream's first packet is accounted (a bad packet
   * must not make a stream).  spare_used: the packet in hand took it. */
  SnFeatureStreamDecoder *spare;
  gboolean spare_used;
  /* Cloud-only: the caller's frame coder; the whole network's segment (in
   * the cloud cache, under whole_network_key); the decoded picture and the
   * model input made from it. */
  const SnFrameCoderFuncs *coder;
  gpointer coder_data;
  guint8 *rgb;
  SnTensor *frame_input;
};

SnCloudSession *
sn_cloud_session_new (SnModel *model, SnCutSet *cuts, GError **error)
{
  SnDetector *det;
  gboolean own;
  if (!session_open (model, &cuts, &own, &det, error))
    return NULL;
  SnCloudSession *s = g_new0 (SnCloudSession, 1);
  s->model = model;
  s->cuts = cuts;
  s->own_cuts = own;
  s->detector = det;
  s->decoder = sn_feature_decoder_new (model, cuts);
  cache_init (&s->cloud);
  s->streams = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
      (GDestroyNotify) stream_free);
  s->max_streams = SN_CLOUD_DEFAULT_MAX_STREAMS;
  s->idle_us = SN_CLOUD_DEFAULT_IDLE_US;
  return s;
}

void
sn_cloud_session_free (SnCloudSession *s)
{
  if (!s)
    return;
  g_hash_table_unref (s->streams);
  sn_feature_stream_decoder_free (s->spare);
  g_free (s->rgb);
  sn_tensor_free (s->frame_input);
  cache_clear (&s->cloud);
  sn_feature_decoder_free (s->decoder);
  sn_detector_free (s->detector);
  if (s->own_cuts)
    sn_cut_set_free (s->cuts);
  g_free (s);
}

SnCutSet *sn_cloud_session_cuts (SnCloudSession *s) { return s->cuts; }
SnDecodeParams *sn_cloud_session_decode_params (SnCloudSession *s) { return sn_detector_decode_params (s->detector); }

void
sn_cloud_session_set_paths (SnCloudSession *s, const SnPathSet *paths)
{
  sn_feature_decoder_set_paths (s->decoder, paths);
}

void
sn_cloud_session_set_threads (SnCloudSession *s, int n)
{
  cache_set_threads (&s->cloud, n);
}

void
sn_cloud_session_set_engine (SnCloudSession *s, SnEngine engine)
{
  cache_set_engine (&s->cloud, engine);
}

void
sn_cloud_session_set_frame_coder (SnCloudSession *s, const SnFrameCoderFuncs *funcs,
    gpointer user_data)
{
  /* Decoders made by the previous coder go with it. */
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, s->streams);
  while (g_hash_table_iter_next (&it, NULL, &v)) {
    CloudStream *st = v;
    if (st->frame_dec)
      st->frame_coder->decoder_free (st->frame_dec);
    st->frame_dec = NULL;
    st->frame_need_key = TRUE;
  }
  s->coder = funcs;
  s->coder_data = user_data;
}

void
sn_cloud_session_set_stream_limits (SnCloudSession *s, guint max_streams, gint64 idle_us)
{
  s->max_streams = MAX (1, max_streams);
  s->idle_us = idle_us;
}

static SnSegment *
cloud_segment (SnCloudSession *s, const SnCut *cut, double *compile_ms, GError **error)
{
  if (!g_hash_table_contains (s->cloud.by_cut, cut) && !check_cut (s->cuts, cut, error))
    return NULL;
  /* All graph outputs, as the unsplit model computes them; the heads are
   * then found by name, whatever order the graph lists its outputs in. */
  return cache_segment (&s->cloud, s->model, cut, cut->tensors, cut->n_tensors, NULL, 0, compile_ms, error);
}

gboolean
sn_cloud_session_prepare (SnCloudSession *s, const SnCut *cut, GError **error)
{
  return cloud_segment (s, cut, NULL, error) != NULL;
}

guint
sn_cloud_session_expire (SnCloudSession *s, gint64 now_us)
{
  if (s->idle_us <= 0)
    return 0;
  now_us = resolve_now (now_us);
  guint n = 0;
  GHashTableIter it;
  gpointer v;
  g_hash_table_iter_init (&it, s->streams);
  while (g_hash_table_iter_next (&it, NULL, &v))
    if (now_us - ((CloudStream *) v)->last_seen_us > s->idle_us) {
      g_hash_table_iter_remove (&it);
      n++;
    }
  s->stats.evicted_idle += n;
  return n;
}

/* The stream's state, made (evicting the least recently seen stream when
 * the table is full) if it has none. */
static CloudStream *
stream_get (SnCloudSession *s, guint32 id, gboolean *created)
{
  CloudStream *st = g_hash_table_lookup (s->streams, GUINT_TO_POINTER (id));
  *created = st == NULL;
  if (st)
    return st;
  if (g_hash_table_size (s->streams) >= s->max_streams) {
    CloudStream *oldest = NULL;
    GHashTableIter it;
    gpointer v;
    g_hash_table_iter_init (&it, s->streams);
    while (g_hash_table_iter_next (&it, NULL, &v))
      if (!oldest || ((CloudStream *) v)->last_seen_us < oldest->last_seen_us
          || (((CloudStream *) v)->last_seen_us == oldest->last_seen_us
              && ((CloudStream *) v)->id < oldest->id))
        oldest = v;
    g_hash_table_remove (s->streams, GUINT_TO_POINTER (oldest->id));
    s->stats.evicted_cap++;
  }
  st = g_new0 (CloudStream, 1);
  st->id = id;
  g_hash_table_insert (s->streams, GUINT_TO_POINTER (id), st);
  return st;
}

/* Sequence bookkeeping of a packet that decoded and ran. */
static void
stream_account (SnCloudSession *s, CloudStream *st, gboolean created, guint64 seq,
    gint64 now_us, SnCloudFrame *f)
{
  f->new_stream = created;
  if (created) {
    /* nothing to compare with */
  } else if (seq == 0 && st->next_seq > 1) {
    /* An edge numbers from 0 when it starts: a restart, not 10^k late packets. */
    f->restarted = TRUE;
    s->stats.restarts++;
  } else if (seq >= st->next_seq) {
    f->lost = seq - st->next_seq;
    s->stats.lost += f->lost;
  } else {
    f->late = TRUE;
    s->stats.late++;
  }
  if (created || f->restarted || seq >= st->next_seq)
    st->next_seq = seq + 1;
  st->last_seen_us = now_us;
  st->packets++;
}

/* An edge-only packet: the detections record the edge made.  Checked as a
 * feature packet is (parse, model fingerprint), then counted in the same
 * stream table; no network runs. */
static gboolean
cloud_edge_only (SnCloudSession *s, const guint8 *data, gsize len, gint64 now_us,
    SnCloudFrame *f, SnDetections *dets, GError **error)
{
  gint64 t0 = g_get_monotonic_time ();
  SnResultHeader h;
  SnDetections got;
  f->kind = SN_OPTION_EDGE_ONLY;
  sn_detections_init (&got);
  guint8 fp[32];
  sn_fingerprint_from_hex (sn_model_fingerprint (s->model), fp);
  gboolean ok = sn_result_parse (data, len, &h, &got, error);
  if (ok && h.cut_id != SN_CUT_ID_EDGE_ONLY) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "detections record %" G_GUINT64_FORMAT " of stream %u has cut id %u; a cloud takes only "
        "edge-only records (cut id %u)", h.seq, h.stream_id, h.cut_id, SN_CUT_ID_EDGE_ONLY);
    ok = FALSE;
  } else if (ok && memcmp (h.fingerprint, fp, 32) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_MODEL_MISMATCH,
        "edge-only record %" G_GUINT64_FORMAT " of stream %u was made %s", h.seq, h.stream_id,
        sn_result_has_fingerprint (&h) ? "by another model" : "by an unnamed model (no fingerprint)");
    ok = FALSE;
  }
  if (ok) {
    /* The threshold is a floor here as on the split path; the rest of the
     * decoding (top-K, NMS) was the edge's. */
    float threshold = sn_detector_decode_params (s->detector)->threshold;
    dets->n = 0;
    for (int i = 0; i < got.n; i++)
      if (got.items[i].score >= threshold)
        sn_detections_add (dets, &got.items[i]);
    f->timings.decode_ms = ms_between (t0, g_get_monotonic_time ());
    f->stream_id = h.stream_id;
    f->seq = h.seq;
    f->pts = h.pts;
    gboolean created;
    CloudStream *st = stream_get (s, h.stream_id, &created);
    stream_account (s, st, created, h.seq, now_us, f);
    s->stats.packets++;
  } else {
    s->stats.bad_packets++;
  }
  sn_detections_clear (&got);
  return ok;
}

/* sn_feature_decode_stream's lookup: the temporal state of packet p's
 * stream, forgotten when the packet shows that the stream lost a frame or
 * restarted; a late packet is refused (its frame is older than the
 * reference). */
static SnFeatureStreamDecoder *
temporal_of (const SnPacket *p, gpointer user, GError **error)
{
  SnCloudSession *s = user;
  CloudStream *st = g_hash_table_lookup (s->streams, GUINT_TO_POINTER (p->stream_id));
  if (!st) {
    if (!s->spare)
      s->spare = sn_feature_stream_decoder_new ();
    sn_feature_stream_decoder_reset (s->spare);
    s->spare_used = TRUE;
    return s->spare;
  }
  if (!st->temporal)
    st->temporal = sn_feature_stream_decoder_new ();
  if ((p->seq == 0 && st->next_seq > 1) || p->seq > st->next_seq)
    sn_feature_stream_decoder_reset (st->temporal);
  else if (p->seq < st->next_seq) {
    g_set_error (error, SN_ERROR, SN_ERROR_NO_REFERENCE, "packet %" G_GUINT64_FORMAT
        " of stream %u is late (the stream is at %" G_GUINT64_FORMAT "): a temporal frame older "
        "than the reference", p->seq, p->stream_id, st->next_seq - 1);
    return NULL;
  }
  return st->temporal;
}

/* A packet that got through decoding, or was refused for want of a
 * reference: its stream is made (taking the spare temporal state the
 * packet used) and accounted. */
static void
stream_take (SnCloudSession *s, const SnPacket *p, gint64 now_us, SnCloudFrame *f)
{
  gboolean created;
  CloudStream *st = stream_get (s, p->stream_id, &created);
  if (created && s->spare_used) {
    st->temporal = s->spare;
    s->spare = NULL;
  }
  stream_account (s, st, created, p->seq, now_us, f);
  f->stream_id = p->stream_id;
  f->seq = p->seq;
  f->pts = p->pts;
}

/* The cut id of an SNFP packet, read at its fixed place (docs/protocol.md)
 * to route it before it is parsed; G_MAXUINT32 when too short. */
static guint32
peek_cut_id (const guint8 *data, gsize len)
{
  if (len < 88)
    return G_MAXUINT32;
  return (guint32) data[84] | (guint32) data[85] << 8 | (guint32) data[86] << 16
      | (guint32) data[87] << 24;
}

static gboolean
cloud_whole_network (SnCloudSession *s, const SnLetterbox *lb, SnCloudFrame *f,
    SnDetections *dets, GError **error)
{
  static const char *const heads[] = { HEAT_OUTPUT, WH_OUTPUT };
  SnSegment *seg = cache_segment (&s->cloud, s->model, &whole_network_key, NULL, 0, heads,
      G_N_ELEMENTS (heads), &f->timings.compile_ms, error);
  if (!seg)
    return FALSE;
  gint64 t0 = g_get_monotonic_time ();
  const SnTensor *in = s->frame_input;
  if (!sn_segment_run (seg, &in, error))
    return FALSE;
  f->timings.network_ms = ms_between (t0, g_get_monotonic_time ());
  s->last = seg;
  t0 = g_get_monotonic_time ();
  const SnTensor *heat = output_by_name (seg, HEAT_OUTPUT), *wh = output_by_name (seg, WH_OUTPUT);
  if (!heat || !wh) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL, "the model has no '%s' or '%s' output",
        HEAT_OUTPUT, WH_OUTPUT);
    return FALSE;
  }
  if (!sn_detector_decode (s->detector, heat, wh, lb, dets, error))
    return FALSE;
  f->timings.detect_ms = ms_between (t0, g_get_monotonic_time ());
  return TRUE;
}

/* A cloud-only packet: one coded picture of the model input.  Checked
 * (parse, fingerprint, the model's input size, the codec's form) before a
 * decoder sees it; a predicted picture is decoded only by a stream whose
 * decoder holds its reference, else refused (SN_ERROR_NO_REFERENCE, as a
 * temporal inter frame) until a keyframe.  A picture that fails to decode
 * is a bad packet of its stream alone: that stream's decoder is dropped and
 * waits for a keyframe; other streams are untouched. */
static gboolean
cloud_only (SnCloudSession *s, const guint8 *data, gsize len, gint64 now_us, SnCloudFrame *f,
    SnDetections *dets, GError **error)
{
  gint64 t0 = g_get_monotonic_time ();
  SnPacket p;
  guint8 fp[32];
  int w = sn_detector_input_width (s->detector), h = sn_detector_input_height (s->detector);
  f->kind = SN_OPTION_CLOUD_ONLY;
  if (!sn_packet_parse (data, len, &p, error))
    goto bad;
  sn_fingerprint_from_hex (sn_model_fingerprint (s->model), fp);
  if (memcmp (p.fingerprint, fp, 32) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_MODEL_MISMATCH, "cloud-only packet %" G_GUINT64_FORMAT
        " of stream %u was made for another model", p.seq, p.stream_id);
    goto bad;
  }
  const SnPacketTensor *t = &p.tensors[0];
  SnFrameCodec codec = (SnFrameCodec) (t->codec - SN_PACKET_CODEC_FRAME);
  if (t->shape.dims[1] != h || t->shape.dims[2] != w) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "cloud-only packet %" G_GUINT64_FORMAT
        " of stream %u carries a %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT " picture; the model "
        "takes %dx%d", p.seq, p.stream_id, (gint64) t->shape.dims[2], (gint64) t->shape.dims[1],
        w, h);
    goto bad;
  }
  if (!frame_data_valid (codec, t->payload, t->payload_len)) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "cloud-only packet %" G_GUINT64_FORMAT
        " of stream %u: its %u bytes are not %s", p.seq, p.stream_id, t->payload_len,
        codec == SN_FRAME_CODEC_H264 ? "an H.264 byte stream with a slice" : "a JPEG picture");
    goto bad;
  }
  if (!s->coder) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED, "cloud-only packet %" G_GUINT64_FORMAT
        " of stream %u: this cloud session has no frame coder (sn_cloud_session_set_frame_coder)",
        p.seq, p.stream_id);
    goto bad;
  }
  gboolean key = sn_frame_is_key (codec, t->payload, t->payload_len);
  CloudStream *st = g_hash_table_lookup (s->streams, GUINT_TO_POINTER (p.stream_id));
  /* What the stream's decoder holds is the reference of this picture only
   * when nothing was lost or restarted in between and the codec is the
   * same. */
  gboolean continues = st && st->frame_dec && !st->frame_need_key && st->frame_codec == codec
      && p.seq == st->next_seq;
  if (!key && !continues) {
    if (st && p.seq < st->next_seq && !(p.seq == 0 && st->next_seq > 1))
      g_set_error (error, SN_ERROR, SN_ERROR_NO_REFERENCE, "cloud-only packet %" G_GUINT64_FORMAT
          " of stream %u is late (the stream is at %" G_GUINT64_FORMAT "): a predicted picture "
          "older than the decoder's reference", p.seq, p.stream_id, st->next_seq - 1);
    else
      g_set_error (error, SN_ERROR, SN_ERROR_NO_REFERENCE, "cloud-only packet %" G_GUINT64_FORMAT
          " of stream %u is a predicted picture without its reference (a loss, a restart, or the "
          "stream's start here): waiting for a keyframe", p.seq, p.stream_id);
    gboolean created;
    st = stream_get (s, p.stream_id, &created);
    stream_account (s, st, created, p.seq, now_us, f);
    st->frame_need_key = TRUE;
    f->stream_id = p.stream_id;
    f->seq = p.seq;
    f->pts = p.pts;
    s->stats.refused++;
    return FALSE;
  }
  /* The decoder: the stream's own, or (a keyframe after a loss, another
   * codec, a stream new here) a fresh one. */
  gpointer dec = NULL;
  if (st && st->frame_dec && st->frame_codec == codec && st->frame_coder == s->coder
      && (continues || key)) {
    dec = st->frame_dec;
    st->frame_dec = NULL;
  }
  if (!dec && !(dec = s->coder->decoder_new (codec, w, h, s->coder_data, error)))
    goto bad;
  if (!s->rgb) {
    s->rgb = g_malloc ((gsize) w * h * 3);
    SnShape shape = { .rank = 4, .dims = { 1, h, w, 3 } };
    s->frame_input = sn_tensor_new (SN_DTYPE_FLOAT32, &shape);
  }
  if (!s->coder->decode (dec, t->payload, t->payload_len, s->rgb, error)) {
    s->coder->decoder_free (dec);
    if (st)
      st->frame_need_key = TRUE;
    goto bad;
  }
  /* The decoded picture is the stream's reference from now on. */
  gboolean created;
  st = stream_get (s, p.stream_id, &created);
  if (st->frame_dec)
    st->frame_coder->decoder_free (st->frame_dec);
  st->frame_dec = dec;
  st->frame_coder = s->coder;
  st->frame_codec = codec;
  st->frame_need_key = FALSE;
  float *x = s->frame_input->data;
  for (gsize i = 0, n = (gsize) w * h * 3; i < n; i++)
    x[i] = s->rgb[i];
  f->timings.decode_ms = ms_between (t0, g_get_monotonic_time ());
  sn_packet_letterbox (&p, &f->letterbox);
  stream_account (s, st, created, p.seq, now_us, f);
  f->stream_id = p.stream_id;
  f->seq = p.seq;
  f->pts = p.pts;
  if (!cloud_whole_network (s, &f->letterbox, f, dets, error))
    goto bad;
  s->stats.packets++;
  return TRUE;

bad:
  s->last = NULL;
  s->stats.bad_packets++;
  return FALSE;
}

gboolean
sn_cloud_session_process (SnCloudSession *s, const guint8 *data, gsize len, gint64 now_us,
    SnCloudFrame *f, SnDetections *dets, GError **error)
{
  memset (f, 0, sizeof *f);
  now_us = resolve_now (now_us);
  sn_cloud_session_expire (s, now_us);
  s->last = NULL;
  if (len >= 4 && memcmp (data, SN_RESULT_MAGIC, 4) == 0)
    return cloud_edge_only (s, data, len, now_us, f, dets, error);
  if (peek_cut_id (data, len) == SN_CUT_ID_CLOUD_ONLY)
    return cloud_only (s, data, len, now_us, f, dets, error);
  SnPacket p;
  const SnCut *cut = NULL;
  SnTensor *const *mid = NULL;
  gint64 t0 = g_get_monotonic_time ();
  GError *derr = NULL;
  s->spare_used = FALSE;
  if (!sn_feature_decode_stream (s->decoder, temporal_of, s, data, len, &p, &cut, &mid, &derr)) {
    if (g_error_matches (derr, SN_ERROR, SN_ERROR_NO_REFERENCE)) {
      /* A good packet this stream cannot use yet: counted apart, its
       * numbers accounted so that the next loss is seen. */
      stream_take (s, &p, now_us, f);
      f->cut = cut;
      s->stats.refused++;
      g_propagate_error (error, derr);
      return FALSE;
    }
    g_propagate_error (error, derr);
    goto bad;
  }
  f->timings.decode_ms = ms_between (t0, g_get_monotonic_time ());
  SnSegment *seg = cloud_segment (s, cut, &f->timings.compile_ms, error);
  if (!seg)
    goto bad;
  t0 = g_get_monotonic_time ();
  if (!sn_segment_run (seg, (const SnTensor *const *) mid, error))
    goto bad;
  f->timings.network_ms = ms_between (t0, g_get_monotonic_time ());
  s->last = seg;
  const SnTensor *heat = output_by_name (seg, HEAT_OUTPUT), *wh = output_by_name (seg, WH_OUTPUT);
  sn_packet_letterbox (&p, &f->letterbox);
  g_strlcpy (f->path_name, p.path_name, sizeof f->path_name);
  t0 = g_get_monotonic_time ();
  if (!heat || !wh) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_MODEL,
        "the cloud segment of cut '%s' has no '%s' or '%s' output", cut->name, HEAT_OUTPUT,
        WH_OUTPUT);
    goto bad;
  }
  if (!sn_detector_decode (s->detector, heat, wh, &f->letterbox, dets, error))
    goto bad;
  f->timings.detect_ms = ms_between (t0, g_get_monotonic_time ());
  f->cut = cut;
  /* Streams are touched only by packets that made it: a bad packet (which
   * may carry any stream id) can neither evict nor renumber a stream. */
  stream_take (s, &p, now_us, f);
  s->stats.packets++;
  return TRUE;

bad:
  s->last = NULL;
  s->stats.bad_packets++;
  return FALSE;
}

const SnTensor *
sn_cloud_session_output (SnCloudSession *s, const char *name)
{
  return s->last ? output_by_name (s->last, name) : NULL;
}

gboolean
sn_cloud_session_has_stream (SnCloudSession *s, guint32 id)
{
  return g_hash_table_contains (s->streams, GUINT_TO_POINTER (id));
}

void
sn_cloud_session_get_stats (SnCloudSession *s, SnCloudStats *stats)
{
  *stats = s->stats;
  stats->streams = g_hash_table_size (s->streams);
}

/* ---- Loopback ---------------------------------------------------------------- */

struct SnLoopback {
  SnCutSet *own_cuts;
  SnEdgeSession *edge;
  SnCloudSession *cloud;
};

SnLoopback *
sn_loopback_new (SnModel *model, SnCutSet *cuts, GError **error)
{
  SnLoopback *lb = g_new0 (SnLoopback, 1);
  /* One cut set for both sides, so cut ids mean the same on both. */
  if (!cuts && !(cuts = lb->own_cuts = sn_cut_set_new (model, error))) {
    g_free (lb);
    return NULL;
  }
  if (!(lb->edge = sn_edge_session_new (model, cuts, error))
      || !(lb->cloud = sn_cloud_session_new (model, cuts, error))) {
    sn_loopback_free (lb);
    return NULL;
  }
  return lb;
}

void
sn_loopback_free (SnLoopback *lb)
{
  if (!lb)
    return;
  sn_edge_session_free (lb->edge);
  sn_cloud_session_free (lb->cloud);
  sn_cut_set_free (lb->own_cuts);
  g_free (lb);
}

SnEdgeSession *sn_loopback_edge (SnLoopback *lb) { return lb->edge; }
SnCloudSession *sn_loopback_cloud (SnLoopback *lb) { return lb->cloud; }

static gboolean
loopback_finish (SnLoopback *lb, gboolean ok, SnEdgePacket *pk, SnDetections *dets,
    SnEdgePacket *packet, SnCloudFrame *frame_out, GError **error)
{
  SnCloudFrame f;
  if (ok)
    ok = sn_cloud_session_process (lb->cloud, pk->data, pk->len, SN_SESSION_NOW, &f, dets, error);
  if (packet)
    *packet = *pk;
  if (frame_out)
    *frame_out = ok ? f : (SnCloudFrame) { 0 };
  return ok;
}

gboolean
sn_loopback_process (SnLoopback *lb, const SnOption *opt, const SnImage *frame, guint64 pts,
    SnDetections *dets, SnEdgePacket *packet, SnCloudFrame *frame_out, GError **error)
{
  SnEdgePacket pk;
  gboolean ok = sn_edge_session_process (lb->edge, opt, frame, pts, &pk, error);
  return loopback_finish (lb, ok, &pk, dets, packet, frame_out, error);
}

gboolean
sn_loopback_process_input (SnLoopback *lb, const SnOption *opt, const SnTensor *input,
    const SnLetterbox *letterbox, guint64 pts, SnDetections *dets, SnEdgePacket *packet,
    SnCloudFrame *frame_out, GError **error)
{
  SnEdgePacket pk;
  gboolean ok = sn_edge_session_process_input (lb->edge, opt, input, letterbox, pts, &pk, error);
  return loopback_finish (lb, ok, &pk, dets, packet, frame_out, error);
}
