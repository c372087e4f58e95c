/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — mAP@0.5 fidelity (see sn-eval.h). */
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

struct SnEval {
  float iou;
  int n_frames;
  int n_pred_total;
  ClassStats classes[SN_COCO_CLASSES];
};

SnEval *
sn_eval_new (float iou_threshold)
{
  SnEval *e = g_new0 (SnEval, 1);
  e->iou = iou_threshold;
  for (int c = 0; c < SN_COCO_CLASSES; c++)
    e->classes[c].scored = g_array_new (FALSE, FALSE, sizeof (Scored));
  return e;
}

void
sn_eval_free (SnEval *e)
{
  if (!e)
    return;
  for (int c = 0; c < SN_COCO_CLASSES; c++)
    g_array_unref (e->classes[c].scored);
  g_free (e);
}

static int
by_score_desc (const void *a, const void *b, void *items)
{
  const SnDetection *d = items;
  float x = d[*(const int *) a].score, y = d[*(const int *) b].score;
  return x > y ? -1 : (x < y);
}

void
sn_eval_add_frame (SnEval *e, const SnDetections *pred, const SnDetections *ref)
{
  e->n_frames++;
  e->n_pred_total += pred->n;
  for (int i = 0; i < ref->n; i++) {
    int c = ref->items[i].class_id;
    if (c >= 0 && c < SN_COCO_CLASSES)
      e->classes[c].n_ref++;
  }
  /* Greedy matching in score order within the frame. */
  g_autofree int *order = g_new (int, pred->n + 1);
  g_autofree gboolean *taken = g_new0 (gboolean, ref->n + 1);
  for (int i = 0; i < pred->n; i++)
    order[i] = i;
  g_qsort_with_data (order, pred->n, sizeof (int), by_score_desc, pred->items);
  for (int k = 0; k < pred->n; k++) {
    const SnDetection *p = &pred->items[order[k]];
    if (p->class_id < 0 || p->class_id >= SN_COCO_CLASSES)
      continue;
    int best = -1;
    float best_iou = e->iou;
    for (int r = 0; r < ref->n; r++) {
      if (taken[r] || ref->items[r].class_id != p->class_id)
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
    g_array_append_val (e->classes[p->class_id].scored, s);
  }
}

static int
scored_desc (const void *a, const void *b)
{
  float x = ((const Scored *) a)->score, y = ((const Scored *) b)->score;
  return x > y ? -1 : (x < y);
}

double
sn_eval_class_ap (const SnEval *e, int c)
{
  const ClassStats *cs = &e->classes[c];
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
sn_eval_map (const SnEval *e)
{
  double sum = 0;
  int n = 0;
  for (int c = 0; c < SN_COCO_CLASSES; c++) {
    double ap = sn_eval_class_ap (e, c);
    if (ap >= 0) {
      sum += ap;
      n++;
    }
  }
  if (n == 0)
    return e->n_pred_total == 0 ? 100.0 : 0.0;
  return sum / n;
}

int
sn_eval_n_frames (const SnEval *e)
{
  return e->n_frames;
}
