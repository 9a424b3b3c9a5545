#!/bin/sh
# `layermerge solve` and `layermerge front` on ResNet-34 with the small
# synthetic tables of tests/data (made by tests/data/gen_solve_tables.py).
# usage: solve.sh LAYERMERGE SOURCE_ROOT
set -u
lm=$1
root=$2
. "$root/tests/cli/lib.sh"

graph="$root/examples/models/resnet34.yaml"
data="$root/tests/data/solve_resnet34"
tables="--latency ${data}_latency.csv --importance ${data}_importance.csv"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck disable=SC2086
out=$("$lm" solve "$graph" $tables --ratio 0.7 -o "$tmp/r.yaml" 2>&1); st=$?
echo "$out"
check "solve succeeds" $st
has "$out" "method: *layermerge"; check "summary names the method" $?
has "$out" "original latency: *88.79"; check "summary states the original latency" $?
has "$out" "predicted latency:.*real.*units"; check "summary states real and discretised latency" $?
has "$out" "kept activations:"; check "summary lists kept activations" $?
has "$out" "pruned convs:"; check "summary lists pruned convs" $?
has "$out" " seg .* st .* end .*entry"; check "per-segment table" $?
for key in activations convs segments importance latency latency_discrete \
           method fingerprint budget precision rounding merges; do
    grep -q "^$key:" "$tmp/r.yaml"; check "result YAML has '$key'" $?
done
grep -q "{st: 0, end: .*ker: .*is_dw: .*convs: \[" "$tmp/r.yaml"; check "segments carry st/end/ker/is_dw/convs" $?
lat=$(sed -n 's/^latency: //p' "$tmp/r.yaml")
bud=$(sed -n 's/^budget: //p' "$tmp/r.yaml")
awk -v l="$lat" -v b="$bud" 'BEGIN { exit !(l <= b) }'; check "latency $lat <= budget $bud" $?

# shellcheck disable=SC2086
out=$("$lm" front "$graph" $tables --ratio 0.7 2>&1); st=$?
echo "$out" | head -5
check "front succeeds" $st
has "$out" "latency_ms .*units .*importance .*segments .*pruned"; check "front header" $?
rows=$(printf '%s\n' "$out" | awk 'NR > 1' | wc -l)
[ "$rows" -gt 3 ]; check "front has several points ($rows)" $?
printf '%s\n' "$out" | awk 'NR > 2 && ($2 <= l || $4 <= i) { bad = 1 } NR > 1 { l = $2; i = $4 } END { exit bad }'
check "front is increasing in latency and importance" $?

# shellcheck disable=SC2086
out=$("$lm" solve "$graph" $tables --budget 1 2>&1); st=$?
echo "$out"
[ $st -eq 1 ]; check "an infeasible budget exits 1" $?
has "$out" "smallest feasible budget 25.5"; check "the message names the minimum" $?

out=$("$lm" solve "$graph" --method prune --latency "${data}_latency.csv" \
      --conv-importance "${data}_convs.csv" --ratio 0.7 2>&1); st=$?
check "prune succeeds" $st
has "$out" "method: *prune"; check "prune summary" $?

"$lm" solve "$graph" --latency "${data}_latency.csv" --budget 5 >/dev/null 2>&1
[ $? -eq 2 ]; check "missing --importance is a usage error" $?
# shellcheck disable=SC2086
"$lm" solve "$graph" $tables --budget 5 --ratio 0.5 >/dev/null 2>&1
[ $? -eq 2 ]; check "--budget with --ratio is a usage error" $?
# shellcheck disable=SC2086
"$lm" solve "$graph" $tables --rounding up >/dev/null 2>&1
[ $? -eq 2 ]; check "a bad --rounding is a usage error" $?
"$lm" solve "$root/examples/models/mobilenetv2.yaml" $tables --ratio 0.5 >/dev/null 2>&1
[ $? -eq 1 ]; check "tables of another graph fail" $?
"$lm" solve --help | grep -q -- "--ratio"; check "solve --help" $?
"$lm" front --help | grep -q "non-dominated"; check "front --help" $?
"$lm" --help | grep -q "solve"; check "--help lists solve" $?

# kim23 from the authors' files alone: the real MobileNetV2 time table and
# a raw importance table with every (st_act, end_act) combination of docs/method.md section 7
# (identity positions 2, 5, ..., 50), scores falling with the span.
time="$root/tests/data/upstream-kim23/mbv2_1.0/time_fish_gpu1_1228.csv"
awk -F, 'NR == 1 { print "id,st,end,st_act,end_act,val_acc"; next }
    function row(a, b) { printf "%d,%d,%d,%d,%d,%.4f\n", n++, $2, $3, a, b, 72 - ($3 - $2) * 0.37 - (a == 0) * 0.11 - (b == 0) * 0.05 - ($2 % 7) * 0.01 }
    { if ($2 == 0) row(1, 1)
      else if ($2 % 3 == 2) { row(1, 1); row(0, 1) }
      else if ($3 % 3 == 2) { row(1, 1); row(1, 0) }
      else row(1, 1) }' "$time" > "$tmp/raw.csv"
out=$("$lm" solve --method kim23 --latency "$time" --importance "$tmp/raw.csv" --budget 25 --precision 10 -o "$tmp/k.yaml" 2>&1); st=$?
echo "$out"
check "kim23 solves from the authors' files alone" $st
for key in activations merges importance latency; do
    grep -q "^$key:" "$tmp/k.yaml"; check "kim23 result has '$key'" $?
done
lat=$(sed -n 's/^latency: //p' "$tmp/k.yaml")
awk -v l="$lat" 'BEGIN { exit !(l <= 25) }'; check "kim23 latency $lat <= 25" $?
"$lm" solve --method kim23 --latency "$time" --importance "$tmp/raw.csv" --budget 1 --precision 10 >/dev/null 2>&1
[ $? -eq 1 ]; check "kim23 infeasible budget fails" $?

finish
