/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — stored fidelity per cut and encoder setting.
 *
 * A model may carry, in the metadata_props key "splitnn.fidelity", the
 * fidelity (against the unsplit float model, sn-eval.h) that `splitnn eval
 * --store-fidelity` measured for each cut at each encoder setting
 * (docs/model.md has the JSON schema): fidelity_ap50 ("ap50", the figure
 * floors use) and fidelity_map50 ("map50", the first metric; files written
 * before ap50 existed carry only it).  The loader parses it and checks it
 * against the model's cuts; the planner's fidelity floor (sn-planner.h)
 * reads it through sn_model_fidelity. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-feature.h>

G_BEGIN_DECLS

#define SN_FIDELITY_KEY "splitnn.fidelity"

/* One measured setting of one cut. */
typedef struct {
  guint32 cut;              /* the cut's id (sn-cut.h) */
  const char *cut_name;     /* its name when measured; NULL if not stored */
  int bits;                 /* 2, 4, 8, 16, 32 */
  SnCodec codec;            /* as eval ran it (auto included) */
  SnRangeMode range;
  gboolean per_channel;
  double clip;              /* in (0, 1] */
  double map50;             /* fidelity_map50, 0-100 */
  double ap50;              /* fidelity_ap50, 0-100, when has_ap50 */
  gboolean has_ap50;        /* FALSE in files written before ap50 existed */
} SnFidelityRow;

/* The model's stored rows (borrowed; in stored order); NULL and *n = 0
 * when it stores none. */
SN_API const SnFidelityRow *sn_model_fidelity_rows (const SnModel *model, int *n);

/* The stored fidelity of cut_id with the encoder set as cfg: its ap50, or
 * its map50 in files that store no ap50 (map50 is the lower of the two on
 * every row measured, so an old file's floor stays on the safe side), or
 * -1 when the model stores none for that setting.  A row matches when cut, bits and
 * codec are the same and, at 2, 4 and 8 bits, range, per_channel and clip
 * too (16 and 32 bits send floats: the quantizer ignores those three).
 * "none" and "lossless" decode to the same codes, so when no row has the
 * codec asked for, a row with the other of the two stands for it.
 * Trained paths (cfg->path) have no stored figures: -1. */
SN_API double sn_model_fidelity (const SnModel *model, guint32 cut_id, const SnFeatureConfig *cfg);

/* The splitnn.fidelity JSON of rows measured over `frames` frames of
 * `source` (informational); g_free it. */
SN_API char *sn_fidelity_to_json (const SnFidelityRow *rows, int n_rows, int frames,
    const char *source);

G_END_DECLS
