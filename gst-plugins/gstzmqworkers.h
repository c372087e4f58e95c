/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — zmqsink's pool of workers: one PUSH socket per worker, the
 * stream sent to one live worker (libsplitnn's sn-workers: rendezvous
 * hashing of the stream id), failover when a worker stops acknowledging,
 * probes and rejoin.  Kept apart from gstzmqsink.c, which only asks it
 * which socket to send on and tells it what was sent. */
#pragma once

#include <gst/gst.h>
#include "gstzmqcommon.h"

G_BEGIN_DECLS typedef struct _GstZmqWorkers GstZmqWorkers;

/* @workers: comma-separated data endpoints; @acks: comma-separated ack
 * endpoints, as many (required: liveness comes from acknowledgements).
 * @config: the data socket settings (endpoint and type are set here); the
 * ack sockets take its CURVE settings.  @timeout_ms: how long a worker
 * may leave a message unacknowledged before it is taken as dead. */
GstZmqWorkers *gst_zmq_workers_open (const gchar * workers,
    const gchar * acks, const GstZmqSocketConfig * config,
    guint32 stream_id, guint timeout_ms, GstZmqOpenError * kind,
    GError ** error);
/* Closes the sockets (data first, waiting up to linger); the counters
 * stay readable until gst_zmq_workers_close. */
void gst_zmq_workers_shutdown (GstZmqWorkers * ws);
void gst_zmq_workers_close (GstZmqWorkers * ws);
/* FALSE once shut down. */
gboolean gst_zmq_workers_is_open (GstZmqWorkers * ws);

/* The first ack endpoint, and connecting the others: the sink's own ack
 * socket (accounting, link estimate, replies) hears every worker. */
const gchar *gst_zmq_workers_first_ack (GstZmqWorkers * ws);
gboolean gst_zmq_workers_connect_acks (GstZmqWorkers * ws, void *socket,
    GError ** error);

/* Before each send: reads the workers' acknowledgements, marks silent
 * workers dead, probes dead ones (with @probe_seq) and chooses the worker.
 * Returns its socket (NULL: no worker alive); *@moved is TRUE when the
 * stream is now on another worker than for the last send (the caller
 * resends caps and asks upstream for a refresh). */
void *gst_zmq_workers_route (GstZmqWorkers * ws, guint64 probe_seq,
    gboolean * moved);
/* The message @seq went to the current worker. */
void gst_zmq_workers_sent (GstZmqWorkers * ws, guint64 seq);
/* The current worker could not take a message (its connection is down,
 * or its queue full): it is marked dead, unless it was never heard from
 * and the pool opened less than the timeout ago (connections forming).
 * Returns TRUE when it was marked dead and another worker is alive. */
gboolean gst_zmq_workers_failed (GstZmqWorkers * ws);

/* Counters for properties and the stats message. */
gchar *gst_zmq_workers_current_name (GstZmqWorkers * ws);
guint64 gst_zmq_workers_moves (GstZmqWorkers * ws);
void gst_zmq_workers_add_stats (GstZmqWorkers * ws, GstStructure * s);

G_END_DECLS
