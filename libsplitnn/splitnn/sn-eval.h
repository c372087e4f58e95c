/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — fidelity: how well one set of per-frame detections agrees with
 * a reference set (the unsplit float model's), as mAP@0.5.
 *
 * For each class present in the reference: predictions of that class over
 * all frames are sorted by score; each is a true positive when it overlaps
 * (IoU >= 0.5) a reference box of its class in the same frame that no
 * better prediction took; AP is the 101-point interpolated area under the
 * precision-recall curve (COCO's convention).  mAP is the mean over those
 * classes, in percent.  With no reference boxes at all it is 100 when there
 * are no predictions either, else 0. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-detect.h>

G_BEGIN_DECLS

typedef struct SnEval SnEval;

SN_API SnEval *sn_eval_new (float iou_threshold);
SN_API void sn_eval_free (SnEval *e);
/* Adds one frame: predictions and the reference for the same frame. */
SN_API void sn_eval_add_frame (SnEval *e, const SnDetections *pred, const SnDetections *ref);
/* mAP in percent over the classes present in the reference. */
SN_API double sn_eval_map (const SnEval *e);
/* AP in percent of one class; < 0 when the class has no reference boxes. */
SN_API double sn_eval_class_ap (const SnEval *e, int class_id);
SN_API int sn_eval_n_frames (const SnEval *e);

G_END_DECLS
