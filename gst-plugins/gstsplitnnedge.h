/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnnedge: runs the edge part of a split detector on raw video and
 * emits one feature packet per frame (application/x-splitnn). */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include <gst/video/video.h>

G_BEGIN_DECLS
#define GST_TYPE_SPLITNN_EDGE (gst_splitnn_edge_get_type ())
G_DECLARE_FINAL_TYPE (GstSplitnnEdge, gst_splitnn_edge, GST, SPLITNN_EDGE,
    GstBaseTransform)
GST_ELEMENT_REGISTER_DECLARE (splitnnedge);

/* GST_SPLITNN_BANDWIDTH_EVENT, shared with zmqsink. */
#include "gstsplitnnevents.h"

G_END_DECLS
