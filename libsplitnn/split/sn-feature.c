/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — feature encoding and decoding (see sn-feature.h). */
#include "splitnn/sn-feature.h"

#include <string.h>

#include "splitnn/sn-error.h"

struct SnFeatureEncoder {
  const SnModel *model;
  guint8 fingerprint[32];
  SnQuantParams calib;      /* stored ranges for the tensor being quantized */
  SnCodecContext *codec;
  SnQuantParams params[SN_PACKET_MAX_TENSORS];
  guint8 *packed[SN_PACKET_MAX_TENSORS];
  size_t packed_len[SN_PACKET_MAX_TENSORS];
  GByteArray *coded[SN_PACKET_MAX_TENSORS];
  guint8 ranges[SN_PACKET_MAX_TENSORS][SN_QUANT_MAX_CHANNELS * 8];
  SnTensor *wire[SN_PACKET_MAX_TENSORS];     /* bottleneck outputs of the current path */
};

struct SnFeatureDecoder {
  guint8 fingerprint[32];
  const SnCutSet *cuts;
  SnCodecContext *codec;
  SnQuantParams params;
  guint8 *packed;
  size_t packed_len;
  GHashTable *outputs;      /* cut -> SnTensor*[] for that cut's shapes */
  const SnPathSet *paths;
  SnTensor *wire[SN_PACKET_MAX_TENSORS];     /* dequantized wire tensors of a path */
};

const char *
sn_range_name (SnRangeMode r)
{
  return r == SN_RANGE_CALIBRATED ? "calibrated" : "frame";
}

gboolean
sn_range_from_name (const char *name, SnRangeMode *out)
{
  if (g_strcmp0 (name, "frame") == 0)
    *out = SN_RANGE_FRAME;
  else if (g_strcmp0 (name, "calibrated") == 0)
    *out = SN_RANGE_CALIBRATED;
  else
    return FALSE;
  return TRUE;
}

void
sn_feature_config_init (SnFeatureConfig *cfg)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->bits = 8;
  cfg->clip = 1.0;
  cfg->codec = SN_CODEC_LOSSLESS;
  cfg->jpeg_quality = 90;
  cfg->zstd_level = 1;
  sn_fcodec_config_init (&cfg->temporal);
}

SnFeatureEncoder *
sn_feature_encoder_new (const SnModel *model)
{
  SnFeatureEncoder *e = g_new0 (SnFeatureEncoder, 1);
  e->model = model;
  sn_fingerprint_from_hex (sn_model_fingerprint (model), e->fingerprint);
  e->codec = sn_codec_context_new ();
  for (int i = 0; i < SN_PACKET_MAX_TENSORS; i++)
    e->coded[i] = g_byte_array_new ();
  return e;
}

void
sn_feature_encoder_free (SnFeatureEncoder *e)
{
  if (!e)
    return;
  sn_codec_context_free (e->codec);
  for (int i = 0; i < SN_PACKET_MAX_TENSORS; i++) {
    g_free (e->packed[i]);
    g_byte_array_unref (e->coded[i]);
    sn_tensor_free (e->wire[i]);
  }
  g_free (e);
}

static void
put_f32 (guint8 *dst, float v)
{
  memcpy (dst, &v, 4);          /* the wire is little-endian, as is every target here */
}

/* The stored ranges of `tensor` as quantization parameters for cfg: the
 * packet then carries them like frame ranges, so the cloud needs nothing
 * new. */
static gboolean
no_calibration (const SnCut *cut, const char *tensor, GError **error)
{
  g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
      "range calibrated: tensor '%s' of cut %u has no stored calibration (metadata "
      SN_CALIBRATION_KEY "; see 'splitnn calibrate')", tensor, cut->id);
  return FALSE;
}

gboolean
sn_feature_check_calibration (const SnModel *model, const SnCut *cut, GError **error)
{
  SnCalibration cal;
  for (int i = 0; i < cut->n_tensors; i++)
    if (!sn_model_calibration (model, cut->tensors[i], &cal))
      return no_calibration (cut, cut->tensors[i], error);
  return TRUE;
}

static gboolean
calibrated_params (const SnModel *model, const SnFeatureConfig *cfg, const SnCut *cut,
    const char *tensor, SnQuantParams *q, GError **error)
{
  SnCalibration cal;
  if (!sn_model_calibration (model, tensor, &cal))
    return no_calibration (cut, tensor, error);
  if (cal.channels > SN_QUANT_MAX_CHANNELS) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "tensor '%s': %d channels exceed the %d a packet can describe", tensor, cal.channels,
        SN_QUANT_MAX_CHANNELS);
    return FALSE;
  }
  const float *lo = cfg->clip < 1.0 ? cal.clip_min : cal.min;
  const float *hi = cfg->clip < 1.0 ? cal.clip_max : cal.max;
  const int levels = (1 << cfg->bits) - 1;
  q->n = cfg->per_channel ? cal.channels : 1;
  float tlo = lo[0], thi = hi[0];
  for (int c = 1; c < cal.channels; c++) {
    tlo = MIN (tlo, lo[c]);
    thi = MAX (thi, hi[c]);
  }
  for (int c = 0; c < q->n; c++) {
    float l = cfg->per_channel ? lo[c] : tlo, h = cfg->per_channel ? hi[c] : thi;
    q->offset[c] = l;
    q->scale[c] = (h - l) / levels;
  }
  return TRUE;
}

/* *t holds a float32 tensor of this shape, reallocated only when the shape
 * changes (so switching between paths reallocates once per path shape). */
static SnTensor *
ensure_tensor (SnTensor **t, const SnShape *shape)
{
  if (!*t || !sn_shape_equal (&(*t)->shape, shape)) {
    sn_tensor_free (*t);
    *t = sn_tensor_new (SN_DTYPE_FLOAT32, shape);
  }
  return *t;
}

/* ---- The temporal codec's per-stream state, edge side ------------------------ */

struct SnFeatureStreamEncoder {
  const SnCut *cut;         /* what the encoders were made for */
  SnFcodecConfig cfg;       /* bits included */
  gboolean clipped;
  int n;
  SnFcodecEncoder *enc[SN_PACKET_MAX_TENSORS];
  guint8 *ranges[SN_PACKET_MAX_TENSORS];     /* C x (scale, offset), what intra frames carry */
  gboolean refresh;
};

SnFeatureStreamEncoder *
sn_feature_stream_encoder_new (void)
{
  return g_new0 (SnFeatureStreamEncoder, 1);
}

static void
stream_encoder_clear (SnFeatureStreamEncoder *se)
{
  for (int i = 0; i < SN_PACKET_MAX_TENSORS; i++) {
    g_clear_pointer (&se->enc[i], sn_fcodec_encoder_free);
    g_clear_pointer (&se->ranges[i], g_free);
  }
  se->cut = NULL;
  se->n = 0;
}

void
sn_feature_stream_encoder_free (SnFeatureStreamEncoder *se)
{
  if (!se)
    return;
  stream_encoder_clear (se);
  g_free (se);
}

void
sn_feature_stream_encoder_request_refresh (SnFeatureStreamEncoder *se)
{
  se->refresh = TRUE;
}

static gboolean no_calibration (const SnCut *cut, const char *tensor, GError **error);

/* Encoders for cut at cfg's setting, made anew (so starting with an intra
 * frame) when the cut or the setting changed. */
static gboolean
stream_encoder_prepare (const SnModel *model, SnFeatureStreamEncoder *se,
    const SnFeatureConfig *cfg, const SnCut *cut, GError **error)
{
  if (cfg->path || cfg->range != SN_RANGE_CALIBRATED || cfg->bits < 2 || cfg->bits > 8) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "codec temporal needs range "
        "calibrated (the model's stored ranges, 'splitnn calibrate'), bits 2 to 8 and no trained "
        "path; got range %s, bits %d%s", sn_range_name (cfg->range), cfg->bits,
        cfg->path ? ", a path" : "");
    return FALSE;
  }
  SnFcodecConfig fc = cfg->temporal;
  fc.bits = cfg->bits;
  gboolean clipped = cfg->clip < 1.0;
  if (se->cut == cut && se->clipped == clipped && memcmp (&se->cfg, &fc, sizeof fc) == 0) {
    for (int i = 0; se->refresh && i < se->n; i++)
      sn_fcodec_encoder_request_refresh (se->enc[i]);
    se->refresh = FALSE;
    return TRUE;
  }
  stream_encoder_clear (se);
  const int levels = (1 << fc.bits) - 1;
  for (int i = 0; i < cut->n_tensors; i++) {
    SnCalibration cal;
    if (!sn_model_calibration (model, cut->tensors[i], &cal)) {
      stream_encoder_clear (se);
      return no_calibration (cut, cut->tensors[i], error);
    }
    const SnShape *shape = &cut->shapes[i];
    if (shape->rank != 4 || shape->dims[1] != cal.channels) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "codec temporal: tensor '%s' of "
          "cut %u is not 1 x C x H x W with the %d channels of its calibration", cut->tensors[i],
          cut->id, cal.channels);
      stream_encoder_clear (se);
      return FALSE;
    }
    const float *lo = clipped ? cal.clip_min : cal.min, *hi = clipped ? cal.clip_max : cal.max;
    if (!(se->enc[i] = sn_fcodec_encoder_new (shape, lo, hi, &fc, error))) {
      stream_encoder_clear (se);
      return FALSE;
    }
    /* The step sn-fcodec uses, so the cloud rebuilds the same ranges. */
    se->ranges[i] = g_malloc ((size_t) cal.channels * 8);
    for (int c = 0; c < cal.channels; c++) {
      float scale = hi[c] > lo[c] ? (hi[c] - lo[c]) / levels : 1.0f;
      memcpy (se->ranges[i] + 8 * c, &scale, 4);
      memcpy (se->ranges[i] + 8 * c + 4, &lo[c], 4);
    }
  }
  se->cut = cut;
  se->cfg = fc;
  se->clipped = clipped;
  se->n = cut->n_tensors;
  se->refresh = FALSE;          /* new encoders start with an intra frame */
  return TRUE;
}

static gboolean
feature_encode (SnFeatureEncoder *e, SnFeatureStreamEncoder *se, const SnFeatureConfig *cfg,
    const SnCut *cut, const SnTensor *const *tensors, guint32 stream_id, guint64 seq, guint64 pts,
    const SnLetterbox *lb, GByteArray *out, gboolean *intra_out, GError **error)
{
  gboolean temporal = cfg->codec == SN_CODEC_TEMPORAL, intra = FALSE;
  if (temporal && !se) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "codec temporal codes each frame "
        "against the stream's previous one: code it through an edge session "
        "(sn_feature_encode_stream), not frame by frame");
    return FALSE;
  }
  if (cut->n_tensors > SN_PACKET_MAX_TENSORS) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "cut '%s' has %d tensors; a packet carries at most %d", cut->name, cut->n_tensors,
        SN_PACKET_MAX_TENSORS);
    return FALSE;
  }
  SnPacket p;
  memset (&p, 0, sizeof p);
  p.stream_id = stream_id;
  p.seq = seq;
  p.pts = pts;
  memcpy (p.fingerprint, e->fingerprint, 32);
  p.cut_id = cut->id;
  SnLetterbox identity = { 1, 1, 0, 0, 1, 1 };
  if (!lb)
    lb = &identity;
  sn_packet_set_letterbox (&p, lb);
  g_strlcpy (p.cut_name, cut->name, sizeof p.cut_name);
  p.n_tensors = cut->n_tensors;
  sn_codec_set_quality (e->codec, cfg->jpeg_quality);
  sn_codec_set_level (e->codec, cfg->zstd_level);
  SnQuantConfig qc = { cfg->bits, cfg->per_channel, cfg->clip };
  if (cfg->path) {
    if (sn_path_cut (cfg->path) != cut) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "path '%s' belongs to cut %u, not to cut %u", sn_path_name (cfg->path),
          sn_path_cut (cfg->path)->id, cut->id);
      return FALSE;
    }
    g_strlcpy (p.path_name, sn_path_name (cfg->path), sizeof p.path_name);
    qc.per_channel = TRUE;      /* what the path was trained with */
  }
  if (temporal && !stream_encoder_prepare (e->model, se, cfg, cut, error))
    return FALSE;
  for (int i = 0; i < cut->n_tensors; i++) {
    const SnTensor *x = tensors[i];
    if (temporal) {
      SnPacketTensor *t = &p.tensors[i];
      SnFcodecStats st;
      g_byte_array_set_size (e->coded[i], 0);
      if (!sn_fcodec_encode (se->enc[i], x, e->coded[i], error))
        return FALSE;
      sn_fcodec_encoder_stats (se->enc[i], &st);
      intra = st.intra;
      g_strlcpy (t->name, cut->tensors[i], sizeof t->name);
      t->shape = x->shape;
      t->bits = cfg->bits;
      t->codec = SN_CODEC_TEMPORAL;
      t->n_ranges = st.intra ? (int) x->shape.dims[1] : 0;
      t->ranges = se->ranges[i];
      t->payload = e->coded[i]->data;
      t->payload_len = e->coded[i]->len;
      continue;
    }
    if (cfg->path) {
      SnShape ws;
      sn_path_wire_shape (cfg->path, i, &ws);
      SnTensor *w = ensure_tensor (&e->wire[i], &ws);
      if (!sn_path_edge_apply (cfg->path, i, x, w, error))
        return FALSE;
      x = w;
    }
    size_t need = sn_quant_packed_size (sn_tensor_numel (x), cfg->bits);
    if (e->packed_len[i] < need) {
      e->packed[i] = g_realloc (e->packed[i], need);
      e->packed_len[i] = need;
    }
    /* Trained paths keep per-frame ranges: their bottleneck outputs are
     * not the tensors the calibration measured. */
    gboolean calibrated = cfg->range == SN_RANGE_CALIBRATED && !cfg->path && cfg->bits <= 8;
    if (calibrated
        && !calibrated_params (e->model, cfg, cut, cut->tensors[i], &e->calib, error))
      return FALSE;
    if (!sn_quantize (x, &qc, calibrated ? &e->calib : NULL, &e->params[i], e->packed[i], error))
      return FALSE;
    g_byte_array_set_size (e->coded[i], 0);
    SnCodec used;
    if (!sn_codec_encode (e->codec, cfg->codec, cfg->bits, &x->shape, e->packed[i], e->coded[i],
            &used, error))
      return FALSE;
    SnPacketTensor *t = &p.tensors[i];
    const char *name = cut->tensors[i];
    g_strlcpy (t->name, name, sizeof t->name);
    t->shape = x->shape;
    t->bits = cfg->bits;
    t->codec = used;
    t->n_ranges = e->params[i].n;
    for (int k = 0; k < t->n_ranges; k++) {
      put_f32 (e->ranges[i] + 8 * k, e->params[i].scale[k]);
      put_f32 (e->ranges[i] + 8 * k + 4, e->params[i].offset[k]);
    }
    t->ranges = e->ranges[i];
    t->payload = e->coded[i]->data;
    t->payload_len = e->coded[i]->len;
  }
  sn_packet_write (&p, out);
  if (intra_out)
    *intra_out = intra;
  return TRUE;
}

gboolean
sn_feature_encode (SnFeatureEncoder *e, const SnFeatureConfig *cfg, const SnCut *cut,
    const SnTensor *const *tensors, guint32 stream_id, guint64 seq, guint64 pts,
    const SnLetterbox *lb, GByteArray *out, GError **error)
{
  return feature_encode (e, NULL, cfg, cut, tensors, stream_id, seq, pts, lb, out, NULL, error);
}

gboolean
sn_feature_encode_stream (SnFeatureEncoder *e, SnFeatureStreamEncoder *se,
    const SnFeatureConfig *cfg, const SnCut *cut, const SnTensor *const *tensors,
    guint32 stream_id, guint64 seq, guint64 pts, const SnLetterbox *lb, GByteArray *out,
    gboolean *intra, GError **error)
{
  return feature_encode (e, se, cfg, cut, tensors, stream_id, seq, pts, lb, out, intra, error);
}

static void
free_outputs (gpointer p)
{
  SnTensor **t = p;
  for (int i = 0; t[i]; i++)
    sn_tensor_free (t[i]);
  g_free (t);
}

SnFeatureDecoder *
sn_feature_decoder_new (const SnModel *model, const SnCutSet *cuts)
{
  SnFeatureDecoder *d = g_new0 (SnFeatureDecoder, 1);
  sn_fingerprint_from_hex (sn_model_fingerprint (model), d->fingerprint);
  d->cuts = cuts;
  d->codec = sn_codec_context_new ();
  d->outputs = g_hash_table_new_full (NULL, NULL, NULL, free_outputs);
  return d;
}

void
sn_feature_decoder_set_paths (SnFeatureDecoder *d, const SnPathSet *paths)
{
  d->paths = paths;
}

void
sn_feature_decoder_free (SnFeatureDecoder *d)
{
  if (!d)
    return;
  sn_codec_context_free (d->codec);
  g_free (d->packed);
  for (int i = 0; i < SN_PACKET_MAX_TENSORS; i++)
    sn_tensor_free (d->wire[i]);
  g_hash_table_unref (d->outputs);
  g_free (d);
}

static gboolean
shapes_match (const SnCut *c, const SnPacket *p)
{
  if (c->n_tensors != p->n_tensors)
    return FALSE;
  for (int i = 0; i < c->n_tensors; i++)
    if (!sn_shape_equal (&c->shapes[i], &p->tensors[i].shape))
      return FALSE;
  return TRUE;
}

/* ---- The temporal codec's per-stream state, cloud side ----------------------- */

struct SnFeatureStreamDecoder {
  const SnCut *cut;         /* what the decoders were made for */
  SnFcodecDecoder *dec[SN_PACKET_MAX_TENSORS];
  guint8 *ranges[SN_PACKET_MAX_TENSORS];     /* the intra frame's, to notice a change */
  int n_ranges[SN_PACKET_MAX_TENSORS], bits[SN_PACKET_MAX_TENSORS];
  guint32 frame[SN_PACKET_MAX_TENSORS];      /* number of the last decoded frame */
  gboolean stale;
};

SnFeatureStreamDecoder *
sn_feature_stream_decoder_new (void)
{
  SnFeatureStreamDecoder *sd = g_new0 (SnFeatureStreamDecoder, 1);
  sd->stale = TRUE;
  return sd;
}

static void
stream_decoder_clear (SnFeatureStreamDecoder *sd)
{
  for (int i = 0; i < SN_PACKET_MAX_TENSORS; i++) {
    g_clear_pointer (&sd->dec[i], sn_fcodec_decoder_free);
    g_clear_pointer (&sd->ranges[i], g_free);
  }
  sd->cut = NULL;
  sd->stale = TRUE;
}

void
sn_feature_stream_decoder_free (SnFeatureStreamDecoder *sd)
{
  if (!sd)
    return;
  stream_decoder_clear (sd);
  g_free (sd);
}

void
sn_feature_stream_decoder_reset (SnFeatureStreamDecoder *sd)
{
  sd->stale = TRUE;
}

gboolean
sn_feature_stream_decoder_needs_refresh (const SnFeatureStreamDecoder *sd)
{
  return sd->stale;
}

static guint32
fc_frame_number (const guint8 *h)
{
  return h[8] | h[9] << 8 | h[10] << 16 | (guint32) h[11] << 24;
}

/* Tensor i of packet p (cut `cut`), a temporal frame, into out. */
static gboolean
decode_temporal (SnFeatureStreamDecoder *sd, const SnPacket *p, const SnCut *cut, int i,
    SnTensor *out, GError **error)
{
  const SnPacketTensor *t = &p->tensors[i];
  if (t->payload_len < SN_FCODEC_HEADER_BYTES) {
    sd->stale = TRUE;
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "packet %" G_GUINT64_FORMAT
        ", tensor '%s': temporal frame of %u bytes, shorter than its header", p->seq, t->name,
        t->payload_len);
    return FALSE;
  }
  gboolean intra = t->payload[3] & 1;
  guint32 frame = fc_frame_number (t->payload);
  if (intra != (t->n_ranges > 0) || t->payload[4] != t->bits) {
    sd->stale = TRUE;
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "packet %" G_GUINT64_FORMAT
        ", tensor '%s': a temporal %s frame of %u bits with %d ranges (intra frames carry "
        "them, inter frames not; bits as in the tensor's header, %d)", p->seq, t->name,
        intra ? "intra" : "inter", t->payload[4], t->n_ranges, t->bits);
    return FALSE;
  }
  if (sd->cut != cut) {
    stream_decoder_clear (sd);
    sd->cut = cut;
  }
  if (!intra) {
    /* Never against a stale reference: after a loss, a restart, an error
     * or on a new stream, only an intra frame is decoded. */
    if (sd->stale || !sd->dec[i] || sn_fcodec_decoder_needs_refresh (sd->dec[i])
        || frame != sd->frame[i] + 1) {
      sd->stale = TRUE;
      g_set_error (error, SN_ERROR, SN_ERROR_NO_REFERENCE, "packet %" G_GUINT64_FORMAT
          " of stream %u, tensor '%s': inter frame %u without its reference (a frame was lost "
          "or the stream is new here); waiting for an intra frame", p->seq, p->stream_id, t->name,
          frame);
      return FALSE;
    }
  } else if (!sd->dec[i] || sd->bits[i] != t->bits || sd->n_ranges[i] != t->n_ranges
      || memcmp (sd->ranges[i], t->ranges, (size_t) t->n_ranges * 8) != 0) {
    /* New ranges (or the first intra frame): a decoder made for them. */
    int C = t->n_ranges, levels = (1 << t->bits) - 1;
    g_autofree float *lo = g_new (float, C), *hi = g_new (float, C);
    for (int c = 0; c < C; c++) {
      float scale;
      memcpy (&scale, t->ranges + 8 * c, 4);
      memcpy (&lo[c], t->ranges + 8 * c + 4, 4);
      hi[c] = lo[c] + scale * levels;
    }
    g_clear_pointer (&sd->dec[i], sn_fcodec_decoder_free);
    g_clear_pointer (&sd->ranges[i], g_free);
    GError *err = NULL;
    if (!(sd->dec[i] = sn_fcodec_decoder_new (&t->shape, lo, hi, &err))) {
      sd->stale = TRUE;
      g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "packet %" G_GUINT64_FORMAT
          ", tensor '%s': %s", p->seq, t->name, err->message);
      g_error_free (err);
      return FALSE;
    }
    sd->ranges[i] = g_memdup2 (t->ranges, (size_t) C * 8);
    sd->n_ranges[i] = C;
    sd->bits[i] = t->bits;
  }
  GError *err = NULL;
  if (!sn_fcodec_decode (sd->dec[i], t->payload, t->payload_len, out, &err)) {
    sd->stale = TRUE;
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "packet %" G_GUINT64_FORMAT
        ", tensor '%s': %s", p->seq, t->name, err->message);
    g_error_free (err);
    return FALSE;
  }
  sd->frame[i] = frame;
  return TRUE;
}

gboolean
sn_feature_decode (SnFeatureDecoder *d, const guint8 *data, size_t len, SnPacket *p,
    const SnCut **cut_out, SnTensor *const **tensors_out, GError **error)
{
  return sn_feature_decode_stream (d, NULL, NULL, data, len, p, cut_out, tensors_out, error);
}

gboolean
sn_feature_decode_stream (SnFeatureDecoder *d, SnFeatureStreamLookup lookup, gpointer user,
    const guint8 *data, size_t len, SnPacket *p, const SnCut **cut_out,
    SnTensor *const **tensors_out, GError **error)
{
  if (!sn_packet_parse (data, len, p, error))
    return FALSE;
  if (memcmp (p->fingerprint, d->fingerprint, 32) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_MODEL_MISMATCH,
        "packet %" G_GUINT64_FORMAT " of stream %u was made for another model", p->seq, p->stream_id);
    return FALSE;
  }
  const SnPath *path = NULL;
  const SnCut *cut = NULL;
  if (p->path_name[0]) {
    /* A trained path: its wire shapes must be the packet's. */
    path = d->paths ? sn_path_set_find (d->paths, p->path_name) : NULL;
    gboolean ok = path && p->n_tensors == sn_path_cut (path)->n_tensors;
    for (int i = 0; ok && i < p->n_tensors; i++) {
      SnShape ws;
      sn_path_wire_shape (path, i, &ws);
      ok = sn_shape_equal (&ws, &p->tensors[i].shape);
    }
    if (!ok) {
      g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
          "packet %" G_GUINT64_FORMAT " names path '%s', which this model %s", p->seq,
          p->path_name, path ? "has with other tensor shapes" : "does not have");
      return FALSE;
    }
    cut = sn_path_cut (path);
  } else {
    /* The cut id names the cut; the shapes must agree.  An unknown id (say,
     * from an edge with other declared cuts) falls back to the shapes. */
    cut = p->cut_id < (guint32) sn_cut_set_n_cuts (d->cuts)
        ? sn_cut_set_get (d->cuts, (int) p->cut_id) : NULL;
  }
  if (!path && (!cut || !shapes_match (cut, p))) {
    SnShape shapes[SN_PACKET_MAX_TENSORS];
    for (int i = 0; i < p->n_tensors; i++)
      shapes[i] = p->tensors[i].shape;
    cut = sn_cut_set_find_by_shapes (d->cuts, p->n_tensors, shapes);
    if (!cut) {
      g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
          "packet %" G_GUINT64_FORMAT " names cut %u ('%s') but its tensor shapes match no "
          "single cut of the model", p->seq, p->cut_id, p->cut_name);
      return FALSE;
    }
  }
  SnTensor **outs = g_hash_table_lookup (d->outputs, cut);
  if (!outs) {
    outs = g_new0 (SnTensor *, cut->n_tensors + 1);
    for (int i = 0; i < cut->n_tensors; i++)
      outs[i] = sn_tensor_new (SN_DTYPE_FLOAT32, &cut->shapes[i]);
    g_hash_table_insert (d->outputs, (gpointer) cut, outs);
  }
  SnFeatureStreamDecoder *sd = NULL;
  gboolean all_intra = TRUE;
  for (int i = 0; i < p->n_tensors; i++) {
    const SnPacketTensor *t = &p->tensors[i];
    if (t->codec == SN_CODEC_TEMPORAL) {
      if (path || !lookup) {
        g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "packet %" G_GUINT64_FORMAT
            ", tensor '%s': a temporal frame %s", p->seq, t->name, path
            ? "of a trained path (the edge never codes those so)"
            : "needs the stream's state: decode it in a cloud session");
        return FALSE;
      }
      if (!sd && !(sd = lookup (p, user, error)))
        return FALSE;
      if (!decode_temporal (sd, p, cut, i, outs[i], error))
        return FALSE;
      all_intra &= t->n_ranges > 0;
      continue;
    }
    size_t need = sn_quant_packed_size (sn_shape_numel (&t->shape), t->bits);
    if (d->packed_len < need) {
      d->packed = g_realloc (d->packed, need);
      d->packed_len = need;
    }
    GError *err = NULL;
    sn_packet_tensor_ranges (t, &d->params);
    SnTensor *dst = path ? ensure_tensor (&d->wire[i], &t->shape) : outs[i];
    if (!sn_codec_decode (d->codec, t->codec, t->bits, &t->shape, t->payload, t->payload_len,
            d->packed, &err)
        || !sn_dequantize (d->packed, need, t->bits, &d->params, dst, &err)
        || (path && !sn_path_cloud_apply (path, i, dst, outs[i], &err))) {
      g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "packet %" G_GUINT64_FORMAT
          ", tensor '%s': %s", p->seq, t->name, err->message);
      g_error_free (err);
      return FALSE;
    }
  }
  if (sd && all_intra)
    sd->stale = FALSE;          /* every temporal tensor restarted from an intra frame */
  *cut_out = cut;
  *tensors_out = outs;
  return TRUE;
}

void
sn_packet_letterbox (const SnPacket *p, SnLetterbox *lb)
{
  *lb = (SnLetterbox) { p->scale_x, p->scale_y, p->offset_x, p->offset_y,
    (int) p->frame_width, (int) p->frame_height };
}

void
sn_packet_set_letterbox (SnPacket *p, const SnLetterbox *lb)
{
  p->frame_width = (guint32) lb->src_width;
  p->frame_height = (guint32) lb->src_height;
  p->scale_x = (float) lb->scale_x;
  p->scale_y = (float) lb->scale_y;
  p->offset_x = (float) lb->offset_x;
  p->offset_y = (float) lb->offset_y;
}

/* ---- Calibration: every cut's packet size for one input --------------------- */

static const SnTensor *
find_tensor (SnModel *model, SnSegment *seg, const SnTensor *input, const char *name)
{
  for (int i = 0; i < sn_model_n_inputs (model); i++)
    if (g_strcmp0 (sn_model_input_name (model, i), name) == 0)
      return input;
  for (int i = 0; i < sn_segment_n_outputs (seg); i++)
    if (g_strcmp0 (sn_segment_output_name (seg, i), name) == 0)
      return sn_segment_output (seg, i);
  return NULL;
}

gboolean
sn_feature_measure_cuts (SnModel *model, const SnCutSet *cuts, SnFeatureEncoder *enc,
    const SnFeatureConfig *cfg, const SnTensor *input, const SnLetterbox *lb, int threads,
    double *bytes, double *run_ms, GError **error)
{
  int n = sn_cut_set_n_cuts (cuts);
  /* Every tensor any cut sends, once, except the graph's own inputs. */
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (int i = 0; i < sn_model_n_inputs (model); i++)
    g_hash_table_add (seen, (gpointer) sn_model_input_name (model, i));
  for (int c = 0; c < n; c++) {
    const SnCut *cut = sn_cut_set_get (cuts, c);
    for (int k = 0; k < cut->n_tensors; k++)
      if (g_hash_table_add (seen, (gpointer) cut->tensors[k]))
        g_ptr_array_add (names, (gpointer) cut->tensors[k]);
  }
  SnSegment *seg = names->len ? sn_segment_new (model, NULL, 0,
      (const char *const *) names->pdata, names->len, error) : NULL;
  if (names->len && !seg)
    return FALSE;
  if (seg) {
    sn_segment_set_threads (seg, threads);
    gint64 t0 = g_get_monotonic_time ();
    if (!sn_segment_run (seg, &input, error)) {
      sn_segment_free (seg);
      return FALSE;
    }
    if (run_ms)
      *run_ms = (g_get_monotonic_time () - t0) / 1000.0;
  }
  g_autoptr (GByteArray) packet = g_byte_array_new ();
  /* codec temporal: each cut's first (intra) frame, what a switch to it sends. */
  SnFeatureStreamEncoder *se = cfg->codec == SN_CODEC_TEMPORAL ? sn_feature_stream_encoder_new () : NULL;
  for (int c = 0; c < n; c++) {
    const SnCut *cut = sn_cut_set_get (cuts, c);
    const SnTensor *t[SN_PACKET_MAX_TENSORS];
    gboolean ok = cut->n_tensors <= SN_PACKET_MAX_TENSORS;
    for (int k = 0; ok && k < cut->n_tensors; k++)
      ok = (t[k] = find_tensor (model, seg, input, cut->tensors[k])) != NULL;
    bytes[c] = ok && feature_encode (enc, se, cfg, cut, t, 0, 0, SN_PTS_NONE, lb, packet, NULL,
        NULL) ? packet->len : 0;
  }
  sn_feature_stream_encoder_free (se);
  if (seg)
    sn_segment_free (seg);
  return TRUE;
}
