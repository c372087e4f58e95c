/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — feature packets (see sn-packet.h and docs/protocol.md). */
#include "splitnn/sn-packet.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "splitnn/sn-error.h"

/* ---- CRC32C (Castagnoli) ------------------------------------------------------ */

/* Every packet is checksummed whole on both sides, so this runs over
 * 100-600 KB per frame twice.  Byte at a time it took about 1 ms for the
 * largest cut's packet, a third of the edge's whole encode; x86-64 has had
 * a CRC32C instruction since SSE4.2 (8 bytes per instruction), and
 * elsewhere slicing by 8 (eight tables, eight bytes per step) is several
 * times faster than one byte per step.  tests/test-feature compares both
 * with a bitwise reference. */

static guint32 crc_table[8][256];

static void
crc_init (void)
{
  for (guint32 i = 0; i < 256; i++) {
    guint32 c = i;
    for (int k = 0; k < 8; k++)
      c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[0][i] = c;
  }
  for (int t = 1; t < 8; t++)
    for (guint32 i = 0; i < 256; i++)
      crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

/* crc is the running (inverted) register. */
static guint32
crc_sliced (guint32 crc, const guint8 *p, size_t len)
{
  for (; len >= 8; p += 8, len -= 8) {
    guint32 lo = crc ^ (guint32) (p[0] | p[1] << 8 | p[2] << 16 | (guint32) p[3] << 24);
    guint32 hi = (guint32) (p[4] | p[5] << 8 | p[6] << 16 | (guint32) p[7] << 24);
    crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff]
        ^ crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24]
        ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff]
        ^ crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
  }
  for (; len; p++, len--)
    crc = crc_table[0][(crc ^ *p) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define HAVE_CRC_SSE42 1

__attribute__ ((target ("sse4.2"))) static guint32
crc_sse42 (guint32 crc, const guint8 *p, size_t len)
{
  guint64 c = crc;
  for (; len >= 8; p += 8, len -= 8) {
    guint64 v;
    memcpy (&v, p, 8);          /* little-endian, any alignment */
    c = _mm_crc32_u64 (c, v);
  }
  for (; len; p++, len--)
    c = _mm_crc32_u8 ((guint32) c, *p);
  return (guint32) c;
}
#endif

static guint32 (*crc_update) (guint32, const guint8 *, size_t) = crc_sliced;

guint32
sn_crc32c (guint32 crc, const void *data, size_t len)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    crc_init ();
#ifdef HAVE_CRC_SSE42
    /* SPLITNN_CRC=sliced keeps the portable path (for its test). */
    if (__builtin_cpu_supports ("sse4.2") && g_strcmp0 (g_getenv ("SPLITNN_CRC"), "sliced") != 0)
      crc_update = crc_sse42;
#endif
    g_once_init_leave (&once, 1);
  }
  return ~crc_update (~crc, data, len);
}

gboolean
sn_fingerprint_from_hex (const char *hex, guint8 out[32])
{
  if (!hex || strlen (hex) != 64)
    return FALSE;
  for (int i = 0; i < 32; i++) {
    int hi = g_ascii_xdigit_value (hex[2 * i]), lo = g_ascii_xdigit_value (hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return FALSE;
    out[i] = (guint8) (hi << 4 | lo);
  }
  return TRUE;
}

/* ---- Writing ------------------------------------------------------------------ */

static void
put_u8 (GByteArray *b, guint8 v)
{
  g_byte_array_append (b, &v, 1);
}

static void
put_u16 (GByteArray *b, guint16 v)
{
  guint8 x[2] = { v & 0xff, v >> 8 };
  g_byte_array_append (b, x, 2);
}

static void
put_u32 (GByteArray *b, guint32 v)
{
  guint8 x[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
  g_byte_array_append (b, x, 4);
}

static void
put_u64 (GByteArray *b, guint64 v)
{
  put_u32 (b, (guint32) v);
  put_u32 (b, (guint32) (v >> 32));
}

void
sn_packet_write (const SnPacket *p, GByteArray *out)
{
  g_byte_array_set_size (out, 0);
  g_byte_array_append (out, (const guint8 *) SN_PACKET_MAGIC, 4);
  put_u8 (out, SN_PACKET_VERSION);
  put_u8 (out, p->path_name[0] ? SN_PACKET_FLAG_PATH : 0);  /* flags */
  put_u16 (out, (guint16) p->n_tensors);
  put_u32 (out, p->stream_id);
  put_u64 (out, p->seq);
  put_u64 (out, p->pts);
  put_u32 (out, p->frame_width);
  put_u32 (out, p->frame_height);
  float geo[4] = { p->scale_x, p->scale_y, p->offset_x, p->offset_y };
  for (int i = 0; i < 4; i++) {
    guint32 v;
    memcpy (&v, &geo[i], 4);
    put_u32 (out, v);
  }
  g_byte_array_append (out, p->fingerprint, 32);
  put_u32 (out, p->cut_id);
  size_t cn = strlen (p->cut_name);
  put_u16 (out, (guint16) cn);
  g_byte_array_append (out, (const guint8 *) p->cut_name, cn);
  if (p->path_name[0]) {
    size_t pn = strlen (p->path_name);
    put_u16 (out, (guint16) pn);
    g_byte_array_append (out, (const guint8 *) p->path_name, pn);
  }
  for (int i = 0; i < p->n_tensors; i++) {
    const SnPacketTensor *t = &p->tensors[i];
    size_t nn = strlen (t->name);
    put_u16 (out, (guint16) nn);
    g_byte_array_append (out, (const guint8 *) t->name, nn);
    put_u8 (out, (guint8) t->shape.rank);
    for (int d = 0; d < t->shape.rank; d++)
      put_u32 (out, (guint32) t->shape.dims[d]);
    put_u8 (out, (guint8) t->bits);
    put_u8 (out, (guint8) t->codec);
    put_u32 (out, (guint32) t->n_ranges);
    g_byte_array_append (out, t->ranges, t->n_ranges * 8);
    put_u32 (out, t->payload_len);
  }
  for (int i = 0; i < p->n_tensors; i++)
    g_byte_array_append (out, p->tensors[i].payload, p->tensors[i].payload_len);
  put_u32 (out, sn_crc32c (0, out->data, out->len));
}

/* ---- Parsing -------------------------------------------------------------------- */

typedef struct {
  const guint8 *data;
  size_t len, pos;
  GError **error;
} Reader;

static gboolean
need (Reader *r, size_t n, const char *field)
{
  if (r->len - r->pos < n) {
    g_set_error (r->error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "packet truncated in %s at byte %zu (%zu bytes needed, %zu left)", field, r->pos, n,
        r->len - r->pos);
    return FALSE;
  }
  return TRUE;
}

static gboolean
get_u8 (Reader *r, const char *f, guint8 *v)
{
  if (!need (r, 1, f))
    return FALSE;
  *v = r->data[r->pos++];
  return TRUE;
}

static gboolean
get_u16 (Reader *r, const char *f, guint16 *v)
{
  if (!need (r, 2, f))
    return FALSE;
  *v = (guint16) (r->data[r->pos] | r->data[r->pos + 1] << 8);
  r->pos += 2;
  return TRUE;
}

static gboolean
get_u32 (Reader *r, const char *f, guint32 *v)
{
  if (!need (r, 4, f))
    return FALSE;
  const guint8 *p = r->data + r->pos;
  *v = (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24;
  r->pos += 4;
  return TRUE;
}

static gboolean
get_u64 (Reader *r, const char *f, guint64 *v)
{
  guint32 lo, hi;
  if (!get_u32 (r, f, &lo) || !get_u32 (r, f, &hi))
    return FALSE;
  *v = (guint64) hi << 32 | lo;
  return TRUE;
}

static gboolean
get_string (Reader *r, const char *f, char *dst)
{
  guint16 n;
  if (!get_u16 (r, f, &n))
    return FALSE;
  if (n > SN_PACKET_MAX_NAME) {
    g_set_error (r->error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "%s length %u at byte %zu exceeds %d", f, n, r->pos - 2, SN_PACKET_MAX_NAME);
    return FALSE;
  }
  if (!need (r, n, f))
    return FALSE;
  memcpy (dst, r->data + r->pos, n);
  dst[n] = '\0';
  if (memchr (dst, '\0', n) || !g_utf8_validate (dst, n, NULL)) {
    g_set_error (r->error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "%s at byte %zu is not valid UTF-8 text", f, r->pos);
    return FALSE;
  }
  r->pos += n;
  return TRUE;
}

static gboolean
bad (Reader *r, size_t at, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
bad (Reader *r, size_t at, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *m = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (r->error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "%s (byte %zu)", m, at);
  return FALSE;
}

gboolean
sn_packet_parse (const guint8 *data, size_t len, SnPacket *p, GError **error)
{
  Reader r = { data, len, 0, error };
  memset (p, 0, sizeof *p);
  if (len < 8 || memcmp (data, SN_PACKET_MAGIC, 4) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "not a splitnn feature packet (bad magic)");
    return FALSE;
  }
  /* The CRC first: everything after it can then only be malformed by a
   * writer bug or a deliberate forgery, and is still checked field by field. */
  guint32 stored = (guint32) data[len - 4] | (guint32) data[len - 3] << 8
      | (guint32) data[len - 2] << 16 | (guint32) data[len - 1] << 24;
  if (sn_crc32c (0, data, len - 4) != stored) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "packet CRC32C mismatch over %zu bytes (corrupt or truncated)", len - 4);
    return FALSE;
  }
  r.len = len - 4;
  r.pos = 4;
  guint8 version, flags;
  guint16 n_tensors;
  if (!get_u8 (&r, "version", &version) || !get_u8 (&r, "flags", &flags)
      || !get_u16 (&r, "tensor count", &n_tensors))
    return FALSE;
  if (version != SN_PACKET_VERSION)
    return bad (&r, 4, "packet version %u is not supported (this build reads %d)", version, SN_PACKET_VERSION);
  if (flags & ~SN_PACKET_FLAG_PATH)
    return bad (&r, 5, "unknown flags 0x%02x", flags);
  if (n_tensors < 1 || n_tensors > SN_PACKET_MAX_TENSORS)
    return bad (&r, 6, "tensor count %u is outside 1..%d", n_tensors, SN_PACKET_MAX_TENSORS);
  p->n_tensors = n_tensors;
  if (!get_u32 (&r, "stream id", &p->stream_id) || !get_u64 (&r, "sequence number", &p->seq)
      || !get_u64 (&r, "pts", &p->pts) || !get_u32 (&r, "frame width", &p->frame_width)
      || !get_u32 (&r, "frame height", &p->frame_height))
    return FALSE;
  float geo[4];
  for (int i = 0; i < 4; i++) {
    guint32 v;
    if (!get_u32 (&r, "frame geometry", &v))
      return FALSE;
    memcpy (&geo[i], &v, 4);
    if (!isfinite (geo[i]) || (i < 2 && !(geo[i] > 0)))
      return bad (&r, r.pos - 4, "frame geometry value %d (%g) is invalid", i, geo[i]);
  }
  p->scale_x = geo[0];
  p->scale_y = geo[1];
  p->offset_x = geo[2];
  p->offset_y = geo[3];
  if (p->frame_width < 1 || p->frame_height < 1 || p->frame_width > 65536 || p->frame_height > 65536)
    return bad (&r, r.pos - 24, "frame size %ux%u is invalid", p->frame_width, p->frame_height);
  if (!need (&r, 32, "model fingerprint"))
    return FALSE;
  memcpy (p->fingerprint, data + r.pos, 32);
  r.pos += 32;
  if (!get_u32 (&r, "cut id", &p->cut_id) || !get_string (&r, "cut name", p->cut_name))
    return FALSE;
  p->path_name[0] = 0;
  if ((flags & SN_PACKET_FLAG_PATH) && !get_string (&r, "path name", p->path_name))
    return FALSE;
  guint64 payload_total = 0;
  for (int i = 0; i < n_tensors; i++) {
    SnPacketTensor *t = &p->tensors[i];
    guint8 rank, bits, codec;
    guint32 n_ranges;
    if (!get_string (&r, "tensor name", t->name) || !get_u8 (&r, "rank", &rank))
      return FALSE;
    if (rank < 1 || rank > SN_MAX_DIMS)
      return bad (&r, r.pos - 1, "tensor %d rank %u is outside 1..%d", i, rank, SN_MAX_DIMS);
    t->shape.rank = rank;
    int64_t numel = 1;
    for (int d = 0; d < rank; d++) {
      guint32 dim;
      if (!get_u32 (&r, "dimension", &dim))
        return FALSE;
      if (dim == 0 || (numel *= dim) > SN_PACKET_MAX_ELEMENTS)
        return bad (&r, r.pos - 4, "tensor %d dimension %d (%u) is zero or makes it too large", i, d, dim);
      t->shape.dims[d] = dim;
    }
    if (!get_u8 (&r, "bits", &bits) || !get_u8 (&r, "codec", &codec)
        || !get_u32 (&r, "range count", &n_ranges))
      return FALSE;
    /* The temporal codec (sn-fcodec.h) codes 1 x C x H x W tensors at 2..8
     * bits; its intra frames carry C ranges, its inter frames none (the
     * decoder keeps the intra frame's). */
    gboolean temporal = codec == SN_CODEC_TEMPORAL;
    /* Cloud-only: one coded picture of the model input, nothing else. */
    gboolean cloud_only = p->cut_id == SN_PACKET_CLOUD_ONLY_CUT_ID;
    gboolean frame = codec >= SN_PACKET_CODEC_FRAME
        && codec < SN_PACKET_CODEC_FRAME + SN_PACKET_N_FRAME_CODECS;
    if (cloud_only || frame) {
      if (!cloud_only || !frame || n_tensors != 1 || bits != 8 || rank != 4
          || t->shape.dims[0] != 1 || t->shape.dims[3] != 3)
        return bad (&r, r.pos - 6, "tensor %d: codec %u, %u bits, rank %u: a cloud-only packet "
            "(cut id 0x%x) carries one 1 x H x W x 3 8-bit picture with a frame codec (%d..%d), "
            "and only it has one", i, codec, bits, rank, SN_PACKET_CLOUD_ONLY_CUT_ID,
            SN_PACKET_CODEC_FRAME, SN_PACKET_CODEC_FRAME + SN_PACKET_N_FRAME_CODECS - 1);
      if (n_ranges != 0)
        return bad (&r, r.pos - 4, "tensor %d: a coded picture has no quantization ranges (%u)",
            i, n_ranges);
      t->bits = bits;
      t->codec = codec;
      t->n_ranges = 0;
      t->ranges = data + r.pos;
      if (!get_u32 (&r, "payload length", &t->payload_len))
        return FALSE;
      payload_total += t->payload_len;
      continue;
    }
    if (temporal ? bits < 2 || bits > 8 : !sn_quant_bits_valid (bits))
      return bad (&r, r.pos - 6, "tensor %d: %u bits is not one of %s", i, bits,
          temporal ? "2..8 (temporal codec)" : "2, 4, 8, 16, 32");
    if ((codec > SN_CODEC_LOSSY && !temporal) || (codec == SN_CODEC_LOSSY && bits > 8)
        || (temporal && (rank != 4 || t->shape.dims[0] != 1)))
      return bad (&r, r.pos - 5, "tensor %d: codec %u is invalid for %u bits and rank %u", i, codec,
          bits, rank);
    int64_t channels = rank >= 2 ? t->shape.dims[1] : 1;
    gboolean ranges_ok = temporal ? n_ranges == 0 || (int64_t) n_ranges == channels
        : bits > 8 ? n_ranges == 0 : (n_ranges == 1 || (int64_t) n_ranges == channels);
    if (!ranges_ok || n_ranges > SN_QUANT_MAX_CHANNELS)
      return bad (&r, r.pos - 4, "tensor %d: %u quantization ranges do not fit %u bits and %"
          G_GINT64_FORMAT " channels", i, n_ranges, bits, channels);
    if (!need (&r, (size_t) n_ranges * 8, "quantization ranges"))
      return FALSE;
    t->bits = bits;
    t->codec = codec;
    t->n_ranges = (int) n_ranges;
    t->ranges = data + r.pos;
    r.pos += (size_t) n_ranges * 8;
    for (guint32 k = 0; k < n_ranges; k++) {
      float scale, offset;
      memcpy (&scale, t->ranges + 8 * k, 4);
      memcpy (&offset, t->ranges + 8 * k + 4, 4);
      if (!(scale > 0) || !isfinite (scale) || !isfinite (offset))
        return bad (&r, r.pos - 8 * (n_ranges - k), "tensor %d: range %u has scale %g, offset %g",
            i, k, scale, offset);
    }
    if (!get_u32 (&r, "payload length", &t->payload_len))
      return FALSE;
    size_t packed = sn_quant_packed_size (numel, bits);
    if (codec == SN_CODEC_NONE && t->payload_len != packed)
      return bad (&r, r.pos - 4, "tensor %d: raw payload of %u bytes, %zu expected", i, t->payload_len, packed);
    payload_total += t->payload_len;
  }
  if (payload_total != r.len - r.pos)
    return bad (&r, r.pos, "payloads declare %" G_GUINT64_FORMAT " bytes, %zu follow", payload_total,
        r.len - r.pos);
  for (int i = 0; i < n_tensors; i++) {
    p->tensors[i].payload = data + r.pos;
    r.pos += p->tensors[i].payload_len;
  }
  return TRUE;
}

void
sn_packet_tensor_ranges (const SnPacketTensor *t, SnQuantParams *q)
{
  q->n = t->n_ranges;
  for (int k = 0; k < t->n_ranges; k++) {
    memcpy (&q->scale[k], t->ranges + 8 * k, 4);
    memcpy (&q->offset[k], t->ranges + 8 * k + 4, 4);
  }
}

/* ---- Detections ---------------------------------------------------------------- */

void
sn_result_header_init (SnResultHeader *h)
{
  memset (h, 0, sizeof *h);
  h->pts = SN_PTS_NONE;
  h->cut_id = SN_RESULT_NO_CUT;
}

gboolean
sn_result_has_fingerprint (const SnResultHeader *h)
{
  for (int i = 0; i < 32; i++)
    if (h->fingerprint[i])
      return TRUE;
  return FALSE;
}

void
sn_result_write (const SnResultHeader *h, const SnDetections *d, GByteArray *out)
{
  int n = MIN (d->n, SN_RESULT_MAX_DETECTIONS);
  g_byte_array_set_size (out, 0);
  g_byte_array_append (out, (const guint8 *) SN_RESULT_MAGIC, 4);
  put_u8 (out, 1);
  put_u8 (out, SN_RESULT_FLAG_ORIGIN);
  put_u16 (out, (guint16) n);
  put_u32 (out, h->stream_id);
  put_u64 (out, h->seq);
  put_u64 (out, h->pts);
  put_u32 (out, h->cut_id);
  put_u32 (out, h->cloud_us);
  put_u64 (out, (guint64) MAX (h->time_us, 0));
  g_byte_array_append (out, h->fingerprint, 32);
  size_t pn = strnlen (h->path_name, SN_PACKET_MAX_NAME);
  put_u16 (out, (guint16) pn);
  g_byte_array_append (out, (const guint8 *) h->path_name, pn);
  for (int i = 0; i < n; i++) {
    const SnDetection *e = &d->items[i];
    put_u16 (out, (guint16) e->class_id);
    put_u16 (out, 0);
    float f[5] = { e->score, e->x0, e->y0, e->x1, e->y1 };
    for (int k = 0; k < 5; k++) {
      guint32 v;
      memcpy (&v, &f[k], 4);
      put_u32 (out, v);
    }
  }
  put_u32 (out, sn_crc32c (0, out->data, out->len));
}

gboolean
sn_result_parse (const guint8 *data, size_t len, SnResultHeader *h, SnDetections *d,
    GError **error)
{
  Reader r = { data, len, 0, error };
  if (len < 40 || memcmp (data, SN_RESULT_MAGIC, 4) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "not a splitnn detections message");
    return FALSE;
  }
  guint32 stored = (guint32) data[len - 4] | (guint32) data[len - 3] << 8
      | (guint32) data[len - 2] << 16 | (guint32) data[len - 1] << 24;
  if (sn_crc32c (0, data, len - 4) != stored) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET, "detections message CRC32C mismatch");
    return FALSE;
  }
  r.len = len - 4;
  r.pos = 4;
  guint8 version, flags;
  guint16 n;
  sn_result_header_init (h);
  if (!get_u8 (&r, "version", &version) || !get_u8 (&r, "flags", &flags) || !get_u16 (&r, "count", &n)
      || !get_u32 (&r, "stream id", &h->stream_id) || !get_u64 (&r, "sequence number", &h->seq)
      || !get_u64 (&r, "pts", &h->pts) || !get_u32 (&r, "cut id", &h->cut_id)
      || !get_u32 (&r, "cloud time", &h->cloud_us))
    return FALSE;
  if (version != 1 || (flags & ~SN_RESULT_FLAG_ORIGIN) != 0)
    return bad (&r, 4, "detections message version %u / flags %u not supported", version, flags);
  if (flags & SN_RESULT_FLAG_ORIGIN) {
    guint64 t;
    if (!get_u64 (&r, "wall-clock time", &t) || !need (&r, 32, "model fingerprint"))
      return FALSE;
    if (t > G_MAXINT64)
      return bad (&r, r.pos - 8, "wall-clock time %" G_GUINT64_FORMAT " out of range", t);
    h->time_us = (gint64) t;
    memcpy (h->fingerprint, r.data + r.pos, 32);
    r.pos += 32;
    if (!get_string (&r, "path name", h->path_name))
      return FALSE;
  }
  if (r.len - r.pos != (size_t) n * 24)
    return bad (&r, r.pos, "%u detections need %u bytes, %zu follow", n, n * 24u, r.len - r.pos);
  d->n = 0;
  for (int i = 0; i < n; i++) {
    guint16 cls = 0, pad = 0;
    guint32 v[5] = { 0 };
    get_u16 (&r, "class", &cls);
    get_u16 (&r, "padding", &pad);
    for (int k = 0; k < 5; k++)
      get_u32 (&r, "box", &v[k]);
    SnDetection e = { .class_id = cls, .label = sn_coco_label (cls) };
    memcpy (&e.score, &v[0], 4);
    memcpy (&e.x0, &v[1], 4);
    memcpy (&e.y0, &v[2], 4);
    memcpy (&e.x1, &v[3], 4);
    memcpy (&e.y1, &v[4], 4);
    sn_detections_add (d, &e);
  }
  return TRUE;
}
