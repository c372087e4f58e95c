/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — CenterNet detector (see sn-detector.h). */
#include "splitnn/sn-detector.h"

#include <string.h>

#include "splitnn/sn-error.h"

struct SnDetector {
  SnModel *model;
  SnSegment *whole;         /* created on first sn_detector_run */
  SnPreprocessor *pp;
  SnResizeMode resize;
  SnTensor *input;
  int width, height;
  int threads;
  SnDecodeParams params;
};

static gboolean
check_output (SnModel *m, const char *name, int channels, SnShape *s, GError **error)
{
  SnDType dt;
  if (!sn_model_value_info (m, name, &dt, s) || dt != SN_DTYPE_FLOAT32 || s->rank != 4
      || (channels > 0 && s->dims[3] != channels)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "the model has no float32 1xHxWx%s output named '%s'", channels > 0 ? "4" : "C", name);
    return FALSE;
  }
  return TRUE;
}

SnDetector *
sn_detector_new (SnModel *model, GError **error)
{
  SnDType dt;
  SnShape in, heat, wh;
  if (sn_model_n_inputs (model) != 1
      || !sn_model_value_info (model, sn_model_input_name (model, 0), &dt, &in)
      || dt != SN_DTYPE_FLOAT32 || in.rank != 4 || in.dims[0] != 1 || in.dims[3] != 3) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "a detector model needs one float32 1xHxWx3 (NHWC) input");
    return NULL;
  }
  if (!check_output (model, "keypoints", 0, &heat, error) || !check_output (model, "wh", 4, &wh, error))
    return NULL;
  SnDetector *d = g_new0 (SnDetector, 1);
  d->model = model;
  d->height = (int) in.dims[1];
  d->width = (int) in.dims[2];
  d->threads = 1;
  d->resize = SN_RESIZE_STRETCH;
  d->input = sn_tensor_new (SN_DTYPE_FLOAT32, &in);
  sn_decode_params_init (&d->params);
  d->params.stride = (int) (in.dims[1] / heat.dims[1]);
  return d;
}

void
sn_detector_free (SnDetector *d)
{
  if (!d)
    return;
  sn_segment_free (d->whole);
  sn_preprocessor_free (d->pp);
  sn_tensor_free (d->input);
  g_free (d);
}

SnDecodeParams *
sn_detector_decode_params (SnDetector *d)
{
  return &d->params;
}

void
sn_detector_set_threads (SnDetector *d, int n)
{
  d->threads = MAX (0, n);      /* 0: sn_segment_set_threads picks */
  if (d->whole)
    sn_segment_set_threads (d->whole, d->threads);
}

void
sn_detector_set_resize (SnDetector *d, SnResizeMode mode)
{
  d->resize = mode;
  sn_preprocessor_free (d->pp);
  d->pp = NULL;
}

int sn_detector_input_width (const SnDetector *d) { return d->width; }
int sn_detector_input_height (const SnDetector *d) { return d->height; }

const SnTensor *
sn_detector_preprocess (SnDetector *d, const SnImage *img, SnLetterbox *lb, GError **error)
{
  if (!d->pp)
    d->pp = sn_preprocessor_new (d->width, d->height, d->resize, 1.0f, 0.0f, 0.0f);
  return sn_preprocess (d->pp, img, d->input, lb, error) ? d->input : NULL;
}

gboolean
sn_detector_decode (SnDetector *d, const SnTensor *keypoints, const SnTensor *wh,
    const SnLetterbox *lb, SnDetections *out, GError **error)
{
  return sn_centernet_decode (keypoints, wh, &d->params, lb, out, error);
}

static double
ms_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1000.0;
}

gboolean
sn_detector_run (SnDetector *d, const SnImage *img, SnDetections *out,
    SnDetectorTimings *timings, GError **error)
{
  if (!d->whole) {
    const char *outs[] = { "keypoints", "wh" };
    d->whole = sn_segment_new (d->model, NULL, 0, outs, 2, error);
    if (!d->whole)
      return FALSE;
    sn_segment_set_threads (d->whole, d->threads);
  }
  SnDetectorTimings t = { 0 };
  SnLetterbox lb;
  gint64 t0 = g_get_monotonic_time ();
  const SnTensor *x = sn_detector_preprocess (d, img, &lb, error);
  if (!x)
    return FALSE;
  t.preprocess_ms = ms_since (t0);
  t0 = g_get_monotonic_time ();
  if (!sn_segment_run (d->whole, &x, error))
    return FALSE;
  t.inference_ms = ms_since (t0);
  t0 = g_get_monotonic_time ();
  gboolean ok = sn_detector_decode (d, sn_segment_output (d->whole, 0),
      sn_segment_output (d->whole, 1), &lb, out, error);
  t.decode_ms = ms_since (t0);
  if (timings)
    *timings = t;
  return ok;
}
