#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The cloud: receives feature packets, runs the rest of the network, and
# sends the detections (binary SNDT) back to the edge.
#   examples/cloud.sh            (EDGE=host, PORT, BACK_PORT, MODEL, SECURE, KEYS)
set -euo pipefail
source "$(dirname "$0")/env.sh"
# CURVE with an allow-list by default (env.sh; SECURE=0 for plain TCP).
# sender-eos=end: this example serves one edge and ends with it; a cloud
# serving many edges leaves it out (a binding zmqsrc then ignores EOS).
exec gst-launch-1.0 zmqsrc endpoint="tcp://0.0.0.0:$PORT" bind=true sender-eos=end "${CLOUD_CURVE_SRC[@]}" \
  ! splitnncloud model="$MODEL" format=binary \
  ! zmqsink endpoint="tcp://$EDGE:$BACK_PORT" "${CLOUD_CURVE_SINK[@]}"
