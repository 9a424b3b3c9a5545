#!/usr/bin/env bash
# Installs the Debian 12 packages liblayermerge needs to build, test and run
# its examples, and those CI adds (clang for the second -Werror build,
# abigail-tools for scripts/abi-check.sh); dataset-fashion-mnist holds the
# images of the examples/study test (docs/results/fashion-mnist.md). As root
# it runs apt-get; otherwise it prints the command.
set -euo pipefail
packages=(gcc g++ clang meson ninja-build pkg-config libopenblas-dev libyaml-dev
          libjansson-dev check valgrind abigail-tools python3 python3-numpy python3-torch
          python3-torchvision python3-cffi python3-yaml python3-sklearn
          dataset-fashion-mnist)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
