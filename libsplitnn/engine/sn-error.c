/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "splitnn/sn-error.h"

G_DEFINE_QUARK (sn-error-quark, sn_error)
