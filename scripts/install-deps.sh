#!/usr/bin/env bash
# Installs the Debian 12 packages liblayermerge needs to build, test and run
# its examples, and those CI adds (clang for the second -Werror build,
# abigail-tools for scripts/abi-check.sh). As root it runs apt-get;
# otherwise it prints the command. Then it installs the pinned npm
# packages of the ONNX Runtime timer (tools/timers, package-lock.json)
# when they are missing; that needs no root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
packages=(gcc g++ clang meson ninja-build pkg-config libopenblas-dev libyaml-dev
          libjansson-dev check valgrind abigail-tools python3 python3-numpy python3-torch
          python3-torchvision python3-cffi python3-yaml python3-sklearn python3-onnx)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing+=("$p")
done
# The timers' tests run node (tools/timers/onnxruntime.js). A node that is
# already on PATH (e.g. a newer one from another source) is kept: Debian's
# nodejs would conflict with it.
if ! command -v node >/dev/null 2>&1; then
    missing+=(nodejs npm)
elif ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi
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
# onnxruntime-node's install script downloads GPU libraries (and fails
# without them); the CPU library ships in the package: --ignore-scripts.
if [ ! -d "$root/tools/timers/node_modules/onnxruntime-node" ]; then
    echo "installing tools/timers npm packages (package-lock.json)"
    (cd "$root/tools/timers" &&
     npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
fi
