/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-splitnncloud
 * @title: splitnncloud
 *
 * The server side of split inference.
 *
 * Each feature packet (from any number of edges; stream ids interleave) is
 * validated, decoded, run through the cloud part of the cut it names and
 * decoded into detections.  One output buffer per packet carries stream id,
 * sequence number, original PTS and the detections: binary (SNDT,
 * docs/protocol.md) or one JSON line; and one GstVideoRegionOfInterestMeta
 * per detection with a "detection" structure (label, class-id, confidence).
 * An edge-only packet (splitnnedge cut=edge-only: the detections record
 * the edge made, same model) runs no network: its detections come out the
 * same way, with cut id SN_CUT_ID_EDGE_ONLY; its time report says cut -1,
 * option "edge-only" (only the cloud's whole-network time means anything
 * there).  A
 * cloud-only packet (splitnnedge cut=cloud-only: the model input coded as
 * H.264 or JPEG) is decoded by that stream's decoder (avdec_h264, jpegdec:
 * gstsplitnnframecoder.c) and runs the whole network; its result carries
 * cut id SN_CUT_ID_CLOUD_ONLY.  A predicted picture after a loss is
 * refused, counted in `refused`, and the edge asked for a keyframe, as for
 * codec=temporal.
 * A bad packet is skipped, counted and reported as a warning (at most
 * every 5 s, gstsplitnnwarn.h).  Caps that name another model are not
 * accepted (the accept-caps query says no), so zmqsrc, which asks before
 * it switches to a sender's caps, refuses that sender alone and the
 * element keeps serving every other stream.
 *
 * With report=true (the default) each result is also answered upstream:
 * a "splitnn-cloud-time" custom event with the time this frame took here,
 * its network part, and this machine's time for the whole network as
 * measured at start.  zmqsrc carries it back to the edge's zmqsink, so
 * splitnnedge cut=auto plans with the cloud's real speed; the edge's
 * controller (sn-controller.h) keeps the one estimate of that speed,
 * refined from the network times of the frames it sends.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 zmqsrc endpoint=tcp://127.0.0.1:5555 bind=true ! \
 *   splitnncloud model=models/centernet-mobilenetv3-coco.onnx format=json ! fdsink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsplitnncloud.h"
#include "gstsplitnnframecoder.h"
#include "gstsplitnnevents.h"
#include "gstsplitnnmeta.h"
#include "gstsplitnnmodel.h"
#include "gstzmqcommon.h"
#include "gstsplitnnwarn.h"

#include <gst/video/video.h>
#include <unistd.h>
#include <splitnn/splitnn.h>

GST_DEBUG_CATEGORY_STATIC (gst_splitnn_cloud_debug);
#define GST_CAT_DEFAULT gst_splitnn_cloud_debug

enum
{ FORMAT_BINARY, FORMAT_JSON };

enum
{
  PROP_0, PROP_MODEL, PROP_FORMAT, PROP_THRESHOLD, PROP_THREADS,
  PROP_PACKETS, PROP_BAD_PACKETS, PROP_MEAN_CLOUD_MS, PROP_REPORT,
  PROP_WHOLE_MS,
  PROP_MAX_ERRORS, PROP_REFUSED, PROP_WORKER,
};

struct _GstSplitnnCloud
{
  GstBaseTransform parent;
  /* this process's name in a pool of workers (docs/workers.md), under lock */
  gchar *worker;
  GMutex lock;
  gchar *model_path;
  gint format;
  gdouble threshold;
  gint threads;
  gboolean report;

  SnModel *model;
  SnDetector *detector;         /* the whole network, timed at start */
  SnCutSet *cuts;
  SnCloudSession *session;
  SnDetections dets;
  GByteArray *out;
  gint max_errors;
  GstSplitnnWarn bad_warn;
  guint64 packets, bad_packets;
  guint64 refused;              /* codec=temporal: packets without their reference (after a loss) */
  double cloud_ms_total;
  double whole_ms;              /* this machine's time for the whole network, at start */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("application/x-splitnn"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS
    ("application/x-splitnn-detections, format = (string) { binary, json }"));

#define gst_splitnn_cloud_parent_class parent_class
G_DEFINE_TYPE (GstSplitnnCloud, gst_splitnn_cloud, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (splitnncloud, "splitnncloud",
    GST_RANK_NONE, GST_TYPE_SPLITNN_CLOUD,
    GST_DEBUG_CATEGORY_INIT (gst_splitnn_cloud_debug, "splitnncloud", 0,
        "split inference, cloud side"));

static GType
gst_splitnn_cloud_format_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {FORMAT_BINARY, "Compact binary (SNDT, docs/protocol.md)", "binary"},
    {FORMAT_JSON, "One JSON object per frame, newline-terminated", "json"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstSplitnnCloudFormat",
            values));
  return type;
}

static void
gst_splitnn_cloud_release (GstSplitnnCloud * self)
{
  g_clear_pointer (&self->session, sn_cloud_session_free);
  g_clear_pointer (&self->cuts, sn_cut_set_free);
  g_clear_pointer (&self->detector, sn_detector_free);
  g_clear_pointer (&self->model, sn_model_free);
  g_clear_pointer (&self->out, g_byte_array_unref);
  sn_detections_clear (&self->dets);
}

/* This machine's time for the whole network, for the edge's planner
 * before it has measured a cut here: the second of two runs on a blank
 * frame (the first pays for cold caches).  0 if it failed. */
static double
gst_splitnn_cloud_measure_whole (GstSplitnnCloud * self)
{
  SnDetections dets;
  SnDetectorTimings t = { 0 };
  GError *err = NULL;
  gboolean ok = TRUE;
  sn_detections_init (&dets);
  sn_detector_set_threads (self->detector, self->threads);
  for (int i = 0; i < 2 && ok; i++)
    ok = sn_detector_run (self->detector, gst_splitnn_blank_image (), &dets, &t,
        &err);
  sn_detections_clear (&dets);
  if (!ok) {
    GST_WARNING_OBJECT (self, "could not time the whole network: %s",
        err->message);
    g_error_free (err);
    return 0;
  }
  GST_INFO_OBJECT (self, "whole network: %.1f ms here", t.inference_ms);
  return t.inference_ms;
}

static gboolean
gst_splitnn_cloud_setup (GstSplitnnCloud * self)
{
  g_mutex_lock (&self->lock);
  g_autofree gchar *path = g_strdup (self->model_path);
  gboolean report = self->report;
  g_mutex_unlock (&self->lock);
  if (!gst_splitnn_model_open (GST_ELEMENT (self), path, &self->model,
          &self->detector, &self->cuts))
    return FALSE;
  self->whole_ms = report ? gst_splitnn_cloud_measure_whole (self) : 0;
  GError *err = NULL;
  if (!(self->session = sn_cloud_session_new (self->model, self->cuts, &err))) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("Cannot use model '%s'",
            path), ("%s", err->message));
    g_error_free (err);
    gst_splitnn_cloud_release (self);
    return FALSE;
  }
  sn_cloud_session_set_threads (self->session, self->threads);
  sn_cloud_session_set_frame_coder (self->session,
      gst_splitnn_frame_coder_funcs (), NULL);
  self->out = g_byte_array_new ();
  sn_detections_init (&self->dets);
  return TRUE;
}

/* The model is loaded in NULL -> READY, not in start(): a missing or bad
 * model fails the change to READY, which applications (and
 * tests/test-elements.c) check before building the rest of a pipeline. */
static GstStateChangeReturn
gst_splitnn_cloud_change_state (GstElement * element, GstStateChange transition)
{
  GstSplitnnCloud *self = GST_SPLITNN_CLOUD (element);
  if (transition == GST_STATE_CHANGE_NULL_TO_READY
      && !gst_splitnn_cloud_setup (self))
    return GST_STATE_CHANGE_FAILURE;
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_NULL)
    gst_splitnn_cloud_release (self);
  return ret;
}

/* Counters and the warning state are per run (READY -> PAUSED). */
static gboolean
gst_splitnn_cloud_start (GstBaseTransform * trans)
{
  GstSplitnnCloud *self = GST_SPLITNN_CLOUD (trans);
  gst_splitnn_warn_reset (&self->bad_warn);
  g_mutex_lock (&self->lock);
  self->packets = self->bad_packets = self->refused = 0;
  self->cloud_ms_total = 0;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* The model fingerprint the caps name, NULL when they name none. */
static const gchar *
gst_splitnn_cloud_caps_model (GstCaps * caps)
{
  return gst_caps_get_size (caps) ?
      gst_structure_get_string (gst_caps_get_structure (caps, 0), "model")
      : NULL;
}

/* Caps naming another model are not acceptable.  The pad refuses a caps
 * event whose accept-caps query fails before it reaches the event
 * function, and zmqsrc asks per sender before switching: such a sender is
 * refused alone instead of the stream failing. */
static gboolean
gst_splitnn_cloud_accept_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps)
{
  GstSplitnnCloud *self = GST_SPLITNN_CLOUD (trans);
  if (direction != GST_PAD_SINK)
    return GST_BASE_TRANSFORM_CLASS (parent_class)->accept_caps (trans,
        direction, caps);
  GstCaps *templ =
      gst_pad_get_pad_template_caps (GST_BASE_TRANSFORM_SINK_PAD (trans));
  const gchar *fp = gst_splitnn_cloud_caps_model (caps);
  gboolean ok = gst_caps_can_intersect (caps, templ)
      && (!fp || !self->model
      || g_strcmp0 (fp, sn_model_fingerprint (self->model)) == 0);
  gst_caps_unref (templ);
  return ok;
}

/* Packets of any stream (zmqsrc switches caps per sender) give the one
 * detections format of the format property. */
static GstCaps *
gst_splitnn_cloud_transform_caps (GstBaseTransform * trans,
    GstPadDirection direction, GstCaps * caps, GstCaps * filter)
{
  GstSplitnnCloud *self = GST_SPLITNN_CLOUD (trans);
  GstCaps *out;
  if (direction == GST_PAD_SINK) {
    g_mutex_lock (&self->lock);
    gint format = self->format;
    g_mutex_unlock (&self->lock);
    out =
        gst_caps_new_simple ("application/x-splitnn-detections", "format",
        G_TYPE_STRING, format == FORMAT_JSON ? "json" : "binary", NULL);
  } else {
    out = gst_pad_get_pad_template_caps (GST_BASE_TRANSFORM_SINK_PAD (trans));
  }
  if (filter) {
    GstCaps *both =
        gst_caps_intersect_full (filter, out, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (out);
    out = both;
  }
  return out;
}

/* QoS is the edge's to act on (cut=auto moves to a cheaper option): the
 * event goes upstream as it is, without arming the base class's skipping
 * of late packets (its qos property stays without effect), so that every
 * packet is decoded and ends in exactly one counter. */
static gboolean
gst_splitnn_cloud_src_event (GstBaseTransform * trans, GstEvent * event)
{
  if (GST_EVENT_TYPE (event) == GST_EVENT_QOS)
    return gst_pad_push_event (GST_BASE_TRANSFORM_SINK_PAD (trans), event);
  return GST_BASE_TRANSFORM_CLASS (parent_class)->src_event (trans, event);
}

/* The detections' size is known only once the packet is decoded:
 * transform() fills an empty buffer.  Only the timestamps are the
 * packet's; no meta of the packet (zmqsrc's sender) is carried over. */
static GstFlowReturn
gst_splitnn_cloud_prepare_output_buffer (GstBaseTransform * trans,
    GstBuffer * in, GstBuffer ** out)
{
  *out = gst_buffer_new ();
  gst_buffer_copy_into (*out, in, GST_BUFFER_COPY_TIMESTAMPS, 0, -1);
  return GST_FLOW_OK;
}

/* The frame's detections in the library's record (docs/protocol.md),
 * written in the negotiated format into self->out. */
static void
gst_splitnn_cloud_write_result (GstSplitnnCloud * self, const SnCloudFrame * f,
    const SnCut * cut, double cloud_ms)
{
  SnResultHeader h;
  sn_result_header_init (&h);
  h.stream_id = f->stream_id;
  h.seq = f->seq;
  h.pts = f->pts;
  /* The baselines have no cut (NULL): their reserved ids. */
  h.cut_id = cut ? cut->id : sn_option_kind_cut_id (f->kind);
  h.cloud_us = (guint32) (cloud_ms * 1000);
  h.time_us = g_get_real_time ();
  /* The session refuses packets made for another model. */
  sn_fingerprint_from_hex (sn_model_fingerprint (self->model), h.fingerprint);
  g_strlcpy (h.path_name, f->path_name, sizeof h.path_name);
  g_mutex_lock (&self->lock);
  g_strlcpy (h.worker, self->worker ? self->worker : "", sizeof h.worker);
  g_mutex_unlock (&self->lock);
  sn_result_serialize (self->format ==
      FORMAT_JSON ? SN_RESULT_JSON : SN_RESULT_BINARY, &h, &self->dets,
      self->out);
}

/* Answers the packet upstream with what it cost here (see the top). */
static void
gst_splitnn_cloud_report_time (GstSplitnnCloud * self, GstBuffer * in,
    const SnCloudFrame * f, double cloud_ms)
{
  const SnCut *cut = f->cut;
  double network_ms = f->timings.network_ms;
  g_mutex_lock (&self->lock);
  gboolean report = self->report;
  gchar *worker = report && cut ? g_strdup (self->worker) : NULL;
  g_mutex_unlock (&self->lock);
  if (!report)
    return;
  /* A baseline has no cut: its report says which it was (cut -1), so that
   * the edge's cut=auto learns this cloud's speed also while it runs
   * edge-only (no network here: only whole-ms counts) or cloud-only (the
   * whole network ran here). */
  GstStructure *s = gst_structure_new (GST_SPLITNN_CLOUD_TIME_EVENT,
      "stream-id", G_TYPE_UINT, f->stream_id, "seq", G_TYPE_UINT64, f->seq,
      "cut", G_TYPE_INT, cut ? (gint) cut->id : -1, "cloud-ms", G_TYPE_DOUBLE,
      cloud_ms,
      "network-ms", G_TYPE_DOUBLE, network_ms, NULL);
  if (!cut)
    gst_structure_set (s, "option", G_TYPE_STRING,
        sn_option_kind_name (f->kind), NULL);
  if (self->whole_ms > 0)
    gst_structure_set (s, "whole-ms", G_TYPE_DOUBLE, self->whole_ms, NULL);
  /* which worker answered: an edge in front of a pool sees its stream move */
  if (worker && *worker)
    gst_structure_set (s, "worker", G_TYPE_STRING, worker, NULL);
  g_free (worker);
  gst_pad_push_event (GST_BASE_TRANSFORM_SINK_PAD (self),
      gst_zmq_reply_event_new (in, s));
}

/* One packet in, its detections out; a packet that gives none (refused,
 * bad) is dropped after it was counted. */
static GstFlowReturn
gst_splitnn_cloud_transform (GstBaseTransform * trans, GstBuffer * in,
    GstBuffer * out)
{
  GstSplitnnCloud *self = GST_SPLITNN_CLOUD (trans);
  GError *err = NULL;
  GstMapInfo map;
  SnCloudFrame f;
  self->packets++;
  if (!gst_buffer_map (in, &map, GST_MAP_READ))
    return GST_FLOW_ERROR;
  g_mutex_lock (&self->lock);
  sn_cloud_session_decode_params (self->session)->threshold =
      (float) self->threshold;
  g_mutex_unlock (&self->lock);
  gboolean ok = sn_cloud_session_process (self->session, map.data, map.size,
      SN_SESSION_NOW, &f,
      &self->dets, &err);
  gst_buffer_unmap (in, &map);
  if (!ok && g_error_matches (err, SN_ERROR, SN_ERROR_NO_REFERENCE)) {
    /* codec=temporal after a loss: not a bad packet.  Counted by the
     * session (refused); the edge is asked for an intra frame. */
    GST_DEBUG_OBJECT (self, "%s", err->message);
    g_clear_error (&err);
    self->refused++;
    gst_pad_push_event (GST_BASE_TRANSFORM_SINK_PAD (trans),
        gst_zmq_reply_event_new (in,
            gst_structure_new (GST_SPLITNN_REFRESH_EVENT, "stream-id",
                G_TYPE_UINT, f.stream_id, "seq", G_TYPE_UINT64, f.seq, NULL)));
    return GST_BASE_TRANSFORM_FLOW_DROPPED;
  }
  if (!ok) {
    self->bad_packets++;
    guint64 n =
        gst_splitnn_warn_failure (&self->bad_warn, g_get_monotonic_time ());
    g_mutex_lock (&self->lock);
    gint max_errors = self->max_errors;
    g_mutex_unlock (&self->lock);
    if (gst_splitnn_warn_too_many (&self->bad_warn, max_errors)) {
      GST_ELEMENT_ERROR (self, STREAM, DECODE,
          ("%" G_GUINT64_FORMAT " bad feature packets in a row, "
              "more than max-errors=%d", self->bad_warn.consecutive,
              max_errors), ("last: %s", err ? err->message : "?"));
      g_clear_error (&err);
      return GST_FLOW_ERROR;
    }
    if (n)
      GST_ELEMENT_WARNING (self, STREAM, DECODE,
          ("Skipped %" G_GUINT64_FORMAT " bad feature packet(s) " "(%"
              G_GUINT64_FORMAT " so far)", n, self->bad_packets), ("last: %s",
              err ? err->message : "?"));
    g_clear_error (&err);
    return GST_BASE_TRANSFORM_FLOW_DROPPED;
  }
  gst_splitnn_warn_success (&self->bad_warn);
  /* Compiling a cut's segment (its first packet) is not the frame's time. */
  const SnCut *cut = f.cut;
  double cloud_ms =
      f.timings.decode_ms + f.timings.network_ms + f.timings.detect_ms;
  self->cloud_ms_total += cloud_ms;
  gst_splitnn_cloud_report_time (self, in, &f, cloud_ms);

  gst_splitnn_cloud_write_result (self, &f, cut, cloud_ms);
  gpointer data = g_memdup2 (self->out->data, self->out->len);
  gst_buffer_append_memory (out, gst_memory_new_wrapped (0, data,
          self->out->len, 0, self->out->len, data, g_free));
  GST_BUFFER_OFFSET (out) = f.seq;
  gst_splitnn_add_detection_metas (out, &self->dets, f.stream_id, f.seq);
  return GST_FLOW_OK;
}

static void
gst_splitnn_cloud_set_property (GObject * object, guint id,
    const GValue * value, GParamSpec * pspec)
{
  GstSplitnnCloud *self = GST_SPLITNN_CLOUD (object);
  g_mutex_lock (&self->lock);
  switch (id) {
    case PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case PROP_FORMAT:
      self->format = g_value_get_enum (value);
      break;
    case PROP_THRESHOLD:
      self->threshold = g_value_get_double (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_REPORT:
      self->report = g_value_get_boolean (value);
      break;
    case PROP_MAX_ERRORS:
      self->max_errors = g_value_get_int (value);
      break;
    case PROP_WORKER:
      g_free (self->worker);
      self->worker = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);
}

static void
gst_splitnn_cloud_get_property (GObject * object, guint id, GValue * value,
    GParamSpec * pspec)
{
  GstSplitnnCloud *self = GST_SPLITNN_CLOUD (object);
  g_mutex_lock (&self->lock);
  switch (id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case PROP_FORMAT:
      g_value_set_enum (value, self->format);
      break;
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_REPORT:
      g_value_set_boolean (value, self->report);
      break;
    case PROP_WHOLE_MS:
      g_value_set_double (value, self->whole_ms);
      break;
    case PROP_PACKETS:
      g_value_set_uint64 (value, self->packets);
      break;
    case PROP_BAD_PACKETS:
      g_value_set_uint64 (value, self->bad_packets);
      break;
    case PROP_REFUSED:
      g_value_set_uint64 (value, self->refused);
      break;
    case PROP_MAX_ERRORS:
      g_value_set_int (value, self->max_errors);
      break;
    case PROP_WORKER:
      g_value_set_string (value, self->worker);
      break;
    case PROP_MEAN_CLOUD_MS:
      g_value_set_double (value,
          self->packets >
          self->bad_packets +
          self->refused ? self->cloud_ms_total / (self->packets -
              self->bad_packets - self->refused) : 0);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);
}

static void
gst_splitnn_cloud_finalize (GObject * object)
{
  GstSplitnnCloud *self = GST_SPLITNN_CLOUD (object);
  gst_splitnn_cloud_release (self);
  g_free (self->model_path);
  g_free (self->worker);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_splitnn_cloud_class_init (GstSplitnnCloudClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  gobject_class->set_property = gst_splitnn_cloud_set_property;
  gobject_class->get_property = gst_splitnn_cloud_get_property;
  gobject_class->finalize = gst_splitnn_cloud_finalize;
  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "ONNX detector; packets made for another file are refused", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_FORMAT,
      g_param_spec_enum ("format", "Format", "Detections output format",
          gst_splitnn_cloud_format_get_type (), FORMAT_BINARY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_double ("threshold", "Threshold", "Minimum detection score",
          0, 1, 0.3,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads",
          "CPU threads for the network; 0: one per CPU this process may use (affinity mask, cgroup CPU quota)",
          0, 64, 1,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_PACKETS,
      g_param_spec_uint64 ("packets", "Packets", "Feature packets received", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_BAD_PACKETS,
      g_param_spec_uint64 ("bad-packets", "Bad packets",
          "Packets skipped as corrupt, truncated or "
          "not decodable with this model (warned about at most every 5 s)", 0,
          G_MAXUINT64, 0, ro));
  gst_splitnn_install_max_errors (gobject_class, PROP_MAX_ERRORS,
      "bad packets");
  g_object_class_install_property (gobject_class, PROP_REFUSED,
      g_param_spec_uint64 ("refused", "Refused",
          "codec=temporal and cut=cloud-only H.264: packets refused because their "
          "reference was lost (a packet missing before them, or this element started after the "
          "stream); each asks the edge for an intra frame ('splitnn-refresh' event, carried back "
          "by zmqsrc/zmqsink with ack-endpoint) and gives no detections", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_MEAN_CLOUD_MS,
      g_param_spec_double ("mean-cloud-ms", "Mean cloud ms",
          "Mean decode + network + decoding time per packet", 0, G_MAXDOUBLE, 0,
          ro));
  g_object_class_install_property (gobject_class, PROP_REPORT,
      g_param_spec_boolean ("report", "Report",
          "Answer each packet upstream with its time here "
          "and this machine's whole-network time (a 'splitnn-cloud-time' event; zmqsrc with "
          "ack-endpoint carries it back to the edge, whose cut=auto plans with it). Also times "
          "the whole network once at start", TRUE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_WHOLE_MS,
      g_param_spec_double ("whole-ms", "Whole network ms",
          "With report: this machine's time for "
          "the whole network, timed at start on a blank frame (0 = unknown); the edge refines "
          "its estimate from the network times reported with each frame", 0,
          G_MAXDOUBLE, 0, ro));
  g_object_class_install_property (gobject_class, PROP_WORKER,
      g_param_spec_string ("worker", "Worker",
          "This worker's name in a pool of workers "
          "(docs/workers.md): written in every JSON result line (\"worker\") and in the "
          "'splitnn-cloud-time' report back to the edge (default hostname:pid; empty = not said)",
          NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Split inference (cloud)", "Filter/Analyzer",
      "Runs the rest of a detector on feature packets and emits detections",
      "splitnn developers");
  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_splitnn_cloud_change_state);
  trans_class->start = GST_DEBUG_FUNCPTR (gst_splitnn_cloud_start);
  trans_class->accept_caps = GST_DEBUG_FUNCPTR (gst_splitnn_cloud_accept_caps);
  trans_class->transform_caps =
      GST_DEBUG_FUNCPTR (gst_splitnn_cloud_transform_caps);
  trans_class->src_event = GST_DEBUG_FUNCPTR (gst_splitnn_cloud_src_event);
  trans_class->prepare_output_buffer =
      GST_DEBUG_FUNCPTR (gst_splitnn_cloud_prepare_output_buffer);
  trans_class->transform = GST_DEBUG_FUNCPTR (gst_splitnn_cloud_transform);
  gst_type_mark_as_plugin_api (gst_splitnn_cloud_format_get_type (), 0);
}

static void
gst_splitnn_cloud_init (GstSplitnnCloud * self)
{
  g_mutex_init (&self->lock);
  self->threshold = 0.3;
  self->threads = 1;
  self->report = TRUE;
  self->worker = g_strdup_printf ("%s:%d", g_get_host_name (), (int) getpid ());
  self->max_errors = GST_SPLITNN_DEFAULT_MAX_ERRORS;
}
