/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* embed — edge and cloud pipelines in one program, built with
 * gst_parse_launch; the cloud's detections are read from an appsink through
 * their region-of-interest metas and printed.
 *
 *   GST_PLUGIN_PATH=build/gst-plugins build/examples/embed MODEL.onnx VIDEO [FRAMES]
 *
 * In a real deployment the two pipelines run on different machines; here
 * they talk over an ipc:// socket, exactly as they would over tcp://. */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static GstElement *
launch (const char *desc)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  if (!p || err) {
    fprintf (stderr, "embed: %s\n", err ? err->message : "cannot build the pipeline");
    exit (1);
  }
  return p;
}

static void
print_detections (GstBuffer *b)
{
  printf ("frame %3" G_GUINT64_FORMAT "  pts %6.2f s:", GST_BUFFER_OFFSET (b),
      GST_BUFFER_PTS_IS_VALID (b) ? GST_BUFFER_PTS (b) / 1e9 : 0.0);
  gpointer state = NULL;
  GstMeta *m;
  int n = 0;
  while ((m = gst_buffer_iterate_meta_filtered (b, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) m;
    GstStructure *d = gst_video_region_of_interest_meta_get_param (roi, "detection");
    double conf = 0;
    if (d)
      gst_structure_get_double (d, "confidence", &conf);
    printf ("%s %s %.2f [%u,%u %ux%u]", n++ ? "," : "", g_quark_to_string (roi->roi_type), conf,
        roi->x, roi->y, roi->w, roi->h);
  }
  printf ("%s\n", n ? "" : " nothing");
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  if (argc < 3) {
    fprintf (stderr, "usage: embed MODEL.onnx VIDEO [FRAMES]\n");
    return 2;
  }
  int frames = argc > 3 ? atoi (argv[3]) : 10;
  g_autofree char *ep = g_strdup_printf ("ipc:///tmp/splitnn-embed-%d", (int) getpid ());
  g_autofree char *cloud_desc = g_strdup_printf ("zmqsrc endpoint=%s bind=true sender-eos=end ! "
      "splitnncloud model=\"%s\" ! appsink name=dets sync=false", ep, argv[1]);
  g_autofree char *edge_desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "splitnnedge model=\"%s\" cut=4 bits=8 ! zmqsink endpoint=%s drop-policy=block", argv[2], argv[1], ep);
  GstElement *cloud = launch (cloud_desc), *edge = launch (edge_desc);
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (cloud), "dets"));
  gst_element_set_state (cloud, GST_STATE_PLAYING);
  gst_element_set_state (edge, GST_STATE_PLAYING);

  int status = 0;
  for (int i = 0; i < frames; i++) {
    GstSample *s = gst_app_sink_try_pull_sample (sink, 30 * GST_SECOND);
    if (!s) {
      if (!gst_app_sink_is_eos (sink)) {
        fprintf (stderr, "embed: no detections for 30 s\n");
        status = 1;
      }
      break;
    }
    print_detections (gst_sample_get_buffer (s));
    gst_sample_unref (s);
  }
  gst_element_set_state (edge, GST_STATE_NULL);
  gst_element_set_state (cloud, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (edge);
  gst_object_unref (cloud);
  gst_deinit ();
  return status;
}
