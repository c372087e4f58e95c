/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — zmqsrc: receive a stream sent by zmqsink over ZeroMQ.
 *
 * SECTION:element-zmqsrc
 *
 * Receives the messages of one or more zmqsinks and pushes them as buffers
 * with the sender's timestamps, offsets and flags.  The caps come from the
 * wire: data that arrives before the caps of its sender are known (a sender
 * that started before this source, a late subscriber) is dropped and
 * counted until the sender repeats its caps.  Each sender is judged
 * alone: caps that downstream does not accept (an accept-caps query, so
 * splitnncloud refuses a stream made for another model), malformed
 * messages and, by default when binding, EOS refuse or end that sender
 * only, counted and warned about at a bounded rate; everyone else keeps
 * being served.  sender-eos decides whether a sender's EOS ends the
 * stream (with sender-eos=end, when the last sender served has ended:
 * by EOS, by a goodbye, or silent for sender-timeout).  max-message-size
 * and max-queued-bytes bound what one peer can make this process hold.
 *
 * A reader thread reads the socket, acknowledges and queues (max-buffers);
 * create() pushes from that queue.  So a slow downstream does not stop the
 * acks: with queue-full=drop a message that does not fit is dropped,
 * counted and acknowledged as dropped, and the senders see the link, not
 * our load.
 *
 * With ack-endpoint set, every message is acknowledged to its sender
 * (sequence number, size, arrival time on this machine's clock) so a zmqsink
 * with the same ack-endpoint can estimate what the link carries, and
 * replies travel back the same way: a custom upstream event made with
 * gst_zmq_reply_event_new() for one of our buffers (splitnncloud's time per
 * frame) goes to the zmqsink that sent the buffer.
 *
 * The source is live; the timestamps are the sender's running time, so
 * downstream sinks normally run with sync=false.
 *
 * |[
 * gst-launch-1.0 zmqsrc endpoint=tcp://0.0.0.0:5555 ! videoconvert ! \
 *     autovideosink sync=false
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzmqsrc.h"
#include "gstzmqcommon.h"
#include "gstsplitnnwarn.h"

#include <errno.h>
#include <string.h>
#include <zmq.h>

GST_DEBUG_CATEGORY_STATIC (gst_zmq_src_debug);
#define GST_CAT_DEFAULT gst_zmq_src_debug

typedef enum
{
  GST_ZMQ_SRC_SOCKET_PULL,
  GST_ZMQ_SRC_SOCKET_SUB,
} GstZmqSrcSocketType;

typedef enum
{
  GST_ZMQ_SRC_QUEUE_FULL_AUTO,
  GST_ZMQ_SRC_QUEUE_FULL_DROP,
  GST_ZMQ_SRC_QUEUE_FULL_BLOCK,
} GstZmqSrcQueueFull;

typedef enum
{
  GST_ZMQ_SRC_SENDER_EOS_AUTO,
  GST_ZMQ_SRC_SENDER_EOS_END,
  GST_ZMQ_SRC_SENDER_EOS_IGNORE,
} GstZmqSrcSenderEos;

#define DEFAULT_ENDPOINT NULL
#define DEFAULT_BIND TRUE
#define DEFAULT_SOCKET_TYPE GST_ZMQ_SRC_SOCKET_PULL
#define DEFAULT_HWM 100
#define DEFAULT_RECEIVE_TIMEOUT -1
#define DEFAULT_SUBSCRIBE ""
#define DEFAULT_RECONNECT_IVL GST_ZMQ_DEFAULT_RECONNECT_IVL
#define DEFAULT_RECONNECT_IVL_MAX GST_ZMQ_DEFAULT_RECONNECT_IVL_MAX
#define DEFAULT_STATS_INTERVAL 0
#define DEFAULT_ACK_ENDPOINT NULL
#define DEFAULT_SENDER_EOS GST_ZMQ_SRC_SENDER_EOS_AUTO
#define DEFAULT_MAX_BUFFERS 64
#define DEFAULT_QUEUE_FULL GST_ZMQ_SRC_QUEUE_FULL_AUTO
#define DEFAULT_SENDER_TIMEOUT 0
/* Twice the largest feature packet of the detector we ship (its largest
 * cut, 2.1 M values, at 32 bits: 8.4 MB) and more than a raw 1080p RGB
 * frame; a peer sending more is cut off by ZeroMQ before the message is
 * allocated. */
#define DEFAULT_MAX_MESSAGE_SIZE (16 << 20)
/* hwm 64 per peer at the default message size: a bound on what a peer
 * sending the largest messages can make us hold, while a receiver behind
 * a short burst of ordinary packets still absorbs it (with a queue of 16,
 * a loaded cloud left the backlog at the sender, whose linger then
 * dropped it, EOS included). */
#define DEFAULT_MAX_QUEUED_BYTES (G_GINT64_CONSTANT (1) << 30)

/* A poll that returned sooner than this found the message already waiting
 * (we were busy when it came): its arrival time is not known exactly. */
#define EXACT_WAIT_US 200
/* Acks queued for a slow or absent sender before new ones are dropped. */
#define ACK_HWM 1000

/* create() never sleeps longer than this before looking at the flushing
 * flag, so state changes and seeks never wait on the network. */
#define POLL_SLICE_MS 100
/* Senders whose caps we remember; past this the sender heard from least
 * recently is forgotten (and re-learnt from its periodic caps), so a peer
 * inventing stream ids cannot grow our memory nor make the regular senders
 * lose their caps. */
#define MAX_STREAMS 256
/* A sender that said goodbye (its EOS may have been discarded at its
 * linger) but whose last messages have not all arrived is ended after this
 * long without a message from it: what is still on the way comes within
 * it, since the reader never stops reading (queue-full=drop). */
#define GOODBYE_GRACE_US (2 * G_USEC_PER_SEC)

enum
{
  PROP_0,
  PROP_ENDPOINT,
  PROP_BIND,
  PROP_SOCKET_TYPE,
  PROP_HWM,
  PROP_RECEIVE_TIMEOUT,
  PROP_SUBSCRIBE,
  PROP_RECONNECT_IVL,
  PROP_RECONNECT_IVL_MAX,
  PROP_STATS_INTERVAL,
  PROP_CURVE_SERVER_KEY,
  PROP_CURVE_PUBLIC_KEY,
  PROP_CURVE_SECRET_KEY,
  PROP_CURVE_ALLOWED_KEYS,
  PROP_CLIENTS_REFUSED,
  PROP_ACK_ENDPOINT,
  PROP_RECEIVED,
  PROP_BYTES_RECEIVED,
  PROP_DROPPED_NO_CAPS,
  PROP_DROPPED_MALFORMED,
  PROP_REPLIES,
  PROP_SENDER_EOS,
  PROP_MAX_MESSAGE_SIZE,
  PROP_MAX_QUEUED_BYTES,
  PROP_DROPPED_REFUSED,
  PROP_EOS_IGNORED,
  PROP_SENDERS_EVICTED,
  PROP_MAX_ERRORS,
  PROP_STREAMS,
  PROP_FRAMES_PER_SECOND,
  PROP_BYTES_PER_SECOND,
  PROP_STREAM_STATS,
  PROP_MAX_BUFFERS,
  PROP_QUEUE_FULL,
  PROP_SENDER_TIMEOUT,
  PROP_DROPPED_QUEUE_FULL,
  PROP_SENDERS_TIMED_OUT,
  PROP_DISCARDED_AT_STOP,
};

/* What we know about one sender (one zmqsink run). */
typedef struct
{
  guint32 caps_seq;
  GstCaps *caps;                /* NULL until the caps for caps_seq arrive */
  gchar *caps_str;
  guint64 next_seqnum;
  gboolean started;             /* a buffer of this sender went out */
  gboolean checked;             /* downstream was asked about caps */
  gboolean refused;             /* ... and refused them */
  guint64 last_heard;           /* GstZmqSrc.tick when it last sent */
  /* aggregate figures (gst_zmq_src_stream_seen) */
  guint64 frames, bytes, gaps;
  gint64 last_us;               /* local monotonic time of its last buffer */
  gint64 min_offset_us;         /* smallest arrival - PTS seen, G_MAXINT64: none */
  gint64 lag_us;                /* arrival - PTS of the last, above that smallest */
} Stream;

/* How a sender ended (the reader decides; create() acts in stream order). */
typedef enum
{
  END_EOS,                      /* its EOS message */
  END_GOODBYE,                  /* its goodbye, then silence */
  END_TIMEOUT,                  /* silent for sender-timeout */
} EndReason;

static const gchar *const end_reason_names[] = { "eos", "goodbye", "timeout" };

/* One entry of the queue between the reader thread and create(). */
typedef struct
{
  gboolean end;                 /* FALSE: a data message */
  /* data */
  GstZmqHeader header;          /* header.caps points into head */
  zmq_msg_t head, payload;
  gsize bytes;                  /* both frames, for the byte bound */
  /* end of a sender */
  guint32 stream_id;
  EndReason reason;
  guint64 frames;               /* messages of it read */
  guint64 missing;              /* G_MAXUINT64: not known */
  GArray *others;               /* guint32: the other live senders then */
} Item;

/* What the reader thread knows about a sender's liveness; reader only. */
typedef struct
{
  gint64 last_us;               /* reading clock (see read_clock) */
  guint64 next_seq;             /* past the highest sequence number read */
  guint64 frames;
  guint64 goodbye_seq;          /* G_MAXUINT64: no goodbye */
  gboolean ended;
} Peer;

struct _GstZmqSrc
{
  GstPushSrc parent;

  /* properties, under the object lock */
  gchar *endpoint;
  gboolean bind;
  GstZmqSrcSocketType socket_type;
  gint hwm;
  gint receive_timeout;
  gchar *subscribe;
  gint reconnect_ivl;
  gint reconnect_ivl_max;
  guint stats_interval;
  gchar *curve_server_key;
  gchar *curve_public_key;
  gchar *curve_secret_key;
  gchar *curve_allowed_keys;
  gchar *ack_endpoint;
  GstZmqSrcSenderEos sender_eos;
  gint64 max_message_size;
  gint64 max_queued_bytes;
  guint max_buffers;
  GstZmqSrcQueueFull queue_full;
  gint sender_timeout;

  /* counters, under the object lock */
  guint64 received;
  guint64 bytes_received;
  guint64 dropped_no_caps;
  guint64 dropped_malformed;
  guint64 replies;
  guint64 dropped_refused;
  guint64 eos_ignored;
  guint64 senders_evicted;
  guint64 dropped_queue_full;
  guint64 senders_timed_out;
  guint64 discarded_at_stop;    /* in our queue when we stopped */
  /* aggregate figures of the last stats interval, under the object lock */
  guint n_streams;
  gdouble frames_per_s, bytes_per_s;
  gchar *stream_stats;          /* the last JSON line */
  guint64 agg_frames_last, agg_bytes_last;
  gint64 agg_last_us;

  /* streaming state */
  void *context;
  void *socket;
  void *ack_context;
  void *ack_socket;             /* PUB, NULL without ack-endpoint */
  GMutex ack_lock;              /* acks go out from the streaming thread,
                                 * replies from whichever thread answers */
  gint flushing;                /* atomic: unlock() was called */
  GstZmqSrcSocketType cur_socket_type;
  gint64 receive_timeout_us;
  gint64 stats_interval_us;
  GHashTable *streams;          /* stream id -> Stream */
  GstCaps *caps;                /* what we last set on the pad */
  gint64 last_message;          /* atomic: set by the reader */
  gint64 timeout_posted_for;    /* last_message when zmqsrc-timeout went */

  /* The reader thread reads the socket all the time, acknowledges at
   * once and queues for create(): acks stay timely when downstream is
   * slow, so the sender sees the link, not our load.  Bounded by
   * max-buffers and max-queued-bytes; a data message that does not fit
   * is dropped and acknowledged as such (queue-full=drop) or waits
   * (block).  Ends of senders are always queued (they are tiny). */
  GThread *reader;
  gint reader_running;          /* atomic */
  GMutex qlock;
  GCond qcond;
  GQueue queue;                 /* of Item, under qlock */
  guint q_buffers;
  gint64 q_bytes;
  guint cur_max_buffers;
  gint64 cur_max_bytes;
  gboolean cur_drop;
  gint64 cur_sender_timeout_us;
  GHashTable *peers;            /* stream id -> Peer; reader only */
  gint64 blocked_us;            /* time the reader waited for room */
  gint64 peers_checked;
  GstSplitnnWarn full_warn;     /* reader only */
  gint64 stats_last;
  /* malformed and refused messages: one warning per 5 s with the count
   * since the last (gstsplitnnwarn); a run of more than max-errors of
   * them (any sender) stops the element */
  GstSplitnnWarn malformed_warn, refuse_warn;
  guint64 bad_in_a_row;         /* under the object lock (both threads) */
  gint max_errors;
  gint too_many;                /* atomic */
  gboolean cur_end_on_eos;
  guint64 tick;                 /* messages read, for least-recently-heard */
};

#define gst_zmq_src_parent_class parent_class
G_DEFINE_TYPE (GstZmqSrc, gst_zmq_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (zmqsrc, "zmqsrc", GST_RANK_NONE, GST_TYPE_ZMQ_SRC);

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

#define GST_TYPE_ZMQ_SRC_SOCKET_TYPE (gst_zmq_src_socket_type_get_type ())
static GType
gst_zmq_src_socket_type_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ZMQ_SRC_SOCKET_PULL, "PULL: receive from any number of zmqsink "
          "push sockets (fair-queued)", "pull"},
    {GST_ZMQ_SRC_SOCKET_SUB, "SUB: receive what zmqsink pub sockets publish "
          "on topics matching subscribe", "sub"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstZmqSrcSocketType", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_ZMQ_SRC_QUEUE_FULL (gst_zmq_src_queue_full_get_type ())
static GType
gst_zmq_src_queue_full_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ZMQ_SRC_QUEUE_FULL_AUTO, "drop with ack-endpoint (acks stay "
          "timely), block without", "auto"},
    {GST_ZMQ_SRC_QUEUE_FULL_DROP, "Keep reading: a message that does not "
          "fit is dropped, counted in dropped-queue-full and acknowledged "
          "as dropped", "drop"},
    {GST_ZMQ_SRC_QUEUE_FULL_BLOCK, "Stop reading until there is room "
          "(back-pressure: the senders' queues fill)", "block"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstZmqSrcQueueFull", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define GST_TYPE_ZMQ_SRC_SENDER_EOS (gst_zmq_src_sender_eos_get_type ())
static GType
gst_zmq_src_sender_eos_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ZMQ_SRC_SENDER_EOS_AUTO, "End the stream on a sender's EOS only "
          "when connecting (bind=false, one sender); a binding source serves "
          "many senders and ignores it", "auto"},
    {GST_ZMQ_SRC_SENDER_EOS_END, "End the stream when every sender heard "
          "from has ended (EOS, goodbye or sender-timeout)", "end"},
    {GST_ZMQ_SRC_SENDER_EOS_IGNORE, "Never end the stream on a sender's EOS "
          "(counted in eos-ignored)", "ignore"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstZmqSrcSenderEos", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void
stream_free (gpointer data)
{
  Stream *stream = data;

  gst_clear_caps (&stream->caps);
  g_free (stream->caps_str);
  g_free (stream);
}

static void
payload_free (gpointer data)
{
  zmq_msg_t *msg = data;

  zmq_msg_close (msg);
  g_free (msg);
}

/* Aggregate figures (docs/workers.md): per stream, frames, bytes, gaps in
 * its sequence numbers (messages it sent that did not arrive: dropped by
 * its sink, lost on the way) and its lag: arrival time less PTS, above the
 * smallest seen for that stream, i.e. how much later than its best its
 * frames now arrive (a backlog building in front of this worker).  The
 * sender's PTS is its running time, so only differences mean anything. */
static void
gst_zmq_src_stream_seen (GstZmqSrc * self, Stream * stream,
    const GstZmqHeader * header, gsize size, gint64 now)
{
  if (stream->frames == 0)
    stream->min_offset_us = G_MAXINT64;
  stream->frames++;
  stream->bytes += size;
  stream->last_us = now;
  if (header->pts != GST_CLOCK_TIME_NONE) {
    gint64 offset = now - (gint64) (header->pts / 1000);

    stream->min_offset_us = MIN (stream->min_offset_us, offset);
    stream->lag_us = offset - stream->min_offset_us;
  }
}

/* Posts "zmqsrc-streams" and keeps the JSON line for stream-stats: the
 * number of streams, frames/s and bytes/s since the last one, and each
 * stream's counts, lag and idle time. */
static void
gst_zmq_src_post_streams (GstZmqSrc * self, gint64 now)
{
  GHashTableIter iter;
  gpointer key, value;
  guint64 frames = 0, bytes = 0;
  guint n = 0;
  GString *json = g_string_new (NULL), *per = g_string_new (NULL);
  gdouble dt, fps = 0, bps = 0;
  gchar *name = gst_object_get_name (GST_OBJECT (self));
  GstStructure *s;

  if (self->streams == NULL)
    return;
  g_hash_table_iter_init (&iter, self->streams);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    Stream *st = value;

    if (st->frames == 0)
      continue;
    frames += st->frames;
    bytes += st->bytes;
    g_string_append_printf (per, "%s{\"stream\": %u, \"frames\": %"
        G_GUINT64_FORMAT ", \"bytes\": %" G_GUINT64_FORMAT ", \"gaps\": %"
        G_GUINT64_FORMAT ", \"lag_ms\": %.1f, \"idle_ms\": %.1f}",
        n ? ", " : "", GPOINTER_TO_UINT (key), st->frames, st->bytes, st->gaps,
        st->lag_us / 1000.0, (now - st->last_us) / 1000.0);
    n++;
  }
  GST_OBJECT_LOCK (self);
  dt = (now - self->agg_last_us) / 1e6;
  /* Streams evicted or ended take their counts with them: clamp at 0. */
  if (dt > 0 && frames >= self->agg_frames_last) {
    fps = (frames - self->agg_frames_last) / dt;
    bps = (bytes - MIN (bytes, self->agg_bytes_last)) / dt;
  }
  self->agg_frames_last = frames;
  self->agg_bytes_last = bytes;
  self->agg_last_us = now;
  g_string_append_printf (json, "{\"element\": \"%s\", \"time\": %"
      G_GINT64_FORMAT ", \"streams\": %u, \"frames_per_s\": %.2f, "
      "\"bytes_per_s\": %.0f, \"received\": %" G_GUINT64_FORMAT
      ", \"dropped_no_caps\": %" G_GUINT64_FORMAT ", \"per_stream\": [%s]}",
      name, g_get_real_time (), n, fps, bps, self->received,
      self->dropped_no_caps, per->str);
  self->n_streams = n;
  self->frames_per_s = fps;
  self->bytes_per_s = bps;
  g_free (self->stream_stats);
  self->stream_stats = g_strdup (json->str);
  GST_OBJECT_UNLOCK (self);
  s = gst_structure_new ("zmqsrc-streams", "streams", G_TYPE_UINT, n,
      "frames-per-second", G_TYPE_DOUBLE, fps,
      "bytes-per-second", G_TYPE_DOUBLE, bps,
      "json", G_TYPE_STRING, json->str, NULL);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
  g_string_free (json, TRUE);
  g_string_free (per, TRUE);
  g_free (name);
}

static void
gst_zmq_src_post_stats (GstZmqSrc * self)
{
  GstStructure *s;

  GST_OBJECT_LOCK (self);
  s = gst_structure_new ("zmqsrc-stats",
      "received", G_TYPE_UINT64, self->received,
      "bytes-received", G_TYPE_UINT64, self->bytes_received,
      "dropped-no-caps", G_TYPE_UINT64, self->dropped_no_caps,
      "dropped-malformed", G_TYPE_UINT64, self->dropped_malformed,
      "dropped-refused", G_TYPE_UINT64, self->dropped_refused,
      "eos-ignored", G_TYPE_UINT64, self->eos_ignored,
      "senders-evicted", G_TYPE_UINT64, self->senders_evicted,
      "dropped-queue-full", G_TYPE_UINT64, self->dropped_queue_full,
      "senders-timed-out", G_TYPE_UINT64, self->senders_timed_out,
      "discarded-at-stop", G_TYPE_UINT64, self->discarded_at_stop, NULL);
  GST_OBJECT_UNLOCK (self);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* One more bad message in a row (malformed or refused): past max-errors,
 * an element error, and create() stops. */
static void
gst_zmq_src_bad (GstZmqSrc * self, const gchar * what)
{
  gint max_errors;

  guint64 n;

  GST_OBJECT_LOCK (self);
  max_errors = self->max_errors;
  n = ++self->bad_in_a_row;
  GST_OBJECT_UNLOCK (self);
  if (max_errors >= 0 && n > (guint64) max_errors
      && g_atomic_int_compare_and_exchange (&self->too_many, 0, 1)) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE,
        ("%" G_GUINT64_FORMAT " bad messages in a row, more than "
            "max-errors=%d", n, max_errors), ("last: %s", what));
  }
}

static void
gst_zmq_src_malformed (GstZmqSrc * self, const gchar * what)
{
  gint64 now = g_get_monotonic_time ();
  guint64 total;

  guint64 n;

  /* Both threads find malformed messages (the reader, and create() for
   * caps that do not parse): the warning state is under the lock too. */
  GST_OBJECT_LOCK (self);
  total = ++self->dropped_malformed;
  n = gst_splitnn_warn_failure (&self->malformed_warn, now);
  GST_OBJECT_UNLOCK (self);

  GST_DEBUG_OBJECT (self, "dropping malformed message: %s", what);
  if (n)
    GST_ELEMENT_WARNING (self, STREAM, DECODE,
        ("Dropped %" G_GUINT64_FORMAT " malformed message(s) (%"
            G_GUINT64_FORMAT " in total)", n, total), ("last: %s", what));
  gst_zmq_src_bad (self, what);
}

/* Reads all parts of the next message.  Frames past the expected count are
 * discarded; *n_parts says how many there were.  Returns FALSE with errno
 * set when nothing could be read. */
static gboolean
gst_zmq_src_recv (GstZmqSrc * self, zmq_msg_t * parts, guint max_parts,
    guint * n_parts)
{
  guint n = 0;
  gint more;

  do {
    zmq_msg_t scratch, *msg = n < max_parts ? &parts[n] : &scratch;

    zmq_msg_init (msg);
    while (zmq_msg_recv (msg, self->socket, ZMQ_DONTWAIT) < 0) {
      /* Later parts of a message arrive together with the first. */
      if (errno == EINTR || (n > 0 && errno == EAGAIN))
        continue;
      gint err = errno;

      zmq_msg_close (msg);
      for (guint i = 0; i < MIN (n, max_parts); i++)
        zmq_msg_close (&parts[i]);
      errno = err;
      return FALSE;
    }
    more = zmq_msg_more (msg);
    if (msg == &scratch)
      zmq_msg_close (msg);
    n++;
  } while (more);

  *n_parts = n;
  return TRUE;
}

/* Forgets the sender heard from least recently.  A linear scan over at
 * most MAX_STREAMS entries, only when a new sender arrives at a full
 * table: cheaper than keeping an ordered list up to date per message. */
static void
gst_zmq_src_evict (GstZmqSrc * self)
{
  GHashTableIter iter;
  gpointer key, value, oldest_key = NULL;
  guint64 oldest = G_MAXUINT64;

  g_hash_table_iter_init (&iter, self->streams);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    Stream *stream = value;

    if (stream->last_heard < oldest) {
      oldest = stream->last_heard;
      oldest_key = key;
    }
  }
  GST_DEBUG_OBJECT (self, "sender table full: forgetting stream %08x",
      GPOINTER_TO_UINT (oldest_key));
  g_hash_table_remove (self->streams, oldest_key);
  GST_OBJECT_LOCK (self);
  self->senders_evicted++;
  GST_OBJECT_UNLOCK (self);
}

/* A sender whose caps downstream does not take: its messages are dropped
 * and counted until it announces other caps; the others go on. */
static void
gst_zmq_src_refused (GstZmqSrc * self, guint32 stream_id, Stream * stream)
{
  gint64 now = g_get_monotonic_time ();
  guint64 total;

  GST_OBJECT_LOCK (self);
  total = ++self->dropped_refused;
  GST_OBJECT_UNLOCK (self);
  guint64 n = gst_splitnn_warn_failure (&self->refuse_warn, now);
  if (n)
    GST_ELEMENT_WARNING (self, STREAM, WRONG_TYPE,
        ("Refused %" G_GUINT64_FORMAT " message(s) of senders whose caps "
            "downstream does not accept (%" G_GUINT64_FORMAT " in total)", n,
            total), ("last: stream %08x, caps %" GST_PTR_FORMAT, stream_id,
            stream->caps));
  gst_zmq_src_bad (self, "caps refused downstream");
}

/* Finds out which caps apply to a message, learning them from the header
 * when it carries them.  *caps is NULL when the sender's caps are not known
 * yet; FALSE when the header carries caps we cannot use (counted). */
static gboolean
gst_zmq_src_caps_for (GstZmqSrc * self, const GstZmqHeader * header,
    Stream ** stream_out, GstCaps ** caps_out)
{
  Stream *stream = g_hash_table_lookup (self->streams,
      GUINT_TO_POINTER (header->stream_id));

  if (stream == NULL) {
    if (g_hash_table_size (self->streams) >= MAX_STREAMS)
      gst_zmq_src_evict (self);
    stream = g_new0 (Stream, 1);
    stream->caps_seq = header->caps_seq;
    g_hash_table_insert (self->streams, GUINT_TO_POINTER (header->stream_id),
        stream);
    GST_DEBUG_OBJECT (self, "new sender, stream id %08x", header->stream_id);
  }
  *stream_out = stream;
  *caps_out = NULL;
  stream->last_heard = ++self->tick;

  if (stream->caps_seq != header->caps_seq) {
    gst_clear_caps (&stream->caps);
    g_clear_pointer (&stream->caps_str, g_free);
    stream->caps_seq = header->caps_seq;
    stream->checked = stream->refused = FALSE;
  }

  if (header->caps && (stream->caps_str == NULL
          || strlen (stream->caps_str) != header->caps_len
          || memcmp (stream->caps_str, header->caps, header->caps_len) != 0)) {
    gchar *str = g_strndup (header->caps, header->caps_len);
    GstCaps *caps = gst_caps_from_string (str);

    if (caps == NULL || !gst_caps_is_fixed (caps)) {
      gchar *what = g_strdup_printf ("stream %08x: caps '%s' are %s",
          header->stream_id, str, caps ? "not fixed" : "unparsable");

      gst_zmq_src_malformed (self, what);
      g_free (what);
      g_free (str);
      gst_clear_caps (&caps);
      return FALSE;
    }
    GST_DEBUG_OBJECT (self, "stream %08x caps %u: %" GST_PTR_FORMAT,
        header->stream_id, header->caps_seq, caps);
    gst_clear_caps (&stream->caps);
    g_free (stream->caps_str);
    stream->caps = caps;
    stream->caps_str = str;
    stream->checked = stream->refused = FALSE;
  }

  *caps_out = stream->caps;
  return TRUE;
}

static void
gst_zmq_src_periodic (GstZmqSrc * self, gint64 now)
{
  gint64 last = __atomic_load_n (&self->last_message, __ATOMIC_RELAXED);

  if (self->receive_timeout_us > 0 && self->timeout_posted_for != last
      && now - last >= self->receive_timeout_us) {
    self->timeout_posted_for = last;
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_element (GST_OBJECT (self),
            gst_structure_new ("zmqsrc-timeout", "timeout", G_TYPE_UINT64,
                (guint64) self->receive_timeout_us * 1000, NULL)));
  }
  if (self->stats_interval_us > 0
      && now - self->stats_last >= self->stats_interval_us) {
    self->stats_last = now;
    gst_zmq_src_post_stats (self);
    gst_zmq_src_post_streams (self, now);
  }
}

/* Never blocks: an ack the sender cannot take is dropped (the estimator
 * copes with missing acks). */
static void
gst_zmq_src_ack (GstZmqSrc * self, const GstZmqHeader * header, gsize size,
    gint64 arrival_us, gboolean exact, gboolean dropped)
{
  GstZmqAck ack = { 0, };
  guint8 data[GST_ZMQ_ACK_SIZE];

  ack.stream_id = header->stream_id;
  ack.flags = (header->flags & GST_ZMQ_HEADER_FLAG_PROBE ?
      GST_ZMQ_ACK_FLAG_PROBE : 0) | (exact ? GST_ZMQ_ACK_FLAG_EXACT : 0)
      | (dropped ? GST_ZMQ_ACK_FLAG_DROPPED : 0);
  ack.seqnum = header->seqnum;
  ack.bytes = size;
  ack.recv_time = (guint64) arrival_us *1000;
  gst_zmq_ack_write (&ack, data);
  g_mutex_lock (&self->ack_lock);
  gint rc = zmq_send (self->ack_socket, data, sizeof data, ZMQ_DONTWAIT);
  g_mutex_unlock (&self->ack_lock);
  if (rc < 0)
    GST_LOG_OBJECT (self, "ack for %08x/%" G_GUINT64_FORMAT " dropped: %s",
        ack.stream_id, ack.seqnum, zmq_strerror (errno));
}

static void
item_free (Item * item)
{
  if (!item->end) {
    zmq_msg_close (&item->head);
    zmq_msg_close (&item->payload);
  }
  if (item->others)
    g_array_unref (item->others);
  g_free (item);
}

/* The reader's clock: monotonic time less the time it spent waiting for
 * room (queue-full=block), so a sender is never taken as silent because we
 * were not reading. */
static gint64
gst_zmq_src_read_clock (GstZmqSrc * self)
{
  return g_get_monotonic_time () - self->blocked_us;
}

/* A sender has ended: queued (never dropped, whatever the bound) so that
 * create() acts on it after the messages read before it.  Reader thread. */
static void
gst_zmq_src_end_peer (GstZmqSrc * self, guint32 id, Peer * peer,
    EndReason reason, guint64 missing)
{
  GHashTableIter iter;
  gpointer key, value;
  Item *item = g_new0 (Item, 1);

  peer->ended = TRUE;
  item->end = TRUE;
  item->stream_id = id;
  item->reason = reason;
  item->frames = peer->frames;
  item->missing = missing;
  item->others = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!((Peer *) value)->ended) {
      guint32 other = GPOINTER_TO_UINT (key);

      g_array_append_val (item->others, other);
    }
  GST_DEBUG_OBJECT (self, "stream %08x ended (%s), %" G_GUINT64_FORMAT
      " read, %u other sender(s) alive", id, end_reason_names[reason],
      peer->frames, item->others->len);
  g_mutex_lock (&self->qlock);
  g_queue_push_tail (&self->queue, item);
  g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);
}

/* The sender of a message: found, or new (forgetting the one heard from
 * least recently when MAX_STREAMS are known).  Reader thread. */
static Peer *
gst_zmq_src_peer (GstZmqSrc * self, guint32 id, gboolean create)
{
  Peer *peer = g_hash_table_lookup (self->peers, GUINT_TO_POINTER (id));

  if (peer == NULL && create) {
    if (g_hash_table_size (self->peers) >= MAX_STREAMS) {
      GHashTableIter iter;
      gpointer key, value, oldest_key = NULL;
      gint64 oldest = G_MAXINT64;

      g_hash_table_iter_init (&iter, self->peers);
      while (g_hash_table_iter_next (&iter, &key, &value))
        if (((Peer *) value)->last_us < oldest) {
          oldest = ((Peer *) value)->last_us;
          oldest_key = key;
        }
      g_hash_table_remove (self->peers, oldest_key);
    }
    peer = g_new0 (Peer, 1);
    peer->goodbye_seq = G_MAXUINT64;
    peer->ended = TRUE;         /* made alive by its first data message */
    g_hash_table_insert (self->peers, GUINT_TO_POINTER (id), peer);
  }
  return peer;
}

/* Senders that said goodbye and went quiet, or that were silent for
 * sender-timeout, are ended.  Reader thread, every POLL_SLICE_MS. */
static void
gst_zmq_src_check_peers (GstZmqSrc * self)
{
  gint64 now = gst_zmq_src_read_clock (self);
  GHashTableIter iter;
  gpointer key, value;

  if (now - self->peers_checked < POLL_SLICE_MS * 1000)
    return;
  self->peers_checked = now;
  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    Peer *peer = value;
    guint32 id = GPOINTER_TO_UINT (key);

    if (peer->ended)
      continue;
    if (peer->goodbye_seq != G_MAXUINT64
        && now - peer->last_us >= GOODBYE_GRACE_US)
      gst_zmq_src_end_peer (self, id, peer, END_GOODBYE,
          peer->goodbye_seq - MIN (peer->next_seq, peer->goodbye_seq));
    else if (self->cur_sender_timeout_us > 0
        && now - peer->last_us >= self->cur_sender_timeout_us) {
      GST_OBJECT_LOCK (self);
      self->senders_timed_out++;
      GST_OBJECT_UNLOCK (self);
      gst_zmq_src_end_peer (self, id, peer, END_TIMEOUT, G_MAXUINT64);
    }
  }
}

/* Queues a data message, or drops it when there is no room and
 * queue-full=drop.  Consumes the parts; TRUE when queued. */
static gboolean
gst_zmq_src_enqueue (GstZmqSrc * self, const GstZmqHeader * header,
    zmq_msg_t * head, zmq_msg_t * payload, gsize bytes)
{
  Item *item;
  gint64 wait_start = 0;

  g_mutex_lock (&self->qlock);
  while (self->q_buffers >= self->cur_max_buffers
      || (self->cur_max_bytes > 0 && self->q_buffers > 0
          && self->q_bytes + (gint64) bytes > self->cur_max_bytes)) {
    if (self->cur_drop || !g_atomic_int_get (&self->reader_running)) {
      g_mutex_unlock (&self->qlock);
      zmq_msg_close (head);
      zmq_msg_close (payload);
      return FALSE;
    }
    if (wait_start == 0)
      wait_start = g_get_monotonic_time ();
    g_cond_wait_until (&self->qcond, &self->qlock,
        g_get_monotonic_time () + POLL_SLICE_MS * 1000);
  }
  if (wait_start)
    self->blocked_us += g_get_monotonic_time () - wait_start;
  item = g_new0 (Item, 1);
  item->header = *header;
  memcpy (&item->head, head, sizeof *head);
  memcpy (&item->payload, payload, sizeof *payload);
  item->bytes = bytes;
  g_queue_push_tail (&self->queue, item);
  self->q_buffers++;
  self->q_bytes += bytes;
  g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);
  return TRUE;
}

static void
gst_zmq_src_queue_full (GstZmqSrc * self, const GstZmqHeader * header)
{
  guint64 total, n;

  GST_OBJECT_LOCK (self);
  total = ++self->dropped_queue_full;
  GST_OBJECT_UNLOCK (self);
  GST_LOG_OBJECT (self, "stream %08x/%" G_GUINT64_FORMAT ": queue full, "
      "dropped", header->stream_id, header->seqnum);
  n = gst_splitnn_warn_failure (&self->full_warn, g_get_monotonic_time ());
  if (n)
    GST_ELEMENT_WARNING (self, RESOURCE, BUSY,
        ("Dropped %" G_GUINT64_FORMAT " message(s): the queue was full, "
            "downstream is slower than the senders (%" G_GUINT64_FORMAT
            " in total)", n, total), ("max-buffers=%u, max-queued-bytes=%"
            G_GINT64_FORMAT "; acknowledged to their senders as dropped "
            "here, not lost", self->cur_max_buffers, self->cur_max_bytes));
}

/* One message from the socket: malformed ones are counted here, probes
 * acknowledged, ends of senders and data queued. */
static void
gst_zmq_src_read_one (GstZmqSrc * self, gint64 poll_start, gint64 arrival)
{
  guint expected = self->cur_socket_type == GST_ZMQ_SRC_SOCKET_SUB ? 3 : 2;
  guint first = expected - 2, n_parts;
  zmq_msg_t parts[3];
  GstZmqHeader header;
  GError *error = NULL;
  gsize wire_size = 0;
  gboolean exact = arrival - poll_start >= EXACT_WAIT_US;
  Peer *peer;

  if (!gst_zmq_src_recv (self, parts, expected, &n_parts)) {
    if (errno != EAGAIN && errno != EINTR)
      GST_WARNING_OBJECT (self, "zmq_msg_recv: %s", zmq_strerror (errno));
    return;
  }
  __atomic_store_n (&self->last_message, arrival, __ATOMIC_RELAXED);
  for (guint i = 0; i < MIN (n_parts, expected); i++)
    wire_size += zmq_msg_size (&parts[i]);

  if (n_parts != expected) {
    gchar *what = g_strdup_printf ("%u frames, expected %u", n_parts,
        expected);

    for (guint i = 0; i < MIN (n_parts, expected); i++)
      zmq_msg_close (&parts[i]);
    gst_zmq_src_malformed (self, what);
    g_free (what);
    return;
  }
  /* A topic frame, if any, was matched by ZeroMQ already. */
  if (first > 0)
    zmq_msg_close (&parts[0]);
  if (!gst_zmq_header_parse (&header, zmq_msg_data (&parts[first]),
          zmq_msg_size (&parts[first]), &error)) {
    zmq_msg_close (&parts[first]);
    zmq_msg_close (&parts[first + 1]);
    gst_zmq_src_malformed (self, error->message);
    g_error_free (error);
    return;
  }

  if (header.flags & GST_ZMQ_HEADER_FLAG_GOODBYE) {
    /* Not acknowledged: it may overtake the data it follows. */
    zmq_msg_close (&parts[first]);
    zmq_msg_close (&parts[first + 1]);
    peer = gst_zmq_src_peer (self, header.stream_id, FALSE);
    if (peer == NULL || peer->ended) {
      GST_DEBUG_OBJECT (self, "goodbye of stream %08x, ended already",
          header.stream_id);
      return;
    }
    GST_DEBUG_OBJECT (self, "goodbye of stream %08x: %" G_GUINT64_FORMAT
        " messages, read up to %" G_GUINT64_FORMAT, header.stream_id,
        header.seqnum, peer->next_seq);
    if (peer->next_seq >= header.seqnum)
      gst_zmq_src_end_peer (self, header.stream_id, peer, END_GOODBYE, 0);
    else {
      /* The rest may still be on its way: wait for a moment of silence. */
      peer->goodbye_seq = header.seqnum;
      peer->last_us = gst_zmq_src_read_clock (self);
    }
    return;
  }

  if (header.flags & GST_ZMQ_HEADER_FLAG_PROBE) {
    /* Only there to be acknowledged; marked dropped while the queue is
     * full and drops, so a pool of workers does not take a worker that
     * drops everything for a live one. */
    if (self->ack_socket) {
      gboolean full;

      g_mutex_lock (&self->qlock);
      full = self->cur_drop && self->q_buffers >= self->cur_max_buffers;
      g_mutex_unlock (&self->qlock);
      gst_zmq_src_ack (self, &header, wire_size, arrival, exact, full);
    }
    zmq_msg_close (&parts[first]);
    zmq_msg_close (&parts[first + 1]);
    return;
  }

  peer = gst_zmq_src_peer (self, header.stream_id, TRUE);
  peer->last_us = gst_zmq_src_read_clock (self);
  if (header.flags & GST_ZMQ_HEADER_FLAG_EOS) {
    if (self->ack_socket)
      gst_zmq_src_ack (self, &header, wire_size, arrival, exact, FALSE);
    zmq_msg_close (&parts[first]);
    zmq_msg_close (&parts[first + 1]);
    GST_DEBUG_OBJECT (self, "stream %08x sent EOS", header.stream_id);
    if (peer->ended && peer->frames > 0)
      return;                   /* its goodbye came first */
    gst_zmq_src_end_peer (self, header.stream_id, peer, END_EOS, 0);
    return;
  }

  if (peer->ended) {
    /* A new sender, or one heard again after it ended. */
    peer->ended = FALSE;
    peer->goodbye_seq = G_MAXUINT64;
    peer->frames = 0;
  }
  peer->frames++;
  peer->next_seq = MAX (peer->next_seq, header.seqnum + 1);
  if (gst_zmq_src_enqueue (self, &header, &parts[first], &parts[first + 1],
          wire_size)) {
    if (self->ack_socket)
      gst_zmq_src_ack (self, &header, wire_size, arrival, exact, FALSE);
  } else if (g_atomic_int_get (&self->reader_running)) {
    if (self->ack_socket)
      gst_zmq_src_ack (self, &header, wire_size, arrival, exact, TRUE);
    gst_zmq_src_queue_full (self, &header);
  }
  if (peer->goodbye_seq != G_MAXUINT64 && peer->next_seq >= peer->goodbye_seq)
    gst_zmq_src_end_peer (self, header.stream_id, peer, END_GOODBYE, 0);
}

static gpointer
gst_zmq_src_reader (gpointer data)
{
  GstZmqSrc *self = data;

  while (g_atomic_int_get (&self->reader_running)) {
    zmq_pollitem_t item = { self->socket, 0, ZMQ_POLLIN, 0 };
    gint64 poll_start = g_get_monotonic_time (), arrival;
    gint rc;

    gst_zmq_src_check_peers (self);
    rc = zmq_poll (&item, 1, POLL_SLICE_MS);
    arrival = g_get_monotonic_time ();
    if (rc < 0 && errno != EINTR) {
      GST_ELEMENT_ERROR (self, RESOURCE, READ, (NULL),
          ("zmq_poll: %s", zmq_strerror (errno)));
      g_atomic_int_set (&self->too_many, 1);
      break;
    }
    if (rc > 0)
      gst_zmq_src_read_one (self, poll_start, arrival);
  }
  return NULL;
}

/* A sender ended, in stream order: forget it, say so, and end the stream
 * when it was the last one and sender-eos says so.  TRUE: EOS. */
static gboolean
gst_zmq_src_ended (GstZmqSrc * self, Item * item)
{
  GstStructure *s;
  gboolean last = TRUE;

  g_hash_table_remove (self->streams, GUINT_TO_POINTER (item->stream_id));
  /* The stream ends with the last sender being served: one still alive
   * for the reader counts, unless all we have had from it was refused or
   * undecodable (foreign caps, caps that do not parse, none known yet). */
  for (guint i = 0; i < item->others->len && last; i++) {
    Stream *other = g_hash_table_lookup (self->streams,
        GUINT_TO_POINTER (g_array_index (item->others, guint32, i)));

    if (other == NULL || (other->started && !other->refused))
      last = FALSE;
  }
  s = gst_structure_new ("zmqsrc-sender-ended",
      "stream-id", G_TYPE_UINT, item->stream_id,
      "reason", G_TYPE_STRING, end_reason_names[item->reason],
      "frames", G_TYPE_UINT64, item->frames,
      "last", G_TYPE_BOOLEAN, last, NULL);
  if (item->missing != G_MAXUINT64)
    gst_structure_set (s, "missing", G_TYPE_UINT64, item->missing, NULL);
  if (item->reason != END_EOS)
    GST_INFO_OBJECT (self, "sender %08x ended by %s: %" G_GUINT64_FORMAT
        " messages read, %s missing", item->stream_id,
        end_reason_names[item->reason], item->frames,
        item->missing == G_MAXUINT64 ? "unknown how many" : "some");
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
  if (self->cur_end_on_eos)
    return last;
  if (item->reason != END_TIMEOUT) {
    GST_OBJECT_LOCK (self);
    self->eos_ignored++;
    GST_OBJECT_UNLOCK (self);
  }
  return FALSE;
}

/* Next item from the reader, waiting at most POLL_SLICE_MS. */
static Item *
gst_zmq_src_pop (GstZmqSrc * self)
{
  Item *item;

  g_mutex_lock (&self->qlock);
  item = g_queue_pop_head (&self->queue);
  if (item == NULL && !g_atomic_int_get (&self->flushing)) {
    g_cond_wait_until (&self->qcond, &self->qlock,
        g_get_monotonic_time () + POLL_SLICE_MS * 1000);
    item = g_queue_pop_head (&self->queue);
  }
  if (item && !item->end) {
    self->q_buffers--;
    self->q_bytes -= item->bytes;
    g_cond_broadcast (&self->qcond);
  }
  g_mutex_unlock (&self->qlock);
  return item;
}

static GstFlowReturn
gst_zmq_src_create (GstPushSrc * psrc, GstBuffer ** outbuf)
{
  GstZmqSrc *self = GST_ZMQ_SRC (psrc);

  while (TRUE) {
    zmq_msg_t *payload;
    GstZmqHeader header;
    GstCaps *caps;
    Stream *stream;
    GstBuffer *buf;
    gsize size;
    gboolean ok;
    Item *item;

    if (g_atomic_int_get (&self->flushing))
      return GST_FLOW_FLUSHING;
    if (g_atomic_int_get (&self->too_many))
      return GST_FLOW_ERROR;

    gst_zmq_src_periodic (self, g_get_monotonic_time ());
    item = gst_zmq_src_pop (self);
    if (item == NULL)
      continue;
    if (item->end) {
      gboolean eos = gst_zmq_src_ended (self, item);

      item_free (item);
      if (eos)
        return GST_FLOW_EOS;
      continue;
    }

    header = item->header;
    ok = gst_zmq_src_caps_for (self, &header, &stream, &caps);
    if (!ok) {
      item_free (item);
      continue;
    }
    if (caps == NULL) {
      item_free (item);
      GST_OBJECT_LOCK (self);
      self->dropped_no_caps++;
      GST_OBJECT_UNLOCK (self);
      GST_LOG_OBJECT (self, "stream %08x: caps %u not known yet, dropped",
          header.stream_id, header.caps_seq);
      continue;
    }

    /* Ask downstream once per sender and caps, before they reach the
     * pad: caps it cannot take would fail the whole stream. */
    if (!stream->checked) {
      stream->checked = TRUE;
      stream->refused = !gst_pad_peer_query_accept_caps (GST_BASE_SRC_PAD
          (self), caps);
      if (stream->refused)
        GST_INFO_OBJECT (self, "stream %08x: downstream refuses %"
            GST_PTR_FORMAT, header.stream_id, caps);
    }
    if (stream->refused) {
      item_free (item);
      gst_zmq_src_refused (self, header.stream_id, stream);
      continue;
    }

    if (self->caps == NULL || !gst_caps_is_equal (self->caps, caps)) {
      GST_DEBUG_OBJECT (self, "setting caps %" GST_PTR_FORMAT, caps);
      GST_OBJECT_LOCK (self);
      gst_caps_replace (&self->caps, caps);
      GST_OBJECT_UNLOCK (self);
      if (!gst_base_src_set_caps (GST_BASE_SRC (self), caps)) {
        /* Accepted but not negotiated after all: refuse this sender, and
         * set the caps again for the next one. */
        item_free (item);
        GST_OBJECT_LOCK (self);
        gst_clear_caps (&self->caps);
        GST_OBJECT_UNLOCK (self);
        stream->refused = TRUE;
        gst_zmq_src_refused (self, header.stream_id, stream);
        continue;
      }
    }

    /* The buffer owns the ZeroMQ message: no copy of the payload. */
    payload = g_new (zmq_msg_t, 1);
    memcpy (payload, &item->payload, sizeof *payload);
    zmq_msg_init (&item->payload);
    item_free (item);
    size = zmq_msg_size (payload);
    if (size > 0) {
      buf = gst_buffer_new_wrapped_full (0, zmq_msg_data (payload), size, 0,
          size, payload, payload_free);
    } else {
      payload_free (payload);
      buf = gst_buffer_new ();
    }

    GST_BUFFER_PTS (buf) = header.pts;
    GST_BUFFER_DTS (buf) = header.dts;
    GST_BUFFER_DURATION (buf) = header.duration;
    GST_BUFFER_OFFSET (buf) = header.offset;
    GST_BUFFER_OFFSET_END (buf) = header.offset_end;
    GST_BUFFER_FLAG_SET (buf, header.buffer_flags);
    /* A new sender, or messages of this sender lost on the way (dropped
     * by its sink, by ZeroMQ at a full queue, or here for lack of caps):
     * tell downstream. */
    if (stream->started && header.seqnum > stream->next_seqnum)
      stream->gaps += header.seqnum - stream->next_seqnum;
    gst_zmq_src_stream_seen (self, stream, &header, size,
        g_get_monotonic_time ());
    if (!stream->started || header.seqnum != stream->next_seqnum) {
      GST_DEBUG_OBJECT (self, "stream %08x: seqnum %" G_GUINT64_FORMAT
          ", expected %" G_GUINT64_FORMAT, header.stream_id, header.seqnum,
          stream->next_seqnum);
      GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DISCONT);
    }
    stream->next_seqnum = header.seqnum + 1;
    stream->started = TRUE;
    if (self->ack_socket)
      gst_zmq_sender_meta_add (buf, header.stream_id);

    GST_OBJECT_LOCK (self);
    self->received++;
    self->bytes_received += size;
    self->bad_in_a_row = 0;
    GST_OBJECT_UNLOCK (self);

    GST_LOG_OBJECT (self, "buffer %" GST_PTR_FORMAT, buf);
    *outbuf = buf;
    return GST_FLOW_OK;
  }
}

static GstCaps *
gst_zmq_src_get_caps (GstBaseSrc * src, GstCaps * filter)
{
  GstZmqSrc *self = GST_ZMQ_SRC (src);
  GstCaps *caps;

  /* Before the first message we cannot know; afterwards only what the
   * sender sends is possible. */
  GST_OBJECT_LOCK (self);
  caps = self->caps ? gst_caps_ref (self->caps) : gst_caps_new_any ();
  GST_OBJECT_UNLOCK (self);

  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, caps,
        GST_CAPS_INTERSECT_FIRST);

    gst_caps_unref (caps);
    caps = tmp;
  }
  return caps;
}

/* Opens the sockets; posts a clear element error and returns FALSE when it
 * cannot. */
static gboolean
gst_zmq_src_open (GstBaseSrc * src)
{
  GstZmqSrc *self = GST_ZMQ_SRC (src);
  GstZmqSocketConfig config = { 0, };
  GstZmqOpenError kind;
  GError *error = NULL;
  gboolean ok;

  GST_OBJECT_LOCK (self);
  config.type = self->socket_type == GST_ZMQ_SRC_SOCKET_SUB ? ZMQ_SUB
      : ZMQ_PULL;
  config.endpoint = self->endpoint;
  config.bind = self->bind;
  config.hwm = self->hwm;
  /* Bytes bound: ZeroMQ counts its queue in messages, so with messages of
   * at most max-message-size, at most max-queued-bytes / max-message-size
   * of them may wait per peer. */
  if (self->max_queued_bytes > 0 && self->max_message_size > 0) {
    gint64 cap = MAX (self->max_queued_bytes / self->max_message_size, 1);

    if (config.hwm == 0 || config.hwm > cap)
      config.hwm = (gint) MIN (cap, G_MAXINT);
  }
  config.max_message_size = self->max_message_size;
  config.reconnect_ivl = self->reconnect_ivl;
  config.reconnect_ivl_max = self->reconnect_ivl_max;
  /* Nothing is ever sent from here. */
  config.linger = 0;
  config.immediate = FALSE;
  config.subscribe = self->subscribe;
  config.curve_server_key = self->curve_server_key;
  config.curve_public_key = self->curve_public_key;
  config.curve_secret_key = self->curve_secret_key;
  config.curve_allowed_keys = self->curve_allowed_keys;
  ok = gst_zmq_socket_open (&config, &self->context, &self->socket, &kind,
      &error);
  if (ok && self->ack_endpoint && *self->ack_endpoint) {
    /* Same side binds as for the data, with the same CURVE role. */
    config.type = ZMQ_PUB;
    config.endpoint = self->ack_endpoint;
    config.hwm = ACK_HWM;
    config.subscribe = NULL;
    ok = gst_zmq_socket_open (&config, &self->ack_context, &self->ack_socket,
        &kind, &error);
    if (!ok) {
      gchar *msg = g_strdup_printf ("ack-endpoint: %s", error->message);

      g_free (error->message);
      error->message = msg;
      gst_zmq_socket_close (&self->context, &self->socket);
    }
  }

  self->cur_socket_type = self->socket_type;
  self->cur_end_on_eos = self->sender_eos == GST_ZMQ_SRC_SENDER_EOS_END
      || (self->sender_eos == GST_ZMQ_SRC_SENDER_EOS_AUTO && !self->bind);
  self->dropped_refused = self->eos_ignored = self->senders_evicted = 0;
  self->dropped_queue_full = self->senders_timed_out = 0;
  self->discarded_at_stop = 0;
  self->cur_max_buffers = MAX (self->max_buffers, 1);
  self->cur_max_bytes = self->max_queued_bytes;
  self->cur_drop = self->queue_full == GST_ZMQ_SRC_QUEUE_FULL_DROP
      || (self->queue_full == GST_ZMQ_SRC_QUEUE_FULL_AUTO
      && self->ack_socket != NULL);
  self->cur_sender_timeout_us = (gint64) self->sender_timeout * 1000;
  self->tick = 0;
  self->receive_timeout_us = self->receive_timeout > 0 ?
      (gint64) self->receive_timeout * 1000 : 0;
  self->stats_interval_us = (gint64) self->stats_interval * 1000;
  self->received = self->bytes_received = 0;
  self->dropped_no_caps = self->dropped_malformed = self->replies = 0;
  gst_clear_caps (&self->caps);
  GST_OBJECT_UNLOCK (self);

  if (!ok) {
    if (kind == GST_ZMQ_OPEN_ERROR_SETTINGS)
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message),
          (NULL));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, ("%s", error->message),
          (NULL));
    g_error_free (error);
    return FALSE;
  }

  self->streams = g_hash_table_new_full (NULL, NULL, NULL, stream_free);
  self->peers = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->blocked_us = self->peers_checked = 0;
  self->q_buffers = 0;
  self->q_bytes = 0;
  gst_splitnn_warn_reset (&self->full_warn);
  self->last_message = self->stats_last = g_get_monotonic_time ();
  GST_OBJECT_LOCK (self);
  self->agg_frames_last = self->agg_bytes_last = 0;
  self->agg_last_us = self->stats_last;
  self->n_streams = 0;
  self->frames_per_s = self->bytes_per_s = 0;
  g_clear_pointer (&self->stream_stats, g_free);
  GST_OBJECT_UNLOCK (self);
  self->timeout_posted_for = G_MININT64;
  gst_splitnn_warn_reset (&self->malformed_warn);
  gst_splitnn_warn_reset (&self->refuse_warn);
  self->bad_in_a_row = 0;
  g_atomic_int_set (&self->too_many, 0);
  g_atomic_int_set (&self->flushing, 0);
  g_atomic_int_set (&self->reader_running, 1);
  self->reader = g_thread_new ("zmqsrc-reader", gst_zmq_src_reader, self);
  return TRUE;
}

static gboolean gst_zmq_src_stop (GstBaseSrc * src);

/* The sockets are opened by change_state, before the base class starts:
 * a base class whose start fails posts its own "failed to post a proper
 * error message" error after ours, which buries the clear one. */
static gboolean
gst_zmq_src_start (GstBaseSrc * src)
{
  return GST_ZMQ_SRC (src)->socket != NULL || gst_zmq_src_open (src);
}

static GstStateChangeReturn
gst_zmq_src_change_state (GstElement * element, GstStateChange transition)
{
  GstZmqSrc *self = GST_ZMQ_SRC (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED
      && !gst_zmq_src_open ((GstBaseSrc *) self))
    return GST_STATE_CHANGE_FAILURE;
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE
      && transition == GST_STATE_CHANGE_READY_TO_PAUSED && self->socket)
    gst_zmq_src_stop ((GstBaseSrc *) self);
  return ret;
}

static gboolean
gst_zmq_src_stop (GstBaseSrc * src)
{
  GstZmqSrc *self = GST_ZMQ_SRC (src);
  guint64 discarded = 0;
  Item *item;

  if (self->reader) {
    g_mutex_lock (&self->qlock);
    g_atomic_int_set (&self->reader_running, 0);
    g_cond_broadcast (&self->qcond);
    g_mutex_unlock (&self->qlock);
    g_thread_join (self->reader);
    self->reader = NULL;
  }
  /* Read and acknowledged, never pushed: counted. */
  while ((item = g_queue_pop_head (&self->queue))) {
    if (!item->end)
      discarded++;
    item_free (item);
  }
  self->q_buffers = 0;
  self->q_bytes = 0;
  g_clear_pointer (&self->peers, g_hash_table_unref);
  GST_OBJECT_LOCK (self);
  self->discarded_at_stop += discarded;
  GST_OBJECT_UNLOCK (self);
  if (discarded > 0)
    GST_INFO_OBJECT (self, "%" G_GUINT64_FORMAT " message(s) still queued "
        "at stop, discarded", discarded);
  gst_zmq_socket_close (&self->context, &self->socket);
  g_mutex_lock (&self->ack_lock);
  gst_zmq_socket_close (&self->ack_context, &self->ack_socket);
  g_mutex_unlock (&self->ack_lock);
  if (self->stats_interval_us > 0)
    gst_zmq_src_post_streams (self, g_get_monotonic_time ());
  g_clear_pointer (&self->streams, g_hash_table_unref);
  GST_OBJECT_LOCK (self);
  gst_clear_caps (&self->caps);
  GST_OBJECT_UNLOCK (self);
  if (self->stats_interval_us > 0)
    gst_zmq_src_post_stats (self);
  return TRUE;
}

/* A reply to one of our buffers: send it to the sender of that buffer.
 * Never blocks; a reply the sender cannot take is dropped, like an ack. */
static gboolean
gst_zmq_src_event (GstBaseSrc * src, GstEvent * event)
{
  GstZmqSrc *self = GST_ZMQ_SRC (src);
  const GstStructure *s = gst_event_get_structure (event);
  guint to;

  if (GST_EVENT_TYPE (event) != GST_EVENT_CUSTOM_UPSTREAM || s == NULL
      || !gst_structure_get_uint (s, GST_ZMQ_REPLY_TO_FIELD, &to))
    return GST_BASE_SRC_CLASS (parent_class)->event (src, event);

  GByteArray *frame = gst_zmq_reply_write (to, s);
  gint rc = -1;

  g_mutex_lock (&self->ack_lock);
  if (self->ack_socket && frame)
    rc = zmq_send (self->ack_socket, frame->data, frame->len, ZMQ_DONTWAIT);
  g_mutex_unlock (&self->ack_lock);
  if (rc >= 0) {
    GST_OBJECT_LOCK (self);
    self->replies++;
    GST_OBJECT_UNLOCK (self);
  } else {
    GST_LOG_OBJECT (self, "reply to %08x not sent: %s", to, !frame
        ? "over the size limit" : self->ack_socket ? zmq_strerror (errno) :
        "no ack-endpoint");
  }
  if (frame)
    g_byte_array_unref (frame);
  return TRUE;
}

static gboolean
gst_zmq_src_unlock (GstBaseSrc * src)
{
  GstZmqSrc *self = GST_ZMQ_SRC (src);

  g_mutex_lock (&self->qlock);
  g_atomic_int_set (&self->flushing, 1);
  g_cond_broadcast (&self->qcond);
  g_mutex_unlock (&self->qlock);
  return TRUE;
}

static gboolean
gst_zmq_src_unlock_stop (GstBaseSrc * src)
{
  g_atomic_int_set (&GST_ZMQ_SRC (src)->flushing, 0);
  return TRUE;
}

static void
gst_zmq_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstZmqSrc *self = GST_ZMQ_SRC (object);

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
    case PROP_RECEIVE_TIMEOUT:
      self->receive_timeout = g_value_get_int (value);
      break;
    case PROP_SUBSCRIBE:
      g_free (self->subscribe);
      self->subscribe = g_value_dup_string (value);
      break;
    case PROP_RECONNECT_IVL:
      self->reconnect_ivl = g_value_get_int (value);
      break;
    case PROP_RECONNECT_IVL_MAX:
      self->reconnect_ivl_max = g_value_get_int (value);
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
    case PROP_SENDER_EOS:
      self->sender_eos = g_value_get_enum (value);
      break;
    case PROP_MAX_ERRORS:
      self->max_errors = g_value_get_int (value);
      break;
    case PROP_MAX_MESSAGE_SIZE:
      self->max_message_size = g_value_get_int64 (value);
      break;
    case PROP_MAX_QUEUED_BYTES:
      self->max_queued_bytes = g_value_get_int64 (value);
      break;
    case PROP_MAX_BUFFERS:
      self->max_buffers = g_value_get_uint (value);
      break;
    case PROP_QUEUE_FULL:
      self->queue_full = g_value_get_enum (value);
      break;
    case PROP_SENDER_TIMEOUT:
      self->sender_timeout = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zmq_src_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstZmqSrc *self = GST_ZMQ_SRC (object);

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
    case PROP_RECEIVE_TIMEOUT:
      g_value_set_int (value, self->receive_timeout);
      break;
    case PROP_SUBSCRIBE:
      g_value_set_string (value, self->subscribe);
      break;
    case PROP_RECONNECT_IVL:
      g_value_set_int (value, self->reconnect_ivl);
      break;
    case PROP_RECONNECT_IVL_MAX:
      g_value_set_int (value, self->reconnect_ivl_max);
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
    case PROP_ACK_ENDPOINT:
      g_value_set_string (value, self->ack_endpoint);
      break;
    case PROP_RECEIVED:
      g_value_set_uint64 (value, self->received);
      break;
    case PROP_BYTES_RECEIVED:
      g_value_set_uint64 (value, self->bytes_received);
      break;
    case PROP_DROPPED_NO_CAPS:
      g_value_set_uint64 (value, self->dropped_no_caps);
      break;
    case PROP_DROPPED_MALFORMED:
      g_value_set_uint64 (value, self->dropped_malformed);
      break;
    case PROP_REPLIES:
      g_value_set_uint64 (value, self->replies);
      break;
    case PROP_SENDER_EOS:
      g_value_set_enum (value, self->sender_eos);
      break;
    case PROP_MAX_ERRORS:
      g_value_set_int (value, self->max_errors);
      break;
    case PROP_MAX_MESSAGE_SIZE:
      g_value_set_int64 (value, self->max_message_size);
      break;
    case PROP_MAX_QUEUED_BYTES:
      g_value_set_int64 (value, self->max_queued_bytes);
      break;
    case PROP_MAX_BUFFERS:
      g_value_set_uint (value, self->max_buffers);
      break;
    case PROP_QUEUE_FULL:
      g_value_set_enum (value, self->queue_full);
      break;
    case PROP_SENDER_TIMEOUT:
      g_value_set_int (value, self->sender_timeout);
      break;
    case PROP_DROPPED_QUEUE_FULL:
      g_value_set_uint64 (value, self->dropped_queue_full);
      break;
    case PROP_SENDERS_TIMED_OUT:
      g_value_set_uint64 (value, self->senders_timed_out);
      break;
    case PROP_DISCARDED_AT_STOP:
      g_value_set_uint64 (value, self->discarded_at_stop);
      break;
    case PROP_DROPPED_REFUSED:
      g_value_set_uint64 (value, self->dropped_refused);
      break;
    case PROP_EOS_IGNORED:
      g_value_set_uint64 (value, self->eos_ignored);
      break;
    case PROP_SENDERS_EVICTED:
      g_value_set_uint64 (value, self->senders_evicted);
      break;
    case PROP_STREAMS:
      g_value_set_uint (value, self->n_streams);
      break;
    case PROP_FRAMES_PER_SECOND:
      g_value_set_double (value, self->frames_per_s);
      break;
    case PROP_BYTES_PER_SECOND:
      g_value_set_double (value, self->bytes_per_s);
      break;
    case PROP_STREAM_STATS:
      g_value_set_string (value, self->stream_stats);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zmq_src_finalize (GObject * object)
{
  GstZmqSrc *self = GST_ZMQ_SRC (object);

  g_free (self->endpoint);
  g_free (self->ack_endpoint);
  g_free (self->subscribe);
  g_free (self->stream_stats);
  g_free (self->curve_server_key);
  g_free (self->curve_public_key);
  g_free (self->curve_allowed_keys);
  if (self->curve_secret_key) {
    memset (self->curve_secret_key, 0, strlen (self->curve_secret_key));
    g_free (self->curve_secret_key);
  }
  gst_clear_caps (&self->caps);
  g_mutex_clear (&self->ack_lock);
  g_mutex_clear (&self->qlock);
  g_cond_clear (&self->qcond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_zmq_src_class_init (GstZmqSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
      | GST_PARAM_MUTABLE_READY;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  gobject_class->set_property = gst_zmq_src_set_property;
  gobject_class->get_property = gst_zmq_src_get_property;
  gobject_class->finalize = gst_zmq_src_finalize;

  gst_zmq_install_connection_properties (gobject_class, PROP_ENDPOINT,
      PROP_RECONNECT_IVL, PROP_RECONNECT_IVL_MAX);
  g_object_class_install_property (gobject_class, PROP_BIND,
      g_param_spec_boolean ("bind", "Bind",
          "Bind the endpoint instead of connecting to it (by default the "
          "receiver binds and many senders connect)", DEFAULT_BIND, rw));
  g_object_class_install_property (gobject_class, PROP_SOCKET_TYPE,
      g_param_spec_enum ("socket-type", "Socket type",
          "ZeroMQ pattern; pair pull with zmqsink push, sub with pub",
          GST_TYPE_ZMQ_SRC_SOCKET_TYPE, DEFAULT_SOCKET_TYPE, rw));
  g_object_class_install_property (gobject_class, PROP_HWM,
      g_param_spec_int ("hwm", "High-water mark",
          "Messages queued per peer before ZeroMQ stops reading from it "
          "(pull) or drops (sub) (0 = unlimited)", 0, G_MAXINT, DEFAULT_HWM,
          rw));
  g_object_class_install_property (gobject_class, PROP_RECEIVE_TIMEOUT,
      g_param_spec_int ("receive-timeout", "Receive timeout",
          "Post a zmqsrc-timeout element message when nothing arrived for "
          "this long in ms, then keep waiting (-1 or 0 = never)", -1, G_MAXINT,
          DEFAULT_RECEIVE_TIMEOUT, rw));
  g_object_class_install_property (gobject_class, PROP_SUBSCRIBE,
      g_param_spec_string ("subscribe", "Subscribe",
          "socket-type=sub: receive only topics starting with this prefix "
          "(empty = all)", DEFAULT_SUBSCRIBE, rw));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Statistics interval",
          "Post a zmqsrc-stats element message with the counters this "
          "often in ms (0 = never)", 0, G_MAXUINT, DEFAULT_STATS_INTERVAL, rw));
  gst_zmq_install_security_properties (gobject_class, PROP_CURVE_SERVER_KEY,
      PROP_CURVE_PUBLIC_KEY, PROP_CURVE_SECRET_KEY, PROP_CURVE_ALLOWED_KEYS,
      PROP_CLIENTS_REFUSED);
  g_object_class_install_property (gobject_class, PROP_ACK_ENDPOINT,
      g_param_spec_string ("ack-endpoint", "Acknowledgement endpoint",
          "Acknowledge every message (sequence number, size, arrival time) "
          "to its sender on this ZeroMQ endpoint, for zmqsink's link "
          "estimate, and send replies to them (custom upstream events "
          "answering a buffer) the same way; bound or connected like the "
          "data endpoint (NULL = no acknowledgements)", DEFAULT_ACK_ENDPOINT,
          rw));
  g_object_class_install_property (gobject_class, PROP_RECEIVED,
      g_param_spec_uint64 ("received", "Received",
          "Buffers received and pushed since start", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_BYTES_RECEIVED,
      g_param_spec_uint64 ("bytes-received", "Bytes received",
          "Payload bytes received and pushed since start", 0, G_MAXUINT64, 0,
          ro));
  g_object_class_install_property (gobject_class, PROP_DROPPED_NO_CAPS,
      g_param_spec_uint64 ("dropped-no-caps", "Dropped, no caps",
          "Buffers dropped since start because their sender's caps were not "
          "known yet", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_DROPPED_MALFORMED,
      g_param_spec_uint64 ("dropped-malformed", "Dropped, malformed",
          "Messages dropped since start because they were not valid zmqsink "
          "messages", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_REPLIES,
      g_param_spec_uint64 ("replies", "Replies",
          "With ack-endpoint: replies sent back to senders since start", 0,
          G_MAXUINT64, 0, ro));

  g_object_class_install_property (gobject_class, PROP_SENDER_EOS,
      g_param_spec_enum ("sender-eos", "Sender EOS",
          "What a sender's EOS does: auto ends the stream only when "
          "connecting (bind=false); a binding source serves many senders "
          "and ignores it (counted in eos-ignored)",
          GST_TYPE_ZMQ_SRC_SENDER_EOS, DEFAULT_SENDER_EOS, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_MESSAGE_SIZE,
      g_param_spec_int64 ("max-message-size", "Maximum message size",
          "Largest message part accepted, in bytes (ZMQ_MAXMSGSIZE): a peer "
          "sending more is disconnected by ZeroMQ before the message is "
          "allocated (-1 = no limit)", -1, G_MAXINT64,
          DEFAULT_MAX_MESSAGE_SIZE, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_QUEUED_BYTES,
      g_param_spec_int64 ("max-queued-bytes", "Maximum queued bytes",
          "Bytes of messages queued per peer before ZeroMQ stops reading "
          "from it: hwm is lowered to max-queued-bytes / max-message-size "
          "when that is smaller (0 = hwm alone)", 0, G_MAXINT64,
          DEFAULT_MAX_QUEUED_BYTES, rw));
  gst_splitnn_install_max_errors (gobject_class, PROP_MAX_ERRORS,
      "malformed or refused messages (from any sender)");
  g_object_class_install_property (gobject_class, PROP_DROPPED_REFUSED,
      g_param_spec_uint64 ("dropped-refused", "Dropped, refused",
          "Messages dropped since start because downstream does not accept "
          "their sender's caps (another model, other media)", 0, G_MAXUINT64,
          0, ro));
  g_object_class_install_property (gobject_class, PROP_STREAMS,
      g_param_spec_uint ("streams", "Streams", "With stats-interval: senders "
          "heard from at the last stats message", 0, G_MAXUINT, 0, ro));
  g_object_class_install_property (gobject_class, PROP_FRAMES_PER_SECOND,
      g_param_spec_double ("frames-per-second", "Frames per second",
          "With stats-interval: buffers per second, all senders, over the "
          "last interval", 0, G_MAXDOUBLE, 0, ro));
  g_object_class_install_property (gobject_class, PROP_BYTES_PER_SECOND,
      g_param_spec_double ("bytes-per-second", "Bytes per second",
          "With stats-interval: payload bytes per second in, all senders, "
          "over the last interval", 0, G_MAXDOUBLE, 0, ro));
  g_object_class_install_property (gobject_class, PROP_STREAM_STATS,
      g_param_spec_string ("stream-stats", "Stream statistics",
          "With stats-interval: the last 'zmqsrc-streams' figures as one "
          "JSON line for a monitoring system: streams, frames/s, bytes/s, "
          "and per stream frames, bytes, gaps (messages that never "
          "arrived), lag_ms (arrival later than its best) and idle_ms "
          "(docs/workers.md)", NULL, ro));
  g_object_class_install_property (gobject_class, PROP_EOS_IGNORED,
      g_param_spec_uint64 ("eos-ignored", "EOS ignored",
          "Senders' EOS messages that did not end the stream (sender-eos)",
          0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_SENDERS_EVICTED,
      g_param_spec_uint64 ("senders-evicted", "Senders evicted",
          "Senders forgotten because more than 256 were known (the least "
          "recently heard goes; it is re-learnt from its next caps)", 0,
          G_MAXUINT64, 0, ro));

  g_object_class_install_property (gobject_class, PROP_MAX_BUFFERS,
      g_param_spec_uint ("max-buffers", "Maximum queued buffers",
          "Messages read and not yet pushed that zmqsrc holds (its bytes are "
          "bounded by max-queued-bytes too); past it queue-full decides",
          1, G_MAXUINT, DEFAULT_MAX_BUFFERS, rw));
  g_object_class_install_property (gobject_class, PROP_QUEUE_FULL,
      g_param_spec_enum ("queue-full", "When the queue is full",
          "What a message that does not fit in max-buffers does: drop keeps "
          "reading and acknowledging (the senders see the link, not our "
          "load), block stops reading (back-pressure)",
          GST_TYPE_ZMQ_SRC_QUEUE_FULL, DEFAULT_QUEUE_FULL, rw));
  g_object_class_install_property (gobject_class, PROP_SENDER_TIMEOUT,
      g_param_spec_int ("sender-timeout", "Sender timeout",
          "A sender silent this long in ms has ended, as if it had sent EOS "
          "(counted in senders-timed-out, zmqsrc-sender-ended message; "
          "0 = never)", 0, G_MAXINT, DEFAULT_SENDER_TIMEOUT, rw));
  g_object_class_install_property (gobject_class, PROP_DROPPED_QUEUE_FULL,
      g_param_spec_uint64 ("dropped-queue-full", "Dropped, queue full",
          "Messages read and dropped since start because the queue was full "
          "(queue-full=drop); acknowledged to their senders as dropped", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_SENDERS_TIMED_OUT,
      g_param_spec_uint64 ("senders-timed-out", "Senders timed out",
          "Senders ended because they were silent for sender-timeout", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_DISCARDED_AT_STOP,
      g_param_spec_uint64 ("discarded-at-stop", "Discarded at stop",
          "Messages read (and acknowledged) but still queued, never pushed, "
          "when the element stopped", 0, G_MAXUINT64, 0, ro));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "ZeroMQ source",
      "Source/Network", "Receive a stream sent by zmqsink, caps and "
      "timestamps included, over ZeroMQ", "splitnn");

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_zmq_src_start);
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_zmq_src_change_state);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_zmq_src_stop);
  basesrc_class->get_caps = GST_DEBUG_FUNCPTR (gst_zmq_src_get_caps);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_zmq_src_unlock);
  basesrc_class->event = GST_DEBUG_FUNCPTR (gst_zmq_src_event);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_zmq_src_unlock_stop);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_zmq_src_create);

  gst_type_mark_as_plugin_api (GST_TYPE_ZMQ_SRC_SOCKET_TYPE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_ZMQ_SRC_SENDER_EOS, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_ZMQ_SRC_QUEUE_FULL, 0);

  GST_DEBUG_CATEGORY_INIT (gst_zmq_src_debug, "zmqsrc", 0, "ZeroMQ source");
}

static void
gst_zmq_src_init (GstZmqSrc * self)
{
  self->endpoint = g_strdup (DEFAULT_ENDPOINT);
  self->bind = DEFAULT_BIND;
  self->socket_type = DEFAULT_SOCKET_TYPE;
  self->hwm = DEFAULT_HWM;
  self->receive_timeout = DEFAULT_RECEIVE_TIMEOUT;
  self->subscribe = g_strdup (DEFAULT_SUBSCRIBE);
  self->reconnect_ivl = DEFAULT_RECONNECT_IVL;
  self->reconnect_ivl_max = DEFAULT_RECONNECT_IVL_MAX;
  self->stats_interval = DEFAULT_STATS_INTERVAL;
  self->sender_eos = DEFAULT_SENDER_EOS;
  self->max_errors = GST_SPLITNN_DEFAULT_MAX_ERRORS;
  self->max_message_size = DEFAULT_MAX_MESSAGE_SIZE;
  self->max_queued_bytes = DEFAULT_MAX_QUEUED_BYTES;
  g_mutex_init (&self->ack_lock);
  g_mutex_init (&self->qlock);
  g_cond_init (&self->qcond);
  g_queue_init (&self->queue);
  self->max_buffers = DEFAULT_MAX_BUFFERS;
  self->queue_full = DEFAULT_QUEUE_FULL;
  self->sender_timeout = DEFAULT_SENDER_TIMEOUT;

  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
}
