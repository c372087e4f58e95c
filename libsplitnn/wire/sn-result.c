/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — a frame's detections as JSON lines (see sn-result.h and
 * docs/protocol.md); the binary form lives beside the feature packet in
 * sn-packet.c, which shares its byte reader. */
#include "splitnn/sn-result.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "splitnn/sn-error.h"

const char *
sn_result_format_name (SnResultFormat format)
{
  return format == SN_RESULT_JSON ? "json" : "binary";
}

gboolean
sn_result_format_from_name (const char *name, SnResultFormat *format)
{
  if (g_strcmp0 (name, "json") == 0)
    *format = SN_RESULT_JSON;
  else if (g_strcmp0 (name, "binary") == 0)
    *format = SN_RESULT_BINARY;
  else
    return FALSE;
  return TRUE;
}

/* ---- Writing ------------------------------------------------------------------ */

/* Numbers are printed by hand rather than by json-glib's generator, which
 * writes every double with 17 significant digits (0.9123 comes out as
 * 0.91229999999999989): a score to 4 decimals and a box to 0.1 px is what
 * the detector resolves and what a reader wants.  g_ascii_formatd ignores
 * the locale.  JSON has no NaN or infinity: those are written as null,
 * which the parser refuses. */
static void
put_number (GString *s, const char *fmt, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  if (!isfinite (v))
    g_string_append (s, "null");
  else
    g_string_append (s, g_ascii_formatd (buf, sizeof buf, fmt, v));
}

/* Strings (labels, path names) go through json-glib, which escapes them. */
static void
put_string (GString *s, const char *str)
{
  g_autofree char *valid = g_utf8_make_valid (str, -1);
  JsonNode *n = json_node_init_string (json_node_alloc (), valid);
  g_autofree char *t = json_to_string (n, FALSE);
  json_node_unref (n);
  g_string_append (s, t);
}

void
sn_result_write_json (const SnResultHeader *h, const SnDetections *d, GByteArray *out)
{
  GString *s = g_string_sized_new (128 + 96 * (gsize) d->n);
  g_string_append_printf (s, "{\"stream\": %u, \"seq\": %" G_GUINT64_FORMAT ", \"pts\": ", h->stream_id, h->seq);
  if (h->pts == SN_PTS_NONE)
    g_string_append (s, "null");
  else
    g_string_append_printf (s, "%" G_GUINT64_FORMAT, h->pts);
  g_string_append (s, ", \"time\": ");
  if (h->time_us > 0) {
    g_autoptr (GDateTime) t0 = g_date_time_new_from_unix_utc (h->time_us / G_USEC_PER_SEC);
    g_autofree char *date = t0 ? g_date_time_format (t0, "%Y-%m-%dT%H:%M:%S") : NULL;
    if (date)
      g_string_append_printf (s, "\"%s.%06dZ\"", date, (int) (h->time_us % G_USEC_PER_SEC));
    else
      g_string_append (s, "null");
  } else
    g_string_append (s, "null");
  g_string_append (s, ", \"model\": ");
  if (sn_result_has_fingerprint (h)) {
    g_string_append_c (s, '"');
    for (int i = 0; i < 32; i++)
      g_string_append_printf (s, "%02x", h->fingerprint[i]);
    g_string_append_c (s, '"');
  } else
    g_string_append (s, "null");
  g_string_append (s, ", \"cut\": ");
  if (h->cut_id == SN_RESULT_NO_CUT)
    g_string_append (s, "null");
  else
    g_string_append_printf (s, "%u", h->cut_id);
  g_string_append (s, ", \"path\": ");
  if (h->path_name[0])
    put_string (s, h->path_name);
  else
    g_string_append (s, "null");
  /* Only with a pool of workers, so that one cloud's lines stay as they were. */
  if (h->worker[0]) {
    g_string_append (s, ", \"worker\": ");
    put_string (s, h->worker);
  }
  g_string_append_printf (s, ", \"cloud_ms\": %u.%03u, \"detections\": [", h->cloud_us / 1000, h->cloud_us % 1000);
  int n = MIN (d->n, SN_RESULT_MAX_DETECTIONS);
  for (int i = 0; i < n; i++) {
    const SnDetection *e = &d->items[i];
    g_string_append (s, i ? ", {\"label\": " : "{\"label\": ");
    put_string (s, e->label ? e->label : sn_coco_label (e->class_id));
    g_string_append_printf (s, ", \"class_id\": %d, \"score\": ", e->class_id);
    put_number (s, "%.4f", e->score);
    g_string_append (s, ", \"box\": [");
    const float box[4] = { e->x0, e->y0, e->x1, e->y1 };
    for (int k = 0; k < 4; k++) {
      if (k)
        g_string_append (s, ", ");
      put_number (s, "%.1f", box[k]);
    }
    g_string_append (s, "]}");
  }
  g_string_append (s, "]}\n");
  g_byte_array_set_size (out, 0);
  g_byte_array_append (out, (const guint8 *) s->str, (guint) s->len);
  g_string_free (s, TRUE);
}

/* ---- Parsing ------------------------------------------------------------------ */

static gboolean G_GNUC_PRINTF (2, 3)
fail (GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *m = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "detections JSON: %s", m);
  return FALSE;
}

/* Member `name` of o as an integer in [lo, hi].  Absent or null: *present
 * FALSE (an error when !optional). */
static gboolean
get_int (JsonObject *o, const char *where, const char *name, gint64 lo, gint64 hi, gboolean optional,
    gboolean *present, gint64 *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  *present = n && !JSON_NODE_HOLDS_NULL (n);
  if (!*present)
    return optional || fail (error, "%s'%s' is missing", where, name);
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return fail (error, "%s'%s' is not an integer", where, name);
  *out = json_node_get_int (n);
  if (*out < lo || *out > hi)
    return fail (error, "%s'%s' %" G_GINT64_FORMAT " is not in %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT,
        where, name, *out, lo, hi);
  return TRUE;
}

static gboolean
node_number (JsonNode *n, double *out)
{
  if (!n || !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  GType t = json_node_get_value_type (n);
  if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
    return FALSE;
  *out = json_node_get_double (n);
  /* Finite as the float32 it is stored in, too (1e300 is not). */
  return isfinite (*out) && isfinite ((float) *out);
}

/* An optional string member: NULL when absent or null. */
static gboolean
get_string (JsonObject *o, const char *name, const char **out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);
  *out = NULL;
  if (!n || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return fail (error, "'%s' is not a string", name);
  *out = json_node_get_string (n);
  return TRUE;
}

static gboolean
parse_detection (JsonNode *en, guint i, SnDetection *det, GError **error)
{
  g_autofree char *where = g_strdup_printf ("detections[%u]: ", i);
  if (!JSON_NODE_HOLDS_OBJECT (en))
    return fail (error, "%snot an object", where);
  JsonObject *e = json_node_get_object (en);
  gboolean present;
  gint64 cls;
  if (!get_int (e, where, "class_id", 0, G_MAXUINT16, FALSE, &present, &cls, error))
    return FALSE;
  JsonNode *ln = json_object_get_member (e, "label");
  if (ln && (!JSON_NODE_HOLDS_VALUE (ln) || json_node_get_value_type (ln) != G_TYPE_STRING))
    return fail (error, "%s'label' is not a string", where);
  double score, box[4];
  if (!node_number (json_object_get_member (e, "score"), &score))
    return fail (error, "%s'score' is missing or not a finite number", where);
  JsonNode *bn = json_object_get_member (e, "box");
  JsonArray *ba = bn && JSON_NODE_HOLDS_ARRAY (bn) ? json_node_get_array (bn) : NULL;
  if (!ba || json_array_get_length (ba) != 4)
    return fail (error, "%s'box' is missing or not an array of 4 numbers", where);
  for (guint k = 0; k < 4; k++)
    if (!node_number (json_array_get_element (ba, k), &box[k]))
      return fail (error, "%s'box'[%u] is not a finite number", where, k);
  *det = (SnDetection) { (int) cls, sn_coco_label ((int) cls), (float) score,
    (float) box[0], (float) box[1], (float) box[2], (float) box[3] };
  return TRUE;
}

gboolean
sn_result_parse_json (const guint8 *data, size_t len, SnResultHeader *h, SnDetections *d,
    GError **error)
{
  if (len > G_MAXSSIZE)
    return fail (error, "message too long");
  g_autoptr (JsonParser) p = json_parser_new ();
  GError *jerr = NULL;
  if (!json_parser_load_from_data (p, (const char *) data, (gssize) len, &jerr)) {
    fail (error, "not valid JSON: %s", jerr->message);
    g_error_free (jerr);
    return FALSE;
  }
  JsonNode *root = json_parser_get_root (p);
  if (!root || !JSON_NODE_HOLDS_OBJECT (root))
    return fail (error, "not a JSON object");
  JsonObject *o = json_node_get_object (root);
  sn_result_header_init (h);
  gboolean present;
  gint64 v;
  if (!get_int (o, "", "stream", 0, G_MAXUINT32, FALSE, &present, &v, error))
    return FALSE;
  h->stream_id = (guint32) v;
  if (!get_int (o, "", "seq", 0, G_MAXINT64, FALSE, &present, &v, error))
    return FALSE;
  h->seq = (guint64) v;
  if (!json_object_has_member (o, "pts"))
    return fail (error, "'pts' is missing (null when unknown)");
  if (!get_int (o, "", "pts", 0, G_MAXINT64, TRUE, &present, &v, error))
    return FALSE;
  h->pts = present ? (guint64) v : SN_PTS_NONE;
  if (!get_int (o, "", "cut", 0, G_MAXUINT32 - 1, TRUE, &present, &v, error))
    return FALSE;
  h->cut_id = present ? (guint32) v : SN_RESULT_NO_CUT;

  JsonNode *cn = json_object_get_member (o, "cloud_ms");
  if (cn && !JSON_NODE_HOLDS_NULL (cn)) {
    double ms;
    if (!node_number (cn, &ms) || ms < 0 || ms > G_MAXUINT32 / 1000.0)
      return fail (error, "'cloud_ms' is not a number in 0-%u", G_MAXUINT32 / 1000);
    h->cloud_us = (guint32) llround (ms * 1000);
  }

  const char *s;
  if (!get_string (o, "time", &s, error))
    return FALSE;
  if (s) {
    g_autoptr (GDateTime) t = g_date_time_new_from_iso8601 (s, NULL);
    if (!t || g_date_time_to_unix (t) < 0)
      return fail (error, "'time' \"%s\" is not an ISO 8601 time with a zone, after 1970", s);
    h->time_us = g_date_time_to_unix (t) * G_USEC_PER_SEC + g_date_time_get_microsecond (t);
  }
  if (!get_string (o, "model", &s, error))
    return FALSE;
  if (s && !sn_fingerprint_from_hex (s, h->fingerprint))
    return fail (error, "'model' is not a SHA-256 fingerprint (64 hex digits)");
  if (!get_string (o, "path", &s, error))
    return FALSE;
  if (s && strlen (s) > SN_PACKET_MAX_NAME)
    return fail (error, "'path' is longer than %d bytes", SN_PACKET_MAX_NAME);
  if (s)
    g_strlcpy (h->path_name, s, sizeof h->path_name);
  if (!get_string (o, "worker", &s, error))
    return FALSE;
  if (s && strlen (s) > SN_RESULT_MAX_WORKER)
    return fail (error, "'worker' is longer than %d bytes", SN_RESULT_MAX_WORKER);
  if (s)
    g_strlcpy (h->worker, s, sizeof h->worker);

  JsonNode *dn = json_object_get_member (o, "detections");
  if (!dn || !JSON_NODE_HOLDS_ARRAY (dn))
    return fail (error, "'detections' is missing or not an array");
  JsonArray *a = json_node_get_array (dn);
  guint n = json_array_get_length (a);
  if (n > SN_RESULT_MAX_DETECTIONS)
    return fail (error, "%u detections, more than %d", n, SN_RESULT_MAX_DETECTIONS);
  d->n = 0;
  for (guint i = 0; i < n; i++) {
    SnDetection det;
    if (!parse_detection (json_array_get_element (a, i), i, &det, error))
      return FALSE;
    sn_detections_add (d, &det);
  }
  return TRUE;
}

/* ---- Either ------------------------------------------------------------------- */

void
sn_result_serialize (SnResultFormat format, const SnResultHeader *h, const SnDetections *d,
    GByteArray *out)
{
  if (format == SN_RESULT_JSON)
    sn_result_write_json (h, d, out);
  else
    sn_result_write (h, d, out);
}

gboolean
sn_result_deserialize (SnResultFormat format, const guint8 *data, size_t len, SnResultHeader *h,
    SnDetections *d, GError **error)
{
  return format == SN_RESULT_JSON ? sn_result_parse_json (data, len, h, d, error)
      : sn_result_parse (data, len, h, d, error);
}
