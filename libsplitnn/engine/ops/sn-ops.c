/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the op registry: every op implementation file exports a
 * NULL-terminated SnOpDef table, and lookup walks them in order. */
#include "sn-ops.h"

#include <string.h>

static const SnOpDef *const *const tables[] = {
  sn_ops_elementwise,
  sn_ops_conv,
  sn_ops_pool,
  sn_ops_shape,
  sn_ops_resize,
};

const SnOpDef *
sn_op_lookup (const char *op_type)
{
  for (size_t t = 0; t < G_N_ELEMENTS (tables); t++)
    for (const SnOpDef *const *d = tables[t]; *d; d++)
      if (strcmp ((*d)->op_type, op_type) == 0)
        return *d;
  return NULL;
}
