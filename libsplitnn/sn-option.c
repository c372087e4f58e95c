/* splitnn — option names (see sn-option.h). */
#include "splitnn/sn-option.h"

#include <string.h>

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
sn_option_label (const SnOption *o)
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
