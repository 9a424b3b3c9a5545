#!/bin/sh
# `--timer-cmd`: latency tables and compress timed by a command. The timer
# here is deterministic (the model's size in bytes / 1e6 as milliseconds),
# so the checks do not depend on this machine's speed; tests/cli/runtimes.sh
# drives the shipped ONNX Runtime timer.
# usage: timer_cmd.sh LAYERMERGE SOURCE_ROOT
set -u
lm=$1
root=$2
. "$root/tests/cli/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1
# The timer's scratch directories go here; none may be left behind.
mkdir "$tmp/scratch"
export TMPDIR="$tmp/scratch"
r18="$root/examples/models/resnet18.yaml"
n=$("$lm" entries "$r18" 2>/dev/null | tail -n +2 | wc -l)
bytes='wc -c < {onnx} | awk "{ print \$1 / 1e6 }"'
records() { "$lm" table show "$1" | sed -n 's/^ *records: *//p'; }

"$lm" latency --help | grep -q -- "--timer-cmd CMD"; check "latency --help names --timer-cmd" $?
"$lm" compress --help | grep -q -- "--timer-cmd CMD"; check "compress --help names --timer-cmd" $?

# A complete table, its provenance, and a fixed cost from the whole network.
"$lm" latency "$r18" -o "$tmp/lat.yaml" --size 32 --passes 2 --timer-cmd "$bytes" >"$tmp/o1" 2>"$tmp/e1"
check "latency --timer-cmd" $?
[ "$(records "$tmp/lat.yaml")" = "$n" ]; check "every entry is in the table" $?
grep -q 'timer: "command: wc -c' "$tmp/lat.yaml"; check "the table records the command" $?
grep -q "fixed cost" "$tmp/e1"; check "the whole network gives the fixed cost" $?
fixed=$(sed -n 's/^ *fixed_ms: *//p' "$tmp/lat.yaml")
awk -v f="$fixed" 'BEGIN { exit !(f > 0) }'; check "fixed cost $fixed > 0 (stem and head are in no entry)" $?
# The stages: in the network (differences of prefix models) against alone
# (the entries); with this timer both are weight bytes, so they agree.
grep -q "4 of 4 stages calibrated in-network" "$tmp/e1"; check "every stage of resnet18 calibrated" $?
awk '/^  - \{st: [0-9]+, end: [0-9]+, alone_ms/ {
         gsub(/[{},]/, ""); a = $7; b = $9; n++
         if (b < 0.9 * a || b > 1.1 * a) bad++ }
     END { exit !(n == 4 && bad == 0) }' "$tmp/lat.yaml"
check "stage in-network time within 10% of the entries alone (bytes)" $?

# Resuming measures nothing; another command is refused.
out=$("$lm" latency "$r18" -o "$tmp/lat.yaml" --size 32 --passes 2 --timer-cmd "$bytes" 2>&1)
check "resume with the same command" $?
has "$out" "measured 0 entries ($n already measured)"; check "a complete table measures nothing" $?
cp "$tmp/lat.yaml" "$tmp/lat.before"
out=$("$lm" latency "$r18" -o "$tmp/lat.yaml" --size 32 --passes 2 --timer-cmd "echo 1.0" 2>&1)
[ $? -eq 1 ]; check "another command on the same table fails" $?
has "$out" "was timed with"; check "naming both timers" $?
cmp -s "$tmp/lat.yaml" "$tmp/lat.before"; check "and leaves the table as it was" $?
out=$("$lm" latency "$r18" -o "$tmp/lat.yaml" --size 32 --passes 2 2>&1)
[ $? -eq 1 ]; check "the built-in timer on a command's table fails" $?

# Failures name the entry and show the command's stderr.
out=$("$lm" latency "$r18" -o "$tmp/fail.yaml" --size 32 --timer-cmd 'echo boom-on-stderr >&2; exit 3' 2>&1)
[ $? -eq 1 ]; check "a failing command fails the run" $?
printf '%s\n' "$out" | grep -q -- "--timer-cmd: entry [0-9]* (segment [0-9]*\.\.[0-9]*, kernel"; check "naming the entry" $?
has "$out" "exited with status 3"; check "and the exit status" $?
has "$out" "boom-on-stderr"; check "and showing the command's stderr" $?
out=$("$lm" latency "$r18" -o "$tmp/nan.yaml" --size 32 --timer-cmd 'echo warming up; echo fast' 2>&1)
[ $? -eq 1 ]; check "a last line that is no number fails" $?
has "$out" 'last line is not "MEDIAN_MS \[STDEV_MS\]" but "fast"'; check "quoting the line" $?
out=$("$lm" latency "$r18" -o "$tmp/two.yaml" --size 32 --passes 1 --timer-cmd 'echo "log line"; echo "0.5 0.01"' 2>&1)
check "MEDIAN STDEV on the last line is read" $?
grep -q "ms: 0.5, stdev: 0.01," "$tmp/two.yaml"; check "and both numbers are stored" $?
"$lm" table show "$tmp/two.yaml" >/dev/null; check "and the table loads" $?
out=$("$lm" latency "$r18" -o "$tmp/sub.yaml" --size 32 --passes 1 --range 0:3 --timer-cmd 'test {batch} = 4 && test {threads} = 1 && echo 0.25' --batch 4 2>&1)
check "{batch} and {threads} are replaced" $?

# compress times the original and merged networks with the command.
out=$("$lm" compress "$r18" -o "$tmp/c" --size 32 --ratio 0.9 --passes 1 --rounds 2 --reps 2 --timer-cmd "$bytes" 2>"$tmp/ce")
check "compress --timer-cmd" $?
echo "$out" | tail -3
has "$out" "timed by: command: wc -c"; check "the summary names the timer" $?
has "$out" "latency table: calibrated in-network"; check "compress solves on the calibrated table" $?
line=$(printf '%s\n' "$out" | grep '^budget_ratio=0.90 ')
[ -n "$line" ]; check "a key=value line for the budget" $?
# The merged network has fewer convs, so its model is smaller: faster here.
speedup=$(printf '%s\n' "$line" | sed 's/.* speedup=\([0-9.]*\) .*/\1/')
awk -v s="$speedup" 'BEGIN { exit !(s > 1) }'; check "speed-up $speedup > 1 by the command's measure" $?
[ -z "$(ls "$tmp/scratch")" ]; check "no scratch directory is left behind" $?
finish
