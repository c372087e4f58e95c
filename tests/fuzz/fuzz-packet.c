/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: everything the cloud does with untrusted bytes before
 * they reach the network — packet parsing, codec decoding, dequantizing. */
#include <stdint.h>
#include <string.h>

#include <splitnn/splitnn.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void parse_and_decode (const uint8_t *data, size_t size);

/* Each input is tried as it is and with its CRC recomputed, so mutations
 * reach the field checks behind the CRC. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  parse_and_decode (data, size);
  if (size > 8) {
    uint8_t *copy = g_memdup2 (data, size);
    guint32 crc = sn_crc32c (0, copy, size - 4);
    memcpy (copy + size - 4, &crc, 4);
    parse_and_decode (copy, size);
    g_free (copy);
  }
  return 0;
}

static void
parse_and_decode (const uint8_t *data, size_t size)
{
  static SnCodecContext *codec;
  static SnQuantParams params;
  if (!codec)
    codec = sn_codec_context_new ();
  SnPacket p;
  GError *err = NULL;
  if (!sn_packet_parse (data, size, &p, &err)) {
    g_error_free (err);
    return;
  }
  for (int i = 0; i < p.n_tensors; i++) {
    const SnPacketTensor *t = &p.tensors[i];
    int64_t n = sn_shape_numel (&t->shape);
    if (n > (1 << 22))
      continue;                 /* valid but too big to be worth a fuzz iteration */
    size_t len = sn_quant_packed_size (n, t->bits);
    guint8 *packed = g_malloc (len ? len : 1);
    SnTensor *out = sn_tensor_new (SN_DTYPE_FLOAT32, &t->shape);
    sn_packet_tensor_ranges (t, &params);
    if (sn_codec_decode (codec, t->codec, t->bits, &t->shape, t->payload, t->payload_len, packed, &err))
      sn_dequantize (packed, len, t->bits, &params, out, &err);
    g_clear_error (&err);
    sn_tensor_free (out);
    g_free (packed);
  }
}
