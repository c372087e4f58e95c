/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnnoverlay: joins the cloud's detections back to the camera's frames,
 * attaches them as region-of-interest metas and draws them. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define GST_TYPE_SPLITNN_OVERLAY (gst_splitnn_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstSplitnnOverlay, gst_splitnn_overlay, GST,
    SPLITNN_OVERLAY, GstElement)
GST_ELEMENT_REGISTER_DECLARE (splitnnoverlay);

G_END_DECLS
