/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — link estimator (see sn-linkest.h for the method). */
#include "splitnn/sn-linkest.h"

#include <math.h>
#include <string.h>

#define N_FLIGHT 512            /* messages tracked until acked or forgotten */
#define N_DELIVERED 256
#define N_RTT 64
#define MAX_WINDOW 64
#define STALL_MIN_S 0.3
#define SATURATED_N 3           /* messages in a row queued behind another: saturated */

typedef struct {
  gboolean used;
  guint64 seq;
  gboolean sent;                /* the data message went out */
  double t_send, bytes, ahead;  /* ahead: unacked bytes sent before it */
  gboolean probe_sent;
  double t_probe_send;
  gboolean probe_acked, probe_exact;
  double t_probe_recv, t_probe_ack;
  /* An ack that came before the send was recorded (see sn_link_est_ack). */
  gboolean early;
  double early_bytes, early_t_recv, early_t_ack;
  gboolean early_exact;
} Flight;

typedef struct { double t, bytes, gap; } Sample;

struct SnLinkEst {
  SnLinkEstConfig cfg;
  Flight flight[N_FLIGHT];
  double inflight_bytes;
  Sample samples[MAX_WINDOW];
  int n_samples_kept, samples_head;
  int outliers;                     /* consecutive samples far off the estimate (+ fast, - slow) */
  Sample last_outlier;
  Sample delivered[N_DELIVERED];    /* gap: 1 if the message queued behind another */
  int n_delivered, delivered_head;
  Sample rtt[N_RTT];                /* t = sender time of the ack, gap = rtt */
  int n_rtt, rtt_head;
  guint64 n_samples, n_acks;
  guint64 n_given_up;               /* sent messages forgotten after forget_s of silence */
  double last_ack;                  /* sender clock of the last data ack */
  gboolean have_seq;
  guint64 last_seq;                 /* the newest sequence number recorded as sent */
};

void
sn_link_est_config_init (SnLinkEstConfig *c)
{
  c->window = 8;
  c->window_s = 3;
  c->min_bytes = 4096;
  c->rate_window_s = 2;
  c->rtt_window_s = 10;
  c->forget_s = 5;
}

SnLinkEst *
sn_link_est_new (const SnLinkEstConfig *config)
{
  SnLinkEst *e = g_new0 (SnLinkEst, 1);
  if (config)
    e->cfg = *config;
  else
    sn_link_est_config_init (&e->cfg);
  e->cfg.window = CLAMP (e->cfg.window, 1, MAX_WINDOW);
  return e;
}

void
sn_link_est_free (SnLinkEst *e)
{
  g_free (e);
}

static Flight *
flight_get (SnLinkEst *e, guint64 seq, gboolean create)
{
  Flight *f = &e->flight[seq % N_FLIGHT];
  if (f->used && f->seq == seq)
    return f;
  if (!create)
    return NULL;
  if (f->used && f->sent)       /* evicted unacked: no longer in flight */
    e->inflight_bytes -= f->bytes;
  memset (f, 0, sizeof *f);
  f->used = TRUE;
  f->seq = seq;
  return f;
}

static void
flight_release (SnLinkEst *e, Flight *f)
{
  if (f->sent)
    e->inflight_bytes -= f->bytes;
  f->sent = FALSE;
  if (e->inflight_bytes < 0.5)
    e->inflight_bytes = 0;
  f->used = FALSE;
}

/* A message unacknowledged for forget_s while the link was silent (no ack
 * at all since it was sent, or since the last ack, whichever is later) was
 * lost, or its ack was, or the receiver is gone: it must not hold the stall
 * bound and max-lag shut forever.  Forgetting it is also how the sender
 * probes a silent link: with nothing in flight the next message goes out.
 *
 * Age alone is not enough.  On a slow link with a few large messages queued
 * (2 Mbit/s, 400 kB each: 1.6 s apiece) a message can wait longer than
 * forget_s while the acks of those ahead keep coming.  Forgetting it there
 * took its bytes out of the backlog, so max-lag let the next frames into
 * the queue, which made the next message older still: the queue grew
 * without bound, every ack came too late to count, and the sender learnt
 * nothing more about the link (the shaped-link failure of issue 20).  As
 * long as acks arrive, a message that is still waiting is queued, not lost;
 * a lost one is settled by the ack of a later one (see data_acked). */
static void
forget_old (SnLinkEst *e, double now)
{
  for (int i = 0; i < N_FLIGHT; i++) {
    Flight *f = &e->flight[i];
    double t = f->sent ? f->t_send : f->t_probe_send;
    if (f->used && now - MAX (t, e->last_ack) > e->cfg.forget_s) {
      if (f->sent)
        e->n_given_up++;
      flight_release (e, f);
    }
  }
}

static void push (Sample *ring, int size, int *n, int *head, Sample s);

static void
record_seq (SnLinkEst *e, guint64 seq)
{
  if (!e->have_seq || seq > e->last_seq)
    e->last_seq = seq;
  e->have_seq = TRUE;
}

static void
rtt_sample (SnLinkEst *e, double t_ack, double rtt)
{
  if (rtt >= 0)
    push (e->rtt, N_RTT, &e->n_rtt, &e->rtt_head, (Sample) { t_ack, 0, rtt });
}

void
sn_link_est_probe_sent (SnLinkEst *e, guint64 seq, double t_send)
{
  Flight *f = flight_get (e, seq, TRUE);
  f->probe_sent = TRUE;
  f->t_probe_send = t_send;
  record_seq (e, seq);
  if (f->probe_acked)           /* its ack came first */
    rtt_sample (e, f->t_probe_ack, f->t_probe_ack - t_send);
}

static void data_acked (SnLinkEst *e, Flight *f, guint64 seq, double bytes, double t_recv,
    gboolean exact, double t_ack);

void
sn_link_est_sent (SnLinkEst *e, guint64 seq, double bytes, double t_send)
{
  forget_old (e, t_send);
  Flight *f = flight_get (e, seq, TRUE);
  if (f->sent)
    return;
  f->sent = TRUE;
  f->t_send = t_send;
  f->bytes = MAX (bytes, 0);
  f->ahead = e->inflight_bytes;
  e->inflight_bytes += f->bytes;
  record_seq (e, seq);
  if (f->early)                 /* its ack came first */
    data_acked (e, f, seq, f->early_bytes, f->early_t_recv, f->early_exact, f->early_t_ack);
}

static void
push (Sample *ring, int size, int *n, int *head, Sample s)
{
  ring[*head] = s;
  *head = (*head + 1) % size;
  if (*n < size)
    (*n)++;
}

static double newest (const Sample *ring, int n);

static double
window_capacity (const SnLinkEst *e)
{
  if (e->n_samples_kept == 0)
    return 0;
  double last = newest (e->samples, e->n_samples_kept), bytes = 0, gap = 0;
  for (int i = 0; i < e->n_samples_kept; i++)
    if (e->samples[i].t >= last - e->cfg.window_s) {
      bytes += e->samples[i].bytes;
      gap += e->samples[i].gap;
    }
  return gap > 0 ? 8.0 * bytes / gap : 0;
}

/* Noise within a factor of two is averaged by the window; two samples in a
 * row beyond it are a step of the link, and the window restarts from them
 * so the estimate follows within two messages either way. */
static void
add_sample (SnLinkEst *e, Sample s)
{
  double est = window_capacity (e), x = 8.0 * s.bytes / s.gap;
  int dir = est <= 0 ? 0 : x > 2 * est ? 1 : x < est / 2 ? -1 : 0;
  if (dir == 0)
    e->outliers = 0;
  else if ((dir > 0) == (e->outliers > 0) && e->outliers != 0)
    e->outliers += dir;
  else
    e->outliers = dir;
  if (ABS (e->outliers) >= 2) {
    e->n_samples_kept = 0;
    e->samples_head = 0;
    push (e->samples, e->cfg.window, &e->n_samples_kept, &e->samples_head, e->last_outlier);
    e->outliers = 0;
  }
  if (dir != 0)
    e->last_outlier = s;
  push (e->samples, e->cfg.window, &e->n_samples_kept, &e->samples_head, s);
  e->n_samples++;
}

/* An ack can overtake the sender's own record of the send: on a fast
 * link the receiver answers a small message before the sending thread,
 * back from ZeroMQ, has written it down (zmqsink's ack thread runs beside
 * its streaming thread).  Dropped, that message would stay unacknowledged
 * until forgotten and hold max-lag shut meanwhile; so such an ack is kept
 * and applied when the send is recorded.  Only for sequence numbers just
 * past the newest recorded, so stray acks cannot evict real flights. */
void
sn_link_est_ack (SnLinkEst *e, guint64 seq, gboolean probe, double bytes,
    double t_recv, gboolean exact, double t_ack)
{
  Flight *f = flight_get (e, seq, FALSE);
  if (!f && (!e->have_seq || (seq > e->last_seq && seq - e->last_seq <= N_FLIGHT / 4)))
    f = flight_get (e, seq, TRUE);
  if (!f)
    return;
  if (probe) {
    if (f->probe_acked)
      return;
    f->probe_acked = TRUE;
    f->probe_exact = exact;
    f->t_probe_recv = t_recv;
    f->t_probe_ack = t_ack;
    if (f->probe_sent)
      rtt_sample (e, t_ack, t_ack - f->t_probe_send);
    return;
  }
  if (!f->sent) {
    if (!f->early) {
      f->early = TRUE;
      f->early_bytes = bytes;
      f->early_t_recv = t_recv;
      f->early_exact = exact;
      f->early_t_ack = t_ack;
    }
    return;
  }
  data_acked (e, f, seq, bytes, t_recv, exact, t_ack);
}

static void
data_acked (SnLinkEst *e, Flight *f, guint64 seq, double bytes, double t_recv,
    gboolean exact, double t_ack)
{
  e->n_acks++;
  e->last_ack = MAX (e->last_ack, t_ack);
  /* Sent while another was unacknowledged, and its probe found the
   * receiver busy: it queued right behind the previous message. */
  gboolean queued = f->ahead > 0 && f->probe_acked && !f->probe_exact;
  push (e->delivered, N_DELIVERED, &e->n_delivered, &e->delivered_head,
      (Sample) { t_recv, bytes, queued });
  if (f->probe_acked && f->probe_exact && exact && bytes >= e->cfg.min_bytes) {
    double gap = t_recv - f->t_probe_recv;
    if (gap > 0)
      add_sample (e, (Sample) { t_recv, bytes, gap });
  }
  flight_release (e, f);
  /* Messages travel and are acknowledged in order: an earlier message
   * still here was lost, or its ack was (one sent before the sender's
   * subscription reached the receiver, typically).  Waiting forget_s for
   * it would hold max-lag back for nothing. */
  for (int i = 0; i < N_FLIGHT; i++)
    if (e->flight[i].used && e->flight[i].seq < seq)
      flight_release (e, &e->flight[i]);
}

/* The newest receiver time among kept samples. */
static double
newest (const Sample *ring, int n)
{
  double t = -INFINITY;
  for (int i = 0; i < n; i++)
    t = MAX (t, ring[i].t);
  return t;
}

double
sn_link_est_delivered (const SnLinkEst *e)
{
  if (e->n_delivered < 2)
    return 0;
  double last = newest (e->delivered, e->n_delivered);
  double first = INFINITY, bytes = 0, first_bytes = 0;
  int n = 0;
  for (int i = 0; i < e->n_delivered; i++) {
    const Sample *s = &e->delivered[i];
    if (s->t < last - e->cfg.rate_window_s)
      continue;
    n++;
    bytes += s->bytes;
    if (s->t < first) {
      first = s->t;
      first_bytes = s->bytes;
    }
  }
  /* The first message's bytes arrived before the window opened. */
  if (n < 2 || last <= first)
    return 0;
  return 8.0 * (bytes - first_bytes) / (last - first);
}

double
sn_link_est_rtt (const SnLinkEst *e)
{
  if (e->n_rtt == 0)
    return -1;
  double last = newest (e->rtt, e->n_rtt), best = INFINITY;
  for (int i = 0; i < e->n_rtt; i++)
    if (e->rtt[i].t >= last - e->cfg.rtt_window_s)
      best = MIN (best, e->rtt[i].gap);
  return best;
}

double
sn_link_est_oldest_unacked (SnLinkEst *e, double now)
{
  forget_old (e, now);
  double age = 0;
  for (int i = 0; i < N_FLIGHT; i++) {
    const Flight *f = &e->flight[i];
    if (f->used && f->sent)
      age = MAX (age, now - f->t_send);
  }
  return age;
}

/* The last SATURATED_N messages acknowledged all queued behind another. */
static gboolean
saturated (const SnLinkEst *e)
{
  if (e->n_delivered < SATURATED_N)
    return FALSE;
  for (int k = 1; k <= SATURATED_N; k++)
    if (!e->delivered[(e->delivered_head - k + N_DELIVERED) % N_DELIVERED].gap)
      return FALSE;
  return TRUE;
}

double
sn_link_est_capacity (SnLinkEst *e, double now)
{
  double capacity = window_capacity (e), delivered = sn_link_est_delivered (e);
  /* No sample yet (small messages, busy receiver): what the link did
   * carry, it can carry.  Not a floor once samples exist: right after a
   * drop the delivered window still holds the faster past.  Saturated,
   * what it carries is all it can (see sn-linkest.h). */
  if (capacity <= 0)
    capacity = delivered;
  else if (delivered > 0 && saturated (e))
    capacity = MIN (capacity, delivered);
  if (capacity <= 0 || e->n_acks == 0)
    return capacity;

  /* Stall bound: every unacked message and what was queued before it
   * should have arrived by now at this capacity.  Ack delays (a receiver or
   * an ack thread that did not get the CPU for a while) make a bound on a
   * message in flight fall under the capacity; only a message out for
   * STALL_MIN_S and a bound below a quarter of the estimate say the link
   * has slowed down. */
  forget_old (e, now);
  double rtt = MAX (sn_link_est_rtt (e), 0), bound = INFINITY;
  for (int i = 0; i < N_FLIGHT; i++) {
    const Flight *f = &e->flight[i];
    if (!f->used || !f->sent)
      continue;
    double elapsed = now - f->t_send - rtt;
    if (elapsed < STALL_MIN_S)
      continue;
    bound = MIN (bound, 8.0 * (f->ahead + f->bytes) / elapsed);
  }
  return bound < capacity / 4 ? bound : capacity;
}

guint64 sn_link_est_n_samples (const SnLinkEst *e) { return e->n_samples; }
guint64 sn_link_est_n_acks (const SnLinkEst *e) { return e->n_acks; }
guint64 sn_link_est_n_given_up (const SnLinkEst *e) { return e->n_given_up; }

double
sn_link_est_backlog (SnLinkEst *e, double now)
{
  double age = sn_link_est_oldest_unacked (e, now);
  if (age <= 0)
    return 0;
  /* Without a dispersion sample the capacity falls back to the delivered
   * rate, which is only what was offered: tiny messages (detections at 4
   * frames/s deliver 10 kbit/s) would make one whose ack is merely late
   * look like a quarter of a second of backlog, and max-lag drop them.
   * The age of the oldest is all that is known then. */
  if (window_capacity (e) <= 0)
    return age;
  double capacity = sn_link_est_capacity (e, now);
  if (capacity <= 0)
    return age;
  /* A sample far below the window that has not restarted it yet (that
   * takes a second one, a whole message later: 1.6 s for 400 kB at
   * 2 Mbit/s) is the first sign of a drop.  The capacity waits for the
   * second, so noise does not move the cut; the backlog does not: letting
   * frames in at the old rate meanwhile is what builds a queue of seconds,
   * while the cost of being wrong is one frame dropped. */
  if (e->outliers < 0 && e->last_outlier.gap > 0)
    capacity = MIN (capacity, 8.0 * e->last_outlier.bytes / e->last_outlier.gap);
  /* The link has been on the oldest message since it was sent or, if it
   * was queued behind others, since the last of those was acknowledged,
   * whichever is later.  (Counting from its send time alone would take a
   * standing queue for one that has drained, and keep it standing.) */
  double start = MAX (now - age, e->last_ack);
  return MAX (0, 8.0 * e->inflight_bytes / capacity - (now - start));
}
