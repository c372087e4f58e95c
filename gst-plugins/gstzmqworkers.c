/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — zmqsink's pool of workers (gstzmqworkers.h, docs/workers.md).
 *
 * Why one PUSH socket per worker and not one socket connected to all: a
 * PUSH socket round-robins, and the stream must stick to the worker that
 * holds its state.  Why a SUB socket per worker besides the sink's own ack
 * socket: an ack frame does not say who sent it, and liveness is per
 * worker.  Everything runs in the streaming thread, before each send, so
 * a worker's death is noticed within timeout plus one frame interval. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzmqworkers.h"

#include <splitnn/sn-workers.h>

#include <errno.h>
#include <string.h>
#include <zmq.h>

GST_DEBUG_CATEGORY_STATIC (gst_zmq_workers_debug);
#define GST_CAT_DEFAULT gst_zmq_workers_debug

typedef struct
{
  gchar *endpoint, *ack_endpoint;
  void *context, *socket;
  void *ack_context, *ack_socket;
  gboolean heard;               /* it acknowledged something since open */
  gboolean waited;              /* wait_heard() ran for it */
} Worker;

struct _GstZmqWorkers
{
  GMutex lock;                  /* the counters and current, for readers */
  SnWorkers *pool;
  Worker *w;
  guint n;
  guint32 stream_id;
  gint current;                 /* worker of the last send, -1: none yet */
  gdouble opened, timeout_s;
  guint64 moves, deaths, rejoins;
};

static gdouble
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* "a, b,,c" -> {"a", "b", "c"} */
static gchar **
split_list (const gchar * list)
{
  gchar **v = g_strsplit (list ? list : "", ",", -1);
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; v[i]; i++) {
    g_strstrip (v[i]);
    if (*v[i])
      g_ptr_array_add (out, g_strdup (v[i]));
  }
  g_strfreev (v);
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (out, FALSE);
}

GstZmqWorkers *
gst_zmq_workers_open (const gchar * workers, const gchar * acks,
    const GstZmqSocketConfig * config, guint32 stream_id, guint timeout_ms,
    GstZmqOpenError * kind, GError ** error)
{
  static gsize once = 0;
  gchar **data = split_list (workers), **ack = split_list (acks);
  guint n = g_strv_length (data);
  GstZmqWorkers *ws = NULL;

  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (gst_zmq_workers_debug, "zmqworkers", 0,
        "zmqsink's pool of workers");
    g_once_init_leave (&once, 1);
  }
  *kind = GST_ZMQ_OPEN_ERROR_SETTINGS;
  if (n == 0) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "workers: no endpoint in '%s'", workers ? workers : "");
    goto out;
  }
  if (g_strv_length (ack) != n) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "workers: %u worker(s) but %u ack endpoint(s) in ack-endpoint; "
        "a pool needs one ack endpoint per worker, in the same order", n,
        g_strv_length (ack));
    goto out;
  }
  if (config->bind || config->type != ZMQ_PUSH) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "workers: the sink must connect (bind=false) with socket-type=push");
    goto out;
  }

  ws = g_new0 (GstZmqWorkers, 1);
  g_mutex_init (&ws->lock);
  ws->pool =
      sn_workers_new (timeout_ms / 1000.0, MAX (timeout_ms / 4, 50) / 1000.0);
  ws->w = g_new0 (Worker, n);
  ws->stream_id = stream_id;
  ws->current = -1;
  ws->opened = now_s ();
  ws->timeout_s = timeout_ms / 1000.0;
  for (guint i = 0; i < n; i++) {
    GstZmqSocketConfig c = *config;
    guint32 id_le = GUINT32_TO_LE (stream_id);
    Worker *k = &ws->w[i];

    ws->n++;
    k->endpoint = g_strdup (data[i]);
    k->ack_endpoint = g_strdup (ack[i]);
    if (sn_workers_add (ws->pool, k->endpoint, error) < 0) {
      gchar *m = g_strdup_printf ("workers: %s", (*error)->message);
      g_free ((*error)->message);
      (*error)->message = m;
      goto fail;
    }
    c.type = ZMQ_PUSH;
    c.endpoint = k->endpoint;
    if (!gst_zmq_socket_open (&c, &k->context, &k->socket, kind, error))
      goto fail;
    c.type = ZMQ_SUB;
    c.endpoint = k->ack_endpoint;
    c.hwm = 1000;
    c.immediate = FALSE;
    c.linger = 0;
    if (!gst_zmq_socket_open (&c, &k->ack_context, &k->ack_socket, kind, error))
      goto fail;
    zmq_setsockopt (k->ack_socket, ZMQ_UNSUBSCRIBE, "", 0);
    zmq_setsockopt (k->ack_socket, ZMQ_SUBSCRIBE, &id_le, sizeof id_le);
  }
  goto out;

fail:
  gst_zmq_workers_close (ws);
  ws = NULL;
out:
  g_strfreev (data);
  g_strfreev (ack);
  return ws;
}

void
gst_zmq_workers_shutdown (GstZmqWorkers * ws)
{
  /* Data sockets first: closing waits up to linger for queued messages. */
  for (guint i = 0; i < ws->n; i++)
    gst_zmq_socket_close (&ws->w[i].context, &ws->w[i].socket);
  for (guint i = 0; i < ws->n; i++)
    gst_zmq_socket_close (&ws->w[i].ack_context, &ws->w[i].ack_socket);
}

gboolean
gst_zmq_workers_is_open (GstZmqWorkers * ws)
{
  return ws->n > 0 && ws->w[0].socket != NULL;
}

void
gst_zmq_workers_close (GstZmqWorkers * ws)
{
  if (!ws)
    return;
  gst_zmq_workers_shutdown (ws);
  for (guint i = 0; i < ws->n; i++) {
    g_free (ws->w[i].endpoint);
    g_free (ws->w[i].ack_endpoint);
  }
  g_free (ws->w);
  sn_workers_free (ws->pool);
  g_mutex_clear (&ws->lock);
  g_free (ws);
}

const gchar *
gst_zmq_workers_first_ack (GstZmqWorkers * ws)
{
  return ws->w[0].ack_endpoint;
}

gboolean
gst_zmq_workers_connect_acks (GstZmqWorkers * ws, void *socket, GError ** error)
{
  for (guint i = 1; i < ws->n; i++)
    if (zmq_connect (socket, ws->w[i].ack_endpoint) != 0) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "ack-endpoint '%s': %s", ws->w[i].ack_endpoint, zmq_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* Reads what each worker acknowledged since the last call. */
static void
drain_acks (GstZmqWorkers * ws, gdouble t)
{
  zmq_msg_t msg;

  zmq_msg_init (&msg);
  for (guint i = 0; i < ws->n; i++) {
    while (zmq_msg_recv (&msg, ws->w[i].ack_socket, ZMQ_DONTWAIT) >= 0) {
      GstZmqAck ack;

      /* Replies share the channel; they are the sink's business. */
      if (!gst_zmq_ack_parse (&ack, zmq_msg_data (&msg), zmq_msg_size (&msg),
              NULL) || ack.stream_id != ws->stream_id)
        continue;
      /* A worker whose queue is full reads and drops (acknowledged as
       * dropped, docs/zmq.md): it is up but does not serve the stream, so
       * it does not count as alive; another worker may. */
      if (ack.flags & GST_ZMQ_ACK_FLAG_DROPPED)
        continue;
      ws->w[i].heard = TRUE;
      if (sn_workers_acked (ws->pool, i, ack.seqnum, t)) {
        g_mutex_lock (&ws->lock);
        ws->rejoins++;
        g_mutex_unlock (&ws->lock);
        GST_INFO ("stream %08x: worker %s answers again", ws->stream_id,
            ws->w[i].endpoint);
      }
    }
  }
  zmq_msg_close (&msg);
}

/* A probe (docs/zmq.md) to each dead worker whose turn it is: acknowledged
 * and not pushed by its zmqsrc.  Never blocks; while the worker is down
 * ZeroMQ (ZMQ_IMMEDIATE) refuses it at once. */
static void
probe (GstZmqWorkers * ws, guint i, guint64 seq)
{
  GstZmqHeader header = { 0, };
  guint8 buf[GST_ZMQ_HEADER_SIZE];

  header.flags = GST_ZMQ_HEADER_FLAG_PROBE;
  header.stream_id = ws->stream_id;
  header.seqnum = seq;
  header.pts = header.dts = header.duration = GST_CLOCK_TIME_NONE;
  header.offset = header.offset_end = GST_BUFFER_OFFSET_NONE;
  gst_zmq_header_write (&header, buf);
  if (zmq_send (ws->w[i].socket, buf, sizeof buf,
          ZMQ_DONTWAIT | ZMQ_SNDMORE) >= 0)
    zmq_send (ws->w[i].socket, NULL, 0, ZMQ_DONTWAIT);
}

static void
probe_dead (GstZmqWorkers * ws, guint64 seq, gdouble t)
{
  for (guint i = 0; i < ws->n; i++)
    if (sn_workers_probe_due (ws->pool, i, t))
      probe (ws, i, seq);
}

/* Before the first message to a worker: probes until it acknowledges one,
 * for at most the timeout.  A PUB socket drops what it sends before a
 * subscription has reached it, so without this the acknowledgements of
 * the first messages are lost while the subscriptions form, and those
 * messages, delivered, would be counted lost.  Once per worker. */
static void
wait_heard (GstZmqWorkers * ws, guint i, guint64 seq)
{
  gdouble t0 = now_s ();

  while (!ws->w[i].heard && now_s () - t0 < ws->timeout_s) {
    zmq_pollitem_t item = { ws->w[i].ack_socket, 0, ZMQ_POLLIN, 0 };

    probe (ws, i, seq);
    zmq_poll (&item, 1, 20);
    drain_acks (ws, now_s ());
  }
  GST_DEBUG ("stream %08x: worker %s %s", ws->stream_id, ws->w[i].endpoint,
      ws->w[i].heard ? "answers" : "did not answer within the timeout");
  ws->w[i].waited = TRUE;
}

void *
gst_zmq_workers_route (GstZmqWorkers * ws, guint64 probe_seq, gboolean * moved)
{
  gdouble t = now_s ();
  gint pick;

  drain_acks (ws, t);
  if (sn_workers_check (ws->pool, t)) {
    g_mutex_lock (&ws->lock);
    ws->deaths++;
    g_mutex_unlock (&ws->lock);
    GST_INFO ("stream %08x: a worker stopped acknowledging", ws->stream_id);
  }
  probe_dead (ws, probe_seq, t);
  pick = sn_workers_pick (ws->pool, ws->stream_id);
  /* Going back to a worker that rejoined: only once the live worker has
   * acknowledged everything, so no message is overtaken (and counted
   * lost) by the move. */
  if (pick != ws->current && ws->current >= 0
      && sn_workers_alive (ws->pool, ws->current)
      && sn_workers_outstanding (ws->pool, ws->current))
    pick = ws->current;
  if (pick >= 0 && !ws->w[pick].heard && !ws->w[pick].waited)
    wait_heard (ws, pick, probe_seq);
  *moved = ws->current >= 0 && pick >= 0 && pick != ws->current;
  if (pick != ws->current) {
    g_mutex_lock (&ws->lock);
    if (*moved)
      ws->moves++;
    ws->current = pick;
    g_mutex_unlock (&ws->lock);
    GST_INFO ("stream %08x: now on %s", ws->stream_id,
        pick >= 0 ? ws->w[pick].endpoint : "no worker (none alive)");
  }
  return pick >= 0 ? ws->w[pick].socket : NULL;
}

void
gst_zmq_workers_sent (GstZmqWorkers * ws, guint64 seq)
{
  if (ws->current >= 0)
    sn_workers_sent (ws->pool, ws->current, seq, now_s ());
}

gboolean
gst_zmq_workers_failed (GstZmqWorkers * ws)
{
  if (ws->current < 0)
    return FALSE;
  /* Right after start the connections are still forming: a worker never
   * heard from gets the timeout before a refused send condemns it (the
   * buffer is dropped and counted meanwhile, as with one peer). */
  if (!ws->w[ws->current].heard && now_s () - ws->opened < ws->timeout_s)
    return FALSE;
  GST_INFO ("stream %08x: worker %s cannot take messages", ws->stream_id,
      ws->w[ws->current].endpoint);
  sn_workers_set_alive (ws->pool, ws->current, FALSE);
  g_mutex_lock (&ws->lock);
  ws->deaths++;
  g_mutex_unlock (&ws->lock);
  return sn_workers_n_alive (ws->pool) > 0;
}

gchar *
gst_zmq_workers_current_name (GstZmqWorkers * ws)
{
  gchar *name;

  g_mutex_lock (&ws->lock);
  name = g_strdup (ws->current >= 0 ? ws->w[ws->current].endpoint : NULL);
  g_mutex_unlock (&ws->lock);
  return name;
}

guint64
gst_zmq_workers_moves (GstZmqWorkers * ws)
{
  guint64 n;

  g_mutex_lock (&ws->lock);
  n = ws->moves;
  g_mutex_unlock (&ws->lock);
  return n;
}

void
gst_zmq_workers_add_stats (GstZmqWorkers * ws, GstStructure * s)
{
  gchar *name = gst_zmq_workers_current_name (ws);

  g_mutex_lock (&ws->lock);
  gst_structure_set (s, "worker", G_TYPE_STRING, name ? name : "",
      "worker-moves", G_TYPE_UINT64, ws->moves,
      "worker-deaths", G_TYPE_UINT64, ws->deaths,
      "worker-rejoins", G_TYPE_UINT64, ws->rejoins, NULL);
  g_mutex_unlock (&ws->lock);
  g_free (name);
}
