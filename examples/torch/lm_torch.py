"""liblayermerge from a PyTorch training loop, on the layermerge package
(python/layermerge): the few calls finetune_pipeline.py makes, named for
it, and what the package leaves to the caller.

* TorchLibrary: the package's handles under the names this example uses
  (the engine over a torch state_dict, the importance and latency tables
  filled from Python, a torch latency timer through lm_timer_fn).
* Safetensors files written from and read into torch tensors by hand
  (8-byte little-endian header length, JSON header, data).

An exception raised in a callback (tensor fetch, timer) stops the library
call and is raised again once it has returned (the package does this).
"""
import json
import os
import pathlib
import statistics
import struct
import sys
import time

import numpy as np
import torch

try:
    import layermerge
except ImportError:   # run from a source tree
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "python"))
    import layermerge
from layermerge import LayerMergeError, Graph, Plan, Weights  # noqa: E402


class Engine(layermerge.Engine):
    """The package's engine with outputs shaped [batch, outputs], as the
    model's logits are."""

    def run(self, x, out=None):
        return super().run(x, out).reshape(self.batch, -1)

    def configure(self, plan):
        """Run `plan`'s fine-tuning chain from now on (None: original)."""
        self.configure_plan(plan)


def torch_conv_timer(act_of, warmup=2, reps=10):
    """A MeasureOptions timer that times an entry's merged conv and its
    activation with torch on this CPU. `act_of(entry)` names the
    activation module to apply (docs/method.md section 5: the end
    position's, or the network's nonlinearity where a longer segment ends
    at an identity)."""
    def timer(e, batch):
        groups = e.in_channels if e.depthwise else 1
        conv = torch.nn.Conv2d(e.in_channels, e.out_channels, e.kernel,
                               e.stride, e.padding, groups=groups)
        net = torch.nn.Sequential(conv, act_of(e)).eval()
        x = torch.randn(batch, e.in_channels, e.in_height, e.in_width)
        times = []
        with torch.no_grad():
            for i in range(warmup + reps):
                t0 = time.perf_counter()
                net(x)
                if i >= warmup:
                    times.append((time.perf_counter() - t0) * 1e3)
        return (statistics.median(times),
                statistics.stdev(times) if len(times) > 1 else 0.0)
    return timer


class TorchLibrary:
    """The calls of finetune_pipeline.py, on the layermerge package."""

    def __init__(self, path=None):
        if path:
            os.environ["LAYERMERGE_LIBRARY"] = str(path)
        self.version = layermerge.version()

    # ---- graph, weights, entries ----------------------------------------
    def graph_load(self, path):
        return Graph.load(path)

    def weights_load(self, path):
        return Weights.load(path)

    def check_weights(self, weights, graph):
        weights.check_graph(graph)

    def entries_scored(self, graph, scores):
        """Entries whose representative subsets maximise the summed
        per-conv `scores` (e.g. L1 norms of the weights)."""
        return layermerge.Entries(graph, scores)

    def activation(self, graph, position):
        """Activation name of a graph position."""
        return graph.position_info(position).activation

    def nonlinearity(self, graph):
        return graph.nonlinearity

    # ---- engine ------------------------------------------------------------
    def engine_from_state(self, graph, state, batch):
        """Engine over a torch state_dict, fetched through lm_tensor_fn."""
        return Engine(graph, state, batch)

    def engine(self, graph, weights, batch):
        return Engine(graph, weights, batch)

    # ---- tables ------------------------------------------------------------
    def importance_table_for(self, entries, metric, finetune):
        t = layermerge.Table.importance(entries, metric)
        t.set_text("finetune", finetune)
        return t

    def importance_set(self, table, entries, entry_id, raw):
        table.set_importance_entry(entries, entry_id, raw)

    def importance_get(self, table, entries, entry_id):
        """(normalised, raw) of an entry."""
        return table.get_entry(entries, entry_id)

    def latency_measure(self, graph, entries, batch, timer=None, warmup=2,
                        reps=10):
        """A latency table for every entry: the library's engine timer, or
        `timer` (torch_conv_timer) through lm_timer_fn."""
        table = layermerge.Table.latency(entries)
        with layermerge.MeasureOptions(batch=batch, warmup=warmup,
                                       repetitions=reps) as opts:
            if timer is not None:
                opts.set_timer(timer)
            table.measure_latency(graph, entries, opts)
        return table

    def latency_get(self, table, entries, entry_id):
        """The latency of an entry in ms."""
        return table.get_entry(entries, entry_id)[0]

    # ---- solve, plans, merge ---------------------------------------------
    def solver(self, graph, entries, latency, importance):
        return layermerge.Solver(graph, entries, latency, importance)

    def plan_for_entry(self, graph, entries, entry_id):
        return Plan.for_entry(graph, entries, entry_id)

    def plan_for_result(self, graph, result):
        return Plan.for_result(graph, result)

    def graph_merge(self, graph, weights, plan):
        return graph.merge(weights, plan)

    def verify_merge(self, graph, weights, plan, merged, merged_weights,
                     batch=1, seed=1):
        return graph.verify_merge(weights, plan, merged, merged_weights,
                                  batch, seed)

    def plan_convs(self, plan):
        """[(conv, kept, padding)] for trunk convs 1..N."""
        return [(c, bool(i.kept), i.padding) for c, i in
                ((c, plan.conv_info(c)) for c in range(1, plan.conv_count + 1))]

    def plan_activations(self, plan):
        """The activation name at positions 1..N ("identity" when off)."""
        return [plan.position_info(p).activation
                for p in range(1, plan.conv_count + 1)]

    def skip_fused(self, plan, skip):
        return bool(plan.skip_info(skip).fused)

    def skip_dropped(self, plan, skip):
        return bool(plan.skip_info(skip).dropped)


# ---- safetensors ------------------------------------------------------
_DTYPES = {torch.float32: "F32", torch.int64: "I64"}
_NUMPY = {"F32": "<f4", "I64": "<i8", "F64": "<f8"}


def save_safetensors(path, state):
    """A state_dict as safetensors: tensors in name order, header padded
    with spaces to a multiple of 8."""
    header, blobs, offset = {}, [], 0
    for name in sorted(state):
        t = state[name].detach().contiguous().cpu()
        data = t.numpy().astype(_NUMPY[_DTYPES[t.dtype]]).tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def load_safetensors(path):
    """{name: torch tensor} of a safetensors file (metadata dropped)."""
    raw = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base, out = 8 + n, {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        lo, hi = h["data_offsets"]
        arr = np.frombuffer(raw[base + lo:base + hi], dtype=_NUMPY[h["dtype"]])
        out[name] = torch.from_numpy(arr.reshape(h["shape"]).copy())
    return out


__all__ = ["LayerMergeError", "TorchLibrary", "Engine", "Graph", "Plan",
           "Weights", "torch_conv_timer", "save_safetensors",
           "load_safetensors"]
