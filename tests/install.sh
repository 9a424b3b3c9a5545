#!/bin/sh
# `meson install --destdir` into a scratch directory, then use what was
# installed as a user would: the Python package, the man page, the model
# zoo, the CMake package (a C++ consumer) and the pkg-config file.
# usage: install.sh BUILD_DIR SOURCE_ROOT PREFIX LIBDIR PYTHONDIR DATADIR MANDIR
# (LIBDIR, DATADIR, MANDIR relative to PREFIX; PYTHONDIR absolute)
set -u
build=$1 root=$2 prefix=$3 libdir=$4 pydir=${5%/} datadir=$6 mandir=$7
. "$root/tests/cli/lib.sh"
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
py=/usr/bin/python3
meson install -C "$build" --destdir "$dest" --quiet
check "meson install --destdir" $?
D=$dest$prefix
lib=$D/$libdir
# Nothing of the build tree may leak into what follows.
unset LAYERMERGE_LIBRARY LAYERMERGE_MODELS LD_LIBRARY_PATH PYTHONPATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH
cd "$dest" || exit 1

# ---- the Python package: found in D's site-packages, the library beside it
out=$(PYTHONPATH="$dest$pydir" $py -c '
import layermerge as lm
print(lm.__file__)
print(lm.library_path())
print(lm.version())' 2>&1); st=$?
echo "$out"
check "import layermerge from the installed site-packages" $st
has "$out" "^$dest$pydir/layermerge/__init__.py"; check "... the installed package" $?
has "$out" "^$lib/liblayermerge.so.0"; check "... loads the installed library, found beside it" $?
out=$(PYTHONPATH="$dest$pydir" $py -c '
import layermerge as lm
g = lm.Graph.load("ddpm_cifar10")
print(g.name, g.conv_count)' 2>&1); st=$?
[ $st = 0 ] && has "$out" "^ddpm_cifar10 51$"
check "the installed package loads a zoo name from the installed zoo" $?
out=$(PYTHONPATH="$dest$pydir" OPENBLAS_NUM_THREADS=1 $py "$root/examples/python/pipeline.py" 2>&1); st=$?
echo "$out" | tail -n 3
check "the pipeline example runs on the installed package alone" $st
has "$out" "from $lib/liblayermerge.so.0"; check "... on the installed library" $?

# ---- the man page
man1=$D/$mandir/man1/layermerge.1
[ -s "$man1" ]; check "layermerge.1 installed in $mandir/man1" $?
warn=$(groff -man -Tutf8 -ww -z "$man1" 2>&1)
[ -z "$warn" ]; check "groff renders it without warnings" $?
[ -n "$warn" ] && echo "$warn"
text=$(groff -man -Tutf8 "$man1" 2>/dev/null)
for cmd in $(LD_LIBRARY_PATH="$lib" "$D/bin/layermerge" --help | sed -n '/^commands:/,/^$/p' | awk 'NF && !/commands:/ {print $1}'); do
    has "$text" "layermerge $cmd"; check "the man page has 'layermerge $cmd'" $?
done

# ---- the model zoo
zoo=$D/$datadir/layermerge/models
for f in "$root"/examples/models/*.yaml; do
    cmp -s "$f" "$zoo/$(basename "$f")"; check "zoo: $(basename "$f") installed" $?
done
out=$(LD_LIBRARY_PATH="$lib" LAYERMERGE_MODELS="$zoo" "$D/bin/layermerge" graph check resnet50 2>&1)
check "the installed tool loads a graph of the installed zoo by name" $?
has "$out" "name: resnet50"; check "... resnet50" $?

# ---- the CMake package: a C++ consumer, found through CMAKE_PREFIX_PATH
cmdir=$lib/cmake/layermerge
[ -f "$cmdir/layermergeConfig.cmake" ] && [ -f "$cmdir/layermergeConfigVersion.cmake" ]
check "layermergeConfig.cmake and ...ConfigVersion.cmake next to layermerge.pc" $?
[ -f "$lib/pkgconfig/layermerge.pc" ]; check "layermerge.pc in $libdir/pkgconfig" $?
cmake -S "$root/tests/cmake-consumer" -B cbuild -DCMAKE_PREFIX_PATH="$D" >cmake.log 2>&1
st=$?; [ $st -eq 0 ] || cat cmake.log
check "cmake configures the consumer with find_package(layermerge 0.2)" $st
cmake --build cbuild >build.log 2>&1; st=$?; [ $st -eq 0 ] || cat build.log
check "the C++ consumer builds against layermerge::layermerge" $st
out=$(./cbuild/consumer 2>&1); st=$?
echo "$out"
check "the C++ consumer runs (the imported target's runpath)" $st
has "$(readelf -d cbuild/consumer)" "$lib"; check "... linked to the installed library" $?
for v in 0.3 1.0 0.1; do
    cmake -S "$root/tests/cmake-consumer" -B "cb-$v" -DCMAKE_PREFIX_PATH="$D" \
        -DLM_REQUIRE_VERSION=$v >"cmake-$v.log" 2>&1
    [ $? -ne 0 ]; check "find_package(layermerge $v) refuses the installed $(LD_LIBRARY_PATH="$lib" "$D/bin/layermerge" --version | awk '{print $2}')" $?
done

# ---- the pkg-config file: the same consumer built with its flags alone
export PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_PATH="$lib/pkgconfig"
flags=$(pkg-config --cflags --libs layermerge); check "pkg-config --cflags --libs layermerge" $?
${CXX:-c++} -std=c++17 -Wall -Werror -o pc-consumer "$root/tests/cmake-consumer/main.cpp" $flags
check "the C++ consumer builds with pkg-config's flags" $?
LD_LIBRARY_PATH="$lib" ./pc-consumer >/dev/null; check "... and runs with LD_LIBRARY_PATH" $?
finish
