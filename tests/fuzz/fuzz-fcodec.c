/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the temporal feature codec's decoder (sn-fcodec.h), the
 * cloud's other consumer of untrusted bytes.  An input is a stream of
 * frames, each a 2-byte little-endian length then that many bytes, decoded
 * in order by one decoder (so inter frames meet a reference, and frames
 * after a refused one meet a decoder waiting for a refresh). */
#include <stdint.h>
#include <string.h>

#include <splitnn/splitnn.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The shape and ranges every fuzz frame is decoded with (the driver's
 * seeds use the same). */
#define FZ_C 3
#define FZ_H 19
#define FZ_W 21
const float sn_fuzz_fcodec_lo[FZ_C] = { -1, 0, -4 };
const float sn_fuzz_fcodec_hi[FZ_C] = { 1, 6, 4 };

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  SnShape s = sn_shape_make (4, (int64_t[]) { 1, FZ_C, FZ_H, FZ_W });
  SnFcodecDecoder *d = sn_fcodec_decoder_new (&s, sn_fuzz_fcodec_lo, sn_fuzz_fcodec_hi, NULL);
  SnTensor *y = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  size_t at = 0;
  while (at + 2 <= size) {
    size_t len = data[at] | data[at + 1] << 8;
    at += 2;
    len = MIN (len, size - at);
    /* A copy of exactly len bytes, so reads past the frame are caught. */
    guint8 *frame = g_malloc (len ? len : 1);
    memcpy (frame, data + at, len);
    GError *err = NULL;
    if (!sn_fcodec_decode (d, frame, len, y, &err))
      g_error_free (err);
    g_free (frame);
    at += len;
  }
  sn_tensor_free (y);
  sn_fcodec_decoder_free (d);
  return 0;
}
