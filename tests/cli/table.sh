#!/bin/sh
# `layermerge table`: import the authors' CSV, export, merge shards.
# usage: table.sh LAYERMERGE SOURCE_ROOT
set -u
lm=$1
root=$2
. "$root/tests/cli/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mb="$root/examples/models/mobilenetv2.yaml"
kim="$root/tests/data/upstream-kim23/mbv2_1.0/time_fish_gpu1_1228.csv"

"$lm" table import --kind kim23-time --graph "$mb" "$kim" -o "$tmp/t.yaml"; check "import the kim23 time table" $?
out=$("$lm" table show "$tmp/t.yaml" 2>&1); check "show it" $?
echo "$out"
has "$out" "171"; check "171 records" $?
"$lm" table export "$tmp/t.yaml" -o "$tmp/t.csv"; check "export as CSV" $?
head -n 1 "$tmp/t.csv" | grep -q '^id,st,end,ker,str,is_dw,time,stdev'; check "LayerMerge time columns" $?
"$lm" table import --kind latency --graph "$mb" "$tmp/t.csv" -o "$tmp/t2.yaml"; check "re-import" $?
cmp -s "$tmp/t.yaml" "$tmp/t2.yaml"; check "the round trip is byte-identical" $?

# A table for another graph is refused, naming both fingerprints.
out=$("$lm" table import --kind kim23-time --graph "$root/examples/models/resnet34.yaml" "$kim" -o "$tmp/x.yaml" 2>&1)
[ $? -ne 0 ]; check "rows that are no entry of the graph fail" $?
has "$out" "time_fish_gpu1_1228.csv:[0-9]*: row key"; check "the message names the file, line and key" $?
[ ! -e "$tmp/x.yaml" ]; check "no output file is left behind" $?
finish
