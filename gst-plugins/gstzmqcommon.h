/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — wire framing and socket setup shared by zmqsink and zmqsrc.
 *
 * The wire format is documented in docs/zmq.md; keep the two in step. */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
#define GST_ZMQ_WIRE_MAGIC "SNZQ"
#define GST_ZMQ_WIRE_VERSION 1
/* Fixed part of the header frame; the caps string, if any, follows it. */
#define GST_ZMQ_HEADER_SIZE 72
/* Header flags (byte 5) */
#define GST_ZMQ_HEADER_FLAG_EOS (1 << 0)
/* A probe: empty payload, announces the data message with the same
 * sequence number that follows it at once.  Acknowledged, never pushed.
 * Only sent to receivers that acknowledge (ack-endpoint set). */
#define GST_ZMQ_HEADER_FLAG_PROBE (1 << 1)
/* A goodbye: sent with GST_ZMQ_HEADER_FLAG_EOS by a stopping sink whose
 * EOS may not have arrived (discarded at linger behind a backlog), on a
 * connection of its own so that it does not wait behind that backlog.
 * The sequence number is the EOS's: every data message of the stream has
 * a smaller one.  Never acknowledged (it may overtake data). */
#define GST_ZMQ_HEADER_FLAG_GOODBYE (1 << 2)
/* Acknowledgements, receiver -> sender on the ack channel (PUB -> SUB): one
 * frame of GST_ZMQ_ACK_SIZE bytes; the stream id comes first so a sender
 * subscribes to its own acks only. */
#define GST_ZMQ_ACK_MAGIC "SNZA"
#define GST_ZMQ_ACK_VERSION 1
#define GST_ZMQ_ACK_SIZE 40
#define GST_ZMQ_ACK_FLAG_PROBE (1 << 0) /* acknowledges a probe */
#define GST_ZMQ_ACK_FLAG_EXACT (1 << 1) /* the receiver was idle, waiting: the time is the arrival */
/* The message arrived (the link carried it) but the receiver dropped it:
 * its queue was full, its downstream is the bottleneck, not the link. */
#define GST_ZMQ_ACK_FLAG_DROPPED (1 << 2)
    typedef struct
{
  guint32 stream_id;
  guint8 flags;                 /* GST_ZMQ_ACK_FLAG_* */
  guint64 seqnum;
  guint64 bytes;                /* the whole message as carried: all frames */
  guint64 recv_time;            /* ns, receiver's monotonic clock */
} GstZmqAck;

void gst_zmq_ack_write (const GstZmqAck * ack, guint8 * out);
gboolean gst_zmq_ack_parse (GstZmqAck * ack, const guint8 * data, gsize size,
    GError ** error);

/* Replies, receiver -> sender on the same ack channel.  An element
 * downstream of zmqsrc answers a buffer with a custom upstream event made
 * by gst_zmq_reply_event_new(); zmqsrc sends the event's structure to the
 * zmqsink the buffer came from, and that sink pushes it upstream as a
 * custom upstream event on its side.  So an answer (splitnncloud's time
 * per frame) reaches the element that sent the data, in another process,
 * exactly as it would in one pipeline.  One frame: stream id (4 bytes,
 * first, for the subscription), magic, version, 7 reserved bytes, then the
 * structure as gst_structure_to_string() text without a NUL. */
#define GST_ZMQ_REPLY_MAGIC "SNZR"
#define GST_ZMQ_REPLY_VERSION 1
#define GST_ZMQ_REPLY_HEADER_SIZE 16
#define GST_ZMQ_REPLY_MAX_SIZE 65536
/* The field of a reply event that names the sender (G_TYPE_UINT); zmqsrc
 * removes it before sending. */
#define GST_ZMQ_REPLY_TO_FIELD "zmq-reply-to"

/* zmqsrc (with ack-endpoint) marks each buffer with its sender's stream id
 * in a custom meta, so an answer can find its way back. */
void gst_zmq_sender_meta_add (GstBuffer * buffer, guint32 stream_id);
/* A custom upstream event carrying s (taken), addressed to the sender of
 * `answered` when that came from zmqsrc; otherwise a plain custom upstream
 * event, which reaches an upstream element of the same pipeline as is. */
GstEvent *gst_zmq_reply_event_new (GstBuffer * answered, GstStructure * s);
/* A reply frame to stream_id carrying s (less the reply-to field); NULL
 * when it would exceed GST_ZMQ_REPLY_MAX_SIZE. */
GByteArray *gst_zmq_reply_write (guint32 stream_id, const GstStructure * s);
/* Whether a frame on the ack channel is a reply rather than an ack. */
gboolean gst_zmq_is_reply (const guint8 * data, gsize size);
/* The structure of a reply frame; NULL with an error when it is not one. */
GstStructure *gst_zmq_reply_parse (const guint8 * data, gsize size,
    guint32 * stream_id, GError ** error);

/* Buffer flags that are meaningful to a peer: everything GstBufferFlags
 * defines except the mini-object bits and TAG_MEMORY, which describe this
 * process's memory, not the data. */
#define GST_ZMQ_BUFFER_FLAGS_MASK \
  ((guint32) (~(GST_MINI_OBJECT_FLAG_LAST - 1) & ~GST_BUFFER_FLAG_TAG_MEMORY))

typedef struct
{
  guint8 flags;                 /* GST_ZMQ_HEADER_FLAG_* */
  guint32 stream_id;            /* random per sink start: tells senders apart */
  guint32 caps_seq;             /* bumped whenever the sender's caps change */
  guint64 seqnum;               /* per stream, bumped for every message tried */
  GstClockTime pts;
  GstClockTime dts;
  GstClockTime duration;
  guint64 offset;
  guint64 offset_end;
  guint32 buffer_flags;
  /* Caps string (not NUL-terminated), or NULL/0 when not carried.  When
   * parsing it points into the parsed frame. */
  const gchar *caps;
  gsize caps_len;
} GstZmqHeader;

gsize gst_zmq_header_size (const GstZmqHeader * header);
void gst_zmq_header_write (const GstZmqHeader * header, guint8 * out);
gboolean gst_zmq_header_parse (GstZmqHeader * header, const guint8 * data,
    gsize size, GError ** error);

typedef struct
{
  gint type;                    /* ZMQ_PUSH, ZMQ_PULL, ZMQ_PUB, ZMQ_SUB */
  const gchar *endpoint;
  gboolean bind;
  gint hwm;
  gint reconnect_ivl;
  gint reconnect_ivl_max;
  gint linger;
  gboolean immediate;
  gint64 max_message_size;      /* ZMQ_MAXMSGSIZE; 0 leaves ZeroMQ's default */
  const gchar *subscribe;       /* SUB only */
  const gchar *curve_server_key;
  const gchar *curve_public_key;
  const gchar *curve_secret_key;
  /* Binding side with CURVE: a file of client public keys (Z85, one per
   * line, '#' starts a comment); only those clients may connect (a ZAP
   * handler, reloaded when the file changes).  NULL: any client. */
  const gchar *curve_allowed_keys;
} GstZmqSocketConfig;

typedef enum
{
  GST_ZMQ_OPEN_ERROR_SETTINGS,  /* the properties are wrong */
  GST_ZMQ_OPEN_ERROR_RESOURCE,  /* the properties are fine, the system said no */
} GstZmqOpenError;

gboolean gst_zmq_socket_open (const GstZmqSocketConfig * config,
    void **context, void **socket, GstZmqOpenError * kind, GError ** error);
void gst_zmq_socket_close (void **context, void **socket);
/* Clients the allow-list of @context's socket refused so far (0 without
 * one). */
guint64 gst_zmq_clients_refused (void *context);

gboolean gst_zmq_check_endpoint (const gchar * endpoint, GError ** error);
gboolean gst_zmq_check_key (const gchar * property, const gchar * key,
    GError ** error);

/* Properties zmqsink and zmqsrc share, installed by one helper so their
 * names, blurbs, ranges and flags cannot drift apart.  The ids are the
 * element's own. */
#define GST_ZMQ_DEFAULT_RECONNECT_IVL 100
#define GST_ZMQ_DEFAULT_RECONNECT_IVL_MAX 0
/* endpoint, reconnect-ivl, reconnect-ivl-max */
void gst_zmq_install_connection_properties (GObjectClass * klass,
    guint endpoint_id, guint reconnect_ivl_id, guint reconnect_ivl_max_id);
/* curve-server-key, curve-public-key, curve-secret-key (write-only),
 * curve-allowed-keys, clients-refused (read-only) */
void gst_zmq_install_security_properties (GObjectClass * klass,
    guint server_key_id, guint public_key_id, guint secret_key_id,
    guint allowed_keys_id, guint refused_id);

G_END_DECLS
