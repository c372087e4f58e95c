/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — one warning policy for every element of the plugin.
 *
 * A failure that does not stop the stream (a dropped frame, a bad packet,
 * a refused sender, a buffer no peer could take) is counted by the element
 * and warned about at most every GST_SPLITNN_WARN_INTERVAL_US, the warning
 * saying how many happened since the previous one, so a flood of bad
 * input costs one bus message per interval, not one per packet.  The
 * element's max-errors property turns a run of more than that many
 * consecutive failures into an element error (-1, the default, never:
 * a server keeps serving the other streams). */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define GST_SPLITNN_WARN_INTERVAL_US (5 * G_USEC_PER_SEC)
#define GST_SPLITNN_DEFAULT_MAX_ERRORS (-1)
    typedef struct
{
  gint64 last_us;               /* when the last warning went out; 0: never */
  guint64 unwarned;             /* failures since then */
  guint64 consecutive;          /* failures since the last success */
} GstSplitnnWarn;

void gst_splitnn_warn_reset (GstSplitnnWarn * w);
/* Records a failure; returns how many failures the warning due now should
 * report (those since the previous warning), 0 when none is due. */
guint64 gst_splitnn_warn_failure (GstSplitnnWarn * w, gint64 now_us);
void gst_splitnn_warn_success (GstSplitnnWarn * w);
/* More than max_errors consecutive failures (max_errors < 0: never). */
gboolean gst_splitnn_warn_too_many (const GstSplitnnWarn * w, gint max_errors);

/* The max-errors property, the same blurb and range for every element. */
void gst_splitnn_install_max_errors (GObjectClass * klass, guint prop_id,
    const gchar * what);

G_END_DECLS
