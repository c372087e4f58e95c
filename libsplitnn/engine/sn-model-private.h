/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — what an SnModel holds; shared by the loader and the segment
 * compiler, private to libsplitnn. */
#pragma once

#include "engine/sn-graph.h"

G_BEGIN_DECLS

/* Per input dim: its dim_param if symbolic ("" if unnamed), NULL if static. */
typedef char *SnDimParams[SN_MAX_DIMS];

struct SnModel {
  char *source;               /* file path or "<memory>", for messages */
  GPtrArray *values;          /* SnValue*, owned */
  GHashTable *value_by_name;  /* name -> SnValue* (borrowed) */
  GPtrArray *nodes;           /* SnNode*, owned, topological order */
  GPtrArray *inputs;          /* SnValue*: graph inputs that are not initializers */
  GPtrArray *outputs;         /* SnValue*: graph outputs */
  GHashTable *metadata;       /* metadata_props key -> value */
  /* What higher layers derive from the model and keep with it (the split
   * layer's parsed calibration and fidelity): key -> data, freed with the
   * model.  Under attach_lock: models are shared between threads. */
  GMutex attach_lock;
  GHashTable *attachments;
  char fingerprint[65];
  int opset;                  /* default-domain opset */
  int64_t n_params;
  int64_t param_bytes;
  SnOpCount *op_counts;       /* lazily built */
  int64_t peak_bytes;         /* -1 until the whole-model segment was planned */
  int64_t total_bytes;
  /* Symbolic input dims (sn_model_at_shapes): per model input, the
   * dim_param of each dim ("" for an unnamed symbolic dim, NULL for a
   * static one); loaded at 1.  A model with any keeps its file bytes to
   * load again at the shapes actually given, one model per shape set,
   * cached here and freed with this one. */
  SnDimParams *dim_params;    /* [inputs->len] */
  int n_symbolic;
  int64_t symbolic_default;   /* the value symbolic dims got (after the first), 1 or more */
  GBytes *bytes;
  char *base_dir;
  GMutex at_shape_lock;
  GHashTable *at_shape;       /* shape key -> SnModel*, owned */
};

/* A node whose inputs were all constants was computed at load time; it is
 * kept for inspection but never scheduled. */
static inline gboolean
sn_node_is_folded (const SnNode *node)
{
  for (int i = 0; i < node->n_outputs; i++)
    if (node->outputs[i] && !node->outputs[i]->constant)
      return FALSE;
  return TRUE;
}

SnValue *sn_model_lookup_value (const SnModel *model, const char *name);
/* An empty model (the loader fills it in); data/len are the file bytes,
 * for the fingerprint. */
SnModel *sn_model_new (const char *source, const void *data, size_t len);
/* Bytes of a segment's tensors without reuse (for sn_model_get_info). */
int64_t sn_segment_total_bytes (const SnSegment *seg);

/* Attachments: data that a higher layer derives from a model (the split
 * layer's parsed calibration and fidelity) and keeps with it, so that the
 * engine need not know about it.  sn_model_attach stores data under key
 * unless something is already there (two threads raced): it returns what
 * is attached, and destroys data if that is not it.  Attachments are freed
 * with the model.  Both are thread-safe. */
gpointer sn_model_get_attachment (const SnModel *model, const char *key);
gpointer sn_model_attach (const SnModel *model, const char *key, gpointer data,
    GDestroyNotify destroy);

G_END_DECLS

G_BEGIN_DECLS
/* Loads a model with some graph inputs fixed to given values: bound[i]
 * (NULL to leave input i free) replaces the i-th non-initializer graph input
 * by a constant, so inputs that define shapes can be folded.  The
 * conformance runner uses it for tests that feed e.g. Reshape's shape. */
SnModel *sn_model_load_bound (const char *path, SnTensor *const *bound,
    int n_bound, GError **error);
/* Parses a serialized onnx.TensorProto (the conformance suite's .pb files). */
SnTensor *sn_onnx_parse_tensor (const void *data, size_t len, GError **error);
G_END_DECLS
