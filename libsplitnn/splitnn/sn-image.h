/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — turning raw video frames into model input.
 *
 * A preprocessor resizes a frame of any of the common raw formats to the
 * model's input size with bilinear interpolation and writes it as NHWC
 * float32 RGB, scaled as value * scale + bias.  The sampling grid is the
 * one TensorFlow's ResizeBilinear uses without half-pixel centres (source
 * coordinate = destination coordinate * source size / destination size),
 * which is what the CenterNet model was run with.  Per-column and per-row
 * taps are computed once per geometry, so a frame costs one pass over the
 * output and no allocation.  YUV is converted with BT.601 limited-range
 * coefficients. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-tensor.h>

G_BEGIN_DECLS

typedef enum {
  SN_PIXEL_RGB, SN_PIXEL_BGR,
  SN_PIXEL_RGBX, SN_PIXEL_BGRX, SN_PIXEL_XRGB, SN_PIXEL_XBGR,
  SN_PIXEL_RGBA, SN_PIXEL_BGRA,
  SN_PIXEL_I420, SN_PIXEL_NV12,
} SnPixelFormat;

typedef struct {
  SnPixelFormat format;
  int width, height;
  const guint8 *planes[3];  /* packed formats use plane 0; I420 Y,U,V; NV12 Y,UV */
  int strides[3];           /* bytes per row of each plane */
} SnImage;

typedef enum {
  SN_RESIZE_STRETCH,        /* fill the input, ignoring aspect ratio (the detector's default) */
  SN_RESIZE_LETTERBOX,      /* keep aspect ratio, centre, pad with the pad value */
} SnResizeMode;

/* model_x = src_x * scale_x + offset_x (and y likewise), in model pixels. */
typedef struct {
  double scale_x, scale_y;
  double offset_x, offset_y;
  int src_width, src_height;
} SnLetterbox;

typedef struct SnPreprocessor SnPreprocessor;

/* dst is width x height; each output value is pixel (0-255) * scale + bias;
 * pad is the value written outside the letterboxed content (after scaling). */
SN_API SnPreprocessor *sn_preprocessor_new (int width, int height, SnResizeMode mode,
    float scale, float bias, float pad);
SN_API void sn_preprocessor_free (SnPreprocessor *pp);

/* out must be float32 1 x height x width x 3.  Fills lb (may be NULL). */
SN_API gboolean sn_preprocess (SnPreprocessor *pp, const SnImage *img, SnTensor *out,
    SnLetterbox *lb, GError **error);

/* Maps a box from model pixels back to source pixels, clipped to the frame. */
SN_API void sn_letterbox_to_source (const SnLetterbox *lb, float *x0, float *y0,
    float *x1, float *y1);

SN_API const char *sn_pixel_format_name (SnPixelFormat f);

G_END_DECLS
