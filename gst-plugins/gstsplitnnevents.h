/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* splitnn — names of the custom events the elements exchange.
 *
 * These are plain GstStructure names, documented in docs/elements.md and
 * docs/adaptive.md, so an application (or another transport) can send or
 * consume them without linking to the plugin. */
#pragma once

/* Custom upstream event (GST_EVENT_CUSTOM_UPSTREAM) carrying a link
 * estimate, sent by zmqsink (ack-endpoint set) or the application:
 *   "bits-per-second"            G_TYPE_DOUBLE  what the link can carry (required)
 *   "rtt-ms"                     G_TYPE_DOUBLE  base round trip (optional)
 *   "delivered-bits-per-second"  G_TYPE_DOUBLE  what it did carry lately (optional)
 *   "receiver-dropped-per-second" G_TYPE_DOUBLE messages/s the receiver took off
 *                                the link and dropped, its queue full: the
 *                                cloud, not the link, is the bottleneck (optional)
 * splitnnedge (cut=auto) feeds it to the split planner. */
#define GST_SPLITNN_BANDWIDTH_EVENT "splitnn-bandwidth"

/* Custom upstream event answering one feature packet, sent by splitnncloud
 * (report=true) and carried back to the edge by zmqsrc/zmqsink:
 *   "stream-id"   G_TYPE_UINT    the packet's stream id
 *   "seq"         G_TYPE_UINT64  the packet's sequence number
 *   "cut"         G_TYPE_INT     the cut it was made at
 *   "cloud-ms"    G_TYPE_DOUBLE  its time in the cloud: feature decoding,
 *                                the cloud part of the network, detection decoding
 *   "network-ms"  G_TYPE_DOUBLE  the network part alone
 *   "whole-ms"    G_TYPE_DOUBLE  the cloud's time for the whole network (optional)
 * splitnnedge (cut=auto) plans with it. */
#define GST_SPLITNN_CLOUD_TIME_EVENT "splitnn-cloud-time"

/* Custom upstream event asking the edge for an intra frame, sent by
 * splitnncloud when it refused a packet of codec temporal for want of a
 * reference (a lost packet, a restarted cloud), carried back like the
 * cloud time:
 *   "stream-id"   G_TYPE_UINT    the refused packet's stream id
 *   "seq"         G_TYPE_UINT64  its sequence number
 * splitnnedge (codec=temporal) makes its next frame intra, unless it sent
 * one after that packet already. */
#define GST_SPLITNN_REFRESH_EVENT "splitnn-refresh"
