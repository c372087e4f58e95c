/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Rate against fidelity of the temporal feature codec (sn-fcodec.h), and of
 * whole frames sent as H.264 / JPEG, on the same frames.  bench/feature-rd
 * (the script) drives it; docs/performance.md has the figures.
 *
 *   feature-rd cache MODEL VIDEO DIR [--cut 4]
 *       frames 0-399: the cut's per-channel ranges (SnCalibrator, clip
 *       0.999) -> DIR/calib-cutN.json;
 *       frames 400-794: the cut's float tensors -> DIR/cutN.f32, the 512x512
 *       model input rounded to RGB bytes -> DIR/input.rgb (what the H.264
 *       and JPEG baselines code), and the reference detections of the whole
 *       float network (score >= 0.3) -> DIR/ref.det.
 *   feature-rd codec MODEL DIR --cut 4 --settings LIST [--step S]
 *       per setting (bits:dead_zone:tile:refresh:temporal:range[:lone[:rolling[:step]]], e.g.
 *       4:1:8:30:1:clip), codes every report frame in order (encoder and
 *       decoder, timed), runs the cloud part on every S-th decoded frame and
 *       prints one JSON line: bytes/frame, bits per element, fidelity_ap50,
 *       encode and decode ms (medians), today's encodes of the same
 *       tensors (8-bit lossless, 8-bit lossy) for the edge-time comparison,
 *       and the inter frames with nothing / under 0.1 % of the values
 *       updated (what an early exit could skip).
 *       --gains G0,G1,...: each channel's calibrated range widened by its
 *       gain about its centre (a coarser step: fewer updates where the heads
 *       care less).
 *   feature-rd rgb MODEL DIR FILE --bytes B --label L [--step S]
 *       FILE: decoded 512x512 RGB frames (x264, JPEG): the whole network on
 *       every S-th, one JSON line.
 *   feature-rd sensitivity MODEL DIR --tune [--step S] [--noise N]
 *       per channel, the heads' (keypoint heatmap after a sigmoid) squared
 *       error per unit of noise variance put on that channel alone, on every
 *       S-th tuning frame, and the step gains that equalize the channels'
 *       weighted errors (for codec --gains).
 *   feature-rd mosaic-pack MODEL DIR OUT.yuv [--klt N] [--cols C] [--map M]
 *       [--order L] [--gains G] [--down D]
 *       the cut as a video (MPEG FCM's approach): each frame's channels (or
 *       the first N components of DIR/klt-cutN.f32) quantized to 8 bits with
 *       the calibrated ranges, tiled into one luma plane, I420 with flat
 *       chroma, for x264 (the script).
 *   feature-rd mosaic-eval MODEL DIR DECODED.yuv --bytes B --label L [same options]
 *       the decoded mosaics unpacked and dequantized, the cloud part on every
 *       S-th, one JSON line (with the feature RMSE); DECODED "-": the 8-bit
 *       codes alone.
 *
 * Calibration and tuning only ever see frames 0-399; every figure is on
 * frames 400-794. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-glib/json-glib.h>
#include <splitnn/splitnn.h>

#include "sn-frames.h"

#define FIRST_REPORT 400
#define LAST_FRAME 794
#define REF_THRESHOLD 0.3f      /* the reference's boxes (issue 17) */
#define CAND_THRESHOLD 0.05f    /* the candidate's boxes: the PR curve is really integrated */

/* Thread CPU time: the machine these figures come from is shared (load
 * 8-14 on 2 cores), where wall time mostly measures waiting for a core. */
static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
die (const char *what, GError *err)
{
  fprintf (stderr, "feature-rd: %s%s%s\n", what, err ? ": " : "", err ? err->message : "");
  exit (1);
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (GArray *v)
{
  if (!v->len)
    return 0;
  g_array_sort (v, cmp_double);
  return g_array_index (v, double, v->len / 2);
}

/* fidelity_ap50 over all the frames (sn-eval.h, issue 17): the candidate's
 * boxes from score 0.05 against the reference's from 0.3, per-class AP@0.5
 * weighted by reference boxes. */
static double
fidelity_ap50 (GPtrArray *pred, GPtrArray *ref)
{
  SnEval *ev = sn_eval_new_fidelity ();
  for (guint f = 0; f < ref->len; f++)
    sn_eval_add_frame (ev, g_ptr_array_index (pred, f), g_ptr_array_index (ref, f));
  double ap = sn_eval_ap50 (ev);
  sn_eval_free (ev);
  return ap;
}

static void
det_free (gpointer p)
{
  sn_detections_clear (p);
  g_free (p);
}

/* ref.det: per frame an int32 count, then count x (int32 class, 5 float32). */
static void
write_dets (FILE *f, const SnDetections *d)
{
  gint32 n = d->n;
  fwrite (&n, 4, 1, f);
  for (int i = 0; i < d->n; i++) {
    gint32 c = d->items[i].class_id;
    float v[5] = { d->items[i].score, d->items[i].x0, d->items[i].y0, d->items[i].x1,
      d->items[i].y1 };
    fwrite (&c, 4, 1, f);
    fwrite (v, 4, 5, f);
  }
}

static GPtrArray *
read_dets (const char *path)
{
  FILE *f = fopen (path, "rb");
  if (!f)
    die (path, NULL);
  GPtrArray *a = g_ptr_array_new_with_free_func (det_free);
  gint32 n;
  while (fread (&n, 4, 1, f) == 1) {
    SnDetections *d = g_new0 (SnDetections, 1);
    sn_detections_init (d);
    for (int i = 0; i < n; i++) {
      gint32 c;
      float v[5];
      if (fread (&c, 4, 1, f) != 1 || fread (v, 4, 5, f) != 5)
        die ("ref.det truncated", NULL);
      SnDetection det = { c, sn_coco_label (c), v[0], v[1], v[2], v[3], v[4] };
      sn_detections_add (d, &det);
    }
    g_ptr_array_add (a, d);
  }
  fclose (f);
  return a;
}

typedef struct {
  SnModel *model;
  SnDetector *det;
  SnCutSet *cuts;
  const SnCut *cut;
  SnSplit *split;
  SnSegment *whole;
  int kp_index;             /* which cloud output is "keypoints" */
} Net;

static void
net_open (Net *n, const char *model, int cut_id)
{
  GError *err = NULL;
  memset (n, 0, sizeof *n);
  if (!(n->model = sn_model_load (model, &err)) || !(n->det = sn_detector_new (n->model, &err))
      || !(n->cuts = sn_cut_set_new (n->model, &err)))
    die (model, err);
  const char *heads[] = { "keypoints", "wh" };
  if (!(n->whole = sn_segment_new (n->model, NULL, 0, heads, 2, &err)))
    die ("whole network", err);
  sn_segment_set_threads (n->whole, 1);
  if (cut_id >= 0) {
    char id[16];
    g_snprintf (id, sizeof id, "%d", cut_id);
    if (!(n->cut = sn_cut_set_find (n->cuts, id)))
      die ("no such cut", NULL);
    if (n->cut->n_tensors != 1)
      die ("the codec bench takes cuts of one tensor", NULL);
    if (!(n->split = sn_split_new (n->model, n->cut, &err)))
      die ("split", err);
    sn_segment_set_threads (sn_split_edge (n->split), 1);
    sn_segment_set_threads (sn_split_cloud (n->split), 1);
    n->kp_index = strcmp (sn_segment_output_name (sn_split_cloud (n->split), 0), "keypoints") ? 1 : 0;
  }
}

static void
heads_to_dets (Net *n, SnSegment *seg, int kp, float threshold, SnDetections *out)
{
  GError *err = NULL;
  sn_detector_decode_params (n->det)->threshold = threshold;
  if (!sn_detector_decode (n->det, sn_segment_output (seg, kp), sn_segment_output (seg, 1 - kp),
          NULL, out, &err))
    die ("decode", err);
}

/* ---- cache -------------------------------------------------------------------- */

static int
cmd_cache (const char *model, const char *video, const char *dir, int cut_id, int from, int to,
    const char *prefix)
{
  GError *err = NULL;
  Net n;
  net_open (&n, model, cut_id);
  SnFrames *frames = sn_frames_open (video, &err);
  if (!frames)
    die (video, err);
  int W = sn_detector_input_width (n.det), H = sn_detector_input_height (n.det);
  SnPreprocessor *pp = sn_preprocessor_new (W, H, SN_RESIZE_STRETCH, 1, 0, 0);
  SnShape in_shape = sn_shape_make (4, (int64_t[]) { 1, H, W, 3 });
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &in_shape);
  SnCalibrator *cal = sn_calibrator_new (0.999);
  g_autofree char *fpath = g_strdup_printf ("%s/%scut%d.f32", dir, prefix, cut_id);
  g_autofree char *rgbpath = g_strdup_printf ("%s/%sinput.rgb", dir, prefix);
  g_autofree char *refpath = g_strdup_printf ("%s/%sref.det", dir, prefix);
  FILE *ff = fopen (fpath, "wb"), *fr = fopen (rgbpath, "wb"), *fd = fopen (refpath, "wb");
  if (!ff || !fr || !fd)
    die (dir, NULL);
  guint8 *rgb = g_malloc ((size_t) W * H * 3);
  SnDetections d;
  sn_detections_init (&d);
  GArray *edge_ms = g_array_new (FALSE, FALSE, sizeof (double));
  SnFrame f;
  SnSegment *edge = sn_split_edge (n.split);
  while (sn_frames_next (frames, &f, &err) && f.index <= to) {
    SnImage img = { .format = SN_PIXEL_RGB, .width = f.width, .height = f.height,
      .planes = { f.rgb }, .strides = { f.stride } };
    if (!sn_preprocess (pp, &img, x, NULL, &err))
      die ("preprocess", err);
    double t0 = now_ms ();
    if (!sn_segment_run (edge, (const SnTensor *[]) { x }, &err))
      die ("edge part", err);
    double t = now_ms () - t0;
    const SnTensor *feat = sn_segment_output (edge, 0);
    if (f.index < FIRST_REPORT
        && !sn_calibrator_add (cal, sn_segment_output_name (edge, 0), feat, &err))
      die ("calibration", err);
    if (f.index < from)
      continue;
    if (f.index > from)
      g_array_append_val (edge_ms, t);
    fwrite (feat->data, 4, sn_tensor_numel (feat), ff);
    const float *xv = x->data;
    for (size_t i = 0; i < (size_t) W * H * 3; i++)
      rgb[i] = (guint8) CLAMP (lrintf (xv[i]), 0, 255);
    fwrite (rgb, 1, (size_t) W * H * 3, fr);
    if (!sn_segment_run (n.whole, (const SnTensor *[]) { x }, &err))
      die ("whole network", err);
    heads_to_dets (&n, n.whole, 0, REF_THRESHOLD, &d);
    write_dets (fd, &d);
    if (f.index % 50 == 0)
      fprintf (stderr, "feature-rd cache: frame %d\n", f.index);
  }
  if (err)
    die (video, err);
  fclose (ff);
  fclose (fr);
  fclose (fd);
  g_autofree char *json = sn_calibrator_to_json (cal, "vtest.avi frames 0-399");
  g_autofree char *cpath = g_strdup_printf ("%s/calib-cut%d.json", dir, cut_id);
  if (!g_file_set_contents (cpath, json, -1, &err))
    die (cpath, err);
  printf ("{\"cut\": %d, \"tensor\": \"%s\", \"edge_ms\": %.3f}\n", cut_id,
      sn_segment_output_name (edge, 0), median (edge_ms));
  return 0;
}

/* ---- codec -------------------------------------------------------------------- */

typedef struct {
  SnFcodecConfig cfg;
  gboolean minmax;          /* ranges: min/max instead of the 99.9% clipped ones */
  gboolean raw;             /* ablation row "quantization only": packed bits, no coder */
  /* range "klt", "kltq", "kltN": code the channel transform's components
   * (bench/feature-rd-klt.py) with their own ranges, with one step for all
   * (q: the MSE-optimal allocation of a uniform quantizer), or only the
   * first N components (the rest sent as constants). */
  gboolean klt, klt_equal;
  int klt_keep;
  char text[64];
} Setting;

static gboolean
parse_setting (const char *s, Setting *out)
{
  g_auto (GStrv) p = g_strsplit (s, ":", -1);
  if (g_strv_length (p) < 6 || g_strv_length (p) > 9)
    return FALSE;
  sn_fcodec_config_init (&out->cfg);
  out->cfg.bits = atoi (p[0]);
  out->cfg.dead_zone = atoi (p[1]);
  out->cfg.tile = atoi (p[2]);
  out->cfg.refresh = atoi (p[3]);
  out->cfg.temporal = atoi (p[4]) != 0;
  out->cfg.lone_dead_zone = p[6] ? atoi (p[6]) : 0;
  out->cfg.rolling = p[6] && p[7] ? atoi (p[7]) : 0;
  out->cfg.residual_step = p[6] && p[7] && p[8] ? atoi (p[8]) : 1;
  out->minmax = strcmp (p[5], "minmax") == 0;
  out->raw = strcmp (p[5], "raw") == 0;
  out->klt = g_str_has_prefix (p[5], "klt");
  out->klt_equal = strcmp (p[5], "kltq") == 0;
  out->klt_keep = out->klt && g_ascii_isdigit (p[5][3]) ? atoi (p[5] + 3) : 0;
  g_strlcpy (out->text, s, sizeof out->text);
  return out->cfg.bits >= 2 && out->cfg.bits <= 8;
}

static void
load_ranges (const char *path, int C, gboolean minmax, float *lo, float *hi)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  GError *err = NULL;
  if (!json_parser_load_from_file (parser, path, &err))
    die (path, err);
  JsonObject *t = json_object_get_object_member (json_node_get_object (json_parser_get_root (parser)),
      "tensors");
  g_autoptr (GList) names = json_object_get_members (t);
  JsonObject *o = json_object_get_object_member (t, names->data);
  JsonArray *a = json_object_get_array_member (o, minmax ? "min" : "clip_min");
  JsonArray *b = json_object_get_array_member (o, minmax ? "max" : "clip_max");
  if ((int) json_array_get_length (a) != C)
    die ("calibration channel count", NULL);
  for (int c = 0; c < C; c++) {
    lo[c] = (float) json_array_get_double_element (a, c);
    hi[c] = (float) json_array_get_double_element (b, c);
  }
}

/* The channel transform: rows of p are components. */
typedef struct {
  int C;
  float *p, *mean, *lo, *hi;
} Klt;

static void
klt_load (Klt *k, const char *path, int C)
{
  g_autofree char *data = NULL;
  gsize len;
  GError *err = NULL;
  if (!g_file_get_contents (path, &data, &len, &err))
    die (path, err);
  if (len != (gsize) (C * C + 3 * C) * 4)
    die ("klt file size", NULL);
  float *f = (float *) data;
  k->C = C;
  k->p = g_memdup2 (f, C * C * 4);
  k->mean = g_memdup2 (f + C * C, C * 4);
  k->lo = g_new (float, C);
  k->hi = g_new (float, C);
  for (int c = 0; c < C; c++) {
    k->lo[c] = f[C * C + C + 2 * c];
    k->hi[c] = f[C * C + C + 2 * c + 1];
  }
}

static void
klt_forward (const Klt *k, const float *x, float *z, int64_t plane)
{
  int C = k->C;
  for (int64_t i = 0; i < plane; i++) {
    float v[64];
    for (int c = 0; c < C; c++)
      v[c] = x[c * plane + i] - k->mean[c];
    for (int o = 0; o < C; o++) {
      float a = 0;
      for (int c = 0; c < C; c++)
        a += k->p[o * C + c] * v[c];
      z[o * plane + i] = a;
    }
  }
}

static void
klt_inverse (const Klt *k, const float *z, float *x, int64_t plane)
{
  int C = k->C;
  for (int64_t i = 0; i < plane; i++) {
    float v[64];
    for (int o = 0; o < C; o++)
      v[o] = z[o * plane + i];
    for (int c = 0; c < C; c++) {
      float a = k->mean[c];
      for (int o = 0; o < C; o++)
        a += k->p[o * C + c] * v[o];
      x[c * plane + i] = a;
    }
  }
}

static int
cmd_codec (const char *model, const char *dir, int cut_id, const char *settings, int step,
    const char *gains, const char *prefix)
{
  GError *err = NULL;
  Net n;
  net_open (&n, model, cut_id);
  const SnShape *shape = &n.cut->shapes[0];
  int64_t numel = sn_shape_numel (shape);
  int C = (int) shape->dims[1];
  g_autofree char *fpath = g_strdup_printf ("%s/%scut%d.f32", dir, prefix, cut_id);
  g_autofree char *refpath = g_strdup_printf ("%s/%sref.det", dir, prefix);
  g_autofree char *cpath = g_strdup_printf ("%s/calib-cut%d.json", dir, cut_id);
  GPtrArray *ref = read_dets (refpath);
  int n_frames = (int) ref->len;
  g_autofree float *lo = g_new (float, C), *hi = g_new (float, C);
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, shape), *y = sn_tensor_new (SN_DTYPE_FLOAT32, shape);
  GByteArray *buf = g_byte_array_new ();
  SnDetections d;
  sn_detections_init (&d);
  SnSegment *cloud = sn_split_cloud (n.split);
  /* Today's cut path, for the edge-time comparison: the same tensors
   * through sn_feature_encode (8-bit lossless and 8-bit lossy). */
  SnFeatureEncoder *fenc = sn_feature_encoder_new (n.model);
  g_auto (GStrv) list = g_strsplit (settings, ",", -1);
  for (int si = 0; list[si]; si++) {
    Setting st;
    if (!parse_setting (list[si], &st))
      die ("bad setting (bits:dead_zone:tile:refresh:temporal:clip|minmax|raw)", NULL);
    Klt klt = { 0 };
    if (st.klt) {
      g_autofree char *kpath = g_strdup_printf ("%s/klt-cut%d.f32", dir, cut_id);
      klt_load (&klt, kpath, C);
      int levels = (1 << st.cfg.bits) - 1;
      float step = 0;
      for (int c = 0; c < C; c++)
        step = MAX (step, (klt.hi[c] - klt.lo[c]) / levels);
      for (int c = 0; c < C; c++) {
        lo[c] = klt.lo[c];
        hi[c] = klt.hi[c];
        if (st.klt_equal && c > 0) {
          float mid = (klt.lo[c] + klt.hi[c]) / 2;
          lo[c] = mid - step * levels / 2;
          hi[c] = mid + step * levels / 2;
        }
        if (st.klt_keep && c >= st.klt_keep)
          lo[c] = hi[c] = 0;
      }
    } else {
      load_ranges (cpath, C, st.minmax, lo, hi);
    }
    /* per-channel range gains (feature-rd sensitivity): a wider range is a
     * coarser step, so fewer updates for the channels the heads care less
     * about */
    g_auto (GStrv) g = gains ? g_strsplit (gains, ",", -1) : NULL;
    for (int c = 0; g && c < C && g[c]; c++) {
      float mid = (lo[c] + hi[c]) / 2, half = (hi[c] - lo[c]) / 2 * (float) g_ascii_strtod (g[c], NULL);
      lo[c] = mid - half;
      hi[c] = mid + half;
    }
    SnTensor *z = sn_tensor_new (SN_DTYPE_FLOAT32, shape), *zy = sn_tensor_new (SN_DTYPE_FLOAT32, shape);
    int64_t plane = numel / C;
    SnFcodecEncoder *enc = sn_fcodec_encoder_new (shape, lo, hi, &st.cfg, &err);
    SnFcodecDecoder *dec = enc ? sn_fcodec_decoder_new (shape, lo, hi, &err) : NULL;
    if (!dec)
      die ("codec", err);
    FILE *ff = fopen (fpath, "rb");
    if (!ff)
      die (fpath, NULL);
    GArray *enc_ms = g_array_new (FALSE, FALSE, sizeof (double));
    GArray *dec_ms = g_array_new (FALSE, FALSE, sizeof (double));
    GArray *today_ll = g_array_new (FALSE, FALSE, sizeof (double));
    GArray *today_lossy = g_array_new (FALSE, FALSE, sizeof (double));
    GPtrArray *pred = g_ptr_array_new_with_free_func (det_free);
    GPtrArray *refs = g_ptr_array_new ();
    double bytes = 0, updated = 0, inter_bytes = 0;
    int intra_frames = 0, still_frames = 0, quiet_frames = 0;
    for (int f = 0; f < n_frames; f++) {
      if (fread (x->data, 4, numel, ff) != (size_t) numel)
        die ("cut features truncated", NULL);
      g_byte_array_set_size (buf, 0);
      double t0 = now_ms ();
      if (st.klt)
        klt_forward (&klt, x->data, z->data, plane);
      sn_fcodec_encode (enc, st.klt ? z : x, buf, &err);
      double t1 = now_ms ();
      if (!sn_fcodec_decode (dec, buf->data, buf->len, st.klt ? zy : y, &err))
        die ("decode", err);
      if (st.klt)
        klt_inverse (&klt, zy->data, y->data, plane);
      double t2 = now_ms ();
      SnFcodecStats es;
      sn_fcodec_encoder_stats (enc, &es);
      g_array_append_val (enc_ms, (double) { t1 - t0 });
      g_array_append_val (dec_ms, (double) { t2 - t1 });
      bytes += st.raw ? (double) numel * st.cfg.bits / 8 : buf->len;
      updated += es.updated;
      /* The early exit's best case: inter frames with nothing (or next to
       * nothing, under 0.1 % of the values) to update. */
      if (!es.intra && es.updated == 0)
        still_frames++;
      if (!es.intra && es.updated * 1000 < numel)
        quiet_frames++;
      if (es.intra)
        intra_frames++;
      else
        inter_bytes += buf->len;
      if (si == 0 && f % 16 == 1) {
        /* Today's encodes of the same tensor (timed only; sizes printed). */
        SnFeatureConfig fc;
        sn_feature_config_init (&fc);
        GByteArray *pkt = g_byte_array_new ();
        for (int k = 0; k < 2; k++) {
          fc.codec = k ? SN_CODEC_LOSSY : SN_CODEC_LOSSLESS;
          double a = now_ms ();
          if (!sn_feature_encode (fenc, &fc, n.cut, (const SnTensor *[]) { x }, 0, f, 0, NULL, pkt,
                  &err))
            die ("today's encode", err);
          double b = now_ms () - a;
          g_array_append_val (k ? today_lossy : today_ll, b);
        }
        g_byte_array_unref (pkt);
      }
      if (f % step == 0) {
        if (!sn_segment_run (cloud, (const SnTensor *[]) { y }, &err))
          die ("cloud part", err);
        SnDetections *p = g_new0 (SnDetections, 1);
        sn_detections_init (p);
        heads_to_dets (&n, cloud, n.kp_index, CAND_THRESHOLD, p);
        g_ptr_array_add (pred, p);
        g_ptr_array_add (refs, g_ptr_array_index (ref, f));
      }
    }
    fclose (ff);
    double fid = fidelity_ap50 (pred, refs);
    printf ("{\"setting\": \"%s\", \"cut\": %d, \"bits\": %d, \"dead_zone\": %d, \"tile\": %d, "
        "\"refresh\": %d, \"lone_dead_zone\": %d, \"rolling\": %d, \"residual_step\": %d, \"temporal\": %s, \"range\": \"%s\", \"frames\": %d, \"eval_frames\": %u, "
        "\"values\": %" G_GINT64_FORMAT ", \"bytes_per_frame\": %.1f, \"bits_per_element\": %.4f, "
        "\"inter_bytes_per_frame\": %.1f, "
        "\"intra_frames\": %d, \"updated_fraction\": %.4f, \"fidelity_ap50\": %.2f, "
        "\"encode_ms\": %.3f, \"decode_ms\": %.3f",
        st.text, cut_id, st.cfg.bits, st.cfg.dead_zone, st.cfg.tile, st.cfg.refresh,
        st.cfg.lone_dead_zone, st.cfg.rolling, st.cfg.residual_step,
        st.cfg.temporal ? "true" : "false", st.raw ? "raw" : st.klt ? "klt" : st.minmax ? "minmax" : "clip",
        n_frames, refs->len, numel, bytes / n_frames, bytes * 8 / n_frames / numel,
        n_frames > intra_frames ? inter_bytes / (n_frames - intra_frames) : 0, intra_frames,
        updated / n_frames / numel, fid, median (enc_ms), median (dec_ms));
    printf (", \"still_frames\": %d, \"quiet_frames\": %d", still_frames, quiet_frames);
    if (today_ll->len)
      printf (", \"today_lossless8_encode_ms\": %.3f, \"today_lossy8_encode_ms\": %.3f",
          median (today_ll), median (today_lossy));
    printf ("}\n");
    fflush (stdout);
    g_array_unref (enc_ms);
    g_array_unref (dec_ms);
    g_array_unref (today_ll);
    g_array_unref (today_lossy);
    g_ptr_array_unref (pred);
    g_ptr_array_unref (refs);
    sn_fcodec_encoder_free (enc);
    sn_fcodec_decoder_free (dec);
    sn_tensor_free (z);
    sn_tensor_free (zy);
    g_free (klt.p);
    g_free (klt.mean);
    g_free (klt.lo);
    g_free (klt.hi);
  }
  sn_feature_encoder_free (fenc);
  return 0;
}

/* ---- mosaic: the cut as a video (MPEG FCM's approach) -------------------------- */

/* The channels (or the first N components of the channel transform),
 * quantized to 8 bits with the calibrated per-channel ranges and tiled into
 * one luma plane (cols x rows tiles of HxW; I420, chroma flat 128), coded by
 * the script with x264 like the frames themselves.  map: 0 linear, 1 the
 * square-root companding of the distance to the channel's zero (more levels
 * near zero, where most values lie). */
typedef struct {
  int C, H, W, n, cols, rows, map, down;   /* H, W: of a tile (the plane / down) */
  int width, height;
  float *lo, *hi, *zero;
  Klt klt;
  gboolean use_klt;
  int *order;               /* tile t holds channel order[t] */
  int hold;                 /* > 0: the codes of an 8x8 block are held from the last
                             * frame unless one moved by more than hold */
  guint8 *ref;              /* the held mosaic (hold > 0) */
} Mosaic;

static void
mosaic_open (Mosaic *m, const SnShape *shape, const char *dir, int cut_id, int keep, int cols,
    int map, const char *order, const char *gains, int down, int hold)
{
  memset (m, 0, sizeof *m);
  m->C = (int) shape->dims[1];
  m->H = (int) shape->dims[2];
  m->W = (int) shape->dims[3];
  m->map = map;
  m->hold = hold;
  m->lo = g_new (float, m->C);
  m->hi = g_new (float, m->C);
  m->zero = g_new0 (float, m->C);
  if (keep > 0) {
    g_autofree char *kpath = g_strdup_printf ("%s/klt-cut%d.f32", dir, cut_id);
    klt_load (&m->klt, kpath, m->C);
    m->use_klt = TRUE;
    m->n = MIN (keep, m->C);
    for (int c = 0; c < m->C; c++) {
      m->lo[c] = m->klt.lo[c];
      m->hi[c] = m->klt.hi[c];
    }
  } else {
    g_autofree char *cpath = g_strdup_printf ("%s/calib-cut%d.json", dir, cut_id);
    load_ranges (cpath, m->C, FALSE, m->lo, m->hi);
    m->n = m->C;
  }
  /* gains: widen channel c's range by g_c around its centre (coarser
   * codes for the channels the heads care less about) */
  g_auto (GStrv) g = gains ? g_strsplit (gains, ",", -1) : NULL;
  for (int c = 0; g && c < m->C && g[c]; c++) {
    float mid = (m->lo[c] + m->hi[c]) / 2, half = (m->hi[c] - m->lo[c]) / 2 * (float) g_ascii_strtod (g[c], NULL);
    m->lo[c] = mid - half;
    m->hi[c] = mid + half;
  }
  for (int c = 0; c < m->C; c++)
    m->zero[c] = CLAMP (0.f, m->lo[c], m->hi[c]);
  m->down = MAX (down, 1);
  m->H /= m->down;
  m->W /= m->down;
  m->cols = cols > 0 ? cols : (m->n == 24 ? 6 : (int) ceil (sqrt (m->n)));
  m->rows = (m->n + m->cols - 1) / m->cols;
  m->width = m->cols * m->W;
  m->height = m->rows * m->H;
  m->order = g_new (int, m->n);
  g_auto (GStrv) o = order ? g_strsplit (order, ".", -1) : NULL;
  for (int t = 0; t < m->n; t++)
    m->order[t] = o && o[t] ? atoi (o[t]) : t;
}

static inline guint8
mosaic_q (const Mosaic *m, int c, float v)
{
  float lo = m->lo[c], hi = m->hi[c], z = m->zero[c];
  v = CLAMP (v, lo, hi);
  if (m->map == 0 || hi <= lo)
    return hi > lo ? (guint8) lrintf ((v - lo) / (hi - lo) * 255) : 128;
  /* companding: code = z_code +- sqrt-shaped distance, both sides scaled so
   * lo -> 0 and hi -> 255 */
  float zc = (z - lo) / (hi - lo) * 255;
  if (v >= z)
    return (guint8) lrintf (zc + (255 - zc) * sqrtf (hi > z ? (v - z) / (hi - z) : 0));
  return (guint8) lrintf (zc - zc * sqrtf (z > lo ? (z - v) / (z - lo) : 0));
}

static inline float
mosaic_dq (const Mosaic *m, int c, guint8 q)
{
  float lo = m->lo[c], hi = m->hi[c], z = m->zero[c];
  if (m->map == 0 || hi <= lo)
    return lo + (hi - lo) * q / 255.f;
  float zc = (z - lo) / (hi - lo) * 255;
  if (q >= zc) {
    float r = (255 - zc) > 0 ? (q - zc) / (255 - zc) : 0;
    return z + (hi - z) * r * r;
  }
  float r = zc > 0 ? (zc - q) / zc : 0;
  return z - (z - lo) * r * r;
}

/* x: the cut tensor (C planes); yuv: width x height luma + two chroma planes */
static void
mosaic_pack (Mosaic *m, const float *x, float *z, guint8 *yuv)
{
  int d = m->down, PW = m->W * d;
  int64_t plane = (int64_t) m->H * m->W * d * d;
  const float *src = x;
  if (m->use_klt) {
    klt_forward (&m->klt, x, z, plane);
    src = z;
  }
  memset (yuv, 128, (size_t) m->width * m->height * 3 / 2);
  for (int t = 0; t < m->n; t++) {
    int c = m->order[t], ty = t / m->cols, tx = t % m->cols;
    for (int i = 0; i < m->H; i++) {
      guint8 *row = yuv + (size_t) (ty * m->H + i) * m->width + tx * m->W;
      const float *s = src + c * plane + (int64_t) i * d * PW;
      for (int j = 0; j < m->W; j++) {
        float a = 0;
        for (int u = 0; u < d; u++)
          for (int v = 0; v < d; v++)
            a += s[u * PW + j * d + v];
        row[j] = mosaic_q (m, c, a / (d * d));
      }
    }
  }
  if (m->hold > 0) {
    /* A temporal dead zone before the video codec: blocks whose codes all
     * stayed within hold of the held ones stay exactly as they were, so
     * x264 skips them instead of coding the source's noise. */
    Mosaic *mm = m;
    size_t area = (size_t) m->width * m->height;
    if (!mm->ref) {
      mm->ref = g_memdup2 (yuv, area);
      return;
    }
    for (int by = 0; by < m->height; by += 8)
      for (int bx = 0; bx < m->width; bx += 8) {
        int moved = 0;
        for (int i = 0; i < 8 && !moved; i++)
          for (int j = 0; j < 8; j++)
            if (abs (yuv[(size_t) (by + i) * m->width + bx + j] - mm->ref[(size_t) (by + i) * m->width + bx + j]) > m->hold) {
              moved = 1;
              break;
            }
        for (int i = 0; i < 8; i++) {
          guint8 *a = yuv + (size_t) (by + i) * m->width + bx, *b = mm->ref + (size_t) (by + i) * m->width + bx;
          if (moved)
            memcpy (b, a, 8);
          else
            memcpy (a, b, 8);
        }
      }
  }
}

static void
mosaic_unpack (const Mosaic *m, const guint8 *yuv, float *z, float *x)
{
  int d = m->down, PW = m->W * d, PH = m->H * d;
  int64_t plane = (int64_t) PH * PW;
  float *dst = m->use_klt ? z : x;
  memset (dst, 0, sizeof (float) * plane * m->C);
  g_autofree float *tile = g_new (float, m->H * m->W);
  for (int t = 0; t < m->n; t++) {
    int c = m->order[t], ty = t / m->cols, tx = t % m->cols;
    for (int i = 0; i < m->H; i++) {
      const guint8 *row = yuv + (size_t) (ty * m->H + i) * m->width + tx * m->W;
      for (int j = 0; j < m->W; j++)
        tile[i * m->W + j] = mosaic_dq (m, c, row[j]);
    }
    /* bilinear upsampling, pixel centres aligned (d = 1: a copy) */
    float *o = dst + c * plane;
    for (int i = 0; i < PH; i++) {
      float fy = CLAMP ((i + 0.5f) / d - 0.5f, 0, m->H - 1);
      int y0 = (int) fy, y1 = MIN (y0 + 1, m->H - 1);
      float ay = fy - y0;
      for (int j = 0; j < PW; j++) {
        float fx = CLAMP ((j + 0.5f) / d - 0.5f, 0, m->W - 1);
        int x0 = (int) fx, x1 = MIN (x0 + 1, m->W - 1);
        float ax = fx - x0;
        o[(int64_t) i * PW + j] = (1 - ay) * ((1 - ax) * tile[y0 * m->W + x0] + ax * tile[y0 * m->W + x1])
            + ay * ((1 - ax) * tile[y1 * m->W + x0] + ax * tile[y1 * m->W + x1]);
      }
    }
  }
  if (m->use_klt)
    klt_inverse (&m->klt, z, x, plane);
}

/* mosaic-pack: DIR/[tune-]cutN.f32 -> OUT (I420 frames); mosaic-eval: the
 * decoded I420 frames -> unpack -> cloud part on every S-th -> one JSON line.
 * FILE "-" for mosaic-eval: no video codec (the 8-bit quantization alone). */
static int
cmd_mosaic (gboolean pack, const char *model, const char *dir, const char *file, int cut_id,
    int keep, int cols, int map, const char *order, const char *gains, int down, int hold, double bytes,
    const char *label, int step, const char *prefix)
{
  GError *err = NULL;
  Net n;
  net_open (&n, model, cut_id);
  const SnShape *shape = &n.cut->shapes[0];
  int64_t numel = sn_shape_numel (shape);
  Mosaic m;
  mosaic_open (&m, shape, dir, cut_id, keep, cols, map, order, gains, down, hold);
  size_t fsize = (size_t) m.width * m.height * 3 / 2;
  guint8 *yuv = g_malloc (fsize);
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, shape), *z = sn_tensor_new (SN_DTYPE_FLOAT32, shape);
  g_autofree char *fpath = g_strdup_printf ("%s/%scut%d.f32", dir, prefix, cut_id);
  g_autofree char *refpath = g_strdup_printf ("%s/%sref.det", dir, prefix);
  GPtrArray *ref = read_dets (refpath);
  FILE *ff = fopen (fpath, "rb");
  if (!ff)
    die (fpath, NULL);
  if (pack) {
    FILE *out = fopen (file, "wb");
    if (!out)
      die (file, NULL);
    for (guint f = 0; f < ref->len; f++) {
      if (fread (x->data, 4, numel, ff) != (size_t) numel)
        die ("cut features truncated", NULL);
      mosaic_pack (&m, x->data, z->data, yuv);
      fwrite (yuv, 1, fsize, out);
    }
    fclose (out);
    printf ("{\"width\": %d, \"height\": %d, \"frames\": %u}\n", m.width, m.height, ref->len);
    return 0;
  }
  gboolean direct = !strcmp (file, "-");
  FILE *in = direct ? NULL : fopen (file, "rb");
  if (!direct && !in)
    die (file, NULL);
  SnSegment *cloud = sn_split_cloud (n.split);
  GPtrArray *pred = g_ptr_array_new_with_free_func (det_free);
  GPtrArray *refs = g_ptr_array_new ();
  double sse = 0, sse_n = 0;
  for (guint f = 0; f < ref->len; f++) {
    if (fread (x->data, 4, numel, ff) != (size_t) numel)
      die ("cut features truncated", NULL);
    if (direct)
      mosaic_pack (&m, x->data, z->data, yuv);
    else if (fread (yuv, 1, fsize, in) != fsize)
      die ("decoded mosaics: fewer than the reference's", NULL);
    if (f % step)
      continue;
    SnTensor *y = sn_tensor_new (SN_DTYPE_FLOAT32, shape);
    mosaic_unpack (&m, yuv, z->data, y->data);
    const float *a = x->data, *b = y->data;
    for (int64_t i = 0; i < numel; i++)
      sse += (double) (a[i] - b[i]) * (a[i] - b[i]);
    sse_n += numel;
    if (!sn_segment_run (cloud, (const SnTensor *[]) { y }, &err))
      die ("cloud part", err);
    SnDetections *p = g_new0 (SnDetections, 1);
    sn_detections_init (p);
    heads_to_dets (&n, cloud, n.kp_index, CAND_THRESHOLD, p);
    g_ptr_array_add (pred, p);
    g_ptr_array_add (refs, g_ptr_array_index (ref, f));
    sn_tensor_free (y);
  }
  printf ("{\"setting\": \"%s\", \"cut\": %d, \"frames\": %u, \"eval_frames\": %u, "
      "\"values\": %" G_GINT64_FORMAT ", \"transmitted\": %" G_GINT64_FORMAT ", "
      "\"bytes_per_frame\": %.1f, \"bits_per_element\": %.4f, \"rmse\": %.4f, "
      "\"fidelity_ap50\": %.2f}\n", label, cut_id, ref->len, refs->len, numel,
      (gint64) m.n * m.H * m.W, bytes, bytes * 8 / numel, sqrt (sse / MAX (sse_n, 1)),
      fidelity_ap50 (pred, refs));
  return 0;
}

/* ---- sensitivity: which channels the heads care about -------------------------- */

/* Per channel c: Gaussian noise of NOISE codes (of the channel's calibrated
 * 8-bit step) on channel c alone, on every S-th frame of DIR/[tune-]cutN.f32,
 * through the cloud part; prints the mean squared change of the keypoint
 * heatmap (after a sigmoid) per unit of feature-space noise variance: the
 * weight w_c of the channel's error in the heads' error (high-rate model). */
static int
cmd_sensitivity (const char *model, const char *dir, int cut_id, int step, double noise,
    const char *prefix)
{
  GError *err = NULL;
  Net n;
  net_open (&n, model, cut_id);
  const SnShape *shape = &n.cut->shapes[0];
  int64_t numel = sn_shape_numel (shape);
  int C = (int) shape->dims[1];
  int64_t plane = numel / C;
  g_autofree float *lo = g_new (float, C), *hi = g_new (float, C);
  g_autofree char *cpath = g_strdup_printf ("%s/calib-cut%d.json", dir, cut_id);
  load_ranges (cpath, C, FALSE, lo, hi);
  g_autofree char *fpath = g_strdup_printf ("%s/%scut%d.f32", dir, prefix, cut_id);
  FILE *ff = fopen (fpath, "rb");
  if (!ff)
    die (fpath, NULL);
  SnSegment *cloud = sn_split_cloud (n.split);
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, shape), *y = sn_tensor_new (SN_DTYPE_FLOAT32, shape);
  g_autofree double *acc = g_new0 (double, C);
  GRand *rng = g_rand_new_with_seed (18);
  float *base = NULL;
  int64_t kn = 0;
  int frames = 0;
  for (int f = 0; fread (x->data, 4, numel, ff) == (size_t) numel; f++) {
    if (f % step)
      continue;
    if (!sn_segment_run (cloud, (const SnTensor *[]) { x }, &err))
      die ("cloud part", err);
    const SnTensor *kp = sn_segment_output (cloud, n.kp_index);
    kn = sn_tensor_numel (kp);
    if (!base)
      base = g_new (float, kn);
    for (int64_t i = 0; i < kn; i++)
      base[i] = 1.f / (1.f + expf (-((const float *) kp->data)[i]));
    for (int c = 0; c < C; c++) {
      memcpy (y->data, x->data, numel * 4);
      float sd = (float) noise * (hi[c] - lo[c]) / 255;
      float *v = (float *) y->data + c * plane;
      for (int64_t i = 0; i < plane; i++) {
        /* Box-Muller */
        double u1 = g_rand_double_range (rng, 1e-12, 1), u2 = g_rand_double (rng);
        v[i] += sd * (float) (sqrt (-2 * log (u1)) * cos (2 * G_PI * u2));
      }
      if (!sn_segment_run (cloud, (const SnTensor *[]) { y }, &err))
        die ("cloud part", err);
      const float *o = sn_segment_output (cloud, n.kp_index)->data;
      double e = 0;
      for (int64_t i = 0; i < kn; i++) {
        double d = 1.f / (1.f + expf (-o[i])) - base[i];
        e += d * d;
      }
      acc[c] += e / kn / ((double) sd * sd);
    }
    frames++;
    fprintf (stderr, "sensitivity: frame %d\n", f);
  }
  printf ("{\"frames\": %d, \"noise_codes\": %.1f, \"weight\": [", frames, noise);
  for (int c = 0; c < C; c++)
    printf ("%s%.6g", c ? ", " : "", acc[c] / MAX (frames, 1));
  printf ("], \"range\": [");
  for (int c = 0; c < C; c++)
    printf ("%s%.4g", c ? ", " : "", hi[c] - lo[c]);
  /* gains: g_c = sqrt (max_k (w_k r_k^2) / (w_c r_c^2)), r the clipped
   * range: with the step of channel c widened by g_c, every channel's error
   * weighs the same in the heads (high-rate model); none below 1, so no
   * channel gets a finer step than its calibrated 8-bit one */
  double top = 0;
  for (int c = 0; c < C; c++)
    top = MAX (top, acc[c] * (hi[c] - lo[c]) * (hi[c] - lo[c]));
  printf ("], \"gains\": \"");
  for (int c = 0; c < C; c++) {
    double wr = acc[c] * (hi[c] - lo[c]) * (hi[c] - lo[c]);
    printf ("%s%.3f", c ? "," : "", wr > 0 ? sqrt (top / wr) : 1.0);
  }
  printf ("\"}\n");
  g_free (base);
  g_rand_free (rng);
  return 0;
}

/* ---- rgb: decoded whole frames through the whole network ----------------------- */

static int
cmd_rgb (const char *model, const char *dir, const char *file, double bytes, const char *label,
    int step)
{
  GError *err = NULL;
  Net n;
  net_open (&n, model, -1);
  g_autofree char *refpath = g_strdup_printf ("%s/ref.det", dir);
  GPtrArray *ref = read_dets (refpath);
  int W = sn_detector_input_width (n.det), H = sn_detector_input_height (n.det);
  SnShape in_shape = sn_shape_make (4, (int64_t[]) { 1, H, W, 3 });
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &in_shape);
  guint8 *rgb = g_malloc ((size_t) W * H * 3);
  FILE *f = fopen (file, "rb");
  if (!f)
    die (file, NULL);
  GPtrArray *pred = g_ptr_array_new_with_free_func (det_free);
  GPtrArray *refs = g_ptr_array_new ();
  for (guint i = 0; i < ref->len; i++) {
    if (fread (rgb, 1, (size_t) W * H * 3, f) != (size_t) W * H * 3)
      die ("decoded frames: fewer than the reference's", NULL);
    if (i % step)
      continue;
    float *xv = x->data;
    for (size_t k = 0; k < (size_t) W * H * 3; k++)
      xv[k] = rgb[k];
    if (!sn_segment_run (n.whole, (const SnTensor *[]) { x }, &err))
      die ("whole network", err);
    SnDetections *p = g_new0 (SnDetections, 1);
    sn_detections_init (p);
    heads_to_dets (&n, n.whole, 0, CAND_THRESHOLD, p);
    g_ptr_array_add (pred, p);
    g_ptr_array_add (refs, g_ptr_array_index (ref, i));
  }
  fclose (f);
  printf ("{\"setting\": \"%s\", \"frames\": %u, \"eval_frames\": %u, \"bytes_per_frame\": %.1f, "
      "\"fidelity_ap50\": %.2f}\n", label, ref->len, refs->len, bytes, fidelity_ap50 (pred, refs));
  return 0;
}

int
main (int argc, char **argv)
{
  int cut_id = 4, step = 4, from = FIRST_REPORT, to = LAST_FRAME, tune_first = 300;
  gboolean tune = FALSE;
  double bytes = 0, noise = 8;
  int keep = 0, cols = 0, map = 0, down = 1, hold = 0;
  g_autofree char *settings = NULL, *label = NULL, *order = NULL, *gains = NULL;
  GOptionEntry entries[] = {
    { "cut", 0, 0, G_OPTION_ARG_INT, &cut_id, "Cut id (default 4)", "ID" },
    { "step", 0, 0, G_OPTION_ARG_INT, &step, "Fidelity on every S-th report frame (default 4)", "S" },
    { "settings", 0, 0, G_OPTION_ARG_STRING, &settings,
      "codec: comma-separated bits:dead_zone:tile:refresh:temporal:clip|minmax|raw|klt[q|N][:lone_dead_zone[:rolling[:residual_step]]]", "LIST" },
    { "bytes", 0, 0, G_OPTION_ARG_DOUBLE, &bytes, "rgb: bytes per frame of that coding", "B" },
    { "label", 0, 0, G_OPTION_ARG_STRING, &label, "rgb: name of the row", "L" },
    { "tune-first", 0, 0, G_OPTION_ARG_INT, &tune_first,
      "cache --tune: the first tuning frame (default 300; the last is 399)", "N" },
    { "klt", 0, 0, G_OPTION_ARG_INT, &keep,
      "mosaic-*: code the first N components of DIR/klt-cutN.f32 instead of the channels", "N" },
    { "cols", 0, 0, G_OPTION_ARG_INT, &cols, "mosaic-*: tiles per row (default 6 for 24)", "N" },
    { "map", 0, 0, G_OPTION_ARG_INT, &map, "mosaic-*: 0 linear, 1 square-root companding", "M" },
    { "order", 0, 0, G_OPTION_ARG_STRING, &order, "mosaic-*: channel of each tile, e.g. 3.0.1...", "L" },
    { "gains", 0, 0, G_OPTION_ARG_STRING, &gains, "mosaic-*: per-channel range gains g0,g1,...", "L" },
    { "hold", 0, 0, G_OPTION_ARG_INT, &hold, "mosaic-*: hold 8x8 blocks whose codes all moved by at most K (a temporal dead zone before x264)", "K" },
    { "down", 0, 0, G_OPTION_ARG_INT, &down, "mosaic-*: downsample each channel by D (2x2 mean, bilinear back)", "D" },
    { "noise", 0, 0, G_OPTION_ARG_DOUBLE, &noise,
      "sensitivity: noise std in codes of each channel's 8-bit step (default 8)", "N" },
    { "tune", 0, 0, G_OPTION_ARG_NONE, &tune,
      "cache, codec: the tuning frames 300-399 (files tune-*) instead of the report frames", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("cache MODEL VIDEO DIR | codec MODEL DIR "
      "| rgb MODEL DIR FILE | sensitivity MODEL DIR | mosaic-pack MODEL DIR OUT | mosaic-eval MODEL DIR FILE");
  g_option_context_add_main_entries (octx, entries, NULL);
  GError *err = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &err) || argc < 2 || step < 1)
    die ("usage: feature-rd cache MODEL VIDEO DIR | codec MODEL DIR --settings L | rgb MODEL DIR FILE", err);
  if (!strcmp (argv[1], "cache") && argc == 5)
    return cmd_cache (argv[2], argv[3], argv[4], cut_id, tune ? CLAMP (tune_first, 0, 399) : from, tune ? 399 : to,
        tune ? "tune-" : "");
  if (!strcmp (argv[1], "codec") && argc == 4 && settings)
    return cmd_codec (argv[2], argv[3], cut_id, settings, step, gains, tune ? "tune-" : "");
  if ((!strcmp (argv[1], "mosaic-pack") || !strcmp (argv[1], "mosaic-eval")) && argc == 5)
    return cmd_mosaic (!strcmp (argv[1], "mosaic-pack"), argv[2], argv[3], argv[4], cut_id, keep,
        cols, map, order, gains, down, hold, bytes, label ? label : argv[4], step, tune ? "tune-" : "");
  if (!strcmp (argv[1], "sensitivity") && argc == 4)
    return cmd_sensitivity (argv[2], argv[3], cut_id, step, noise, tune ? "tune-" : "");
  if (!strcmp (argv[1], "rgb") && argc == 5)
    return cmd_rgb (argv[2], argv[3], argv[4], bytes, label ? label : argv[4], step);
  die ("usage: feature-rd cache MODEL VIDEO DIR | codec MODEL DIR --settings L | rgb MODEL DIR FILE", NULL);
  return 2;
}
