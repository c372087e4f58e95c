/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — internal graph IR and the contract every op implements.
 *
 * The loader turns an ONNX GraphProto into SnValues (tensors by name) and
 * SnNodes in topological order.  Each node is bound to an SnOpDef; its
 * prepare() validates attributes and dtypes and fixes the output shapes, so
 * the whole graph's shapes are static once loading succeeds.  run() cannot
 * fail: everything that could go wrong was refused by prepare(). */
#pragma once

#include <splitnn/sn-error.h>
#include <splitnn/sn-tensor.h>
#include <splitnn/sn-model.h>

G_BEGIN_DECLS

typedef struct SnNode SnNode;
typedef struct SnValue SnValue;
typedef struct SnExec SnExec;

struct SnValue {
  char *name;
  SnDType dtype;
  SnShape shape;
  gboolean shape_known;
  SnTensor *constant;     /* initializer, Constant or folded value; NULL otherwise */
  SnNode *producer;       /* NULL for graph inputs and initializers */
  int index;              /* position in SnGraph.values */
};

typedef enum {
  SN_ATTR_UNDEFINED = 0,
  SN_ATTR_FLOAT = 1, SN_ATTR_INT = 2, SN_ATTR_STRING = 3, SN_ATTR_TENSOR = 4,
  SN_ATTR_GRAPH = 5, SN_ATTR_FLOATS = 6, SN_ATTR_INTS = 7, SN_ATTR_STRINGS = 8,
} SnAttrType;             /* values equal ONNX AttributeProto.AttributeType */

typedef struct {
  char *name;
  SnAttrType type;
  double f;
  int64_t i;
  char *s;
  int n;                  /* length of floats / ints */
  float *floats;
  int64_t *ints;
  SnTensor *t;
} SnAttr;

typedef struct SnOpDef SnOpDef;

struct SnNode {
  char *name;             /* never NULL: "<op_type>_<index>" when the file has none */
  char *op_type;
  char *domain;
  int opset;              /* opset version in force for this node's domain */
  int index;              /* position in topological order */
  int n_inputs;
  SnValue **inputs;       /* NULL entries for omitted optional inputs */
  int n_outputs;
  SnValue **outputs;      /* NULL entries for omitted optional outputs */
  int n_attrs;
  SnAttr *attrs;
  const SnOpDef *op;
  void *params;           /* whatever prepare() precomputed; freed by op->free_params */
  double flops;           /* set by prepare(); 0 for data movement */
};

/* The shared context a kernel runs in (thread pool, scratch). */
struct SnExec {
  int n_threads;
  void *pool;             /* pthreadpool_t when built with XNNPACK, else NULL */
};

struct SnOpDef {
  const char *op_type;    /* ONNX op_type in the default domain */
  int since_opset;        /* lowest opset this implementation follows */
  /* Validate the node, set every output's dtype and shape (shape_known),
   * fill node->params and node->flops.  Input shapes are known; inputs that
   * carry shapes or sizes (Reshape's shape, Resize's scales, ...) must be
   * constants, and prepare() reads them from value->constant. */
  gboolean (*prepare) (SnNode *node, GError **error);
  /* Compute outputs from inputs.  out[i]->data is allocated with the shape
   * prepare() set.  NULL for omitted optional inputs/outputs. */
  void (*run) (const SnNode *node, const SnTensor *const *in,
      SnTensor *const *out, SnExec *exec);
  void (*free_params) (void *params);
};

/* Registry: NULL when op_type is unknown. */
const SnOpDef *sn_op_lookup (const char *op_type);

/* Attribute access; "def" is returned when the attribute is absent. */
const SnAttr *sn_node_attr (const SnNode *node, const char *name);
int64_t sn_node_attr_int (const SnNode *node, const char *name, int64_t def);
float sn_node_attr_float (const SnNode *node, const char *name, float def);
const char *sn_node_attr_string (const SnNode *node, const char *name, const char *def);
/* Returns the count (0 when absent) and points *ints at the array. */
int sn_node_attr_ints (const SnNode *node, const char *name, const int64_t **ints);
int sn_node_attr_floats (const SnNode *node, const char *name, const float **floats);

/* Sets a GError whose message starts with "node 'NAME' (OP, opset N): ". */
void sn_node_set_error (GError **error, const SnNode *node, SnError code,
    const char *fmt, ...) G_GNUC_PRINTF (4, 5);

/* Helpers prepare() implementations share. */
gboolean sn_node_check_arity (SnNode *node, int min_in, int max_in,
    int min_out, int max_out, GError **error);
/* Requires input i (present) to have dtype float32. */
gboolean sn_node_require_float (SnNode *node, int i, GError **error);
/* Sets output i's dtype and shape. */
void sn_node_set_output (SnNode *node, int i, SnDType dtype, const SnShape *shape);
/* NumPy-style multidirectional broadcast; FALSE if incompatible. */
gboolean sn_shape_broadcast (const SnShape *a, const SnShape *b, SnShape *out);
/* Reads a constant int64/int32 1-D input as int64 values (count returned,
 * -1 with error when the input is not a constant). */
int sn_node_const_ints (SnNode *node, int i, int64_t *vals, int max_vals, GError **error);
/* Normalises a possibly negative axis against rank; FALSE if out of range. */
gboolean sn_axis_normalize (int64_t *axis, int rank);

G_END_DECLS
