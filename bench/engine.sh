#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Engine benchmark: libsplitnn's fast path against ONNX Runtime at its best,
# on the same ONNX file, interleaved round by round so that the shared
# machine's noise hits both alike.  Prints:
#   - the machine line (CPU model, family/model, ISA flags, the XNNPACK
#     microkernels this CPU gets, load average before and after);
#   - per thread count (1, 2): libsplitnn and every ONNX Runtime
#     configuration tried (graph optimisation all / extended, its saved
#     optimised model, workers without spinning), medians, and the ratio of
#     libsplitnn to the fastest of them (lower is better; target <= 0.8);
#   - the same with one core kept busy by another process (`yes` pinned to
#     one CPU): libsplitnn 1 and 2 threads, ONNX Runtime's fastest
#     configuration of each count, and libsplitnn at 2 threads with
#     SPLITNN_POOL=backoff (the pool's optional back-off from a held-up
#     worker, sn-pool.c), to measure whether it should be the default;
#   - achieved GFLOP/s on the detector, and each engine's rate on a dense
#     3x3 and a 1x1 convolution alone (bench/engine-kernels.py);
#   - the reference kernels' time (the oracle).
# libsplitnn runs once more with SPLITNN_KERNELS=xnnpack (XNNPACK's 1x1 GEMM
# instead of ours), for the gain of our kernel on this CPU.
# Wall times are medians; "cpu" is process CPU time per run (all threads),
# which a loaded machine inflates much less.
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
busy_pid=
cleanup() { [[ -n $busy_pid ]] && kill "$busy_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
py=/usr/bin/python3
$py -c "import numpy as np; np.save('$tmp/x.npy', (np.arange(512*512*3) * 7919 % 256).astype(np.float32).reshape(1,512,512,3))"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
field() { $py -c "import json,sys; d=json.load(sys.stdin); print(d['median_ms'], d['cpu_ms'])"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# ---- The machine ----
cpuinfo() { sed -n "s/^$1[[:space:]]*: *//p" /proc/cpuinfo | head -1; }
flags=" $(cpuinfo flags) "
isa=
for f in sse4_2 avx avx2 fma f16c avx512f avx512bw avx512vl avx512_vnni avx512_bf16 amx_tile; do
  [[ $flags == *" $f "* ]] && isa+="$f "
done
# Debian's XNNPACK (0.0~git20220216) picks its f32 microkernels once, from
# the CPU's flags; these are its rules (init.c), confirmed on AVX2 by perf
# (docs/performance.md).
if [[ $flags == *" avx512f "* ]]; then
  ukernels="GEMM/IGEMM 7x16 avx512f-broadcast, depthwise up16x{3,4,9,25} avx512f"
elif [[ $flags == *" fma "* && $flags == *" avx2 "* ]]; then
  ukernels="GEMM/IGEMM 5x16 fma3-broadcast, depthwise up16x{3,4,9} + up8x25 fma3"
elif [[ $flags == *" avx "* ]]; then
  ukernels="GEMM/IGEMM 5x16 avx-broadcast, depthwise up16x{3,4,9} + up8x25 avx"
else
  ukernels="GEMM/IGEMM 4x8 sse, depthwise up8x{3,4,9,25} sse"
fi
cpus=$(nproc)
echo "machine: $(cpuinfo 'model name'), family $(cpuinfo 'cpu family') model $(cpuinfo model), $cpus CPUs usable" \
  "(of $(grep -c ^processor /proc/cpuinfo)); ISA: ${isa% }"
own="none (XNNPACK's GEMM runs them)"
if [[ $flags == *" avx2 "* && $flags == *" fma "* && ${SPLITNN_KERNELS:-} != xnnpack ]]; then
  own="6x16 (+ 6x8 for a last panel of <= 8 columns) avx2+fma GEMM (libsplitnn/engine/sn-gemm.c) for 1x1 convolutions"
  if [[ ${SPLITNN_KERNELS:-} != gemm ]]; then
    own+=", 4-pixel x 8-channel avx2+fma depthwise (libsplitnn/engine/sn-dwconv.c) for 5x5, 3x3 on <= 32 channels, 3x3 stride 1 (2 rows at a time) on <= 96 channels or <= 32 x 32 maps"
  fi
fi
echo "XNNPACK microkernels for this CPU: $ukernels; libsplitnn's own: $own; thread pool: libsplitnn's (sn-pool.c)"
echo "ONNX Runtime: $(cd tests/oracle && node -e "console.log(require('onnxruntime-node/package.json').version)" 2>/dev/null || echo '?') (npm onnxruntime-node, CPU provider)"
echo "load average before: $(loadavg)"

# ONNX Runtime's optimised model, saved once at the highest level.
(node bench/engine-ort.mjs "$model" --runs 1 --save-optimized "$tmp/ort-optimized.onnx" > /dev/null) 2> /dev/null

sn() {   # THREADS -> "median_ms cpu_ms"
  build/tools/splitnn run "$model" --input images="$tmp/x.npy" --out-dir "$tmp" \
    --threads "$1" --repeat "$runs" --json | field
}
ort() {  # CONFIG THREADS -> "median_ms cpu_ms"
  local m=$model a=()
  case $1 in
    all) a=(--opt all) ;;
    extended) a=(--opt extended) ;;
    saved) m=$tmp/ort-optimized.onnx; a=(--opt disabled) ;;
    all-nospin) a=(--opt all --no-spin) ;;
  esac
  node bench/engine-ort.mjs "$m" --runs "$runs" --threads "$2" "${a[@]}" | field
}
ort_configs() { if (($1 == 1)); then echo all extended saved; else echo all extended saved all-nospin; fi; }

summary() {  # FILE -> "median_wall median_cpu"
  echo "$(cut -d' ' -f1 "$1" | median) $(cut -d' ' -f2 "$1" | median)"
}

declare -A best_cfg best_ms sn_ms
echo
echo "== idle machine (apart from its other users): medians of $rounds rounds x $runs runs"
for threads in 1 2; do
  : > "$tmp/sn.$threads"; : > "$tmp/snx.$threads"
  for c in $(ort_configs $threads); do : > "$tmp/ort.$c.$threads"; done
  for ((r = 0; r < rounds; r++)); do
    sn "$threads" >> "$tmp/sn.$threads"
    SPLITNN_KERNELS=xnnpack sn "$threads" >> "$tmp/snx.$threads"
    for c in $(ort_configs $threads); do ort "$c" "$threads" >> "$tmp/ort.$c.$threads"; done
  done
  read -r s scpu < <(summary "$tmp/sn.$threads")
  read -r sx sxcpu < <(summary "$tmp/snx.$threads")
  sn_ms[$threads]=$s
  best_ms[$threads]=
  best_cpu=
  line=
  for c in $(ort_configs $threads); do
    read -r o ocpu < <(summary "$tmp/ort.$c.$threads")
    line+=" $c $o ms (cpu $ocpu);"
    if [[ -z $best_cpu ]] || (($(echo "$ocpu < $best_cpu" | bc -l))); then best_cpu=$ocpu; fi
    if [[ -z ${best_ms[$threads]} ]] || (($(echo "$o < ${best_ms[$threads]}" | bc -l))); then
      best_ms[$threads]=$o; best_cfg[$threads]=$c
    fi
  done
  printf 'threads %d: libsplitnn %.1f ms (cpu %.1f), ONNX Runtime fastest (%s) %.1f ms, ratio %.2f\n' \
    "$threads" "$s" "$scpu" "${best_cfg[$threads]}" "${best_ms[$threads]}" "$(echo "$s / ${best_ms[$threads]}" | bc -l)"
  echo "  ONNX Runtime configurations:${line%;}"
  printf '  CPU time per frame: libsplitnn %.1f ms, ONNX Runtime least %.1f ms, ratio %.2f; libsplitnn with XNNPACK'"'"'s 1x1 GEMM (SPLITNN_KERNELS=xnnpack) %.1f ms wall, cpu %.1f ms\n' \
    "$scpu" "$best_cpu" "$(echo "$scpu / $best_cpu" | bc -l)" "$sx" "$sxcpu"
done
gflop=$(build/tools/splitnn inspect "$model" | sed -n 's/^flops: *\([0-9.]*\) GFLOP.*/\1/p')
printf 'achieved: libsplitnn %.1f GFLOP/s at 1 thread, %.1f at 2 (%.3f GFLOP per frame)\n' \
  "$(echo "$gflop * 1000 / ${sn_ms[1]}" | bc -l)" "$(echo "$gflop * 1000 / ${sn_ms[2]}" | bc -l)" "$gflop"

# ---- One core busy ----
busy_cpu=$($py -c "import os; print(max(os.sched_getaffinity(0)))")
if ((cpus >= 2)); then
  echo
  echo "== one core busy (yes pinned to CPU $busy_cpu): medians of $rounds rounds x $runs runs"
  taskset -c "$busy_cpu" yes > /dev/null &
  busy_pid=$!
  for t in 1 2; do : > "$tmp/bsn.$t"; : > "$tmp/bort.$t"; done
  : > "$tmp/bsnw.2"
  for ((r = 0; r < rounds; r++)); do
    for t in 1 2; do
      sn "$t" >> "$tmp/bsn.$t"
      ort "${best_cfg[$t]}" "$t" >> "$tmp/bort.$t"
    done
    SPLITNN_POOL=backoff sn 2 >> "$tmp/bsnw.2"
  done
  kill "$busy_pid"; busy_pid=
  read -r b1 _ < <(summary "$tmp/bsn.1"); read -r b2 _ < <(summary "$tmp/bsn.2")
  read -r o1 _ < <(summary "$tmp/bort.1"); read -r o2 _ < <(summary "$tmp/bort.2")
  read -r bw _ < <(summary "$tmp/bsnw.2")
  ob=$(echo "if ($o1 < $o2) $o1 else $o2" | bc -l)
  printf 'busy: libsplitnn 1 thread %.1f ms, 2 threads %.1f ms (2t/1t %.2f, target <= 1); ONNX Runtime %s 1 thread %.1f ms, %s 2 threads %.1f ms\n' \
    "$b1" "$b2" "$(echo "$b2 / $b1" | bc -l)" "${best_cfg[1]}" "$o1" "${best_cfg[2]}" "$o2"
  printf 'busy: ratio to the fastest ONNX Runtime under the same load: 1 thread %.2f, 2 threads %.2f\n' \
    "$(echo "$b1 / $ob" | bc -l)" "$(echo "$b2 / $ob" | bc -l)"
  printf 'busy: libsplitnn 2 threads with the pool'"'"'s back-off (SPLITNN_POOL=backoff) %.1f ms (2t/1t %.2f)\n' \
    "$bw" "$(echo "$bw / $b1" | bc -l)"
fi

# ---- Convolutions alone (1 thread) ----
echo
echo "== one convolution alone, 1 thread (bench/engine-kernels.py): medians of $rounds rounds x $runs runs"
$py bench/engine-kernels.py "$tmp/k" > "$tmp/k.flops"
while read -r name gf; do
  : > "$tmp/ksn"; : > "$tmp/kort"
  for ((r = 0; r < rounds; r++)); do
    build/tools/splitnn run "$tmp/k/$name.onnx" --input x="$tmp/k/$name.npy" --out-dir "$tmp" \
      --repeat "$runs" --json | field >> "$tmp/ksn"
    node bench/engine-ort.mjs "$tmp/k/$name.onnx" --runs "$runs" | field >> "$tmp/kort"
  done
  read -r s scpu < <(summary "$tmp/ksn"); read -r o ocpu < <(summary "$tmp/kort")
  printf '%s (%.2f GFLOP): libsplitnn %.1f ms = %.1f GFLOP/s (cpu %.1f GFLOP/s), ONNX Runtime %.1f ms = %.1f GFLOP/s (cpu %.1f GFLOP/s)\n' \
    "$name" "$gf" "$s" "$(echo "$gf * 1000 / $s" | bc -l)" "$(echo "$gf * 1000 / $scpu" | bc -l)" \
    "$o" "$(echo "$gf * 1000 / $o" | bc -l)" "$(echo "$gf * 1000 / $ocpu" | bc -l)"
done < "$tmp/k.flops"

ref=$(SPLITNN_ENGINE=reference build/tools/splitnn run "$model" --input images="$tmp/x.npy" --out-dir "$tmp" \
  --repeat 1 --json | field | cut -d' ' -f1)
printf '\nreference kernels (the oracle, 1 thread): %.0f ms\n' "$ref"
echo "load average after: $(loadavg)"
