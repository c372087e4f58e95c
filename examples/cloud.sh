#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The cloud: receives feature packets, runs the rest of the network, and
# sends the detections (binary SNDT) back to the edge.
#   examples/cloud.sh            (EDGE=host, PORT, BACK_PORT, MODEL)
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec gst-launch-1.0 zmqsrc endpoint="tcp://0.0.0.0:$PORT" bind=true \
  ! splitnncloud model="$MODEL" format=binary \
  ! zmqsink endpoint="tcp://$EDGE:$BACK_PORT"
