/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — zmqsrc: receive a stream sent by zmqsink over ZeroMQ. */
#pragma once

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>

G_BEGIN_DECLS
#define GST_TYPE_ZMQ_SRC (gst_zmq_src_get_type ())
G_DECLARE_FINAL_TYPE (GstZmqSrc, gst_zmq_src, GST, ZMQ_SRC, GstPushSrc)
GST_ELEMENT_REGISTER_DECLARE (zmqsrc);

G_END_DECLS
