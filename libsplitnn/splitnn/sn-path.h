/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — trained split paths (the quantization-switch model, issue 7).
 *
 * A model trained by tools/train/splitnn-train.py carries, next to its
 * unchanged float graph, per-path adapters stored as initializers and
 * described by the metadata key "splitnn.paths" (docs/training.md).  A path
 * is a cut plus, for each tensor crossing it, an edge-side bottleneck (a
 * conv with kernel = stride = s from C to k channels) applied before the
 * quantizer and a cloud-side precision-restoration layer (the transposed
 * conv back to C channels, with the path's batch norm folded in) applied
 * after dequantization.  Selecting a path costs nothing but the next frame:
 * the adapters of every path are loaded once with the model. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-cut.h>

G_BEGIN_DECLS

typedef struct SnPathSet SnPathSet;
typedef struct SnPath SnPath;

/* The paths the model declares (an empty set when it declares none).
 * Fails, naming the path and field, on metadata that does not fit the
 * model: unknown cut or initializer, wrong shapes. */
SN_API SnPathSet *sn_path_set_new (const SnModel *model, const SnCutSet *cuts, GError **error);
SN_API void sn_path_set_free (SnPathSet *set);
SN_API int sn_path_set_n_paths (const SnPathSet *set);
SN_API const SnPath *sn_path_set_get (const SnPathSet *set, int i);
/* By name (e.g. "cut5-4b") or position; NULL if none. */
SN_API const SnPath *sn_path_set_find (const SnPathSet *set, const char *name_or_index);

SN_API const char *sn_path_name (const SnPath *path);
SN_API const SnCut *sn_path_cut (const SnPath *path);
/* The bit width the path was trained for; per-channel ranges. */
SN_API int sn_path_bits (const SnPath *path);
/* Shape of the i-th tensor as it travels (after the bottleneck). */
SN_API void sn_path_wire_shape (const SnPath *path, int i, SnShape *shape);
/* Values that travel per frame, all tensors together. */
SN_API int64_t sn_path_wire_values (const SnPath *path);

/* Edge side: out (wire shape, float32) = bottleneck (in (cut shape)). */
SN_API gboolean sn_path_edge_apply (const SnPath *path, int i, const SnTensor *in, SnTensor *out,
    GError **error);
/* Cloud side: out (cut shape) = restoration (in (wire shape)). */
SN_API gboolean sn_path_cloud_apply (const SnPath *path, int i, const SnTensor *in, SnTensor *out,
    GError **error);

G_END_DECLS
