/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-splitnnedge
 * @title: splitnnedge
 *
 * The camera side of split inference.
 *
 * For every frame: resize and normalise (libsplitnn), run the network up to
 * the cut, quantize only the cut's tensors, code them and push one packet.
 * With cut=auto the split planner picks the cut per frame from measured
 * edge time and packet size, the cloud's time reported back by splitnncloud
 * (the "splitnn-cloud-time" event), the bandwidth reported upstream by
 * zmqsink (or the `bandwidth` property) and downstream QoS; each change is
 * posted as an element message with the planner's explanation (cut=auto
 * ranks the feature cuts, edge-only and cloud-only at each codec and
 * quality of the baselines property).  With
 * cut=edge-only the whole network runs here and each packet is the frame's
 * detections record (SNDT, a few hundred bytes), which splitnncloud passes
 * on as its own output.  With cut=cloud-only codec=h264 (or jpeg) the frame,
 * resized to the model's input as the detector does it, is coded by an
 * encoder element (frame-encoder, x264enc low-latency by default; quality
 * is its QP) and splitnncloud decodes it and runs the whole network; a
 * keyframe goes out first, after a DISCONT buffer, a frame dropped here
 * and whenever splitnncloud asks (splitnn-refresh, after a loss).  A frame
 * that cannot be processed is dropped, counted and reported, never
 * silently lost.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=data/vtest.avi ! decodebin ! videoconvert ! \
 *   splitnnedge model=models/centernet-mobilenetv3-coco.onnx cut=4 bits=8 ! \
 *   zmqsink endpoint=tcp://127.0.0.1:5555
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsplitnnedge.h"
#include "gstsplitnnframecoder.h"
#include "gstsplitnnmodel.h"
#include "gstsplitnnwarn.h"

#include <splitnn/splitnn.h>

GST_DEBUG_CATEGORY_STATIC (gst_splitnn_edge_debug);
#define GST_CAT_DEFAULT gst_splitnn_edge_debug

#define DEFAULT_CUT "auto"
#define DEFAULT_BITS 8
#define DEFAULT_CODEC SN_CODEC_LOSSLESS
#define DEFAULT_CLIP 1.0
#define DEFAULT_THREADS 1
#define DEFAULT_STATS_INTERVAL 1000
#define DEFAULT_CLOUD_SPEED 1.0
#define DEFAULT_FIDELITY_FLOOR -1.0
#define DEFAULT_DEAD_ZONE 1
#define DEFAULT_REFRESH 30
/* sn_fcodec_config_init's: no lone dead zone, no rolling refresh, residual
 * step 0 (2 x dead zone + 1, the coarsest). */
#define DEFAULT_LONE_DEAD_ZONE 0
#define DEFAULT_ROLLING_REFRESH 0
#define DEFAULT_RESIDUAL_STEP 0

enum
{
  PROP_0,
  PROP_MODEL, PROP_CUT, PROP_BITS, PROP_CODEC, PROP_PER_CHANNEL, PROP_CLIP,
  PROP_STREAM_ID, PROP_THREADS, PROP_BANDWIDTH, PROP_OBJECTIVE,
  PROP_STATS_INTERVAL,
  PROP_FRAMES_IN, PROP_FRAMES_OUT, PROP_DROPPED, PROP_MEAN_BYTES,
  PROP_CURRENT_CUT,
  PROP_CLOUD_SPEED, PROP_RANGE, PROP_CLOUD_REPORTS, PROP_CANDIDATES,
  PROP_FIDELITY_FLOOR,
  PROP_MAX_ERRORS, PROP_DEAD_ZONE, PROP_REFRESH, PROP_QUALITY,
  PROP_FRAME_ENCODER, PROP_BASELINES,
  PROP_LONE_DEAD_ZONE, PROP_ROLLING_REFRESH, PROP_RESIDUAL_STEP,
  PROP_REFRESH_REQUESTS,
};

/* The codec property's frame codecs (cut=cloud-only), beside SnCodec's
 * feature codecs: the packet's codec byte for them (sn-packet.h). */
#define CODEC_H264 ((SnCodec) (SN_PACKET_CODEC_FRAME + SN_FRAME_CODEC_H264))
#define CODEC_JPEG ((SnCodec) (SN_PACKET_CODEC_FRAME + SN_FRAME_CODEC_JPEG))
#define IS_FRAME_CODEC(c) ((c) == CODEC_H264 || (c) == CODEC_JPEG)

struct _GstSplitnnEdge
{
  GstBaseTransform parent;

  /* Properties; the lock also covers what the streaming thread reads of them. */
  GMutex lock;
  gchar *model_path;
  gchar *cut_spec;
  gint bits;
  SnCodec codec;
  gint req_bits;                /* as set; bits/codec are what is used */
  SnCodec req_codec;
  gchar *bad_setting;           /* why req_bits/req_codec are refused */
  gint max_errors;
  GstSplitnnWarn drop_warn;     /* dropped frames, gstsplitnnwarn.h */
  gboolean per_channel;
  gdouble clip;
  SnRangeMode range;
  guint stream_id;
  gint threads;
  gdouble bandwidth;            /* bit/s set by the app; 0: use the measured one */
  SnObjective objective;
  guint stats_interval;
  gdouble cloud_speed;
  gdouble fidelity_floor;       /* mAP@0.5 the cut must have stored; < 0: off */
  guint64 cloud_reports;        /* taken into the controller's decisions */
  gchar *candidates;            /* cut=auto: the cuts the planner considers */
  gint dead_zone, refresh;      /* codec=temporal */
  gint lone_dead_zone, rolling_refresh, residual_step;
  /* dead-zone and residual-step are checked as a pair (the step is at
   * most 2 x dead zone + 1); req_*: as set, bad_temporal: why refused. */
  gint req_dead_zone, req_residual_step;
  gchar *bad_temporal;
  gint quality;                 /* cut=cloud-only: QP or JPEG quality; 0: the codec's default */
  gchar *frame_encoder;         /* cut=cloud-only: encoder element description; NULL: default */
  gchar *baselines;             /* cut=auto: eval rows of the baselines; NULL: eval's vtest figures */
  /* codec=temporal: the cloud asked for an intra frame (splitnn-refresh,
   * from the src pad's thread); the streaming thread passes it on to the
   * session.  last_intra: sequence number of the last intra frame sent
   * (G_MAXUINT64: none yet), so requests about older packets are ignored. */
  gboolean refresh_pending;
  guint64 last_intra;
  guint64 refresh_requests;

  /* Set up in NULL -> READY. */
  SnModel *model;
  SnDetector *detector;
  SnCutSet *cuts;
  SnEdgeSession *session;       /* the frame's path: network to the cut, coding */
  /* cut=auto's policy (sn-controller.h).  Link estimates, cloud reports
   * and QoS arrive on the src pad, possibly on another thread than the
   * chain's: every call into it is made under the lock.  Options are the
   * cuts, in cut order. */
  SnController *controller;
  GByteArray *packet;
  gint fixed_cut;               /* -1 with cut=auto and cut=edge-only */
  gboolean edge_only;           /* cut=edge-only: the whole network here, detections out */
  gboolean cloud_only;          /* cut=cloud-only: the frame coded as video, the network there */
  gchar *encoder_used;          /* frame_encoder at setup: the session's coder holds it */
  gdouble model_flops;

  GstVideoInfo info;
  SnPixelFormat format;
  gint current_cut;
  guint64 seq;
  guint64 frames_in, frames_out, dropped, bytes_out;
  gint64 last_stats;
};

#define VIDEO_FORMATS "{ RGB, BGR, RGBx, BGRx, xRGB, xBGR, RGBA, BGRA, I420, NV12 }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS)));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("application/x-splitnn"));

#define gst_splitnn_edge_parent_class parent_class
G_DEFINE_TYPE (GstSplitnnEdge, gst_splitnn_edge, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (splitnnedge, "splitnnedge",
    GST_RANK_NONE, GST_TYPE_SPLITNN_EDGE,
    GST_DEBUG_CATEGORY_INIT (gst_splitnn_edge_debug, "splitnnedge", 0,
        "split inference, edge side"));

/* ---- Enums shared with splitnncloud ----------------------------------------- */

GType
gst_splitnn_codec_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {SN_CODEC_NONE, "Packed codes as they are", "none"},
    {SN_CODEC_LOSSLESS, "zstd over the codes (exact)", "lossless"},
    {SN_CODEC_LOSSY, "JPEG mosaic of the codes (AVSS 2018)", "lossy"},
    {SN_CODEC_AUTO, "Per tensor and frame from sparsity and entropy", "auto"},
    {SN_CODEC_TEMPORAL,
          "Each frame against the stream's last, context-coded (needs range=calibrated)",
        "temporal"},
    {CODEC_H264,
          "cut=cloud-only: the frame as H.264 (frame-encoder, QP quality)",
        "h264"},
    {CODEC_JPEG, "cut=cloud-only: the frame as JPEG (jpegenc, quality 1-100)",
        "jpeg"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstSplitnnCodec",
            values));
  return type;
}

static GType
gst_splitnn_range_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {SN_RANGE_FRAME, "Each frame's own range", "frame"},
    {SN_RANGE_CALIBRATED,
        "The model's stored calibration ('splitnn calibrate')", "calibrated"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstSplitnnRange",
            values));
  return type;
}

static GType
gst_splitnn_objective_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {SN_OBJECTIVE_LATENCY, "Minimum end-to-end latency", "latency"},
    {SN_OBJECTIVE_THROUGHPUT, "Maximum frames per second (stages pipelined)",
        "throughput"},
    {SN_OBJECTIVE_BYTES, "Fewest bytes", "bytes"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstSplitnnObjective",
            values));
  return type;
}

/* ---- Setup and teardown ------------------------------------------------------- */

static void
gst_splitnn_edge_release (GstSplitnnEdge * self)
{
  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->controller, sn_controller_free);
  g_mutex_unlock (&self->lock);
  g_clear_pointer (&self->session, sn_edge_session_free);
  g_clear_pointer (&self->cuts, sn_cut_set_free);
  g_clear_pointer (&self->detector, sn_detector_free);
  g_clear_pointer (&self->model, sn_model_free);
  g_clear_pointer (&self->packet, g_byte_array_unref);
  g_clear_pointer (&self->encoder_used, g_free);
}

/* The encoder setting of the properties; called with the lock held. */
static void
gst_splitnn_edge_config_of_properties (GstSplitnnEdge * self,
    SnFeatureConfig * fc)
{
  sn_feature_config_init (fc);
  fc->bits = self->bits;
  fc->codec = self->codec;
  fc->per_channel = self->per_channel;
  fc->clip = self->clip;
  fc->range = self->range;
  fc->temporal.dead_zone = self->dead_zone;
  fc->temporal.refresh = self->refresh;
  fc->temporal.lone_dead_zone = self->lone_dead_zone;
  fc->temporal.rolling = self->rolling_refresh;
  fc->temporal.residual_step = self->residual_step;
}

/* Why dead-zone and residual-step cannot go together (NULL: they can);
 * sn-fcodec.h: an update goes to residual_step codes' precision, which the
 * dead zone's tolerance bounds. */
static gchar *
gst_splitnn_edge_temporal_problem (gint dead_zone, gint residual_step)
{
  gint most = MIN (16, 2 * dead_zone + 1);
  if (residual_step <= most)
    return NULL;
  return g_strdup_printf ("residual-step=%d refused with dead-zone=%d: the "
      "step is at most 2 x dead-zone + 1 = %d (and at most 16; 0: that "
      "largest)", residual_step, dead_zone, most);
}

/* cut=auto's controller over every option: the cuts (in cut order, so an
 * option index below the cut count is the cut id) with priors from FLOPs,
 * then edge-only and cloud-only at each codec and quality with their
 * figures from `splitnn eval --json` rows (the baselines property; NULL:
 * eval's figures on vtest.avi; "none": cuts only). */
static SnController *
gst_splitnn_edge_make_controller (GstSplitnnEdge * self, int bits,
    double cloud_speed, const char *baselines, GError ** error)
{
  int n, nb = 0;
  g_autofree SnControllerOption *cuts =
      sn_controller_cut_options (self->cuts, self->model_flops, bits, &n);
  SnControllerOption *base = NULL;
  if (g_strcmp0 (baselines, "none") != 0) {
    g_autoptr (GArray) rows = NULL;
    if (baselines && !(rows = sn_option_measures_load (baselines, error)))
      return NULL;
    base = sn_controller_baseline_options (self->model_flops,
        rows ? (const SnOptionMeasure *) rows->data : NULL,
        rows ? (int) rows->len : 0, &nb);
  }
  g_autofree SnControllerOption *options = g_new (SnControllerOption, n + nb);
  memcpy (options, cuts, n * sizeof *options);
  if (nb)
    memcpy (options + n, base, nb * sizeof *options);
  SnController *c = sn_controller_new (options, n + nb, self->model_flops);
  sn_controller_options_free (base, nb);
  sn_controller_set_cloud_speedup (c, cloud_speed);
  return c;
}

/* A fixed cut is known before the first frame: compile it and run it once
 * on a blank frame now (XNNPACK packs its weights on the first run), so
 * that the first camera frame does not wait ~0.3-0.5 s and a live source
 * does not queue behind it.  cut=auto compiles each cut on first use. */
static gboolean
gst_splitnn_edge_prepare_fixed_cut (GstSplitnnEdge * self, GError ** error)
{
  return sn_edge_session_prepare (self->session, sn_cut_set_get (self->cuts,
          self->fixed_cut), error);
}

static gboolean
gst_splitnn_edge_setup (GstSplitnnEdge * self)
{
  g_mutex_lock (&self->lock);
  g_autofree gchar *path = g_strdup (self->model_path);
  g_autofree gchar *cut = g_strdup (self->cut_spec);
  SnRangeMode range = self->range;
  SnFeatureConfig fc;
  gst_splitnn_edge_config_of_properties (self, &fc);
  double min_fid = self->fidelity_floor;
  double cloud_speed = self->cloud_speed;
  int quality = self->quality;
  g_autofree gchar *encoder = g_strdup (self->frame_encoder);
  g_autofree gchar *baselines = g_strdup (self->baselines);
  g_mutex_unlock (&self->lock);
  if (!gst_splitnn_model_open (GST_ELEMENT (self), path, &self->model,
          &self->detector, &self->cuts))
    return FALSE;
  self->fixed_cut = -1;
  self->edge_only = sn_option_kind_from_cut_arg (cut) == SN_OPTION_EDGE_ONLY;
  self->cloud_only = sn_option_kind_from_cut_arg (cut) == SN_OPTION_CLOUD_ONLY;
  /* A frame codec goes with cut=cloud-only, and only with it. */
  if (self->cloud_only != IS_FRAME_CODEC (fc.codec)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", self->cloud_only
            ? "cut=cloud-only needs codec=h264 or codec=jpeg"
            :
            "codec=h264 and codec=jpeg code frames: they need cut=cloud-only"),
        ("cut=%s codec=%s", cut, IS_FRAME_CODEC (fc.codec)
            ? sn_frame_codec_name (fc.codec -
                SN_PACKET_CODEC_FRAME) : sn_codec_name (fc.codec)));
    gst_splitnn_edge_release (self);
    return FALSE;
  }
  if (self->cloud_only && quality
      && !sn_frame_codec_quality_valid (fc.codec - SN_PACKET_CODEC_FRAME,
          quality)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("quality=%d is out of range for codec=%s", quality,
            sn_frame_codec_name (fc.codec - SN_PACKET_CODEC_FRAME)),
        ("h264: a QP of 0-51 (lower is better); jpeg: 1-100 (higher is better); 0: the default"));
    gst_splitnn_edge_release (self);
    return FALSE;
  }
  if (g_strcmp0 (cut, "auto") != 0 && !self->edge_only && !self->cloud_only) {
    const SnCut *c = sn_cut_set_find (self->cuts, cut);
    if (!c) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("No cut '%s' in this model",
              cut), ("the model has %d cuts; 'splitnn cuts %s' lists them",
              sn_cut_set_n_cuts (self->cuts), path));
      gst_splitnn_edge_release (self);
      return FALSE;
    }
    self->fixed_cut = (gint) c->id;
  }
  /* codec=temporal quantizes with stored ranges: a value that did not move
   * must keep its code from frame to frame. */
  if (fc.codec == SN_CODEC_TEMPORAL && range != SN_RANGE_CALIBRATED) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("codec=temporal needs range=calibrated"),
        ("store the model's ranges first ('splitnn calibrate %s VIDEO -o CALIBRATED.onnx', then "
            "model=CALIBRATED.onnx range=calibrated)", path));
    gst_splitnn_edge_release (self);
    return FALSE;
  }
  /* Calibrated ranges need stored calibration for every cut this element
   * may send: the fixed one, or all of them with cut=auto. */
  GError *err = NULL;
  for (int i = 0;
      range == SN_RANGE_CALIBRATED && !self->edge_only && !self->cloud_only
      && i < sn_cut_set_n_cuts (self->cuts); i++)
    if ((self->fixed_cut < 0 || self->fixed_cut == i)
        && !sn_feature_check_calibration (self->model,
            sn_cut_set_get (self->cuts, i), &err)) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", err->message),
          ("model %s; range=frame needs no calibration", path));
      g_error_free (err);
      gst_splitnn_edge_release (self);
      return FALSE;
    }
  SnModelInfo info;
  sn_model_get_info (self->model, &info);
  self->model_flops = info.flops;
  /* Segments of each cut are compiled by the session on first use and kept,
   * so that later switches to a cut cost nothing. */
  if (!(self->session = sn_edge_session_new (self->model, self->cuts, &err))) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Cannot use model '%s'",
            path), ("%s", err->message));
    g_error_free (err);
    gst_splitnn_edge_release (self);
    return FALSE;
  }
  sn_edge_session_set_threads (self->session, self->threads);
  /* The coder holds the description: it stays put until release. */
  self->encoder_used = g_steal_pointer (&encoder);
  sn_edge_session_set_frame_coder (self->session,
      gst_splitnn_frame_coder_funcs (), self->encoder_used);
  SnController *controller =
      gst_splitnn_edge_make_controller (self, fc.bits, cloud_speed, baselines,
      &err);
  if (!controller) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot read baselines=%s",
            baselines), ("%s", err->message));
    g_error_free (err);
    gst_splitnn_edge_release (self);
    return FALSE;
  }
  g_mutex_lock (&self->lock);
  self->controller = controller;
  g_mutex_unlock (&self->lock);
  if (self->fixed_cut >= 0) {
    /* A fixed cut is the user's choice: used anyway, but not silently. */
    int option = sn_controller_find_cut (controller, self->fixed_cut);
    sn_controller_update_fidelity (controller, self->model, &fc, min_fid);
    if (sn_controller_below_floor (controller, option))
      GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
          ("Cut %s is under the fidelity floor", cut),
          ("the model stores mAP@0.5 %.2f for it at bits=%d codec=%s, fidelity-floor is %.2f; "
              "a fixed cut is used anyway", sn_controller_fidelity (controller,
                  option), fc.bits, sn_codec_name (fc.codec), min_fid));
  }
  self->packet = g_byte_array_new ();
  sn_detector_set_threads (self->detector, self->threads);
  if (self->fixed_cut >= 0 && !gst_splitnn_edge_prepare_fixed_cut (self, &err)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Cannot prepare cut %d: %s",
            self->fixed_cut, err->message), ("model %s", path));
    g_error_free (err);
    gst_splitnn_edge_release (self);
    return FALSE;
  }
  g_mutex_lock (&self->lock);
  self->cloud_reports = 0;
  g_clear_pointer (&self->candidates, g_free);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* A setting refused by set_property (GObject cannot fail a set) stops the
 * element at READY with an error naming it, rather than running with
 * other settings than the user asked for. */
static gboolean
gst_splitnn_edge_check_settings (GstSplitnnEdge * self)
{
  g_mutex_lock (&self->lock);
  g_autofree gchar *bad =
      g_strdup (self->bad_setting ? self->bad_setting : self->bad_temporal);
  g_mutex_unlock (&self->lock);
  if (bad)
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", bad), (NULL));
  return bad == NULL;
}

/* The model is loaded, the settings checked and a fixed cut compiled in
 * NULL -> READY, not in start(): a bad setting or model fails the change
 * to READY (tests/test-elements.c relies on it), and a fixed cut is warm
 * before the first frame. */
static GstStateChangeReturn
gst_splitnn_edge_change_state (GstElement * element, GstStateChange transition)
{
  GstSplitnnEdge *self = GST_SPLITNN_EDGE (element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY
      && (!gst_splitnn_edge_check_settings (self)
          || !gst_splitnn_edge_setup (self)))
    return GST_STATE_CHANGE_FAILURE;
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    gst_splitnn_edge_release (self);
  return ret;
}

/* A run (READY -> PAUSED) numbers its frames from 0 and counts them anew;
 * what the controller learnt stays. */
static gboolean
gst_splitnn_edge_start (GstBaseTransform * trans)
{
  GstSplitnnEdge *self = GST_SPLITNN_EDGE (trans);
  g_mutex_lock (&self->lock);
  self->current_cut = -1;
  self->seq = 0;
  self->refresh_pending = FALSE;
  self->last_intra = G_MAXUINT64;
  self->refresh_requests = 0;
  self->frames_in = self->frames_out = self->dropped = self->bytes_out = 0;
  self->last_stats = 0;
  gst_splitnn_warn_reset (&self->drop_warn);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* ---- Streaming ---------------------------------------------------------------- */

static gboolean
gst_splitnn_edge_format_of (GstVideoFormat f, SnPixelFormat * out)
{
  switch (f) {
    case GST_VIDEO_FORMAT_RGB:
      *out = SN_PIXEL_RGB;
      return TRUE;
    case GST_VIDEO_FORMAT_BGR:
      *out = SN_PIXEL_BGR;
      return TRUE;
    case GST_VIDEO_FORMAT_RGBx:
      *out = SN_PIXEL_RGBX;
      return TRUE;
    case GST_VIDEO_FORMAT_BGRx:
      *out = SN_PIXEL_BGRX;
      return TRUE;
    case GST_VIDEO_FORMAT_xRGB:
      *out = SN_PIXEL_XRGB;
      return TRUE;
    case GST_VIDEO_FORMAT_xBGR:
      *out = SN_PIXEL_XBGR;
      return TRUE;
    case GST_VIDEO_FORMAT_RGBA:
      *out = SN_PIXEL_RGBA;
      return TRUE;
    case GST_VIDEO_FORMAT_BGRA:
      *out = SN_PIXEL_BGRA;
      return TRUE;
    case GST_VIDEO_FORMAT_I420:
      *out = SN_PIXEL_I420;
      return TRUE;
    case GST_VIDEO_FORMAT_NV12:
      *out = SN_PIXEL_NV12;
      return TRUE;
    default:
      return FALSE;
  }
}

/* Raw video of any size gives packets for this model and stream id, at
 * the video's frame rate (zmqsink and splitnncloud read them). */
static GstCaps *
gst_splitnn_edge_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter)
{
  GstSplitnnEdge *self = GST_SPLITNN_EDGE (trans);
  GstCaps *out;
  if (direction == GST_PAD_SRC) {
    out = gst_pad_get_pad_template_caps (GST_BASE_TRANSFORM_SINK_PAD (trans));
  } else if (gst_caps_is_any (caps)) {
    out = gst_pad_get_pad_template_caps (GST_BASE_TRANSFORM_SRC_PAD (trans));
  } else {
    g_mutex_lock (&self->lock);
    guint stream = self->stream_id;
    g_mutex_unlock (&self->lock);
    out = gst_caps_new_empty ();
    for (guint i = 0; i < gst_caps_get_size (caps); i++) {
      const GstStructure *in = gst_caps_get_structure (caps, i);
      GstStructure *s = gst_structure_new_empty ("application/x-splitnn");
      gint n, d;
      /* The model is open from READY on, before any caps. */
      if (self->model)
        gst_structure_set (s, "model", G_TYPE_STRING,
            sn_model_fingerprint (self->model), NULL);
      gst_structure_set (s, "stream-id", G_TYPE_UINT, stream, NULL);
      if (gst_structure_get_fraction (in, "framerate", &n, &d) && n > 0)
        gst_structure_set (s, "framerate", GST_TYPE_FRACTION, n, d, NULL);
      out = gst_caps_merge_structure (out, s);
    }
  }
  if (filter) {
    GstCaps *both =
        gst_caps_intersect_full (filter, out, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (out);
    out = both;
  }
  return out;
}

static gboolean
gst_splitnn_edge_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstSplitnnEdge *self = GST_SPLITNN_EDGE (trans);
  if (!gst_video_info_from_caps (&self->info, incaps)
      || !gst_splitnn_edge_format_of (GST_VIDEO_INFO_FORMAT (&self->info),
          &self->format)) {
    GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("Unsupported video caps"),
        ("%" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  g_mutex_lock (&self->lock);
  sn_controller_set_frame_rate (self->controller,
      GST_VIDEO_INFO_FPS_N (&self->info), GST_VIDEO_INFO_FPS_D (&self->info));
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static void gst_splitnn_edge_post_stats (GstSplitnnEdge * self);

static gboolean
gst_splitnn_edge_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstSplitnnEdge *self = GST_SPLITNN_EDGE (trans);
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->controller)
    gst_splitnn_edge_post_stats (self); /* the final counts, whatever the interval */
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* A cloud's answer about one of our packets, for the controller. */
static void
gst_splitnn_edge_forward_cloud_report (GstSplitnnEdge * self,
    const GstStructure * s)
{
  guint stream;
  SnCloudReport r = { -1, 0, -1, 0, SN_OPTION_CUT };
  /* A baseline's report (cut -1) names its option: the cloud's time for
   * the whole network counts for cut=auto even when no cut runs. */
  const char *option = gst_structure_get_string (s, "option");
  if (option)
    r.kind = sn_option_kind_from_cut_arg (option);
  if (!gst_structure_get_int (s, "cut", &r.cut)
      || !gst_structure_get_double (s, "cloud-ms", &r.cloud_ms)
      || (r.cut < 0 && (r.cut != -1 || r.kind == SN_OPTION_CUT))
      || r.cloud_ms < 0) {
    GST_DEBUG_OBJECT (self, "ignoring incomplete cloud report %" GST_PTR_FORMAT,
        s);
    return;
  }
  gst_structure_get_double (s, "network-ms", &r.network_ms);
  gst_structure_get_double (s, "whole-ms", &r.whole_ms);
  g_mutex_lock (&self->lock);
  /* A cloud serving several edges over one transport may answer others';
   * a fixed cut has no use for them (fixed_cut is set before streaming). */
  if (self->controller && self->fixed_cut < 0 && !self->edge_only
      && !self->cloud_only && (!gst_structure_get_uint (s, "stream-id", &stream)
          || stream == self->stream_id))
    sn_controller_observe_cloud (self->controller, &r);
  g_mutex_unlock (&self->lock);
}

/* Downstream QoS, the cloud's reports and refresh requests and zmqsink's
 * link estimate go to the controller; QoS then goes on upstream through
 * the base class. */
static gboolean
gst_splitnn_edge_src_event (GstBaseTransform * trans, GstEvent * event)
{
  GstSplitnnEdge *self = GST_SPLITNN_EDGE (trans);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_QOS:{
      gdouble proportion;
      gst_event_parse_qos (event, NULL, &proportion, NULL, NULL);
      if (proportion > 1.0) {
        GST_INFO_OBJECT (self, "QoS: downstream is %.2fx too slow", proportion);
        g_mutex_lock (&self->lock);
        if (self->controller)
          sn_controller_observe_qos (self->controller, proportion);
        g_mutex_unlock (&self->lock);
      }
      break;
    }
    case GST_EVENT_CUSTOM_UPSTREAM:{
      const GstStructure *s = gst_event_get_structure (event);
      gdouble bps, rtt = -1;
      guint stream;
      guint64 seq;
      if (s && gst_structure_has_name (s, GST_SPLITNN_REFRESH_EVENT)) {
        /* One request per refused packet arrives; one intra frame after
         * the oldest of them answers them all. */
        g_mutex_lock (&self->lock);
        /* Without stream-id: from the transport below (zmqsink moved the
         * stream to another worker, which holds no reference). */
        if (!gst_structure_has_field (s, "stream-id")
            || (gst_structure_get_uint (s, "stream-id", &stream)
                && stream == self->stream_id
                && gst_structure_get_uint64 (s, "seq", &seq)
                && (self->last_intra == G_MAXUINT64
                    || seq >= self->last_intra))) {
          self->refresh_pending = TRUE;
          self->refresh_requests++;
        }
        g_mutex_unlock (&self->lock);
        GST_DEBUG_OBJECT (self, "refresh request %" GST_PTR_FORMAT, s);
        gst_event_unref (event);
        return TRUE;
      }
      if (s && gst_structure_has_name (s, GST_SPLITNN_CLOUD_TIME_EVENT)) {
        gst_splitnn_edge_forward_cloud_report (self, s);
        gst_event_unref (event);
        return TRUE;
      }
      if (s && gst_structure_has_name (s, GST_SPLITNN_BANDWIDTH_EVENT)
          && gst_structure_get_double (s, "bits-per-second", &bps)) {
        GST_LOG_OBJECT (self, "link estimate %" GST_PTR_FORMAT, s);
        gst_structure_get_double (s, "rtt-ms", &rtt);
        g_mutex_lock (&self->lock);
        if (self->controller)
          sn_controller_observe_link (self->controller, bps, rtt);
        g_mutex_unlock (&self->lock);
        gst_event_unref (event);
        return TRUE;
      }
      break;
    }
    default:
      break;
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->src_event (trans, event);
}

static void
gst_splitnn_edge_post_cut_change (GstSplitnnEdge * self,
    const SnControllerDecision * cd)
{
  const SnPlanDecision *d = &cd->plan;
  /* Options are the cuts in cut order, then the baselines (cut -1, named
   * "edge-only", "cloud-only h264 qp26", ...). */
  g_mutex_lock (&self->lock);
  const SnControllerOption *from =
      d->previous >= 0 ? sn_controller_option (self->controller,
      d->previous) : NULL;
  const SnControllerOption *to =
      sn_controller_option (self->controller, d->chosen);
  /* Why, in the planner's words: the winner's figure, the runner-up, the
   * best of each other kind. */
  SnOptionPrediction rank[128];
  int n_rank = sn_controller_rank (self->controller, rank, G_N_ELEMENTS (rank));
  g_autofree char *why =
      sn_planner_explain (sn_controller_planner (self->controller), rank,
      n_rank);
  g_autofree char *from_name = g_strdup (from ? from->name : "");
  g_autofree char *to_name = g_strdup (to->name);
  int from_cut = from ? from->cut : -1, to_cut = to->cut;
  g_mutex_unlock (&self->lock);
  GstStructure *s = gst_structure_new ("splitnn-cut-changed",
      "old-cut", G_TYPE_INT, from_cut, "old-cut-name", G_TYPE_STRING, from_name,
      "new-cut", G_TYPE_INT, to_cut, "new-cut-name", G_TYPE_STRING, to_name,
      "old-option", G_TYPE_INT, d->previous, "new-option", G_TYPE_INT,
      d->chosen,
      "explanation", G_TYPE_STRING, why,
      "reason", G_TYPE_STRING, d->reason,
      "predicted-latency-ms", G_TYPE_DOUBLE, d->new_prediction.latency_ms,
      "predicted-fps", G_TYPE_DOUBLE, d->new_prediction.fps,
      "predicted-bytes", G_TYPE_DOUBLE, d->new_prediction.bytes,
      "previous-latency-ms", G_TYPE_DOUBLE, d->old_prediction.latency_ms,
      "previous-bytes", G_TYPE_DOUBLE, d->old_prediction.bytes,
      "previous-edge-ms", G_TYPE_DOUBLE, d->old_prediction.edge_ms,
      "predicted-edge-ms", G_TYPE_DOUBLE, d->new_prediction.edge_ms,
      "previous-cloud-ms", G_TYPE_DOUBLE, d->old_prediction.cloud_ms,
      "predicted-cloud-ms", G_TYPE_DOUBLE, d->new_prediction.cloud_ms,
      "bandwidth", G_TYPE_DOUBLE, cd->bandwidth,
      "qos-proportion", G_TYPE_DOUBLE, cd->qos_proportion,
      "frame", G_TYPE_UINT64, self->seq, NULL);
  GST_INFO_OBJECT (self, "option %s -> %s (%s): %s", from_name, to_name,
      d->reason, why);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

static void
gst_splitnn_edge_post_stats (GstSplitnnEdge * self)
{
  GstStructure *s = gst_structure_new ("splitnn-edge-stats",
      "frames-in", G_TYPE_UINT64, self->frames_in, "frames-out", G_TYPE_UINT64,
      self->frames_out,
      "dropped", G_TYPE_UINT64, self->dropped,
      "mean-bytes", G_TYPE_DOUBLE,
      self->frames_out ? (double) self->bytes_out / self->frames_out : 0.0,
      "cut", G_TYPE_INT, self->current_cut,
      "bandwidth", G_TYPE_DOUBLE, sn_controller_bandwidth (self->controller),
      NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* The candidates changed: the property follows, and a floor no cut
 * reaches is said once. */
static void
gst_splitnn_edge_candidates_changed (GstSplitnnEdge * self, guint news,
    double min_fid)
{
  if (news & SN_CONTROLLER_ALL_UNDER_FLOOR)
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("No cut reaches the fidelity floor"),
        ("every cut stores mAP@0.5 under fidelity-floor %.2f at these settings; choosing "
            "as if there were no floor", min_fid));
  if (!(news & SN_CONTROLLER_CANDIDATES_CHANGED))
    return;
  g_mutex_lock (&self->lock);
  g_free (self->candidates);
  self->candidates = sn_controller_candidates (self->controller);
  GST_INFO_OBJECT (self, "cut=auto considers cuts %s", self->candidates);
  g_mutex_unlock (&self->lock);
}

/* cut=auto, first frame: code it at every cut once, so the planner starts
 * from real packet sizes instead of a guessed compression ratio (which
 * cannot know that, say, the detector heads compress ten times better
 * than the early feature maps).  Costs about one whole-network run. */
static void
gst_splitnn_edge_calibrate (GstSplitnnEdge * self, const SnFeatureConfig * fc,
    const SnTensor * x, const SnLetterbox * lb)
{
  int n = sn_cut_set_n_cuts (self->cuts);
  g_autofree double *bytes = g_new0 (double, n);
  GError *err = NULL;
  double run_ms = 0;
  gint64 t0 = g_get_monotonic_time ();
  gboolean ok =
      sn_edge_session_measure_cuts (self->session, fc, x, lb, bytes, &run_ms,
      &err);
  if (!ok) {
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("Could not measure the packet size of every cut"),
        ("%s; the planner starts from guessed sizes", err->message));
    g_error_free (err);
  }
  g_mutex_lock (&self->lock);
  guint news =
      sn_controller_observe_first_frame (self->controller, ok ? bytes : NULL, n,
      run_ms);
  double min_fid = self->fidelity_floor;
  g_mutex_unlock (&self->lock);
  if (!ok)
    return;
  gst_splitnn_edge_candidates_changed (self, news, min_fid);
  GST_INFO_OBJECT (self,
      "packet sizes of %d cuts measured in %.0f ms; whole network "
      "%.0f ms here", n, (g_get_monotonic_time () - t0) / 1000.0, run_ms);
}

/* cut=auto: each cut's stored fidelity (splitnn.fidelity) at this frame's
 * encoder setting, and the floor, go to the controller, which looks them
 * up again when either changed (the properties may change while playing). */
static void
gst_splitnn_edge_refresh_fidelity (GstSplitnnEdge * self,
    const SnFeatureConfig * fc, double min_fid)
{
  int n_stored;
  g_mutex_lock (&self->lock);
  guint news = sn_controller_update_fidelity (self->controller, self->model, fc,
      min_fid);
  g_mutex_unlock (&self->lock);
  if (news & SN_CONTROLLER_FLOOR_EXCLUDES_NOTHING) {
    if (sn_model_fidelity_rows (self->model, &n_stored))
      GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
          ("The fidelity floor excludes nothing"),
          ("none of the %d rows of the model's %s is for bits=%d codec=%s per-channel=%d "
              "clip=%g range=%s", n_stored, SN_FIDELITY_KEY, fc->bits,
              sn_codec_name (fc->codec), fc->per_channel, fc->clip,
              sn_range_name (fc->range)));
    else
      GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
          ("The fidelity floor excludes nothing"),
          ("the model stores no %s ('splitnn eval --store-fidelity' writes it)",
              SN_FIDELITY_KEY));
  }
  if (news & SN_CONTROLLER_FIDELITY_CHANGED)
    GST_INFO_OBJECT (self, "fidelity floor %.2f at bits=%d codec=%s", min_fid,
        fc->bits, sn_codec_name (fc->codec));
  gst_splitnn_edge_candidates_changed (self, news, min_fid);
}

/* Returns the option for this frame: the fixed cut, or the controller's
 * choice (an option index: a cut id below the cut count, a baseline
 * above). */
static gint
gst_splitnn_edge_choose_cut (GstSplitnnEdge * self)
{
  if (self->fixed_cut >= 0)
    return self->fixed_cut;
  SnControllerDecision d;
  g_mutex_lock (&self->lock);
  sn_controller_set_bandwidth (self->controller, self->bandwidth);
  sn_controller_set_objective (self->controller, self->objective);
  sn_controller_decide (self->controller, &d);
  self->cloud_reports += d.cloud_reports;
  g_mutex_unlock (&self->lock);
  if (d.plan.changed)
    gst_splitnn_edge_post_cut_change (self, &d);
  return d.plan.chosen;
}

/* cut=edge-only: the session runs the whole network and the packet is the
 * frame's detections record (docs/protocol.md); the controller has no
 * part in it.  x points into the session (preprocessed frame). */
static gboolean
gst_splitnn_edge_process_edge_only (GstSplitnnEdge * self, const SnTensor * x,
    const SnLetterbox * lb, GstBuffer * in, guint stream, GError ** error)
{
  SnOption opt = {.kind = SN_OPTION_EDGE_ONLY };
  guint64 pts =
      GST_BUFFER_PTS_IS_VALID (in) ? GST_BUFFER_PTS (in) : SN_PTS_NONE;
  SnEdgePacket pk;
  sn_edge_session_set_stream (self->session, stream, self->seq);
  if (!sn_edge_session_process_input (self->session, &opt, x, lb, pts, &pk,
          error))
    return FALSE;
  g_byte_array_set_size (self->packet, 0);
  g_byte_array_append (self->packet, pk.data, pk.len);
  return TRUE;
}

/* cut=cloud-only: the session codes the model input through the frame
 * coder (gstsplitnnframecoder.c); a keyframe when the cloud asked for one
 * or the input is discontinuous.  x points into the session. */
static gboolean
gst_splitnn_edge_process_cloud_only (GstSplitnnEdge * self, const SnTensor * x,
    const SnLetterbox * lb, GstBuffer * in, guint stream, SnFrameCodec codec,
    int quality, GError ** error)
{
  g_mutex_lock (&self->lock);
  SnOption opt = {.kind = SN_OPTION_CLOUD_ONLY,.frame_codec = codec,.quality =
        quality
  };
  gboolean refresh = self->refresh_pending
      || GST_BUFFER_FLAG_IS_SET (in, GST_BUFFER_FLAG_DISCONT);
  self->refresh_pending = FALSE;
  g_mutex_unlock (&self->lock);
  if (refresh)
    sn_edge_session_request_refresh (self->session);
  guint64 pts =
      GST_BUFFER_PTS_IS_VALID (in) ? GST_BUFFER_PTS (in) : SN_PTS_NONE;
  SnEdgePacket pk;
  sn_edge_session_set_stream (self->session, stream, self->seq);
  if (!sn_edge_session_process_input (self->session, &opt, x, lb, pts, &pk,
          error))
    return FALSE;
  if (pk.intra) {
    g_mutex_lock (&self->lock);
    self->last_intra = pk.seq;
    g_mutex_unlock (&self->lock);
  }
  g_byte_array_set_size (self->packet, 0);
  g_byte_array_append (self->packet, pk.data, pk.len);
  return TRUE;
}

static gboolean
gst_splitnn_edge_process (GstSplitnnEdge * self, GstBuffer * in,
    GError ** error)
{
  GstVideoFrame frame;
  if (!gst_video_frame_map (&frame, &self->info, in, GST_MAP_READ)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "cannot map the video frame");
    return FALSE;
  }
  SnImage img = {.format = self->format,.width = GST_VIDEO_FRAME_WIDTH (&frame),
    .height = GST_VIDEO_FRAME_HEIGHT (&frame)
  };
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES (&frame) && p < 3; p++) {
    img.planes[p] = GST_VIDEO_FRAME_PLANE_DATA (&frame, p);
    img.strides[p] = GST_VIDEO_FRAME_PLANE_STRIDE (&frame, p);
  }
  SnFeatureConfig fc;
  g_mutex_lock (&self->lock);
  gst_splitnn_edge_config_of_properties (self, &fc);
  double min_fid = self->fidelity_floor;
  guint stream = self->stream_id;
  g_mutex_unlock (&self->lock);
  SnLetterbox lb;
  gint64 t0 = g_get_monotonic_time ();
  const SnTensor *x =
      sn_edge_session_preprocess (self->session, &img, &lb, error);
  if (!x) {
    gst_video_frame_unmap (&frame);
    return FALSE;
  }
  gint64 t_pre = g_get_monotonic_time () - t0;
  if (self->edge_only) {
    gst_video_frame_unmap (&frame);
    return gst_splitnn_edge_process_edge_only (self, x, &lb, in, stream, error);
  }
  if (self->cloud_only) {
    gst_video_frame_unmap (&frame);
    g_mutex_lock (&self->lock);
    int quality = self->quality;
    g_mutex_unlock (&self->lock);
    return gst_splitnn_edge_process_cloud_only (self, x, &lb, in, stream,
        (SnFrameCodec) (fc.codec - SN_PACKET_CODEC_FRAME), quality, error);
  }
  if (self->fixed_cut < 0) {
    gst_splitnn_edge_refresh_fidelity (self, &fc, min_fid);
    if (!sn_controller_first_frame_seen (self->controller))
      gst_splitnn_edge_calibrate (self, &fc, x, &lb);
  }
  t0 = g_get_monotonic_time () - t_pre;
  gint cut_index = gst_splitnn_edge_choose_cut (self);
  /* cut=auto chose a baseline: run it, and tell the controller what it cost. */
  g_mutex_lock (&self->lock);
  SnControllerOption chosen =
      *sn_controller_option (self->controller, cut_index);
  g_mutex_unlock (&self->lock);
  if (chosen.kind != SN_OPTION_CUT) {
    gst_video_frame_unmap (&frame);
    gboolean done = chosen.kind == SN_OPTION_EDGE_ONLY
        ? gst_splitnn_edge_process_edge_only (self, x, &lb, in, stream, error)
        : gst_splitnn_edge_process_cloud_only (self, x, &lb, in, stream,
        chosen.frame_codec, chosen.quality, error);
    if (!done)
      return FALSE;
    double edge_ms = (g_get_monotonic_time () - t0) / 1000.0;
    g_mutex_lock (&self->lock);
    sn_controller_observe_frame (self->controller, cut_index, edge_ms,
        self->packet->len);
    g_mutex_unlock (&self->lock);
    self->current_cut = cut_index;
    return TRUE;
  }
  SnOption opt = {.kind = SN_OPTION_CUT,.cut =
        sn_cut_set_get (self->cuts, cut_index),
    .feature = fc
  };
  guint64 pts =
      GST_BUFFER_PTS_IS_VALID (in) ? GST_BUFFER_PTS (in) : SN_PTS_NONE;
  SnEdgePacket pk;
  /* The element numbers frames (dropped ones too); the session stamps them. */
  sn_edge_session_set_stream (self->session, stream, self->seq);
  g_mutex_lock (&self->lock);
  gboolean refresh = self->refresh_pending;
  self->refresh_pending = FALSE;
  g_mutex_unlock (&self->lock);
  if (refresh)
    sn_edge_session_request_refresh (self->session);
  gboolean ok =
      sn_edge_session_process_input (self->session, &opt, x, &lb, pts, &pk,
      error);
  if (ok && pk.intra) {
    g_mutex_lock (&self->lock);
    self->last_intra = pk.seq;
    g_mutex_unlock (&self->lock);
  }
  gst_video_frame_unmap (&frame);
  if (!ok)
    return FALSE;
  g_byte_array_set_size (self->packet, 0);
  g_byte_array_append (self->packet, pk.data, pk.len);
  double edge_ms = (g_get_monotonic_time () - t0) / 1000.0;
  g_mutex_lock (&self->lock);
  sn_controller_observe_frame (self->controller, cut_index, edge_ms,
      self->packet->len);
  g_mutex_unlock (&self->lock);
  self->current_cut = cut_index;
  return TRUE;
}

/* Every frame is counted here.  With qos=true the base class skips a
 * frame that is already late downstream (and posts a QoS message): it is
 * numbered and counted as dropped like a frame that failed. */
static GstFlowReturn
gst_splitnn_edge_submit_input_buffer (GstBaseTransform * trans,
    gboolean is_discont, GstBuffer * in)
{
  GstSplitnnEdge *self = GST_SPLITNN_EDGE (trans);
  self->frames_in++;
  GstFlowReturn ret =
      GST_BASE_TRANSFORM_CLASS (parent_class)->submit_input_buffer (trans,
      is_discont, in);
  if (ret == GST_BASE_TRANSFORM_FLOW_DROPPED) {
    self->dropped++;
    self->seq++;
  }
  return ret;
}

/* The packet's size is known only once the frame is coded: transform()
 * fills an empty buffer, which has the frame's timestamps and flags and
 * none of its metas. */
static GstFlowReturn
gst_splitnn_edge_prepare_output_buffer (GstBaseTransform * trans,
    GstBuffer * in, GstBuffer ** out)
{
  *out = gst_buffer_new ();
  gst_buffer_copy_into (*out, in,
      GST_BUFFER_COPY_TIMESTAMPS | GST_BUFFER_COPY_FLAGS, 0, -1);
  return GST_FLOW_OK;
}

/* One frame in, one packet out; a frame that cannot be processed is
 * dropped (GST_BASE_TRANSFORM_FLOW_DROPPED) after it was counted.
 * transform() and not submit_input_buffer/generate_output: outputs never
 * lag inputs, since the session answers each frame before returning, and
 * with cut=cloud-only so does the frame coder, which waits for the
 * encoder's picture of this frame (gstsplitnnframecoder.h).  An encoder
 * that holds pictures back (lookahead, B-frames) does not fit that coder;
 * letting packets lag would take a session call that can answer "none
 * yet", and then generate_output() here. */
static GstFlowReturn
gst_splitnn_edge_transform (GstBaseTransform * trans, GstBuffer * in,
    GstBuffer * out)
{
  GstSplitnnEdge *self = GST_SPLITNN_EDGE (trans);
  GError *err = NULL;
  if (!gst_splitnn_edge_process (self, in, &err)) {
    /* Keep the stream going: count the frame and say what happened, at
     * most every 5 s; more than max-errors in a row stop the element. */
    self->dropped++;
    guint64 n =
        gst_splitnn_warn_failure (&self->drop_warn, g_get_monotonic_time ());
    g_mutex_lock (&self->lock);
    gint max_errors = self->max_errors;
    g_mutex_unlock (&self->lock);
    gboolean stop = gst_splitnn_warn_too_many (&self->drop_warn, max_errors);
    if (stop)
      GST_ELEMENT_ERROR (self, STREAM, FAILED,
          ("%" G_GUINT64_FORMAT " frames dropped in a row, more than "
              "max-errors=%d", self->drop_warn.consecutive, max_errors),
          ("last, frame %" G_GUINT64_FORMAT ": %s", self->seq,
              err ? err->message : "unknown error"));
    else if (n)
      GST_ELEMENT_WARNING (self, STREAM, FAILED,
          ("%" G_GUINT64_FORMAT " frame(s) dropped, the last %"
              G_GUINT64_FORMAT, n, self->seq), ("%s",
              err ? err->message : "unknown error"));
    g_clear_error (&err);
    self->seq++;
    return stop ? GST_FLOW_ERROR : GST_BASE_TRANSFORM_FLOW_DROPPED;
  }
  gst_splitnn_warn_success (&self->drop_warn);
  gpointer data = g_memdup2 (self->packet->data, self->packet->len);
  gst_buffer_append_memory (out, gst_memory_new_wrapped (0, data,
          self->packet->len, 0, self->packet->len, data, g_free));
  GST_BUFFER_OFFSET (out) = self->seq++;
  self->frames_out++;
  self->bytes_out += self->packet->len;
  gint64 now = g_get_monotonic_time ();
  if (self->stats_interval
      && now - self->last_stats >= (gint64) self->stats_interval * 1000) {
    self->last_stats = now;
    gst_splitnn_edge_post_stats (self);
  }
  return GST_FLOW_OK;
}

/* ---- GObject -------------------------------------------------------------------- */

static void
gst_splitnn_edge_set_property (GObject * object, guint id, const GValue * value,
    GParamSpec * pspec)
{
  GstSplitnnEdge *self = GST_SPLITNN_EDGE (object);
  g_mutex_lock (&self->lock);
  g_autofree gchar *post_bad = NULL;
  switch (id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_CUT:
      g_free (self->cut_spec);
      self->cut_spec = g_value_dup_string (value);
      if (!self->cut_spec)
        self->cut_spec = g_strdup (DEFAULT_CUT);
      break;
    case PROP_BITS:
    case PROP_CODEC:{
      /* Checked as a pair: JPEG carries codes, so lossy needs bits <= 8.
       * A refused value is not applied; the refusal is an element error
       * at READY, or at once when the element is running. */
      if (id == PROP_BITS)
        self->req_bits = g_value_get_int (value);
      else
        self->req_codec = g_value_get_enum (value);
      int b = self->req_bits;
      SnCodec c = self->req_codec;
      g_clear_pointer (&self->bad_setting, g_free);
      if (IS_FRAME_CODEC (c));  /* frames: bits do not apply */
      else if (c == SN_CODEC_TEMPORAL && (b < 2 || b > 8))
        self->bad_setting =
            g_strdup_printf
            ("bits=%d refused with codec=temporal: it codes 2 to 8 " "bits", b);
      else if (c != SN_CODEC_TEMPORAL && !sn_quant_bits_valid (b))
        self->bad_setting =
            g_strdup_printf ("bits=%d refused: bits must be 2, 4, 8, 16 or 32 "
            "(codec=temporal: 2 to 8)", b);
      else if (c == SN_CODEC_LOSSY && b > 8)
        self->bad_setting =
            g_strdup_printf
            ("codec=lossy refused at bits=%d: the JPEG mosaic carries "
            "codes of at most 8 bits (use lossless or none, or bits=2, 4 or 8)",
            b);
      if (!self->bad_setting) {
        self->bits = b;
        self->codec = c;
      } else if (GST_STATE (self) >= GST_STATE_READY) {
        post_bad = g_strdup (self->bad_setting);
      }
      break;
    }
    case PROP_PER_CHANNEL:
      self->per_channel = g_value_get_boolean (value);
      break;
    case PROP_CLIP:
      self->clip = g_value_get_double (value);
      break;
    case PROP_RANGE:
      self->range = g_value_get_enum (value);
      break;
    case PROP_STREAM_ID:
      self->stream_id = g_value_get_uint (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_BANDWIDTH:
      self->bandwidth = g_value_get_double (value);
      break;
    case PROP_OBJECTIVE:
      self->objective = g_value_get_enum (value);
      break;
    case PROP_STATS_INTERVAL:
      self->stats_interval = g_value_get_uint (value);
      break;
    case PROP_CLOUD_SPEED:
      self->cloud_speed = g_value_get_double (value);
      break;
    case PROP_FIDELITY_FLOOR:
      self->fidelity_floor = g_value_get_double (value);
      break;
    case PROP_MAX_ERRORS:
      self->max_errors = g_value_get_int (value);
      break;
    case PROP_DEAD_ZONE:
    case PROP_RESIDUAL_STEP:{
      /* Checked as a pair, as bits and codec are: a refused value is not
       * applied; the refusal is an element error at READY, or at once when
       * the element is running. */
      if (id == PROP_DEAD_ZONE)
        self->req_dead_zone = g_value_get_int (value);
      else
        self->req_residual_step = g_value_get_int (value);
      g_clear_pointer (&self->bad_temporal, g_free);
      self->bad_temporal =
          gst_splitnn_edge_temporal_problem (self->req_dead_zone,
          self->req_residual_step);
      if (!self->bad_temporal) {
        self->dead_zone = self->req_dead_zone;
        self->residual_step = self->req_residual_step;
      } else if (GST_STATE (self) >= GST_STATE_READY) {
        post_bad = g_strdup (self->bad_temporal);
      }
      break;
    }
    case PROP_LONE_DEAD_ZONE:
      self->lone_dead_zone = g_value_get_int (value);
      break;
    case PROP_ROLLING_REFRESH:
      self->rolling_refresh = g_value_get_int (value);
      break;
    case PROP_QUALITY:
      self->quality = g_value_get_int (value);
      break;
    case PROP_FRAME_ENCODER:
      g_free (self->frame_encoder);
      self->frame_encoder = g_value_dup_string (value);
      break;
    case PROP_BASELINES:
      g_free (self->baselines);
      self->baselines = g_value_dup_string (value);
      break;
    case PROP_REFRESH:
      self->refresh = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);
  if (post_bad)
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", post_bad),
        ("the previous setting stays in use"));
}

static void
gst_splitnn_edge_get_property (GObject * object, guint id, GValue * value,
    GParamSpec * pspec)
{
  GstSplitnnEdge *self = GST_SPLITNN_EDGE (object);
  g_mutex_lock (&self->lock);
  switch (id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_CUT:
      g_value_set_string (value, self->cut_spec);
      break;
    case PROP_BITS:
      g_value_set_int (value, self->req_bits);
      break;
    case PROP_CODEC:
      g_value_set_enum (value, self->req_codec);
      break;
    case PROP_PER_CHANNEL:
      g_value_set_boolean (value, self->per_channel);
      break;
    case PROP_CLIP:
      g_value_set_double (value, self->clip);
      break;
    case PROP_RANGE:
      g_value_set_enum (value, self->range);
      break;
    case PROP_STREAM_ID:
      g_value_set_uint (value, self->stream_id);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_BANDWIDTH:
      g_value_set_double (value, self->bandwidth);
      break;
    case PROP_OBJECTIVE:
      g_value_set_enum (value, self->objective);
      break;
    case PROP_STATS_INTERVAL:
      g_value_set_uint (value, self->stats_interval);
      break;
    case PROP_CLOUD_SPEED:
      g_value_set_double (value, self->cloud_speed);
      break;
    case PROP_FIDELITY_FLOOR:
      g_value_set_double (value, self->fidelity_floor);
      break;
    case PROP_MAX_ERRORS:
      g_value_set_int (value, self->max_errors);
      break;
    case PROP_DEAD_ZONE:
      g_value_set_int (value, self->dead_zone);
      break;
    case PROP_LONE_DEAD_ZONE:
      g_value_set_int (value, self->lone_dead_zone);
      break;
    case PROP_ROLLING_REFRESH:
      g_value_set_int (value, self->rolling_refresh);
      break;
    case PROP_RESIDUAL_STEP:
      g_value_set_int (value, self->residual_step);
      break;
    case PROP_REFRESH_REQUESTS:
      g_value_set_uint64 (value, self->refresh_requests);
      break;
    case PROP_REFRESH:
      g_value_set_int (value, self->refresh);
      break;
    case PROP_QUALITY:
      g_value_set_int (value, self->quality);
      break;
    case PROP_FRAME_ENCODER:
      g_value_set_string (value, self->frame_encoder);
      break;
    case PROP_BASELINES:
      g_value_set_string (value, self->baselines);
      break;
    case PROP_CLOUD_REPORTS:
      g_value_set_uint64 (value, self->cloud_reports);
      break;
    case PROP_CANDIDATES:
      g_value_set_string (value, self->candidates);
      break;
    case PROP_FRAMES_IN:
      g_value_set_uint64 (value, self->frames_in);
      break;
    case PROP_FRAMES_OUT:
      g_value_set_uint64 (value, self->frames_out);
      break;
    case PROP_DROPPED:
      g_value_set_uint64 (value, self->dropped);
      break;
    case PROP_MEAN_BYTES:
      g_value_set_double (value,
          self->frames_out ? (double) self->bytes_out / self->frames_out : 0);
      break;
    case PROP_CURRENT_CUT:
      if (self->edge_only && self->frames_out)
        g_value_set_string (value, SN_OPTION_EDGE_ONLY_NAME);
      else if (self->cloud_only && self->frames_out)
        g_value_set_string (value, SN_OPTION_CLOUD_ONLY_NAME);
      else
        g_value_set_string (value, self->controller && self->current_cut >= 0
            ? sn_controller_option (self->controller,
                self->current_cut)->name : NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);
}

static void
gst_splitnn_edge_finalize (GObject * object)
{
  GstSplitnnEdge *self = GST_SPLITNN_EDGE (object);
  gst_splitnn_edge_release (self);
  g_free (self->model_path);
  g_free (self->cut_spec);
  g_free (self->frame_encoder);
  g_free (self->baselines);
  g_free (self->bad_setting);
  g_free (self->bad_temporal);
  g_free (self->candidates);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_splitnn_edge_class_init (GstSplitnnEdgeClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GParamFlags rw =
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  gobject_class->set_property = gst_splitnn_edge_set_property;
  gobject_class->get_property = gst_splitnn_edge_get_property;
  gobject_class->finalize = gst_splitnn_edge_finalize;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "ONNX detector (the same file as the cloud's: "
          "packets carry its SHA-256)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_CUT,
      g_param_spec_string ("cut", "Cut",
          "Split point: 'auto' (the planner picks per frame among the "
          "feature cuts, edge-only and cloud-only: see 'baselines'), 'edge-only' (the whole network here; the packets carry only the detections, "
          "which splitnncloud passes on), 'cloud-only' (the frame coded as video with codec=h264 "
          "or jpeg, the whole network in splitnncloud), a cut id or a cut name ('splitnn cuts MODEL' lists them)",
          DEFAULT_CUT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_BITS,
      g_param_spec_int ("bits", "Bits",
          "Bits per feature value: 2, 4, 8 (affine codes), 16 (float16), 32 (float)",
          2, 32, DEFAULT_BITS, rw));
  g_object_class_install_property (gobject_class, PROP_CODEC,
      g_param_spec_enum ("codec", "Codec",
          "How quantized features are coded; temporal codes each "
          "frame against the stream's last (intra frames at the start, every 'refresh' frames and "
          "when splitnncloud asks), with the model's stored ranges: needs range=calibrated "
          "('splitnn calibrate'), bits 2 to 8, and clip < 1 for the clipped ranges",
          gst_splitnn_codec_get_type (), DEFAULT_CODEC, rw));
  g_object_class_install_property (gobject_class, PROP_QUALITY,
      g_param_spec_int ("quality", "Quality",
          "cut=cloud-only: codec=h264's constant QP (0-51, lower "
          "is better; 26 when 0) or codec=jpeg's quality (1-100; 90 when 0)", 0,
          100, 0, rw));
  g_object_class_install_property (gobject_class, PROP_FRAME_ENCODER,
      g_param_spec_string ("frame-encoder", "Frame encoder",
          "cut=cloud-only: the encoder "
          "element as in gst-launch (a camera's hardware encoder); quality goes to its 'quantizer' "
          "(with pass=quant) or 'quality' property where it has one.  NULL: '"
          GST_SPLITNN_DEFAULT_FRAME_ENCODER
          "' for codec=h264, jpegenc for codec=jpeg", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_BASELINES,
      g_param_spec_string ("baselines", "Baselines",
          "cut=auto: where edge-only's and cloud-only's "
          "bytes and fidelity come from, the rows of 'splitnn eval --json' (a file); NULL: eval's "
          "figures for the detector on vtest.avi (docs/evaluation.md); 'none': rank the feature "
          "cuts only", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_DEAD_ZONE,
      g_param_spec_int ("dead-zone", "Dead zone",
          "codec=temporal: a value is sent again only when "
          "its code moved by more than this many steps (0: every change; the cloud's copy stays "
          "within this of the frame's own codes)", 0, 15, DEFAULT_DEAD_ZONE,
          rw));
  g_object_class_install_property (gobject_class, PROP_REFRESH,
      g_param_spec_int ("refresh", "Refresh",
          "codec=temporal: an intra frame (decodable alone) "
          "every this many frames; 0: only at the start, after a cut or setting change and when "
          "the cloud reports a loss", 0, G_MAXINT, DEFAULT_REFRESH, rw));
  g_object_class_install_property (gobject_class, PROP_LONE_DEAD_ZONE,
      g_param_spec_int ("lone-dead-zone", "Lone dead zone",
          "codec=temporal: a value none of whose "
          "3x3 neighbours in its channel moved beyond dead-zone is sent again only when its code "
          "moved by more than this (0: as dead-zone).  Fewer bytes for isolated flicker; the "
          "cloud's copy may stay this far off (docs/performance.md, \"Temporal feature codec\")",
          0, 255, DEFAULT_LONE_DEAD_ZONE, rw));
  g_object_class_install_property (gobject_class, PROP_RESIDUAL_STEP,
      g_param_spec_int ("residual-step", "Residual step",
          "codec=temporal: updates are sent to this "
          "many codes' precision (1: exact; at most 2 x dead-zone + 1 and 16; 0: that largest).  "
          "Coarser costs fewer bytes; the cloud's copy may stay residual-step - 1 codes off",
          0, 16, DEFAULT_RESIDUAL_STEP, rw));
  g_object_class_install_property (gobject_class, PROP_ROLLING_REFRESH,
      g_param_spec_int ("rolling-refresh", "Rolling refresh",
          "codec=temporal: each frame codes one "
          "tile in this many of every channel exactly, in turn, so no value stays off by the dead "
          "zone longer than this many frames, without an intra frame's spike in bytes; costs bytes "
          "on every frame (0: off)", 0, 255, DEFAULT_ROLLING_REFRESH, rw));
  g_object_class_install_property (gobject_class, PROP_REFRESH_REQUESTS,
      g_param_spec_uint64 ("refresh-requests", "Refresh requests",
          "codec=temporal and "
          "cut=cloud-only: the cloud's requests for an intra frame (splitnn-refresh, after a "
          "loss) taken this run; requests about packets older than the last intra frame are "
          "ignored and not counted", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_PER_CHANNEL,
      g_param_spec_boolean ("per-channel", "Per channel",
          "One quantization range per channel " "instead of per tensor", FALSE,
          rw));
  g_object_class_install_property (gobject_class, PROP_CLIP,
      g_param_spec_double ("clip", "Clip",
          "Fraction of values inside the quantization range "
          "(1 = min/max; 0.999 trims outliers, which helps at 2 and 4 bits)",
          0.5, 1.0, DEFAULT_CLIP, rw));
  g_object_class_install_property (gobject_class, PROP_RANGE,
      g_param_spec_enum ("range", "Range",
          "Where quantization ranges come from: each frame "
          "(frame) or the model's stored calibration (calibrated; written by 'splitnn calibrate', "
          "values outside are clamped; with cut=auto every cut needs it)",
          gst_splitnn_range_get_type (), SN_RANGE_FRAME,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_STREAM_ID,
      g_param_spec_uint ("stream-id", "Stream id",
          "Identifies this camera to the cloud", 0, G_MAXUINT, 0, rw));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads",
          "CPU threads for the network; 0: one per CPU this process may use (affinity mask, cgroup CPU quota)",
          0, 64, DEFAULT_THREADS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_BANDWIDTH,
      g_param_spec_double ("bandwidth", "Bandwidth",
          "Link rate in bit/s for cut=auto; 0 uses the "
          "estimate zmqsink sends upstream", 0, 1e12, 0, rw));
  g_object_class_install_property (gobject_class, PROP_OBJECTIVE,
      g_param_spec_enum ("objective", "Objective", "What cut=auto optimises",
          gst_splitnn_objective_get_type (), SN_OBJECTIVE_LATENCY, rw));
  gst_splitnn_install_max_errors (gobject_class, PROP_MAX_ERRORS,
      "dropped frames");
  g_object_class_install_property (gobject_class, PROP_FIDELITY_FLOOR,
      g_param_spec_double ("fidelity-floor", "Fidelity floor",
          "cut=auto: never choose a cut "
          "whose stored fidelity (fidelity_ap50, 0-100) at the current bits, codec, per-channel, clip and range "
          "is under this; -1: off. Needs metadata splitnn.fidelity in the model ('splitnn eval "
          "--store-fidelity'); cuts without a stored figure are never excluded. A fixed cut is "
          "used anyway, with a warning", -1, 100, DEFAULT_FIDELITY_FLOOR, rw));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Stats interval",
          "Post a 'splitnn-edge-stats' element "
          "message every this many ms (0: never)", 0, G_MAXUINT,
          DEFAULT_STATS_INTERVAL, rw));
  g_object_class_install_property (gobject_class, PROP_CLOUD_SPEED,
      g_param_spec_double ("cloud-speed", "Cloud speed",
          "cut=auto, until splitnncloud reports "
          "its speed: how many times faster the cloud runs the network than this machine (the "
          "cloud time per cut is then guessed from FLOPs at the speed measured here on the first "
          "frame, divided by this)", 0.01, 1000, DEFAULT_CLOUD_SPEED,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_CLOUD_REPORTS,
      g_param_spec_uint64 ("cloud-reports", "Cloud reports",
          "cut=auto: per-frame cloud times "
          "received from splitnncloud ('splitnn-cloud-time' events) and used by the planner",
          0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_CANDIDATES,
      g_param_spec_string ("candidates", "Candidates",
          "cut=auto: the cut ids the planner "
          "considers (after the first frame: those no other cut beats on both edge work and "
          "packet size, less those under fidelity-floor), comma-separated",
          NULL, ro));
  g_object_class_install_property (gobject_class, PROP_FRAMES_IN,
      g_param_spec_uint64 ("frames-in", "Frames in", "Frames received", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_FRAMES_OUT,
      g_param_spec_uint64 ("frames-out", "Frames out", "Packets pushed", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_DROPPED,
      g_param_spec_uint64 ("dropped", "Dropped",
          "Frames that could not be processed (each also "
          "posted as a warning) or, with qos=true, came too late (a QoS message)",
          0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_MEAN_BYTES,
      g_param_spec_double ("mean-bytes", "Mean bytes", "Mean packet size", 0,
          G_MAXDOUBLE, 0, ro));
  g_object_class_install_property (gobject_class, PROP_CURRENT_CUT,
      g_param_spec_string ("current-cut", "Current cut",
          "Name of the cut used for the last frame", NULL, ro));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Split inference (edge)", "Filter/Analyzer/Video",
      "Runs the first part of a detector and emits quantized feature packets",
      "splitnn developers");
  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_splitnn_edge_change_state);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_splitnn_edge_start);
  trans_class->transform_caps =
      GST_DEBUG_FUNCPTR (gst_splitnn_edge_transform_caps);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_splitnn_edge_set_caps);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_splitnn_edge_sink_event);
  trans_class->src_event = GST_DEBUG_FUNCPTR (gst_splitnn_edge_src_event);
  trans_class->submit_input_buffer =
      GST_DEBUG_FUNCPTR (gst_splitnn_edge_submit_input_buffer);
  trans_class->prepare_output_buffer =
      GST_DEBUG_FUNCPTR (gst_splitnn_edge_prepare_output_buffer);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_splitnn_edge_transform);
  gst_type_mark_as_plugin_api (gst_splitnn_codec_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_splitnn_objective_get_type (), 0);
  gst_type_mark_as_plugin_api (gst_splitnn_range_get_type (), 0);
}

static void
gst_splitnn_edge_init (GstSplitnnEdge * self)
{
  g_mutex_init (&self->lock);
  self->cut_spec = g_strdup (DEFAULT_CUT);
  self->bits = self->req_bits = DEFAULT_BITS;
  self->max_errors = GST_SPLITNN_DEFAULT_MAX_ERRORS;
  self->codec = self->req_codec = DEFAULT_CODEC;
  self->clip = DEFAULT_CLIP;
  self->threads = DEFAULT_THREADS;
  self->objective = SN_OBJECTIVE_LATENCY;
  self->stats_interval = DEFAULT_STATS_INTERVAL;
  self->cloud_speed = DEFAULT_CLOUD_SPEED;
  self->fidelity_floor = DEFAULT_FIDELITY_FLOOR;
  self->dead_zone = self->req_dead_zone = DEFAULT_DEAD_ZONE;
  self->refresh = DEFAULT_REFRESH;
  self->lone_dead_zone = DEFAULT_LONE_DEAD_ZONE;
  self->rolling_refresh = DEFAULT_ROLLING_REFRESH;
  self->residual_step = self->req_residual_step = DEFAULT_RESIDUAL_STEP;
  self->last_intra = G_MAXUINT64;
  self->current_cut = -1;
}
