/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — op tables, one per implementation file (see sn-graph.h for the
 * SnOpDef contract).  Each table ends with NULL. */
#pragma once

#include "engine/sn-graph.h"

G_BEGIN_DECLS

extern const SnOpDef *const sn_ops_elementwise[]; /* Add Sub Mul Div, activations, Softmax, Identity */
extern const SnOpDef *const sn_ops_conv[];        /* Conv BatchNormalization Gemm MatMul */
extern const SnOpDef *const sn_ops_pool[];        /* MaxPool AveragePool GlobalAveragePool ReduceMean */
extern const SnOpDef *const sn_ops_shape[];       /* Concat Split Slice Reshape Flatten Transpose Squeeze Unsqueeze Pad Shape Gather Cast ... */
extern const SnOpDef *const sn_ops_resize[];      /* Resize Upsample */

G_END_DECLS
