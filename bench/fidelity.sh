#!/bin/sh
# Latency fidelity: does the whole-network prediction of a latency table
# match the measured network, and do measured speed-ups follow the budget?
# For one network, input size and thread count it measures two latency
# tables back to back (their per-entry agreement is the table's
# repeatability), then compresses at the given budgets from the first table
# and times original and merged networks interleaved. It prints figures; it
# asserts nothing (docs/measure.md, "Fidelity").
#
# usage: bench/fidelity.sh LAYERMERGE GRAPH SIZE THREADS [RATIOS] [CALIBRATE]
#   RATIOS     budgets, default 0.9,0.8,0.7,0.6,0.5,0.4
#   CALIBRATE  on, off or auto (compress --calibrate), default auto
#   TIMER_CMD  (environment) time in another runtime: passed to latency and
#              compress as --timer-cmd (docs/measure.md)
# e.g. bench/fidelity.sh build/tools/layermerge examples/models/resnet34.yaml 112 1
#      TIMER_CMD='node tools/timers/onnxruntime.js {onnx} --threads {threads}' \
#          bench/fidelity.sh build/tools/layermerge examples/models/resnet34.yaml 112 1
set -eu
lm=$1
graph=$2
size=$3
threads=$4
ratios=${5:-0.9,0.8,0.7,0.6,0.5,0.4}
calibrate=${6:-auto}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
name=$(basename "$graph" .yaml)

timer=${TIMER_CMD:-}
echo "== $name at ${size}x${size}, $threads thread(s), calibrate $calibrate${timer:+, timed by: $timer}"
# "$@" carries --timer-cmd when TIMER_CMD is set.
if [ -n "$timer" ]; then set -- --timer-cmd "$timer"; else set --; fi
start=$(date +%s)
# Table b by `layermerge latency`, then table a by compress itself, back to
# back; compress solves on a.
"$lm" latency "$graph" -o "$tmp/b.yaml" --size "$size" --threads "$threads" \
    "$@" 2>/dev/null | grep -E '^(threads|network)'
"$lm" compress "$graph" -o "$tmp/c" --size "$size" --threads "$threads" \
    --ratio "$ratios" --calibrate "$calibrate" "$@" >"$tmp/out" 2>"$tmp/err" || true
grep -E '^timer command' "$tmp/err" || true
grep -E '^(threads|network)' "$tmp/out"
"$lm" table export "$tmp/c.latency.yaml" -o "$tmp/a.csv" >/dev/null
"$lm" table export "$tmp/b.yaml" -o "$tmp/b.csv" >/dev/null

# Repeatability: |a - b| / mean per non-identity entry, matched by id.
awk -F, 'FNR == 1 { next }
         NR == FNR { a[$1] = $7; next }
         ($1 in a) && $7 > 0 && a[$1] > 0 {
             d = a[$1] - $7; if (d < 0) d = -d
             r[++n] = 200 * d / (a[$1] + $7) }
         END {
             # insertion sort: n is a few hundred
             for (i = 2; i <= n; i++) { v = r[i]; j = i - 1
                 while (j > 0 && r[j] > v) { r[j + 1] = r[j]; j-- }
                 r[j + 1] = v }
             printf "table repeatability (two tables back to back, %d entries): " \
                    "median %.1f%%, p90 %.1f%%, max %.1f%%\n", n,
                    r[int((n + 1) / 2)], r[int(0.9 * n + 0.5)], r[n] }' \
    "$tmp/a.csv" "$tmp/b.csv"

# The whole-network model of the table compress solved on.
"$lm" table show "$tmp/c.latency.yaml" | grep -E '^  (fixed cost|stage)'
grep -E '^original:' "$tmp/out"
grep -E 'smallest feasible' "$tmp/err" | sed 's/^/infeasible: /' || true
printf '%6s %10s %10s %8s %10s %14s %10s\n' ratio predicted measured pred/meas \
    merged/orig "(min-max ms)" "ratio err"
grep '^budget_ratio=' "$tmp/out" | tr '=' ' ' |
    awk '{ r = $2; p = $4; o = $6; m = $8; lo = $10; hi = $12
           printf "%6.2f %10.2f %10.2f %8.3f %10.3f %14s %+10.3f\n", r, p, m,
                  p / m, m / o, sprintf("%.2f-%.2f", lo, hi), m / o - r }'
echo "($(( $(date +%s) - start )) s)"
