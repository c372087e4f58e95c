/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * SECTION:element-splitnnpublish
 * @title: splitnnpublish
 *
 * Publishes each frame's detections to an MQTT broker, one message per
 * frame, in the detections JSON schema (docs/protocol.md), on a topic made
 * from a template with the stream id.  Placed after splitnncloud; the
 * detections buffers pass through unchanged, so a zmqsink back to the edge
 * or a fakesink can follow.  Only detections leave: the cloud never sees
 * the video, and nothing but the JSON record is published.
 *
 * gst-launch-1.0 zmqsrc endpoint=tcp://0.0.0.0:5555 bind=true !
 *   splitnncloud model=models/centernet-mobilenetv3-coco.onnx !
 *   splitnnpublish host=broker.lan topic=cameras/{stream}/detections ! fakesink
 *
 * The streaming thread never waits on the network: a message goes into the
 * element's queue, and the element's network thread (driving
 * mosquitto_loop) sends it, reconnects with backoff when the broker goes
 * away, and takes the acknowledgements.  The queue is bounded by `max-queue` messages and
 * `max-queue-bytes`; when full, the oldest waiting message is dropped and
 * counted.  At most `max-inflight` messages are handed to libmosquitto at a
 * time (libmosquitto's own queue has no bound).  Every message ends in
 * exactly one counter: published (QoS 0: written to the socket; QoS 1/2:
 * acknowledged by the broker), dropped (queue full, a QoS 0 message that
 * was still unwritten when the connection broke, refused by libmosquitto,
 * or still queued at stop), or, while running, queued.  QoS 1/2 messages in
 * flight when the connection breaks stay with libmosquitto, which sends
 * them again after reconnecting (so a subscriber may see one twice; `seq`
 * tells them apart).
 *
 * At EOS the element waits up to `flush-timeout` ms for the queue to empty
 * (the one place it waits on the network), then passes EOS on.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstsplitnnpublish.h"

#include <errno.h>
#include <mosquitto.h>
#include <string.h>
#include <unistd.h>
#include <splitnn/splitnn.h>

GST_DEBUG_CATEGORY_STATIC (gst_splitnn_publish_debug);
#define GST_CAT_DEFAULT gst_splitnn_publish_debug

#define STATS_MESSAGE "splitnn-publish-stats"
#define DEFAULT_TOPIC "splitnn/{stream}/detections"

enum
{
  PROP_0, PROP_HOST, PROP_PORT, PROP_CLIENT_ID, PROP_TOPIC, PROP_QOS,
  PROP_RETAIN, PROP_KEEPALIVE,
  PROP_USERNAME, PROP_PASSWORD, PROP_TLS_CA_FILE, PROP_TLS_CERT_FILE,
  PROP_TLS_KEY_FILE,
  PROP_MAX_QUEUE, PROP_MAX_QUEUE_BYTES, PROP_MAX_INFLIGHT, PROP_RECONNECT_DELAY,
  PROP_RECONNECT_DELAY_MAX, PROP_FLUSH_TIMEOUT, PROP_STATS_INTERVAL,
  PROP_MESSAGES, PROP_PUBLISHED, PROP_QUEUED, PROP_DROPPED, PROP_RECONNECTS,
  PROP_BAD_INPUT,
  PROP_CONNECTED,
};

typedef struct
{
  char *topic;
  GByteArray *payload;
  int qos;
} Msg;

struct _GstSplitnnPublish
{
  GstBaseTransform parent;

  /* Everything below is under lock: the streaming thread, libmosquitto's
   * thread (callbacks) and property readers share it. */
  GMutex lock;
  GCond drained, wake;
  GThread *thread;
  gboolean running;
  gchar *host, *client_id, *topic, *username, *password, *ca_file, *cert_file,
      *key_file;
  gint port, qos, keepalive;
  gboolean retain;
  guint max_queue, max_inflight, reconnect_delay, reconnect_delay_max,
      flush_timeout, stats_interval;
  guint64 max_queue_bytes;

  struct mosquitto *mosq;
  SnResultFormat format;
  gboolean connected, ever_connected, failed;
  GQueue waiting;               /* Msg *, oldest first */
  GHashTable *inflight;         /* mid -> Msg * handed to libmosquitto */
  guint64 queued_bytes;         /* waiting + in flight */
  guint64 messages, published, reconnects, bad_input;
  guint64 dropped_full, dropped_in_flight, dropped_at_stop, dropped_error;
  gint64 last_stats;

  /* Streaming thread only. */
  SnDetections dets;
  GByteArray *json;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS
    ("application/x-splitnn-detections, format = (string) { binary, json }"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS
    ("application/x-splitnn-detections, format = (string) { binary, json }"));

#define gst_splitnn_publish_parent_class parent_class
G_DEFINE_TYPE (GstSplitnnPublish, gst_splitnn_publish, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (splitnnpublish, "splitnnpublish",
    GST_RANK_NONE, GST_TYPE_SPLITNN_PUBLISH,
    GST_DEBUG_CATEGORY_INIT (gst_splitnn_publish_debug, "splitnnpublish", 0,
        "MQTT detections publisher"));

static void
msg_free (Msg * m)
{
  g_free (m->topic);
  g_byte_array_unref (m->payload);
  g_free (m);
}

static guint64
pub_dropped (GstSplitnnPublish * self)
{
  return self->dropped_full + self->dropped_in_flight + self->dropped_at_stop +
      self->dropped_error;
}

static guint
pub_queued (GstSplitnnPublish * self)
{
  return self->waiting.length +
      (self->inflight ? g_hash_table_size (self->inflight) : 0);
}

/* Under lock. */
static GstStructure *
pub_stats (GstSplitnnPublish * self)
{
  return gst_structure_new (STATS_MESSAGE, "messages", G_TYPE_UINT64,
      self->messages, "published", G_TYPE_UINT64, self->published, "queued",
      G_TYPE_UINT, pub_queued (self), "queued-bytes", G_TYPE_UINT64,
      self->queued_bytes, "dropped", G_TYPE_UINT64, pub_dropped (self),
      "dropped-queue-full", G_TYPE_UINT64, self->dropped_full,
      "dropped-in-flight", G_TYPE_UINT64, self->dropped_in_flight,
      "dropped-at-stop", G_TYPE_UINT64, self->dropped_at_stop,
      "dropped-refused", G_TYPE_UINT64, self->dropped_error, "reconnects",
      G_TYPE_UINT64, self->reconnects, "bad-input", G_TYPE_UINT64,
      self->bad_input, "connected", G_TYPE_BOOLEAN, self->connected, NULL);
}

static void
pub_post_stats (GstSplitnnPublish * self)
{
  g_mutex_lock (&self->lock);
  GstStructure *s = pub_stats (self);
  self->last_stats = g_get_monotonic_time ();
  g_mutex_unlock (&self->lock);
  gst_element_post_message (GST_ELEMENT (self),
      gst_message_new_element (GST_OBJECT (self), s));
}

/* Hands waiting messages to libmosquitto while connected and the in-flight
 * window has room.  Under lock; never blocks (libmosquitto's thread does
 * the writing). */
static void
pub_pump (GstSplitnnPublish * self)
{
  while (self->connected && self->waiting.length > 0
      && g_hash_table_size (self->inflight) < self->max_inflight) {
    Msg *m = g_queue_pop_head (&self->waiting);
    int mid = 0;
    int rc =
        mosquitto_publish (self->mosq, &mid, m->topic, (int) m->payload->len,
        m->payload->data, m->qos,
        self->retain);
    if (rc == MOSQ_ERR_SUCCESS) {
      g_hash_table_insert (self->inflight, GINT_TO_POINTER (mid), m);
    } else if (rc == MOSQ_ERR_NO_CONN) {
      /* The connection just went (its callback follows).  libmosquitto has
       * already queued a QoS 1/2 message and sends it after reconnecting,
       * so it is in flight; a QoS 0 one goes back to wait. */
      if (m->qos > 0)
        g_hash_table_insert (self->inflight, GINT_TO_POINTER (mid), m);
      else
        g_queue_push_head (&self->waiting, m);
      self->connected = FALSE;
    } else {
      GST_WARNING_OBJECT (self, "libmosquitto refused a message on %s: %s",
          m->topic, mosquitto_strerror (rc));
      self->dropped_error++;
      self->queued_bytes -= m->payload->len;
      msg_free (m);
    }
  }
  if (pub_queued (self) == 0)
    g_cond_broadcast (&self->drained);
}

/* ---- libmosquitto's thread ----------------------------------------------------- */

static void
on_connect (struct mosquitto *mosq, void *user, int rc)
{
  GstSplitnnPublish *self = user;
  if (rc != 0) {
    /* Refused by the broker (bad credentials, client id, protocol): retrying
     * cannot help, so stop and say why. */
    g_mutex_lock (&self->lock);
    gchar *who = g_strdup_printf ("%s:%d", self->host, self->port);
    gchar *user_name = g_strdup (self->username);
    g_mutex_unlock (&self->lock);
    if (rc == 4 || rc == 5)
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_AUTHORIZED,
          ("MQTT broker %s refused the connection: %s", who,
              mosquitto_connack_string (rc)),
          ("user %s%s%s; check username and password", user_name ? "'" : "",
              user_name ? user_name : "none (anonymous)",
              user_name ? "'" : ""));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
          ("MQTT broker %s refused the connection: %s", who,
              mosquitto_connack_string (rc)), ("CONNACK code %d", rc));
    g_free (who);
    g_free (user_name);
    /* Failed only once the error is on the bus: the streaming thread then
     * returns GST_FLOW_ERROR, and the source's "Internal data stream error"
     * must come after the message that says why. */
    g_mutex_lock (&self->lock);
    self->failed = TRUE;
    g_cond_broadcast (&self->wake);
    g_cond_broadcast (&self->drained);
    g_mutex_unlock (&self->lock);
    mosquitto_disconnect (mosq);
    return;
  }
  g_mutex_lock (&self->lock);
  self->connected = TRUE;
  gboolean again = self->ever_connected;
  if (again)
    self->reconnects++;
  self->ever_connected = TRUE;
  GST_INFO_OBJECT (self, "connected to %s:%d%s", self->host, self->port,
      again ? " again" : "");
  pub_pump (self);
  g_mutex_unlock (&self->lock);
  if (again)
    pub_post_stats (self);
}

static void
on_disconnect (struct mosquitto *mosq, void *user, int rc)
{
  GstSplitnnPublish *self = user;
  g_mutex_lock (&self->lock);
  gboolean was = self->connected, failed = self->failed;
  self->connected = FALSE;
  /* QoS 0 messages libmosquitto had not written yet are gone with the
   * connection; QoS 1/2 ones stay with it and go again after reconnecting. */
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, self->inflight);
  while (g_hash_table_iter_next (&it, &key, &value)) {
    Msg *m = value;
    if (m->qos == 0) {
      self->dropped_in_flight++;
      self->queued_bytes -= m->payload->len;
      g_hash_table_iter_remove (&it);
    }
  }
  gchar *who = g_strdup_printf ("%s:%d", self->host, self->port);
  g_mutex_unlock (&self->lock);
  if (was && rc != MOSQ_ERR_SUCCESS && !failed)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
        ("Lost the MQTT broker %s; queueing and reconnecting", who), ("%s",
            mosquitto_strerror (rc)));
  g_free (who);
  if (was)
    pub_post_stats (self);
}

static void
on_publish (struct mosquitto *mosq, void *user, int mid)
{
  GstSplitnnPublish *self = user;
  g_mutex_lock (&self->lock);
  Msg *m = g_hash_table_lookup (self->inflight, GINT_TO_POINTER (mid));
  if (m) {
    self->published++;
    self->queued_bytes -= m->payload->len;
    g_hash_table_remove (self->inflight, GINT_TO_POINTER (mid));
  }
  pub_pump (self);
  g_mutex_unlock (&self->lock);
}

static void
on_log (struct mosquitto *mosq, void *user, int level, const char *str)
{
  GstSplitnnPublish *self = user;
  if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
    GST_WARNING_OBJECT (self, "libmosquitto: %s", str);
  else
    GST_LOG_OBJECT (self, "libmosquitto: %s", str);
}

/* ---- start / stop -------------------------------------------------------------- */

/* The template with only {stream} in it and nothing MQTT forbids in a topic
 * name (wildcards, empty). */
static gchar *
topic_for (const char *tmpl, guint32 stream)
{
  g_autofree gchar *id = g_strdup_printf ("%u", stream);
  GString *s = g_string_new (NULL);
  for (const char *p = tmpl; *p;) {
    if (g_str_has_prefix (p, "{stream}")) {
      g_string_append (s, id);
      p += strlen ("{stream}");
    } else
      g_string_append_c (s, *p++);
  }
  return g_string_free (s, FALSE);
}

static gboolean
topic_valid (const char *tmpl)
{
  if (!tmpl || !*tmpl || strchr (tmpl, '\0') - tmpl > 60000)
    return FALSE;
  g_autofree gchar *t = topic_for (tmpl, 0);
  return strchr (t, '{') == NULL && strchr (t, '}') == NULL
      && mosquitto_pub_topic_check (t) == MOSQ_ERR_SUCCESS
      && g_utf8_validate (t, -1, NULL);
}

/* Errors after which trying again cannot help: the settings are wrong. */
static gboolean
connect_fatal (int rc)
{
  return rc == MOSQ_ERR_TLS || rc == MOSQ_ERR_EAI || rc == MOSQ_ERR_INVAL
      || rc == MOSQ_ERR_NOT_SUPPORTED || rc == MOSQ_ERR_NOMEM
      || rc == MOSQ_ERR_AUTH;
}

/* A connection that cannot work: say why, then stop.  Called and returns
 * with the lock held.  Failed is set only once the error is on the bus, so
 * that the streaming thread's GST_FLOW_ERROR (and the source's "Internal
 * data stream error") comes after the message that says why. */
static void
pub_fail_connect (GstSplitnnPublish * self, const gchar * host, int port,
    int rc)
{
  g_mutex_unlock (&self->lock);
  GST_ELEMENT_ERROR (self, RESOURCE, OPEN_WRITE,
      ("Cannot connect to the MQTT broker %s:%d: %s", host, port,
          mosquitto_strerror (rc)), ("%s",
          rc ==
          MOSQ_ERR_TLS ? "TLS failed: check tls-ca-file, "
          "tls-cert-file, tls-key-file and that the broker's certificate names the host"
          : rc == MOSQ_ERR_EAI ? "cannot resolve the host name" : ""));
  g_mutex_lock (&self->lock);
  self->failed = TRUE;
  g_cond_broadcast (&self->drained);
}

/* The network thread.  libmosquitto's own (mosquitto_loop_start) ends for
 * good on a TLS read error, which is how a TLS broker going away looks, and
 * gives no sign of it; this one drives mosquitto_loop itself, so a lost
 * connection is always retried (backing off from reconnect-delay to
 * reconnect-delay-max) and a connection that cannot work (TLS handshake,
 * unknown host) is reported.  Connecting blocks this thread, not the
 * streaming one. */
static gpointer
pub_network (gpointer data)
{
  GstSplitnnPublish *self = data;
  gboolean have_socket = FALSE, first = TRUE, warned = FALSE;
  guint delay = 0;
  g_mutex_lock (&self->lock);
  gchar *host = g_strdup (self->host);
  int port = self->port, keepalive = self->keepalive;
  while (self->running && !self->failed) {
    if (!have_socket) {
      g_mutex_unlock (&self->lock);
      int rc = first ? mosquitto_connect (self->mosq, host, port,
          keepalive) : mosquitto_reconnect (self->mosq);
      int err = errno;
      g_mutex_lock (&self->lock);
      first = FALSE;
      if (rc == MOSQ_ERR_SUCCESS) {
        have_socket = TRUE;
        continue;
      }
      if (connect_fatal (rc)) {
        pub_fail_connect (self, host, port, rc);
        break;
      }
      if (!warned)
        GST_ELEMENT_WARNING (self, RESOURCE, OPEN_WRITE,
            ("MQTT broker %s:%d not reachable; queueing and " "retrying", host,
                port), ("%s",
                rc ==
                MOSQ_ERR_ERRNO ? g_strerror (err) : mosquitto_strerror (rc)));
      warned = TRUE;
      delay =
          delay ? MIN (delay * 2, MAX (self->reconnect_delay_max,
              self->reconnect_delay)) : self->reconnect_delay;
      g_cond_wait_until (&self->wake, &self->lock,
          g_get_monotonic_time () + (gint64) delay * G_USEC_PER_SEC);
      continue;
    }
    g_mutex_unlock (&self->lock);
    /* A message queued by the streaming thread wakes the select early. */
    int rc = mosquitto_loop (self->mosq, 100, 1);
    g_mutex_lock (&self->lock);
    if (rc == MOSQ_ERR_TLS && !self->connected) {
      /* The handshake finished on this thread rather than in connect and
       * failed: no CONNACK ever came on this socket, so this is a certificate
       * that does not verify, not a broker that went away. */
      pub_fail_connect (self, host, port, rc);
      break;
    }
    if (rc != MOSQ_ERR_SUCCESS) {
      GST_DEBUG_OBJECT (self, "connection ended: %s", mosquitto_strerror (rc));
      have_socket = FALSE;
      warned = TRUE;            /* on_disconnect has said so */
      delay = 0;
      if (self->connected) {    /* ended without the callback: account for it */
        g_mutex_unlock (&self->lock);
        on_disconnect (self->mosq, self, rc);
        g_mutex_lock (&self->lock);
      }
      /* A short pause before the first attempt, so a broker restarting
       * is not hammered. */
      delay = self->reconnect_delay;
      g_cond_wait_until (&self->wake, &self->lock,
          g_get_monotonic_time () + (gint64) delay * G_USEC_PER_SEC);
    } else if (self->connected)
      delay = 0;
  }
  g_mutex_unlock (&self->lock);
  if (have_socket) {
    /* Say goodbye: the DISCONNECT goes out from this loop. */
    mosquitto_disconnect (self->mosq);
    for (int i = 0;
        i < 10 && mosquitto_loop (self->mosq, 50, 1) == MOSQ_ERR_SUCCESS; i++);
  }
  g_free (host);
  return NULL;
}

static gboolean
gst_splitnn_publish_start (GstBaseTransform * trans)
{
  GstSplitnnPublish *self = GST_SPLITNN_PUBLISH (trans);
  static gsize lib_once = 0;
  if (g_once_init_enter (&lib_once)) {
    mosquitto_lib_init ();
    g_once_init_leave (&lib_once, 1);
  }
  g_mutex_lock (&self->lock);
  if (!topic_valid (self->topic)) {
    g_mutex_unlock (&self->lock);
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid topic template '%s'",
            self->topic),
        ("the only placeholder is {stream}; no + or # wildcards, not empty"));
    return FALSE;
  }
  if ((self->cert_file == NULL) != (self->key_file == NULL)) {
    g_mutex_unlock (&self->lock);
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("tls-cert-file and tls-key-file go together"), (NULL));
    return FALSE;
  }
  if (self->cert_file && !self->ca_file) {
    g_mutex_unlock (&self->lock);
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("A client certificate needs tls-ca-file"), (NULL));
    return FALSE;
  }
  self->mosq = mosquitto_new (self->client_id, TRUE, self);
  self->inflight =
      g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) msg_free);
  g_queue_init (&self->waiting);
  self->connected = self->ever_connected = self->failed = FALSE;
  self->running = TRUE;
  self->queued_bytes = 0;
  self->messages = self->published = self->reconnects = self->bad_input = 0;
  self->dropped_full = self->dropped_in_flight = self->dropped_at_stop =
      self->dropped_error = 0;
  self->last_stats = g_get_monotonic_time ();
  self->format = SN_RESULT_BINARY;
  const char *step = "create a client";
  int rc = self->mosq ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOMEM;
  if (rc == MOSQ_ERR_SUCCESS) {
    mosquitto_connect_callback_set (self->mosq, on_connect);
    mosquitto_disconnect_callback_set (self->mosq, on_disconnect);
    mosquitto_publish_callback_set (self->mosq, on_publish);
    mosquitto_log_callback_set (self->mosq, on_log);
    mosquitto_max_inflight_messages_set (self->mosq, self->max_inflight);
    /* Publishing from the streaming thread only queues and wakes ours. */
    mosquitto_threaded_set (self->mosq, TRUE);
    step = "set the username and password";
    if (self->username || self->password)
      rc = mosquitto_username_pw_set (self->mosq, self->username,
          self->password);
    step = "set up TLS (tls-ca-file, tls-cert-file, tls-key-file)";
    if (rc == MOSQ_ERR_SUCCESS && self->ca_file)
      rc = mosquitto_tls_set (self->mosq, self->ca_file, NULL, self->cert_file,
          self->key_file, NULL);
  }
  if (rc != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Cannot publish to MQTT broker %s:%d", self->host, self->port),
        ("could not %s: %s", step,
            rc ==
            MOSQ_ERR_ERRNO ? g_strerror (errno) : mosquitto_strerror (rc)));
    g_mutex_unlock (&self->lock);
    return FALSE;
  }
  self->thread = g_thread_new ("splitnnpublish", pub_network, self);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_splitnn_publish_stop (GstBaseTransform * trans)
{
  GstSplitnnPublish *self = GST_SPLITNN_PUBLISH (trans);
  g_mutex_lock (&self->lock);
  self->running = FALSE;
  g_cond_broadcast (&self->wake);
  g_mutex_unlock (&self->lock);
  if (self->thread)
    g_thread_join (self->thread);
  self->thread = NULL;
  g_mutex_lock (&self->lock);
  /* What did not go out is counted, then freed. */
  self->dropped_at_stop += pub_queued (self);
  g_queue_clear_full (&self->waiting, (GDestroyNotify) msg_free);
  g_clear_pointer (&self->inflight, g_hash_table_unref);
  self->queued_bytes = 0;
  self->connected = FALSE;
  g_mutex_unlock (&self->lock);
  if (self->mosq)
    pub_post_stats (self);
  g_clear_pointer (&self->mosq, mosquitto_destroy);
  return TRUE;
}

/* ---- streaming ----------------------------------------------------------------- */

static gboolean
gst_splitnn_publish_set_caps (GstBaseTransform * trans, GstCaps * incaps,
    GstCaps * outcaps)
{
  GstSplitnnPublish *self = GST_SPLITNN_PUBLISH (trans);
  const char *f =
      gst_structure_get_string (gst_caps_get_structure (incaps, 0), "format");
  SnResultFormat format;
  if (!sn_result_format_from_name (f, &format))
    return FALSE;
  g_mutex_lock (&self->lock);
  self->format = format;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static GstFlowReturn
gst_splitnn_publish_transform_ip (GstBaseTransform * trans, GstBuffer * buf)
{
  GstSplitnnPublish *self = GST_SPLITNN_PUBLISH (trans);
  GstMapInfo map;
  GError *err = NULL;
  SnResultHeader h;
  g_mutex_lock (&self->lock);
  SnResultFormat format = self->format;
  g_mutex_unlock (&self->lock);
  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return GST_FLOW_ERROR;
  gboolean ok =
      sn_result_deserialize (format, map.data, map.size, &h, &self->dets, &err);
  gst_buffer_unmap (buf, &map);
  if (!ok) {
    g_mutex_lock (&self->lock);
    guint64 bad = ++self->bad_input;
    g_mutex_unlock (&self->lock);
    GST_ELEMENT_WARNING (self, STREAM, DECODE,
        ("Detections buffer not published: cannot parse it (%" G_GUINT64_FORMAT
            " so far)", bad), ("%s", err->message));
    g_error_free (err);
    return GST_FLOW_OK;
  }
  /* The library's writer, whatever came in: subscribers get one schema. */
  sn_result_write_json (&h, &self->dets, self->json);

  g_mutex_lock (&self->lock);
  if (self->failed) {
    g_mutex_unlock (&self->lock);
    return GST_FLOW_ERROR;      /* the error message is already on the bus */
  }
  Msg *m = g_new0 (Msg, 1);
  m->topic = topic_for (self->topic, h.stream_id);
  m->payload = g_byte_array_sized_new (self->json->len);
  g_byte_array_append (m->payload, self->json->data, self->json->len);
  m->qos = self->qos;
  self->messages++;
  /* Room for it: drop the oldest waiting messages (the newest detections
   * are worth more to a reader than old ones). */
  while (self->waiting.length > 0 && (pub_queued (self) + 1 > self->max_queue
          || self->queued_bytes + m->payload->len > self->max_queue_bytes)) {
    Msg *old = g_queue_pop_head (&self->waiting);
    self->queued_bytes -= old->payload->len;
    self->dropped_full++;
    msg_free (old);
  }
  if (pub_queued (self) + 1 > self->max_queue
      || self->queued_bytes + m->payload->len > self->max_queue_bytes) {
    self->dropped_full++;       /* all in flight, or this one alone is too big */
    msg_free (m);
  } else {
    g_queue_push_tail (&self->waiting, m);
    self->queued_bytes += m->payload->len;
    pub_pump (self);
  }
  gboolean stats = self->stats_interval > 0
      && g_get_monotonic_time () - self->last_stats >=
      (gint64) self->stats_interval * 1000;
  g_mutex_unlock (&self->lock);
  if (stats)
    pub_post_stats (self);
  return GST_FLOW_OK;
}

static gboolean
gst_splitnn_publish_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstSplitnnPublish *self = GST_SPLITNN_PUBLISH (trans);
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    /* Give the queue a bounded time to go out before the pipeline ends. */
    g_mutex_lock (&self->lock);
    gint64 until =
        g_get_monotonic_time () + (gint64) self->flush_timeout * 1000;
    while (self->inflight && pub_queued (self) > 0 && !self->failed)
      if (!g_cond_wait_until (&self->drained, &self->lock, until))
        break;
    if (pub_queued (self) > 0)
      GST_WARNING_OBJECT (self, "EOS with %u messages not yet published",
          pub_queued (self));
    g_mutex_unlock (&self->lock);
    pub_post_stats (self);
  }
  return GST_BASE_TRANSFORM_CLASS (parent_class)->sink_event (trans, event);
}

/* ---- GObject ------------------------------------------------------------------- */

static void
gst_splitnn_publish_set_property (GObject * object, guint id,
    const GValue * value, GParamSpec * pspec)
{
  GstSplitnnPublish *self = GST_SPLITNN_PUBLISH (object);
  g_mutex_lock (&self->lock);
  switch (id) {
    case PROP_HOST:
      g_free (self->host);
      self->host = g_value_dup_string (value);
      break;
    case PROP_PORT:
      self->port = g_value_get_int (value);
      break;
    case PROP_CLIENT_ID:
      g_free (self->client_id);
      self->client_id = g_value_dup_string (value);
      break;
    case PROP_TOPIC:
      g_free (self->topic);
      self->topic = g_value_dup_string (value);
      break;
    case PROP_QOS:
      self->qos = g_value_get_int (value);
      break;
    case PROP_RETAIN:
      self->retain = g_value_get_boolean (value);
      break;
    case PROP_KEEPALIVE:
      self->keepalive = g_value_get_int (value);
      break;
    case PROP_USERNAME:
      g_free (self->username);
      self->username = g_value_dup_string (value);
      break;
    case PROP_PASSWORD:
      g_free (self->password);
      self->password = g_value_dup_string (value);
      break;
    case PROP_TLS_CA_FILE:
      g_free (self->ca_file);
      self->ca_file = g_value_dup_string (value);
      break;
    case PROP_TLS_CERT_FILE:
      g_free (self->cert_file);
      self->cert_file = g_value_dup_string (value);
      break;
    case PROP_TLS_KEY_FILE:
      g_free (self->key_file);
      self->key_file = g_value_dup_string (value);
      break;
    case PROP_MAX_QUEUE:
      self->max_queue = g_value_get_uint (value);
      break;
    case PROP_MAX_QUEUE_BYTES:
      self->max_queue_bytes = g_value_get_uint64 (value);
      break;
    case PROP_MAX_INFLIGHT:
      self->max_inflight = g_value_get_uint (value);
      break;
    case PROP_RECONNECT_DELAY:
      self->reconnect_delay = g_value_get_uint (value);
      break;
    case PROP_RECONNECT_DELAY_MAX:
      self->reconnect_delay_max = g_value_get_uint (value);
      break;
    case PROP_FLUSH_TIMEOUT:
      self->flush_timeout = g_value_get_uint (value);
      break;
    case PROP_STATS_INTERVAL:
      self->stats_interval = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);
}

static void
gst_splitnn_publish_get_property (GObject * object, guint id, GValue * value,
    GParamSpec * pspec)
{
  GstSplitnnPublish *self = GST_SPLITNN_PUBLISH (object);
  g_mutex_lock (&self->lock);
  switch (id) {
    case PROP_HOST:
      g_value_set_string (value, self->host);
      break;
    case PROP_PORT:
      g_value_set_int (value, self->port);
      break;
    case PROP_CLIENT_ID:
      g_value_set_string (value, self->client_id);
      break;
    case PROP_TOPIC:
      g_value_set_string (value, self->topic);
      break;
    case PROP_QOS:
      g_value_set_int (value, self->qos);
      break;
    case PROP_RETAIN:
      g_value_set_boolean (value, self->retain);
      break;
    case PROP_KEEPALIVE:
      g_value_set_int (value, self->keepalive);
      break;
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_TLS_CA_FILE:
      g_value_set_string (value, self->ca_file);
      break;
    case PROP_TLS_CERT_FILE:
      g_value_set_string (value, self->cert_file);
      break;
    case PROP_TLS_KEY_FILE:
      g_value_set_string (value, self->key_file);
      break;
    case PROP_MAX_QUEUE:
      g_value_set_uint (value, self->max_queue);
      break;
    case PROP_MAX_QUEUE_BYTES:
      g_value_set_uint64 (value, self->max_queue_bytes);
      break;
    case PROP_MAX_INFLIGHT:
      g_value_set_uint (value, self->max_inflight);
      break;
    case PROP_RECONNECT_DELAY:
      g_value_set_uint (value, self->reconnect_delay);
      break;
    case PROP_RECONNECT_DELAY_MAX:
      g_value_set_uint (value, self->reconnect_delay_max);
      break;
    case PROP_FLUSH_TIMEOUT:
      g_value_set_uint (value, self->flush_timeout);
      break;
    case PROP_STATS_INTERVAL:
      g_value_set_uint (value, self->stats_interval);
      break;
    case PROP_MESSAGES:
      g_value_set_uint64 (value, self->messages);
      break;
    case PROP_PUBLISHED:
      g_value_set_uint64 (value, self->published);
      break;
    case PROP_QUEUED:
      g_value_set_uint (value, pub_queued (self));
      break;
    case PROP_DROPPED:
      g_value_set_uint64 (value, pub_dropped (self));
      break;
    case PROP_RECONNECTS:
      g_value_set_uint64 (value, self->reconnects);
      break;
    case PROP_BAD_INPUT:
      g_value_set_uint64 (value, self->bad_input);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, self->connected);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
      break;
  }
  g_mutex_unlock (&self->lock);
}

static void
gst_splitnn_publish_finalize (GObject * object)
{
  GstSplitnnPublish *self = GST_SPLITNN_PUBLISH (object);
  g_free (self->host);
  g_free (self->client_id);
  g_free (self->topic);
  g_free (self->username);
  g_free (self->password);
  g_free (self->ca_file);
  g_free (self->cert_file);
  g_free (self->key_file);
  sn_detections_clear (&self->dets);
  g_byte_array_unref (self->json);
  g_cond_clear (&self->drained);
  g_cond_clear (&self->wake);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_splitnn_publish_class_init (GstSplitnnPublishClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GParamFlags rw =
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
  GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  gobject_class->set_property = gst_splitnn_publish_set_property;
  gobject_class->get_property = gst_splitnn_publish_get_property;
  gobject_class->finalize = gst_splitnn_publish_finalize;

  g_object_class_install_property (gobject_class, PROP_HOST,
      g_param_spec_string ("host", "Host", "MQTT broker host name or address",
          "localhost", rw));
  g_object_class_install_property (gobject_class, PROP_PORT,
      g_param_spec_int ("port", "Port",
          "MQTT broker port (8883 is usual with TLS)", 1, 65535, 1883, rw));
  g_object_class_install_property (gobject_class, PROP_CLIENT_ID,
      g_param_spec_string ("client-id", "Client id",
          "MQTT client id (NULL: a random one)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_TOPIC,
      g_param_spec_string ("topic", "Topic",
          "Topic template; {stream} becomes the frame's stream id",
          DEFAULT_TOPIC, rw));
  g_object_class_install_property (gobject_class, PROP_QOS,
      g_param_spec_int ("qos", "QoS",
          "MQTT quality of service: 0 at most once, 1 at least once, "
          "2 exactly once", 0, 2, 1, rw));
  g_object_class_install_property (gobject_class, PROP_RETAIN,
      g_param_spec_boolean ("retain", "Retain",
          "Ask the broker to keep the last message per topic "
          "for new subscribers", FALSE, rw));
  g_object_class_install_property (gobject_class, PROP_KEEPALIVE,
      g_param_spec_int ("keepalive", "Keepalive",
          "Seconds between MQTT keepalive pings", 5, 65535, 60, rw));
  g_object_class_install_property (gobject_class, PROP_USERNAME,
      g_param_spec_string ("username", "Username",
          "MQTT user name (NULL: anonymous)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_PASSWORD,
      g_param_spec_string ("password", "Password", "MQTT password (write-only)",
          NULL,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_TLS_CA_FILE,
      g_param_spec_string ("tls-ca-file", "TLS CA file",
          "PEM file of the CA that signed the broker's "
          "certificate; setting it turns TLS on (the certificate must name host)",
          NULL, rw));
  g_object_class_install_property (gobject_class, PROP_TLS_CERT_FILE,
      g_param_spec_string ("tls-cert-file", "TLS client certificate",
          "PEM client certificate, for "
          "brokers that require one (with tls-key-file)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_TLS_KEY_FILE,
      g_param_spec_string ("tls-key-file", "TLS client key",
          "PEM private key of tls-cert-file " "(unencrypted)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_QUEUE,
      g_param_spec_uint ("max-queue", "Max queue",
          "Messages held (waiting and in flight) before the "
          "oldest waiting one is dropped", 1, G_MAXINT, 1000, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_QUEUE_BYTES,
      g_param_spec_uint64 ("max-queue-bytes", "Max queue bytes",
          "Bytes held before the oldest waiting " "message is dropped", 1,
          G_MAXUINT64, 16 << 20, rw));
  g_object_class_install_property (gobject_class, PROP_MAX_INFLIGHT,
      g_param_spec_uint ("max-inflight", "Max in flight",
          "Messages handed to the network and not yet "
          "acknowledged (QoS 1/2) or written (QoS 0)", 1, 65535, 20, rw));
  g_object_class_install_property (gobject_class, PROP_RECONNECT_DELAY,
      g_param_spec_uint ("reconnect-delay", "Reconnect delay",
          "Seconds before the first reconnection "
          "attempt; later ones back off exponentially", 1, 3600, 1, rw));
  g_object_class_install_property (gobject_class, PROP_RECONNECT_DELAY_MAX,
      g_param_spec_uint ("reconnect-delay-max", "Reconnect delay max",
          "Longest wait between reconnection " "attempts, seconds", 1, 3600, 30,
          rw));
  g_object_class_install_property (gobject_class, PROP_FLUSH_TIMEOUT,
      g_param_spec_uint ("flush-timeout", "Flush timeout",
          "At EOS, ms to wait for queued messages to "
          "go out; what is left is counted as dropped at stop", 0, G_MAXINT,
          5000, rw));
  g_object_class_install_property (gobject_class, PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Stats interval",
          "Post a '" STATS_MESSAGE "' element "
          "message at most this often, ms (also on reconnection, at EOS and stop; 0: only those)",
          0, G_MAXINT, 1000,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, PROP_MESSAGES,
      g_param_spec_uint64 ("messages", "Messages",
          "Frames' detections accepted for publishing "
          "(= published + queued + dropped)", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_PUBLISHED,
      g_param_spec_uint64 ("published", "Published",
          "Messages the broker acknowledged (QoS 1/2) or "
          "written to it (QoS 0)", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_QUEUED,
      g_param_spec_uint ("queued", "Queued",
          "Messages waiting or in flight now", 0, G_MAXUINT, 0, ro));
  g_object_class_install_property (gobject_class, PROP_DROPPED,
      g_param_spec_uint64 ("dropped", "Dropped",
          "Messages lost and counted: queue full, QoS 0 unwritten "
          "when the connection broke, refused, or left at stop", 0, G_MAXUINT64,
          0, ro));
  g_object_class_install_property (gobject_class, PROP_RECONNECTS,
      g_param_spec_uint64 ("reconnects", "Reconnects",
          "Connections made again after losing the broker", 0, G_MAXUINT64, 0,
          ro));
  g_object_class_install_property (gobject_class, PROP_BAD_INPUT,
      g_param_spec_uint64 ("bad-input", "Bad input",
          "Detections buffers that could not be parsed (each "
          "also posted as a warning; passed through, not published)", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_CONNECTED,
      g_param_spec_boolean ("connected", "Connected",
          "Connected to the broker now", FALSE, ro));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Split inference detections publisher (MQTT)", "Filter/Network",
      "Publishes each frame's detections to an MQTT broker and passes them through",
      "splitnn developers");
  trans_class->start = GST_DEBUG_FUNCPTR (gst_splitnn_publish_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_splitnn_publish_stop);
  trans_class->set_caps = GST_DEBUG_FUNCPTR (gst_splitnn_publish_set_caps);
  trans_class->transform_ip =
      GST_DEBUG_FUNCPTR (gst_splitnn_publish_transform_ip);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_splitnn_publish_sink_event);
  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->transform_ip_on_passthrough = TRUE;
}

static void
gst_splitnn_publish_init (GstSplitnnPublish * self)
{
  g_mutex_init (&self->lock);
  g_cond_init (&self->drained);
  g_cond_init (&self->wake);
  self->host = g_strdup ("localhost");
  self->port = 1883;
  self->topic = g_strdup (DEFAULT_TOPIC);
  self->qos = 1;
  self->keepalive = 60;
  self->max_queue = 1000;
  self->max_queue_bytes = 16 << 20;
  self->max_inflight = 20;
  self->reconnect_delay = 1;
  self->reconnect_delay_max = 30;
  self->flush_timeout = 5000;
  self->stats_interval = 1000;
  sn_detections_init (&self->dets);
  self->json = g_byte_array_new ();
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}
