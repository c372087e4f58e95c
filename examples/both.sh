#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Edge and cloud on this machine, as two processes over loopback: the cloud
# in the background, the edge in front; the annotated video goes to $OUT.
# The edge's EOS travels to the cloud and back, so both end by themselves.
set -euo pipefail
here=$(dirname "$0")
"$here/cloud.sh" > cloud.log 2>&1 &
cloud=$!
trap 'kill $cloud 2>/dev/null || true' EXIT
"$here/edge.sh" | grep -E "splitnnoverlay-stats|ERROR|WARNING" || true
wait $cloud || true
trap - EXIT
echo "annotated video: ${OUT:-annotated.avi}; cloud log: cloud.log"
