#!/bin/sh
# usage: test_consumer.sh BUILD_DIR CONSUMER_C
set -eu
build=$1
src=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --quiet
pcdir=$(dirname "$(find "$dest" -name layermerge.pc | head -n 1)")
[ -n "$pcdir" ] || { echo "layermerge.pc was not installed"; exit 1; }
# The sysroot makes pkg-config prefix -I/-L with the scratch directory.
export PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_PATH="$pcdir"
flags=$(pkg-config --cflags --libs layermerge)
echo "pkg-config --cflags --libs layermerge: $flags"
${CC:-cc} -std=c11 -Wall -Werror -o "$dest/consumer" "$src" $flags
libdir=$(dirname "$(find "$dest" -name 'liblayermerge.so.0' | head -n 1)")
LD_LIBRARY_PATH="$libdir" "$dest/consumer"
