#!/usr/bin/python3
"""Cross-check the forward engine against PyTorch.

For torchvision's resnet18, resnet34 and mobilenet_v2 (random init, batch
norm statistics and affine parameters randomised, eval mode) this writes the
state_dict as safetensors (by hand: 8-byte little-endian header length, JSON
header {name: {dtype, shape, data_offsets}}, data), runs the library's
engine on the matching examples/models/*.yaml through tests/engine_driver.c
on the same random batch, and requires

    max |engine - torch| / max |torch|  <=  1e-4   (float32)

for every model. Single-threaded on both sides (OPENBLAS_NUM_THREADS=1,
torch.set_num_threads(1)). Exit 77 (skipped) when torch is absent.

usage: torch_crosscheck.py ENGINE_DRIVER SOURCE_ROOT
"""
import os
import pathlib
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torchvision
except ImportError as exc:  # the check needs torch; skip, do not fail
    print(f"skipped: {exc}")
    sys.exit(77)
from torch_util import random_network, write_safetensors  # noqa: E402

TOLERANCE = 1e-4
BATCH = 2
MODELS = [
    ("resnet18", lambda: torchvision.models.resnet18()),
    ("resnet34", lambda: torchvision.models.resnet34()),
    ("mobilenetv2", lambda: torchvision.models.mobilenet_v2()),
]


def check(name, make, driver, root, tmp):
    model, gen = random_network(make)
    x = torch.rand(BATCH, 3, 224, 224, generator=gen) * 2 - 1
    with torch.no_grad():
        want = model(x).numpy().astype(np.float64)
    weights = tmp / f"{name}.safetensors"
    write_safetensors(weights, model.state_dict())
    inp, out = tmp / f"{name}.in.f32", tmp / f"{name}.out.f32"
    x.numpy().astype("=f4").tofile(inp)
    graph = root / "examples" / "models" / f"{name}.yaml"
    subprocess.run([driver, str(graph), str(weights), str(inp), str(BATCH),
                    str(out)], check=True)
    got = np.fromfile(out, dtype="=f4").astype(np.float64)
    if got.size != want.size:
        print(f"{name}: engine gave {got.size} values, torch {want.size}")
        return False
    diff = np.abs(got - want.reshape(-1)).max()
    scale = np.abs(want).max()
    rel = diff / scale
    ok = rel <= TOLERANCE
    print(f"{name}: max|diff| {diff:.3e}  max|torch| {scale:.3e}  "
          f"relative {rel:.3e}  {'ok' if ok else 'FAIL'}")
    return ok


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    driver, root = sys.argv[1], pathlib.Path(sys.argv[2])
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        results = [check(n, m, driver, root, pathlib.Path(d))
                   for n, m in MODELS]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
