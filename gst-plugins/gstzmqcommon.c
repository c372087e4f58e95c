/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — wire framing and socket setup shared by zmqsink and zmqsrc. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzmqcommon.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "splitnn/sn-error.h"

/* Z85 text of a 32-byte CURVE key. */
#define GST_ZMQ_KEY_TEXT_LEN 40

gsize
gst_zmq_header_size (const GstZmqHeader * header)
{
  return GST_ZMQ_HEADER_SIZE + (header->caps ? header->caps_len : 0);
}

/* Little-endian on the wire whatever the host, so mixed fleets interoperate. */
static inline void
put_u32 (guint8 * p, guint32 v)
{
  v = GUINT32_TO_LE (v);
  memcpy (p, &v, sizeof v);
}

static inline void
put_u64 (guint8 * p, guint64 v)
{
  v = GUINT64_TO_LE (v);
  memcpy (p, &v, sizeof v);
}

static inline guint32
get_u32 (const guint8 * p)
{
  guint32 v;
  memcpy (&v, p, sizeof v);
  return GUINT32_FROM_LE (v);
}

static inline guint64
get_u64 (const guint8 * p)
{
  guint64 v;
  memcpy (&v, p, sizeof v);
  return GUINT64_FROM_LE (v);
}

/* @out must hold gst_zmq_header_size (header) bytes. */
void
gst_zmq_header_write (const GstZmqHeader * header, guint8 * out)
{
  gsize caps_len = header->caps ? header->caps_len : 0;

  memcpy (out, GST_ZMQ_WIRE_MAGIC, 4);
  out[4] = GST_ZMQ_WIRE_VERSION;
  out[5] = header->flags;
  out[6] = 0;
  out[7] = 0;
  put_u32 (out + 8, header->stream_id);
  put_u32 (out + 12, header->caps_seq);
  put_u64 (out + 16, header->seqnum);
  put_u64 (out + 24, header->pts);
  put_u64 (out + 32, header->dts);
  put_u64 (out + 40, header->duration);
  put_u64 (out + 48, header->offset);
  put_u64 (out + 56, header->offset_end);
  put_u32 (out + 64, header->buffer_flags);
  put_u32 (out + 68, (guint32) caps_len);
  if (caps_len)
    memcpy (out + GST_ZMQ_HEADER_SIZE, header->caps, caps_len);
}

/* Validates everything a hostile or buggy peer controls; on success the
 * caps pointer of @header points into @data. */
gboolean
gst_zmq_header_parse (GstZmqHeader * header, const guint8 * data, gsize size,
    GError ** error)
{
  guint32 caps_len;

  memset (header, 0, sizeof *header);

  if (size < GST_ZMQ_HEADER_SIZE) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "zmq header: %" G_GSIZE_FORMAT " bytes, shorter than the %d-byte "
        "fixed part", size, GST_ZMQ_HEADER_SIZE);
    return FALSE;
  }
  if (memcmp (data, GST_ZMQ_WIRE_MAGIC, 4) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "zmq header: bad magic at offset 0 (not a zmqsink message)");
    return FALSE;
  }
  if (data[4] != GST_ZMQ_WIRE_VERSION) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "zmq header: wire version %u at offset 4, this build speaks %u",
        data[4], GST_ZMQ_WIRE_VERSION);
    return FALSE;
  }

  caps_len = get_u32 (data + 68);
  if ((gsize) caps_len != size - GST_ZMQ_HEADER_SIZE) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "zmq header: caps length %u at offset 68 does not match the %"
        G_GSIZE_FORMAT " bytes that follow the fixed part", caps_len,
        size - GST_ZMQ_HEADER_SIZE);
    return FALSE;
  }
  if (caps_len && memchr (data + GST_ZMQ_HEADER_SIZE, '\0', caps_len)) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "zmq header: caps string at offset %d contains a NUL byte",
        GST_ZMQ_HEADER_SIZE);
    return FALSE;
  }

  header->flags = data[5];
  header->stream_id = get_u32 (data + 8);
  header->caps_seq = get_u32 (data + 12);
  header->seqnum = get_u64 (data + 16);
  header->pts = get_u64 (data + 24);
  header->dts = get_u64 (data + 32);
  header->duration = get_u64 (data + 40);
  header->offset = get_u64 (data + 48);
  header->offset_end = get_u64 (data + 56);
  header->buffer_flags = get_u32 (data + 64) & GST_ZMQ_BUFFER_FLAGS_MASK;
  header->caps = caps_len ? (const gchar *) data + GST_ZMQ_HEADER_SIZE : NULL;
  header->caps_len = caps_len;
  return TRUE;
}

/* @out must hold GST_ZMQ_ACK_SIZE bytes. */
void
gst_zmq_ack_write (const GstZmqAck * ack, guint8 * out)
{
  memset (out, 0, GST_ZMQ_ACK_SIZE);
  put_u32 (out, ack->stream_id);
  memcpy (out + 4, GST_ZMQ_ACK_MAGIC, 4);
  out[8] = GST_ZMQ_ACK_VERSION;
  out[9] = ack->flags;
  put_u64 (out + 16, ack->seqnum);
  put_u64 (out + 24, ack->bytes);
  put_u64 (out + 32, ack->recv_time);
}

gboolean
gst_zmq_ack_parse (GstZmqAck * ack, const guint8 * data, gsize size,
    GError ** error)
{
  if (size != GST_ZMQ_ACK_SIZE || memcmp (data + 4, GST_ZMQ_ACK_MAGIC, 4) != 0
      || data[8] != GST_ZMQ_ACK_VERSION) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "zmq ack: %" G_GSIZE_FORMAT " bytes, not a version %d ack of %d",
        size, GST_ZMQ_ACK_VERSION, GST_ZMQ_ACK_SIZE);
    return FALSE;
  }
  ack->stream_id = get_u32 (data);
  ack->flags = data[9];
  ack->seqnum = get_u64 (data + 16);
  ack->bytes = get_u64 (data + 24);
  ack->recv_time = get_u64 (data + 32);
  return TRUE;
}

#define SENDER_META "GstZmqSenderMeta"

static const GstMetaInfo *
sender_meta_info (void)
{
  static const GstMetaInfo *info;
  static const gchar *tags[] = { NULL };

  if (g_once_init_enter (&info))
    g_once_init_leave (&info, gst_meta_register_custom (SENDER_META, tags,
            NULL, NULL, NULL));
  return info;
}

void
gst_zmq_sender_meta_add (GstBuffer * buffer, guint32 stream_id)
{
  GstCustomMeta *meta;

  sender_meta_info ();
  meta = gst_buffer_add_custom_meta (buffer, SENDER_META);
  gst_structure_set (gst_custom_meta_get_structure (meta), "stream-id",
      G_TYPE_UINT, stream_id, NULL);
}

GstEvent *
gst_zmq_reply_event_new (GstBuffer * answered, GstStructure * s)
{
  GstCustomMeta *meta;
  guint id;

  sender_meta_info ();
  meta = gst_buffer_get_custom_meta (answered, SENDER_META);
  if (meta && gst_structure_get_uint (gst_custom_meta_get_structure (meta),
          "stream-id", &id))
    gst_structure_set (s, GST_ZMQ_REPLY_TO_FIELD, G_TYPE_UINT, id, NULL);
  return gst_event_new_custom (GST_EVENT_CUSTOM_UPSTREAM, s);
}

GByteArray *
gst_zmq_reply_write (guint32 stream_id, const GstStructure * s)
{
  GstStructure *copy = gst_structure_copy (s);
  gchar *text;
  GByteArray *out;
  guint8 head[GST_ZMQ_REPLY_HEADER_SIZE] = { 0, };

  gst_structure_remove_field (copy, GST_ZMQ_REPLY_TO_FIELD);
  text = gst_structure_to_string (copy);
  gst_structure_free (copy);
  if (sizeof head + strlen (text) > GST_ZMQ_REPLY_MAX_SIZE) {
    g_free (text);
    return NULL;
  }
  put_u32 (head, stream_id);
  memcpy (head + 4, GST_ZMQ_REPLY_MAGIC, 4);
  head[8] = GST_ZMQ_REPLY_VERSION;
  out = g_byte_array_sized_new (sizeof head + strlen (text));
  g_byte_array_append (out, head, sizeof head);
  g_byte_array_append (out, (const guint8 *) text, strlen (text));
  g_free (text);
  return out;
}

gboolean
gst_zmq_is_reply (const guint8 * data, gsize size)
{
  return size >= 8 && memcmp (data + 4, GST_ZMQ_REPLY_MAGIC, 4) == 0;
}

GstStructure *
gst_zmq_reply_parse (const guint8 * data, gsize size, guint32 * stream_id,
    GError ** error)
{
  GstStructure *s;
  gchar *text;

  if (size < GST_ZMQ_REPLY_HEADER_SIZE || size > GST_ZMQ_REPLY_MAX_SIZE
      || !gst_zmq_is_reply (data, size) || data[8] != GST_ZMQ_REPLY_VERSION) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "zmq reply: %" G_GSIZE_FORMAT " bytes, not a version %d reply",
        size, GST_ZMQ_REPLY_VERSION);
    return NULL;
  }
  text = g_strndup ((const gchar *) data + GST_ZMQ_REPLY_HEADER_SIZE,
      size - GST_ZMQ_REPLY_HEADER_SIZE);
  s = strlen (text) == size - GST_ZMQ_REPLY_HEADER_SIZE
      ? gst_structure_from_string (text, NULL) : NULL;
  g_free (text);
  if (!s) {
    g_set_error (error, SN_ERROR, SN_ERROR_CORRUPT_PACKET,
        "zmq reply: the text is not a GstStructure");
    return NULL;
  }
  *stream_id = get_u32 (data);
  return s;
}

/* ZeroMQ accepts many transports; only the two we test and document are let
 * through, and obviously broken addresses are caught here with a message
 * that says what is wrong instead of a bare EINVAL. */
gboolean
gst_zmq_check_endpoint (const gchar * endpoint, GError ** error)
{
  const gchar *rest, *colon;

  if (endpoint == NULL || *endpoint == '\0') {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "no endpoint set (e.g. tcp://127.0.0.1:5555 or ipc:///tmp/feed)");
    return FALSE;
  }

  if (g_str_has_prefix (endpoint, "ipc://")) {
    if (endpoint[6] == '\0') {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "endpoint '%s': ipc:// needs a path", endpoint);
      return FALSE;
    }
    return TRUE;
  }

  if (!g_str_has_prefix (endpoint, "tcp://")) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "endpoint '%s': transport must be tcp:// or ipc://", endpoint);
    return FALSE;
  }

  rest = endpoint + 6;
  colon = strrchr (rest, ':');
  if (colon == NULL || colon == rest) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "endpoint '%s': tcp:// needs host:port", endpoint);
    return FALSE;
  }
  if (strcmp (colon + 1, "*") != 0) {
    gchar *end = NULL;
    guint64 port;

    errno = 0;
    port = g_ascii_strtoull (colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno || port == 0 || port > 65535) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "endpoint '%s': port '%s' is not a number in 1..65535", endpoint,
          colon + 1);
      return FALSE;
    }
  }
  return TRUE;
}

gboolean
gst_zmq_check_key (const gchar * property, const gchar * key, GError ** error)
{
  guint8 raw[32];

  if (strlen (key) != GST_ZMQ_KEY_TEXT_LEN || zmq_z85_decode (raw, key) == NULL) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "%s: not a Z85-encoded CURVE key (%d characters expected, got %"
        G_GSIZE_FORMAT ")", property, GST_ZMQ_KEY_TEXT_LEN, strlen (key));
    return FALSE;
  }
  return TRUE;
}

static gboolean
is_set (const gchar * s)
{
  return s != NULL && *s != '\0';
}

/* ---- client authorisation: a ZAP handler with an allow-list ------------
 *
 * ZeroMQ asks the handler bound at inproc://zeromq.zap.01 in the socket's
 * context about every CURVE handshake (RFC 27); ours answers 200 for the
 * public keys listed in a file and 400 for any other.  The file is read
 * again when its modification time or size changes, so enrolling a camera
 * needs no restart.  Hand-written rather than zauth (CZMQ): it is 100
 * lines, and CZMQ would be a second ZeroMQ binding for one function. */

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"

typedef struct
{
  gchar *path;
  GHashTable *keys;             /* 32-byte binary keys (as GBytes) */
  gint64 mtime;
  gint64 size;
  void *socket;                 /* REP, used by the thread only */
  GThread *thread;
  gint running;                 /* atomic */
  gint refused;                 /* atomic */
} ZapHandler;

static GMutex zap_lock;
static GHashTable *zap_handlers;        /* context -> ZapHandler */

/* Reads the allow-list; FALSE with an error naming the file and line. */
static gboolean
zap_load (const gchar * path, GHashTable ** keys_out, gint64 * mtime,
    gint64 * size, GError ** error)
{
  gchar *text = NULL;
  gchar **lines;
  GHashTable *keys;
  struct stat st;
  gboolean ok = TRUE;

  if (stat (path, &st) != 0 || !g_file_get_contents (path, &text, NULL, error)) {
    if (error && !*error)
      g_set_error (error, SN_ERROR, SN_ERROR_IO,
          "curve-allowed-keys: cannot read %s: %s", path, g_strerror (errno));
    return FALSE;
  }
  keys = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
      (GDestroyNotify) g_bytes_unref, NULL);
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] && ok; i++) {
    gchar *line = g_strstrip (lines[i]);
    guint8 raw[32];

    if (*line == '\0' || *line == '#')
      continue;
    if (strlen (line) != GST_ZMQ_KEY_TEXT_LEN
        || zmq_z85_decode (raw, line) == NULL) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "curve-allowed-keys: %s line %u is not a Z85 public key", path,
          i + 1);
      ok = FALSE;
      break;
    }
    g_hash_table_add (keys, g_bytes_new (raw, sizeof raw));
  }
  g_strfreev (lines);
  g_free (text);
  if (!ok) {
    g_hash_table_unref (keys);
    return FALSE;
  }
  *keys_out = keys;
  *mtime = (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000)
      + st.st_mtim.tv_nsec;
  *size = st.st_size;
  return TRUE;
}

/* Reloads the list when the file changed; a list that no longer reads
 * keeps the previous one (and says so in the debug log). */
static void
zap_maybe_reload (ZapHandler * zap)
{
  struct stat st;
  GHashTable *keys;
  gint64 mtime, size;
  GError *error = NULL;

  if (stat (zap->path, &st) != 0)
    return;
  mtime = (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000)
      + st.st_mtim.tv_nsec;
  if (mtime == zap->mtime && st.st_size == zap->size)
    return;
  if (!zap_load (zap->path, &keys, &mtime, &size, &error)) {
    GST_WARNING ("keeping the previous allow-list: %s", error->message);
    g_error_free (error);
    return;
  }
  g_hash_table_unref (zap->keys);
  zap->keys = keys;
  zap->mtime = mtime;
  zap->size = size;
  GST_INFO ("allow-list %s reloaded: %u keys", zap->path,
      g_hash_table_size (keys));
}

static gpointer
zap_loop (gpointer data)
{
  ZapHandler *zap = data;

  while (g_atomic_int_get (&zap->running)) {
    zmq_pollitem_t item = { zap->socket, 0, ZMQ_POLLIN, 0 };
    zmq_msg_t frames[7];
    guint n = 0;
    gint more = 1;
    gboolean allowed = FALSE;

    if (zmq_poll (&item, 1, 100) <= 0)
      continue;
    /* version, request id, domain, address, identity, mechanism,
     * credentials (CURVE: the client's 32-byte public key) */
    while (more) {
      zmq_msg_t scratch, *m = n < 7 ? &frames[n] : &scratch;

      zmq_msg_init (m);
      if (zmq_msg_recv (m, zap->socket, 0) < 0) {
        zmq_msg_close (m);
        break;
      }
      more = zmq_msg_more (m);
      if (m == &scratch)
        zmq_msg_close (m);
      n++;
    }
    if (n >= 7 && zmq_msg_size (&frames[5]) == 5
        && memcmp (zmq_msg_data (&frames[5]), "CURVE", 5) == 0
        && zmq_msg_size (&frames[6]) == 32) {
      GBytes *key = g_bytes_new_static (zmq_msg_data (&frames[6]), 32);

      zap_maybe_reload (zap);
      allowed = g_hash_table_contains (zap->keys, key);
      g_bytes_unref (key);
    }
    if (!allowed) {
      g_atomic_int_inc (&zap->refused);
      GST_INFO ("refused a client not on the allow-list %s", zap->path);
    }
    if (n >= 2) {
      const gchar *code = allowed ? "200" : "400";
      const gchar *text = allowed ? "OK" : "not on the allow-list";

      zmq_send (zap->socket, "1.0", 3, ZMQ_SNDMORE);
      zmq_send (zap->socket, zmq_msg_data (&frames[1]),
          zmq_msg_size (&frames[1]), ZMQ_SNDMORE);
      zmq_send (zap->socket, code, 3, ZMQ_SNDMORE);
      zmq_send (zap->socket, text, strlen (text), ZMQ_SNDMORE);
      zmq_send (zap->socket, "", 0, ZMQ_SNDMORE);
      zmq_send (zap->socket, "", 0, 0);
    }
    for (guint i = 0; i < MIN (n, 7); i++)
      zmq_msg_close (&frames[i]);
  }
  return NULL;
}

static gboolean
zap_start (void *ctx, const gchar * path, GError ** error)
{
  ZapHandler *zap = g_new0 (ZapHandler, 1);
  gint zero = 0;

  if (!zap_load (path, &zap->keys, &zap->mtime, &zap->size, error)) {
    g_free (zap);
    return FALSE;
  }
  zap->path = g_strdup (path);
  zap->socket = zmq_socket (ctx, ZMQ_REP);
  zmq_setsockopt (zap->socket, ZMQ_LINGER, &zero, sizeof zero);
  if (zap->socket == NULL || zmq_bind (zap->socket, ZAP_ENDPOINT) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_IO,
        "curve-allowed-keys: cannot start the ZAP handler: %s",
        zmq_strerror (errno));
    if (zap->socket)
      zmq_close (zap->socket);
    g_hash_table_unref (zap->keys);
    g_free (zap->path);
    g_free (zap);
    return FALSE;
  }
  g_atomic_int_set (&zap->running, 1);
  zap->thread = g_thread_new ("zmq-zap", zap_loop, zap);
  g_mutex_lock (&zap_lock);
  if (!zap_handlers)
    zap_handlers = g_hash_table_new (NULL, NULL);
  g_hash_table_insert (zap_handlers, ctx, zap);
  g_mutex_unlock (&zap_lock);
  return TRUE;
}

/* Before zmq_ctx_term, which waits for every socket of the context. */
static void
zap_stop (void *ctx)
{
  ZapHandler *zap = NULL;

  g_mutex_lock (&zap_lock);
  if (zap_handlers && (zap = g_hash_table_lookup (zap_handlers, ctx)))
    g_hash_table_remove (zap_handlers, ctx);
  g_mutex_unlock (&zap_lock);
  if (!zap)
    return;
  g_atomic_int_set (&zap->running, 0);
  g_thread_join (zap->thread);
  zmq_close (zap->socket);
  g_hash_table_unref (zap->keys);
  g_free (zap->path);
  g_free (zap);
}

#define GST_ZMQ_PROP_RW (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS \
    | GST_PARAM_MUTABLE_READY)

void
gst_zmq_install_connection_properties (GObjectClass * klass,
    guint endpoint_id, guint reconnect_ivl_id, guint reconnect_ivl_max_id)
{
  g_object_class_install_property (klass, endpoint_id,
      g_param_spec_string ("endpoint", "Endpoint",
          "ZeroMQ endpoint: tcp://host:port (when binding, host * or "
          "0.0.0.0 binds every interface) or ipc:///path", NULL,
          GST_ZMQ_PROP_RW));
  g_object_class_install_property (klass, reconnect_ivl_id,
      g_param_spec_int ("reconnect-ivl", "Reconnect interval",
          "bind=false: delay before reconnecting to a lost peer in ms "
          "(-1 = never)", -1, G_MAXINT, GST_ZMQ_DEFAULT_RECONNECT_IVL,
          GST_ZMQ_PROP_RW));
  g_object_class_install_property (klass, reconnect_ivl_max_id,
      g_param_spec_int ("reconnect-ivl-max", "Maximum reconnect interval",
          "Upper bound in ms for the reconnect delay, which doubles after "
          "each failed attempt (0 = no back-off)", 0, G_MAXINT,
          GST_ZMQ_DEFAULT_RECONNECT_IVL_MAX, GST_ZMQ_PROP_RW));
}

void
gst_zmq_install_security_properties (GObjectClass * klass,
    guint server_key_id, guint public_key_id, guint secret_key_id,
    guint allowed_keys_id, guint refused_id)
{
  g_object_class_install_property (klass, server_key_id,
      g_param_spec_string ("curve-server-key", "CURVE server key",
          "Connecting side: the server's public key (Z85, 40 characters); "
          "setting it turns CURVE encryption on", NULL, GST_ZMQ_PROP_RW));
  g_object_class_install_property (klass, public_key_id,
      g_param_spec_string ("curve-public-key", "CURVE public key",
          "This side's public key (Z85); optional, derived from the secret "
          "key", NULL, GST_ZMQ_PROP_RW));
  g_object_class_install_property (klass, secret_key_id,
      g_param_spec_string ("curve-secret-key", "CURVE secret key",
          "This side's secret key (Z85); on the binding side it makes this "
          "socket the CURVE server. A connecting side without one uses a "
          "throw-away key pair, which no allow-list names", NULL,
          G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (klass, allowed_keys_id,
      g_param_spec_string ("curve-allowed-keys", "CURVE allowed client keys",
          "Binding side with CURVE: a file of client public keys (Z85, one "
          "per line, '#' comments); only these clients may connect. The "
          "file is read again when it changes (NULL = any client)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS
          | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (klass, refused_id,
      g_param_spec_uint64 ("clients-refused", "Clients refused",
          "With curve-allowed-keys: CURVE handshakes refused since start "
          "because the client's key is not on the list", 0, G_MAXUINT64, 0,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

guint64
gst_zmq_clients_refused (void *context)
{
  ZapHandler *zap;
  guint64 n = 0;

  g_mutex_lock (&zap_lock);
  if (zap_handlers && (zap = g_hash_table_lookup (zap_handlers, context)))
    n = (guint) g_atomic_int_get (&zap->refused);
  g_mutex_unlock (&zap_lock);
  return n;
}

static gboolean
set_int (void *socket, gint option, gint value, const gchar * what,
    GError ** error)
{
  if (zmq_setsockopt (socket, option, &value, sizeof value) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "%s = %d refused by ZeroMQ: %s", what, value, zmq_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

static gboolean
set_key (void *socket, gint option, const gchar * key, const gchar * what,
    GError ** error)
{
  if (zmq_setsockopt (socket, option, key, strlen (key)) != 0) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "%s refused by ZeroMQ: %s", what, zmq_strerror (errno));
    return FALSE;
  }
  return TRUE;
}

/* Who is CURVE server follows the topology: the binding side (the cloud, one
 * per deployment) is the server and holds the long-term secret; connecting
 * sides are clients and only need to know the server's public key. */
static gboolean
setup_curve (void *socket, const GstZmqSocketConfig * config, GError ** error)
{
  const gchar *server_key = config->curve_server_key;
  const gchar *public_key = config->curve_public_key;
  const gchar *secret_key = config->curve_secret_key;
  gchar derived[GST_ZMQ_KEY_TEXT_LEN + 1];
  gchar eph_public[GST_ZMQ_KEY_TEXT_LEN + 1],
      eph_secret[GST_ZMQ_KEY_TEXT_LEN + 1];

  if (!is_set (server_key) && !is_set (public_key) && !is_set (secret_key))
    return TRUE;

  if (!zmq_has ("curve")) {
    g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
        "CURVE keys set but this libzmq was built without CURVE support");
    return FALSE;
  }

  if (is_set (server_key)
      && !gst_zmq_check_key ("curve-server-key", server_key, error))
    return FALSE;
  if (is_set (public_key)
      && !gst_zmq_check_key ("curve-public-key", public_key, error))
    return FALSE;
  if (is_set (secret_key)
      && !gst_zmq_check_key ("curve-secret-key", secret_key, error))
    return FALSE;

  if (is_set (public_key) && !is_set (secret_key)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "curve-public-key set without curve-secret-key");
    return FALSE;
  }
  if (is_set (public_key)) {
    if (zmq_curve_public (derived, secret_key) != 0
        || strcmp (derived, public_key) != 0) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "curve-public-key does not belong to curve-secret-key");
      return FALSE;
    }
  }

  if (config->bind) {
    if (is_set (server_key)) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "curve-server-key is for the connecting side; the binding side is "
          "the CURVE server and needs curve-secret-key");
      return FALSE;
    }
    if (!is_set (secret_key)) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "binding side: CURVE server needs curve-secret-key");
      return FALSE;
    }
    return set_int (socket, ZMQ_CURVE_SERVER, 1, "ZMQ_CURVE_SERVER", error)
        && set_key (socket, ZMQ_CURVE_SECRETKEY, secret_key,
        "curve-secret-key", error);
  }

  if (is_set (config->curve_allowed_keys)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "curve-allowed-keys is for the binding side (the CURVE server); "
        "the connecting side needs curve-secret-key, whose public key is "
        "on the server's list");
    return FALSE;
  }

  if (!is_set (server_key)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "connecting side: CURVE client needs curve-server-key");
    return FALSE;
  }
  if (!is_set (secret_key)) {
    /* Without curve-allowed-keys the server does not authenticate
     * clients, so a throw-away identity is as good as a configured one;
     * with it, this client is refused (it must set curve-secret-key). */
    if (zmq_curve_keypair (eph_public, eph_secret) != 0) {
      g_set_error (error, SN_ERROR, SN_ERROR_UNSUPPORTED,
          "zmq_curve_keypair failed: %s", zmq_strerror (errno));
      return FALSE;
    }
    public_key = eph_public;
    secret_key = eph_secret;
  } else if (!is_set (public_key)) {
    if (zmq_curve_public (derived, secret_key) != 0) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "curve-secret-key: cannot derive its public key");
      return FALSE;
    }
    public_key = derived;
  }

  return set_key (socket, ZMQ_CURVE_SERVERKEY, server_key,
      "curve-server-key", error)
      && set_key (socket, ZMQ_CURVE_PUBLICKEY, public_key,
      "curve-public-key", error)
      && set_key (socket, ZMQ_CURVE_SECRETKEY, secret_key,
      "curve-secret-key", error);
}

gboolean
gst_zmq_socket_open (const GstZmqSocketConfig * config, void **context,
    void **socket, GstZmqOpenError * kind, GError ** error)
{
  void *ctx = NULL, *sock = NULL;
  gboolean sending = config->type == ZMQ_PUSH || config->type == ZMQ_PUB;
  gint rc;

  *kind = GST_ZMQ_OPEN_ERROR_SETTINGS;
  if (!gst_zmq_check_endpoint (config->endpoint, error))
    return FALSE;

  ctx = zmq_ctx_new ();
  if (ctx == NULL) {
    *kind = GST_ZMQ_OPEN_ERROR_RESOURCE;
    g_set_error (error, SN_ERROR, SN_ERROR_IO,
        "zmq_ctx_new failed: %s", zmq_strerror (errno));
    return FALSE;
  }
  sock = zmq_socket (ctx, config->type);
  if (sock == NULL) {
    *kind = GST_ZMQ_OPEN_ERROR_RESOURCE;
    g_set_error (error, SN_ERROR, SN_ERROR_IO,
        "zmq_socket failed: %s", zmq_strerror (errno));
    goto fail;
  }

  if (!set_int (sock, ZMQ_LINGER, config->linger, "linger", error)
      || !set_int (sock, sending ? ZMQ_SNDHWM : ZMQ_RCVHWM, config->hwm,
          "hwm", error)
      || !set_int (sock, ZMQ_RECONNECT_IVL, config->reconnect_ivl,
          "reconnect-ivl", error)
      || !set_int (sock, ZMQ_RECONNECT_IVL_MAX, config->reconnect_ivl_max,
          "reconnect-ivl-max", error))
    goto fail;
  if (config->immediate
      && !set_int (sock, ZMQ_IMMEDIATE, 1, "ZMQ_IMMEDIATE", error))
    goto fail;
  if (config->max_message_size != 0) {
    gint64 v = config->max_message_size;

    if (zmq_setsockopt (sock, ZMQ_MAXMSGSIZE, &v, sizeof v) != 0) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "max-message-size = %" G_GINT64_FORMAT " refused by ZeroMQ: %s", v,
          zmq_strerror (errno));
      goto fail;
    }
  }
  if (!setup_curve (sock, config, error))
    goto fail;
  if (is_set (config->curve_allowed_keys) && !is_set (config->curve_secret_key)) {
    g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
        "curve-allowed-keys needs CURVE on: set curve-secret-key");
    goto fail;
  }
  /* Before bind: the handshakes of the first clients already ask it. */
  if (config->bind && is_set (config->curve_allowed_keys)
      && !zap_start (ctx, config->curve_allowed_keys, error))
    goto fail;
  if (config->type == ZMQ_SUB) {
    const gchar *filter = config->subscribe ? config->subscribe : "";

    if (zmq_setsockopt (sock, ZMQ_SUBSCRIBE, filter, strlen (filter)) != 0) {
      g_set_error (error, SN_ERROR, SN_ERROR_INVALID_ARGUMENT,
          "subscribe '%s' refused by ZeroMQ: %s", filter, zmq_strerror (errno));
      goto fail;
    }
  }

  rc = config->bind ? zmq_bind (sock, config->endpoint)
      : zmq_connect (sock, config->endpoint);
  if (rc != 0) {
    gint err = errno;

    /* EINVAL and friends mean the address itself is wrong; anything else
     * (address in use, missing directory, ...) is the system refusing. */
    if (err != EINVAL && err != EPROTONOSUPPORT && err != ENOCOMPATPROTO)
      *kind = GST_ZMQ_OPEN_ERROR_RESOURCE;
    g_set_error (error, SN_ERROR, SN_ERROR_IO, "cannot %s %s: %s",
        config->bind ? "bind to" : "connect to", config->endpoint,
        zmq_strerror (err));
    goto fail;
  }

  *context = ctx;
  *socket = sock;
  return TRUE;

fail:
  if (sock) {
    gint zero = 0;

    zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close (sock);
  }
  zap_stop (ctx);
  zmq_ctx_term (ctx);
  return FALSE;
}

/* Blocks for at most the socket's linger time, so queued data (an EOS
 * message in particular) gets a chance to leave. */
void
gst_zmq_socket_close (void **context, void **socket)
{
  if (*socket) {
    zmq_close (*socket);
    *socket = NULL;
  }
  if (*context) {
    zap_stop (*context);
    while (zmq_ctx_term (*context) != 0 && errno == EINTR) {
      /* interrupted by a signal: the context is still alive, try again */
    }
    *context = NULL;
  }
}
