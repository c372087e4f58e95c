/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* zmqsink / zmqsrc: round trips through real ZeroMQ sockets in-process.
 *
 * Every expected value comes from the test's own buffer generator or from
 * the wire format as written down in docs/zmq.md, never from the elements. */
#include <gst/check/gstcheck.h>
#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define WAIT (5 * GST_SECOND)
#define MS ((GstClockTime) GST_MSECOND)

static guint endpoint_counter;

static gchar *
ipc_endpoint (const gchar * tag)
{
  return g_strdup_printf ("ipc:///tmp/sn-zmq-test-%d-%s-%u", (gint) getpid (),
      tag, endpoint_counter++);
}

/* A port nobody listens on right now: the kernel's choice for an
 * ephemeral bind, released again. */
static gchar *
tcp_endpoint (void)
{
  struct sockaddr_in addr = { 0, };
  socklen_t len = sizeof addr;
  gint fd = socket (AF_INET, SOCK_STREAM, 0);

  fail_unless (fd >= 0);
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  fail_unless (bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0);
  fail_unless (getsockname (fd, (struct sockaddr *) &addr, &len) == 0);
  close (fd);
  return g_strdup_printf ("tcp://127.0.0.1:%u", ntohs (addr.sin_port));
}

/* ---- the reference stream ---------------------------------------------- */

static gsize
ref_size (guint i)
{
  switch (i) {
    case 0:
      return 0;
    case 1:
      return 1;
    case 2:
      return 32;                /* largest ZeroMQ keeps inside the message */
    case 3:
      return 33;
    case 7:
      return 1 << 20;
    default:
      return (i * 7919u) % 65536u;
  }
}

static guint8
ref_byte (guint i, gsize j)
{
  return (guint8) (i * 31u + j * 7u + (j >> 8));
}

static GstClockTime
ref_pts (guint i)
{
  return i * 40 * MS;
}

static GstClockTime
ref_dts (guint i)
{
  return (i % 10 == 0) ? GST_CLOCK_TIME_NONE : i * 40 * MS - 20 * MS;
}

static GstClockTime
ref_duration (guint i)
{
  return (i % 3) ? 40 * MS : GST_CLOCK_TIME_NONE;
}

static GstBufferFlags
ref_flags (guint i)
{
  GstBufferFlags flags = 0;

  if (i % 5)
    flags |= GST_BUFFER_FLAG_DELTA_UNIT;
  if (i % 7 == 0)
    flags |= GST_BUFFER_FLAG_HEADER;
  if (i % 11 == 0)
    flags |= GST_BUFFER_FLAG_MARKER;
  if (i % 13 == 0)
    flags |= GST_BUFFER_FLAG_DROPPABLE;
  if (i == 100)
    flags |= GST_BUFFER_FLAG_DISCONT;
  return flags;
}

static GstBuffer *
ref_buffer (guint i)
{
  gsize size = ref_size (i);
  GstBuffer *buf = gst_buffer_new_allocate (NULL, size, NULL);
  GstMapInfo map;

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  for (gsize j = 0; j < size; j++)
    map.data[j] = ref_byte (i, j);
  gst_buffer_unmap (buf, &map);

  GST_BUFFER_PTS (buf) = ref_pts (i);
  GST_BUFFER_DTS (buf) = ref_dts (i);
  GST_BUFFER_DURATION (buf) = ref_duration (i);
  GST_BUFFER_OFFSET (buf) = i;
  GST_BUFFER_OFFSET_END (buf) = i + 1;
  GST_BUFFER_FLAG_SET (buf, ref_flags (i));
  return buf;
}

/* Checks a received buffer against the reference buffer its offset names;
 * returns that index. */
static guint
check_ref_buffer (GstBuffer * buf, gboolean check_discont)
{
  const GstBufferFlags checked = GST_BUFFER_FLAG_DELTA_UNIT
      | GST_BUFFER_FLAG_HEADER | GST_BUFFER_FLAG_MARKER
      | GST_BUFFER_FLAG_DROPPABLE;
  guint i = (guint) GST_BUFFER_OFFSET (buf);
  GstMapInfo map;

  fail_unless (GST_BUFFER_OFFSET (buf) < 100000);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (buf), i + 1);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), ref_pts (i));
  fail_unless_equals_uint64 (GST_BUFFER_DTS (buf), ref_dts (i));
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (buf), ref_duration (i));
  fail_unless_equals_int (GST_BUFFER_FLAGS (buf) & checked,
      ref_flags (i) & checked);
  if (check_discont)
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (buf,
            GST_BUFFER_FLAG_DISCONT), (ref_flags (i) & GST_BUFFER_FLAG_DISCONT)
        != 0);

  fail_unless (gst_buffer_map (buf, &map, GST_MAP_READ));
  fail_unless_equals_uint64 (map.size, ref_size (i));
  for (gsize j = 0; j < map.size; j++) {
    if (map.data[j] != ref_byte (i, j))
      fail ("buffer %u: byte %" G_GSIZE_FORMAT " is %u, expected %u", i, j,
          map.data[j], ref_byte (i, j));
  }
  gst_buffer_unmap (buf, &map);
  return i;
}

/* ---- pipelines --------------------------------------------------------- */

static GstElement *
pipeline_new (const gchar * fmt, ...)
{
  GError *error = NULL;
  GstElement *pipe;
  gchar *desc;
  va_list ap;

  va_start (ap, fmt);
  desc = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  pipe = gst_parse_launch (desc, &error);
  if (pipe == NULL)
    fail ("cannot build '%s': %s", desc, error->message);
  g_free (desc);
  return pipe;
}

static void
pipeline_play (GstElement * pipe)
{
  fail_if (gst_element_set_state (pipe, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE);
}

static void
pipeline_free (GstElement * pipe)
{
  fail_unless (gst_element_set_state (pipe, GST_STATE_NULL) ==
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (pipe);
}

static GstElement *
by_name (GstElement * pipe, const gchar * name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipe), name);

  fail_unless (e != NULL);
  gst_object_unref (e);         /* the pipeline keeps it alive */
  return e;
}

static guint64
counter (GstElement * pipe, const gchar * element, const gchar * name)
{
  guint64 v = 0;

  g_object_get (by_name (pipe, element), name, &v, NULL);
  return v;
}

/* Waits for EOS or an error on @pipe's bus, counting the warnings on the
 * way; TRUE for EOS. */
static gboolean
wait_eos_warnings (GstElement * pipe, guint * warnings)
{
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg;
  gboolean eos;

  while ((msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
              GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_WARNING))
      && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
    (*warnings)++;
    gst_message_unref (msg);
  }
  fail_unless (msg != NULL, "neither EOS nor an error within 10 s");
  eos = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
  if (!eos) {
    GError *err = NULL;
    gchar *dbg = NULL;

    gst_message_parse_error (msg, &err, &dbg);
    GST_WARNING ("error: %s (%s)", err->message, dbg);
    g_error_free (err);
    g_free (dbg);
  }
  gst_message_unref (msg);
  gst_object_unref (bus);
  return eos;
}

static gboolean
wait_eos (GstElement * pipe)
{
  guint warnings = 0;

  return wait_eos_warnings (pipe, &warnings);
}

static void
push (GstElement * pipe, GstBuffer * buf)
{
  fail_unless_equals_int (gst_app_src_push_buffer (GST_APP_SRC (by_name (pipe,
                  "in")), buf), GST_FLOW_OK);
}

static void
push_ref (GstElement * pipe, guint i)
{
  push (pipe, ref_buffer (i));
}

static void
end_stream (GstElement * pipe)
{
  fail_unless_equals_int (gst_app_src_end_of_stream (GST_APP_SRC (by_name
              (pipe, "in"))), GST_FLOW_OK);
}

static GstSample *
pull (GstElement * pipe, GstClockTime timeout)
{
  return gst_app_sink_try_pull_sample (GST_APP_SINK (by_name (pipe, "out")),
      timeout);
}

#define SRC_PIPE "zmqsrc name=zsrc endpoint=%s %s ! appsink name=out sync=false"
#define SINK_PIPE "appsrc name=in format=time caps=%s ! zmqsink name=zsink " \
    "endpoint=%s %s"
#define TEST_CAPS "application/x-sn-test,variant=(int)1"

/* ---- tests ------------------------------------------------------------- */

GST_START_TEST (test_round_trip)
{
  gchar *ep = ipc_endpoint ("rt");
  GstElement *rx = pipeline_new (SRC_PIPE, ep, "sender-eos=end");
  GstElement *tx;
  GstCaps *want = gst_caps_from_string (TEST_CAPS);
  guint64 bytes = 0;

  pipeline_play (rx);
  tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep,
      "drop-policy=block send-timeout=-1");
  pipeline_play (tx);

  for (guint i = 0; i < 200; i++) {
    push_ref (tx, i);
    bytes += ref_size (i);
  }
  end_stream (tx);

  for (guint i = 0; i < 200; i++) {
    GstSample *sample = pull (rx, WAIT);

    fail_unless (sample != NULL, "buffer %u did not arrive", i);
    fail_unless (gst_caps_is_equal (gst_sample_get_caps (sample), want));
    /* The first buffer after start is DISCONT whatever was sent. */
    fail_unless_equals_int (check_ref_buffer (gst_sample_get_buffer (sample),
            i > 0), i);
    gst_sample_unref (sample);
  }
  fail_unless (wait_eos (rx));
  fail_unless (wait_eos (tx));

  fail_unless_equals_uint64 (counter (tx, "zsink", "sent"), 200);
  fail_unless_equals_uint64 (counter (tx, "zsink", "dropped"), 0);
  fail_unless_equals_uint64 (counter (tx, "zsink", "bytes-sent"), bytes);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "received"), 200);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "bytes-received"), bytes);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "dropped-no-caps"), 0);

  gst_caps_unref (want);
  pipeline_free (tx);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

GST_START_TEST (test_caps_change)
{
  const gchar *caps_b = "application/x-sn-test,variant=(int)2,rate=(int)30";
  gchar *ep = ipc_endpoint ("caps");
  GstElement *rx = pipeline_new (SRC_PIPE, ep, "sender-eos=end");
  GstElement *tx;
  GstCaps *a = gst_caps_from_string (TEST_CAPS);
  GstCaps *b = gst_caps_from_string (caps_b);

  pipeline_play (rx);
  tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep, "drop-policy=block "
      "send-timeout=-1 caps-interval=0");
  pipeline_play (tx);

  for (guint i = 0; i < 20; i++) {
    if (i == 10)
      gst_app_src_set_caps (GST_APP_SRC (by_name (tx, "in")), b);
    push_ref (tx, i);
  }
  end_stream (tx);

  for (guint i = 0; i < 20; i++) {
    GstSample *sample = pull (rx, WAIT);

    fail_unless (sample != NULL, "buffer %u did not arrive", i);
    fail_unless (gst_caps_is_equal (gst_sample_get_caps (sample),
            i < 10 ? a : b), "buffer %u: caps %" GST_PTR_FORMAT, i,
        gst_sample_get_caps (sample));
    check_ref_buffer (gst_sample_get_buffer (sample), FALSE);
    gst_sample_unref (sample);
  }
  fail_unless (wait_eos (rx));

  gst_caps_unref (a);
  gst_caps_unref (b);
  pipeline_free (tx);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

GST_START_TEST (test_eos_forwarding)
{
  for (gint forward = 1; forward >= 0; forward--) {
    gchar *ep = ipc_endpoint ("eos");
    GstElement *rx = pipeline_new (SRC_PIPE, ep, "sender-eos=end");
    GstElement *tx;
    gchar *opts = g_strdup_printf ("drop-policy=block send-timeout=-1 "
        "forward-eos=%s", forward ? "true" : "false");

    pipeline_play (rx);
    tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep, opts);
    pipeline_play (tx);
    for (guint i = 0; i < 3; i++)
      push_ref (tx, i + 10);
    end_stream (tx);
    fail_unless (wait_eos (tx));

    for (guint i = 0; i < 3; i++) {
      GstSample *sample = pull (rx, WAIT);

      fail_unless (sample != NULL);
      fail_unless_equals_int (check_ref_buffer (gst_sample_get_buffer
              (sample), i > 0), i + 10);
      gst_sample_unref (sample);
    }
    if (forward) {
      fail_unless (wait_eos (rx));
      fail_unless (gst_app_sink_is_eos (GST_APP_SINK (by_name (rx, "out"))));
    } else {
      fail_unless (pull (rx, 300 * MS) == NULL);
      fail_if (gst_app_sink_is_eos (GST_APP_SINK (by_name (rx, "out"))));
    }

    pipeline_free (tx);
    pipeline_free (rx);
    g_free (opts);
    g_free (ep);
  }
}

GST_END_TEST;

GST_START_TEST (test_pub_sub)
{
  gchar *ep = ipc_endpoint ("pubsub");
  GstElement *tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep,
      "socket-type=pub bind=true topic=cam1 caps-interval=50");
  GstElement *rx1, *rx2;
  guint got = 0, pushed = 0;

  pipeline_play (tx);
  rx1 = pipeline_new (SRC_PIPE, ep,
      "socket-type=sub bind=false subscribe=cam");
  rx2 = pipeline_new (SRC_PIPE, ep,
      "socket-type=sub bind=false subscribe=cam2");
  pipeline_play (rx1);
  pipeline_play (rx2);

  /* Subscribers join late (ZeroMQ's slow joiner): publish until the first
   * one has picked up the caps and five buffers. */
  while (got < 5 && pushed < 500) {
    GstSample *sample;

    push_ref (tx, pushed++);
    while ((sample = pull (rx1, 20 * MS))) {
      check_ref_buffer (gst_sample_get_buffer (sample), FALSE);
      gst_sample_unref (sample);
      got++;
    }
  }
  fail_unless (got >= 5, "subscriber got %u of %u buffers", got, pushed);
  fail_unless_equals_uint64 (counter (rx1, "zsrc", "dropped-malformed"), 0);
  /* "cam1" does not start with "cam2": ZeroMQ filtered everything out. */
  fail_unless (pull (rx2, 100 * MS) == NULL);
  fail_unless_equals_uint64 (counter (rx2, "zsrc", "received"), 0);
  fail_unless_equals_uint64 (counter (rx2, "zsrc", "dropped-no-caps"), 0);
  fail_unless_equals_uint64 (counter (rx2, "zsrc", "dropped-malformed"), 0);

  pipeline_free (rx2);
  pipeline_free (rx1);
  pipeline_free (tx);
  g_free (ep);
}

GST_END_TEST;

/* Acknowledgements: the link estimate appears on the sink and goes
 * upstream as "splitnn-bandwidth"; probes never reach the receiver's
 * downstream, its counters or the sequence (no DISCONT). */
static GstPadProbeReturn
count_bandwidth_events (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  const GstStructure *s = gst_event_get_structure (ev);
  gdouble bps = 0;

  if (GST_EVENT_TYPE (ev) == GST_EVENT_CUSTOM_UPSTREAM && s
      && gst_structure_has_name (s, "splitnn-bandwidth")
      && gst_structure_get_double (s, "bits-per-second", &bps) && bps > 0)
    g_atomic_int_inc ((gint *) data);
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_acks)
{
  gchar *ep = ipc_endpoint ("ack-data"), *ack = ipc_endpoint ("ack");
  gchar *opt_rx = g_strdup_printf ("ack-endpoint=%s", ack);
  gchar *opt_tx = g_strdup_printf ("ack-endpoint=%s drop-policy=block "
      "send-timeout=-1 bandwidth-interval=1", ack);
  GstElement *rx = pipeline_new (SRC_PIPE, ep, opt_rx), *tx;
  GstPad *pad;
  gint events = 0;
  gdouble estimate = 0, rtt = 0;
  guint64 acks = 0;
  const guint n = 60;

  pipeline_play (rx);
  tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep, opt_tx);
  pad = gst_element_get_static_pad (by_name (tx, "in"), "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
      count_bandwidth_events, &events, NULL);
  gst_object_unref (pad);
  pipeline_play (tx);

  for (guint i = 0; i < n; i++) {
    GstSample *sample;

    push_ref (tx, i);
    sample = pull (rx, WAIT);
    fail_unless (sample != NULL, "buffer %u did not arrive", i);
    /* Exactly the data, in order, no gap a probe could have made. */
    fail_unless_equals_int (check_ref_buffer (gst_sample_get_buffer (sample),
            i > 0), i);
    gst_sample_unref (sample);
    g_usleep (5000);
  }
  fail_unless (pull (rx, 100 * MS) == NULL);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "received"), n);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "dropped-malformed"), 0);
  fail_unless_equals_uint64 (counter (tx, "zsink", "sent"), n);

  /* Acks of the first messages may be lost while the subscription reaches
   * the receiver (slow joiner); most must arrive. */
  for (gint tries = 0; tries < 100 && acks < n - 10; tries++) {
    g_usleep (20000);
    g_object_get (by_name (tx, "zsink"), "acks", &acks, NULL);
  }
  g_object_get (by_name (tx, "zsink"), "acks", &acks, "bandwidth-estimate",
      &estimate, "rtt", &rtt, NULL);
  fail_unless (acks >= n - 10 && acks <= n, "%" G_GUINT64_FORMAT " acks", acks);
  fail_unless (estimate > 0, "no estimate from %" G_GUINT64_FORMAT " acks",
      acks);
  fail_unless (rtt > 0 && rtt < 1000, "rtt %f ms", rtt);
  fail_unless (g_atomic_int_get (&events) > 0, "no splitnn-bandwidth event");

  pipeline_free (tx);
  pipeline_free (rx);
  g_free (opt_rx);
  g_free (opt_tx);
  g_free (ack);
  g_free (ep);
}

GST_END_TEST;

/* Collects the "test-reply" events reaching an appsrc: their "value"s. */
static GstPadProbeReturn
collect_replies (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GArray *values = data;
  const GstStructure *s = gst_event_get_structure (GST_PAD_PROBE_INFO_EVENT
      (info));
  gint v;

  if (s && gst_structure_has_name (s, "test-reply")
      && gst_structure_get_int (s, "value", &v)) {
    /* The addressing is the transport's business, not the answer's. */
    fail_if (gst_structure_has_field (s, "zmq-reply-to"));
    g_array_append_val (values, v);
  }
  return GST_PAD_PROBE_OK;
}

/* Answers a received buffer the way splitnncloud does: a custom upstream
 * event addressed to the sender named by the buffer's GstZmqSenderMeta. */
static guint
reply_to (GstElement * rx, GstBuffer * buf, gint value)
{
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buf, "GstZmqSenderMeta");
  GstPad *pad = gst_element_get_static_pad (by_name (rx, "out"), "sink");
  guint sender = 0;

  fail_unless (meta != NULL, "no sender meta on a buffer from zmqsrc");
  fail_unless (gst_structure_get_uint (gst_custom_meta_get_structure (meta),
          "stream-id", &sender));
  fail_unless (gst_pad_push_event (pad,
          gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM,
              gst_structure_new ("test-reply", "value", G_TYPE_INT, value,
                  "zmq-reply-to", G_TYPE_UINT, sender, NULL))));
  gst_object_unref (pad);
  return sender;
}

/* Two senders into one receiver: each gets the answers to its own buffers
 * and no others, as custom upstream events; the frames on the ack channel
 * are as docs/zmq.md writes them. */
GST_START_TEST (test_replies)
{
  gchar *ep = ipc_endpoint ("reply-data"), *ack = ipc_endpoint ("reply");
  gchar *opt_rx = g_strdup_printf ("ack-endpoint=%s", ack);
  gchar *opt_tx = g_strdup_printf ("ack-endpoint=%s drop-policy=block "
      "send-timeout=-1", ack);
  GstElement *rx = pipeline_new (SRC_PIPE, ep, opt_rx), *tx[2];
  GArray *got[2];
  guint senders[2] = { 0, 0 };
  void *ctx = zmq_ctx_new ();
  void *spy = zmq_socket (ctx, ZMQ_SUB);
  const guint n = 40;
  guint8 frame[512];
  gint zero = 0, raw = 0;

  pipeline_play (rx);
  fail_unless (zmq_setsockopt (spy, ZMQ_LINGER, &zero, sizeof zero) == 0);
  fail_unless (zmq_setsockopt (spy, ZMQ_SUBSCRIBE, "", 0) == 0);
  fail_unless (zmq_connect (spy, ack) == 0);
  for (guint k = 0; k < 2; k++) {
    GstPad *pad;

    tx[k] = pipeline_new (SINK_PIPE, TEST_CAPS, ep, opt_tx);
    got[k] = g_array_new (FALSE, FALSE, sizeof (gint));
    pad = gst_element_get_static_pad (by_name (tx[k], "in"), "src");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
        collect_replies, got[k], NULL);
    gst_object_unref (pad);
    pipeline_play (tx[k]);
  }
  /* Past the subscriptions' slow start, so (nearly) nothing is lost. */
  g_usleep (200000);

  for (guint i = 0; i < n; i++) {
    guint k = i % 2;
    GstSample *sample;
    GstBuffer *buf = ref_buffer (i);

    push (tx[k], buf);
    sample = pull (rx, WAIT);
    fail_unless (sample != NULL, "buffer %u did not arrive", i);
    fail_unless_equals_int (check_ref_buffer (gst_sample_get_buffer (sample),
            FALSE), i);
    senders[k] = reply_to (rx, gst_sample_get_buffer (sample), (gint) i);
    gst_sample_unref (sample);
  }
  fail_unless (senders[0] != senders[1]);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "replies"), n);

  for (gint tries = 0; tries < 100 && (got[0]->len < n / 2
          || got[1]->len < n / 2); tries++)
    g_usleep (20000);
  for (guint k = 0; k < 2; k++) {
    fail_unless_equals_int (got[k]->len, n / 2);
    for (guint j = 0; j < got[k]->len; j++)
      fail_unless_equals_int (g_array_index (got[k], gint, j) % 2, k);
    fail_unless_equals_uint64 (counter (tx[k], "zsink", "replies"), n / 2);
  }

  /* The spy saw acks and replies; each reply frame: the stream id of the
   * buffer's sender (little-endian), "SNZR", version 1, seven zero bytes,
   * the structure as text. */
  for (gint len; (len = zmq_recv (spy, frame, sizeof frame - 1,
              ZMQ_DONTWAIT)) >= 0;) {
    GstStructure *s;
    guint32 id;
    gint v;

    if (len < 8 || memcmp (frame + 4, "SNZR", 4) != 0)
      continue;
    memcpy (&id, frame, 4);
    id = GUINT32_FROM_LE (id);
    fail_unless (id == senders[0] || id == senders[1]);
    fail_unless_equals_int (frame[8], 1);
    for (gint j = 9; j < 16; j++)
      fail_unless_equals_int (frame[j], 0);
    frame[len] = 0;
    s = gst_structure_from_string ((const gchar *) frame + 16, NULL);
    fail_unless (s != NULL, "reply text '%s'", frame + 16);
    fail_unless (gst_structure_get_int (s, "value", &v));
    fail_unless_equals_int (id == senders[v % 2], TRUE);
    fail_if (gst_structure_has_field (s, "zmq-reply-to"));
    gst_structure_free (s);
    raw++;
  }
  fail_unless (raw >= (gint) n - 10, "%d reply frames seen", raw);

  zmq_close (spy);
  zmq_ctx_term (ctx);
  for (guint k = 0; k < 2; k++) {
    pipeline_free (tx[k]);
    g_array_unref (got[k]);
  }
  pipeline_free (rx);
  g_free (opt_rx);
  g_free (opt_tx);
  g_free (ack);
  g_free (ep);
}

GST_END_TEST;

/* Nobody listens: every buffer must be dropped and counted, and the stream
 * must reach EOS (a blocked render would never get there). */
static GstPadProbeReturn
count_drop_refresh (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  const GstStructure *s = gst_event_get_structure (event);

  if (s && gst_structure_has_name (s, "splitnn-refresh")
      && !g_strcmp0 (gst_structure_get_string (s, "reason"), "dropped"))
    g_atomic_int_inc ((gint *) data);
  return GST_PAD_PROBE_OK;
}

static void
check_no_peer (const gchar * ep, const gchar * opts, guint n)
{
  GstElement *tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep, opts);
  GstElement *zsink = gst_bin_get_by_name (GST_BIN (tx), "zsink");
  GstPad *pad = gst_element_get_static_pad (zsink, "sink");
  guint warnings = 0;
  gint refreshes = 0;

  /* Each drop would leave a receiver without its reference: upstream is
   * asked for a refresh once for the whole run of drops. */
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
      count_drop_refresh, &refreshes, NULL);
  gst_object_unref (pad);
  gst_object_unref (zsink);
  pipeline_play (tx);
  for (guint i = 0; i < n; i++)
    push_ref (tx, i);
  end_stream (tx);
  fail_unless (wait_eos_warnings (tx, &warnings));

  fail_unless_equals_uint64 (counter (tx, "zsink", "sent"), 0);
  fail_unless_equals_uint64 (counter (tx, "zsink", "dropped"), n);
  fail_unless_equals_uint64 (counter (tx, "zsink", "bytes-sent"), 0);

  /* Warned, but not once per buffer. */
  fail_unless (warnings >= 1 && warnings < n, "%u warnings for %u drops",
      warnings, n);
  fail_unless_equals_int (g_atomic_int_get (&refreshes), 1);

  pipeline_free (tx);
}

GST_START_TEST (test_no_peer_drop_new)
{
  gchar *tcp = tcp_endpoint ();
  gchar *ipc = ipc_endpoint ("nopeer");

  check_no_peer (tcp, "forward-eos=false", 50);
  check_no_peer (ipc, "bind=true forward-eos=false", 50);
  /* block waits send-timeout for each, then drops */
  check_no_peer (tcp, "drop-policy=block send-timeout=20 forward-eos=false", 5);

  g_free (tcp);
  g_free (ipc);
}

GST_END_TEST;

/* Pushes reference buffers from @next on until @rx has delivered @want of
 * them (checked), or 1000 have been pushed. */
static guint
push_until_received (GstElement * tx, GstElement * rx, guint * next,
    guint want)
{
  guint got = 0;

  for (guint tries = 0; got < want && tries < 1000; tries++) {
    GstSample *sample;

    push_ref (tx, (*next)++);
    while ((sample = pull (rx, 10 * MS))) {
      check_ref_buffer (gst_sample_get_buffer (sample), FALSE);
      gst_sample_unref (sample);
      got++;
    }
  }
  return got;
}

GST_START_TEST (test_reconnect)
{
  gchar *ep = ipc_endpoint ("reconnect");
  GstElement *rx = pipeline_new (SRC_PIPE, ep, "");
  GstElement *tx;
  guint next = 0;

  pipeline_play (rx);
  tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep, "caps-interval=50");
  pipeline_play (tx);
  fail_unless (push_until_received (tx, rx, &next, 3) >= 3);

  /* The receiver goes away; the sender keeps going without blocking. */
  pipeline_free (rx);
  for (guint i = 0; i < 20; i++) {
    push_ref (tx, next++);
    g_usleep (5000);
  }

  /* A new receiver on the same endpoint gets data again, caps included. */
  rx = pipeline_new (SRC_PIPE, ep, "");
  pipeline_play (rx);
  fail_unless (push_until_received (tx, rx, &next, 3) >= 3);

  end_stream (tx);
  fail_unless (wait_eos (tx));
  /* Every buffer is accounted for: sent or dropped. */
  fail_unless_equals_uint64 (counter (tx, "zsink", "sent") +
      counter (tx, "zsink", "dropped"), next);

  pipeline_free (tx);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

GST_START_TEST (test_curve)
{
  gchar server_pub[41], server_sec[41], other_pub[41], other_sec[41];
  gchar client_pub[41], client_sec[41];
  gchar *ep = tcp_endpoint ();
  gchar *rx_opts, *tx_opts;
  GstElement *rx, *tx;

  fail_unless (zmq_has ("curve"));
  fail_unless (zmq_curve_keypair (server_pub, server_sec) == 0);
  fail_unless (zmq_curve_keypair (other_pub, other_sec) == 0);
  fail_unless (zmq_curve_keypair (client_pub, client_sec) == 0);

  rx_opts = g_strdup_printf ("curve-secret-key=\"%s\" curve-public-key=\"%s\"",
      server_sec, server_pub);
  rx = pipeline_new (SRC_PIPE, ep, rx_opts);
  pipeline_play (rx);

  /* Right server key, with a configured client key pair and with a
   * throw-away one. */
  for (gint own_keys = 1; own_keys >= 0; own_keys--) {
    if (own_keys)
      tx_opts = g_strdup_printf ("curve-server-key=\"%s\" "
          "curve-public-key=\"%s\" curve-secret-key=\"%s\" "
          "drop-policy=block send-timeout=5000 forward-eos=false",
          server_pub, client_pub, client_sec);
    else
      tx_opts = g_strdup_printf ("curve-server-key=\"%s\" "
          "drop-policy=block send-timeout=5000 forward-eos=false",
          server_pub);
    tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep, tx_opts);
    pipeline_play (tx);
    for (guint i = 0; i < 20; i++)
      push_ref (tx, i);
    for (guint i = 0; i < 20; i++) {
      GstSample *sample = pull (rx, WAIT);

      fail_unless (sample != NULL, "buffer %u did not arrive", i);
      fail_unless_equals_int (check_ref_buffer (gst_sample_get_buffer
              (sample), FALSE), i);
      gst_sample_unref (sample);
    }
    end_stream (tx);
    fail_unless (wait_eos (tx));
    fail_unless_equals_uint64 (counter (tx, "zsink", "sent"), 20);
    pipeline_free (tx);
    g_free (tx_opts);
  }

  /* Wrong server key: the handshake never completes, nothing gets through
   * and the sender counts every buffer as dropped. */
  tx_opts = g_strdup_printf ("curve-server-key=\"%s\" forward-eos=false",
      other_pub);
  tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep, tx_opts);
  pipeline_play (tx);
  for (guint i = 0; i < 30; i++) {
    push_ref (tx, i);
    g_usleep (10000);
  }
  end_stream (tx);
  fail_unless (wait_eos (tx));
  fail_unless_equals_uint64 (counter (tx, "zsink", "sent"), 0);
  fail_unless_equals_uint64 (counter (tx, "zsink", "dropped"), 30);
  fail_unless (pull (rx, 100 * MS) == NULL);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "received"), 40);
  pipeline_free (tx);
  g_free (tx_opts);

  pipeline_free (rx);
  g_free (rx_opts);
  g_free (ep);
}

GST_END_TEST;

/* Going to PLAYING must fail with an error message on the bus, not crash
 * and not hang. */
static void
check_start_fails (const gchar * desc)
{
  GstElement *pipe = pipeline_new ("%s", desc);
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg;

  fail_unless_equals_int (gst_element_set_state (pipe, GST_STATE_PLAYING),
      GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "no error message for '%s'", desc);
  gst_message_unref (msg);
  /* Only the clear one: not followed by GStreamer's fallback ("failed to
   * post a proper error message"), which buries it. */
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  if (msg) {
    GError *err = NULL;

    gst_message_parse_error (msg, &err, NULL);
    fail ("'%s': a second error: %s", desc, err->message);
  }
  gst_object_unref (bus);
  pipeline_free (pipe);
}

GST_START_TEST (test_bad_settings)
{
  gchar pub[41], sec[41], other_pub[41], other_sec[41];
  gchar *desc;

  fail_unless (zmq_curve_keypair (pub, sec) == 0);
  fail_unless (zmq_curve_keypair (other_pub, other_sec) == 0);

  check_start_fails ("fakesrc ! zmqsink endpoint=foo://bar");
  check_start_fails ("fakesrc ! zmqsink");
  check_start_fails ("fakesrc ! zmqsink endpoint=tcp://127.0.0.1");
  check_start_fails ("fakesrc ! zmqsink endpoint=tcp://127.0.0.1:99999");
  check_start_fails ("fakesrc ! zmqsink endpoint=ipc://");
  check_start_fails ("zmqsrc endpoint=tcp://127.0.0.1:notaport ! fakesink");
  check_start_fails ("zmqsrc endpoint=udp://127.0.0.1:5555 ! fakesink");
  /* binding a TCP address of another host */
  check_start_fails ("zmqsrc endpoint=tcp://192.0.2.1:5555 ! fakesink");
  /* bad keys */
  check_start_fails ("fakesrc ! zmqsink endpoint=tcp://127.0.0.1:5555 "
      "curve-server-key=tooshort");
  desc = g_strdup_printf ("fakesrc ! zmqsink endpoint=tcp://127.0.0.1:5555 "
      "curve-server-key=\"%.39s~\"", pub);      /* '~' is not Z85 */
  check_start_fails (desc);
  g_free (desc);
  check_start_fails ("zmqsrc endpoint=ipc:///tmp/sn-zmq-bad "
      "curve-secret-key=xyz ! fakesink");
  /* a public key that does not belong to the secret key */
  desc = g_strdup_printf ("zmqsrc endpoint=ipc:///tmp/sn-zmq-bad "
      "curve-secret-key=\"%s\" curve-public-key=\"%s\" ! fakesink", sec,
      other_pub);
  check_start_fails (desc);
  g_free (desc);
  /* roles: the binding side is the server, the connecting one the client */
  desc = g_strdup_printf ("zmqsrc endpoint=ipc:///tmp/sn-zmq-bad "
      "curve-server-key=\"%s\" ! fakesink", pub);
  check_start_fails (desc);
  g_free (desc);
  desc = g_strdup_printf ("fakesrc ! zmqsink endpoint=tcp://127.0.0.1:5555 "
      "curve-secret-key=\"%s\"", sec);
  check_start_fails (desc);
  g_free (desc);
}

GST_END_TEST;

GST_START_TEST (test_restart)
{
  gchar *ep = tcp_endpoint ();
  GstElement *rx = pipeline_new (SRC_PIPE, ep, "");
  GstElement *tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep,
      "drop-policy=block send-timeout=5000");
  guint base = 0;

  for (guint round = 0; round < 3; round++) {
    pipeline_play (rx);
    pipeline_play (tx);
    for (guint i = 0; i < 5; i++)
      push_ref (tx, base + i);
    for (guint i = 0; i < 5; i++) {
      GstSample *sample = pull (rx, WAIT);

      fail_unless (sample != NULL, "round %u: buffer %u did not arrive",
          round, i);
      fail_unless_equals_int (check_ref_buffer (gst_sample_get_buffer
              (sample), FALSE), base + i);
      gst_sample_unref (sample);
    }
    /* counters restart with the element; the sink counts a buffer after
     * ZeroMQ took it, which may be after the receiver has it (seen under
     * ASan on a loaded machine), so wait for the count */
    for (guint t = 0; t < 500 && counter (tx, "zsink", "sent") < 5; t++)
      g_usleep (10000);
    fail_unless_equals_uint64 (counter (tx, "zsink", "sent"), 5);
    fail_unless_equals_uint64 (counter (rx, "zsrc", "received"), 5);
    fail_unless_equals_int (gst_element_set_state (tx, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    fail_unless_equals_int (gst_element_set_state (rx, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    base += 5;
  }

  gst_object_unref (tx);
  gst_object_unref (rx);
  g_free (ep);
}

GST_END_TEST;

/* Writes a header the way docs/zmq.md lays it out, independently of the
 * element's own encoder. */
static gsize
doc_header (guint8 * out, guint32 stream_id, guint32 caps_seq,
    guint64 seqnum, guint64 pts, guint32 flags, const gchar * caps)
{
  guint32 caps_len = caps ? strlen (caps) : 0;
  guint64 fields[6] = { seqnum, pts, GST_CLOCK_TIME_NONE, 20 * MS, 7, 8 };

  memcpy (out, "SNZQ", 4);
  out[4] = 1;
  out[5] = 0;
  out[6] = out[7] = 0;
  for (guint b = 0; b < 4; b++) {
    out[8 + b] = (guint8) (stream_id >> (8 * b));
    out[12 + b] = (guint8) (caps_seq >> (8 * b));
    out[64 + b] = (guint8) (flags >> (8 * b));
    out[68 + b] = (guint8) (caps_len >> (8 * b));
  }
  for (guint f = 0; f < 6; f++)
    for (guint b = 0; b < 8; b++)
      out[16 + 8 * f + b] = (guint8) (fields[f] >> (8 * b));
  if (caps_len)
    memcpy (out + 72, caps, caps_len);
  return 72 + caps_len;
}

static void
send_raw (void *sock, const void *a, gsize a_len, const void *b, gsize b_len,
    gboolean two)
{
  fail_unless (zmq_send (sock, a, a_len, two ? ZMQ_SNDMORE : 0) >= 0);
  if (two)
    fail_unless (zmq_send (sock, b, b_len, 0) >= 0);
}

GST_START_TEST (test_wire_format)
{
  gchar *ep = ipc_endpoint ("wire");
  GstElement *rx = pipeline_new (SRC_PIPE, ep, "sender-eos=end");
  void *ctx = zmq_ctx_new ();
  void *sock = zmq_socket (ctx, ZMQ_PUSH);
  guint8 header[256];
  const gchar *caps = "application/x-hand-made,n=(int)3";
  GstSample *sample;
  GstBuffer *buf;
  GstCaps *want;
  gsize len;
  gint zero = 0;

  pipeline_play (rx);
  fail_unless (zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero) == 0);
  fail_unless (zmq_connect (sock, ep) == 0);

  /* Garbage the source must survive and count: one frame; bad magic; a
   * caps length that disagrees with the frame; unknown version; caps that
   * do not parse. */
  send_raw (sock, "x", 1, NULL, 0, FALSE);
  len = doc_header (header, 1, 1, 0, 0, 0, caps);
  header[0] = 'X';
  send_raw (sock, header, len, "p", 1, TRUE);
  len = doc_header (header, 1, 1, 0, 0, 0, caps);
  send_raw (sock, header, len - 1, "p", 1, TRUE);
  len = doc_header (header, 1, 1, 0, 0, 0, caps);
  header[4] = 2;
  send_raw (sock, header, len, "p", 1, TRUE);
  len = doc_header (header, 1, 1, 0, 0, 0, "not caps((");
  send_raw (sock, header, len, "p", 1, TRUE);
  /* valid, but the caps of stream 2 are unknown */
  len = doc_header (header, 2, 1, 0, 0, 0, NULL);
  send_raw (sock, header, len, "p", 1, TRUE);

  /* A well-formed message written from the documentation. */
  len = doc_header (header, 2, 1, 1, 5 * GST_SECOND,
      GST_BUFFER_FLAG_DELTA_UNIT, caps);
  send_raw (sock, header, len, "hello", 5, TRUE);

  sample = pull (rx, WAIT);
  fail_unless (sample != NULL);
  buf = gst_sample_get_buffer (sample);
  want = gst_caps_from_string (caps);
  fail_unless (gst_caps_is_equal (gst_sample_get_caps (sample), want));
  fail_unless_equals_uint64 (GST_BUFFER_PTS (buf), 5 * GST_SECOND);
  fail_unless_equals_uint64 (GST_BUFFER_DTS (buf), GST_CLOCK_TIME_NONE);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (buf), 20 * MS);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET (buf), 7);
  fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (buf), 8);
  fail_unless (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT));
  fail_unless (gst_buffer_memcmp (buf, 0, "hello", 5) == 0);
  fail_unless_equals_uint64 (gst_buffer_get_size (buf), 5);
  gst_sample_unref (sample);
  gst_caps_unref (want);

  fail_unless_equals_uint64 (counter (rx, "zsrc", "dropped-malformed"), 5);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "dropped-no-caps"), 1);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "received"), 1);

  /* The EOS control message ends the stream. */
  len = doc_header (header, 2, 1, 2, 0, 0, NULL);
  header[5] = 1;
  send_raw (sock, header, len, NULL, 0, TRUE);
  fail_unless (wait_eos (rx));

  zmq_close (sock);
  zmq_ctx_term (ctx);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

/* Stopping a source that waits for data must not hang. */
GST_START_TEST (test_idle_stop)
{
  gchar *ep = ipc_endpoint ("idle");
  GstElement *rx = pipeline_new (SRC_PIPE, ep, "receive-timeout=50");
  GstBus *bus = gst_element_get_bus (rx);
  GstMessage *msg;

  pipeline_play (rx);
  /* no sender at all: the source reports the silence */
  msg = gst_bus_timed_pop_filtered (bus, WAIT, GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  fail_unless (gst_message_has_name (msg, "zmqsrc-timeout"));
  gst_message_unref (msg);
  gst_object_unref (bus);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

/* Keeps the last zmqsink-stats structure; runs in the posting thread, so
 * it also sees messages posted while the pipeline shuts down. */
static GstBusSyncReply
keep_stats (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  GstStructure **last = user_data;
  const GstStructure *s = gst_message_get_structure (msg);

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
      && gst_structure_has_name (s, "zmqsink-stats")) {
    g_clear_pointer (last, gst_structure_free);
    *last = gst_structure_copy (s);
  }
  return GST_BUS_PASS;
}

GST_START_TEST (test_stats_message)
{
  gchar *ep = ipc_endpoint ("stats");
  GstElement *tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep,
      "stats-interval=1 forward-eos=false");
  GstBus *bus = gst_element_get_bus (tx);
  GstStructure *last = NULL;
  guint64 sent = 1, dropped = 0;

  gst_bus_set_sync_handler (bus, keep_stats, &last, NULL);
  pipeline_play (tx);
  for (guint i = 0; i < 20; i++)
    push_ref (tx, i);
  end_stream (tx);
  fail_unless (wait_eos (tx));
  /* the last one is posted on stop and has the final counts */
  fail_unless_equals_int (gst_element_set_state (tx, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless (last != NULL);
  fail_unless (gst_structure_get_uint64 (last, "sent", &sent));
  fail_unless (gst_structure_get_uint64 (last, "dropped", &dropped));
  fail_unless_equals_uint64 (sent, 0);
  fail_unless_equals_uint64 (dropped, 20);

  gst_structure_free (last);
  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);
  gst_object_unref (tx);
  g_free (ep);
}

GST_END_TEST;

/* ---- hardening: one sender must not stop the source for the others ---- */

/* Waits until @name of zsrc reaches @want (or 10 s pass); returns it. */
static guint64
wait_counter (GstElement * pipe, const gchar * name, guint64 want)
{
  guint64 v = 0;

  for (guint i = 0; i < 1000 && (v = counter (pipe, "zsrc", name)) < want; i++)
    g_usleep (10000);
  return v;
}

/* No error on @pipe's bus so far. */
static void
assert_no_error (GstElement * pipe)
{
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  if (msg) {
    GError *err = NULL;

    gst_message_parse_error (msg, &err, NULL);
    fail ("error on the bus: %s", err->message);
  }
  gst_object_unref (bus);
}

/* A sender whose caps downstream refuses (accept-caps) is refused alone,
 * counted; a sender with acceptable caps keeps being served. */
GST_START_TEST (test_foreign_caps_per_sender)
{
  gchar *ep = ipc_endpoint ("foreign");
  GstElement *rx = pipeline_new ("zmqsrc name=zsrc endpoint=%s ! "
      "capsfilter caps=application/x-sn-test ! appsink name=out sync=false",
      ep);
  GstElement *good, *bad;

  pipeline_play (rx);
  bad = pipeline_new (SINK_PIPE, "application/x-foreign", ep,
      "drop-policy=block send-timeout=-1 forward-eos=false");
  pipeline_play (bad);
  for (guint i = 0; i < 5; i++)
    push_ref (bad, i);
  fail_unless_equals_uint64 (wait_counter (rx, "dropped-refused", 5), 5);

  good = pipeline_new (SINK_PIPE, TEST_CAPS, ep,
      "drop-policy=block send-timeout=-1 forward-eos=false");
  pipeline_play (good);
  for (guint i = 0; i < 5; i++) {
    push_ref (good, i + 20);
    push_ref (bad, i + 5);
  }
  for (guint i = 0; i < 5; i++) {
    GstSample *sample = pull (rx, WAIT);

    fail_unless (sample != NULL, "buffer %u of the good sender missing", i);
    fail_unless_equals_int (check_ref_buffer (gst_sample_get_buffer (sample),
            FALSE), i + 20);
    gst_sample_unref (sample);
  }
  fail_unless_equals_uint64 (wait_counter (rx, "dropped-refused", 10), 10);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "received"), 5);
  assert_no_error (rx);

  pipeline_free (good);
  pipeline_free (bad);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

/* sender-eos: a binding source serves many senders and by default does
 * not end when one of them ends; sender-eos=end restores that. */
GST_START_TEST (test_sender_eos_policy)
{
  for (gint end = 0; end <= 1; end++) {
    gchar *ep = ipc_endpoint ("seos");
    GstElement *rx = pipeline_new (SRC_PIPE, ep,
        end ? "sender-eos=end" : "");
    GstElement *tx;

    pipeline_play (rx);
    tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep,
        "drop-policy=block send-timeout=-1");
    pipeline_play (tx);
    for (guint i = 0; i < 3; i++)
      push_ref (tx, i + 10);
    end_stream (tx);
    fail_unless (wait_eos (tx));
    for (guint i = 0; i < 3; i++) {
      GstSample *sample = pull (rx, WAIT);

      fail_unless (sample != NULL);
      gst_sample_unref (sample);
    }
    if (end) {
      fail_unless (wait_eos (rx));
    } else {
      GstElement *tx2;

      fail_unless_equals_uint64 (wait_counter (rx, "eos-ignored", 1), 1);
      fail_if (gst_app_sink_is_eos (GST_APP_SINK (by_name (rx, "out"))));
      /* the next sender is still served */
      tx2 = pipeline_new (SINK_PIPE, TEST_CAPS, ep,
          "drop-policy=block send-timeout=-1 forward-eos=false");
      pipeline_play (tx2);
      push_ref (tx2, 30);
      {
        GstSample *sample = pull (rx, WAIT);

        fail_unless (sample != NULL, "a sender after an EOS was not served");
        fail_unless_equals_int (check_ref_buffer (gst_sample_get_buffer
                (sample), FALSE), 30);
        gst_sample_unref (sample);
      }
      pipeline_free (tx2);
    }
    pipeline_free (tx);
    pipeline_free (rx);
    g_free (ep);
  }
}

GST_END_TEST;

/* A peer cycling stream ids must not make a regular sender lose its caps:
 * the least recently heard senders are evicted, one at a time, counted. */
GST_START_TEST (test_sender_table_lru)
{
  gchar *ep = ipc_endpoint ("lru");
  GstElement *rx = pipeline_new (SRC_PIPE, ep, "");
  void *ctx = zmq_ctx_new ();
  void *sock = zmq_socket (ctx, ZMQ_PUSH);
  guint8 header[256];
  const gchar *caps = "application/x-hand-made,n=(int)3";
  guint64 seq = 0, sent = 0;
  gsize len;
  gint zero = 0;

  pipeline_play (rx);
  fail_unless (zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero) == 0);
  fail_unless (zmq_connect (sock, ep) == 0);

  /* the regular sender: caps once, then never again */
  len = doc_header (header, 1, 1, seq++, 0, 0, caps);
  send_raw (sock, header, len, "p", 1, TRUE);
  sent++;
  for (guint32 id = 1000; id < 1300; id++) {
    len = doc_header (header, id, 1, 0, 0, 0, caps);
    send_raw (sock, header, len, "x", 1, TRUE);
    sent++;
    if (id % 10 == 0) {
      len = doc_header (header, 1, 1, seq++, 0, 0, NULL);
      send_raw (sock, header, len, "p", 1, TRUE);
      sent++;
    }
  }
  for (guint64 i = 0; i < sent; i++) {
    GstSample *sample = pull (rx, WAIT);

    fail_unless (sample != NULL, "message %" G_GUINT64_FORMAT " missing", i);
    gst_sample_unref (sample);
  }
  fail_unless_equals_uint64 (counter (rx, "zsrc", "dropped-no-caps"), 0);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "received"), sent);
  /* 301 senders, 256 remembered */
  fail_unless_equals_uint64 (counter (rx, "zsrc", "senders-evicted"),
      301 - 256);

  zmq_close (sock);
  zmq_ctx_term (ctx);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

static glong
max_rss_kb (void)
{
  struct rusage ru;

  fail_unless (getrusage (RUSAGE_SELF, &ru) == 0);
  return ru.ru_maxrss;
}

/* In a child process (its memory is not ours): connects a PUSH socket to
 * @ep and sends @count messages [header, payload of @size bytes], then
 * exits.  The payload is one buffer shared by all messages. */
static pid_t
spawn_sender (const gchar * ep, guint count, gsize size)
{
  pid_t pid = fork ();

  fail_unless (pid >= 0);
  if (pid == 0) {
    void *ctx = zmq_ctx_new ();
    void *sock = zmq_socket (ctx, ZMQ_PUSH);
    guint8 *payload = g_malloc0 (size);
    guint8 header[256];
    gint linger = 3000, hwm = 1000;

    zmq_setsockopt (sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_connect (sock, ep);
    for (guint i = 0; i < count; i++) {
      gsize len = doc_header (header, 77, 1, i, 0, 0,
          "application/x-hand-made,n=(int)3");
      zmq_msg_t msg;

      zmq_send (sock, header, len, ZMQ_SNDMORE);
      zmq_msg_init_data (&msg, payload, size, NULL, NULL);
      zmq_msg_send (&msg, sock, 0);
    }
    g_usleep (2 * G_USEC_PER_SEC);
    zmq_close (sock);
    zmq_ctx_term (ctx);
    _exit (0);
  }
  return pid;
}

/* A 200 MB message is refused by ZeroMQ itself (max-message-size): it
 * never reaches our memory, and the source goes on serving. */
GST_START_TEST (test_max_message_size)
{
  gchar *ep = ipc_endpoint ("maxmsg");
  GstElement *rx = pipeline_new (SRC_PIPE, ep, "");
  glong before;
  pid_t pid;
  gint status;

  pipeline_play (rx);
  g_usleep (100000);
  before = max_rss_kb ();
  pid = spawn_sender (ep, 1, 200 << 20);
  fail_unless (waitpid (pid, &status, 0) == pid);
  fail_unless (pull (rx, 500 * MS) == NULL);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "received"), 0);
  fail_unless (max_rss_kb () - before < 100 * 1024,
      "peak RSS grew by %ld kB for a refused message", max_rss_kb () - before);

  /* a sender of normal size is still served */
  pid = spawn_sender (ep, 1, 1000);
  {
    GstSample *sample = pull (rx, WAIT);

    fail_unless (sample != NULL);
    fail_unless_equals_uint64 (gst_buffer_get_size (gst_sample_get_buffer
            (sample)), 1000);
    gst_sample_unref (sample);
  }
  fail_unless (waitpid (pid, &status, 0) == pid);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

/* A receiver slower than its sender holds at most max-queued-bytes of
 * messages (and the ones in hand), however much the sender sends. */
GST_START_TEST (test_slow_receiver_bounded)
{
  gchar *ep = ipc_endpoint ("slow");
  GstElement *rx = pipeline_new ("zmqsrc name=zsrc endpoint=%s "
      "max-message-size=8388608 max-queued-bytes=33554432 ! "
      "appsink name=out sync=false max-buffers=1 drop=false", ep);
  glong before;
  pid_t pid;
  gint status;

  pipeline_play (rx);
  g_usleep (100000);
  before = max_rss_kb ();
  /* 40 messages of 8 MB - 1 kB: 320 MB if nothing bounded them */
  pid = spawn_sender (ep, 40, (8 << 20) - 1024);
  fail_unless (waitpid (pid, &status, 0) == pid);
  g_print ("slow receiver: peak RSS +%ld kB, received %" G_GUINT64_FORMAT "\n", max_rss_kb () - before, counter (rx, "zsrc", "received"));
  fail_unless (max_rss_kb () - before < 150 * 1024,
      "peak RSS grew by %ld kB with a stalled receiver",
      max_rss_kb () - before);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

/* With acks, every message the sink handed to ZeroMQ ends in exactly one
 * counter, also across a receiver that goes away with messages in its
 * queue and comes back: the receivers' own counts (the oracle) lie
 * between what was acknowledged and what was not known lost. */
GST_START_TEST (test_accounting_restart)
{
  gchar *ep = ipc_endpoint ("acct"), *ack = ipc_endpoint ("acct-ack");
  gchar *opt_rx = g_strdup_printf ("ack-endpoint=%s", ack);
  gchar *opt_tx = g_strdup_printf ("ack-endpoint=%s caps-interval=50", ack);
  GstElement *rx = pipeline_new (SRC_PIPE, ep, opt_rx), *tx;
  guint64 r1, r2, sent, dropped, acks, lost, discarded, busy;
  guint next = 0;

  pipeline_play (rx);
  tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep, opt_tx);
  pipeline_play (tx);
  fail_unless (push_until_received (tx, rx, &next, 10) >= 10);
  /* some more, left in the receiver's queue when it goes */
  for (guint i = 0; i < 5; i++)
    push_ref (tx, next++);
  fail_unless_equals_int (gst_element_set_state (rx, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  /* read and acknowledged, but still queued when it stopped: arrived */
  r1 = counter (rx, "zsrc", "received")
      + counter (rx, "zsrc", "discarded-at-stop");
  gst_object_unref (rx);
  for (guint i = 0; i < 10; i++)
    push_ref (tx, next++);

  rx = pipeline_new (SRC_PIPE, ep, opt_rx);
  pipeline_play (rx);
  fail_unless (push_until_received (tx, rx, &next, 10) >= 10);
  end_stream (tx);
  fail_unless (wait_eos (tx));
  fail_unless_equals_int (gst_element_set_state (tx, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  g_object_get (by_name (tx, "zsink"), "sent", &sent, "dropped", &dropped,
      "acks", &acks, "lost", &lost, "discarded-at-stop", &discarded,
      "receiver-dropped", &busy, NULL);
  fail_unless_equals_int (gst_element_set_state (rx, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  r2 = counter (rx, "zsrc", "received")
      + counter (rx, "zsrc", "discarded-at-stop");
  g_print ("accounting: %u pushed: %" G_GUINT64_FORMAT " sent, %"
      G_GUINT64_FORMAT " dropped; %" G_GUINT64_FORMAT " acknowledged, %"
      G_GUINT64_FORMAT " lost, %" G_GUINT64_FORMAT " discarded at stop; "
      "receivers got %" G_GUINT64_FORMAT " + %" G_GUINT64_FORMAT "\n", next,
      sent, dropped, acks, lost, discarded, r1, r2);

  fail_unless_equals_uint64 (sent + dropped, next);
  /* appsink never blocks here: nothing dropped for a full queue */
  fail_unless_equals_uint64 (busy, 0);
  fail_unless_equals_uint64 (acks + lost + discarded, sent);
  fail_unless (acks <= r1 + r2, "%" G_GUINT64_FORMAT " acknowledged, %"
      G_GUINT64_FORMAT " received", acks, r1 + r2);
  fail_unless (r1 + r2 <= sent);

  gst_object_unref (rx);
  gst_object_unref (tx);
  g_free (opt_rx);
  g_free (opt_tx);
  g_free (ack);
  g_free (ep);
}

GST_END_TEST;

/* With acks and max-lag, a receiver that stops reading (paused here; a
 * stalled connection or a hung receiver alike) leaves what was sent
 * unacknowledged: max-lag drops every buffer behind it.  After 5 s with no
 * ack at all the sink gives those up, says so (zmqsink-link-silent) and
 * sends again to probe the link, so it delivers again as soon as the
 * receiver reads (issue 20: a sender must never settle on delivering
 * nothing). */
GST_START_TEST (test_link_silent_recovers)
{
  gchar *ep = ipc_endpoint ("silent"), *ack = ipc_endpoint ("silent-ack");
  /* queue-full=block, one buffer: a paused receiver stops reading, as a
   * hung one would (the default, drop, keeps reading and acknowledging) */
  gchar *opt_rx = g_strdup_printf ("ack-endpoint=%s queue-full=block "
      "max-buffers=1", ack);
  gchar *opt_tx = g_strdup_printf ("ack-endpoint=%s caps-interval=50 "
      "max-lag=150", ack);
  GstElement *rx = pipeline_new (SRC_PIPE, ep, opt_rx), *tx;
  GstBus *bus;
  GstMessage *msg = NULL;
  guint next = 0;
  guint64 given_up = 0, lag;
  gint64 gone, told = 0;

  pipeline_play (rx);
  tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep, opt_tx);
  pipeline_play (tx);
  bus = gst_element_get_bus (tx);
  fail_unless (push_until_received (tx, rx, &next, 10) >= 10);
  /* The receiver stops reading (its streaming thread blocks in the paused
   * appsink after one buffer); what comes now waits in its queue. */
  fail_if (gst_element_set_state (rx, GST_STATE_PAUSED) ==
      GST_STATE_CHANGE_FAILURE);
  gone = g_get_monotonic_time ();
  while (told == 0 && g_get_monotonic_time () - gone < 8 * G_USEC_PER_SEC) {
    push_ref (tx, next++);
    g_usleep (100 * 1000);
    while (told == 0 && (msg = gst_bus_pop_filtered (bus,
                GST_MESSAGE_ELEMENT))) {
      const GstStructure *st = gst_message_get_structure (msg);

      if (gst_structure_has_name (st, "zmqsink-link-silent")) {
        told = g_get_monotonic_time ();
        fail_unless (gst_structure_get_uint64 (st, "given-up", &given_up));
      }
      gst_message_unref (msg);
    }
  }
  fail_unless (told > 0, "no zmqsink-link-silent within 8 s of silence");
  /* Not before 5 s of silence; the messages left in the queue given up. */
  fail_unless (told - gone >= 5 * G_USEC_PER_SEC - 200 * 1000);
  fail_unless (given_up >= 1);
  g_object_get (by_name (tx, "zsink"), "dropped-lag", &lag, NULL);
  fail_unless (lag > 0);

  /* The receiver reads again: buffers go through. */
  pipeline_play (rx);
  fail_unless (push_until_received (tx, rx, &next, 10) >= 10);

  end_stream (tx);
  fail_unless (wait_eos (tx));
  pipeline_free (tx);
  pipeline_free (rx);
  gst_object_unref (bus);
  g_free (opt_rx);
  g_free (opt_tx);
  g_free (ack);
  g_free (ep);
}

GST_END_TEST;

/* curve-allowed-keys: only enrolled cameras (their public key on the
 * server's list) may send; the list is read again when it changes. */
static void
write_allow_list (const gchar * path, const gchar * key_a, const gchar * key_b)
{
  gchar *text = g_strdup_printf ("# enrolled cameras\n%s\n%s%s", key_a,
      key_b ? key_b : "", key_b ? "\n" : "");

  fail_unless (g_file_set_contents (path, text, -1, NULL));
  g_free (text);
}

GST_START_TEST (test_curve_allow_list)
{
  gchar srv_pub[41], srv_sec[41], a_pub[41], a_sec[41], b_pub[41], b_sec[41];
  gchar *ep = tcp_endpoint ();
  gchar *list = g_strdup_printf ("/tmp/sn-zmq-test-%d-allowed", (gint) getpid ());
  gchar *rx_opts, *a_opts, *b_opts;
  GstElement *rx, *tx_a, *tx_b;
  guint next_a = 0, next_b = 1000;
  guint64 refused;

  fail_unless (zmq_curve_keypair (srv_pub, srv_sec) == 0);
  fail_unless (zmq_curve_keypair (a_pub, a_sec) == 0);
  fail_unless (zmq_curve_keypair (b_pub, b_sec) == 0);
  write_allow_list (list, a_pub, NULL);

  rx_opts = g_strdup_printf ("curve-secret-key=\"%s\" curve-allowed-keys=%s",
      srv_sec, list);
  rx = pipeline_new (SRC_PIPE, ep, rx_opts);
  pipeline_play (rx);
  a_opts = g_strdup_printf ("curve-server-key=\"%s\" curve-secret-key=\"%s\" "
      "caps-interval=50 reconnect-ivl=20", srv_pub, a_sec);
  b_opts = g_strdup_printf ("curve-server-key=\"%s\" curve-secret-key=\"%s\" "
      "caps-interval=50 reconnect-ivl=20", srv_pub, b_sec);
  tx_a = pipeline_new (SINK_PIPE, TEST_CAPS, ep, a_opts);
  tx_b = pipeline_new (SINK_PIPE, TEST_CAPS, ep, b_opts);
  pipeline_play (tx_a);
  pipeline_play (tx_b);

  /* enrolled: served */
  fail_unless (push_until_received (tx_a, rx, &next_a, 5) >= 5);
  /* not enrolled: never delivered, refused at the handshake */
  for (guint i = 0; i < 30; i++) {
    push_ref (tx_b, next_b++);
    g_usleep (10000);
  }
  fail_unless (pull (rx, 200 * MS) == NULL, "an unenrolled client got through");
  fail_unless_equals_uint64 (counter (tx_b, "zsink", "sent"), 0);
  g_object_get (by_name (rx, "zsrc"), "clients-refused", &refused, NULL);
  fail_unless (refused >= 1);

  /* enrolled now: the list is read again (a later mtime, a new size), no
   * server restart.  ZeroMQ does not retry a handshake the server refused,
   * so the camera starts again, as an enrolled one would. */
  write_allow_list (list, a_pub, b_pub);
  pipeline_free (tx_b);
  tx_b = pipeline_new (SINK_PIPE, TEST_CAPS, ep, b_opts);
  pipeline_play (tx_b);
  fail_unless (push_until_received (tx_b, rx, &next_b, 3) >= 3,
      "the reloaded list did not let the newly enrolled client in");

  pipeline_free (tx_a);
  pipeline_free (tx_b);
  pipeline_free (rx);
  g_unlink (list);
  g_free (list);
  g_free (rx_opts);
  g_free (a_opts);
  g_free (b_opts);
  g_free (ep);
}

GST_END_TEST;

/* max-errors, the same on both elements: more than that many failures in
 * a row (buffers no peer took; malformed messages) are an element error,
 * fewer only warnings. */
static gboolean
wait_error (GstElement * pipe, GstClockTime timeout)
{
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, timeout,
      GST_MESSAGE_ERROR);

  gst_object_unref (bus);
  if (msg)
    gst_message_unref (msg);
  return msg != NULL;
}

GST_START_TEST (test_max_errors)
{
  gchar *ep = ipc_endpoint ("maxerr");
  GstElement *tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep,
      "max-errors=3 forward-eos=false");
  GstElement *rx = pipeline_new (SRC_PIPE, ep, "max-errors=2");
  void *ctx = zmq_ctx_new ();
  void *sock = zmq_socket (ctx, ZMQ_PUSH);
  guint8 header[256];
  gsize len;
  gint zero = 0;

  /* nobody listens: 3 drops are warnings, the 4th an error */
  pipeline_play (tx);
  for (guint i = 0; i < 3; i++)
    push_ref (tx, i);
  fail_if (wait_error (tx, 300 * MS), "an error after 3 drops, max-errors=3");
  push_ref (tx, 3);
  fail_unless (wait_error (tx, WAIT), "no error after 4 drops in a row");
  pipeline_free (tx);

  pipeline_play (rx);
  fail_unless (zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero) == 0);
  fail_unless (zmq_connect (sock, ep) == 0);
  /* bad, bad, good: the run is broken */
  send_raw (sock, "x", 1, NULL, 0, FALSE);
  send_raw (sock, "x", 1, NULL, 0, FALSE);
  len = doc_header (header, 5, 1, 0, 0, 0, "application/x-hand-made");
  send_raw (sock, header, len, "p", 1, TRUE);
  {
    GstSample *sample = pull (rx, WAIT);

    fail_unless (sample != NULL);
    gst_sample_unref (sample);
  }
  fail_if (wait_error (rx, 100 * MS));
  for (guint i = 0; i < 3; i++)
    send_raw (sock, "x", 1, NULL, 0, FALSE);
  fail_unless (wait_error (rx, WAIT), "no error after 3 bad messages in a row");

  zmq_close (sock);
  zmq_ctx_term (ctx);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

/* zmqsink's byte budget: behind a stalled receiver, ZeroMQ holds at most
 * max-queued-bytes of payload for it; what would go over is dropped and
 * counted, every buffer in exactly one of sent and dropped. */
GST_START_TEST (test_sink_byte_budget)
{
  gchar *ep = ipc_endpoint ("budget");
  GstElement *rx = pipeline_new ("zmqsrc name=zsrc endpoint=%s "
      "max-message-size=2097152 max-queued-bytes=4194304 ! "
      "appsink name=out sync=false max-buffers=1 drop=false", ep);
  GstElement *tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep,
      "max-queued-bytes=8388608 hwm=1000 forward-eos=false linger=0");
  const guint n = 60;
  guint64 sent, dropped, budget;

  pipeline_play (rx);
  pipeline_play (tx);
  g_usleep (200000);            /* connected: drops are the budget's */
  for (guint i = 0; i < n; i++) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 1 << 20, NULL);

    gst_buffer_memset (buf, 0, (guint8) i, 1 << 20);
    push (tx, buf);
  }
  end_stream (tx);
  fail_unless (wait_eos (tx));
  g_object_get (by_name (tx, "zsink"), "sent", &sent, "dropped", &dropped,
      "dropped-budget", &budget, NULL);
  g_print ("byte budget: %" G_GUINT64_FORMAT " sent, %" G_GUINT64_FORMAT
      " dropped (%" G_GUINT64_FORMAT " for the budget)\n", sent, dropped,
      budget);
  fail_unless_equals_uint64 (sent + dropped, n);
  fail_unless (budget > 0, "a stalled receiver never made the sink drop");
  /* at most the budget (8) + what left for the receiver (its queue of 2,
   * the one in hand, the kernel's socket buffer) */
  fail_unless (sent <= 8 + 8, "%" G_GUINT64_FORMAT " MB handed to ZeroMQ",
      sent);

  pipeline_free (tx);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

/* ---- a pool of workers (issue 19, docs/workers.md) ---------------------- */

#define N_RX 3
#define N_TX 6

typedef struct
{
  gchar *ep[N_RX], *ack[N_RX];
  GstElement *rx[N_RX], *tx[N_TX];
  guint next[N_TX];             /* next reference index of each stream */
  guint64 pushed[N_TX];
  /* received by a receiver: the counts of the instances already stopped */
  guint64 rx_done;
  /* at the end of the warm-up, whose first acks may be lost while the ack
   * subscriptions form (docs/zmq.md): acknowledged, lost, arrived */
  guint64 base_acks, base_lost, base_arrived;
  /* got[k][r]: buffers of stream k pulled from receiver r in this phase */
  guint got[N_TX][N_RX];
  guint64 replied[N_TX];        /* replies the receivers sent to stream k */
  gint refreshes[N_TX];         /* splitnn-refresh events upstream of sink k */
} Pool;

/* Counts the refresh requests a sink sends upstream when its stream moves
 * (not those after a drop, which count_drop_refresh checks). */
static GstPadProbeReturn
count_refresh (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  const GstStructure *s = gst_event_get_structure (GST_PAD_PROBE_INFO_EVENT
      (info));

  if (s && gst_structure_has_name (s, "splitnn-refresh")
      && !g_strcmp0 (gst_structure_get_string (s, "reason"), "worker-moved"))
    g_atomic_int_inc ((gint *) data);
  return GST_PAD_PROBE_OK;
}

static GstElement *
pool_rx_new (Pool * p, guint r)
{
  /* A stalled worker stops reading within a few frames, as a hung one
   * would (queue-full=block, a small queue); with the default, drop, it
   * would go on reading and acknowledging its drops as "dropped", which
   * does not count as alive either, but a loaded machine could then make
   * a live worker drop too. */
  gchar *opts = g_strdup_printf ("ack-endpoint=%s queue-full=block "
      "max-buffers=4", p->ack[r]);
  GstElement *rx = pipeline_new (SRC_PIPE, p->ep[r], opts);

  g_free (opts);
  pipeline_play (rx);
  return rx;
}

static void
pool_open (Pool * p)
{
  GString *workers = g_string_new (NULL), *acks = g_string_new (NULL);

  memset (p, 0, sizeof *p);
  for (guint r = 0; r < N_RX; r++) {
    p->ep[r] = ipc_endpoint ("worker");
    p->ack[r] = ipc_endpoint ("worker-ack");
    g_string_append_printf (workers, "%s%s", r ? "," : "", p->ep[r]);
    g_string_append_printf (acks, "%s%s", r ? "," : "", p->ack[r]);
    p->rx[r] = pool_rx_new (p, r);
  }
  for (guint k = 0; k < N_TX; k++) {
    gchar *opts = g_strdup_printf ("workers=\"%s\" ack-endpoint=\"%s\" "
        "worker-timeout=300 caps-interval=50 reconnect-ivl=20",
        workers->str, acks->str);

    /* endpoint is ignored with workers */
    p->tx[k] = pipeline_new (SINK_PIPE, TEST_CAPS, "ipc:///nowhere", opts);
    {
      GstPad *pad = gst_element_get_static_pad (by_name (p->tx[k], "in"),
          "src");

      gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
          count_refresh, &p->refreshes[k], NULL);
      gst_object_unref (pad);
    }
    pipeline_play (p->tx[k]);
    p->next[k] = k * 10000;
    g_free (opts);
  }
  g_string_free (workers, TRUE);
  g_string_free (acks, TRUE);
}

/* One buffer from every stream, then what arrived, by stream and worker. */
static void
pool_round (Pool * p)
{
  for (guint k = 0; k < N_TX; k++) {
    push_ref (p->tx[k], p->next[k]++);
    p->pushed[k]++;
  }
  g_usleep (25000);
  for (guint r = 0; r < N_RX; r++) {
    GstSample *sample;

    while ((sample = pull (p->rx[r], 0))) {
      guint i = check_ref_buffer (gst_sample_get_buffer (sample), FALSE);

      p->got[i / 10000][r]++;
      /* answered like splitnncloud answers: back to the sender, whichever
       * worker it is on */
      reply_to (p->rx[r], gst_sample_get_buffer (sample), (gint) r);
      p->replied[i / 10000]++;
      gst_sample_unref (sample);
    }
  }
}

static void
pool_reset_counts (Pool * p)
{
  memset (p->got, 0, sizeof p->got);
}

/* The receiver the stream's sink names as its worker now, -1: none. */
static gint
pool_worker_of (Pool * p, guint k)
{
  gchar *name = NULL;
  gint which = -1;

  g_object_get (by_name (p->tx[k], "zsink"), "worker", &name, NULL);
  for (guint r = 0; name && r < N_RX; r++)
    if (strcmp (name, p->ep[r]) == 0)
      which = r;
  g_free (name);
  return which;
}

/* Each stream's buffers of this phase all reached one receiver, the one its
 * sink names; returns how many streams that receiver serves. */
static void
pool_check_affinity (Pool * p, guint min_each)
{
  for (guint k = 0; k < N_TX; k++) {
    gint w = pool_worker_of (p, k);

    fail_unless (w >= 0);
    for (guint r = 0; r < N_RX; r++)
      if ((gint) r == w)
        fail_unless (p->got[k][r] >= min_each, "stream %u: %u on its worker "
            "%u", k, p->got[k][r], r);
      else
        fail_unless_equals_int (p->got[k][r], 0);
  }
}

static guint64
rx_arrived (GstElement * rx)
{
  /* acknowledged on arrival: pushed, dropped before its caps came, or
   * still in its queue when it stopped */
  return counter (rx, "zsrc", "received")
      + counter (rx, "zsrc", "dropped-no-caps")
      + counter (rx, "zsrc", "discarded-at-stop");
}

static void
pool_warm_up (Pool * p)
{
  /* until every stream got through (connections forming drop buffers) */
  for (guint tries = 0; tries < 200; tries++) {
    gboolean all = TRUE;

    pool_round (p);
    for (guint k = 0; k < N_TX; k++)
      all &= p->got[k][0] + p->got[k][1] + p->got[k][2] > 0;
    if (all)
      break;
  }
  g_usleep (200000);            /* the last acks come back */
  for (guint k = 0; k < N_TX; k++) {
    p->base_acks += counter (p->tx[k], "zsink", "acks");
    p->base_lost += counter (p->tx[k], "zsink", "lost");
  }
  for (guint r = 0; r < N_RX; r++)
    p->base_arrived += rx_arrived (p->rx[r]);
  g_print ("workers: warm-up: %" G_GUINT64_FORMAT " acknowledged, %"
      G_GUINT64_FORMAT " lost, %" G_GUINT64_FORMAT " arrived\n",
      p->base_acks, p->base_lost, p->base_arrived);
  pool_reset_counts (p);
}

/* Stops everything; checks every buffer ended in one counter and that
 * what the senders count acknowledged is what the receivers got. */
static void
pool_close_and_account (Pool * p, guint64 * lost_total)
{
  guint64 acks_total = 0, arrived = p->rx_done;

  *lost_total = 0;
  g_usleep (200000);            /* the last replies come back */
  for (guint k = 0; k < N_TX; k++) {
    guint64 replies = counter (p->tx[k], "zsink", "replies");

    /* Detections come back to each edge from whichever worker served it;
     * a reply, like an ack, can be lost while the sender's subscription to
     * a restarted worker forms. */
    g_print ("workers: stream %u: %" G_GUINT64_FORMAT " replies of %"
        G_GUINT64_FORMAT "\n", k, replies, p->replied[k]);
    fail_unless (replies <= p->replied[k] && replies + 2 >= p->replied[k]);
  }
  for (guint k = 0; k < N_TX; k++) {
    guint64 sent, dropped, acks, lost, discarded, busy;

    fail_unless_equals_int (gst_element_set_state (p->tx[k], GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    g_object_get (by_name (p->tx[k], "zsink"), "sent", &sent, "dropped",
        &dropped, "acks", &acks, "lost", &lost, "discarded-at-stop",
        &discarded, "receiver-dropped", &busy, NULL);
    g_print ("workers: stream %u: %" G_GUINT64_FORMAT " pushed, %"
        G_GUINT64_FORMAT " sent, %" G_GUINT64_FORMAT " dropped, %"
        G_GUINT64_FORMAT " acknowledged, %" G_GUINT64_FORMAT " lost, %"
        G_GUINT64_FORMAT " discarded, %" G_GUINT64_FORMAT " dropped by a "
        "full worker\n", k, p->pushed[k], sent, dropped, acks, lost,
        discarded, busy);
    fail_unless_equals_uint64 (sent + dropped, p->pushed[k]);
    fail_unless_equals_uint64 (acks + busy + lost + discarded, sent);
    acks_total += acks;
    /* not delivered, whatever the reason */
    *lost_total += lost + discarded + busy;
    gst_object_unref (p->tx[k]);
  }
  for (guint r = 0; r < N_RX; r++) {
    fail_unless_equals_int (gst_element_set_state (p->rx[r], GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    arrived += rx_arrived (p->rx[r]);
    gst_object_unref (p->rx[r]);
    g_free (p->ep[r]);
    g_free (p->ack[r]);
  }
  /* After the warm-up: every buffer a worker got and acknowledged is
   * counted acknowledged, every one it did not get is counted lost; an
   * acknowledgement itself can be lost while a sender's ack subscription
   * to a (re)started worker forms (docs/zmq.md), so what arrived lies
   * between the two. */
  *lost_total -= p->base_lost;
  g_print ("workers: after the warm-up %" G_GUINT64_FORMAT " acknowledged, %"
      G_GUINT64_FORMAT " lost, %" G_GUINT64_FORMAT " arrived\n",
      acks_total - p->base_acks, *lost_total, arrived - p->base_arrived);
  fail_unless (acks_total - p->base_acks <= arrived - p->base_arrived);
  fail_unless (arrived - p->base_arrived
      <= acks_total - p->base_acks + *lost_total);
}

GST_START_TEST (test_workers_affinity)
{
  Pool p;
  guint64 lost;
  guint served[N_RX] = { 0 };

  pool_open (&p);
  pool_warm_up (&p);
  for (guint i = 0; i < 20; i++)
    pool_round (&p);
  pool_check_affinity (&p, 18);
  for (guint k = 0; k < N_TX; k++) {
    fail_unless_equals_uint64 (counter (p.tx[k], "zsink", "worker-moves"), 0);
    served[pool_worker_of (&p, k)]++;
  }
  g_print ("workers: streams per worker %u %u %u\n", served[0], served[1],
      served[2]);
  pool_close_and_account (&p, &lost);
}

GST_END_TEST;

/* A worker stops acknowledging (paused: its queue fills, nothing is read):
 * after worker-timeout its streams move to the others and the frames it
 * held are counted lost; a new worker at its address takes them back. */
GST_START_TEST (test_workers_failover_rejoin)
{
  Pool p;
  guint64 lost;
  gint victim, before[N_TX];
  guint moved = 0;

  pool_open (&p);
  pool_warm_up (&p);
  for (guint k = 0; k < N_TX; k++)
    before[k] = pool_worker_of (&p, k);
  victim = before[0];
  fail_unless (gst_element_set_state (p.rx[victim], GST_STATE_PAUSED)
      != GST_STATE_CHANGE_FAILURE);

  /* 1.25 s at 40 frames/s each: the 300 ms timeout passes well inside */
  for (guint i = 0; i < 50; i++)
    pool_round (&p);
  for (guint k = 0; k < N_TX; k++) {
    gint now = pool_worker_of (&p, k);
    guint64 moves = counter (p.tx[k], "zsink", "worker-moves");

    if (before[k] == victim) {
      fail_unless (now >= 0 && now != victim, "stream %u still on %d", k, now);
      fail_unless_equals_uint64 (moves, 1);
      /* delivered by its new worker since */
      fail_unless (p.got[k][now] >= 30, "stream %u: %u after the move", k,
          p.got[k][now]);
      moved++;
    } else {
      fail_unless_equals_int (now, before[k]);
      fail_unless_equals_uint64 (moves, 0);
    }
  }
  fail_unless (moved >= 1);

  /* The stalled worker goes; what it held never arrives. */
  fail_unless_equals_int (gst_element_set_state (p.rx[victim],
          GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  p.rx_done += rx_arrived (p.rx[victim]);
  gst_object_unref (p.rx[victim]);
  /* ... and a new one at its address rejoins: probed, answers, takes its
   * streams back without the senders restarting. */
  p.rx[victim] = pool_rx_new (&p, victim);
  for (guint i = 0; i < 40; i++)
    pool_round (&p);
  pool_reset_counts (&p);
  for (guint i = 0; i < 20; i++)
    pool_round (&p);
  pool_check_affinity (&p, 18);
  for (guint k = 0; k < N_TX; k++) {
    fail_unless_equals_int (pool_worker_of (&p, k), before[k]);
    fail_unless_equals_uint64 (counter (p.tx[k], "zsink", "worker-moves"),
        before[k] == victim ? 2 : 0);
    /* each move asked upstream for a refresh (an intra frame) */
    fail_unless_equals_int (g_atomic_int_get (&p.refreshes[k]),
        before[k] == victim ? 2 : 0);
  }
  pool_close_and_account (&p, &lost);
  /* the stalled worker held at least the frames of the timeout */
  fail_unless (lost >= 1);
}

GST_END_TEST;

/* Aggregate figures of a receiver serving several senders (the cloud side
 * of a pool): streams, frames/s, and per stream frames and lag, as a
 * message, properties and one JSON line. */
GST_START_TEST (test_src_stream_stats)
{
  gchar *ep = ipc_endpoint ("agg");
  GstElement *rx = pipeline_new (SRC_PIPE, ep, "stats-interval=100");
  GstElement *tx[2];
  guint next[2] = { 0, 10000 }, got = 0;
  guint n_streams = 0;
  gdouble fps = -1;
  gchar *json = NULL;
  GstBus *bus;
  GstMessage *msg;
  gboolean seen_message = FALSE;

  pipeline_play (rx);
  for (guint k = 0; k < 2; k++) {
    tx[k] = pipeline_new (SINK_PIPE, TEST_CAPS, ep, "caps-interval=50");
    pipeline_play (tx[k]);
  }
  /* both through, then 20 more each over about 0.5 s */
  fail_unless (push_until_received (tx[0], rx, &next[0], 1) >= 1);
  fail_unless (push_until_received (tx[1], rx, &next[1], 1) >= 1);
  for (guint i = 0; i < 20; i++) {
    GstSample *sample;

    push_ref (tx[0], next[0]++);
    push_ref (tx[1], next[1]++);
    g_usleep (25000);
    while ((sample = pull (rx, 0))) {
      gst_sample_unref (sample);
      got++;
    }
  }
  fail_unless (got >= 36, "%u of 40", got);
  g_usleep (150000);
  push_ref (tx[0], next[0]++);  /* a buffer after the interval: a message */
  gst_sample_unref (pull (rx, WAIT));
  g_object_get (by_name (rx, "zsrc"), "streams", &n_streams,
      "frames-per-second", &fps, "stream-stats", &json, NULL);
  fail_unless_equals_int (n_streams, 2);
  /* 40 buffers in about 0.6 s: tens per second, not zero, not thousands */
  fail_unless (fps > 5 && fps < 1000, "%f frames/s", fps);
  fail_unless (json != NULL && g_str_has_prefix (json, "{\"element\": \"zsrc\""),
      "%s", json);
  fail_unless (strstr (json, "\"streams\": 2") != NULL, "%s", json);
  fail_unless (strstr (json, "\"lag_ms\": ") != NULL, "%s", json);
  fail_unless (strstr (json, "\"gaps\": 0") != NULL, "%s", json);

  bus = gst_element_get_bus (rx);
  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    const GstStructure *st = gst_message_get_structure (msg);

    if (gst_structure_has_name (st, "zmqsrc-streams")) {
      guint n;

      fail_unless (gst_structure_get_uint (st, "streams", &n));
      fail_unless (n <= 2);
      fail_unless (gst_structure_has_field (st, "bytes-per-second"));
      seen_message = TRUE;
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
  fail_unless (seen_message);

  g_free (json);
  pipeline_free (tx[0]);
  pipeline_free (tx[1]);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

/* A sink with workers stops and starts again (PAUSED -> READY -> PLAYING)
 * and sends again: the pool is opened anew. */
GST_START_TEST (test_workers_restart)
{
  gchar *ep = ipc_endpoint ("wrestart"), *ack = ipc_endpoint ("wrestart-ack");
  gchar *rx_opts = g_strdup_printf ("ack-endpoint=%s", ack);
  gchar *tx_opts = g_strdup_printf ("workers=%s ack-endpoint=%s caps-interval=50",
      ep, ack);
  GstElement *rx = pipeline_new (SRC_PIPE, ep, rx_opts), *tx;
  guint next = 0;
  gchar *worker = NULL;

  pipeline_play (rx);
  tx = pipeline_new (SINK_PIPE, TEST_CAPS, "ipc:///nowhere", tx_opts);
  pipeline_play (tx);
  fail_unless (push_until_received (tx, rx, &next, 3) >= 3);
  fail_unless_equals_int (gst_element_set_state (tx, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);
  pipeline_play (tx);
  fail_unless (push_until_received (tx, rx, &next, 3) >= 3);
  g_object_get (by_name (tx, "zsink"), "worker", &worker, NULL);
  fail_unless_equals_string (worker, ep);
  g_free (worker);
  pipeline_free (tx);
  pipeline_free (rx);
  g_free (rx_opts);
  g_free (tx_opts);
  g_free (ack);
  g_free (ep);
}

GST_END_TEST;

/* ---- issue 20: ends of senders and a busy receiver --------------------- */

/* Keeps copies of zmqsrc-sender-ended messages (posted from the reader's
 * or the streaming thread; a sync handler sees them all). */
typedef struct
{
  GMutex lock;
  GPtrArray *ended;             /* of GstStructure */
} EndedLog;

static GstBusSyncReply
keep_ended (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  EndedLog *log = user_data;
  const GstStructure *s = gst_message_get_structure (msg);

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
      && gst_structure_has_name (s, "zmqsrc-sender-ended")) {
    g_mutex_lock (&log->lock);
    g_ptr_array_add (log->ended, gst_structure_copy (s));
    g_mutex_unlock (&log->lock);
  }
  return GST_BUS_PASS;
}

static void
ended_log_watch (EndedLog * log, GstElement * pipe)
{
  GstBus *bus = gst_element_get_bus (pipe);

  g_mutex_init (&log->lock);
  log->ended = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_structure_free);
  gst_bus_set_sync_handler (bus, keep_ended, log, NULL);
  gst_object_unref (bus);
}

static guint
ended_log_count (EndedLog * log)
{
  guint n;

  g_mutex_lock (&log->lock);
  n = log->ended->len;
  g_mutex_unlock (&log->lock);
  return n;
}

static void
ended_log_free (EndedLog * log, GstElement * pipe)
{
  GstBus *bus = gst_element_get_bus (pipe);

  gst_bus_set_sync_handler (bus, NULL, NULL, NULL);
  gst_object_unref (bus);
  g_ptr_array_unref (log->ended);
  g_mutex_clear (&log->lock);
}

/* Pulls until EOS (or @timeout_s pass); returns the buffers pulled. */
static guint
drain_to_eos (GstElement * rx, gint timeout_s, gboolean * eos)
{
  GstAppSink *out = GST_APP_SINK (by_name (rx, "out"));
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  guint n = 0;

  *eos = FALSE;
  while (g_get_monotonic_time () < deadline) {
    GstSample *sample = gst_app_sink_try_pull_sample (out, 100 * MS);

    if (sample) {
      gst_sample_unref (sample);
      n++;
    } else if (gst_app_sink_is_eos (out)) {
      *eos = TRUE;
      break;
    }
  }
  return n;
}

/* A receiver that cannot take the last messages (its downstream stalled,
 * queue-full=block: it stops reading) while the sender stops: the sender's
 * linger runs out with messages queued, the EOS among them (counted
 * discarded at stop).  Its goodbye, on a connection of its own, still
 * reaches the receiver, which ends the stream once what was on its way has
 * come, and says how many messages never arrived.  Both sides' counts add
 * up: sent = acks + lost + discarded at stop on the sender; received +
 * missing = sent on the receiver (every sequence number accounted for).
 * Before the goodbye, the receiver waited for the EOS for ever. */
GST_START_TEST (test_eos_discarded_goodbye)
{
  for (gint t = 0; t < 2; t++) {
    gchar *ep = t ? tcp_endpoint () : ipc_endpoint ("bye");
    gchar *ack = t ? tcp_endpoint () : ipc_endpoint ("bye-ack");
    gchar *opt_rx = g_strdup_printf ("ack-endpoint=%s sender-eos=end "
        "queue-full=block max-buffers=2 hwm=2", ack);
    /* block: nothing is dropped at the sender, so every sequence number
     * is the receiver's to account for */
    gchar *opt_tx = g_strdup_printf ("ack-endpoint=%s linger=500 hwm=1000 "
        "drop-policy=block send-timeout=-1", ack);
    GstElement *rx = pipeline_new ("zmqsrc name=zsrc endpoint=%s %s ! "
        "appsink name=out sync=false max-buffers=1 drop=false", ep, opt_rx);
    GstElement *tx;
    guint64 sent, dropped, acks, lost, discarded, busy, received, missing = 0,
        frames = 0;
    const guint n = 40;
    guint warm;
    const gchar *reason = NULL;
    gboolean eos;
    EndedLog log;
    gint64 t0;
    guint pulled;

    ended_log_watch (&log, rx);
    pipeline_play (rx);
    tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep, opt_tx);
    pipeline_play (tx);
    /* small buffers through until one is acknowledged: the ack channel is
     * up (an ack sent before the sender's subscription formed is lost) */
    for (warm = 0; warm < 50 && counter (tx, "zsink", "acks") < 1;) {
      GstSample *sample;

      push_ref (tx, 3);
      warm++;
      sample = pull (rx, WAIT);
      fail_unless (sample != NULL);
      gst_sample_unref (sample);
      for (guint i = 0; i < 20 && counter (tx, "zsink", "acks") < 1; i++)
        g_usleep (10000);
    }
    fail_unless_equals_uint64 (counter (tx, "zsink", "acks"), 1);
    /* 40 MB: far more than the kernel's socket buffers and the
     * receiver's queues hold */
    for (guint i = 1; i < n; i++) {
      GstBuffer *buf = gst_buffer_new_allocate (NULL, 1 << 20, NULL);

      gst_buffer_memset (buf, 0, i, 1 << 20);
      GST_BUFFER_PTS (buf) = i * 20 * MS;
      push (tx, buf);
    }
    end_stream (tx);
    fail_unless (wait_eos (tx));
    fail_unless_equals_int (gst_element_set_state (tx, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    g_object_get (by_name (tx, "zsink"), "sent", &sent, "dropped", &dropped,
        "acks", &acks, "lost", &lost, "discarded-at-stop", &discarded,
        "receiver-dropped", &busy, NULL);
    fail_unless_equals_uint64 (sent + dropped, warm + n - 1);
    fail_unless_equals_uint64 (acks + busy + lost + discarded, sent);
    fail_unless (discarded > 0, "nothing was discarded at stop: the test "
        "did not make the situation it is about");

    /* The receiver reads again; it must end by itself, within seconds. */
    t0 = g_get_monotonic_time ();
    pulled = drain_to_eos (rx, 20, &eos);
    fail_unless (eos, "%s: no EOS within 20 s after the sender stopped "
        "with %" G_GUINT64_FORMAT " discarded", t ? "tcp" : "ipc", discarded);
    received = counter (rx, "zsrc", "received");
    fail_unless_equals_uint64 (received, pulled + warm);
    fail_unless_equals_int (ended_log_count (&log), 1);
    {
      GstStructure *s = g_ptr_array_index (log.ended, 0);

      reason = gst_structure_get_string (s, "reason");
      fail_unless (gst_structure_get_uint64 (s, "frames", &frames));
      fail_unless (gst_structure_get_uint64 (s, "missing", &missing));
    }
    g_print ("goodbye (%s): %u pushed, %" G_GUINT64_FORMAT " sent, %"
        G_GUINT64_FORMAT " dropped; sender: %" G_GUINT64_FORMAT
        " acknowledged, %" G_GUINT64_FORMAT " lost, %" G_GUINT64_FORMAT
        " discarded at stop; receiver: %" G_GUINT64_FORMAT " received, %"
        G_GUINT64_FORMAT " missing, ended by '%s' %.1f s after the sender "
        "stopped\n", t ? "tcp" : "ipc", warm + n - 1, sent, dropped, acks, lost,
        discarded, received, missing, reason,
        (g_get_monotonic_time () - t0) / 1e6);
    fail_unless_equals_string (reason, "goodbye");
    /* every sequence number: arrived, or announced and never arrived */
    fail_unless_equals_uint64 (received + missing, sent + dropped);
    fail_unless_equals_uint64 (frames, received);
    /* what was acknowledged arrived; what arrived was not counted
     * acknowledged or lost twice */
    fail_unless (acks <= received);
    fail_unless (received <= acks + lost + discarded);
    fail_unless_equals_uint64 (counter (rx, "zsrc", "dropped-queue-full"), 0);

    ended_log_free (&log, rx);
    pipeline_free (rx);
    gst_object_unref (tx);
    g_free (opt_rx);
    g_free (opt_tx);
    g_free (ack);
    g_free (ep);
  }
}

GST_END_TEST;

/* sender-eos=end with several senders: the stream ends when the last one
 * being served has ended, not at the first EOS; a sender that goes silent
 * without EOS is ended by sender-timeout, counted and reported. */
GST_START_TEST (test_sender_end_all)
{
  gchar *ep = ipc_endpoint ("endall");
  GstElement *rx = pipeline_new (SRC_PIPE, ep,
      "sender-eos=end sender-timeout=1500");
  GstElement *a, *b;
  EndedLog log;
  gboolean eos, last = TRUE;
  guint pulled;

  ended_log_watch (&log, rx);
  pipeline_play (rx);
  a = pipeline_new (SINK_PIPE, TEST_CAPS, ep,
      "drop-policy=block send-timeout=-1");
  b = pipeline_new (SINK_PIPE, TEST_CAPS, ep,
      "drop-policy=block send-timeout=-1 forward-eos=false");
  pipeline_play (a);
  pipeline_play (b);
  for (guint i = 0; i < 3; i++) {
    push_ref (a, i);
    push_ref (b, i + 10);
  }
  /* both heard from (a sender not heard from yet does not hold the
   * stream open) */
  for (guint i = 0; i < 6; i++) {
    GstSample *sample = pull (rx, WAIT);

    fail_unless (sample != NULL);
    gst_sample_unref (sample);
  }
  /* a ends; b goes on */
  end_stream (a);
  fail_unless (wait_eos (a));
  for (guint i = 0; i < 20 && ended_log_count (&log) < 1; i++)
    g_usleep (50000);
  fail_unless_equals_int (ended_log_count (&log), 1);
  fail_unless (gst_structure_get_boolean (g_ptr_array_index (log.ended, 0),
          "last", &last));
  fail_if (last, "the first sender's EOS was taken as the last");
  fail_if (gst_app_sink_is_eos (GST_APP_SINK (by_name (rx, "out"))));
  push_ref (b, 13);
  {
    GstSample *sample = pull (rx, WAIT);

    fail_unless (sample != NULL, "the other sender is no longer served");
    fail_unless_equals_int (check_ref_buffer (gst_sample_get_buffer (sample),
            FALSE), 13);
    gst_sample_unref (sample);
  }
  /* b goes silent without a word: ended 1.5 s later, and the stream
   * with it */
  pulled = drain_to_eos (rx, 15, &eos);
  fail_unless (eos, "no EOS after the last sender went silent");
  fail_unless_equals_int (pulled, 0);
  fail_unless_equals_uint64 (counter (rx, "zsrc", "senders-timed-out"), 1);
  fail_unless_equals_int (ended_log_count (&log), 2);
  {
    GstStructure *s = g_ptr_array_index (log.ended, 1);
    guint64 frames = 0;

    fail_unless_equals_string (gst_structure_get_string (s, "reason"),
        "timeout");
    fail_unless (gst_structure_get_boolean (s, "last", &last) && last);
    fail_unless (gst_structure_get_uint64 (s, "frames", &frames));
    fail_unless_equals_uint64 (frames, 4);
  }
  fail_unless_equals_uint64 (counter (rx, "zsrc", "received"), 7);

  pipeline_free (a);
  pipeline_free (b);
  ended_log_free (&log, rx);
  pipeline_free (rx);
  g_free (ep);
}

GST_END_TEST;

/* A receiver whose downstream is slower than its sender (10 buffers/s
 * behind identity sleep-time) keeps reading and acknowledging: the sender's
 * link estimate stays at what the link carries (loopback: far above the
 * receiver's 8 Mbit/s), the messages the receiver could not queue are
 * dropped there, counted on both sides with that reason, and nothing is
 * lost.  Before, the receiver stopped reading, its acks stopped, and the
 * sender saw a link as slow as the receiver's downstream. */
GST_START_TEST (test_busy_receiver_acks)
{
  gchar *ep = ipc_endpoint ("busy"), *ack = ipc_endpoint ("busy-ack");
  GstElement *rx = pipeline_new ("zmqsrc name=zsrc endpoint=%s "
      "ack-endpoint=%s max-buffers=4 sender-eos=end ! "
      "identity sleep-time=100000 ! appsink name=out sync=false", ep, ack);
  gchar *opt_tx = g_strdup_printf ("ack-endpoint=%s caps-interval=50", ack);
  GstElement *tx = pipeline_new (SINK_PIPE, TEST_CAPS, ep, opt_tx);
  guint64 sent, dropped, acks, lost, discarded, busy, full, received;
  gdouble capacity = 0, max_capacity = 0;
  const guint n = 200;
  gboolean eos;

  pipeline_play (rx);
  pipeline_play (tx);
  /* 100 kB every 10 ms: 80 Mbit/s offered for 2 s */
  for (guint i = 0; i < n; i++) {
    GstBuffer *buf = gst_buffer_new_allocate (NULL, 100000, NULL);

    gst_buffer_memset (buf, 0, i, 100000);
    GST_BUFFER_PTS (buf) = i * 10 * MS;
    push (tx, buf);
    g_usleep (10000);
    if (i > n / 2) {
      g_object_get (by_name (tx, "zsink"), "bandwidth-estimate", &capacity,
          NULL);
      max_capacity = MAX (max_capacity, capacity);
    }
  }
  end_stream (tx);
  fail_unless (wait_eos (tx));
  fail_unless_equals_int (gst_element_set_state (tx, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  g_object_get (by_name (tx, "zsink"), "sent", &sent, "dropped", &dropped,
      "acks", &acks, "lost", &lost, "discarded-at-stop", &discarded,
      "receiver-dropped", &busy, NULL);
  drain_to_eos (rx, 20, &eos);
  fail_unless (eos, "the receiver did not end with its sender");
  full = counter (rx, "zsrc", "dropped-queue-full");
  received = counter (rx, "zsrc", "received");
  g_print ("busy receiver: %u pushed, %" G_GUINT64_FORMAT " sent, %"
      G_GUINT64_FORMAT " dropped at the sender; %" G_GUINT64_FORMAT
      " acknowledged, %" G_GUINT64_FORMAT " dropped by the receiver (it "
      "counted %" G_GUINT64_FORMAT "), %" G_GUINT64_FORMAT " lost, %"
      G_GUINT64_FORMAT " discarded; received %" G_GUINT64_FORMAT
      "; link estimate %.0f Mbit/s (last), %.0f (highest)\n", n, sent,
      dropped, acks, busy, full, lost, discarded, received, capacity / 1e6,
      max_capacity / 1e6);
  fail_unless_equals_uint64 (sent + dropped, n);
  fail_unless_equals_uint64 (acks + busy + lost + discarded, sent);
  /* the receiver was the bottleneck: it dropped, and said so */
  fail_unless (full > 0);
  fail_unless_equals_uint64 (busy, full);
  fail_unless_equals_uint64 (lost, 0);
  fail_unless_equals_uint64 (discarded, 0);
  /* everything acknowledged as queued came out */
  fail_unless_equals_uint64 (received, acks);
  /* the link, not the receiver: ten times its 8 Mbit/s */
  fail_unless (capacity > 80e6, "link estimate %.1f Mbit/s behind a busy "
      "receiver", capacity / 1e6);

  pipeline_free (rx);
  gst_object_unref (tx);
  g_free (opt_tx);
  g_free (ack);
  g_free (ep);
}

GST_END_TEST;

/* A worker whose downstream stalls keeps reading (queue-full=drop) and
 * acknowledges what it cannot queue as dropped: it is up, but does not
 * serve the stream, so the sink takes it for dead after worker-timeout and
 * moves the stream to the other worker.  The drops are counted on both
 * sides with their reason. */
GST_START_TEST (test_workers_full_worker)
{
  gchar *ep[2], *ack[2], *workers, *acks, *opts;
  GstElement *rx[2], *tx;
  guint next = 0, got_other = 0;
  guint64 sent, dropped, acked, lost, discarded, busy, moves;
  gint w = -1;
  gchar *name = NULL;

  for (guint r = 0; r < 2; r++) {
    ep[r] = ipc_endpoint ("full-worker");
    ack[r] = ipc_endpoint ("full-worker-ack");
    rx[r] = pipeline_new ("zmqsrc name=zsrc endpoint=%s ack-endpoint=%s "
        "max-buffers=2 ! appsink name=out sync=false max-buffers=1 "
        "drop=false", ep[r], ack[r]);
    pipeline_play (rx[r]);
  }
  workers = g_strdup_printf ("%s,%s", ep[0], ep[1]);
  acks = g_strdup_printf ("%s,%s", ack[0], ack[1]);
  opts = g_strdup_printf ("workers=\"%s\" ack-endpoint=\"%s\" "
      "worker-timeout=300 caps-interval=50 reconnect-ivl=20", workers, acks);
  tx = pipeline_new (SINK_PIPE, TEST_CAPS, "ipc:///nowhere", opts);
  pipeline_play (tx);
  /* until one worker serves the stream */
  for (guint i = 0; i < 200 && w < 0; i++) {
    push_ref (tx, next++);
    g_usleep (25000);
    for (guint r = 0; r < 2; r++) {
      GstSample *sample;

      while ((sample = pull (rx[r], 0))) {
        gst_sample_unref (sample);
        w = r;
      }
    }
  }
  fail_unless (w >= 0, "no worker served the stream");
  g_object_get (by_name (tx, "zsink"), "worker", &name, NULL);
  fail_unless_equals_string (name, ep[w]);
  g_free (name);

  /* w's downstream stalls (never pulled again); the other is pulled */
  for (guint i = 0; i < 60; i++) {
    GstSample *sample;

    push_ref (tx, next++);
    g_usleep (25000);
    while ((sample = pull (rx[1 - w], 0))) {
      gst_sample_unref (sample);
      got_other++;
    }
  }
  g_object_get (by_name (tx, "zsink"), "worker-moves", &moves, "worker",
      &name, NULL);
  fail_unless_equals_string (name, ep[1 - w]);
  g_free (name);
  fail_unless_equals_uint64 (moves, 1);
  fail_unless (got_other >= 20, "%u buffers on the other worker", got_other);
  fail_unless (counter (rx[w], "zsrc", "dropped-queue-full") > 0);

  fail_unless_equals_int (gst_element_set_state (tx, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  g_object_get (by_name (tx, "zsink"), "sent", &sent, "dropped", &dropped,
      "acks", &acked, "lost", &lost, "discarded-at-stop", &discarded,
      "receiver-dropped", &busy, NULL);
  g_print ("full worker: %u pushed, %" G_GUINT64_FORMAT " sent, %"
      G_GUINT64_FORMAT " dropped; %" G_GUINT64_FORMAT " acknowledged, %"
      G_GUINT64_FORMAT " dropped by the full worker (it counted %"
      G_GUINT64_FORMAT "), %" G_GUINT64_FORMAT " lost, %" G_GUINT64_FORMAT
      " discarded\n", next, sent, dropped, acked, busy,
      counter (rx[w], "zsrc", "dropped-queue-full"), lost, discarded);
  fail_unless_equals_uint64 (sent + dropped, next);
  fail_unless_equals_uint64 (acked + busy + lost + discarded, sent);
  fail_unless (busy > 0);
  fail_unless (busy <= counter (rx[w], "zsrc", "dropped-queue-full"));

  for (guint r = 0; r < 2; r++) {
    pipeline_free (rx[r]);
    g_free (ep[r]);
    g_free (ack[r]);
  }
  gst_object_unref (tx);
  g_free (workers);
  g_free (acks);
  g_free (opts);
}

GST_END_TEST;

static Suite *
zmq_suite (void)
{
  Suite *s = suite_create ("zmq");
  TCase *tc = tcase_create ("general");

  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_round_trip);
  tcase_add_test (tc, test_caps_change);
  tcase_add_test (tc, test_eos_forwarding);
  tcase_add_test (tc, test_pub_sub);
  tcase_add_test (tc, test_no_peer_drop_new);
  tcase_add_test (tc, test_reconnect);
  tcase_add_test (tc, test_curve);
  tcase_add_test (tc, test_bad_settings);
  tcase_add_test (tc, test_restart);
  tcase_add_test (tc, test_wire_format);
  tcase_add_test (tc, test_idle_stop);
  tcase_add_test (tc, test_stats_message);
  tcase_add_test (tc, test_acks);
  tcase_add_test (tc, test_replies);
  tcase_add_test (tc, test_foreign_caps_per_sender);
  tcase_add_test (tc, test_sender_eos_policy);
  tcase_add_test (tc, test_sender_table_lru);
  tcase_add_test (tc, test_max_message_size);
  tcase_add_test (tc, test_slow_receiver_bounded);
  tcase_add_test (tc, test_accounting_restart);
  tcase_add_test (tc, test_link_silent_recovers);
  tcase_add_test (tc, test_curve_allow_list);
  tcase_add_test (tc, test_max_errors);
  tcase_add_test (tc, test_sink_byte_budget);
  tcase_add_test (tc, test_eos_discarded_goodbye);
  tcase_add_test (tc, test_sender_end_all);
  tcase_add_test (tc, test_busy_receiver_acks);

  tc = tcase_create ("workers");
  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_workers_affinity);
  tcase_add_test (tc, test_workers_full_worker);
  tcase_add_test (tc, test_workers_failover_rejoin);
  tcase_add_test (tc, test_src_stream_stats);
  tcase_add_test (tc, test_workers_restart);
  return s;
}

GST_CHECK_MAIN (zmq);
