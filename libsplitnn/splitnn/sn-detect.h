/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — detections: CenterNet decoding, COCO labels, lists.
 *
 * The decoder reproduces the post-processing that ships inside the TF.js
 * CenterNet graph (and that our ONNX conversion leaves out): a cell is a
 * peak when it equals the 3x3 max of its class's heatmap (SAME padding),
 * the K highest peaks over all cells and classes are kept (ties: lower flat
 * NHWC index first), and each peak's box is
 *
 *   x0 = stride * x - wh[0]    y0 = stride * y - wh[1]
 *   x1 = stride * x + wh[2]    y1 = stride * y + wh[3]
 *
 * in model-input pixels, mapped back to the source frame through the
 * letterbox.  Then the score threshold, and optionally class-agnostic
 * non-maximum suppression as @vladmandic/human applies. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-tensor.h>
#include <splitnn/sn-image.h>

G_BEGIN_DECLS

typedef struct {
  int class_id;
  const char *label;        /* static string */
  float score;
  float x0, y0, x1, y1;     /* source-frame pixels */
} SnDetection;

typedef struct {
  int n;
  int capacity;
  SnDetection *items;
} SnDetections;

typedef struct {
  float threshold;          /* minimum score (default 0.2) */
  int top_k;                /* peaks considered (default 100, as in the graph) */
  float nms_iou;            /* > 0: suppress boxes overlapping a better one by more (default 0.4) */
  int stride;               /* heatmap cell size in input pixels (default 4) */
} SnDecodeParams;

SN_API void sn_decode_params_init (SnDecodeParams *p);

SN_API void sn_detections_init (SnDetections *d);
SN_API void sn_detections_clear (SnDetections *d);
SN_API void sn_detections_add (SnDetections *d, const SnDetection *det);
SN_API void sn_detections_copy (SnDetections *dst, const SnDetections *src);

/* heat: 1 x H x W x C float32 (after sigmoid); wh: 1 x H x W x 4.
 * lb may be NULL (boxes stay in model pixels).  Replaces d's contents. */
SN_API gboolean sn_centernet_decode (const SnTensor *heat, const SnTensor *wh,
    const SnDecodeParams *params, const SnLetterbox *lb, SnDetections *d,
    GError **error);

/* COCO's 80 detection classes, in the order of the model's channels. */
SN_API const char *sn_coco_label (int class_id);
#define SN_COCO_CLASSES 80

SN_API float sn_box_iou (const SnDetection *a, const SnDetection *b);

G_END_DECLS
