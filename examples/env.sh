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
