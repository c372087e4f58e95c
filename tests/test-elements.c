/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnnedge + splitnncloud in one process on the real detector: every
 * frame comes out with detections and ROI metas, and bad packets are
 * skipped, counted and reported without stopping the stream. */
#include <check.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <json-glib/json-glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <splitnn/splitnn.h>
#include "sn-test-sanitizer.h"

static char *model_path;

static GstElement *
launch (const char *desc)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  ck_assert_msg (p != NULL, "%s", err ? err->message : "");
  return p;
}

/* appsrc name=src ! splitnncloud name=cloud (the model, then props) !
 * appsink name=sink: the cloud fed packets by hand. */
static GstElement *
launch_cloud (const char *props)
{
  g_autofree char *desc = g_strdup_printf ("appsrc name=src caps=application/x-splitnn format=time ! "
      "splitnncloud name=cloud model=%s %s ! appsink name=sink sync=false", model_path, props);
  return launch (desc);
}

START_TEST (test_edge_to_cloud)
{
  g_autofree char *desc = g_strdup_printf ("videotestsrc num-buffers=6 pattern=ball ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=10/1 ! "
      "splitnnedge name=edge model=%s cut=4 bits=8 stream-id=7 ! "
      "splitnncloud name=cloud model=%s format=json threshold=0.0 ! appsink name=sink sync=false",
      model_path, model_path);
  GstElement *p = launch (desc);
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  ck_assert_int_ne (gst_element_set_state (p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  for (int i = 0; i < 6; i++) {
    GstSample *s = gst_app_sink_try_pull_sample (sink, 60 * GST_SECOND);
    ck_assert_msg (s != NULL, "frame %d did not come out", i);
    GstBuffer *b = gst_sample_get_buffer (s);
    GstMapInfo map;
    ck_assert (gst_buffer_map (b, &map, GST_MAP_READ));
    g_autoptr (JsonParser) parser = json_parser_new ();
    ck_assert (json_parser_load_from_data (parser, (const char *) map.data, map.size, NULL));
    gst_buffer_unmap (b, &map);
    JsonObject *o = json_node_get_object (json_parser_get_root (parser));
    ck_assert_int_eq (json_object_get_int_member (o, "stream"), 7);
    ck_assert_int_eq (json_object_get_int_member (o, "seq"), i);
    ck_assert_int_eq (json_object_get_int_member (o, "cut"), 4);
    ck_assert_uint_eq (json_object_get_int_member (o, "pts"), GST_BUFFER_PTS (b));
    ck_assert_uint_eq (GST_BUFFER_PTS (b), i * GST_SECOND / 10);
    /* One ROI meta per detection, with the documented structure. */
    int n = json_array_get_length (json_object_get_array_member (o, "detections"));
    int metas = 0;
    gpointer state = NULL;
    GstMeta *m;
    while ((m = gst_buffer_iterate_meta_filtered (b, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
      GstStructure *d = gst_video_region_of_interest_meta_get_param ((GstVideoRegionOfInterestMeta *) m, "detection");
      ck_assert_ptr_nonnull (d);
      ck_assert (gst_structure_has_field (d, "confidence") && gst_structure_has_field (d, "class-id"));
      metas++;
    }
    ck_assert_int_eq (metas, n);
    ck_assert_int_gt (n, 0);                /* threshold 0: the top-K peaks survive NMS */
    gst_sample_unref (s);
  }
  GstElement *edge = gst_bin_get_by_name (GST_BIN (p), "edge");
  guint64 out, dropped;
  g_object_get (edge, "frames-out", &out, "dropped", &dropped, NULL);
  ck_assert_uint_eq (out, 6);
  ck_assert_uint_eq (dropped, 0);
  gst_object_unref (edge);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);
}
END_TEST

/* A valid packet for cut 4 of the model, built with the library. */
static GByteArray *
good_packet (SnModel *m)
{
  GError *err = NULL;
  SnCutSet *set = sn_cut_set_new (m, &err);
  const SnCut *cut = sn_cut_set_get (set, 4);
  g_autoptr (SnTensor) t = sn_tensor_new (SN_DTYPE_FLOAT32, &cut->shapes[0]);
  SnFeatureEncoder *enc = sn_feature_encoder_new (m);
  SnFeatureConfig fc;
  sn_feature_config_init (&fc);
  GByteArray *good = g_byte_array_new ();
  SnLetterbox lb = { 1, 1, 0, 0, 512, 512 };
  ck_assert (sn_feature_encode (enc, &fc, cut, (const SnTensor *[]) { t }, 1, 0, 0, &lb, good, &err));
  sn_feature_encoder_free (enc);
  sn_cut_set_free (set);
  return good;
}

static int
count_messages (GstElement *p, GstMessageType type)
{
  GstBus *bus = gst_element_get_bus (p);
  int n = 0;
  GstMessage *msg;
  while ((msg = gst_bus_pop_filtered (bus, type))) {
    n++;
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  return n;
}

/* launch_cloud ("props") playing, with a valid packet to feed it. */
typedef struct {
  GstElement *p;
  GstAppSrc *src;
  GstAppSink *sink;
  SnModel *m;
  GByteArray *good;             /* from good_packet () */
} CloudFeed;

static void
cloud_feed_start (CloudFeed *f, const char *props)
{
  f->p = launch_cloud (props);
  f->src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (f->p), "src"));
  f->sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (f->p), "sink"));
  ck_assert_int_ne (gst_element_set_state (f->p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  GError *err = NULL;
  f->m = sn_model_load (model_path, &err);
  ck_assert_msg (f->m != NULL, "%s", err ? err->message : "");
  f->good = good_packet (f->m);
}

static void
cloud_feed_stop (CloudFeed *f)
{
  gst_element_set_state (f->p, GST_STATE_NULL);
  g_byte_array_unref (f->good);
  sn_model_free (f->m);
  gst_object_unref (f->src);
  gst_object_unref (f->sink);
  gst_object_unref (f->p);
}

START_TEST (test_bad_packets_counted)
{
  CloudFeed f;
  cloud_feed_start (&f, "");

  const char *garbage = "not a packet at all";
  gst_app_src_push_buffer (f.src, gst_buffer_new_memdup (garbage, strlen (garbage)));
  GByteArray *corrupt = g_byte_array_new ();
  g_byte_array_append (corrupt, f.good->data, f.good->len);
  corrupt->data[corrupt->len / 2] ^= 0x40;
  gst_app_src_push_buffer (f.src, gst_buffer_new_memdup (corrupt->data, corrupt->len));
  gst_app_src_push_buffer (f.src, gst_buffer_new_memdup (f.good->data, f.good->len / 3));
  gst_app_src_push_buffer (f.src, gst_buffer_new_memdup (f.good->data, f.good->len));
  gst_app_src_end_of_stream (f.src);

  GstSample *s = gst_app_sink_try_pull_sample (f.sink, 60 * GST_SECOND);
  ck_assert_msg (s != NULL, "the valid packet after three bad ones did not come out");
  ck_assert_uint_eq (GST_BUFFER_OFFSET (gst_sample_get_buffer (s)), 0);
  gst_sample_unref (s);
  ck_assert_ptr_null (gst_app_sink_try_pull_sample (f.sink, 5 * GST_SECOND));   /* EOS */
  GstElement *cloud = gst_bin_get_by_name (GST_BIN (f.p), "cloud");
  guint64 packets, bad;
  g_object_get (cloud, "packets", &packets, "bad-packets", &bad, NULL);
  ck_assert_uint_eq (packets, 4);
  ck_assert_uint_eq (bad, 3);
  /* Reported on the bus as a warning, once for the burst (at most one
   * every 5 s), not once per packet: a flood must not flood the bus. */
  ck_assert_int_eq (count_messages (f.p, GST_MESSAGE_WARNING), 1);
  gst_object_unref (cloud);
  g_byte_array_unref (corrupt);
  cloud_feed_stop (&f);
}
END_TEST

/* Caps naming another model: refused by the accept-caps query, so a
 * zmqsrc serving several edges refuses that sender alone (counted) while
 * the cloud keeps serving the others, with no element error. */
START_TEST (test_foreign_model_per_stream)
{
  GError *err = NULL;
  SnModel *m = sn_model_load (model_path, &err);
  ck_assert_ptr_nonnull (m);
  g_autofree char *ours = g_strdup_printf ("application/x-splitnn,model=(string)%s", sn_model_fingerprint (m));
  const char *theirs = "application/x-splitnn,model=(string)0123456789abcdef";
  g_autofree char *ep = g_strdup_printf ("ipc:///tmp/sn-elements-foreign-%d", (int) getpid ());
  g_autofree char *cdesc = g_strdup_printf ("zmqsrc name=zsrc endpoint=%s ! "
      "splitnncloud name=cloud model=%s ! appsink name=sink sync=false", ep, model_path);
  GstElement *cp = launch (cdesc);
  GstElement *cloud = gst_bin_get_by_name (GST_BIN (cp), "cloud");
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (cp), "sink"));
  ck_assert_int_ne (gst_element_set_state (cp, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

  GstPad *pad = gst_element_get_static_pad (cloud, "sink");
  const char *want_yes[] = { ours, "application/x-splitnn" }, *want_no[] = { theirs, "video/x-raw" };
  for (int i = 0; i < 2; i++) {
    GstCaps *c = gst_caps_from_string (want_yes[i]);
    ck_assert_msg (gst_pad_query_accept_caps (pad, c), "%s refused", want_yes[i]);
    gst_caps_unref (c);
    c = gst_caps_from_string (want_no[i]);
    ck_assert_msg (!gst_pad_query_accept_caps (pad, c), "%s accepted", want_no[i]);
    gst_caps_unref (c);
  }
  gst_object_unref (pad);

  /* Two edges: one announcing another model, then one announcing ours. */
  GstElement *edges[2];
  GstAppSrc *srcs[2];
  const char *caps_of[2] = { theirs, ours };
  for (int e = 0; e < 2; e++) {
    g_autofree char *d = g_strdup_printf ("appsrc name=src caps=\"%s\" format=time ! zmqsink endpoint=%s "
        "drop-policy=block send-timeout=-1 forward-eos=false", caps_of[e], ep);
    edges[e] = launch (d);
    srcs[e] = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (edges[e]), "src"));
    ck_assert_int_ne (gst_element_set_state (edges[e], GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  }
  GByteArray *good = good_packet (m);
  for (int i = 0; i < 3; i++)
    gst_app_src_push_buffer (srcs[0], gst_buffer_new_memdup (good->data, good->len));
  GstElement *zsrc = gst_bin_get_by_name (GST_BIN (cp), "zsrc");
  guint64 refused = 0;
  for (int i = 0; i < 1000 && refused < 3; i++) {
    g_usleep (10000);
    g_object_get (zsrc, "dropped-refused", &refused, NULL);
  }
  ck_assert_uint_eq (refused, 3);
  for (int i = 0; i < 2; i++) {
    gst_app_src_push_buffer (srcs[1], gst_buffer_new_memdup (good->data, good->len));
    GstSample *s = gst_app_sink_try_pull_sample (sink, 60 * GST_SECOND);
    ck_assert_msg (s != NULL, "packet %d of the edge with our model did not come out", i);
    gst_sample_unref (s);
  }
  guint64 packets, bad;
  g_object_get (cloud, "packets", &packets, "bad-packets", &bad, NULL);
  ck_assert_uint_eq (packets, 2);
  ck_assert_uint_eq (bad, 0);
  ck_assert_int_eq (count_messages (cp, GST_MESSAGE_ERROR), 0);
  for (int e = 0; e < 2; e++) {
    gst_element_set_state (edges[e], GST_STATE_NULL);
    gst_object_unref (srcs[e]);
    gst_object_unref (edges[e]);
  }
  gst_element_set_state (cp, GST_STATE_NULL);
  g_byte_array_unref (good);
  sn_model_free (m);
  gst_object_unref (zsrc);
  gst_object_unref (cloud);
  gst_object_unref (sink);
  gst_object_unref (cp);
}
END_TEST

/* max-errors: more than that many bad packets in a row stop the element
 * with an error; a good packet in between starts the count again. */
START_TEST (test_cloud_max_errors)
{
  CloudFeed f;
  cloud_feed_start (&f, "max-errors=2");
  const char *garbage = "not a packet at all";
  /* bad bad good: within the limit */
  for (int i = 0; i < 2; i++)
    gst_app_src_push_buffer (f.src, gst_buffer_new_memdup (garbage, strlen (garbage)));
  gst_app_src_push_buffer (f.src, gst_buffer_new_memdup (f.good->data, f.good->len));
  GstSample *s = gst_app_sink_try_pull_sample (f.sink, 60 * GST_SECOND);
  ck_assert_msg (s != NULL, "two bad packets in a row stopped the element");
  gst_sample_unref (s);
  ck_assert_int_eq (count_messages (f.p, GST_MESSAGE_ERROR), 0);
  /* three in a row: an error */
  for (int i = 0; i < 3; i++)
    gst_app_src_push_buffer (f.src, gst_buffer_new_memdup (garbage, strlen (garbage)));
  GstBus *bus = gst_element_get_bus (f.p);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND, GST_MESSAGE_ERROR);
  ck_assert_msg (msg != NULL, "no error after three bad packets with max-errors=2");
  gst_message_unref (msg);
  gst_object_unref (bus);
  cloud_feed_stop (&f);
}
END_TEST

/* The "splitnn-cloud-time" events splitnncloud sends upstream, as seen on
 * splitnnedge's src pad. */
static GstPadProbeReturn
collect_cloud_times (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  const GstStructure *s = gst_event_get_structure (GST_PAD_PROBE_INFO_EVENT (info));
  if (s && gst_structure_has_name (s, "splitnn-cloud-time"))
    g_ptr_array_add (data, gst_structure_copy (s));
  return GST_PAD_PROBE_OK;
}

static gboolean
listed (const char *candidates, guint32 cut)
{
  g_auto (GStrv) ids = g_strsplit (candidates ? candidates : "", ",", -1);
  g_autofree char *id = g_strdup_printf ("%u", cut);
  return g_strv_contains ((const char *const *) ids, id);
}

/* cut=auto with the cloud in the same pipeline: every packet is answered
 * with its cloud time, addressed by stream, sequence number and cut, and
 * the edge takes every answer into its planner before the next frame. */
static void
check_cloud_reports (gboolean report)
{
  const int frames = 20;
  g_autofree char *desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=ball ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=10/1 ! "
      "splitnnedge name=edge model=%s cut=auto baselines=none stream-id=5 ! "
      "splitnncloud name=cloud model=%s format=json report=%d ! appsink name=sink sync=false",
      frames, model_path, model_path, report);
  GstElement *p = launch (desc);
  GstElement *edge = gst_bin_get_by_name (GST_BIN (p), "edge");
  GstElement *cloud = gst_bin_get_by_name (GST_BIN (p), "cloud");
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  g_autoptr (GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  GstPad *pad = gst_element_get_static_pad (edge, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, collect_cloud_times, events, NULL);
  gst_object_unref (pad);
  ck_assert_int_ne (gst_element_set_state (p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  int cut_of[32];
  double cloud_ms_of[32];
  for (int i = 0; i < frames; i++) {
    GstSample *smp = gst_app_sink_try_pull_sample (sink, 60 * GST_SECOND);
    ck_assert_msg (smp != NULL, "frame %d did not come out", i);
    GstMapInfo map;
    GstBuffer *b = gst_sample_get_buffer (smp);
    ck_assert (gst_buffer_map (b, &map, GST_MAP_READ));
    g_autoptr (JsonParser) parser = json_parser_new ();
    ck_assert (json_parser_load_from_data (parser, (const char *) map.data, map.size, NULL));
    gst_buffer_unmap (b, &map);
    JsonObject *o = json_node_get_object (json_parser_get_root (parser));
    ck_assert_int_eq (json_object_get_int_member (o, "seq"), i);
    cut_of[i] = json_object_get_int_member (o, "cut");
    cloud_ms_of[i] = json_object_get_double_member (o, "cloud_ms");
    /* the worker's name, by default hostname:pid (docs/workers.md) */
    g_autofree char *want_worker = g_strdup_printf ("%s:%d", g_get_host_name (), (int) getpid ());
    ck_assert_str_eq (json_object_get_string_member (o, "worker"), want_worker);
    gst_sample_unref (smp);
  }
  ck_assert_ptr_null (gst_app_sink_try_pull_sample (sink, 5 * GST_SECOND));   /* EOS */
  guint64 taken;
  double whole;
  g_autofree char *candidates = NULL;
  g_object_get (edge, "cloud-reports", &taken, "candidates", &candidates, NULL);
  g_object_get (cloud, "whole-ms", &whole, NULL);
  if (!report) {
    ck_assert_uint_eq (events->len, 0);
    ck_assert_uint_eq (taken, 0);
    ck_assert (whole == 0);
  } else {
    /* One answer per packet, in order, matching the packet it answers. */
    ck_assert_uint_eq (events->len, frames);
    g_autofree char *want_pid = g_strdup_printf (":%d", (int) getpid ());
    for (int i = 0; i < frames; i++) {
      const GstStructure *e = g_ptr_array_index (events, i);
      guint stream;
      guint64 seq;
      int cut;
      double cloud_ms, network_ms, whole_ms;
      ck_assert (gst_structure_get_uint (e, "stream-id", &stream) && stream == 5);
      ck_assert (gst_structure_get_uint64 (e, "seq", &seq) && seq == (guint64) i);
      ck_assert (gst_structure_get_int (e, "cut", &cut) && cut == cut_of[i]);
      ck_assert (gst_structure_get_double (e, "cloud-ms", &cloud_ms));
      ck_assert (gst_structure_get_double (e, "network-ms", &network_ms));
      ck_assert (gst_structure_get_double (e, "whole-ms", &whole_ms));
      ck_assert_msg (fabs (cloud_ms - cloud_ms_of[i]) < 0.01, "%f vs %f", cloud_ms, cloud_ms_of[i]);
      ck_assert (network_ms >= 0 && network_ms <= cloud_ms);
      ck_assert (whole_ms > 0);
      ck_assert (g_str_has_suffix (gst_structure_get_string (e, "worker"),
              want_pid));
      /* Not sent by a transport: no addressing. */
      ck_assert (!gst_structure_has_field (e, "zmq-reply-to"));
    }
    /* The answer to the last frame comes after its decision. */
    ck_assert_uint_eq (taken, frames - 1);
    ck_assert (whole > 0);
  }
  /* After the first frame the planner chooses among the candidates only. */
  ck_assert_ptr_nonnull (candidates);
  g_auto (GStrv) ids = g_strsplit (candidates, ",", -1);
  ck_assert_uint_ge (g_strv_length (ids), 2);
  for (int i = 1; i < frames; i++)
    ck_assert_msg (listed (candidates, cut_of[i]), "frame %d at cut %d, candidates %s", i, cut_of[i],
        candidates);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (edge);
  gst_object_unref (cloud);
  gst_object_unref (sink);
  gst_object_unref (p);
}

START_TEST (test_cloud_reports)
{
  check_cloud_reports (TRUE);
  check_cloud_reports (FALSE);
}
END_TEST

START_TEST (test_setup_errors)
{
  GstElement *e = gst_element_factory_make ("splitnncloud", NULL);
  g_object_set (e, "model", "/nonexistent/model.onnx", NULL);
  ck_assert_int_eq (gst_element_set_state (e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  e = gst_element_factory_make ("splitnnedge", NULL);
  g_object_set (e, "model", model_path, "cut", "no-such-cut", NULL);
  ck_assert_int_eq (gst_element_set_state (e, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
}
END_TEST

/* Takes pipe to READY and back to NULL, then frees it; *error_text gets
 * the first element error posted on the way (NULL: none). */
static GstStateChangeReturn
ready_and_back (GstElement *pipe, char **error_text)
{
  GstStateChangeReturn ret = gst_element_set_state (pipe, GST_STATE_READY);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  *error_text = NULL;
  if (msg) {
    GError *err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    *error_text = g_strdup (err->message);
    g_error_free (err);
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
  return ret;
}

/* range=calibrated: refused at READY, with an element error naming the
 * tensor, when the model stores no calibration for the cut; accepted once
 * a copy of the model stores it (ranges written here by hand). */
static GstStateChangeReturn
edge_ready (const char *model, const char *range, char **error_text)
{
  GstElement *pipe = gst_pipeline_new (NULL);
  GstElement *e = gst_element_factory_make ("splitnnedge", NULL);
  gst_bin_add (GST_BIN (pipe), e);
  gst_util_set_object_arg (G_OBJECT (e), "range", range);
  g_object_set (e, "model", model, "cut", "4", NULL);
  return ready_and_back (pipe, error_text);
}

/* Settings the encoder cannot honour (bits=3; codec=lossy at 16 or 32
 * bits, where JPEG has no codes to carry) fail at READY with an element
 * error that names them, in whichever order they were set, instead of
 * running with other settings than asked for. */
static GstStateChangeReturn
edge_ready_with (const char *first, const char *first_value, const char *second, const char *second_value,
    char **error_text)
{
  GstElement *pipe = gst_pipeline_new (NULL);
  GstElement *e = gst_element_factory_make ("splitnnedge", NULL);
  gst_bin_add (GST_BIN (pipe), e);
  g_object_set (e, "model", model_path, "cut", "4", NULL);
  gst_util_set_object_arg (G_OBJECT (e), first, first_value);
  if (second)
    gst_util_set_object_arg (G_OBJECT (e), second, second_value);
  return ready_and_back (pipe, error_text);
}

START_TEST (test_edge_bad_settings)
{
  char *text;
  ck_assert_int_eq (edge_ready_with ("bits", "3", NULL, NULL, &text), GST_STATE_CHANGE_FAILURE);
  ck_assert_msg (text && strstr (text, "bits"), "error: %s", text ? text : "(none)");
  g_free (text);
  ck_assert_int_eq (edge_ready_with ("codec", "lossy", "bits", "16", &text), GST_STATE_CHANGE_FAILURE);
  ck_assert_msg (text && strstr (text, "lossy"), "error: %s", text ? text : "(none)");
  g_free (text);
  ck_assert_int_eq (edge_ready_with ("bits", "32", "codec", "lossy", &text), GST_STATE_CHANGE_FAILURE);
  ck_assert_msg (text && strstr (text, "lossy"), "error: %s", text ? text : "(none)");
  g_free (text);
  /* a later valid setting clears the refusal */
  ck_assert_int_ne (edge_ready_with ("bits", "3", "bits", "4", &text), GST_STATE_CHANGE_FAILURE);
  ck_assert_ptr_null (text);
  ck_assert_int_ne (edge_ready_with ("codec", "lossy", "bits", "4", &text), GST_STATE_CHANGE_FAILURE);
  ck_assert_ptr_null (text);
  /* codec=temporal: 2-8 bits (5 too), and range=calibrated (default frame here) */
  ck_assert_int_eq (edge_ready_with ("codec", "temporal", "bits", "16", &text), GST_STATE_CHANGE_FAILURE);
  ck_assert_msg (text && strstr (text, "temporal"), "error: %s", text ? text : "(none)");
  g_free (text);
  ck_assert_int_eq (edge_ready_with ("codec", "temporal", "bits", "5", &text), GST_STATE_CHANGE_FAILURE);
  ck_assert_msg (text && strstr (text, "range=calibrated"), "error: %s", text ? text : "(none)");
  g_free (text);
}
END_TEST

/* A copy of the model in dir with stored ranges of +-10 for every channel
 * of cut 4 (codec=temporal needs range=calibrated); the caller frees it. */
static char *
calibrated_copy (const char *dir)
{
  GError *err = NULL;
  SnModel *m = sn_model_load (model_path, &err);
  ck_assert_msg (m != NULL, "%s", err ? err->message : "");
  SnCutSet *set = sn_cut_set_new (m, &err);
  const SnCut *cut = sn_cut_set_find (set, "4");
  g_autoptr (GString) json = g_string_new ("{\"version\": 1, \"frames\": 1, \"tensors\": {");
  for (int i = 0; i < cut->n_tensors; i++) {
    g_string_append_printf (json, "%s\"%s\": {", i ? ", " : "", cut->tensors[i]);
    const char *fields[] = { "min", "max", "clip_min", "clip_max" };
    for (int f = 0; f < 4; f++) {
      g_string_append_printf (json, "%s\"%s\": [", f ? ", " : "", fields[f]);
      for (int c = 0; c < cut->shapes[i].dims[1]; c++)
        g_string_append_printf (json, "%s%d", c ? ", " : "", f % 2 ? 10 : -10);
      g_string_append (json, "]");
    }
    g_string_append (json, "}");
  }
  g_string_append (json, "}}");
  char *cal = g_build_filename (dir, "cal.onnx", NULL);
  ck_assert_msg (sn_onnx_save_with_metadata (model_path, cal, SN_CALIBRATION_KEY, json->str, &err),
      "%s", err ? err->message : "");
  sn_cut_set_free (set);
  sn_model_free (m);
  return cal;
}

START_TEST (test_range_calibrated)
{
  g_autofree char *text = NULL, *text2 = NULL, *text3 = NULL;
  ck_assert_int_eq (edge_ready (model_path, "calibrated", &text), GST_STATE_CHANGE_FAILURE);
  ck_assert_msg (text && strstr (text, "no stored calibration") && strstr (text, "of cut 4"),
      "%s", text ? text : "(no error)");
  ck_assert_int_ne (edge_ready (model_path, "frame", &text2), GST_STATE_CHANGE_FAILURE);

  g_autofree char *dir = g_dir_make_tmp ("sn-elements-XXXXXX", NULL);
  g_autofree char *cal = calibrated_copy (dir);
  ck_assert_int_ne (edge_ready (cal, "calibrated", &text3), GST_STATE_CHANGE_FAILURE);
  ck_assert_ptr_null (text3);
  g_unlink (cal);
  g_rmdir (dir);
}
END_TEST

/* The temporal frame headers of the packets splitnnedge pushes: per
 * packet, byte 3 (flags, bit 0 intra), 5 (dead zone | (residual step - 1)
 * << 4) and 7 (rolling refresh period) of its first tensor's frame
 * (docs/protocol.md, "Temporal feature codec, version 2"). */
static GstPadProbeReturn
collect_fcodec_headers (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstMapInfo map;
  SnPacket pkt;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);
  if (gst_buffer_map (b, &map, GST_MAP_READ)) {
    if (sn_packet_parse (map.data, map.size, &pkt, NULL) && pkt.n_tensors > 0
        && pkt.tensors[0].payload_len >= 18 && memcmp (pkt.tensors[0].payload, "FC", 2) == 0) {
      const guint8 *f = pkt.tensors[0].payload;
      guint8 h[3] = { f[3], f[5], f[7] };
      g_array_append_vals (data, h, 3);
    }
    gst_buffer_unmap (b, &map);
  }
  return GST_PAD_PROBE_OK;
}

/* codec=temporal with the version-2 settings as properties (lone dead
 * zone, residual step, rolling refresh): the stream crosses to the cloud
 * and every frame decodes (none refused, none bad), the settings read back
 * as set, and the frames after the first are inter frames (much smaller
 * than the intra one: the ball pattern barely moves). */
START_TEST (test_edge_temporal_v2)
{
  g_autofree char *dir = g_dir_make_tmp ("sn-elements-XXXXXX", NULL);
  g_autofree char *cal = calibrated_copy (dir);
  g_autofree char *desc = g_strdup_printf ("videotestsrc num-buffers=5 pattern=ball ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=10/1 ! "
      "splitnnedge name=edge model=%s cut=4 codec=temporal range=calibrated bits=4 dead-zone=1 "
      "residual-step=3 lone-dead-zone=3 rolling-refresh=30 refresh=0 ! "
      "splitnncloud name=cloud model=%s format=json threshold=0.0 ! appsink name=sink sync=false",
      cal, cal);
  GstElement *p = launch (desc);
  GstElement *edge = gst_bin_get_by_name (GST_BIN (p), "edge");
  GstElement *cloud = gst_bin_get_by_name (GST_BIN (p), "cloud");
  gint lone, step, rolling;
  g_object_get (edge, "lone-dead-zone", &lone, "residual-step", &step, "rolling-refresh", &rolling, NULL);
  ck_assert_int_eq (lone, 3);
  ck_assert_int_eq (step, 3);
  ck_assert_int_eq (rolling, 30);
  GArray *headers = g_array_new (FALSE, FALSE, 1);
  GstPad *src = gst_element_get_static_pad (edge, "src");
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, collect_fcodec_headers, headers, NULL);
  gst_object_unref (src);
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  ck_assert_int_ne (gst_element_set_state (p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  for (int i = 0; i < 5; i++) {
    GstSample *s = gst_app_sink_try_pull_sample (sink, 60 * GST_SECOND);
    ck_assert_msg (s != NULL, "frame %d did not come out", i);
    GstBuffer *b = gst_sample_get_buffer (s);
    GstMapInfo map;
    ck_assert (gst_buffer_map (b, &map, GST_MAP_READ));
    g_autoptr (JsonParser) parser = json_parser_new ();
    ck_assert (json_parser_load_from_data (parser, (const char *) map.data, map.size, NULL));
    gst_buffer_unmap (b, &map);
    JsonObject *o = json_node_get_object (json_parser_get_root (parser));
    ck_assert_int_eq (json_object_get_int_member (o, "seq"), i);
    ck_assert_int_eq (json_object_get_int_member (o, "cut"), 4);
    gst_sample_unref (s);
  }
  guint64 packets, bad, refused, out;
  gdouble mean_bytes;
  g_object_get (cloud, "packets", &packets, "bad-packets", &bad, "refused", &refused, NULL);
  g_object_get (edge, "frames-out", &out, "mean-bytes", &mean_bytes, NULL);
  ck_assert_uint_eq (packets, 5);
  ck_assert_uint_eq (bad, 0);
  ck_assert_uint_eq (refused, 0);
  ck_assert_uint_eq (out, 5);
  /* 24x128x128 values at 4 bits are 196,608 bytes packed; one intra frame
   * and four near-empty inter frames average far below a fifth of that. */
  ck_assert_msg (mean_bytes > 0 && mean_bytes < 196608 / 5, "mean bytes %.0f", mean_bytes);
  gst_element_set_state (p, GST_STATE_NULL);
  /* The settings reached the bitstream: an intra frame first (byte 5 and
   * 7 zero there), then inter frames with dead zone 1, residual step 3
   * (0x21) and rolling refresh 30. */
  ck_assert_uint_eq (headers->len, 5 * 3);
  const guint8 *h = (const guint8 *) headers->data;
  ck_assert_uint_eq (h[0] & 1, 1);
  ck_assert_uint_eq (h[1], 0);
  for (int i = 1; i < 5; i++) {
    ck_assert_msg ((h[3 * i] & 1) == 0, "frame %d is intra", i);
    ck_assert_uint_eq (h[3 * i + 1], 1 | (3 - 1) << 4);
    ck_assert_uint_eq (h[3 * i + 2], 30);
  }
  g_array_free (headers, TRUE);
  gst_object_unref (sink);
  gst_object_unref (edge);
  gst_object_unref (cloud);
  gst_object_unref (p);
  g_unlink (cal);
  g_rmdir (dir);
}
END_TEST

/* Bad version-2 settings are refused: a residual step beyond 2 x dead zone
 * + 1 fails READY with an error naming it (in whichever order the two were
 * set; a later dead zone that allows it clears the refusal), and values out
 * of range are outside the properties' declared ranges. */
START_TEST (test_edge_temporal_bad_settings)
{
  char *text;
  ck_assert_int_eq (edge_ready_with ("dead-zone", "1", "residual-step", "5", &text), GST_STATE_CHANGE_FAILURE);
  ck_assert_msg (text && strstr (text, "residual-step=5") && strstr (text, "dead-zone=1"),
      "error: %s", text ? text : "(none)");
  g_free (text);
  ck_assert_int_eq (edge_ready_with ("residual-step", "5", "dead-zone", "0", &text), GST_STATE_CHANGE_FAILURE);
  ck_assert_msg (text && strstr (text, "residual-step=5"), "error: %s", text ? text : "(none)");
  g_free (text);
  ck_assert_int_ne (edge_ready_with ("residual-step", "5", "dead-zone", "2", &text), GST_STATE_CHANGE_FAILURE);
  ck_assert_ptr_null (text);
  ck_assert_int_ne (edge_ready_with ("lone-dead-zone", "255", "rolling-refresh", "255", &text),
      GST_STATE_CHANGE_FAILURE);
  ck_assert_ptr_null (text);
  GstElement *e = gst_element_factory_make ("splitnnedge", NULL);
  GObjectClass *klass = G_OBJECT_GET_CLASS (e);
  const struct { const char *name; int bad; } out_of_range[] = {
    { "lone-dead-zone", 256 }, { "lone-dead-zone", -1 }, { "residual-step", 17 },
    { "rolling-refresh", 256 }, { "rolling-refresh", -1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (out_of_range); i++) {
    GParamSpec *ps = g_object_class_find_property (klass, out_of_range[i].name);
    ck_assert_ptr_nonnull (ps);
    GValue v = G_VALUE_INIT;
    g_value_init (&v, G_TYPE_INT);
    g_value_set_int (&v, out_of_range[i].bad);
    /* TRUE: the value had to be changed, i.e. GObject refuses it in a set */
    ck_assert_msg (g_param_value_validate (ps, &v), "%s=%d accepted", out_of_range[i].name, out_of_range[i].bad);
    g_value_unset (&v);
  }
  gst_object_unref (e);
}
END_TEST

/* The cut of every packet splitnnedge pushes. */
static GstPadProbeReturn
collect_cuts (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstMapInfo map;
  SnPacket pkt;
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);
  if (gst_buffer_map (b, &map, GST_MAP_READ)) {
    if (sn_packet_parse (map.data, map.size, &pkt, NULL))
      g_array_append_val (data, pkt.cut_id);
    gst_buffer_unmap (b, &map);
  }
  return GST_PAD_PROBE_OK;
}

/* cut=auto on a thin link (the `bandwidth` property: the fewest bytes
 * win) for `frames` frames; returns the cuts used, frame by frame, and
 * the candidates. */
static GArray *
auto_cuts (const char *model, double min_fid, int frames, char **candidates)
{
  g_autofree char *desc = g_strdup_printf ("videotestsrc num-buffers=%d pattern=ball ! "
      "video/x-raw,format=I420,width=320,height=240,framerate=10/1 ! "
      "splitnnedge name=edge model=%s cut=auto baselines=none bandwidth=10000 fidelity-floor=%g ! "
      "fakesink sync=false", frames, model, min_fid);
  GstElement *p = launch (desc);
  GstElement *edge = gst_bin_get_by_name (GST_BIN (p), "edge");
  GArray *cuts = g_array_new (FALSE, FALSE, sizeof (guint32));
  GstPad *pad = gst_element_get_static_pad (edge, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, collect_cuts, cuts, NULL);
  gst_object_unref (pad);
  ck_assert_int_ne (gst_element_set_state (p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 200 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  ck_assert_msg (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS, "no EOS");
  gst_message_unref (msg);
  gst_object_unref (bus);
  g_object_get (edge, "candidates", candidates, NULL);
  ck_assert_uint_eq (cuts->len, frames);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (edge);
  gst_object_unref (p);
  return cuts;
}

/* fidelity-floor: a copy of the model whose splitnn.fidelity puts the cut
 * the planner picks on a thin link at mAP 10 is never sent at floor 50,
 * and is again at floor 5; a fixed cut under the floor is used with a
 * warning. */
START_TEST (test_fidelity_floor)
{
  const int frames = 3;
  g_autofree char *cand0 = NULL, *cand1 = NULL, *cand2 = NULL;
  GArray *plain = auto_cuts (model_path, -1, frames, &cand0);
  guint32 x = g_array_index (plain, guint32, 0);
  for (int i = 1; i < frames; i++)
    ck_assert_uint_eq (g_array_index (plain, guint32, i), x);
  ck_assert (listed (cand0, x));

  GError *err = NULL;
  SnModel *m = sn_model_load (model_path, &err);
  SnCutSet *set = sn_cut_set_new (m, &err);
  /* The element's defaults: 8 bits, lossless, frame ranges, per tensor, clip 1. */
  SnFidelityRow row = { x, sn_cut_set_get (set, x)->name, 8, SN_CODEC_LOSSLESS, SN_RANGE_FRAME,
    FALSE, 1.0, 10, 0, FALSE };
  g_autofree char *json = sn_fidelity_to_json (&row, 1, 1, "test");
  g_autofree char *dir = g_dir_make_tmp ("sn-elements-XXXXXX", NULL);
  g_autofree char *fid = g_build_filename (dir, "fid.onnx", NULL);
  ck_assert_msg (sn_onnx_save_with_metadata (model_path, fid, SN_FIDELITY_KEY, json, &err),
      "%s", err ? err->message : "");

  GArray *floored = auto_cuts (fid, 50, frames, &cand1);
  for (int i = 0; i < frames; i++)
    ck_assert_msg (g_array_index (floored, guint32, i) != x, "frame %d sent at cut %u, "
        "stored mAP 10 < floor 50", i, x);
  ck_assert_msg (!listed (cand1, x), "candidates %s", cand1);
  GArray *low = auto_cuts (fid, 5, frames, &cand2);
  ck_assert_uint_eq (g_array_index (low, guint32, 0), x);

  /* A fixed cut under the floor: used, with a warning naming the floor. */
  GstElement *pipe = gst_pipeline_new (NULL);
  GstElement *e = gst_element_factory_make ("splitnnedge", NULL);
  gst_bin_add (GST_BIN (pipe), e);
  g_autofree char *cut = g_strdup_printf ("%u", x);
  g_object_set (e, "model", fid, "cut", cut, "fidelity-floor", 50.0, NULL);
  ck_assert_int_ne (gst_element_set_state (pipe, GST_STATE_READY), GST_STATE_CHANGE_FAILURE);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  ck_assert_ptr_nonnull (msg);
  GError *warn = NULL;
  gst_message_parse_warning (msg, &warn, NULL);
  ck_assert_msg (strstr (warn->message, "fidelity floor"), "%s", warn->message);
  g_error_free (warn);
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);

  g_array_unref (plain);
  g_array_unref (floored);
  g_array_unref (low);
  g_unlink (fid);
  g_rmdir (dir);
  sn_cut_set_free (set);
  sn_model_free (m);
}
END_TEST

/* cut=edge-only: the edge sends the detections record, the cloud emits it
 * as its own output.  The oracle is `splitnn detect --cut edge-only` (the
 * unsplit detector in another process) on the same video frames. */
#define EO_FRAMES 3
#define EO_THRESHOLD "0.3"

START_TEST (test_edge_only_matches_splitnn_detect)
{
  g_autofree char *video = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "data", "vtest.avi", NULL);
  g_autofree char *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "video/x-raw,format=RGB ! splitnnedge name=edge model=%s cut=edge-only "
      "stream-id=11 ! splitnncloud name=cloud model=%s format=json threshold=" EO_THRESHOLD " ! "
      "appsink name=sink sync=false max-buffers=2", video, model_path, model_path);
  GstElement *p = launch (desc);
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  ck_assert_int_ne (gst_element_set_state (p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  GString *got_text = g_string_new (NULL);
  for (int i = 0; i < EO_FRAMES; i++) {
    GstSample *smp = gst_app_sink_try_pull_sample (sink, 60 * GST_SECOND);
    ck_assert_msg (smp != NULL, "frame %d did not come out", i);
    GstBuffer *b = gst_sample_get_buffer (smp);
    GstMapInfo map;
    ck_assert (gst_buffer_map (b, &map, GST_MAP_READ));
    g_string_append_len (got_text, (const char *) map.data, map.size);
    gst_buffer_unmap (b, &map);
    gst_sample_unref (smp);
  }
  /* The first frames are compared; the rest of the video is not waited for. */
  GstElement *edge = gst_bin_get_by_name (GST_BIN (p), "edge");
  double mean_bytes;
  g_autofree char *current = NULL;
  g_object_get (edge, "mean-bytes", &mean_bytes, "current-cut", &current, NULL);
  g_print ("edge-only: mean packet %.0f bytes\n", mean_bytes);
  ck_assert_double_gt (mean_bytes, 40);
  ck_assert_double_lt (mean_bytes, 2048);
  ck_assert_str_eq (current, "edge-only");
  gst_object_unref (edge);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (p);

  g_autofree char *bin = g_build_filename (g_getenv ("SPLITNN_BUILD_ROOT"), "tools", "splitnn", NULL);
  g_autofree char *dir = g_dir_make_tmp ("sn-elements-XXXXXX", NULL);
  ck_assert (dir && sn_test_sanitizer_setenv (dir));
  g_autofree char *frames = g_strdup_printf ("%d", EO_FRAMES);
  const char *argv[] = { bin, "detect", model_path, video, "--frames", frames, "--cut", "edge-only",
    "--threshold", EO_THRESHOLD, "--json", NULL };
  char *ref_text = NULL;
  int status = -1;
  GError *err = NULL;
  ck_assert_msg (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
          &ref_text, NULL, &status, &err), "%s", err ? err->message : "");
  ck_assert_msg (g_spawn_check_wait_status (status, NULL), "splitnn detect --cut edge-only failed");

  g_auto (GStrv) got = g_strsplit (got_text->str, "\n", -1), ref = g_strsplit (ref_text, "\n", -1);
  int total = 0;
  for (int f = 0; f < EO_FRAMES; f++) {
    ck_assert (got[f] && ref[f]);
    g_autoptr (JsonParser) pg = json_parser_new (), pr = json_parser_new ();
    ck_assert (json_parser_load_from_data (pg, got[f], -1, NULL));
    ck_assert (json_parser_load_from_data (pr, ref[f], -1, NULL));
    JsonObject *g = json_node_get_object (json_parser_get_root (pg));
    JsonObject *r = json_node_get_object (json_parser_get_root (pr));
    ck_assert_int_eq (json_object_get_int_member (g, "stream"), 11);
    ck_assert_int_eq (json_object_get_int_member (g, "seq"), f);
    ck_assert_uint_eq (json_object_get_int_member (g, "cut"), SN_CUT_ID_EDGE_ONLY);
    ck_assert_int_eq (json_object_get_int_member (g, "pts"), json_object_get_int_member (r, "pts"));
    JsonArray *gd = json_object_get_array_member (g, "detections"), *rd = json_object_get_array_member (r, "detections");
    ck_assert_int_eq (json_array_get_length (gd), json_array_get_length (rd));
    for (guint i = 0; i < json_array_get_length (gd); i++) {
      JsonObject *a = json_array_get_object_element (gd, i), *b = json_array_get_object_element (rd, i);
      ck_assert_str_eq (json_object_get_string_member (a, "label"), json_object_get_string_member (b, "label"));
      /* Same computation on the same pixels, printed the same way. */
      ck_assert_double_le (fabs (json_object_get_double_member (a, "score")
              - json_object_get_double_member (b, "score")), 1e-4 + 1e-9);
      JsonArray *ab = json_object_get_array_member (a, "box"), *bb = json_object_get_array_member (b, "box");
      for (int k = 0; k < 4; k++)
        ck_assert_double_le (fabs (json_array_get_double_element (ab, k)
                - json_array_get_double_element (bb, k)), 0.1 + 1e-9);
      total++;
    }
  }
  ck_assert_int_gt (total, EO_FRAMES);              /* vtest has people in every frame */
  g_free (ref_text);
  g_string_free (got_text, TRUE);
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);
  ck_assert (system (cmd) == 0);
}
END_TEST

/* Counts the QoS events that reach the pad (upstream). */
static GstPadProbeReturn
count_qos (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_QOS)
    g_atomic_int_inc ((gint *) data);
  return GST_PAD_PROBE_OK;
}

static GstBuffer *
grey_rgb_frame (int width, int height, GstClockTime pts)
{
  gsize size = (gsize) width * height * 3;
  GstBuffer *b = gst_buffer_new_allocate (NULL, size, NULL);
  gst_buffer_memset (b, 0, 0x80, size);
  GST_BUFFER_PTS (b) = pts;
  GST_BUFFER_DURATION (b) = GST_SECOND / 30;
  return b;
}

/* Downstream QoS goes on upstream through splitnnedge (which also hands it
 * to cut=auto's controller).  With GstBaseTransform's qos=true a frame
 * already late is skipped, numbered and counted as dropped: frames-in =
 * frames-out + dropped, and the next packet has the next number but one. */
START_TEST (test_edge_qos)
{
  g_autofree char *desc = g_strdup_printf ("appsrc name=src format=time "
      "caps=video/x-raw,format=RGB,width=64,height=48,framerate=30/1 ! "
      "splitnnedge name=edge model=%s cut=4 qos=true ! appsink name=sink sync=false", model_path);
  GstElement *p = launch (desc);
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstElement *edge = gst_bin_get_by_name (GST_BIN (p), "edge");
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  gint qos_seen = 0;
  GstPad *src_out = gst_element_get_static_pad (src, "src"), *edge_out = gst_element_get_static_pad (edge, "src");
  gst_pad_add_probe (src_out, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, count_qos, &qos_seen, NULL);
  ck_assert_int_ne (gst_element_set_state (p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);

  ck_assert_int_eq (gst_app_src_push_buffer (GST_APP_SRC (src), grey_rgb_frame (64, 48, 0)), GST_FLOW_OK);
  GstSample *s = gst_app_sink_try_pull_sample (sink, 60 * GST_SECOND);
  ck_assert_msg (s != NULL, "the first frame did not come out");
  ck_assert_uint_eq (GST_BUFFER_OFFSET (gst_sample_get_buffer (s)), 0);
  gst_sample_unref (s);
  /* Downstream: whatever runs before 1 s is too late now. */
  gst_pad_send_event (edge_out, gst_event_new_qos (GST_QOS_TYPE_UNDERFLOW, 2.0, 0, GST_SECOND));
  ck_assert_int_eq (g_atomic_int_get (&qos_seen), 1);
  ck_assert_int_eq (gst_app_src_push_buffer (GST_APP_SRC (src), grey_rgb_frame (64, 48, GST_SECOND / 30)),
      GST_FLOW_OK);
  ck_assert_int_eq (gst_app_src_push_buffer (GST_APP_SRC (src), grey_rgb_frame (64, 48, 2 * GST_SECOND)),
      GST_FLOW_OK);
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  s = gst_app_sink_try_pull_sample (sink, 60 * GST_SECOND);
  ck_assert_msg (s != NULL, "the frame after the late one did not come out");
  ck_assert_uint_eq (GST_BUFFER_OFFSET (gst_sample_get_buffer (s)), 2);
  ck_assert_uint_eq (GST_BUFFER_PTS (gst_sample_get_buffer (s)), 2 * GST_SECOND);
  gst_sample_unref (s);
  ck_assert_ptr_null (gst_app_sink_try_pull_sample (sink, 5 * GST_SECOND));   /* EOS */
  guint64 in, out, dropped;
  g_object_get (edge, "frames-in", &in, "frames-out", &out, "dropped", &dropped, NULL);
  ck_assert_uint_eq (in, 3);
  ck_assert_uint_eq (out, 2);
  ck_assert_uint_eq (dropped, 1);
  gst_element_set_state (p, GST_STATE_NULL);
  gst_object_unref (src_out);
  gst_object_unref (edge_out);
  gst_object_unref (src);
  gst_object_unref (edge);
  gst_object_unref (sink);
  gst_object_unref (p);
}
END_TEST

/* splitnncloud hands QoS upstream (to the edge, which acts on it) and
 * decodes every packet even with GstBaseTransform's qos=true, so that each
 * ends in one of its counters. */
START_TEST (test_cloud_qos)
{
  GstElement *p = launch_cloud ("qos=true");
  GstElement *src = gst_bin_get_by_name (GST_BIN (p), "src");
  GstElement *cloud = gst_bin_get_by_name (GST_BIN (p), "cloud");
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "sink"));
  gint qos_seen = 0;
  GstPad *src_out = gst_element_get_static_pad (src, "src"), *cloud_out = gst_element_get_static_pad (cloud, "src");
  gst_pad_add_probe (src_out, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, count_qos, &qos_seen, NULL);
  ck_assert_int_ne (gst_element_set_state (p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  GError *err = NULL;
  SnModel *m = sn_model_load (model_path, &err);
  GByteArray *good = good_packet (m);
  gst_pad_send_event (cloud_out, gst_event_new_qos (GST_QOS_TYPE_UNDERFLOW, 2.0, 0, GST_SECOND));
  ck_assert_int_eq (g_atomic_int_get (&qos_seen), 1);
  GstBuffer *b = gst_buffer_new_memdup (good->data, good->len);
  GST_BUFFER_PTS (b) = 0;                 /* before the 1 s QoS asked for */
  ck_assert_int_eq (gst_app_src_push_buffer (GST_APP_SRC (src), b), GST_FLOW_OK);
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  GstSample *s = gst_app_sink_try_pull_sample (sink, 60 * GST_SECOND);
  ck_assert_msg (s != NULL, "the packet was not decoded");
  gst_sample_unref (s);
  ck_assert_ptr_null (gst_app_sink_try_pull_sample (sink, 5 * GST_SECOND));   /* EOS */
  guint64 packets, bad;
  g_object_get (cloud, "packets", &packets, "bad-packets", &bad, NULL);
  ck_assert_uint_eq (packets, 1);
  ck_assert_uint_eq (bad, 0);
  gst_element_set_state (p, GST_STATE_NULL);
  g_byte_array_unref (good);
  sn_model_free (m);
  gst_object_unref (src_out);
  gst_object_unref (cloud_out);
  gst_object_unref (src);
  gst_object_unref (cloud);
  gst_object_unref (sink);
  gst_object_unref (p);
}
END_TEST

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  model_path = g_build_filename (g_getenv ("SPLITNN_SOURCE_ROOT"), "models",
      "centernet-mobilenetv3-coco.onnx", NULL);
  Suite *s = suite_create ("elements");
  TCase *tc = tcase_create ("elements");
  tcase_add_test (tc, test_edge_to_cloud);
  tcase_add_test (tc, test_edge_only_matches_splitnn_detect);
  tcase_add_test (tc, test_bad_packets_counted);
  tcase_add_test (tc, test_setup_errors);
  tcase_add_test (tc, test_range_calibrated);
  tcase_add_test (tc, test_edge_bad_settings);
  tcase_add_test (tc, test_edge_temporal_v2);
  tcase_add_test (tc, test_edge_temporal_bad_settings);
  tcase_add_test (tc, test_cloud_reports);
  tcase_add_test (tc, test_foreign_model_per_stream);
  tcase_add_test (tc, test_cloud_max_errors);
  tcase_add_test (tc, test_edge_qos);
  tcase_add_test (tc, test_cloud_qos);
  tcase_set_timeout (tc, 240);
  suite_add_tcase (s, tc);
  /* A case of its own: CK_RUN_CASE=fidelity runs it alone. */
  TCase *fid = tcase_create ("fidelity");
  tcase_add_test (fid, test_fidelity_floor);
  tcase_set_timeout (fid, 240);
  suite_add_tcase (s, fid);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  g_free (model_path);
  /* With GST_TRACERS=leaks (and CK_FORK=no) the tracer reports here. */
  gst_deinit ();
  return failed ? 1 : 0;
}
