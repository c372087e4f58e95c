#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The edge: decodes the video, sends each frame's features to the cloud,
# takes the detections back, draws them onto the same frames
# (splitnnoverlay) and writes an annotated AVI (motion JPEG).
#   examples/edge.sh             (CLOUD=host, PORT, BACK_PORT, VIDEO, FRAMES, OUT, CUT, BITS, LATENCY,
#                                 SECURE, KEYS)
#
# The overlay joins by counting frames: nothing may drop frames between the
# tee and splitnnedge (no leaky queue there).  With a camera, put
# videoconvert in front and use a shorter LATENCY (e.g. 500).
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec gst-launch-1.0 -m "${SOURCE[@]}" ! videoconvert ! video/x-raw,format=BGRx \
  ! tee name=t \
  t. ! queue max-size-buffers=2 ! splitnnedge model="$MODEL" cut="$CUT" bits="$BITS" codec=lossless \
     ! zmqsink endpoint="tcp://$CLOUD:$PORT" "${EDGE_CURVE_SINK[@]}" \
  t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! ov.video_sink \
  zmqsrc endpoint="tcp://0.0.0.0:$BACK_PORT" bind=true sender-eos=end "${EDGE_CURVE_SRC[@]}" \
     ! ov.detections_sink \
  splitnnoverlay name=ov latency="$LATENCY" stats-interval=0 \
  ! videoconvert ! jpegenc quality=85 ! avimux ! filesink location="$OUT"
