/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — options: the names of what the edge can do with a frame.
 *
 * An option is one of
 *
 *   edge-only    the whole network on the edge; only the detections cross
 *                the link (the detections message, sn-packet.h);
 *   cloud-only   the frame (the model's input, coded by a frame codec:
 *                h264 at a constant QP, or jpeg at a quality) crosses the
 *                link; the whole network runs in the cloud;
 *   a cut        the first layers on the edge up to a feature cut (its id
 *                or name, sn-cut.h), the feature quantized to some bits and
 *                coded by a feature codec (sn-codec.h), the rest in the
 *                cloud.
 *
 * These names are the one table every place that names a cut uses: the
 * CLI (`--cut`, `--cuts`), the planner's option names, the elements' `cut`
 * property values and the packet header (a packet of a baseline carries
 * the reserved cut id and the name below).  Frame codec names are distinct
 * from the feature codec names (none, lossless, lossy, auto), so one
 * `--codec` list can hold both. */
#pragma once

#include <splitnn/sn-api.h>

#include <glib.h>
#include <splitnn/sn-codec.h>
#include <splitnn/sn-quant.h>

G_BEGIN_DECLS

typedef enum {
  SN_OPTION_CUT = 0,
  SN_OPTION_EDGE_ONLY = 1,
  SN_OPTION_CLOUD_ONLY = 2,
} SnOptionKind;

#define SN_OPTION_EDGE_ONLY_NAME "edge-only"
#define SN_OPTION_CLOUD_ONLY_NAME "cloud-only"

/* Cut ids the packet header and the detections message carry for the two
 * baselines (real cut ids are small: positions in the enumeration). */
#define SN_CUT_ID_EDGE_ONLY 0xFFFFFFFEu
#define SN_CUT_ID_CLOUD_ONLY 0xFFFFFFFDu

typedef enum {
  SN_FRAME_CODEC_H264 = 0,  /* quality: constant QP, 0-51 (lower is better) */
  SN_FRAME_CODEC_JPEG = 1,  /* quality: 1-100 (higher is better) */
} SnFrameCodec;

#define SN_FRAME_CODEC_COUNT 2

/* "cut", "edge-only", "cloud-only". */
SN_API const char *sn_option_kind_name (SnOptionKind kind);
/* What a cut argument names: edge-only and cloud-only by name, anything
 * else SN_OPTION_CUT (a cut id or name for sn_cut_set_find). */
SN_API SnOptionKind sn_option_kind_from_cut_arg (const char *arg);
/* The reserved cut id of a baseline; a cut's own id is not known here. */
SN_API guint32 sn_option_kind_cut_id (SnOptionKind kind);
/* SN_OPTION_CUT for any id but the two reserved ones. */
SN_API SnOptionKind sn_option_kind_from_cut_id (guint32 cut_id);

/* "h264", "jpeg". */
SN_API const char *sn_frame_codec_name (SnFrameCodec codec);
SN_API gboolean sn_frame_codec_from_name (const char *name, SnFrameCodec *out);
SN_API gboolean sn_frame_codec_quality_valid (SnFrameCodec codec, int quality);
/* The quality an unqualified name means: QP 26, JPEG 90. */
SN_API int sn_frame_codec_default_quality (SnFrameCodec codec);

/* One option, fully set and named by ids (SnOption in sn-session.h is
 * the same bound to a cut set, for running it). */
typedef struct {
  SnOptionKind kind;
  guint32 cut;              /* SN_OPTION_CUT: the cut id */
  int bits;                 /* SN_OPTION_CUT: 2, 4, 8, 16, 32 */
  SnCodec codec;            /* SN_OPTION_CUT: feature codec */
  SnFrameCodec frame_codec; /* SN_OPTION_CLOUD_ONLY */
  int quality;              /* SN_OPTION_CLOUD_ONLY: QP or JPEG quality */
} SnOptionSpec;

/* A short label: "edge-only", "cloud-only h264 qp26", "cloud-only jpeg
 * q90", "cut 4 8-bit lossless"; g_free it. */
SN_API char *sn_option_label (const SnOptionSpec *option);

/* One option as `splitnn eval --json` measured it. */
typedef struct {
  SnOptionSpec option;
  double bytes;             /* per frame on the wire */
  double fidelity;          /* fidelity_ap50, 0-100 (sn-eval.h) */
  double edge_ms, cloud_ms; /* as measured on the machine eval ran on */
  double code_ms;           /* feature or frame coding (for cloud-only: encode and decode) */
} SnOptionMeasure;

/* Reads the JSON lines `splitnn eval --json` prints (other lines, and rows
 * of trained paths, are skipped).  Returns an array of SnOptionMeasure, or
 * NULL with error set when the file cannot be read, a row is malformed or
 * none is found. */
SN_API GArray *sn_option_measures_load (const char *path, GError **error);

G_END_DECLS
