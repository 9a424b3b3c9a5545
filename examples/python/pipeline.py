#!/usr/bin/python3
"""The LayerMerge pipeline from Python through layermerge_ffi (ctypes):
graph -> entries -> tables (the authors' CSV files) -> solve -> result
file -> plan -> merge -> verify, with checks on every step so that it runs
as a test.

usage: pipeline.py [--lib liblayermerge.so] [--graph G.yaml]
                   [--latency T.csv] [--importance I.csv] [--ratio R]
                   [--out DIR]

Defaults are ResNet-34 and the small synthetic tables of tests/data,
relative to this file's repository. The library comes from --lib, else
LAYERMERGE_LIB, else the system loader.
"""
import argparse
import os
import pathlib
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from layermerge_ffi import Library, LayerMergeError  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
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
    return p.parse_args()


def expect(cond, what):
    if not cond:
        raise SystemExit(f"pipeline: FAILED: {what}")
    print(f"ok: {what}")


def solve(lm, args, graph, entries, out):
    lat = lm.latency_table(args.latency, entries)
    imp = lm.importance_table(args.importance, entries, metric="normalised")
    print(f"tables: {len(lat)} latencies, {len(imp)} importances")
    expect(len(imp) == entries.count, "one importance per entry")
    solver = lm.solver(graph, entries, lat, imp)
    result = solver.run(ratio=args.ratio)
    print(f"original {solver.original_latency:.4f} ms, budget "
          f"{result.budget:.4f} ms -> latency {result.latency:.4f} ms, "
          f"importance {result.importance:.6f}, "
          f"{len(result.segments())} segments, pruned {result.pruned_convs()}")
    expect(result.latency <= result.budget, "latency within the budget")
    front = solver.front(ratio=args.ratio)
    print(f"front: {len(front)} points, last {front[-1].latency:.4f} ms")
    expect(abs(front[-1].importance - result.importance) < 1e-9,
           "the front ends at the optimum")
    path = os.path.join(out, "result.yaml")
    result.save(path)
    again = lm.result_load(path)
    expect(again.latency == result.latency and
           again.fingerprint == graph.fingerprint,
           "the result file reads back identical")
    return again


def merge(lm, graph, result, out):
    plan = lm.plan_for_result(graph, result)
    kept = sum(k for _, k, _ in plan.convs())
    print(f"plan: {plan.segment_count} segments, {kept} of "
          f"{graph.conv_count} convs kept")
    plan.save(os.path.join(out, "plan.yaml"))
    expect(lm.has_merge, "the library exports lm_merge_network and lm_verify")
    weights = lm.weights_random(graph, seed=1)  # stands in for fine-tuned
    merged, merged_w = lm.merge_network(graph, weights, plan)
    print(f"merged: {merged.conv_count} trunk convs (was "
          f"{graph.conv_count}), {len(merged_w)} tensors")
    expect(merged.conv_count == plan.segment_count,
           "one merged conv per plan segment")
    max_abs, max_rel = lm.verify(graph, weights, plan, merged, merged_w)
    print(f"verify: max abs {max_abs:.3g}, max rel {max_rel:.3g}")
    expect(max_rel < 1e-4, "merged network equals the fine-tuning chain")
    merged.save(os.path.join(out, "merged.yaml"))
    merged_w.save(os.path.join(out, "merged.safetensors"))


def errors(lm):
    """Failures raise LayerMergeError with lm_last_error()'s message."""
    bad = ROOT / "tests" / "data" / "graph_syntax_error.yaml"
    try:
        lm.graph_load(bad)
    except LayerMergeError as e:
        print(f"error path: {e}")
        expect(e.status == -4 and "graph_syntax_error.yaml:" in e.message,
               "a broken graph raises LM_ERR_PARSE naming file:line:col")
    else:
        expect(False, "a broken graph raises")


def main():
    args = parse_args()
    lm = Library(args.lib)
    graph = lm.graph_load(args.graph)
    entries = lm.entries(graph)
    print(f"graph {graph.name}: {graph.conv_count} convs, "
          f"{graph.skip_count} skips, fingerprint {graph.fingerprint}; "
          f"{entries.segment_count} segments, {entries.count} entries")
    e = entries.entry(2)
    print(f"entry 2: ({e['st']}, {e['end']}] K={e['kernel']} "
          f"keeps {e['kept']}")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or tmp
        os.makedirs(out, exist_ok=True)
        result = solve(lm, args, graph, entries, out)
        merge(lm, graph, result, out)
    errors(lm)
    print("pipeline: all checks passed")


if __name__ == "__main__":
    main()
