"""liblayermerge from a PyTorch training loop: what examples/python's
ctypes wrapper (layermerge_ffi) lacks for it, added without changing it.

* TorchLibrary: layermerge_ffi.Library plus the forward engine (created
  from a torch state_dict through a tensor callback, or from a weights
  store), plan-configured runs and timing, importance and latency tables
  (lm_table) filled from Python, latency measurement with a caller timer
  callback (lm_table_measure_latency) and scored entries.
* Safetensors files written from and read into torch tensors by hand
  (8-byte little-endian header length, JSON header, data).

Every callback into Python catches its own exceptions: an exception may not
cross the C frames, so it is kept and re-raised once the library call has
returned (the call itself fails with LM_ERR_CANCELLED or the tensor
status).
"""
import ctypes
import json
import pathlib
import statistics
import struct
import sys
import time
from ctypes import (CFUNCTYPE, POINTER, c_char_p, c_double, c_float, c_int,
                    c_int64, c_size_t, c_void_p)

import numpy as np
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python"))
from layermerge_ffi import (METRIC, P, PP, S, EntryInfo,  # noqa: E402
                            Entries, Graph, LayerMergeError, Library, Plan,
                            Table, Timing, Weights, _Handle, _record)

LM_ERR_NOT_FOUND, LM_ERR_MISMATCH, LM_ERR_CANCELLED = -6, -7, -15

# lm_tensor_fn (include/layermerge/engine.h) and lm_timer_fn (measure.h):
# out-parameters first, as everywhere in API 0.2.
TENSOR_FN = CFUNCTYPE(c_int, c_char_p, POINTER(c_int64), c_size_t,
                      POINTER(c_float), c_void_p)
TIMER_FN = CFUNCTYPE(c_int, POINTER(c_double), POINTER(c_double),
                     POINTER(EntryInfo), c_size_t, c_void_p)
FLOATS = POINTER(c_float)

_MORE = {
    "lm_entries_create_scored": (S, [PP, P, POINTER(c_double), c_size_t]),
    "lm_engine_create_with_fetch": (S, [PP, P, c_size_t, TENSOR_FN,
                                        c_void_p]),
    "lm_engine_create": (S, [PP, P, P, c_size_t]),
    "lm_engine_destroy": (None, [P]),
    "lm_engine_input_size": (c_size_t, [P]),
    "lm_engine_output_size": (c_size_t, [P]),
    "lm_engine_run": (S, [FLOATS, c_size_t, P, FLOATS, c_size_t]),
    "lm_engine_configure_plan": (S, [P, P]),
    "lm_engine_time": (S, [POINTER(Timing), P, c_size_t, c_size_t]),
    "lm_weights_check_graph": (S, [P, P]),
    "lm_table_create_latency_for": (S, [PP, P]),
    "lm_table_create_importance_for": (S, [PP, P, c_int]),
    "lm_table_set_text": (S, [P, c_int, c_char_p]),
    "lm_table_set_importance_entry": (S, [P, P, c_size_t, c_double]),
    "lm_measure_options_create": (S, [PP]),
    "lm_measure_options_destroy": (None, [P]),
    "lm_measure_options_set_batch": (S, [P, c_size_t]),
    "lm_measure_options_set_warmup": (S, [P, c_size_t]),
    "lm_measure_options_set_repetitions": (S, [P, c_size_t]),
    "lm_measure_options_set_timer": (S, [P, TIMER_FN, c_void_p]),
    "lm_table_measure_latency": (S, [P, P, P, P]),
}
LM_TABLE_FINETUNE = 4


class _MeasureOptions(_Handle):
    _free = "lm_measure_options_destroy"


class Engine(_Handle):
    """The library's forward engine at a fixed batch size."""
    _free = "lm_engine_destroy"

    def run(self, x):
        """Run on a torch or numpy NCHW batch; returns a float32 ndarray
        shaped [batch, outputs]."""
        x = np.ascontiguousarray(np.asarray(x, dtype=np.float32))
        n_out = self._lib.c.lm_engine_output_size(self.ptr)
        out = np.empty(n_out, dtype=np.float32)
        self._lib.call("lm_engine_run", out.ctypes.data_as(FLOATS), n_out,
                       self.ptr, x.ctypes.data_as(FLOATS), x.size)
        return out.reshape(x.shape[0], -1)

    def configure(self, plan):
        """Run `plan`'s fine-tuning chain from now on (None: original)."""
        self._lib.call("lm_engine_configure_plan", self.ptr,
                       plan.ptr if plan is not None else None)

    def time(self, warmup=3, reps=20):
        """lm_engine_time's figures in milliseconds: a dict of runs,
        median_ms, stdev_ms, min_ms, max_ms."""
        return _record(self._info("lm_engine_time", Timing, warmup, reps))


class _Callback:
    """Keeps a ctypes callback alive for one call and carries out the
    first exception it raised."""

    def __init__(self, make, body, failure):
        self.error = None

        def trampoline(*args):
            try:
                return body(*args)
            except Exception as exc:  # re-raised after the C call
                self.error = self.error or exc
                return failure
        self.fn = make(trampoline)

    def reraise(self):
        if self.error is not None:
            raise self.error


def state_fetcher(state):
    """lm_tensor_fn over a torch state_dict: copies `name` into the
    library's buffer after checking its shape."""
    def fetch(name, shape, ndim, dst, _userdata):
        t = state.get(name.decode())
        if t is None:
            return LM_ERR_NOT_FOUND
        want = tuple(shape[i] for i in range(ndim))
        if tuple(t.shape) != want:
            return LM_ERR_MISMATCH
        src = t.detach().to(torch.float32).contiguous().cpu().numpy()
        ctypes.memmove(dst, src.ctypes.data, src.nbytes)
        return 0
    return _Callback(TENSOR_FN, fetch, LM_ERR_NOT_FOUND)


def torch_conv_timer(act_of, warmup=2, reps=10):
    """lm_timer_fn that times an entry's merged conv and its activation
    with torch on this CPU. `act_of(entry)` names the activation module to
    apply (docs/method.md section 5: the end position's, or the network's
    nonlinearity where a longer segment ends at an identity)."""
    def timer(median_ms, stdev_ms, entry_p, batch, _userdata):
        e = entry_p.contents
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
        median_ms[0] = statistics.median(times)
        stdev_ms[0] = statistics.stdev(times) if len(times) > 1 else 0.0
        return 0
    return _Callback(TIMER_FN, timer, LM_ERR_CANCELLED)


class TorchLibrary(Library):
    """layermerge_ffi.Library plus the calls a torch training loop needs."""

    def __init__(self, path=None):
        super().__init__(path)
        self._declare(_MORE)

    # ---- entries, graph -----------------------------------------------
    def entries_scored(self, graph, scores):
        """Entries whose representative subsets maximise the summed
        per-conv `scores` (e.g. L1 norms of the weights)."""
        arr = (c_double * len(scores))(*scores)
        return self._make(Entries, "lm_entries_create_scored", graph.ptr,
                          arr, len(scores))

    def activation(self, graph, position):
        """Activation name of a graph position (lm_graph_position_info)."""
        return graph.activation(position)

    def nonlinearity(self, graph):
        return graph.nonlinearity

    # ---- engine --------------------------------------------------------
    def engine_from_state(self, graph, state, batch):
        """Engine over a torch state_dict, fetched through lm_tensor_fn."""
        cb = state_fetcher(state)
        out = c_void_p()
        status = self.c.lm_engine_create_with_fetch(ctypes.byref(out),
                                                    graph.ptr, batch, cb.fn,
                                                    None)
        cb.reraise()
        if status != 0:
            raise self.error("lm_engine_create_with_fetch", status)
        return Engine(self, out)

    def engine(self, graph, weights, batch):
        return self._make(Engine, "lm_engine_create", graph.ptr, weights.ptr,
                          batch)

    def check_weights(self, weights, graph):
        self.call("lm_weights_check_graph", weights.ptr, graph.ptr)

    # ---- tables --------------------------------------------------------
    def importance_table_for(self, entries, metric, finetune):
        t = self._make(Table, "lm_table_create_importance_for", entries.ptr,
                       METRIC[metric])
        self.call("lm_table_set_text", t.ptr, LM_TABLE_FINETUNE,
                  finetune.encode())
        return t

    def importance_set(self, table, entries, entry_id, raw):
        self.call("lm_table_set_importance_entry", table.ptr, entries.ptr,
                  entry_id, raw)

    def importance_get(self, table, entries, entry_id):
        """(normalised, raw) of an entry."""
        return table.get_entry(entries, entry_id)

    def latency_measure(self, graph, entries, batch, timer=None, warmup=2,
                        reps=10):
        """A latency table for every entry: the library's engine timer, or
        `timer` (a _Callback from torch_conv_timer) through ctypes."""
        table = self._make(Table, "lm_table_create_latency_for", entries.ptr)
        opts = self._make(_MeasureOptions, "lm_measure_options_create")
        self.call("lm_measure_options_set_batch", opts.ptr, batch)
        self.call("lm_measure_options_set_warmup", opts.ptr, warmup)
        self.call("lm_measure_options_set_repetitions", opts.ptr, reps)
        if timer is not None:
            self.call("lm_measure_options_set_timer", opts.ptr, timer.fn,
                      None)
        status = self.c.lm_table_measure_latency(table.ptr, graph.ptr,
                                                 entries.ptr, opts.ptr)
        if timer is not None:
            timer.reraise()
        if status != 0:
            raise self.error("lm_table_measure_latency", status)
        return table

    def latency_get(self, table, entries, entry_id):
        """The latency of an entry in ms."""
        return table.get_entry(entries, entry_id)[0]

    # ---- plans ---------------------------------------------------------
    def skip_fused(self, plan, skip):
        return bool(plan.skip_info(skip)["fused"])

    def skip_dropped(self, plan, skip):
        return bool(plan.skip_info(skip)["dropped"])


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
