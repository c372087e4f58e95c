/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — reference kernels for element-wise ops: broadcasting binary
 * arithmetic, activations, Softmax, Identity and the variadic reductions.
 *
 * Broadcasting is resolved in prepare(): each operand gets a stride per
 * output axis (0 where it is broadcast), and run() walks the output once
 * with an odometer over all axes but the innermost. */
#include "sn-ops.h"

#include <math.h>
#include <string.h>

/* ---- Broadcasting ---------------------------------------------------------- */

#define MAX_OPERANDS 8

typedef struct {
  int rank;                     /* of the output */
  int64_t dims[SN_MAX_DIMS];
  int n_operands;
  int64_t strides[MAX_OPERANDS][SN_MAX_DIMS];
} Broadcast;

static void
broadcast_init (Broadcast *b, const SnShape *out, const SnValue *const *in, int n)
{
  memset (b, 0, sizeof *b);
  b->rank = out->rank;
  b->n_operands = n;
  memcpy (b->dims, out->dims, sizeof b->dims);
  for (int k = 0; k < n; k++) {
    const SnShape *s = &in[k]->shape;
    int64_t stride = 1;
    for (int i = out->rank - 1; i >= 0; i--) {
      int j = i - (out->rank - s->rank);
      int64_t d = j >= 0 ? s->dims[j] : 1;
      b->strides[k][i] = d == 1 ? 0 : stride;
      stride *= d;
    }
  }
}

/* Calls fn for every run of the innermost axis with the operands' offsets. */
typedef void (*RowFn) (void *ctx, int64_t out_off, const int64_t *in_off,
    const int64_t *in_step, int64_t n);

static void
broadcast_walk (const Broadcast *b, RowFn fn, void *ctx)
{
  int64_t total = 1;
  for (int i = 0; i < b->rank; i++)
    total *= b->dims[i];
  if (total == 0)
    return;
  int inner = b->rank - 1;
  int64_t n = b->rank ? b->dims[inner] : 1;
  int64_t step[MAX_OPERANDS], off[MAX_OPERANDS] = { 0 };
  int64_t idx[SN_MAX_DIMS] = { 0 };
  for (int k = 0; k < b->n_operands; k++)
    step[k] = b->rank ? b->strides[k][inner] : 0;
  for (int64_t out = 0; out < total; out += n) {
    fn (ctx, out, off, step, n);
    /* Advance the odometer over the outer axes. */
    for (int i = inner - 1; i >= 0; i--) {
      idx[i]++;
      for (int k = 0; k < b->n_operands; k++)
        off[k] += b->strides[k][i];
      if (idx[i] < b->dims[i])
        break;
      for (int k = 0; k < b->n_operands; k++)
        off[k] -= b->strides[k][i] * b->dims[i];
      idx[i] = 0;
    }
  }
}

/* ---- Binary arithmetic ------------------------------------------------------ */

typedef enum { OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_POW, OP_PRELU, OP_MAX, OP_MIN } BinOp;

typedef struct {
  BinOp op;
  Broadcast bc;
} BinaryParams;

static gboolean
binary_dtype_ok (SnDType d, BinOp op)
{
  if (d == SN_DTYPE_FLOAT32)
    return TRUE;
  return (d == SN_DTYPE_INT32 || d == SN_DTYPE_INT64) && op != OP_PRELU;
}

static gboolean
prepare_binary_op (SnNode *node, BinOp op, GError **error)
{
  if (!sn_node_check_arity (node, 2, 2, 1, 1, error))
    return FALSE;
  SnValue *a = node->inputs[0], *b = node->inputs[1];
  if (!binary_dtype_ok (a->dtype, op)) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "dtype %s is not supported",
        sn_dtype_name (a->dtype));
    return FALSE;
  }
  /* Pow allows a different exponent type; we support float exponents only
   * with a float base and matching types otherwise. */
  if (b->dtype != a->dtype) {
    sn_node_set_error (error, node, op == OP_POW ? SN_ERROR_UNSUPPORTED : SN_ERROR_INVALID_MODEL,
        "inputs have different dtypes (%s and %s)", sn_dtype_name (a->dtype),
        sn_dtype_name (b->dtype));
    return FALSE;
  }
  /* Before opset 7 broadcasting was opt-in with axis semantics we do not
   * implement; equal shapes work in every opset. */
  if (node->opset < 7 && sn_node_attr (node, "broadcast") && !sn_shape_equal (&a->shape, &b->shape)) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
        "legacy (opset < 7) broadcasting is not supported");
    return FALSE;
  }
  SnShape out;
  SnValue channel_slope;
  if (op == OP_PRELU && node->opset < 7 && b->shape.rank == 1 && a->shape.rank >= 2
      && b->shape.dims[0] == a->shape.dims[1] && b->shape.dims[0] != 1) {
    /* Opset 6 PRelu: a 1-D slope is per channel (axis 1). */
    channel_slope = *b;
    channel_slope.shape.rank = a->shape.rank - 1;
    for (int i = 0; i < channel_slope.shape.rank; i++)
      channel_slope.shape.dims[i] = i == 0 ? b->shape.dims[0] : 1;
    b = &channel_slope;
  }
  if (op == OP_PRELU) {
    /* The slope broadcasts to X (unidirectional). */
    if (!sn_shape_broadcast (&a->shape, &b->shape, &out) || !sn_shape_equal (&out, &a->shape)) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "slope '%s' does not broadcast to X", b->name);
      return FALSE;
    }
  } else if (!sn_shape_broadcast (&a->shape, &b->shape, &out)) {
    char x[96], y[96];
    sn_node_set_error (error, node, SN_ERROR_SHAPE, "shapes %s and %s do not broadcast",
        sn_shape_format (&a->shape, x, sizeof x), sn_shape_format (&b->shape, y, sizeof y));
    return FALSE;
  }
  BinaryParams *p = g_new0 (BinaryParams, 1);
  p->op = op;
  broadcast_init (&p->bc, &out, (const SnValue *const[]) { a, b }, 2);
  node->params = p;
  sn_node_set_output (node, 0, a->dtype, &out);
  node->flops = (double) sn_shape_numel (&out);
  return TRUE;
}

typedef struct {
  BinOp op;
  const void *a, *b;
  void *y;
} BinaryCtx;

#define BINARY_LOOP(T, EXPR) \
  do { \
    const T *A = (const T *) c->a + ia[0], *B = (const T *) c->b + ia[1]; \
    T *Y = (T *) c->y + out; \
    int64_t sa = st[0], sb = st[1]; \
    for (int64_t i = 0; i < n; i++) { \
      T x = A[i * sa], z = B[i * sb]; \
      Y[i] = (EXPR); \
    } \
  } while (0)

static void
binary_row_f32 (void *ctx, int64_t out, const int64_t *ia, const int64_t *st, int64_t n)
{
  BinaryCtx *c = ctx;
  switch (c->op) {
    case OP_ADD: BINARY_LOOP (float, x + z); break;
    case OP_SUB: BINARY_LOOP (float, x - z); break;
    case OP_MUL: BINARY_LOOP (float, x * z); break;
    case OP_DIV: BINARY_LOOP (float, x / z); break;
    case OP_POW: BINARY_LOOP (float, powf (x, z)); break;
    case OP_PRELU: BINARY_LOOP (float, x < 0 ? x * z : x); break;
    case OP_MAX: BINARY_LOOP (float, isnan (x) || isnan (z) ? NAN : (x > z ? x : z)); break;
    case OP_MIN: BINARY_LOOP (float, isnan (x) || isnan (z) ? NAN : (x < z ? x : z)); break;
  }
}

/* Integer division truncates toward zero (C semantics, as ONNX Runtime);
 * division by zero yields 0 rather than trapping. */
static int64_t
ipow (int64_t base, int64_t e)
{
  int64_t r = 1;
  if (e < 0)
    return base == 1 ? 1 : (base == -1 ? (e % 2 ? -1 : 1) : 0);
  while (e--)
    r *= base;
  return r;
}

static void
binary_row_i64 (void *ctx, int64_t out, const int64_t *ia, const int64_t *st, int64_t n)
{
  BinaryCtx *c = ctx;
  switch (c->op) {
    case OP_ADD: BINARY_LOOP (int64_t, (int64_t) ((uint64_t) x + (uint64_t) z)); break;
    case OP_SUB: BINARY_LOOP (int64_t, (int64_t) ((uint64_t) x - (uint64_t) z)); break;
    case OP_MUL: BINARY_LOOP (int64_t, (int64_t) ((uint64_t) x * (uint64_t) z)); break;
    case OP_DIV: BINARY_LOOP (int64_t, z == 0 || (z == -1 && x == G_MININT64) ? 0 : x / z); break;
    case OP_POW: BINARY_LOOP (int64_t, ipow (x, z)); break;
    case OP_MAX: BINARY_LOOP (int64_t, x > z ? x : z); break;
    case OP_MIN: BINARY_LOOP (int64_t, x < z ? x : z); break;
    default: break;
  }
}

static void
binary_row_i32 (void *ctx, int64_t out, const int64_t *ia, const int64_t *st, int64_t n)
{
  BinaryCtx *c = ctx;
  switch (c->op) {
    case OP_ADD: BINARY_LOOP (int32_t, (int32_t) ((uint32_t) x + (uint32_t) z)); break;
    case OP_SUB: BINARY_LOOP (int32_t, (int32_t) ((uint32_t) x - (uint32_t) z)); break;
    case OP_MUL: BINARY_LOOP (int32_t, (int32_t) ((uint32_t) x * (uint32_t) z)); break;
    case OP_DIV: BINARY_LOOP (int32_t, z == 0 || (z == -1 && x == G_MININT32) ? 0 : x / z); break;
    case OP_POW: BINARY_LOOP (int32_t, (int32_t) ipow (x, z)); break;
    case OP_MAX: BINARY_LOOP (int32_t, x > z ? x : z); break;
    case OP_MIN: BINARY_LOOP (int32_t, x < z ? x : z); break;
    default: break;
  }
}

static RowFn
binary_row_fn (SnDType d)
{
  return d == SN_DTYPE_FLOAT32 ? binary_row_f32
      : d == SN_DTYPE_INT64 ? binary_row_i64 : binary_row_i32;
}

static void
run_binary (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const BinaryParams *p = node->params;
  BinaryCtx c = { p->op, in[0]->data, in[1]->data, out[0]->data };
  broadcast_walk (&p->bc, binary_row_fn (in[0]->dtype), &c);
}

#define BINARY_OP(NAME, OP) \
  static gboolean prepare_##NAME (SnNode *node, GError **error) \
  { return prepare_binary_op (node, OP, error); } \
  static const SnOpDef op_##NAME = { #NAME, 1, prepare_##NAME, run_binary, g_free };

BINARY_OP (Add, OP_ADD)
BINARY_OP (Sub, OP_SUB)
BINARY_OP (Mul, OP_MUL)
BINARY_OP (Div, OP_DIV)
BINARY_OP (Pow, OP_POW)
BINARY_OP (PRelu, OP_PRELU)

/* ---- Variadic Sum / Max / Min / Mean -------------------------------------- */

typedef struct {
  BinOp op;                     /* OP_ADD for Sum and Mean */
  gboolean mean;
  int n;
  Broadcast bc;                 /* operand 0 is the output itself */
} VariadicParams;

static gboolean
prepare_variadic (SnNode *node, BinOp op, gboolean mean, GError **error)
{
  if (!sn_node_check_arity (node, 1, MAX_OPERANDS - 1, 1, 1, error))
    return FALSE;
  SnShape out = node->inputs[0]->shape;
  for (int i = 0; i < node->n_inputs; i++) {
    if (!node->inputs[i] || !sn_node_require_float (node, i, error))
      return FALSE;
    if (!sn_shape_broadcast (&out, &node->inputs[i]->shape, &out)) {
      sn_node_set_error (error, node, SN_ERROR_SHAPE, "input '%s' does not broadcast",
          node->inputs[i]->name);
      return FALSE;
    }
  }
  VariadicParams *p = g_new0 (VariadicParams, 1);
  p->op = op;
  p->mean = mean;
  p->n = node->n_inputs;
  /* Operand 0 of the walk is the accumulator (the output, never broadcast). */
  SnValue acc = { .shape = out };
  const SnValue *ops[MAX_OPERANDS] = { &acc };
  for (int i = 0; i < node->n_inputs; i++)
    ops[i + 1] = node->inputs[i];
  broadcast_init (&p->bc, &out, ops, node->n_inputs + 1);
  node->params = p;
  sn_node_set_output (node, 0, SN_DTYPE_FLOAT32, &out);
  node->flops = (double) sn_shape_numel (&out) * node->n_inputs;
  return TRUE;
}

typedef struct {
  const VariadicParams *p;
  int k;                        /* operand being folded in */
  const float *x;
  float *y;
} VariadicCtx;

static void
variadic_row (void *ctx, int64_t out, const int64_t *ia, const int64_t *st, int64_t n)
{
  VariadicCtx *c = ctx;
  const float *X = c->x + ia[c->k];
  float *Y = c->y + out;
  int64_t s = st[c->k];
  for (int64_t i = 0; i < n; i++) {
    float x = X[i * s];
    if (c->k == 1)
      Y[i] = x;
    else if (c->p->op == OP_ADD)
      Y[i] += x;
    else if (c->p->op == OP_MAX)
      Y[i] = isnan (x) || isnan (Y[i]) ? NAN : MAX (Y[i], x);
    else
      Y[i] = isnan (x) || isnan (Y[i]) ? NAN : MIN (Y[i], x);
  }
}

static void
run_variadic (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const VariadicParams *p = node->params;
  VariadicCtx c = { p, 0, NULL, out[0]->data };
  for (int k = 1; k <= p->n; k++) {
    c.k = k;
    c.x = in[k - 1]->data;
    broadcast_walk (&p->bc, variadic_row, &c);
  }
  if (p->mean) {
    float *y = out[0]->data;
    for (int64_t i = 0; i < sn_tensor_numel (out[0]); i++)
      y[i] /= p->n;
  }
}

#define VARIADIC_OP(NAME, OP, MEAN) \
  static gboolean prepare_##NAME (SnNode *node, GError **error) \
  { return prepare_variadic (node, OP, MEAN, error); } \
  static const SnOpDef op_##NAME = { #NAME, 1, prepare_##NAME, run_variadic, g_free };

VARIADIC_OP (Sum, OP_ADD, FALSE)
VARIADIC_OP (Mean, OP_ADD, TRUE)
VARIADIC_OP (Max, OP_MAX, FALSE)
VARIADIC_OP (Min, OP_MIN, FALSE)

/* ---- Unary float ops ----------------------------------------------------------- */

typedef enum {
  U_RELU, U_SIGMOID, U_TANH, U_EXP, U_LOG, U_NEG, U_ABS, U_SQRT, U_RECIPROCAL,
  U_FLOOR, U_CEIL, U_ERF, U_HARDSWISH, U_LEAKYRELU, U_HARDSIGMOID, U_ELU, U_SELU,
  U_SOFTPLUS, U_SOFTSIGN, U_SIN, U_COS, U_ROUND, U_SIGN, U_CELU, U_THRESHOLDEDRELU,
} UnaryOp;

typedef struct {
  UnaryOp op;
  float alpha, beta, gamma;
} UnaryParams;

static gboolean
prepare_unary_op (SnNode *node, UnaryOp op, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error))
    return FALSE;
  SnValue *x = node->inputs[0];
  /* Neg and Abs are used on integer shape arithmetic too. */
  gboolean int_ok = (op == U_NEG || op == U_ABS || op == U_RELU || op == U_SIGN)
      && (x->dtype == SN_DTYPE_INT64 || x->dtype == SN_DTYPE_INT32);
  if (!int_ok && !sn_node_require_float (node, 0, error))
    return FALSE;
  UnaryParams *p = g_new0 (UnaryParams, 1);
  p->op = op;
  switch (op) {
    case U_LEAKYRELU: p->alpha = sn_node_attr_float (node, "alpha", 0.01f); break;
    case U_HARDSIGMOID:
      p->alpha = sn_node_attr_float (node, "alpha", 0.2f);
      p->beta = sn_node_attr_float (node, "beta", 0.5f);
      break;
    case U_ELU: p->alpha = sn_node_attr_float (node, "alpha", 1.0f); break;
    case U_CELU: p->alpha = sn_node_attr_float (node, "alpha", 1.0f); break;
    case U_THRESHOLDEDRELU: p->alpha = sn_node_attr_float (node, "alpha", 1.0f); break;
    case U_SELU:
      p->alpha = sn_node_attr_float (node, "alpha", 1.67326319217681884765625f);
      p->gamma = sn_node_attr_float (node, "gamma", 1.05070102214813232421875f);
      break;
    default: break;
  }
  node->params = p;
  sn_node_set_output (node, 0, x->dtype, &x->shape);
  node->flops = (double) sn_shape_numel (&x->shape);
  return TRUE;
}

static inline float
unary_f32 (const UnaryParams *p, float x)
{
  switch (p->op) {
    case U_RELU: return x > 0 ? x : (isnan (x) ? x : 0.0f);
    case U_SIGMOID: return x >= 0 ? 1.0f / (1.0f + expf (-x)) : expf (x) / (1.0f + expf (x));
    case U_TANH: return tanhf (x);
    case U_EXP: return expf (x);
    case U_LOG: return logf (x);
    case U_NEG: return -x;
    case U_ABS: return fabsf (x);
    case U_SQRT: return sqrtf (x);
    case U_RECIPROCAL: return 1.0f / x;
    case U_FLOOR: return floorf (x);
    case U_CEIL: return ceilf (x);
    case U_ERF: return erff (x);
    case U_ROUND: return nearbyintf (x);   /* ties to even in the default rounding mode */
    case U_SIGN: return x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f);
    case U_SIN: return sinf (x);
    case U_COS: return cosf (x);
    case U_SOFTPLUS: return x > 20 ? x : log1pf (expf (x));
    case U_SOFTSIGN: return x / (1.0f + fabsf (x));
    case U_HARDSWISH: return x * fmaxf (0.0f, fminf (1.0f, x / 6.0f + 0.5f));
    case U_LEAKYRELU: return x >= 0 ? x : p->alpha * x;
    case U_HARDSIGMOID: return fmaxf (0.0f, fminf (1.0f, p->alpha * x + p->beta));
    case U_ELU: return x >= 0 ? x : p->alpha * (expf (x) - 1.0f);
    case U_CELU: return fmaxf (0.0f, x) + fminf (0.0f, p->alpha * (expf (x / p->alpha) - 1.0f));
    case U_THRESHOLDEDRELU: return x > p->alpha ? x : 0.0f;
    case U_SELU: return p->gamma * (x > 0 ? x : p->alpha * expf (x) - p->alpha);
  }
  return x;
}

static void
run_unary (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const UnaryParams *p = node->params;
  int64_t n = sn_tensor_numel (in[0]);
  if (in[0]->dtype == SN_DTYPE_FLOAT32) {
    const float *x = in[0]->data;
    float *y = out[0]->data;
    for (int64_t i = 0; i < n; i++)
      y[i] = unary_f32 (p, x[i]);
    return;
  }
#define INT_UNARY(T) \
  do { \
    const T *x = in[0]->data; \
    T *y = out[0]->data; \
    for (int64_t i = 0; i < n; i++) { \
      T v = x[i]; \
      y[i] = p->op == U_NEG ? (T) (0 - v) : p->op == U_ABS ? (v < 0 ? (T) (0 - v) : v) \
          : p->op == U_RELU ? (v > 0 ? v : 0) : (T) ((v > 0) - (v < 0)); \
    } \
  } while (0)
  if (in[0]->dtype == SN_DTYPE_INT64)
    INT_UNARY (int64_t);
  else
    INT_UNARY (int32_t);
#undef INT_UNARY
}

#define UNARY_OP(NAME, OP) \
  static gboolean prepare_##NAME (SnNode *node, GError **error) \
  { return prepare_unary_op (node, OP, error); } \
  static const SnOpDef op_##NAME = { #NAME, 1, prepare_##NAME, run_unary, g_free };

UNARY_OP (Relu, U_RELU)
UNARY_OP (Sigmoid, U_SIGMOID)
UNARY_OP (Tanh, U_TANH)
UNARY_OP (Exp, U_EXP)
UNARY_OP (Log, U_LOG)
UNARY_OP (Neg, U_NEG)
UNARY_OP (Abs, U_ABS)
UNARY_OP (Sqrt, U_SQRT)
UNARY_OP (Reciprocal, U_RECIPROCAL)
UNARY_OP (Floor, U_FLOOR)
UNARY_OP (Ceil, U_CEIL)
UNARY_OP (Erf, U_ERF)
UNARY_OP (Round, U_ROUND)
UNARY_OP (Sign, U_SIGN)
UNARY_OP (Sin, U_SIN)
UNARY_OP (Cos, U_COS)
UNARY_OP (Softplus, U_SOFTPLUS)
UNARY_OP (Softsign, U_SOFTSIGN)
UNARY_OP (HardSwish, U_HARDSWISH)
UNARY_OP (LeakyRelu, U_LEAKYRELU)
UNARY_OP (HardSigmoid, U_HARDSIGMOID)
UNARY_OP (Elu, U_ELU)
UNARY_OP (Celu, U_CELU)
UNARY_OP (ThresholdedRelu, U_THRESHOLDEDRELU)
UNARY_OP (Selu, U_SELU)

/* ---- Clip ------------------------------------------------------------------
 * Opset < 11: min/max attributes.  Opset >= 11: optional scalar inputs,
 * which may be computed at run time, so they are read in run(). */

typedef struct {
  float lo, hi;                 /* from attributes, or defaults */
} ClipParams;

static gboolean
prepare_clip (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 3, 1, 1, error) || !sn_node_require_float (node, 0, error))
    return FALSE;
  ClipParams *p = g_new0 (ClipParams, 1);
  node->params = p;
  p->lo = -INFINITY;
  p->hi = INFINITY;
  if (node->opset < 11) {
    p->lo = sn_node_attr_float (node, "min", -INFINITY);
    p->hi = sn_node_attr_float (node, "max", INFINITY);
  } else {
    for (int i = 1; i < node->n_inputs; i++) {
      const SnValue *v = node->inputs[i];
      if (!v)
        continue;
      if (v->dtype != SN_DTYPE_FLOAT32 || sn_shape_numel (&v->shape) != 1) {
        sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED,
            "%s '%s' must be a float32 scalar", i == 1 ? "min" : "max", v->name);
        return FALSE;
      }
    }
  }
  sn_node_set_output (node, 0, SN_DTYPE_FLOAT32, &node->inputs[0]->shape);
  node->flops = (double) sn_shape_numel (&node->inputs[0]->shape);
  return TRUE;
}

static void
run_clip (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const ClipParams *p = node->params;
  float lo = p->lo, hi = p->hi;
  if (node->n_inputs > 1 && in[1])
    lo = *(const float *) in[1]->data;
  if (node->n_inputs > 2 && in[2])
    hi = *(const float *) in[2]->data;
  const float *x = in[0]->data;
  float *y = out[0]->data;
  int64_t n = sn_tensor_numel (in[0]);
  /* ONNX: when min > max every output is max. */
  for (int64_t i = 0; i < n; i++) {
    float v = x[i] < lo ? lo : x[i];
    y[i] = v > hi ? hi : v;
  }
}

static const SnOpDef op_Clip = { "Clip", 1, prepare_clip, run_clip, g_free };

/* ---- Identity ----------------------------------------------------------------- */

static gboolean
prepare_identity (SnNode *node, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error))
    return FALSE;
  if (sn_dtype_size (node->inputs[0]->dtype) == 0) {
    sn_node_set_error (error, node, SN_ERROR_UNSUPPORTED, "dtype %s is not supported",
        sn_dtype_name (node->inputs[0]->dtype));
    return FALSE;
  }
  sn_node_set_output (node, 0, node->inputs[0]->dtype, &node->inputs[0]->shape);
  return TRUE;
}

static void
run_identity (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  size_t n = sn_tensor_nbytes (in[0]);
  if (n)
    memmove (out[0]->data, in[0]->data, n);
}

static const SnOpDef op_Identity = { "Identity", 1, prepare_identity, run_identity, NULL };

/* ---- Softmax / LogSoftmax -------------------------------------------------------
 * Opset < 13 flattens to 2-D at `axis` (default 1) and normalises each row;
 * opset >= 13 normalises along `axis` (default -1) alone. */

typedef struct {
  gboolean log;
  int64_t outer, axis_len, inner;
} SoftmaxParams;

static gboolean
prepare_softmax_op (SnNode *node, gboolean log, GError **error)
{
  if (!sn_node_check_arity (node, 1, 1, 1, 1, error) || !sn_node_require_float (node, 0, error))
    return FALSE;
  const SnShape *s = &node->inputs[0]->shape;
  int64_t axis = sn_node_attr_int (node, "axis", node->opset < 13 ? 1 : -1);
  if (!sn_axis_normalize (&axis, MAX (s->rank, 1))) {
    sn_node_set_error (error, node, SN_ERROR_INVALID_MODEL, "axis %" G_GINT64_FORMAT
        " is out of range for rank %d", axis, s->rank);
    return FALSE;
  }
  SoftmaxParams *p = g_new0 (SoftmaxParams, 1);
  p->log = log;
  p->outer = p->axis_len = p->inner = 1;
  for (int i = 0; i < s->rank; i++) {
    if (i < axis)
      p->outer *= s->dims[i];
    else if (node->opset < 13 || i == axis)
      p->axis_len *= s->dims[i];
    else
      p->inner *= s->dims[i];
  }
  node->params = p;
  sn_node_set_output (node, 0, SN_DTYPE_FLOAT32, s);
  node->flops = 3.0 * sn_shape_numel (s);
  return TRUE;
}

static void
run_softmax (const SnNode *node, const SnTensor *const *in, SnTensor *const *out, SnExec *exec)
{
  const SoftmaxParams *p = node->params;
  const float *x = in[0]->data;
  float *y = out[0]->data;
  int64_t L = p->axis_len, I = p->inner;
  for (int64_t o = 0; o < p->outer; o++) {
    for (int64_t k = 0; k < I; k++) {
      const float *xs = x + o * L * I + k;
      float *ys = y + o * L * I + k;
      float m = -INFINITY;
      for (int64_t a = 0; a < L; a++)
        m = MAX (m, xs[a * I]);
      double sum = 0;
      for (int64_t a = 0; a < L; a++)
        sum += exp ((double) xs[a * I] - m);
      for (int64_t a = 0; a < L; a++)
        ys[a * I] = p->log ? (float) (xs[a * I] - m - log (sum))
            : (float) (exp ((double) xs[a * I] - m) / sum);
    }
  }
}

static gboolean prepare_softmax (SnNode *n, GError **e) { return prepare_softmax_op (n, FALSE, e); }
static gboolean prepare_logsoftmax (SnNode *n, GError **e) { return prepare_softmax_op (n, TRUE, e); }
static const SnOpDef op_Softmax = { "Softmax", 1, prepare_softmax, run_softmax, g_free };
static const SnOpDef op_LogSoftmax = { "LogSoftmax", 1, prepare_logsoftmax, run_softmax, g_free };

const SnOpDef *const sn_ops_elementwise[] = {
  &op_Add, &op_Sub, &op_Mul, &op_Div, &op_Pow, &op_PRelu,
  &op_Sum, &op_Mean, &op_Max, &op_Min,
  &op_Relu, &op_Sigmoid, &op_Tanh, &op_Exp, &op_Log, &op_Neg, &op_Abs, &op_Sqrt,
  &op_Reciprocal, &op_Floor, &op_Ceil, &op_Erf, &op_Round, &op_Sign, &op_Sin, &op_Cos,
  &op_Softplus, &op_Softsign, &op_HardSwish, &op_LeakyRelu, &op_HardSigmoid, &op_Elu,
  &op_Celu, &op_ThresholdedRelu, &op_Selu,
  &op_Clip, &op_Identity, &op_Softmax, &op_LogSoftmax,
  NULL,
};
