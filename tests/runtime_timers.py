#!/usr/bin/python3
"""The external timers of tools/timers against PyTorch (suite 'runtime').

Small networks covering most operators the timers take (grouped and
depthwise convs with strides and pads, batch norm kept as its own node,
ReLU, ReLU6 as Clip, sigmoid, tanh, hardswish, SiLU, GELU, leaky ReLU,
max/average/global pools, a skip addition, concat, pad, reshape, flatten,
Gemm) are exported with torch.onnx.export (opset 13) and run by
onnxruntime.js and torch.py (eager and script) with --output: each output
must match the PyTorch module's own, max |a - b| / max |b| <= 1e-5. A
hand-written ONNX graph (asymmetric pads, Gemm with transB=0 and
alpha/beta, Clip with other bounds, Identity, Flatten axis 2, Pad reflect,
a Constant shape for Reshape, HardSwish of opset 14, Sub, Dropout) checks
torch.py against ONNX Runtime. The protocol: the last stdout line is a
number > 0. Failures: a missing file, a file that is not a model, an
operator torch.py does not translate, a batch the model does not have, an
input of the wrong shape. tools/timers/trtexec.sh is run on a stand-in
trtexec printing TensorRT's summary lines (no GPU here): the median read,
the failures.

With LAYERMERGE, the models `layermerge export` writes of
tests/data/graph_all_ops.yaml (every op of the graph format; batch norms
folded and kept; a dynamic batch) must run in both timers and agree, and
the export of tests/data/graph_unet_mini.yaml (a U-Net with a timesteps
input) must run in every timer to the engine's output at t = 500.

usage: runtime_timers.py SOURCE_ROOT [LAYERMERGE]
Prints 'N passed, N failed'; exit 1 on any failure. Needs node and
tools/timers/node_modules (scripts/install-deps.sh installs both).
"""
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

TOL = 1e-5
PASS, FAIL = [0], [0]


def check(what, ok, detail=""):
    if ok:
        PASS[0] += 1
    else:
        FAIL[0] += 1
        print(f"FAIL: {what}" + (f": {detail}" if detail else ""), flush=True)


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


# --- the networks ---------------------------------------------------------

def randomise_bn(model, gen):
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.5, 0.5, generator=gen)
                m.running_mean.uniform_(-0.5, 0.5, generator=gen)
                m.running_var.uniform_(0.5, 1.5, generator=gen)
    return model.eval()


class ConvNet(torch.nn.Module):
    """The op set of a merged ResNet/MobileNet: grouped conv with stride
    and pads, depthwise conv, ReLU, ReLU6 (Clip), max pool, a skip
    addition followed by a batch norm (so it stays a node of its own),
    average pool, global pool, flatten, batch norm over features, Gemm."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(8), nn.ReLU())
        self.grouped = nn.Conv2d(8, 16, 3, 1, 1, groups=2, bias=True)
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 5, 2, 2, groups=16),
                                nn.BatchNorm2d(16), nn.ReLU6())
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.branch = nn.Conv2d(16, 16, 1)
        self.bn = nn.BatchNorm2d(16)
        self.avg = nn.AvgPool2d(2, 2)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(16),
                                  nn.Linear(16, 10))

    def forward(self, x):
        y = self.dw(self.grouped(self.stem(x)))
        y = self.pool(y)
        y = torch.relu(self.bn(y + self.branch(y)))
        return self.head(self.gap(self.avg(y)))


class ActNet(torch.nn.Module):
    """The activations the graph format has, as opset 13 writes them
    (SiLU = x * sigmoid, hardswish via HardSigmoid, GELU via Erf), and
    concat, ceil-mode max pool, padded average pool, reshape. (No F.pad:
    opset 13 writes it as a computation of the pads, not a constant.)"""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.c1 = nn.Conv2d(4, 6, 3, 1, (1, 2))
        self.acts = nn.ModuleList([nn.Sigmoid(), nn.Tanh(), nn.Hardswish(),
                                   nn.SiLU(), nn.GELU(), nn.LeakyReLU(0.1)])
        self.c2 = nn.Conv2d(36, 8, 1, bias=False)
        self.mp = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.ap = nn.AvgPool2d(3, 1, 1, count_include_pad=True)
        self.fc = nn.Linear(8 * 4 * 6, 7)

    def forward(self, x):
        y = self.c1(x)
        y = torch.cat([a(y) for a in self.acts], 1)
        y = self.ap(self.mp(self.c2(y)))
        return self.fc(y.reshape(1, -1))


def export(model, x, path):
    torch.onnx.export(model, x, str(path), opset_version=13,
                      input_names=["input"], output_names=["output"])


def handmade(path, gen):
    """Operators torch.onnx.export does not write this way."""
    r = np.random.default_rng(3)
    f = lambda *s: r.standard_normal(s).astype(np.float32)  # noqa: E731
    inits = [numpy_helper.from_array(v, n) for n, v in [
        ("w", f(6, 3, 3, 3)), ("b", f(6)), ("lo", np.array(-0.5, np.float32)),
        ("hi", np.array(1.0, np.float32)), ("gw", f(6, 5)), ("gc", f(5)),
        ("pads", np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64))]]
    nodes = [
        helper.make_node("Pad", ["input", "pads"], ["p"], mode="reflect"),
        helper.make_node("Conv", ["p", "w", "b"], ["c"], name="conv_asym",
                         pads=[0, 1, 2, 0], strides=[2, 1]),
        helper.make_node("Clip", ["c", "lo", "hi"], ["k"]),
        helper.make_node("MaxPool", ["k"], ["m"], kernel_shape=[2, 2],
                         strides=[2, 2], pads=[1, 0, 0, 1]),
        helper.make_node("GlobalMaxPool", ["m"], ["g0"]),
        helper.make_node("Identity", ["g0"], ["g"]),
        helper.make_node("Flatten", ["g"], ["fl"], axis=2),
        helper.make_node("Reshape", ["fl", "shape"], ["rs"]),
        helper.make_node("Gemm", ["rs", "gw", "gc"], ["gm"], alpha=0.5,
                         beta=2.0, transB=0),
        helper.make_node("HardSwish", ["gm"], ["hs"]),  # opset 14
        helper.make_node("Sub", ["hs", "lo"], ["sb"]),
        helper.make_node("Dropout", ["sb"], ["output"]),
    ]
    nodes.insert(7, helper.make_node(
        "Constant", [], ["shape"],
        value=numpy_helper.from_array(np.array([1, -1], np.int64))))
    graph = helper.make_graph(
        nodes, "handmade",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       [1, 3, 9, 7])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 5])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def unsupported(path, op):
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["r"], name="first"),
         helper.make_node(op, ["r"], ["output"], name="the_odd_one")],
        "odd",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.save(model, str(path))


# --- running the timers ---------------------------------------------------

class Timers:
    def __init__(self, root):
        timers = root / "tools" / "timers"
        node = shutil.which("node") or shutil.which("nodejs")
        self.js = [node, str(timers / "onnxruntime.js")] if node else None
        self.py = [sys.executable, str(timers / "torch.py")]

    def variants(self):
        return [("onnxruntime", self.js), ("torch eager", self.py + ["--mode", "eager"]),
                ("torch script", self.py + ["--mode", "script"])]


def run(cmd, *args):
    return subprocess.run([str(a) for a in list(cmd) + list(args)],
                          capture_output=True, text=True, timeout=600)


def last_number(stdout):
    lines = stdout.strip().splitlines()
    try:
        return float(lines[-1])
    except (IndexError, ValueError):
        return None


def check_model(timers, label, model_path, x, want, tmp):
    xin = tmp / f"{label}.x.npy"
    np.save(xin, x)
    for name, cmd in timers.variants():
        out = tmp / f"{label}.{name.replace(' ', '_')}.npy"
        res = run(cmd, model_path, "--input", xin, "--output", out,
                  "--warmup", 1, "--reps", 3)
        check(f"{name} runs {label}", res.returncode == 0, res.stderr.strip())
        if res.returncode != 0:
            continue
        ms = last_number(res.stdout)
        check(f"{name} {label}: last stdout line is a number > 0",
              ms is not None and ms > 0, repr(res.stdout))
        check(f"{name} {label}: stderr has the summary",
              "median_ms=" in res.stderr and "reps=3" in res.stderr,
              res.stderr)
        err = rel_err(np.load(out), want)
        check(f"{name} {label}: output within {TOL} of the reference",
              err <= TOL, f"relative error {err:.2e}")


FAKE_TRTEXEC = """#!/bin/sh
# trtexec's summary lines as TensorRT 8.6 prints them; --fail fails
echo "&&&& RUNNING TensorRT.trtexec [TensorRT v8601] # trtexec $*" >&2
echo "$*" > "$0.args"
case "$*" in *--fail*) echo "[E] Error[4]: the model is bad"; exit 1;; esac
case "$*" in *--silent*) exit 0;; esac
echo "[I] Latency: min = 2.1 ms, max = 2.7 ms, mean = 2.2 ms, median = 2.15 ms"
echo "[I] GPU Compute Time: min = 2.05615 ms, max = 2.59482 ms, mean =\
 2.09467 ms, median = 2.08276 ms, percentile(99%) = 2.58971 ms"
"""


def check_trtexec(root, tmp, model):
    """tools/timers/trtexec.sh reads the median off trtexec's log (a
    stand-in trtexec here: the machine has no GPU)."""
    fake = tmp / "trtexec"
    fake.write_text(FAKE_TRTEXEC)
    fake.chmod(0o755)
    script = [str(root / "tools" / "timers" / "trtexec.sh")]
    env = dict(os.environ, TRTEXEC=str(fake))

    def sh(*args):
        return subprocess.run(script + [str(a) for a in args], env=env,
                              capture_output=True, text=True, timeout=60)
    res = sh(model, "--fp16")
    check("trtexec.sh prints the GPU compute median on the last line",
          res.returncode == 0 and last_number(res.stdout) == 2.08276,
          f"{res.returncode} {res.stdout!r} {res.stderr!r}")
    args = (tmp / "trtexec.args").read_text() if (tmp / "trtexec.args").exists() else ""
    check("trtexec.sh passes the model and the options on",
          f"--onnx={model}" in args and args.strip().endswith("--fp16"), args)
    res = sh(model, "--fail")
    check("trtexec.sh fails when trtexec fails, with its log",
          res.returncode == 1 and "the model is bad" in res.stderr
          and res.stdout == "", f"{res.returncode} {res.stderr!r}")
    res = sh(model, "--silent")
    check("trtexec.sh fails when the log has no median",
          res.returncode == 1 and "no 'GPU Compute Time'" in res.stderr,
          f"{res.returncode} {res.stderr!r}")
    res = sh(tmp / "no_such_model.onnx")
    check("trtexec.sh fails on a missing model naming it",
          res.returncode == 1 and "no_such_model.onnx" in res.stderr,
          f"{res.returncode} {res.stderr!r}")


def check_layermerge_export(timers, layermerge, root, tmp):
    """torch.py takes every model `layermerge export` writes: the graph with
    every op and activation of the format (tests/data/graph_all_ops.yaml),
    batch norms folded and kept, a static batch of 2 and a dynamic batch,
    against ONNX Runtime on the same input."""
    graph = root / "tests" / "data" / "graph_all_ops.yaml"
    x = np.random.default_rng(11).uniform(-1, 1, (2, 3, 20, 20)).astype(np.float32)
    xin = tmp / "allops.x.npy"
    np.save(xin, x)
    for tag, extra in (("folded", []), ("kept", ["--batchnorm", "keep"]),
                       ("dynamic", ["--batch", "dynamic"])):
        model = tmp / f"allops-{tag}.onnx"
        batch = [] if tag == "dynamic" else ["--batch", "2"]
        res = run([layermerge, "export", graph, "--random-weights", 3, "-o",
                   model] + batch + extra)
        check(f"layermerge export graph_all_ops ({tag})", res.returncode == 0,
              res.stderr.strip())
        if res.returncode != 0:
            continue
        ops = {n.op_type for n in onnx.load(str(model)).graph.node}
        if tag == "kept":
            check("the kept model has BatchNormalization nodes",
                  "BatchNormalization" in ops, str(sorted(ops)))
        outs = {}
        for name, cmd in timers.variants():
            out = tmp / f"allops-{tag}.{name.replace(' ', '_')}.npy"
            res = run(cmd, model, "--input", xin, "--output", out,
                      "--warmup", 0, "--reps", 2)
            check(f"{name} runs the exported graph_all_ops ({tag})",
                  res.returncode == 0 and last_number(res.stdout) is not None,
                  res.stderr.strip())
            outs[name] = np.load(out) if res.returncode == 0 else None
        ref = outs["onnxruntime"]
        for name in ("torch eager", "torch script"):
            if ref is None or outs[name] is None:
                continue
            err = rel_err(outs[name], ref)
            check(f"{name} matches onnxruntime on graph_all_ops ({tag})",
                  err <= TOL and ref.shape == (2, 5), f"{err:.2e} {ref.shape}")
        if tag == "dynamic":
            out = tmp / "allops-dyn3.npy"
            res = run(timers.py, model, "--batch", 3, "--output", out,
                      "--reps", 1)
            check("torch.py takes --batch for a dynamic batch",
                  res.returncode == 0 and np.load(out).shape == (3, 5),
                  res.stderr.strip())
            res = run(timers.js, model, "--batch", 3, "--output", out,
                      "--reps", 1)
            check("onnxruntime.js takes --batch for a dynamic batch",
                  res.returncode == 0 and np.load(out).shape == (3, 5),
                  res.stderr.strip())


def check_unet_export(timers, layermerge, root, tmp):
    """A U-Net `layermerge export` wrote (tests/data/graph_unet_mini.yaml:
    its second input "timesteps", GroupNorm as InstanceNormalization,
    attention, Resize, Pad, Concat): every timer runs it with t = 500 and
    matches the library's engine at that timestep (`layermerge run`)."""
    graph = root / "tests" / "data" / "graph_unet_mini.yaml"
    x = np.random.default_rng(13).uniform(-1, 1, (2, 3, 8, 8)).astype(np.float32)
    xin, ref = tmp / "unet.x.npy", tmp / "unet.engine.npy"
    np.save(xin, x)
    model = tmp / "unet.onnx"
    res = run([layermerge, "export", graph, "--random-weights", 3, "-o",
               model, "--batch", 2])
    check("layermerge export of a U-Net", res.returncode == 0,
          res.stderr.strip())
    res = run([layermerge, "run", graph, "--random-weights", 3, "--input",
               xin, "--timesteps", 500, "-o", ref])
    check("layermerge run of the U-Net at t = 500", res.returncode == 0,
          res.stderr.strip())
    if not model.exists() or not ref.exists():
        return
    want = np.load(ref)
    for name, cmd in timers.variants():
        out = tmp / f"unet.{name.replace(' ', '_')}.npy"
        res = run(cmd, model, "--input", xin, "--output", out, "--warmup", 0,
                  "--reps", 2)
        check(f"{name} runs the U-Net (two inputs)",
              res.returncode == 0 and last_number(res.stdout) is not None,
              res.stderr.strip())
        if res.returncode == 0:
            err = rel_err(np.load(out), want)
            check(f"{name} matches the engine on the U-Net at t = 500",
                  err <= TOL, f"relative error {err:.2e}")


def main():
    root = pathlib.Path(sys.argv[1]).resolve()
    layermerge = sys.argv[2] if len(sys.argv) > 2 else None
    timers = Timers(root)
    if timers.js is None:
        print("FAIL: node not found (scripts/install-deps.sh installs it)")
        return 1
    if not (root / "tools" / "timers" / "node_modules" / "onnxruntime-node").is_dir():
        print("FAIL: tools/timers/node_modules/onnxruntime-node missing "
              "(scripts/install-deps.sh installs it)")
        return 1
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        cases = [("convnet", randomise_bn(ConvNet(), gen),
                  torch.rand(1, 3, 33, 31, generator=gen) * 2 - 1),
                 ("actnet", ActNet().eval(),
                  torch.rand(1, 4, 9, 10, generator=gen) * 2 - 1)]
        for label, model, x in cases:
            path = tmp / f"{label}.onnx"
            export(model, x, path)
            ops = {n.op_type for n in onnx.load(str(path)).graph.node}
            print(f"{label}: {', '.join(sorted(ops))}", flush=True)
            with torch.no_grad():
                want = model(x).numpy()
            check_model(timers, label, path, x.numpy(), want, tmp)
        ops = {n.op_type for label, _, _ in cases
               for n in onnx.load(str(tmp / f"{label}.onnx")).graph.node}
        needed = {"Conv", "BatchNormalization", "Relu", "Clip", "Sigmoid",
                  "Tanh", "HardSigmoid", "Mul", "Erf", "LeakyRelu", "MaxPool",
                  "AveragePool", "GlobalAveragePool", "Add", "Flatten",
                  "Gemm", "Concat", "Pad", "Reshape"}
        check("the exported networks cover the operator set",
              needed <= ops, f"missing {sorted(needed - ops)}")
        groups = [a.i for n in onnx.load(str(tmp / "convnet.onnx")).graph.node
                  if n.op_type == "Conv" for a in n.attribute
                  if a.name == "group"]
        check("grouped and depthwise convs are exported",
              2 in groups and 16 in groups, str(groups))

        # torch.py against ONNX Runtime on the hand-written graph.
        hand = tmp / "handmade.onnx"
        handmade(hand, gen)
        x = np.random.default_rng(5).uniform(-1, 1, (1, 3, 9, 7)).astype(np.float32)
        np.save(tmp / "hand.x.npy", x)
        ref = tmp / "hand.ort.npy"
        res = run(timers.js, hand, "--input", tmp / "hand.x.npy", "--output",
                  ref, "--reps", 2)
        check("onnxruntime runs the hand-written graph", res.returncode == 0,
              res.stderr.strip())
        if res.returncode == 0:
            for mode in ("eager", "script"):
                out = tmp / f"hand.{mode}.npy"
                res = run(timers.py, hand, "--mode", mode, "--input",
                          tmp / "hand.x.npy", "--output", out, "--reps", 2)
                check(f"torch {mode} runs the hand-written graph",
                      res.returncode == 0, res.stderr.strip())
                if mode == "script":  # conv + Clip at 6 channels
                    check("torch script keeps optimize_for_inference "
                          "(with Clip split where the rewrite is wrong)",
                          re.search(r"optimized=(yes|split-clip)\b",
                                    res.stderr) is not None, res.stderr)
                if res.returncode == 0:
                    err = rel_err(np.load(out), np.load(ref))
                    check(f"torch {mode} matches onnxruntime on the "
                          "hand-written graph", err <= TOL, f"{err:.2e}")

        # Without --input both timers draw the same seeded input.
        conv = tmp / "convnet.onnx"
        outs = {}
        for name, cmd in timers.variants()[:2]:
            for seed in (0, 1):
                out = tmp / f"seeded.{name[:5]}.{seed}.npy"
                res = run(cmd, conv, "--seed", seed, "--output", out,
                          "--warmup", 0, "--reps", 1, "--threads", 2)
                check(f"{name} runs with a seeded input (2 threads)",
                      res.returncode == 0 and "threads=2" in res.stderr,
                      res.stderr.strip())
                outs[name, seed] = np.load(out) if out.exists() else None
        if all(v is not None for v in outs.values()):
            err = rel_err(outs["torch eager", 0], outs["onnxruntime", 0])
            check("the timers draw the same input for one seed", err <= TOL,
                  f"{err:.2e}")
            check("another seed, another input",
                  rel_err(outs["onnxruntime", 1], outs["onnxruntime", 0]) > 1e-3)

        # Failures: exit 1, a message naming the file or the node.
        missing = tmp / "no_such_model.onnx"
        junk = tmp / "junk.onnx"
        junk.write_bytes(b"this is not a protobuf\x00\xff")
        for name, cmd in timers.variants()[:2]:
            res = run(cmd, missing)
            check(f"{name}: a missing model fails naming it",
                  res.returncode == 1 and str(missing) in res.stderr
                  and res.stdout == "", f"{res.returncode} {res.stderr!r}")
            res = run(cmd, junk)
            check(f"{name}: a file that is no model fails naming it",
                  res.returncode == 1 and str(junk) in res.stderr,
                  f"{res.returncode} {res.stderr!r}")
            res = run(cmd, conv, "--batch", 4)
            check(f"{name}: a batch the model does not have is refused",
                  res.returncode == 1 and "--batch 4" in res.stderr,
                  f"{res.returncode} {res.stderr!r}")
            res = run(cmd, conv, "--input", tmp / "actnet.x.npy")
            check(f"{name}: an input of the wrong shape is refused",
                  res.returncode == 1 and "actnet.x.npy" in res.stderr,
                  f"{res.returncode} {res.stderr!r}")
            res = run(cmd, conv, "--reps", 0)
            check(f"{name}: --reps 0 is bad usage", res.returncode == 2,
                  f"{res.returncode} {res.stderr!r}")
        odd = tmp / "hardmax.onnx"
        unsupported(odd, "Hardmax")
        res = run(timers.py, odd)
        check("torch.py names an unsupported operator and its node",
              res.returncode == 1 and "Hardmax" in res.stderr
              and "the_odd_one" in res.stderr and str(odd) in res.stderr,
              f"{res.returncode} {res.stderr!r}")
        bogus = tmp / "bogus.onnx"
        unsupported(bogus, "NoSuchOperator")
        res = run(timers.js, bogus)
        check("onnxruntime.js fails on an unknown operator naming the file",
              res.returncode == 1 and str(bogus) in res.stderr
              and "NoSuchOperator" in res.stderr,
              f"{res.returncode} {res.stderr!r}")
        # --output never leaves a partial file behind a failure
        res = run(timers.py, odd, "--output", tmp / "odd.npy")
        check("no output file after a failure",
              res.returncode == 1 and not (tmp / "odd.npy").exists())
        check_trtexec(root, tmp, conv)
        if layermerge:
            check_layermerge_export(timers, layermerge, root, tmp)
            check_unet_export(timers, layermerge, root, tmp)
    print(f"{PASS[0]} passed, {FAIL[0]} failed")
    return 1 if FAIL[0] else 0


if __name__ == "__main__":
    sys.exit(main())
