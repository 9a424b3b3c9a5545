#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the
# main job on the model zoo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
for model in examples/models/*.yaml; do
    build/tools/layermerge graph check "$model"
done
