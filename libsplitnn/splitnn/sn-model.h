/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — ONNX models and the graph segments that run them.
 *
 * An SnModel is a loaded, validated, shape-inferred ONNX graph.  Nothing runs
 * a model as a whole: callers compile an SnSegment from a set of input
 * tensors to a set of output tensors, and the segment runs only the nodes
 * between them.  The whole model is the segment from the graph inputs to the
 * graph outputs; a split path is an edge segment plus a cloud segment. */
#pragma once

#include <splitnn/sn-api.h>

#include <glib.h>
#include <splitnn/sn-tensor.h>

G_BEGIN_DECLS

typedef struct SnModel SnModel;
typedef struct SnSegment SnSegment;

typedef struct {
  int64_t n_nodes;
  int64_t n_params;          /* elements in initializers (float16 counted as elements too) */
  int64_t param_bytes;       /* as stored in the file */
  double flops;              /* multiply-adds counted as 2, per inference */
  int64_t peak_activation_bytes; /* arena size of the whole-model segment after buffer reuse */
  int64_t total_activation_bytes; /* sum of all activations, i.e. without reuse */
  int opset;
} SnModelInfo;

SN_API SnModel *sn_model_load (const char *path, GError **error);
/* base_dir resolves external data files; may be NULL when there are none. */
SN_API SnModel *sn_model_load_from_data (const void *data, size_t len,
    const char *base_dir, GError **error);
SN_API void sn_model_free (SnModel *model);

/* Symbolic input dims (a batch "N", a "height"): a model loads with 1 for
 * each, and sn_model_at_shapes gives the model at the shapes of the inputs
 * actually given (names[i] has shapes[i]; inputs not named keep theirs),
 * as ONNX Runtime runs such a model: shape inference and constant folding
 * again at those shapes.  Static dims must match, and dims that share a
 * dim_param must agree; the error names the input and the dim.  Returns
 * the model itself when the shapes are those it has, else a model owned
 * and cached by it, one per shape set (free only the first; each holds its
 * own copy of the weights).  Segments are made from the returned model, so
 * each shape set has its own plan and running one never allocates. */
SN_API gboolean sn_model_has_symbolic_dims (const SnModel *model);
SN_API SnModel *sn_model_at_shapes (SnModel *model, const char *const *names, const SnShape *shapes, int n,
    GError **error);

SN_API void sn_model_get_info (const SnModel *model, SnModelInfo *info);
/* Op types and counts, in order of first appearance; the array ends with a NULL op. */
typedef struct { const char *op_type; int count; } SnOpCount;
SN_API SnOpCount *sn_model_op_counts (const SnModel *model);

SN_API int sn_model_n_inputs (const SnModel *model);
SN_API int sn_model_n_outputs (const SnModel *model);
SN_API const char *sn_model_input_name (const SnModel *model, int i);
SN_API const char *sn_model_output_name (const SnModel *model, int i);
/* Shape and dtype of any value (graph input, output, or intermediate); FALSE if unknown. */
SN_API gboolean sn_model_value_info (const SnModel *model, const char *name,
    SnDType *dtype, SnShape *shape);
/* metadata_props of the ModelProto; NULL if absent. */
SN_API const char *sn_model_metadata (const SnModel *model, const char *key);
/* SHA-256 of the file bytes, lowercase hex; identifies a model on the wire. */
SN_API const char *sn_model_fingerprint (const SnModel *model);

/* Compile the part of the graph that computes `outputs` from `inputs`.
 * NULL (or empty) arrays mean the graph's own inputs/outputs.  Every value
 * the outputs depend on must be reachable from the inputs or a constant,
 * otherwise the error names the first value that is not. */
SN_API SnSegment *sn_segment_new (SnModel *model,
    const char *const *inputs, int n_inputs,
    const char *const *outputs, int n_outputs, GError **error);
SN_API void sn_segment_free (SnSegment *seg);

SN_API int sn_segment_n_inputs (const SnSegment *seg);
SN_API int sn_segment_n_outputs (const SnSegment *seg);
SN_API const char *sn_segment_input_name (const SnSegment *seg, int i);
SN_API const char *sn_segment_output_name (const SnSegment *seg, int i);
SN_API void sn_segment_input_info (const SnSegment *seg, int i, SnDType *dtype, SnShape *shape);
SN_API void sn_segment_output_info (const SnSegment *seg, int i, SnDType *dtype, SnShape *shape);
SN_API int sn_segment_n_nodes (const SnSegment *seg);
SN_API double sn_segment_flops (const SnSegment *seg);
SN_API int64_t sn_segment_arena_bytes (const SnSegment *seg);

/* Threads used by kernels: 1 (the default) runs everything on the calling
 * thread, which keeps results reproducible run to run; more runs them on a
 * thread pool that every segment of the process with the same count
 * shares (segments running at once take turns per operator).  0 picks one
 * thread per CPU this process may use (its affinity mask, bounded by its
 * cgroup's CPU quota). */
SN_API void sn_segment_set_threads (SnSegment *seg, int n_threads);

/* The reference kernels are the oracle; the fast path (XNNPACK, when built
 * in) runs what it can and leaves the rest to them.  FAST is the default.
 * The environment variable SPLITNN_ENGINE=reference forces the reference
 * kernels on every segment, whatever is set here. */
typedef enum {
  SN_ENGINE_REFERENCE,
  SN_ENGINE_FAST,
} SnEngine;
SN_API void sn_segment_set_engine (SnSegment *seg, SnEngine engine);
/* The engine actually in use (REFERENCE when nothing could be lowered). */
SN_API SnEngine sn_segment_get_engine (const SnSegment *seg);
/* Nodes the fast path executes (after a first run). */
SN_API int sn_segment_n_fast_nodes (const SnSegment *seg);

/* Runs the segment.  inputs[i] must match sn_segment_input_info(i) in dtype
 * and shape.  Outputs stay owned by the segment and are valid until the next
 * run or sn_segment_free. */
SN_API gboolean sn_segment_run (SnSegment *seg, const SnTensor *const *inputs, GError **error);
SN_API const SnTensor *sn_segment_output (const SnSegment *seg, int i);

G_END_DECLS
