/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — fidelity: box-weighted AP@0.5 and mAP@0.5 (see sn-eval.h). */
#include "splitnn/sn-eval.h"

#include <string.h>

typedef struct {
  float score;
  gboolean tp;
} Scored;

typedef struct {
  GArray *scored;           /* Scored, all frames */
  int n_ref;
} ClassStats;

/* One accumulation: the predictions at or over one score floor matched
 * against the reference boxes. */
typedef struct {
  int n_pred_total;
  ClassStats classes[SN_COCO_CLASSES];
} Tally;

struct SnEval {
  float iou;
  float pred_min, ref_min;
  int n_frames;
  Tally all;                /* predictions >= pred_min: fidelity_ap50, person_ap50 */
  Tally cut;                /* predictions >= ref_min: fidelity_map50 (the first metric) */
};

SnEval *
sn_eval_new (float iou_threshold)
{
  SnEval *e = g_new0 (SnEval, 1);
  e->iou = iou_threshold;
  for (int c = 0; c < SN_COCO_CLASSES; c++) {
    e->all.classes[c].scored = g_array_new (FALSE, FALSE, sizeof (Scored));
    e->cut.classes[c].scored = g_array_new (FALSE, FALSE, sizeof (Scored));
  }
  return e;
}

SnEval *
sn_eval_new_fidelity (void)
{
  SnEval *e = sn_eval_new (0.5f);
  sn_eval_set_score_floors (e, SN_EVAL_PRED_MIN_SCORE, SN_EVAL_REF_MIN_SCORE);
  return e;
}

void
sn_eval_set_score_floors (SnEval *e, float pred_min, float ref_min)
{
  g_return_if_fail (e->n_frames == 0);
  e->pred_min = pred_min;
  e->ref_min = ref_min;
}

void
sn_eval_free (SnEval *e)
{
  if (!e)
    return;
  for (int c = 0; c < SN_COCO_CLASSES; c++) {
    g_array_unref (e->all.classes[c].scored);
    g_array_unref (e->cut.classes[c].scored);
  }
  g_free (e);
}

static int
by_score_desc (const void *a, const void *b, void *items)
{
  const SnDetection *d = items;
  float x = d[*(const int *) a].score, y = d[*(const int *) b].score;
  return x > y ? -1 : (x < y);
}

static gboolean
valid_class (int c)
{
  return c >= 0 && c < SN_COCO_CLASSES;
}

/* Greedy matching in score order within the frame, as COCO does: each
 * prediction takes the best-overlapping reference box of its class that no
 * higher-scored prediction took. */
static void
tally_frame (Tally *t, float iou_min, float pred_min, float ref_min, const SnDetections *pred,
    const SnDetections *ref)
{
  for (int i = 0; i < ref->n; i++) {
    int c = ref->items[i].class_id;
    if (valid_class (c) && ref->items[i].score >= ref_min)
      t->classes[c].n_ref++;
  }
  g_autofree int *order = g_new (int, pred->n + 1);
  g_autofree gboolean *taken = g_new0 (gboolean, ref->n + 1);
  int n = 0;
  for (int i = 0; i < pred->n; i++)
    if (pred->items[i].score >= pred_min)
      order[n++] = i;
  t->n_pred_total += n;
  g_qsort_with_data (order, n, sizeof (int), by_score_desc, pred->items);
  for (int k = 0; k < n; k++) {
    const SnDetection *p = &pred->items[order[k]];
    if (!valid_class (p->class_id))
      continue;
    int best = -1;
    float best_iou = iou_min;
    for (int r = 0; r < ref->n; r++) {
      if (taken[r] || ref->items[r].class_id != p->class_id || ref->items[r].score < ref_min)
        continue;
      float iou = sn_box_iou (p, &ref->items[r]);
      if (iou >= best_iou) {
        best_iou = iou;
        best = r;
      }
    }
    if (best >= 0)
      taken[best] = TRUE;
    Scored s = { p->score, best >= 0 };
    g_array_append_val (t->classes[p->class_id].scored, s);
  }
}

void
sn_eval_add_frame (SnEval *e, const SnDetections *pred, const SnDetections *ref)
{
  e->n_frames++;
  tally_frame (&e->all, e->iou, e->pred_min, e->ref_min, pred, ref);
  tally_frame (&e->cut, e->iou, MAX (e->pred_min, e->ref_min), e->ref_min, pred, ref);
}

static int
scored_desc (const void *a, const void *b)
{
  float x = ((const Scored *) a)->score, y = ((const Scored *) b)->score;
  return x > y ? -1 : (x < y);
}

static double
class_ap (const Tally *t, int c)
{
  const ClassStats *cs = &t->classes[c];
  if (cs->n_ref == 0)
    return -1;
  guint n = cs->scored->len;
  g_autofree Scored *s = g_memdup2 (cs->scored->data, n * sizeof (Scored));
  if (n > 1)
    qsort (s, n, sizeof (Scored), scored_desc);
  g_autofree double *prec = g_new (double, n + 1);
  g_autofree double *rec = g_new (double, n + 1);
  int tp = 0;
  for (guint i = 0; i < n; i++) {
    tp += s[i].tp;
    prec[i] = (double) tp / (i + 1);
    rec[i] = (double) tp / cs->n_ref;
  }
  /* Precision envelope, then sample it at recall 0, 0.01, ..., 1. */
  for (int i = (int) n - 2; i >= 0; i--)
    prec[i] = MAX (prec[i], prec[i + 1]);
  double sum = 0;
  guint i = 0;
  for (int k = 0; k <= 100; k++) {
    double r = k / 100.0;
    while (i < n && rec[i] < r - 1e-12)
      i++;
    sum += i < n ? prec[i] : 0;
  }
  return 100.0 * sum / 101;
}

double
sn_eval_class_ap (const SnEval *e, int c)
{
  g_return_val_if_fail (valid_class (c), -1);
  return class_ap (&e->all, c);
}

int
sn_eval_class_n_ref (const SnEval *e, int c)
{
  g_return_val_if_fail (valid_class (c), 0);
  return e->all.classes[c].n_ref;
}

/* With no reference boxes at all there is nothing to find: perfect when
 * nothing was found either. */
static double
nothing_to_find (const Tally *t)
{
  return t->n_pred_total == 0 ? 100.0 : 0.0;
}

double
sn_eval_ap50 (const SnEval *e)
{
  double sum = 0;
  long n = 0;
  for (int c = 0; c < SN_COCO_CLASSES; c++) {
    int w = e->all.classes[c].n_ref;
    if (w > 0) {
      sum += w * class_ap (&e->all, c);
      n += w;
    }
  }
  return n ? sum / n : nothing_to_find (&e->all);
}

double
sn_eval_person_ap50 (const SnEval *e)
{
  return sn_eval_class_ap (e, SN_EVAL_PERSON);
}

double
sn_eval_map (const SnEval *e)
{
  double sum = 0;
  int n = 0;
  for (int c = 0; c < SN_COCO_CLASSES; c++) {
    double ap = class_ap (&e->cut, c);
    if (ap >= 0) {
      sum += ap;
      n++;
    }
  }
  return n ? sum / n : nothing_to_find (&e->cut);
}

int
sn_eval_n_frames (const SnEval *e)
{
  return e->n_frames;
}
