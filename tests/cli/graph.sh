#!/bin/sh
# `layermerge graph check` on the model zoo and on a broken file.
# usage: graph.sh LAYERMERGE SOURCE_ROOT
set -u
lm=$1
root=$2
. "$root/tests/cli/lib.sh"

out=$("$lm" graph check "$root/examples/models/resnet34.yaml" 2>&1); st=$?
echo "$out"
check "resnet34 is valid" $st
has "$out" "trunk convs: *32"; check "resnet34 has 32 trunk convs" $?
has "$out" "skips: *16 (3 with projection)"; check "resnet34 has 16 skips, 3 projected" $?
has "$out" "barriers: *{0,7,15,27}"; check "resnet34 barriers" $?

out=$("$lm" graph check "$root/examples/models/mobilenetv2.yaml" 2>&1); st=$?
echo "$out"
check "mobilenetv2 is valid" $st
has "$out" "trunk convs: *50"; check "mobilenetv2 has 50 trunk convs" $?
has "$out" "skips: *10 (0 with projection)"; check "mobilenetv2 has 10 skips" $?
has "$out" "identity positions: *17"; check "mobilenetv2 has 17 identity positions" $?
has "$out" "barriers: *{0,5,11,20,41}"; check "mobilenetv2 barriers" $?

for model in "$root"/examples/models/*.yaml; do
    "$lm" graph check "$model" >/dev/null 2>&1; check "$(basename "$model") is valid" $?
done

out=$("$lm" graph check "$root/tests/data/cli_bad_line7.yaml" 2>&1); st=$?
echo "$out"
[ $st -ne 0 ]; check "a syntax error fails" $?
has "$out" "cli_bad_line7.yaml:.*line 7"; check "the message names the file and line 7" $?

"$lm" graph check /nonexistent.yaml >/dev/null 2>&1; [ $? -eq 1 ]; check "a missing file exits 1" $?
"$lm" graph >/dev/null 2>&1; [ $? -eq 2 ]; check "no subcommand is a usage error" $?
"$lm" --help | grep -q "graph"; check "--help lists graph" $?
"$lm" --version | grep -q "layermerge 0"; check "--version" $?

finish
