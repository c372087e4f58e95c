/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs the fuzz target without libFuzzer, so every build exercises it:
 * valid packets (all codecs, bit widths, ranges) mutated at random, with
 * the CRC recomputed half of the time so the field checks are reached. */
#include <stdio.h>
#include <string.h>

#include <splitnn/splitnn.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
seed_packet (GRand *r, GByteArray *out)
{
  static const int bits[] = { 2, 4, 8, 16, 32 };
  int b = bits[g_rand_int_range (r, 0, 5)];
  SnCodec c = b > 8 ? SN_CODEC_NONE : (SnCodec) g_rand_int_range (r, 0, 3);
  int64_t C = g_rand_int_range (r, 1, 5), H = g_rand_int_range (r, 1, 9), W = g_rand_int_range (r, 1, 9);
  SnShape s = sn_shape_make (4, (int64_t[]) { 1, C, H, W });
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  for (int64_t i = 0; i < sn_tensor_numel (x); i++)
    ((float *) x->data)[i] = (float) g_rand_double_range (r, -1, 3);
  SnQuantConfig qc = { b, g_rand_boolean (r), 1.0 };
  SnQuantParams *q = g_new0 (SnQuantParams, 1);
  guint8 *packed = g_malloc (sn_tensor_numel (x) * 4 + 1);
  sn_quantize (x, &qc, NULL, q, packed, NULL);
  SnCodecContext *ctx = sn_codec_context_new ();
  GByteArray *coded = g_byte_array_new ();
  SnCodec used;
  sn_codec_encode (ctx, c, b, &s, packed, coded, &used, NULL);
  guint8 ranges[4 * 8 * 2];
  for (int k = 0; k < q->n; k++) {
    memcpy (ranges + 8 * k, &q->scale[k], 4);
    memcpy (ranges + 8 * k + 4, &q->offset[k], 4);
  }
  SnPacket p;
  memset (&p, 0, sizeof p);
  p.n_tensors = 1;
  p.frame_width = 640;
  p.frame_height = 480;
  p.scale_x = p.scale_y = 0.8f;
  strcpy (p.cut_name, "fuzz");
  strcpy (p.tensors[0].name, "t");
  p.tensors[0].shape = s;
  p.tensors[0].bits = b;
  p.tensors[0].codec = used;
  p.tensors[0].n_ranges = q->n;
  p.tensors[0].ranges = ranges;
  p.tensors[0].payload = coded->data;
  p.tensors[0].payload_len = coded->len;
  sn_packet_write (&p, out);
  g_byte_array_unref (coded);
  sn_codec_context_free (ctx);
  g_free (packed);
  g_free (q);
  sn_tensor_free (x);
}

int
main (int argc, char **argv)
{
  int iterations = argc > 1 ? atoi (argv[1]) : 20000;
  /* fuzz-driver --seeds DIR writes valid packets as a libFuzzer corpus. */
  if (argc > 2 && strcmp (argv[1], "--seeds") == 0) {
    GRand *r = g_rand_new_with_seed (1);
    GByteArray *b = g_byte_array_new ();
    for (int i = 0; i < 64; i++) {
      seed_packet (r, b);
      g_autofree char *path = g_strdup_printf ("%s/seed-%02d", argv[2], i);
      g_file_set_contents (path, (char *) b->data, b->len, NULL);
    }
    g_byte_array_unref (b);
    g_rand_free (r);
    return 0;
  }
  GRand *r = g_rand_new_with_seed (2026);
  GByteArray *b = g_byte_array_new ();
  for (int it = 0; it < iterations; it++) {
    seed_packet (r, b);
    LLVMFuzzerTestOneInput (b->data, b->len);       /* the valid packet itself */
    int flips = g_rand_int_range (r, 1, 8);
    for (int f = 0; f < flips; f++)
      b->data[g_rand_int_range (r, 0, b->len)] = (guint8) g_rand_int (r);
    if (it % 5 == 0)
      g_byte_array_set_size (b, g_rand_int_range (r, 0, b->len + 1));
    if (g_rand_boolean (r) && b->len > 8) {
      guint32 crc = sn_crc32c (0, b->data, b->len - 4);
      memcpy (b->data + b->len - 4, &crc, 4);
    }
    LLVMFuzzerTestOneInput (b->data, b->len);
  }
  printf ("fuzz-driver: %d mutated packets parsed without a crash\n", iterations);
  g_byte_array_unref (b);
  g_rand_free (r);
  return 0;
}
