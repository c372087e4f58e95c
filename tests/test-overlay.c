/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnnoverlay on synthetic frames and detection messages: the join by
 * sequence number, ROI metas, boxes drawn on packed RGB and on I420, frames
 * that wait in vain leave after `latency` and are counted, late and bad
 * messages are counted, and a silent cloud never stalls the video. */
#include <check.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <string.h>

#include <splitnn/splitnn.h>

#define W 64
#define H 48

typedef struct {
  GstElement *pipe, *ov;
  GstAppSrc *video, *dets;
  GstAppSink *sink;
} Rig;

static void
rig_start_full (Rig *r, const char *format, const char *dets_format, const char *ov_props)
{
  g_autofree char *desc = g_strdup_printf ("appsrc name=video format=time "
      "caps=video/x-raw,format=%s,width=%d,height=%d,framerate=10/1 ! ov.video_sink "
      "appsrc name=dets format=time caps=application/x-splitnn-detections,format=%s ! ov.detections_sink "
      "splitnnoverlay name=ov %s ! appsink name=sink sync=false", format, W, H, dets_format, ov_props);
  GError *err = NULL;
  r->pipe = gst_parse_launch (desc, &err);
  ck_assert_msg (r->pipe != NULL, "%s", err ? err->message : "");
  r->ov = gst_bin_get_by_name (GST_BIN (r->pipe), "ov");
  r->video = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (r->pipe), "video"));
  r->dets = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (r->pipe), "dets"));
  r->sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (r->pipe), "sink"));
  ck_assert_int_ne (gst_element_set_state (r->pipe, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
}

static void
rig_start (Rig *r, const char *format, const char *ov_props)
{
  rig_start_full (r, format, "binary", ov_props);
}

static void
rig_stop (Rig *r)
{
  gst_element_set_state (r->pipe, GST_STATE_NULL);
  gst_object_unref (r->ov);
  gst_object_unref (r->video);
  gst_object_unref (r->dets);
  gst_object_unref (r->sink);
  gst_object_unref (r->pipe);
}

/* A grey frame, whatever the format (Y = 128, U = V = 128 or R = G = B = 128). */
static void
push_frame (Rig *r, const char *format, int i)
{
  GstVideoInfo info;
  gst_video_info_set_format (&info, gst_video_format_from_string (format), W, H);
  GstBuffer *b = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_buffer_memset (b, 0, 128, GST_VIDEO_INFO_SIZE (&info));
  GST_BUFFER_PTS (b) = i * GST_SECOND / 10;
  GST_BUFFER_DURATION (b) = GST_SECOND / 10;
  ck_assert_int_eq (gst_app_src_push_buffer (r->video, b), GST_FLOW_OK);
}

/* One detection per message: class i % 80, box (10, 20)-(40, 40). */
static void
push_dets (Rig *r, guint stream, guint64 seq, int n)
{
  SnDetections d;
  sn_detections_init (&d);
  for (int i = 0; i < n; i++) {
    SnDetection e = { .class_id = (int) (seq % 80), .label = sn_coco_label ((int) (seq % 80)),
      .score = 0.5f + 0.01f * i, .x0 = 10, .y0 = 20, .x1 = 40, .y1 = 40 };
    sn_detections_add (&d, &e);
  }
  SnResultHeader h;
  sn_result_header_init (&h);
  h.stream_id = stream;
  h.seq = seq;
  h.pts = seq * GST_SECOND / 10;
  h.cut_id = 4;
  h.cloud_us = 1000;
  GByteArray *a = g_byte_array_new ();
  sn_result_write (&h, &d, a);
  ck_assert_int_eq (gst_app_src_push_buffer (r->dets, gst_buffer_new_memdup (a->data, a->len)), GST_FLOW_OK);
  g_byte_array_unref (a);
  sn_detections_clear (&d);
}

static int
count_rois (GstBuffer *b, guint64 seq)
{
  int n = 0;
  gpointer state = NULL;
  GstMeta *m;
  while ((m = gst_buffer_iterate_meta_filtered (b, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) m;
    GstStructure *s = gst_video_region_of_interest_meta_get_param (roi, "detection");
    ck_assert_ptr_nonnull (s);
    guint64 got_seq;
    int cls;
    ck_assert (gst_structure_get_uint64 (s, "seq", &got_seq) && gst_structure_get_int (s, "class-id", &cls));
    ck_assert_uint_eq (got_seq, seq);
    ck_assert_int_eq (cls, (int) (seq % 80));
    ck_assert_str_eq (gst_structure_get_string (s, "label"), sn_coco_label (cls));
    ck_assert_str_eq (g_quark_to_string (roi->roi_type), sn_coco_label (cls));
    ck_assert (roi->x == 10 && roi->y == 20 && roi->w == 30 && roi->h == 20);
    n++;
  }
  return n;
}

static guint8
pixel0 (GstBuffer *b, int x, int y, int bpp)
{
  guint8 v;
  gst_buffer_extract (b, (gsize) y * W * bpp + (gsize) x * bpp, &v, 1);
  return v;
}

static guint64
get_u64 (GstElement *e, const char *name)
{
  guint64 v;
  g_object_get (e, name, &v, NULL);
  return v;
}

/* Counters move on the detections' thread: poll a little. */
static guint64
wait_u64 (GstElement *e, const char *name, guint64 want)
{
  guint64 v = 0;
  for (int i = 0; i < 500 && (v = get_u64 (e, name)) != want; i++)
    g_usleep (10000);
  return v;
}

START_TEST (test_join_by_sequence)
{
  Rig r;
  rig_start (&r, "BGRx", "latency=1000");
  /* Detections for frame 3 come before the frame, for 2 never, and for 0
   * a second time after it left. */
  push_dets (&r, 0, 3, 1);
  for (int i = 0; i < 4; i++)
    push_frame (&r, "BGRx", i);
  push_dets (&r, 0, 0, 2);
  push_dets (&r, 0, 1, 3);
  int expect[4] = { 2, 3, 0, 1 };
  for (int i = 0; i < 4; i++) {
    GstSample *s = gst_app_sink_try_pull_sample (r.sink, 10 * GST_SECOND);
    ck_assert_msg (s != NULL, "frame %d did not come out", i);
    GstBuffer *b = gst_sample_get_buffer (s);
    ck_assert_uint_eq (GST_BUFFER_PTS (b), i * GST_SECOND / 10);
    ck_assert_int_eq (count_rois (b, i), expect[i]);
    /* A box edge at x = 10 is drawn on annotated frames only; a corner far
     * from every box and label stays grey. */
    if (expect[i])
      ck_assert_int_ne (pixel0 (b, 10, 30, 4), 128);
    else
      ck_assert_int_eq (pixel0 (b, 10, 30, 4), 128);
    ck_assert_int_eq (pixel0 (b, 60, 46, 4), 128);
    gst_sample_unref (s);
  }
  push_dets (&r, 0, 0, 1);
  gst_app_src_end_of_stream (r.dets);
  gst_app_src_end_of_stream (r.video);
  ck_assert_ptr_null (gst_app_sink_try_pull_sample (r.sink, 10 * GST_SECOND));       /* EOS */
  ck_assert_uint_eq (get_u64 (r.ov, "frames-annotated"), 3);
  ck_assert_uint_eq (get_u64 (r.ov, "frames-unannotated"), 1);
  ck_assert_uint_eq (wait_u64 (r.ov, "detections-late", 1), 1);
  ck_assert_uint_eq (get_u64 (r.ov, "detections-unmatched"), 0);
  /* The stats message at EOS says the same. */
  GstBus *bus = gst_element_get_bus (r.pipe);
  GstMessage *msg;
  gboolean seen = FALSE;
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *st = gst_message_get_structure (msg);
    guint64 a, u;
    if (gst_structure_has_name (st, "splitnnoverlay-stats")) {
      ck_assert (gst_structure_get_uint64 (st, "frames-annotated", &a)
          && gst_structure_get_uint64 (st, "frames-unannotated", &u));
      seen = a == 3 && u == 1;
    }
    gst_message_unref (msg);
  }
  ck_assert (seen);
  gst_object_unref (bus);
  rig_stop (&r);
}
END_TEST

START_TEST (test_draw_on_i420)
{
  Rig r;
  rig_start (&r, "I420", "latency=5000");
  push_frame (&r, "I420", 0);
  push_dets (&r, 0, 0, 1);
  GstSample *s = gst_app_sink_try_pull_sample (r.sink, 10 * GST_SECOND);
  ck_assert (s != NULL);
  GstBuffer *b = gst_sample_get_buffer (s);
  ck_assert_int_eq (count_rois (b, 0), 1);
  ck_assert_int_ne (pixel0 (b, 10, 30, 1), 128);    /* Y plane on the box edge */
  ck_assert_int_eq (pixel0 (b, 25, 30, 1), 128);    /* inside the box: untouched */
  ck_assert_int_eq (pixel0 (b, 60, 46, 1), 128);
  gst_sample_unref (s);
  rig_stop (&r);
}
END_TEST

START_TEST (test_draw_off_keeps_metas)
{
  Rig r;
  rig_start (&r, "RGB", "latency=5000 draw=false");
  push_frame (&r, "RGB", 0);
  push_dets (&r, 0, 0, 2);
  GstSample *s = gst_app_sink_try_pull_sample (r.sink, 10 * GST_SECOND);
  ck_assert (s != NULL);
  ck_assert_int_eq (count_rois (gst_sample_get_buffer (s), 0), 2);
  ck_assert_int_eq (pixel0 (gst_sample_get_buffer (s), 10, 30, 3), 128);
  gst_sample_unref (s);
  rig_stop (&r);
}
END_TEST

/* No detections at all: every frame leaves after `latency`, counted, and
 * the frames wait together (a serial wait would take n x latency). */
START_TEST (test_silent_cloud_does_not_stall)
{
  Rig r;
  const int n = 12, latency_ms = 300;
  g_autofree char *props = g_strdup_printf ("latency=%d", latency_ms);
  rig_start (&r, "BGRx", props);
  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < n; i++)
    push_frame (&r, "BGRx", i);
  gst_app_src_end_of_stream (r.video);
  for (int i = 0; i < n; i++) {
    GstSample *s = gst_app_sink_try_pull_sample (r.sink, 10 * GST_SECOND);
    ck_assert_msg (s != NULL, "frame %d did not come out", i);
    ck_assert_int_eq (count_rois (gst_sample_get_buffer (s), i), 0);
    gst_sample_unref (s);
  }
  double elapsed_ms = (g_get_monotonic_time () - t0) / 1000.0;
  ck_assert_msg (elapsed_ms >= latency_ms, "frames left after %.0f ms, before the latency", elapsed_ms);
  ck_assert_msg (elapsed_ms < n * latency_ms / 2, "frames waited one after another: %.0f ms", elapsed_ms);
  ck_assert_ptr_null (gst_app_sink_try_pull_sample (r.sink, 10 * GST_SECOND));
  ck_assert_uint_eq (get_u64 (r.ov, "frames-unannotated"), n);
  ck_assert_uint_eq (get_u64 (r.ov, "frames-annotated"), 0);
  rig_stop (&r);
}
END_TEST

START_TEST (test_bad_and_foreign_detections)
{
  Rig r;
  rig_start (&r, "BGRx", "latency=200 stream-id=3");
  const char *garbage = "SNDT but not really a detections message";
  ck_assert_int_eq (gst_app_src_push_buffer (r.dets, gst_buffer_new_memdup (garbage, strlen (garbage))),
      GST_FLOW_OK);
  push_dets (&r, 5, 0, 1);                      /* another stream: ignored */
  push_dets (&r, 3, 1, 1);
  push_frame (&r, "BGRx", 0);
  push_frame (&r, "BGRx", 1);
  GstSample *s = gst_app_sink_try_pull_sample (r.sink, 10 * GST_SECOND);
  ck_assert (s != NULL);
  ck_assert_int_eq (count_rois (gst_sample_get_buffer (s), 0), 0);
  gst_sample_unref (s);
  s = gst_app_sink_try_pull_sample (r.sink, 10 * GST_SECOND);
  ck_assert (s != NULL);
  ck_assert_int_eq (count_rois (gst_sample_get_buffer (s), 1), 1);
  gst_sample_unref (s);
  ck_assert_uint_eq (get_u64 (r.ov, "bad-detections"), 1);
  ck_assert_uint_eq (get_u64 (r.ov, "frames-unannotated"), 1);
  GstBus *bus = gst_element_get_bus (r.pipe);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  ck_assert_msg (msg != NULL, "the bad message was not reported");
  gst_message_unref (msg);
  gst_object_unref (bus);
  rig_stop (&r);
}
END_TEST

/* splitnncloud's format=json lines are understood as well; a line that is
 * not valid is counted like a corrupt binary message. */
START_TEST (test_json_detections)
{
  Rig r;
  rig_start_full (&r, "BGRx", "json", "latency=5000");
  const char *lines[] = {
    "{\"stream\": 0, \"seq\": 0, \"pts\": null, \"cut\": 4, \"cloud_ms\": 1.0, \"detections\": "
        "[{\"label\": \"person\", \"class_id\": 0, \"score\": 0.5, \"box\": [10.0, 20.0, 40.0, 40.0]}]}\n",
    "{\"stream\": 0, \"seq\": 1, \"detections\": [{\"class_id\": \"x\"}]}\n",
    "{\"stream\": 0, \"seq\": 1, \"pts\": 100000000, \"cut\": 4, \"cloud_ms\": 1.0, \"detections\": "
        "[{\"label\": \"bicycle\", \"class_id\": 1, \"score\": 0.5, \"box\": [10, 20, 40, 40]}]}\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    gst_app_src_push_buffer (r.dets, gst_buffer_new_memdup (lines[i], strlen (lines[i])));
  for (int i = 0; i < 2; i++) {
    push_frame (&r, "BGRx", i);
    GstSample *s = gst_app_sink_try_pull_sample (r.sink, 10 * GST_SECOND);
    ck_assert (s != NULL);
    ck_assert_int_eq (count_rois (gst_sample_get_buffer (s), i), 1);
    gst_sample_unref (s);
  }
  ck_assert_uint_eq (get_u64 (r.ov, "bad-detections"), 1);
  rig_stop (&r);
}
END_TEST

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  Suite *s = suite_create ("overlay");
  TCase *tc = tcase_create ("overlay");
  tcase_add_test (tc, test_join_by_sequence);
  tcase_add_test (tc, test_draw_on_i420);
  tcase_add_test (tc, test_draw_off_keeps_metas);
  tcase_add_test (tc, test_silent_cloud_does_not_stall);
  tcase_add_test (tc, test_bad_and_foreign_detections);
  tcase_add_test (tc, test_json_detections);
  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  /* With GST_TRACERS=leaks (and CK_FORK=no) the tracer reports here. */
  gst_deinit ();
  return failed ? 1 : 0;
}
