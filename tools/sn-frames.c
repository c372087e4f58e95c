/* RGB frames from any file GStreamer can decode. */
#include "sn-frames.h"

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
};

SnFrames *
sn_frames_open (const char *path, GError **error)
{
  gst_init (NULL, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "%s: no such file", path);
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

gboolean
sn_frames_next (SnFrames *f, SnFrame *frame, GError **error)
{
  release (f);
  f->sample = gst_app_sink_pull_sample (f->sink);
  if (!f->sample) {
    /* EOS or error: the bus says which. */
    GstBus *bus = gst_element_get_bus (f->pipeline);
    GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    gst_object_unref (bus);
    if (m) {
      GError *gerr = NULL;
      gst_message_parse_error (m, &gerr, NULL);
      g_set_error (error, SN_ERROR, SN_ERROR_IO, "decoding failed: %s", gerr->message);
      g_error_free (gerr);
      gst_message_unref (m);
    }
    return FALSE;
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
  g_free (f);
}
