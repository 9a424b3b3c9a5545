#!/bin/sh
# The pictures: `front --svg/--csv/--mark` on ResNet-34 with the synthetic
# tables of tests/data, and `compress --report` on ResNet-18 at a small
# size. The SVG and HTML are parsed (tests/cli/pictures_check.py), never
# rendered.
# usage: pictures.sh LAYERMERGE SOURCE_ROOT
set -u
lm=$1
root=$2
. "$root/tests/cli/lib.sh"
py=/usr/bin/python3
checker="$root/tests/cli/pictures_check.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

graph="$root/examples/models/resnet34.yaml"
data="$root/tests/data/solve_resnet34"
tables="--latency ${data}_latency.csv --importance ${data}_importance.csv"

# shellcheck disable=SC2086
"$lm" front "$graph" $tables --ratio 0.95 --svg "$tmp/front.svg" \
    --csv "$tmp/front.csv" --mark 0.5,0.7 >"$tmp/front.txt" 2>&1
check "front --svg --csv --mark succeeds" $?
for r in 0.5 0.7; do
    # shellcheck disable=SC2086
    "$lm" solve "$graph" $tables --ratio $r >"$tmp/solve$r.txt" 2>&1
    check "solve --ratio $r" $?
done
"$py" "$checker" front "$tmp/front.txt" "$tmp/front.svg" "$tmp/front.csv" \
    "$tmp/solve0.5.txt" "$tmp/solve0.7.txt"
check "the SVG is well-formed with every point and mark, the CSV matches" $?
touch "$tmp/ref"
[ "$(stat -c %a "$tmp/front.svg")" = "$(stat -c %a "$tmp/ref")" ]
check "the SVG gets the usual file mode" $?
[ -z "$(find "$tmp" -name '*.tmp.*')" ]; check "no temporary file left" $?

# shellcheck disable=SC2086
"$lm" front "$graph" $tables --ratio 0.95 --csv - >"$tmp/stdout.csv" 2>&1
check "front --csv - succeeds" $?
cmp -s "$tmp/stdout.csv" "$tmp/front.csv"; check "--csv - prints the same CSV instead of the table" $?

# shellcheck disable=SC2086
"$lm" front "$graph" $tables --mark 0.5,1.5 --svg "$tmp/x.svg" >/dev/null 2>&1
[ $? -eq 2 ]; check "a --mark ratio above 1 is a usage error" $?
# shellcheck disable=SC2086
"$lm" solve "$graph" $tables --svg "$tmp/x.svg" >/dev/null 2>&1
[ $? -eq 2 ]; check "solve has no --svg" $?
cp "${data}_latency.csv" "$tmp/lat.csv"
# shellcheck disable=SC2086
"$lm" front "$graph" --latency "$tmp/lat.csv" --importance "${data}_importance.csv" \
    --svg "$tmp/lat.csv" >/dev/null 2>&1
[ $? -eq 2 ]; check "--svg onto an input is refused" $?
cmp -s "$tmp/lat.csv" "${data}_latency.csv"; check "and the input is untouched" $?
# shellcheck disable=SC2086
"$lm" front "$graph" $tables --svg "$tmp/no/such/dir/f.svg" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "f.svg: the directory '.*/no/such/dir' does not exist" "$tmp/err"; check "an --svg into a missing directory is refused naming it" $?
"$lm" front --help | grep -q -- "--svg FILE"; check "front --help documents --svg" $?

# compress --report: the fast settings of compress.sh, two budgets, a
# directory that does not exist yet (parents created). The latency table
# comes from a deterministic timer (each entry's ONNX model size), so which
# budgets are feasible does not depend on how busy the machine is; the
# networks are still timed in the engine.
r18="$root/examples/models/resnet18.yaml"
fast="--size 32 --reps 2 --warmup 1 --rounds 2 --passes 1 --remeasure 0"
"$lm" latency "$r18" -o "$tmp/r18.lat.yaml" --size 32 --passes 1 \
    --timer-cmd 'wc -c < {onnx} | awk "{ print \$1 / 1e6 }"' >/dev/null 2>&1
check "a deterministic latency table for the report" $?
# shellcheck disable=SC2086
"$lm" compress "$r18" -o "$tmp/r18" --latency "$tmp/r18.lat.yaml" \
    --ratio 0.9,0.8 $fast \
    --report "$tmp/rep/r18" >"$tmp/compress.txt" 2>"$tmp/compress.err"
check "compress --report succeeds" $?
[ -s "$tmp/rep/r18/index.html" ]; check "the report is DIR/index.html" $?
grep -q "^report: $tmp/rep/r18/index.html" "$tmp/compress.txt"; check "compress names the report" $?
# The report's front: the tables compress wrote, solved as compress does.
"$lm" front "$r18" --latency "$tmp/r18.lat.yaml" --importance "$tmp/r18.importance.yaml" \
    --precision 0 --ratio 1 >"$tmp/front18.txt" 2>&1
check "front on compress's tables" $?
"$py" "$checker" report "$tmp/rep/r18/index.html" "$tmp/compress.txt" 16 "$tmp/front18.txt"
check "the report is well-formed, self-contained, one picture per budget, its numbers printed" $?

touch "$tmp/afile"
# shellcheck disable=SC2086
"$lm" compress "$r18" -o "$tmp/r18" --latency "$tmp/r18.lat.yaml" --ratio 0.9 $fast --report "$tmp/afile" \
    >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "afile' is not a directory" "$tmp/err"; check "--report onto a file is refused before any work, naming it" $?
mkdir "$tmp/in"; cp "$tmp/r18.lat.yaml" "$tmp/in/index.html"
# shellcheck disable=SC2086
"$lm" compress "$r18" -o "$tmp/r18" --latency "$tmp/in/index.html" $fast \
    --report "$tmp/in" >/dev/null 2>&1
[ $? -eq 2 ]; check "--report onto an input is refused" $?
"$lm" compress --help | grep -q -- "--report DIR"; check "compress --help documents --report" $?
finish
