/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The capacity estimator against hand-computed cases.  Normal quantiles
 * are written out from a printed table (z_0.99 = 2.3263479, ...) and
 * checked the other way through libm's erfc, which the code under test
 * does not use; rates, cores and camera counts are the model's formulas
 * evaluated here with those hand values. */
#include <check.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <splitnn/splitnn.h>

#define Z99 2.3263478740        /* Phi^-1 (0.99) */
#define Z95 1.6448536270        /* Phi^-1 (0.95) */

static double
phi (double z)
{
  return 0.5 * erfc (-z / sqrt (2));
}

/* mu 10 kB, sigma 2 kB per frame, 10 frames/s, 40 ms of cloud per frame. */
static SnStreamStats
stream (void)
{
  SnStreamStats s;
  sn_stream_stats_init (&s);
  s.fps = 10;
  s.bytes_mean = 10000;
  s.bytes_var = 2000.0 * 2000.0;
  s.cloud_ms_mean = 40;
  return s;
}

START_TEST (test_normal_quantile)
{
  ck_assert_double_eq_tol (sn_normal_quantile (0.99), Z99, 1e-9);
  ck_assert_double_eq_tol (sn_normal_quantile (0.95), Z95, 1e-9);
  ck_assert_double_eq_tol (sn_normal_quantile (0.975), 1.9599639845, 1e-9);
  ck_assert_double_eq_tol (sn_normal_quantile (0.999), 3.0902323062, 1e-9);
  ck_assert_double_eq_tol (sn_normal_quantile (0.5), 0, 1e-15);
  ck_assert_double_eq_tol (sn_normal_quantile (0.01), -Z99, 1e-9);
  /* All three branches of AS241 (|q| <= 0.425, r <= 5, r > 5), back
   * through Phi. */
  const double ps[] = { 1e-300, 1e-15, 1e-12, 1e-6, 0.001, 0.02, 0.07, 0.3, 0.6, 0.9, 0.93, 0.9999 };
  for (size_t i = 0; i < G_N_ELEMENTS (ps); i++) {
    double z = sn_normal_quantile (ps[i]);
    ck_assert_msg (fabs (phi (z) - ps[i]) <= 1e-12 * MAX (ps[i], 1e-3) || fabs (phi (z) / ps[i] - 1) < 1e-10,
        "p %g: z %.15g gives Phi %.15g", ps[i], z, phi (z));
  }
  ck_assert (isnan (sn_normal_quantile (0)));
  ck_assert (isnan (sn_normal_quantile (1)));
  ck_assert (isnan (sn_normal_quantile (NAN)));
}
END_TEST

START_TEST (test_identical_streams)
{
  SnStreamStats s = stream ();
  SnCapacityParams prm;
  sn_capacity_params_init (&prm);
  prm.p = 0.01;
  SnCapacity c;
  GError *err = NULL;
  ck_assert (sn_capacity_for_cameras (&s, &prm, 16, &c, &err));
  /* 8 bit x 10 frames/s x (16 x 10000 + z sqrt(16) 2000) */
  ck_assert_double_eq_tol (c.rate_mean, 12.8e6, 1e-3);
  ck_assert_double_eq_tol (c.rate, 80 * (160000 + Z99 * 4 * 2000), 1e-2);
  ck_assert_double_eq_tol (c.z, Z99, 1e-9);
  /* Cantelli: t = sqrt(n) sigma sqrt((1 - p) / p) = 4 x 2000 x 9.9498744 */
  ck_assert_double_eq_tol (c.rate_cantelli, 80 * (160000 + 4 * 2000 * 9.9498743711), 1e-1);
  ck_assert (c.rate_cantelli > c.rate);
  /* No skew: Cornish-Fisher is the normal answer; no samples, no checks. */
  ck_assert_double_eq_tol (c.rate_cornish_fisher, c.rate, 1e-6);
  ck_assert (isnan (c.rate_resampled));
  ck_assert (isnan (c.rate_comonotone));
  ck_assert (!c.tail_heavier);
  /* 16 x 10 x 40 / 1000 = 6.4 cores busy, / 0.8 = 8 exactly. */
  ck_assert_double_eq_tol (c.load, 6.4, 1e-12);
  ck_assert_int_eq (c.cores, 8);

  prm.p = 0.05;
  ck_assert (sn_capacity_for_cameras (&s, &prm, 9, &c, &err));
  ck_assert_double_eq_tol (c.rate, 80 * (90000 + Z95 * 3 * 2000), 1e-2);
  /* 9 x 10 x 40 / 1000 / 0.8 = 4.5 -> 5 */
  ck_assert_int_eq (c.cores, 5);

  /* A per-stream quantile given: comonotone = n x it. */
  s.bytes_quantile = 15000;
  ck_assert (sn_capacity_for_cameras (&s, &prm, 9, &c, &err));
  ck_assert_double_eq_tol (c.rate_comonotone, 80 * 9 * 15000, 1e-3);
}
END_TEST

START_TEST (test_cores_with_variance)
{
  SnStreamStats s = stream ();
  s.cloud_ms_mean = 41;
  SnCapacityParams prm;
  sn_capacity_params_init (&prm);
  SnCapacity c;
  ck_assert (sn_capacity_for_cameras (&s, &prm, 16, &c, NULL));
  ck_assert_int_eq (c.cores, 9);         /* 6.56 / 0.8 = 8.2 */
  prm.utilisation = 1;
  ck_assert (sn_capacity_for_cameras (&s, &prm, 16, &c, NULL));
  ck_assert_int_eq (c.cores, 7);         /* 6.56 */
  /* sd 10 ms: load_p = 10/1000 (16 x 41 + z 4 x 10) = 6.56 + 0.9305 = 7.49 */
  s.cloud_ms_var = 100;
  ck_assert (sn_capacity_for_cameras (&s, &prm, 16, &c, NULL));
  ck_assert_double_eq_tol (c.load_p, 0.01 * (656 + Z99 * 40), 1e-9);
  ck_assert_int_eq (c.cores, 8);
  /* Cloud time unknown: no core figures. */
  s.cloud_ms_mean = 0;
  s.cloud_ms_var = 0;
  ck_assert (sn_capacity_for_cameras (&s, &prm, 16, &c, NULL));
  ck_assert_int_eq (c.cores, 0);
}
END_TEST

static double
hand_rate (double n)
{
  return 80 * (n * 10000 + Z99 * sqrt (n) * 2000);
}

START_TEST (test_max_cameras)
{
  SnStreamStats s = stream ();
  SnCapacityParams prm;
  sn_capacity_params_init (&prm);
  int n;
  const char *limit;
  GError *err = NULL;
  /* 10 Mbit/s: 10 cameras need 9.177 Mbit/s, 11 need 10.034. */
  ck_assert (sn_capacity_max_cameras (&s, &prm, 10e6, 0, &n, &limit, &err));
  ck_assert_int_eq (n, 10);
  ck_assert (hand_rate (10) <= 10e6 && hand_rate (11) > 10e6);
  ck_assert_str_eq (limit, "link");
  /* Every answer agrees with the forward model, n fits and n + 1 not. */
  const double links[] = { 0.5e6, 0.8e6, 1.2e6, 3e6, 47e6, 1e9, 1e11 };
  for (size_t i = 0; i < G_N_ELEMENTS (links); i++) {
    ck_assert (sn_capacity_max_cameras (&s, &prm, links[i], 0, &n, NULL, &err));
    ck_assert_msg (n == 0 || hand_rate (n) <= links[i], "%g: n %d", links[i], n);
    ck_assert_msg (hand_rate (n + 1) > links[i] * (1 + 1e-12), "%g: n + 1 = %d fits", links[i], n + 1);
  }
  /* 0.5 Mbit/s: not one camera (one needs 0.8 x (10000 + 4652.7) x 8 ...). */
  ck_assert (sn_capacity_max_cameras (&s, &prm, 0.5e6, 0, &n, NULL, &err));
  ck_assert_int_eq (n, 0);
  /* 3 cores at 0.8: 2.4 cores of load, 0.4 a camera -> 6, cores bind. */
  ck_assert (sn_capacity_max_cameras (&s, &prm, 1e9, 3, &n, &limit, &err));
  ck_assert_int_eq (n, 6);
  ck_assert_str_eq (limit, "cores");
  SnCapacity c;
  ck_assert (sn_capacity_for_cameras (&s, &prm, 6, &c, &err));
  ck_assert_int_eq (c.cores, 3);
  ck_assert (sn_capacity_for_cameras (&s, &prm, 7, &c, &err));
  ck_assert_int_eq (c.cores, 4);
}
END_TEST

START_TEST (test_zero_variance)
{
  SnStreamStats s = stream ();
  s.bytes_var = 0;
  SnCapacityParams prm;
  sn_capacity_params_init (&prm);
  SnCapacity c;
  int n;
  ck_assert (sn_capacity_for_cameras (&s, &prm, 12, &c, NULL));
  ck_assert_double_eq_tol (c.rate, 9.6e6, 1e-6);
  ck_assert_double_eq_tol (c.rate_cantelli, 9.6e6, 1e-6);
  ck_assert (!c.tail_heavier);
  /* 800 kbit/s a camera: exactly 12 on 9.6 Mbit/s, 12 on 10. */
  ck_assert (sn_capacity_max_cameras (&s, &prm, 9.6e6, 0, &n, NULL, NULL));
  ck_assert_int_eq (n, 12);
  ck_assert (sn_capacity_max_cameras (&s, &prm, 10e6, 0, &n, NULL, NULL));
  ck_assert_int_eq (n, 12);
  ck_assert (sn_capacity_max_cameras (&s, &prm, 9.5e6, 0, &n, NULL, NULL));
  ck_assert_int_eq (n, 11);
}
END_TEST

START_TEST (test_samples)
{
  /* 1 2 3 4 10: mean 4, variance 50 / 4, population moments m2 10, m3 36. */
  const double v[] = { 10, 1, 3, 2, 4 };
  SnStreamStats s;
  sn_stream_stats_init (&s);
  ck_assert (sn_stream_stats_set_samples (&s, v, 5, NULL));
  ck_assert_double_eq_tol (s.bytes_mean, 4, 1e-12);
  ck_assert_double_eq_tol (s.bytes_var, 12.5, 1e-12);
  ck_assert_double_eq_tol (s.bytes_skew, 36 / pow (10, 1.5), 1e-12);
  s.fps = 1;
  SnCapacityParams prm;
  sn_capacity_params_init (&prm);
  prm.p = 0.25;
  SnCapacity c;
  ck_assert (sn_capacity_for_cameras (&s, &prm, 3, &c, NULL));
  /* 0.75 quantile of 1 2 3 4 10 at position 4 x 0.75 = 3: 4 bytes. */
  ck_assert_double_eq_tol (c.rate_comonotone, 8 * 3 * 4, 1e-9);
  /* Cornish-Fisher: z + g / sqrt(3) (z^2 - 1) / 6 with z = 0.6744898 */
  double z = 0.6744897502, g = 36 / pow (10, 1.5);
  ck_assert_double_eq_tol (c.rate_cornish_fisher,
      8 * (12 + sqrt (3) * sqrt (12.5) * (z + g / sqrt (3) * (z * z - 1) / 6)), 1e-6);
}
END_TEST

START_TEST (test_skewed_tail)
{
  /* One frame in 20 is 1000 bytes, the rest 0: four streams sum to
   * 1000 x Binomial(4, 0.05), whose 0.99 quantile is 2000 bytes
   * (P(S <= 1000) = 0.95^4 + 4 0.05 0.95^3 = 0.98598, P(S <= 2000) =
   * 0.99952).  The normal model says 200 + 2.326 x 2 x 223.6 = 1240. */
  double v[20] = { 1000 };
  SnStreamStats s;
  sn_stream_stats_init (&s);
  ck_assert (sn_stream_stats_set_samples (&s, v, 20, NULL));
  s.fps = 1;
  SnCapacityParams prm;
  sn_capacity_params_init (&prm);
  SnCapacity c;
  ck_assert (sn_capacity_for_cameras (&s, &prm, 4, &c, NULL));
  ck_assert_double_eq_tol (c.rate, 8 * (200 + Z99 * 2 * sqrt (1000.0 * 1000 * 0.05 * 0.95 * 20 / 19)), 1e-6);
  ck_assert_double_eq_tol (c.rate_resampled, 8 * 2000, 1e-6);
  ck_assert (c.tail_heavier);
  ck_assert (c.rate_cornish_fisher > c.rate);
  /* Comonotone: 0.99 quantile of one stream is 1000 x 0.81 (position
   * 19 x 0.99 = 18.81 between 0 and 1000). */
  ck_assert_double_eq_tol (c.rate_comonotone, 8 * 4 * 810, 1e-6);
}
END_TEST

START_TEST (test_bad_input)
{
  SnCapacityParams prm;
  SnCapacity c;
  int n;
  const double ps[] = { 0, -0.1, 0.6, 1, NAN };
  for (size_t i = 0; i < G_N_ELEMENTS (ps); i++) {
    SnStreamStats s = stream ();
    sn_capacity_params_init (&prm);
    prm.p = ps[i];
    GError *err = NULL;
    ck_assert (!sn_capacity_for_cameras (&s, &prm, 4, &c, &err));
    ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_INVALID_ARGUMENT));
    ck_assert_msg (strstr (err->message, "p "), "%s", err->message);
    g_clear_error (&err);
    ck_assert (!sn_capacity_max_cameras (&s, &prm, 1e6, 0, &n, NULL, &err));
    ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_INVALID_ARGUMENT));
    g_clear_error (&err);
  }
  sn_capacity_params_init (&prm);
  GError *err = NULL;
  SnStreamStats s = stream ();
  ck_assert (!sn_capacity_for_cameras (&s, &prm, 0, &c, &err));
  ck_assert_msg (strstr (err->message, "cameras"), "%s", err->message);
  g_clear_error (&err);
  s.bytes_var = -1;
  ck_assert (!sn_capacity_for_cameras (&s, &prm, 1, &c, &err));
  ck_assert_msg (strstr (err->message, "variance"), "%s", err->message);
  g_clear_error (&err);
  s = stream ();
  s.fps = 0;
  ck_assert (!sn_capacity_for_cameras (&s, &prm, 1, &c, &err));
  ck_assert_msg (strstr (err->message, "frame rate"), "%s", err->message);
  g_clear_error (&err);
  s = stream ();
  s.bytes_mean = 0;
  ck_assert (!sn_capacity_for_cameras (&s, &prm, 1, &c, &err));
  g_clear_error (&err);
  s = stream ();
  prm.utilisation = 1.5;
  ck_assert (!sn_capacity_for_cameras (&s, &prm, 1, &c, &err));
  ck_assert_msg (strstr (err->message, "utilisation"), "%s", err->message);
  g_clear_error (&err);
  sn_capacity_params_init (&prm);
  ck_assert (!sn_capacity_max_cameras (&s, &prm, 0, 0, &n, NULL, &err));
  ck_assert_msg (strstr (err->message, "link"), "%s", err->message);
  g_clear_error (&err);
  const double one[] = { 5 }, neg[] = { 5, -1 };
  ck_assert (!sn_stream_stats_set_samples (&s, one, 1, &err));
  g_clear_error (&err);
  ck_assert (!sn_stream_stats_set_samples (&s, neg, 2, &err));
  ck_assert (g_error_matches (err, SN_ERROR, SN_ERROR_INVALID_ARGUMENT));
  g_clear_error (&err);
}
END_TEST


/* Runs `splitnn capacity STATS ARGS...` on a statistics file with @json;
 * returns its exit status, stdout in *out, stderr in *err_out.  FALSE
 * (skip) when the tool is not built (builds without GStreamer). */
static gboolean
run_tool (const char *json, const char *const *args, int *status, char **out, char **err_out)
{
  const char *build = g_getenv ("SPLITNN_BUILD_ROOT");
  g_autofree char *tool = build ? g_build_filename (build, "tools", "splitnn", NULL) : NULL;
  if (!tool || !g_file_test (tool, G_FILE_TEST_IS_EXECUTABLE))
    return FALSE;
  g_autofree char *dir = g_dir_make_tmp ("test-capacity-XXXXXX", NULL);
  g_autofree char *stats = g_build_filename (dir, "stats.json", NULL);
  ck_assert (g_file_set_contents (stats, json, -1, NULL));
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, tool);
  g_ptr_array_add (argv, (gpointer) "capacity");
  g_ptr_array_add (argv, stats);
  for (int i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  GError *e = NULL;
  ck_assert_msg (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out,
          err_out, status, &e), "%s", e ? e->message : "");
  *status = WIFEXITED (*status) ? WEXITSTATUS (*status) : -1;
  g_ptr_array_unref (argv);
  g_unlink (stats);
  g_rmdir (dir);
  return TRUE;
}

static JsonObject *
line_with (JsonParser *parser, const char *out, const char *key)
{
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  for (int i = 0; lines[i]; i++)
    if (strstr (lines[i], key) && json_parser_load_from_data (parser, lines[i], -1, NULL))
      return json_node_get_object (json_parser_get_root (parser));
  return NULL;
}

START_TEST (test_cli)
{
  const char *stats = "{\"fps\": 10, \"options\": [{\"name\": \"hand\", \"bytes_mean\": 10000, "
      "\"bytes_var\": 4e6, \"cloud_ms\": 40, \"bytes_quantiles\": {\"0.99\": 15000}}]}";
  const char *args[] = { "--cameras", "16", "--link", "10M", "--cores", "3", "--json", NULL };
  int status;
  g_autofree char *out = NULL, *err = NULL;
  if (!run_tool (stats, args, &status, &out, &err)) {
    fprintf (stderr, "test_cli: no tools/splitnn in SPLITNN_BUILD_ROOT; skipped\n");
    return;
  }
  ck_assert_msg (status == 0, "status %d: %s", status, err);
  g_autoptr (JsonParser) p1 = json_parser_new (), p2 = json_parser_new ();
  JsonObject *row = line_with (p1, out, "\"cameras\"");
  JsonObject *max = line_with (p2, out, "\"max_cameras\"");
  ck_assert_msg (row && max, "%s", out);
  ck_assert_double_eq_tol (json_object_get_double_member (row, "rate_bps"),
      80 * (160000 + Z99 * 4 * 2000), 1);
  ck_assert_double_eq_tol (json_object_get_double_member (row, "rate_comonotone_bps"),
      80 * 16 * 15000, 1);
  ck_assert_int_eq (json_object_get_int_member (row, "cores"), 8);
  ck_assert (json_node_is_null (json_object_get_member (row, "rate_resampled_bps")));
  ck_assert_int_eq (json_object_get_int_member (max, "max_cameras"), 6);
  ck_assert_str_eq (json_object_get_string_member (max, "limit"), "cores");

  /* p outside (0, 0.5]: an error naming p, nothing on stdout. */
  const char *bad[] = { "--cameras", "4", "--p", "0.7", NULL };
  g_free (out);
  g_free (err);
  ck_assert (run_tool (stats, bad, &status, &out, &err));
  ck_assert_int_eq (status, 1);
  ck_assert_msg (strstr (err, "p (probability"), "%s", err);
  ck_assert_str_eq (out, "");
  /* A sample that is not a number: the error names it. */
  const char *args2[] = { "--cameras", "3", NULL };
  g_free (out);
  g_free (err);
  ck_assert (run_tool ("{\"fps\": 1, \"options\": [{\"bytes\": [10, \"x\"]}]}", args2, &status,
          &out, &err));
  ck_assert_int_eq (status, 1);
  ck_assert_msg (strstr (err, "bytes[1]"), "%s", err);
}
END_TEST

static Suite *
capacity_suite (void)
{
  Suite *s = suite_create ("capacity");
  TCase *tc = tcase_create ("capacity");
  tcase_add_test (tc, test_normal_quantile);
  tcase_add_test (tc, test_identical_streams);
  tcase_add_test (tc, test_cores_with_variance);
  tcase_add_test (tc, test_max_cameras);
  tcase_add_test (tc, test_zero_variance);
  tcase_add_test (tc, test_samples);
  tcase_add_test (tc, test_skewed_tail);
  tcase_add_test (tc, test_bad_input);
  tcase_add_test (tc, test_cli);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  SRunner *sr = srunner_create (capacity_suite ());
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
