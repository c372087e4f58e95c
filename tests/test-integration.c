/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Edge and cloud as two processes over ZeroMQ (tcp:// and ipc://), on the
 * real detector and footage:
 *  - the cloud's detections for every frame equal an independent run of the
 *    same split path by `splitnn detect --cut --bits --codec`;
 *  - the cloud is killed mid-stream and restarted: the edge never stalls,
 *    what was sent while it was down is counted as dropped, and detections
 *    resume;
 *  - with no cloud at all, splitnnoverlay lets every frame out unannotated
 *    after `latency`, counted.
 * The processes are this test binary itself (`--pipeline DESC`), so that a
 * sanitizer build runs the instrumented plugin in instrumented processes. */
#include <check.h>
#include <gio/gio.h>
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define CUT 4
#define BITS 8
#define FRAMES 8
#define THRESHOLD "0.3"

static char *self_exe, *model, *video, *splitnn_cli, *tmpdir;

#include "sn-test-sanitizer.h"

/* ---- child mode: run one pipeline to EOS and print its counters ------------------- */

/* zmqsink's and zmqsrc's are printed once they have stopped (stopped =
 * TRUE): the sink settles the last acknowledgements at stop, the source
 * counts what was still in its queue. */
static void
print_counters (GstElement *e, gboolean stopped)
{
  const char *factory = GST_OBJECT_NAME (gst_element_get_factory (e));
  if ((strcmp (factory, "zmqsink") == 0 || strcmp (factory, "zmqsrc") == 0) != stopped)
    return;
  const char *names[][8] = {
    { "zmqsink", "sent", "dropped", "acks", "lost", "discarded-at-stop", "receiver-dropped", NULL },
    { "zmqsrc", "received", "dropped-no-caps", "dropped-malformed", "dropped-queue-full",
      "discarded-at-stop", NULL },
    { "splitnnedge", "frames-in", "frames-out", "dropped", NULL },
    { "splitnncloud", "packets", "bad-packets", NULL },
    { "splitnnoverlay", "frames-annotated", "frames-unannotated", "detections-late", NULL },
  };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
    if (strcmp (factory, names[i][0]) != 0)
      continue;
    GString *s = g_string_new (NULL);
    g_string_append_printf (s, "COUNTERS %s", factory);
    for (int k = 1; names[i][k]; k++) {
      guint64 v;
      g_object_get (e, names[i][k], &v, NULL);
      g_string_append_printf (s, " %s=%" G_GUINT64_FORMAT, names[i][k], v);
    }
    g_print ("%s\n", s->str);
    g_string_free (s, TRUE);
  }
}

/* `identity eos-after` in 1.22 may let one buffer from far ahead through
 * (seen: the 8th buffer of vtest carried frame 71), so the frame limit is a
 * probe on the element named "limit": N buffers, then EOS. */
static GstPadProbeReturn
limit_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  int *left = data;
  if (*left > 0) {
    (*left)--;
    return GST_PAD_PROBE_OK;
  }
  if (*left == 0) {
    *left = -1;
    gst_pad_push_event (pad, gst_event_new_eos ());
  }
  gst_buffer_unref (GST_PAD_PROBE_INFO_BUFFER (info));
  GST_PAD_PROBE_INFO_DATA (info) = NULL;
  GST_PAD_PROBE_INFO_FLOW_RETURN (info) = GST_FLOW_EOS;
  return GST_PAD_PROBE_HANDLED;
}

static volatile sig_atomic_t stop_requested;

static void
on_sigterm (int sig)
{
  stop_requested = 1;
}

/* Runs to EOS; SIGTERM ends the stream with an EOS first, so the counters
 * still come out. */
static int
run_pipeline (const char *desc, int frames)
{
  signal (SIGTERM, on_sigterm);
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  if (!p) {
    g_printerr ("%s\n", err->message);
    return 2;
  }
  GstElement *limit = gst_bin_get_by_name (GST_BIN (p), "limit");
  int left = frames;
  if (limit) {
    GstPad *pad = gst_element_get_static_pad (limit, "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, limit_probe, &left, NULL);
    gst_object_unref (pad);
    gst_object_unref (limit);
  }
  gst_element_set_state (p, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m = NULL;
  gboolean eos_sent = FALSE;
  for (int t = 0; t < 1200 && !m; t++) {
    if (stop_requested && !eos_sent) {
      gst_element_send_event (p, gst_event_new_eos ());
      eos_sent = TRUE;
    }
    m = gst_bus_timed_pop_filtered (bus, 100 * GST_MSECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  }
  int rc = 0;
  if (!m) {
    g_printerr ("no EOS within 120 s\n");
    rc = 3;
  } else if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    GError *e;
    gst_message_parse_error (m, &e, NULL);
    g_printerr ("ERROR %s\n", e->message);
    g_error_free (e);
    rc = 1;
  }
  g_clear_pointer (&m, gst_message_unref);
  for (int stopped = 0; stopped <= 1; stopped++) {
    if (stopped)
      gst_element_set_state (p, GST_STATE_NULL);
    GstIterator *it = gst_bin_iterate_recurse (GST_BIN (p));
    GValue v = G_VALUE_INIT;
    while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
      print_counters (g_value_get_object (&v), stopped);
      g_value_reset (&v);
    }
    g_value_unset (&v);
    gst_iterator_free (it);
  }
  gst_object_unref (bus);
  gst_object_unref (p);
  return rc;
}

/* ---- helpers ------------------------------------------------------------------------ */

static GSubprocess *
spawn_pipeline (const char *name, const char *desc, int frames)
{
  g_autofree char *n = g_strdup_printf ("%d", frames);
  g_autofree char *out = g_strdup_printf ("%s/%s.out", tmpdir, name);
  g_autofree char *err = g_strdup_printf ("%s/%s.err", tmpdir, name);
  g_autoptr (GSubprocessLauncher) l = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_stdout_file_path (l, out);
  g_subprocess_launcher_set_stderr_file_path (l, err);
  GError *e = NULL;
  GSubprocess *p = g_subprocess_launcher_spawn (l, &e, self_exe, "--pipeline", desc, n, NULL);
  ck_assert_msg (p != NULL, "%s", e ? e->message : "");
  return p;
}

/* Waits at most timeout_s; TRUE if it exited with status 0. */
static gboolean
wait_exit (GSubprocess *p, const char *name, int timeout_s)
{
  /* GLib's worker thread reaps the child; the identifier goes with it. */
  for (int i = 0; i < timeout_s * 20 && g_subprocess_get_identifier (p); i++)
    g_usleep (50000);
  if (g_subprocess_get_identifier (p)) {
    g_printerr ("%s still running after %d s: killed\n", name, timeout_s);
    g_subprocess_force_exit (p);
    g_subprocess_wait (p, NULL, NULL);
    return FALSE;
  }
  g_subprocess_wait (p, NULL, NULL);
  return g_subprocess_get_successful (p);
}

static char *
slurp (const char *name, const char *ext)
{
  g_autofree char *path = g_strdup_printf ("%s/%s.%s", tmpdir, name, ext);
  char *s = NULL;
  if (!g_file_get_contents (path, &s, NULL, NULL))
    s = g_strdup ("");
  return s;
}

/* A counter from a child's COUNTERS lines; -1 when missing. */
static gint64
counter (const char *name, const char *factory, const char *key)
{
  g_autofree char *out = slurp (name, "out");
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  g_autofree char *prefix = g_strdup_printf ("COUNTERS %s ", factory);
  g_autofree char *field = g_strdup_printf (" %s=", key);
  for (int i = 0; lines[i]; i++)
    if (g_str_has_prefix (lines[i], prefix)) {
      const char *f = strstr (lines[i], field);
      if (f)
        return g_ascii_strtoll (f + strlen (field), NULL, 10);
    }
  return -1;
}

static char *
endpoint (const char *transport, const char *name)
{
  if (strcmp (transport, "ipc") == 0)
    return g_strdup_printf ("ipc://%s/%s.sock", tmpdir, name);
  /* A free port: bind to 0, read it back, close. */
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *a = g_inet_socket_address_new (lo, 0);
  ck_assert (g_socket_bind (s, a, TRUE, NULL));
  GSocketAddress *bound = g_socket_get_local_address (s, NULL);
  guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_object_unref (bound);
  g_object_unref (a);
  g_object_unref (lo);
  g_socket_close (s, NULL);
  g_object_unref (s);
  return g_strdup_printf ("tcp://127.0.0.1:%u", port);
}

static JsonArray *
parse_lines (const char *text, JsonParser **keep)
{
  /* JSON lines into one array. */
  GString *s = g_string_new ("[");
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  int n = 0;
  for (int i = 0; lines[i]; i++)
    if (lines[i][0] == '{')
      g_string_append_printf (s, "%s%s", n++ ? "," : "", lines[i]);
  g_string_append (s, "]");
  *keep = json_parser_new ();
  ck_assert (json_parser_load_from_data (*keep, s->str, -1, NULL));
  g_string_free (s, TRUE);
  return json_node_get_array (json_parser_get_root (*keep));
}

static char *
edge_desc (const char *ep, int frames, const char *sink_props)
{
  return g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! video/x-raw,format=RGB ! "
      "identity name=limit ! splitnnedge model=\"%s\" cut=%d bits=%d codec=lossless ! "
      "zmqsink endpoint=%s %s", video, model, CUT, BITS, ep, sink_props);
}

static char *
cloud_desc_with (const char *ep, const char *src_props, const char *out_name)
{
  return g_strdup_printf ("zmqsrc endpoint=%s bind=true sender-eos=end %s ! splitnncloud model=\"%s\" format=json "
      "threshold=" THRESHOLD " ! filesink location=%s/%s.jsonl buffer-mode=unbuffered sync=false", ep, src_props,
      model, tmpdir, out_name);
}

static char *
cloud_desc (const char *ep, const char *out_name)
{
  return cloud_desc_with (ep, "", out_name);
}

/* ---- (a) detections equal the library's split path ---------------------------------- */

static const char *transports[] = { "tcp", "ipc" };

START_TEST (test_matches_splitnn_detect)
{
  const char *tr = transports[_i];
  g_autofree char *ep = endpoint (tr, "a");
  g_autofree char *cname = g_strdup_printf ("a-%s-cloud", tr), *ename = g_strdup_printf ("a-%s-edge", tr);
  g_autofree char *cdesc = cloud_desc (ep, cname);
  GSubprocess *cloud = spawn_pipeline (cname, cdesc, 0);
  g_autofree char *edesc = edge_desc (ep, FRAMES, "drop-policy=block send-timeout=-1");
  GSubprocess *edge = spawn_pipeline (ename, edesc, FRAMES);
  gboolean edge_ok = wait_exit (edge, "edge", 90), cloud_ok = wait_exit (cloud, "cloud", 30);
  g_autofree char *eerr = slurp (ename, "err"), *cerr = slurp (cname, "err");
  ck_assert_msg (edge_ok && cloud_ok, "edge: %s\ncloud: %s", eerr, cerr);
  ck_assert_int_eq (counter (ename, "splitnnedge", "frames-out"), FRAMES);
  ck_assert_int_eq (counter (ename, "zmqsink", "dropped"), 0);
  ck_assert_int_eq (counter (cname, "splitnncloud", "bad-packets"), 0);

  /* The reference: the same frames through the library's split path. */
  g_autofree char *frames_arg = g_strdup_printf ("%d", FRAMES), *cut_arg = g_strdup_printf ("%d", CUT),
      *bits_arg = g_strdup_printf ("%d", BITS), *ref_out = NULL, *ref_err = NULL;
  char *argv[] = { splitnn_cli, "detect", model, video, "--frames", frames_arg, "--cut", cut_arg, "--bits",
    bits_arg, "--codec", "lossless", "--threshold", THRESHOLD, "--json", NULL };
  /* In a sanitizer build the CLI sees GLib's load-time allocations, which
   * the tests' own suppressions (sn-test-sanitizer.c) already excuse. */
  ck_assert (sn_test_sanitizer_setenv (tmpdir));
  int status;
  ck_assert (g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &ref_out, &ref_err, &status, NULL));
  ck_assert_msg (g_spawn_check_wait_status (status, NULL), "splitnn detect: %s", ref_err);

  g_autofree char *got_text = slurp (cname, "jsonl");
  JsonParser *pg, *pr;
  JsonArray *got = parse_lines (got_text, &pg), *ref = parse_lines (ref_out, &pr);
  ck_assert_int_eq (json_array_get_length (got), FRAMES);
  ck_assert_int_eq (json_array_get_length (ref), FRAMES);
  /* Same computation on the same pixels: the printed values (scores to 4
   * places, boxes to 0.1 px) agree within one unit of the last place. */
  double max_score = 0, max_box = 0;
  int total = 0;
  for (int f = 0; f < FRAMES; f++) {
    JsonObject *g = json_array_get_object_element (got, f), *r = json_array_get_object_element (ref, f);
    ck_assert_int_eq (json_object_get_int_member (g, "seq"), f);
    ck_assert_int_eq (json_object_get_int_member (g, "pts"), json_object_get_int_member (r, "pts"));
    JsonArray *gd = json_object_get_array_member (g, "detections"), *rd = json_object_get_array_member (r, "detections");
    ck_assert_int_eq (json_array_get_length (gd), json_array_get_length (rd));
    for (guint i = 0; i < json_array_get_length (gd); i++) {
      JsonObject *a = json_array_get_object_element (gd, i), *b = json_array_get_object_element (rd, i);
      ck_assert_str_eq (json_object_get_string_member (a, "label"), json_object_get_string_member (b, "label"));
      max_score = fmax (max_score, fabs (json_object_get_double_member (a, "score")
              - json_object_get_double_member (b, "score")));
      JsonArray *ab = json_object_get_array_member (a, "box"), *bb = json_object_get_array_member (b, "box");
      for (int k = 0; k < 4; k++)
        max_box = fmax (max_box, fabs (json_array_get_double_element (ab, k) - json_array_get_double_element (bb, k)));
      total++;
    }
  }
  g_print ("%s: %d frames, %d detections; max |score diff| %.4f, max |box diff| %.1f px\n", tr, FRAMES,
      total, max_score, max_box);
  ck_assert_int_gt (total, FRAMES);                 /* vtest has people in every frame */
  ck_assert_double_le (max_score, 1e-4 + 1e-9);
  ck_assert_double_le (max_box, 0.1 + 1e-9);
  g_object_unref (pg);
  g_object_unref (pr);
  g_object_unref (edge);
  g_object_unref (cloud);
}
END_TEST

/* ---- (b) the cloud dies and comes back ---------------------------------------------- */

static guint64
max_seq (const char *name, int *n)
{
  g_autofree char *text = slurp (name, "jsonl");
  JsonParser *p;
  JsonArray *a = parse_lines (text, &p);
  guint64 m = 0;
  *n = json_array_get_length (a);
  for (int i = 0; i < *n; i++)
    m = MAX (m, (guint64) json_object_get_int_member (json_array_get_object_element (a, i), "seq"));
  g_object_unref (p);
  return m;
}

static guint64
min_seq (const char *name)
{
  g_autofree char *text = slurp (name, "jsonl");
  JsonParser *p;
  JsonArray *a = parse_lines (text, &p);
  guint64 m = G_MAXUINT64;
  for (guint i = 0; i < json_array_get_length (a); i++)
    m = MIN (m, (guint64) json_object_get_int_member (json_array_get_object_element (a, i), "seq"));
  g_object_unref (p);
  return m;
}

/* Waits until the named JSON-lines file has at least n lines. */
static gboolean
wait_lines (const char *name, int n, int timeout_s)
{
  for (int i = 0; i < timeout_s * 20; i++) {
    g_autofree char *text = slurp (name, "jsonl");
    int lines = 0;
    for (const char *c = text; *c; c++)
      lines += *c == '\n';
    if (lines >= n)
      return TRUE;
    g_usleep (50000);
  }
  return FALSE;
}

START_TEST (test_cloud_restart)
{
  const char *tr = transports[_i];
  const int max_frames = 600;     /* the test stops the edge well before */
  g_autofree char *ep = endpoint (tr, "b"), *ack_ep = endpoint (tr, "b-ack");
  /* The cloud acknowledges a packet when it takes it into its queue of
   * at most QUEUE packets (docs/zmq.md), before splitnncloud runs it. */
#define QUEUE 8
  g_autofree char *ack_props = g_strdup_printf ("ack-endpoint=%s", ack_ep);
  g_autofree char *cloud_props = g_strdup_printf ("ack-endpoint=%s max-buffers=%d", ack_ep, QUEUE);
  g_autofree char *n1name = g_strdup_printf ("b-%s-cloud1", tr), *n2name = g_strdup_printf ("b-%s-cloud2", tr),
      *ename = g_strdup_printf ("b-%s-edge", tr);
  g_autofree char *c1 = cloud_desc_with (ep, cloud_props, n1name);
  GSubprocess *cloud = spawn_pipeline (n1name, c1, 0);
  /* sync=true: the edge runs at the video's rate (10 fps), as a camera
   * would; it never waits for the network. */
  g_autofree char *sink_props = g_strdup_printf ("sync=true drop-policy=drop-new send-timeout=5000 "
      "caps-interval=200 %s", ack_props);
  g_autofree char *edesc = edge_desc (ep, max_frames, sink_props);
  GSubprocess *edge = spawn_pipeline (ename, edesc, max_frames);
  ck_assert_msg (wait_lines (n1name, 3, 60), "the first cloud produced nothing");
  g_subprocess_force_exit (cloud);                  /* SIGKILL: a crash, no goodbye */
  g_subprocess_wait (cloud, NULL, NULL);
  g_object_unref (cloud);
  g_usleep (800 * 1000);                            /* down for 0.8 s, about 8 frames */
  g_autofree char *c2 = cloud_desc_with (ep, cloud_props, n2name);
  cloud = spawn_pipeline (n2name, c2, 0);
  gboolean resumed = wait_lines (n2name, 3, 60);
  g_subprocess_send_signal (edge, SIGTERM);         /* EOS, then the counters */
  gboolean edge_ok = wait_exit (edge, "edge", 30);
  /* The cloud ends with the edge: its EOS, or, when zmqsink gave it up at
   * stop behind a slow cloud's backlog (seen under ASan with a core kept
   * busy), its goodbye (docs/zmq.md). */
  gboolean cloud_ok = wait_exit (cloud, "cloud", 30);
  g_autofree char *eerr = slurp (ename, "err"), *cerr = slurp (n2name, "err");
  ck_assert_msg (resumed, "no detections after the restart: %s", cerr);
  ck_assert_msg (edge_ok, "the edge did not stop cleanly: %s", eerr);
  ck_assert_msg (cloud_ok, "the restarted cloud did not end with the edge: %s", cerr);

  gint64 in = counter (ename, "splitnnedge", "frames-in"), out = counter (ename, "splitnnedge", "frames-out");
  gint64 sent = counter (ename, "zmqsink", "sent"), dropped = counter (ename, "zmqsink", "dropped");
  gint64 acks = counter (ename, "zmqsink", "acks"), lost = counter (ename, "zmqsink", "lost"),
      discarded = counter (ename, "zmqsink", "discarded-at-stop"),
      busy = counter (ename, "zmqsink", "receiver-dropped");
  int n1, n2;
  guint64 last1 = max_seq (n1name, &n1);
  max_seq (n2name, &n2);
  guint64 first2 = min_seq (n2name);
  g_print ("%s: edge made %" G_GINT64_FORMAT " packets: %" G_GINT64_FORMAT " sent, %" G_GINT64_FORMAT
      " dropped while the cloud was down; cloud 1 answered %d (up to seq %" G_GUINT64_FORMAT
      "), cloud 2 answered %d (from seq %" G_GUINT64_FORMAT "); lost in flight at the kill: %"
      G_GINT64_FORMAT "; zmqsink: %" G_GINT64_FORMAT " acknowledged, %" G_GINT64_FORMAT " lost, %"
      G_GINT64_FORMAT " discarded at stop, %" G_GINT64_FORMAT " dropped by a busy cloud\n", tr, out, sent,
      dropped, n1, last1, n2, first2, sent - n1 - n2, acks, lost, discarded, busy);
  ck_assert_int_gt (in, 0);
  ck_assert_int_eq (out, in);                       /* the edge processed every frame */
  ck_assert_int_eq (sent + dropped, out);           /* every packet is either sent or counted */
  ck_assert_int_gt (dropped, 0);                    /* the outage was seen and counted */
  ck_assert_uint_gt (first2, last1);
  ck_assert_int_le (n1 + n2, sent);
  /* Every packet sent ends in exactly one counter, and the clouds' own
   * answers lie between what was acknowledged and what was not counted
   * lost (an ack itself can be lost while a restarted cloud's
   * subscription forms: then a delivered packet counts as lost). */
  ck_assert_int_eq (acks + busy + lost + discarded, sent);
  /* What a cloud acknowledged and never answered: the restarted cloud
   * counts what was still queued when it stopped; the killed one may have
   * held a full queue and one packet inside splitnncloud. */
  gint64 held2 = counter (n2name, "zmqsrc", "discarded-at-stop");
  ck_assert_int_le (acks, n1 + n2 + held2 + QUEUE + 1);
#undef QUEUE
  g_object_unref (edge);
  g_object_unref (cloud);
}
END_TEST

/* The camera side of the README: the frames go to splitnnedge and, held,
 * to splitnnoverlay, which joins them with the detections coming back. */
static char *
overlay_edge_desc (const char *to_cloud, const char *sink_props, const char *back, const char *overlay_props)
{
  return g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
      "video/x-raw,format=BGRx ! identity name=limit ! tee name=t "
      "t. ! queue ! splitnnedge model=\"%s\" cut=%d ! zmqsink endpoint=%s %s "
      "t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! ov.video_sink "
      "zmqsrc endpoint=%s bind=true ! ov.detections_sink "
      "splitnnoverlay name=ov %s ! fakesink sync=false", video, model, CUT, to_cloud, sink_props, back, overlay_props);
}

/* ---- (c) no cloud: the overlay lets every frame out --------------------------------- */

START_TEST (test_overlay_without_cloud)
{
  g_autofree char *to_cloud = endpoint ("tcp", "c1"), *back = endpoint ("tcp", "c2");
  g_autofree char *desc = overlay_edge_desc (to_cloud, "drop-policy=drop-new send-timeout=200", back,
      "latency=300");
  GSubprocess *p = spawn_pipeline ("c", desc, FRAMES);
  gboolean ok = wait_exit (p, "edge", 60);
  g_autofree char *err = slurp ("c", "err");
  ck_assert_msg (ok, "%s", err);
  gint64 ann = counter ("c", "splitnnoverlay", "frames-annotated");
  gint64 unann = counter ("c", "splitnnoverlay", "frames-unannotated");
  gint64 dropped = counter ("c", "zmqsink", "dropped");
  g_print ("no cloud: %" G_GINT64_FORMAT " frames out unannotated, %" G_GINT64_FORMAT " annotated, "
      "%" G_GINT64_FORMAT " packets dropped by zmqsink\n", unann, ann, dropped);
  ck_assert_int_eq (unann, FRAMES);
  ck_assert_int_eq (ann, 0);
  ck_assert_int_eq (dropped, FRAMES);
  g_object_unref (p);
}
END_TEST

/* ---- (d) detections back on the camera's frames, from the first frame ------------------ */

/* The camera side of the README: the overlay holds each frame until its
 * detections come back from the cloud process.  Every frame is annotated,
 * the first ones too: zmqsink must not hold the first packet for preroll
 * while the pipeline waits for the overlay's first frame (that cycle held
 * the first frames for the whole `latency`, which then left unannotated). */
START_TEST (test_overlay_with_cloud)
{
  g_autofree char *to_cloud = endpoint ("tcp", "d1"), *back = endpoint ("tcp", "d2");
  g_autofree char *cdesc = g_strdup_printf ("zmqsrc endpoint=%s bind=true ! splitnncloud model=\"%s\" "
      "! zmqsink endpoint=%s", to_cloud, model, back);
  GSubprocess *cloud = spawn_pipeline ("d-cloud", cdesc, 0);
  g_autofree char *edesc = overlay_edge_desc (to_cloud, "drop-policy=block send-timeout=-1", back,
      "latency=20000");
  gint64 t0 = g_get_monotonic_time ();
  GSubprocess *edge = spawn_pipeline ("d-edge", edesc, FRAMES);
  gboolean ok = wait_exit (edge, "edge", 90);
  double seconds = (g_get_monotonic_time () - t0) / 1e6;
  g_subprocess_force_exit (cloud);
  g_subprocess_wait (cloud, NULL, NULL);
  g_autofree char *err = slurp ("d-edge", "err");
  ck_assert_msg (ok, "%s", err);
  gint64 ann = counter ("d-edge", "splitnnoverlay", "frames-annotated");
  gint64 unann = counter ("d-edge", "splitnnoverlay", "frames-unannotated");
  gint64 late = counter ("d-edge", "splitnnoverlay", "detections-late");
  g_print ("overlay with cloud: %" G_GINT64_FORMAT " frames annotated, %" G_GINT64_FORMAT " unannotated, %"
      G_GINT64_FORMAT " detections late, %.1f s\n", ann, unann, late, seconds);
  ck_assert_int_eq (ann, FRAMES);
  ck_assert_int_eq (unann, 0);
  ck_assert_int_eq (late, 0);
  /* A frame held for the whole latency would take 20 s. */
  ck_assert_double_lt (seconds, 20.0);
  g_object_unref (edge);
  g_object_unref (cloud);
}
END_TEST

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  if (argc == 4 && strcmp (argv[1], "--pipeline") == 0) {
    int rc = run_pipeline (argv[2], atoi (argv[3]));
    gst_deinit ();
    return rc;
  }
  self_exe = g_canonicalize_filename (argv[0], NULL);
  const char *src = g_getenv ("SPLITNN_SOURCE_ROOT"), *build = g_getenv ("SPLITNN_BUILD_ROOT");
  model = g_build_filename (src, "models", "centernet-mobilenetv3-coco.onnx", NULL);
  video = g_build_filename (src, "data", "vtest.avi", NULL);
  splitnn_cli = g_build_filename (build, "tools", "splitnn", NULL);
  tmpdir = g_dir_make_tmp ("splitnn-integration-XXXXXX", NULL);
  Suite *s = suite_create ("integration");
  TCase *tc = tcase_create ("integration");
  tcase_add_loop_test (tc, test_matches_splitnn_detect, 0, G_N_ELEMENTS (transports));
  tcase_add_loop_test (tc, test_cloud_restart, 0, G_N_ELEMENTS (transports));
  tcase_add_test (tc, test_overlay_without_cloud);
  tcase_add_test (tc, test_overlay_with_cloud);
  tcase_set_timeout (tc, 150);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  if (!failed) {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", tmpdir);
    (void) !system (cmd);
  } else {
    g_printerr ("outputs kept in %s\n", tmpdir);
  }
  return failed ? 1 : 0;
}
