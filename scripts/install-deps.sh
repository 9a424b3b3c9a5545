#!/usr/bin/env bash
# Installs the Debian 12 packages liblayermerge needs to build, test and run
# its examples, and those CI adds (clang for the second -Werror build,
# abigail-tools for scripts/abi-check.sh; cmake and groff-base for the
# install test, which builds a CMake consumer and renders the man page;
# dataset-fashion-mnist holds the images of the examples/study test,
# docs/results/fashion-mnist.md). As root it runs apt-get; otherwise it
# prints the command. Then ONNX Runtime (CPU), which Debian does not
# package, from npm into tools/timers/node_modules: the ONNX tests and the
# shipped timer run it.
set -euo pipefail
packages=(gcc g++ clang meson ninja-build pkg-config libopenblas-dev libyaml-dev
          libjansson-dev check valgrind abigail-tools python3 python3-numpy python3-torch
          python3-torchvision python3-cffi python3-yaml python3-sklearn
          protobuf-c-compiler libprotobuf-c-dev libonnx-dev python3-onnx
          cmake groff-base dataset-fashion-mnist)
# Node.js only when the machine has none (it may come from elsewhere).
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing packages: ${missing[*]}" >&2
        echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
# onnxruntime-node's install script fetches GPU libraries from outside and
# fails; the CPU library is in the package itself, so scripts are skipped.
timers=$(cd "$(dirname "$0")/../tools/timers" && pwd)
if [ ! -d "$timers/node_modules/onnxruntime-node" ]; then
    echo "installing onnxruntime-node into $timers/node_modules"
    (cd "$timers" && npm install --ignore-scripts --no-audit --no-fund \
        --loglevel=error >/dev/null)
fi
