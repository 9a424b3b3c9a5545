#!/usr/bin/env bash
# Compares the ABI of liblayermerge.so with a recorded baseline (libabigail).
#
#   scripts/abi-check.sh [--baseline FILE] [--allow-missing] [BUILD_DIR]
#   scripts/abi-check.sh --record [--baseline FILE] [BUILD_DIR]
#
# BUILD_DIR is a configured meson build directory; its shared library is
# brought up to date (`meson compile`) and must carry debug info (buildtype
# debug or debugoptimized, the project's default). Without BUILD_DIR the
# script configures and builds build-abi/ in the source tree.
#
# The ABI is dumped with `abidw --headers-dir include/layermerge` (plus the
# build's generated include/layermerge/version.h), so types that are not
# declared in the public headers are left out, and without locations or
# paths, so the dump does not depend on where the tree or the build lives.
# It also passes --exported-interfaces-only: without it abidw 2.2 leaves
# out the definitions of the exported functions that another translation
# unit of the library calls first (69 of 241 in 0.1), and a change to
# their parameters' types goes unseen. The script fails (exit 2) if the
# dump describes fewer functions and variables than the library exports.
# FILE defaults to abi/liblayermerge-0.2.abi.
#
# --record writes the dump to FILE. A baseline is recorded from a release
# (abi/liblayermerge-<major>.<minor>.abi) and never edited afterwards.
#
# The check runs abidiff FILE NEW and passes or fails on its exit status
# (a bit field: 1 tool error, 2 usage error, 4 ABI change, 8 incompatible
# change):
#   * no change                                  -> pass (exit 0);
#   * only added functions or variables          -> pass (exit 0): a new
#     symbol cannot break a program linked against the baseline. This is
#     decided by running abidiff again with --no-added-syms, which then
#     reports no change;
#   * an incompatible change (value 8: a function or variable removed, or
#     the SONAME changed)                        -> fail (exit 1);
#   * members appended at the end of a size-versioned record (a public
#     struct whose first member is `size_t size`, the third rule of the C
#     API in docs/concepts.md: the library writes only within the caller's
#     size)                                      -> pass: a libabigail
#     suppression (has_data_member_inserted_at = end) built from the
#     headers ignores exactly that change. A record that is a by-value
#     member of another struct (lm_conv_info in lm_skip_info) is left out
#     of the suppression, so its growth fails: it moves or resizes the
#     outer struct's members. This assumes records cross the API one at a
#     time through a pointer, never as arrays (true of every function in
#     0.1): an array's elements move when its record grows;
#   * any other ABI change (value 4 alone: a function's parameter or
#     return type, a public struct's members, size or layout, an
#     enumerator's value)                        -> fail (exit 1). abidiff
#     leaves these to a human to judge; this project treats every change
#     of an existing symbol or type as a break. (abidiff already ignores
#     the changes it knows to be harmless, such as a new enumerator.)
#   * abidiff failing to run (values 1 or 2)     -> exit 2.
# abidiff's report is printed whenever it finds a change.
#
# A missing FILE is an error (exit 1) unless --allow-missing is given, in
# which case the library is still dumped (proving the dump works) and the
# script exits 0.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
baseline=$root/abi/liblayermerge-0.2.abi
record=0
allow_missing=0
build=

usage() {
    sed -n '4,5p' "$0" | sed 's/^# *//' >&2
    exit 2
}

while [ $# -gt 0 ]; do
    case $1 in
        --record) record=1 ;;
        --allow-missing) allow_missing=1 ;;
        --baseline) [ $# -ge 2 ] || usage; baseline=$2; shift ;;
        --baseline=*) baseline=${1#--baseline=} ;;
        -h|--help) usage ;;
        -*) echo "abi-check: unknown option $1" >&2; usage ;;
        *) [ -z "$build" ] || usage; build=$1 ;;
    esac
    shift
done

for tool in abidw abidiff readelf meson; do
    command -v "$tool" >/dev/null || {
        echo "abi-check: $tool not found (scripts/install-deps.sh installs it)" >&2
        exit 2
    }
done

tmp=$(mktemp -d /tmp/lm-abi-check.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if [ -z "$build" ]; then
    build=$root/build-abi
    if [ ! -f "$build/build.ninja" ] &&
       ! meson setup "$build" "$root" >"$tmp/setup.log" 2>&1; then
        cat "$tmp/setup.log" >&2
        echo "abi-check: meson setup $build failed" >&2
        exit 2
    fi
fi
if [ ! -f "$build/build.ninja" ]; then
    echo "abi-check: $build is not a configured meson build directory" >&2
    exit 2
fi
if ! meson compile -C "$build" -j 2 lib/layermerge:shared_library \
        >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    echo "abi-check: building the library in $build failed" >&2
    exit 2
fi

so=$build/lib/liblayermerge.so
if [ ! -e "$so" ]; then
    echo "abi-check: $so not found" >&2
    exit 2
fi
sections=$(readelf -S "$so")
if ! grep -q '\.debug_info' <<<"$sections"; then
    echo "abi-check: $so has no debug info; configure $build with" \
         "-Dbuildtype=debug or debugoptimized" >&2
    exit 2
fi

abidw --headers-dir "$root/include/layermerge" \
      --headers-dir "$build/include/layermerge" \
      --exported-interfaces-only \
      --no-show-locs --no-corpus-path --no-comp-dir-path \
      --out-file "$tmp/new.abi" "$so"
n_syms=$(grep -c '<elf-symbol ' "$tmp/new.abi" || true)
n_decls=$(grep -o "elf-symbol-id='[^']*'" "$tmp/new.abi" | sort -u | wc -l)
if [ "$n_decls" -ne "$n_syms" ]; then
    echo "abi-check: abidw described $n_decls of the $n_syms exported" \
         "symbols of $so; the others' types would go unchecked" >&2
    exit 2
fi

if [ "$record" = 1 ]; then
    mkdir -p "$(dirname "$baseline")"
    cp "$tmp/new.abi" "$baseline"
    echo "abi-check: recorded the ABI of $so ($n_syms symbols) in $baseline"
    exit 0
fi

if [ ! -f "$baseline" ]; then
    if [ "$allow_missing" = 1 ]; then
        echo "abi-check: no baseline $baseline; dumped $so ($n_syms symbols)" \
             "but compared nothing (--allow-missing)"
        exit 0
    fi
    echo "abi-check: no baseline $baseline. Record one from the released" \
         "tree with: scripts/abi-check.sh --record BUILD_DIR" \
         "(or pass --allow-missing)" >&2
    exit 1
fi

# Size-versioned records: `struct lm_x {` whose next line is `size_t size;`,
# less those that are a by-value member of another struct (abidiff would
# not report the outer struct's moved members once the inner one's change
# is suppressed).
headers=("$root"/include/layermerge/*.h)
records=
while read -r r; do
    grep -Eq "^[[:space:]]+(const[[:space:]]+)?${r}[[:space:]]+[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?;" \
        "${headers[@]}" || records=${records:+$records|}$r
done < <(awk '/^(typedef )?struct lm_[a-z0-9_]+ \{/ {
                  for (i = 1; i <= NF; i++) if ($i ~ /^lm_/) name = $i; next }
              name != "" && NF {
                  if ($1 == "size_t" && $2 == "size;") print name; name = "" }' \
             "${headers[@]}" | sort)
# Opaque handles: the headers only declare them (typedef struct lm_x lm_x;),
# so their layout is private to the library and may change freely; DWARF
# still carries their definitions, which abidiff would otherwise compare.
handles=$(grep -hoE '^typedef struct (lm_[a-z0-9_]+) lm_[a-z0-9_]+;' \
              "${headers[@]}" | awk '{ print $3 }' | sort -u | paste -sd'|')
suppr=()
if [ -n "$handles" ]; then
    cat >"$tmp/handles.suppr" <<EOF
[suppress_type]
  label = opaque handles have no public layout
  type_kind = struct
  name_regexp = ^($handles)\$
EOF
    suppr+=(--suppressions "$tmp/handles.suppr")
fi
if [ -n "$records" ]; then
    cat >"$tmp/records.suppr" <<EOF
[suppress_type]
  label = size-versioned records may grow at the end
  type_kind = struct
  name_regexp = ^($records)\$
  has_data_member_inserted_at = end
EOF
    suppr+=(--suppressions "$tmp/records.suppr")
fi

status=0
abidiff --no-show-locs "${suppr[@]}" "$baseline" "$tmp/new.abi" \
    >"$tmp/report" || status=$?
if [ "$status" -eq 0 ]; then
    echo "abi-check: $so ($n_syms symbols): no ABI change against" \
         "$baseline (members appended to size-versioned records aside)"
    exit 0
fi
cat "$tmp/report"
if [ $((status & 3)) -ne 0 ]; then
    echo "abi-check: abidiff failed (exit status $status)" >&2
    exit 2
fi
if [ $((status & 8)) -ne 0 ]; then
    echo "abi-check: INCOMPATIBLE ABI change against $baseline" \
         "(a symbol removed or the SONAME changed; abidiff status $status)" >&2
    exit 1
fi
if abidiff --no-show-locs --no-added-syms "${suppr[@]}" "$baseline" \
        "$tmp/new.abi" >/dev/null; then
    echo "abi-check: compatible: symbols added, none removed or changed" \
         "against $baseline"
    exit 0
fi
echo "abi-check: ABI change against $baseline (an existing function," \
     "variable or type changed; abidiff status $status)" >&2
exit 1
