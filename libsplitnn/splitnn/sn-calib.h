/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — stored calibration of feature quantization ranges.
 *
 * A model may carry, in the metadata_props key "splitnn.calibration", the
 * ranges its cut tensors took over a set of calibration frames (docs/model.md
 * has the JSON schema).  The model loader parses and validates it; the
 * feature encoder uses it with SN_RANGE_CALIBRATED instead of each frame's
 * own min/max, so a frame's packet no longer depends on that frame's
 * outliers.  `splitnn calibrate` writes it. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-model.h>

G_BEGIN_DECLS

#define SN_CALIBRATION_KEY "splitnn.calibration"

typedef struct {
  int channels;             /* axis 1 of the tensor (1 for rank < 2) */
  int frames;               /* calibration frames the ranges come from */
  double clip;              /* the fraction the clip_ ranges keep */
  const float *min, *max;   /* per channel, over all frames */
  const float *clip_min, *clip_max;  /* per channel, clipped (see the schema) */
} SnCalibration;

/* The model's stored ranges of `tensor` (borrowed from the model); FALSE
 * when the model has no calibration for it. */
SN_API gboolean sn_model_calibration (const SnModel *model, const char *tensor, SnCalibration *out);

/* Accumulates ranges over frames, as `splitnn calibrate` does. */
typedef struct SnCalibrator SnCalibrator;

SN_API SnCalibrator *sn_calibrator_new (double clip);
SN_API void sn_calibrator_free (SnCalibrator *c);
/* One frame's value of `tensor` (float32; the channel count must stay the
 * same from frame to frame). */
SN_API gboolean sn_calibrator_add (SnCalibrator *c, const char *tensor, const SnTensor *x,
    GError **error);
/* The splitnn.calibration JSON of what was added; g_free it. */
SN_API char *sn_calibrator_to_json (const SnCalibrator *c, const char *source);

/* Copies the ONNX file in_path to out_path with metadata_props[key] set to
 * value (added or replaced); everything else is kept as it was.  Refuses
 * out_path naming the same file as in_path. */
SN_API gboolean sn_onnx_save_with_metadata (const char *in_path, const char *out_path,
    const char *key, const char *value, GError **error);

G_END_DECLS
