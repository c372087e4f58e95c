/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — labelled boxes with cairo. */
#include "splitnn/sn-draw.h"

#include <cairo.h>
#include <math.h>
#include <stdio.h>

#include "splitnn/sn-error.h"

/* One stable colour per class, spread around the hue circle. */
static void
class_colour (int c, double *r, double *g, double *b)
{
  double h = fmod (c * 0.61803398875, 1.0) * 6.0;
  double x = 1 - fabs (fmod (h, 2.0) - 1);
  double rgb[6][3] = { { 1, x, 0 }, { x, 1, 0 }, { 0, 1, x }, { 0, x, 1 }, { x, 0, 1 }, { 1, 0, x } };
  int i = (int) h % 6;
  *r = 0.2 + 0.8 * rgb[i][0];
  *g = 0.2 + 0.8 * rgb[i][1];
  *b = 0.2 + 0.8 * rgb[i][2];
}

static void
draw (cairo_t *cr, const SnDetections *d)
{
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
  cairo_set_font_size (cr, 13);
  cairo_set_line_width (cr, 2);
  for (int i = 0; i < d->n; i++) {
    const SnDetection *e = &d->items[i];
    double r, g, b;
    class_colour (e->class_id, &r, &g, &b);
    cairo_set_source_rgb (cr, r, g, b);
    cairo_rectangle (cr, e->x0, e->y0, e->x1 - e->x0, e->y1 - e->y0);
    cairo_stroke (cr);
    char text[64];
    g_snprintf (text, sizeof text, "%s %.2f", e->label, e->score);
    cairo_text_extents_t ext;
    cairo_text_extents (cr, text, &ext);
    double ty = e->y0 > ext.height + 4 ? e->y0 - 3 : e->y0 + ext.height + 3;
    cairo_rectangle (cr, e->x0 - 1, ty - ext.height - 2, ext.x_advance + 4, ext.height + 4);
    cairo_fill (cr);
    cairo_set_source_rgb (cr, 0, 0, 0);
    cairo_move_to (cr, e->x0 + 1, ty);
    cairo_show_text (cr, text);
  }
}

static void
draw_on (guint8 *data, cairo_format_t format, int width, int height, int stride,
    const SnDetections *d)
{
  cairo_surface_t *s = cairo_image_surface_create_for_data (data, format, width, height, stride);
  cairo_t *cr = cairo_create (s);
  draw (cr, d);
  cairo_destroy (cr);
  cairo_surface_flush (s);
  cairo_surface_destroy (s);
}

void
sn_draw_detections_bgrx (guint8 *data, int width, int height, int stride,
    const SnDetections *d)
{
  draw_on (data, CAIRO_FORMAT_RGB24, width, height, stride, d);
}

void
sn_draw_detections_argb (guint8 *data, int width, int height, int stride,
    const SnDetections *d)
{
  draw_on (data, CAIRO_FORMAT_ARGB32, width, height, stride, d);
}

gboolean
sn_draw_png (const guint8 *rgb, int width, int height, int stride,
    const SnDetections *d, const char *path, GError **error)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
  guint8 *dst = cairo_image_surface_get_data (s);
  int ds = cairo_image_surface_get_stride (s);
  for (int y = 0; y < height; y++) {
    const guint8 *in = rgb + (size_t) y * stride;
    guint32 *out = (guint32 *) (dst + (size_t) y * ds);
    for (int x = 0; x < width; x++)
      out[x] = 0xff000000u | (guint32) in[3 * x] << 16 | (guint32) in[3 * x + 1] << 8 | in[3 * x + 2];
  }
  cairo_surface_mark_dirty (s);
  cairo_t *cr = cairo_create (s);
  draw (cr, d);
  cairo_destroy (cr);
  cairo_status_t st = cairo_surface_write_to_png (s, path);
  cairo_surface_destroy (s);
  if (st != CAIRO_STATUS_SUCCESS) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "cannot write %s: %s", path,
        cairo_status_to_string (st));
    return FALSE;
  }
  return TRUE;
}
