/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs the ONNX loader fuzz target without libFuzzer, so every build
 * exercises it: small valid models (built here with the tests' protobuf-c
 * builders) mutated at random — bytes flipped, cut short, a run of bytes
 * repeated — and each model as it is.
 *
 * fuzz-onnx-driver [ITERATIONS]      the smoke run (default 5000)
 * fuzz-onnx-driver --seeds DIR        writes the seed models as a libFuzzer corpus
 * fuzz-onnx-driver --replay FILE...   runs the target on each file (the
 *                                     inputs that once crashed it, tests/fuzz/onnx-regressions) */
#include <stdio.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "../sn-test-onnx.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define N_SEEDS 4

/* The seeds between them reach the loader's main paths: Conv with
 * attributes, int64 initializers feeding Reshape, pooling, metadata
 * (cuts, calibration), several outputs, and a detector's output layout. */
static guint8 *
seed_model (int which, size_t *len)
{
  SnTestGraph *g = sn_test_graph_new (13);
  static const int64_t x4[] = { 1, 2, 4, 4 }, w4[] = { 2, 2, 1, 1 };
  static const float w[4] = { 1, -1, 2, 0.5f };
  switch (which) {
  case 0:                      /* Conv - Relu */
    sn_test_graph_input (g, "x", 4, x4);
    sn_test_graph_output (g, "y", 4, x4);
    sn_test_graph_initializer (g, "W", 4, w4, w, 4);
    sn_test_graph_node (g, "Conv", "conv", (const char *[]) { "x", "W", NULL }, (const char *[]) { "c", NULL });
    sn_test_graph_attr_ints (g, "strides", 2, (const int64_t[]) { 1, 1 });
    sn_test_graph_attr_ints (g, "pads", 4, (const int64_t[]) { 0, 0, 0, 0 });
    sn_test_graph_node (g, "Relu", "relu", (const char *[]) { "c", NULL }, (const char *[]) { "y", NULL });
    sn_test_graph_metadata (g, "splitnn.cuts", "mid=c");
    break;
  case 1: {                    /* Reshape by an int64 initializer, Transpose, Concat */
    static const int64_t s[] = { 4 }, y[] = { 1, 4, 8, 2 }, shape[] = { 1, 2, 8, 2 };
    sn_test_graph_input (g, "x", 4, x4);
    sn_test_graph_output (g, "y", 4, y);
    sn_test_graph_initializer_int64 (g, "shape", 1, s, shape, 4);
    sn_test_graph_node (g, "Reshape", "r", (const char *[]) { "x", "shape", NULL }, (const char *[]) { "r", NULL });
    sn_test_graph_node (g, "Transpose", "t", (const char *[]) { "r", NULL }, (const char *[]) { "t", NULL });
    sn_test_graph_attr_ints (g, "perm", 4, (const int64_t[]) { 0, 3, 2, 1 });
    sn_test_graph_node (g, "Concat", "cat", (const char *[]) { "t", "t", NULL }, (const char *[]) { "y", NULL });
    sn_test_graph_attr_int (g, "axis", 1);
    break;
  }
  case 2: {                    /* MaxPool, Sigmoid, two outputs */
    static const int64_t p[] = { 1, 2, 2, 2 };
    sn_test_graph_input (g, "x", 4, x4);
    sn_test_graph_output (g, "a", 4, p);
    sn_test_graph_output (g, "b", 4, p);
    sn_test_graph_initializer (g, "W", 4, w4, w, 4);
    sn_test_graph_node (g, "Conv", "conv", (const char *[]) { "x", "W", NULL }, (const char *[]) { "c", NULL });
    sn_test_graph_node (g, "MaxPool", "pool", (const char *[]) { "c", NULL }, (const char *[]) { "a", NULL });
    sn_test_graph_attr_ints (g, "kernel_shape", 2, (const int64_t[]) { 2, 2 });
    sn_test_graph_attr_ints (g, "strides", 2, (const int64_t[]) { 2, 2 });
    sn_test_graph_node (g, "Sigmoid", "sig", (const char *[]) { "a", NULL }, (const char *[]) { "b", NULL });
    break;
  }
  default: {                   /* the tests' tiny detector (NHWC in, keypoints + wh out) */
    static const int64_t x[] = { 1, 8, 8, 3 }, o[] = { 1, 8, 8, 4 }, wd[] = { 4, 3, 1, 1 };
    static const float wv[12] = { 0.01f, -0.02f, 0.01f, 0.02f, 0, -0.01f, -0.005f, 0.003f, 0.01f, 0.02f, 0.01f, -0.01f };
    sn_test_graph_input (g, "x", 4, x);
    sn_test_graph_output (g, "keypoints", 4, o);
    sn_test_graph_output (g, "wh", 4, o);
    sn_test_graph_initializer (g, "W", 4, wd, wv, 12);
    sn_test_graph_node (g, "Transpose", "nchw", (const char *[]) { "x", NULL }, (const char *[]) { "t", NULL });
    sn_test_graph_attr_ints (g, "perm", 4, (const int64_t[]) { 0, 3, 1, 2 });
    sn_test_graph_node (g, "Conv", "conv", (const char *[]) { "t", "W", NULL }, (const char *[]) { "c", NULL });
    sn_test_graph_node (g, "Relu", "relu", (const char *[]) { "c", NULL }, (const char *[]) { "r", NULL });
    sn_test_graph_node (g, "Transpose", "nhwc", (const char *[]) { "r", NULL }, (const char *[]) { "wh", NULL });
    sn_test_graph_attr_ints (g, "perm", 4, (const int64_t[]) { 0, 2, 3, 1 });
    sn_test_graph_node (g, "Sigmoid", "sig", (const char *[]) { "wh", NULL }, (const char *[]) { "keypoints", NULL });
    sn_test_graph_metadata (g, "splitnn.cuts", "at_c=c");
    break;
  }
  }
  guint8 *buf = sn_test_graph_serialize (g, len);
  sn_test_graph_free (g);
  return buf;
}

int
main (int argc, char **argv)
{
  if (argc > 2 && strcmp (argv[1], "--seeds") == 0) {
    for (int i = 0; i < N_SEEDS; i++) {
      size_t len;
      g_autofree guint8 *buf = seed_model (i, &len);
      g_autofree char *path = g_strdup_printf ("%s/seed-%d.onnx", argv[2], i);
      if (!g_file_set_contents (path, (char *) buf, len, NULL))
        return 1;
    }
    return 0;
  }
  if (argc > 1 && strcmp (argv[1], "--replay") == 0) {
    for (int i = 2; i < argc; i++) {
      g_autofree char *data = NULL;
      gsize len;
      if (!g_file_get_contents (argv[i], &data, &len, NULL))
        return 1;
      LLVMFuzzerTestOneInput ((const uint8_t *) data, len);
    }
    printf ("fuzz-onnx-driver: %d inputs replayed without a crash\n", argc - 2);
    return 0;
  }
  int iterations = argc > 1 ? atoi (argv[1]) : 5000;
  GByteArray *seeds[N_SEEDS];
  for (int i = 0; i < N_SEEDS; i++) {
    size_t len;
    guint8 *buf = seed_model (i, &len);
    seeds[i] = g_byte_array_new_take (buf, len);
    /* Each seed loads: otherwise the smoke run would only test refusals. */
    GError *err = NULL;
    SnModel *m = sn_model_load_from_data (buf, len, NULL, &err);
    if (!m) {
      fprintf (stderr, "fuzz-onnx-driver: seed %d does not load: %s\n", i, err->message);
      return 1;
    }
    sn_model_free (m);
    LLVMFuzzerTestOneInput (buf, len);
  }
  GRand *r = g_rand_new_with_seed (2026);
  GByteArray *b = g_byte_array_new ();
  for (int it = 0; it < iterations; it++) {
    GByteArray *s = seeds[it % N_SEEDS];
    g_byte_array_set_size (b, 0);
    g_byte_array_append (b, s->data, s->len);
    /* Few flips: a protobuf with many broken bytes is refused at the first. */
    int flips = g_rand_int_range (r, 1, 4);
    for (int f = 0; f < flips; f++) {
      guint pos = g_rand_int_range (r, 0, b->len);
      b->data[pos] = g_rand_boolean (r) ? (guint8) g_rand_int (r) : b->data[pos] ^ (1u << g_rand_int_range (r, 0, 8));
    }
    if (it % 7 == 0)
      g_byte_array_set_size (b, g_rand_int_range (r, 0, b->len + 1));
    if (it % 11 == 0 && b->len > 16) {         /* a run of bytes repeated in place */
      guint from = g_rand_int_range (r, 0, b->len - 8), n = g_rand_int_range (r, 1, 9);
      guint8 run[8];
      memcpy (run, b->data + from, n);
      g_byte_array_append (b, run, n);
    }
    LLVMFuzzerTestOneInput (b->data, b->len);
  }
  printf ("fuzz-onnx-driver: %d mutated models loaded or refused without a crash\n", iterations);
  g_byte_array_unref (b);
  g_rand_free (r);
  for (int i = 0; i < N_SEEDS; i++)
    g_byte_array_unref (seeds[i]);
  return 0;
}
