/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fast path (XNNPACK) against the reference kernels, which are the
 * oracle: random inputs and weights through small models built in memory,
 * one lowering at a time (every Conv geometry, BatchNormalization folding,
 * the hard-swish spellings, pooling windows, resize modes, concatenation,
 * fully connected layers, broadcasting), then a MobileNetV3-like model run
 * whole and split at cuts, with one and two threads.
 *
 * Every check asserts first that the fast path really ran the nodes it is
 * about (a run that fails to lower falls back to the reference kernels
 * silently), then that each output agrees with the reference kernels within
 * rtol 1e-4 + atol 1e-4: XNNPACK sums in another order and approximates
 * sigmoid and exp. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <splitnn/splitnn.h>

#include "sn-test-onnx.h"

#define IN(...) ((const char *[]) { __VA_ARGS__, NULL })
#define DIMS(...) ((const int64_t[]) { __VA_ARGS__ })
#define RTOL 1e-4
#define ATOL 1e-4

static guint32 seed = 1;

/* Uniform in [-scale, scale], from a fixed seed per initializer. */
static void
init_random (SnTestGraph *g, const char *name, int rank, const int64_t *dims, float scale)
{
  size_t n = 1;
  for (int i = 0; i < rank; i++)
    n *= dims[i];
  g_autofree float *v = g_new (float, n + 1);
  g_autoptr (GRand) r = g_rand_new_with_seed (seed++);
  for (size_t i = 0; i < n; i++)
    v[i] = (float) g_rand_double_range (r, -scale, scale);
  sn_test_graph_initializer (g, name, rank, dims, v, n);
}

/* Strictly positive values (variances, divisors). */
static void
init_positive (SnTestGraph *g, const char *name, int rank, const int64_t *dims)
{
  size_t n = 1;
  for (int i = 0; i < rank; i++)
    n *= dims[i];
  g_autofree float *v = g_new (float, n + 1);
  g_autoptr (GRand) r = g_rand_new_with_seed (seed++);
  for (size_t i = 0; i < n; i++)
    v[i] = (float) g_rand_double_range (r, 0.5, 2.0);
  sn_test_graph_initializer (g, name, rank, dims, v, n);
}

static void
init_scalar (SnTestGraph *g, const char *name, float v)
{
  sn_test_graph_initializer (g, name, 0, NULL, &v, 1);
}

static SnModel *
load (SnTestGraph *g)
{
  size_t len;
  g_autofree guint8 *buf = sn_test_graph_serialize (g, &len);
  sn_test_graph_free (g);
  GError *err = NULL;
  SnModel *m = sn_model_load_from_data (buf, len, NULL, &err);
  ck_assert_msg (m != NULL, "load: %s", err ? err->message : "");
  return m;
}

static SnTensor *
random_input (const SnSegment *seg, int i, float scale)
{
  SnDType dt;
  SnShape sh;
  sn_segment_input_info (seg, i, &dt, &sh);
  SnTensor *t = sn_tensor_new (dt, &sh);
  g_autoptr (GRand) r = g_rand_new_with_seed (1000 + seed++);
  float *v = t->data;
  for (int64_t k = 0; k < sn_tensor_numel (t); k++)
    v[k] = (float) g_rand_double_range (r, -scale, scale);
  return t;
}

static void
assert_close (const char *what, const SnTensor *got, const SnTensor *want)
{
  char a[96], b[96];
  ck_assert_msg (got->dtype == want->dtype && sn_shape_equal (&got->shape, &want->shape),
      "%s: %s, expected %s", what, sn_shape_format (&got->shape, a, sizeof a),
      sn_shape_format (&want->shape, b, sizeof b));
  const float *g = got->data, *w = want->data;
  for (int64_t i = 0; i < sn_tensor_numel (got); i++)
    ck_assert_msg (fabs (g[i] - w[i]) <= ATOL + RTOL * fabs (w[i]),
        "%s element %" G_GINT64_FORMAT ": fast %.9g, reference %.9g", what, i, g[i], w[i]);
}

static GPtrArray *
run_copy (SnSegment *seg, SnTensor *const *inputs)
{
  GError *err = NULL;
  ck_assert_msg (sn_segment_run (seg, (const SnTensor *const *) inputs, &err), "run: %s",
      err ? err->message : "");
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) sn_tensor_free);
  for (int i = 0; i < sn_segment_n_outputs (seg); i++)
    g_ptr_array_add (out, sn_tensor_copy (sn_segment_output (seg, i)));
  return out;
}

/* Runs the whole of m on both engines with random inputs in [-scale,
 * scale], twice on the fast path (the second run reuses its setup), and
 * compares every output.  Asserts that the fast path ran n_fast nodes. */
static void
check_engines_scaled (SnModel *m, int n_fast, int threads, float scale)
{
  GError *err = NULL;
  SnSegment *seg = sn_segment_new (m, NULL, 0, NULL, 0, &err);
  ck_assert_msg (seg != NULL, "%s", err ? err->message : "");
  sn_segment_set_threads (seg, threads);
  int n_in = sn_segment_n_inputs (seg);
  SnTensor *inputs[n_in + 1];
  for (int i = 0; i < n_in; i++)
    inputs[i] = random_input (seg, i, scale);

  sn_segment_set_engine (seg, SN_ENGINE_REFERENCE);
  g_autoptr (GPtrArray) want = run_copy (seg, inputs);
  sn_segment_set_engine (seg, SN_ENGINE_FAST);
  for (int pass = 0; pass < 2; pass++) {
    g_autoptr (GPtrArray) got = run_copy (seg, inputs);
    ck_assert_int_eq (sn_segment_n_fast_nodes (seg), n_fast);
    ck_assert_int_eq (sn_segment_get_engine (seg), SN_ENGINE_FAST);
    for (guint i = 0; i < got->len; i++)
      assert_close (sn_segment_output_name (seg, i), g_ptr_array_index (got, i),
          g_ptr_array_index (want, i));
  }
  for (int i = 0; i < n_in; i++)
    sn_tensor_free (inputs[i]);
  sn_segment_free (seg);
}

static void
check_engines (SnModel *m, int n_fast)
{
  check_engines_scaled (m, n_fast, 1, 3.0f);
}

/* ---- Convolutions ------------------------------------------------------------ */

typedef struct {
  int64_t C, O, kh, kw, stride, dil, group;
  int64_t pads[4];
  const char *auto_pad;
  gboolean bias;
} ConvCase;

static const ConvCase conv_cases[] = {
  { 4, 8, 3, 3, 1, 1, 1, { 1, 1, 1, 1 }, NULL, TRUE },
  { 3, 16, 3, 3, 2, 1, 1, { 0, 0, 1, 1 }, NULL, TRUE },     /* TF SAME, asymmetric */
  { 8, 8, 5, 5, 2, 1, 8, { 1, 1, 2, 2 }, NULL, TRUE },      /* depthwise */
  { 4, 8, 3, 3, 1, 1, 4, { 1, 1, 1, 1 }, NULL, FALSE },     /* depthwise, multiplier 2 */
  { 4, 6, 3, 3, 1, 1, 2, { 1, 0, 1, 0 }, NULL, TRUE },      /* 2 groups */
  { 3, 5, 3, 3, 1, 2, 1, { 2, 2, 2, 2 }, NULL, TRUE },      /* dilated */
  { 3, 4, 3, 3, 2, 1, 1, { 0 }, "SAME_UPPER", TRUE },
  { 3, 4, 4, 4, 2, 1, 1, { 0 }, "SAME_LOWER", TRUE },
  { 3, 4, 3, 3, 1, 1, 1, { 0 }, "VALID", TRUE },
  { 6, 5, 1, 1, 1, 1, 1, { 0 }, NULL, FALSE },              /* pointwise */
  { 3, 4, 1, 3, 1, 1, 1, { 0, 1, 0, 1 }, NULL, TRUE },      /* 1 x 3 */
};

static int64_t
conv_out (int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, const char *auto_pad)
{
  if (auto_pad && g_str_has_prefix (auto_pad, "SAME"))
    return (in + s - 1) / s;
  return (in + pb + pe - d * (k - 1) - 1) / s + 1;
}

START_TEST (test_conv_geometries)
{
  const ConvCase *c = &conv_cases[_i];
  const int64_t H = 9, W = 7;
  int64_t OH = conv_out (H, c->kh, c->stride, c->dil, c->pads[0], c->pads[2], c->auto_pad);
  int64_t OW = conv_out (W, c->kw, c->stride, c->dil, c->pads[1], c->pads[3], c->auto_pad);
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (1, c->C, H, W));
  sn_test_graph_output (g, "y", 4, DIMS (1, c->O, OH, OW));
  init_random (g, "w", 4, DIMS (c->O, c->C / c->group, c->kh, c->kw), 0.5f);
  init_random (g, "b", 1, DIMS (c->O), 0.5f);
  sn_test_graph_node (g, "Conv", "conv", c->bias ? IN ("x", "w", "b") : IN ("x", "w"), IN ("y"));
  sn_test_graph_attr_ints (g, "kernel_shape", 2, DIMS (c->kh, c->kw));
  sn_test_graph_attr_ints (g, "strides", 2, DIMS (c->stride, c->stride));
  sn_test_graph_attr_ints (g, "dilations", 2, DIMS (c->dil, c->dil));
  sn_test_graph_attr_int (g, "group", c->group);
  if (c->auto_pad)
    sn_test_graph_attr_string (g, "auto_pad", c->auto_pad);
  else
    sn_test_graph_attr_ints (g, "pads", 4, c->pads);
  SnModel *m = load (g);
  check_engines (m, 1);
  sn_model_free (m);
}
END_TEST

/* Conv -> BatchNormalization -> Relu and Conv -> BN -> Clip (0, 6): the
 * BN folds into the weights, the clamp into the output range; a BN whose
 * input is also a graph output cannot fold and runs on its own. */
START_TEST (test_conv_batchnorm_fused)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (1, 3, 8, 8));
  sn_test_graph_output (g, "y", 4, DIMS (1, 6, 8, 8));
  sn_test_graph_output (g, "z", 4, DIMS (1, 6, 8, 8));
  sn_test_graph_output (g, "c2", 4, DIMS (1, 6, 8, 8));
  sn_test_graph_output (g, "u", 4, DIMS (1, 6, 8, 8));
  init_random (g, "w", 4, DIMS (6, 3, 3, 3), 0.5f);
  init_random (g, "b", 1, DIMS (6), 0.5f);
  init_random (g, "w2", 4, DIMS (6, 6, 1, 1), 0.5f);
  init_random (g, "scale", 1, DIMS (6), 2.0f);
  init_random (g, "bias", 1, DIMS (6), 1.0f);
  init_random (g, "mean", 1, DIMS (6), 1.0f);
  init_positive (g, "var", 1, DIMS (6));
  init_scalar (g, "zero", 0.0f);
  init_scalar (g, "six", 6.0f);
  sn_test_graph_node (g, "Conv", "conv", IN ("x", "w", "b"), IN ("c"));
  sn_test_graph_attr_ints (g, "pads", 4, DIMS (1, 1, 1, 1));
  sn_test_graph_node (g, "BatchNormalization", "bn", IN ("c", "scale", "bias", "mean", "var"), IN ("n"));
  sn_test_graph_attr_float (g, "epsilon", 1e-3f);
  sn_test_graph_node (g, "Relu", "relu", IN ("n"), IN ("y"));
  sn_test_graph_node (g, "Conv", "conv2", IN ("y", "w2"), IN ("c2"));
  sn_test_graph_node (g, "BatchNormalization", "bn2", IN ("c2", "scale", "bias", "mean", "var"), IN ("n2"));
  sn_test_graph_node (g, "Clip", "relu6", IN ("n2", "zero", "six"), IN ("z"));
  /* BN straight on a graph input */
  sn_test_graph_node (g, "BatchNormalization", "bn3", IN ("z", "scale", "bias", "mean", "var"), IN ("u"));
  SnModel *m = load (g);
  check_engines (m, 7);
  sn_model_free (m);
}
END_TEST

/* 1x1 convolutions, which run on our own kernel where the CPU has AVX2 and
 * FMA (libsplitnn/sn-gemm.c; XNNPACK's elsewhere), on shapes that are no
 * multiple of its 6 x 16 tiles: one input channel, 17 and 33 outputs, odd
 * pixel counts.  x feeds two of them (one staging buffer), a chain passes
 * a Relu and a folded BN + Clip between steps, and a residual Add reads
 * values across them. */
static const int64_t pointwise_cases[][5] = {
  /* C, mid, O, H, W */
  { 1, 17, 33, 5, 7 }, { 37, 16, 5, 3, 3 }, { 16, 48, 16, 8, 8 }, { 24, 72, 24, 13, 11 },
};

START_TEST (test_pointwise_chain)
{
  const int64_t *c = pointwise_cases[_i];
  int64_t C = c[0], mid = c[1], O = c[2], H = c[3], W = c[4];
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (1, C, H, W));
  sn_test_graph_output (g, "y", 4, DIMS (1, O, H, W));
  init_random (g, "wa", 4, DIMS (mid, C, 1, 1), 0.5f);
  init_random (g, "ba", 1, DIMS (mid), 0.5f);
  init_random (g, "wb", 4, DIMS (O, mid, 1, 1), 0.5f);
  init_random (g, "wc", 4, DIMS (O, C, 1, 1), 0.5f);
  init_random (g, "bc", 1, DIMS (O), 0.5f);
  init_random (g, "scale", 1, DIMS (O), 2.0f);
  init_random (g, "bias", 1, DIMS (O), 1.0f);
  init_random (g, "mean", 1, DIMS (O), 1.0f);
  init_positive (g, "var", 1, DIMS (O));
  init_scalar (g, "zero", 0.0f);
  init_scalar (g, "six", 6.0f);
  sn_test_graph_node (g, "Conv", "a", IN ("x", "wa", "ba"), IN ("ca"));
  sn_test_graph_node (g, "Relu", "relu", IN ("ca"), IN ("ra"));
  sn_test_graph_node (g, "Conv", "b", IN ("ra", "wb"), IN ("cb"));
  sn_test_graph_node (g, "BatchNormalization", "bn", IN ("cb", "scale", "bias", "mean", "var"), IN ("nb"));
  sn_test_graph_node (g, "Clip", "relu6", IN ("nb", "zero", "six"), IN ("kb"));
  sn_test_graph_node (g, "Conv", "c", IN ("x", "wc", "bc"), IN ("cc"));
  sn_test_graph_node (g, "Add", "add", IN ("kb", "cc"), IN ("y"));
  SnModel *m = load (g);
  check_engines (m, 7);
  check_engines_scaled (m, 7, 2, 3.0f);
  sn_model_free (m);
}
END_TEST

/* Depthwise convolutions, which run on our own kernel where the CPU has
 * AVX2 and FMA (libsplitnn/engine/sn-dwconv.c: 5x5, and 3x3 on at most 32
 * channels; XNNPACK's elsewhere): channel counts that are no multiple of
 * its 8-channel blocks, images smaller than its 4-pixel tiles and than the
 * window, both strides, symmetric and TF SAME (bottom / right only)
 * padding.  A chain 1x1 -> Relu -> depthwise -> BN -> Clip (0, 6) -> 1x1
 * runs our kernels back to back, and a depthwise straight on the graph
 * input (no activation) is a graph output itself. */
typedef struct {
  int64_t C, k, stride, H, W;
  int64_t pads[4];
} DepthwiseCase;

static const DepthwiseCase depthwise_cases[] = {
  { 13, 3, 1, 9, 11, { 1, 1, 1, 1 } },
  { 32, 3, 1, 2, 3, { 1, 1, 1, 1 } },
  { 3, 3, 2, 9, 14, { 1, 1, 1, 1 } },
  { 17, 3, 2, 8, 10, { 0, 0, 1, 1 } },    /* TF SAME at stride 2 */
  { 41, 5, 1, 7, 13, { 2, 2, 2, 2 } },
  { 8, 5, 1, 3, 2, { 2, 2, 2, 2 } },      /* the window is larger than the image */
  { 24, 5, 2, 11, 9, { 2, 2, 2, 2 } },
  { 9, 5, 2, 12, 12, { 1, 1, 2, 2 } },    /* TF SAME at stride 2 */
};

START_TEST (test_depthwise_chain)
{
  const DepthwiseCase *c = &depthwise_cases[_i];
  int64_t C = c->C, k = c->k, H = c->H, W = c->W;
  int64_t OH = conv_out (H, k, c->stride, 1, c->pads[0], c->pads[2], NULL);
  int64_t OW = conv_out (W, k, c->stride, 1, c->pads[1], c->pads[3], NULL);
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (1, C, H, W));
  sn_test_graph_output (g, "y", 4, DIMS (1, C, OH, OW));
  sn_test_graph_output (g, "z", 4, DIMS (1, C, OH, OW));
  init_random (g, "wa", 4, DIMS (C, C, 1, 1), 0.5f);
  init_random (g, "ba", 1, DIMS (C), 0.5f);
  init_random (g, "wd", 4, DIMS (C, 1, k, k), 0.5f);
  init_random (g, "bd", 1, DIMS (C), 0.5f);
  init_random (g, "wc", 4, DIMS (C, C, 1, 1), 0.5f);
  init_random (g, "scale", 1, DIMS (C), 2.0f);
  init_random (g, "bias", 1, DIMS (C), 1.0f);
  init_random (g, "mean", 1, DIMS (C), 1.0f);
  init_positive (g, "var", 1, DIMS (C));
  init_scalar (g, "zero", 0.0f);
  init_scalar (g, "six", 6.0f);
  sn_test_graph_node (g, "Conv", "a", IN ("x", "wa", "ba"), IN ("ca"));
  sn_test_graph_node (g, "Relu", "relu", IN ("ca"), IN ("ra"));
  sn_test_graph_node (g, "Conv", "dw", IN ("ra", "wd"), IN ("cd"));
  sn_test_graph_attr_ints (g, "kernel_shape", 2, DIMS (k, k));
  sn_test_graph_attr_ints (g, "strides", 2, DIMS (c->stride, c->stride));
  sn_test_graph_attr_ints (g, "pads", 4, c->pads);
  sn_test_graph_attr_int (g, "group", C);
  sn_test_graph_node (g, "BatchNormalization", "bn", IN ("cd", "scale", "bias", "mean", "var"), IN ("nd"));
  sn_test_graph_node (g, "Clip", "relu6", IN ("nd", "zero", "six"), IN ("kd"));
  sn_test_graph_node (g, "Conv", "c", IN ("kd", "wc"), IN ("y"));
  sn_test_graph_node (g, "Conv", "dw2", IN ("x", "wd", "bd"), IN ("z"));
  sn_test_graph_attr_ints (g, "kernel_shape", 2, DIMS (k, k));
  sn_test_graph_attr_ints (g, "strides", 2, DIMS (c->stride, c->stride));
  sn_test_graph_attr_ints (g, "pads", 4, c->pads);
  sn_test_graph_attr_int (g, "group", C);
  SnModel *m = load (g);
  check_engines (m, 7);
  check_engines_scaled (m, 7, 2, 3.0f);
  sn_model_free (m);
}
END_TEST

/* A value of rank 2 made before a 1x1 convolution and read after it would
 * have to cross a step in the engine's layout: the run is built again
 * without our kernel, and still lowers whole. */
START_TEST (test_own_kernel_fallback)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (1, 6, 5, 4));
  sn_test_graph_output (g, "out", 4, DIMS (1, 6, 5, 4));
  init_random (g, "w", 4, DIMS (6, 6, 1, 1), 0.5f);
  sn_test_graph_initializer_int64 (g, "shape4", 1, DIMS (4), DIMS (1, 6, 1, 1), 4);
  sn_test_graph_node (g, "ReduceMean", "rm", IN ("x"), IN ("flat"));
  sn_test_graph_attr_ints (g, "axes", 2, DIMS (2, 3));
  sn_test_graph_attr_int (g, "keepdims", 0);
  sn_test_graph_node (g, "Conv", "conv", IN ("x", "w"), IN ("y"));
  sn_test_graph_node (g, "Reshape", "reshape", IN ("flat", "shape4"), IN ("u"));
  sn_test_graph_node (g, "Mul", "mul", IN ("y", "u"), IN ("out"));
  SnModel *m = load (g);
  check_engines (m, 4);
  check_engines_scaled (m, 4, 2, 3.0f);
  sn_model_free (m);
}
END_TEST

/* ---- Hard-swish ----------------------------------------------------------------- */

/* The three spellings, each feeding what MobileNetV3 feeds it: a depthwise
 * Conv, a squeeze-excite block (GlobalAveragePool, Conv, Mul) and a
 * residual Add; with_output also returns the hard-swish itself.  The
 * hard-swish reads a Conv: a 1x1 one whose output the residual Add also
 * reads (form 0), or whose output only the hard-swish reads, so that our
 * kernels fold it into their store (form 1: 1x1, form 2: depthwise 3x3;
 * the residual then adds the input). */
static SnModel *
hardswish_model (int spelling, gboolean with_output, int form)
{
  SnTestGraph *g = sn_test_graph_new (14);
  sn_test_graph_input (g, "x", 4, DIMS (1, 4, 6, 6));
  sn_test_graph_output (g, "dw", 4, DIMS (1, 4, 6, 6));
  sn_test_graph_output (g, "se", 4, DIMS (1, 4, 6, 6));
  sn_test_graph_output (g, "res", 4, DIMS (1, 4, 6, 6));
  if (with_output)
    sn_test_graph_output (g, "hs", 4, DIMS (1, 4, 6, 6));
  init_random (g, "w", 4, DIMS (4, 4, 1, 1), 1.0f);
  init_random (g, "wd", 4, DIMS (4, 1, 3, 3), 0.5f);
  init_random (g, "bd", 1, DIMS (4), 0.5f);
  init_random (g, "ws", 4, DIMS (4, 4, 1, 1), 0.5f);
  init_random (g, "wp", 4, DIMS (4, 4, 1, 1), 0.5f);
  init_scalar (g, "a", 0.16662598f);       /* 1/6 through float16, as in the detector */
  init_scalar (g, "three", 3.0f);
  init_scalar (g, "zero", 0.0f);
  init_scalar (g, "six", 6.0f);
  init_scalar (g, "sixth", 1.0f / 6.0f);
  init_random (g, "wdw", 4, DIMS (4, 1, 3, 3), 0.5f);
  if (form == 2) {
    sn_test_graph_node (g, "Conv", "conv", IN ("x", "wdw"), IN ("h"));
    sn_test_graph_attr_int (g, "group", 4);
    sn_test_graph_attr_ints (g, "pads", 4, DIMS (1, 1, 1, 1));
  } else {
    sn_test_graph_node (g, "Conv", "conv", IN ("x", "w"), IN ("h"));
  }
  switch (spelling) {
    case 0:   /* TF: (h * a) * relu6 (h + 3) */
      sn_test_graph_node (g, "Mul", "m1", IN ("a", "h"), IN ("ha"));
      sn_test_graph_node (g, "Add", "ad", IN ("h", "three"), IN ("h3"));
      sn_test_graph_node (g, "Clip", "cl", IN ("h3", "zero", "six"), IN ("r6"));
      sn_test_graph_node (g, "Mul", "m2", IN ("ha", "r6"), IN ("hs"));
      break;
    case 1:   /* PyTorch: h * relu6 (h + 3) / 6 */
      sn_test_graph_node (g, "Add", "ad", IN ("h", "three"), IN ("h3"));
      sn_test_graph_node (g, "Clip", "cl", IN ("h3", "zero", "six"), IN ("r6"));
      sn_test_graph_node (g, "Mul", "m", IN ("h", "r6"), IN ("hr"));
      sn_test_graph_node (g, "Div", "d", IN ("hr", "six"), IN ("hs"));
      break;
    case 2:   /* h * HardSigmoid (h) */
      sn_test_graph_node (g, "HardSigmoid", "hsig", IN ("h"), IN ("hg"));
      sn_test_graph_attr_float (g, "alpha", 1.0f / 6.0f);
      sn_test_graph_node (g, "Mul", "m", IN ("h", "hg"), IN ("hs"));
      break;
    default:  /* PyTorch, times 1/6 instead of / 6 */
      sn_test_graph_node (g, "Add", "ad", IN ("h", "three"), IN ("h3"));
      sn_test_graph_node (g, "Clip", "cl", IN ("h3", "zero", "six"), IN ("r6"));
      sn_test_graph_node (g, "Mul", "m", IN ("r6", "h"), IN ("hr"));
      sn_test_graph_node (g, "Mul", "d", IN ("hr", "sixth"), IN ("hs"));
      break;
  }
  sn_test_graph_node (g, "Conv", "dwconv", IN ("hs", "wd", "bd"), IN ("dw"));
  sn_test_graph_attr_int (g, "group", 4);
  sn_test_graph_attr_ints (g, "pads", 4, DIMS (1, 1, 1, 1));
  sn_test_graph_node (g, "GlobalAveragePool", "gap", IN ("hs"), IN ("pooled"));
  sn_test_graph_node (g, "Conv", "squeeze", IN ("pooled", "ws"), IN ("sq"));
  sn_test_graph_node (g, "Sigmoid", "gate", IN ("sq"), IN ("gt"));
  sn_test_graph_node (g, "Mul", "excite", IN ("hs", "gt"), IN ("ex"));
  sn_test_graph_node (g, "Conv", "project", IN ("ex", "wp"), IN ("se"));
  sn_test_graph_node (g, "Add", "residual", IN ("hs", form == 0 ? "h" : "x"), IN ("res"));
  return load (g);
}

/* _i: spelling (_i % 4) and form (_i / 4) of hardswish_model (). */
START_TEST (test_hardswish_spellings)
{
  static const int nodes[] = { 12, 12, 10, 12 };
  for (int with_output = 0; with_output < 2; with_output++) {
    SnModel *m = hardswish_model (_i % 4, with_output, _i / 4);
    check_engines_scaled (m, nodes[_i % 4], 1, 6.0f);
    check_engines_scaled (m, nodes[_i % 4], 2, 6.0f);
    sn_model_free (m);
  }
}
END_TEST

/* Residual Adds after a 1x1 Conv, which our 1x1 kernel folds into its
 * store when the other operand is already in a buffer: the Conv's own
 * input (add1), a block input two Convs back, as in MobileNet (add2), and
 * the graph input, staged, as the first operand (add3).  20 channels: a full panel of 16 and a
 * partial one; 35 pixels: a partial tile of rows.  _i = 1 also returns h1
 * and r1, values read after the run. */
START_TEST (test_residual_after_1x1)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (1, 20, 5, 7));
  sn_test_graph_output (g, "r3", 4, DIMS (1, 20, 5, 7));
  if (_i) {
    sn_test_graph_output (g, "h1", 4, DIMS (1, 20, 5, 7));
    sn_test_graph_output (g, "r1", 4, DIMS (1, 20, 5, 7));
  }
  init_random (g, "wa", 4, DIMS (20, 20, 1, 1), 0.5f);
  init_random (g, "wb", 4, DIMS (20, 20, 1, 1), 0.5f);
  init_random (g, "bb", 1, DIMS (20), 0.5f);
  init_random (g, "wc", 4, DIMS (20, 20, 1, 1), 0.5f);
  init_random (g, "wd", 4, DIMS (20, 20, 1, 1), 0.5f);
  init_random (g, "we", 4, DIMS (20, 20, 1, 1), 0.5f);
  sn_test_graph_node (g, "Conv", "a", IN ("x", "wa"), IN ("h1"));
  sn_test_graph_node (g, "Conv", "b", IN ("h1", "wb", "bb"), IN ("h2"));
  sn_test_graph_node (g, "Add", "add1", IN ("h1", "h2"), IN ("r1"));
  sn_test_graph_node (g, "Conv", "c", IN ("r1", "wc"), IN ("h3"));
  sn_test_graph_node (g, "Conv", "d", IN ("h3", "wd"), IN ("h4"));
  sn_test_graph_node (g, "Add", "add2", IN ("h4", "r1"), IN ("r2"));
  sn_test_graph_node (g, "Conv", "e", IN ("r2", "we"), IN ("h5"));
  sn_test_graph_node (g, "Add", "add3", IN ("x", "h5"), IN ("r3"));
  SnModel *m = load (g);
  check_engines_scaled (m, 8, 1, 3.0f);
  check_engines_scaled (m, 8, 2, 3.0f);
  sn_model_free (m);
}
END_TEST

/* Almost a hard-swish: relu6 (h + 3) is also read elsewhere, so it must
 * not be fused away. */
START_TEST (test_hardswish_not_fused)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (1, 3, 5, 5));
  sn_test_graph_output (g, "hs", 4, DIMS (1, 3, 5, 5));
  sn_test_graph_output (g, "r6", 4, DIMS (1, 3, 5, 5));
  init_scalar (g, "three", 3.0f);
  init_scalar (g, "zero", 0.0f);
  init_scalar (g, "six", 6.0f);
  sn_test_graph_node (g, "Add", "ad", IN ("x", "three"), IN ("h3"));
  sn_test_graph_node (g, "Clip", "cl", IN ("h3", "zero", "six"), IN ("r6"));
  sn_test_graph_node (g, "Mul", "m", IN ("x", "r6"), IN ("hr"));
  sn_test_graph_node (g, "Div", "d", IN ("hr", "six"), IN ("hs"));
  SnModel *m = load (g);
  check_engines_scaled (m, 4, 1, 6.0f);
  sn_model_free (m);
}
END_TEST

/* ---- Pooling -------------------------------------------------------------------- */

typedef struct {
  const char *op;
  int64_t k, stride, dil, pad, ceil, include_pad;
  const char *auto_pad;
} PoolCase;

static const PoolCase pool_cases[] = {
  { "MaxPool", 3, 2, 1, 1, 1, 0, NULL },
  { "MaxPool", 2, 2, 1, 0, 0, 0, NULL },
  { "MaxPool", 3, 1, 2, 0, 0, 0, NULL },          /* dilated */
  { "MaxPool", 3, 2, 1, 0, 0, 0, "SAME_UPPER" },
  { "AveragePool", 3, 2, 1, 1, 1, 1, NULL },      /* count_include_pad and ceil_mode */
  { "AveragePool", 3, 2, 1, 1, 1, 0, NULL },
  { "AveragePool", 3, 1, 1, 1, 0, 1, NULL },
  { "AveragePool", 2, 2, 1, 0, 0, 0, "SAME_LOWER" },
};

static int64_t
pool_out (int64_t in, const PoolCase *c)
{
  if (c->auto_pad)
    return (in + c->stride - 1) / c->stride;
  int64_t span = in + 2 * c->pad - (c->k - 1) * c->dil - 1;
  int64_t out = (c->ceil ? (span + c->stride - 1) / c->stride : span / c->stride) + 1;
  if (c->ceil && (out - 1) * c->stride >= in + c->pad)
    out--;
  return out;
}

START_TEST (test_pool_windows)
{
  const PoolCase *c = &pool_cases[_i];
  const int64_t H = 8, W = 11;
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (1, 5, H, W));
  sn_test_graph_output (g, "y", 4, DIMS (1, 5, pool_out (H, c), pool_out (W, c)));
  sn_test_graph_node (g, c->op, "pool", IN ("x"), IN ("y"));
  sn_test_graph_attr_ints (g, "kernel_shape", 2, DIMS (c->k, c->k));
  sn_test_graph_attr_ints (g, "strides", 2, DIMS (c->stride, c->stride));
  if (c->dil > 1)
    sn_test_graph_attr_ints (g, "dilations", 2, DIMS (c->dil, c->dil));
  if (c->auto_pad)
    sn_test_graph_attr_string (g, "auto_pad", c->auto_pad);
  else
    sn_test_graph_attr_ints (g, "pads", 4, DIMS (c->pad, c->pad, c->pad, c->pad));
  sn_test_graph_attr_int (g, "ceil_mode", c->ceil);
  if (strcmp (c->op, "AveragePool") == 0)
    sn_test_graph_attr_int (g, "count_include_pad", c->include_pad);
  SnModel *m = load (g);
  check_engines (m, 1);
  sn_model_free (m);
}
END_TEST

/* GlobalMaxPool, GlobalAveragePool, ReduceMean over H, W kept and
 * dropped, and ReduceMean with opset 18's axes input. */
START_TEST (test_global_pools)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (2, 6, 7, 5));
  sn_test_graph_output (g, "max", 4, DIMS (2, 6, 1, 1));
  sn_test_graph_output (g, "avg", 4, DIMS (2, 6, 1, 1));
  sn_test_graph_output (g, "mean", 4, DIMS (2, 6, 1, 1));
  sn_test_graph_output (g, "flat", 2, DIMS (2, 6));
  sn_test_graph_node (g, "GlobalMaxPool", "gmp", IN ("x"), IN ("max"));
  sn_test_graph_node (g, "GlobalAveragePool", "gap", IN ("x"), IN ("avg"));
  sn_test_graph_node (g, "ReduceMean", "rm", IN ("x"), IN ("mean"));
  sn_test_graph_attr_ints (g, "axes", 2, DIMS (-1, 2));
  sn_test_graph_node (g, "ReduceMean", "rm2", IN ("x"), IN ("flat"));
  sn_test_graph_attr_ints (g, "axes", 2, DIMS (2, 3));
  sn_test_graph_attr_int (g, "keepdims", 0);
  SnModel *m = load (g);
  check_engines (m, 4);
  sn_model_free (m);

  g = sn_test_graph_new (18);
  sn_test_graph_input (g, "x", 4, DIMS (1, 3, 4, 4));
  sn_test_graph_output (g, "y", 4, DIMS (1, 3, 1, 1));
  static const int64_t axes[] = { 2, 3 };
  sn_test_graph_initializer_int64 (g, "axes", 1, DIMS (2), axes, 2);
  sn_test_graph_node (g, "ReduceMean", "rm", IN ("x", "axes"), IN ("y"));
  m = load (g);
  check_engines (m, 1);
  sn_model_free (m);
}
END_TEST

/* ---- Resize ----------------------------------------------------------------------- */

typedef struct {
  const char *mode;
  int64_t H, W, OH, OW;
  gboolean by_sizes;
} ResizeCase;

static const ResizeCase resize_cases[] = {
  { "asymmetric", 4, 5, 8, 10, FALSE },       /* TF ResizeBilinear, the detector's */
  { "half_pixel", 4, 5, 8, 10, FALSE },
  { "align_corners", 4, 5, 8, 10, FALSE },
  { "pytorch_half_pixel", 4, 5, 8, 10, FALSE },
  { "half_pixel", 8, 10, 4, 5, FALSE },       /* down */
  { "asymmetric", 5, 3, 8, 7, TRUE },         /* sizes with no whole scale */
  { "half_pixel", 5, 3, 8, 7, TRUE },
};

START_TEST (test_resize_bilinear)
{
  const ResizeCase *c = &resize_cases[_i];
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (1, 3, c->H, c->W));
  sn_test_graph_output (g, "y", 4, DIMS (1, 3, c->OH, c->OW));
  if (c->by_sizes) {
    sn_test_graph_initializer_int64 (g, "sizes", 1, DIMS (4), DIMS (1, 3, c->OH, c->OW), 4);
    sn_test_graph_node (g, "Resize", "resize", IN ("x", "", "", "sizes"), IN ("y"));
  } else {
    float scales[4] = { 1, 1, (float) c->OH / c->H, (float) c->OW / c->W };
    sn_test_graph_initializer (g, "scales", 1, DIMS (4), scales, 4);
    sn_test_graph_node (g, "Resize", "resize", IN ("x", "", "scales"), IN ("y"));
  }
  sn_test_graph_attr_string (g, "mode", "linear");
  sn_test_graph_attr_string (g, "coordinate_transformation_mode", c->mode);
  SnModel *m = load (g);
  check_engines (m, 1);
  sn_model_free (m);
}
END_TEST

/* ---- Concatenation, fully connected, layouts, arithmetic ------------------------ */

/* Three inputs along channels, one straight from the graph input, with
 * the Relu after it folded in. */
START_TEST (test_concat_channels)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (1, 3, 6, 5));
  sn_test_graph_output (g, "y", 4, DIMS (1, 12, 6, 5));
  init_random (g, "w1", 4, DIMS (4, 3, 3, 3), 0.5f);
  init_random (g, "w2", 4, DIMS (5, 3, 1, 1), 0.5f);
  sn_test_graph_node (g, "Conv", "c1", IN ("x", "w1"), IN ("a"));
  sn_test_graph_attr_ints (g, "pads", 4, DIMS (1, 1, 1, 1));
  sn_test_graph_node (g, "Conv", "c2", IN ("x", "w2"), IN ("b"));
  sn_test_graph_node (g, "Concat", "cat", IN ("a", "x", "b"), IN ("c"));
  sn_test_graph_attr_int (g, "axis", 1);
  sn_test_graph_node (g, "Relu", "relu", IN ("c"), IN ("y"));
  SnModel *m = load (g);
  check_engines (m, 4);
  sn_model_free (m);
}
END_TEST

/* A classifier head: Conv, GlobalAveragePool, Flatten, Gemm (transB,
 * alpha, beta, C) with Relu, Reshape, MatMul by a constant, Softmax. */
START_TEST (test_classifier_head)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (2, 3, 6, 6));
  sn_test_graph_output (g, "y", 2, DIMS (2, 5));
  sn_test_graph_output (g, "z", 4, DIMS (2, 7, 1, 1));
  init_random (g, "w", 4, DIMS (8, 3, 3, 3), 0.5f);
  init_random (g, "fc", 2, DIMS (7, 8), 0.5f);
  init_random (g, "fcb", 1, DIMS (7), 0.5f);
  init_random (g, "mm", 2, DIMS (7, 5), 0.5f);
  sn_test_graph_initializer_int64 (g, "shape4", 1, DIMS (4), DIMS (2, 7, 1, 1), 4);
  sn_test_graph_node (g, "Conv", "conv", IN ("x", "w"), IN ("c"));
  sn_test_graph_node (g, "GlobalAveragePool", "gap", IN ("c"), IN ("p"));
  sn_test_graph_node (g, "Flatten", "flat", IN ("p"), IN ("f"));
  sn_test_graph_node (g, "Gemm", "gemm", IN ("f", "fc", "fcb"), IN ("h"));
  sn_test_graph_attr_int (g, "transB", 1);
  sn_test_graph_attr_float (g, "alpha", 0.5f);
  sn_test_graph_attr_float (g, "beta", 2.0f);
  sn_test_graph_node (g, "Relu", "relu", IN ("h"), IN ("hr"));
  sn_test_graph_node (g, "Reshape", "to4", IN ("hr", "shape4"), IN ("z"));
  sn_test_graph_node (g, "MatMul", "mm", IN ("hr", "mm"), IN ("logits"));
  sn_test_graph_node (g, "Softmax", "softmax", IN ("logits"), IN ("y"));
  SnModel *m = load (g);
  check_engines (m, 8);
  sn_model_free (m);
}
END_TEST

/* The detector's edges: an NHWC input transposed to NCHW and NCHW heads
 * transposed back cost no conversion; the NCHW value in between is also
 * returned, in NCHW. */
START_TEST (test_boundary_transposes)
{
  /* _i = 1: a 1x1 convolution, which our own kernel runs (the relabelled
   * input is copied into a buffer between steps). */
  int64_t k = _i ? 1 : 3, pad = _i ? 0 : 1;
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "img", 4, DIMS (1, 10, 9, 3));
  sn_test_graph_output (g, "heads", 4, DIMS (1, 10, 9, 4));
  sn_test_graph_output (g, "nchw", 4, DIMS (1, 4, 10, 9));
  sn_test_graph_output (g, "other", 4, DIMS (1, 10, 9, 4));
  init_random (g, "w", 4, DIMS (4, 3, k, k), 0.5f);
  sn_test_graph_node (g, "Transpose", "t_in", IN ("img"), IN ("x"));
  sn_test_graph_attr_ints (g, "perm", 4, DIMS (0, 3, 1, 2));
  sn_test_graph_node (g, "Conv", "conv", IN ("x", "w"), IN ("c"));
  sn_test_graph_attr_ints (g, "pads", 4, DIMS (pad, pad, pad, pad));
  sn_test_graph_node (g, "Sigmoid", "sig", IN ("c"), IN ("s"));
  sn_test_graph_node (g, "Transpose", "t_out", IN ("s"), IN ("heads"));
  sn_test_graph_attr_ints (g, "perm", 4, DIMS (0, 2, 3, 1));
  sn_test_graph_node (g, "Relu", "relu", IN ("c"), IN ("nchw"));
  sn_test_graph_node (g, "Transpose", "t_out2", IN ("nchw"), IN ("other"));
  sn_test_graph_attr_ints (g, "perm", 4, DIMS (0, 2, 3, 1));
  SnModel *m = load (g);
  check_engines (m, 6);
  sn_model_free (m);
}
END_TEST

/* Broadcasting in NHWC (constants of rank 0 to 4, a [1,1,H,W] value) and
 * in the engine's layout for rank 3; PRelu, LeakyRelu, Elu, Max, Min. */
START_TEST (test_arithmetic_broadcast)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (2, 4, 3, 5));
  sn_test_graph_input (g, "mask", 4, DIMS (1, 1, 3, 5));
  sn_test_graph_input (g, "v", 3, DIMS (3, 4, 5));
  sn_test_graph_output (g, "y", 4, DIMS (2, 4, 3, 5));
  sn_test_graph_output (g, "w", 3, DIMS (3, 4, 5));
  init_random (g, "c", 3, DIMS (4, 1, 1), 1.0f);
  init_positive (g, "d", 4, DIMS (1, 4, 1, 1));
  init_random (g, "e", 1, DIMS (5), 1.0f);
  init_random (g, "slope", 3, DIMS (4, 1, 1), 0.5f);
  init_random (g, "f", 2, DIMS (4, 5), 1.0f);
  init_scalar (g, "k", 0.75f);
  sn_test_graph_node (g, "Add", "add", IN ("x", "c"), IN ("a1"));
  sn_test_graph_node (g, "Mul", "mul", IN ("mask", "a1"), IN ("a2"));
  sn_test_graph_node (g, "Sub", "sub", IN ("k", "a2"), IN ("a3"));
  sn_test_graph_node (g, "Div", "div", IN ("a3", "d"), IN ("a4"));
  sn_test_graph_node (g, "Max", "max", IN ("a4", "x"), IN ("a5"));
  sn_test_graph_node (g, "Min", "min", IN ("a5", "e"), IN ("a6"));
  sn_test_graph_node (g, "PRelu", "prelu", IN ("a6", "slope"), IN ("a7"));
  sn_test_graph_node (g, "LeakyRelu", "leaky", IN ("a7"), IN ("a8"));
  sn_test_graph_attr_float (g, "alpha", 0.2f);
  sn_test_graph_node (g, "Elu", "elu", IN ("a8"), IN ("y"));
  sn_test_graph_node (g, "Mul", "vm", IN ("v", "f"), IN ("v1"));
  sn_test_graph_node (g, "Abs", "abs", IN ("v1"), IN ("v2"));
  sn_test_graph_node (g, "Sqrt", "sqrt", IN ("v2"), IN ("v3"));
  sn_test_graph_node (g, "Neg", "neg", IN ("v3"), IN ("w"));
  SnModel *m = load (g);
  check_engines (m, 13);
  sn_model_free (m);
}
END_TEST

/* A node XNNPACK cannot run (Tanh) splits the fast path into two runs
 * with the reference kernel between them. */
START_TEST (test_runs_around_reference_node)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (1, 3, 6, 6));
  sn_test_graph_output (g, "y", 4, DIMS (1, 4, 6, 6));
  init_random (g, "w1", 4, DIMS (4, 3, 3, 3), 0.5f);
  init_random (g, "w2", 4, DIMS (4, 4, 1, 1), 0.5f);
  sn_test_graph_node (g, "Conv", "c1", IN ("x", "w1"), IN ("a"));
  sn_test_graph_attr_ints (g, "pads", 4, DIMS (1, 1, 1, 1));
  sn_test_graph_node (g, "Tanh", "tanh", IN ("a"), IN ("b"));
  sn_test_graph_node (g, "Conv", "c2", IN ("b", "w2"), IN ("c"));
  sn_test_graph_node (g, "Add", "res", IN ("c", "a"), IN ("y"));
  SnModel *m = load (g);
  check_engines (m, 3);
  sn_model_free (m);
}
END_TEST

/* ---- A MobileNetV3-like model, whole and split ------------------------------ */

/*  img NHWC ─ T ─ conv s2 ─ BN ─ hswish ─ dw ─ relu ─ SE ─ proj ─ add ─┐
 *                            └─ (hs) ───────────────────────────────┘ │
 *            ┌──────────── resize 2x ─ concat (hs) ─ relu ─ head ─ sigmoid ─ T ─ heat
 *                                                        └─ wh ─ T ─ box        */
static SnModel *
mobile_model (void)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "img", 4, DIMS (1, 32, 24, 3));
  sn_test_graph_output (g, "heat", 4, DIMS (1, 16, 12, 5));
  sn_test_graph_output (g, "box", 4, DIMS (1, 16, 12, 4));
  init_random (g, "w0", 4, DIMS (8, 3, 3, 3), 0.3f);
  init_random (g, "b0", 1, DIMS (8), 0.3f);
  init_random (g, "bn_s", 1, DIMS (8), 1.0f);
  init_random (g, "bn_b", 1, DIMS (8), 0.5f);
  init_random (g, "bn_m", 1, DIMS (8), 0.5f);
  init_positive (g, "bn_v", 1, DIMS (8));
  init_random (g, "wd", 4, DIMS (8, 1, 5, 5), 0.3f);
  init_random (g, "ws1", 4, DIMS (4, 8, 1, 1), 0.5f);
  init_random (g, "ws2", 4, DIMS (8, 4, 1, 1), 0.5f);
  init_random (g, "wp", 4, DIMS (8, 8, 1, 1), 0.4f);
  init_random (g, "wr", 4, DIMS (8, 8, 3, 3), 0.2f);
  init_random (g, "wh", 4, DIMS (5, 16, 1, 1), 0.3f);
  init_random (g, "wb", 4, DIMS (4, 16, 1, 1), 0.3f);
  init_random (g, "bb", 1, DIMS (4), 0.3f);
  init_scalar (g, "a", 0.16662598f);
  init_scalar (g, "three", 3.0f);
  init_scalar (g, "zero", 0.0f);
  init_scalar (g, "six", 6.0f);
  float scales[4] = { 1, 1, 2, 2 };
  sn_test_graph_initializer (g, "scales", 1, DIMS (4), scales, 4);

  sn_test_graph_node (g, "Transpose", "t_in", IN ("img"), IN ("x"));
  sn_test_graph_attr_ints (g, "perm", 4, DIMS (0, 3, 1, 2));
  sn_test_graph_node (g, "Conv", "stem", IN ("x", "w0", "b0"), IN ("c0"));
  sn_test_graph_attr_ints (g, "strides", 2, DIMS (2, 2));
  sn_test_graph_attr_ints (g, "pads", 4, DIMS (0, 0, 1, 1));
  sn_test_graph_node (g, "BatchNormalization", "bn", IN ("c0", "bn_s", "bn_b", "bn_m", "bn_v"), IN ("n0"));
  sn_test_graph_node (g, "Mul", "hs_m1", IN ("a", "n0"), IN ("ha"));
  sn_test_graph_node (g, "Add", "hs_add", IN ("n0", "three"), IN ("h3"));
  sn_test_graph_node (g, "Clip", "hs_clip", IN ("h3", "zero", "six"), IN ("r6"));
  sn_test_graph_node (g, "Mul", "hs_m2", IN ("ha", "r6"), IN ("hs"));
  sn_test_graph_node (g, "Conv", "dw", IN ("hs", "wd"), IN ("d"));
  sn_test_graph_attr_int (g, "group", 8);
  sn_test_graph_attr_ints (g, "strides", 2, DIMS (2, 2));
  sn_test_graph_attr_ints (g, "pads", 4, DIMS (1, 1, 2, 2));
  sn_test_graph_node (g, "Relu", "dw_relu", IN ("d"), IN ("dr"));
  sn_test_graph_node (g, "GlobalAveragePool", "se_pool", IN ("dr"), IN ("sp"));
  sn_test_graph_node (g, "Conv", "se_1", IN ("sp", "ws1"), IN ("s1"));
  sn_test_graph_node (g, "Relu", "se_relu", IN ("s1"), IN ("s1r"));
  sn_test_graph_node (g, "Conv", "se_2", IN ("s1r", "ws2"), IN ("s2"));
  sn_test_graph_node (g, "Sigmoid", "se_gate", IN ("s2"), IN ("sg"));
  sn_test_graph_node (g, "Mul", "se_mul", IN ("dr", "sg"), IN ("se"));
  sn_test_graph_node (g, "Conv", "proj", IN ("se", "wp"), IN ("p"));
  sn_test_graph_node (g, "Conv", "refine", IN ("p", "wr"), IN ("q"));
  sn_test_graph_attr_ints (g, "pads", 4, DIMS (1, 1, 1, 1));
  sn_test_graph_node (g, "Add", "res", IN ("q", "p"), IN ("feat"));
  sn_test_graph_node (g, "Resize", "up", IN ("feat", "", "scales"), IN ("u"));
  sn_test_graph_attr_string (g, "mode", "linear");
  sn_test_graph_attr_string (g, "coordinate_transformation_mode", "asymmetric");
  sn_test_graph_node (g, "Concat", "cat", IN ("hs", "u"), IN ("cc"));
  sn_test_graph_attr_int (g, "axis", 1);
  sn_test_graph_node (g, "Relu", "cat_relu", IN ("cc"), IN ("cr"));
  sn_test_graph_node (g, "Conv", "head", IN ("cr", "wh"), IN ("hl"));
  sn_test_graph_node (g, "Sigmoid", "head_sig", IN ("hl"), IN ("hp"));
  sn_test_graph_node (g, "Transpose", "t_heat", IN ("hp"), IN ("heat"));
  sn_test_graph_attr_ints (g, "perm", 4, DIMS (0, 2, 3, 1));
  sn_test_graph_node (g, "Conv", "box", IN ("cr", "wb", "bb"), IN ("bl"));
  sn_test_graph_node (g, "Transpose", "t_box", IN ("bl"), IN ("box"));
  sn_test_graph_attr_ints (g, "perm", 4, DIMS (0, 2, 3, 1));
  return load (g);
}

#define MOBILE_NODES 26

START_TEST (test_mobile_whole)
{
  SnModel *m = mobile_model ();
  check_engines_scaled (m, MOBILE_NODES, 1, 128.0f);
  check_engines_scaled (m, MOBILE_NODES, 2, 128.0f);
  sn_model_free (m);
}
END_TEST

/* Cuts: the hard-swish output alone (it carries a scale inside the run and
 * must leave it exact), and two tensors across the skip connection.  Edge
 * and cloud on the fast path give what the unsplit fast path gives, and
 * the cut tensors are what the reference kernels compute for them, in
 * NCHW. */
static const char *const cut_hs[] = { "hs", NULL };
static const char *const cut_skip[] = { "hs", "feat", NULL };
static const char *const cut_concat[] = { "cr", NULL };
static const char *const *const cuts[] = { cut_hs, cut_skip, cut_concat };

START_TEST (test_mobile_split)
{
  const char *const *cut = cuts[_i];
  int n_cut = g_strv_length ((char **) cut);
  SnModel *m = mobile_model ();
  GError *err = NULL;
  SnSegment *whole = sn_segment_new (m, NULL, 0, NULL, 0, &err);
  SnSegment *edge = sn_segment_new (m, NULL, 0, cut, n_cut, &err);
  ck_assert_msg (edge != NULL, "%s", err ? err->message : "");
  SnSegment *cloud = sn_segment_new (m, cut, n_cut, NULL, 0, &err);
  ck_assert_msg (cloud != NULL, "%s", err ? err->message : "");
  ck_assert_int_eq (sn_segment_n_nodes (edge) + sn_segment_n_nodes (cloud), MOBILE_NODES);

  SnTensor *img = random_input (whole, 0, 128.0f);
  g_autoptr (GPtrArray) unsplit = run_copy (whole, &img);

  sn_segment_set_engine (edge, SN_ENGINE_REFERENCE);
  g_autoptr (GPtrArray) cut_ref = run_copy (edge, &img);
  sn_segment_set_engine (edge, SN_ENGINE_FAST);
  g_autoptr (GPtrArray) cut_fast = run_copy (edge, &img);
  ck_assert_int_eq (sn_segment_n_fast_nodes (edge), sn_segment_n_nodes (edge));
  for (int i = 0; i < n_cut; i++)
    assert_close (cut[i], g_ptr_array_index (cut_fast, i), g_ptr_array_index (cut_ref, i));

  g_autoptr (GPtrArray) split = run_copy (cloud, (SnTensor *const *) cut_fast->pdata);
  ck_assert_int_eq (sn_segment_n_fast_nodes (cloud), sn_segment_n_nodes (cloud));
  for (int i = 0; i < sn_segment_n_outputs (whole); i++)
    assert_close (sn_segment_output_name (whole, i), g_ptr_array_index (split, i),
        g_ptr_array_index (unsplit, i));

  sn_tensor_free (img);
  sn_segment_free (edge);
  sn_segment_free (cloud);
  sn_segment_free (whole);
  sn_model_free (m);
}
END_TEST

/* Segments at the same thread count share one thread pool (sn-xnn.c).
 * Two threads run their own 2-thread segments at once, over and over, and
 * must get what a 1-thread segment gets; then one segment is freed and
 * the other (holding the last reference) must still run. */
typedef struct {
  SnSegment *seg;
  SnTensor *img;
  GPtrArray *want;
} PoolJob;

static gpointer
pool_job (gpointer data)
{
  PoolJob *j = data;
  for (int r = 0; r < 20; r++) {
    g_autoptr (GPtrArray) got = run_copy (j->seg, &j->img);
    for (guint i = 0; i < got->len; i++)
      assert_close (sn_segment_output_name (j->seg, i), g_ptr_array_index (got, i),
          g_ptr_array_index (j->want, i));
  }
  return NULL;
}

START_TEST (test_shared_pool)
{
  SnModel *m = mobile_model ();
  SnSegment *one = sn_segment_new (m, NULL, 0, NULL, 0, NULL);
  PoolJob jobs[2];
  for (int k = 0; k < 2; k++) {
    jobs[k].seg = sn_segment_new (m, NULL, 0, NULL, 0, NULL);
    sn_segment_set_threads (jobs[k].seg, 2);
    jobs[k].img = random_input (one, 0, 128.0f);
    jobs[k].want = run_copy (one, &jobs[k].img);
  }
  GThread *t = g_thread_new ("pool-job", pool_job, &jobs[1]);
  pool_job (&jobs[0]);
  g_thread_join (t);
  sn_segment_free (jobs[0].seg);
  pool_job (&jobs[1]);
  sn_segment_free (jobs[1].seg);
  for (int k = 0; k < 2; k++) {
    sn_tensor_free (jobs[k].img);
    g_ptr_array_unref (jobs[k].want);
  }
  sn_segment_free (one);
  sn_model_free (m);
}
END_TEST

/* ---- Engine selection and memory ------------------------------------------------ */

START_TEST (test_env_forces_reference)
{
  SnModel *m = mobile_model ();
  g_setenv ("SPLITNN_ENGINE", "reference", TRUE);
  SnSegment *seg = sn_segment_new (m, NULL, 0, NULL, 0, NULL);
  sn_segment_set_engine (seg, SN_ENGINE_FAST);
  ck_assert_int_eq (sn_segment_get_engine (seg), SN_ENGINE_REFERENCE);
  sn_segment_free (seg);
  g_unsetenv ("SPLITNN_ENGINE");
  seg = sn_segment_new (m, NULL, 0, NULL, 0, NULL);
  ck_assert_int_eq (sn_segment_get_engine (seg), SN_ENGINE_FAST);
  sn_segment_set_engine (seg, SN_ENGINE_REFERENCE);
  ck_assert_int_eq (sn_segment_get_engine (seg), SN_ENGINE_REFERENCE);
  sn_segment_free (seg);
  sn_model_free (m);
}
END_TEST

/* Six convolutions in a chain are one run; only two of their outputs are
 * ever live together on the reference kernels, and the values inside the
 * run live in XNNPACK's memory, so the arena holds two blocks (the last
 * is the segment's output, read by the caller). */
START_TEST (test_arena_of_a_run)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 4, DIMS (1, 8, 16, 16));
  sn_test_graph_output (g, "c6", 4, DIMS (1, 8, 16, 16));
  init_random (g, "w", 4, DIMS (8, 8, 1, 1), 0.3f);
  const char *names[] = { "x", "c1", "c2", "c3", "c4", "c5", "c6" };
  for (int i = 0; i < 6; i++)
    sn_test_graph_node (g, "Conv", names[i + 1], IN (names[i], "w"), IN (names[i + 1]));
  SnModel *m = load (g);
  SnSegment *seg = sn_segment_new (m, NULL, 0, NULL, 0, NULL);
  ck_assert_int_eq (sn_segment_arena_bytes (seg), 2 * 8 * 16 * 16 * 4);
  sn_segment_free (seg);
  check_engines (m, 6);
  sn_model_free (m);
}
END_TEST

static Suite *
fast_suite (void)
{
  Suite *s = suite_create ("fast");
  TCase *tc = tcase_create ("lowering");
  tcase_set_timeout (tc, 120);
  tcase_add_loop_test (tc, test_conv_geometries, 0, G_N_ELEMENTS (conv_cases));
  tcase_add_test (tc, test_conv_batchnorm_fused);
  tcase_add_loop_test (tc, test_pointwise_chain, 0, G_N_ELEMENTS (pointwise_cases));
  tcase_add_loop_test (tc, test_depthwise_chain, 0, G_N_ELEMENTS (depthwise_cases));
  tcase_add_test (tc, test_own_kernel_fallback);
  tcase_add_loop_test (tc, test_hardswish_spellings, 0, 12);
  tcase_add_test (tc, test_hardswish_not_fused);
  tcase_add_loop_test (tc, test_residual_after_1x1, 0, 2);
  tcase_add_loop_test (tc, test_pool_windows, 0, G_N_ELEMENTS (pool_cases));
  tcase_add_test (tc, test_global_pools);
  tcase_add_loop_test (tc, test_resize_bilinear, 0, G_N_ELEMENTS (resize_cases));
  tcase_add_test (tc, test_concat_channels);
  tcase_add_test (tc, test_classifier_head);
  tcase_add_loop_test (tc, test_boundary_transposes, 0, 2);
  tcase_add_test (tc, test_arithmetic_broadcast);
  tcase_add_test (tc, test_runs_around_reference_node);
  suite_add_tcase (s, tc);
  tc = tcase_create ("model");
  tcase_set_timeout (tc, 120);
  tcase_add_test (tc, test_mobile_whole);
  tcase_add_loop_test (tc, test_mobile_split, 0, G_N_ELEMENTS (cuts));
  tcase_add_test (tc, test_shared_pool);
  tcase_add_test (tc, test_env_forces_reference);
  tcase_add_test (tc, test_arena_of_a_run);
  suite_add_tcase (s, tc);
  return s;
}

/* Whether this build and CPU have a fast path at all: a Relu must lower. */
static gboolean
fast_path_present (void)
{
  SnTestGraph *g = sn_test_graph_new (13);
  sn_test_graph_input (g, "x", 2, DIMS (2, 3));
  sn_test_graph_output (g, "y", 2, DIMS (2, 3));
  sn_test_graph_node (g, "Relu", "relu", IN ("x"), IN ("y"));
  size_t len;
  g_autofree guint8 *buf = sn_test_graph_serialize (g, &len);
  sn_test_graph_free (g);
  SnModel *m = sn_model_load_from_data (buf, len, NULL, NULL);
  SnSegment *seg = sn_segment_new (m, NULL, 0, NULL, 0, NULL);
  gboolean present = sn_segment_get_engine (seg) == SN_ENGINE_FAST;
  sn_segment_free (seg);
  sn_model_free (m);
  return present;
}

int
main (void)
{
  /* This suite is about the fast path: a debugging override must not turn
   * it into reference-against-reference. */
  g_unsetenv ("SPLITNN_ENGINE");
  if (!fast_path_present ()) {
    printf ("SKIP: built without XNNPACK, or it does not run on this CPU\n");
    return 77;
  }
  SRunner *sr = srunner_create (fast_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
