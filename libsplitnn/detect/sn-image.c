/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — frame preprocessing (see sn-image.h). */
#include "splitnn/sn-image.h"

#include <math.h>
#include <string.h>

#include "splitnn/sn-error.h"

typedef struct {
  int i0, i1;               /* source indices */
  float w1;                 /* weight of i1; i0 gets 1 - w1 */
} Tap;

struct SnPreprocessor {
  int width, height;
  SnResizeMode mode;
  float scale, bias, pad;
  /* Geometry the taps were built for. */
  int src_w, src_h;
  int x_begin, x_end, y_begin, y_end;    /* content area inside the output */
  SnLetterbox lb;
  Tap *xt, *yt;
  /* Two source rows converted to float RGB, and which rows they are (-1:
   * none).  Every output pixel reads four source pixels from two rows; the
   * conversion (a YUV matrix for I420/NV12) is done once per source row
   * and frame instead of four times per output pixel, which made I420
   * preprocessing 3x slower than RGB (splitnnedge gets I420 from most
   * decoders). */
  float *row[2];
  int row_y[2];
};

SnPreprocessor *
sn_preprocessor_new (int width, int height, SnResizeMode mode, float scale,
    float bias, float pad)
{
  g_return_val_if_fail (width > 0 && height > 0, NULL);
  SnPreprocessor *pp = g_new0 (SnPreprocessor, 1);
  pp->width = width;
  pp->height = height;
  pp->mode = mode;
  pp->scale = scale;
  pp->bias = bias;
  pp->pad = pad;
  pp->xt = g_new0 (Tap, width);
  pp->yt = g_new0 (Tap, height);
  return pp;
}

void
sn_preprocessor_free (SnPreprocessor *pp)
{
  if (!pp)
    return;
  g_free (pp->xt);
  g_free (pp->yt);
  g_free (pp->row[0]);
  g_free (pp->row[1]);
  g_free (pp);
}

const char *
sn_pixel_format_name (SnPixelFormat f)
{
  static const char *names[] = { "RGB", "BGR", "RGBx", "BGRx", "xRGB", "xBGR",
    "RGBA", "BGRA", "I420", "NV12" };
  return (unsigned) f < G_N_ELEMENTS (names) ? names[f] : "unknown";
}

/* Source coordinate = destination * (src / dst), TF ResizeBilinear without
 * half-pixel centres; the right neighbour is clamped at the edge. */
static void
build_taps (Tap *t, int n_dst, int n_src)
{
  double ratio = (double) n_src / n_dst;
  for (int d = 0; d < n_dst; d++) {
    double s = d * ratio;
    int i0 = (int) floor (s);
    i0 = CLAMP (i0, 0, n_src - 1);
    t[d].i0 = i0;
    t[d].i1 = MIN (i0 + 1, n_src - 1);
    t[d].w1 = (float) (s - i0);
  }
}

static void
configure (SnPreprocessor *pp, int src_w, int src_h)
{
  pp->src_w = src_w;
  pp->src_h = src_h;
  for (int k = 0; k < 2; k++)
    pp->row[k] = g_renew (float, pp->row[k], (size_t) src_w * 3);
  int cw = pp->width, ch = pp->height;
  if (pp->mode == SN_RESIZE_LETTERBOX) {
    double s = MIN ((double) pp->width / src_w, (double) pp->height / src_h);
    cw = MAX (1, (int) lround (src_w * s));
    ch = MAX (1, (int) lround (src_h * s));
  }
  pp->x_begin = (pp->width - cw) / 2;
  pp->y_begin = (pp->height - ch) / 2;
  pp->x_end = pp->x_begin + cw;
  pp->y_end = pp->y_begin + ch;
  build_taps (pp->xt + pp->x_begin, cw, src_w);
  build_taps (pp->yt + pp->y_begin, ch, src_h);
  pp->lb = (SnLetterbox) {
    .scale_x = (double) cw / src_w, .scale_y = (double) ch / src_h,
    .offset_x = pp->x_begin, .offset_y = pp->y_begin,
    .src_width = src_w, .src_height = src_h,
  };
}

/* Channel offsets of R, G, B and the pixel size of the packed formats. */
static gboolean
packed_layout (SnPixelFormat f, int *r, int *g, int *b, int *bpp)
{
  switch (f) {
    case SN_PIXEL_RGB: *r = 0; *g = 1; *b = 2; *bpp = 3; return TRUE;
    case SN_PIXEL_BGR: *r = 2; *g = 1; *b = 0; *bpp = 3; return TRUE;
    case SN_PIXEL_RGBX: case SN_PIXEL_RGBA: *r = 0; *g = 1; *b = 2; *bpp = 4; return TRUE;
    case SN_PIXEL_BGRX: case SN_PIXEL_BGRA: *r = 2; *g = 1; *b = 0; *bpp = 4; return TRUE;
    case SN_PIXEL_XRGB: *r = 1; *g = 2; *b = 3; *bpp = 4; return TRUE;
    case SN_PIXEL_XBGR: *r = 3; *g = 2; *b = 1; *bpp = 4; return TRUE;
    default: return FALSE;
  }
}

static inline float
clamp255 (float v)
{
  return v < 0 ? 0 : (v > 255 ? 255 : v);
}

/* BT.601 limited range. */
static inline void
yuv_to_rgb (int y, int u, int v, float *rgb)
{
  float c = 1.164383f * (y - 16), d = u - 128, e = v - 128;
  rgb[0] = clamp255 (c + 1.596027f * e);
  rgb[1] = clamp255 (c - 0.391762f * d - 0.812968f * e);
  rgb[2] = clamp255 (c + 2.017232f * d);
}

/* Source row y as float R, G, B per pixel, converted into a free slot of
 * the two-row cache unless it is there already; `keep` is the row the
 * caller still needs. */
static const float *
source_row (SnPreprocessor *pp, const SnImage *img, int y, int keep)
{
  for (int k = 0; k < 2; k++)
    if (pp->row_y[k] == y)
      return pp->row[k];
  int k = pp->row_y[0] == keep ? 1 : 0;
  float *out = pp->row[k];
  pp->row_y[k] = y;
  int w = img->width, r, g, b, bpp;
  if (packed_layout (img->format, &r, &g, &b, &bpp)) {
    const guint8 *p = img->planes[0] + (size_t) y * img->strides[0];
    for (int x = 0; x < w; x++) {
      out[3 * x] = p[x * bpp + r];
      out[3 * x + 1] = p[x * bpp + g];
      out[3 * x + 2] = p[x * bpp + b];
    }
  } else {
    const guint8 *Y = img->planes[0] + (size_t) y * img->strides[0];
    const guint8 *u = img->planes[1] + (size_t) (y / 2) * img->strides[1], *v = u + 1;
    int step = 2;                         /* NV12: U and V interleaved */
    if (img->format == SN_PIXEL_I420) {
      v = img->planes[2] + (size_t) (y / 2) * img->strides[2];
      step = 1;
    }
    for (int x = 0; x < w; x++)
      yuv_to_rgb (Y[x], u[(x / 2) * step], v[(x / 2) * step], out + 3 * x);
  }
  return out;
}

static gboolean
validate (const SnImage *img, const SnTensor *out, int width, int height, GError **error)
{
  if (out->dtype != SN_DTYPE_FLOAT32 || out->shape.rank != 4 || out->shape.dims[0] != 1
      || out->shape.dims[1] != height || out->shape.dims[2] != width || out->shape.dims[3] != 3) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "preprocess output must be float32 1x%dx%dx3", height, width);
    return FALSE;
  }
  if (img->width <= 0 || img->height <= 0 || img->width > 16384 || img->height > 16384) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "invalid frame size %dx%d",
        img->width, img->height);
    return FALSE;
  }
  int r, g, b, bpp;
  int n_planes = packed_layout (img->format, &r, &g, &b, &bpp) ? 1 : 2 + (img->format == SN_PIXEL_I420);
  if (n_planes == 1 && img->strides[0] < img->width * bpp) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "%s stride %d is smaller than a row",
        sn_pixel_format_name (img->format), img->strides[0]);
    return FALSE;
  }
  if (n_planes > 1) {
    int cw = (img->width + 1) / 2;
    if (img->strides[0] < img->width || img->strides[1] < (img->format == SN_PIXEL_NV12 ? 2 * cw : cw)
        || (n_planes == 3 && img->strides[2] < cw)) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "%s strides are smaller than a row",
          sn_pixel_format_name (img->format));
      return FALSE;
    }
  }
  for (int p = 0; p < n_planes; p++) {
    if (!img->planes[p]) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "%s plane %d is missing",
          sn_pixel_format_name (img->format), p);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
sn_preprocess (SnPreprocessor *pp, const SnImage *img, SnTensor *out,
    SnLetterbox *lb, GError **error)
{
  if (!validate (img, out, pp->width, pp->height, error))
    return FALSE;
  if (img->width != pp->src_w || img->height != pp->src_h)
    configure (pp, img->width, img->height);

  float *dst = out->data;
  const float scale = pp->scale, bias = pp->bias;
  pp->row_y[0] = pp->row_y[1] = -1;       /* a new frame */
  for (int y = 0; y < pp->height; y++) {
    float *row = dst + (size_t) y * pp->width * 3;
    if (y < pp->y_begin || y >= pp->y_end) {
      for (int i = 0; i < pp->width * 3; i++)
        row[i] = pp->pad;
      continue;
    }
    const Tap ty = pp->yt[y];
    const float *r0 = source_row (pp, img, ty.i0, -1), *r1 = source_row (pp, img, ty.i1, ty.i0);
    for (int x = 0; x < pp->width; x++) {
      float *px = row + x * 3;
      if (x < pp->x_begin || x >= pp->x_end) {
        px[0] = px[1] = px[2] = pp->pad;
        continue;
      }
      const Tap tx = pp->xt[x];
      const float *c[4] = { r0 + 3 * tx.i0, r0 + 3 * tx.i1, r1 + 3 * tx.i0, r1 + 3 * tx.i1 };
      for (int ch = 0; ch < 3; ch++) {
        float top = c[0][ch] + (c[1][ch] - c[0][ch]) * tx.w1;
        float bot = c[2][ch] + (c[3][ch] - c[2][ch]) * tx.w1;
        px[ch] = (top + (bot - top) * ty.w1) * scale + bias;
      }
    }
  }
  if (lb)
    *lb = pp->lb;
  return TRUE;
}

void
sn_letterbox_to_source (const SnLetterbox *lb, float *x0, float *y0, float *x1, float *y1)
{
  float w = lb->src_width, h = lb->src_height;
  *x0 = CLAMP ((float) ((*x0 - lb->offset_x) / lb->scale_x), 0.0f, w);
  *x1 = CLAMP ((float) ((*x1 - lb->offset_x) / lb->scale_x), 0.0f, w);
  *y0 = CLAMP ((float) ((*y0 - lb->offset_y) / lb->scale_y), 0.0f, h);
  *y1 = CLAMP ((float) ((*y1 - lb->offset_y) / lb->scale_y), 0.0f, h);
}
