#!/usr/bin/python3
"""Exported ONNX models against the engine, in ONNX Runtime.

For each zoo network (ResNet-18/34/50, MobileNetV2, VGG-19) with random
torchvision weights (batch norm statistics randomised), the original and
the networks merged at budget ratios 0.8 and 0.65 (synthetic tables from
`layermerge entries`, as tests/torch_merged_crosscheck.py) are exported
with `layermerge export`; each model

  * passes onnx.checker.check_model(full_check=True) (shape inference
    included), declares opset 13 and the static input shape asked for;
  * runs in ONNX Runtime (onnxruntime-node through tests/ort_run.js, one
    thread) to the engine's output (tests/engine_driver) on the same
    random batch within  max |x - y| / max |y|  <=  1e-5.

tests/data/graph_all_ops.yaml (every op and activation of the graph format)
is exported and checked the same way, with random weights written here.
ResNet-18 is also exported with its batch norms kept as
BatchNormalization nodes and with a dynamic batch axis, each checked the
same way. Inputs are 64 x 64 and the batch is 2, to keep it fast; VGG-19's
head then pools 2 x 2 to 7 x 7 (the adaptive pool exported as a matrix
product).

usage: onnx_crosscheck.py LAYERMERGE ENGINE_DRIVER SOURCE_ROOT
ONNX Runtime is found in SOURCE_ROOT/tools/timers/node_modules
(scripts/install-deps.sh installs it there) or $LAYERMERGE_ORT_NODE_PATH.
"""
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torchvision
import yaml

from torch_merged_crosscheck import run, small_graph, synthetic_tables
from torch_util import random_network, write_safetensors

TOLERANCE = 1e-5
BATCH = 2
SIDE = 64
NETWORKS = [("resnet18", torchvision.models.resnet18),
            ("resnet34", torchvision.models.resnet34),
            ("resnet50", torchvision.models.resnet50),
            ("mobilenetv2", torchvision.models.mobilenet_v2),
            ("vgg19", torchvision.models.vgg19)]
RATIOS = (0.8, 0.65)


def graph_tensors(path, gen):
    """Random tensors for every layer of a graph file that has weights,
    named and shaped as docs/weights.md says (batch norm variances > 0)."""
    with open(path) as f:
        g = yaml.safe_load(f)
    state = {}

    def conv(d, in_ch):
        k, groups = d.get("kernel", 1), d.get("groups", 1)
        state[d["name"] + ".weight"] = torch.randn(
            d["out"], in_ch // groups, k, k, generator=gen) * 0.3
        if d.get("bias"):
            state[d["name"] + ".bias"] = torch.randn(d["out"], generator=gen)

    def bn(name, c):
        state[name + ".weight"] = torch.rand(c, generator=gen) + 0.5
        state[name + ".bias"] = torch.randn(c, generator=gen) * 0.1
        state[name + ".running_mean"] = torch.randn(c, generator=gen) * 0.1
        state[name + ".running_var"] = torch.rand(c, generator=gen) + 0.5

    def layers(items):
        for d in items or []:
            if d["op"] == "conv":
                conv(d, d["in"])
            elif d["op"] == "batchnorm":
                bn(d["name"], d["channels"])
            elif d["op"] == "linear":
                state[d["name"] + ".weight"] = torch.randn(
                    d["out"], d["in"], generator=gen) * 0.1
                if d.get("bias"):
                    state[d["name"] + ".bias"] = torch.randn(d["out"],
                                                             generator=gen)

    def channels(items, c):
        for d in items or []:
            c = d["out"] if d["op"] == "conv" else c
        return c

    layers(g.get("stem"))
    pos = [channels(g.get("stem"), g["input"]["channels"])]
    for t in g["trunk"]:
        conv(t, t["in"])
        if "bn" in t:
            bn(t["bn"]["name"], t["out"])
        layers(t.get("after"))
        pos.append(channels(t.get("after"), t["out"]))
    for s in g.get("skips") or []:
        p = s.get("projection")
        if p:
            out = g["trunk"][s["to"] - 1]["out"]
            conv(dict(p, out=out, kernel=1), pos[s["from"]])
            if "bn" in p:
                bn(p["bn"]["name"], out)
    layers(g.get("head"))
    return state


def node_env(root):
    path = os.environ.get("LAYERMERGE_ORT_NODE_PATH",
                          str(root / "tools" / "timers" / "node_modules"))
    if not (pathlib.Path(path) / "onnxruntime-node").is_dir():
        raise SystemExit(f"onnxruntime-node not found under {path}: run "
                         "scripts/install-deps.sh (or set "
                         "LAYERMERGE_ORT_NODE_PATH)")
    return dict(os.environ, NODE_PATH=path)


def check_model(path, batch_dim, side):
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    opsets = {o.domain: o.version for o in model.opset_import}
    assert opsets == {"": 13}, f"{path}: opsets {opsets}"
    dims = model.graph.input[0].type.tensor_type.shape.dim
    got = [d.dim_param or d.dim_value for d in dims]
    assert got == [batch_dim, 3, side, side], f"{path}: input {got}"
    return sorted({n.op_type for n in model.graph.node})


def compare(label, lm, driver, ort_run, env, graph, weights, tmp, x,
            extra=(), batch_dim=BATCH, side=SIDE, t=None):
    onnx_path = tmp / f"{label}.onnx"
    run([lm, "export", graph, weights, "-o", onnx_path, "--batch", BATCH,
         *extra])
    ops = check_model(onnx_path, batch_dim, side)
    inp, eng, ort, ts = (tmp / f"{label}.{s}.f32"
                         for s in ("in", "eng", "ort", "t"))
    x.astype("=f4").tofile(inp)
    tail = []
    if t is not None:
        t.astype("=f4").tofile(ts)
        tail = [ts]
    run([driver, graph, weights, inp, BATCH, eng, *tail])
    done = subprocess.run(["node", ort_run, onnx_path, inp, ort, *tail],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{label}: ONNX Runtime failed\n{done.stderr}")
    want = np.fromfile(eng, dtype="=f4")
    got = np.fromfile(ort, dtype="=f4")
    assert got.shape == want.shape, f"{label}: {got.shape} vs {want.shape}"
    err = float(np.abs(got - want).max() / np.abs(want).max())
    status = "ok" if err <= TOLERANCE else "FAIL"
    print(f"{label:28s} rel_err={err:.2e} ops={','.join(ops)} {status}",
          flush=True)
    onnx_path.unlink()  # VGG-19's model is half a gigabyte
    return err <= TOLERANCE


def main():
    lm, driver, root = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    ort_run = root / "tests" / "ort_run.js"
    env = node_env(root)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ok = True
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        graph = root / "tests" / "data" / "graph_all_ops.yaml"
        weights = tmp / "all-ops.safetensors"
        write_safetensors(weights, graph_tensors(graph,
                                                 torch.Generator().manual_seed(1)))
        x = rng.uniform(-1, 1, (BATCH, 3, 20, 20))
        ok &= compare("all-ops", lm, driver, ort_run, env, graph, weights,
                      tmp, x, side=20)
        ok &= compare("all-ops-batchnorm-kept", lm, driver, ort_run, env,
                      graph, weights, tmp, x, ("--batchnorm", "keep"),
                      side=20)
        for name, make in NETWORKS:
            graph = small_graph(root, name, tmp)
            model, _ = random_network(make)
            weights = tmp / f"{name}.safetensors"
            write_safetensors(weights, model.state_dict())
            del model
            x = rng.uniform(-1, 1, (BATCH, 3, SIDE, SIDE))
            ok &= compare(name, lm, driver, ort_run, env, graph, weights,
                          tmp, x)
            if name == "resnet18":
                ok &= compare("resnet18-batchnorm-kept", lm, driver, ort_run,
                              env, graph, weights, tmp, x,
                              ("--batchnorm", "keep"))
                ok &= compare("resnet18-dynamic-batch", lm, driver, ort_run,
                              env, graph, weights, tmp, x,
                              ("--batch", "dynamic"), batch_dim="batch")
            lat, imp = synthetic_tables(lm, graph, tmp / name)
            for ratio in RATIOS:
                tag = f"{name}-merged-r{ratio}"
                result, merged = tmp / f"{tag}.result.yaml", tmp / tag
                run([lm, "solve", graph, "--latency", lat, "--importance",
                     imp, "--ratio", ratio, "-o", result])
                run([lm, "merge", graph, weights, result, "-o", merged])
                ok &= compare(tag, lm, driver, ort_run, env,
                              tmp / f"{tag}.yaml", tmp / f"{tag}.safetensors",
                              tmp, x)
            weights.unlink()
        ok &= check_unet(lm, driver, ort_run, env, root, tmp, rng)
    sys.exit(0 if ok else 1)


def check_unet(lm, driver, ort_run, env, root, tmp, rng):
    """The DDPM U-Net of the zoo, original and merged, with a second input
    of timesteps."""
    sys.path.insert(0, str(root / "examples" / "models"))
    import ddpm_unet
    torch.manual_seed(3)
    model = ddpm_unet.DDPMUNet.cifar10()
    gen = torch.Generator().manual_seed(4)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.GroupNorm):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * torch.rand(m.bias.shape, generator=gen) - 0.1)
    graph = root / "examples" / "models" / "ddpm_cifar10.yaml"
    weights = tmp / "ddpm.safetensors"
    write_safetensors(weights, model.state_dict())
    del model
    x = rng.standard_normal((BATCH, 3, 32, 32))
    t = rng.integers(0, 1000, BATCH).astype(np.float32)
    ok = compare("ddpm_cifar10", lm, driver, ort_run, env, graph, weights,
                 tmp, x, side=32, t=t)
    lat, imp = synthetic_tables(lm, graph, tmp / "ddpm")
    for ratio in (0.8, 0.6):
        tag = f"ddpm_cifar10-merged-r{ratio}"
        result, merged = tmp / f"{tag}.result.yaml", tmp / tag
        run([lm, "solve", graph, "--latency", lat, "--importance", imp,
             "--ratio", ratio, "-o", result])
        run([lm, "merge", graph, weights, result, "-o", merged])
        ok &= compare(tag, lm, driver, ort_run, env, tmp / f"{tag}.yaml",
                      tmp / f"{tag}.safetensors", tmp, x, side=32, t=t)
    return ok


if __name__ == "__main__":
    main()
