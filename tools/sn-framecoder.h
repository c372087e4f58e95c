/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The cloud-only baseline's frame coding for the command-line tools: a
 * frame (the model's input, RGB) coded as H.264 or JPEG and decoded back,
 * with the bytes that would cross the link.
 *
 * H.264 goes through GStreamer (x264enc, avdec_h264), so libsplitnn links
 * no GPL codec; JPEG through libturbojpeg.  One coder is one stream: H.264
 * predicts each frame from the ones before (a keyframe every 30), so feed
 * a coder the frames of one sequence in order. */
#pragma once

#include <glib.h>
#include <splitnn/sn-option.h>

typedef struct SnFrameCoder SnFrameCoder;

/* quality: the QP for H.264 (x264enc pass=quant), 1-100 for JPEG. */
SnFrameCoder *sn_frame_coder_new (SnFrameCodec codec, int quality, int width, int height,
    GError **error);
/* Codes one packed RGB frame (width x height x 3) and decodes it into out
 * (the same size).  Returns the coded size in bytes, or -1 with error set. */
gssize sn_frame_coder_run (SnFrameCoder *c, const guint8 *rgb, guint8 *out, GError **error);
void sn_frame_coder_free (SnFrameCoder *c);
