/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Where a frame's time goes, stage by stage, on real video.
 *
 *   build/bench/stages MODEL.onnx VIDEO [--frames N] [--step S] [--cuts LIST]
 *                      [--bits LIST] [--json FILE]
 *
 * For every frame taken (frames 0, S, 2S, ... of VIDEO) it times, back to
 * back so that the shared machine's load falls on all of them alike:
 *
 *   - preprocessing of the decoded frame into the 512x512 model input: RGB
 *     stretched (as splitnnedge does) and letterboxed, and the same frame
 *     as I420 (what decoders give splitnnedge) stretched;
 *   - the whole network at 1 and 2 threads (the peer every other figure is
 *     a ratio against) and the CenterNet decode (top-k + NMS) of its heads;
 *   - per cut, the edge part and the cloud part at 1 and 2 threads;
 *   - per cut and bit width, the quantizer alone; per cut, bit width and
 *     codec, the whole encode (quantize + pack + code + packet, what
 *     splitnnedge does after the edge part) and the whole decode (parse +
 *     decode + dequantize, what splitnncloud does before the cloud part),
 *     and the packet's bytes.
 *
 * Prints medians (with the 10th-90th percentile spread) and ratios; --json
 * writes every median for bench/report.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "sn-frames.h"

#define MAX_CUTS 16
#define MAX_BITS 3
#define N_CODECS 4

/* One measured quantity: a sample per frame. */
typedef struct {
  GArray *v;
} Series;

static void
add (Series *s, double x)
{
  if (!s->v)
    s->v = g_array_new (FALSE, FALSE, sizeof (double));
  g_array_append_val (s->v, x);
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* q-quantile (0..1) by the nearest rank of the sorted samples. */
static double
quantile (Series *s, double q)
{
  if (!s->v || !s->v->len)
    return 0;
  g_array_sort (s->v, cmp_double);
  guint n = s->v->len;
  guint i = (guint) (q * (n - 1) + 0.5);
  return g_array_index (s->v, double, MIN (i, n - 1));
}

static double med (Series *s) { return quantile (s, 0.5); }

/* The frame as I420 (BT.601 limited range, chroma from each 2x2 block's
 * top-left pixel): what decoders hand splitnnedge in a real pipeline. */
static void
rgb_to_i420 (const guint8 *rgb, int w, int h, int stride, guint8 *y, guint8 *u, guint8 *v)
{
  int cw = (w + 1) / 2;
  for (int j = 0; j < h; j++)
    for (int i = 0; i < w; i++) {
      const guint8 *p = rgb + (size_t) j * stride + 3 * i;
      y[(size_t) j * w + i] = (guint8) (16.5 + 0.257 * p[0] + 0.504 * p[1] + 0.098 * p[2]);
      if (!(i & 1) && !(j & 1)) {
        u[(j / 2) * cw + i / 2] = (guint8) (128.5 - 0.148 * p[0] - 0.291 * p[1] + 0.439 * p[2]);
        v[(j / 2) * cw + i / 2] = (guint8) (128.5 + 0.439 * p[0] - 0.368 * p[1] - 0.071 * p[2]);
      }
    }
}

static double
now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

static gboolean
parse_ints (const char *s, int *out, int max, int *n)
{
  g_auto (GStrv) parts = g_strsplit (s, ",", -1);
  *n = 0;
  for (int i = 0; parts[i]; i++) {
    char *end;
    long v = strtol (parts[i], &end, 10);
    if (*n >= max || end == parts[i] || *end)
      return FALSE;
    out[(*n)++] = (int) v;
  }
  return *n > 0;
}

typedef struct {
  const SnCut *cut;
  Series edge[2], cloud[2];
  Series quant[MAX_BITS];
  Series enc[MAX_BITS][N_CODECS], dec[MAX_BITS][N_CODECS], bytes[MAX_BITS][N_CODECS];
} CutBench;

int
main (int argc, char **argv)
{
  int n_frames = 40, step = 10;
  g_autofree char *cuts_s = NULL, *bits_s = NULL, *json_path = NULL;
  GOptionEntry entries[] = {
    { "frames", 'n', 0, G_OPTION_ARG_INT, &n_frames, "Frames to measure (default 40)", "N" },
    { "step", 0, 0, G_OPTION_ARG_INT, &step, "Take every S-th frame of the video (default 10)", "S" },
    { "cuts", 0, 0, G_OPTION_ARG_STRING, &cuts_s, "Cut ids (default 3,4,5,13,14,30,33,45)", "LIST" },
    { "bits", 0, 0, G_OPTION_ARG_STRING, &bits_s, "Bit widths (default 2,4,8)", "LIST" },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &json_path, "Write the medians as JSON here", "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) octx = g_option_context_new ("MODEL.onnx VIDEO");
  g_option_context_set_summary (octx, "Per-stage times of split inference on real video "
      "(preprocessing, network parts, codecs, decoding), as medians and ratios.");
  g_option_context_add_main_entries (octx, entries, NULL);
  GError *err = NULL;
  if (!g_option_context_parse (octx, &argc, &argv, &err) || argc != 3 || n_frames < 1 || step < 1) {
    fprintf (stderr, "stages: %s\n", err ? err->message : "usage: stages MODEL.onnx VIDEO [options]");
    return 2;
  }
  int cut_ids[MAX_CUTS], bits[MAX_BITS], n_cuts, n_bits;
  if (!parse_ints (cuts_s ? cuts_s : "3,4,5,13,14,30,33,45", cut_ids, MAX_CUTS, &n_cuts)
      || !parse_ints (bits_s ? bits_s : "2,4,8", bits, MAX_BITS, &n_bits)) {
    fprintf (stderr, "stages: --cuts takes up to %d ids, --bits up to %d widths\n", MAX_CUTS, MAX_BITS);
    return 2;
  }
  for (int b = 0; b < n_bits; b++)
    if (bits[b] != 2 && bits[b] != 4 && bits[b] != 8) {
      fprintf (stderr, "stages: bit widths are 2, 4 or 8\n");
      return 2;
    }

  SnModel *m = sn_model_load (argv[1], &err);
  SnDetector *det = m ? sn_detector_new (m, &err) : NULL;
  SnCutSet *set = det ? sn_cut_set_new (m, &err) : NULL;
  SnFrames *frames = set ? sn_frames_open (argv[2], &err) : NULL;
  if (!frames) {
    fprintf (stderr, "stages: %s\n", err->message);
    return 1;
  }
  int W = sn_detector_input_width (det), H = sn_detector_input_height (det);
  SnPreprocessor *stretch = sn_preprocessor_new (W, H, SN_RESIZE_STRETCH, 1, 0, 0);
  SnPreprocessor *letterbox = sn_preprocessor_new (W, H, SN_RESIZE_LETTERBOX, 1, 0, 0);
  SnShape in_shape = sn_shape_make (4, (int64_t[]) { 1, H, W, 3 });
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &in_shape);
  SnTensor *x_lb = sn_tensor_new (SN_DTYPE_FLOAT32, &in_shape);
  const char *heads[] = { "keypoints", "wh" };
  SnSegment *whole[2];
  for (int t = 0; t < 2; t++) {
    if (!(whole[t] = sn_segment_new (m, NULL, 0, heads, 2, &err))) {
      fprintf (stderr, "stages: %s\n", err->message);
      return 1;
    }
    sn_segment_set_threads (whole[t], t + 1);
  }
  CutBench *cb = g_new0 (CutBench, n_cuts);
  for (int c = 0; c < n_cuts; c++) {
    char id[16];
    g_snprintf (id, sizeof id, "%d", cut_ids[c]);
    if (!(cb[c].cut = sn_cut_set_find (set, id))) {
      fprintf (stderr, "stages: the model has no cut %s\n", id);
      return 1;
    }
  }
  /* The split path as the elements run it, at 1 and 2 threads: the
   * sessions compile each cut's segments on its first frame (the warm-up
   * frame below).  The decode stage alone is timed on the decoder itself. */
  SnLoopback *loop[2];
  for (int t = 0; t < 2; t++) {
    if (!(loop[t] = sn_loopback_new (m, set, &err))) {
      fprintf (stderr, "stages: %s\n", err->message);
      return 1;
    }
    sn_edge_session_set_threads (sn_loopback_edge (loop[t]), t + 1);
    sn_cloud_session_set_threads (sn_loopback_cloud (loop[t]), t + 1);
  }
  SnEdgeSession *edge = sn_loopback_edge (loop[0]);
  SnFeatureDecoder *fdec = sn_feature_decoder_new (m, set);
  SnDetections dets;
  sn_detections_init (&dets);
  guint8 *qbuf = NULL;
  size_t qbuf_len = 0;
  Series pre_stretch = { 0 }, pre_letterbox = { 0 }, pre_i420 = { 0 }, whole_ms[2] = { 0 }, decode_ms = { 0 },
      n_dets = { 0 };
  guint8 *yuv = NULL;

  SnFrame f;
  int taken = 0, warm = 1;
  fprintf (stderr, "stages: %d frames of %s (every %d-th), %d cuts; the first frame only warms up\n",
      n_frames, argv[2], step, n_cuts);
  /* Decode every frame needed first: the decoder's threads would otherwise
   * run during the measurements (a third busy thread on two cores). */
  GPtrArray *kept = g_ptr_array_new_with_free_func (g_free);
  while ((int) kept->len < n_frames + 1 && sn_frames_next (frames, &f, &err))
    if (f.index % step == 0)
      g_ptr_array_add (kept, g_memdup2 (f.rgb, (gsize) f.stride * f.height));
  if (err) {
    fprintf (stderr, "stages: %s\n", err->message);
    return 1;
  }
  for (guint fi = 0; fi < kept->len; fi++) {
    f.rgb = g_ptr_array_index (kept, fi);
    f.index = (int) fi * step;
    SnImage img = { .format = SN_PIXEL_RGB, .width = f.width, .height = f.height,
      .planes = { f.rgb }, .strides = { f.stride } };
    int cw = (f.width + 1) / 2, chh = (f.height + 1) / 2;
    if (!yuv)
      yuv = g_malloc ((size_t) f.width * f.height + 2 * (size_t) cw * chh);
    rgb_to_i420 (f.rgb, f.width, f.height, f.stride, yuv, yuv + f.width * f.height,
        yuv + f.width * f.height + cw * chh);
    SnImage i420 = { .format = SN_PIXEL_I420, .width = f.width, .height = f.height,
      .planes = { yuv, yuv + f.width * f.height, yuv + f.width * f.height + cw * chh },
      .strides = { f.width, cw, cw } };
    SnLetterbox lb, lb2;
    double t0 = now_ms ();
    gboolean ok = sn_preprocess (stretch, &img, x, &lb, &err);
    double t1 = now_ms ();
    ok = ok && sn_preprocess (letterbox, &img, x_lb, &lb2, &err);
    double t2 = now_ms ();
    ok = ok && sn_preprocess (stretch, &i420, x_lb, &lb2, &err);
    double t3 = now_ms ();
    if (!ok)
      break;
    /* The first frame pays for XNNPACK's weight packing: run it, keep nothing. */
    if (!warm) {
      add (&pre_stretch, t1 - t0);
      add (&pre_letterbox, t2 - t1);
      add (&pre_i420, t3 - t2);
    }
    for (int t = 0; t < 2 && ok; t++) {
      t0 = now_ms ();
      ok = sn_segment_run (whole[t], (const SnTensor *[]) { x }, &err);
      if (!warm)
        add (&whole_ms[t], now_ms () - t0);
    }
    t0 = now_ms ();
    ok = ok && sn_detector_decode (det, sn_segment_output (whole[0], 0),
        sn_segment_output (whole[0], 1), &lb, &dets, &err);
    if (!warm && ok) {
      add (&decode_ms, now_ms () - t0);
      add (&n_dets, dets.n);
    }
    for (int c = 0; c < n_cuts && ok; c++) {
      CutBench *b = &cb[c];
      const SnCut *cut = b->cut;
      /* Edge and cloud parts: the network times the sessions report (coding
       * and compiling are apart).  Thread count 1 last, so that its edge
       * tensors are the ones coded below. */
      SnOption opt;
      sn_option_init_split (&opt, cut);
      for (int t = 1; t >= 0 && ok; t--) {
        SnEdgePacket ep;
        SnCloudFrame cf;
        ok = sn_loopback_process_input (loop[t], &opt, x, &lb, SN_PTS_NONE, &dets, &ep, &cf, &err);
        if (ok && !warm) {
          add (&b->edge[t], ep.timings.network_ms);
          add (&b->cloud[t], cf.timings.network_ms);
        }
      }
      const SnTensor *mid[SN_PACKET_MAX_TENSORS];
      for (int k = 0; k < cut->n_tensors && ok; k++)
        mid[k] = sn_edge_session_cut_tensor (edge, k);
      for (int bi = 0; bi < n_bits && ok; bi++) {
        /* The quantizer alone, every tensor of the cut (per-tensor ranges). */
        SnQuantConfig qc = { bits[bi], FALSE, 1.0 };
        SnQuantParams qp;
        t0 = now_ms ();
        for (int k = 0; k < cut->n_tensors && ok; k++) {
          size_t need = sn_quant_packed_size (sn_tensor_numel (mid[k]), bits[bi]);
          if (need > qbuf_len) {
            qbuf = g_realloc (qbuf, need);
            qbuf_len = need;
          }
          ok = sn_quantize (mid[k], &qc, NULL, &qp, qbuf, &err);
        }
        if (!warm)
          add (&b->quant[bi], now_ms () - t0);
        for (SnCodec codec = SN_CODEC_NONE; codec <= SN_CODEC_AUTO && ok; codec++) {
          opt.feature.bits = bits[bi];
          opt.feature.codec = codec;
          SnEdgePacket ep;
          ok = sn_edge_session_recode (edge, &opt, &ep, &err);
          SnPacket p;
          const SnCut *got;
          SnTensor *const *outs;
          t1 = now_ms ();
          ok = ok && sn_feature_decode (fdec, ep.data, ep.len, &p, &got, &outs, &err);
          t2 = now_ms ();
          if (!warm && ok) {
            add (&b->enc[bi][codec], ep.timings.encode_ms);
            add (&b->dec[bi][codec], t2 - t1);
            add (&b->bytes[bi][codec], ep.len);
          }
        }
      }
    }
    if (!ok)
      break;
    if (warm)
      warm = 0;
    else
      taken++;
  }
  if (err) {
    fprintf (stderr, "stages: %s\n", err->message);
    return 1;
  }
  if (!taken) {
    fprintf (stderr, "stages: no frame measured\n");
    return 1;
  }

  double w1 = med (&whole_ms[0]), w2 = med (&whole_ms[1]);
  printf ("== stages: medians of %d frames (10th-90th percentile); every row was measured interleaved\n"
      "   with the whole network in the same frame loop, and ratios are against that peer\n", taken);
  printf ("whole network:        1 thread %6.1f ms (%.1f-%.1f)   2 threads %6.1f ms (%.1f-%.1f)\n",
      w1, quantile (&whole_ms[0], .1), quantile (&whole_ms[0], .9),
      w2, quantile (&whole_ms[1], .1), quantile (&whole_ms[1], .9));
  printf ("preprocess %dx%d -> %dx%d: RGB stretch %.2f ms, RGB letterbox %.2f ms, I420 stretch %.2f ms "
      "= %.3f of the 1-thread network\n", f.width, f.height, W, H, med (&pre_stretch),
      med (&pre_letterbox), med (&pre_i420), med (&pre_i420) / w1);
  printf ("CenterNet decode (top-%d + NMS, %.0f detections): %.2f ms = %.3f of the 1-thread network\n",
      sn_detector_decode_params (det)->top_k, med (&n_dets), med (&decode_ms), med (&decode_ms) / w1);
  printf ("\n%4s %12s %12s %12s %12s %10s %10s\n", "cut", "edge 1t ms", "cloud 1t ms", "edge 2t ms",
      "cloud 2t ms", "(e+c)/w 1t", "(e+c)/w 2t");
  for (int c = 0; c < n_cuts; c++) {
    CutBench *b = &cb[c];
    printf ("%4u %12.1f %12.1f %12.1f %12.1f %10.2f %10.2f\n", b->cut->id, med (&b->edge[0]),
        med (&b->cloud[0]), med (&b->edge[1]), med (&b->cloud[1]),
        (med (&b->edge[0]) + med (&b->cloud[0])) / w1, (med (&b->edge[1]) + med (&b->cloud[1])) / w2);
  }
  printf ("\n%4s %8s %4s %9s %10s %10s %10s %10s\n", "cut", "values", "bits", "codec", "bytes",
      "quant ms", "encode ms", "decode ms");
  for (int c = 0; c < n_cuts; c++)
    for (int bi = 0; bi < n_bits; bi++)
      for (SnCodec codec = SN_CODEC_NONE; codec <= SN_CODEC_AUTO; codec++) {
        CutBench *b = &cb[c];
        printf ("%4u %8" G_GINT64_FORMAT " %4d %9s %10.0f %10.2f %10.2f %10.2f\n", b->cut->id,
            b->cut->values, bits[bi], sn_codec_name (codec), med (&b->bytes[bi][codec]),
            med (&b->quant[bi]), med (&b->enc[bi][codec]), med (&b->dec[bi][codec]));
      }
  /* The target of issue 8: quantize + pack + lossless encode of the largest
   * cut measured under 2 ms per frame. */
  int big = 0;
  for (int c = 1; c < n_cuts; c++)
    if (cb[c].cut->values > cb[big].cut->values)
      big = c;
  for (int bi = 0; bi < n_bits; bi++)
    printf ("%s cut %u (%" G_GINT64_FORMAT " values), %d bits: quantize+pack+lossless encode %.2f ms "
        "(target < 2 ms), %.3f of its 1-thread edge part\n", bi ? "             " : "\nlargest cut:",
        cb[big].cut->id, cb[big].cut->values, bits[bi], med (&cb[big].enc[bi][SN_CODEC_LOSSLESS]),
        med (&cb[big].enc[bi][SN_CODEC_LOSSLESS]) / med (&cb[big].edge[0]));

  if (json_path) {
    GString *j = g_string_new ("{");
    g_string_append_printf (j, "\"frames\": %d, \"step\": %d, \"frame_width\": %d, \"frame_height\": %d, "
        "\"whole_ms\": [%.3f, %.3f], \"whole_p10\": [%.3f, %.3f], \"whole_p90\": [%.3f, %.3f], "
        "\"preprocess_stretch_ms\": %.3f, \"preprocess_letterbox_ms\": %.3f, \"preprocess_i420_ms\": %.3f, "
        "\"decode_ms\": %.3f, "
        "\"detections\": %.0f, \"largest_cut\": %u, \"cuts\": [",
        taken, step, f.width, f.height, w1, w2, quantile (&whole_ms[0], .1),
        quantile (&whole_ms[1], .1), quantile (&whole_ms[0], .9), quantile (&whole_ms[1], .9),
        med (&pre_stretch), med (&pre_letterbox), med (&pre_i420), med (&decode_ms), med (&n_dets),
        cb[big].cut->id);
    for (int c = 0; c < n_cuts; c++) {
      CutBench *b = &cb[c];
      g_string_append_printf (j, "%s{\"id\": %u, \"tensors\": %d, \"values\": %" G_GINT64_FORMAT
          ", \"edge_ms\": [%.3f, %.3f], \"cloud_ms\": [%.3f, %.3f], \"codecs\": [", c ? ", " : "",
          b->cut->id, b->cut->n_tensors, b->cut->values, med (&b->edge[0]), med (&b->edge[1]),
          med (&b->cloud[0]), med (&b->cloud[1]));
      for (int bi = 0; bi < n_bits; bi++)
        for (SnCodec codec = SN_CODEC_NONE; codec <= SN_CODEC_AUTO; codec++)
          g_string_append_printf (j, "%s{\"bits\": %d, \"codec\": \"%s\", \"bytes\": %.0f, "
              "\"quant_ms\": %.3f, \"encode_ms\": %.3f, \"decode_ms\": %.3f}",
              bi || codec ? ", " : "", bits[bi], sn_codec_name (codec), med (&b->bytes[bi][codec]),
              med (&b->quant[bi]), med (&b->enc[bi][codec]), med (&b->dec[bi][codec]));
      g_string_append (j, "]}");
    }
    g_string_append (j, "]}\n");
    if (!g_file_set_contents (json_path, j->str, j->len, &err)) {
      fprintf (stderr, "stages: %s\n", err->message);
      return 1;
    }
    g_string_free (j, TRUE);
  }
  for (int t = 0; t < 2; t++)
    sn_loopback_free (loop[t]);
  g_free (cb);
  for (int t = 0; t < 2; t++)
    sn_segment_free (whole[t]);
  g_free (qbuf);
  g_free (yuv);
  g_ptr_array_unref (kept);
  sn_detections_clear (&dets);
  sn_feature_decoder_free (fdec);
  sn_tensor_free (x);
  sn_tensor_free (x_lb);
  sn_preprocessor_free (stretch);
  sn_preprocessor_free (letterbox);
  sn_frames_close (frames);
  sn_cut_set_free (set);
  sn_detector_free (det);
  sn_model_free (m);
  return 0;
}
