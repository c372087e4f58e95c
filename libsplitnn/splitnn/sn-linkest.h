/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — link estimator: what a message link can carry, from
 * acknowledgements.
 *
 * A transport that cannot see the wire (ZeroMQ) learns about the link from
 * acknowledgements sent back by the receiver: for every message its
 * sequence number, its size and the receiver's clock when it arrived.  The
 * estimator turns those into
 *
 *  - capacity: what the link could carry, bit/s.  The sender puts a tiny
 *    *probe* message right before a data message; both are queued back to
 *    back at the bottleneck, so on the receiver's clock the data message
 *    completes bytes/capacity after the probe (packet-pair dispersion).
 *    Only receiver-clock differences are used: no clock sync, no base RTT.
 *    Unlike the delivered rate, this does not shrink when the sender offers
 *    less than the link carries (a few small frames a second on a fast
 *    link), so a planner can move back to a bigger-packet cut when the link
 *    recovers.  Samples are combined byte-weighted over a window
 *    (sum of bytes / sum of gaps), so large messages, whose gaps are
 *    measured most precisely, dominate and a slow-down weighs at once; two
 *    samples in a row off by more than a factor of two restart the window
 *    (a step of the link, not noise).
 *  - delivered rate: bytes acknowledged per second over a sliding window on
 *    the receiver's clock.  It is what the link did carry, a lower bound of
 *    the capacity, and stands in for it until a capacity sample exists.
 *    When the link is saturated it *is* the capacity, and it caps the
 *    estimate: the last few messages were each sent while an earlier one
 *    was unacknowledged and their probes found the receiver busy (queued
 *    right behind the previous message).  A saturated link gives no
 *    dispersion samples (no probe is exact), so without this an estimate
 *    that was too high, by less than the stall bound's factor four, would
 *    stay too high as long as the backlog it lets in lasts.
 *  - a stall bound: when an unacknowledged message has been out for 0.3 s
 *    and four times longer than the link should need for it and everything
 *    queued before it, the link is slower than that; the capacity is capped
 *    at (bytes ahead + its bytes) / (age - base RTT) until acks catch up.
 *    This reacts to a sudden drop before any slow message completes.
 *  - base RTT: the minimum over a window of probe round trips on the
 *    sender's clock (probes are tiny, so this is propagation plus
 *    processing, not queueing).
 *
 * Receiver timestamps are only trusted when the receiver was idle, waiting,
 * when the message arrived ("exact"); a busy receiver reads messages late
 * and bunched, which would overstate the capacity.
 *
 * Pure arithmetic on the timings it is given (seconds, doubles), no clock of
 * its own and no I/O, so it is tested on synthetic timings. */
#pragma once

#include <splitnn/sn-api.h>

#include <glib.h>

G_BEGIN_DECLS

typedef struct SnLinkEst SnLinkEst;

typedef struct {
  int window;           /* capacity samples kept (default 8) */
  double window_s;      /* and only those this recent, receiver clock (default 3) */
  double min_bytes;     /* smaller messages give no capacity sample (default 4096) */
  double rate_window_s; /* delivered-rate window, receiver clock (default 2) */
  double rtt_window_s;  /* base-RTT window, sender clock (default 10) */
  double forget_s;      /* an unacked message this old, with no ack at all for as long, is taken as lost (default 5) */
} SnLinkEstConfig;

SN_API void sn_link_est_config_init (SnLinkEstConfig *config);
SN_API SnLinkEst *sn_link_est_new (const SnLinkEstConfig *config /* NULL: defaults */);
SN_API void sn_link_est_free (SnLinkEst *e);

/* Sender side.  A probe announces the data message @seq that follows it. */
SN_API void sn_link_est_probe_sent (SnLinkEst *e, guint64 seq, double t_send);
SN_API void sn_link_est_sent (SnLinkEst *e, guint64 seq, double bytes, double t_send);
/* An acknowledgement: @t_recv on the receiver's clock, @t_ack (when the ack
 * reached the sender) on the sender's.  Unknown and duplicate acks are
 * ignored.  Messages and acks are taken to travel in order (one ZeroMQ
 * connection each way): an ack for @seq settles every earlier message
 * still waiting as lost. */
SN_API void sn_link_est_ack (SnLinkEst *e, guint64 seq, gboolean probe, double bytes,
    double t_recv, gboolean exact, double t_ack);

/* bit/s; 0 while unknown.  @now (sender clock) drives the stall bound. */
SN_API double sn_link_est_capacity (SnLinkEst *e, double now);
/* bit/s over the delivered-rate window; 0 while unknown. */
SN_API double sn_link_est_delivered (const SnLinkEst *e);
/* seconds; < 0 while unknown. */
SN_API double sn_link_est_rtt (const SnLinkEst *e);
/* Age (s) of the oldest data message not acknowledged yet; 0 if none. */
SN_API double sn_link_est_oldest_unacked (SnLinkEst *e, double now);
/* Seconds a message sent now would wait behind the unacknowledged ones:
 * their bytes at the estimated capacity, less the time the link has been
 * on the oldest (since it was sent or since the last ack, whichever is
 * later); without an estimate, the age of the oldest.  0 when nothing is
 * in flight. */
SN_API double sn_link_est_backlog (SnLinkEst *e, double now);
/* Number of capacity samples taken so far, and acks seen. */
SN_API guint64 sn_link_est_n_samples (const SnLinkEst *e);
SN_API guint64 sn_link_est_n_acks (const SnLinkEst *e);
/* Sent messages given up on: unacknowledged for forget_s while no ack at
 * all came (a receiver gone, a connection lost).  Each one reopens the
 * link to the next message, which probes whether it carries again. */
SN_API guint64 sn_link_est_n_given_up (const SnLinkEst *e);

G_END_DECLS
