/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The GStreamer elements at work: frames per second, per-frame latency and
 * peak memory of splitnnedge and splitnncloud, and one cloud fed by many
 * edges over ZeroMQ.  Needs the plugin (GST_PLUGIN_PATH=build/gst-plugins).
 *
 *   pipeline edge  MODEL VIDEO CUT [--frames N] [--bits B] [--codec C] [--threads T] [--record FILE]
 *       filesrc ! decodebin ! videoconvert ! splitnnedge ! appsink, as fast as it goes
 *       (no clock); --record keeps the packets for the modes below.
 *   pipeline cloud MODEL FILE [--threads T]
 *       recorded packets ! appsrc ! splitnncloud ! fakesink, as fast as it goes.
 *   pipeline serve MODEL ENDPOINT[,ENDPOINT...] [--threads T] [--seconds S] [--warmup W]
 *       zmqsrc (bind) ! splitnncloud ! appsink per endpoint, in this one process: counts
 *       detections per stream id over S seconds after W seconds of warm-up, and their
 *       latency from the sender's stamp.
 *   pipeline send  FILE ENDPOINT[,ENDPOINT...] [--streams N] [--fps F] [--seconds S]
 *       N streams (stream ids 1..N) replaying the recorded packets at F frames per
 *       second each, appsrc ! zmqsink per stream (stream i to endpoint i mod their
 *       number), phases spread over the period.
 *
 * Element latency is the time from a buffer entering the element's sink pad to
 * its result leaving the src pad (both elements work in their chain
 * function, so that is their processing time).  Each mode prints one JSON
 * object on stdout, with the process's peak RSS (getrusage). */
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <splitnn/splitnn.h>

#define FILE_MAGIC "SNBENCH1"

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
quantile (GArray *v, double q)
{
  if (!v->len)
    return 0;
  g_array_sort (v, cmp_double);
  guint i = (guint) (q * (v->len - 1) + 0.5);
  return g_array_index (v, double, MIN (i, v->len - 1));
}

static double
peak_rss_mib (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024.0;     /* KiB on Linux */
}

/* CPU time of the whole process (all threads) since it started, in % of
 * one core over the wall time since `since` (monotonic us). */
static double
cpu_percent (gint64 since)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return 100 * cpu / ((g_get_monotonic_time () - since) / 1e6);
}

static GstElement *
launch (const char *desc)
{
  GError *err = NULL;
  GstElement *p = gst_parse_launch (desc, &err);
  if (!p || err) {
    fprintf (stderr, "pipeline: %s\n  in: %s\n", err ? err->message : "cannot build", desc);
    exit (1);
  }
  return p;
}

/* Waits for EOS (TRUE) or an error (FALSE, printed); timeout in seconds. */
static gboolean
wait_eos (GstElement *p, int timeout_s)
{
  GstBus *bus = gst_element_get_bus (p);
  GstMessage *m = gst_bus_timed_pop_filtered (bus, (GstClockTime) timeout_s * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gboolean ok = m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_EOS;
  if (m && !ok) {
    GError *err;
    gst_message_parse_error (m, &err, NULL);
    fprintf (stderr, "pipeline: %s: %s\n", GST_OBJECT_NAME (m->src), err->message);
    g_error_free (err);
  } else if (!m) {
    fprintf (stderr, "pipeline: no EOS within %d s\n", timeout_s);
  }
  if (m)
    gst_message_unref (m);
  gst_object_unref (bus);
  return ok;
}

/* The sum of a guint64 counter property over elements PREFIX0..PREFIX(n-1). */
static guint64
sum_counter (GstElement *pipeline, const char *prefix, int n, const char *prop)
{
  guint64 sum = 0;
  for (int i = 0; i < n; i++) {
    g_autofree char *name = g_strdup_printf ("%s%d", prefix, i);
    GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
    guint64 v = 0;
    g_object_get (e, prop, &v, NULL);
    sum += v;
    gst_object_unref (e);
  }
  return sum;
}

/* ---- Element timing by pad probes ------------------------------------------------ */

typedef struct {
  gint64 t_in;              /* the buffer now inside the element entered at */
  gint64 first_in, last_out;
  GArray *ms;               /* per buffer out: ms inside the element */
} ElemTiming;

static GstPadProbeReturn
on_in (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  ElemTiming *t = data;
  t->t_in = g_get_monotonic_time ();
  if (!t->first_in)
    t->first_in = t->t_in;
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_out (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  ElemTiming *t = data;
  t->last_out = g_get_monotonic_time ();
  double ms = (t->last_out - t->t_in) / 1000.0;
  g_array_append_val (t->ms, ms);
  return GST_PAD_PROBE_OK;
}

static void
time_element (GstElement *pipeline, const char *name, ElemTiming *t)
{
  memset (t, 0, sizeof *t);
  t->ms = g_array_new (FALSE, FALSE, sizeof (double));
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstPad *sink = gst_element_get_static_pad (e, "sink"), *src = gst_element_get_static_pad (e, "src");
  gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER, on_in, t, NULL);
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, on_out, t, NULL);
  gst_object_unref (sink);
  gst_object_unref (src);
  gst_object_unref (e);
}

/* The first buffer pays for compiling the cut and XNNPACK's weight packing:
 * it is reported apart and left out of the medians and the rate. */
static void
print_timing (const char *mode, ElemTiming *t, double wall_s, const char *extra)
{
  guint n = t->ms->len;
  double first = n ? g_array_index (t->ms, double, 0) : 0;
  GArray *rest = g_array_new (FALSE, FALSE, sizeof (double));
  if (n > 1)
    g_array_append_vals (rest, &g_array_index (t->ms, double, 1), n - 1);
  double busy = 0;
  for (guint i = 0; i < rest->len; i++)
    busy += g_array_index (rest, double, i);
  printf ("{\"mode\": \"%s\", \"frames\": %u, \"first_ms\": %.1f, \"median_ms\": %.2f, "
      "\"p10_ms\": %.2f, \"p90_ms\": %.2f, \"element_fps\": %.2f, \"pipeline_fps\": %.2f, "
      "\"peak_rss_mib\": %.1f%s}\n", mode, n, first, quantile (rest, .5), quantile (rest, .1),
      quantile (rest, .9), busy > 0 ? rest->len / (busy / 1000) : 0,
      wall_s > 0 && n > 1 ? (n - 1) / wall_s : 0, peak_rss_mib (), extra);
  g_array_unref (rest);
}

/* ---- Recorded packets: magic, caps, then (u32 length, bytes) per packet ---------- */

static gboolean
write_record (FILE *f, const void *data, guint32 len)
{
  return fwrite (&len, 4, 1, f) == 1 && fwrite (data, 1, len, f) == len;
}

static GByteArray *
read_record (FILE *f)
{
  guint32 len;
  if (fread (&len, 4, 1, f) != 1 || len > (1u << 28))
    return NULL;
  GByteArray *b = g_byte_array_sized_new (len);
  g_byte_array_set_size (b, len);
  if (fread (b->data, 1, len, f) != len) {
    g_byte_array_unref (b);
    return NULL;
  }
  return b;
}

/* Opens a recording: returns its caps (to free), positioned at the first packet. */
static GstCaps *
open_recording (const char *path, FILE **out)
{
  FILE *f = fopen (path, "rb");
  char magic[8];
  GByteArray *caps = NULL;
  if (!f || fread (magic, 8, 1, f) != 1 || memcmp (magic, FILE_MAGIC, 8) != 0
      || !(caps = read_record (f))) {
    fprintf (stderr, "pipeline: %s is not a recording of `pipeline edge --record`\n", path);
    exit (1);
  }
  g_byte_array_append (caps, (const guint8 *) "", 1);
  GstCaps *c = gst_caps_from_string ((const char *) caps->data);
  g_byte_array_unref (caps);
  *out = f;
  return c;
}

/* ---- Modes --------------------------------------------------------------------- */

static int
run_edge (const char *model, const char *video, const char *cut, int frames, int bits,
    const char *codec, int threads, const char *record)
{
  g_autofree char *desc = g_strdup_printf ("filesrc location=\"%s\" ! avidemux ! "
      "identity eos-after=%d ! decodebin ! videoconvert ! splitnnedge name=e model=\"%s\" "
      "cut=%s bits=%d codec=%s threads=%d stats-interval=0 ! appsink name=out sync=false",
      video, frames + 1, model, cut, bits, codec, threads);
  GstElement *p = launch (desc);
  ElemTiming t;
  time_element (p, "e", &t);
  GstAppSink *sink = GST_APP_SINK (gst_bin_get_by_name (GST_BIN (p), "out"));
  FILE *f = record ? fopen (record, "wb") : NULL;
  if (record && (!f || fwrite (FILE_MAGIC, 8, 1, f) != 1)) {
    fprintf (stderr, "pipeline: cannot write %s\n", record);
    return 1;
  }
  gint64 t0 = g_get_monotonic_time ();
  gst_element_set_state (p, GST_STATE_PLAYING);
  guint64 bytes = 0, packets = 0;
  gboolean caps_written = FALSE, ok = TRUE;
  GstSample *s;
  while ((s = gst_app_sink_pull_sample (sink))) {
    GstBuffer *b = gst_sample_get_buffer (s);
    GstMapInfo map;
    gst_buffer_map (b, &map, GST_MAP_READ);
    bytes += map.size;
    packets++;
    if (f && !caps_written) {
      g_autofree char *caps = gst_caps_to_string (gst_sample_get_caps (s));
      ok = write_record (f, caps, strlen (caps));
      caps_written = TRUE;
    }
    if (f)
      ok = ok && write_record (f, map.data, map.size);
    gst_buffer_unmap (b, &map);
    gst_sample_unref (s);
  }
  /* The wall clock starts at the second frame, as the medians do. */
  double wall = t.ms->len > 1 ? (t.last_out - t.first_in) / 1e6 - g_array_index (t.ms, double, 0) / 1000 : 0;
  ok = wait_eos (p, 5) && ok;
  gst_element_set_state (p, GST_STATE_NULL);
  if (f && fclose (f) != 0)
    ok = FALSE;
  g_autofree char *extra = g_strdup_printf (", \"cut\": \"%s\", \"bits\": %d, \"codec\": \"%s\", "
      "\"threads\": %d, \"mean_bytes\": %.0f, \"run_s\": %.1f", cut, bits, codec, threads,
      packets ? (double) bytes / packets : 0, (g_get_monotonic_time () - t0) / 1e6);
  print_timing ("edge", &t, wall, extra);
  gst_object_unref (sink);
  gst_object_unref (p);
  return ok && packets == (guint64) frames ? 0 : 1;
}

static int
run_cloud (const char *model, const char *path, int threads)
{
  FILE *f;
  GstCaps *caps = open_recording (path, &f);
  g_autofree char *desc = g_strdup_printf ("appsrc name=src format=time block=true "
      "max-bytes=4000000 ! splitnncloud name=c model=\"%s\" threads=%d format=binary ! "
      "fakesink sync=false", model, threads);
  GstElement *p = launch (desc);
  GstAppSrc *src = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (p), "src"));
  gst_app_src_set_caps (src, caps);
  ElemTiming t;
  time_element (p, "c", &t);
  gst_element_set_state (p, GST_STATE_PLAYING);
  GByteArray *b;
  guint64 n = 0;
  while ((b = read_record (f))) {
    gsize len = b->len;
    GstBuffer *buf = gst_buffer_new_wrapped (g_byte_array_free (b, FALSE), len);
    GST_BUFFER_PTS (buf) = n++ * GST_SECOND / 10;
    gst_app_src_push_buffer (src, buf);
  }
  fclose (f);
  gst_app_src_end_of_stream (src);
  gboolean ok = wait_eos (p, 600);
  GstElement *c = gst_bin_get_by_name (GST_BIN (p), "c");
  guint64 bad = 0;
  g_object_get (c, "bad-packets", &bad, NULL);
  gst_object_unref (c);
  gst_element_set_state (p, GST_STATE_NULL);
  double wall = t.ms->len > 1 ? (t.last_out - t.first_in) / 1e6 - g_array_index (t.ms, double, 0) / 1000 : 0;
  g_autofree char *extra = g_strdup_printf (", \"threads\": %d, \"bad_packets\": %" G_GUINT64_FORMAT,
      threads, bad);
  print_timing ("cloud", &t, wall, extra);
  gst_caps_unref (caps);
  gst_object_unref (src);
  gst_object_unref (p);
  return ok && !bad && t.ms->len == n ? 0 : 1;
}

#define MAX_STREAMS 64
#define MAX_PIPES 8

/* What the cloud's appsinks report, from their streaming threads. */
typedef struct {
  GMutex lock;
  double warmup, seconds;
  gint64 start, window, end;   /* first result; counting from window to end */
  guint64 count[MAX_STREAMS + 1];
  GArray *lat, *cloud;
  SnDetections dets;
} Served;

static GstFlowReturn
on_result (GstAppSink *sink, gpointer data)
{
  Served *sv = data;
  GstSample *s = gst_app_sink_pull_sample (sink);
  if (!s)
    return GST_FLOW_EOS;
  gint64 now = g_get_monotonic_time ();
  GstBuffer *b = gst_sample_get_buffer (s);
  GstMapInfo map;
  SnResultHeader h;
  gst_buffer_map (b, &map, GST_MAP_READ);
  g_mutex_lock (&sv->lock);
  if (!sv->start) {
    sv->start = now;
    sv->window = now + (gint64) (sv->warmup * 1e6);
    sv->end = sv->window + (gint64) (sv->seconds * 1e6);
  }
  if (now >= sv->window && now < sv->end && sn_result_parse (map.data, map.size, &h, &sv->dets, NULL)) {
    sv->count[MIN (h.stream_id, MAX_STREAMS)]++;
    /* The sender stamps each buffer with its monotonic clock (same machine). */
    double ms = (now * 1000.0 - (double) GST_BUFFER_PTS (b)) / 1e6, c = h.cloud_us / 1000.0;
    g_array_append_val (sv->lat, ms);
    g_array_append_val (sv->cloud, c);
  }
  g_mutex_unlock (&sv->lock);
  gst_buffer_unmap (b, &map);
  gst_sample_unref (s);
  return GST_FLOW_OK;
}

/* One pipeline per endpoint (a comma-separated list), all in this process:
 * zmqsrc ! splitnncloud ! appsink each, counting into one Served. */
static int
run_serve (const char *model, const char *endpoints, int threads, double seconds, double warmup)
{
  g_auto (GStrv) eps = g_strsplit (endpoints, ",", MAX_PIPES);
  int n_pipes = (int) g_strv_length (eps);
  GString *desc = g_string_new ("");
  for (int i = 0; i < n_pipes; i++)
    g_string_append_printf (desc, "zmqsrc name=src%d endpoint=%s bind=true ! splitnncloud model=\"%s\" "
        "threads=%d format=binary ! appsink name=out%d sync=false emit-signals=false ", i, eps[i], model,
        threads, i);
  gint64 t_start = g_get_monotonic_time ();
  GstElement *p = launch (desc->str);
  g_string_free (desc, TRUE);
  Served sv = { .warmup = warmup, .seconds = seconds };
  g_mutex_init (&sv.lock);
  sv.lat = g_array_new (FALSE, FALSE, sizeof (double));
  sv.cloud = g_array_new (FALSE, FALSE, sizeof (double));
  sn_detections_init (&sv.dets);
  GstAppSinkCallbacks cb = { .new_sample = on_result };
  for (int i = 0; i < n_pipes; i++) {
    g_autofree char *name = g_strdup_printf ("out%d", i);
    GstElement *sink = gst_bin_get_by_name (GST_BIN (p), name);
    gst_app_sink_set_callbacks (GST_APP_SINK (sink), &cb, &sv, NULL);
    gst_object_unref (sink);
  }
  gst_element_set_state (p, GST_STATE_PLAYING);
  /* Until `seconds` after the warm-up that follows the first result;
   * nothing for 60 s is a failure. */
  for (;;) {
    g_usleep (100000);
    g_mutex_lock (&sv.lock);
    gint64 end = sv.end;
    g_mutex_unlock (&sv.lock);
    gint64 now = g_get_monotonic_time ();
    if (end && now >= end)
      break;
    if (!end && now - t_start > 60 * G_USEC_PER_SEC) {
      fprintf (stderr, "pipeline: nothing arrived at %s for 60 s\n", endpoints);
      return 1;
    }
  }
  double cpu = cpu_percent (t_start);
  guint64 received = sum_counter (p, "src", n_pipes, "received");
  gst_element_set_state (p, GST_STATE_NULL);
  GString *per = g_string_new ("");
  guint64 total = 0;
  int streams = 0;
  for (int i = 0; i <= MAX_STREAMS; i++)
    if (sv.count[i]) {
      g_string_append_printf (per, "%s%.2f", streams++ ? ", " : "", sv.count[i] / seconds);
      total += sv.count[i];
    }
  printf ("{\"mode\": \"serve\", \"pipelines\": %d, \"threads\": %d, \"seconds\": %.1f, "
      "\"streams\": %d, \"fps_per_stream\": [%s], \"total_fps\": %.2f, \"latency_median_ms\": %.1f, "
      "\"latency_p90_ms\": %.1f, \"cloud_median_ms\": %.2f, \"received\": %" G_GUINT64_FORMAT
      ", \"cpu_percent\": %.0f, \"peak_rss_mib\": %.1f}\n", n_pipes, threads, seconds, streams,
      per->str, total / seconds, quantile (sv.lat, .5), quantile (sv.lat, .9), quantile (sv.cloud, .5),
      received, cpu, peak_rss_mib ());
  g_string_free (per, TRUE);
  g_array_unref (sv.lat);
  g_array_unref (sv.cloud);
  sn_detections_clear (&sv.dets);
  g_mutex_clear (&sv.lock);
  gst_object_unref (p);
  return 0;
}

static int
run_send (const char *path, const char *endpoint, int streams, double fps, double seconds)
{
  FILE *f;
  GstCaps *caps = open_recording (path, &f);
  GPtrArray *packets = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
  GByteArray *b;
  while ((b = read_record (f)))
    g_ptr_array_add (packets, b);
  fclose (f);
  if (!packets->len || streams < 1 || streams > MAX_STREAMS || fps <= 0) {
    fprintf (stderr, "pipeline: nothing to send (or --streams not in 1-%d)\n", MAX_STREAMS);
    return 1;
  }
  /* With several cloud endpoints, stream i goes to endpoint i mod their number. */
  g_auto (GStrv) eps = g_strsplit (endpoint, ",", MAX_PIPES);
  int n_eps = (int) g_strv_length (eps);
  GString *desc = g_string_new ("");
  for (int i = 0; i < streams; i++)
    g_string_append_printf (desc, "appsrc name=s%d format=time is-live=true ! zmqsink name=z%d "
        "endpoint=%s forward-eos=false ", i, i, eps[i % n_eps]);
  gint64 t_start = g_get_monotonic_time ();
  GstElement *p = launch (desc->str);
  g_string_free (desc, TRUE);
  GstAppSrc *src[MAX_STREAMS];
  for (int i = 0; i < streams; i++) {
    g_autofree char *name = g_strdup_printf ("s%d", i);
    src[i] = GST_APP_SRC (gst_bin_get_by_name (GST_BIN (p), name));
    GstCaps *c = gst_caps_copy (caps);
    gst_caps_set_simple (c, "stream-id", G_TYPE_UINT, (guint) (i + 1), NULL);
    gst_app_src_set_caps (src[i], c);
    gst_caps_unref (c);
  }
  gst_element_set_state (p, GST_STATE_PLAYING);
  /* Stream i sends at t0 + (k + i / streams) / fps: evenly spread phases;
   * t0 leaves a second for the connections (ZMQ_IMMEDIATE drops before). */
  gint64 t0 = g_get_monotonic_time () + 1000000, period = (gint64) (1e6 / fps);
  gint64 stop = t0 + (gint64) (seconds * 1e6);
  guint64 sent = 0, late = 0;
  GByteArray *out = g_byte_array_new ();
  for (guint64 k = 0;; k++)
    for (int i = 0; i < streams; i++) {
      gint64 due = t0 + (gint64) k * period + period * i / streams;
      if (due >= stop)
        goto done;
      gint64 now = g_get_monotonic_time ();
      if (due > now)
        g_usleep (due - now);
      else if (now - due > period)
        late++;
      /* The recorded packet with this stream's id and sequence number. */
      GByteArray *rec = g_ptr_array_index (packets, k % packets->len);
      SnPacket pk;
      if (!sn_packet_parse (rec->data, rec->len, &pk, NULL))
        continue;
      pk.stream_id = (guint32) (i + 1);
      pk.seq = k;
      sn_packet_write (&pk, out);
      GstBuffer *buf = gst_buffer_new_memdup (out->data, out->len);
      GST_BUFFER_PTS (buf) = (GstClockTime) g_get_monotonic_time () * 1000;
      GST_BUFFER_OFFSET (buf) = k;
      gst_app_src_push_buffer (src[i], buf);
      sent++;
    }
done:;
  guint64 dropped = sum_counter (p, "z", streams, "dropped");
  for (int i = 0; i < streams; i++)
    gst_object_unref (src[i]);
  double cpu = cpu_percent (t_start);
  gst_element_set_state (p, GST_STATE_NULL);
  printf ("{\"mode\": \"send\", \"streams\": %d, \"fps\": %.1f, \"sent\": %" G_GUINT64_FORMAT
      ", \"dropped\": %" G_GUINT64_FORMAT ", \"late\": %" G_GUINT64_FORMAT ", \"cpu_percent\": %.0f, "
      "\"peak_rss_mib\": %.1f}\n", streams, fps, sent, dropped, late, cpu, peak_rss_mib ());
  g_byte_array_unref (out);
  g_ptr_array_unref (packets);
  gst_caps_unref (caps);
  gst_object_unref (p);
  return 0;
}

int
main (int argc, char **argv)
{
  int frames = 100, bits = 8, threads = 1, streams = 1;
  double seconds = 20, warmup = 5, fps = 10;
  g_autofree char *codec = NULL, *record = NULL;
  GOptionEntry entries[] = {
    { "frames", 'n', 0, G_OPTION_ARG_INT, &frames, "edge: frames of the video (default 100)", "N" },
    { "bits", 0, 0, G_OPTION_ARG_INT, &bits, "edge: bit width (default 8)", "B" },
    { "codec", 0, 0, G_OPTION_ARG_STRING, &codec, "edge: codec (default lossless)", "C" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "edge, cloud, serve: kernel threads (default 1)", "T" },
    { "record", 0, 0, G_OPTION_ARG_FILENAME, &record, "edge: keep the packets in this file", "FILE" },
    { "streams", 0, 0, G_OPTION_ARG_INT, &streams, "send: concurrent streams (default 1)", "N" },
    { "fps", 0, 0, G_OPTION_ARG_DOUBLE, &fps, "send: frames per second per stream (default 10)", "F" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds, "send, serve: measured duration (default 20)", "S" },
    { "warmup", 0, 0, G_OPTION_ARG_DOUBLE, &warmup, "serve: seconds before counting (default 5)", "W" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("edge|cloud|serve|send ARGS...");
  g_option_context_set_summary (ctx, "Throughput, latency and memory of the splitnn elements.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  GError *err = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &err)) {
    fprintf (stderr, "pipeline: %s\n", err->message);
    return 2;
  }
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp (mode, "edge") && argc == 5)
    return run_edge (argv[2], argv[3], argv[4], frames, bits, codec ? codec : "lossless", threads, record);
  if (!strcmp (mode, "cloud") && argc == 4)
    return run_cloud (argv[2], argv[3], threads);
  if (!strcmp (mode, "serve") && argc == 4)
    return run_serve (argv[2], argv[3], threads, seconds, warmup);
  if (!strcmp (mode, "send") && argc == 4)
    return run_send (argv[2], argv[3], streams, fps, seconds);
  fprintf (stderr, "usage: pipeline edge MODEL VIDEO CUT | cloud MODEL FILE | serve MODEL ENDPOINT | "
      "send FILE ENDPOINT [options] (--help)\n");
  return 2;
}
