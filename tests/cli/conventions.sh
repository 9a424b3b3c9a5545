#!/bin/sh
# The conventions every command shares (docs/cli.md, "Conventions"):
# --opt=value, '--' ending the options, unknown options and bad numbers
# named, -o - for standard output (refused where -o is resumed or a
# prefix), a missing output directory named before any work, and --json
# documents that parse (with /usr/bin/python3's json module) and hold the
# fields of the YAML file or summary they stand for.
# usage: conventions.sh LAYERMERGE SOURCE_ROOT
set -u
lm=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$2
. "$root/tests/cli/lib.sh"
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$tmp.o" "$tmp.e" "$tmp.j"' EXIT
b="$root/tests/data/bad"
g="$b/tiny_graph.yaml"
lat="$b/tiny_latency.yaml"
imp="$b/tiny_importance.yaml"

# usage_is CODE FRAGMENT DESCRIPTION -- ARGS...: exit CODE, FRAGMENT on stderr.
usage_is() {
    want=$1 frag=$2 what=$3
    shift 4
    "$lm" "$@" >"$tmp.o" 2>"$tmp.e"
    got=$?
    [ "$got" = "$want" ] && grep -qF -- "$frag" "$tmp.e"
    check "$what (exit $got: $(head -1 "$tmp.e"))" $?
}

# ---- unknown options, named, in every command ----------------------------
for c in "graph check $g" "entries $g" "solve $g --latency $lat --importance $imp" \
         "front $g --latency $lat --importance $imp" "table show $lat" \
         "table import --kind latency --graph $g $b/tiny_latency.csv -o $tmp/x.yaml" \
         "table export $lat -o $tmp/x.csv" "table merge --graph $g $lat -o $tmp/x.yaml" \
         "plan $g --entry 0" "merge $g --random-weights 1 $b/tiny.result.yaml -o $tmp/m" \
         "verify $g --random-weights 1 $b/tiny.result.yaml" "latency $g -o $tmp/l.yaml" \
         "importance proxy $g --random-weights 1 -o $tmp/i.yaml" \
         "importance shard $g --range 0:1" "compress $g -o $tmp/c" \
         "run $g --random-weights 1 --input $tmp/x.npy -o $tmp/y.npy"; do
    # shellcheck disable=SC2086
    usage_is 2 "unknown option '--bogus'" "${c%% *}: --bogus is unknown" -- $c --bogus
    # shellcheck disable=SC2086
    usage_is 2 "unknown option '--bogus'" "${c%% *}: --bogus=1 names --bogus" -- $c --bogus=1
done
usage_is 2 "unknown subcommand 'shwo'" "table names an unknown subcommand" -- table shwo "$lat"
usage_is 2 "unknown subcommand 'chek'" "graph names an unknown subcommand" -- graph chek "$g"
usage_is 2 "option '--latency' needs a value" "a valued option at the end needs its value" -- solve "$g" --latency
usage_is 2 "option '--allow-missing' takes no value" "a flag refuses =value" -- table merge --graph "$g" --allow-missing=yes "$lat" -o "$tmp/x.yaml"

# ---- numbers name the option and the value -------------------------------
usage_is 2 "--reps: 'abc' is not a whole number >= 1" "compress --reps abc" -- compress "$g" -o "$tmp/c" --reps abc
usage_is 2 "--reps: '0' is not a whole number >= 1" "compress --reps=0" -- compress "$g" -o "$tmp/c" --reps=0
usage_is 2 "--batch: '-3' is not a whole number >= 0" "latency --batch=-3" -- latency "$g" -o "$tmp/l.yaml" --batch=-3
usage_is 2 "--batch: 'x' is not a whole number >= 1" "verify --batch x" -- verify "$g" --random-weights 1 "$b/tiny.result.yaml" --batch x
usage_is 2 "--tolerance: '-1' is not a number >= 0" "verify --tolerance -1" -- verify "$g" --random-weights 1 "$b/tiny.result.yaml" --tolerance -1
usage_is 2 "--entry: '1.5' is not a whole number >= 0" "plan --entry 1.5" -- plan "$g" --entry 1.5
usage_is 2 "--range: '3:1' is not A:B with whole numbers A < B" "importance --range 3:1" -- importance shard "$g" --range 3:1
for r in 0 1.5 -0.2 abc nan inf; do
    usage_is 2 "--ratio: '$r' is not a number in (0, 1]" "solve --ratio $r is refused" -- solve "$g" --latency "$lat" --importance "$imp" --ratio "$r"
    usage_is 2 "--ratio: '$r' is not a number in (0, 1]" "compress --ratio 0.5,$r is refused" -- compress "$g" -o "$tmp/c" --ratio "0.5,$r"
done
usage_is 2 "--ratio: '0.701' and 0.7 are the same budget to 2 decimals" "compress refuses budgets sharing files" -- compress "$g" -o "$tmp/c" --ratio 0.7,0.701
usage_is 2 "--budget: '-1' is not a number > 0" "solve --budget -1" -- solve "$g" --latency "$lat" --importance "$imp" --budget -1
[ -z "$(ls "$tmp")" ]; check "refused commands wrote nothing" $?

# ---- --opt=value and '--' -------------------------------------------------
"$lm" entries "$g" --format yaml >"$tmp/a.yaml" && "$lm" entries --format=yaml "$g" >"$tmp/b.yaml"
cmp -s "$tmp/a.yaml" "$tmp/b.yaml"; check "--format=yaml is --format yaml" $?
cp "$g" "$tmp/-g.yaml"
(cd "$tmp" && "$lm" entries --format yaml -- -g.yaml >"$tmp/c.yaml"); st=$?
[ $st = 0 ] && cmp -s "$tmp/a.yaml" "$tmp/c.yaml"; check "after '--' a word starting with '-' is a file" $?
(cd "$tmp" && "$lm" entries --format yaml -g.yaml >/dev/null 2>"$tmp.e"); st=$?
[ $st = 2 ] && grep -q "unknown option '-g.yaml'" "$tmp.e"; check "without '--' it is an option" $?
(cd "$tmp" && "$lm" graph check -- -g.yaml | grep -q "^-g.yaml: valid"); check "graph check takes files after '--'" $?
rm -f "$tmp"/*

# ---- -o - ------------------------------------------------------------------
same() { # description, command writing FILE via -o, then via -o -
    cmp -s "$tmp/file" "$tmp/stdout"; check "$1: -o - writes what -o FILE writes" $?
    rm -f "$tmp/file" "$tmp/stdout"
}
"$lm" entries "$g" -o "$tmp/file" 2>/dev/null; "$lm" entries "$g" -o - >"$tmp/stdout"; same entries
"$lm" plan "$g" --entry 3 -o "$tmp/file" >/dev/null; "$lm" plan "$g" --entry 3 -o - >"$tmp/stdout"; same plan
"$lm" solve "$g" --latency "$lat" --importance "$imp" --ratio 0.8 -o "$tmp/file" >"$tmp/summary"
"$lm" solve "$g" --latency "$lat" --importance "$imp" --ratio 0.8 -o - >"$tmp/stdout" 2>"$tmp/summary2"; same solve
cmp -s "$tmp/summary" "$tmp/summary2"; check "solve -o -: the summary goes to standard error" $?
rm -f "$tmp/summary" "$tmp/summary2"
"$lm" table import --kind latency --graph "$g" "$b/tiny_latency.csv" -o "$tmp/file"
"$lm" table import --kind latency --graph "$g" "$b/tiny_latency.csv" -o - >"$tmp/stdout"; same "table import"
"$lm" table export "$lat" -o "$tmp/file"; "$lm" table export "$lat" -o - >"$tmp/stdout"; same "table export"
"$lm" table merge --graph "$g" "$lat" -o "$tmp/file"; "$lm" table merge --graph "$g" "$lat" -o - >"$tmp/stdout"; same "table merge"
"$lm" importance shard "$g" --range 0:3 -o "$tmp/file" 2>/dev/null
"$lm" importance shard "$g" --range 0:3 -o - >"$tmp/stdout"; same "importance shard"
[ -z "$(ls "$tmp")" ]; check "-o - leaves no file behind: $(ls "$tmp")" $?
usage_is 2 "-o - (standard output) is not possible here: the table is saved as it fills" "latency refuses -o -" -- latency "$g" -o -
usage_is 2 "-o - (standard output) is not possible here" "importance proxy refuses -o -" -- importance proxy "$g" --random-weights 1 -o -
usage_is 2 "-o - (standard output) is not possible here: OUT is the prefix" "merge refuses -o -" -- merge "$g" --random-weights 1 "$b/tiny.result.yaml" -o -
usage_is 2 "-o - (standard output) is not possible here: OUT is the prefix" "compress refuses -o -" -- compress "$g" -o -
[ ! -e ./- ] && [ -z "$(ls "$tmp")" ]; check "no file named '-' is made $(ls "$tmp")" $?

# ---- a missing output directory ------------------------------------------
usage_is 2 "output $tmp/no/e.csv: the directory '$tmp/no' does not exist" "entries names the missing directory" -- entries "$g" -o "$tmp/no/e.csv"
usage_is 2 "the directory '$tmp/no' does not exist" "solve names the missing directory" -- solve "$g" --latency "$lat" --importance "$imp" -o "$tmp/no/r.yaml"
usage_is 2 "the directory '$tmp/no' does not exist" "compress names it before measuring" -- compress "$g" -o "$tmp/no/c"
usage_is 2 "the directory '$tmp/no' does not exist" "latency names it before measuring" -- latency "$g" -o "$tmp/no/l.yaml"

# ---- --json ----------------------------------------------------------------
# json_has FILE DESCRIPTION PYTHON-EXPRESSION (over d, the document)
json_has() {
    $py -c "
import json, sys
d = json.load(open(sys.argv[1]))
assert $3, 'expression false'
" "$1" 2>"$tmp.j"
    check "$2 $(tail -1 "$tmp.j")" $?
}
"$lm" entries "$g" --json >"$tmp/j"; check "entries --json succeeds" $?
json_has "$tmp/j" "entries --json: every entry with its key and convs" \
    "d['format'] == 'layermerge-entries' and len(d['entries']) == 11 and d['entries'][3]['convs'] == [1, 2] and d['entries'][3]['kernel'] == 5 and len(d['segments']) == 6 and d['fingerprint'] == 'b85d22d0ff09b89d'"
"$lm" solve "$g" --latency "$lat" --importance "$imp" --ratio 0.8 --json >"$tmp/j"; check "solve --json succeeds" $?
"$lm" solve "$g" --latency "$lat" --importance "$imp" --ratio 0.8 -o "$tmp/r.yaml" >/dev/null
$py - "$tmp/j" "$tmp/r.yaml" <<'PY'
import json, sys, yaml
d = json.load(open(sys.argv[1]))
y = yaml.safe_load(open(sys.argv[2]))
# Every key of the result file, with the same value (full precision).
for k, v in y.items():
    if k == "segments":
        for sj, sy in zip(d[k], v):
            for kk, vv in sy.items():
                assert sj[kk] == vv, (kk, sj[kk], vv)
        assert len(d[k]) == len(v)
    else:
        assert d[k] == v, (k, d[k], v)
assert d["original_latency"] > d["latency"]
PY
check "solve --json holds every field of the result file, equal" $?
"$lm" front "$g" --latency "$lat" --importance "$imp" --json >"$tmp/j"; check "front --json succeeds" $?
json_has "$tmp/j" "front --json: points by increasing latency, each with its result" \
    "len(d['points']) >= 2 and all(a['latency_ms'] < b['latency_ms'] for a, b in zip(d['points'], d['points'][1:])) and all(p['result']['latency'] == p['latency_ms'] for p in d['points'])"
"$lm" table show --json "$lat" "$imp" >"$tmp/j"; check "table show --json succeeds" $?
json_has "$tmp/j" "table show --json: both tables with their records" \
    "[t['kind'] for t in d['tables']] == ['latency', 'importance'] and d['tables'][0]['records_count'] == len(d['tables'][0]['records']) == 11 and d['tables'][0]['min']['value'] == min(r['value'] for r in d['tables'][0]['records'])"
"$lm" graph check --json "$g" "$root/tests/data/graph_syntax_error.yaml" >"$tmp/j" 2>/dev/null; st=$?
[ $st = 1 ]; check "graph check --json still exits 1 for an invalid file" $?
json_has "$tmp/j" "graph check --json: the valid and the invalid file" \
    "d['graphs'][0]['valid'] and d['graphs'][0]['trunk_convs'] == 3 and d['graphs'][0]['input'] == [8, 16, 16] and not d['graphs'][1]['valid'] and ':8:' in d['graphs'][1]['error']"
"$lm" compress "$b/tiny.yaml" -o "$tmp/c" --ratio 0.9,0.8 --reps 2 --warmup 1 --rounds 2 --json >"$tmp/j" 2>"$tmp/err"
check "compress --json succeeds" $?
json_has "$tmp/j" "compress --json: one document, a row per budget, speedup = original / merged" \
    "[b['budget_ratio'] for b in d['budgets']] == [0.9, 0.8] and all(abs(b['speedup'] - b['original_ms'] / b['merged_ms']) < 1e-12 and b['merged_ms_min'] <= b['merged_ms'] <= b['merged_ms_max'] for b in d['budgets']) and d['budgets'][0]['files']['result'].endswith('-r0.90.result.yaml')"
grep -q "^budget_ratio=0.90 " "$tmp/err"; check "compress --json: the key=value lines went to standard error" $?
finish
