/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The worker pool (sn-workers.h) against hand-computed cases.  The scores
 * and picks below were computed with a separate Python transcription of
 * the formula in sn-workers.h (FNV-1a 64, then the splitmix64 finaliser);
 * FNV-1a 64 of "a" is the published test vector 0xaf63dc4c8601ec8c.  The
 * movement tests check the consistent-hashing property itself: a removed
 * worker's streams move and no other; an added worker takes about 1/n and
 * takes them only from the others. */
#include <check.h>

#include <splitnn/splitnn.h>

static const char *const W3[] = {
  "tcp://10.0.0.1:5555", "tcp://10.0.0.2:5555", "tcp://10.0.0.3:5555",
};

static SnWorkers *
pool_of (const char *const *names, int n)
{
  SnWorkers *w = sn_workers_new (1.0, 0.5);
  for (int i = 0; i < n; i++)
    ck_assert_int_eq (sn_workers_add (w, names[i], NULL), i);
  return w;
}

START_TEST (test_score_hand)
{
  /* x = fnv("a") ^ 0, mixed. */
  ck_assert_uint_eq (sn_workers_score ("a", 0), G_GUINT64_CONSTANT (0x2c0bdbf481420f8));
  ck_assert_uint_eq (sn_workers_score ("tcp://10.0.0.1:5555", 1),
      G_GUINT64_CONSTANT (0x1c3228fde7ce570));
}
END_TEST

START_TEST (test_pick_hand)
{
  /* stream id, pick among the 3, pick among the first 2 */
  static const struct { guint32 id; int of3, of2; } cases[] = {
    {1, 2, 1}, {2, 0, 0}, {3, 1, 1}, {0xdeadbeef, 2, 1}, {42, 0, 0}, {7, 0, 0},
  };
  SnWorkers *w3 = pool_of (W3, 3), *w2 = pool_of (W3, 2);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    ck_assert_int_eq (sn_workers_pick (w3, cases[i].id), cases[i].of3);
    ck_assert_int_eq (sn_workers_pick (w2, cases[i].id), cases[i].of2);
  }
  /* Dead workers are never picked; none alive: -1. */
  sn_workers_set_alive (w3, 2, FALSE);
  ck_assert_int_eq (sn_workers_pick (w3, 1), 1);        /* second choice = pick of 2 */
  sn_workers_set_alive (w3, 0, FALSE);
  sn_workers_set_alive (w3, 1, FALSE);
  ck_assert_int_eq (sn_workers_pick (w3, 1), -1);
  ck_assert_uint_eq (sn_workers_n_alive (w3), 0);
  sn_workers_free (w3);
  sn_workers_free (w2);
}
END_TEST

#define N_STREAMS 3000

START_TEST (test_remove_moves_only_its_streams)
{
  SnWorkers *w = pool_of (W3, 3);
  int before[N_STREAMS], count[3] = { 0 };
  for (guint32 s = 0; s < N_STREAMS; s++) {
    before[s] = sn_workers_pick (w, s * 2654435761u);
    count[before[s]]++;
  }
  /* Balanced within a few sigma of n/3 (sigma ~ 26). */
  for (int i = 0; i < 3; i++)
    ck_assert (count[i] > 850 && count[i] < 1150);
  sn_workers_set_alive (w, 1, FALSE);
  int moved = 0;
  for (guint32 s = 0; s < N_STREAMS; s++) {
    int after = sn_workers_pick (w, s * 2654435761u);
    if (before[s] == 1) {
      ck_assert_int_ne (after, 1);
      moved++;
    } else
      ck_assert_int_eq (after, before[s]);
  }
  ck_assert_int_eq (moved, count[1]);
  /* Rejoin: every stream goes back where it was. */
  sn_workers_set_alive (w, 1, TRUE);
  for (guint32 s = 0; s < N_STREAMS; s++)
    ck_assert_int_eq (sn_workers_pick (w, s * 2654435761u), before[s]);
  sn_workers_free (w);
}
END_TEST

START_TEST (test_add_takes_about_one_nth)
{
  SnWorkers *w = pool_of (W3, 3);
  int before[N_STREAMS];
  for (guint32 s = 0; s < N_STREAMS; s++)
    before[s] = sn_workers_pick (w, s + 1);
  ck_assert_int_eq (sn_workers_add (w, "tcp://10.0.0.4:5555", NULL), 3);
  int moved = 0;
  for (guint32 s = 0; s < N_STREAMS; s++) {
    int after = sn_workers_pick (w, s + 1);
    if (after != before[s]) {
      ck_assert_int_eq (after, 3);      /* only to the new one */
      moved++;
    }
  }
  /* 1/4 of 3000 = 750, sigma ~ 24. */
  ck_assert (moved > 650 && moved < 850);
  sn_workers_free (w);
}
END_TEST

START_TEST (test_liveness)
{
  SnWorkers *w = pool_of (W3, 2);
  GError *error = NULL;
  ck_assert_int_eq (sn_workers_add (w, W3[0], &error), -1);
  ck_assert (error != NULL);
  g_clear_error (&error);
  ck_assert_int_eq (sn_workers_add (w, "", &error), -1);
  g_clear_error (&error);

  /* Worker 0 answers, worker 1 does not. */
  sn_workers_sent (w, 0, 0, 10.0);
  sn_workers_sent (w, 1, 1, 10.0);
  ck_assert (!sn_workers_acked (w, 0, 0, 10.1));
  ck_assert (!sn_workers_outstanding (w, 0));
  ck_assert (sn_workers_outstanding (w, 1));
  ck_assert (!sn_workers_check (w, 10.9));      /* timeout 1 s: not yet */
  ck_assert (sn_workers_alive (w, 1));
  ck_assert (sn_workers_check (w, 11.1));
  ck_assert (!sn_workers_alive (w, 1));
  ck_assert (sn_workers_alive (w, 0));
  /* Nothing outstanding on 0: it never times out, however long. */
  ck_assert (!sn_workers_check (w, 100.0));

  /* Probes every 0.5 s while dead; never for a live worker. */
  ck_assert (!sn_workers_probe_due (w, 0, 11.2));
  ck_assert (sn_workers_probe_due (w, 1, 11.2));
  ck_assert (!sn_workers_probe_due (w, 1, 11.5));
  ck_assert (sn_workers_probe_due (w, 1, 11.8));
  /* An answer brings it back, with nothing outstanding. */
  ck_assert (sn_workers_acked (w, 1, 2, 11.9));
  ck_assert (sn_workers_alive (w, 1));
  ck_assert (!sn_workers_outstanding (w, 1));

  /* Progress (an older message acknowledged) restarts the clock. */
  sn_workers_sent (w, 0, 5, 20.0);
  sn_workers_sent (w, 0, 6, 20.5);
  sn_workers_acked (w, 0, 5, 20.8);
  ck_assert (!sn_workers_check (w, 21.5));
  ck_assert (sn_workers_check (w, 21.9));
  sn_workers_free (w);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("workers");
  TCase *tc = tcase_create ("workers");
  tcase_add_test (tc, test_score_hand);
  tcase_add_test (tc, test_pick_hand);
  tcase_add_test (tc, test_remove_moves_only_its_streams);
  tcase_add_test (tc, test_add_takes_about_one_nth);
  tcase_add_test (tc, test_liveness);
  suite_add_tcase (s, tc);
  SRunner *sr = srunner_create (s);
  srunner_run_all (sr, CK_NORMAL);
  int failed = srunner_ntests_failed (sr);
  srunner_free (sr);
  return failed ? 1 : 0;
}
