/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — cuts (split points) and split paths.
 *
 * A cut is the set of tensors that crosses from the edge part of a graph to
 * its cloud part.  In a chain it is one tensor; when later layers read
 * earlier ones (skip connections) it can be several.  SnCutSet enumerates
 * the useful cuts of a model once; SnSplit is one path: an edge segment
 * (graph inputs -> cut tensors) and a cloud segment (cut tensors -> graph
 * outputs) compiled from the same loaded model, so an unquantized split
 * computes exactly what the whole model computes. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-model.h>

G_BEGIN_DECLS

typedef struct SnCutSet SnCutSet;
typedef struct SnSplit SnSplit;

typedef struct {
  guint32 id;               /* stable for a given model file: position in the enumeration */
  const char *name;         /* tensor names joined by '+', or the name the model declares */
  int n_tensors;
  const char *const *tensors;
  const SnShape *shapes;
  const SnDType *dtypes;
  int64_t values;           /* elements crossing, all tensors together */
  double edge_flops;
  double cloud_flops;
  gboolean declared;        /* named by the model's metadata or the user, not enumerated */
} SnCut;

/* Enumerates the cuts of a model: the tensors live between two consecutive
 * nodes of a schedule chosen to keep those sets small, keeping positions
 * whose crossing bytes are a local minimum.  Cuts the model declares in its
 * metadata ("splitnn.cuts" = "NAME=T1,T2;NAME2=T3") come first. */
SN_API SnCutSet *sn_cut_set_new (SnModel *model, GError **error);
SN_API void sn_cut_set_free (SnCutSet *set);

SN_API int sn_cut_set_n_cuts (const SnCutSet *set);
SN_API const SnCut *sn_cut_set_get (const SnCutSet *set, int i);
/* By decimal id or by name; NULL if none. */
SN_API const SnCut *sn_cut_set_find (const SnCutSet *set, const char *id_or_name);
/* The cut whose tensors have exactly these shapes, in order; NULL if none
 * or if several match (patent [0061]: recognising a cut from its shapes). */
SN_API const SnCut *sn_cut_set_find_by_shapes (const SnCutSet *set, int n, const SnShape *shapes);
/* Adds a cut named by its tensors; fails, naming the tensor, if they do
 * not separate the graph (some output would need a value not in the set). */
SN_API const SnCut *sn_cut_set_add (SnCutSet *set, const char *name,
    const char *const *tensors, int n_tensors, GError **error);

/* Bytes of the crossing tensors at `bits` per value, before any coding. */
SN_API int64_t sn_cut_bytes (const SnCut *cut, int bits);

SN_API SnSplit *sn_split_new (SnModel *model, const SnCut *cut, GError **error);
SN_API void sn_split_free (SnSplit *split);
SN_API SnSegment *sn_split_edge (SnSplit *split);
SN_API SnSegment *sn_split_cloud (SnSplit *split);
SN_API const SnCut *sn_split_cut (const SnSplit *split);

G_END_DECLS
