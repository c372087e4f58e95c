/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The region-of-interest metas splitnncloud and splitnnoverlay attach. */
#pragma once

#include <gst/gst.h>
#include <splitnn/sn-detect.h>

G_BEGIN_DECLS
/* One GstVideoRegionOfInterestMeta per detection: roi_type the COCO label,
 * x/y/w/h the box in source pixels (clipped at 0), id its index, and a
 * "detection" structure with label, class-id, confidence, stream-id, seq. */
void gst_splitnn_add_detection_metas (GstBuffer * buf, const SnDetections * d,
    guint stream_id, guint64 seq);

G_END_DECLS
