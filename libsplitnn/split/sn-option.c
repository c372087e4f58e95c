/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — option names (see sn-option.h). */
#include "splitnn/sn-option.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "splitnn/sn-error.h"

static const char *const frame_codec_names[SN_FRAME_CODEC_COUNT] = { "h264", "jpeg" };

const char *
sn_option_kind_name (SnOptionKind kind)
{
  switch (kind) {
    case SN_OPTION_EDGE_ONLY: return SN_OPTION_EDGE_ONLY_NAME;
    case SN_OPTION_CLOUD_ONLY: return SN_OPTION_CLOUD_ONLY_NAME;
    default: return "cut";
  }
}

SnOptionKind
sn_option_kind_from_cut_arg (const char *arg)
{
  if (arg && strcmp (arg, SN_OPTION_EDGE_ONLY_NAME) == 0)
    return SN_OPTION_EDGE_ONLY;
  if (arg && strcmp (arg, SN_OPTION_CLOUD_ONLY_NAME) == 0)
    return SN_OPTION_CLOUD_ONLY;
  return SN_OPTION_CUT;
}

guint32
sn_option_kind_cut_id (SnOptionKind kind)
{
  g_return_val_if_fail (kind != SN_OPTION_CUT, 0);
  return kind == SN_OPTION_EDGE_ONLY ? SN_CUT_ID_EDGE_ONLY : SN_CUT_ID_CLOUD_ONLY;
}

SnOptionKind
sn_option_kind_from_cut_id (guint32 cut_id)
{
  return cut_id == SN_CUT_ID_EDGE_ONLY ? SN_OPTION_EDGE_ONLY
      : cut_id == SN_CUT_ID_CLOUD_ONLY ? SN_OPTION_CLOUD_ONLY : SN_OPTION_CUT;
}

const char *
sn_frame_codec_name (SnFrameCodec codec)
{
  return (unsigned) codec < SN_FRAME_CODEC_COUNT ? frame_codec_names[codec] : "?";
}

gboolean
sn_frame_codec_from_name (const char *name, SnFrameCodec *out)
{
  for (int i = 0; name && i < SN_FRAME_CODEC_COUNT; i++)
    if (strcmp (name, frame_codec_names[i]) == 0) {
      *out = (SnFrameCodec) i;
      return TRUE;
    }
  return FALSE;
}

gboolean
sn_frame_codec_quality_valid (SnFrameCodec codec, int quality)
{
  switch (codec) {
    case SN_FRAME_CODEC_H264: return quality >= 0 && quality <= 51;
    case SN_FRAME_CODEC_JPEG: return quality >= 1 && quality <= 100;
    default: return FALSE;
  }
}

int
sn_frame_codec_default_quality (SnFrameCodec codec)
{
  return codec == SN_FRAME_CODEC_H264 ? 26 : 90;
}

char *
sn_option_label (const SnOptionSpec *o)
{
  switch (o->kind) {
    case SN_OPTION_EDGE_ONLY:
      return g_strdup (SN_OPTION_EDGE_ONLY_NAME);
    case SN_OPTION_CLOUD_ONLY:
      return g_strdup_printf (SN_OPTION_CLOUD_ONLY_NAME " %s %s%d",
          sn_frame_codec_name (o->frame_codec),
          o->frame_codec == SN_FRAME_CODEC_H264 ? "qp" : "q", o->quality);
    default:
      return g_strdup_printf ("cut %u %d-bit %s", o->cut, o->bits, sn_codec_name (o->codec));
  }
}

static gboolean
measure_from_json (JsonObject *o, SnOptionMeasure *m, const char **why)
{
  memset (m, 0, sizeof *m);
  const char *kind = json_object_get_string_member_with_default (o, "option", "cut");
  const char *codec = json_object_get_string_member_with_default (o, "codec", "");
  m->option.kind = sn_option_kind_from_cut_arg (kind);
  if (m->option.kind == SN_OPTION_CUT && strcmp (kind, "cut") != 0)
    return *why = "unknown 'option'", FALSE;
  if (m->option.kind == SN_OPTION_CUT) {
    gint64 cut = json_object_get_int_member_with_default (o, "cut", -1);
    m->option.cut = (guint32) CLAMP (cut, 0, G_MAXUINT32);
    m->option.bits = (int) json_object_get_int_member_with_default (o, "bits", 0);
    if (cut < 0 || !sn_quant_bits_valid (m->option.bits)
        || !sn_codec_from_name (codec, &m->option.codec))
      return *why = "a cut row needs 'cut', 'bits' and a feature 'codec'", FALSE;
  } else if (m->option.kind == SN_OPTION_CLOUD_ONLY) {
    m->option.quality = (int) json_object_get_int_member_with_default (o, "quality", -1);
    if (!sn_frame_codec_from_name (codec, &m->option.frame_codec)
        || !sn_frame_codec_quality_valid (m->option.frame_codec, m->option.quality))
      return *why = "a cloud-only row needs a frame 'codec' and its 'quality'", FALSE;
  }
  m->bytes = json_object_get_double_member_with_default (o, "bytes_per_frame", -1);
  m->fidelity = json_object_get_double_member_with_default (o, "fidelity_ap50", -1);
  m->edge_ms = json_object_get_double_member_with_default (o, "edge_ms", 0);
  m->cloud_ms = json_object_get_double_member_with_default (o, "cloud_ms", 0);
  m->code_ms = json_object_get_double_member_with_default (o, "code_ms", 0);
  if (!(m->bytes >= 0) || !(m->fidelity >= 0 && m->fidelity <= 100))
    return *why = "'bytes_per_frame' and 'fidelity_ap50' (0-100) are required", FALSE;
  return TRUE;
}

GArray *
sn_option_measures_load (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, error))
    return NULL;
  GArray *out = g_array_new (FALSE, TRUE, sizeof (SnOptionMeasure));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (int i = 0; lines[i]; i++) {
    const char *line = g_strstrip (lines[i]);
    if (*line != '{')
      continue;
    g_autoptr (JsonParser) parser = json_parser_new ();
    JsonNode *root = json_parser_load_from_data (parser, line, -1, NULL)
        ? json_parser_get_root (parser) : NULL;
    if (!root || !JSON_NODE_HOLDS_OBJECT (root)) {
      g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s:%d: not a JSON object", path, i + 1);
      g_array_unref (out);
      return NULL;
    }
    JsonObject *o = json_node_get_object (root);
    /* Trained paths are not options the planner picks. */
    if (*json_object_get_string_member_with_default (o, "path", ""))
      continue;
    SnOptionMeasure m;
    const char *why = NULL;
    if (!measure_from_json (o, &m, &why)) {
      g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s:%d: %s (is it 'splitnn eval --json' "
          "output?)", path, i + 1, why);
      g_array_unref (out);
      return NULL;
    }
    g_array_append_val (out, m);
  }
  if (out->len == 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_PARSE, "%s: no rows of 'splitnn eval --json'", path);
    g_array_unref (out);
    return NULL;
  }
  return out;
}
