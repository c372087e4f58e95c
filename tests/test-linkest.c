/* SPDX-License-Identifier: LGPL-2.1-or-later */
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
  /* 250 ms: too soon to call a stall (a receiver that did not get the CPU
   * for a while looks the same). */
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, t + 0.25), 50e6, 1e3);
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

START_TEST (test_backlog)
{
  Link l = { sn_link_est_new (NULL), 2e6, 0, 0 };
  double t = 0;
  for (int i = 0; i < 3; i++)
    t = frame (&l, t, 200e3, TRUE);
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, t), 2e6, 1);
  ck_assert_double_eq (sn_link_est_backlog (l.e, t), 0);
  /* 200 kB out at 2 Mbit/s: 0.8 s to drain, less what has gone. */
  sn_link_est_sent (l.e, l.seq++, 200e3, t);
  ck_assert_double_eq_tol (sn_link_est_backlog (l.e, t + 0.1), 0.7, 1e-9);
  /* A second one behind it. */
  sn_link_est_sent (l.e, l.seq++, 200e3, t + 0.1);
  ck_assert_double_eq_tol (sn_link_est_backlog (l.e, t + 0.2), 1.4, 1e-9);
  /* Overdue: nothing left by this estimate (the stall bound has not cut
   * in: 8 * 400 kB / 2.3 s is not under a quarter of 2 Mbit/s). */
  ck_assert_double_eq (sn_link_est_backlog (l.e, t + 2.3), 0);
  sn_link_est_free (l.e);

  /* A standing queue: four messages went out at once before anything was
   * known (3.2 s of data).  When the first ack comes at 0.8 s the other
   * three are still 2.4 s of work: the link started on them at that ack,
   * not when they were sent. */
  Link m = { sn_link_est_new (NULL), 2e6, 0, 0 };
  for (int i = 0; i < 3; i++)
    frame (&m, i * 2.0, 200e3, TRUE);                /* learn the rate, idle link */
  double s = 10;
  for (int i = 0; i < 4; i++) {
    sn_link_est_probe_sent (m.e, m.seq + i, s);
    sn_link_est_sent (m.e, m.seq + i, 200e3, s);
  }
  double r0 = s + DELAY + 8 * (200e3 + PROBE_BYTES) / 2e6;
  sn_link_est_ack (m.e, m.seq, TRUE, PROBE_BYTES, s + DELAY + 8 * PROBE_BYTES / 2e6 + OFFSET, TRUE, s + 0.01);
  sn_link_est_ack (m.e, m.seq, FALSE, 200e3, r0 + OFFSET, TRUE, r0 + DELAY);
  ck_assert_double_eq_tol (sn_link_est_backlog (m.e, r0 + DELAY), 2.4, 1e-6);
  ck_assert_double_eq_tol (sn_link_est_backlog (m.e, r0 + DELAY + 1), 1.4, 1e-6);
  sn_link_est_free (m.e);
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

  /* Only tiny messages (300 B at 4 frames/s: 9.6 kbit/s delivered): the
   * backlog of one whose ack is late is its age, not 300 B over the
   * delivered rate (0.25 s, which max-lag would drop on). */
  Link m = { sn_link_est_new (&c), 50e6, 0, 0 };
  t = 0;
  for (int i = 0; i < 12; i++, t += 0.25)
    frame (&m, t, 300, TRUE);
  ck_assert_double_eq_tol (sn_link_est_delivered (m.e), 9600, 1);
  sn_link_est_sent (m.e, m.seq++, 300, t);
  ck_assert_double_eq_tol (sn_link_est_backlog (m.e, t + 0.05), 0.05, 1e-9);
  sn_link_est_free (m.e);
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

START_TEST (test_lost_before_later_ack)
{
  Link l = { sn_link_est_new (NULL), 10e6, 0, 0 };
  /* Message 0 goes out and its ack never comes (sent before the sender's
   * subscription reached the receiver). */
  sn_link_est_sent (l.e, 0, 100e3, 0);
  l.seq = 1;
  ck_assert_double_eq_tol (sn_link_est_oldest_unacked (l.e, 0.5), 0.5, 1e-9);
  /* Message 1's ack settles it: nothing is waiting any more. */
  double back = frame (&l, 0.5, 100e3, TRUE);
  ck_assert_double_eq (sn_link_est_oldest_unacked (l.e, back), 0);
  ck_assert_uint_eq (sn_link_est_n_acks (l.e), 1);
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

/* A sender offering more than the link carries, acks delivered in time
 * order (not right away as frame() does): message k goes out at t0 + k *
 * interval; a probe is exact when the receiver had been idle for 200 us
 * before it, as zmqsrc decides.  Returns the sender time of the last ack. */
static double
overfill (Link *l, double t0, double interval, int n, double bytes, double delay)
{
  double r_prev = -INFINITY;
  double *r_data = g_new (double, n), *r_probe = g_new (double, n);
  gboolean *probe_exact = g_new (gboolean, n);
  for (int k = 0; k < n; k++) {
    double t = t0 + k * interval;
    double start = MAX (t + delay, l->busy_until);
    r_probe[k] = start + 8 * PROBE_BYTES / l->rate;
    r_data[k] = r_probe[k] + 8 * bytes / l->rate;
    probe_exact[k] = r_probe[k] - r_prev >= 200e-6 + 8 * PROBE_BYTES / l->rate;
    l->busy_until = r_prev = r_data[k];
  }
  /* Sends and acks, in sender time order. */
  int sent = 0, acked = 0;
  guint64 seq0 = l->seq;
  while (acked < n) {
    double t_send = sent < n ? t0 + sent * interval : INFINITY;
    double t_ack = r_data[acked] + delay;
    if (t_send <= t_ack) {
      sn_link_est_probe_sent (l->e, seq0 + sent, t_send);
      sn_link_est_sent (l->e, seq0 + sent, bytes, t_send);
      sent++;
    } else {
      sn_link_est_ack (l->e, seq0 + acked, TRUE, PROBE_BYTES, r_probe[acked] + OFFSET,
          probe_exact[acked], r_probe[acked] + delay);
      sn_link_est_ack (l->e, seq0 + acked, FALSE, bytes, r_data[acked] + OFFSET, TRUE, t_ack);
      acked++;
    }
  }
  l->seq += n;
  double last = r_data[n - 1] + delay;
  g_free (r_data);
  g_free (r_probe);
  g_free (probe_exact);
  return last;
}

START_TEST (test_saturated_link)
{
  /* 8 Mbit/s, 267 kB every 0.4 s: idle between messages, exact pairs. */
  Link l = { sn_link_est_new (NULL), 8e6, 0, 0 };
  double t = overfill (&l, 0, 0.4, 10, 267e3, DELAY);
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, t), 8e6, 8e6 * 1e-3);
  /* Down to 5 Mbit/s (0.43 s a message), still offered 4 a second: a
   * standing queue, every probe right behind the previous message, no
   * dispersion sample after the first (which found the link idle).  What
   * the link delivers is then its capacity; the window alone would stay
   * near 8 Mbit/s. */
  l.rate = 5e6;
  guint64 samples = sn_link_est_n_samples (l.e);
  t = overfill (&l, t + 0.1, 0.25, 12, 267e3, DELAY);
  ck_assert_uint_eq (sn_link_est_n_samples (l.e), samples + 1);
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, t), 5e6, 5e6 * 0.01);
  sn_link_est_free (l.e);

  /* Acks slower than the frame interval (0.3 s each way) but an idle
   * link: messages go out with others unacknowledged, yet their probes
   * find the receiver waiting.  Not saturated: the capacity stays, the
   * delivered rate is only the offered load. */
  Link m = { sn_link_est_new (NULL), 50e6, 0, 0 };
  t = overfill (&m, 0, 0.1, 30, 100e3, 0.3);
  ck_assert_double_eq_tol (sn_link_est_delivered (m.e), 8e6, 8e6 * 0.01);
  ck_assert_double_eq_tol (sn_link_est_capacity (m.e, t), 50e6, 50e6 * 1e-3);
  sn_link_est_free (m.e);
}
END_TEST

START_TEST (test_ack_before_send_recorded)
{
  /* On a fast link the acks of a small message can come back before the
   * sender has written the send down (its ack thread beside its streaming
   * thread).  They count once the send is recorded: nothing stays
   * "unacknowledged" to hold max-lag shut. */
  Link l = { sn_link_est_new (NULL), 50e6, 0, 0 };
  double t = 0;
  for (int i = 0; i < 5; i++, t += 0.25)
    frame (&l, t, 100e3, TRUE);
  guint64 acks = sn_link_est_n_acks (l.e), samples = sn_link_est_n_samples (l.e);
  guint64 k = l.seq++;
  double r_probe = t + DELAY + 8 * PROBE_BYTES / 50e6, r_data = r_probe + 8 * 100e3 / 50e6;
  sn_link_est_ack (l.e, k, TRUE, PROBE_BYTES, r_probe + OFFSET, TRUE, r_probe + DELAY);
  sn_link_est_probe_sent (l.e, k, t);
  sn_link_est_ack (l.e, k, FALSE, 100e3, r_data + OFFSET, TRUE, r_data + DELAY);
  sn_link_est_ack (l.e, k, FALSE, 100e3, r_data + OFFSET, TRUE, r_data + DELAY);   /* duplicate */
  ck_assert_uint_eq (sn_link_est_n_acks (l.e), acks);      /* not sent yet, as far as we know */
  sn_link_est_sent (l.e, k, 100e3, t);
  ck_assert_uint_eq (sn_link_est_n_acks (l.e), acks + 1);
  ck_assert_uint_eq (sn_link_est_n_samples (l.e), samples + 1);
  ck_assert_double_eq (sn_link_est_oldest_unacked (l.e, t + 1), 0);
  ck_assert_double_eq (sn_link_est_backlog (l.e, t + 1), 0);
  ck_assert_double_eq_tol (sn_link_est_capacity (l.e, t + 1), 50e6, 1e3);
  /* An ack far ahead of anything sent is not kept. */
  sn_link_est_ack (l.e, k + 1000, FALSE, 100e3, r_data + OFFSET, TRUE, r_data + DELAY);
  sn_link_est_sent (l.e, k + 1000, 100e3, t + 2);
  ck_assert_uint_eq (sn_link_est_n_acks (l.e), acks + 1);
  sn_link_est_free (l.e);
}
END_TEST

/* The sender as zmqsink runs it with acks and max-lag, over a FIFO link
 * whose rate steps, acks coming back in time order (issue 20's shaped-link
 * failure, replayed without a network).  Frames of @bytes every @interval;
 * a frame is dropped when sn_link_est_backlog says more than max_lag is
 * still to drain, else a probe and the message go out back to back.  The
 * link serves messages in order at the rate in force when each starts;
 * the receiver acks each on arrival (exact when it had been idle 200 us).
 * Per phase: messages delivered, the longest time one spent from send to
 * arrival, the capacity at the end of the phase. */
typedef struct {
  double until, rate;           /* a phase: rate in force until this time */
  int delivered;
  double worst_delay, capacity_end;
} Phase;

typedef struct {
  guint64 seq;
  double t_send, r_probe, r_data;
  gboolean probe_exact;
} Msg;

static int
phase_at (const Phase *ph, int n, double t)
{
  for (int i = 0; i < n; i++)
    if (t < ph[i].until)
      return i;
  return n - 1;
}

static void
run_max_lag (SnLinkEst *e, Phase *ph, int n_phases, double interval, double bytes,
    double max_lag)
{
  Msg *q = g_new0 (Msg, 4096);
  int n_sent = 0, n_acked = 0;
  double busy_until = 0, end = ph[n_phases - 1].until;
  for (double t = 0; t < end; t += interval) {
    /* Acks due before this frame, in order (probe, then data). */
    while (n_acked < n_sent && q[n_acked].r_data + DELAY <= t) {
      Msg *m = &q[n_acked++];
      sn_link_est_ack (e, m->seq, TRUE, PROBE_BYTES, m->r_probe + OFFSET, m->probe_exact,
          m->r_probe + DELAY);
      sn_link_est_ack (e, m->seq, FALSE, bytes, m->r_data + OFFSET, TRUE, m->r_data + DELAY);
      Phase *p = &ph[phase_at (ph, n_phases, m->r_data)];
      p->delivered++;
      p->worst_delay = MAX (p->worst_delay, m->r_data - m->t_send);
    }
    int k = phase_at (ph, n_phases, t);
    if (k > 0 && t - interval < ph[k - 1].until)
      ph[k - 1].capacity_end = sn_link_est_capacity (e, t);
    if (sn_link_est_backlog (e, t) > max_lag)
      continue;
    ck_assert_int_lt (n_sent, 4096);
    Msg *m = &q[n_sent];
    m->seq = n_sent++;
    m->t_send = t;
    sn_link_est_probe_sent (e, m->seq, t);
    sn_link_est_sent (e, m->seq, bytes, t);
    double start = MAX (t + DELAY, busy_until);
    double rate = ph[phase_at (ph, n_phases, start)].rate;
    m->probe_exact = start - busy_until >= 200e-6;
    m->r_probe = start + 8 * PROBE_BYTES / rate;
    m->r_data = m->r_probe + 8 * bytes / rate;
    busy_until = m->r_data;
  }
  ph[n_phases - 1].capacity_end = sn_link_est_capacity (e, end);
  g_free (q);
}

START_TEST (test_silent_link_given_up)
{
  /* A slow link still delivering: message 3 waits behind 0-2, longer than
   * forget_s (5 s) since it was sent, but acks keep coming: queued, not
   * lost; it still counts in the backlog. */
  Link l = { sn_link_est_new (NULL), 0.5e6, 0, 0 };
  for (int i = 0; i < 4; i++) {
    sn_link_est_probe_sent (l.e, i, 0);
    sn_link_est_sent (l.e, i, 200e3, 0);
  }
  l.seq = 4;
  /* 3.2 s a message at 0.5 Mbit/s: acked at 3.2, 6.4, 9.6 s. */
  for (int i = 0; i < 3; i++) {
    double r = (i + 1) * 3.2;
    sn_link_est_ack (l.e, i, FALSE, 200e3, r + OFFSET, TRUE, r + DELAY);
    ck_assert_double_eq (sn_link_est_oldest_unacked (l.e, r + 0.1), r + 0.1);
  }
  ck_assert (sn_link_est_backlog (l.e, 9.7) > 0);
  ck_assert_uint_eq (sn_link_est_n_given_up (l.e), 0);
  /* Then the receiver goes: nothing for forget_s after the last ack. */
  ck_assert (sn_link_est_oldest_unacked (l.e, 9.6 + 4.9) > 0);
  ck_assert_double_eq (sn_link_est_oldest_unacked (l.e, 9.6 + 5.1), 0);
  ck_assert_uint_eq (sn_link_est_n_given_up (l.e), 1);
  /* Nothing in flight: the next message goes out and probes the link. */
  ck_assert_double_eq (sn_link_est_backlog (l.e, 9.6 + 5.1), 0);
  sn_link_est_free (l.e);
}
END_TEST

START_TEST (test_max_lag_after_a_drop)
{
  /* The shaped-link test's steps, 50 -> 2 -> 20 Mbit/s, with 400 kB at 4
   * frames/s (cut 1 of the detector: 12.8 Mbit/s offered).  At 2 Mbit/s a
   * message takes 1.6 s: max-lag must keep one or two in the link, not a
   * growing queue, and the estimate must follow the link up again. */
  Phase ph[] = { { 10, 50e6, 0, 0, 0 }, { 35, 2e6, 0, 0, 0 }, { 55, 20e6, 0, 0, 0 } };
  SnLinkEst *e = sn_link_est_new (NULL);
  run_max_lag (e, ph, 3, 0.25, 400e3, 0.15);
  for (int i = 0; i < 3; i++)
    g_print ("phase %d: %d delivered, worst delay %.2f s, capacity at end %.2f Mbit/s\n", i,
        ph[i].delivered, ph[i].worst_delay, ph[i].capacity_end / 1e6);
  /* 50 Mbit/s: 64 ms a message, every frame goes. */
  ck_assert_int_ge (ph[0].delivered, 39);
  ck_assert_double_le (ph[0].worst_delay, 0.1);
  /* 2 Mbit/s: the two messages sent before anything was known (3 s), then
   * one message at a time: at most 1.6 s + max-lag + a frame interval.
   * Before the fix this phase ended with messages 8 s behind (messages
   * forgotten while queued, their bytes out of the backlog). */
  ck_assert_double_le (ph[1].worst_delay, 3.0);
  ck_assert_int_ge (ph[1].delivered, 25 * 2e6 / (8 * 400e3) - 2);
  ck_assert_double_eq_tol (ph[1].capacity_end, 2e6, 2e6 * 0.1);
  /* 20 Mbit/s: 0.16 s a message, no queue left from the slow phase. */
  ck_assert_double_le (ph[2].worst_delay, 2.0);
  ck_assert_int_ge (ph[2].delivered, 75);
  ck_assert_double_eq_tol (ph[2].capacity_end, 20e6, 20e6 * 0.1);
  ck_assert_uint_eq (sn_link_est_n_given_up (e), 0);
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
  tcase_add_test (tc, test_lost_before_later_ack);
  tcase_add_test (tc, test_backlog);
  tcase_add_test (tc, test_saturated_link);
  tcase_add_test (tc, test_ack_before_send_recorded);
  tcase_add_test (tc, test_max_lag_after_a_drop);
  tcase_add_test (tc, test_silent_link_given_up);
  suite_add_tcase (s, tc);
  SRunner *r = srunner_create (s);
  srunner_run_all (r, CK_ENV);
  int failed = srunner_ntests_failed (r);
  srunner_free (r);
  return failed ? 1 : 0;
}
