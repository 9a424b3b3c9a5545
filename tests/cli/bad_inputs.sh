#!/bin/sh
# The command-line half of the bad-input catalogue (tests/data/bad/README.md):
# each NAME.expect with a `cmd:` line runs `layermerge <cmd>` and must exit
# with its code, print its message fragment on stderr, finish within 10 s
# and leave no file in the scratch directory but those the case made.
# usage: bad_inputs.sh LAYERMERGE SOURCE_ROOT
set -u
lm=$1
root=$2
. "$root/tests/cli/lib.sh"
dir="$root/tests/data/bad"
cases=0
for e in "$dir"/*.expect; do
    cmd=$(sed -n 's/^cmd: *//p' "$e")
    [ -n "$cmd" ] || continue
    name=$(basename "$e" .expect)
    want=$(sed -n 's/^exit: *//p' "$e")
    msg=$(sed -n 's/^message: *//p' "$e")
    file=$(sed -n 's/^file: *//p' "$e")
    tmp=$(mktemp -d)
    [ -n "$file" ] && cp "$dir/$file" "$tmp/"
    in="$tmp/$file"
    args=$(printf '%s\n' "$cmd" | sed "s|{in}|$in|g; s|{tmp}|$tmp|g; s|{root}|$root|g")
    before=$(ls -A "$tmp" | sort)
    # shellcheck disable=SC2086
    timeout 10 "$lm" $args >"$tmp.out" 2>"$tmp.err"
    got=$?
    [ "$got" = "$want" ]; check "$name: exit $got (want $want)" $?
    grep -qF -- "$msg" "$tmp.err"; check "$name: message has '$msg'" $?
    [ -z "$file" ] || cmp -s "$dir/$file" "$in"; check "$name: the input is untouched" $?
    after=$(ls -A "$tmp" | grep -v '\.tmp\.' | sort)
    leftover=$(ls -A "$tmp" | grep '\.tmp\.' || true)
    [ -z "$leftover" ]; check "$name: no temporary file left" $?
    # A refused command writes nothing: no output, partial or whole.
    [ "$got" = 0 ] || [ "$before" = "$after" ]
    check "$name: no file written" $?
    rm -rf "$tmp" "$tmp.out" "$tmp.err"
    cases=$((cases + 1))
done
echo "bad-input catalogue: $cases command-line cases"
finish
