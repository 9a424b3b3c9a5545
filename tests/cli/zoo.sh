#!/bin/sh
# Graphs given by zoo name (tools/zoo.c): $LAYERMERGE_MODELS, the installed
# zoo, the source tree's examples/models for the tool in its build dir.
# usage: zoo.sh LAYERMERGE SOURCE_ROOT
set -u
lm=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$2
. "$root/tests/cli/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
unset LAYERMERGE_MODELS

out=$("$lm" graph check resnet34 2>&1); st=$?
check "a zoo name loads from the source tree's zoo" $st
has "$out" "name: resnet34"; check "... the resnet34 of the zoo" $?
has "$out" "trunk convs: *32"; check "... with its 32 trunk convs" $?
out=$("$lm" graph check mobilenetv2.yaml 2>&1); check "NAME.yaml is a zoo name too" $?

mkdir own
cp "$root/examples/models/resnet18.yaml" own/resnet34.yaml
cp "$root/examples/models/vgg19.yaml" own/mine.yaml
out=$(LAYERMERGE_MODELS="$tmp/none:$tmp/own" "$lm" graph check resnet34 2>&1)
check "a name found in \$LAYERMERGE_MODELS loads" $?
has "$out" "name: resnet18"; check "\$LAYERMERGE_MODELS comes before the other zoos" $?
out=$(LAYERMERGE_MODELS="$tmp/own" "$lm" entries mine 2>&1)
check "every command that reads a graph resolves zoo names (entries)" $?

printf 'format: [broken\n' > resnet50
out=$("$lm" graph check resnet50 2>&1); st=$?
[ $st -eq 1 ]; check "a file of that name wins over the zoo" $?
has "$out" "resnet50:"; check "... and its error names it" $?

out=$("$lm" graph check no_such_model 2>&1); st=$?
[ $st -eq 1 ]; check "an unknown name exits 1" $?
has "$out" "no_such_model"; check "... naming it" $?
out=$("$lm" graph check ./resnet34 2>&1)
[ $? -eq 1 ]; check "a path (with '/') is never a zoo name" $?

out=$("$lm" --help); st=$?
check "--help exits 0" $st
has "$out" "LAYERMERGE_MODELS"; check "--help names \$LAYERMERGE_MODELS" $?
has "$out" "share/layermerge/models"; check "--help names the installed zoo" $?
finish
