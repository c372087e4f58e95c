/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — a pool of cloud workers: which worker serves a stream, and
 * which workers are alive.
 *
 * Experimental: may change before 1.0 (docs/architecture.md, "Public API").
 *
 * Affinity.  A worker holds a stream's state (temporal references, codec
 * state), so every frame of a stream must reach the same worker while it
 * lives.  Each stream goes to the live worker with the highest score
 * sn_workers_score (name, stream id): rendezvous (highest random weight)
 * hashing, the form of consistent hashing that needs no ring.  Removing a
 * worker moves only the streams it served, each to its second choice;
 * adding one moves to it only the streams for which it scores highest,
 * about 1/n of them.  The score is defined here, not left to a library,
 * so that every edge, whatever it runs, computes the same one:
 *
 *     h = FNV-1a 64 (bytes of name)
 *     x = h XOR (stream_id * 0x9E3779B97F4A7C15)          (mod 2^64)
 *     score = splitmix64 finaliser of x:
 *             x ^= x >> 30; x *= 0xBF58476D1CE4E5B9;
 *             x ^= x >> 27; x *= 0x94D049BB133111EB; x ^= x >> 31
 *
 * Ties (never seen in practice) go to the worker added first.
 *
 * Liveness.  The caller tells the pool what it sent to a worker and what
 * that worker acknowledged; a worker with a message unacknowledged for
 * longer than the timeout (and no acknowledgement in that time) is marked
 * dead by sn_workers_check.  A dead worker is probed every probe
 * interval (sn_workers_probe_due) and comes back with its first
 * acknowledgement.  Times are seconds on any monotonic clock.  Not
 * thread-safe: one owner. */
#pragma once

#include <glib.h>
#include <stddef.h>

#include "splitnn/sn-api.h"

G_BEGIN_DECLS

typedef struct SnWorkers SnWorkers;

/* @timeout_s > 0: how long a worker may leave a message unacknowledged;
 * @probe_interval_s > 0: how often a dead worker is probed. */
SN_API SnWorkers *sn_workers_new (double timeout_s, double probe_interval_s);
SN_API void sn_workers_free (SnWorkers *w);

/* Adds a live worker; returns its index (0, 1, ...), or -1 with @error set
 * when @name is empty or already in the pool. */
SN_API int sn_workers_add (SnWorkers *w, const char *name, GError **error);
SN_API size_t sn_workers_count (const SnWorkers *w);
SN_API const char *sn_workers_name (const SnWorkers *w, int i);
SN_API gboolean sn_workers_alive (const SnWorkers *w, int i);
SN_API size_t sn_workers_n_alive (const SnWorkers *w);
/* Marks a worker alive or dead by hand (e.g. the connection is known to
 * be down); a worker marked alive starts with nothing outstanding. */
SN_API void sn_workers_set_alive (SnWorkers *w, int i, gboolean alive);

SN_API guint64 sn_workers_score (const char *name, guint32 stream_id);
/* The live worker that serves @stream_id, or -1 when none is alive. */
SN_API int sn_workers_pick (const SnWorkers *w, guint32 stream_id);

/* A message @seq was handed to worker @i at @t. */
SN_API void sn_workers_sent (SnWorkers *w, int i, guint64 seq, double t);
/* Worker @i acknowledged @seq at @t (a probe's acknowledgement counts):
 * a dead worker comes back.  Returns TRUE when it did. */
SN_API gboolean sn_workers_acked (SnWorkers *w, int i, guint64 seq, double t);
/* Marks dead every live worker whose oldest outstanding message has gone
 * unacknowledged for more than the timeout at @t.  Returns TRUE when any
 * worker died. */
SN_API gboolean sn_workers_check (SnWorkers *w, double t);
/* TRUE when dead worker @i should be probed now (and records @t as its
 * last probe); FALSE for a live one. */
SN_API gboolean sn_workers_probe_due (SnWorkers *w, int i, double t);
/* Messages sent to worker @i not yet acknowledged (by sequence number:
 * the last sent is newer than the last acknowledged). */
SN_API gboolean sn_workers_outstanding (const SnWorkers *w, int i);

G_END_DECLS
