#!/usr/bin/python3
"""Cross-check the forward engine on diffusion U-Nets against PyTorch.

For the DDPM U-Net of examples/models/ddpm_unet.py, in a small
configuration (one block per level, two levels, attention at 8x8, 16x16
input) and in the CIFAR-10 one of the zoo, this draws random weights (the
GroupNorm affine pairs too), writes the graph with gen_zoo's generator and
the state_dict as safetensors, runs tests/engine_driver.c on a random batch
with random timesteps in [0, 1000), and requires

    max |engine - torch| / max |torch|  <=  1e-5   (float32)

Single-threaded on both sides. Exit 77 (skipped) when torch is absent.

usage: torch_unet_crosscheck.py ENGINE_DRIVER SOURCE_ROOT
"""
import os
import pathlib
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as exc:  # the check needs torch; skip, do not fail
    print(f"skipped: {exc}")
    sys.exit(77)

TOLERANCE = 1e-5
BATCH = 2


def randomise(model, gen):
    """Weights as trained networks have them: GroupNorm gamma around 1 and
    beta around 0 (PyTorch initialises them to exactly 1 and 0)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.GroupNorm):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * torch.rand(m.bias.shape, generator=gen) - 0.1)


def check(name, make, gz, driver, tmp):
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(99)
    model, graph = gz.build_ddpm(name, make)
    randomise(model, gen)
    model.eval()
    gz.SOURCES.setdefault(name, "examples/models/ddpm_unet.py (test size)")
    yaml_path = tmp / f"{name}.yaml"
    yaml_path.write_text(gz.render(graph), encoding="utf-8")
    res = model.resolution
    x = torch.rand(BATCH, 3, res, res, generator=gen) * 2 - 1
    t = torch.randint(0, 1000, (BATCH,), generator=gen).float()
    with torch.no_grad():
        want = model(x, t).numpy().astype(np.float64)
    weights = tmp / f"{name}.safetensors"
    from torch_util import write_safetensors
    write_safetensors(weights, model.state_dict())
    inp, out, ts = (tmp / f"{name}.in.f32", tmp / f"{name}.out.f32",
                    tmp / f"{name}.t.f32")
    x.numpy().astype("=f4").tofile(inp)
    t.numpy().astype("=f4").tofile(ts)
    subprocess.run([driver, str(yaml_path), str(weights), str(inp),
                    str(BATCH), str(out), str(ts)], check=True)
    got = np.fromfile(out, dtype="=f4").astype(np.float64)
    if got.size != want.size:
        print(f"{name}: engine gave {got.size} values, torch {want.size}")
        return False
    rel = np.abs(got - want.reshape(-1)).max() / np.abs(want).max()
    ok = rel <= TOLERANCE
    print(f"{name}: max |engine - torch| / max |torch| = {rel:.3g} "
          f"(timesteps {t.int().tolist()}) {'ok' if ok else 'FAIL'}")
    return ok


def main():
    driver, root = sys.argv[1], pathlib.Path(sys.argv[2])
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    sys.path.insert(0, str(root / "examples" / "models"))
    sys.path.insert(0, str(root / "tests"))
    import gen_zoo as gz
    import ddpm_unet

    def small():
        return ddpm_unet.DDPMUNet(ch=32, ch_mult=(1, 2), num_res_blocks=1,
                                  attn_resolutions=(8,), resolution=16)

    ok = True
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        ok &= check("ddpm_small", small, gz, driver, tmp)
        ok &= check("ddpm_cifar10", ddpm_unet.DDPMUNet.cifar10, gz, driver,
                    tmp)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
