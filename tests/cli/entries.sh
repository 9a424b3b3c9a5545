#!/bin/sh
# `layermerge entries`: the reference counts and the CSV columns.
# usage: entries.sh LAYERMERGE SOURCE_ROOT
set -u
lm=$1
root=$2
. "$root/tests/cli/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$lm" entries "$root/examples/models/resnet34.yaml" > "$tmp/r34.csv"; check "resnet34 entries" $?
head -n 1 "$tmp/r34.csv" | grep -q '^id,st,end,ker,str,is_dw,in_ch,out_ch,.*convs$'; check "CSV header" $?
[ "$(tail -n +2 "$tmp/r34.csv" | wc -l)" -eq 150 ]; check "resnet34 has 150 entries" $?
[ "$(tail -n +2 "$tmp/r34.csv" | cut -d, -f2,3 | sort -u | wc -l)" -eq 62 ]; check "resnet34 has 62 segments" $?
[ "$(tail -n +2 "$tmp/r34.csv" | cut -d, -f4 | sort -n | tail -n 1)" -eq 21 ]; check "resnet34 largest K is 21" $?

"$lm" entries "$root/examples/models/mobilenetv2.yaml" -o "$tmp/mb.csv" 2>/dev/null; check "mobilenetv2 entries to a file" $?
[ "$(tail -n +2 "$tmp/mb.csv" | wc -l)" -eq 391 ]; check "mobilenetv2 has 391 entries" $?
[ "$(tail -n +2 "$tmp/mb.csv" | cut -d, -f6 | grep -c '^1$')" -eq 17 ]; check "17 depthwise entries" $?
spans=$(tail -n +2 "$tmp/mb.csv" | cut -d, -f2,3 | sort -u | sort -t, -k1n -k2n)
kim=$(tail -n +2 "$root/tests/data/upstream-kim23/mbv2_1.0/time_fish_gpu1_1228.csv" | cut -d, -f2,3 | sort -t, -k1n -k2n)
[ "$spans" = "$kim" ]; check "the 171 segments equal the authors' table" $?

"$lm" entries "$root/examples/models/resnet34.yaml" --format yaml | grep -q "format: layermerge-entries"; check "YAML output" $?
"$lm" entries "$root/examples/models/resnet34.yaml" --format xml >/dev/null 2>&1; [ $? -eq 2 ]; check "bad format is a usage error" $?
"$lm" entries /nonexistent.yaml >/dev/null 2>&1; [ $? -eq 1 ]; check "missing graph fails" $?
finish
