#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the
# main job — LayerMerge end to end on ResNet-34 at three latency budgets.
#
# Chosen to finish in a minute or two on 2 cores: seeded random weights (no
# download), latency table and timings at batch 1, 1 BLAS thread and
# 112x112 input (the merged network is saved at the model's own 224x224),
# 10 timed runs per entry in 3 shuffled passes, the table calibrated to the
# whole network, 5 interleaved rounds of 10 runs per network, the data-free
# proxy importance on a calibration batch of 2. Files go to
# build/quickstart/ and a re-run resumes the tables.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
mkdir -p build/quickstart
build/tools/layermerge compress examples/models/resnet34.yaml \
    -o build/quickstart/resnet34 --ratio 0.7,0.6,0.5 --size 112 --reps 10
