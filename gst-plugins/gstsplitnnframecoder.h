/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sessions' frame coder (SnFrameCoderFuncs, sn-session.h) built from
 * GStreamer elements, for cut=cloud-only in splitnnedge and splitnncloud.
 *
 * Each encoder or decoder is a small pipeline of its own, driven from the
 * caller's thread through two pads of ours (no appsrc/appsink threads): a
 * picture pushed in comes out during the push with the usual low-latency
 * elements, so a picture that fails to decode is known at once instead of
 * after a timeout.  An element with a thread of its own (a hardware
 * encoder) is waited for, up to GST_SPLITNN_FRAME_CODER_TIMEOUT.
 *
 * Encoders: user_data is a gst-launch description of the encoder element
 * (NULL: GST_SPLITNN_DEFAULT_FRAME_ENCODER for H.264, jpegenc for JPEG).
 * The quality goes to the element's `quantizer` (with pass=quant: x264enc)
 * or `quality` (jpegenc) property where it has one; a keyframe on request
 * is a GstForceKeyUnit event ahead of the picture.  Decoders: h264parse !
 * avdec_h264, or jpegdec.  libsplitnn links none of them (x264 is GPL). */
#pragma once

#include <gst/gst.h>
#include <splitnn/sn-session.h>

G_BEGIN_DECLS
#define GST_SPLITNN_DEFAULT_FRAME_ENCODER \
  "x264enc speed-preset=medium tune=zerolatency key-int-max=30"
#define GST_SPLITNN_FRAME_CODER_TIMEOUT (2 * GST_SECOND)
const SnFrameCoderFuncs *gst_splitnn_frame_coder_funcs (void);

G_END_DECLS
