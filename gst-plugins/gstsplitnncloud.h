/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnncloud: runs the cloud part of a split detector on feature packets
 * and emits detections (application/x-splitnn-detections). */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS
#define GST_TYPE_SPLITNN_CLOUD (gst_splitnn_cloud_get_type ())
G_DECLARE_FINAL_TYPE (GstSplitnnCloud, gst_splitnn_cloud, GST, SPLITNN_CLOUD,
    GstBaseTransform)
GST_ELEMENT_REGISTER_DECLARE (splitnncloud);

G_END_DECLS
