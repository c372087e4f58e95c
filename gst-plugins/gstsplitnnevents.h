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
 * splitnnedge (cut=auto) feeds it to the split planner. */
#define GST_SPLITNN_BANDWIDTH_EVENT "splitnn-bandwidth"
