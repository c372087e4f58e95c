/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reference kernels of sn-ops-shape.c on cases the ONNX conformance data
 * does not reach: Slice's INT64_MIN/MAX sentinels and huge steps, negative
 * pads combined with reflect/edge, opset 18 Split and Pad, rank-5 Tile,
 * exact integer casts and comparisons above 2^53, and the inconsistent
 * models that must be refused with a message naming the values.
 *
 * The tests drive the SnOpDef contract directly (prepare, then run on
 * freshly allocated outputs), so any dtype and any constant input can be
 * set up without a model file.
 *
 * Expected values: ONNX Runtime 1.30 (onnxruntime-node) ran one-node
 * models built with onnx.helper from the same inputs; double -> float16
 * comes from NumPy's astype, which rounds once (ONNX Runtime goes through
 * float and rounds twice).  Cases marked "by hand" or computed by a naive
 * loop in the test say so.  None were produced by the code under test. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "engine/sn-graph.h"

#define DIMS(...) ((const int64_t[]) { __VA_ARGS__ })
#define I64(...) ((const int64_t[]) { __VA_ARGS__ })
#define MAX_IO 8

/* ---- A one-node harness ------------------------------------------------------ */

typedef struct {
  SnNode node;
  SnValue *in[MAX_IO], *out[MAX_IO];
  SnTensor *data[MAX_IO];       /* what run() gets for each input */
  SnTensor *result[MAX_IO];
  SnAttr attrs[MAX_IO];
} Op;

static Op *
op_new (const char *type, int opset)
{
  Op *o = g_new0 (Op, 1);
  o->node.name = g_strdup ("node0");
  o->node.op_type = g_strdup (type);
  o->node.domain = g_strdup ("");
  o->node.opset = opset;
  o->node.op = sn_op_lookup (type);
  ck_assert_msg (o->node.op != NULL, "%s is not registered", type);
  o->node.inputs = o->in;
  o->node.outputs = o->out;
  o->node.attrs = o->attrs;
  o->node.n_outputs = 1;
  o->out[0] = g_new0 (SnValue, 1);
  o->out[0]->name = g_strdup ("out0");
  return o;
}

static void
op_free (Op *o)
{
  if (o->node.params && o->node.op->free_params)
    o->node.op->free_params (o->node.params);
  for (int i = 0; i < MAX_IO; i++) {
    if (o->in[i]) {
      g_free (o->in[i]->name);
      g_free (o->in[i]);
    }
    if (o->out[i]) {
      g_free (o->out[i]->name);
      g_free (o->out[i]);
    }
    sn_tensor_free (o->data[i]);
    sn_tensor_free (o->result[i]);
    g_free (o->attrs[i].name);
    g_free (o->attrs[i].ints);
    g_free (o->attrs[i].s);
    sn_tensor_free (o->attrs[i].t);
  }
  g_free (o->node.name);
  g_free (o->node.op_type);
  g_free (o->node.domain);
  g_free (o);
}

static void
op_input_full (Op *o, SnDType dt, int rank, const int64_t *dims, const void *values, gboolean constant)
{
  int i = o->node.n_inputs++;
  SnShape s = sn_shape_make (rank, dims);
  SnTensor *t = sn_tensor_new (dt, &s);
  if (values)
    memcpy (t->data, values, sn_tensor_nbytes (t));
  SnValue *v = g_new0 (SnValue, 1);
  v->name = g_strdup_printf ("in%d", i);
  v->dtype = dt;
  v->shape = s;
  v->shape_known = TRUE;
  v->index = i;
  v->constant = constant ? t : NULL;
  o->data[i] = t;
  o->in[i] = v;
}

/* A runtime (non-constant) input. */
static void
op_input (Op *o, SnDType dt, int rank, const int64_t *dims, const void *values)
{
  op_input_full (o, dt, rank, dims, values, FALSE);
}

/* A constant int64 vector input (shapes, starts, pads...). */
static void
op_ints (Op *o, int n, const int64_t *values)
{
  op_input_full (o, SN_DTYPE_INT64, 1, DIMS (n), values, TRUE);
}

static void
op_omit (Op *o)
{
  o->node.n_inputs++;
}

static void
op_outputs (Op *o, int n)
{
  for (int i = o->node.n_outputs; i < n; i++) {
    o->out[i] = g_new0 (SnValue, 1);
    o->out[i]->name = g_strdup_printf ("out%d", i);
  }
  o->node.n_outputs = n;
}

static SnAttr *
op_attr (Op *o, const char *name, SnAttrType type)
{
  SnAttr *a = &o->attrs[o->node.n_attrs++];
  a->name = g_strdup (name);
  a->type = type;
  return a;
}

static void
op_attr_int (Op *o, const char *name, int64_t v)
{
  op_attr (o, name, SN_ATTR_INT)->i = v;
}

static void
op_attr_ints (Op *o, const char *name, int n, const int64_t *v)
{
  SnAttr *a = op_attr (o, name, SN_ATTR_INTS);
  a->n = n;
  a->ints = g_memdup2 (v, n * sizeof (int64_t));
}

static void
op_attr_float (Op *o, const char *name, float v)
{
  op_attr (o, name, SN_ATTR_FLOAT)->f = v;
}

static void
op_attr_string (Op *o, const char *name, const char *v)
{
  op_attr (o, name, SN_ATTR_STRING)->s = g_strdup (v);
}

/* Prepares and runs; fails the test if prepare refuses. */
static void
op_run (Op *o)
{
  GError *err = NULL;
  ck_assert_msg (o->node.op->prepare (&o->node, &err), "prepare failed: %s", err ? err->message : "");
  const SnTensor *ins[MAX_IO] = { NULL };
  for (int i = 0; i < o->node.n_inputs; i++)
    ins[i] = o->in[i] ? o->data[i] : NULL;
  for (int i = 0; i < o->node.n_outputs; i++) {
    ck_assert (o->out[i]->shape_known);
    o->result[i] = sn_tensor_new (o->out[i]->dtype, &o->out[i]->shape);
  }
  o->node.op->run (&o->node, ins, o->result, NULL);
}

static void
expect_refused (Op *o, SnError code, const char *needle)
{
  GError *err = NULL;
  ck_assert_msg (!o->node.op->prepare (&o->node, &err), "%s was accepted", o->node.op_type);
  ck_assert_msg (err != NULL, "refused without an error");
  ck_assert_msg (g_error_matches (err, SN_ERROR, code), "expected code %d, got %d: %s", code,
      err->code, err->message);
  ck_assert_msg (strstr (err->message, needle), "'%s' not in: %s", needle, err->message);
  g_error_free (err);
  op_free (o);
}

static void
expect_shape (const SnTensor *t, SnDType dt, int rank, const int64_t *dims)
{
  SnShape s = sn_shape_make (rank, dims);
  char a[96], b[96];
  ck_assert_msg (t->dtype == dt, "dtype %s, expected %s", sn_dtype_name (t->dtype), sn_dtype_name (dt));
  ck_assert_msg (sn_shape_equal (&t->shape, &s), "shape %s, expected %s",
      sn_shape_format (&t->shape, a, sizeof a), sn_shape_format (&s, b, sizeof b));
}

static void
expect_i64 (const SnTensor *t, int rank, const int64_t *dims, const int64_t *v)
{
  expect_shape (t, SN_DTYPE_INT64, rank, dims);
  for (int64_t i = 0; i < sn_tensor_numel (t); i++)
    ck_assert_msg (((const int64_t *) t->data)[i] == v[i], "element %" G_GINT64_FORMAT ": %"
        G_GINT64_FORMAT ", expected %" G_GINT64_FORMAT, i, ((const int64_t *) t->data)[i], v[i]);
}

/* Data movement must be exact, so float outputs compare bit for bit. */
static void
expect_f32 (const SnTensor *t, int rank, const int64_t *dims, const float *v)
{
  expect_shape (t, SN_DTYPE_FLOAT32, rank, dims);
  for (int64_t i = 0; i < sn_tensor_numel (t); i++)
    ck_assert_msg (((const float *) t->data)[i] == v[i], "element %" G_GINT64_FORMAT ": %.9g, expected %.9g",
        i, ((const float *) t->data)[i], v[i]);
}

static void
expect_bytes (const SnTensor *t, SnDType dt, int rank, const int64_t *dims, const void *v)
{
  expect_shape (t, dt, rank, dims);
  ck_assert_msg (memcmp (t->data, v, sn_tensor_nbytes (t)) == 0, "%s data differs", sn_dtype_name (dt));
}

static int64_t x60[60];         /* arange (60) as int64, 3 x 4 x 5 */
static float x12[12];           /* arange (1, 13) as float32, 3 x 4 */

static void
fill_inputs (void)
{
  for (int i = 0; i < 60; i++)
    x60[i] = i;
  for (int i = 0; i < 12; i++)
    x12[i] = i + 1;
}

/* ---- Slice ------------------------------------------------------------------- */

static Op *
slice13 (int n, const int64_t *starts, const int64_t *ends, const int64_t *axes, const int64_t *steps)
{
  Op *o = op_new ("Slice", 13);
  op_input (o, SN_DTYPE_INT64, 3, DIMS (3, 4, 5), x60);
  op_ints (o, n, starts);
  op_ints (o, n, ends);
  if (axes)
    op_ints (o, n, axes);
  else
    op_omit (o);
  if (steps)
    op_ints (o, n, steps);
  return o;
}

START_TEST (test_slice_sentinels_and_steps)
{
  /* x[1:100, :, -1:INT64_MIN:-2] */
  Op *o = slice13 (2, I64 (-1, 1), I64 (G_MININT64, 100), I64 (2, 0), I64 (-2, 1));
  op_run (o);
  expect_i64 (o->result[0], 3, DIMS (2, 4, 3), I64 (24, 22, 20, 29, 27, 25, 34, 32, 30, 39, 37, 35,
          44, 42, 40, 49, 47, 45, 54, 52, 50, 59, 57, 55));
  op_free (o);

  /* A step of INT64_MAX takes only the first element, without overflow. */
  o = slice13 (1, I64 (1), I64 (G_MAXINT64), I64 (1), I64 (G_MAXINT64));
  op_run (o);
  expect_i64 (o->result[0], 3, DIMS (3, 1, 5), I64 (5, 6, 7, 8, 9, 25, 26, 27, 28, 29, 45, 46, 47, 48, 49));
  op_free (o);

  /* INT64_MIN step from INT64_MAX: the start clamps to the last element. */
  o = slice13 (1, I64 (G_MAXINT64), I64 (G_MININT64), I64 (-1), I64 (G_MININT64));
  op_run (o);
  expect_i64 (o->result[0], 3, DIMS (3, 4, 1), I64 (4, 9, 14, 19, 24, 29, 34, 39, 44, 49, 54, 59));
  op_free (o);

  /* With a negative step a start before the beginning clamps to 0 (the
   * ONNX rule; NumPy would give an empty slice here). */
  o = slice13 (1, I64 (-10), I64 (G_MININT64), I64 (2), I64 (-1));
  op_run (o);
  expect_i64 (o->result[0], 3, DIMS (3, 4, 1), I64 (0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55));
  op_free (o);

  /* start > end with a positive step: an empty axis. */
  o = slice13 (1, I64 (3), I64 (1), I64 (1), NULL);
  op_run (o);
  expect_i64 (o->result[0], 3, DIMS (3, 0, 5), NULL);
  op_free (o);
}
END_TEST

/* Opset 1 takes attributes.  Oracle: a naive loop for x[0:2, :, 1:-1]. */
START_TEST (test_slice_opset1_attributes)
{
  float x[60], want[2 * 4 * 3];
  for (int i = 0; i < 60; i++)
    x[i] = i * 0.5f;
  int k = 0;
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 4; b++)
      for (int c = 1; c < 4; c++)
        want[k++] = x[a * 20 + b * 5 + c];
  Op *o = op_new ("Slice", 1);
  op_input (o, SN_DTYPE_FLOAT32, 3, DIMS (3, 4, 5), x);
  op_attr_ints (o, "starts", 2, I64 (0, 1));
  op_attr_ints (o, "ends", 2, I64 (2, -1));
  op_attr_ints (o, "axes", 2, I64 (0, 2));
  op_run (o);
  expect_f32 (o->result[0], 3, DIMS (2, 4, 3), want);
  op_free (o);
}
END_TEST

/* ---- Pad --------------------------------------------------------------------- */

static Op *
pad13 (const char *mode, const int64_t *pads)
{
  Op *o = op_new ("Pad", 13);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (3, 4), x12);
  op_ints (o, 4, pads);
  op_attr_string (o, "mode", mode);
  return o;
}

START_TEST (test_pad_negative_pads_with_modes)
{
  /* Negative pads crop; reflect and edge then work on what is left. */
  Op *o = pad13 ("reflect", I64 (2, -1, 1, 2));
  op_run (o);
  expect_f32 (o->result[0], 2, DIMS (6, 5), (const float[]) { 10, 11, 12, 11, 10, 6, 7, 8, 7, 6,
          2, 3, 4, 3, 2, 6, 7, 8, 7, 6, 10, 11, 12, 11, 10, 6, 7, 8, 7, 6 });
  op_free (o);

  o = pad13 ("reflect", I64 (1, -1, 0, 2));
  op_run (o);
  expect_f32 (o->result[0], 2, DIMS (4, 5), (const float[]) { 6, 7, 8, 7, 6, 2, 3, 4, 3, 2,
          6, 7, 8, 7, 6, 10, 11, 12, 11, 10 });
  op_free (o);

  o = pad13 ("edge", I64 (-1, 3, 2, -2));
  op_run (o);
  expect_f32 (o->result[0], 2, DIMS (4, 5), (const float[]) { 5, 5, 5, 5, 6, 9, 9, 9, 9, 10,
          9, 9, 9, 9, 10, 9, 9, 9, 9, 10 });
  op_free (o);

  o = pad13 ("constant", I64 (1, -2, -1, 1));
  float value = 7.5f;
  op_input_full (o, SN_DTYPE_FLOAT32, 0, NULL, &value, TRUE);
  op_run (o);
  expect_f32 (o->result[0], 2, DIMS (3, 3), (const float[]) { 7.5, 7.5, 7.5, 3, 4, 7.5, 7, 8, 7.5 });
  op_free (o);
}
END_TEST

START_TEST (test_pad_int64_reflect_and_opset18_axes)
{
  int64_t xi[12];
  for (int i = 0; i < 12; i++)
    xi[i] = i + 1;
  Op *o = op_new ("Pad", 13);
  op_input (o, SN_DTYPE_INT64, 2, DIMS (3, 4), xi);
  op_ints (o, 4, I64 (0, 2, 0, 2));
  op_attr_string (o, "mode", "reflect");
  op_run (o);
  expect_i64 (o->result[0], 2, DIMS (3, 8), I64 (3, 2, 1, 2, 3, 4, 3, 2, 7, 6, 5, 6, 7, 8, 7, 6,
          11, 10, 9, 10, 11, 12, 11, 10));
  op_free (o);

  /* Opset 18: pads for the listed axes only. */
  o = op_new ("Pad", 18);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (3, 4), x12);
  op_ints (o, 2, I64 (1, 2));
  op_omit (o);
  op_ints (o, 1, I64 (-1));
  op_run (o);
  expect_f32 (o->result[0], 2, DIMS (3, 7), (const float[]) { 0, 1, 2, 3, 4, 0, 0, 0, 5, 6, 7, 8, 0, 0,
          0, 9, 10, 11, 12, 0, 0 });
  op_free (o);
}
END_TEST

/* Opset 2: pads and value are attributes.  By hand. */
START_TEST (test_pad_opset2_attributes)
{
  Op *o = op_new ("Pad", 2);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (1, 2), (const float[]) { 1, 2 });
  op_attr_ints (o, "pads", 4, I64 (1, 0, 0, 1));
  op_attr_float (o, "value", -1.5f);
  op_run (o);
  expect_f32 (o->result[0], 2, DIMS (2, 3), (const float[]) { -1.5, -1.5, -1.5, 1, 2, -1.5 });
  op_free (o);
}
END_TEST

/* ---- Tile, Split, Transpose, Concat, Reshape ------------------------------------ */

START_TEST (test_tile_rank5)
{
  Op *o = op_new ("Tile", 13);
  op_input (o, SN_DTYPE_FLOAT32, 5, DIMS (1, 2, 1, 2, 1), (const float[]) { 0, 1, 2, 3 });
  op_ints (o, 5, I64 (2, 1, 3, 1, 2));
  op_run (o);
  expect_f32 (o->result[0], 5, DIMS (2, 2, 3, 2, 2), (const float[]) {
        0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3, 2, 2, 3, 3,
        0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3, 2, 2, 3, 3 });
  op_free (o);
}
END_TEST

START_TEST (test_split_forms)
{
  float x[14];
  for (int i = 0; i < 14; i++)
    x[i] = i;
  /* Opset 18 num_outputs: the last part is smaller. */
  Op *o = op_new ("Split", 18);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (2, 7), x);
  op_outputs (o, 3);
  op_attr_int (o, "axis", 1);
  op_attr_int (o, "num_outputs", 3);
  op_run (o);
  expect_f32 (o->result[0], 2, DIMS (2, 3), (const float[]) { 0, 1, 2, 7, 8, 9 });
  expect_f32 (o->result[1], 2, DIMS (2, 3), (const float[]) { 3, 4, 5, 10, 11, 12 });
  expect_f32 (o->result[2], 2, DIMS (2, 1), (const float[]) { 6, 13 });
  op_free (o);

  /* Opset 11 attribute with an empty part and a negative axis (by hand). */
  o = op_new ("Split", 11);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (2, 7), x);
  op_outputs (o, 3);
  op_attr_int (o, "axis", -1);
  op_attr_ints (o, "split", 3, I64 (5, 0, 2));
  op_run (o);
  expect_f32 (o->result[0], 2, DIMS (2, 5), (const float[]) { 0, 1, 2, 3, 4, 7, 8, 9, 10, 11 });
  expect_f32 (o->result[1], 2, DIMS (2, 0), NULL);
  expect_f32 (o->result[2], 2, DIMS (2, 2), (const float[]) { 5, 6, 12, 13 });
  op_free (o);
}
END_TEST

/* A 2-byte dtype through a rank-5 transpose with unit axes (which the box
 * simplification drops).  Oracle: a naive index loop. */
START_TEST (test_transpose_rank5_uint16)
{
  const int64_t d[5] = { 2, 1, 3, 1, 4 }, perm[5] = { 4, 0, 3, 2, 1 };
  guint16 x[24], want[24];
  for (int i = 0; i < 24; i++)
    x[i] = (guint16) (1000 + i * 7);
  int64_t od[5], ist[5] = { 12, 12, 4, 4, 1 };
  for (int i = 0; i < 5; i++)
    od[i] = d[perm[i]];
  int k = 0;
  int64_t idx[5];
  for (idx[0] = 0; idx[0] < od[0]; idx[0]++)
    for (idx[1] = 0; idx[1] < od[1]; idx[1]++)
      for (idx[2] = 0; idx[2] < od[2]; idx[2]++)
        for (idx[3] = 0; idx[3] < od[3]; idx[3]++)
          for (idx[4] = 0; idx[4] < od[4]; idx[4]++) {
            int64_t off = 0;
            for (int a = 0; a < 5; a++)
              off += idx[a] * ist[perm[a]];
            want[k++] = x[off];
          }
  Op *o = op_new ("Transpose", 13);
  op_input (o, SN_DTYPE_UINT16, 5, d, x);
  op_attr_ints (o, "perm", 5, perm);
  op_run (o);
  expect_bytes (o->result[0], SN_DTYPE_UINT16, 5, od, want);
  op_free (o);
}
END_TEST

/* Channel concat of NCHW float32 (whole planes after simplification) and
 * of int64 shape vectors.  Oracle: a naive loop / by hand. */
START_TEST (test_concat_channels_and_shapes)
{
  float a[2 * 1 * 2 * 3], b[2 * 2 * 2 * 3], want[2 * 3 * 2 * 3];
  for (int i = 0; i < 12; i++)
    a[i] = i;
  for (int i = 0; i < 24; i++)
    b[i] = 100 + i;
  int k = 0;
  for (int n = 0; n < 2; n++)
    for (int c = 0; c < 3; c++)
      for (int s = 0; s < 6; s++)
        want[k++] = c < 1 ? a[n * 6 + s] : b[(n * 2 + c - 1) * 6 + s];
  Op *o = op_new ("Concat", 13);
  op_input (o, SN_DTYPE_FLOAT32, 4, DIMS (2, 1, 2, 3), a);
  op_input (o, SN_DTYPE_FLOAT32, 4, DIMS (2, 2, 2, 3), b);
  op_attr_int (o, "axis", -3);
  op_run (o);
  expect_f32 (o->result[0], 4, DIMS (2, 3, 2, 3), want);
  op_free (o);

  o = op_new ("Concat", 13);
  op_ints (o, 2, I64 (1, -1));
  op_ints (o, 0, NULL);
  op_ints (o, 1, I64 (G_MAXINT64));
  op_attr_int (o, "axis", 0);
  op_run (o);
  expect_i64 (o->result[0], 1, DIMS (3), I64 (1, -1, G_MAXINT64));
  op_free (o);
}
END_TEST

START_TEST (test_reshape_zero_and_infer)
{
  /* 0 copies the input dim; -1 takes the rest (by hand). */
  Op *o = op_new ("Reshape", 14);
  op_input (o, SN_DTYPE_INT64, 3, DIMS (3, 4, 5), x60);
  op_ints (o, 3, I64 (0, -1, 2));
  op_run (o);
  expect_i64 (o->result[0], 3, DIMS (3, 10, 2), x60);
  op_free (o);

  /* allowzero = 1: a 0 is a real empty dim. */
  o = op_new ("Reshape", 14);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (0, 4), NULL);
  op_ints (o, 3, I64 (2, 0, 7));
  op_attr_int (o, "allowzero", 1);
  op_run (o);
  expect_f32 (o->result[0], 3, DIMS (2, 0, 7), NULL);
  op_free (o);
}
END_TEST

/* ---- Cast and comparisons ------------------------------------------------------ */

START_TEST (test_cast_double_to_half_rounds_once)
{
  const double d[] = { 1 + 0x1p-11 + 0x1p-40, 1 + 0x1p-11, 1 + 3 * 0x1p-11, 65520.0, 65519.99,
    0x1p-25, 0x1p-25 + 0x1p-60, -0x1p-24 * 1.5, 1e-10 };
  const guint16 want[] = { 15361, 15360, 15362, 31744, 31743, 0, 1, 32770, 0 };
  Op *o = op_new ("Cast", 13);
  op_input (o, SN_DTYPE_DOUBLE, 1, DIMS (9), d);
  op_attr_int (o, "to", SN_DTYPE_FLOAT16);
  op_run (o);
  expect_bytes (o->result[0], SN_DTYPE_FLOAT16, 1, DIMS (9), want);
  op_free (o);
}
END_TEST

static Op *
cast_of (SnDType from, int n, const void *values, SnDType to)
{
  Op *o = op_new ("Cast", 13);
  op_input (o, from, 1, DIMS (n), values);
  op_attr_int (o, "to", to);
  op_run (o);
  return o;
}

START_TEST (test_cast_integers_exact)
{
  const int64_t big[] = { (G_GINT64_CONSTANT (1) << 62) + (G_GINT64_CONSTANT (1) << 38) + 1,
    -((G_GINT64_CONSTANT (1) << 62) + (G_GINT64_CONSTANT (1) << 38) + 1),
    (G_GINT64_CONSTANT (1) << 53) + 1, -7 };
  /* Straight from int64: through double the first two would round twice. */
  Op *o = cast_of (SN_DTYPE_INT64, 4, big, SN_DTYPE_FLOAT32);
  expect_bytes (o->result[0], SN_DTYPE_FLOAT32, 1, DIMS (4),
      ((const float[]) { 0x1p62f + 0x1p39f, -(0x1p62f + 0x1p39f), 0x1p53f, -7 }));
  op_free (o);
  o = cast_of (SN_DTYPE_INT64, 4, big, SN_DTYPE_DOUBLE);
  expect_bytes (o->result[0], SN_DTYPE_DOUBLE, 1, DIMS (4),
      ((const double[]) { 0x1p62 + 0x1p38, -(0x1p62 + 0x1p38), 0x1p53, -7 }));
  op_free (o);

  /* Integer narrowing keeps the low bits. */
  o = cast_of (SN_DTYPE_INT64, 4, I64 ((G_GINT64_CONSTANT (1) << 32) + 5, -1, G_GINT64_CONSTANT (1) << 31, 300),
      SN_DTYPE_INT32);
  expect_bytes (o->result[0], SN_DTYPE_INT32, 1, DIMS (4), ((const int32_t[]) { 5, -1, G_MININT32, 300 }));
  op_free (o);
  o = cast_of (SN_DTYPE_INT64, 4, I64 (300, -1, 255, 256), SN_DTYPE_UINT8);
  expect_bytes (o->result[0], SN_DTYPE_UINT8, 1, DIMS (4), ((const guint8[]) { 44, 255, 255, 0 }));
  op_free (o);

  /* Float to int truncates; float to bool is "not zero"; bool to float. */
  o = cast_of (SN_DTYPE_FLOAT32, 4, ((const float[]) { -2.7f, 2.7f, -0.5f, 1e3f }), SN_DTYPE_INT32);
  expect_bytes (o->result[0], SN_DTYPE_INT32, 1, DIMS (4), ((const int32_t[]) { -2, 2, 0, 1000 }));
  op_free (o);
  o = cast_of (SN_DTYPE_FLOAT32, 4, ((const float[]) { 0.0f, -0.0f, 0.1f, -3 }), SN_DTYPE_BOOL);
  expect_bytes (o->result[0], SN_DTYPE_BOOL, 1, DIMS (4), ((const guint8[]) { 0, 0, 1, 1 }));
  op_free (o);
  o = cast_of (SN_DTYPE_BOOL, 3, ((const guint8[]) { 1, 0, 1 }), SN_DTYPE_FLOAT32);
  expect_f32 (o->result[0], 1, DIMS (3), (const float[]) { 1, 0, 1 });
  op_free (o);
}
END_TEST

START_TEST (test_compare_int64_beyond_double)
{
  const int64_t p53 = G_GINT64_CONSTANT (1) << 53;
  Op *o = op_new ("Equal", 13);
  op_input (o, SN_DTYPE_INT64, 1, DIMS (3), I64 (p53, p53 + 1, -5));
  op_input (o, SN_DTYPE_INT64, 1, DIMS (3), I64 (p53 + 1, p53 + 1, -5));
  op_run (o);
  expect_bytes (o->result[0], SN_DTYPE_BOOL, 1, DIMS (3), ((const guint8[]) { 0, 1, 1 }));
  op_free (o);

  o = op_new ("Less", 13);
  op_input (o, SN_DTYPE_INT64, 1, DIMS (3), I64 (p53, p53 + 1, G_MAXINT64));
  op_input (o, SN_DTYPE_INT64, 1, DIMS (3), I64 (p53 + 1, p53 + 1, G_MAXINT64 - 1));
  op_run (o);
  expect_bytes (o->result[0], SN_DTYPE_BOOL, 1, DIMS (3), ((const guint8[]) { 1, 0, 0 }));
  op_free (o);

  /* Where broadcasts all three inputs. */
  o = op_new ("Where", 16);
  op_input (o, SN_DTYPE_BOOL, 2, DIMS (2, 1), ((const guint8[]) { 1, 0 }));
  op_input (o, SN_DTYPE_INT64, 1, DIMS (3), I64 (1, 2, 3));
  op_input (o, SN_DTYPE_INT64, 2, DIMS (2, 1), I64 (10, 20));
  op_run (o);
  expect_i64 (o->result[0], 2, DIMS (2, 3), I64 (1, 2, 3, 20, 20, 20));
  op_free (o);
}
END_TEST

/* ---- Gathers and Range ------------------------------------------------------------- */

START_TEST (test_gathers_negative_indices)
{
  float x24[24];
  for (int i = 0; i < 24; i++)
    x24[i] = i;
  Op *o = op_new ("Gather", 13);
  op_input (o, SN_DTYPE_FLOAT32, 3, DIMS (2, 3, 4), x24);
  op_input (o, SN_DTYPE_INT32, 2, DIMS (2, 1), ((const int32_t[]) { -1, 0 }));
  op_attr_int (o, "axis", -2);
  op_run (o);
  expect_f32 (o->result[0], 4, DIMS (2, 2, 1, 4), (const float[]) { 8, 9, 10, 11, 0, 1, 2, 3,
          20, 21, 22, 23, 12, 13, 14, 15 });
  op_free (o);

  o = op_new ("GatherElements", 13);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (3, 4), x24);
  op_input (o, SN_DTYPE_INT32, 2, DIMS (3, 2), ((const int32_t[]) { -1, 0, 2, -4, 1, 1 }));
  op_attr_int (o, "axis", 1);
  op_run (o);
  expect_f32 (o->result[0], 2, DIMS (3, 2), (const float[]) { 3, 0, 6, 4, 9, 9 });
  op_free (o);

  o = op_new ("GatherND", 13);
  op_input (o, SN_DTYPE_FLOAT32, 3, DIMS (2, 3, 4), x24);
  op_input (o, SN_DTYPE_INT64, 3, DIMS (2, 2, 2), I64 (2, -1, 0, 0, -3, 3, 1, 2));
  op_attr_int (o, "batch_dims", 1);
  op_run (o);
  expect_f32 (o->result[0], 1 + 1, DIMS (2, 2), (const float[]) { 11, 0, 15, 18 });
  op_free (o);
}
END_TEST

/* Runtime indices cannot be refused (run() has no error path); they must
 * at least never read outside the data.  ASan checks the "never". */
START_TEST (test_gather_runtime_index_stays_in_bounds)
{
  Op *o = op_new ("Gather", 13);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (3), ((const float[]) { 1, 2, 3 }));
  op_input (o, SN_DTYPE_INT64, 1, DIMS (2), I64 (G_MAXINT64, G_MININT64));
  op_run (o);
  for (int i = 0; i < 2; i++) {
    float v = ((const float *) o->result[0]->data)[i];
    ck_assert (v == 1 || v == 2 || v == 3);
  }
  op_free (o);
}
END_TEST

START_TEST (test_range_integers)
{
  Op *o = op_new ("Range", 11);
  for (int i = 0; i < 3; i++)
    op_input_full (o, SN_DTYPE_INT64, 0, NULL, &(int64_t[]) { 10, -3, -4 }[i], TRUE);
  op_run (o);
  expect_i64 (o->result[0], 1, DIMS (4), I64 (10, 6, 2, -2));
  op_free (o);

  o = op_new ("Range", 11);
  for (int i = 0; i < 3; i++)
    op_input_full (o, SN_DTYPE_INT32, 0, NULL, &(int32_t[]) { -5, 6, 3 }[i], TRUE);
  op_run (o);
  expect_bytes (o->result[0], SN_DTYPE_INT32, 1, DIMS (4), ((const int32_t[]) { -5, -2, 1, 4 }));
  op_free (o);
}
END_TEST

/* ---- Refusals -------------------------------------------------------------------- */

START_TEST (test_inconsistent_shapes_refused)
{
  float ten[10] = { 0 };
  Op *o = op_new ("Reshape", 14);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (10), ten);
  op_ints (o, 2, I64 (3, 4));
  expect_refused (o, SN_ERROR_SHAPE, "cannot reshape 10 (10 elements) to 3x4 (12 elements)");

  o = op_new ("Reshape", 14);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (10), ten);
  op_ints (o, 2, I64 (3, -1));
  expect_refused (o, SN_ERROR_SHAPE, "not a multiple of 3");

  o = op_new ("Reshape", 14);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (10), ten);
  op_ints (o, 3, I64 (-1, 2, -1));
  expect_refused (o, SN_ERROR_INVALID_MODEL, "shape[0] and shape[2] are both -1");

  o = op_new ("Reshape", 14);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (10), ten);
  op_ints (o, 2, I64 (0, -1));
  op_attr_int (o, "allowzero", 1);
  expect_refused (o, SN_ERROR_INVALID_MODEL, "both 0 and -1");

  o = op_new ("Concat", 13);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (2, 3), NULL);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (2, 4), NULL);
  op_attr_int (o, "axis", 0);
  expect_refused (o, SN_ERROR_SHAPE, "input 1 'in1' (2x4) does not match input 0 'in0' (2x3) outside axis 0");

  o = op_new ("Concat", 13);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (2, 3), NULL);
  op_attr_int (o, "axis", 2);
  expect_refused (o, SN_ERROR_INVALID_MODEL, "axis 2 is out of range for rank 2");

  o = op_new ("Concat", 13);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (2, 3), NULL);
  expect_refused (o, SN_ERROR_INVALID_MODEL, "'axis' is missing");

  o = op_new ("Split", 13);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (7), NULL);
  op_outputs (o, 3);
  expect_refused (o, SN_ERROR_SHAPE, "dim 7 does not split evenly into 3 outputs");

  o = op_new ("Split", 13);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (7), NULL);
  op_ints (o, 2, I64 (3, 3));
  op_outputs (o, 2);
  expect_refused (o, SN_ERROR_SHAPE, "do not add up to dim 7");

  o = op_new ("Squeeze", 13);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (1, 3), NULL);
  op_ints (o, 1, I64 (-1));
  expect_refused (o, SN_ERROR_SHAPE, "axis -1 has dim 3, not 1");

  o = op_new ("Unsqueeze", 13);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (1, 3), NULL);
  op_ints (o, 1, I64 (3));
  expect_refused (o, SN_ERROR_INVALID_MODEL, "axis 3 is out of range for result rank 3");

  o = op_new ("Transpose", 13);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (1, 3), NULL);
  op_attr_ints (o, "perm", 2, I64 (1, 1));
  expect_refused (o, SN_ERROR_INVALID_MODEL, "perm[1] = 1");

  o = op_new ("Flatten", 13);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (1, 3), NULL);
  op_attr_int (o, "axis", -3);
  expect_refused (o, SN_ERROR_INVALID_MODEL, "axis -3 is out of range for rank 2");

  o = slice13 (1, I64 (0), I64 (2), I64 (0), I64 (0));
  expect_refused (o, SN_ERROR_INVALID_MODEL, "step for axis 0 is 0");

  o = op_new ("Slice", 13);
  op_input (o, SN_DTYPE_INT64, 3, DIMS (3, 4, 5), x60);
  op_input (o, SN_DTYPE_INT64, 1, DIMS (1), I64 (0));     /* runtime starts */
  op_ints (o, 1, I64 (1));
  expect_refused (o, SN_ERROR_UNSUPPORTED, "input 1 must be a constant");

  o = pad13 ("reflect", I64 (0, 4, 0, 0));
  expect_refused (o, SN_ERROR_SHAPE, "reflect padding of 4 and 0 is not possible on axis 1, which has 4");

  o = op_new ("Gather", 13);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (3), NULL);
  op_ints (o, 2, I64 (0, -4));
  expect_refused (o, SN_ERROR_INVALID_MODEL, "index -4 (element 1 of 'in1') is out of range for a dim of 3");

  o = op_new ("DepthToSpace", 13);
  op_input (o, SN_DTYPE_FLOAT32, 4, DIMS (1, 8, 2, 2), NULL);
  op_attr_int (o, "blocksize", 2);
  op_attr_string (o, "mode", "XYZ");
  expect_refused (o, SN_ERROR_INVALID_MODEL, "mode 'XYZ'");

  o = op_new ("DepthToSpace", 13);
  op_input (o, SN_DTYPE_FLOAT32, 4, DIMS (1, 8, 2, 2), NULL);
  op_attr_int (o, "blocksize", 3);
  expect_refused (o, SN_ERROR_SHAPE, "input 1x8x2x2 does not fit blocksize 3");

  o = op_new ("Where", 16);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (2), NULL);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (2), NULL);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (2), NULL);
  expect_refused (o, SN_ERROR_INVALID_MODEL, "condition 'in0' is float32");
}
END_TEST

/* Model numbers that would overflow int64 or give negative dims. */
START_TEST (test_overflowing_shapes_refused)
{
  Op *o = op_new ("Tile", 13);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (4), NULL);
  op_ints (o, 1, I64 (G_GINT64_CONSTANT (1) << 62));
  expect_refused (o, SN_ERROR_INVALID_MODEL, "repeats[0] = 4611686018427387904 is invalid for dim 4");

  o = op_new ("Tile", 13);
  op_input (o, SN_DTYPE_FLOAT32, 3, DIMS (1, 1, 1), NULL);
  op_ints (o, 3, I64 (G_GINT64_CONSTANT (1) << 31, G_GINT64_CONSTANT (1) << 31, 4));
  expect_refused (o, SN_ERROR_SHAPE, "output 0 would have shape 2147483648x2147483648x4");

  o = op_new ("ConstantOfShape", 9);
  op_ints (o, 2, I64 (G_GINT64_CONSTANT (1) << 32, G_GINT64_CONSTANT (1) << 32));
  expect_refused (o, SN_ERROR_SHAPE, "output 0 would have shape");

  o = op_new ("ConstantOfShape", 9);
  op_ints (o, 2, I64 (-2, 3));
  expect_refused (o, SN_ERROR_SHAPE, "-2x3");

  o = op_new ("Expand", 13);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (1), NULL);
  op_ints (o, 2, I64 (2, -3));
  expect_refused (o, SN_ERROR_INVALID_MODEL, "shape[1] = -3 is negative");

  o = op_new ("Reshape", 14);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (4), NULL);
  op_ints (o, 3, I64 (G_GINT64_CONSTANT (1) << 40, G_GINT64_CONSTANT (1) << 40, -1));
  expect_refused (o, SN_ERROR_SHAPE, "overflow");

  o = pad13 ("constant", I64 (0, G_MAXINT64, 0, 1));
  expect_refused (o, SN_ERROR_SHAPE, "do not fit axis 1");

  o = pad13 ("constant", I64 (0, -3, 0, -2));
  expect_refused (o, SN_ERROR_SHAPE, "pads -3 and -2 do not fit axis 1 of dim 4");

  o = op_new ("Range", 11);
  for (int i = 0; i < 3; i++)
    op_input_full (o, SN_DTYPE_FLOAT32, 0, NULL, &(float[]) { 0, 1e30f, 1 }[i], TRUE);
  expect_refused (o, SN_ERROR_INVALID_MODEL, "has no valid length");

  o = op_new ("Range", 11);
  for (int i = 0; i < 3; i++)
    op_input_full (o, SN_DTYPE_INT64, 0, NULL, &(int64_t[]) { G_MININT64, G_MAXINT64, 1 }[i], TRUE);
  expect_refused (o, SN_ERROR_INVALID_MODEL, "has no valid length");
}
END_TEST

/* Attributes that became inputs must not be silently ignored. */
START_TEST (test_stale_attributes_refused)
{
  Op *o = op_new ("Squeeze", 13);
  op_input (o, SN_DTYPE_FLOAT32, 2, DIMS (1, 3), NULL);
  op_attr_ints (o, "axes", 1, I64 (0));
  expect_refused (o, SN_ERROR_INVALID_MODEL, "attribute 'axes' is not allowed in opset 13");

  o = op_new ("Split", 13);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (6), NULL);
  op_outputs (o, 2);
  op_attr_ints (o, "split", 2, I64 (2, 4));
  expect_refused (o, SN_ERROR_INVALID_MODEL, "attribute 'split' is not allowed in opset 13");

  o = pad13 ("constant", I64 (0, 0, 0, 0));
  op_attr_ints (o, "pads", 4, I64 (1, 1, 1, 1));
  expect_refused (o, SN_ERROR_INVALID_MODEL, "attribute 'pads' is not allowed in opset 13");

  o = op_new ("Split", 13);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (6), NULL);
  op_outputs (o, 2);
  op_attr_int (o, "num_outputs", 2);
  expect_refused (o, SN_ERROR_INVALID_MODEL, "'num_outputs' needs opset 18");

  o = op_new ("Cast", 13);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (2), NULL);
  op_attr_int (o, "to", SN_DTYPE_STRING);
  expect_refused (o, SN_ERROR_UNSUPPORTED, "cast from float32 to string");

  o = op_new ("Cast", 13);
  op_input (o, SN_DTYPE_FLOAT32, 1, DIMS (2), NULL);
  op_attr_int (o, "to", 16);
  expect_refused (o, SN_ERROR_UNSUPPORTED, "(type 16)");
}
END_TEST

static Suite *
ops_shape_suite (void)
{
  Suite *s = suite_create ("ops-shape");
  TCase *tc = tcase_create ("kernels");
  tcase_add_unchecked_fixture (tc, fill_inputs, NULL);
  tcase_add_test (tc, test_slice_sentinels_and_steps);
  tcase_add_test (tc, test_slice_opset1_attributes);
  tcase_add_test (tc, test_pad_negative_pads_with_modes);
  tcase_add_test (tc, test_pad_int64_reflect_and_opset18_axes);
  tcase_add_test (tc, test_pad_opset2_attributes);
  tcase_add_test (tc, test_tile_rank5);
  tcase_add_test (tc, test_split_forms);
  tcase_add_test (tc, test_transpose_rank5_uint16);
  tcase_add_test (tc, test_concat_channels_and_shapes);
  tcase_add_test (tc, test_reshape_zero_and_infer);
  tcase_add_test (tc, test_cast_double_to_half_rounds_once);
  tcase_add_test (tc, test_cast_integers_exact);
  tcase_add_test (tc, test_compare_int64_beyond_double);
  tcase_add_test (tc, test_gathers_negative_indices);
  tcase_add_test (tc, test_gather_runtime_index_stays_in_bounds);
  tcase_add_test (tc, test_range_integers);
  tcase_add_test (tc, test_inconsistent_shapes_refused);
  tcase_add_test (tc, test_overflowing_shapes_refused);
  tcase_add_test (tc, test_stale_attributes_refused);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  /* A GError set twice or a critical from GLib is a bug, not a warning. */
  g_log_set_always_fatal (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
  SRunner *sr = srunner_create (ops_shape_suite ());
  srunner_run_all (sr, CK_ENV);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
