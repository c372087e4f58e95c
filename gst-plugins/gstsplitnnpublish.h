/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnnpublish: publishes each frame's detections to an MQTT broker
 * (libmosquitto) and passes the detections buffers through unchanged. */
#pragma once

#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS
#define GST_TYPE_SPLITNN_PUBLISH (gst_splitnn_publish_get_type ())
G_DECLARE_FINAL_TYPE (GstSplitnnPublish, gst_splitnn_publish, GST,
    SPLITNN_PUBLISH, GstBaseTransform)
GST_ELEMENT_REGISTER_DECLARE (splitnnpublish);

G_END_DECLS
