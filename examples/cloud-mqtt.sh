#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The cloud publishing its detections to an MQTT broker: receives feature
# packets, runs the rest of the network, publishes one JSON message per
# frame (docs/protocol.md, "Detections message") on splitnn/<stream>/detections,
# and still sends the detections back to the edge for its overlay.
#   examples/cloud-mqtt.sh       (BROKER=host, MQTT_PORT, TOPIC, QOS, EDGE, PORT, BACK_PORT, MODEL)
# Run a broker (mosquitto) and watch:
#   mosquitto_sub -h "$BROKER" -t 'splitnn/+/detections' -v
# then start examples/edge.sh.  Username/password and TLS are properties too:
#   username=... password=... tls-ca-file=ca.crt port=8883 (gst-inspect-1.0 splitnnpublish).
set -euo pipefail
source "$(dirname "$0")/env.sh"
BROKER=${BROKER:-127.0.0.1}
MQTT_PORT=${MQTT_PORT:-1883}
TOPIC=${TOPIC:-'splitnn/{stream}/detections'}
QOS=${QOS:-1}
# CURVE with an allow-list by default (env.sh; SECURE=0 for plain TCP).
exec gst-launch-1.0 zmqsrc endpoint="tcp://0.0.0.0:$PORT" bind=true sender-eos=end "${CLOUD_CURVE_SRC[@]}" \
  ! splitnncloud model="$MODEL" format=binary \
  ! splitnnpublish host="$BROKER" port="$MQTT_PORT" topic="$TOPIC" qos="$QOS" \
  ! zmqsink endpoint="tcp://$EDGE:$BACK_PORT" "${CLOUD_CURVE_SINK[@]}"
