/* splitnn — the fast path: runs of graph nodes lowered to XNNPACK.
 *
 * A segment's schedule is cut into maximal runs of nodes XNNPACK can
 * execute (convolutions, element-wise ops, pooling, resize, concat along
 * channels, the NHWC<->NCHW transposes at the model's edges).  Each run
 * becomes one XNNPACK runtime working in NHWC.  Values enter and leave a
 * run in the engine's layout (ONNX's own, NCHW for 4-D), converted only at
 * the run's boundary; a Transpose that turns an NHWC model input into NCHW
 * (or NCHW heads back to NHWC) costs nothing, it just relabels the layout.
 * Everything else runs on the reference kernels. */
#pragma once

#include "sn-graph.h"

G_BEGIN_DECLS

typedef struct SnXnnRun SnXnnRun;

/* TRUE when built with XNNPACK and it initialised on this CPU. */
gboolean sn_xnn_available (void);

/* Whether a node can be part of a run, given what we know statically. */
gboolean sn_xnn_can_lower (const SnNode *node);

/* Lowers nodes[first..last] (inclusive).  tensors[value->index] are the
 * engine's tensors for every non-constant value; outside[value->index] is
 * nonzero for values read after the run or returned by the segment.  pool
 * is a pthreadpool_t or NULL. */
SnXnnRun *sn_xnn_run_new (SnNode *const *nodes, int first, int last,
    SnTensor *const *tensors, const guint8 *outside, void *pool, GError **error);
gboolean sn_xnn_run_invoke (SnXnnRun *run, GError **error);
void sn_xnn_run_free (SnXnnRun *run);

void *sn_xnn_pool_new (int n_threads);
void sn_xnn_pool_free (void *pool);

G_END_DECLS
