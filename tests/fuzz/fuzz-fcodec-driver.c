/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Runs the feature-codec fuzz target without libFuzzer, so every build
 * exercises it: valid streams (random bit widths, dead zones, tiles, intra
 * and inter frames) with bytes flipped, lengths changed and frames dropped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <splitnn/splitnn.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
extern const float sn_fuzz_fcodec_lo[], sn_fuzz_fcodec_hi[];

static void
seed_stream (GRand *r, GByteArray *out)
{
  SnShape s = sn_shape_make (4, (int64_t[]) { 1, 3, 19, 21 });
  SnFcodecConfig cfg;
  sn_fcodec_config_init (&cfg);
  cfg.bits = g_rand_int_range (r, 2, 9);
  cfg.dead_zone = g_rand_int_range (r, 0, 3);
  cfg.tile = 4 << g_rand_int_range (r, 0, 4);
  cfg.refresh = g_rand_int_range (r, 0, 3);
  cfg.rolling = g_rand_int_range (r, 0, 4);
  cfg.residual_step = g_rand_int_range (r, 1, 2 * cfg.dead_zone + 2);
  SnFcodecEncoder *e = sn_fcodec_encoder_new (&s, sn_fuzz_fcodec_lo, sn_fuzz_fcodec_hi, &cfg, NULL);
  SnTensor *x = sn_tensor_new (SN_DTYPE_FLOAT32, &s);
  GByteArray *frame = g_byte_array_new ();
  int frames = g_rand_int_range (r, 1, 5);
  for (int f = 0; f < frames; f++) {
    for (int64_t i = 0; i < sn_tensor_numel (x); i++)
      ((float *) x->data)[i] = f == 0 || g_rand_int_range (r, 0, 8) == 0
          ? (float) g_rand_double_range (r, -5, 7) : ((float *) x->data)[i];
    g_byte_array_set_size (frame, 0);
    sn_fcodec_encode (e, x, frame, NULL);
    guint8 len[2] = { (guint8) frame->len, (guint8) (frame->len >> 8) };
    g_byte_array_append (out, len, 2);
    g_byte_array_append (out, frame->data, frame->len);
  }
  g_byte_array_unref (frame);
  sn_tensor_free (x);
  sn_fcodec_encoder_free (e);
}

int
main (int argc, char **argv)
{
  GRand *r = g_rand_new_with_seed (20261207);
  GByteArray *buf = g_byte_array_new ();
  if (argc == 3 && strcmp (argv[1], "--seeds") == 0) {
    /* 32 valid streams as a starting corpus for libFuzzer (docs/testing.md). */
    for (int k = 0; k < 32; k++) {
      g_byte_array_set_size (buf, 0);
      seed_stream (r, buf);
      g_autofree char *path = g_strdup_printf ("%s/fcodec-%02d", argv[2], k);
      if (!g_file_set_contents (path, (const char *) buf->data, buf->len, NULL))
        return 1;
    }
    return 0;
  }
  int iterations = argc > 1 ? atoi (argv[1]) : 5000;
  for (int it = 0; it < iterations; it++) {
    g_byte_array_set_size (buf, 0);
    seed_stream (r, buf);
    int flips = g_rand_int_range (r, 0, 6);
    for (int k = 0; k < flips && buf->len; k++)
      buf->data[g_rand_int_range (r, 0, buf->len)] ^= (guint8) (1 << g_rand_int_range (r, 0, 8));
    size_t size = buf->len;
    if (g_rand_int_range (r, 0, 4) == 0)
      size = g_rand_int_range (r, 0, buf->len + 1);
    LLVMFuzzerTestOneInput (buf->data, size);
  }
  printf ("fuzz-fcodec-driver: %d streams decoded without a crash\n", iterations);
  g_byte_array_unref (buf);
  g_rand_free (r);
  return 0;
}
