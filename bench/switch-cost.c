/* Cost of switching the split path between two frames.
 *
 *   build/bench/switch-cost MODEL.onnx CUT_A CUT_B [ROUNDS]
 *
 * Compiles both paths once (the first use of a cut), then times edge runs
 * that alternate A, B, A, B ... against runs that stay on A, and encodes
 * each at alternating bit widths.  The difference is the switch cost. */
#include <stdio.h>
#include <stdlib.h>

#include <splitnn/splitnn.h>

static double
now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

static int
cmp (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  if (argc < 4) {
    fprintf (stderr, "usage: %s MODEL.onnx CUT_A CUT_B [ROUNDS]\n", argv[0]);
    return 2;
  }
  int rounds = argc > 4 ? atoi (argv[4]) : 20;
  GError *err = NULL;
  SnModel *m = sn_model_load (argv[1], &err);
  SnCutSet *set = m ? sn_cut_set_new (m, &err) : NULL;
  const SnCut *a = set ? sn_cut_set_find (set, argv[2]) : NULL, *b = set ? sn_cut_set_find (set, argv[3]) : NULL;
  if (!a || !b) {
    fprintf (stderr, "%s\n", err ? err->message : "unknown cut");
    return 1;
  }
  double t0 = now_ms ();
  SnSplit *sa = sn_split_new (m, a, &err), *sb = sn_split_new (m, b, &err);
  double compile_ms = now_ms () - t0;
  SnShape s = sn_shape_make (4, (int64_t[]) { 1, 512, 512, 3 });
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  for (int64_t i = 0; i < sn_tensor_numel (x); i++)
    ((float *) x->data)[i] = (float) (i * 7919 % 256);
  SnFeatureEncoder *enc = sn_feature_encoder_new (m);
  GByteArray *pkt = g_byte_array_new ();
  SnFeatureConfig fc;
  sn_feature_config_init (&fc);
  /* First use of each path (XNNPACK runtimes are built here). */
  t0 = now_ms ();
  sn_segment_run (sn_split_edge (sa), (const SnTensor *[]) { x }, NULL);
  sn_segment_run (sn_split_edge (sb), (const SnTensor *[]) { x }, NULL);
  double first_ms = now_ms () - t0;
  double *stay = g_new (double, rounds), *flip = g_new (double, rounds);
  for (int r = 0; r < rounds; r++) {
    /* stay: A then A; flip: B then A; time the second run of each pair. */
    for (int mode = 0; mode < 2; mode++) {
      SnSplit *prev = mode ? sb : sa;
      const SnCut *prev_cut = mode ? b : a;
      sn_segment_run (sn_split_edge (prev), (const SnTensor *[]) { x }, NULL);
      const SnTensor *pm[16];
      for (int k = 0; k < prev_cut->n_tensors; k++)
        pm[k] = sn_segment_output (sn_split_edge (prev), k);
      fc.bits = mode ? 4 : 8;
      sn_feature_encode (enc, &fc, prev_cut, pm, 0, r, 0, NULL, pkt, NULL);
      double t1 = now_ms ();
      sn_segment_run (sn_split_edge (sa), (const SnTensor *[]) { x }, NULL);
      const SnTensor *am[16];
      for (int k = 0; k < a->n_tensors; k++)
        am[k] = sn_segment_output (sn_split_edge (sa), k);
      fc.bits = 8;
      sn_feature_encode (enc, &fc, a, am, 0, r, 0, NULL, pkt, NULL);
      (mode ? flip : stay)[r] = now_ms () - t1;
    }
  }
  qsort (stay, rounds, sizeof (double), cmp);
  qsort (flip, rounds, sizeof (double), cmp);
  printf ("compile both paths once: %.1f ms; first run of both: %.1f ms\n", compile_ms, first_ms);
  printf ("frame on cut %s after the same cut and bits: median %.2f ms\n", argv[2], stay[rounds / 2]);
  printf ("frame on cut %s after cut %s at other bits:  median %.2f ms (switch cost %+.2f ms)\n",
      argv[2], argv[3], flip[rounds / 2], flip[rounds / 2] - stay[rounds / 2]);
  return 0;
}
