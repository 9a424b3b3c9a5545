#!/usr/bin/python3
"""The LayerMerge pipeline from Python through the layermerge package:
graph -> entries -> tables (the authors' CSV files) -> solve -> result
file -> plan -> merge (lm_graph_merge) -> verify
(lm_graph_verify_merge), with checks on every step so that it runs
as a test.

usage: pipeline.py [--lib liblayermerge.so] [--graph G.yaml]
                   [--latency T.csv] [--importance I.csv] [--ratio R]
                   [--out DIR]

Defaults are ResNet-34 and the small synthetic tables of tests/data,
relative to this file's repository. The package is imported as installed,
else from this repository's python/; the library comes from --lib, else
LAYERMERGE_LIBRARY, else beside the installed package or through the
system loader.
"""
import argparse
import os
import pathlib
import sys
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
try:
    import layermerge as lm
except ImportError:   # run from a source tree
    sys.path.insert(0, str(ROOT / "python"))
    import layermerge as lm
DATA = ROOT / "tests" / "data" / "solve_resnet34"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lib", help="path of liblayermerge.so")
    p.add_argument("--graph", default=ROOT / "examples/models/resnet34.yaml")
    p.add_argument("--latency", default=f"{DATA}_latency.csv")
    p.add_argument("--importance", default=f"{DATA}_importance.csv")
    p.add_argument("--ratio", type=float, default=0.7)
    p.add_argument("--out", help="directory for result, plan and merged "
                   "network (default: a temporary one)")
    args = p.parse_args()
    if args.lib:
        os.environ["LAYERMERGE_LIBRARY"] = args.lib
    return args


def expect(cond, what):
    if not cond:
        raise SystemExit(f"pipeline: FAILED: {what}")
    print(f"ok: {what}")


def solve(args, graph, entries, out):
    lat = lm.Table.import_csv("latency", args.latency, entries=entries)
    imp = lm.Table.import_csv("importance", args.importance,
                              metric="normalised", entries=entries)
    print(f"tables: {len(lat)} latencies, {len(imp)} importances")
    expect(len(imp) == len(entries), "one importance per entry")
    expect(lat.kind == "latency" and imp.kind == "importance" and
           lat.fingerprint == imp.fingerprint == graph.fingerprint,
           "one lm_table handle for both kinds, of this graph")
    rec = imp.record_info(0)
    expect(rec.id == 0 and imp.get_entry(entries, 0)[0] == rec.value,
           "a table record reads back through lm_table_get_entry")
    expect(imp.missing(entries)[0] == 0, "no entry lacks an importance")
    with lm.Solver(graph, entries, lat, imp) as solver:
        result = solver.run(ratio=args.ratio)
        segments = result.segments()
        print(f"original {solver.original_latency:.4f} ms, budget "
              f"{result.budget:.4f} ms -> latency {result.latency:.4f} ms, "
              f"importance {result.importance:.6f}, "
              f"{len(segments)} segments, pruned {result.pruned_convs()}")
        expect(result.latency <= result.budget, "latency within the budget")
        n = graph.conv_count
        kept = [c for c in range(1, n + 1) if result.conv_info(c).kept]
        bounds = [p for p in range(1, n + 1)
                  if result.position_info(p).is_boundary]
        expect(len(kept) + len(result.pruned_convs()) == n and
               bounds == [s.end for s in segments],
               "per-conv and per-position records agree with the segments")
        with solver.run_front(ratio=args.ratio) as front:
            print(f"front: {len(front)} points, last {front[-1].latency:.4f} ms")
            expect(abs(front[-1].importance - result.importance) < 1e-9,
                   "the front ends at the optimum")
    path = os.path.join(out, "result.yaml")
    result.save(path)
    again = lm.Result.load(path)
    expect(again.latency == result.latency and
           again.fingerprint == graph.fingerprint,
           "the result file reads back identical")
    result.close()
    return again


def merge(graph, result, out):
    plan = lm.Plan.for_result(graph, result)
    n = graph.conv_count
    kept = sum(plan.conv_info(c).kept for c in range(1, n + 1))
    print(f"plan: {plan.segment_count} segments, {kept} of {n} convs kept")
    segs = plan.segments()
    expect(segs[0][0] == 0 and segs[-1][1] == n and
           all(a[1] == b[0] for a, b in zip(segs, segs[1:])),
           "the plan's segments partition the trunk")
    fused = sum(plan.skip_info(s).fused for s in range(graph.skip_count))
    print(f"plan: {fused} of {graph.skip_count} skips fused")
    path = os.path.join(out, "plan.yaml")
    plan.save(path)
    with open(path) as f:
        expect(f.read() == plan.write(),
               "lm_plan_write through a callback = lm_plan_save's file")
    weights = lm.Weights().init_random(graph, seed=1)  # stands in for fine-tuned
    merged, merged_w = graph.merge(weights, plan)
    print(f"merged: {merged.conv_count} trunk convs (was {n}), "
          f"{len(merged_w)} tensors")
    expect(merged.conv_count == plan.segment_count,
           "one merged conv per plan segment")
    expect(merged_w.meta("layermerge.source_fingerprint") ==
           graph.fingerprint, "the merged weights name the source graph")
    expect(merged.output_shape == graph.output_shape and
           merged.input_shape == graph.input_shape,
           "the merged network keeps input and output shapes")
    dev = graph.verify_merge(weights, plan, merged, merged_w)
    print(f"verify: max abs {dev.max_abs:.3g}, max rel {dev.max_rel:.3g}")
    expect(dev.max_rel < 1e-4, "merged network equals the fine-tuning chain")
    # The engine on a NumPy batch: the plan's fine-tuning network and the
    # merged network give the same output.
    x = np.random.default_rng(1).uniform(-1, 1, (1,) + graph.input_shape)
    with lm.Engine(graph, weights) as chain, lm.Engine(merged, merged_w) as m:
        chain.set_threads(1)
        m.set_threads(1)
        chain.configure_plan(plan)
        y_chain, y_merged = chain.run(x), m.run(x)
    rel = float(np.abs(y_chain - y_merged).max() / np.abs(y_chain).max())
    print(f"engine: output {y_merged.shape}, max rel difference {rel:.3g}")
    expect(rel < 1e-4, "the engine runs both networks to the same output")
    merged.save(os.path.join(out, "merged.yaml"))
    merged_w.save(os.path.join(out, "merged.safetensors"))


def errors():
    """Failures raise LayerMergeError with lm_last_error()'s message."""
    bad = ROOT / "tests" / "data" / "graph_syntax_error.yaml"
    try:
        lm.Graph.load(bad)
    except lm.LayerMergeError as e:
        print(f"error path: {e}")
        expect(e.name == "LM_ERR_PARSE" and
               "graph_syntax_error.yaml:" in e.message,
               "a broken graph raises LM_ERR_PARSE naming file:line:col")
    else:
        expect(False, "a broken graph raises")


def main():
    args = parse_args()
    print(f"liblayermerge {lm.version()} from {lm.library_path()}")
    graph = lm.Graph.load(args.graph)
    entries = lm.Entries(graph)
    print(f"graph {graph.name}: {graph.conv_count} convs, "
          f"{graph.skip_count} skips, fingerprint {graph.fingerprint}; "
          f"{entries.segment_count} segments, {len(entries)} entries")
    e = entries.entry_info(2)
    print(f"entry 2: ({e.st}, {e.end}] K={e.kernel} keeps {e.kept}")
    expect(entries.find(entries.entry_key(2)) == 2,
           "lm_entries_find gives back the entry of lm_entries_entry_key")
    orig = entries.entry_info(entries.find_original(1))
    expect((orig.st, orig.end, orig.kept) == (0, 1, [1]),
           "the original entry of conv 1 keeps it alone")
    c1 = graph.conv_info(1)
    expect(c1.kernel == orig.kernel and
           c1.out_channels == orig.out_channels and c1.name,
           f"conv 1 ({c1.name}) matches its original entry")
    s0 = graph.skip_info(0)
    print(f"skip 0: {s0.source} -> {s0.target}, projection "
          f"{s0.projection_name if s0.has_projection else 'none'}")
    p0 = graph.position_info(0)
    expect(p0.is_barrier == 1 and p0.activation == "identity",
           "position 0 is a barrier without activation")
    expect(graph.position_shape(0)[0] == c1.in_channels,
           "position 0 has conv 1's input channels")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or tmp
        os.makedirs(out, exist_ok=True)
        result = solve(args, graph, entries, out)
        merge(graph, result, out)
    errors()
    print("pipeline: all checks passed")


if __name__ == "__main__":
    main()
