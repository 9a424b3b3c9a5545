#!/bin/sh
# Time an ONNX model with TensorRT's trtexec for `layermerge --timer-cmd`.
#
#   tools/timers/trtexec.sh MODEL.onnx [TRTEXEC OPTIONS...]
#
# Runs `trtexec --onnx=MODEL.onnx --warmUp=500 --iterations=100
# --duration=0 --noDataTransfers [TRTEXEC OPTIONS...]` (the options given
# come last, so they override: e.g. --fp16, --iterations=500) and prints
# trtexec's "GPU Compute Time" line on stderr and its median in
# milliseconds alone on the last line of stdout (docs/measure.md, "Other
# runtimes"). The model's shapes are static (layermerge export), so no
# --shapes is needed. TRTEXEC names the binary (default: trtexec on PATH).
# Exit 1 when the model is missing, trtexec fails, or its log has no
# median (the log's tail goes to stderr); 2 on bad usage.
set -u
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
    echo "usage: trtexec.sh MODEL.onnx [TRTEXEC OPTIONS...]" >&2
    exit 2
fi
model=$1
shift
if [ ! -f "$model" ]; then
    echo "trtexec.sh: $model: no such file" >&2
    exit 1
fi
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
if ! "${TRTEXEC:-trtexec}" --onnx="$model" --warmUp=500 --iterations=100 \
        --duration=0 --noDataTransfers "$@" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "trtexec.sh: $model: trtexec failed" >&2
    exit 1
fi
# "[I] GPU Compute Time: min = 2.05 ms, max = 2.59 ms, mean = 2.09 ms,
#  median = 2.08 ms, percentile(99%) = 2.58 ms": the field after "median =".
if ! awk '/GPU Compute Time: min/ {
              for (i = 1; i + 2 <= NF; i++)
                  if ($i == "median" && $(i + 1) == "=") m = $(i + 2)
              line = $0 }
          END { if (m == "" || m + 0 <= 0) exit 1
                print line > "/dev/stderr"; print m + 0 }' "$log"; then
    tail -n 20 "$log" >&2
    echo "trtexec.sh: $model: no 'GPU Compute Time' median in trtexec's output" >&2
    exit 1
fi
