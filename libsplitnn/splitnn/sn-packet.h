/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — the wire format of one frame's feature (docs/protocol.md).
 *
 * A packet names the model (SHA-256 fingerprint), the cut (id and name),
 * and for each tensor crossing the cut its name, shape, bits, quantization
 * ranges, codec and payload; a CRC32C closes it.  The parser trusts
 * nothing: every count, length and shape is bounds-checked, with the
 * offending field and byte offset in the error.  Parsed tensors point into
 * the caller's buffer (no copies). */
#pragma once

#include <splitnn/sn-api.h>

#include <splitnn/sn-tensor.h>
#include <splitnn/sn-quant.h>
#include <splitnn/sn-codec.h>
#include <splitnn/sn-detect.h>

G_BEGIN_DECLS

#define SN_PACKET_MAGIC "SNFP"
#define SN_PACKET_VERSION 1
#define SN_PACKET_MAX_TENSORS 16
#define SN_PACKET_MAX_NAME 255
#define SN_PACKET_MAX_ELEMENTS (G_GINT64_CONSTANT (1) << 28)
#define SN_PTS_NONE G_MAXUINT64
#define SN_PACKET_FLAG_PATH 0x01

/* Cloud-only packets (docs/protocol.md, "Cloud-only on the wire"): cut id
 * SN_PACKET_CLOUD_ONLY_CUT_ID (SN_CUT_ID_CLOUD_ONLY of sn-option.h) and one
 * tensor, the model input as 1 x H x W x 3 8-bit RGB, whose codec byte is
 * SN_PACKET_CODEC_FRAME + the frame codec (SnFrameCodec: 0 h264, 1 jpeg)
 * and whose payload is one coded picture.  The parser takes these codec
 * values only in such a packet, and such a packet only with them. */
#define SN_PACKET_CLOUD_ONLY_CUT_ID 0xFFFFFFFDu
#define SN_PACKET_CODEC_FRAME 16
#define SN_PACKET_N_FRAME_CODECS 2

typedef struct {
  char name[SN_PACKET_MAX_NAME + 1];
  SnShape shape;
  int bits;                 /* 2, 4, 8, 16, 32 */
  SnCodec codec;            /* NONE, LOSSLESS or LOSSY */
  int n_ranges;             /* quantization ranges (1 or channels; 0 for 16/32 bits) */
  const guint8 *ranges;     /* n_ranges x (float32 scale, float32 offset), little-endian */
  const guint8 *payload;
  guint32 payload_len;
} SnPacketTensor;

typedef struct {
  guint32 stream_id;
  guint64 seq;
  guint64 pts;              /* ns, SN_PTS_NONE when unknown */
  /* Where the model input came from: the cloud maps boxes back through it. */
  guint32 frame_width, frame_height;
  float scale_x, scale_y, offset_x, offset_y;
  guint8 fingerprint[32];
  guint32 cut_id;
  char cut_name[SN_PACKET_MAX_NAME + 1];
  /* Trained path (sn-path.h) whose adapters the tensors went through; empty
   * for plain cut tensors.  Travels only when set (flag bit 0). */
  char path_name[SN_PACKET_MAX_NAME + 1];
  int n_tensors;
  SnPacketTensor tensors[SN_PACKET_MAX_TENSORS];
} SnPacket;

SN_API guint32 sn_crc32c (guint32 crc, const void *data, size_t len);

/* Fingerprint from the model's hex SHA-256; FALSE if not 64 hex digits. */
SN_API gboolean sn_fingerprint_from_hex (const char *hex, guint8 out[32]);

/* Serialises (ranges/payload pointers are read) into out, replacing it. */
SN_API void sn_packet_write (const SnPacket *p, GByteArray *out);
/* Parses and validates; tensors' pointers refer into data. */
SN_API gboolean sn_packet_parse (const guint8 *data, size_t len, SnPacket *p, GError **error);
/* Copies the ranges of tensor t into q (n and arrays). */
SN_API void sn_packet_tensor_ranges (const SnPacketTensor *t, SnQuantParams *q);

/* ---- Detections going back (docs/protocol.md, "Detections message") ----
 * The binary form of a frame's detections; sn-result.h has the JSON form
 * of the same record and one entry point for both. */

#define SN_RESULT_MAGIC "SNDT"
#define SN_RESULT_MAX_DETECTIONS 4096
#define SN_RESULT_MAX_WORKER 127          /* bytes of a worker name */
#define SN_RESULT_NO_CUT G_MAXUINT32      /* the whole network ran in one place */
#define SN_RESULT_FLAG_ORIGIN 0x01        /* time, model fingerprint and path follow the header */

typedef struct {
  guint32 stream_id;
  guint64 seq;              /* frame number within the stream */
  guint64 pts;              /* ns, SN_PTS_NONE when unknown */
  guint32 cut_id;           /* cut the frame was split at; SN_RESULT_NO_CUT when not split */
  guint32 cloud_us;         /* cloud compute time for this frame */
  /* Where the detections came from (all optional: zero / empty = unknown). */
  gint64 time_us;           /* wall clock when they were made, us since 1970-01-01 UTC */
  guint8 fingerprint[32];   /* SHA-256 of the model file */
  char path_name[SN_PACKET_MAX_NAME + 1];  /* trained path (sn-path.h) the feature took */
  /* The cloud worker that made them (docs/workers.md); JSON only, not in
   * the binary form. */
  char worker[SN_RESULT_MAX_WORKER + 1];
} SnResultHeader;

/* Zeroes h; pts unknown, no cut. */
SN_API void sn_result_header_init (SnResultHeader *h);
/* TRUE when the fingerprint is set (not all zero). */
SN_API gboolean sn_result_has_fingerprint (const SnResultHeader *h);

/* Binary (SNDT) form; at most SN_RESULT_MAX_DETECTIONS are written. */
SN_API void sn_result_write (const SnResultHeader *h, const SnDetections *d, GByteArray *out);
SN_API gboolean sn_result_parse (const guint8 *data, size_t len, SnResultHeader *h,
    SnDetections *d, GError **error);

G_END_DECLS
