/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn eval MODEL.onnx VIDEO_OR_IMAGE [--frames N]
 *              [--cuts all|edge-only|cloud-only|ID,...] [--bits 2,4,8]
 *              [--codec none,lossless,lossy,auto,h264,jpeg] [--qp 20,26,32]
 *              [--jpeg-quality 90] [--json] [--range frame|calibrated]
 *              [--store-fidelity OUT.onnx]
 *
 * The baselines (sn-option.h) are rows too: edge-only (the whole network
 * here, the detections message on the wire) and cloud-only (the model input
 * coded by each frame codec of --codec at each quality, decoded, the whole
 * network on the decoded frame; sn-framecoder.h).
 *
 * For every cut x bits x codec: bytes per frame on the wire, the size of a
 * JPEG (quality 90) of the same model input, and fidelity of the path's
 * detections against the unsplit float model's on the same frames
 * (sn-eval.h): fidelity_ap50 (box-weighted AP@0.5, the figure to choose
 * by), person_ap50 and the first metric, fidelity_map50.
 * --store-fidelity writes a copy of the model with those figures in
 * metadata splitnn.fidelity (sn-fidelity.h), for the planner's floor.
 *
 * Lossless and raw coding give the same detections by construction, so per
 * frame and cut the edge runs once and the cloud once per bit width for
 * the exact paths and once more for the lossy one; bytes come from
 * encoding every codec. */
#include <stdio.h>
#include <string.h>
#include <turbojpeg.h>

#include <splitnn/splitnn.h>

#include "sn-cli.h"
#include "sn-frames.h"
#include "sn-framecoder.h"

typedef struct {
  SnOptionKind kind;
  SnFrameCodec frame_codec; /* cloud-only */
  int quality;              /* cloud-only */
  SnFrameCoder *coder;      /* cloud-only: one stream over the frames */
  const SnCut *cut;         /* NULL for edge-only and cloud-only */
  const SnPath *path;       /* a trained path of the cut, or NULL */
  int bits;
  SnCodec codec;
  SnEval *eval;
  double bytes, edge_ms, cloud_ms, code_ms;
  int frames;
  int used[3];              /* what auto chose, per codec */
} Row;

static gboolean
parse_list (const char *s, GArray *out, gboolean (*parse) (const char *, int *))
{
  g_auto (GStrv) parts = g_strsplit (s, ",", -1);
  for (int i = 0; parts[i]; i++) {
    int v;
    if (!parse (g_strstrip (parts[i]), &v))
      return FALSE;
    g_array_append_val (out, v);
  }
  return out->len > 0;
}

static gboolean
parse_bits (const char *s, int *v)
{
  char *end;
  *v = (int) g_ascii_strtoll (s, &end, 10);
  return *s && !*end && sn_quant_bits_valid (*v);
}

static gboolean
parse_int (const char *s, int *v)
{
  char *end;
  gint64 x = g_ascii_strtoll (s, &end, 10);
  *v = (int) CLAMP (x, -1, 1000);
  return *s && !*end;
}

/* One --codec list holds feature codecs (cuts) and frame codecs
 * (cloud-only); their names differ (sn-option.h). */
static gboolean
parse_codecs (const char *s, GArray *feature, GArray *frame)
{
  g_auto (GStrv) parts = g_strsplit (s, ",", -1);
  for (int i = 0; parts[i]; i++) {
    const char *name = g_strstrip (parts[i]);
    SnCodec c;
    SnFrameCodec fc;
    int v;
    if (sn_codec_from_name (name, &c)) {
      v = c;
      g_array_append_val (feature, v);
    } else if (sn_frame_codec_from_name (name, &fc)) {
      v = fc;
      g_array_append_val (frame, v);
    } else {
      return FALSE;
    }
  }
  return feature->len + frame->len > 0;
}

static gboolean
valid_qualities (GArray *q, SnFrameCodec codec)
{
  for (guint i = 0; i < q->len; i++)
    if (!sn_frame_codec_quality_valid (codec, g_array_index (q, int, i)))
      return FALSE;
  return TRUE;
}

static const char *
row_codec_name (const Row *row)
{
  switch (row->kind) {
    case SN_OPTION_EDGE_ONLY: return "detections";
    case SN_OPTION_CLOUD_ONLY: return sn_frame_codec_name (row->frame_codec);
    default: return sn_codec_name (row->codec);
  }
}

static size_t
jpeg_size_of_input (tjhandle tj, const SnTensor *x, guint8 *rgb)
{
  int h = (int) x->shape.dims[1], w = (int) x->shape.dims[2];
  unsigned char *jpeg = NULL;
  unsigned long len = 0;
  if (tjCompress2 (tj, rgb, w, 0, h, TJPF_RGB, &jpeg, &len, TJSAMP_420, 90, 0) != 0)
    return 0;
  tjFree (jpeg);
  return len;
}

static SnEval *
new_eval (double ref_min)
{
  SnEval *e = sn_eval_new_fidelity ();
  sn_eval_set_score_floors (e, MIN (SN_EVAL_PRED_MIN_SCORE, (float) ref_min), (float) ref_min);
  return e;
}

static double
now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

/* The frame's first row at a cut runs the edge; later rows recode its
 * tensors.  *edge_ms: the edge's time for the frame at this cut. */
static gboolean
code_frame (SnEdgeSession *edge, gboolean *ran, const SnOption *opt, const SnTensor *x,
    const SnLetterbox *lb, guint64 pts, SnEdgePacket *pk, double *edge_ms, GError **error)
{
  if (*ran)
    return sn_edge_session_recode (edge, opt, pk, error);
  if (!sn_edge_session_process_input (edge, opt, x, lb, pts, pk, error))
    return FALSE;
  *ran = TRUE;
  *edge_ms = pk->timings.network_ms;   /* compiling is not the frame's cost */
  return TRUE;
}

int
sn_cli_eval (int argc, char **argv)
{
  int max_frames = 50, threads = 1, start = 0;
  g_autofree char *cuts_s = NULL, *bits_s = NULL, *codecs_s = NULL, *paths_s = NULL;
  g_autofree char *qp_s = NULL, *jpeg_q_s = NULL;
  g_autofree char *range_s = NULL, *store_path = NULL;
  gboolean json = FALSE, per_channel = FALSE;
  double threshold = 0.3, clip = 1.0;
  GOptionEntry entries[] = {
    { "frames", 'n', 0, G_OPTION_ARG_INT, &max_frames, "Frames to evaluate (default 50)", "N" },
    { "start", 0, 0, G_OPTION_ARG_INT, &start, "Skip this many frames first (held-out frames of a training video)", "N" },
    { "cuts", 0, 0, G_OPTION_ARG_STRING, &cuts_s, "all (default; none with --paths) or a list of cut ids/names, edge-only, cloud-only", "LIST" },
    { "paths", 0, 0, G_OPTION_ARG_STRING, &paths_s, "Trained paths of the model to evaluate: all or names (see 'splitnn inspect'); each at its own bit width", "LIST" },
    { "bits", 0, 0, G_OPTION_ARG_STRING, &bits_s, "Bit widths (default 2,4,8)", "LIST" },
    { "codec", 0, 0, G_OPTION_ARG_STRING, &codecs_s, "Codecs: feature codecs for cuts (none, lossless, lossy, auto; default all four) and frame codecs for cloud-only (h264, jpeg; default both)", "LIST" },
    { "qp", 0, 0, G_OPTION_ARG_STRING, &qp_s, "Cloud-only H.264 constant QPs, 0-51 (default 20,26,32)", "LIST" },
    { "jpeg-quality", 0, 0, G_OPTION_ARG_STRING, &jpeg_q_s, "Cloud-only JPEG qualities, 1-100 (default 90)", "LIST" },
    { "per-channel", 0, 0, G_OPTION_ARG_NONE, &per_channel, "Quantization ranges per channel", NULL },
    { "clip", 0, 0, G_OPTION_ARG_DOUBLE, &clip, "Fraction of values inside the quantization range (default 1: min/max)", "F" },
    { "range", 0, 0, G_OPTION_ARG_STRING, &range_s, "Quantization ranges: frame (each frame's own, default) or calibrated (stored by 'splitnn calibrate'; not for trained paths)", "MODE" },
    { "threshold", 't', 0, G_OPTION_ARG_DOUBLE, &threshold, "Score of the reference boxes fidelity counts (default 0.3; candidates count from 0.05)", "T" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Kernel threads (default 1)", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per row", NULL },
    { "store-fidelity", 0, 0, G_OPTION_ARG_FILENAME, &store_path, "Write a copy of the model with "
      "the measured fidelity of every cut row in metadata splitnn.fidelity (not MODEL itself; "
      "trained-path rows are not stored)", "OUT.onnx" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.onnx VIDEO_OR_IMAGE");
  g_option_context_set_summary (ctx,
      "Measure bytes per frame and fidelity (box-weighted AP@0.5 against the unsplit float model) per cut, bit width and codec.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!sn_cli_parse (ctx, &argc, &argv, 2))
    return 2;
  SnRangeMode range = SN_RANGE_FRAME;
  g_autoptr (GArray) bits = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) codecs = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) frame_codecs = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) qps = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) jpeg_qs = g_array_new (FALSE, FALSE, sizeof (int));
  gboolean codecs_ok = codecs_s ? parse_codecs (codecs_s, codecs, frame_codecs) : TRUE;
  if (codecs->len == 0)
    parse_codecs ("none,lossless,lossy,auto", codecs, frame_codecs);
  if (frame_codecs->len == 0)
    parse_codecs ("h264,jpeg", codecs, frame_codecs);
  if (!parse_list (bits_s ? bits_s : "2,4,8", bits, parse_bits) || !codecs_ok
      || !parse_list (qp_s ? qp_s : "20,26,32", qps, parse_int)
      || !valid_qualities (qps, SN_FRAME_CODEC_H264)
      || !parse_list (jpeg_q_s ? jpeg_q_s : "90", jpeg_qs, parse_int)
      || !valid_qualities (jpeg_qs, SN_FRAME_CODEC_JPEG)
      || max_frames < 1 || threads < 1 || clip <= 0 || clip > 1 || start < 0
      || (range_s && !sn_range_from_name (range_s, &range))) {
    fprintf (stderr, "splitnn: --bits takes 2,4,8,16,32; --codec none,lossless,lossy,auto,h264,jpeg; "
        "--qp 0-51; --jpeg-quality 1-100; --frames and --threads >= 1; --clip in (0, 1]; "
        "--range frame or calibrated\n");
    return 2;
  }
  if (store_path && sn_cli_output_is_model (argv[1], store_path, "--store-fidelity"))
    return 2;

  GError *err = NULL;
  SnModel *m = sn_model_load (argv[1], &err);
  SnDetector *det = m ? sn_detector_new (m, &err) : NULL;
  SnCutSet *set = det ? sn_cut_set_new (m, &err) : NULL;
  SnPathSet *pset = set ? sn_path_set_new (m, set, &err) : NULL;
  SnFrames *frames = pset ? sn_frames_open (argv[2], &err) : NULL;
  if (!frames) {
    fprintf (stderr, "splitnn: %s\n", err->message);
    g_error_free (err);
    sn_path_set_free (pset);
    sn_cut_set_free (set);
    sn_detector_free (det);
    sn_model_free (m);
    return 1;
  }
  sn_detector_set_threads (det, threads);
  /* Candidates count from SN_EVAL_PRED_MIN_SCORE, the reference from
   * --threshold: decode down to the lower; SnEval applies both. */
  sn_detector_decode_params (det)->threshold = MIN ((float) threshold, SN_EVAL_PRED_MIN_SCORE);

  /* Cuts to evaluate, each with its split compiled once. */
  GPtrArray *cuts = g_ptr_array_new ();
  GPtrArray *paths = g_ptr_array_new ();
  gboolean want[3] = { FALSE, FALSE, FALSE };   /* per SnOptionKind: the baselines asked for */
  if (paths_s) {
    g_auto (GStrv) parts = g_strsplit (paths_s, ",", -1);
    for (int i = 0; parts[i]; i++) {
      gboolean all = strcmp (g_strstrip (parts[i]), "all") == 0;
      for (int k = 0; k < sn_path_set_n_paths (pset); k++) {
        const SnPath *p = sn_path_set_get (pset, k);
        if (all || strcmp (parts[i], sn_path_name (p)) == 0)
          g_ptr_array_add (paths, (gpointer) p);
      }
      if (!all && (paths->len == 0
              || strcmp (sn_path_name (g_ptr_array_index (paths, paths->len - 1)), parts[i]) != 0)) {
        fprintf (stderr, "splitnn: the model has no trained path '%s' (see 'splitnn inspect')\n",
            parts[i]);
        return 2;
      }
    }
    for (guint i = 0; i < paths->len; i++) {
      const SnCut *c = sn_path_cut (g_ptr_array_index (paths, i));
      if (!g_ptr_array_find (cuts, c, NULL))
        g_ptr_array_add (cuts, (gpointer) c);
    }
  }
  if (paths_s && !cuts_s) {
    /* only the paths' cuts, above */
  } else if (!cuts_s || strcmp (cuts_s, "all") == 0) {
    for (int i = 0; i < sn_cut_set_n_cuts (set); i++)
      g_ptr_array_add (cuts, (gpointer) sn_cut_set_get (set, i));
  } else {
    g_auto (GStrv) parts = g_strsplit (cuts_s, ",", -1);
    for (int i = 0; parts[i]; i++) {
      SnOptionKind kind = sn_option_kind_from_cut_arg (g_strstrip (parts[i]));
      if (kind != SN_OPTION_CUT) {
        want[kind] = TRUE;
        continue;
      }
      const SnCut *c = sn_cut_set_find (set, parts[i]);
      if (!c) {
        fprintf (stderr, "splitnn: no cut '%s' (see 'splitnn cuts'; or edge-only, cloud-only)\n",
            parts[i]);
        return 2;
      }
      g_ptr_array_add (cuts, (gpointer) c);
    }
  }
  int n_cuts = cuts->len;
  /* Every cut's segments are compiled on first use and kept by the sessions. */
  SnLoopback *loop = sn_loopback_new (m, set, &err);
  g_assert (loop);
  SnEdgeSession *edge = sn_loopback_edge (loop);
  SnCloudSession *cloud = sn_loopback_cloud (loop);
  sn_edge_session_set_threads (edge, threads);
  sn_cloud_session_set_threads (cloud, threads);
  sn_cloud_session_set_paths (cloud, pset);
  *sn_cloud_session_decode_params (cloud) = *sn_detector_decode_params (det);
  GArray *rows = g_array_new (FALSE, TRUE, sizeof (Row));
  for (guint i = 0; i < paths->len; i++)
    for (guint c = 0; c < codecs->len; c++) {
      const SnPath *p = g_ptr_array_index (paths, i);
      Row r = { .cut = sn_path_cut (p), .path = p, .bits = sn_path_bits (p),
        .codec = g_array_index (codecs, int, c), .eval = new_eval (threshold) };
      g_array_append_val (rows, r);
    }
  for (int i = 0; i < (paths_s && !cuts_s ? 0 : n_cuts); i++)
    for (guint b = 0; b < bits->len; b++)
      for (guint c = 0; c < codecs->len; c++) {
        Row r = { .cut = g_ptr_array_index (cuts, i), .bits = g_array_index (bits, int, b),
          .codec = g_array_index (codecs, int, c), .eval = new_eval (threshold) };
        g_array_append_val (rows, r);
      }

  if (want[SN_OPTION_EDGE_ONLY]) {
    Row r = { .kind = SN_OPTION_EDGE_ONLY, .eval = new_eval (threshold) };
    g_array_append_val (rows, r);
  }
  int in_w = sn_detector_input_width (det), in_h = sn_detector_input_height (det);
  for (guint c = 0; want[SN_OPTION_CLOUD_ONLY] && !err && c < frame_codecs->len; c++) {
    SnFrameCodec fcodec = g_array_index (frame_codecs, int, c);
    GArray *qs = fcodec == SN_FRAME_CODEC_H264 ? qps : jpeg_qs;
    for (guint q = 0; q < qs->len; q++) {
      Row r = { .kind = SN_OPTION_CLOUD_ONLY, .frame_codec = fcodec,
        .quality = g_array_index (qs, int, q), .eval = new_eval (threshold) };
      r.coder = sn_frame_coder_new (fcodec, r.quality, in_w, in_h, &err);
      g_array_append_val (rows, r);
      if (!r.coder)
        break;
    }
  }
  /* The whole network, for cloud-only rows: on the decoded frame. */
  SnSegment *whole = NULL;
  SnTensor *decoded_x = NULL;
  if (!err && want[SN_OPTION_CLOUD_ONLY]) {
    const char *outs[] = { "keypoints", "wh" };
    whole = sn_segment_new (m, NULL, 0, outs, 2, &err);
    if (whole)
      sn_segment_set_threads (whole, threads);
  }

  GByteArray *packet = g_byte_array_new ();      /* edge-only rows: the detections message */
  tjhandle tj = tjInitCompress ();
  guint8 *rgb = g_malloc (in_w * in_h * 3), *decoded = g_malloc (in_w * in_h * 3);
  SnDetections ref, got;
  sn_detections_init (&ref);
  sn_detections_init (&got);
  double jpeg_total = 0;
  int n_frames = 0;
  SnFrame f;
  if (err)
    goto fail;
  for (int i = 0; i < start; i++)
    if (!sn_frames_next (frames, &f, &err))
      goto fail;
  while (n_frames < max_frames && sn_frames_next (frames, &f, &err)) {
    SnImage img = { SN_PIXEL_RGB, f.width, f.height, { f.rgb }, { f.stride } };
    SnLetterbox lb;
    double w0 = now_ms ();
    if (!sn_detector_run (det, &img, &ref, NULL, &err))
      break;
    double whole_ms = now_ms () - w0;
    const SnTensor *x = sn_detector_preprocess (det, &img, &lb, &err);
    if (!x)
      break;
    /* The model input as the 8-bit frame a camera would code. */
    const float *xf = x->data;
    for (int i = 0; i < in_w * in_h * 3; i++)
      rgb[i] = (guint8) CLAMP (xf[i] + 0.5f, 0, 255);
    jpeg_total += jpeg_size_of_input (tj, x, rgb);
    /* Baselines. */
    for (guint r = 0; r < rows->len; r++) {
      Row *row = &g_array_index (rows, Row, r);
      if (row->kind == SN_OPTION_EDGE_ONLY) {
        /* What the edge sends: the detections the cloud would emit. */
        got.n = 0;
        for (int i = 0; i < ref.n; i++)
          if (ref.items[i].score >= threshold)
            sn_detections_add (&got, &ref.items[i]);
        SnResultHeader h;
        sn_result_header_init (&h);
        h.seq = f.index;
        h.pts = f.pts;
        h.cut_id = SN_CUT_ID_EDGE_ONLY;
        sn_result_write (&h, &got, packet);
        sn_eval_add_frame (row->eval, &got, &ref);
        row->bytes += packet->len;
        row->edge_ms += whole_ms;
        row->frames++;
      } else if (row->kind == SN_OPTION_CLOUD_ONLY) {
        double c0 = now_ms ();
        gssize len = sn_frame_coder_run (row->coder, rgb, decoded, &err);
        if (len < 0)
          goto fail;
        double c1 = now_ms ();
        if (!decoded_x)
          decoded_x = sn_tensor_new (x->dtype, &x->shape);
        float *df = decoded_x->data;
        for (int i = 0; i < in_w * in_h * 3; i++)
          df[i] = decoded[i];
        const SnTensor *in = decoded_x;
        SnDetections res;
        sn_detections_init (&res);
        if (!sn_segment_run (whole, &in, &err)
            || !sn_detector_decode (det, sn_segment_output (whole, 0), sn_segment_output (whole, 1),
                &lb, &res, &err)) {
          sn_detections_clear (&res);
          goto fail;
        }
        sn_eval_add_frame (row->eval, &res, &ref);
        sn_detections_clear (&res);
        row->bytes += len;
        row->code_ms += c1 - c0;
        row->cloud_ms += now_ms () - c1;
        row->frames++;
      }
    }
    for (int ci = 0; ci < n_cuts; ci++) {
      const SnCut *cut = g_ptr_array_index (cuts, ci);
      /* The edge runs once per frame and cut, for the cut's first row;
       * the other rows code the same tensors again. */
      gboolean ran = FALSE;
      double edge_ms = 0;
      SnEdgePacket pk;
      /* Detections per (bits, exact-or-lossy) are shared by the codecs. */
      for (guint bi = 0; bi < bits->len; bi++) {
        int b = g_array_index (bits, int, bi);
        SnDetections result[2];
        double cloud_ms[2] = { 0 };
        gboolean done[2] = { FALSE, FALSE };
        sn_detections_init (&result[0]);
        sn_detections_init (&result[1]);
        for (guint r = 0; r < rows->len; r++) {
          Row *row = &g_array_index (rows, Row, r);
          if (row->cut != cut || row->bits != b || row->path)
            continue;
          SnOption opt;
          sn_option_init_split (&opt, cut);
          opt.feature.bits = b;
          opt.feature.codec = row->codec;
          opt.feature.per_channel = per_channel;
          opt.feature.clip = clip;
          opt.feature.range = range;
          SnPacket pkt;
          if (!code_frame (edge, &ran, &opt, x, &lb, f.pts, &pk, &edge_ms, &err)
              || !sn_packet_parse (pk.data, pk.len, &pkt, &err))
            goto fail;
          double code_ms = pk.timings.encode_ms;
          gboolean lossy = FALSE;
          for (int k = 0; k < pkt.n_tensors; k++) {
            lossy |= pkt.tensors[k].codec == SN_CODEC_LOSSY;
            row->used[pkt.tensors[k].codec]++;
          }
          int slot = lossy ? 1 : 0;
          if (!done[slot]) {
            SnCloudFrame cf;
            if (!sn_cloud_session_process (cloud, pk.data, pk.len, SN_SESSION_NOW, &cf,
                    &result[slot], &err))
              goto fail;
            cloud_ms[slot] = cf.timings.network_ms + cf.timings.detect_ms;
            code_ms += cf.timings.decode_ms;
            done[slot] = TRUE;
          }
          sn_eval_add_frame (row->eval, &result[slot], &ref);
          row->bytes += pk.len;
          row->edge_ms += edge_ms;
          row->cloud_ms += cloud_ms[slot];
          row->code_ms += code_ms;
          row->frames++;
        }
        sn_detections_clear (&result[0]);
        sn_detections_clear (&result[1]);
      }
      /* Trained paths of this cut: each through its own adapters. */
      for (guint r = 0; r < rows->len; r++) {
        Row *row = &g_array_index (rows, Row, r);
        if (row->cut != cut || !row->path)
          continue;
        SnOption opt;
        sn_option_init_split (&opt, cut);
        opt.feature.bits = row->bits;
        opt.feature.codec = row->codec;
        opt.feature.path = row->path;
        SnPacket pkt;
        SnCloudFrame cf;
        SnDetections res;
        sn_detections_init (&res);
        if (!code_frame (edge, &ran, &opt, x, &lb, f.pts, &pk, &edge_ms, &err)
            || !sn_packet_parse (pk.data, pk.len, &pkt, &err)
            || !sn_cloud_session_process (cloud, pk.data, pk.len, SN_SESSION_NOW, &cf, &res, &err)) {
          sn_detections_clear (&res);
          goto fail;
        }
        for (int k = 0; k < pkt.n_tensors; k++)
          row->used[pkt.tensors[k].codec]++;
        sn_eval_add_frame (row->eval, &res, &ref);
        sn_detections_clear (&res);
        row->bytes += pk.len;
        row->edge_ms += edge_ms;
        row->cloud_ms += cf.timings.network_ms + cf.timings.detect_ms;
        row->code_ms += pk.timings.encode_ms + cf.timings.decode_ms;
        row->frames++;
      }
    }
    n_frames++;
    fprintf (stderr, "\reval: frame %d/%d", n_frames, max_frames);
  }
  fprintf (stderr, "\n");
fail:;
  /* A failure frees everything too: sanitizer builds run this path. */
  int rc = 0;
  if (err) {
    fprintf (stderr, "splitnn: %s\n", err->message);
    g_error_free (err);
    rc = 1;
  }
  double jpeg = n_frames ? jpeg_total / n_frames : 0;
  GArray *stored = g_array_new (FALSE, FALSE, sizeof (SnFidelityRow));
  if (!json && rc == 0)
    printf ("%-10s %4s %-6s %-10s %4s %-10s %4s %10s %10s %7s %8s %8s %8s %8s %8s\n", "option",
        "cut", "tensor", "path", "bits", "codec", "q", "bytes", "jpeg q90", "x jpeg", "AP@0.5",
        "person", "mAP@0.5", "edge ms", "cloud ms");
  for (guint r = 0; r < rows->len; r++) {
    Row *row = &g_array_index (rows, Row, r);
    double bytes = row->frames ? row->bytes / row->frames : 0;
    double ap50 = sn_eval_ap50 (row->eval), person = sn_eval_person_ap50 (row->eval);
    double map50 = sn_eval_map (row->eval);
    char person_s[32] = "null", quality_s[16] = "null";
    if (person >= 0)
      g_snprintf (person_s, sizeof person_s, "%.2f", person);
    if (row->kind == SN_OPTION_CLOUD_ONLY)
      g_snprintf (quality_s, sizeof quality_s, "%d", row->quality);
    /* Baselines print cut -1 and their option's name, as plan does. */
    int cut_id = row->cut ? (int) row->cut->id : -1;
    const char *cut_name = row->cut ? row->cut->name : sn_option_kind_name (row->kind);
    int n_tensors = row->cut ? row->cut->n_tensors : 0;
    /* The planner picks among cuts, not trained paths: only cut rows. */
    if (row->cut && !row->path && row->frames) {
      SnFidelityRow fr = { row->cut->id, row->cut->name, row->bits, row->codec, range,
        per_channel, clip, map50, ap50, TRUE };
      g_array_append_val (stored, fr);
    }
    if (rc != 0) {
      /* nothing to report */
    } else if (json) {
      printf ("{\"option\": \"%s\", \"cut\": %d, \"cut_name\": \"%s\", \"path\": \"%s\", \"tensors\": %d, "
          "\"bits\": %d, \"codec\": \"%s\", \"quality\": %s, "
          "\"bytes_per_frame\": %.0f, \"jpeg_bytes_per_frame\": %.0f, \"fidelity_ap50\": %.2f, "
          "\"person_ap50\": %s, \"fidelity_map50\": %.2f, "
          "\"edge_ms\": %.2f, \"cloud_ms\": %.2f, \"code_ms\": %.3f, \"frames\": %d}\n",
          sn_option_kind_name (row->kind), cut_id, cut_name, row->path ? sn_path_name (row->path) : "",
          n_tensors, row->bits, row_codec_name (row), quality_s, bytes, jpeg,
          ap50, person_s, map50, row->edge_ms / MAX (row->frames, 1), row->cloud_ms / MAX (row->frames, 1),
          row->code_ms / MAX (row->frames, 1), row->frames);
    } else {
      printf ("%-10s %4d %-6d %-10s %4d %-10s %4s %10.0f %10.0f %7.2f %8.2f %8s %8.2f %8.2f %8.2f\n",
          sn_option_kind_name (row->kind), cut_id, n_tensors,
          row->path ? sn_path_name (row->path) : "-", row->bits, row_codec_name (row),
          row->kind == SN_OPTION_CLOUD_ONLY ? quality_s : "-", bytes, jpeg,
          bytes > 0 ? jpeg / bytes : 0, ap50, person >= 0 ? person_s : "-", map50,
          row->edge_ms / MAX (row->frames, 1), row->cloud_ms / MAX (row->frames, 1));
    }
    sn_frame_coder_free (row->coder);
    sn_eval_free (row->eval);
  }
  if (rc == 0 && store_path) {
    g_autofree char *base = g_path_get_basename (argv[2]);
    g_autofree char *value = sn_fidelity_to_json ((const SnFidelityRow *) stored->data,
        stored->len, n_frames, base);
    if (stored->len == 0)
      fprintf (stderr, "splitnn: no cut rows measured; nothing to store\n");
    else if (!sn_cli_store_metadata (argv[1], store_path, SN_FIDELITY_KEY, value, &err))
      fprintf (stderr, "splitnn: %s\n", err->message);
    else
      fprintf (stderr, "eval: fidelity of %u rows over %d frames -> %s\n", stored->len,
          n_frames, store_path);
    if (stored->len == 0 || err)
      rc = 1;
    g_clear_error (&err);
  }
  g_array_unref (stored);
  sn_detections_clear (&ref);
  sn_detections_clear (&got);
  g_free (rgb);
  g_free (decoded);
  sn_tensor_free (decoded_x);
  sn_segment_free (whole);
  tjDestroy (tj);
  sn_loopback_free (loop);
  g_byte_array_unref (packet);
  g_ptr_array_unref (cuts);
  g_ptr_array_unref (paths);
  g_array_unref (rows);
  sn_frames_close (frames);
  sn_path_set_free (pset);
  sn_cut_set_free (set);
  sn_detector_free (det);
  sn_model_free (m);
  return rc;
}
