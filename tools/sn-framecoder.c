/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Frame coding for the cloud-only baseline (see sn-framecoder.h). */
#include "sn-framecoder.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <string.h>
#include <turbojpeg.h>

#include <splitnn/sn-error.h>

/* A decoded frame must come out before the next goes in: x264enc with
 * tune=zerolatency has no lookahead and no B-frames, and the decoder runs
 * one thread, so each frame comes back at once; this bounds the wait if a
 * plugin ever holds one back. */
#define PULL_TIMEOUT (10 * GST_SECOND)

struct SnFrameCoder {
  SnFrameCodec codec;
  int quality, width, height;
  guint64 index;
  /* H.264 */
  GstElement *pipeline;
  GstAppSrc *src;
  GstAppSink *sink;
  gsize coded;              /* bytes out of the encoder since the last frame */
  /* JPEG */
  tjhandle tj_enc, tj_dec;
};

static GstPadProbeReturn
count_bytes (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  SnFrameCoder *c = user_data;
  c->coded += gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
  return GST_PAD_PROBE_OK;
}

static gboolean
h264_start (SnFrameCoder *c, GError **error)
{
  gst_init (NULL, NULL);
  /* Low-latency settings a camera would use; constant QP (pass=quant) so a
   * quality is one number.  Byte-stream puts SPS/PPS in band, so they are
   * counted with the frames. */
  g_autofree char *desc = g_strdup_printf ("appsrc name=src format=time is-live=false "
      "caps=video/x-raw,format=RGB,width=%d,height=%d,framerate=30/1 ! videoconvert ! "
      "video/x-raw,format=I420 ! x264enc name=enc speed-preset=medium tune=zerolatency "
      "key-int-max=30 pass=quant quantizer=%d ! video/x-h264,stream-format=byte-stream ! "
      "h264parse ! avdec_h264 max-threads=1 ! videoconvert ! video/x-raw,format=RGB ! "
      "appsink name=sink sync=false", c->width, c->height, c->quality);
  GError *err = NULL;
  /* Fatal errors: a missing element (no x264enc without plugins-ugly) must
   * fail here, not leave a pipeline with a hole in it. */
  c->pipeline = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &err);
  if (!c->pipeline) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "cannot build the H.264 coder (x264enc from "
        "gstreamer1.0-plugins-ugly, avdec_h264 from gstreamer1.0-libav): %s",
        err ? err->message : "?");
    g_clear_error (&err);
    return FALSE;
  }
  c->src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (c->pipeline), "src"));
  c->sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (c->pipeline), "sink"));
  GstElement *enc = gst_bin_get_by_name (GST_BIN (c->pipeline), "enc");
  GstPad *pad = gst_element_get_static_pad (enc, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_bytes, c, NULL);
  gst_object_unref (pad);
  gst_object_unref (enc);
  if (gst_element_set_state (c->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "cannot start the H.264 coder");
    return FALSE;
  }
  return TRUE;
}

SnFrameCoder *
sn_frame_coder_new (SnFrameCodec codec, int quality, int width, int height, GError **error)
{
  if (!sn_frame_codec_quality_valid (codec, quality) || width < 16 || height < 16) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "frame codec %s: quality %d or size %dx%d out of range", sn_frame_codec_name (codec),
        quality, width, height);
    return NULL;
  }
  SnFrameCoder *c = g_new0 (SnFrameCoder, 1);
  c->codec = codec;
  c->quality = quality;
  c->width = width;
  c->height = height;
  if (codec == SN_FRAME_CODEC_H264) {
    if (!h264_start (c, error)) {
      sn_frame_coder_free (c);
      return NULL;
    }
  } else {
    c->tj_enc = tjInitCompress ();
    c->tj_dec = tjInitDecompress ();
  }
  return c;
}

static gboolean
bus_error (SnFrameCoder *c, GError **error)
{
  GstBus *bus = gst_element_get_bus (c->pipeline);
  GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  gst_object_unref (bus);
  if (m) {
    GError *gerr = NULL;
    gst_message_parse_error (m, &gerr, NULL);
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "H.264 coder: %s", gerr->message);
    g_error_free (gerr);
    gst_message_unref (m);
  } else {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "H.264 coder: no frame came back");
  }
  return FALSE;
}

static gssize
h264_run (SnFrameCoder *c, const guint8 *rgb, guint8 *out, GError **error)
{
  gsize size = (gsize) c->width * c->height * 3;
  GstBuffer *buf = gst_buffer_new_memdup (rgb, size);
  GST_BUFFER_PTS (buf) = gst_util_uint64_scale (c->index, GST_SECOND, 30);
  GST_BUFFER_DURATION (buf) = gst_util_uint64_scale (1, GST_SECOND, 30);
  c->index++;
  c->coded = 0;
  if (gst_app_src_push_buffer (c->src, buf) != GST_FLOW_OK)
    return bus_error (c, error), -1;
  GstSample *s = gst_app_sink_try_pull_sample (c->sink, PULL_TIMEOUT);
  if (!s)
    return bus_error (c, error), -1;
  GstVideoInfo info;
  GstVideoFrame vf;
  gboolean ok = gst_video_info_from_caps (&info, gst_sample_get_caps (s))
      && GST_VIDEO_INFO_WIDTH (&info) == c->width && GST_VIDEO_INFO_HEIGHT (&info) == c->height
      && gst_video_frame_map (&vf, &info, gst_sample_get_buffer (s), GST_MAP_READ);
  if (ok) {
    const guint8 *p = GST_VIDEO_FRAME_PLANE_DATA (&vf, 0);
    int stride = GST_VIDEO_FRAME_PLANE_STRIDE (&vf, 0);
    for (int y = 0; y < c->height; y++)
      memcpy (out + (gsize) y * c->width * 3, p + (gsize) y * stride, (gsize) c->width * 3);
    gst_video_frame_unmap (&vf);
  }
  gst_sample_unref (s);
  if (!ok) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "H.264 coder: the decoded frame is not %dx%d RGB",
        c->width, c->height);
    return -1;
  }
  /* The encoder pushed this frame's bytes before the decoder could output
   * it: they are all counted by now. */
  return (gssize) c->coded;
}

static gssize
jpeg_run (SnFrameCoder *c, const guint8 *rgb, guint8 *out, GError **error)
{
  unsigned char *jpeg = NULL;
  unsigned long len = 0;
  if (tjCompress2 (c->tj_enc, rgb, c->width, 0, c->height, TJPF_RGB, &jpeg, &len, TJSAMP_420,
          c->quality, 0) != 0
      || tjDecompress2 (c->tj_dec, jpeg, len, out, c->width, 0, c->height, TJPF_RGB, 0) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "JPEG coder: %s", tjGetErrorStr2 (c->tj_enc));
    tjFree (jpeg);
    return -1;
  }
  tjFree (jpeg);
  return (gssize) len;
}

gssize
sn_frame_coder_run (SnFrameCoder *c, const guint8 *rgb, guint8 *out, GError **error)
{
  return c->codec == SN_FRAME_CODEC_H264 ? h264_run (c, rgb, out, error)
      : jpeg_run (c, rgb, out, error);
}

void
sn_frame_coder_free (SnFrameCoder *c)
{
  if (!c)
    return;
  if (c->pipeline) {
    gst_element_set_state (c->pipeline, GST_STATE_NULL);
    g_clear_object (&c->src);
    g_clear_object (&c->sink);
    gst_object_unref (c->pipeline);
  }
  if (c->tj_enc)
    tjDestroy (c->tj_enc);
  if (c->tj_dec)
    tjDestroy (c->tj_dec);
  g_free (c);
}
