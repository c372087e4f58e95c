/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn detect MODEL.onnx IMAGE_OR_VIDEO [--frames N] [--threshold T] [--json]
 *                [--png-dir DIR --png-every K] [--cut C [--bits B] [--codec X]]
 *                [--cut cloud-only [--codec h264|jpeg] [--quality Q]]
 *
 * With --cut the frames take the split path, as splitnnedge + splitnncloud
 * would: network up to the cut, features quantized, coded into a packet,
 * parsed back, the rest of the network; the reference the two-process
 * tests compare the elements with.  The baselines (sn-option.h): --cut
 * edge-only is the whole network (as without --cut); --cut cloud-only codes
 * the model input as H.264 or JPEG, decodes it and runs the whole network
 * on the decoded frame (sn-framecoder.h). */
#include <stdio.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "sn-cli.h"
#include "sn-frames.h"
#include "sn-framecoder.h"

/* One line of the detections schema (docs/protocol.md), the same record
 * splitnncloud format=json writes: stream 0, seq = the frame's index. */
static void
print_json (const SnModel *m, const SnCut *cut, const SnFrame *f, const SnDetections *d, GByteArray *buf)
{
  SnResultHeader h;
  sn_result_header_init (&h);
  h.seq = (guint64) f->index;
  h.pts = f->pts;
  h.time_us = g_get_real_time ();
  h.cut_id = cut ? cut->id : SN_RESULT_NO_CUT;
  sn_fingerprint_from_hex (sn_model_fingerprint (m), h.fingerprint);
  sn_result_write_json (&h, d, buf);
  fwrite (buf->data, 1, buf->len, stdout);
}

static void
print_text (const SnFrame *f, const SnDetections *d)
{
  GString *s = g_string_new (NULL);
  for (int i = 0; i < d->n && i < 6; i++)
    g_string_append_printf (s, "%s%s %.2f", i ? ", " : "", d->items[i].label, d->items[i].score);
  if (d->n > 6)
    g_string_append_printf (s, ", ... (%d more)", d->n - 6);
  printf ("frame %4d  pts %8.3f s  %2d detections  %s\n", f->index,
      f->pts == (guint64) -1 ? 0.0 : f->pts / 1e9, d->n, s->str);
  g_string_free (s, TRUE);
}

/* cloud-only: the model input coded as video (tools/sn-framecoder.c, through
 * GStreamer, so that libsplitnn links no GPL codec), decoded, and the whole
 * network run on the decoded frame. */
typedef struct {
  SnFrameCoder *coder;
  SnSegment *whole;
  SnTensor *decoded_x;
  guint8 *rgb, *decoded;
  double bytes;
} CloudOnly;

static gboolean
cloud_only_open (CloudOnly *sp, SnModel *m, SnDetector *det, SnFrameCodec codec, int quality,
    int threads, GError **error)
{
  int w = sn_detector_input_width (det), h = sn_detector_input_height (det);
  const char *outs[] = { "keypoints", "wh" };
  if (!(sp->coder = sn_frame_coder_new (codec, quality, w, h, error))
      || !(sp->whole = sn_segment_new (m, NULL, 0, outs, 2, error)))
    return FALSE;
  sn_segment_set_threads (sp->whole, threads);
  sp->rgb = g_malloc ((gsize) w * h * 3);
  sp->decoded = g_malloc ((gsize) w * h * 3);
  return TRUE;
}

static gboolean
cloud_only_run (CloudOnly *sp, SnDetector *det, const SnImage *img, SnDetections *d,
    GError **error)
{
  SnLetterbox lb;
  const SnTensor *x = sn_detector_preprocess (det, img, &lb, error);
  if (!x)
    return FALSE;
  gsize n = (gsize) sn_shape_numel (&x->shape);
  const float *xf = x->data;
  for (gsize i = 0; i < n; i++)
    sp->rgb[i] = (guint8) CLAMP (xf[i] + 0.5f, 0, 255);
  gssize len = sn_frame_coder_run (sp->coder, sp->rgb, sp->decoded, error);
  if (len < 0)
    return FALSE;
  sp->bytes += len;
  if (!sp->decoded_x)
    sp->decoded_x = sn_tensor_new (x->dtype, &x->shape);
  float *df = sp->decoded_x->data;
  for (gsize i = 0; i < n; i++)
    df[i] = sp->decoded[i];
  const SnTensor *in = sp->decoded_x;
  return sn_segment_run (sp->whole, &in, error)
      && sn_detector_decode (det, sn_segment_output (sp->whole, 0),
          sn_segment_output (sp->whole, 1), &lb, d, error);
}

static void
cloud_only_close (CloudOnly *sp)
{
  g_clear_pointer (&sp->coder, sn_frame_coder_free);
  g_clear_pointer (&sp->whole, sn_segment_free);
  g_clear_pointer (&sp->decoded_x, sn_tensor_free);
  g_clear_pointer (&sp->rgb, g_free);
  g_clear_pointer (&sp->decoded, g_free);
}

/* The split path is the library's loopback: the same edge and cloud
 * sessions the elements run, without the network in between. */
static SnLoopback *
split_open (SnModel *m, const char *cut_arg, int bits, SnCodec codec, SnRangeMode range,
    int threads, gboolean letterbox, SnOption *opt, GError **error)
{
  SnLoopback *lb = sn_loopback_new (m, NULL, error);
  if (!lb)
    return NULL;
  const SnCut *cut = sn_cut_set_find (sn_edge_session_cuts (sn_loopback_edge (lb)), cut_arg);
  if (!cut) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "no cut '%s' (splitnn cuts MODEL lists them)", cut_arg);
    sn_loopback_free (lb);
    return NULL;
  }
  if (range == SN_RANGE_CALIBRATED && !sn_feature_check_calibration (m, cut, error)) {
    sn_loopback_free (lb);
    return NULL;
  }
  sn_option_init_split (opt, cut);
  opt->feature.bits = bits;
  opt->feature.codec = codec;
  opt->feature.range = range;
  sn_edge_session_set_threads (sn_loopback_edge (lb), threads);
  sn_edge_session_set_resize (sn_loopback_edge (lb), letterbox ? SN_RESIZE_LETTERBOX : SN_RESIZE_STRETCH);
  sn_cloud_session_set_threads (sn_loopback_cloud (lb), threads);
  return lb;
}

int
sn_cli_detect (int argc, char **argv)
{
  int max_frames = 0, threads = 1, png_every = 25;
  double threshold = 0.2, nms = 0.4;
  gboolean json = FALSE, letterbox = FALSE;
  g_autofree char *png_dir = NULL, *save_dir = NULL, *cut_arg = NULL, *codec_arg = NULL;
  g_autofree char *range_arg = NULL;
  int bits = 8, quality = -1;
  GOptionEntry entries[] = {
    { "frames", 'n', 0, G_OPTION_ARG_INT, &max_frames, "Stop after N frames (default: all)", "N" },
    { "threshold", 't', 0, G_OPTION_ARG_DOUBLE, &threshold, "Minimum score (default 0.2)", "T" },
    { "nms", 0, 0, G_OPTION_ARG_DOUBLE, &nms, "IoU above which a weaker box is suppressed; 0 disables (default 0.4)", "IOU" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Kernel threads (default 1)", "N" },
    { "letterbox", 0, 0, G_OPTION_ARG_NONE, &letterbox, "Keep the aspect ratio (default: stretch, as the model was trained)", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object per frame", NULL },
    { "png-dir", 0, 0, G_OPTION_ARG_FILENAME, &png_dir, "Write annotated frames as PNG into DIR", "DIR" },
    { "png-every", 0, 0, G_OPTION_ARG_INT, &png_every, "With --png-dir, every K-th frame (default 25)", "K" },
    { "cut", 0, 0, G_OPTION_ARG_STRING, &cut_arg, "Split at this cut (id or name, 'splitnn cuts MODEL') and "
      "send the features through a packet, as the elements do; or edge-only (the whole network, as "
      "without --cut) or cloud-only (the model input coded by --codec h264 or jpeg, decoded, the "
      "whole network)", "C" },
    { "quality", 0, 0, G_OPTION_ARG_INT, &quality, "With --cut cloud-only: H.264 QP 0-51 (default 26) or JPEG quality 1-100 (default 90)", "Q" },
    { "bits", 0, 0, G_OPTION_ARG_INT, &bits, "With --cut: bits per feature value, 2/4/8/16/32 (default 8)", "B" },
    { "codec", 0, 0, G_OPTION_ARG_STRING, &codec_arg, "With --cut: none, lossless (default), lossy or auto", "X" },
    { "range", 0, 0, G_OPTION_ARG_STRING, &range_arg, "With --cut: quantization ranges per frame (default) or calibrated (stored by 'splitnn calibrate')", "frame|calibrated" },
    { "save-inputs", 0, 0, G_OPTION_ARG_FILENAME, &save_dir, "Write each model input as DIR/frame-NNNNN.npy (for the oracles)", "DIR" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.onnx IMAGE_OR_VIDEO");
  g_option_context_set_summary (ctx, "Detect objects in an image or video and print them per frame.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!sn_cli_parse (ctx, &argc, &argv, 2))
    return 2;
  if (max_frames < 0 || threads < 1 || png_every < 1 || threshold < 0 || threshold > 1 || nms < 0 || nms > 1) {
    fprintf (stderr, "splitnn: --frames >= 0, --threads >= 1, --png-every >= 1, --threshold and --nms in [0, 1]\n");
    return 2;
  }

  SnCodec codec = SN_CODEC_LOSSLESS;
  SnRangeMode range = SN_RANGE_FRAME;
  SnFrameCodec frame_codec = SN_FRAME_CODEC_H264;
  SnOptionKind kind = sn_option_kind_from_cut_arg (cut_arg);
  if (kind == SN_OPTION_EDGE_ONLY)
    g_clear_pointer (&cut_arg, g_free);       /* the whole network here: no split */
  if (kind == SN_OPTION_CLOUD_ONLY) {
    if ((codec_arg && !sn_frame_codec_from_name (codec_arg, &frame_codec))
        || !sn_frame_codec_quality_valid (frame_codec,
            quality < 0 ? sn_frame_codec_default_quality (frame_codec) : quality)) {
      fprintf (stderr, "splitnn: with --cut cloud-only, --codec is h264 (default) or jpeg; "
          "--quality a QP 0-51 or a JPEG quality 1-100\n");
      return 2;
    }
    if (quality < 0)
      quality = sn_frame_codec_default_quality (frame_codec);
    g_clear_pointer (&codec_arg, g_free);
  }
  if (!sn_quant_bits_valid (bits) || (codec_arg && !sn_codec_from_name (codec_arg, &codec))
      || (range_arg && !sn_range_from_name (range_arg, &range))) {
    fprintf (stderr, "splitnn: --bits is 2, 4, 8, 16 or 32; --codec none, lossless, lossy or auto; "
        "--range frame or calibrated\n");
    return 2;
  }

  GError *err = NULL;
  g_autoptr (GByteArray) json_buf = g_byte_array_new ();
  SnModel *m = sn_model_load (argv[1], &err);
  SnDetector *det = m ? sn_detector_new (m, &err) : NULL;
  SnFrames *frames = det ? sn_frames_open (argv[2], &err) : NULL;
  SnLoopback *split = NULL;
  SnOption opt;
  CloudOnly co = { 0 };
  int status = 1;
  if (!frames || (kind == SN_OPTION_CLOUD_ONLY
          ? !cloud_only_open (&co, m, det, frame_codec, quality, threads, &err)
          : cut_arg && !(split = split_open (m, cut_arg, bits, codec, range, threads,
              letterbox, &opt, &err))))
    goto out;
  if (png_dir && g_mkdir_with_parents (png_dir, 0755) != 0) {
    fprintf (stderr, "splitnn: cannot create %s\n", png_dir);
    goto out;
  }
  sn_detector_set_threads (det, threads);
  sn_detector_set_resize (det, letterbox ? SN_RESIZE_LETTERBOX : SN_RESIZE_STRETCH);
  SnDecodeParams *dp = sn_detector_decode_params (det);
  dp->threshold = (float) threshold;
  dp->nms_iou = (float) nms;
  if (split)
    *sn_cloud_session_decode_params (sn_loopback_cloud (split)) = *dp;

  SnDetections d;
  sn_detections_init (&d);
  SnFrame f;
  SnDetectorTimings sum = { 0 };
  int n_frames = 0, n_dets = 0;
  int per_class[SN_COCO_CLASSES] = { 0 };
  while ((max_frames == 0 || n_frames < max_frames) && sn_frames_next (frames, &f, &err)) {
    SnImage img = { SN_PIXEL_RGB, f.width, f.height, { f.rgb }, { f.stride } };
    SnDetectorTimings t = { 0 };
    if (kind == SN_OPTION_CLOUD_ONLY ? !cloud_only_run (&co, det, &img, &d, &err)
        : split ? !sn_loopback_process (split, &opt, &img, f.pts, &d, NULL, NULL, &err)
        : !sn_detector_run (det, &img, &d, &t, &err))
      break;
    if (save_dir) {
      SnLetterbox lb;
      g_autofree char *name = g_strdup_printf ("frame-%05d.npy", f.index);
      g_autofree char *path = g_build_filename (save_dir, name, NULL);
      const SnTensor *x = sn_detector_preprocess (det, &img, &lb, &err);
      if (!x || (g_mkdir_with_parents (save_dir, 0755), !sn_tensor_save_npy (x, path, &err)))
        break;
    }
    sum.preprocess_ms += t.preprocess_ms;
    sum.inference_ms += t.inference_ms;
    sum.decode_ms += t.decode_ms;
    n_frames++;
    n_dets += d.n;
    for (int i = 0; i < d.n; i++)
      per_class[d.items[i].class_id]++;
    if (json)
      print_json (m, split ? opt.cut : NULL, &f, &d, json_buf);
    else
      print_text (&f, &d);
    if (png_dir && f.index % png_every == 0) {
      g_autofree char *name = g_strdup_printf ("frame-%05d.png", f.index);
      g_autofree char *path = g_build_filename (png_dir, name, NULL);
      if (!sn_draw_png (f.rgb, f.width, f.height, f.stride, &d, path, &err))
        break;
    }
    fflush (stdout);
  }
  sn_detections_clear (&d);
  if (err)
    goto out;
  if (n_frames == 0) {
    fprintf (stderr, "splitnn: %s: no frames decoded\n", argv[2]);
    goto out;
  }
  /* The summary goes to stderr so that --json output stays pure JSON lines. */
  GString *s = g_string_new (NULL);
  for (int c = 0; c < SN_COCO_CLASSES; c++)
    if (per_class[c])
      g_string_append_printf (s, " %s=%d", sn_coco_label (c), per_class[c]);
  if (kind == SN_OPTION_CLOUD_ONLY)
    fprintf (stderr, "summary: %d frames, %.2f detections per frame (%s ), cloud-only, %s "
        "quality %d, %.0f bytes per frame\n", n_frames, (double) n_dets / n_frames, s->str,
        sn_frame_codec_name (frame_codec), quality, co.bytes / n_frames);
  else if (cut_arg)           /* the split path is not timed per stage */
    fprintf (stderr, "summary: %d frames, %.2f detections per frame (%s ), split at cut %d, %d bits, %s\n",
        n_frames, (double) n_dets / n_frames, s->str, opt.cut->id, bits, sn_codec_name (codec));
  else
    fprintf (stderr, "summary: %d frames, %.2f detections per frame (%s ), per frame: "
        "preprocess %.1f ms, inference %.1f ms, decode %.1f ms\n", n_frames,
        (double) n_dets / n_frames, s->str, sum.preprocess_ms / n_frames,
        sum.inference_ms / n_frames, sum.decode_ms / n_frames);
  g_string_free (s, TRUE);
  status = 0;

out:
  if (err) {
    fprintf (stderr, "splitnn: %s\n", err->message);
    g_error_free (err);
  }
  sn_loopback_free (split);
  cloud_only_close (&co);
  sn_frames_close (frames);
  sn_detector_free (det);
  sn_model_free (m);
  return status;
}
