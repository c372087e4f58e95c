/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Frame coders from GStreamer elements (see gstsplitnnframecoder.h). */
#include "gstsplitnnframecoder.h"

#include <gst/video/video.h>
#include <string.h>

#include <splitnn/sn-error.h>

/* One chain of elements between a source pad and a sink pad of ours. */
typedef struct
{
  GstElement *pipeline;         /* a pipeline only for its bus: the elements' errors */
  GstPad *src, *sink;           /* ours, linked to the chain's ends */
  GMutex lock;
  GCond cond;
  GQueue out;                   /* GstBuffer*, what came out */
  GstCaps *in_caps;
  gboolean started;
  guint64 index;
  int width, height;
  SnFrameCodec codec;
  gboolean force_key;
} Chain;

static GstFlowReturn
gst_splitnn_frame_coder_chain_sink (GstPad * pad, GstObject * parent,
    GstBuffer * buf)
{
  Chain *c = gst_pad_get_element_private (pad);
  g_mutex_lock (&c->lock);
  g_queue_push_tail (&c->out, buf);
  g_cond_signal (&c->cond);
  g_mutex_unlock (&c->lock);
  return GST_FLOW_OK;
}

static gboolean
gst_splitnn_frame_coder_any_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  gst_event_unref (event);
  return TRUE;
}

static void
gst_splitnn_frame_coder_chain_free (Chain * c)
{
  if (!c)
    return;
  if (c->pipeline)
    gst_element_set_state (c->pipeline, GST_STATE_NULL);
  if (c->src) {
    gst_pad_set_active (c->src, FALSE);
    gst_object_unref (c->src);
  }
  if (c->sink) {
    gst_pad_set_active (c->sink, FALSE);
    gst_object_unref (c->sink);
  }
  g_clear_object (&c->pipeline);
  g_queue_clear_full (&c->out, (GDestroyNotify) gst_buffer_unref);
  gst_clear_caps (&c->in_caps);
  g_mutex_clear (&c->lock);
  g_cond_clear (&c->cond);
  g_free (c);
}

/* desc: elements "first ... last", the last a capsfilter of what comes
 * out; in_caps: what goes in. */
static Chain *
gst_splitnn_frame_coder_chain_new (const char *desc, GstCaps * in_caps,
    GError ** error)
{
  Chain *c = g_new0 (Chain, 1);
  g_mutex_init (&c->lock);
  g_cond_init (&c->cond);
  g_queue_init (&c->out);
  c->in_caps = in_caps;
  GError *err = NULL;
  GstElement *bin = gst_parse_bin_from_description_full (desc, FALSE, NULL,
      GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!bin) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "cannot make '%s': %s (x264enc is in "
        "gstreamer1.0-plugins-ugly, avdec_h264 in gstreamer1.0-libav)", desc,
        err ? err->message : "?");
    g_clear_error (&err);
    gst_splitnn_frame_coder_chain_free (c);
    return NULL;
  }
  c->pipeline = gst_pipeline_new (NULL);
  gst_object_ref_sink (c->pipeline);
  gst_bin_add (GST_BIN (c->pipeline), bin);
  GstPad *first = NULL, *last = NULL;
  GstIterator *it = gst_bin_iterate_sorted (GST_BIN (bin));
  GValue v = G_VALUE_INIT;
  /* Sorted from the sink end: the first element out is the last one. */
  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    if (!last)
      last = gst_element_get_static_pad (e, "src");
    GstPad *p = gst_element_get_static_pad (e, "sink");
    if (p) {
      if (first)
        gst_object_unref (first);
      first = p;
    }
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  c->src = gst_pad_new ("src", GST_PAD_SRC);
  c->sink = gst_pad_new ("sink", GST_PAD_SINK);
  gst_object_ref_sink (c->src);
  gst_object_ref_sink (c->sink);
  gst_pad_set_element_private (c->sink, c);
  gst_pad_set_chain_function (c->sink, gst_splitnn_frame_coder_chain_sink);
  gst_pad_set_event_function (c->sink, gst_splitnn_frame_coder_any_event);
  gst_pad_set_event_function (c->src, gst_splitnn_frame_coder_any_event);
  gboolean ok = first && last && gst_pad_link (c->src, first) == GST_PAD_LINK_OK
      && gst_pad_link (last, c->sink) == GST_PAD_LINK_OK;
  g_clear_object (&first);
  g_clear_object (&last);
  if (!ok) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "cannot link '%s': it must be a chain "
        "of elements with one sink and one source pad", desc);
    gst_splitnn_frame_coder_chain_free (c);
    return NULL;
  }
  gst_pad_set_active (c->sink, TRUE);
  gst_pad_set_active (c->src, TRUE);
  if (gst_element_set_state (c->pipeline,
          GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED, "cannot start '%s'",
        desc);
    gst_splitnn_frame_coder_chain_free (c);
    return NULL;
  }
  return c;
}

/* The first error the chain's elements posted, or what;  FALSE. */
static gboolean
gst_splitnn_frame_coder_chain_error (Chain * c, const char *what,
    GError ** error)
{
  GstBus *bus = gst_element_get_bus (c->pipeline);
  GstMessage *m =
      gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
  gst_object_unref (bus);
  if (m) {
    GError *gerr = NULL;
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR)
      gst_message_parse_error (m, &gerr, NULL);
    else
      gst_message_parse_warning (m, &gerr, NULL);
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "%s: %s", what,
        gerr->message);
    g_error_free (gerr);
    gst_message_unref (m);
  } else {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "%s", what);
  }
  return FALSE;
}

/* Pushes one buffer; what came out of the chain for it is appended to out
 * (encoders) or is the last buffer in *picture (decoders). */
static gboolean
gst_splitnn_frame_coder_chain_push (Chain * c, GstBuffer * buf, GPtrArray * got,
    GError ** error)
{
  if (!c->started) {
    gst_pad_push_event (c->src,
        gst_event_new_stream_start ("splitnn-frame-coder"));
    gst_pad_push_event (c->src, gst_event_new_caps (c->in_caps));
    GstSegment seg;
    gst_segment_init (&seg, GST_FORMAT_TIME);
    gst_pad_push_event (c->src, gst_event_new_segment (&seg));
    c->started = TRUE;
  }
  if (c->force_key) {
    gst_pad_push_event (c->src,
        gst_video_event_new_downstream_force_key_unit (GST_CLOCK_TIME_NONE,
            GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, TRUE, 0));
    c->force_key = FALSE;
  }
  GST_BUFFER_PTS (buf) = gst_util_uint64_scale (c->index, GST_SECOND, 30);
  GST_BUFFER_DURATION (buf) = gst_util_uint64_scale (1, GST_SECOND, 30);
  c->index++;
  GstFlowReturn fr = gst_pad_push (c->src, buf);
  if (fr != GST_FLOW_OK)
    return gst_splitnn_frame_coder_chain_error (c, gst_flow_get_name (fr),
        error);
  gint64 end =
      g_get_monotonic_time () + GST_SPLITNN_FRAME_CODER_TIMEOUT / GST_USECOND;
  g_mutex_lock (&c->lock);
  while (g_queue_is_empty (&c->out)
      && g_cond_wait_until (&c->cond, &c->lock, end));
  while (!g_queue_is_empty (&c->out))
    g_ptr_array_add (got, g_queue_pop_head (&c->out));
  g_mutex_unlock (&c->lock);
  if (got->len == 0)
    return gst_splitnn_frame_coder_chain_error (c, "no picture came out",
        error);
  return TRUE;
}

/* ---- Encoders ------------------------------------------------------------------- */

static gpointer
gst_splitnn_frame_coder_encoder_new (SnFrameCodec codec, int quality, int width,
    int height, gpointer user_data, GError ** error)
{
  const char *enc = user_data ? user_data : codec == SN_FRAME_CODEC_H264
      ? GST_SPLITNN_DEFAULT_FRAME_ENCODER : "jpegenc";
  const char *out = codec == SN_FRAME_CODEC_H264
      ? "video/x-h264,stream-format=byte-stream,alignment=au" : "image/jpeg";
  /* The default encoders get 4:2:0, as eval's coders (docs/evaluation.md)
   * and cameras code: jpegenc would otherwise code the RGB at 4:4:4, 2.6
   * times the bytes.  A chosen encoder negotiates its own format. */
  g_autofree char *desc =
      g_strdup_printf ("videoconvert ! %s%s name=enc ! capsfilter caps=\"%s\"",
      user_data ? "" : "video/x-raw,format=I420 ! ", enc, out);
  GstCaps *in =
      gst_caps_new_simple ("video/x-raw", "format", G_TYPE_STRING, "RGB",
      "width", G_TYPE_INT, width, "height", G_TYPE_INT, height,
      "framerate", GST_TYPE_FRACTION, 30, 1, NULL);
  Chain *c = gst_splitnn_frame_coder_chain_new (desc, in, error);
  if (!c)
    return NULL;
  c->width = width;
  c->height = height;
  c->codec = codec;
  GstElement *e = gst_bin_get_by_name (GST_BIN (c->pipeline), "enc");
  if (e) {
    GObjectClass *k = G_OBJECT_GET_CLASS (e);
    if (g_object_class_find_property (k, "quantizer")
        && g_object_class_find_property (k, "pass"))
      gst_util_set_object_arg (G_OBJECT (e), "pass", "quant"), g_object_set (e,
          "quantizer", quality, NULL);
    else if (g_object_class_find_property (k, "quality"))
      g_object_set (e, "quality", quality, NULL);
    gst_object_unref (e);
  }
  return c;
}

static gboolean
gst_splitnn_frame_coder_encode (gpointer encoder, const guint8 * rgb,
    guint64 pts, gboolean key, GByteArray * out, GError ** error)
{
  Chain *c = encoder;
  gsize row = (gsize) c->width * 3;
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, c->width, c->height);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, info.size, NULL);
  GstMapInfo map;
  gst_buffer_map (buf, &map, GST_MAP_WRITE);
  for (int y = 0; y < c->height; y++)
    memcpy (map.data + (gsize) y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0),
        rgb + y * row, row);
  gst_buffer_unmap (buf, &map);
  c->force_key |= key;
  g_autoptr (GPtrArray) got =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  if (!gst_splitnn_frame_coder_chain_push (c, buf, got, error))
    return FALSE;
  for (guint i = 0; i < got->len; i++) {
    gst_buffer_map (got->pdata[i], &map, GST_MAP_READ);
    g_byte_array_append (out, map.data, map.size);
    gst_buffer_unmap (got->pdata[i], &map);
  }
  return TRUE;
}

/* ---- Decoders ------------------------------------------------------------------- */

static gpointer
gst_splitnn_frame_coder_decoder_new (SnFrameCodec codec, int width, int height,
    gpointer user_data, GError ** error)
{
  g_autofree char *desc = g_strdup_printf ("%s ! videoconvert ! capsfilter "
      "caps=\"video/x-raw,format=RGB,width=%d,height=%d\"",
      codec ==
      SN_FRAME_CODEC_H264 ? "h264parse ! avdec_h264 max-threads=1" :
      "jpegparse ! jpegdec", width, height);
  GstCaps *in =
      codec ==
      SN_FRAME_CODEC_H264 ?
      gst_caps_from_string
      ("video/x-h264,stream-format=byte-stream,alignment=au")
      : gst_caps_new_simple ("image/jpeg", "framerate", GST_TYPE_FRACTION, 30,
      1, NULL);
  Chain *c = gst_splitnn_frame_coder_chain_new (desc, in, error);
  if (c) {
    c->width = width;
    c->height = height;
    c->codec = codec;
  }
  return c;
}

static gboolean
gst_splitnn_frame_coder_decode (gpointer decoder, const guint8 * data,
    gsize len, guint8 * rgb, GError ** error)
{
  Chain *c = decoder;
  g_autoptr (GPtrArray) got =
      g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  if (!gst_splitnn_frame_coder_chain_push (c, gst_buffer_new_memdup (data, len),
          got, error))
    return FALSE;
  GstVideoInfo info;
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, c->width, c->height);
  GstBuffer *pic = got->pdata[got->len - 1];
  GstMapInfo map;
  if (got->len != 1 || gst_buffer_get_size (pic) < info.size) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "%u pictures of %" G_GSIZE_FORMAT
        " bytes came out of one coded picture", got->len,
        gst_buffer_get_size (pic));
    return FALSE;
  }
  gst_buffer_map (pic, &map, GST_MAP_READ);
  gsize row = (gsize) c->width * 3;
  for (int y = 0; y < c->height; y++)
    memcpy (rgb + y * row,
        map.data + (gsize) y * GST_VIDEO_INFO_PLANE_STRIDE (&info, 0), row);
  gst_buffer_unmap (pic, &map);
  return TRUE;
}

static const SnFrameCoderFuncs funcs = {
  gst_splitnn_frame_coder_encoder_new, gst_splitnn_frame_coder_encode,
  (void (*)(gpointer)) gst_splitnn_frame_coder_chain_free,
  gst_splitnn_frame_coder_decoder_new, gst_splitnn_frame_coder_decode,
  (void (*)(gpointer)) gst_splitnn_frame_coder_chain_free,
};

const SnFrameCoderFuncs *
gst_splitnn_frame_coder_funcs (void)
{
  return &funcs;
}
