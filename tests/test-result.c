/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A frame's detections on the wire (sn-result.h): JSON lines and the
 * binary SNDT message round-trip, hand-written samples parse to values
 * worked out by hand, and malformed input is refused with an error that
 * names the field. */
#include <check.h>
#include <math.h>
#include <string.h>

#include <splitnn/splitnn.h>

#define FP_HEX "00112233445566778899aabbccddeeff0123456789abcdef0123456789abcdef"

/* Values on the JSON grid (scores to 4 decimals, boxes to 0.1 px) so that
 * the JSON round trip, too, must give back the same floats. */
static void
sample (SnResultHeader *h, SnDetections *d)
{
  sn_result_header_init (h);
  h->stream_id = 7;
  h->seq = 123456789012ULL;
  h->pts = 4100000000ULL;
  h->cut_id = 4;
  h->cloud_us = 12345;
  h->time_us = G_GINT64_CONSTANT (1796660711123456);
  ck_assert (sn_fingerprint_from_hex (FP_HEX, h->fingerprint));
  g_strlcpy (h->path_name, "c4-\"adapt\"\\é", sizeof h->path_name);
  sn_detections_init (d);
  const SnDetection e[3] = {
    { 0, "person", 0.9123f, 10.5f, 20.0f, 110.5f, 300.0f },
    { 2, "car", 0.3f, -3.5f, 0.0f, 639.9f, 479.9f },
    { 79, "toothbrush", 1.0f, 0, 0, 1, 1 },
  };
  for (int i = 0; i < 3; i++)
    sn_detections_add (d, &e[i]);
}

static void
assert_same (const SnResultHeader *a, const SnDetections *da, const SnResultHeader *b, const SnDetections *db)
{
  ck_assert_uint_eq (a->stream_id, b->stream_id);
  ck_assert_uint_eq (a->seq, b->seq);
  ck_assert_uint_eq (a->pts, b->pts);
  ck_assert_uint_eq (a->cut_id, b->cut_id);
  ck_assert_uint_eq (a->cloud_us, b->cloud_us);
  ck_assert_int_eq (a->time_us, b->time_us);
  ck_assert_mem_eq (a->fingerprint, b->fingerprint, 32);
  ck_assert_str_eq (a->path_name, b->path_name);
  ck_assert_int_eq (da->n, db->n);
  for (int i = 0; i < da->n; i++) {
    const SnDetection *x = &da->items[i], *y = &db->items[i];
    ck_assert_int_eq (x->class_id, y->class_id);
    ck_assert_str_eq (x->label, y->label);
    ck_assert (x->score == y->score && x->x0 == y->x0 && x->y0 == y->y0 && x->x1 == y->x1 && x->y1 == y->y1);
  }
}

START_TEST (test_round_trip)
{
  const SnResultFormat formats[2] = { SN_RESULT_BINARY, SN_RESULT_JSON };
  SnResultHeader h, g;
  SnDetections d, e;
  sample (&h, &d);
  sn_detections_init (&e);
  GByteArray *buf = g_byte_array_new ();
  for (int f = 0; f < 2; f++) {
    GError *err = NULL;
    sn_result_serialize (formats[f], &h, &d, buf);
    ck_assert_msg (sn_result_deserialize (formats[f], buf->data, buf->len, &g, &e, &err), "%s: %s",
        sn_result_format_name (formats[f]), err ? err->message : "");
    assert_same (&h, &d, &g, &e);
    /* Nothing known but the required fields: unknowns stay unknown. */
    SnResultHeader bare;
    sn_result_header_init (&bare);
    bare.seq = 3;
    d.n = 0;
    sn_result_serialize (formats[f], &bare, &d, buf);
    ck_assert (sn_result_deserialize (formats[f], buf->data, buf->len, &g, &e, NULL));
    assert_same (&bare, &d, &g, &e);
    ck_assert_uint_eq (g.pts, SN_PTS_NONE);
    ck_assert_uint_eq (g.cut_id, SN_RESULT_NO_CUT);
    ck_assert (!sn_result_has_fingerprint (&g));
    sn_detections_clear (&d);
    sample (&h, &d);
  }
  /* Off the grid, JSON keeps what it promises: 4 decimals, 0.1 px. */
  d.items[0].score = 0.123456f;
  d.items[0].x0 = 10.04f;
  d.items[0].y1 = 299.96f;
  sn_result_write_json (&h, &d, buf);
  ck_assert (sn_result_parse_json (buf->data, buf->len, &g, &e, NULL));
  ck_assert_float_eq_tol (e.items[0].score, 0.1235f, 1e-6);
  ck_assert_float_eq_tol (e.items[0].x0, 10.0f, 1e-4);
  ck_assert_float_eq_tol (e.items[0].y1, 300.0f, 1e-4);
  g_byte_array_unref (buf);
  sn_detections_clear (&d);
  sn_detections_clear (&e);
}
END_TEST

/* The writer's exact text for a known record: the schema as documented. */
START_TEST (test_json_text)
{
  SnResultHeader h;
  SnDetections d;
  sample (&h, &d);
  d.n = 1;
  g_strlcpy (h.path_name, "p", sizeof h.path_name);
  GByteArray *buf = g_byte_array_new ();
  sn_result_write_json (&h, &d, buf);
  g_autofree char *text = g_strndup ((const char *) buf->data, buf->len);
  ck_assert_str_eq (text, "{\"stream\": 7, \"seq\": 123456789012, \"pts\": 4100000000, "
      "\"time\": \"2026-12-07T16:25:11.123456Z\", \"model\": \"" FP_HEX "\", \"cut\": 4, \"path\": \"p\", "
      "\"cloud_ms\": 12.345, \"detections\": [{\"label\": \"person\", \"class_id\": 0, \"score\": 0.9123, "
      "\"box\": [10.5, 20.0, 110.5, 300.0]}]}\n");
  g_byte_array_unref (buf);
  sn_detections_clear (&d);
}
END_TEST

/* With a pool of workers the line says which one (docs/workers.md); the
 * key comes after "path" and is absent without a worker. */
START_TEST (test_json_worker)
{
  SnResultHeader h, back;
  SnDetections d, d2;
  sample (&h, &d);
  d.n = 0;
  sn_detections_init (&d2);
  h.path_name[0] = 0;
  g_strlcpy (h.worker, "cloud-a:4242", sizeof h.worker);
  GByteArray *buf = g_byte_array_new ();
  sn_result_write_json (&h, &d, buf);
  g_autofree char *text = g_strndup ((const char *) buf->data, buf->len);
  ck_assert_msg (strstr (text, "\"path\": null, \"worker\": \"cloud-a:4242\", \"cloud_ms\": ") != NULL,
      "%s", text);
  ck_assert (sn_result_parse_json (buf->data, buf->len, &back, &d2, NULL));
  ck_assert_str_eq (back.worker, "cloud-a:4242");
  const char *bad = "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"worker\": 5, \"detections\": []}";
  GError *err = NULL;
  ck_assert (!sn_result_parse_json ((const guint8 *) bad, strlen (bad), &back, &d2, &err));
  ck_assert (strstr (err->message, "'worker'") != NULL);
  g_clear_error (&err);
  g_byte_array_unref (buf);
  sn_detections_clear (&d);
  sn_detections_clear (&d2);
}
END_TEST

/* Hand-written lines, as another program would send them. */
START_TEST (test_json_samples)
{
  SnResultHeader h;
  SnDetections d;
  sn_detections_init (&d);
  GError *err = NULL;
  const char *a = "  {\"detections\": [{\"class_id\": 2, \"score\": 1, \"box\": [1, 2.25, 3e2, -4]}],"
      " \"seq\": 9, \"stream\": 4294967295, \"pts\": null, \"extra\": {\"ignored\": true},"
      " \"time\": \"2026-12-07T16:25:11.5+02:00\", \"cut\": null}\n\n";
  ck_assert_msg (sn_result_parse_json ((const guint8 *) a, strlen (a), &h, &d, &err), "%s", err ? err->message : "");
  ck_assert_uint_eq (h.stream_id, 4294967295u);
  ck_assert_uint_eq (h.seq, 9);
  ck_assert_uint_eq (h.pts, SN_PTS_NONE);
  ck_assert_uint_eq (h.cut_id, SN_RESULT_NO_CUT);
  ck_assert_int_eq (h.time_us, G_GINT64_CONSTANT (1796653511500000));       /* 14:25:11.5 UTC */
  ck_assert (!sn_result_has_fingerprint (&h));
  ck_assert_str_eq (h.path_name, "");
  ck_assert_uint_eq (h.cloud_us, 0);
  ck_assert_int_eq (d.n, 1);
  ck_assert_str_eq (d.items[0].label, "car");                  /* from the class id */
  ck_assert (d.items[0].score == 1.0f && d.items[0].x0 == 1.0f && d.items[0].y0 == 2.25f
      && d.items[0].x1 == 300.0f && d.items[0].y1 == -4.0f);

  const char *b = "{\"stream\": 0, \"seq\": 0, \"pts\": 33366666, \"cut\": 12, \"cloud_ms\": 0.5,"
      " \"model\": \"" FP_HEX "\", \"path\": \"trained-4\", \"detections\": []}";
  ck_assert (sn_result_parse_json ((const guint8 *) b, strlen (b), &h, &d, NULL));
  ck_assert_uint_eq (h.pts, 33366666);
  ck_assert_uint_eq (h.cut_id, 12);
  ck_assert_uint_eq (h.cloud_us, 500);
  ck_assert_uint_eq (h.fingerprint[0], 0x00);
  ck_assert_uint_eq (h.fingerprint[1], 0x11);
  ck_assert_uint_eq (h.fingerprint[31], 0xef);
  ck_assert_str_eq (h.path_name, "trained-4");
  ck_assert_int_eq (d.n, 0);
  sn_detections_clear (&d);
}
END_TEST

static const struct {
  const char *text, *error;
} bad_json[] = {
  { "", "not a JSON object" },
  { "{\"stream\": 0,", "not valid JSON" },
  { "[1, 2]", "not a JSON object" },
  { "{\"seq\": 0, \"pts\": 0, \"detections\": []}", "'stream' is missing" },
  { "{\"stream\": -1, \"seq\": 0, \"pts\": 0, \"detections\": []}", "'stream' -1 is not in 0-4294967295" },
  { "{\"stream\": 0, \"seq\": 1.5, \"pts\": 0, \"detections\": []}", "'seq' is not an integer" },
  { "{\"stream\": 0, \"seq\": \"1\", \"pts\": 0, \"detections\": []}", "'seq' is not an integer" },
  { "{\"stream\": 0, \"seq\": 0, \"detections\": []}", "'pts' is missing" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0}", "'detections' is missing or not an array" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"detections\": {}}", "'detections' is missing or not an array" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"cut\": true, \"detections\": []}", "'cut' is not an integer" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"cloud_ms\": -1, \"detections\": []}", "'cloud_ms' is not a number" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"time\": \"yesterday\", \"detections\": []}", "'time' \"yesterday\" is not an ISO 8601" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"time\": \"2026-12-07T16:25:11\", \"detections\": []}", "is not an ISO 8601 time with a zone" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"model\": \"abc\", \"detections\": []}", "'model' is not a SHA-256" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"path\": 3, \"detections\": []}", "'path' is not a string" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"detections\": [3]}", "detections[0]: not an object" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"detections\": [{\"score\": 1, \"box\": [0, 0, 1, 1]}]}",
    "detections[0]: 'class_id' is missing" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"detections\": [{\"class_id\": 70000, \"score\": 1, \"box\": [0, 0, 1, 1]}]}",
    "detections[0]: 'class_id' 70000 is not in 0-65535" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"detections\": [{\"class_id\": 0, \"score\": 1, \"box\": [0, 0, 1, 1]},"
    " {\"class_id\": 0, \"box\": [0, 0, 1, 1]}]}", "detections[1]: 'score' is missing" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"detections\": [{\"class_id\": 0, \"score\": null, \"box\": [0, 0, 1, 1]}]}",
    "detections[0]: 'score' is missing or not a finite number" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"detections\": [{\"class_id\": 0, \"score\": 1, \"box\": [0, 0, 1]}]}",
    "detections[0]: 'box' is missing or not an array of 4 numbers" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"detections\": [{\"class_id\": 0, \"score\": 1, \"box\": [0, 0, \"1\", 1]}]}",
    "detections[0]: 'box'[2] is not a finite number" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"detections\": [{\"class_id\": 0, \"score\": 1e300, \"box\": [0, 0, 1, 1]}]}",
    "detections[0]: 'score' is missing or not a finite number" },
  { "{\"stream\": 0, \"seq\": 0, \"pts\": 0, \"detections\": [{\"class_id\": 0, \"label\": 5, \"score\": 1, \"box\": [0, 0, 1, 1]}]}",
    "detections[0]: 'label' is not a string" },
};

START_TEST (test_json_malformed)
{
  SnResultHeader h;
  SnDetections d;
  sn_detections_init (&d);
  GError *err = NULL;
  const char *t = bad_json[_i].text;
  ck_assert_msg (!sn_result_parse_json ((const guint8 *) t, strlen (t), &h, &d, &err), "accepted: %s", t);
  ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_PARSE));
  ck_assert_msg (strstr (err->message, bad_json[_i].error), "%s: got \"%s\", wanted \"%s\"", t, err->message,
      bad_json[_i].error);
  g_error_free (err);
  sn_detections_clear (&d);
}
END_TEST

/* A score the writer cannot spell in JSON comes out as null and is refused
 * on the way in, rather than becoming an invalid line. */
START_TEST (test_json_non_finite)
{
  SnResultHeader h, g;
  SnDetections d;
  sample (&h, &d);
  d.items[1].score = NAN;
  GByteArray *buf = g_byte_array_new ();
  sn_result_write_json (&h, &d, buf);
  GError *err = NULL;
  ck_assert (!sn_result_parse_json (buf->data, buf->len, &g, &d, &err));
  ck_assert_ptr_nonnull (strstr (err->message, "detections[1]: 'score'"));
  g_error_free (err);
  g_byte_array_unref (buf);
  sn_detections_clear (&d);
}
END_TEST

static void
put_le (GByteArray *b, guint64 v, int bytes)
{
  for (int i = 0; i < bytes; i++) {
    guint8 x = (guint8) (v >> (8 * i));
    g_byte_array_append (b, &x, 1);
  }
}

static void
close_crc (GByteArray *b)
{
  put_le (b, sn_crc32c (0, b->data, b->len), 4);
}

/* A message laid out byte by byte from docs/protocol.md: the version-1
 * header without the origin block (flags 0), one detection. */
START_TEST (test_binary_hand_made)
{
  GByteArray *b = g_byte_array_new ();
  g_byte_array_append (b, (const guint8 *) "SNDT", 4);
  put_le (b, 1, 1);
  put_le (b, 0, 1);
  put_le (b, 1, 2);
  put_le (b, 3, 4);
  put_le (b, 77, 8);
  put_le (b, 1000, 8);
  put_le (b, 5, 4);
  put_le (b, 2500, 4);
  put_le (b, 17, 2);
  put_le (b, 0, 2);
  const guint32 f[5] = { 0x3f400000, 0x41200000, 0x41a00000, 0x42c80000, 0x43480000 };  /* .75 10 20 100 200 */
  for (int k = 0; k < 5; k++)
    put_le (b, f[k], 4);
  close_crc (b);
  SnResultHeader h;
  SnDetections d;
  sn_detections_init (&d);
  GError *err = NULL;
  ck_assert_msg (sn_result_parse (b->data, b->len, &h, &d, &err), "%s", err ? err->message : "");
  ck_assert_uint_eq (h.stream_id, 3);
  ck_assert_uint_eq (h.seq, 77);
  ck_assert_uint_eq (h.pts, 1000);
  ck_assert_uint_eq (h.cut_id, 5);
  ck_assert_uint_eq (h.cloud_us, 2500);
  ck_assert_int_eq (h.time_us, 0);
  ck_assert (!sn_result_has_fingerprint (&h));
  ck_assert_int_eq (d.n, 1);
  ck_assert_int_eq (d.items[0].class_id, 17);
  ck_assert_str_eq (d.items[0].label, "horse");
  ck_assert (d.items[0].score == 0.75f && d.items[0].x0 == 10 && d.items[0].y0 == 20
      && d.items[0].x1 == 100 && d.items[0].y1 == 200);

  /* The same with the origin block: time, fingerprint, path "ab". */
  b->data[5] = SN_RESULT_FLAG_ORIGIN;
  GByteArray *o = g_byte_array_new ();
  g_byte_array_append (o, b->data, 36);
  put_le (o, 1796660711000000ULL, 8);
  guint8 fp[32];
  sn_fingerprint_from_hex (FP_HEX, fp);
  g_byte_array_append (o, fp, 32);
  put_le (o, 2, 2);
  g_byte_array_append (o, (const guint8 *) "ab", 2);
  g_byte_array_append (o, b->data + 36, 24);
  close_crc (o);
  ck_assert_msg (sn_result_parse (o->data, o->len, &h, &d, &err), "%s", err ? err->message : "");
  ck_assert_int_eq (h.time_us, G_GINT64_CONSTANT (1796660711000000));
  ck_assert_mem_eq (h.fingerprint, fp, 32);
  ck_assert_str_eq (h.path_name, "ab");
  ck_assert_int_eq (d.n, 1);

  /* Broken ones name what is wrong. */
  struct {
    int cut, patch_at, patch;
    const char *error;
  } bad[] = {
    { 0, -1, 0, NULL },                                  /* filled in below: CRC */
    { 0, 5, 0x80, "flags 128 not supported" },
    { 0, 4, 2, "version 2" },
    { 0, 77, 0xff, "path name length 65282" },          /* path length 0xff02 */
    { 3, -1, 0, "1 detections need 24 bytes, 21 follow" },   /* detection cut short */
    { 30, -1, 0, "truncated in model fingerprint" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    GByteArray *c = g_byte_array_new ();
    g_byte_array_append (c, o->data, o->len - 4 - bad[i].cut);
    if (bad[i].patch_at >= 0)
      c->data[bad[i].patch_at] = (guint8) bad[i].patch;
    if (i == 0)
      put_le (c, 0, 4);
    else
      close_crc (c);
    ck_assert (!sn_result_parse (c->data, c->len, &h, &d, &err));
    ck_assert_msg (strstr (err->message, i == 0 ? "CRC32C mismatch" : bad[i].error), "case %u: %s", i, err->message);
    g_clear_error (&err);
    g_byte_array_unref (c);
  }
  g_byte_array_unref (o);
  g_byte_array_unref (b);
  sn_detections_clear (&d);
}
END_TEST

/* Random damage to valid messages of both forms (bytes flipped, inserted,
 * deleted, cut short; the binary CRC fixed half of the time so the field
 * checks are reached): the parsers never crash (the sanitizer build
 * watches), and whatever they accept writes back to something they accept
 * again, unchanged. */
START_TEST (test_mutations)
{
  GRand *rand = g_rand_new_with_seed (20261207);
  SnResultHeader h, g;
  SnDetections d, e;
  sample (&h, &d);
  sn_detections_init (&e);
  GByteArray *valid[2] = { g_byte_array_new (), g_byte_array_new () };
  sn_result_write (&h, &d, valid[0]);
  sn_result_write_json (&h, &d, valid[1]);
  GByteArray *m = g_byte_array_new (), *w1 = g_byte_array_new (), *w2 = g_byte_array_new ();
  int accepted[2] = { 0, 0 };
  for (int i = 0; i < 20000; i++) {
    SnResultFormat f = (SnResultFormat) (i % 2);
    g_byte_array_set_size (m, 0);
    g_byte_array_append (m, valid[f]->data, valid[f]->len);
    int edits = g_rand_int_range (rand, 1, 4);
    for (int k = 0; k < edits && m->len > 1; k++) {
      guint at = g_rand_int_range (rand, 0, m->len);
      switch (g_rand_int_range (rand, 0, 4)) {
        case 0: m->data[at] ^= (guint8) (1 << g_rand_int_range (rand, 0, 8)); break;
        case 1: m->data[at] = (guint8) g_rand_int_range (rand, 0, 256); break;
        case 2: g_byte_array_remove_index (m, at); break;
        default: g_byte_array_set_size (m, at); break;
      }
    }
    if (f == SN_RESULT_BINARY && m->len > 8 && g_rand_boolean (rand)) {
      guint32 crc = sn_crc32c (0, m->data, m->len - 4);
      for (int b = 0; b < 4; b++)
        m->data[m->len - 4 + b] = (guint8) (crc >> (8 * b));
    }
    GError *err = NULL;
    if (!sn_result_deserialize (f, m->data, m->len, &g, &e, &err)) {
      ck_assert (err != NULL && err->message[0]);
      g_error_free (err);
      continue;
    }
    accepted[f]++;
    sn_result_serialize (f, &g, &e, w1);
    ck_assert_msg (sn_result_deserialize (f, w1->data, w1->len, &g, &e, &err), "%s: rewritten message refused: %s",
        sn_result_format_name (f), err ? err->message : "");
    sn_result_serialize (f, &g, &e, w2);
    ck_assert (w1->len == w2->len && memcmp (w1->data, w2->data, w1->len) == 0);
  }
  g_print ("mutations: %d of 10000 binary and %d of 10000 JSON messages still valid\n", accepted[0], accepted[1]);
  /* Some damage leaves a valid message (a digit changed, a fixed CRC). */
  ck_assert_int_gt (accepted[0], 0);
  ck_assert_int_gt (accepted[1], 0);
  for (int f = 0; f < 2; f++)
    g_byte_array_unref (valid[f]);
  g_byte_array_unref (m);
  g_byte_array_unref (w1);
  g_byte_array_unref (w2);
  sn_detections_clear (&d);
  sn_detections_clear (&e);
  g_rand_free (rand);
}
END_TEST

START_TEST (test_format_names)
{
  SnResultFormat f;
  ck_assert (sn_result_format_from_name ("json", &f) && f == SN_RESULT_JSON);
  ck_assert (sn_result_format_from_name ("binary", &f) && f == SN_RESULT_BINARY);
  ck_assert (!sn_result_format_from_name ("xml", &f));
  ck_assert_str_eq (sn_result_format_name (SN_RESULT_JSON), "json");
  ck_assert_str_eq (sn_result_format_name (SN_RESULT_BINARY), "binary");
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("result");
  TCase *tc = tcase_create ("result");
  tcase_add_test (tc, test_round_trip);
  tcase_add_test (tc, test_json_text);
  tcase_add_test (tc, test_json_worker);
  tcase_add_test (tc, test_json_samples);
  tcase_add_loop_test (tc, test_json_malformed, 0, G_N_ELEMENTS (bad_json));
  tcase_add_test (tc, test_json_non_finite);
  tcase_add_test (tc, test_binary_hand_made);
  tcase_add_test (tc, test_mutations);
  tcase_add_test (tc, test_format_names);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
