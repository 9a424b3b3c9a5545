#!/bin/sh
# `layermerge latency` and `layermerge importance`: measure, resume after a
# partial run and after an interruption, proxy importance, shard plans.
# usage: latency.sh LAYERMERGE SOURCE_ROOT
set -u
lm=$1
root=$2
. "$root/tests/cli/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1
r18="$root/examples/models/resnet18.yaml"
n=$("$lm" entries "$r18" 2>/dev/null | tail -n +2 | wc -l)
[ "$n" -gt 10 ]; check "resnet18 has more than 10 entries ($n)" $?
records() { "$lm" table show "$1" | sed -n 's/^ *records: *//p'; }

"$lm" latency --help | grep -q -- "--range A:B"; check "latency --help" $?
"$lm" importance --help | grep -q "shard"; check "importance --help" $?
"$lm" latency "$r18" >/dev/null 2>&1
[ $? -eq 2 ]; check "a missing -o is a usage error" $?

# A first worker measures ids 0..9; the full run then resumes from it.
"$lm" latency "$r18" -o "$tmp/lat.yaml" --size 32 --reps 2 --warmup 0 --range 0:10 >"$tmp/o1" 2>"$tmp/e1"
check "measure ids 0..9" $?
[ "$(records "$tmp/lat.yaml")" = 10 ]; check "10 records saved" $?
grep -q "entry timings (100%)" "$tmp/e1"; check "progress reaches 100% on stderr, counting entry timings" $?
out=$("$lm" latency "$r18" -o "$tmp/lat.yaml" --size 32 --reps 2 --warmup 0 2>/dev/null)
check "resume the full run" $?
echo "$out"
has "$out" "10 of $n entries already measured"; check "the re-run reports the present entries" $?
has "$out" "measured $((n - 10)) entries (10 already measured)"; check "and measures only the rest" $?
[ "$(records "$tmp/lat.yaml")" = "$n" ]; check "the table holds every entry" $?
"$lm" table show "$tmp/lat.yaml" | grep -q "input: *32x32"; check "provenance: input size" $?
"$lm" table show "$tmp/lat.yaml" | grep -q "timer: *lm_engine"; check "provenance: timer" $?
out=$("$lm" latency "$r18" -o "$tmp/lat.yaml" --size 32 --reps 2 2>/dev/null)
has "$out" "measured 0 entries ($n already measured)"; check "a complete table measures nothing" $?
out=$("$lm" latency "$r18" -o "$tmp/lat.yaml" --size 64 --reps 2 2>&1)
[ $? -eq 1 ]; check "resuming at another size fails" $?
has "$out" "input height 32"; check "naming the table's size" $?
out=$("$lm" latency "$root/examples/models/resnet34.yaml" -o "$tmp/lat.yaml" 2>&1)
[ $? -eq 1 ]; check "a table of another graph is refused" $?

# Interrupt a slow run after its first save: the file is whole, and a
# re-run counts what it holds as already measured.
"$lm" latency "$r18" -o "$tmp/big.yaml" --reps 3 --warmup 0 --passes 1 >/dev/null 2>"$tmp/e2" &
pid=$!
i=0
while [ ! -s "$tmp/big.yaml" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid
wait $pid
rc=$?
k=$(records "$tmp/big.yaml")
echo "interrupted run: exit $rc, $k records"
[ -n "$k" ] && [ "$k" -ge 1 ]; check "the interrupted table loads with its entries" $?
if [ "$k" -lt "$n" ]; then
    [ $rc -eq 1 ]; check "an interrupted run exits 1" $?
    grep -q "interrupted; .* keeps $k entries" "$tmp/e2"; check "and says what it kept" $?
fi
out=$("$lm" latency "$r18" -o "$tmp/big.yaml" --reps 3 --warmup 0 --passes 1 2>/dev/null)
has "$out" "$k of $n entries already measured"; check "the re-run skips them" $?
has "$out" "measured $((n - k)) entries"; check "and times only the rest" $?

# Proxy importance and the plans of a shard.
"$lm" importance proxy "$r18" --random-weights 1 -o "$tmp/imp.yaml" --size 32 --batch 2 --range 0:4 2>/dev/null >"$tmp/o3"
check "proxy importance of ids 0..3" $?
[ "$(records "$tmp/imp.yaml")" = 4 ]; check "4 records" $?
"$lm" table show "$tmp/imp.yaml" | grep -q "data-free proxy (not the paper"; check "labelled as a proxy" $?
grep -q "{id: 0, .*value: 1.0, raw: 0.0, convs: \[1\]}" "$tmp/imp.yaml"; check "the original conv 1 scores 1, with the subset it kept" $?
out=$("$lm" importance proxy "$r18" --random-weights 1 -o "$tmp/imp.yaml" --size 32 --batch 2 --range 0:6 2>/dev/null)
has "$out" "4 of 6 entries already scored"; check "proxy resumes" $?
"$lm" importance proxy "$r18" -o "$tmp/x.yaml" >/dev/null 2>&1
[ $? -eq 2 ]; check "proxy without weights is a usage error" $?
"$lm" importance shard "$r18" --range 3:5 -o "$tmp/plans.yaml" 2>/dev/null
check "shard plans" $?
[ "$(grep -c '^---$' "$tmp/plans.yaml")" = 2 ]; check "two plan documents" $?
grep -q "^entry: {id: 3, st: " "$tmp/plans.yaml"; check "each names its entry" $?
grep -q "^format: layermerge-plan" "$tmp/plans.yaml"; check "and is a plan" $?
finish
