/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — a CenterNet detector on top of a model: preprocessing, the
 * network (whole, or split into edge and cloud parts), and decoding.
 *
 * The model contract (what tools/convert/tfjs2onnx.py produces and
 * docs/model.md describes): one input 1xHxWx3 NHWC float32 RGB 0-255;
 * outputs "keypoints" 1xH/4xW/4xC (sigmoid heatmaps) and "wh" 1xH/4xW/4x4. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-model.h>
#include <splitnn/sn-image.h>
#include <splitnn/sn-detect.h>

G_BEGIN_DECLS

typedef struct SnDetector SnDetector;

typedef struct {
  double preprocess_ms;
  double inference_ms;
  double decode_ms;
} SnDetectorTimings;

/* Checks the model against the contract above. */
SN_API SnDetector *sn_detector_new (SnModel *model, GError **error);
SN_API void sn_detector_free (SnDetector *det);

SN_API SnDecodeParams *sn_detector_decode_params (SnDetector *det);
SN_API void sn_detector_set_threads (SnDetector *det, int n_threads);
SN_API void sn_detector_set_resize (SnDetector *det, SnResizeMode mode);
SN_API int sn_detector_input_width (const SnDetector *det);
SN_API int sn_detector_input_height (const SnDetector *det);

/* Frame -> model input tensor (owned by the detector) and the letterbox. */
SN_API const SnTensor *sn_detector_preprocess (SnDetector *det, const SnImage *img,
    SnLetterbox *lb, GError **error);
/* Heads -> detections in source pixels. */
SN_API gboolean sn_detector_decode (SnDetector *det, const SnTensor *keypoints,
    const SnTensor *wh, const SnLetterbox *lb, SnDetections *out, GError **error);
/* All three steps with the whole model. */
SN_API gboolean sn_detector_run (SnDetector *det, const SnImage *img,
    SnDetections *out, SnDetectorTimings *timings, GError **error);

G_END_DECLS
