/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — zmqsink: send any GStreamer stream over ZeroMQ. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS
#define GST_TYPE_ZMQ_SINK (gst_zmq_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstZmqSink, gst_zmq_sink, GST, ZMQ_SINK, GstBaseSink)
GST_ELEMENT_REGISTER_DECLARE (zmqsink);

G_END_DECLS
