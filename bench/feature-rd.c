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
 *       encode and decode ms (medians), and today's encodes of the same
 *       tensors (8-bit lossless, 8-bit lossy) for the edge-time comparison.
 *   feature-rd rgb MODEL DIR FILE --bytes B --label L [--step S]
 *       FILE: decoded 512x512 RGB frames (x264, JPEG): the whole network on
 *       every S-th, one JSON line.
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
    const char *prefix)
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
    int intra_frames = 0;
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
  double bytes = 0;
  g_autofree char *settings = NULL, *label = NULL;
  GOptionEntry entries[] = {
    { "cut", 0, 0, G_OPTION_ARG_INT, &cut_id, "Cut id (default 4)", "ID" },
    { "step", 0, 0, G_OPTION_ARG_INT, &step, "Fidelity on every S-th report frame (default 4)", "S" },
    { "settings", 0, 0, G_OPTION_ARG_STRING, &settings,
      "codec: comma-separated bits:dead_zone:tile:refresh:temporal:clip|minmax|raw|klt[q|N][:lone_dead_zone[:rolling[:residual_step]]]", "LIST" },
    { "bytes", 0, 0, G_OPTION_ARG_DOUBLE, &bytes, "rgb: bytes per frame of that coding", "B" },
    { "label", 0, 0, G_OPTION_ARG_STRING, &label, "rgb: name of the row", "L" },
    { "tune-first", 0, 0, G_OPTION_ARG_INT, &tune_first,
      "cache --tune: the first tuning frame (default 300; the last is 399)", "N" },
    { "tune", 0, 0, G_OPTION_ARG_NONE, &tune,
      "cache, codec: the tuning frames 300-399 (files tune-*) instead of the report frames", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("cache MODEL VIDEO DIR | codec MODEL DIR "
      "| rgb MODEL DIR FILE");
  g_option_context_add_main_entries (octx, entries, NULL);
  GError *err = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &err) || argc < 2 || step < 1)
    die ("usage: feature-rd cache MODEL VIDEO DIR | codec MODEL DIR --settings L | rgb MODEL DIR FILE", err);
  if (!strcmp (argv[1], "cache") && argc == 5)
    return cmd_cache (argv[2], argv[3], argv[4], cut_id, tune ? CLAMP (tune_first, 0, 399) : from, tune ? 399 : to,
        tune ? "tune-" : "");
  if (!strcmp (argv[1], "codec") && argc == 4 && settings)
    return cmd_codec (argv[2], argv[3], cut_id, settings, step, tune ? "tune-" : "");
  if (!strcmp (argv[1], "rgb") && argc == 5)
    return cmd_rgb (argv[2], argv[3], argv[4], bytes, label ? label : argv[4], step);
  die ("usage: feature-rd cache MODEL VIDEO DIR | codec MODEL DIR --settings L | rgb MODEL DIR FILE", NULL);
  return 2;
}
