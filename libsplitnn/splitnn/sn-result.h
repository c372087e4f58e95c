/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — one frame's detections on the wire: JSON lines and binary.
 *
 * The record (SnResultHeader + SnDetections, declared with the binary
 * SNDT form in sn-packet.h) has two spellings, both documented in
 * docs/protocol.md: the binary SNDT message and one JSON object per line.
 * This is the one writer and the one parser for each; splitnncloud,
 * splitnnoverlay, splitnnpublish and `splitnn detect --json` all go
 * through it.  Parsers trust nothing and name the field that is wrong. */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-packet.h>

G_BEGIN_DECLS

typedef enum {
  SN_RESULT_BINARY,         /* SNDT (sn_result_write / sn_result_parse) */
  SN_RESULT_JSON,           /* one JSON object and a newline */
} SnResultFormat;

/* "binary" / "json", the names the caps and the elements use. */
SN_API const char *sn_result_format_name (SnResultFormat format);
SN_API gboolean sn_result_format_from_name (const char *name, SnResultFormat *format);

/* One JSON line (newline-terminated) into out, replacing it.  Scores are
 * written to 4 decimals, boxes to 0.1 px, cloud time to 1 us; at most
 * SN_RESULT_MAX_DETECTIONS detections. */
SN_API void sn_result_write_json (const SnResultHeader *h, const SnDetections *d, GByteArray *out);
/* Parses one JSON object (trailing whitespace allowed).  Required: stream,
 * seq, pts (may be null), detections; optional: time, model, cut, path,
 * cloud_ms.  Labels are taken from the class id (the label is informative). */
SN_API gboolean sn_result_parse_json (const guint8 *data, size_t len, SnResultHeader *h,
    SnDetections *d, GError **error);

/* Either form. */
SN_API void sn_result_serialize (SnResultFormat format, const SnResultHeader *h, const SnDetections *d,
    GByteArray *out);
SN_API gboolean sn_result_deserialize (SnResultFormat format, const guint8 *data, size_t len,
    SnResultHeader *h, SnDetections *d, GError **error);

G_END_DECLS
