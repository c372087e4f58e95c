/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The region-of-interest metas splitnncloud and splitnnoverlay attach
 * (docs/elements.md). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsplitnnmeta.h"

#include <gst/video/video.h>

void
gst_splitnn_add_detection_metas (GstBuffer * buf, const SnDetections * d,
    guint stream_id, guint64 seq)
{
  for (int i = 0; i < d->n; i++) {
    const SnDetection *e = &d->items[i];
    GstVideoRegionOfInterestMeta *roi =
        gst_buffer_add_video_region_of_interest_meta (buf, e->label,
        (guint) MAX (e->x0, 0), (guint) MAX (e->y0, 0),
        (guint) MAX (e->x1 - e->x0, 0),
        (guint) MAX (e->y1 - e->y0, 0));
    roi->id = i;
    gst_video_region_of_interest_meta_add_param (roi,
        gst_structure_new ("detection", "label", G_TYPE_STRING, e->label,
            "class-id", G_TYPE_INT, e->class_id, "confidence", G_TYPE_DOUBLE,
            (double) e->score, "stream-id", G_TYPE_UINT, stream_id, "seq",
            G_TYPE_UINT64, seq, NULL));
  }
}
