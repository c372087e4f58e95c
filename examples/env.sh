# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the example scripts: where things are, overridable from the
# environment.  Run the scripts from anywhere; paths are relative to the
# source tree.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GST_PLUGIN_PATH=${GST_PLUGIN_PATH:-$top/build/gst-plugins}
export GST_REGISTRY=${GST_REGISTRY:-$top/build/gst-registry.bin}
MODEL=${MODEL:-$top/models/centernet-mobilenetv3-coco.onnx}
VIDEO=${VIDEO:-$top/data/vtest.avi}
CLOUD=${CLOUD:-127.0.0.1}         # where the edge sends features
EDGE=${EDGE:-127.0.0.1}           # where the cloud sends detections back
PORT=${PORT:-5555}                # features, edge -> cloud (the cloud binds)
BACK_PORT=${BACK_PORT:-5556}      # detections, cloud -> edge (the edge binds)
CUT=${CUT:-4}
BITS=${BITS:-8}
LATENCY=${LATENCY:-2000}          # ms a frame waits for its detections
OUT=${OUT:-annotated.avi}
# FRAMES=N: only the first N frames (AVI files only; `identity eos-after`
# counts compressed frames and lets N-1 through, and must sit before the
# decoder: after it, 1.22 lets one frame from far ahead through last).
if [[ -n ${FRAMES:-} ]]; then
  SOURCE=(filesrc location="$VIDEO" ! avidemux ! identity eos-after=$((FRAMES + 1)) ! decodebin)
else
  SOURCE=(filesrc location="$VIDEO" ! decodebin)
fi

# CURVE, on by default (SECURE=0: plain TCP, for loopback only).  Two key
# pairs, made on first use by zmq-keygen: the cloud's (server of PORT,
# client of BACK_PORT) and the edge's (client of PORT, server of
# BACK_PORT).  Each side's allow-list holds the other's public key, so only
# that edge may send features and only that cloud may send detections.  In
# a real deployment each machine keeps its own secret key and gets the
# other's public key; here both live in $KEYS on one machine.
SECURE=${SECURE:-1}
KEYS=${KEYS:-$top/build/keys}
ZMQ_KEYGEN=${ZMQ_KEYGEN:-$top/build/examples/zmq-keygen}
CLOUD_CURVE_SRC=() CLOUD_CURVE_SINK=() EDGE_CURVE_SRC=() EDGE_CURVE_SINK=()
if [[ $SECURE == 1 ]]; then
  mkdir -p "$KEYS" && chmod 700 "$KEYS"
  for side in cloud edge; do
    [[ -s $KEYS/$side.key ]] || (umask 077; "$ZMQ_KEYGEN" > "$KEYS/$side.key")
  done
  CLOUD_PUBLIC=$(. "$KEYS/cloud.key"; echo "$ZMQ_PUBLIC_KEY")
  CLOUD_SECRET=$(. "$KEYS/cloud.key"; echo "$ZMQ_SECRET_KEY")
  EDGE_PUBLIC=$(. "$KEYS/edge.key"; echo "$ZMQ_PUBLIC_KEY")
  EDGE_SECRET=$(. "$KEYS/edge.key"; echo "$ZMQ_SECRET_KEY")
  echo "$EDGE_PUBLIC" > "$KEYS/cloud.allowed"     # who may send features
  echo "$CLOUD_PUBLIC" > "$KEYS/edge.allowed"     # who may send detections
  CLOUD_CURVE_SRC=(curve-secret-key="$CLOUD_SECRET" curve-allowed-keys="$KEYS/cloud.allowed")
  CLOUD_CURVE_SINK=(curve-server-key="$EDGE_PUBLIC" curve-secret-key="$CLOUD_SECRET")
  EDGE_CURVE_SRC=(curve-secret-key="$EDGE_SECRET" curve-allowed-keys="$KEYS/edge.allowed")
  EDGE_CURVE_SINK=(curve-server-key="$CLOUD_PUBLIC" curve-secret-key="$EDGE_SECRET")
fi
