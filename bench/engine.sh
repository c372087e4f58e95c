#!/usr/bin/env bash
# Engine benchmark: libsplitnn (fast path and reference) against ONNX Runtime
# on the same ONNX file and thread count, interleaved so that the shared
# machine's noise hits both alike.  Prints medians and the ratio
# libsplitnn / ONNX Runtime (lower is better; <= 1.0 is the target).
#
#   bench/engine.sh [ROUNDS] [RUNS_PER_ROUND]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
rounds=${1:-5}
runs=${2:-10}
model=models/centernet-mobilenetv3-coco.onnx
[[ -f $model && -x build/tools/splitnn ]] || { echo "run scripts/setup first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 -c "import numpy as np; np.save('$tmp/x.npy', (np.arange(512*512*3) * 7919 % 256).astype(np.float32).reshape(1,512,512,3))"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

for threads in 1 2; do
  : > "$tmp/sn.$threads"; : > "$tmp/ort.$threads"
  for ((r = 0; r < rounds; r++)); do
    build/tools/splitnn run "$model" --input images="$tmp/x.npy" --out-dir "$tmp" \
      --threads "$threads" --repeat "$runs" --json | /usr/bin/python3 -c \
      "import json,sys; print(json.load(sys.stdin)['median_ms'])" >> "$tmp/sn.$threads"
    (cd tests/oracle && node run-ort.mjs "../../$model" --bench "$runs" --threads "$threads") \
      | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['median_ms'])" >> "$tmp/ort.$threads"
  done
  sn=$(median < "$tmp/sn.$threads")
  ort=$(median < "$tmp/ort.$threads")
  printf 'threads %d: libsplitnn %.1f ms, ONNX Runtime %.1f ms, ratio %.2f  (medians of %d rounds x %d runs)\n' \
    "$threads" "$sn" "$ort" "$(echo "$sn / $ort" | bc -l)" "$rounds" "$runs"
done
ref=$(SPLITNN_ENGINE=reference build/tools/splitnn run "$model" --input images="$tmp/x.npy" --out-dir "$tmp" \
  --repeat 1 --json | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['median_ms'])")
printf 'reference kernels (the oracle, 1 thread): %.0f ms\n' "$ref"
