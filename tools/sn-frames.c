/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RGB frames from any file GStreamer can decode.
 *
 * appsink's pull only returns on a sample, EOS or flushing: an error posted
 * on the bus (no decoder for the file, a broken stream) leaves it waiting
 * for ever.  So frames are pulled with a short timeout and the bus is read
 * between tries; the first error ends the stream with its message. */
#include "sn-frames.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>

#include <splitnn/sn-error.h>

struct SnFrames {
  GstElement *pipeline;
  GstAppSink *sink;
  GstSample *sample;
  GstVideoFrame vframe;
  gboolean mapped;
  int index;
  char *path;
};

/* A pipeline that neither delivers a frame nor posts an error or EOS for
 * this long is stuck (it should not happen, but a tool must never hang on
 * a file); generous so that sanitizer builds on a busy machine still
 * decode normally. */
#define SN_FRAMES_STALL_US (60 * G_USEC_PER_SEC)
#define SN_FRAMES_POLL_NS (100 * GST_MSECOND)

SnFrames *
sn_frames_open (const char *path, GError **error)
{
  gst_init (NULL, NULL);
  GStatBuf st;
  if (g_stat (path, &st) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s: %s", path, g_strerror (errno));
    return NULL;
  }
  if (!S_ISREG (st.st_mode)) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s: not a regular file", path);
    return NULL;
  }
  if (st.st_size == 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s: empty file", path);
    return NULL;
  }
  g_autofree char *escaped = g_strescape (path, NULL);
  g_autofree char *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "video/x-raw,format=RGB ! appsink name=sink sync=false max-buffers=4", escaped);
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  if (!p) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "cannot build a decoder for %s: %s", path,
        err ? err->message : "?");
    g_clear_error (&err);
    return NULL;
  }
  SnFrames *f = g_new0 (SnFrames, 1);
  f->pipeline = p;
  f->path = g_strdup (path);
  f->sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  if (gst_element_set_state (p, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s: cannot start decoding", path);
    sn_frames_close (f);
    return NULL;
  }
  return f;
}

static void
release (SnFrames *f)
{
  if (f->mapped)
    gst_video_frame_unmap (&f->vframe);
  f->mapped = FALSE;
  if (f->sample)
    gst_sample_unref (f->sample);
  f->sample = NULL;
}

/* TRUE with error set if the pipeline posted an error. */
static gboolean
bus_error (SnFrames *f, GError **error)
{
  GstBus *bus = gst_element_get_bus (f->pipeline);
  GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  gst_object_unref (bus);
  if (!m)
    return FALSE;
  GError *gerr = NULL;
  gst_message_parse_error (m, &gerr, NULL);
  /* typefind and decodebin say "missing a plug-in" or "could not determine
   * type" for a file that is not a video or image at all: say that. */
  if (gerr->domain == GST_STREAM_ERROR && (gerr->code == GST_STREAM_ERROR_TYPE_NOT_FOUND
          || gerr->code == GST_STREAM_ERROR_CODEC_NOT_FOUND || gerr->code == GST_STREAM_ERROR_WRONG_TYPE))
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s: not a video or image file that can be decoded (%s)",
        f->path, gerr->message);
  else if (gerr->domain == GST_CORE_ERROR && gerr->code == GST_CORE_ERROR_MISSING_PLUGIN)
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s: not a video or image file that can be decoded (%s)",
        f->path, gerr->message);
  else
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s: decoding failed: %s", f->path, gerr->message);
  g_error_free (gerr);
  gst_message_unref (m);
  return TRUE;
}

/* A stream that ends before its first frame is an error, not an empty
 * result: decoders skip a frame they cannot decode with a warning (a JPEG
 * cut short, a truncated video), which is the reason to give. */
static void
no_frame_error (SnFrames *f, GError **error)
{
  GstBus *bus = gst_element_get_bus (f->pipeline);
  GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  gst_object_unref (bus);
  GError *gerr = NULL;
  if (m)
    gst_message_parse_warning (m, &gerr, NULL);
  g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s: no frame could be decoded%s%s%s", f->path,
      gerr ? " (" : "", gerr ? gerr->message : "", gerr ? ")" : "");
  g_clear_error (&gerr);
  g_clear_pointer (&m, gst_message_unref);
}

gboolean
sn_frames_next (SnFrames *f, SnFrame *frame, GError **error)
{
  release (f);
  gint64 deadline = g_get_monotonic_time () + SN_FRAMES_STALL_US;
  while (!(f->sample = gst_app_sink_try_pull_sample (f->sink, SN_FRAMES_POLL_NS))) {
    /* An error is read before EOS: a stream cut short by an error must not
     * look like a clean end. */
    if (bus_error (f, error))
      return FALSE;
    if (gst_app_sink_is_eos (f->sink)) {
      if (!bus_error (f, error) && f->index == 0)
        no_frame_error (f, error);
      return FALSE;
    }
    if (g_get_monotonic_time () > deadline) {
      g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s: no frame, error or end of stream from the "
          "decoder in %d s", f->path, (int) (SN_FRAMES_STALL_US / G_USEC_PER_SEC));
      return FALSE;
    }
  }
  GstVideoInfo info;
  if (!gst_video_info_from_caps (&info, gst_sample_get_caps (f->sample))
      || !gst_video_frame_map (&f->vframe, &info, gst_sample_get_buffer (f->sample), GST_MAP_READ)) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "cannot map a decoded frame");
    return FALSE;
  }
  f->mapped = TRUE;
  GstBuffer *buf = gst_sample_get_buffer (f->sample);
  frame->index = f->index++;
  frame->pts = GST_BUFFER_PTS (buf);
  frame->width = GST_VIDEO_FRAME_WIDTH (&f->vframe);
  frame->height = GST_VIDEO_FRAME_HEIGHT (&f->vframe);
  frame->stride = GST_VIDEO_FRAME_PLANE_STRIDE (&f->vframe, 0);
  frame->rgb = GST_VIDEO_FRAME_PLANE_DATA (&f->vframe, 0);
  return TRUE;
}

void
sn_frames_close (SnFrames *f)
{
  if (!f)
    return;
  release (f);
  gst_element_set_state (f->pipeline, GST_STATE_NULL);
  gst_object_unref (f->sink);
  gst_object_unref (f->pipeline);
  g_free (f->path);
  g_free (f);
}
