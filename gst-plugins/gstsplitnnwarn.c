/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — one warning policy for every element (gstsplitnnwarn.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsplitnnwarn.h"

void
gst_splitnn_warn_reset (GstSplitnnWarn * w)
{
  w->last_us = 0;
  w->unwarned = 0;
  w->consecutive = 0;
}

guint64
gst_splitnn_warn_failure (GstSplitnnWarn * w, gint64 now_us)
{
  guint64 n;

  w->unwarned++;
  w->consecutive++;
  if (w->last_us != 0 && now_us - w->last_us < GST_SPLITNN_WARN_INTERVAL_US)
    return 0;
  n = w->unwarned;
  w->last_us = now_us;
  w->unwarned = 0;
  return n;
}

void
gst_splitnn_warn_success (GstSplitnnWarn * w)
{
  w->consecutive = 0;
}

gboolean
gst_splitnn_warn_too_many (const GstSplitnnWarn * w, gint max_errors)
{
  return max_errors >= 0 && w->consecutive > (guint64) max_errors;
}

void
gst_splitnn_install_max_errors (GObjectClass * klass, guint prop_id,
    const gchar * what)
{
  gchar *blurb = g_strdup_printf ("Post an element error and stop after "
      "more than this many consecutive %s (each is otherwise counted and "
      "warned about at most every 5 s); -1 = never, keep going", what);

  g_object_class_install_property (klass, prop_id,
      g_param_spec_int ("max-errors", "Maximum consecutive errors", blurb,
          -1, G_MAXINT, GST_SPLITNN_DEFAULT_MAX_ERRORS,
          G_PARAM_READWRITE | G_PARAM_STATIC_NAME | G_PARAM_STATIC_NICK
          | GST_PARAM_MUTABLE_PLAYING));
  g_free (blurb);               /* copied: the blurb is not static */
}
