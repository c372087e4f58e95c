/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the fast path: runs of graph nodes lowered to XNNPACK.
 *
 * A segment's schedule is cut into maximal runs of nodes XNNPACK can
 * execute with the attributes they have (sn_xnn_can_lower).  Each run
 * becomes one XNNPACK runtime working in NHWC.  Values enter and leave a
 * run in the engine's layout (ONNX's own, NCHW for 4-D), converted only at
 * the run's boundary; a Transpose that turns an NHWC model input into NCHW
 * (or NCHW heads back to NHWC) costs nothing, it just relabels the layout.
 * While lowering, a BatchNormalization after a Conv is folded into its
 * weights, a Relu/Clip after a Conv, Gemm, pooling or arithmetic node
 * becomes that node's output range, and the decomposed hard-swish patterns
 * exporters write become one HardSwish.  Everything else runs on the
 * reference kernels.  Layout conversion and everything XNNPACK does use
 * the segment's thread pool. */
#pragma once

#include "engine/sn-graph.h"

G_BEGIN_DECLS

typedef struct SnXnnRun SnXnnRun;

/* TRUE when built with XNNPACK and it initialised on this CPU. */
gboolean sn_xnn_available (void);

/* Whether a node can be part of a run, given its attributes and what is
 * known statically about its inputs.  A run may still fail to lower as a
 * whole (sn_xnn_run_new), its nodes then run on the reference kernels. */
gboolean sn_xnn_can_lower (const SnNode *node);

/* Lowers nodes[first..last] (inclusive).  tensors[value->index] are the
 * engine's tensors for every non-constant value; outside[value->index] is
 * nonzero for values read after the run or returned by the segment.  pool
 * is a pthreadpool_t or NULL.  All three arrays must outlive the run. */
SnXnnRun *sn_xnn_run_new (SnNode *const *nodes, int first, int last,
    SnTensor *const *tensors, const guint8 *outside, void *pool, GError **error);
gboolean sn_xnn_run_invoke (SnXnnRun *run, GError **error);
void sn_xnn_run_free (SnXnnRun *run);

/* A pthreadpool_t for n_threads (NULL for 1: the calling thread), shared
 * by every caller asking for the same count; each new is paired with one
 * free. */
void *sn_xnn_pool_new (int n_threads);
void sn_xnn_pool_free (void *pool);

G_END_DECLS
