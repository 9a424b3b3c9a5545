#!/usr/bin/python3
"""Time the forward engine against PyTorch on the same networks and weights.

For torchvision's resnet34 and mobilenet_v2 (random init, batch norm
statistics and affine parameters randomised, eval mode) this writes the
state_dict as safetensors, times bench/bench_engine_run.c on the matching
examples/models/*.yaml and PyTorch (eager under torch.no_grad(), and
torch.jit.freeze + optimize_for_inference; the faster one is reported) on
the same 1x3x224x224 input, at T threads on both sides
(OPENBLAS_NUM_THREADS=T for the engine, torch.set_num_threads(T)), and
prints median / stdev (ms) and the ratio engine / torch. Outputs must
agree: max |engine - torch| / max |torch| <= 1e-4.

With --layermerge TOOL, it also merges each network at about half its
latency (layermerge latency at a small --size, layermerge solve --ratio R,
layermerge merge) and times the merged graph in the engine against the
same merged graph in PyTorch, built by a small interpreter of the graph
format (GraphNet below).

usage: bench_vs_torch.py BENCH_ENGINE_RUN SOURCE_ROOT [--threads 1,2]
           [--reps 15] [--warmup 5] [--layermerge TOOL] [--ratio 0.5]
           [--latency-size 64] [--openblas-coretype auto|none|NAME]

OpenBLAS 0.3.21 (Debian, DYNAMIC_ARCH) falls back to its Prescott (SSE3)
kernels on CPUs it does not recognise, e.g. virtual machines reporting a
generic "Intel Xeon Processor": 4x slower sgemm. --openblas-coretype auto
(the default) sets OPENBLAS_CORETYPE for the engine's process to SkylakeX
on AVX-512 CPUs and Haswell on AVX2 ones unless the environment already
sets it; "none" keeps OpenBLAS's own choice. The table says which.
Exit 0 when every output agrees, 1 otherwise, 77 without torch.
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import torch
    import torchvision
    import yaml
except ImportError as exc:
    print(f"skipped: {exc}")
    sys.exit(77)
# The safetensors and network helpers shared with the cross-checks.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent
                       / "tests"))
from torch_util import (random_network, read_safetensors,  # noqa: E402
                        write_safetensors)

TOLERANCE = 1e-4
MODELS = [
    ("resnet34", lambda: torchvision.models.resnet34()),
    ("mobilenetv2", lambda: torchvision.models.mobilenet_v2()),
]


# --- a small interpreter of the graph format (docs/formats.md) ----------

ACTS = {
    "identity": torch.nn.Identity, "relu": torch.nn.ReLU,
    "relu6": torch.nn.ReLU6, "silu": torch.nn.SiLU, "gelu": torch.nn.GELU,
    "hardswish": torch.nn.Hardswish, "sigmoid": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
}


def load_into(module, tensors, name, keys):
    for k in keys:
        full = f"{name}.{k}"
        if full not in tensors:
            continue
        dst = getattr(module, k)
        with torch.no_grad():
            dst.copy_(tensors[full].reshape(dst.shape))


def make_conv(cin, cout, k, stride, pad, groups, bias, name, tensors):
    m = torch.nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=bias)
    load_into(m, tensors, name, ["weight", "bias"])
    return m


def make_bn(channels, spec, tensors):
    m = torch.nn.BatchNorm2d(channels, eps=spec.get("eps", 1e-5))
    load_into(m, tensors, spec.get("name", ""),
              ["weight", "bias", "running_mean", "running_var"])
    return m


def make_layer(op, tensors):
    kind = op["op"]
    if kind == "conv":
        return make_conv(op["in"], op["out"], op["kernel"],
                         op.get("stride", 1), op.get("padding", 0),
                         op.get("groups", 1), op.get("bias", False),
                         op.get("name", ""), tensors)
    if kind == "batchnorm":
        return make_bn(op["channels"], op, tensors)
    if kind == "act":
        return ACTS[op["act"]]()
    if kind in ("maxpool", "avgpool"):
        cls = torch.nn.MaxPool2d if kind == "maxpool" else torch.nn.AvgPool2d
        return cls(op["kernel"], op.get("stride", op["kernel"]),
                   op.get("padding", 0))
    if kind == "adaptive_avgpool":
        return torch.nn.AdaptiveAvgPool2d((op["height"], op["width"]))
    if kind == "flatten":
        return torch.nn.Flatten()
    if kind == "linear":
        m = torch.nn.Linear(op["in"], op["out"], bias=op.get("bias", True))
        load_into(m, tensors, op.get("name", ""), ["weight", "bias"])
        return m
    raise ValueError(f"unknown op {kind}")


def seq(ops, tensors):
    return torch.nn.Sequential(*[make_layer(op, tensors) for op in ops or []])


class GraphNet(torch.nn.Module):
    """Stem, trunk convs (+BN) with skips added before each position's
    activation, the position's fixed layers, head; as the engine runs a
    graph whose shapes match (a merged network's do)."""

    def __init__(self, graph, tensors):
        super().__init__()
        self.stem = seq(graph.get("stem"), tensors)
        self.head = seq(graph.get("head"), tensors)
        self.convs, self.acts, self.after = (torch.nn.ModuleList(),
                                             torch.nn.ModuleList(),
                                             torch.nn.ModuleList())
        for c in graph["trunk"]:
            conv = make_conv(c["in"], c["out"], c["kernel"],
                             c.get("stride", 1), c.get("padding", 0),
                             c.get("groups", 1), c.get("bias", False),
                             c.get("name", ""), tensors)
            bn = c.get("bn")
            self.convs.append(torch.nn.Sequential(
                conv, *([make_bn(c["out"], bn, tensors)] if bn else [])))
            self.acts.append(ACTS[c.get("act", "identity")]())
            self.after.append(seq(c.get("after"), tensors))
        self.skips, self.projs = [], torch.nn.ModuleList()
        channels = [graph["input"]["channels"]]
        channels[0] = self._stem_channels(graph, channels[0])
        channels += [c["out"] for c in graph["trunk"]]
        for s in graph.get("skips") or []:
            proj = s.get("projection")
            if proj:
                conv = make_conv(channels[s["from"]], channels[s["to"]], 1,
                                 proj.get("stride", 1), 0, 1,
                                 proj.get("bias", False), proj.get("name", ""),
                                 tensors)
                bn = proj.get("bn")
                self.projs.append(torch.nn.Sequential(
                    conv,
                    *([make_bn(channels[s["to"]], bn, tensors)] if bn else [])))
            else:
                self.projs.append(torch.nn.Identity())
            self.skips.append((s["from"], s["to"]))
        self.by_target = {}
        for i, (_, t) in enumerate(self.skips):
            self.by_target.setdefault(t, []).append(i)

    @staticmethod
    def _stem_channels(graph, c):
        for op in graph.get("stem") or []:
            if op["op"] == "conv":
                c = op["out"]
        return c

    def forward(self, x):
        pos = [self.stem(x)]
        for p in range(1, len(self.convs) + 1):
            y = self.convs[p - 1](pos[p - 1])
            for i in self.by_target.get(p, []):
                y = y + self.projs[i](pos[self.skips[i][0]])
            pos.append(self.after[p - 1](self.acts[p - 1](y)))
        return self.head(pos[-1])


# --- timing ---------------------------------------------------------------

def time_torch(model, x, warmup, reps):
    with torch.no_grad():
        for _ in range(warmup):
            out = model(x)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            out = model(x)
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), statistics.stdev(times), out


def best_torch(model, x, warmup, reps):
    """Eager, and frozen + optimize_for_inference: the faster one."""
    results = [("eager",) + time_torch(model, x, warmup, reps)]
    try:
        with torch.no_grad():
            frozen = torch.jit.optimize_for_inference(
                torch.jit.freeze(torch.jit.trace(model, x)))
        jit = ("jit",) + time_torch(frozen, x, warmup, reps)
        rel = agreement(jit[3].numpy().astype(np.float64).reshape(-1),
                        results[0][3])
        if rel <= TOLERANCE:
            results.append(jit)
        else:  # seen with traced GraphNet models: not a valid figure
            print(f"  (torch.jit output differs from eager by {rel:.1e}: "
                  f"jit figure {jit[1]:.2f} ms discarded)")
    except Exception as exc:  # noqa: BLE001 - report, keep eager
        print(f"  (torch.jit path failed: {exc})")
    return min(results, key=lambda r: r[1]), results


def coretype(choice):
    if choice == "none" or "OPENBLAS_CORETYPE" in os.environ:
        return os.environ.get("OPENBLAS_CORETYPE")
    if choice != "auto":
        return choice
    flags = pathlib.Path("/proc/cpuinfo").read_text().split()
    return ("SkylakeX" if "avx512f" in flags else
            "Haswell" if "avx2" in flags else None)


ENGINE_ENV = {}


def time_engine(driver, graph, weights, x, threads, warmup, reps, tmp):
    inp, outp = tmp / "in.f32", tmp / "out.f32"
    x.numpy().astype("=f4").tofile(inp)
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), **ENGINE_ENV)
    res = subprocess.run([driver, str(graph), str(weights), str(inp), "1",
                          str(outp), str(warmup), str(reps)], env=env,
                         check=True, capture_output=True, text=True)
    med, sd = (float(v) for v in res.stdout.split())
    return med, sd, np.fromfile(outp, dtype="=f4").astype(np.float64)


def agreement(got, want):
    want = want.numpy().astype(np.float64).reshape(-1)
    if got.size != want.size:
        return float("inf")
    return np.abs(got - want).max() / np.abs(want).max()


def compare(label, model, graph, weights, args, threads, rows, tmp):
    gen = torch.Generator().manual_seed(7)
    x = torch.rand(1, 3, 224, 224, generator=gen) * 2 - 1
    torch.set_num_threads(threads)
    (kind, t_med, t_sd, want), all_t = best_torch(model, x, args.warmup,
                                                  args.reps)
    e_med, e_sd, got = time_engine(args.driver, graph, weights, x, threads,
                                   args.warmup, args.reps, tmp)
    rel = agreement(got, want)
    others = ", ".join(f"{r[0]} {r[1]:.2f}" for r in all_t)
    print(f"  {label} T={threads}: engine {e_med:.2f} ms, torch {others} ms;"
          f" relative diff {rel:.2e}", flush=True)
    rows.append((label, threads, e_med, e_sd, t_med, t_sd, kind, rel))


def prepare_original(name, make, root, tmp):
    model, _ = random_network(make)
    weights = tmp / f"{name}.safetensors"
    write_safetensors(weights, model.state_dict())
    return model, root / "examples" / "models" / f"{name}.yaml", weights


def run_tool(tool, *argv):
    subprocess.run([tool, *map(str, argv)], check=True,
                   stdout=subprocess.DEVNULL)


def prepare_merged(name, graph, weights, args, tmp):
    """latency table at a small size, solve at the ratio, merge."""
    table, result = tmp / f"{name}.lat.yaml", tmp / f"{name}.result.yaml"
    out = tmp / f"{name}.merged"
    root = pathlib.Path(args.root)
    csv = root / "tests" / "data"
    if name == "resnet34":
        lat, imp = csv / "solve_resnet34_latency.csv", \
            csv / "solve_resnet34_importance.csv"
    else:
        run_tool(args.layermerge, "latency", graph, "-o", table, "--size",
                 args.latency_size, "--reps", 5, "--warmup", 1,
                 "--threads", 1)
        lat = table
        imp = None
    if imp is None:
        imp = tmp / f"{name}.imp.yaml"
        write_uniform_importance(table, imp)
    run_tool(args.layermerge, "solve", graph, "--latency", lat,
             "--importance", imp, "--ratio", args.ratio, "-o", result)
    run_tool(args.layermerge, "merge", graph, weights, result, "-o", out)
    mgraph = pathlib.Path(f"{out}.yaml")
    mweights = pathlib.Path(f"{out}.safetensors")
    spec = yaml.safe_load(mgraph.read_text())
    model = GraphNet(spec, read_safetensors(mweights)).eval()
    return model, mgraph, mweights, len(spec["trunk"])


def write_uniform_importance(table, path):
    """An importance table over the latency table's records: each scores
    exp(-0.01 x the convs its segment drops), so the solver still prefers
    shallow merges without a trained network (only timing matters here)."""
    lat = yaml.safe_load(pathlib.Path(table).read_text())
    records = []
    for r in lat["records"]:
        d = {k: r[k] for k in ("id", "st", "end", "ker", "str", "dw") if k in r}
        value = 2.718281828459045 ** (-0.01 * (r["end"] - r["st"] - 1))
        d["raw"] = d["value"] = value
        records.append(d)
    doc = {"format": "layermerge-importance", "version": 1,
           "graph": lat["graph"], "provenance": {"metric": "normalised"},
           "records": records}
    pathlib.Path(path).write_text(yaml.safe_dump(doc, sort_keys=False))


def print_table(rows):
    print()
    print("| network | T | engine ms (sd) | torch ms (sd) | torch path "
          "| engine/torch | rel. diff |")
    print("|---|---|---|---|---|---|---|")
    for label, t, em, es, tm, ts, kind, rel in rows:
        print(f"| {label} | {t} | {em:.2f} ({es:.2f}) | {tm:.2f} ({ts:.2f}) "
              f"| {kind} | {em / tm:.2f} | {rel:.1e} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("driver")
    ap.add_argument("root")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--layermerge")
    ap.add_argument("--ratio", type=float, default=0.5)
    ap.add_argument("--latency-size", type=int, default=64)
    ap.add_argument("--models", default="resnet34,mobilenetv2")
    ap.add_argument("--openblas-coretype", default="auto")
    args = ap.parse_args()
    core = coretype(args.openblas_coretype)
    if core:
        ENGINE_ENV["OPENBLAS_CORETYPE"] = core
    print(f"engine: OPENBLAS_CORETYPE={core or '(OpenBLAS default)'}; "
          f"torch {torch.__version__}; median of {args.reps} after "
          f"{args.warmup} warm-up runs; batch 1, 3x224x224", flush=True)
    threads = [int(t) for t in args.threads.split(",")]
    root, rows = pathlib.Path(args.root), []
    wanted = args.models.split(",")
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        for name, make in MODELS:
            if name not in wanted:
                continue
            model, graph, weights = prepare_original(name, make, root, tmp)
            for t in threads:
                compare(name, model, graph, weights, args, t, rows, tmp)
            if not args.layermerge:
                continue
            torch.set_num_threads(1)
            mmodel, mgraph, mweights, n = prepare_merged(
                name, graph, weights, args, tmp)
            label = f"{name} merged r={args.ratio} ({n} convs)"
            for t in threads:
                compare(label, mmodel, mgraph, mweights, args, t, rows, tmp)
    print_table(rows)
    return 0 if all(r[7] <= TOLERANCE for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
