#!/bin/sh
# `layermerge compress` end to end on ResNet-18 at a small size: the
# machine-readable lines, measured speed-ups, merge error, resumed tables.
# usage: compress.sh LAYERMERGE SOURCE_ROOT
set -u
lm=$1
root=$2
. "$root/tests/cli/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args="$root/examples/models/resnet18.yaml -o $tmp/r18 --ratio 0.97 --size 32 --reps 2 --warmup 1"

# shellcheck disable=SC2086
out=$("$lm" compress $args 2>"$tmp/err"); st=$?
echo "$out"
check "compress succeeds" $st
has "$out" "seeded random weights"; check "says it uses random weights" $?
lines=$(printf '%s\n' "$out" | grep -c '^budget_ratio=[0-9.]* predicted_ms=[0-9.]* original_ms=[0-9.]* merged_ms=[0-9.]* merged_ms_min=[0-9.]* merged_ms_max=[0-9.]* speedup=[0-9.]* max_rel_error=[0-9.e+-]* threads=1$')
[ "$lines" -eq 1 ]; check "one machine-readable line per budget" $?
printf '%s\n' "$out" | grep '^budget_ratio=' | tr ' =' '\n\n' |
    awk 'NR % 2 == 0 { v[++n] = $1 } END {
        # predicted, original, merged, min, max, speedup
        p = v[2]; o = v[3]; m = v[4]; lo = v[5]; hi = v[6]; s = v[7]
        ok = p > 0 && lo <= m && m <= hi && s > 0 && (s - o / m) ^ 2 < 1e-6
        exit !ok }'
check "min <= median <= max, speedup = original / merged" $?
has "$out" "1 thread, 5 interleaved rounds"; check "the timing protocol is stated" $?
has "$out" "threads 1, 3 passes"; check "the measurement states its passes" $?
has "$out" "outside the entries"; check "and the fixed cost it measured" $?
"$lm" table show "$tmp/r18.latency.yaml" | grep -q "threads: *1"; check "the table records its thread count" $?
printf '%s\n' "$out" | grep '^budget_ratio=' | sed 's/.*max_rel_error=//' |
    awk '{ if ($1 > 1e-5) bad = 1 } END { exit bad }'; check "merge error <= 1e-5 relative" $?
for r in 0.97; do
    [ -s "$tmp/r18-r$r.yaml" ] && [ -s "$tmp/r18-r$r.safetensors" ] && [ -s "$tmp/r18-r$r.result.yaml" ]
    check "budget $r wrote the merged network and the result" $?
    "$lm" graph check "$tmp/r18-r$r.yaml" | grep -q "input: *3x224x224"
    check "the merged graph is saved at the model's own size" $?
done
[ -s "$tmp/r18.latency.yaml" ] && [ -s "$tmp/r18.importance.yaml" ]; check "tables saved" $?

# merge, given the same (seeded) weights and the result, builds the same
# network as compress: one subset rule for every command.
"$lm" merge "$root/examples/models/resnet18.yaml" --random-weights 0 \
    "$tmp/r18-r0.97.result.yaml" -o "$tmp/again" >/dev/null 2>&1
check "merge the compress result" $?
cmp -s "$tmp/again.safetensors" "$tmp/r18-r0.97.safetensors"
check "the same merged weights as compress" $?
cmp -s "$tmp/again.yaml" "$tmp/r18-r0.97.yaml"
check "the same merged graph as compress" $?
grep -q "convs: \[" "$tmp/r18.importance.yaml"
check "the importance table records each entry's kept convs" $?

# A second run finds both tables complete and measures nothing again.
# shellcheck disable=SC2086
"$lm" compress $args >"$tmp/out2" 2>&1; check "second run succeeds" $?
grep -q "30 of 30 entries already measured" "$tmp/out2" && grep -q "30 of 30 entries already scored" "$tmp/out2"; check "the second run resumes the tables" $?

# A budget below the smallest feasible one fails with the minimum named,
# while the other budgets still get their answer.
# shellcheck disable=SC2086
out=$("$lm" compress $(echo "$args" | sed "s/--ratio 0.97/--ratio 0.05,0.97/") 2>&1); st=$?
[ $st -eq 1 ]; check "an infeasible budget exits 1" $?
has "$out" "smallest feasible budget"; check "the message names the minimum" $?
has "$out" "^budget_ratio=0.97 "; check "the feasible budget is still reported" $?

# A diffusion U-Net end to end (the miniature one of tests/data): tables,
# solve, merge with the identity option and composed time projections,
# the merged network verified and timed with timesteps.
u="$root/tests/data/graph_unet_mini.yaml"
out=$("$lm" compress "$u" -o "$tmp/u" --ratio 0.9 --reps 2 --warmup 1 --rounds 2 2>"$tmp/err"); st=$?
check "compress of a U-Net succeeds" $st
has "$out" "unet_mini: 9 trunk convs, 16 entries"; check "it names the U-Net's entries" $?
printf '%s\n' "$out" | grep '^budget_ratio=0.90 ' | sed 's/.*max_rel_error=//; s/ .*//' |
    awk '{ if ($1 + 0 > 1e-5) bad = 1; n++ } END { exit bad || n != 1 }'
check "the merged U-Net equals its chain within 1e-5" $?
"$lm" graph check "$tmp/u-r0.90.yaml" | grep -q "time embedding: 8 -> 32 channels"
check "the merged U-Net keeps its time embedding" $?
grep -q "timesteps uniform in 0..999" "$tmp/u.importance.yaml"
check "the proxy table says it drew timesteps" $?

"$lm" compress "$root/examples/models/resnet18.yaml" >/dev/null 2>&1; [ $? -eq 2 ]; check "no -o is a usage error" $?
"$lm" compress --help | grep -q "budget_ratio="; check "--help documents the output lines" $?
finish
