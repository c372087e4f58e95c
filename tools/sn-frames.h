/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Decoding images and videos into RGB frames for the command-line tools,
 * through GStreamer (decodebin ! videoconvert ! appsink). */
#pragma once

#include <glib.h>
#include <stdint.h>

typedef struct SnFrames SnFrames;

typedef struct {
  int index;
  guint64 pts;              /* ns; GST_CLOCK_TIME_NONE (-1) if unknown */
  int width, height, stride;
  const guint8 *rgb;        /* valid until the next sn_frames_next */
} SnFrame;

SnFrames *sn_frames_open (const char *path, GError **error);
/* FALSE at the end (error unset) or on failure (error set): a file that
 * cannot be decoded, a stream error, no frame at all before the end, or a
 * decoder that stalls (no frame, error or end for a minute).  Never blocks
 * for ever. */
gboolean sn_frames_next (SnFrames *f, SnFrame *frame, GError **error);
void sn_frames_close (SnFrames *f);
