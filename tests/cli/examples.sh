#!/bin/sh
# The C examples of examples/c, run as a user would on ResNet-34 and the
# small synthetic tables of tests/data, with assertions on their output.
# usage: examples.sh NAME EXAMPLE_BINARY SOURCE_ROOT LAYERMERGE
set -u
name=$1
exe=$2
root=$3
lm=$4
. "$root/tests/cli/lib.sh"

graph="$root/examples/models/resnet34.yaml"
data="$root/tests/data/solve_resnet34"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ "$name" != slurm ]; then
    "$exe" --help | grep -q "^usage: $name"; check "--help prints the usage" $?
    "$exe" >/dev/null 2>&1
    [ $? -eq 2 ]; check "no arguments is a usage error (exit 2)" $?
fi

case $name in
graph_entries)
    out=$("$exe" "$graph" --segments 3 2>&1); st=$?
    echo "$out"
    check "succeeds" $st
    has "$out" "32 trunk convs, 16 skips, fingerprint 0d36d12e03886924"; check "graph summary" $?
    has "$out" "barriers: 0 7 15 27"; check "barriers" $?
    has "$out" "segments: 62, entries: 150"; check "62 segments, 150 entries (docs/method.md section 4)" $?
    has "$out" "segment 1 (0, 2\]: 2 entries"; check "segment (0, 2] has 2 entries" $?
    has "$out" "entry 2: K=5 stride=1 dw=0 in=64x56x56 out=64 keeps {1,2}"; check "merged 5x5 entry keeps convs 1 and 2" $?
    n=$(printf '%s\n' "$out" | grep -c "^segment ")
    [ "$n" -eq 3 ]; check "--segments 3 prints 3 segments ($n)" $?
    out=$("$exe" "$root/tests/data/graph_syntax_error.yaml" 2>&1)
    [ $? -eq 1 ]; check "a broken graph exits 1" $?
    has "$out" "graph_syntax_error.yaml:[0-9]*:[0-9]*"; check "the message names file:line:col" $?
    ;;
solve_tables)
    out=$("$exe" "$graph" "${data}_latency.csv" "${data}_importance.csv" \
          --ratio 0.7 -o "$tmp/r.yaml" --front 5 2>&1); st=$?
    echo "$out"
    check "succeeds" $st
    has "$out" "original latency: 88.7892 ms"; check "original latency" $?
    has "$out" "budget: 62.1524 ms"; check "budget = 0.7 x original" $?
    has "$out" "latency: 59.6878 ms (615 units)"; check "the same optimum as 'layermerge solve'" $?
    has "$out" "importance: 21.642704"; check "importance" $?
    has "$out" "pruned convs: 18 19 20 21 22 23 24 25 26 32"; check "pruned convs" $?
    has "$out" "merged (16, 26\]: entry 77, K=3, 1 of 10 convs kept"; check "merged segment listed" $?
    grep -q "^format: layermerge-result" "$tmp/r.yaml"; check "result YAML written" $?
    grep -q "^latency_discrete: 615" "$tmp/r.yaml"; check "result YAML holds the solution" $?
    has "$out" "pareto front: [0-9]* points"; check "front printed" $?
    last=$(printf '%s\n' "$out" | grep "latency .* ms  importance" | tail -n 1)
    has "$last" "latency  59.6878 ms  importance 21.642704"; check "the front ends at the optimum" $?
    printf '%s\n' "$out" | awk '/ms  importance/ { if (n++ && ($3 <= l || $6 <= i)) bad = 1; l = $3; i = $6 } END { exit bad || n != 5 }'
    check "5 front points, increasing in latency and importance" $?
    out=$("$exe" "$graph" "${data}_latency.csv" "${data}_importance.csv" --ratio 0.1 2>&1)
    [ $? -eq 1 ]; check "an infeasible budget exits 1" $?
    has "$out" "smallest feasible budget"; check "the message states the minimum" $?
    out=$("$exe" "$root/examples/models/mobilenetv2.yaml" "${data}_latency.csv" "${data}_importance.csv" 2>&1)
    [ $? -eq 1 ]; check "tables of another graph fail" $?
    echo "$out"
    ;;
merge_verify)
    "$lm" solve "$graph" --latency "${data}_latency.csv" \
        --importance "${data}_importance.csv" --ratio 0.7 -o "$tmp/r.yaml" >/dev/null
    check "layermerge solve writes the result" $?
    out=$("$exe" "$graph" "$tmp/r.yaml" --plan "$tmp/plan.yaml" \
          -o "$tmp/merged.yaml" --save-weights "$tmp/merged.safetensors" 2>&1); st=$?
    echo "$out"
    check "succeeds" $st
    has "$out" "plan: 22 segments, 22 of 32 convs kept"; check "plan of the 22-segment result" $?
    has "$out" "merged: 22 trunk convs (was 32)"; check "one merged conv per segment" $?
    rel=$(printf '%s\n' "$out" | sed -n 's/.*max rel error //p')
    awk -v r="$rel" 'BEGIN { exit !(r != "" && r + 0 < 1e-5) }'; check "merged equals the chain (rel $rel < 1e-5)" $?
    out=$("$lm" graph check "$tmp/merged.yaml" 2>&1); st=$?
    check "the merged graph file is valid" $st
    has "$out" "trunk convs: 22"; check "it has 22 trunk convs" $?
    grep -q "keep" "$tmp/plan.yaml"; check "the plan file is written" $?
    [ -s "$tmp/merged.safetensors" ]; check "the merged weights are written" $?
    out=$("$exe" "$root/examples/models/mobilenetv2.yaml" "$tmp/r.yaml" 2>&1)
    [ $? -eq 1 ]; check "a result of another graph exits 1" $?
    has "$out" "0d36d12e03886924"; check "the message names the fingerprint" $?
    echo "$out"
    ;;
slurm)
    # examples/slurm/importance-array.sh in its `local` mode (every array
    # task in turn, then the merge job) on ResNet-18's 30 entries.
    export LAYERMERGE="$lm"
    r18="$root/examples/models/resnet18.yaml"
    out=$("$exe" local "$r18" "$tmp/proxy" 3 2>&1); st=$?
    echo "$out" | grep -v "entries ("
    check "proxy stand-in: 3 tasks and the merge succeed" $st
    has "$out" "task 2: entries 20:30"; check "task 2 covers ids 20..29" $?
    has "$out" "records: *30"; check "the merged table has all 30 entries" $?
    # A training loop stand-in: one authors' CSV row per plan document,
    # accuracy falling with the merged kernel.
    cat > "$tmp/train.sh" <<'TRAIN'
#!/bin/sh
echo "id,st,end,ker,str,is_dw,conv_comb,importance" > "$2"
sed -n 's/^entry: {id: \([0-9]*\), st: \([0-9]*\), end: \([0-9]*\), kernel: \([0-9]*\), stride: \([0-9]*\), depthwise: \([a-z]*\)}/\1 \2 \3 \4 \5 \6/p' "$1" |
while read -r id st end k s dw; do
    [ "$dw" = true ] && dw=1 || dw=0
    echo "$id,$st,$end,$k,$s,$dw,\"\",$(awk -v k="$k" 'BEGIN { printf "%.2f", 69.76 - 0.1 * k }')" >> "$2"
done
TRAIN
    chmod +x "$tmp/train.sh"
    out=$(TRAIN_CMD="$tmp/train.sh" "$exe" local "$r18" "$tmp/train" 3 2>&1); st=$?
    echo "$out"
    check "with TRAIN_CMD: plans, CSV, import and merge succeed" $st
    has "$out" "metric: *accuracy"; check "the merged table holds accuracies" $?
    has "$out" "records: *30"; check "30 records" $?
    n=$(grep -c "^entry:" "$tmp/train/plans_1.yaml")
    [ "$n" -eq 10 ]; check "task 1 got 10 plans ($n)" $?
    rm "$tmp/train/shard_1.yaml"
    out=$("$exe" merge "$r18" "$tmp/train" 3 2>&1)
    [ $? -ne 0 ]; check "a missing shard fails the merge" $?
    has "$out" "no such file\|cannot open\|shard_1.yaml"; check "the message names the shard" $?
    echo "$out"
    ;;
*)
    echo "unknown example $name"; exit 1 ;;
esac
finish
