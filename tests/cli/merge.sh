#!/bin/sh
# `layermerge plan`, `merge` and `verify` on ResNet-34 with random weights
# and a result solved from the small synthetic tables of tests/data.
# usage: merge.sh LAYERMERGE SOURCE_ROOT
set -u
lm=$1
root=$2
. "$root/tests/cli/lib.sh"

graph="$root/examples/models/resnet34.yaml"
data="$root/tests/data/solve_resnet34"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1

# A mild budget keeps the merged kernels (and the merge) small.
"$lm" solve "$graph" --latency "${data}_latency.csv" \
    --importance "${data}_importance.csv" --ratio 0.9 -o "$tmp/r.yaml" >/dev/null 2>&1
check "solve writes a result" $?

out=$("$lm" plan "$graph" --result "$tmp/r.yaml" 2>&1); st=$?
check "plan --result succeeds" $st
has "$out" "padding"; check "plan lists paddings" $?
"$lm" plan "$graph" --entry 5 -o "$tmp/p.yaml" >/dev/null 2>&1
check "plan --entry -o succeeds" $?
[ -s "$tmp/p.yaml" ]; check "plan file written" $?
"$lm" plan "$graph" >/dev/null 2>&1
[ $? -eq 2 ]; check "plan without --entry/--result is a usage error" $?

out=$("$lm" merge "$graph" --random-weights 3 "$tmp/r.yaml" -o "$tmp/m" 2>&1); st=$?
echo "$out"
check "merge succeeds" $st
has "$out" "weights: random (seed 3)"; check "merge says the weights are random" $?
has "$out" "trunk convs: 32 -> "; check "merge states convs before/after" $?
has "$out" "parameters: "; check "merge states parameters" $?
has "$out" "merge time: "; check "merge states the time" $?
[ -s "$tmp/m.yaml" ] && [ -s "$tmp/m.safetensors" ]; check "OUT.yaml and OUT.safetensors written" $?
"$lm" graph check "$tmp/m.yaml" >/dev/null 2>&1; check "merged graph loads and validates" $?

out=$("$lm" verify "$graph" --random-weights 3 "$tmp/r.yaml" --merged "$tmp/m.yaml" 2>&1); st=$?
echo "$out" | tail -3
check "verify --merged succeeds" $st
last=$(printf '%s\n' "$out" | tail -n 1)
printf '%s\n' "$last" | grep -Eq '^max_abs_error=[0-9.e+-]+ max_rel_error=[0-9.e+-]+$'
check "last line is 'max_abs_error=X max_rel_error=Y'" $?

out=$("$lm" verify "$graph" --random-weights 3 "$tmp/r.yaml" --batch 1 --seed 7 2>&1); st=$?
check "verify merging in memory succeeds" $st
has "$(printf '%s\n' "$out" | tail -n 1)" "^max_abs_error="; check "in-memory verify last line" $?

"$lm" verify "$graph" --random-weights 3 "$tmp/r.yaml" --merged "$tmp/m.yaml" \
    --tolerance 0 >/dev/null 2>&1
[ $? -eq 1 ]; check "verify exits 1 above the tolerance" $?

# Weights of another seed than the merged ones: the networks differ.
"$lm" verify "$graph" --random-weights 4 "$tmp/r.yaml" --merged "$tmp/m.yaml" >/dev/null 2>&1
[ $? -eq 1 ]; check "verify catches mismatched weights" $?

# A result for another graph: both fingerprints named.
other="$root/examples/models/resnet18.yaml"
out=$("$lm" merge "$other" --random-weights 3 "$tmp/r.yaml" -o "$tmp/x" 2>&1); st=$?
[ $st -eq 1 ]; check "merge refuses a result of another graph" $?
fp=$(sed -n 's/^fingerprint: *//p' "$tmp/r.yaml" | tr -d '"')
has "$out" "$fp"; check "error names the result's fingerprint" $?
"$lm" merge "$graph" "$tmp/r.yaml" >/dev/null 2>&1
[ $? -eq 2 ]; check "merge without -o is a usage error" $?
"$lm" merge "$graph" "$tmp/missing.safetensors" "$tmp/r.yaml" -o "$tmp/y" >/dev/null 2>&1
[ $? -eq 1 ]; check "merge with a missing weights file fails" $?

finish
