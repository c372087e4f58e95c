/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One end of the shaped-link test (tests/test-shaped-link.py): runs a
 * gst-launch style pipeline and prints what the test needs as JSON lines
 * on stdout, with times from the monotonic clock, which every network
 * namespace of a machine shares:
 *
 *   {"ev": "in", "seq": N, "pts": P, "t": us}   a buffer entered --in ELEMENT (sink pad); N counts from 0
 *   {"ev": "out", "seq": N, "pts": P, "t": us, "el": E}  a buffer left --out E (src pad); N is its offset
 *   (P: the buffer's PTS in ns, -1 if none; it survives every element and
 *   the transport, so it pairs an output with its input whatever the path)
 *   {"ev": "msg", "t": us, "s": "..."}     an element message (gst_structure_to_string)
 *   {"ev": "warning"|"error", "t": us, "s": "..."}
 *   {"ev": "report", "element": E, "s": "..."} at the end, the --report properties,
 *   and again as element "E@stopped" once the pipeline is in NULL
 *   {"ev": "end", "how": "eos"|"error"|"signal"}
 *
 * shaped-peer PIPELINE [--in E] [--out E ...] [--report E:prop,prop ...]
 * SIGINT/SIGTERM stop it cleanly (report included). */
#include <gst/gst.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

static GMainLoop *loop;
static const char *end_how = "eos";
static guint64 in_count;

static void
emit (const char *ev, const char *key, const char *value)
{
  g_autofree char *esc = g_strescape (value, NULL);
  printf ("{\"ev\": \"%s\", \"t\": %" G_GINT64_FORMAT ", \"%s\": \"%s\"}\n", ev,
      g_get_monotonic_time (), key, esc);
  fflush (stdout);
}

static void
print_buffer (const char *ev, guint64 seq, GstBuffer *b, const char *element)
{
  gint64 pts = GST_BUFFER_PTS_IS_VALID (b) ? (gint64) GST_BUFFER_PTS (b) : -1;
  printf ("{\"ev\": \"%s\", \"seq\": %" G_GUINT64_FORMAT ", \"pts\": %" G_GINT64_FORMAT
      ", \"t\": %" G_GINT64_FORMAT "%s%s%s}\n", ev, seq, pts, g_get_monotonic_time (),
      element ? ", \"el\": \"" : "", element ? element : "", element ? "\"" : "");
  fflush (stdout);
}

static GstPadProbeReturn
on_in (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  print_buffer ("in", in_count++, GST_PAD_PROBE_INFO_BUFFER (info), NULL);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_out (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER (info);
  print_buffer ("out", GST_BUFFER_OFFSET (b), b, data);
  return GST_PAD_PROBE_OK;
}

static gboolean
on_bus (GstBus *bus, GstMessage *m, gpointer data)
{
  switch (GST_MESSAGE_TYPE (m)) {
    case GST_MESSAGE_ELEMENT:{
      g_autofree char *s = gst_structure_to_string (gst_message_get_structure (m));
      emit ("msg", "s", s);
      break;
    }
    case GST_MESSAGE_WARNING:
    case GST_MESSAGE_ERROR:{
      GError *e = NULL;
      g_autofree char *dbg = NULL;
      gboolean err = GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR;
      if (err)
        gst_message_parse_error (m, &e, &dbg);
      else
        gst_message_parse_warning (m, &e, &dbg);
      g_autofree char *s = g_strdup_printf ("%s: %s (%s)", GST_OBJECT_NAME (m->src), e->message,
          dbg ? dbg : "");
      emit (err ? "error" : "warning", "s", s);
      g_error_free (e);
      if (err) {
        end_how = "error";
        g_main_loop_quit (loop);
      }
      break;
    }
    case GST_MESSAGE_EOS:
      g_main_loop_quit (loop);
      break;
    default:
      break;
  }
  return TRUE;
}

static gboolean
on_signal (gpointer data)
{
  end_how = "signal";
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

/* @suffix: "" at the end of the stream, "@stopped" once more after the
 * pipeline went to NULL (zmqsink settles its accounting when it stops). */
static void
report (GstElement *pipeline, const char *spec, const char *suffix)
{
  g_auto (GStrv) parts = g_strsplit (spec, ":", 2);
  GstElement *e = parts[0] && parts[1] ? gst_bin_get_by_name (GST_BIN (pipeline), parts[0]) : NULL;
  if (!e) {
    fprintf (stderr, "shaped-peer: --report %s: no such element\n", spec);
    return;
  }
  GstStructure *s = gst_structure_new_empty (parts[0]);
  g_auto (GStrv) props = g_strsplit (parts[1], ",", -1);
  for (int i = 0; props[i]; i++) {
    GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (e), props[i]);
    if (!ps)
      continue;
    GValue v = G_VALUE_INIT;
    g_value_init (&v, ps->value_type);
    g_object_get_property (G_OBJECT (e), props[i], &v);
    gst_structure_set_value (s, props[i], &v);
    g_value_unset (&v);
  }
  g_autofree char *str = gst_structure_to_string (s);
  g_autofree char *esc = g_strescape (str, NULL);
  printf ("{\"ev\": \"report\", \"element\": \"%s%s\", \"s\": \"%s\"}\n", parts[0], suffix, esc);
  gst_structure_free (s);
  gst_object_unref (e);
}

static void
probe (GstElement *pipeline, const char *name, const char *pad, GstPadProbeCallback cb, gpointer data)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline), name);
  if (!e) {
    fprintf (stderr, "shaped-peer: no element '%s'\n", name);
    exit (2);
  }
  GstPad *p = gst_element_get_static_pad (e, pad);
  gst_pad_add_probe (p, GST_PAD_PROBE_TYPE_BUFFER, cb, data, NULL);
  gst_object_unref (p);
  gst_object_unref (e);
}

int
main (int argc, char **argv)
{
  g_autofree char *in = NULL;
  g_auto (GStrv) reports = NULL, outs = NULL;
  GOptionEntry entries[] = {
    { "in", 0, 0, G_OPTION_ARG_STRING, &in, "Count buffers entering this element", "E" },
    { "out", 0, 0, G_OPTION_ARG_STRING_ARRAY, &outs, "Time buffers leaving this element", "E" },
    { "report", 0, 0, G_OPTION_ARG_STRING_ARRAY, &reports, "Properties to print at the end", "E:p,q" },
    { NULL },
  };
  GError *error = NULL;
  GOptionContext *ctx = g_option_context_new ("PIPELINE");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    fprintf (stderr, "shaped-peer: %s\n", error ? error->message : "one PIPELINE argument expected");
    return 2;
  }
  g_option_context_free (ctx);

  GstElement *pipeline = gst_parse_launch (argv[1], &error);
  if (!pipeline) {
    fprintf (stderr, "shaped-peer: %s\n", error->message);
    return 2;
  }
  if (in)
    probe (pipeline, in, "sink", on_in, NULL);
  for (int i = 0; outs && outs[i]; i++)
    probe (pipeline, outs[i], "src", on_out, outs[i]);
  loop = g_main_loop_new (NULL, FALSE);
  GstBus *bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_bus, NULL);
  g_unix_signal_add (SIGINT, on_signal, NULL);
  g_unix_signal_add (SIGTERM, on_signal, NULL);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    end_how = "error";
    /* The bus has the error; drain it. */
    GstMessage *m;
    while ((m = gst_bus_pop (bus))) {
      on_bus (bus, m, NULL);
      gst_message_unref (m);
    }
  } else {
    g_main_loop_run (loop);
  }
  for (int i = 0; reports && reports[i]; i++)
    report (pipeline, reports[i], "");
  gst_element_set_state (pipeline, GST_STATE_NULL);
  for (int i = 0; reports && reports[i]; i++)
    report (pipeline, reports[i], "@stopped");
  printf ("{\"ev\": \"end\", \"how\": \"%s\"}\n", end_how);
  fflush (stdout);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_main_loop_unref (loop);
  return 0;
}
