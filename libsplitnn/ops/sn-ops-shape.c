#include "sn-ops.h"

const SnOpDef *const sn_ops_shape[] = {
  NULL,
};
