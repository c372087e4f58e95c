/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn calibrate MODEL.onnx VIDEO_OR_IMAGES --frames N [--start S]
 *                   [--cuts all|ID,...] [--clip 0.999] -o OUT.onnx
 *
 * Runs the network on N frames up to every tensor the listed cuts send,
 * records each tensor's per-channel ranges (sn-calib.h) and writes a copy
 * of the model with them in metadata splitnn.calibration, for
 * `--range calibrated` (eval) and splitnnedge range=calibrated. */
#include <stdio.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "sn-cli.h"
#include "sn-frames.h"

int
sn_cli_calibrate (int argc, char **argv)
{
  int max_frames = 100, start = 0, threads = 1;
  double clip = 0.999;
  g_autofree char *cuts_s = NULL, *out_path = NULL;
  GOptionEntry entries[] = {
    { "frames", 'n', 0, G_OPTION_ARG_INT, &max_frames, "Calibration frames (default 100)", "N" },
    { "start", 0, 0, G_OPTION_ARG_INT, &start, "Skip this many frames first", "N" },
    { "cuts", 0, 0, G_OPTION_ARG_STRING, &cuts_s, "all (default) or a list of cut ids/names whose tensors to calibrate", "LIST" },
    { "clip", 0, 0, G_OPTION_ARG_DOUBLE, &clip, "Fraction of values the clip_min/clip_max ranges keep (default 0.999)", "F" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Kernel threads (default 1)", "N" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, "The calibrated model to write (not MODEL itself)", "OUT.onnx" },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("MODEL.onnx VIDEO_OR_IMAGES");
  g_option_context_set_summary (ctx,
      "Record the ranges of cut tensors over frames and store them in a copy of the model.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!sn_cli_parse (ctx, &argc, &argv, 2))
    return 2;
  if (!out_path || max_frames < 1 || start < 0 || threads < 1 || !(clip > 0 && clip <= 1)) {
    fprintf (stderr, "splitnn: -o OUT.onnx is required; --frames and --threads >= 1; "
        "--start >= 0; --clip in (0, 1]\n");
    return 2;
  }

  /* Refused again when writing. */
  if (sn_cli_output_is_model (argv[1], out_path, "-o"))
    return 2;
  GError *err = NULL;
  int rc = 1;
  SnModel *m = sn_model_load (argv[1], &err);
  SnDetector *det = m ? sn_detector_new (m, &err) : NULL;
  SnCutSet *set = det ? sn_cut_set_new (m, &err) : NULL;
  SnFrames *frames = set ? sn_frames_open (argv[2], &err) : NULL;
  SnSegment *seg = NULL;
  SnCalibrator *cal = sn_calibrator_new (clip);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  /* Declared before the first goto so that cleanup sees them initialized. */
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_auto (GStrv) parts = g_strsplit (cuts_s ? cuts_s : "all", ",", -1);
  g_autofree char *base = g_path_get_basename (argv[2]);
  g_autofree char *json = NULL;
  if (!frames)
    goto done;
  sn_detector_set_threads (det, threads);

  /* Every tensor the chosen cuts send, once; graph inputs are the image
   * itself and are not calibrated. */
  for (int i = 0; i < sn_model_n_inputs (m); i++)
    g_hash_table_add (seen, (gpointer) sn_model_input_name (m, i));
  for (int i = 0; parts[i]; i++) {
    gboolean all = strcmp (g_strstrip (parts[i]), "all") == 0;
    const SnCut *one = all ? NULL : sn_cut_set_find (set, parts[i]);
    if (!all && !one) {
      fprintf (stderr, "splitnn: no cut '%s' (see 'splitnn cuts')\n", parts[i]);
      rc = 2;
      goto done;
    }
    for (int c = 0; c < sn_cut_set_n_cuts (set); c++) {
      const SnCut *cut = sn_cut_set_get (set, c);
      if (!all && cut != one)
        continue;
      for (int k = 0; k < cut->n_tensors; k++)
        if (g_hash_table_add (seen, (gpointer) cut->tensors[k]))
          g_ptr_array_add (names, (gpointer) cut->tensors[k]);
    }
  }
  if (names->len == 0) {
    fprintf (stderr, "splitnn: the chosen cuts send no tensors other than the model input\n");
    goto done;
  }
  seg = sn_segment_new (m, NULL, 0, (const char *const *) names->pdata, names->len, &err);
  if (!seg)
    goto done;
  sn_segment_set_threads (seg, threads);

  SnFrame f;
  int n = 0;
  for (int i = 0; i < start; i++)
    if (!sn_frames_next (frames, &f, &err))
      break;
  while (!err && n < max_frames && sn_frames_next (frames, &f, &err)) {
    SnImage img = { SN_PIXEL_RGB, f.width, f.height, { f.rgb }, { f.stride } };
    SnLetterbox lb;
    const SnTensor *x = sn_detector_preprocess (det, &img, &lb, &err);
    if (!x || !sn_segment_run (seg, &x, &err))
      break;
    for (int k = 0; k < sn_segment_n_outputs (seg); k++)
      if (!sn_calibrator_add (cal, sn_segment_output_name (seg, k), sn_segment_output (seg, k), &err))
        break;
    n++;
    fprintf (stderr, "\rcalibrate: frame %d/%d", n, max_frames);
  }
  fprintf (stderr, "\n");
  if (err)
    goto done;
  if (n == 0) {
    fprintf (stderr, "splitnn: %s: no frames after the first %d\n", argv[2], start);
    goto done;
  }
  json = sn_calibrator_to_json (cal, base);
  if (!sn_cli_store_metadata (argv[1], out_path, SN_CALIBRATION_KEY, json, &err))
    goto done;
  fprintf (stderr, "calibrate: %u tensors over %d frames -> %s\n", names->len, n, out_path);
  rc = 0;
done:
  if (err) {
    fprintf (stderr, "splitnn: %s\n", err->message);
    g_error_free (err);
  }
  sn_calibrator_free (cal);
  sn_segment_free (seg);
  if (frames)
    sn_frames_close (frames);
  sn_cut_set_free (set);
  sn_detector_free (det);
  sn_model_free (m);
  return rc;
}
