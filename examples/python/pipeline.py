#!/usr/bin/python3
"""The LayerMerge pipeline from Python through layermerge_ffi (ctypes):
graph -> entries -> tables (the authors' CSV files) -> solve -> result
file -> plan -> merge (lm_graph_merge) -> verify
(lm_graph_verify_merge), with checks on every step so that it runs
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
    expect(lat.kind == "latency" and imp.kind == "importance" and
           lat.fingerprint == imp.fingerprint == graph.fingerprint,
           "one lm_table handle for both kinds, of this graph")
    rec = imp.record(0)
    expect(rec["id"] == 0 and imp.get_entry(entries, 0)[0] == rec["value"],
           "a table record reads back through lm_table_get_entry")
    expect(imp.missing(entries)[0] == 0, "no entry lacks an importance")
    solver = lm.solver(graph, entries, lat, imp)
    result = solver.run(ratio=args.ratio)
    print(f"original {solver.original_latency:.4f} ms, budget "
          f"{result.budget:.4f} ms -> latency {result.latency:.4f} ms, "
          f"importance {result.importance:.6f}, "
          f"{len(result.segments())} segments, pruned {result.pruned_convs()}")
    expect(result.latency <= result.budget, "latency within the budget")
    kept = [c for c in range(1, graph.conv_count + 1) if result.conv_kept(c)]
    bounds = [p for p in range(1, graph.conv_count + 1)
              if result.is_boundary(p)]
    expect(len(kept) + len(result.pruned_convs()) == graph.conv_count and
           bounds == [s["end"] for s in result.segments()],
           "per-conv and per-position records agree with the segments")
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
    segs = plan.segments()
    expect(segs[0][0] == 0 and segs[-1][1] == graph.conv_count and
           all(a[1] == b[0] for a, b in zip(segs, segs[1:])),
           "the plan's segments partition the trunk")
    fused = sum(plan.skip_info(s)["fused"] for s in range(graph.skip_count))
    print(f"plan: {fused} of {graph.skip_count} skips fused")
    path = os.path.join(out, "plan.yaml")
    plan.save(path)
    with open(path) as f:
        expect(f.read() == plan.yaml(),
               "lm_plan_write through a callback = lm_plan_save's file")
    weights = lm.weights_random(graph, seed=1)  # stands in for fine-tuned
    merged, merged_w = lm.graph_merge(graph, weights, plan)
    print(f"merged: {merged.conv_count} trunk convs (was "
          f"{graph.conv_count}), {len(merged_w)} tensors")
    expect(merged.conv_count == plan.segment_count,
           "one merged conv per plan segment")
    expect(merged_w.meta("layermerge.source_fingerprint") ==
           graph.fingerprint, "the merged weights name the source graph")
    expect(merged.output_shape == graph.output_shape and
           merged.input_shape == graph.input_shape,
           "the merged network keeps input and output shapes")
    max_abs, max_rel = lm.verify_merge(graph, weights, plan, merged,
                                       merged_w)
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
    expect(entries.find(*entries.key(2)) == 2,
           "lm_entries_find gives back the entry of lm_entries_entry_key")
    orig = entries.entry(entries.find_original(1))
    expect((orig["st"], orig["end"], orig["kept"]) == (0, 1, [1]),
           "the original entry of conv 1 keeps it alone")
    c1 = graph.conv_info(1)
    expect(c1["kernel"] == orig["kernel"] and
           c1["out_channels"] == orig["out_channels"] and c1["name"],
           f"conv 1 ({c1['name']}) matches its original entry")
    s0 = graph.skip_info(0)
    print(f"skip 0: {s0['source']} -> {s0['target']}, projection "
          f"{s0['projection_name'] if s0['has_projection'] else 'none'}")
    p0 = graph.position_info(0)
    expect(p0["is_barrier"] == 1 and p0["activation"] == "identity",
           "position 0 is a barrier without activation")
    expect(graph.position_shape(0)[0] == c1["in_channels"],
           "position 0 has conv 1's input channels")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or tmp
        os.makedirs(out, exist_ok=True)
        result = solve(lm, args, graph, entries, out)
        merge(lm, graph, result, out)
    errors(lm)
    print("pipeline: all checks passed")


if __name__ == "__main__":
    main()
