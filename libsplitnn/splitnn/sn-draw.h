/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — drawing labelled detection boxes on frames (cairo). */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-detect.h>

G_BEGIN_DECLS

/* Draws onto a 32-bit frame in memory laid out as cairo's RGB24/ARGB32
 * (BGRx / BGRA bytes on little-endian machines). */
SN_API void sn_draw_detections_bgrx (guint8 *data, int width, int height, int stride,
    const SnDetections *d);

/* Draws onto a premultiplied ARGB32 surface (cairo's ARGB32: BGRA bytes on
 * little-endian machines) that the caller has cleared to transparent: an
 * overlay to blend onto frames of any format. */
SN_API void sn_draw_detections_argb (guint8 *data, int width, int height, int stride,
    const SnDetections *d);

/* Writes an RGB frame with its detections drawn as a PNG file. */
SN_API gboolean sn_draw_png (const guint8 *rgb, int width, int height, int stride,
    const SnDetections *d, const char *path, GError **error);

G_END_DECLS
