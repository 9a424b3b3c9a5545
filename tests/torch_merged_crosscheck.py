#!/usr/bin/python3
"""Cross-check merged networks against PyTorch, end to end through the CLI.

For ResNet-34 (the synthetic tables tests/data/solve_resnet34_*.csv, budget
ratios 0.7 and 0.5) and MobileNetV2-1.0 (synthetic tables built here from
`layermerge entries`, ratios 0.5 and 0.3): torchvision weights (random init, batch
norm statistics and affine parameters randomised) are written as
safetensors; `layermerge solve` picks a result, `layermerge plan` gives its
fine-tuning plan and `layermerge merge` writes the merged graph and weights.
Then, on one random batch,

  (a) the merged network run in torch (examples/torch/graph_module.py, an
      interpreter of the graph format independent of the library) against
      the library's engine on the same merged files (tests/engine_driver);
  (b) the ORIGINAL weights in torch, configured by the plan's YAML (per
      conv keep and fine-tuning padding, per position activation, each
      skip's input zero-padded or cropped by the plan's `pad` before its
      projection; docs/method.md section 8, docs/formats.md "Plans"),
      against the merged network in torch;

each within  max |x - y| / max |y|  <=  1e-4  (float32); and the merged
files cannot be mistaken for the original ones (docs/formats.md, "Merged
networks"): no batch norm is left, a tensor name shared with the original
state_dict holds the same values, every other one is a `merged.*` module
listed in the `layermerge.merged_from.*` metadata, and the original
torchvision model refuses the merged state_dict. The input is shrunk
to 64x64 (the graph's `input:` key) and the batch is 2, to keep it fast.
Exit 77 (skipped) when torch is absent.

usage: torch_merged_crosscheck.py LAYERMERGE ENGINE_DRIVER SOURCE_ROOT
"""
import csv
import math
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    import torchvision
except ImportError as exc:  # the check needs torch; skip, do not fail
    print(f"skipped: {exc}")
    sys.exit(77)
import yaml  # noqa: E402  (graph_module needs it too; its absence fails)
from torch_util import (random_network, read_metadata,  # noqa: E402
                        read_safetensors, write_safetensors)

TOLERANCE = 1e-4
BATCH = 2
SIDE = 64
# (label, torchvision constructor, graph, table source, budget ratio)
CASES = [
    ("resnet34", torchvision.models.resnet34, "resnet34", "resnet34", 0.7),
    ("resnet34", torchvision.models.resnet34, "resnet34", "resnet34", 0.5),
    ("mobilenetv2", torchvision.models.mobilenet_v2, "mobilenetv2",
     "synthetic", 0.5),
    # 0.5 keeps every merged kernel at 3; 0.3 forces 5x5 strided merges of
    # two blocks, whose inner skip then needs the docs/method.md section 8 size fitting.
    ("mobilenetv2", torchvision.models.mobilenet_v2, "mobilenetv2",
     "synthetic", 0.3),
]


# ---- files -------------------------------------------------------------

def small_graph(root, name, tmp):
    """The zoo graph with its input shrunk to SIDE x SIDE (text edit of the
    one `input:` line, so the rest of the file is byte-identical)."""
    text = (root / "examples" / "models" / f"{name}.yaml").read_text()
    text, n = re.subn(r"(?m)^input: \{channels: (\d+), height: \d+, "
                      r"width: \d+\}$",
                      rf"input: {{channels: \1, height: {SIDE}, "
                      rf"width: {SIDE}}}", text)
    if n != 1:
        raise SystemExit(f"{name}.yaml: expected one input line, found {n}")
    path = tmp / f"{name}-{SIDE}.yaml"
    path.write_text(text)
    return path


def synthetic_tables(lm, graph, prefix):
    """Latency and importance in the authors' LayerMerge CSV layouts from
    `layermerge entries`: latency = a per-conv launch cost plus the work of
    the merged conv (kernel, channels, input size), so merging can pay;
    importance falls with the merged kernel and with each removed conv or
    activation."""
    entries = prefix.with_name(prefix.name + "_entries.csv")
    run([lm, "entries", str(graph), "-o", str(entries)])
    lat_path = prefix.with_name(prefix.name + "_latency.csv")
    imp_path = prefix.with_name(prefix.name + "_importance.csv")
    with open(entries) as f, open(lat_path, "w") as lat, \
            open(imp_path, "w") as imp:
        lat.write("id,st,end,ker,str,is_dw,time,stdev\n")
        imp.write("id,st,end,ker,str,is_dw,conv_comb,importance\n")
        for r in csv.DictReader(f):
            k, s, dw = int(r["ker"]), int(r["str"]), int(r["is_dw"])
            work = (k * k * int(r["out_ch"]) * int(r["in_h"])
                    * int(r["in_w"]) / (s * s))
            if not dw:
                work *= int(r["in_ch"])
            ms = 0.0 if k == 0 else round(0.3 + work * 1e-7, 6)
            kept = r["convs"].split()
            span = int(r["end"]) - int(r["st"])
            value = math.exp(-0.002 * k - 0.04 * (span - len(kept))
                             - 0.003 * (span - 1))
            key = ",".join(r[c] for c in ("id", "st", "end", "ker", "str",
                                           "is_dw"))
            lat.write(f"{key},{ms!r},0.0\n")
            imp.write(f"{key},\"{','.join(kept)}\",{value!r}\n")
    return lat_path, imp_path


def run(cmd):
    done = subprocess.run([str(c) for c in cmd], capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))}: exit "
                         f"{done.returncode}\n{done.stdout}{done.stderr}")
    return done.stdout


# ---- torch ---------------------------------------------------------------

def plan_chain(gm, graph, plan, x):
    """The original network (GraphModule `gm` of the original graph and
    weights) configured by `plan`: a pruned conv and its batch norm are
    bypassed, a kept conv runs with the plan's padding, each position gets
    the plan's activation, a skip's input is zero-padded or cropped by the
    plan's `pad` (docs/formats.md, "Plans") before its projection and must
    then land on the plan's `target_size`, dropped skips are left out.
    Returns (output, number of skips the plan fits)."""
    convs = {c["conv"]: c for c in plan["convs"]}
    acts = {a["position"]: a["act"] for a in plan["activations"]}
    fits = plan.get("skips") or []
    if len(fits) != len(gm.skips):
        raise SystemExit(f"plan lists {len(fits)} skips, graph has "
                         f"{len(gm.skips)}")
    pos = [gm.stem(x)]
    n_fitted = 0
    for p in range(1, len(gm.convs) + 1):
        out = pos[p - 1]
        if convs[p]["keep"]:
            conv = gm.convs[p - 1]
            out = F.conv2d(out, conv.weight, conv.bias, conv.stride,
                           convs[p]["padding"], 1, conv.groups)
            out = gm.norms[p - 1](out)
        for (s, t), proj, fit in zip(gm.skips, gm.projections, fits):
            if t != p or fit["dropped"]:
                continue
            if (fit["from"], fit["to"]) != (s, t):
                raise SystemExit(f"plan skip {fit} is not graph skip {s, t}")
            src = pos[s]
            if list(src.shape[-2:]) != fit["source_size"]:
                raise SystemExit(f"skip {s, t}: source {src.shape}, plan "
                                 f"{fit['source_size']}")
            pad = fit["pad"]
            if any(pad.values()):
                n_fitted += 1
            add = proj(F.pad(src, (pad["left"], pad["right"], pad["top"],
                                   pad["bottom"])))
            if list(add.shape[-2:]) != fit["target_size"] or \
                    add.shape[-2:] != out.shape[-2:]:
                raise SystemExit(f"skip {s, t}: fitted to {add.shape}, "
                                 f"conv output {out.shape}, plan "
                                 f"{fit['target_size']}")
            out = out + add
        out = ACTS[acts[p]]()(out)
        pos.append(gm.after[p - 1](out))
    return gm.head(pos[-1]), n_fitted


def name_check(original, merged):
    """The merged tensors cannot be mistaken for the original ones: a name
    of both holds the same values; every other name is a "merged.*"
    module whose layermerge.merged_from.* metadata lists original modules;
    and the original model refuses the merged state_dict. Returns a list
    of faults (empty when all hold)."""
    tensors, meta = merged
    faults = []
    for name, t in tensors.items():
        if name in original:
            if tuple(original[name].shape) != tuple(t.shape) or \
                    not torch.equal(original[name].to(t.dtype), t):
                faults.append(f"{name}: original name, other values")
            continue
        module = name.rsplit(".", 1)[0]
        origin = meta.get(f"layermerge.merged_from.{module}", "")
        if not module.startswith("merged.") or not origin:
            faults.append(f"{name}: new tensor without merged_from")
        elif any(f"{m}.weight" not in original for m in origin.split(" ")):
            faults.append(f"{name}: merged_from '{origin}' names unknown "
                          "modules")
    return faults


def rel(got, want):
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    want = np.asarray(want, dtype=np.float64).reshape(-1)
    if got.size != want.size:
        return math.inf
    return float(np.abs(got - want).max() / np.abs(want).max())


# ---- one case ------------------------------------------------------------

def check(case, lm, driver, root, tmp):
    label, make, gname, tables, ratio = case
    tag = f"{label}-r{ratio}"
    graph = small_graph(root, gname, tmp)
    model, gen = random_network(make)
    weights = tmp / f"{label}.safetensors"
    write_safetensors(weights, model.state_dict())
    if tables == "synthetic":
        lat, imp = synthetic_tables(lm, graph, tmp / label)
    else:
        data = root / "tests" / "data" / f"solve_{tables}"
        lat = f"{data}_latency.csv"
        imp = f"{data}_importance.csv"
    result, plan_path = tmp / f"{tag}.result.yaml", tmp / f"{tag}.plan.yaml"
    merged = tmp / f"{tag}.merged"
    run([lm, "solve", graph, "--latency", lat, "--importance", imp,
         "--ratio", ratio, "-o", result])
    run([lm, "plan", graph, "--result", result, "-o", plan_path])
    run([lm, "merge", graph, weights, result, "-o", merged])
    with open(graph) as f:
        g = yaml.safe_load(f)
    with open(plan_path) as f:
        plan = yaml.safe_load(f)
    with open(result) as f:
        res = yaml.safe_load(f)
    merged_yaml = tmp / f"{tag}.merged.yaml"
    merged_w = tmp / f"{tag}.merged.safetensors"

    x = torch.rand(BATCH, 3, SIDE, SIDE, generator=gen) * 2 - 1
    inp, out = tmp / f"{tag}.in.f32", tmp / f"{tag}.out.f32"
    x.numpy().astype("=f4").tofile(inp)
    run([driver, merged_yaml, merged_w, inp, BATCH, out])
    engine = np.fromfile(out, dtype="=f4")

    original = GraphModule(graph, model.state_dict())
    merged_tensors = read_safetensors(merged_w)
    merged_net = GraphModule(merged_yaml, merged_tensors)
    with torch.no_grad():
        torch_merged = merged_net(x).numpy()
        chain, n_fitted = plan_chain(original, g, plan, x)
        chain = chain.numpy()
        reference = model(x).numpy()
    faults = name_check(model.state_dict(),
                        (merged_tensors, read_metadata(merged_w)))
    try:  # loading by name into the original architecture must fail
        make().load_state_dict(merged_tensors)
        faults.append("the original model loads the merged state_dict")
    except RuntimeError:
        pass
    bn_left = sum(isinstance(m, torch.nn.BatchNorm2d)
                  for m in merged_net.modules())
    if bn_left:
        faults.append(f"{bn_left} batch norms left in the merged network")
    for f in faults:
        print(f"{tag}: {f}")
    n_conv = len(g["trunk"])
    multi = sum(len(s["convs"]) > 1 for s in res["segments"])
    return {
        "case": tag,
        "convs": f"{n_conv}->{len(merged_net.convs)}",
        "segs": len(res["segments"]),
        "multi": multi,
        "maxK": max(s["ker"] for s in res["segments"]),
        "orig": rel(original(x).detach().numpy(), reference),
        "a": rel(engine, torch_merged),
        "b": rel(torch_merged, chain),
        "fitted": n_fitted,
        "names_ok": not faults,
        "segments_match": len(merged_net.convs) == len(res["segments"]),
    }


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    lm, driver = sys.argv[1], sys.argv[2]
    root = pathlib.Path(sys.argv[3]).resolve()
    sys.path.insert(0, str(root / "examples" / "torch"))
    global GraphModule, ACTS
    from digits_resnet import ACTS  # noqa: E402
    from graph_module import GraphModule  # noqa: E402
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    start = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for case in CASES:
            rows.append(check(case, lm, driver, root, pathlib.Path(d)))
    ok = True
    print(f"input {BATCH}x3x{SIDE}x{SIDE}, tolerance {TOLERANCE:g} relative "
          "to max |output|")
    print(f"{'case':<18} {'trunk':>7} {'segs':>4} {'merged':>6} {'maxK':>4} "
          f"{'fitted':>6} {'graph/tv':>9} {'(a) eng/torch':>13} "
          f"{'(b) chain/merged':>16} names")
    for r in rows:
        good = (r["a"] <= TOLERANCE and r["b"] <= TOLERANCE
                and r["orig"] <= TOLERANCE and r["segments_match"]
                and r["names_ok"])
        ok &= good
        print(f"{r['case']:<18} {r['convs']:>7} {r['segs']:>4} "
              f"{r['multi']:>6} {r['maxK']:>4} {r['fitted']:>6} "
              f"{r['orig']:>9.2e} {r['a']:>13.2e} {r['b']:>16.2e} "
              f"{'ok' if r['names_ok'] else 'BAD':>5}  "
              f"{'ok' if good else 'FAIL'}")
    # Without a segment keeping several convs nothing was really merged.
    if not any(r["multi"] for r in rows):
        print("FAIL: no case merged several convs into one")
        ok = False
    # Without a skip the plan pads or crops, its fitting went untested.
    if not any(r["fitted"] for r in rows):
        print("FAIL: no case fitted a skip by the plan's pads")
        ok = False
    print(f"total {time.monotonic() - start:.1f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
