/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Preprocessing, CenterNet decoding and mAP, each against an independent
 * straightforward implementation or hand-computed values. */
#include <check.h>
#include <math.h>
#include <string.h>

#include <splitnn/splitnn.h>

/* ---- Preprocessing ---------------------------------------------------------- */

/* Per-pixel double-precision bilinear on an RGB source, the grid of TF's
 * ResizeBilinear (no half-pixel centres). */
static double
naive_sample (const guint8 *rgb, int w, int h, int stride, int ch, double sx, double sy)
{
  int x0 = (int) floor (sx), y0 = (int) floor (sy);
  int x1 = MIN (x0 + 1, w - 1), y1 = MIN (y0 + 1, h - 1);
  double fx = sx - x0, fy = sy - y0;
  double a = rgb[y0 * stride + x0 * 3 + ch], b = rgb[y0 * stride + x1 * 3 + ch];
  double c = rgb[y1 * stride + x0 * 3 + ch], d = rgb[y1 * stride + x1 * 3 + ch];
  return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
}

static guint8 *
random_rgb (int w, int h, int stride, guint32 seed)
{
  guint8 *p = g_malloc (stride * h);
  GRand *r = g_rand_new_with_seed (seed);
  for (int i = 0; i < stride * h; i++)
    p[i] = (guint8) g_rand_int (r);
  g_rand_free (r);
  return p;
}

START_TEST (test_preprocess_stretch_vs_naive)
{
  /* Odd sizes, padded stride, up- and down-scaling. */
  static const int sizes[][2] = { { 37, 23 }, { 768, 576 }, { 5, 3 } };
  for (size_t k = 0; k < G_N_ELEMENTS (sizes); k++) {
    int w = sizes[k][0], h = sizes[k][1], stride = w * 3 + 5;
    g_autofree guint8 *rgb = random_rgb (w, h, stride, 11 + k);
    int dw = 64, dh = 48;
    SnPreprocessor *pp = sn_preprocessor_new (dw, dh, SN_RESIZE_STRETCH, 1.0f / 255, -0.5f, 0);
    SnShape s = sn_shape_make (4, (int64_t[]) { 1, dh, dw, 3 });
    g_autoptr (SnTensor) out = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
    SnImage img = { SN_PIXEL_RGB, w, h, { rgb }, { stride } };
    SnLetterbox lb;
    ck_assert (sn_preprocess (pp, &img, out, &lb, NULL));
    const float *o = out->data;
    for (int y = 0; y < dh; y++)
      for (int x = 0; x < dw; x++)
        for (int c = 0; c < 3; c++) {
          double want = naive_sample (rgb, w, h, stride, c, x * (double) w / dw, y * (double) h / dh) / 255 - 0.5;
          ck_assert_msg (fabs (o[(y * dw + x) * 3 + c] - want) < 1e-5, "%dx%d at %d,%d,%d", w, h, x, y, c);
        }
    ck_assert_double_eq_tol (lb.scale_x, (double) dw / w, 1e-12);
    ck_assert_double_eq_tol (lb.offset_x, 0, 1e-12);
    sn_preprocessor_free (pp);
  }
}
END_TEST

START_TEST (test_preprocess_formats_agree)
{
  /* The same picture as RGB, BGR, BGRx and xRGB gives the same tensor. */
  int w = 21, h = 13;
  g_autofree guint8 *rgb = random_rgb (w, h, w * 3, 5);
  g_autofree guint8 *bgr = g_malloc (w * h * 3), *bgrx = g_malloc (w * h * 4), *xrgb = g_malloc (w * h * 4);
  for (int i = 0; i < w * h; i++) {
    guint8 r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    bgr[3 * i] = b; bgr[3 * i + 1] = g; bgr[3 * i + 2] = r;
    bgrx[4 * i] = b; bgrx[4 * i + 1] = g; bgrx[4 * i + 2] = r; bgrx[4 * i + 3] = 77;
    xrgb[4 * i] = 99; xrgb[4 * i + 1] = r; xrgb[4 * i + 2] = g; xrgb[4 * i + 3] = b;
  }
  SnImage imgs[] = {
    { SN_PIXEL_RGB, w, h, { rgb }, { w * 3 } }, { SN_PIXEL_BGR, w, h, { bgr }, { w * 3 } },
    { SN_PIXEL_BGRX, w, h, { bgrx }, { w * 4 } }, { SN_PIXEL_XRGB, w, h, { xrgb }, { w * 4 } },
  };
  SnShape s = sn_shape_make (4, (int64_t[]) { 1, 16, 16, 3 });
  g_autoptr (SnTensor) first = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  g_autoptr (SnTensor) other = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  SnPreprocessor *pp = sn_preprocessor_new (16, 16, SN_RESIZE_STRETCH, 1, 0, 0);
  ck_assert (sn_preprocess (pp, &imgs[0], first, NULL, NULL));
  for (size_t i = 1; i < G_N_ELEMENTS (imgs); i++) {
    ck_assert (sn_preprocess (pp, &imgs[i], other, NULL, NULL));
    ck_assert_int_eq (memcmp (first->data, other->data, sn_tensor_nbytes (first)), 0);
  }
  sn_preprocessor_free (pp);
}
END_TEST

/* Random I420 and NV12 frames of odd size (the last chroma sample covers
 * one luma column) against per-sample BT.601 in double precision and the
 * naive bilinear: the converted-row cache must give what converting every
 * tap would. */
static void
naive_yuv (const guint8 *Y, const guint8 *U, const guint8 *V, int w, int cw, int x, int y, double *rgb)
{
  double c = 1.164383 * (Y[y * w + x] - 16), d = U[(y / 2) * cw + x / 2] - 128.0,
      e = V[(y / 2) * cw + x / 2] - 128.0;
  rgb[0] = CLAMP (c + 1.596027 * e, 0, 255);
  rgb[1] = CLAMP (c - 0.391762 * d - 0.812968 * e, 0, 255);
  rgb[2] = CLAMP (c + 2.017232 * d, 0, 255);
}

START_TEST (test_preprocess_yuv_bt601)
{
  /* A flat I420 / NV12 frame: every output pixel is the BT.601 colour. */
  int w = 9, h = 7, cw = 5, ch = 4;
  guint8 Y[9 * 7], U[5 * 4], V[5 * 4], UV[10 * 4];
  memset (Y, 120, sizeof Y);
  memset (U, 90, sizeof U);
  memset (V, 200, sizeof V);
  for (int i = 0; i < cw * ch; i++) {
    UV[2 * i] = 90;
    UV[2 * i + 1] = 200;
  }
  double want[3];
  naive_yuv (Y, U, V, w, cw, 0, 0, want);          /* a flat frame: one colour */
  SnImage i420 = { SN_PIXEL_I420, w, h, { Y, U, V }, { w, cw, cw } };
  SnImage nv12 = { SN_PIXEL_NV12, w, h, { Y, UV }, { w, 2 * cw } };
  SnShape s = sn_shape_make (4, (int64_t[]) { 1, 4, 4, 3 });
  g_autoptr (SnTensor) out = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  SnPreprocessor *pp = sn_preprocessor_new (4, 4, SN_RESIZE_STRETCH, 1, 0, 0);
  const SnImage *imgs[] = { &i420, &nv12 };
  for (int k = 0; k < 2; k++) {
    ck_assert (sn_preprocess (pp, imgs[k], out, NULL, NULL));
    for (int i = 0; i < 16 * 3; i++)
      ck_assert_msg (fabs (((float *) out->data)[i] - want[i % 3]) < 1e-3, "%d: %f vs %f", i,
          ((float *) out->data)[i], want[i % 3]);
  }
  sn_preprocessor_free (pp);
}
END_TEST

START_TEST (test_preprocess_yuv_vs_naive)
{
  int w = 37, h = 23, cw = 19, ch = 12;
  g_autofree guint8 *Y = random_rgb (w, h, w, 3), *U = random_rgb (cw, ch, cw, 4);
  g_autofree guint8 *V = random_rgb (cw, ch, cw, 5), *UV = g_malloc (2 * cw * ch);
  for (int i = 0; i < cw * ch; i++) {
    UV[2 * i] = U[i];
    UV[2 * i + 1] = V[i];
  }
  SnImage i420 = { SN_PIXEL_I420, w, h, { Y, U, V }, { w, cw, cw } };
  SnImage nv12 = { SN_PIXEL_NV12, w, h, { Y, UV }, { w, 2 * cw } };
  static const int sizes[][2] = { { 16, 12 }, { 64, 48 } };
  for (size_t k = 0; k < G_N_ELEMENTS (sizes); k++) {
    int dw = sizes[k][0], dh = sizes[k][1];
    SnShape s = sn_shape_make (4, (int64_t[]) { 1, dh, dw, 3 });
    g_autoptr (SnTensor) out = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
    SnPreprocessor *pp = sn_preprocessor_new (dw, dh, SN_RESIZE_STRETCH, 1, 0, 0);
    const SnImage *imgs[] = { &i420, &nv12 };
    for (int f = 0; f < 2; f++) {
      ck_assert (sn_preprocess (pp, imgs[f], out, NULL, NULL));
      const float *o = out->data;
      for (int y = 0; y < dh; y++)
        for (int x = 0; x < dw; x++) {
          double sx = x * (double) w / dw, sy = y * (double) h / dh;
          int x0 = (int) floor (sx), y0 = (int) floor (sy), x1 = MIN (x0 + 1, w - 1), y1 = MIN (y0 + 1, h - 1);
          double fx = sx - x0, fy = sy - y0, a[3], b[3], c[3], d[3];
          naive_yuv (Y, U, V, w, cw, x0, y0, a);
          naive_yuv (Y, U, V, w, cw, x1, y0, b);
          naive_yuv (Y, U, V, w, cw, x0, y1, c);
          naive_yuv (Y, U, V, w, cw, x1, y1, d);
          for (int ch3 = 0; ch3 < 3; ch3++) {
            double want = (a[ch3] * (1 - fx) + b[ch3] * fx) * (1 - fy) + (c[ch3] * (1 - fx) + d[ch3] * fx) * fy;
            ck_assert_msg (fabs (o[(y * dw + x) * 3 + ch3] - want) < 2e-3, "%s %dx%d at %d,%d,%d: %f vs %f",
                f ? "NV12" : "I420", dw, dh, x, y, ch3, o[(y * dw + x) * 3 + ch3], want);
          }
        }
    }
    sn_preprocessor_free (pp);
  }
}
END_TEST

START_TEST (test_letterbox_geometry)
{
  /* 200x100 into 64x64: content 64x32 centred at y 16..48, pad elsewhere. */
  g_autofree guint8 *rgb = g_malloc0 (200 * 100 * 3);
  memset (rgb, 200, 200 * 100 * 3);
  SnPreprocessor *pp = sn_preprocessor_new (64, 64, SN_RESIZE_LETTERBOX, 1, 0, -1);
  SnShape s = sn_shape_make (4, (int64_t[]) { 1, 64, 64, 3 });
  g_autoptr (SnTensor) out = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  SnImage img = { SN_PIXEL_RGB, 200, 100, { rgb }, { 600 } };
  SnLetterbox lb;
  ck_assert (sn_preprocess (pp, &img, out, &lb, NULL));
  const float *o = out->data;
  ck_assert_float_eq (o[(15 * 64 + 10) * 3], -1);
  ck_assert_float_eq (o[(16 * 64 + 10) * 3], 200);
  ck_assert_float_eq (o[(47 * 64 + 10) * 3], 200);
  ck_assert_float_eq (o[(48 * 64 + 10) * 3], -1);
  ck_assert_double_eq_tol (lb.offset_y, 16, 1e-9);
  /* A box in model pixels back to the source: (32, 32) is the centre (100, 50). */
  float x0 = 32, y0 = 32, x1 = 64, y1 = 48;
  sn_letterbox_to_source (&lb, &x0, &y0, &x1, &y1);
  ck_assert_float_eq_tol (x0, 100, 1e-4);
  ck_assert_float_eq_tol (y0, 50, 1e-4);
  ck_assert_float_eq_tol (x1, 200, 1e-4);
  ck_assert_float_eq_tol (y1, 100, 1e-4);
  sn_preprocessor_free (pp);
}
END_TEST

START_TEST (test_preprocess_rejects)
{
  SnPreprocessor *pp = sn_preprocessor_new (8, 8, SN_RESIZE_STRETCH, 1, 0, 0);
  SnShape s = sn_shape_make (4, (int64_t[]) { 1, 8, 8, 3 });
  g_autoptr (SnTensor) out = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  guint8 px[16] = { 0 };
  SnImage small_stride = { SN_PIXEL_RGB, 4, 1, { px }, { 5 } };
  GError *err = NULL;
  ck_assert (!sn_preprocess (pp, &small_stride, out, NULL, &err));
  ck_assert (strstr (err->message, "stride"));
  g_clear_error (&err);
  SnImage missing = { SN_PIXEL_I420, 4, 4, { px, NULL, NULL }, { 4, 2, 2 } };
  ck_assert (!sn_preprocess (pp, &missing, out, NULL, &err));
  ck_assert (strstr (err->message, "plane"));
  g_clear_error (&err);
  sn_preprocessor_free (pp);
}
END_TEST

/* ---- Decoding ---------------------------------------------------------------- */

static SnTensor *
zeros (int h, int w, int c)
{
  SnShape s = sn_shape_make (4, (int64_t[]) { 1, h, w, c });
  return sn_tensor_new (SN_DTYPE_FLOAT32, &s);
}

#define AT(t, y, x, c, C, W) (((float *) (t)->data)[(((y) * (W)) + (x)) * (C) + (c)])

START_TEST (test_decode_peaks_and_boxes)
{
  const int H = 8, W = 8, C = 3;
  g_autoptr (SnTensor) heat = zeros (H, W, C);
  g_autoptr (SnTensor) wh = zeros (H, W, 4);
  AT (heat, 2, 3, 1, C, W) = 0.9f;         /* a peak */
  AT (heat, 2, 4, 1, C, W) = 0.8f;         /* its neighbour: not a peak */
  AT (heat, 2, 4, 2, C, W) = 0.5f;         /* same cell, other class: a peak */
  AT (heat, 7, 7, 0, C, W) = 0.3f;         /* corner: a peak */
  AT (heat, 5, 0, 0, C, W) = 0.1f;         /* below threshold */
  float *b = wh->data;
  b[(2 * W + 3) * 4 + 0] = 4; b[(2 * W + 3) * 4 + 1] = 2; b[(2 * W + 3) * 4 + 2] = 6; b[(2 * W + 3) * 4 + 3] = 8;
  SnDecodeParams p;
  sn_decode_params_init (&p);
  p.nms_iou = 0;
  SnDetections d;
  sn_detections_init (&d);
  ck_assert (sn_centernet_decode (heat, wh, &p, NULL, &d, NULL));
  ck_assert_int_eq (d.n, 3);
  ck_assert_int_eq (d.items[0].class_id, 1);
  ck_assert_float_eq (d.items[0].score, 0.9f);
  /* stride 4: centre (12, 8); box (12-4, 8-2, 12+6, 8+8). */
  ck_assert_float_eq (d.items[0].x0, 8);
  ck_assert_float_eq (d.items[0].y0, 6);
  ck_assert_float_eq (d.items[0].x1, 18);
  ck_assert_float_eq (d.items[0].y1, 16);
  ck_assert_str_eq (d.items[0].label, "bicycle");
  ck_assert_int_eq (d.items[1].class_id, 2);
  ck_assert_int_eq (d.items[2].class_id, 0);
  ck_assert_str_eq (d.items[2].label, "person");

  /* A plateau: equal neighbours are both peaks (heat == maxpool); ties keep
   * the lower NHWC index first. */
  memset (heat->data, 0, sn_tensor_nbytes (heat));
  AT (heat, 4, 4, 0, C, W) = 0.6f;
  AT (heat, 4, 5, 0, C, W) = 0.6f;
  ck_assert (sn_centernet_decode (heat, wh, &p, NULL, &d, NULL));
  ck_assert_int_eq (d.n, 2);
  ck_assert_float_eq (d.items[0].x0, 16);   /* x = 4 first */
  ck_assert_float_eq (d.items[1].x0, 20);

  /* top_k keeps the best K. */
  p.top_k = 1;
  ck_assert (sn_centernet_decode (heat, wh, &p, NULL, &d, NULL));
  ck_assert_int_eq (d.n, 1);
  sn_detections_clear (&d);
}
END_TEST

START_TEST (test_decode_nms_and_mapping)
{
  const int H = 8, W = 8, C = 2;
  g_autoptr (SnTensor) heat = zeros (H, W, C);
  g_autoptr (SnTensor) wh = zeros (H, W, 4);
  /* Two strong, heavily overlapping boxes of different classes at cells
   * (3,3) and (3,5): the weaker one goes (NMS is class-agnostic). */
  AT (heat, 3, 3, 0, C, W) = 0.9f;
  AT (heat, 3, 5, 1, C, W) = 0.7f;
  for (int x = 0; x < W; x++)
    for (int k = 0; k < 4; k++)
      ((float *) wh->data)[(3 * W + x) * 4 + k] = 10;
  SnDecodeParams p;
  sn_decode_params_init (&p);
  SnDetections d;
  sn_detections_init (&d);
  ck_assert (sn_centernet_decode (heat, wh, &p, NULL, &d, NULL));
  ck_assert_int_eq (d.n, 1);                /* IoU (20x20 shifted by 8) = 0.43 > 0.4 */
  p.nms_iou = 0.5f;
  ck_assert (sn_centernet_decode (heat, wh, &p, NULL, &d, NULL));
  ck_assert_int_eq (d.n, 2);
  /* Through a stretch letterbox of a 64x32 source from a 32x32 input. */
  SnLetterbox lb = { 0.5, 1.0, 0, 0, 64, 32 };
  ck_assert (sn_centernet_decode (heat, wh, &p, &lb, &d, NULL));
  ck_assert_float_eq (d.items[0].x0, 4);    /* (12 - 10) / 0.5 */
  ck_assert_float_eq (d.items[0].x1, 44);   /* (12 + 10) / 0.5 */
  ck_assert_float_eq (d.items[0].y0, 2);
  sn_detections_clear (&d);
  /* Mismatched heads are an error. */
  g_autoptr (SnTensor) bad = zeros (4, 4, 4);
  GError *err = NULL;
  ck_assert (!sn_centernet_decode (heat, bad, &p, NULL, &d, &err));
  ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_SHAPE));
  g_clear_error (&err);
}
END_TEST

/* ---- mAP ------------------------------------------------------------------------ */

static SnDetection
box (int c, float s, float x0, float y0, float x1, float y1)
{
  return (SnDetection) { c, sn_coco_label (c), s, x0, y0, x1, y1 };
}

static double
map_of (const SnDetection *pred, int np, const SnDetection *ref, int nr)
{
  SnDetections p = { np, np, (SnDetection *) pred }, r = { nr, nr, (SnDetection *) ref };
  SnEval *e = sn_eval_new (0.5f);
  sn_eval_add_frame (e, &p, &r);
  double m = sn_eval_map (e);
  sn_eval_free (e);
  return m;
}

START_TEST (test_map_hand_computed)
{
  SnDetection ref[2] = { box (0, 1, 0, 0, 10, 10), box (0, 1, 20, 20, 30, 30) };
  /* Perfect: 100. */
  ck_assert_double_eq_tol (map_of (ref, 2, ref, 2), 100, 1e-9);
  /* One of two found: recall tops at 0.5 with precision 1: 51 of 101 points. */
  ck_assert_double_eq_tol (map_of (ref, 1, ref, 2), 100.0 * 51 / 101, 1e-9);
  /* A false positive ranked first: precision 0.5 then 2/3 at recall 1;
   * the envelope is 2/3 everywhere. */
  SnDetection fp[3] = { box (0, 0.9f, 50, 50, 60, 60), box (0, 0.8f, 0, 0, 10, 10), box (0, 0.7f, 20, 20, 30, 30) };
  ck_assert_double_eq_tol (map_of (fp, 3, ref, 2), 100.0 * 2 / 3, 1e-9);
  /* Wrong class: nothing matches person; the extra class has no reference
   * boxes and does not count in the mean. */
  SnDetection wrong[2] = { box (16, 1, 0, 0, 10, 10), box (16, 1, 20, 20, 30, 30) };
  ck_assert_double_eq_tol (map_of (wrong, 2, ref, 2), 0, 1e-9);
  /* IoU just above and just below 0.5: a 10x10 box against one shifted by
   * 3 (IoU 70/130 = 0.538) and by 4 (60/140 = 0.43). */
  SnDetection near[1] = { box (0, 1, 3, 0, 13, 10) }, far[1] = { box (0, 1, 4, 0, 14, 10) };
  ck_assert_double_eq_tol (map_of (near, 1, ref, 1), 100, 1e-9);
  ck_assert_double_eq_tol (map_of (far, 1, ref, 1), 0, 1e-9);
  /* Empty frames: nothing to find and nothing found is perfect. */
  ck_assert_double_eq_tol (map_of (NULL, 0, NULL, 0), 100, 1e-9);
  ck_assert_double_eq_tol (map_of (ref, 1, NULL, 0), 0, 1e-9);
}
END_TEST

START_TEST (test_map_classes_and_frames)
{
  SnEval *e = sn_eval_new (0.5f);
  SnDetection a = box (0, 0.9f, 0, 0, 10, 10), b = box (2, 0.8f, 0, 0, 10, 10);
  SnDetections one_a = { 1, 1, &a }, one_b = { 1, 1, &b }, none = { 0, 0, NULL };
  sn_eval_add_frame (e, &one_a, &one_a);   /* person found */
  sn_eval_add_frame (e, &none, &one_b);    /* car missed */
  ck_assert_int_eq (sn_eval_n_frames (e), 2);
  ck_assert_double_eq_tol (sn_eval_class_ap (e, 0), 100, 1e-9);
  ck_assert_double_eq_tol (sn_eval_class_ap (e, 2), 0, 1e-9);
  ck_assert (sn_eval_class_ap (e, 5) < 0);
  ck_assert_double_eq_tol (sn_eval_map (e), 50, 1e-9);
  sn_eval_free (e);
}
END_TEST

/* ---- fidelity_ap50 (box-weighted AP@0.5, sn-eval.h) ------------------------------ */

typedef struct {
  double ap50, person, map50;
} Figures;

static Figures
fidelity_of (const SnDetection *pred, int np, const SnDetection *ref, int nr)
{
  SnDetections p = { np, np, (SnDetection *) pred }, r = { nr, nr, (SnDetection *) ref };
  SnEval *e = sn_eval_new_fidelity ();
  sn_eval_add_frame (e, &p, &r);
  Figures f = { sn_eval_ap50 (e), sn_eval_person_ap50 (e), sn_eval_map (e) };
  sn_eval_free (e);
  return f;
}

START_TEST (test_ap50_hand_computed)
{
  SnDetection ref[2] = { box (0, 0.9f, 0, 0, 10, 10), box (0, 0.8f, 20, 20, 30, 30) };
  /* Perfect match: every reference box found, nothing else: 100. */
  Figures f = fidelity_of (ref, 2, ref, 2);
  ck_assert_double_eq_tol (f.ap50, 100, 1e-9);
  ck_assert_double_eq_tol (f.person, 100, 1e-9);
  ck_assert_double_eq_tol (f.map50, 100, 1e-9);
  /* One of two missed: precision 1 up to recall 0.5, nothing beyond, so 51
   * of the 101 recall points (0, 0.01, ..., 0.5) score 1: 100 * 51 / 101. */
  f = fidelity_of (ref, 1, ref, 2);
  ck_assert_double_eq_tol (f.ap50, 100.0 * 51 / 101, 1e-9);
  ck_assert_double_eq_tol (f.person, 100.0 * 51 / 101, 1e-9);
  /* A false positive scored above every true positive: precision 0/1,
   * 1/2, 2/3 at recall 0, 0.5, 1; the envelope is 2/3 at every recall
   * point: 66.67. */
  SnDetection fp[3] = { box (0, 0.95f, 50, 50, 60, 60), box (0, 0.9f, 0, 0, 10, 10),
    box (0, 0.8f, 20, 20, 30, 30) };
  f = fidelity_of (fp, 3, ref, 2);
  ck_assert_double_eq_tol (f.ap50, 100.0 * 2 / 3, 1e-9);
  ck_assert_double_eq_tol (f.map50, 100.0 * 2 / 3, 1e-9);
  /* The same false positive under every true positive costs nothing: the
   * envelope is 1 up to recall 1. */
  SnDetection fp_low[3] = { ref[0], ref[1], box (0, 0.1f, 50, 50, 60, 60) };
  ck_assert_double_eq_tol (fidelity_of (fp_low, 3, ref, 2).ap50, 100, 1e-9);
}
END_TEST

START_TEST (test_ap50_weighted_by_reference_boxes)
{
  /* Two classes with unequal counts: three persons, all found (AP 100), and
   * one car, missed (AP 0).  Weighted by reference boxes: (3 * 100 + 1 * 0)
   * / 4 = 75; person alone 100; the plain class mean (map50) 50. */
  SnDetection ref[4] = { box (0, 0.9f, 0, 0, 10, 10), box (0, 0.9f, 20, 0, 30, 10),
    box (0, 0.9f, 40, 0, 50, 10), box (2, 0.9f, 0, 40, 20, 60) };
  Figures f = fidelity_of (ref, 3, ref, 4);
  ck_assert_double_eq_tol (f.ap50, 75, 1e-9);
  ck_assert_double_eq_tol (f.person, 100, 1e-9);
  ck_assert_double_eq_tol (f.map50, 50, 1e-9);
  /* Reversed: the car found and the persons missed: (0 * 3 + 100 * 1) / 4
   * = 25, person 0, map50 still 50. */
  f = fidelity_of (&ref[3], 1, ref, 4);
  ck_assert_double_eq_tol (f.ap50, 25, 1e-9);
  ck_assert_double_eq_tol (f.person, 0, 1e-9);
  ck_assert_double_eq_tol (f.map50, 50, 1e-9);
  /* No person in the reference: person_ap50 is undefined (< 0). */
  ck_assert (fidelity_of (&ref[3], 1, &ref[3], 1).person < 0);
}
END_TEST

START_TEST (test_ap50_score_floors_and_frames)
{
  /* Reference: A (score 0.9) counts, B (0.2, under the reference floor 0.3)
   * does not.  Candidates: one on B at 0.6 (a false positive: B is not a
   * reference box), one on A at 0.2 (a true positive under 0.3, over the
   * candidates' floor 0.05), one on A at 0.04 (under every floor).
   * ap50: FP then TP: precision 0 then 1/2 at recall 1: 50.
   * map50 cuts candidates at 0.3 too: only the FP is left: 0. */
  SnDetection ref[2] = { box (0, 0.9f, 0, 0, 10, 10), box (0, 0.2f, 20, 20, 30, 30) };
  SnDetection pred[3] = { box (0, 0.6f, 20, 20, 30, 30), box (0, 0.2f, 0, 0, 10, 10),
    box (0, 0.04f, 0, 0, 10, 10) };
  Figures f = fidelity_of (pred, 3, ref, 2);
  ck_assert_double_eq_tol (f.ap50, 50, 1e-9);
  ck_assert_double_eq_tol (f.map50, 0, 1e-9);
  /* Only the candidate under every floor: nothing found. */
  ck_assert_double_eq_tol (fidelity_of (&pred[2], 1, ref, 2).ap50, 0, 1e-9);

  /* Over frames, as COCO does: scores are ranked across frames.  Frame 1:
   * one person found at 0.5.  Frame 2: a false positive at 0.9 and its one
   * person missed.  Ranked: FP (0.9) then TP (0.5): precision 0, 1/2 at
   * recall 0.5; the envelope is 1/2 up to recall 0.5: 100 * 0.5 * 51 / 101. */
  SnEval *e = sn_eval_new_fidelity ();
  SnDetection a = box (0, 0.9f, 0, 0, 10, 10), ta = box (0, 0.5f, 0, 0, 10, 10);
  SnDetection fp = box (0, 0.9f, 50, 50, 60, 60);
  SnDetections ref1 = { 1, 1, &a }, pred1 = { 1, 1, &ta }, pred2 = { 1, 1, &fp };
  sn_eval_add_frame (e, &pred1, &ref1);
  sn_eval_add_frame (e, &pred2, &ref1);
  ck_assert_int_eq (sn_eval_class_n_ref (e, 0), 2);
  ck_assert_double_eq_tol (sn_eval_ap50 (e), 100.0 * 0.5 * 51 / 101, 1e-9);
  sn_eval_free (e);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("detect");
  TCase *tc = tcase_create ("detect");
  tcase_add_test (tc, test_preprocess_stretch_vs_naive);
  tcase_add_test (tc, test_preprocess_formats_agree);
  tcase_add_test (tc, test_preprocess_yuv_bt601);
  tcase_add_test (tc, test_preprocess_yuv_vs_naive);
  tcase_add_test (tc, test_letterbox_geometry);
  tcase_add_test (tc, test_preprocess_rejects);
  tcase_add_test (tc, test_decode_peaks_and_boxes);
  tcase_add_test (tc, test_decode_nms_and_mapping);
  tcase_add_test (tc, test_map_hand_computed);
  tcase_add_test (tc, test_map_classes_and_frames);
  tcase_add_test (tc, test_ap50_hand_computed);
  tcase_add_test (tc, test_ap50_weighted_by_reference_boxes);
  tcase_add_test (tc, test_ap50_score_floors_and_frames);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
