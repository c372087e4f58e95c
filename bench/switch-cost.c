/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Cost of switching the split path between two frames.
 *
 *   build/bench/switch-cost MODEL.onnx CUT_A CUT_B [ROUNDS]
 *
 * Through one edge session, as splitnnedge runs it: compiles both cuts'
 * edge parts once (the first use of a cut), then times frames (edge part
 * and encode) that alternate A, B, A, B ... at alternating bit widths
 * against frames that stay on A.  The difference is the switch cost. */
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
  /* The edge session as splitnnedge runs it: each cut's segment compiled
   * on its first frame and kept. */
  SnEdgeSession *es = sn_edge_session_new (m, set, &err);
  if (!es) {
    fprintf (stderr, "%s\n", err->message);
    return 1;
  }
  SnShape s = sn_shape_make (4, (int64_t[]) { 1, sn_edge_session_input_height (es),
      sn_edge_session_input_width (es), 3 });
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  for (int64_t i = 0; i < sn_tensor_numel (x); i++)
    ((float *) x->data)[i] = (float) (i * 7919 % 256);
  SnOption oa, ob;
  sn_option_init_split (&oa, a);
  sn_option_init_split (&ob, b);
  SnEdgePacket pk;
  /* First use of each path (segments compiled, XNNPACK runtimes built). */
  double compile_ms = 0, first_ms = 0;
  for (int i = 0; i < 2; i++) {
    if (!sn_edge_session_process_input (es, i ? &ob : &oa, x, NULL, 0, &pk, &err)) {
      fprintf (stderr, "%s\n", err->message);
      return 1;
    }
    compile_ms += pk.timings.compile_ms;
    first_ms += pk.timings.network_ms;
  }
  double *stay = g_new (double, rounds), *flip = g_new (double, rounds);
  for (int r = 0; r < rounds; r++) {
    /* stay: A then A; flip: B then A; time the second frame of each pair
     * (edge part and encode). */
    for (int mode = 0; mode < 2; mode++) {
      SnOption prev = mode ? ob : oa;
      prev.feature.bits = mode ? 4 : 8;
      sn_edge_session_process_input (es, &prev, x, NULL, r, &pk, NULL);
      double t1 = now_ms ();
      sn_edge_session_process_input (es, &oa, x, NULL, r, &pk, NULL);
      (mode ? flip : stay)[r] = now_ms () - t1;
    }
  }
  qsort (stay, rounds, sizeof (double), cmp);
  qsort (flip, rounds, sizeof (double), cmp);
  printf ("compile both edge parts once: %.1f ms; first run of both: %.1f ms\n", compile_ms, first_ms);
  printf ("frame on cut %s after the same cut and bits: median %.2f ms\n", argv[2], stay[rounds / 2]);
  printf ("frame on cut %s after cut %s at other bits:  median %.2f ms (switch cost %+.2f ms)\n",
      argv[2], argv[3], flip[rounds / 2], flip[rounds / 2] - stay[rounds / 2]);
  g_free (stay);
  g_free (flip);
  sn_tensor_free (x);
  sn_edge_session_free (es);
  sn_cut_set_free (set);
  sn_model_free (m);
  return 0;
}
