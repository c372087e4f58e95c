#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The training runs behind docs/training.md's table, on whatever machine runs
# this (CUDA if PyTorch sees a GPU, else CPU).  Writes one .npz delta per run
# into $1 (apply with splitnn-train.py MODEL --apply-delta D --out M.onnx).
#   tools/train/experiments.sh OUTDIR adapters|full [STEPS] [BATCH]
set -euo pipefail
out=$1; mode=$2; steps=${3:-600}; batch=${4:-8}
top=$(cd "$(dirname "$0")/../.." && pwd)
model=$top/models/centernet-mobilenetv3-coco.onnx
cuts=${CUTS_JSON:-$top/.train/cuts.json}
frames="$top/data/vtest.avi,$top/data/person.jpg,$top/data/dog.jpg,$top/data/horses.jpg,$top/data/giraffe.jpg,$top/data/eagle.jpg"
train() {  # name, extra args...
  local name=$1; shift
  python3 "$top/tools/train/splitnn-train.py" "$model" --frames "$frames" --count 600 \
    --cuts-json "$cuts" --mode "$mode" --steps "$steps" --batch "$batch" --bits 2,4,8 \
    --out "/tmp/$name.onnx" --delta "$out/$name.npz" --log "$out/$name.log.jsonl" "$@" 2>&1 \
    | grep -v Warning | tee "$out/$name.txt"
}
mkdir -p "$out"
# (b) the quantization-switch model: every path in one weight set.
train "$mode-qs-bn" --bottleneck 12 --bottleneck-stride 2
[[ $mode == adapters ]] && train "$mode-qs-pr" --bottleneck 1
# (c) prior art: one model per cut, the same number of steps each.
for c in ${PERCUT_CUTS:-3 5 13 30}; do
  train "$mode-cut$c-bn" --cuts "$c" --bottleneck 12 --bottleneck-stride 2
done
