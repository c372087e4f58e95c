/* The link estimator on synthetic timings: a simulated bottleneck (FIFO at
 * a given rate, fixed one-way delay, receiver clock offset by an arbitrary
 * amount) produces the acks a zmqsrc would send.  Expected values follow
 * from the queue model r = max (s + delay, previous r) + bytes / rate. */
#include <check.h>
#include <math.h>

#include <splitnn/sn-linkest.h>

#define PROBE_BYTES 80.0
#define OFFSET 1234.5           /* receiver clock - sender clock, s */
#define DELAY 0.002             /* one-way propagation, s */

typedef struct {
  SnLinkEst *e;
  double rate;                  /* bit/s now */
  double busy_until;            /* sender clock: when the bottleneck is free */
  guint64 seq;
} Link;

/* One frame: a probe and a data message sent back to back at @t; acks are
 * delivered right away (the test looks at the state after each frame). */
static double
frame (Link *l, double t, double bytes, gboolean exact)
{
  sn_link_est_probe_sent (l->e, l->seq, t);
  sn_link_est_sent (l->e, l->seq, bytes, t);
  double start = MAX (t + DELAY, l->busy_until);
  double r_probe = start + 8 * PROBE_BYTES / l->rate;
  double r_data = r_probe + 8 * bytes / l->rate;
  l->busy_until = r_data;
  sn_link_est_ack (l->e, l->seq, TRUE, PROBE_BYTES, r_probe + OFFSET, exact, r_probe + DELAY);
  sn_link_est_ack (l->e, l->seq, FALSE, bytes, r_data + OFFSET, exact, r_data + DELAY);
  l->seq++;
  return r_data + DELAY;        /* when the ack is back */
}

START_TEST (test_capacity_not_offered_load)
{
  /* 10 frames/s of 100 kB on a 50 Mbit/s link: 8 Mbit/s offered. */
  Link l = { sn_link_est_new (NULL), 50e6, 0, 0 };
  double t = 0;
  for (int i = 0; i < 30; i++, t += 0.1)
    frame (&l, t, 100e3, TRUE);
  double cap = sn_link_est_capacity (l.e, t);
  /* The data message follows its probe: gap = bytes / rate exactly. */
  ck_assert_double_eq_tol (cap, 50e6, 50e6 * 1e-6);
  /* The delivered rate is the offered load, not the capacity. */
  ck_assert_double_eq_tol (sn_link_est_delivered (l.e), 8e6, 8e6 * 0.01);
  /* Base RTT: the probe's 80 bytes at 50 Mbit/s plus both delays. */
  ck_assert_double_eq_tol (sn_link_est_rtt (l.e), 2 * DELAY + 8 * PROBE_BYTES / 50e6, 1e-9);
  ck_assert_uint_eq (sn_link_est_n_samples (l.e), 30);
  sn_link_est_free (l.e);
}
END_TEST

START_TEST (test_steps_are_followed)
{
  Link l = { sn_link_est_new (NULL), 50e6, 0, 0 };
  double t = 0;
  for (int i = 0; i < 20; i++, t += 0.1)
    frame (&l, t, 200e3, TRUE);
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, t), 50e6, 1e3);

  /* Down to 2 Mbit/s: one 200 kB message takes 0.8 s.  The first sample
   * pulls the byte-weighted window below half, the second restarts it. */
  l.rate = 2e6;
  double back = frame (&l, t, 200e3, TRUE);
  double cap1 = sn_link_est_capacity (l.e, back);
  ck_assert (cap1 < 25e6);
  t = back;
  back = frame (&l, t, 200e3, TRUE);
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, back), 2e6, 2e6 * 1e-3);

  /* Up to 20 Mbit/s: two messages and the estimate is there. */
  l.rate = 20e6;
  t = back + 0.1;
  frame (&l, t, 50e3, TRUE);
  ck_assert (sn_link_est_capacity (l.e, t + 0.05) < 10e6);   /* one sample: averaged */
  frame (&l, t + 0.1, 50e3, TRUE);
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, t + 0.15), 20e6, 20e6 * 1e-3);
  sn_link_est_free (l.e);
}
END_TEST

START_TEST (test_stall_bound)
{
  Link l = { sn_link_est_new (NULL), 50e6, 0, 0 };
  double t = 0;
  for (int i = 0; i < 10; i++, t += 0.1)
    frame (&l, t, 200e3, TRUE);
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, t), 50e6, 1e3);
  /* A 200 kB message goes out and nothing comes back. */
  sn_link_est_probe_sent (l.e, l.seq, t);
  sn_link_est_sent (l.e, l.seq, 200e3, t);
  /* 20 ms later it could still be on its way (32 ms at 50 Mbit/s). */
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, t + 0.02), 50e6, 1e3);
  /* 400 ms later the link carried less than 200 kB in 400 ms - rtt. */
  double rtt = sn_link_est_rtt (l.e);
  double cap = sn_link_est_capacity (l.e, t + 0.4);
  ck_assert_double_eq_tol (cap, 8 * 200e3 / (0.4 - rtt), 1);
  ck_assert_double_eq_tol (sn_link_est_oldest_unacked (l.e, t + 0.4), 0.4, 1e-9);
  /* Lost for good: after forget_s the bound lets go. */
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, t + 6), 50e6, 1e3);
  ck_assert_double_eq_tol (sn_link_est_oldest_unacked (l.e, t + 6), 0, 1e-9);
  sn_link_est_free (l.e);
}
END_TEST

START_TEST (test_busy_receiver_and_small_messages)
{
  SnLinkEstConfig c;
  sn_link_est_config_init (&c);
  Link l = { sn_link_est_new (&c), 50e6, 0, 0 };
  double t = 0;
  /* Receiver busy: timestamps are late and bunched; no capacity sample. */
  for (int i = 0; i < 10; i++, t += 0.1)
    frame (&l, t, 100e3, FALSE);
  ck_assert_uint_eq (sn_link_est_n_samples (l.e), 0);
  ck_assert_uint_eq (sn_link_est_n_acks (l.e), 10);
  /* The delivered rate is all there is then. */
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, t), 8e6, 8e6 * 0.01);
  /* Messages under min_bytes give no sample either. */
  for (int i = 0; i < 10; i++, t += 0.1)
    frame (&l, t, c.min_bytes - 1, TRUE);
  ck_assert_uint_eq (sn_link_est_n_samples (l.e), 0);
  sn_link_est_free (l.e);
}
END_TEST

START_TEST (test_bad_acks_ignored)
{
  Link l = { sn_link_est_new (NULL), 10e6, 0, 0 };
  frame (&l, 0, 100e3, TRUE);
  frame (&l, 0.1, 100e3, TRUE);
  double cap = sn_link_est_capacity (l.e, 0.2);
  ck_assert_double_eq_tol (cap, 10e6, 10);
  /* Duplicate of an acked message, and one never sent: no effect. */
  sn_link_est_ack (l.e, 1, FALSE, 100e3, 99 + OFFSET, TRUE, 99);
  sn_link_est_ack (l.e, 77, FALSE, 100e3, 0.15 + OFFSET, TRUE, 0.2);
  sn_link_est_ack (l.e, 77, TRUE, 80, 0.15 + OFFSET, TRUE, 0.2);
  ck_assert_uint_eq (sn_link_est_n_acks (l.e), 2);
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, 0.2), cap, 1e-6);
  sn_link_est_free (l.e);
}
END_TEST

START_TEST (test_unknown_until_acked)
{
  SnLinkEst *e = sn_link_est_new (NULL);
  ck_assert_double_eq (sn_link_est_capacity (e, 1), 0);
  ck_assert_double_eq (sn_link_est_delivered (e), 0);
  ck_assert (sn_link_est_rtt (e) < 0);
  /* Sent but no receiver acks at all: still unknown, never "zero". */
  for (int i = 0; i < 5; i++)
    sn_link_est_sent (e, i, 1e5, i * 0.1);
  ck_assert_double_eq (sn_link_est_capacity (e, 2), 0);
  sn_link_est_free (e);
}
END_TEST

int
main (void)
{
  Suite *s = suite_create ("linkest");
  TCase *tc = tcase_create ("linkest");
  tcase_add_test (tc, test_capacity_not_offered_load);
  tcase_add_test (tc, test_steps_are_followed);
  tcase_add_test (tc, test_stall_bound);
  tcase_add_test (tc, test_busy_receiver_and_small_messages);
  tcase_add_test (tc, test_bad_acks_ignored);
  tcase_add_test (tc, test_unknown_until_acked);
  suite_add_tcase (s, tc);
  SRunner *r = srunner_create (s);
  srunner_run_all (r, CK_ENV);
  int failed = srunner_ntests_failed (r);
  srunner_free (r);
  return failed ? 1 : 0;
}
