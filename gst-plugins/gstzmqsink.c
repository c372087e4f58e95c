/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — zmqsink: send any GStreamer stream over ZeroMQ.
 *
 * SECTION:element-zmqsink
 *
 * Sends every buffer as one ZeroMQ message whose header carries the buffer
 * metadata and, on change and periodically, the caps, so a zmqsrc on the
 * other side can reproduce the stream without out-of-band negotiation.  The
 * payload is not copied: ZeroMQ reads the mapped buffer and releases it when
 * the frame has left.
 *
 * A dead peer never stalls the pipeline: with drop-policy=drop-new a buffer
 * nobody can take is dropped and counted; ZeroMQ reconnects by itself when
 * the peer comes back.  See docs/zmq.md for the wire format.
 *
 * With ack-endpoint set (on both sides), the receiving zmqsrc acknowledges
 * every message and the sink estimates the link from the acknowledgements
 * (libsplitnn's sn-linkest: capacity from probe/message dispersion, delivered
 * rate, base RTT; see docs/adaptive.md).  The estimate is readable as
 * properties and sent upstream every bandwidth-interval ms as the custom
 * event "splitnn-bandwidth" (field "bits-per-second"), which any element may
 * use; splitnnedge cut=auto does.  max-lag then bounds the backlog on a
 * slow link: buffers are dropped (and counted) rather than queued while
 * the unacknowledged messages need longer than that to drain.
 *
 * |[
 * gst-launch-1.0 videotestsrc ! video/x-raw,width=320,height=240 ! \
 *     zmqsink endpoint=tcp://127.0.0.1:5555
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzmqsink.h"
#include "gstzmqcommon.h"
#include "gstzmqworkers.h"
#include "gstsplitnnevents.h"
#include "gstsplitnnwarn.h"

#include <splitnn/sn-linkest.h>

#include <errno.h>
#include <string.h>
#include <zmq.h>

GST_DEBUG_CATEGORY_STATIC (gst_zmq_sink_debug);
#define GST_CAT_DEFAULT gst_zmq_sink_debug

typedef enum
{
  GST_ZMQ_SINK_SOCKET_PUSH,
  GST_ZMQ_SINK_SOCKET_PUB,
} GstZmqSinkSocketType;

typedef enum
{
  GST_ZMQ_SINK_DROP_NEW,
  GST_ZMQ_SINK_BLOCK,
} GstZmqSinkDropPolicy;

#define DEFAULT_ENDPOINT NULL
#define DEFAULT_BIND FALSE
#define DEFAULT_SOCKET_TYPE GST_ZMQ_SINK_SOCKET_PUSH
#define DEFAULT_HWM 100
#define DEFAULT_SEND_TIMEOUT 1000
#define DEFAULT_DROP_POLICY GST_ZMQ_SINK_DROP_NEW
#define DEFAULT_RECONNECT_IVL GST_ZMQ_DEFAULT_RECONNECT_IVL
#define DEFAULT_RECONNECT_IVL_MAX GST_ZMQ_DEFAULT_RECONNECT_IVL_MAX
#define DEFAULT_LINGER 1000
#define DEFAULT_TOPIC ""
#define DEFAULT_FORWARD_EOS TRUE
#define DEFAULT_CAPS_INTERVAL 1000
#define DEFAULT_STATS_INTERVAL 0
#define DEFAULT_ACK_ENDPOINT NULL
#define DEFAULT_BANDWIDTH_INTERVAL 250
#define DEFAULT_MAX_LAG 0
#define DEFAULT_WORKERS NULL
#define DEFAULT_WORKER_TIMEOUT 1000

/* Longest a blocking send sleeps before looking at the flushing flag. */
#define POLL_SLICE_MS 100

enum
{
  PROP_0,
  PROP_ENDPOINT,
  PROP_BIND,
  PROP_SOCKET_TYPE,
  PROP_HWM,
  PROP_SEND_TIMEOUT,
  PROP_DROP_POLICY,
  PROP_RECONNECT_IVL,
  PROP_RECONNECT_IVL_MAX,
  PROP_LINGER,
  PROP_TOPIC,
  PROP_FORWARD_EOS,
  PROP_CAPS_INTERVAL,
  PROP_STATS_INTERVAL,
  PROP_CURVE_SERVER_KEY,
  PROP_CURVE_PUBLIC_KEY,
  PROP_CURVE_SECRET_KEY,
  PROP_CURVE_ALLOWED_KEYS,
  PROP_CLIENTS_REFUSED,
  PROP_SENT,
  PROP_DROPPED,
  PROP_BYTES_SENT,
  PROP_ACK_ENDPOINT,
  PROP_BANDWIDTH_INTERVAL,
  PROP_MAX_LAG,
  PROP_BANDWIDTH_ESTIMATE,
  PROP_DELIVERED_RATE,
  PROP_RTT,
  PROP_ACKS,
  PROP_DROPPED_LAG,
  PROP_REPLIES,
  PROP_LOST,
  PROP_DISCARDED_AT_STOP,
  PROP_MAX_ERRORS,
  PROP_MAX_QUEUED_BYTES,
  PROP_DROPPED_BUDGET,
  PROP_WORKERS,
  PROP_WORKER_TIMEOUT,
  PROP_WORKER,
  PROP_WORKER_MOVES,
  PROP_RECEIVER_DROPPED,
};

/* Payload bytes ZeroMQ may hold for us (messages queued for a slow or
 * stalled receiver, each keeping its GstBuffer alive) before buffers are
 * dropped instead. */
#define DEFAULT_MAX_QUEUED_BYTES (G_GINT64_CONSTANT (256) << 20)

/* With acks, a data message unacknowledged this long while no ack at all
 * came is taken as lost (as sn-linkest does: on a slow link a message can
 * wait longer than this behind others whose acks keep coming), and at stop the outstanding ones get this long
 * for their acks to come back. */
#define LOST_AFTER_US (5 * G_USEC_PER_SEC)
#define STOP_ACK_GRACE_US (1 * G_USEC_PER_SEC)
/* The goodbye's own connection: how long it may take to form and send. */
#define GOODBYE_TIMEOUT_US (1 * G_USEC_PER_SEC)

/* A data message handed to ZeroMQ and not yet acknowledged. */
typedef struct
{
  guint64 seq;
  gint64 sent_us;
} Unacked;

struct _GstZmqSink
{
  GstBaseSink parent;

  /* properties, under the object lock */
  gchar *endpoint;
  gboolean bind;
  GstZmqSinkSocketType socket_type;
  gint hwm;
  gint send_timeout;
  GstZmqSinkDropPolicy drop_policy;
  gint reconnect_ivl;
  gint reconnect_ivl_max;
  gint linger;
  gchar *topic;
  gboolean forward_eos;
  guint caps_interval;
  guint stats_interval;
  gchar *curve_server_key;
  gchar *curve_public_key;
  gchar *curve_secret_key;
  gchar *curve_allowed_keys;
  gchar *ack_endpoint;
  guint bandwidth_interval;
  guint max_lag;

  /* counters, under the object lock */
  guint64 sent;
  guint64 dropped;
  guint64 bytes_sent;
  guint64 dropped_lag;          /* part of dropped: max-lag */
  guint64 replies;              /* pushed upstream from the ack thread */

  /* link estimate: the estimator is fed by the streaming thread (sends)
   * and the ack thread (acks), and read by both and by get_property */
  GMutex est_lock;
  SnLinkEst *est;               /* NULL without ack-endpoint */
  gboolean cur_acks;            /* started with ack-endpoint */
  /* Exact accounting with acks: every data message handed to ZeroMQ ends
   * in exactly one of acknowledged, lost (a later message was acknowledged
   * first, or none came for LOST_AFTER_US) or discarded_at_stop; under
   * est_lock. */
  GQueue unacked;               /* of Unacked, in send order */
  gint64 last_ack_us;           /* when the last data ack came */
  guint64 given_up_told;        /* sn_link_est_n_given_up already posted */
  guint64 acknowledged;
  guint64 lost;
  guint64 discarded_at_stop;
  guint64 receiver_dropped;     /* acknowledged as dropped by the receiver:
                                 * its queue was full (it, not the link, is
                                 * the bottleneck) */
  guint64 receiver_dropped_told;        /* at the last splitnn-bandwidth event */
  guint64 eos_seq;              /* the EOS message sent, G_MAXUINT64: none */
  gboolean eos_acked;
  gboolean eos_sent;            /* an EOS message was handed to ZeroMQ */
  guint64 eos_sent_seq;
  void *ack_context;
  void *ack_socket;             /* SUB, used by the ack thread only */
  GThread *ack_thread;
  gint ack_running;             /* atomic */
  gint64 bandwidth_interval_us;
  gint64 max_lag_us;
  gint64 bandwidth_last;

  /* streaming state: a snapshot of the settings taken at start, so the
   * streaming thread never needs the object lock for them */
  void *context;
  void *socket;
  gint flushing;                /* atomic: unlock() was called */
  gint64 max_queued_bytes;      /* property, under the object lock */
  gint64 cur_max_queued_bytes;
  gint64 queued_bytes;          /* atomic: payload bytes ZeroMQ holds */
  guint64 dropped_budget;       /* part of dropped, under the object lock */
  GstZmqSinkSocketType cur_socket_type;
  GstZmqSinkDropPolicy cur_drop_policy;
  gboolean cur_bind;
  gint cur_send_timeout;
  gboolean cur_forward_eos;
  gchar *cur_topic;
  gint64 caps_interval_us;
  gint64 stats_interval_us;

  guint32 stream_id;
  guint32 caps_seq;
  gchar *caps_str;
  gboolean caps_pending;        /* the current caps have not reached the wire */
  gboolean refresh_asked;       /* a refresh went upstream since the last send */
  gint64 caps_last_sent;
  guint64 seqnum;
  gint64 stats_last;
  /* Drops are warned about at most every 5 s, with the count since the
   * last warning, so a dead peer does not flood the bus (gstsplitnnwarn). */
  GstSplitnnWarn drop_warn;
  gint max_errors;

  /* A pool of workers (gstzmqworkers.c): set at start when workers is;
   * self->socket is then the current worker's, borrowed from the pool.
   * Kept after stop for its counters, freed at the next start. */
  gchar *workers;               /* property, under the object lock */
  guint worker_timeout;         /* property, ms */
  GstZmqWorkers *pool;
};

#define gst_zmq_sink_parent_class parent_class
G_DEFINE_TYPE (GstZmqSink, gst_zmq_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (zmqsink, "zmqsink", GST_RANK_NONE,
    GST_TYPE_ZMQ_SINK);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define GST_TYPE_ZMQ_SINK_SOCKET_TYPE (gst_zmq_sink_socket_type_get_type ())
static GType
gst_zmq_sink_socket_type_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ZMQ_SINK_SOCKET_PUSH, "PUSH: each message goes to one connected "
          "peer (round-robin)", "push"},
    {GST_ZMQ_SINK_SOCKET_PUB, "PUB: each message goes to every subscriber "
          "whose filter matches the topic", "pub"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstZmqSinkSocketType", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_ZMQ_SINK_DROP_POLICY (gst_zmq_sink_drop_policy_get_type ())
static GType
gst_zmq_sink_drop_policy_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ZMQ_SINK_DROP_NEW, "Never wait: drop the buffer when no peer can "
          "take it", "drop-new"},
    {GST_ZMQ_SINK_BLOCK, "Wait up to send-timeout for a peer, then drop the "
          "buffer", "block"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstZmqSinkDropPolicy", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

typedef enum
{
  SEND_OK,
  SEND_DROPPED,
  SEND_LAGGED,                  /* dropped by max-lag before trying */
  SEND_BUDGET,                  /* dropped: max-queued-bytes held by ZeroMQ */
  SEND_FLUSHING,
  SEND_ERROR,
} SendResult;

/* Keeps the buffer mapped until ZeroMQ is done with the bytes, which may be
 * long after render returned and on ZeroMQ's I/O thread. */
typedef struct
{
  GstBuffer *buffer;
  GstMapInfo map;
  gint64 *queued_bytes;         /* the sink's; it outlives the payload, as
                                 * closing the context waits for them all */
} Payload;

static void
payload_free (void *data, void *hint)
{
  Payload *payload = hint;

  if (payload->queued_bytes)
    __atomic_sub_fetch (payload->queued_bytes, (gint64) payload->map.size,
        __ATOMIC_RELAXED);
  gst_buffer_unmap (payload->buffer, &payload->map);
  gst_buffer_unref (payload->buffer);
  g_free (payload);
}

static void
gst_zmq_sink_post_stats (GstZmqSink * self)
{
  GstStructure *s;
  guint64 replies;

  GST_OBJECT_LOCK (self);
  s = gst_structure_new ("zmqsink-stats",
      "sent", G_TYPE_UINT64, self->sent,
      "dropped", G_TYPE_UINT64, self->dropped,
      "bytes-sent", G_TYPE_UINT64, self->bytes_sent, NULL);
  replies = self->replies;
  GST_OBJECT_UNLOCK (self);
  if (self->pool)
    gst_zmq_workers_add_stats (self->pool, s);
  g_mutex_lock (&self->est_lock);
  if (self->cur_acks)
    gst_structure_set (s,
        "acks", G_TYPE_UINT64, self->acknowledged,
        "lost", G_TYPE_UINT64, self->lost,
        "discarded-at-stop", G_TYPE_UINT64, self->discarded_at_stop,
        "receiver-dropped", G_TYPE_UINT64, self->receiver_dropped, NULL);
  if (self->est) {
    gst_structure_set (s,
        "dropped-lag", G_TYPE_UINT64, self->dropped_lag,
        "replies", G_TYPE_UINT64, replies,
        "bandwidth-estimate", G_TYPE_DOUBLE,
        sn_link_est_capacity (self->est, g_get_monotonic_time () / 1e6),
        "delivered-rate", G_TYPE_DOUBLE, sn_link_est_delivered (self->est),
        "rtt", G_TYPE_DOUBLE, MAX (sn_link_est_rtt (self->est), 0) * 1000,
        NULL);
  }
  g_mutex_unlock (&self->est_lock);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* FALSE: more than max-errors drops in a row, an element error posted. */
static gboolean
gst_zmq_sink_account (GstZmqSink * self, SendResult result, gsize bytes)
{
  gboolean ok = TRUE;
  gint max_errors;
  gint64 now = g_get_monotonic_time ();
  guint64 dropped_total;

  GST_OBJECT_LOCK (self);
  if (result == SEND_OK) {
    self->sent++;
    self->bytes_sent += bytes;
  } else if (result == SEND_DROPPED || result == SEND_LAGGED
      || result == SEND_BUDGET) {
    self->dropped++;
    if (result == SEND_LAGGED)
      self->dropped_lag++;
    if (result == SEND_BUDGET)
      self->dropped_budget++;
  }
  dropped_total = self->dropped;
  max_errors = self->max_errors;
  GST_OBJECT_UNLOCK (self);

  if (result == SEND_DROPPED || result == SEND_LAGGED || result == SEND_BUDGET) {
    guint64 n = gst_splitnn_warn_failure (&self->drop_warn, now);

    if (gst_splitnn_warn_too_many (&self->drop_warn, max_errors)) {
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
          ("%" G_GUINT64_FORMAT " buffers dropped in a row, more than "
              "max-errors=%d", self->drop_warn.consecutive, max_errors),
          ("%" G_GUINT64_FORMAT " dropped in total", dropped_total));
      ok = FALSE;
    } else if (n) {
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
          ("Dropped %" G_GUINT64_FORMAT " buffer(s): %s", n,
              result == SEND_LAGGED ? "the link is more than max-lag behind"
              : result == SEND_BUDGET ? "max-queued-bytes already wait in "
              "ZeroMQ for a slow receiver" : "no peer could take them"),
          ("%" G_GUINT64_FORMAT " dropped in total; the peer is down, slow "
              "or not yet connected, or the link is slower than the "
              "stream", dropped_total));
    }
  } else if (result == SEND_OK) {
    gst_splitnn_warn_success (&self->drop_warn);
  }

  /* A dropped message leaves the receiver without the reference the next
   * one may be predicted from (splitnnedge codec=temporal).  Ask upstream
   * for a refresh at once, once per run of drops, rather than wait for the
   * receiver to refuse the next message and say so through its acks. */
  if (result == SEND_OK) {
    self->refresh_asked = FALSE;
  } else if (result == SEND_DROPPED || result == SEND_LAGGED
      || result == SEND_BUDGET) {
    if (!self->refresh_asked) {
      self->refresh_asked = TRUE;
      gst_pad_push_event (GST_BASE_SINK_PAD (self),
          gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM,
              gst_structure_new (GST_SPLITNN_REFRESH_EVENT, "reason",
                  G_TYPE_STRING, "dropped", NULL)));
    }
  }

  if (self->stats_interval_us > 0
      && now - self->stats_last >= self->stats_interval_us) {
    self->stats_last = now;
    gst_zmq_sink_post_stats (self);
  }
  return ok;
}

/* Sends a multipart message without ever blocking in ZeroMQ, so unlock()
 * is honoured within POLL_SLICE_MS.  ZeroMQ queues multipart messages
 * atomically: once the first part is accepted the rest are too.  Always
 * consumes @parts. */
static SendResult
gst_zmq_sink_send (GstZmqSink * self, zmq_msg_t * parts, guint n_parts,
    gboolean block, gint timeout_ms)
{
  gint64 deadline = -1;
  SendResult result = SEND_OK;
  guint i;

  if (block && timeout_ms >= 0)
    deadline = g_get_monotonic_time () + (gint64) timeout_ms *1000;

  while (zmq_msg_send (&parts[0], self->socket,
          ZMQ_DONTWAIT | (n_parts > 1 ? ZMQ_SNDMORE : 0)) < 0) {
    zmq_pollitem_t item = { self->socket, 0, ZMQ_POLLOUT, 0 };
    glong wait_ms = POLL_SLICE_MS;

    if (errno == EINTR)
      continue;
    if (errno != EAGAIN) {
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, (NULL),
          ("zmq_msg_send: %s", zmq_strerror (errno)));
      result = SEND_ERROR;
      goto done;
    }
    if (!block) {
      result = SEND_DROPPED;
      goto done;
    }
    if (g_atomic_int_get (&self->flushing)) {
      result = SEND_FLUSHING;
      goto done;
    }
    if (deadline >= 0) {
      gint64 left = deadline - g_get_monotonic_time ();

      if (left <= 0) {
        result = SEND_DROPPED;
        goto done;
      }
      wait_ms = MIN (wait_ms, MAX (left / 1000, 1));
    }
    /* The result does not matter: the send above is retried either way. */
    zmq_poll (&item, 1, wait_ms);
  }

  for (i = 1; i < n_parts; i++) {
    while (zmq_msg_send (&parts[i], self->socket,
            ZMQ_DONTWAIT | (i + 1 < n_parts ? ZMQ_SNDMORE : 0)) < 0) {
      if (errno == EINTR)
        continue;
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, (NULL),
          ("zmq_msg_send (part %u of %u): %s", i + 1, n_parts,
              zmq_strerror (errno)));
      result = SEND_ERROR;
      goto done;
    }
  }

done:
  /* Sent parts are already empty; closing them is a no-op. */
  for (i = 0; i < n_parts; i++)
    zmq_msg_close (&parts[i]);
  return result;
}

/* Builds [topic,] header, payload and sends them.  @buffer may be NULL for
 * control messages (EOS). */
static SendResult
gst_zmq_sink_send_buffer (GstZmqSink * self, GstBuffer * buffer,
    guint8 header_flags, gboolean block, gsize * payload_size,
    gsize * wire_size)
{
  GstZmqHeader header = { 0, };
  zmq_msg_t parts[3];
  guint n = 0;
  gint64 now = g_get_monotonic_time ();
  gboolean with_caps;
  SendResult result;

  *payload_size = 0;
  *wire_size = 0;

  /* A probe is as small as a message can be: no caps. */
  with_caps = !(header_flags & GST_ZMQ_HEADER_FLAG_PROBE)
      && self->caps_str && (self->caps_pending
      || (self->caps_interval_us > 0
          && now - self->caps_last_sent >= self->caps_interval_us));

  header.flags = header_flags;
  header.stream_id = self->stream_id;
  header.caps_seq = self->caps_seq;
  /* A probe carries the number of the data message it announces. */
  header.seqnum = header_flags & GST_ZMQ_HEADER_FLAG_PROBE ? self->seqnum
      : self->seqnum++;
  if (buffer) {
    header.pts = GST_BUFFER_PTS (buffer);
    header.dts = GST_BUFFER_DTS (buffer);
    header.duration = GST_BUFFER_DURATION (buffer);
    header.offset = GST_BUFFER_OFFSET (buffer);
    header.offset_end = GST_BUFFER_OFFSET_END (buffer);
    header.buffer_flags = GST_BUFFER_FLAGS (buffer) & GST_ZMQ_BUFFER_FLAGS_MASK;
  } else {
    header.pts = header.dts = header.duration = GST_CLOCK_TIME_NONE;
    header.offset = header.offset_end = GST_BUFFER_OFFSET_NONE;
  }
  if (with_caps) {
    header.caps = self->caps_str;
    header.caps_len = strlen (self->caps_str);
  }

  if (self->cur_socket_type == GST_ZMQ_SINK_SOCKET_PUB) {
    gsize len = strlen (self->cur_topic);

    zmq_msg_init_size (&parts[n], len);
    memcpy (zmq_msg_data (&parts[n]), self->cur_topic, len);
    n++;
  }

  zmq_msg_init_size (&parts[n], gst_zmq_header_size (&header));
  gst_zmq_header_write (&header, zmq_msg_data (&parts[n]));
  n++;

  if (buffer && gst_buffer_get_size (buffer) > 0) {
    Payload *payload = g_new0 (Payload, 1);

    if (!gst_buffer_map (buffer, &payload->map, GST_MAP_READ)) {
      g_free (payload);
      while (n > 0)
        zmq_msg_close (&parts[--n]);
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, (NULL),
          ("cannot map buffer %" GST_PTR_FORMAT " for reading", buffer));
      return SEND_ERROR;
    }
    payload->buffer = gst_buffer_ref (buffer);
    *payload_size = payload->map.size;
    payload->queued_bytes = &self->queued_bytes;
    __atomic_add_fetch (&self->queued_bytes, (gint64) payload->map.size,
        __ATOMIC_RELAXED);
    /* On failure ZeroMQ has not taken the bytes and the free function is
     * not called. */
    if (zmq_msg_init_data (&parts[n], payload->map.data, payload->map.size,
            payload_free, payload) != 0) {
      payload_free (NULL, payload);
      while (n > 0)
        zmq_msg_close (&parts[--n]);
      GST_ELEMENT_ERROR (self, RESOURCE, WRITE, (NULL),
          ("zmq_msg_init_data: %s", zmq_strerror (errno)));
      return SEND_ERROR;
    }
  } else {
    zmq_msg_init (&parts[n]);
  }
  n++;

  for (guint i = 0; i < n; i++)
    *wire_size += zmq_msg_size (&parts[i]);
  result = gst_zmq_sink_send (self, parts, n, block, self->cur_send_timeout);
  if (result == SEND_OK && with_caps) {
    self->caps_pending = FALSE;
    self->caps_last_sent = now;
  }
  return result;
}

/* With acks: drop on max-lag, else a probe and the buffer back to back,
 * both recorded for the estimator. */
static SendResult
gst_zmq_sink_send_measured (GstZmqSink * self, GstBuffer * buffer, gsize * size)
{
  gint64 now = g_get_monotonic_time ();
  guint64 seq = self->seqnum;
  SendResult result;
  gsize wire, probe_size;
  guint64 given_up;
  Unacked *u;

  *size = 0;
  if (self->max_lag_us > 0) {
    gdouble backlog;

    g_mutex_lock (&self->est_lock);
    backlog = sn_link_est_backlog (self->est, now / 1e6);
    given_up = sn_link_est_n_given_up (self->est);
    g_mutex_unlock (&self->est_lock);
    if (given_up > self->given_up_told) {
      /* No ack at all for a while (receiver gone, connection lost): the
       * estimator gave up on what was in flight, so max-lag lets this
       * message through to find out whether the link carries again; its
       * ack, if it comes, gives the estimate a fresh sample. */
      GST_WARNING_OBJECT (self, "no acknowledgement for %d s: gave up on %"
          G_GUINT64_FORMAT " message(s) in flight, sending again to probe "
          "the link", (gint) (LOST_AFTER_US / G_USEC_PER_SEC),
          given_up - self->given_up_told);
      gst_element_post_message (GST_ELEMENT (self),
          gst_message_new_element (GST_OBJECT (self),
              gst_structure_new ("zmqsink-link-silent",
                  "given-up", G_TYPE_UINT64, given_up - self->given_up_told,
                  "given-up-total", G_TYPE_UINT64, given_up,
                  "silent-ms", G_TYPE_DOUBLE,
                  (gdouble) LOST_AFTER_US / 1000, NULL)));
      self->given_up_told = given_up;
    }
    if (backlog * 1e6 > self->max_lag_us) {
      GST_LOG_OBJECT (self, "%.0f ms of data still to drain: drop",
          backlog * 1000);
      /* The receiver sees a gap in the sequence numbers (DISCONT). */
      self->seqnum++;
      return SEND_LAGGED;
    }
  }

  result = gst_zmq_sink_send_buffer (self, NULL, GST_ZMQ_HEADER_FLAG_PROBE,
      FALSE, &probe_size, &wire);
  if (result == SEND_ERROR)
    return result;
  if (result == SEND_OK) {
    g_mutex_lock (&self->est_lock);
    sn_link_est_probe_sent (self->est, seq, now / 1e6);
    g_mutex_unlock (&self->est_lock);
  }
  now = g_get_monotonic_time ();
  /* Outstanding before it is sent: a receiver that answers at once may
   * acknowledge it before this thread runs again, and an ack that finds
   * nothing to settle leaves the message to be counted lost. */
  u = g_new (Unacked, 1);
  u->seq = seq;
  u->sent_us = now;
  g_mutex_lock (&self->est_lock);
  g_queue_push_tail (&self->unacked, u);
  g_mutex_unlock (&self->est_lock);
  result = gst_zmq_sink_send_buffer (self, buffer, 0,
      self->cur_drop_policy == GST_ZMQ_SINK_BLOCK, size, &wire);
  g_mutex_lock (&self->est_lock);
  if (result == SEND_OK)
    sn_link_est_sent (self->est, seq, wire, now / 1e6);
  else if (g_queue_remove (&self->unacked, u))
    g_free (u);
  else
    /* expired (counted lost and freed) while a blocking send waited: it
     * was never sent */
    self->lost--;
  g_mutex_unlock (&self->est_lock);
  return result;
}

/* Upstream, every bandwidth-interval, once there is an estimate. */
static void
gst_zmq_sink_report_bandwidth (GstZmqSink * self)
{
  gint64 now = g_get_monotonic_time ();
  gdouble capacity, delivered, rtt, busy_rate;
  gint64 last = self->bandwidth_last;
  guint64 busy;
  GstStructure *s;

  if (self->bandwidth_interval_us <= 0
      || now - self->bandwidth_last < self->bandwidth_interval_us)
    return;
  self->bandwidth_last = now;
  g_mutex_lock (&self->est_lock);
  capacity = sn_link_est_capacity (self->est, now / 1e6);
  delivered = sn_link_est_delivered (self->est);
  rtt = sn_link_est_rtt (self->est);
  busy = self->receiver_dropped - self->receiver_dropped_told;
  self->receiver_dropped_told = self->receiver_dropped;
  g_mutex_unlock (&self->est_lock);
  busy_rate = last > 0 && now > last ? busy / ((now - last) / 1e6) : 0;
  if (capacity <= 0)
    return;
  /* The receiver's own state, apart from the link's: messages it took off
   * the link and dropped because it could not keep up. */
  s = gst_structure_new (GST_SPLITNN_BANDWIDTH_EVENT,
      "bits-per-second", G_TYPE_DOUBLE, capacity,
      "delivered-bits-per-second", G_TYPE_DOUBLE, delivered,
      "receiver-dropped-per-second", G_TYPE_DOUBLE, busy_rate, NULL);
  if (rtt >= 0)
    gst_structure_set (s, "rtt-ms", G_TYPE_DOUBLE, rtt * 1000, NULL);
  GST_DEBUG_OBJECT (self, "link estimate %" GST_PTR_FORMAT, s);
  gst_pad_push_event (GST_BASE_SINK_PAD (self),
      gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, s));
}

/* The stream moved to another worker, which has neither its caps nor its
 * references: send the caps with the next message and ask upstream for a
 * refresh (splitnnedge codec=temporal sends an intra frame). */
static void
gst_zmq_sink_worker_moved (GstZmqSink * self)
{
  gchar *name = gst_zmq_workers_current_name (self->pool);

  GST_INFO_OBJECT (self, "stream %08x moved to worker %s", self->stream_id,
      name);
  g_free (name);
  self->caps_pending = TRUE;
  gst_pad_push_event (GST_BASE_SINK_PAD (self),
      gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM,
          gst_structure_new (GST_SPLITNN_REFRESH_EVENT, "reason",
              G_TYPE_STRING, "worker-moved", NULL)));
}

/* With workers: to the stream's live worker; a worker that cannot take the
 * message is marked dead and the message goes to the next one (once). */
static SendResult
gst_zmq_sink_send_to_workers (GstZmqSink * self, GstBuffer * buffer,
    gsize * size)
{
  SendResult result = SEND_DROPPED;

  *size = 0;
  for (gint attempt = 0; attempt < 2; attempt++) {
    gboolean moved;

    /* Probes to dead workers carry seq 0, which the link estimate has
     * long forgotten: their acks only revive the worker. */
    self->socket = gst_zmq_workers_route (self->pool, 0, &moved);
    if (self->socket == NULL) {
      /* No worker alive: dropped and counted like any buffer no peer can
       * take; the receiver sees a gap. */
      self->seqnum++;
      return SEND_DROPPED;
    }
    if (moved)
      gst_zmq_sink_worker_moved (self);
    result = gst_zmq_sink_send_measured (self, buffer, size);
    if (result == SEND_OK) {
      gst_zmq_workers_sent (self->pool, self->seqnum - 1);
      break;
    }
    if (result != SEND_DROPPED || !gst_zmq_workers_failed (self->pool))
      break;
  }
  return result;
}

static GstFlowReturn
gst_zmq_sink_render (GstBaseSink * sink, GstBuffer * buffer)
{
  GstZmqSink *self = GST_ZMQ_SINK (sink);
  SendResult result;
  gsize size, wire;

  if (self->caps_str == NULL) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL),
        ("buffer without caps: the peer could not interpret it"));
    return GST_FLOW_NOT_NEGOTIATED;
  }

  if (self->cur_max_queued_bytes > 0 && gst_buffer_get_size (buffer) > 0
      && __atomic_load_n (&self->queued_bytes, __ATOMIC_RELAXED)
      + (gint64) gst_buffer_get_size (buffer) > self->cur_max_queued_bytes) {
    /* The receiver sees a gap in the sequence numbers (DISCONT). */
    self->seqnum++;
    size = 0;
    result = SEND_BUDGET;
  } else if (self->pool)
    result = gst_zmq_sink_send_to_workers (self, buffer, &size);
  else if (self->est)
    result = gst_zmq_sink_send_measured (self, buffer, &size);
  else
    result = gst_zmq_sink_send_buffer (self, buffer, 0,
        self->cur_drop_policy == GST_ZMQ_SINK_BLOCK, &size, &wire);
  GST_LOG_OBJECT (self, "buffer %" GST_PTR_FORMAT ": result %d", buffer,
      result);
  if (!gst_zmq_sink_account (self, result, size))
    return GST_FLOW_ERROR;
  if (self->est)
    gst_zmq_sink_report_bandwidth (self);

  switch (result) {
    case SEND_OK:
    case SEND_DROPPED:
    case SEND_LAGGED:
    case SEND_BUDGET:
      return GST_FLOW_OK;
    case SEND_FLUSHING:
      return GST_FLOW_FLUSHING;
    case SEND_ERROR:
    default:
      return GST_FLOW_ERROR;
  }
}

static gboolean
gst_zmq_sink_set_caps (GstBaseSink * sink, GstCaps * caps)
{
  GstZmqSink *self = GST_ZMQ_SINK (sink);
  gchar *str = gst_caps_to_string (caps);

  if (self->caps_str && strcmp (self->caps_str, str) == 0) {
    g_free (str);
    return TRUE;
  }
  GST_DEBUG_OBJECT (self, "caps %u: %s", self->caps_seq + 1, str);
  g_free (self->caps_str);
  self->caps_str = str;
  self->caps_seq++;
  self->caps_pending = TRUE;
  return TRUE;
}

static void
gst_zmq_sink_wait_eos_ack (GstZmqSink * self)
{
  gint linger;
  gint64 deadline;
  gboolean acked = FALSE;

  GST_OBJECT_LOCK (self);
  linger = self->linger;
  GST_OBJECT_UNLOCK (self);
  deadline = linger < 0 ? G_MAXINT64 : g_get_monotonic_time ()
  + (gint64) linger *1000;
  while (!g_atomic_int_get (&self->flushing)
      && g_get_monotonic_time () < deadline) {
    g_mutex_lock (&self->est_lock);
    acked = self->eos_acked;
    g_mutex_unlock (&self->est_lock);
    if (acked)
      break;
    g_usleep (5000);
  }
  GST_DEBUG_OBJECT (self, "EOS %s", acked ? "acknowledged"
      : "not acknowledged within linger");
}

static gboolean
gst_zmq_sink_event (GstBaseSink * sink, GstEvent * event)
{
  GstZmqSink *self = GST_ZMQ_SINK (sink);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->cur_forward_eos
      && self->socket) {
    gsize size, wire;
    /* EOS matters more than any one buffer: always wait up to send-timeout
     * for it, whatever the drop policy. */
    guint64 seq = self->seqnum;
    SendResult result;

    if (self->est) {
      g_mutex_lock (&self->est_lock);
      self->eos_seq = seq;
      self->eos_acked = FALSE;
      g_mutex_unlock (&self->est_lock);
    }
    result = gst_zmq_sink_send_buffer (self, NULL,
        GST_ZMQ_HEADER_FLAG_EOS, TRUE, &size, &wire);
    self->eos_sent = result == SEND_OK;
    self->eos_sent_seq = seq;
    /* Handed to ZeroMQ is not delivered: behind a slow receiver the EOS
     * waits in the queue, and stopping drops it after linger, leaving the
     * receiver waiting for it for ever.  With acks the sink knows when it
     * arrived: wait for that, up to linger. */
    if (result == SEND_OK && self->est)
      gst_zmq_sink_wait_eos_ack (self);

    if (result == SEND_DROPPED)
      GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
          ("EOS could not be forwarded: no peer took it within %d ms",
              self->cur_send_timeout), (NULL));
    else
      GST_DEBUG_OBJECT (self, "EOS forwarded: result %d", result);
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}

/* A reply from the receiver (docs/zmq.md): pushed upstream as the custom
 * event it was on the other side. */
static void
gst_zmq_sink_reply (GstZmqSink * self, const guint8 * data, gsize size)
{
  GError *error = NULL;
  guint32 to;
  GstStructure *s = gst_zmq_reply_parse (data, size, &to, &error);

  if (s == NULL) {
    GST_DEBUG_OBJECT (self, "ignoring reply: %s", error->message);
    g_error_free (error);
    return;
  }
  if (to != self->stream_id) {
    gst_structure_free (s);
    return;
  }
  GST_LOG_OBJECT (self, "reply %" GST_PTR_FORMAT, s);
  GST_OBJECT_LOCK (self);
  self->replies++;
  GST_OBJECT_UNLOCK (self);
  gst_pad_push_event (GST_BASE_SINK_PAD (self),
      gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, s));
}

/* Messages on one connection arrive in order, so an acknowledgement of
 * @seq settles every older outstanding message: those were lost (a
 * receiver killed with them in its queue, a connection dropped).  Called
 * with est_lock held. */
static void
gst_zmq_sink_settle (GstZmqSink * self, guint64 seq, gboolean dropped)
{
  Unacked *u;

  while ((u = g_queue_peek_head (&self->unacked)) && u->seq < seq) {
    GST_LOG_OBJECT (self, "message %" G_GUINT64_FORMAT " lost: %"
        G_GUINT64_FORMAT " acknowledged first", u->seq, seq);
    g_free (g_queue_pop_head (&self->unacked));
    self->lost++;
  }
  if (u && u->seq == seq) {
    g_free (g_queue_pop_head (&self->unacked));
    if (dropped)
      self->receiver_dropped++;
    else
      self->acknowledged++;
  }
}

/* No acknowledgement at all for LOST_AFTER_US: lost.  est_lock held. */
static void
gst_zmq_sink_expire (GstZmqSink * self, gint64 now_us)
{
  Unacked *u;

  while ((u = g_queue_peek_head (&self->unacked))
      && now_us - MAX (u->sent_us, self->last_ack_us) >= LOST_AFTER_US) {
    g_free (g_queue_pop_head (&self->unacked));
    self->lost++;
  }
}

/* The ack thread: reads this stream's acknowledgements as they come, so
 * their arrival times are not quantised to the frame rate, and the
 * receiver's replies. */
static gpointer
gst_zmq_sink_ack_loop (gpointer data)
{
  GstZmqSink *self = data;
  zmq_msg_t msg;

  zmq_msg_init (&msg);
  while (g_atomic_int_get (&self->ack_running)) {
    zmq_pollitem_t item = { self->ack_socket, 0, ZMQ_POLLIN, 0 };

    g_mutex_lock (&self->est_lock);
    gst_zmq_sink_expire (self, g_get_monotonic_time ());
    g_mutex_unlock (&self->est_lock);
    if (zmq_poll (&item, 1, POLL_SLICE_MS) <= 0)
      continue;
    while (zmq_msg_recv (&msg, self->ack_socket, ZMQ_DONTWAIT) >= 0) {
      gdouble t_ack = g_get_monotonic_time () / 1e6;
      const guint8 *bytes = zmq_msg_data (&msg);
      gsize n = zmq_msg_size (&msg);
      GstZmqAck ack;
      GError *error = NULL;

      if (gst_zmq_is_reply (bytes, n)) {
        gst_zmq_sink_reply (self, bytes, n);
        continue;
      }
      if (!gst_zmq_ack_parse (&ack, bytes, n, &error)) {
        GST_DEBUG_OBJECT (self, "ignoring ack: %s", error->message);
        g_clear_error (&error);
        continue;
      }
      if (ack.stream_id != self->stream_id)
        continue;
      g_mutex_lock (&self->est_lock);
      sn_link_est_ack (self->est, ack.seqnum,
          (ack.flags & GST_ZMQ_ACK_FLAG_PROBE) != 0, ack.bytes,
          ack.recv_time / 1e9, (ack.flags & GST_ZMQ_ACK_FLAG_EXACT) != 0,
          t_ack);
      if (!(ack.flags & GST_ZMQ_ACK_FLAG_PROBE)) {
        self->last_ack_us = (gint64) (t_ack * 1e6);
        gst_zmq_sink_settle (self, ack.seqnum,
            (ack.flags & GST_ZMQ_ACK_FLAG_DROPPED) != 0);
      }
      if (ack.seqnum == self->eos_seq)
        self->eos_acked = TRUE;
      g_mutex_unlock (&self->est_lock);
    }
  }
  zmq_msg_close (&msg);
  return NULL;
}

static gboolean
gst_zmq_sink_open_acks (GstZmqSink * self, GstZmqSocketConfig * config,
    GstZmqOpenError * kind, GError ** error)
{
  guint32 id_le = GUINT32_TO_LE (self->stream_id);

  config->type = ZMQ_SUB;
  config->endpoint = self->pool ? gst_zmq_workers_first_ack (self->pool)
      : self->ack_endpoint;
  config->hwm = 1000;
  config->immediate = FALSE;
  config->linger = 0;
  if (!gst_zmq_socket_open (config, &self->ack_context, &self->ack_socket,
          kind, error))
    return FALSE;
  /* Only our own acks: their first four bytes are our stream id. */
  zmq_setsockopt (self->ack_socket, ZMQ_UNSUBSCRIBE, "", 0);
  zmq_setsockopt (self->ack_socket, ZMQ_SUBSCRIBE, &id_le, sizeof id_le);
  if (self->pool && !gst_zmq_workers_connect_acks (self->pool,
          self->ack_socket, error)) {
    *kind = GST_ZMQ_OPEN_ERROR_SETTINGS;
    gst_zmq_socket_close (&self->ack_context, &self->ack_socket);
    return FALSE;
  }
  self->est = sn_link_est_new (NULL);
  self->acknowledged = self->lost = self->discarded_at_stop = 0;
  self->receiver_dropped = self->receiver_dropped_told = 0;
  self->last_ack_us = 0;
  self->given_up_told = 0;
  self->eos_seq = G_MAXUINT64;
  self->eos_acked = FALSE;
  g_atomic_int_set (&self->ack_running, 1);
  self->ack_thread = g_thread_new ("zmqsink-ack", gst_zmq_sink_ack_loop, self);
  return TRUE;
}

static void
gst_zmq_sink_close_acks (GstZmqSink * self)
{
  if (self->ack_thread) {
    g_atomic_int_set (&self->ack_running, 0);
    g_thread_join (self->ack_thread);
    self->ack_thread = NULL;
  }
  gst_zmq_socket_close (&self->ack_context, &self->ack_socket);
  g_mutex_lock (&self->est_lock);
  g_clear_pointer (&self->est, sn_link_est_free);
  /* Neither acknowledged nor known lost: dropped at linger, or their acks
   * did not come back in time.  Counted, not silently forgotten. */
  self->discarded_at_stop += g_queue_get_length (&self->unacked);
  g_queue_clear_full (&self->unacked, g_free);
  g_mutex_unlock (&self->est_lock);
}

/* With workers: one data socket per worker, owned by the pool; the sink's
 * own ack socket will hear them all.  Object lock held. */
static gboolean
gst_zmq_sink_open_workers (GstZmqSink * self, GstZmqSocketConfig * config,
    GstZmqOpenError * kind, GError ** error)
{
  g_clear_pointer (&self->pool, gst_zmq_workers_close);
  if (!self->ack_endpoint || !*self->ack_endpoint) {
    *kind = GST_ZMQ_OPEN_ERROR_SETTINGS;
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "workers needs ack-endpoint (one per worker, same order): a "
        "worker's liveness is read from its acknowledgements");
    return FALSE;
  }
  self->pool = gst_zmq_workers_open (self->workers, self->ack_endpoint,
      config, self->stream_id, self->worker_timeout, kind, error);
  if (!self->pool)
    return FALSE;
  /* The worker is chosen at the first buffer (the route may wait for it
   * to answer), not in a state change. */
  self->context = NULL;
  self->socket = NULL;
  return TRUE;
}

/* The pool's sockets close; self->socket was one of them.  The pool stays
 * for its counters. */
static void
gst_zmq_sink_close_workers (GstZmqSink * self)
{
  if (!self->pool)
    return;
  self->socket = NULL;
  gst_zmq_workers_shutdown (self->pool);
}

/* Opens the sockets; posts a clear element error and returns FALSE when it
 * cannot. */
static gboolean
gst_zmq_sink_open (GstBaseSink * sink)
{
  GstZmqSink *self = GST_ZMQ_SINK (sink);
  GstZmqSocketConfig config = { 0, };
  GstZmqOpenError kind;
  GError *error = NULL;
  gboolean ok;

  GST_OBJECT_LOCK (self);
  config.type = self->socket_type == GST_ZMQ_SINK_SOCKET_PUB ? ZMQ_PUB
      : ZMQ_PUSH;
  config.endpoint = self->endpoint;
  config.bind = self->bind;
  config.hwm = self->hwm;
  config.reconnect_ivl = self->reconnect_ivl;
  config.reconnect_ivl_max = self->reconnect_ivl_max;
  config.linger = self->linger;
  /* Without it ZeroMQ queues messages for a peer that is not connected and
   * delivers stale frames after a restart; with it they are dropped here
   * and counted. */
  config.immediate = TRUE;
  config.curve_server_key = self->curve_server_key;
  config.curve_public_key = self->curve_public_key;
  config.curve_secret_key = self->curve_secret_key;
  config.curve_allowed_keys = self->curve_allowed_keys;
  self->stream_id = g_random_int ();
  if (self->workers && *self->workers)
    ok = gst_zmq_sink_open_workers (self, &config, &kind, &error);
  else
    ok = gst_zmq_socket_open (&config, &self->context, &self->socket, &kind,
        &error);
  if (ok && self->ack_endpoint && *self->ack_endpoint) {
    ok = gst_zmq_sink_open_acks (self, &config, &kind, &error);
    if (!ok) {
      gchar *msg = g_strdup_printf ("ack-endpoint: %s", error->message);

      g_free (error->message);
      error->message = msg;
      gst_zmq_sink_close_workers (self);
      gst_zmq_socket_close (&self->context, &self->socket);
    }
  }

  self->cur_socket_type = self->socket_type;
  self->cur_drop_policy = self->drop_policy;
  self->cur_bind = self->bind;
  self->cur_send_timeout = self->send_timeout;
  self->cur_forward_eos = self->forward_eos;
  self->cur_max_queued_bytes = self->max_queued_bytes;
  self->dropped_budget = 0;
  self->queued_bytes = 0;
  self->cur_acks = self->ack_endpoint && *self->ack_endpoint;
  g_free (self->cur_topic);
  self->cur_topic = g_strdup (self->topic ? self->topic : "");
  self->caps_interval_us = (gint64) self->caps_interval * 1000;
  self->stats_interval_us = (gint64) self->stats_interval * 1000;
  self->sent = self->dropped = self->bytes_sent = self->dropped_lag = 0;
  self->refresh_asked = FALSE;
  self->replies = 0;
  self->bandwidth_interval_us = (gint64) self->bandwidth_interval * 1000;
  self->max_lag_us = (gint64) self->max_lag * 1000;
  self->bandwidth_last = 0;
  GST_OBJECT_UNLOCK (self);

  if (!ok) {
    if (kind == GST_ZMQ_OPEN_ERROR_SETTINGS)
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message),
          (NULL));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE, ("%s", error->message),
          (NULL));
    g_error_free (error);
    return FALSE;
  }

  self->caps_seq = 0;
  self->caps_pending = FALSE;
  self->caps_last_sent = 0;
  self->seqnum = 0;
  self->eos_sent = FALSE;
  self->stats_last = g_get_monotonic_time ();
  gst_splitnn_warn_reset (&self->drop_warn);
  g_atomic_int_set (&self->flushing, 0);
  GST_DEBUG_OBJECT (self, "started, stream id %08x", self->stream_id);
  return TRUE;
}

static gboolean gst_zmq_sink_stop (GstBaseSink * sink);

/* The sockets are opened by change_state, before the base class starts:
 * a base class whose start fails posts its own "failed to post a proper
 * error message" error after ours, which buries the clear one. */
static gboolean
gst_zmq_sink_start (GstBaseSink * sink)
{
  GstZmqSink *self = GST_ZMQ_SINK (sink);

  return self->socket != NULL
      || (self->pool && gst_zmq_workers_is_open (self->pool))
      || gst_zmq_sink_open (sink);
}

static GstStateChangeReturn
gst_zmq_sink_change_state (GstElement * element, GstStateChange transition)
{
  GstZmqSink *self = GST_ZMQ_SINK (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_NULL_TO_READY
      && !gst_zmq_sink_open ((GstBaseSink *) self))
    return GST_STATE_CHANGE_FAILURE;
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE
      && transition == GST_STATE_CHANGE_NULL_TO_READY && self->socket)
    gst_zmq_sink_stop ((GstBaseSink *) self);
  return ret;
}

/* The EOS was handed to ZeroMQ but not acknowledged: it may have been
 * discarded at linger behind a backlog (a slow or restarting receiver), and
 * the receiver would wait for it for ever.  Say goodbye on a connection of
 * our own, which does not queue behind that backlog: the receiver ends our
 * stream once what is still on its way has come (docs/zmq.md).  Only for
 * a connecting push sink: a second connection needs the receiver to bind,
 * and a pub socket's new subscription would lose it. */
static gboolean
gst_zmq_sink_goodbye (GstZmqSink * self)
{
  GstZmqSocketConfig config = { 0, };
  GstZmqHeader header = { 0, };
  GstZmqOpenError kind;
  GError *error = NULL;
  void *context = NULL, *socket = NULL;
  guint8 head[GST_ZMQ_HEADER_SIZE];
  gint64 deadline = g_get_monotonic_time () + GOODBYE_TIMEOUT_US;
  gboolean ok, sent = FALSE;

  GST_OBJECT_LOCK (self);
  config.type = ZMQ_PUSH;
  config.endpoint = self->endpoint;
  config.hwm = 1;
  config.reconnect_ivl = self->reconnect_ivl;
  config.reconnect_ivl_max = self->reconnect_ivl_max;
  config.linger = GOODBYE_TIMEOUT_US / 1000;
  config.immediate = TRUE;
  config.curve_server_key = self->curve_server_key;
  config.curve_public_key = self->curve_public_key;
  config.curve_secret_key = self->curve_secret_key;
  ok = gst_zmq_socket_open (&config, &context, &socket, &kind, &error);
  GST_OBJECT_UNLOCK (self);
  if (!ok) {
    GST_WARNING_OBJECT (self, "no goodbye: %s", error->message);
    g_error_free (error);
    return FALSE;
  }
  header.flags = GST_ZMQ_HEADER_FLAG_EOS | GST_ZMQ_HEADER_FLAG_GOODBYE;
  header.stream_id = self->stream_id;
  header.caps_seq = self->caps_seq;
  header.seqnum = self->eos_sent_seq;
  header.pts = header.dts = header.duration = GST_CLOCK_TIME_NONE;
  header.offset = header.offset_end = GST_BUFFER_OFFSET_NONE;
  gst_zmq_header_write (&header, head);
  /* Immediate: the send fails until the connection is up. */
  while (!sent && g_get_monotonic_time () < deadline) {
    if (zmq_send (socket, head, sizeof head, ZMQ_DONTWAIT | ZMQ_SNDMORE) >= 0) {
      /* The rest of a multipart message is always taken. */
      zmq_send (socket, NULL, 0, ZMQ_DONTWAIT);
      sent = TRUE;
    } else {
      zmq_pollitem_t item = { socket, 0, ZMQ_POLLOUT, 0 };

      zmq_poll (&item, 1, 20);
    }
  }
  GST_INFO_OBJECT (self, "EOS not acknowledged: goodbye (after %"
      G_GUINT64_FORMAT " messages) %s", self->eos_sent_seq, sent ? "sent"
      : "not sent, no connection within 1 s");
  gst_zmq_socket_close (&context, &socket);
  return sent;
}

static gboolean
gst_zmq_sink_stop (GstBaseSink * sink)
{
  GstZmqSink *self = GST_ZMQ_SINK (sink);
  guint64 discarded;

  /* Data first: closing blocks up to linger while queued messages leave;
   * then the acks of what left get a moment to come back, so the counts
   * say what the receiver got. */
  gboolean pool = self->pool != NULL, eos_acked, bye = FALSE;

  gst_zmq_sink_close_workers (self);
  gst_zmq_socket_close (&self->context, &self->socket);
  g_mutex_lock (&self->est_lock);
  eos_acked = self->eos_acked;
  g_mutex_unlock (&self->est_lock);
  if (self->eos_sent && self->cur_acks && !eos_acked && !pool
      && !self->cur_bind && self->cur_socket_type == GST_ZMQ_SINK_SOCKET_PUSH)
    bye = gst_zmq_sink_goodbye (self);
  self->eos_sent = FALSE;
  if (self->ack_thread) {
    gint64 deadline = g_get_monotonic_time () + STOP_ACK_GRACE_US;
    gboolean waiting = TRUE;

    while (waiting && g_get_monotonic_time () < deadline) {
      g_mutex_lock (&self->est_lock);
      waiting = !g_queue_is_empty (&self->unacked);
      g_mutex_unlock (&self->est_lock);
      if (waiting)
        g_usleep (10000);
    }
  }
  gst_zmq_sink_close_acks (self);
  g_mutex_lock (&self->est_lock);
  discarded = self->discarded_at_stop;
  g_mutex_unlock (&self->est_lock);
  if (discarded > 0)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
        ("%" G_GUINT64_FORMAT " message(s) were neither acknowledged nor "
            "known lost when the sink stopped", discarded),
        ("counted in discarded-at-stop; dropped at linger or their "
            "acknowledgements did not come back within %d ms%s",
            (gint) (STOP_ACK_GRACE_US / 1000), !self->cur_forward_eos ? ""
            : bye ? "; the EOS may have gone with them: a goodbye was sent "
            "on a connection of its own (docs/zmq.md)"
            : "; the receiver may not have got the EOS either"));
  if (self->stats_interval_us > 0)
    gst_zmq_sink_post_stats (self);
  g_clear_pointer (&self->caps_str, g_free);
  return TRUE;
}

static gboolean
gst_zmq_sink_unlock (GstBaseSink * sink)
{
  g_atomic_int_set (&GST_ZMQ_SINK (sink)->flushing, 1);
  return TRUE;
}

static gboolean
gst_zmq_sink_unlock_stop (GstBaseSink * sink)
{
  g_atomic_int_set (&GST_ZMQ_SINK (sink)->flushing, 0);
  return TRUE;
}

static void
gst_zmq_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstZmqSink *self = GST_ZMQ_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ENDPOINT:
      g_free (self->endpoint);
      self->endpoint = g_value_dup_string (value);
      break;
    case PROP_BIND:
      self->bind = g_value_get_boolean (value);
      break;
    case PROP_SOCKET_TYPE:
      self->socket_type = g_value_get_enum (value);
      break;
    case PROP_HWM:
      self->hwm = g_value_get_int (value);
      break;
    case PROP_SEND_TIMEOUT:
      self->send_timeout = g_value_get_int (value);
      break;
    case PROP_DROP_POLICY:
      self->drop_policy = g_value_get_enum (value);
      break;
    case PROP_RECONNECT_IVL:
      self->reconnect_ivl = g_value_get_int (value);
      break;
    case PROP_RECONNECT_IVL_MAX:
      self->reconnect_ivl_max = g_value_get_int (value);
      break;
    case PROP_LINGER:
      self->linger = g_value_get_int (value);
      break;
    case PROP_TOPIC:
      g_free (self->topic);
      self->topic = g_value_dup_string (value);
      break;
    case PROP_MAX_ERRORS:
      self->max_errors = g_value_get_int (value);
      break;
    case PROP_MAX_QUEUED_BYTES:
      self->max_queued_bytes = g_value_get_int64 (value);
      break;
    case PROP_FORWARD_EOS:
      self->forward_eos = g_value_get_boolean (value);
      break;
    case PROP_CAPS_INTERVAL:
      self->caps_interval = g_value_get_uint (value);
      break;
    case PROP_STATS_INTERVAL:
      self->stats_interval = g_value_get_uint (value);
      break;
    case PROP_CURVE_SERVER_KEY:
      g_free (self->curve_server_key);
      self->curve_server_key = g_value_dup_string (value);
      break;
    case PROP_CURVE_PUBLIC_KEY:
      g_free (self->curve_public_key);
      g_free (self->curve_allowed_keys);
      self->curve_public_key = g_value_dup_string (value);
      break;
    case PROP_CURVE_SECRET_KEY:
      g_free (self->curve_secret_key);
      self->curve_secret_key = g_value_dup_string (value);
      break;
    case PROP_CURVE_ALLOWED_KEYS:
      g_free (self->curve_allowed_keys);
      self->curve_allowed_keys = g_value_dup_string (value);
      break;
    case PROP_ACK_ENDPOINT:
      g_free (self->ack_endpoint);
      self->ack_endpoint = g_value_dup_string (value);
      break;
    case PROP_BANDWIDTH_INTERVAL:
      self->bandwidth_interval = g_value_get_uint (value);
      break;
    case PROP_MAX_LAG:
      self->max_lag = g_value_get_uint (value);
      break;
    case PROP_WORKERS:
      g_free (self->workers);
      self->workers = g_value_dup_string (value);
      break;
    case PROP_WORKER_TIMEOUT:
      self->worker_timeout = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zmq_sink_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstZmqSink *self = GST_ZMQ_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_ENDPOINT:
      g_value_set_string (value, self->endpoint);
      break;
    case PROP_BIND:
      g_value_set_boolean (value, self->bind);
      break;
    case PROP_SOCKET_TYPE:
      g_value_set_enum (value, self->socket_type);
      break;
    case PROP_HWM:
      g_value_set_int (value, self->hwm);
      break;
    case PROP_SEND_TIMEOUT:
      g_value_set_int (value, self->send_timeout);
      break;
    case PROP_DROP_POLICY:
      g_value_set_enum (value, self->drop_policy);
      break;
    case PROP_RECONNECT_IVL:
      g_value_set_int (value, self->reconnect_ivl);
      break;
    case PROP_RECONNECT_IVL_MAX:
      g_value_set_int (value, self->reconnect_ivl_max);
      break;
    case PROP_LINGER:
      g_value_set_int (value, self->linger);
      break;
    case PROP_TOPIC:
      g_value_set_string (value, self->topic);
      break;
    case PROP_FORWARD_EOS:
      g_value_set_boolean (value, self->forward_eos);
      break;
    case PROP_CAPS_INTERVAL:
      g_value_set_uint (value, self->caps_interval);
      break;
    case PROP_STATS_INTERVAL:
      g_value_set_uint (value, self->stats_interval);
      break;
    case PROP_CURVE_SERVER_KEY:
      g_value_set_string (value, self->curve_server_key);
      break;
    case PROP_CURVE_PUBLIC_KEY:
      g_value_set_string (value, self->curve_public_key);
      break;
    case PROP_CURVE_ALLOWED_KEYS:
      g_value_set_string (value, self->curve_allowed_keys);
      break;
    case PROP_CLIENTS_REFUSED:
      g_value_set_uint64 (value, self->context
          ? gst_zmq_clients_refused (self->context) : 0);
      break;
    case PROP_SENT:
      g_value_set_uint64 (value, self->sent);
      break;
    case PROP_DROPPED:
      g_value_set_uint64 (value, self->dropped);
      break;
    case PROP_BYTES_SENT:
      g_value_set_uint64 (value, self->bytes_sent);
      break;
    case PROP_ACK_ENDPOINT:
      g_value_set_string (value, self->ack_endpoint);
      break;
    case PROP_BANDWIDTH_INTERVAL:
      g_value_set_uint (value, self->bandwidth_interval);
      break;
    case PROP_MAX_LAG:
      g_value_set_uint (value, self->max_lag);
      break;
    case PROP_DROPPED_LAG:
      g_value_set_uint64 (value, self->dropped_lag);
      break;
    case PROP_REPLIES:
      g_value_set_uint64 (value, self->replies);
      break;
    case PROP_MAX_ERRORS:
      g_value_set_int (value, self->max_errors);
      break;
    case PROP_MAX_QUEUED_BYTES:
      g_value_set_int64 (value, self->max_queued_bytes);
      break;
    case PROP_DROPPED_BUDGET:
      g_value_set_uint64 (value, self->dropped_budget);
      break;
    case PROP_WORKERS:
      g_value_set_string (value, self->workers);
      break;
    case PROP_WORKER_TIMEOUT:
      g_value_set_uint (value, self->worker_timeout);
      break;
    case PROP_WORKER:
      g_value_take_string (value, self->pool
          ? gst_zmq_workers_current_name (self->pool) : NULL);
      break;
    case PROP_WORKER_MOVES:
      g_value_set_uint64 (value, self->pool
          ? gst_zmq_workers_moves (self->pool) : 0);
      break;
    case PROP_LOST:
    case PROP_DISCARDED_AT_STOP:
    case PROP_RECEIVER_DROPPED:
      g_mutex_lock (&self->est_lock);
      g_value_set_uint64 (value, prop_id == PROP_LOST ? self->lost
          : prop_id == PROP_RECEIVER_DROPPED ? self->receiver_dropped
          : self->discarded_at_stop);
      g_mutex_unlock (&self->est_lock);
      break;
    case PROP_BANDWIDTH_ESTIMATE:
    case PROP_DELIVERED_RATE:
    case PROP_RTT:
    case PROP_ACKS:{
      gdouble v = 0;
      guint64 acks = 0;

      g_mutex_lock (&self->est_lock);
      if (self->est) {
        if (prop_id == PROP_BANDWIDTH_ESTIMATE)
          v = sn_link_est_capacity (self->est, g_get_monotonic_time () / 1e6);
        else if (prop_id == PROP_DELIVERED_RATE)
          v = sn_link_est_delivered (self->est);
        else if (prop_id == PROP_RTT)
          v = MAX (sn_link_est_rtt (self->est), 0) * 1000;
      }
      acks = self->acknowledged;
      g_mutex_unlock (&self->est_lock);
      if (prop_id == PROP_ACKS)
        g_value_set_uint64 (value, acks);
      else
        g_value_set_double (value, v);
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zmq_sink_finalize (GObject * object)
{
  GstZmqSink *self = GST_ZMQ_SINK (object);

  g_free (self->endpoint);
  g_free (self->ack_endpoint);
  g_free (self->workers);
  g_clear_pointer (&self->pool, gst_zmq_workers_close);
  g_mutex_clear (&self->est_lock);
  g_free (self->topic);
  g_free (self->cur_topic);
  g_free (self->caps_str);
  g_free (self->curve_server_key);
  g_free (self->curve_public_key);
  g_free (self->curve_allowed_keys);
  if (self->curve_secret_key) {
    memset (self->curve_secret_key, 0, strlen (self->curve_secret_key));
    g_free (self->curve_secret_key);
  }
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_zmq_sink_class_init (GstZmqSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
      | GST_PARAM_MUTABLE_READY;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  gobject_class->set_property = gst_zmq_sink_set_property;
  gobject_class->get_property = gst_zmq_sink_get_property;
  gobject_class->finalize = gst_zmq_sink_finalize;

  gst_zmq_install_connection_properties (gobject_class, PROP_ENDPOINT,
      PROP_RECONNECT_IVL, PROP_RECONNECT_IVL_MAX);
  g_object_class_install_property (gobject_class, PROP_BIND,
      g_param_spec_boolean ("bind", "Bind",
          "Bind the endpoint instead of connecting to it (usually the "
          "receiving side binds)", DEFAULT_BIND, rw));
  g_object_class_install_property (gobject_class, PROP_SOCKET_TYPE,
      g_param_spec_enum ("socket-type", "Socket type",
          "ZeroMQ pattern; pair push with zmqsrc pull, pub with sub",
          GST_TYPE_ZMQ_SINK_SOCKET_TYPE, DEFAULT_SOCKET_TYPE, rw));
  g_object_class_install_property (gobject_class, PROP_HWM,
      g_param_spec_int ("hwm", "High-water mark",
          "Messages queued per peer before sends fail (0 = unlimited)",
          0, G_MAXINT, DEFAULT_HWM, rw));
  g_object_class_install_property (gobject_class, PROP_SEND_TIMEOUT,
      g_param_spec_int ("send-timeout", "Send timeout",
          "With drop-policy=block, and for EOS: how long to wait for a peer "
          "in ms (-1 = forever)", -1, G_MAXINT, DEFAULT_SEND_TIMEOUT, rw));
  g_object_class_install_property (gobject_class, PROP_DROP_POLICY,
      g_param_spec_enum ("drop-policy", "Drop policy",
          "What to do when no peer can take a buffer",
          GST_TYPE_ZMQ_SINK_DROP_POLICY, DEFAULT_DROP_POLICY, rw));
  g_object_class_install_property (gobject_class, PROP_LINGER,
      g_param_spec_int ("linger", "Linger",
          "On stop, how long queued messages may still be delivered in ms "
          "(-1 = until sent)", -1, G_MAXINT, DEFAULT_LINGER, rw));
  g_object_class_install_property (gobject_class, PROP_TOPIC,
      g_param_spec_string ("topic", "Topic",
          "socket-type=pub: topic frame sent before each message, matched "
          "against zmqsrc's subscribe prefix", DEFAULT_TOPIC, rw));
  g_object_class_install_property (gobject_class, PROP_FORWARD_EOS,
      g_param_spec_boolean ("forward-eos", "Forward EOS",
          "Send an EOS message on EOS so the receiving zmqsrc ends its "
          "stream too", DEFAULT_FORWARD_EOS, rw));
  g_object_class_install_property (gobject_class, PROP_CAPS_INTERVAL,
      g_param_spec_uint ("caps-interval", "Caps interval",
          "Repeat the caps on the wire at least this often in ms, so a "
          "restarted or late peer picks them up (0 = only when they change)",
          0, G_MAXUINT, DEFAULT_CAPS_INTERVAL, rw));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Statistics interval",
          "Post a zmqsink-stats element message with the counters this "
          "often in ms (0 = never)", 0, G_MAXUINT, DEFAULT_STATS_INTERVAL, rw));
  gst_zmq_install_security_properties (gobject_class, PROP_CURVE_SERVER_KEY,
      PROP_CURVE_PUBLIC_KEY, PROP_CURVE_SECRET_KEY, PROP_CURVE_ALLOWED_KEYS,
      PROP_CLIENTS_REFUSED);
  g_object_class_install_property (gobject_class, PROP_SENT,
      g_param_spec_uint64 ("sent", "Sent",
          "Buffers handed to ZeroMQ since start", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_DROPPED,
      g_param_spec_uint64 ("dropped", "Dropped",
          "Buffers dropped since start because no peer could take them",
          0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_BYTES_SENT,
      g_param_spec_uint64 ("bytes-sent", "Bytes sent",
          "Payload bytes handed to ZeroMQ since start", 0, G_MAXUINT64, 0, ro));

  g_object_class_install_property (gobject_class, PROP_ACK_ENDPOINT,
      g_param_spec_string ("ack-endpoint", "Acknowledgement endpoint",
          "Receive the acknowledgements of a zmqsrc with the same "
          "ack-endpoint on this ZeroMQ endpoint and estimate the link from "
          "them; bound or connected like the data endpoint (NULL = no "
          "estimate)", DEFAULT_ACK_ENDPOINT, rw));
  g_object_class_install_property (gobject_class, PROP_BANDWIDTH_INTERVAL,
      g_param_spec_uint ("bandwidth-interval", "Bandwidth interval",
          "With ack-endpoint: send the link estimate upstream as a "
          "'splitnn-bandwidth' custom event at most this often in ms "
          "(0 = never)", 0, G_MAXUINT, DEFAULT_BANDWIDTH_INTERVAL, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_LAG,
      g_param_spec_uint ("max-lag", "Maximum lag",
          "With ack-endpoint: drop a buffer (counted in dropped and "
          "dropped-lag) instead of queueing it while the unacknowledged "
          "messages need more than this many ms to drain at the estimated "
          "rate, so a slow link holds no more backlog than that (0 = never "
          "drop for lag)", 0, G_MAXUINT, DEFAULT_MAX_LAG, rw));
  g_object_class_install_property (gobject_class, PROP_BANDWIDTH_ESTIMATE,
      g_param_spec_double ("bandwidth-estimate", "Bandwidth estimate",
          "With ack-endpoint: what the link can carry, bit/s, from probe "
          "dispersion (0 = not known yet)", 0, G_MAXDOUBLE, 0, ro));
  g_object_class_install_property (gobject_class, PROP_DELIVERED_RATE,
      g_param_spec_double ("delivered-rate", "Delivered rate",
          "With ack-endpoint: what the link did carry over the last 2 s, "
          "bit/s (the offered load when that is lower than the capacity)",
          0, G_MAXDOUBLE, 0, ro));
  g_object_class_install_property (gobject_class, PROP_RTT,
      g_param_spec_double ("rtt", "Round-trip time",
          "With ack-endpoint: base round trip in ms, the smallest probe "
          "round trip of the last 10 s (0 = not known yet)",
          0, G_MAXDOUBLE, 0, ro));
  g_object_class_install_property (gobject_class, PROP_ACKS,
      g_param_spec_uint64 ("acks", "Acknowledgements",
          "Data messages acknowledged by the receiver since start", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_REPLIES,
      g_param_spec_uint64 ("replies", "Replies",
          "With ack-endpoint: replies from the receiver (e.g. splitnncloud's "
          "time per frame) pushed upstream as custom events since start", 0,
          G_MAXUINT64, 0, ro));
  gst_splitnn_install_max_errors (gobject_class, PROP_MAX_ERRORS,
      "dropped buffers");
  g_object_class_install_property (gobject_class, PROP_MAX_QUEUED_BYTES,
      g_param_spec_int64 ("max-queued-bytes", "Maximum queued bytes",
          "Payload bytes ZeroMQ may hold for a slow receiver (each queued "
          "message keeps its buffer alive); a buffer that would go over is "
          "dropped and counted in dropped and dropped-budget (0 = no "
          "limit, hwm alone)", 0, G_MAXINT64, DEFAULT_MAX_QUEUED_BYTES,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_DROPPED_BUDGET,
      g_param_spec_uint64 ("dropped-budget", "Dropped for the byte budget",
          "Buffers dropped since start because max-queued-bytes were "
          "already waiting in ZeroMQ (also counted in dropped)", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (gobject_class, PROP_LOST,
      g_param_spec_uint64 ("lost", "Lost in flight",
          "With ack-endpoint: messages handed to ZeroMQ and never "
          "acknowledged, since start: a later one was acknowledged first "
          "(same connection, in order: these were lost, e.g. in a receiver "
          "that was killed) or none came for 5 s", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_DISCARDED_AT_STOP,
      g_param_spec_uint64 ("discarded-at-stop", "Discarded at stop",
          "With ack-endpoint: messages neither acknowledged nor known lost "
          "when the sink stopped (dropped at linger, or their acks did not "
          "come back within 1 s). sent = acks + receiver-dropped + lost + "
          "discarded-at-stop", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_RECEIVER_DROPPED,
      g_param_spec_uint64 ("receiver-dropped", "Dropped by the receiver",
          "With ack-endpoint: messages the link carried that the receiving "
          "zmqsrc dropped because its queue was full (its downstream is "
          "slower than the senders: the receiver, not the link, is the "
          "bottleneck), since start", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_WORKERS,
      g_param_spec_string ("workers", "Workers",
          "A pool of cloud workers: comma-separated endpoints, one zmqsrc "
          "each; ack-endpoint then lists their ack endpoints in the same "
          "order.  The stream goes to one live worker (rendezvous hashing "
          "of its stream id), moves to another when that one stops "
          "acknowledging, and goes back when it answers again "
          "(docs/workers.md).  Replaces endpoint (NULL = one peer, endpoint)",
          DEFAULT_WORKERS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_WORKER_TIMEOUT,
      g_param_spec_uint ("worker-timeout", "Worker timeout",
          "With workers: ms a worker may leave a message unacknowledged "
          "before it is taken as dead and its streams move; dead workers "
          "are probed every quarter of it", 50, G_MAXUINT,
          DEFAULT_WORKER_TIMEOUT, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_WORKER,
      g_param_spec_string ("worker", "Worker",
          "With workers: the endpoint of the worker this stream goes to now "
          "(NULL: none alive, or no pool)", NULL, ro));
  g_object_class_install_property (gobject_class, PROP_WORKER_MOVES,
      g_param_spec_uint64 ("worker-moves", "Worker moves",
          "With workers: times the stream moved to another worker since "
          "start (frames lost in a move are counted in lost)", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_DROPPED_LAG,
      g_param_spec_uint64 ("dropped-lag", "Dropped for lag",
          "Buffers dropped since start because of max-lag (also counted in "
          "dropped)", 0, G_MAXUINT64, 0, ro));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class, "ZeroMQ sink",
      "Sink/Network", "Send a stream, caps and timestamps included, over "
      "ZeroMQ", "splitnn");

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_zmq_sink_start);
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_zmq_sink_change_state);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_zmq_sink_stop);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_zmq_sink_render);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_zmq_sink_set_caps);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_zmq_sink_event);
  basesink_class->unlock = GST_DEBUG_FUNCPTR (gst_zmq_sink_unlock);
  basesink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_zmq_sink_unlock_stop);

  gst_type_mark_as_plugin_api (GST_TYPE_ZMQ_SINK_SOCKET_TYPE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_ZMQ_SINK_DROP_POLICY, 0);

  GST_DEBUG_CATEGORY_INIT (gst_zmq_sink_debug, "zmqsink", 0, "ZeroMQ sink");
}

static void
gst_zmq_sink_init (GstZmqSink * self)
{
  self->endpoint = g_strdup (DEFAULT_ENDPOINT);
  self->bind = DEFAULT_BIND;
  self->socket_type = DEFAULT_SOCKET_TYPE;
  self->hwm = DEFAULT_HWM;
  self->max_errors = GST_SPLITNN_DEFAULT_MAX_ERRORS;
  self->max_queued_bytes = DEFAULT_MAX_QUEUED_BYTES;
  self->send_timeout = DEFAULT_SEND_TIMEOUT;
  self->drop_policy = DEFAULT_DROP_POLICY;
  self->reconnect_ivl = DEFAULT_RECONNECT_IVL;
  self->reconnect_ivl_max = DEFAULT_RECONNECT_IVL_MAX;
  self->linger = DEFAULT_LINGER;
  self->topic = g_strdup (DEFAULT_TOPIC);
  self->forward_eos = DEFAULT_FORWARD_EOS;
  self->caps_interval = DEFAULT_CAPS_INTERVAL;
  self->stats_interval = DEFAULT_STATS_INTERVAL;
  self->ack_endpoint = g_strdup (DEFAULT_ACK_ENDPOINT);
  self->bandwidth_interval = DEFAULT_BANDWIDTH_INTERVAL;
  self->max_lag = DEFAULT_MAX_LAG;
  self->workers = g_strdup (DEFAULT_WORKERS);
  self->worker_timeout = DEFAULT_WORKER_TIMEOUT;
  g_mutex_init (&self->est_lock);

  /* A transport forwards data as it comes; pacing is the sender's job.
   * Nor does it preroll: holding the first buffer until the whole pipeline
   * reaches PLAYING deadlocks a pipeline in which something downstream
   * waits for what comes back over the network (splitnnoverlay holding the
   * camera's first frame for its detections, whose packet this sink holds),
   * until that element's timeout runs out. */
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
  gst_base_sink_set_async_enabled (GST_BASE_SINK (self), FALSE);
}
