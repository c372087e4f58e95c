/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — fidelity: how well one set of per-frame detections (a
 * candidate path's) agrees with a reference set (the unsplit float model's
 * on the same lossless input).
 *
 * Per class, over all frames added: the candidate's boxes of that class are
 * sorted by score; each is a true positive when it overlaps (IoU >= 0.5) a
 * reference box of its class in the same frame that no higher-scored
 * candidate took; the class's AP is the 101-point interpolated area under
 * the precision-recall curve (COCO's convention), in percent.  Three
 * figures come from that:
 *
 *   fidelity_ap50 (sn_eval_ap50): candidates with score >= pred_min (0.05
 *     for fidelity, so the precision-recall curve is really integrated)
 *     against reference boxes with score >= ref_min (0.3); the classes' APs
 *     averaged weighted by their number of reference boxes, so a class seen
 *     once on a borderline box weighs once, not as much as every person.
 *     The fidelity figure of tables, floors and stored splitnn.fidelity.
 *   person_ap50 (sn_eval_person_ap50): the same AP for class person alone.
 *   fidelity_map50 (sn_eval_map): the first metric, kept for comparison:
 *     candidates and reference both cut at ref_min, the plain mean of the
 *     APs of the classes present in the reference.  Dominated by rare
 *     classes and noisy; do not choose by it.
 *
 * With no reference boxes at all, ap50 and map50 are 100 when there are no
 * candidates either, else 0. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-detect.h>

G_BEGIN_DECLS

typedef struct SnEval SnEval;

/* The fidelity metric's score floors (see above) and the person class. */
#define SN_EVAL_PRED_MIN_SCORE 0.05f
#define SN_EVAL_REF_MIN_SCORE 0.3f
#define SN_EVAL_PERSON 0

/* IoU threshold given, score floors 0 (every box counts). */
SN_API SnEval *sn_eval_new (float iou_threshold);
/* The fidelity metric: IoU 0.5, floors SN_EVAL_PRED_MIN_SCORE and
 * SN_EVAL_REF_MIN_SCORE.  Detections must be decoded with a threshold of
 * at most SN_EVAL_PRED_MIN_SCORE for the candidates' floor to mean it. */
SN_API SnEval *sn_eval_new_fidelity (void);
/* Candidates under pred_min and reference boxes under ref_min are ignored
 * (map50's candidates are cut at the larger of the two).  Before the first
 * frame only. */
SN_API void sn_eval_set_score_floors (SnEval *e, float pred_min, float ref_min);
SN_API void sn_eval_free (SnEval *e);
/* Adds one frame: candidates and the reference for the same frame. */
SN_API void sn_eval_add_frame (SnEval *e, const SnDetections *pred, const SnDetections *ref);
/* fidelity_ap50: box-weighted AP in percent. */
SN_API double sn_eval_ap50 (const SnEval *e);
/* person_ap50 in percent; < 0 when the reference has no person. */
SN_API double sn_eval_person_ap50 (const SnEval *e);
/* fidelity_map50: mAP in percent over the classes present in the
 * reference, candidates cut at the reference's floor. */
SN_API double sn_eval_map (const SnEval *e);
/* AP in percent of one class (candidates >= pred_min); < 0 when the class
 * has no reference boxes. */
SN_API double sn_eval_class_ap (const SnEval *e, int class_id);
/* Reference boxes of a class so far (its weight in ap50). */
SN_API int sn_eval_class_n_ref (const SnEval *e, int class_id);
SN_API int sn_eval_n_frames (const SnEval *e);

G_END_DECLS
