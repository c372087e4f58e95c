/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — what the split layer's files share, private to libsplitnn.
 *
 * The model's stored calibration (splitnn.calibration) and fidelity
 * (splitnn.fidelity) are parsed by the split layer, not by the loader, and
 * kept on the model as attachments (sn-model-private.h): the engine knows
 * nothing of cuts.  sn_cut_set_new, which every split user calls right after
 * loading, parses both, so a malformed key is refused there. */
#pragma once

#include "splitnn/sn-cut.h"

G_BEGIN_DECLS

/* Parses and checks splitnn.calibration against the graph and attaches it
 * (once; no-op if already attached).  FALSE and error if malformed. */
gboolean sn_calibration_attach (const SnModel *model, GError **error);
/* Parses splitnn.fidelity, checking cut ids against cuts, and attaches it. */
gboolean sn_fidelity_attach (const SnModel *model, const SnCutSet *cuts, GError **error);

G_END_DECLS
