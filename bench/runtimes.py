#!/usr/bin/python3
"""Does a LayerMerge network stay faster outside the library's engine?

For each zoo network (examples/models) at an S x S input: seeded random
weights, `layermerge compress` at the budgets (default 0.7 and 0.5 of the
original latency, measured in the engine), then the original and each
merged network exported to ONNX (`layermerge export`, opset 13) and timed,
on one seeded input, in four runtimes at T threads:

  engine        bench/bench_engine_run (the library's engine, OpenBLAS)
  onnxruntime   tools/timers/onnxruntime.js (ONNX Runtime CPU, node)
  torch-eager   tools/timers/torch.py --mode eager
  torch-script  tools/timers/torch.py --mode script (trace + freeze +
                optimize_for_inference)

interleaved in rounds: each round times every (network, runtime) pair
once (WARMUP untimed runs, then REPS timed, the median kept) in an order
rotated by one per round, so a burst of load hits different pairs in
different rounds. It prints, per network and runtime, the median over
rounds with the rounds' min-max, and the speed-up original / merged each
runtime gets. Every runtime's output must match the engine's on the same
input (max |a - b| / max |b| <= 1e-4); exit 1 otherwise.

usage: bench/runtimes.py [--models resnet18,resnet34,resnet50,mobilenetv2,vgg19]
           [--size 112] [--ratios 0.7,0.5] [--threads 1] [--rounds 5]
           [--reps 10] [--warmup 3] [--runtimes engine,onnxruntime,...]
           [--exporter auto|layermerge|torch] [--work DIR] [--seed 0]
           [--layermerge build/tools/layermerge]
           [--engine build/bench/bench_engine_run]
           [--openblas-coretype auto|none|NAME] [--closest-feasible]
           [--compress-arg=--passes=2 ...]

--exporter torch exports with torch.onnx.export of examples/torch/
graph_module.py's GraphModule instead of `layermerge export` (auto: the
CLI's when it has the command); a second, independent path to the same
ONNX model. --work keeps the compressed networks and models: a second
run with the same --work only times. OPENBLAS_CORETYPE: see
bench/bench_vs_torch.py (auto picks SkylakeX / Haswell kernels on
AVX-512 / AVX2 CPUs that OpenBLAS 0.3.21 does not recognise).
"""
import argparse
import math
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import torch
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "examples" / "torch"))
sys.path.insert(0, str(ROOT / "bench"))
from torch_util import read_safetensors, write_safetensors  # noqa: E402
from bench_vs_torch import coretype  # noqa: E402  (OPENBLAS_CORETYPE choice)

RUNTIMES = ["engine", "onnxruntime", "torch-eager", "torch-script"]
TOLERANCE = 1e-4


# --- networks -------------------------------------------------------------

def resized_graph(src, size, dst):
    """The zoo graph with an S x S input (the zoo's heads end in an
    adaptive pool, so any size their strides allow works)."""
    g = yaml.safe_load(src.read_text())
    g["input"]["height"] = g["input"]["width"] = size
    dst.write_text(yaml.safe_dump(g, sort_keys=False))


def tensor_shapes(g):
    """name -> shape of every tensor a graph file names (docs/formats.md)."""
    shapes = {}

    def conv(name, cin, cout, k, groups, bias):
        shapes[f"{name}.weight"] = (cout, cin // groups, k, k)
        if bias:
            shapes[f"{name}.bias"] = (cout,)

    def bn(name, c):
        for k in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{name}.{k}"] = (c,)

    def layers(ops):
        for op in ops or []:
            if op["op"] == "conv":
                conv(op["name"], op["in"], op["out"], op["kernel"],
                     op.get("groups", 1), op.get("bias", False))
            elif op["op"] == "batchnorm":
                bn(op["name"], op["channels"])
            elif op["op"] == "linear":
                shapes[f"{op['name']}.weight"] = (op["out"], op["in"])
                if op.get("bias", True):
                    shapes[f"{op['name']}.bias"] = (op["out"],)

    layers(g.get("stem"))
    channels = [g["trunk"][0]["in"]]
    for t in g["trunk"]:
        conv(t["name"], t["in"], t["out"], t["kernel"], t.get("groups", 1),
             t.get("bias", False))
        if t.get("bn"):
            bn(t["bn"]["name"], t["out"])
        layers(t.get("after"))
        channels.append(t["out"])
    for s in g.get("skips") or []:
        p = s.get("projection")
        if p:
            cout = channels[s["to"]]
            conv(p["name"], channels[s["from"]], cout, 1, 1,
                 p.get("bias", False))
            if p.get("bn"):
                bn(p["bn"]["name"], cout)
    layers(g.get("head"))
    return shapes


def random_weights(graph, path, seed):
    """He-normal convs and linears, batch norms with statistics near but
    not at the identity: every layer does something, activations stay in
    range through 50 layers."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in tensor_shapes(yaml.safe_load(graph.read_text())).items():
        kind = name.rsplit(".", 1)[1]
        if kind == "weight" and len(shape) > 1:
            fan_in = int(np.prod(shape[1:]))
            t = torch.randn(shape, generator=gen) * (2.0 / fan_in) ** 0.5
        elif kind in ("weight", "running_var"):
            t = torch.rand(shape, generator=gen) * 0.4 + 0.8
        else:  # bias, running_mean
            t = (torch.rand(shape, generator=gen) - 0.5) * 0.2
        state[name] = t
    write_safetensors(path, state)


def run(cmd, env=None, check=True):
    res = subprocess.run([str(c) for c in cmd], capture_output=True,
                         text=True, env=env)
    if check and res.returncode != 0:
        raise SystemExit(f"runtimes.py: {' '.join(map(str, cmd))} failed "
                         f"(exit {res.returncode}):\n{res.stderr.strip()}")
    return res


INFEASIBLE = re.compile(
    r"budget ratio ([0-9.]+) x original latency ([0-9.e+-]+): budget "
    r"[0-9.e+-]+ = fixed cost ([0-9.e+-]+) .*smallest feasible budget "
    r"([0-9.e+-]+)")


def run_compress(args, name, graph, weights, work, ratios):
    """One compress; returns its stdout and the smallest feasible budget
    ratio when a budget was infeasible (fixed cost + the entries' smallest
    feasible budget, over the original)."""
    res = run([args.layermerge, "compress", graph, weights, "-o",
               work / "c", "--ratio", ratios, "--threads", args.threads,
               *args.compress_arg], check=False)
    smallest = None
    for m in INFEASIBLE.finditer(res.stderr):
        ratio, orig, fixed, least = (float(v) for v in m.groups())
        smallest = (fixed + least) / orig
        print(f"  {name}: budget {ratio:.2f} is infeasible: the smallest "
              f"feasible is {smallest:.3f} x the original", flush=True)
    # An infeasible budget fails compress but leaves the others.
    if res.returncode != 0 and smallest is None:
        raise SystemExit(f"runtimes.py: compress {name} failed:\n"
                         f"{res.stderr.strip()}")
    return res.stdout, smallest


def compress(args, name, graph, weights, work):
    """layermerge compress once per --work directory (the budgets asked
    for, and with --closest-feasible the smallest feasible one rounded up
    plus 0.01 when one was infeasible); returns [(label, graph, weights,
    summary line or None)], the original first."""
    done = work / "compress.out"
    if not done.exists():
        print(f"{name}: compress at {args.ratios} (measuring the tables)",
              flush=True)
        out, smallest = run_compress(args, name, graph, weights, work,
                                     args.ratios)
        ratios = [f"{float(r):.2f}" for r in args.ratios.split(",")]
        if smallest is not None and args.closest_feasible:
            extra = f"{math.ceil(smallest * 100) / 100 + 0.01:.2f}"
            if extra not in ratios:
                print(f"{name}: compress at the closest feasible budget "
                      f"{extra} (the tables resume)", flush=True)
                more, _ = run_compress(args, name, graph, weights, work,
                                       extra)
                out += more
                ratios.append(extra)
        done.write_text(f"ratios: {','.join(ratios)}\n{out}")
    text = done.read_text()
    first = text.split("\n", 1)[0]
    ratios = (first.split(": ", 1)[1].split(",") if first.startswith("ratios: ")
              else [f"{float(r):.2f}" for r in args.ratios.split(",")])
    lines = {m.group(1): m.group(0) for m in re.finditer(
        r"^budget_ratio=([0-9.]+) .*$", text, re.M)}
    nets = [("original", graph, weights, None)]
    for tag in ratios:
        g = work / f"c-r{tag}.yaml"
        # only what this compress wrote (a file may be left by an earlier one)
        if g.exists() and tag in lines:
            nets.append((f"r{tag}", g, work / f"c-r{tag}.safetensors",
                         lines.get(tag)))
        else:
            print(f"{name}: budget {tag}: no merged network (infeasible)")
    return nets


def has_export(layermerge):
    res = subprocess.run([str(layermerge), "export", "--help"],
                         capture_output=True, text=True)
    return res.returncode == 0


def export(args, graph, weights, onnx_path):
    if onnx_path.exists():
        return
    if args.exporter == "layermerge":
        run([args.layermerge, "export", graph, weights, "-o", onnx_path])
        return
    from graph_module import GraphModule  # examples/torch
    model = GraphModule(graph, read_safetensors(weights))
    g = yaml.safe_load(graph.read_text())["input"]
    x = torch.zeros(1, g["channels"], g["height"], g["width"])
    tmp = onnx_path.with_suffix(".tmp.onnx")
    with warnings.catch_warnings():  # the tracer's notes on shape checks
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x, str(tmp), opset_version=13,
                          input_names=["input"], output_names=["output"])
    tmp.rename(onnx_path)


# --- timing ---------------------------------------------------------------

class Timer:
    def __init__(self, args, tmp):
        self.args, self.tmp = args, tmp
        node = shutil.which("node") or shutil.which("nodejs")
        timers = ROOT / "tools" / "timers"
        self.js = [node, timers / "onnxruntime.js"]
        self.py = ["/usr/bin/python3", timers / "torch.py"]
        self.env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
        ct = coretype(args.openblas_coretype)
        if ct:
            self.env["OPENBLAS_CORETYPE"] = ct
        self.notes = set()

    def time(self, runtime, net, x_npy, x_f32, out):
        a = self.args
        common = ["--threads", a.threads, "--warmup", a.warmup, "--reps",
                  a.reps, "--input", x_npy, "--output", out]
        if runtime == "engine":
            raw = out.with_suffix(".f32")
            res = run([a.engine, net["graph"], net["weights"], x_f32, 1, raw,
                       a.warmup, a.reps], env=self.env)
            ms = float(res.stdout.split()[0])
            y = np.fromfile(raw, dtype="<f4")
        else:
            cmd = (self.js if runtime == "onnxruntime" else
                   self.py + ["--mode", runtime.split("-")[1]])
            res = run(cmd + [net["onnx"]] + common)
            ms = float(res.stdout.strip().splitlines()[-1])
            y = np.load(out).reshape(-1)
            if "optimized=no" in res.stderr:
                self.notes.add(f"{net['label']}: torch-script without "
                               "optimize_for_inference (it changed the "
                               "output)")
        return ms, y


def rel_err(a, b):
    if a.size != b.size:
        return float("inf")
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def fmt(times):
    med = statistics.median(times)
    return f"{med:.2f} ({min(times):.2f}-{max(times):.2f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default="resnet18,resnet34,resnet50,"
                    "mobilenetv2,vgg19")
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--ratios", default="0.7,0.5")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--runtimes", default=",".join(RUNTIMES))
    ap.add_argument("--exporter", choices=["auto", "layermerge", "torch"],
                    default="auto")
    ap.add_argument("--work")
    ap.add_argument("--layermerge", default=str(ROOT / "build" / "tools"
                                                / "layermerge"))
    ap.add_argument("--engine", default=str(ROOT / "build" / "bench"
                                            / "bench_engine_run"))
    ap.add_argument("--openblas-coretype", default="auto")
    ap.add_argument("--closest-feasible", action="store_true",
                    help="when a budget is infeasible, also compress at "
                    "the smallest feasible one (rounded up, + 0.01)")
    ap.add_argument("--compress-arg", action="append", default=[],
                    help="passed on to layermerge compress (repeatable)")
    args = ap.parse_args()
    runtimes = args.runtimes.split(",")
    for r in runtimes:
        if r not in RUNTIMES:
            ap.error(f"unknown runtime {r!r} (one of {', '.join(RUNTIMES)})")
    for tool in (args.layermerge, args.engine):
        if not os.access(tool, os.X_OK):
            ap.error(f"{tool}: not an executable (build first: ninja -C build)")
    if args.exporter == "auto":
        args.exporter = "layermerge" if has_export(args.layermerge) else "torch"
    # compress passes --opt=value through as written
    args.compress_arg = [w for a in args.compress_arg for w in a.split("=", 1)]

    keep = args.work is not None
    base = pathlib.Path(args.work or tempfile.mkdtemp(prefix="lm-runtimes."))
    base.mkdir(parents=True, exist_ok=True)
    timer = Timer(args, base)
    print(f"size {args.size}, batch 1, {args.threads} thread(s), "
          f"{args.rounds} rounds of {args.warmup} warm-up + {args.reps} "
          f"runs; exporter: {args.exporter}; OPENBLAS_CORETYPE="
          f"{timer.env.get('OPENBLAS_CORETYPE', '(OpenBLAS default)')}",
          flush=True)

    nets = []
    for name in args.models.split(","):
        src = ROOT / "examples" / "models" / f"{name}.yaml"
        if not src.exists():
            ap.error(f"{src}: no such zoo network")
        work = base / name
        work.mkdir(exist_ok=True)
        graph, weights = work / "graph.yaml", work / "weights.safetensors"
        if not graph.exists():
            resized_graph(src, args.size, graph)
            random_weights(graph, weights, args.seed)
        for label, g, w, summary in compress(args, name, graph, weights, work):
            onnx_path = work / f"{label}.onnx"
            export(args, g, w, onnx_path)
            nets.append({"name": name, "label": f"{name} {label}",
                         "variant": label, "graph": g, "weights": w,
                         "onnx": onnx_path, "summary": summary,
                         "convs": len(yaml.safe_load(g.read_text())["trunk"])})

    # One seeded input of the networks' shape (all share it).
    x = np.random.default_rng(args.seed).uniform(
        -1, 1, (1, 3, args.size, args.size)).astype(np.float32)
    x_npy, x_f32 = base / "x.npy", base / "x.f32"
    np.save(x_npy, x)
    x.astype("<f4").tofile(x_f32)

    pairs = [(i, r) for i in range(len(nets)) for r in runtimes]
    times = {p: [] for p in pairs}
    errors, ok = {}, True
    for rnd in range(args.rounds):
        k = rnd % len(pairs)
        order = pairs[k:] + pairs[:k]
        print(f"round {rnd + 1}/{args.rounds}", flush=True)
        outs = {}
        for i, r in order:
            out = base / f"y.{i}.{r}.npy"
            ms, y = timer.time(r, nets[i], x_npy, x_f32, out)
            times[i, r].append(ms)
            outs[i, r] = y
        if rnd == 0:
            ref = "engine" if "engine" in runtimes else runtimes[0]
            for (i, r), y in outs.items():
                errors[i, r] = rel_err(y, outs[i, ref])
                if errors[i, r] > TOLERANCE:
                    ok = False
                    print(f"  DISAGREE: {nets[i]['label']} {r}: "
                          f"{errors[i, r]:.1e} against {ref}")

    print()
    print("Median ms over rounds (min-max of the rounds' medians):")
    print()
    print("| network | convs | " + " | ".join(runtimes) + " |")
    print("|---|---|" + "---|" * len(runtimes))
    for i, n in enumerate(nets):
        print(f"| {n['label']} | {n['convs']} | "
              + " | ".join(fmt(times[i, r]) for r in runtimes) + " |")
    print()
    print("Speed-up original / merged (ratio of the medians):")
    print()
    print("| network | budget | " + " | ".join(runtimes) + " |")
    print("|---|---|" + "---|" * len(runtimes))
    for i, n in enumerate(nets):
        if n["variant"] == "original":
            orig = i
            continue
        cells = [f"{statistics.median(times[orig, r]) / statistics.median(times[i, r]):.2f}"
                 for r in runtimes]
        print(f"| {n['name']} | {n['variant'][1:]} | " + " | ".join(cells)
              + " |")
    worst = max(errors.values()) if errors else 0.0
    print()
    print(f"largest output difference against the engine: {worst:.1e} "
          f"(tolerance {TOLERANCE:g})")
    for n in nets:
        if n["summary"]:
            print(f"{n['label']} compress: {n['summary']}")
    for note in sorted(timer.notes):
        print(f"note: {note}")
    if keep:
        print(f"files kept in {base}")
    else:
        shutil.rmtree(base)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
