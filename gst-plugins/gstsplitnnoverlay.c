/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-splitnnoverlay
 * @title: splitnnoverlay
 *
 * The cloud's detections back on the camera's frames.
 *
 * Frames are numbered in arrival order from 0, as splitnnedge numbers the
 * packets it makes from the same frames, and each waits at most `latency` ms
 * (from its arrival) for the detections (SNDT or JSON, docs/elements.md) carrying
 * its sequence number.  It then leaves with one GstVideoRegionOfInterestMeta
 * per detection and, with draw=true, labelled boxes; or unannotated, counted.
 * Detections that come after their frame left are counted as late.  A dead
 * cloud delays the video by `latency` but never stalls it: frames are queued
 * and pushed from the source pad's own thread.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=data/vtest.avi ! decodebin ! videoconvert ! tee name=t \
 *   t. ! queue ! splitnnedge model=M cut=4 ! zmqsink endpoint=tcp://CLOUD:5555 \
 *   t. ! queue ! ov.video_sink \
 *   zmqsrc endpoint=tcp://0.0.0.0:5556 ! ov.detections_sink \
 *   splitnnoverlay name=ov latency=500 ! videoconvert ! autovideosink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsplitnnoverlay.h"
#include "gstsplitnnmeta.h"

#include <gst/video/video.h>
#include <splitnn/splitnn.h>
#include <stdlib.h>

GST_DEBUG_CATEGORY_STATIC (gst_splitnn_overlay_debug);
#define GST_CAT_DEFAULT gst_splitnn_overlay_debug

#define DEFAULT_LATENCY 500
#define DEFAULT_MAX_PENDING 64
#define DEFAULT_STATS_INTERVAL 1000
#define MAX_EARLY 4096          /* detections held for frames not seen yet */
#define LATENCY_WINDOW 4096     /* frames over which median / p95 are taken */

enum
{
  PROP_0, PROP_LATENCY, PROP_DRAW, PROP_STREAM_ID, PROP_MAX_PENDING,
  PROP_STATS_INTERVAL,
  PROP_FRAMES_ANNOTATED, PROP_FRAMES_UNANNOTATED, PROP_DETECTIONS_LATE,
  PROP_DETECTIONS_UNMATCHED, PROP_BAD_DETECTIONS,
};

typedef struct
{
  guint64 seq;
  guint32 stream_id;
  guint64 pts;
  gint64 arrival;               /* monotonic, us */
  SnDetections dets;
} Dets;

typedef struct
{
  GstMiniObject *obj;           /* a frame or a serialized event */
  guint64 seq;
  gint64 arrival;
} Item;

struct _GstSplitnnOverlay
{
  GstElement parent;
  GstPad *videosink, *detsink, *srcpad;

  GMutex lock;
  GCond cond;                   /* queue, detections, flushing, space: all broadcast */
  /* properties */
  guint latency;
  gboolean draw;
  gint64 stream_id;
  guint max_pending;
  guint stats_interval;
  /* state, under lock */
  GQueue items;
  GHashTable *early;            /* seq -> Dets, for frames still queued or not seen yet */
  gboolean flushing, dets_eos, pts_warned, json;
  GstFlowReturn srcresult;
  guint64 next_in, next_out;    /* sequence numbers of the next frame in and out */
  guint64 annotated, unannotated, late, unmatched, bad;
  double lat_ms[LATENCY_WINDOW];
  guint64 n_lat;
  /* streaming thread only */
  GstVideoInfo info;
  gint64 last_stats;
};

static GstStaticPadTemplate video_sink_template =
GST_STATIC_PAD_TEMPLATE ("video_sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE
        ("{ BGRx, BGRA, RGBx, RGBA, xRGB, xBGR, ARGB, ABGR, "
            "RGB, BGR, I420, YV12, NV12, NV21, Y42B, Y444, YUY2, UYVY }")));
static GstStaticPadTemplate dets_sink_template =
GST_STATIC_PAD_TEMPLATE ("detections_sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS
    ("application/x-splitnn-detections, format = (string) { binary, json }"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE
        ("{ BGRx, BGRA, RGBx, RGBA, xRGB, xBGR, ARGB, ABGR, "
            "RGB, BGR, I420, YV12, NV12, NV21, Y42B, Y444, YUY2, UYVY }")));

#define gst_splitnn_overlay_parent_class parent_class
G_DEFINE_TYPE (GstSplitnnOverlay, gst_splitnn_overlay, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (splitnnoverlay, "splitnnoverlay",
    GST_RANK_NONE, GST_TYPE_SPLITNN_OVERLAY,
    GST_DEBUG_CATEGORY_INIT (gst_splitnn_overlay_debug, "splitnnoverlay", 0,
        "detections back on the frames"));

static void
gst_splitnn_overlay_dets_free (gpointer p)
{
  Dets *d = p;
  sn_detections_clear (&d->dets);
  g_free (d);
}

/* Drops what is queued; detections held for frames that will not come are
 * counted as unmatched.  Called with the lock held. */
static void
gst_splitnn_overlay_clear_locked (GstSplitnnOverlay * self)
{
  Item *it;
  while ((it = g_queue_pop_head (&self->items))) {
    gst_mini_object_unref (it->obj);
    g_free (it);
  }
  self->unmatched += g_hash_table_size (self->early);
  g_hash_table_remove_all (self->early);
  g_cond_broadcast (&self->cond);
}

static int
gst_splitnn_overlay_cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static void
gst_splitnn_overlay_post_stats (GstSplitnnOverlay * self)
{
  double sorted[LATENCY_WINDOW], median = 0, p95 = 0, max = 0;
  g_mutex_lock (&self->lock);
  guint n = (guint) MIN (self->n_lat, LATENCY_WINDOW);
  memcpy (sorted, self->lat_ms, n * sizeof (double));
  GstStructure *s = gst_structure_new ("splitnnoverlay-stats",
      "frames-annotated", G_TYPE_UINT64, self->annotated,
      "frames-unannotated", G_TYPE_UINT64, self->unannotated,
      "detections-late", G_TYPE_UINT64, self->late,
      "detections-unmatched", G_TYPE_UINT64, self->unmatched,
      "bad-detections", G_TYPE_UINT64, self->bad, NULL);
  g_mutex_unlock (&self->lock);
  if (n) {
    qsort (sorted, n, sizeof (double), gst_splitnn_overlay_cmp_double);
    median = sorted[n / 2];
    p95 = sorted[MIN (n - 1, (guint) (0.95 * n))];
    max = sorted[n - 1];
  }
  gst_structure_set (s, "latency-median-ms", G_TYPE_DOUBLE, median,
      "latency-p95-ms", G_TYPE_DOUBLE, p95, "latency-max-ms", G_TYPE_DOUBLE,
      max, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* ---- drawing ---------------------------------------------------------------------- */

/* cairo draws 32-bit native-endian pixels: on BGRx frames directly, on every
 * other format through a transparent ARGB layer blended by libgstvideo. */
static void
gst_splitnn_overlay_draw (GstSplitnnOverlay * self, GstVideoFrame * frame,
    const SnDetections * d)
{
  int w = GST_VIDEO_FRAME_WIDTH (frame), h = GST_VIDEO_FRAME_HEIGHT (frame);
  if (GST_VIDEO_FRAME_FORMAT (frame) == GST_VIDEO_FORMAT_BGRx
      && G_BYTE_ORDER == G_LITTLE_ENDIAN) {
    sn_draw_detections_bgrx (GST_VIDEO_FRAME_PLANE_DATA (frame, 0), w, h,
        GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0), d);
    return;
  }
  GstBuffer *layer = gst_buffer_new_allocate (NULL, (gsize) w * h * 4, NULL);
  GstMapInfo map;
  if (!gst_buffer_map (layer, &map, GST_MAP_WRITE)) {
    gst_buffer_unref (layer);
    return;
  }
  memset (map.data, 0, map.size);
  sn_draw_detections_argb (map.data, w, h, w * 4, d);
  gst_buffer_unmap (layer, &map);
  gst_buffer_add_video_meta (layer, GST_VIDEO_FRAME_FLAG_NONE,
      GST_VIDEO_OVERLAY_COMPOSITION_FORMAT_RGB, w, h);
  GstVideoOverlayRectangle *rect =
      gst_video_overlay_rectangle_new_raw (layer, 0, 0, w, h,
      GST_VIDEO_OVERLAY_FORMAT_FLAG_PREMULTIPLIED_ALPHA);
  GstVideoOverlayComposition *comp = gst_video_overlay_composition_new (rect);
  if (!gst_video_overlay_composition_blend (comp, frame))
    GST_WARNING_OBJECT (self, "cannot blend onto %s",
        gst_video_format_to_string (GST_VIDEO_FRAME_FORMAT (frame)));
  gst_video_overlay_composition_unref (comp);
  gst_video_overlay_rectangle_unref (rect);
  gst_buffer_unref (layer);
}

static GstBuffer *
gst_splitnn_overlay_annotate (GstSplitnnOverlay * self, GstBuffer * buf,
    const Dets * d, gboolean do_draw)
{
  buf = gst_buffer_make_writable (buf);
  gst_splitnn_add_detection_metas (buf, &d->dets, d->stream_id, d->seq);
  if (!do_draw || d->dets.n == 0)
    return buf;
  GstVideoFrame frame;
  if (!gst_video_frame_map (&frame, &self->info, buf, GST_MAP_READWRITE)) {
    GST_WARNING_OBJECT (self,
        "cannot map frame %" G_GUINT64_FORMAT " to draw on it", d->seq);
    return buf;
  }
  gst_splitnn_overlay_draw (self, &frame, &d->dets);
  gst_video_frame_unmap (&frame);
  return buf;
}

/* ---- the source pad's thread ------------------------------------------------------- */

static void
gst_splitnn_overlay_loop (gpointer data)
{
  GstSplitnnOverlay *self = data;
  g_mutex_lock (&self->lock);
  while (!self->flushing && g_queue_is_empty (&self->items))
    g_cond_wait (&self->cond, &self->lock);
  if (self->flushing)
    goto paused_locked;
  Item *it = g_queue_peek_head (&self->items);
  Dets *d = NULL;
  gboolean is_frame = GST_IS_BUFFER (it->obj);
  if (is_frame) {
    /* The frame's own deadline: queued frames wait concurrently, so a dead
     * cloud costs `latency` once, not per frame. */
    for (;;) {
      d = g_hash_table_lookup (self->early, &it->seq);
      gint64 deadline = it->arrival + (gint64) self->latency * 1000;
      if (d || self->flushing || self->dets_eos
          || g_get_monotonic_time () >= deadline)
        break;
      g_cond_wait_until (&self->cond, &self->lock, deadline);
    }
    if (self->flushing)
      goto paused_locked;
    if (d) {
      g_hash_table_steal (self->early, &it->seq);
      self->annotated++;
      self->lat_ms[self->n_lat++ % LATENCY_WINDOW] =
          MAX (0, d->arrival - it->arrival) / 1000.0;
    } else {
      self->unannotated++;
    }
    self->next_out = it->seq + 1;
  }
  g_queue_pop_head (&self->items);
  g_cond_broadcast (&self->cond);
  gboolean do_draw = self->draw, warn_pts = FALSE;
  guint stats_interval = self->stats_interval;
  if (d && !self->pts_warned && d->pts != SN_PTS_NONE
      && GST_BUFFER_PTS_IS_VALID (GST_BUFFER (it->obj))
      && d->pts != GST_BUFFER_PTS (GST_BUFFER (it->obj)))
    warn_pts = self->pts_warned = TRUE;
  g_mutex_unlock (&self->lock);

  GstFlowReturn ret = GST_FLOW_OK;
  if (is_frame) {
    GstBuffer *buf = GST_BUFFER (it->obj);
    if (warn_pts)
      GST_ELEMENT_WARNING (self, STREAM, FAILED,
          ("Detections may be joined to the wrong frames"),
          ("frame %" G_GUINT64_FORMAT " has PTS %" GST_TIME_FORMAT
              " but its detections say %" GST_TIME_FORMAT
              "; does something drop frames in front of splitnnedge only?",
              it->seq, GST_TIME_ARGS (GST_BUFFER_PTS (buf)),
              GST_TIME_ARGS (d->pts)));
    if (d)
      buf = gst_splitnn_overlay_annotate (self, buf, d, do_draw);
    g_clear_pointer (&d, gst_splitnn_overlay_dets_free);
    gint64 now = g_get_monotonic_time ();
    if (stats_interval
        && now - self->last_stats >= (gint64) stats_interval * 1000) {
      self->last_stats = now;
      gst_splitnn_overlay_post_stats (self);
    }
    ret = gst_pad_push (self->srcpad, buf);
  } else {
    GstEvent *ev = GST_EVENT (it->obj);
    if (GST_EVENT_TYPE (ev) == GST_EVENT_CAPS) {
      GstCaps *caps;
      gst_event_parse_caps (ev, &caps);
      gst_video_info_from_caps (&self->info, caps);
    } else if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
      gst_splitnn_overlay_post_stats (self);
      ret = GST_FLOW_EOS;
    }
    gst_pad_push_event (self->srcpad, ev);
  }
  g_free (it);
  if (ret == GST_FLOW_OK)
    return;
  g_mutex_lock (&self->lock);
  self->srcresult = ret;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  if (ret == GST_FLOW_NOT_LINKED || ret < GST_FLOW_EOS)
    GST_ELEMENT_FLOW_ERROR (self, ret);
  gst_pad_pause_task (self->srcpad);
  return;

paused_locked:
  g_mutex_unlock (&self->lock);
  gst_pad_pause_task (self->srcpad);
}

static gboolean
gst_splitnn_overlay_src_activate_mode (GstPad * pad, GstObject * parent,
    GstPadMode mode, gboolean active)
{
  GstSplitnnOverlay *self = GST_SPLITNN_OVERLAY (parent);
  if (mode != GST_PAD_MODE_PUSH)
    return FALSE;
  g_mutex_lock (&self->lock);
  self->flushing = !active;
  self->srcresult = active ? GST_FLOW_OK : GST_FLOW_FLUSHING;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  if (active)
    return gst_pad_start_task (pad, gst_splitnn_overlay_loop, self, NULL);
  gboolean ok = gst_pad_stop_task (pad);
  g_mutex_lock (&self->lock);
  gst_splitnn_overlay_clear_locked (self);
  g_mutex_unlock (&self->lock);
  return ok;
}

/* ---- video in ---------------------------------------------------------------------- */

static GstFlowReturn
gst_splitnn_overlay_enqueue (GstSplitnnOverlay * self, GstMiniObject * obj)
{
  g_mutex_lock (&self->lock);
  while (GST_IS_BUFFER (obj) && !self->flushing
      && self->srcresult == GST_FLOW_OK
      && g_queue_get_length (&self->items) >= self->max_pending)
    g_cond_wait (&self->cond, &self->lock);
  GstFlowReturn ret = self->srcresult;
  if (ret != GST_FLOW_OK) {
    g_mutex_unlock (&self->lock);
    gst_mini_object_unref (obj);
    return ret;
  }
  Item *it = g_new (Item, 1);
  it->obj = obj;
  it->arrival = g_get_monotonic_time ();
  it->seq = GST_IS_BUFFER (obj) ? self->next_in++ : 0;
  g_queue_push_tail (&self->items, it);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_splitnn_overlay_video_chain (GstPad * pad, GstObject * parent,
    GstBuffer * buf)
{
  return gst_splitnn_overlay_enqueue (GST_SPLITNN_OVERLAY (parent),
      GST_MINI_OBJECT (buf));
}

static gboolean
gst_splitnn_overlay_video_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstSplitnnOverlay *self = GST_SPLITNN_OVERLAY (parent);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START:
      g_mutex_lock (&self->lock);
      self->flushing = TRUE;
      self->srcresult = GST_FLOW_FLUSHING;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      gst_pad_push_event (self->srcpad, event);
      gst_pad_pause_task (self->srcpad);
      return TRUE;
    case GST_EVENT_FLUSH_STOP:
      g_mutex_lock (&self->lock);
      gst_splitnn_overlay_clear_locked (self);
      self->flushing = FALSE;
      self->srcresult = GST_FLOW_OK;
      g_mutex_unlock (&self->lock);
      gst_pad_push_event (self->srcpad, event);
      return gst_pad_start_task (self->srcpad, gst_splitnn_overlay_loop, self,
          NULL);
    default:
      if (GST_EVENT_IS_SERIALIZED (event)) {
        GstFlowReturn ret =
            gst_splitnn_overlay_enqueue (self, GST_MINI_OBJECT (event));
        return ret == GST_FLOW_OK || ret == GST_FLOW_EOS;
      }
      return gst_pad_push_event (self->srcpad, event);
  }
}

static GstCaps *
gst_splitnn_overlay_proxy_caps (GstPad * peer_of, GstPad * template_of,
    GstCaps * filter)
{
  GstCaps *tmpl = gst_pad_get_pad_template_caps (template_of);
  GstCaps *peer = gst_pad_peer_query_caps (peer_of, filter ? filter : tmpl);
  GstCaps *res = gst_caps_intersect (peer, tmpl);
  gst_caps_unref (peer);
  gst_caps_unref (tmpl);
  return res;
}

/* Answers a caps query on pad: what its template and the peer of other
 * both allow. */
static gboolean
gst_splitnn_overlay_caps_query (GstPad * other, GstPad * pad, GstQuery * query)
{
  GstCaps *filter;
  gst_query_parse_caps (query, &filter);
  GstCaps *caps = gst_splitnn_overlay_proxy_caps (other, pad, filter);
  gst_query_set_caps_result (query, caps);
  gst_caps_unref (caps);
  return TRUE;
}

static gboolean
gst_splitnn_overlay_video_query (GstPad * pad, GstObject * parent,
    GstQuery * query)
{
  GstSplitnnOverlay *self = GST_SPLITNN_OVERLAY (parent);
  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS)
    return gst_splitnn_overlay_caps_query (self->srcpad, pad, query);
  if (GST_QUERY_TYPE (query) == GST_QUERY_ACCEPT_CAPS)
    return gst_pad_query_default (pad, parent, query);
  return gst_pad_peer_query (self->srcpad, query);
}

static gboolean
gst_splitnn_overlay_src_query (GstPad * pad, GstObject * parent,
    GstQuery * query)
{
  GstSplitnnOverlay *self = GST_SPLITNN_OVERLAY (parent);
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS:
      return gst_splitnn_overlay_caps_query (self->videosink, pad, query);
    case GST_QUERY_LATENCY:{
      /* Frames may be held up to `latency`. */
      if (!gst_pad_peer_query (self->videosink, query))
        return FALSE;
      gboolean live;
      GstClockTime min, max;
      gst_query_parse_latency (query, &live, &min, &max);
      g_mutex_lock (&self->lock);
      GstClockTime ours = (GstClockTime) self->latency * GST_MSECOND;
      g_mutex_unlock (&self->lock);
      gst_query_set_latency (query, live, min + ours,
          GST_CLOCK_TIME_IS_VALID (max) ? max + ours : max);
      return TRUE;
    }
    default:
      return gst_pad_peer_query (self->videosink, query);
  }
}

static gboolean
gst_splitnn_overlay_src_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  return gst_pad_push_event (GST_SPLITNN_OVERLAY (parent)->videosink, event);
}

/* ---- detections in ----------------------------------------------------------------- */

static GstFlowReturn
gst_splitnn_overlay_dets_chain (GstPad * pad, GstObject * parent,
    GstBuffer * buf)
{
  GstSplitnnOverlay *self = GST_SPLITNN_OVERLAY (parent);
  Dets *d = g_new0 (Dets, 1);
  sn_detections_init (&d->dets);
  d->arrival = g_get_monotonic_time ();
  GError *err = NULL;
  SnResultHeader h;
  GstMapInfo map;
  gboolean ok = gst_buffer_map (buf, &map, GST_MAP_READ);
  g_mutex_lock (&self->lock);
  gboolean json = self->json;
  g_mutex_unlock (&self->lock);
  if (ok) {
    ok = sn_result_deserialize (json ? SN_RESULT_JSON : SN_RESULT_BINARY,
        map.data, map.size, &h, &d->dets, &err);
    gst_buffer_unmap (buf, &map);
  }
  gst_buffer_unref (buf);
  g_mutex_lock (&self->lock);
  if (!ok) {
    guint64 bad = ++self->bad;
    g_mutex_unlock (&self->lock);
    GST_ELEMENT_WARNING (self, STREAM, DECODE,
        ("Bad detections message skipped (%" G_GUINT64_FORMAT " so far)", bad),
        ("%s", err ? err->message : "cannot map the buffer"));
    g_clear_error (&err);
    gst_splitnn_overlay_dets_free (d);
    return GST_FLOW_OK;
  }
  d->seq = h.seq;
  d->stream_id = h.stream_id;
  d->pts = h.pts;
  if (self->stream_id >= 0 && h.stream_id != (guint64) self->stream_id) {
    GST_LOG_OBJECT (self, "detections of stream %u ignored", h.stream_id);
    gst_splitnn_overlay_dets_free (d);
  } else if (h.seq < self->next_out) {
    self->late++;
    GST_DEBUG_OBJECT (self,
        "detections for frame %" G_GUINT64_FORMAT " came after it left", h.seq);
    gst_splitnn_overlay_dets_free (d);
  } else if (g_hash_table_size (self->early) >= MAX_EARLY
      && !g_hash_table_contains (self->early, &d->seq)) {
    self->unmatched++;
    gst_splitnn_overlay_dets_free (d);
  } else {
    if (g_hash_table_contains (self->early, &d->seq))
      self->unmatched++;        /* a second message for the same frame replaces the first */
    g_hash_table_replace (self->early, &d->seq, d);
    g_cond_broadcast (&self->cond);
  }
  g_mutex_unlock (&self->lock);
  return GST_FLOW_OK;
}

static gboolean
gst_splitnn_overlay_dets_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstSplitnnOverlay *self = GST_SPLITNN_OVERLAY (parent);
  /* The detection stream ends here; only its end matters: no frame needs to
   * wait for detections any more. */
  g_mutex_lock (&self->lock);
  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;
    gst_event_parse_caps (event, &caps);
    self->json =
        g_strcmp0 (gst_structure_get_string (gst_caps_get_structure (caps, 0),
            "format"), "json") == 0;
  } else if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    self->dets_eos = TRUE;
  else if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP
      || GST_EVENT_TYPE (event) == GST_EVENT_STREAM_START)
    self->dets_eos = FALSE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  gst_event_unref (event);
  return TRUE;
}

static gboolean
gst_splitnn_overlay_dets_query (GstPad * pad, GstObject * parent,
    GstQuery * query)
{
  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    GstCaps *filter, *tmpl = gst_pad_get_pad_template_caps (pad);
    gst_query_parse_caps (query, &filter);
    if (filter) {
      GstCaps *c =
          gst_caps_intersect_full (filter, tmpl, GST_CAPS_INTERSECT_FIRST);
      gst_caps_unref (tmpl);
      tmpl = c;
    }
    gst_query_set_caps_result (query, tmpl);
    gst_caps_unref (tmpl);
    return TRUE;
  }
  /* Nothing else goes anywhere: this stream ends here. */
  return GST_QUERY_TYPE (query) == GST_QUERY_ACCEPT_CAPS
      && gst_pad_query_default (pad, parent, query);
}

/* ---- GObject ----------------------------------------------------------------------- */

static GstStateChangeReturn
gst_splitnn_overlay_change_state (GstElement * element,
    GstStateChange transition)
{
  GstSplitnnOverlay *self = GST_SPLITNN_OVERLAY (element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    g_mutex_lock (&self->lock);
    self->next_in = self->next_out = 0;
    self->annotated = self->unannotated = self->late = self->unmatched =
        self->bad = 0;
    self->n_lat = 0;
    self->dets_eos = self->pts_warned = FALSE;
    g_mutex_unlock (&self->lock);
    gst_video_info_init (&self->info);
    self->last_stats = g_get_monotonic_time ();
  }
  return GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
}

static void
gst_splitnn_overlay_set_property (GObject * object, guint id,
    const GValue * value, GParamSpec * pspec)
{
  GstSplitnnOverlay *self = GST_SPLITNN_OVERLAY (object);
  g_mutex_lock (&self->lock);
  switch (id) {
    case PROP_LATENCY:
      self->latency = g_value_get_uint (value);
      break;
    case PROP_DRAW:
      self->draw = g_value_get_boolean (value);
      break;
    case PROP_STREAM_ID:
      self->stream_id = g_value_get_int64 (value);
      break;
    case PROP_MAX_PENDING:
      self->max_pending = g_value_get_uint (value);
      break;
    case PROP_STATS_INTERVAL:
      self->stats_interval = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
      break;
  }
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

static void
gst_splitnn_overlay_get_property (GObject * object, guint id, GValue * value,
    GParamSpec * pspec)
{
  GstSplitnnOverlay *self = GST_SPLITNN_OVERLAY (object);
  g_mutex_lock (&self->lock);
  switch (id) {
    case PROP_LATENCY:
      g_value_set_uint (value, self->latency);
      break;
    case PROP_DRAW:
      g_value_set_boolean (value, self->draw);
      break;
    case PROP_STREAM_ID:
      g_value_set_int64 (value, self->stream_id);
      break;
    case PROP_MAX_PENDING:
      g_value_set_uint (value, self->max_pending);
      break;
    case PROP_STATS_INTERVAL:
      g_value_set_uint (value, self->stats_interval);
      break;
    case PROP_FRAMES_ANNOTATED:
      g_value_set_uint64 (value, self->annotated);
      break;
    case PROP_FRAMES_UNANNOTATED:
      g_value_set_uint64 (value, self->unannotated);
      break;
    case PROP_DETECTIONS_LATE:
      g_value_set_uint64 (value, self->late);
      break;
    case PROP_DETECTIONS_UNMATCHED:
      g_value_set_uint64 (value, self->unmatched);
      break;
    case PROP_BAD_DETECTIONS:
      g_value_set_uint64 (value, self->bad);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);
}

static void
gst_splitnn_overlay_finalize (GObject * object)
{
  GstSplitnnOverlay *self = GST_SPLITNN_OVERLAY (object);
  gst_splitnn_overlay_clear_locked (self);
  g_hash_table_unref (self->early);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_splitnn_overlay_class_init (GstSplitnnOverlayClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GParamFlags rw =
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  gobject_class->set_property = gst_splitnn_overlay_set_property;
  gobject_class->get_property = gst_splitnn_overlay_get_property;
  gobject_class->finalize = gst_splitnn_overlay_finalize;
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency",
          "Longest wait (ms from its arrival) for a frame's detections; "
          "then it leaves unannotated", 0, 600000, DEFAULT_LATENCY, rw));
  g_object_class_install_property (gobject_class, PROP_DRAW,
      g_param_spec_boolean ("draw", "Draw",
          "Draw labelled boxes (metas are attached either way)", TRUE, rw));
  g_object_class_install_property (gobject_class, PROP_STREAM_ID,
      g_param_spec_int64 ("stream-id", "Stream id",
          "Use only detections of this edge stream (-1: any; "
          "set it when one socket carries several streams)", -1, G_MAXUINT32,
          -1, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_PENDING,
      g_param_spec_uint ("max-pending", "Max pending",
          "Frames held at most while waiting; more block " "upstream", 1,
          100000, DEFAULT_MAX_PENDING, rw));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Stats interval",
          "Post splitnnoverlay-stats every N ms " "(0: only at EOS)", 0,
          G_MAXUINT, DEFAULT_STATS_INTERVAL, rw));
  g_object_class_install_property (gobject_class, PROP_FRAMES_ANNOTATED,
      g_param_spec_uint64 ("frames-annotated", "Frames annotated",
          "Frames that left with their detections", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_FRAMES_UNANNOTATED,
      g_param_spec_uint64 ("frames-unannotated", "Frames unannotated",
          "Frames that left without " "detections (none within latency)", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_DETECTIONS_LATE,
      g_param_spec_uint64 ("detections-late", "Detections late",
          "Detection messages that came after " "their frame left", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_DETECTIONS_UNMATCHED,
      g_param_spec_uint64 ("detections-unmatched", "Detections unmatched",
          "Detection messages for frames " "that never came (or duplicates)", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_BAD_DETECTIONS,
      g_param_spec_uint64 ("bad-detections", "Bad detections",
          "Corrupt detection messages skipped "
          "(each also posted as a warning)", 0, G_MAXUINT64, 0, ro));
  gst_element_class_add_static_pad_template (element_class,
      &video_sink_template);
  gst_element_class_add_static_pad_template (element_class,
      &dets_sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Split inference detections overlay", "Filter/Editor/Video",
      "Joins the cloud's detections to the camera's frames: ROI metas and boxes",
      "splitnn developers");
  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_splitnn_overlay_change_state);
}

static void
gst_splitnn_overlay_init (GstSplitnnOverlay * self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  g_queue_init (&self->items);
  self->early =
      g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
      gst_splitnn_overlay_dets_free);
  self->latency = DEFAULT_LATENCY;
  self->draw = TRUE;
  self->stream_id = -1;
  self->max_pending = DEFAULT_MAX_PENDING;
  self->stats_interval = DEFAULT_STATS_INTERVAL;
  self->flushing = TRUE;
  self->srcresult = GST_FLOW_FLUSHING;
  gst_video_info_init (&self->info);

  self->videosink =
      gst_pad_new_from_static_template (&video_sink_template, "video_sink");
  gst_pad_set_chain_function (self->videosink,
      GST_DEBUG_FUNCPTR (gst_splitnn_overlay_video_chain));
  gst_pad_set_event_function (self->videosink,
      GST_DEBUG_FUNCPTR (gst_splitnn_overlay_video_event));
  gst_pad_set_query_function (self->videosink,
      GST_DEBUG_FUNCPTR (gst_splitnn_overlay_video_query));
  gst_element_add_pad (GST_ELEMENT (self), self->videosink);

  self->detsink =
      gst_pad_new_from_static_template (&dets_sink_template, "detections_sink");
  gst_pad_set_chain_function (self->detsink,
      GST_DEBUG_FUNCPTR (gst_splitnn_overlay_dets_chain));
  gst_pad_set_event_function (self->detsink,
      GST_DEBUG_FUNCPTR (gst_splitnn_overlay_dets_event));
  gst_pad_set_query_function (self->detsink,
      GST_DEBUG_FUNCPTR (gst_splitnn_overlay_dets_query));
  GST_PAD_SET_ACCEPT_TEMPLATE (self->detsink);
  gst_element_add_pad (GST_ELEMENT (self), self->detsink);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_activatemode_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_splitnn_overlay_src_activate_mode));
  gst_pad_set_query_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_splitnn_overlay_src_query));
  gst_pad_set_event_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_splitnn_overlay_src_event));
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
}
