/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — a pool of cloud workers (splitnn/sn-workers.h).
 *
 * Written by hand: rendezvous hashing over a handful of workers is a loop
 * and a 64-bit mix; a ring library (libketama, ...) would add a
 * dependency, virtual nodes and a ring to keep in step for no gain at
 * this size, and its hash would not be written down in our header. */
#include "splitnn/sn-workers.h"
#include "splitnn/sn-error.h"

#include <string.h>

typedef struct
{
  char *name;
  guint64 name_hash;
  gboolean alive;
  gboolean outstanding;         /* a message sent and not yet acknowledged */
  guint64 last_sent_seq;
  double pending_since;         /* oldest unacknowledged send, or last progress */
  double last_probe;
} Worker;

struct SnWorkers
{
  double timeout_s, probe_interval_s;
  GArray *workers;              /* of Worker */
};

static guint64
fnv1a64 (const char *s)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);
  for (; *s; s++) {
    h ^= (guint8) *s;
    h *= G_GUINT64_CONSTANT (0x100000001b3);
  }
  return h;
}

static guint64
mix (guint64 x, guint32 stream_id)
{
  x ^= (guint64) stream_id * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15);
  x ^= x >> 30;
  x *= G_GUINT64_CONSTANT (0xBF58476D1CE4E5B9);
  x ^= x >> 27;
  x *= G_GUINT64_CONSTANT (0x94D049BB133111EB);
  x ^= x >> 31;
  return x;
}

guint64
sn_workers_score (const char *name, guint32 stream_id)
{
  return mix (fnv1a64 (name), stream_id);
}

SnWorkers *
sn_workers_new (double timeout_s, double probe_interval_s)
{
  SnWorkers *w = g_new0 (SnWorkers, 1);
  w->timeout_s = timeout_s > 0 ? timeout_s : 1.0;
  w->probe_interval_s = probe_interval_s > 0 ? probe_interval_s : 0.5;
  w->workers = g_array_new (FALSE, TRUE, sizeof (Worker));
  return w;
}

void
sn_workers_free (SnWorkers *w)
{
  if (!w)
    return;
  for (guint i = 0; i < w->workers->len; i++)
    g_free (g_array_index (w->workers, Worker, i).name);
  g_array_free (w->workers, TRUE);
  g_free (w);
}

static Worker *
get (const SnWorkers *w, int i)
{
  g_return_val_if_fail (i >= 0 && (guint) i < w->workers->len, NULL);
  return &g_array_index (w->workers, Worker, i);
}

int
sn_workers_add (SnWorkers *w, const char *name, GError **error)
{
  if (!name || !*name) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "a worker needs a name (its endpoint)");
    return -1;
  }
  for (guint i = 0; i < w->workers->len; i++)
    if (strcmp (g_array_index (w->workers, Worker, i).name, name) == 0) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT, "worker '%s' is listed twice", name);
      return -1;
    }
  Worker k = { 0 };
  k.name = g_strdup (name);
  k.name_hash = fnv1a64 (name);
  k.alive = TRUE;
  g_array_append_val (w->workers, k);
  return (int) w->workers->len - 1;
}

size_t
sn_workers_count (const SnWorkers *w)
{
  return w->workers->len;
}

const char *
sn_workers_name (const SnWorkers *w, int i)
{
  Worker *k = get (w, i);
  return k ? k->name : NULL;
}

gboolean
sn_workers_alive (const SnWorkers *w, int i)
{
  Worker *k = get (w, i);
  return k && k->alive;
}

size_t
sn_workers_n_alive (const SnWorkers *w)
{
  size_t n = 0;
  for (guint i = 0; i < w->workers->len; i++)
    n += g_array_index (w->workers, Worker, i).alive;
  return n;
}

void
sn_workers_set_alive (SnWorkers *w, int i, gboolean alive)
{
  Worker *k = get (w, i);
  if (!k)
    return;
  k->alive = alive;
  k->outstanding = FALSE;
  k->last_probe = -G_MAXDOUBLE;
}

int
sn_workers_pick (const SnWorkers *w, guint32 stream_id)
{
  int best = -1;
  guint64 best_score = 0;
  for (guint i = 0; i < w->workers->len; i++) {
    const Worker *k = &g_array_index (w->workers, Worker, i);
    if (!k->alive)
      continue;
    guint64 s = mix (k->name_hash, stream_id);
    if (best < 0 || s > best_score) {
      best = (int) i;
      best_score = s;
    }
  }
  return best;
}

void
sn_workers_sent (SnWorkers *w, int i, guint64 seq, double t)
{
  Worker *k = get (w, i);
  if (!k)
    return;
  if (!k->outstanding) {
    k->outstanding = TRUE;
    k->pending_since = t;
  }
  k->last_sent_seq = seq;
}

gboolean
sn_workers_acked (SnWorkers *w, int i, guint64 seq, double t)
{
  Worker *k = get (w, i);
  if (!k)
    return FALSE;
  if (!k->alive) {
    sn_workers_set_alive (w, i, TRUE);
    return TRUE;
  }
  if (k->outstanding) {
    if (seq >= k->last_sent_seq)
      k->outstanding = FALSE;
    else
      /* Progress: the worker answers.  The send time of the next
       * outstanding message is not kept; counting from now only delays a
       * verdict, never makes a live worker dead. */
      k->pending_since = t;
  }
  return FALSE;
}

gboolean
sn_workers_check (SnWorkers *w, double t)
{
  gboolean any = FALSE;
  for (guint i = 0; i < w->workers->len; i++) {
    Worker *k = &g_array_index (w->workers, Worker, i);
    if (k->alive && k->outstanding && t - k->pending_since > w->timeout_s) {
      sn_workers_set_alive (w, (int) i, FALSE);
      any = TRUE;
    }
  }
  return any;
}

gboolean
sn_workers_probe_due (SnWorkers *w, int i, double t)
{
  Worker *k = get (w, i);
  if (!k || k->alive || t - k->last_probe < w->probe_interval_s)
    return FALSE;
  k->last_probe = t;
  return TRUE;
}

gboolean
sn_workers_outstanding (const SnWorkers *w, int i)
{
  Worker *k = get (w, i);
  return k && k->outstanding;
}
