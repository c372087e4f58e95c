/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — error domain shared by every libsplitnn module. */
#pragma once

#include <splitnn/sn-api.h>

#include <glib.h>

G_BEGIN_DECLS

#define SN_ERROR (sn_error_quark ())
SN_API GQuark sn_error_quark (void);

/* Codes say what kind of thing went wrong; the message says where
 * (file offset, node name and op, tensor name, packet field). */
typedef enum {
  SN_ERROR_IO,               /* a file could not be read or written */
  SN_ERROR_PARSE,            /* bytes that are not what they claim to be */
  SN_ERROR_INVALID_MODEL,    /* a well-formed model that breaks ONNX rules */
  SN_ERROR_UNSUPPORTED,      /* valid, but an op/attribute/dtype we do not run */
  SN_ERROR_SHAPE,            /* shapes that do not fit together */
  SN_ERROR_INVALID_ARGUMENT, /* a caller passed something wrong */
  SN_ERROR_CORRUPT_PACKET,   /* a feature packet failed validation */
  SN_ERROR_MODEL_MISMATCH,   /* a packet or profile made for another model */
  SN_ERROR_NO_REFERENCE,     /* a temporal inter frame whose reference the receiver lacks (a loss): refused until the next intra frame */
} SnError;

G_END_DECLS
