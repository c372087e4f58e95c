/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — CenterNet decoding (see sn-detect.h). */
#include "splitnn/sn-detect.h"

#include <math.h>
#include <string.h>

#include "splitnn/sn-error.h"

static const char *const coco[SN_COCO_CLASSES] = {
  "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck",
  "boat", "traffic light", "fire hydrant", "stop sign", "parking meter", "bench",
  "bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
  "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
  "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
  "skateboard", "surfboard", "tennis racket", "bottle", "wine glass", "cup",
  "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
  "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
  "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
  "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
  "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
  "hair drier", "toothbrush",
};

const char *
sn_coco_label (int class_id)
{
  return class_id >= 0 && class_id < SN_COCO_CLASSES ? coco[class_id] : "unknown";
}

void
sn_decode_params_init (SnDecodeParams *p)
{
  p->threshold = 0.2f;
  p->top_k = 100;
  p->nms_iou = 0.4f;
  p->stride = 4;
}

void
sn_detections_init (SnDetections *d)
{
  memset (d, 0, sizeof *d);
}

void
sn_detections_clear (SnDetections *d)
{
  g_free (d->items);
  memset (d, 0, sizeof *d);
}

void
sn_detections_add (SnDetections *d, const SnDetection *det)
{
  if (d->n == d->capacity) {
    d->capacity = MAX (16, d->capacity * 2);
    d->items = g_renew (SnDetection, d->items, d->capacity);
  }
  d->items[d->n++] = *det;
}

void
sn_detections_copy (SnDetections *dst, const SnDetections *src)
{
  dst->n = 0;
  for (int i = 0; i < src->n; i++)
    sn_detections_add (dst, &src->items[i]);
}

float
sn_box_iou (const SnDetection *a, const SnDetection *b)
{
  float iw = MIN (a->x1, b->x1) - MAX (a->x0, b->x0);
  float ih = MIN (a->y1, b->y1) - MAX (a->y0, b->y0);
  if (iw <= 0 || ih <= 0)
    return 0;
  float inter = iw * ih;
  float ua = (a->x1 - a->x0) * (a->y1 - a->y0) + (b->x1 - b->x0) * (b->y1 - b->y0) - inter;
  return ua > 0 ? inter / ua : 0;
}

typedef struct {
  float score;
  int64_t index;            /* flat NHWC index: ((y * W) + x) * C + c */
} Peak;

static int
peak_cmp (const void *a, const void *b)
{
  const Peak *p = a, *q = b;
  if (p->score != q->score)
    return p->score > q->score ? -1 : 1;
  return p->index < q->index ? -1 : (p->index > q->index);
}

gboolean
sn_centernet_decode (const SnTensor *heat, const SnTensor *wh,
    const SnDecodeParams *params, const SnLetterbox *lb, SnDetections *d,
    GError **error)
{
  if (heat->dtype != SN_DTYPE_FLOAT32 || wh->dtype != SN_DTYPE_FLOAT32
      || heat->shape.rank != 4 || wh->shape.rank != 4 || wh->shape.dims[3] != 4
      || heat->shape.dims[1] != wh->shape.dims[1] || heat->shape.dims[2] != wh->shape.dims[2]) {
    char a[96], b[96];
    g_set_error (error, SN_ERROR, SN_ERROR_SHAPE,
        "CenterNet outputs must be heatmaps 1xHxWxC and wh 1xHxWx4, got %s and %s",
        sn_shape_format (&heat->shape, a, sizeof a), sn_shape_format (&wh->shape, b, sizeof b));
    return FALSE;
  }
  const int H = heat->shape.dims[1], W = heat->shape.dims[2], C = heat->shape.dims[3];
  const float *hm = heat->data, *box = wh->data;
  const float thr = params->threshold;
  d->n = 0;

  /* Only values >= threshold can survive top-K followed by the threshold,
   * so the peak test runs on those alone. */
  GArray *peaks = g_array_new (FALSE, FALSE, sizeof (Peak));
  for (int y = 0; y < H; y++) {
    for (int x = 0; x < W; x++) {
      const float *cell = hm + ((int64_t) y * W + x) * C;
      for (int c = 0; c < C; c++) {
        float v = cell[c];
        if (!(v >= thr))
          continue;
        gboolean peak = TRUE;
        for (int dy = -1; dy <= 1 && peak; dy++) {
          int yy = y + dy;
          if (yy < 0 || yy >= H)
            continue;
          for (int dx = -1; dx <= 1; dx++) {
            int xx = x + dx;
            if (xx < 0 || xx >= W)
              continue;
            if (hm[((int64_t) yy * W + xx) * C + c] > v) {
              peak = FALSE;
              break;
            }
          }
        }
        if (peak) {
          Peak p = { v, ((int64_t) y * W + x) * C + c };
          g_array_append_val (peaks, p);
        }
      }
    }
  }
  g_array_sort (peaks, peak_cmp);
  int n = MIN ((int) peaks->len, params->top_k);
  SnDetections cand;
  sn_detections_init (&cand);
  for (int i = 0; i < n; i++) {
    const Peak *p = &g_array_index (peaks, Peak, i);
    int c = p->index % C, pos = p->index / C, y = pos / W, x = pos % W;
    const float *b = box + (int64_t) pos * 4;
    float s = params->stride;
    SnDetection det = { c, sn_coco_label (c), p->score,
      s * x - b[0], s * y - b[1], s * x + b[2], s * y + b[3] };
    sn_detections_add (&cand, &det);
  }
  g_array_unref (peaks);

  /* Greedy NMS in score order, across classes. */
  for (int i = 0; i < cand.n; i++) {
    gboolean keep = TRUE;
    for (int k = 0; k < d->n && params->nms_iou > 0; k++) {
      if (sn_box_iou (&cand.items[i], &d->items[k]) > params->nms_iou) {
        keep = FALSE;
        break;
      }
    }
    if (keep)
      sn_detections_add (d, &cand.items[i]);
  }
  sn_detections_clear (&cand);
  if (lb)
    for (int i = 0; i < d->n; i++) {
      SnDetection *e = &d->items[i];
      sn_letterbox_to_source (lb, &e->x0, &e->y0, &e->x1, &e->y1);
    }
  return TRUE;
}
