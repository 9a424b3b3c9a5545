"""A small ctypes wrapper of liblayermerge, for training loops in Python.

Only the standard library is needed. The shared library is found, in this
order, from the `path` given to `Library()`, the LAYERMERGE_LIB environment
variable, or the system's loader (`liblayermerge.so.0` once installed).

Every handle owns its C object and frees it when garbage-collected; the
library copies what it needs, so handles may die in any order. Every failed
call raises `LayerMergeError` carrying the status and lm_last_error()'s
message (which names the file, line, layer or entry at fault). Records
returned by the library are size-versioned structs: `size` is set before
each call, as the C API requires.

    lm = Library()
    graph = lm.graph_load("examples/models/resnet34.yaml")
    entries = lm.entries(graph)
    print(graph.fingerprint, entries.count)
"""
import ctypes
import os
from ctypes import (POINTER, Structure, c_char_p, c_double, c_int, c_int32,
                    c_int64, c_size_t, c_uint64, c_void_p)

# lm_importance_metric / lm_table_csv_format / lm_rounding (pinned values).
METRIC = {"accuracy": 1, "loss_ratio": 2, "normalised": 3}
CSV_LAYERMERGE = 1
ROUNDING = {"ceil": 0, "floor": 1}


class LayerMergeError(Exception):
    """A liblayermerge call failed: `status` (negative LM_ERR_* value),
    `message` (lm_last_error())."""

    def __init__(self, call, status, message):
        super().__init__(f"{call}: {message} (status {status})")
        self.call, self.status, self.message = call, status, message


class SegmentInfo(Structure):
    _fields_ = [("size", c_size_t), ("st", c_size_t), ("end", c_size_t),
                ("first_entry", c_size_t), ("n_entries", c_size_t)]


class EntryInfo(Structure):
    _fields_ = [("size", c_size_t), ("id", c_size_t), ("segment", c_size_t),
                ("st", c_size_t), ("end", c_size_t), ("kernel", c_int64),
                ("stride", c_int64), ("padding", c_int64),
                ("depthwise", c_int32), ("identity", c_int32),
                ("in_channels", c_int64), ("out_channels", c_int64),
                ("in_height", c_int64), ("in_width", c_int64),
                ("n_kept", c_size_t), ("kept", POINTER(c_size_t))]


class ResultSegmentInfo(Structure):
    _fields_ = [("size", c_size_t), ("st", c_size_t), ("end", c_size_t),
                ("entry", c_size_t), ("kernel", c_int64), ("stride", c_int64),
                ("depthwise", c_int32), ("identity", c_int32),
                ("latency", c_double), ("importance", c_double),
                ("n_kept", c_size_t), ("kept", POINTER(c_size_t))]


def _record(info, kept=True):
    """A ctypes record as a dict; `kept` becomes a list of conv indices."""
    out = {name: getattr(info, name) for name, _ in info._fields_
           if name not in ("size", "kept")}
    if kept:
        out["kept"] = [info.kept[i] for i in range(info.n_kept)]
    return out


P = c_void_p          # every opaque handle
PP = POINTER(c_void_p)
S = c_int             # lm_status
# name: (restype, argtypes). Only what the wrappers below use.
_PROTOTYPES = {
    "lm_last_error": (c_char_p, []),
    "lm_status_str": (c_char_p, [c_int]),
    "lm_graph_load": (S, [PP, c_char_p]),
    "lm_graph_destroy": (None, [P]),
    "lm_graph_save": (S, [P, c_char_p]),
    "lm_graph_name": (c_char_p, [P]),
    "lm_graph_conv_count": (c_size_t, [P]),
    "lm_graph_skip_count": (c_size_t, [P]),
    "lm_graph_fingerprint": (c_char_p, [P]),
    "lm_entries_create": (S, [PP, P]),
    "lm_entries_destroy": (None, [P]),
    "lm_entries_count": (c_size_t, [P]),
    "lm_entries_segment_count": (c_size_t, [P]),
    "lm_entries_segment": (S, [P, c_size_t, POINTER(SegmentInfo)]),
    "lm_entries_entry": (S, [P, c_size_t, POINTER(EntryInfo)]),
    "lm_latency_table_import_csv": (S, [PP, c_char_p, c_int, P]),
    "lm_latency_table_load": (S, [PP, c_char_p]),
    "lm_latency_table_save": (S, [P, c_char_p]),
    "lm_latency_table_count": (c_size_t, [P]),
    "lm_latency_table_destroy": (None, [P]),
    "lm_importance_table_import_csv": (S, [PP, c_char_p, c_int, P]),
    "lm_importance_table_load": (S, [PP, c_char_p]),
    "lm_importance_table_save": (S, [P, c_char_p]),
    "lm_importance_table_count": (c_size_t, [P]),
    "lm_importance_table_destroy": (None, [P]),
    "lm_solver_create": (S, [PP, P, P, P, P]),
    "lm_solver_destroy": (None, [P]),
    "lm_solver_original_latency": (c_double, [P]),
    "lm_solver_run": (S, [P, P, PP]),
    "lm_solver_front": (S, [P, P, PP]),
    "lm_solve_options_create": (S, [PP]),
    "lm_solve_options_destroy": (None, [P]),
    "lm_solve_options_set_budget": (S, [P, c_double]),
    "lm_solve_options_set_budget_ratio": (S, [P, c_double]),
    "lm_solve_options_set_precision": (S, [P, c_double]),
    "lm_solve_options_set_rounding": (S, [P, c_int]),
    "lm_result_destroy": (None, [P]),
    "lm_result_load": (S, [PP, c_char_p]),
    "lm_result_save": (S, [P, c_char_p]),
    "lm_result_importance": (c_double, [P]),
    "lm_result_latency": (c_double, [P]),
    "lm_result_latency_units": (c_int64, [P]),
    "lm_result_budget": (c_double, [P]),
    "lm_result_fingerprint": (c_char_p, [P]),
    "lm_result_conv_count": (c_size_t, [P]),
    "lm_result_segment_count": (c_size_t, [P]),
    "lm_result_segment": (S, [P, c_size_t, POINTER(ResultSegmentInfo)]),
    "lm_result_conv_kept": (c_int, [P, c_size_t]),
    "lm_result_activation_kept": (c_int, [P, c_size_t]),
    "lm_front_destroy": (None, [P]),
    "lm_front_count": (c_size_t, [P]),
    "lm_front_get": (P, [P, c_size_t]),
    "lm_plan_for_result": (S, [PP, P, P]),
    "lm_plan_for_entry": (S, [PP, P, P, c_size_t]),
    "lm_plan_destroy": (None, [P]),
    "lm_plan_save": (S, [P, c_char_p]),
    "lm_plan_conv_count": (c_size_t, [P]),
    "lm_plan_segment_count": (c_size_t, [P]),
    "lm_plan_conv_kept": (c_int, [P, c_size_t]),
    "lm_plan_conv_padding": (c_int64, [P, c_size_t]),
    "lm_plan_activation": (c_int, [P, c_size_t]),
    "lm_act_name": (c_char_p, [c_int]),
    "lm_weights_create": (S, [PP]),
    "lm_weights_destroy": (None, [P]),
    "lm_weights_load": (S, [PP, c_char_p]),
    "lm_weights_save": (S, [P, c_char_p]),
    "lm_weights_count": (c_size_t, [P]),
    "lm_weights_init_random": (S, [P, P, c_uint64]),
}
# Added by later headers; wrapped when the library exports them.
_OPTIONAL = {
    "lm_merge_network": (S, [PP, PP, P, P, P]),
    "lm_verify": (S, [P, P, P, P, P, c_size_t, c_uint64, POINTER(c_double),
                      POINTER(c_double)]),
}


class _Handle:
    """Owns one C object; `_free` names its destroy function."""
    _free = None

    def __init__(self, lib, ptr, owner=None):
        self._lib, self._ptr, self._owner = lib, ptr, owner

    @property
    def ptr(self):
        return self._ptr

    def __del__(self):
        # A borrowed handle (owner set) is freed with its owner.
        if self._ptr and self._owner is None and self._free:
            getattr(self._lib.c, self._free)(self._ptr)
        self._ptr = None


class Library:
    """The loaded liblayermerge and the entry points of the wrappers."""

    def __init__(self, path=None):
        path = path or os.environ.get("LAYERMERGE_LIB") or "liblayermerge.so.0"
        self.c = ctypes.CDLL(path)
        for name, (res, args) in _PROTOTYPES.items():
            fn = getattr(self.c, name)
            fn.restype, fn.argtypes = res, args
        self.has_merge = all(hasattr(self.c, n) for n in _OPTIONAL)
        for name, (res, args) in _OPTIONAL.items():
            if hasattr(self.c, name):
                fn = getattr(self.c, name)
                fn.restype, fn.argtypes = res, args

    def call(self, name, *args):
        """Call lm_<...>; raise LayerMergeError unless it returns LM_OK."""
        status = getattr(self.c, name)(*args)
        if status != 0:
            raise LayerMergeError(name, status,
                                  self.c.lm_last_error().decode())

    def _make(self, cls, name, *args):
        out = c_void_p()
        self.call(name, ctypes.byref(out), *args)
        return cls(self, out)

    # ---- constructors -----------------------------------------------
    def graph_load(self, path):
        return self._make(Graph, "lm_graph_load", os.fsencode(path))

    def entries(self, graph):
        return self._make(Entries, "lm_entries_create", graph.ptr)

    def latency_table(self, path, entries=None):
        """A library YAML table, or the authors' CSV matched to `entries`."""
        if str(path).endswith(".csv"):
            return self._make(LatencyTable, "lm_latency_table_import_csv",
                              os.fsencode(path), CSV_LAYERMERGE,
                              entries.ptr if entries else None)
        return self._make(LatencyTable, "lm_latency_table_load",
                          os.fsencode(path))

    def importance_table(self, path, entries=None, metric="normalised"):
        if str(path).endswith(".csv"):
            return self._make(ImportanceTable,
                              "lm_importance_table_import_csv",
                              os.fsencode(path), METRIC[metric],
                              entries.ptr if entries else None)
        return self._make(ImportanceTable, "lm_importance_table_load",
                          os.fsencode(path))

    def solver(self, graph, entries, latency, importance):
        return self._make(Solver, "lm_solver_create", graph.ptr, entries.ptr,
                          latency.ptr, importance.ptr)

    def result_load(self, path):
        return self._make(Result, "lm_result_load", os.fsencode(path))

    def plan_for_result(self, graph, result):
        return self._make(Plan, "lm_plan_for_result", graph.ptr, result.ptr)

    def plan_for_entry(self, graph, entries, entry_id):
        return self._make(Plan, "lm_plan_for_entry", graph.ptr, entries.ptr,
                          entry_id)

    def weights_load(self, path):
        return self._make(Weights, "lm_weights_load", os.fsencode(path))

    def weights_random(self, graph, seed=1):
        """Every tensor `graph` needs, pseudo-random (for examples)."""
        w = self._make(Weights, "lm_weights_create")
        self.call("lm_weights_init_random", w.ptr, graph.ptr, seed)
        return w

    def merge_network(self, graph, weights, plan):
        """Fold every segment of `plan` into one conv: (graph, weights)."""
        g, w = c_void_p(), c_void_p()
        self.call("lm_merge_network", ctypes.byref(g), ctypes.byref(w),
                  graph.ptr, weights.ptr, plan.ptr)
        return Graph(self, g), Weights(self, w)

    def verify(self, graph, weights, plan, merged, merged_weights, batch=1,
               seed=1):
        """(max_abs, max_rel) between the plan's chain and the merged net."""
        a, r = c_double(), c_double()
        self.call("lm_verify", graph.ptr, weights.ptr, plan.ptr, merged.ptr,
                  merged_weights.ptr, batch, seed, ctypes.byref(a),
                  ctypes.byref(r))
        return a.value, r.value


class Graph(_Handle):
    _free = "lm_graph_destroy"

    @property
    def name(self):
        return self._lib.c.lm_graph_name(self.ptr).decode()

    @property
    def conv_count(self):
        return self._lib.c.lm_graph_conv_count(self.ptr)

    @property
    def skip_count(self):
        return self._lib.c.lm_graph_skip_count(self.ptr)

    @property
    def fingerprint(self):
        return self._lib.c.lm_graph_fingerprint(self.ptr).decode()

    def save(self, path):
        self._lib.call("lm_graph_save", self.ptr, os.fsencode(path))


class Entries(_Handle):
    _free = "lm_entries_destroy"

    @property
    def count(self):
        return self._lib.c.lm_entries_count(self.ptr)

    @property
    def segment_count(self):
        return self._lib.c.lm_entries_segment_count(self.ptr)

    def segment(self, index):
        info = SegmentInfo(size=ctypes.sizeof(SegmentInfo))
        self._lib.call("lm_entries_segment", self.ptr, index,
                       ctypes.byref(info))
        return _record(info, kept=False)

    def entry(self, entry_id):
        info = EntryInfo(size=ctypes.sizeof(EntryInfo))
        self._lib.call("lm_entries_entry", self.ptr, entry_id,
                       ctypes.byref(info))
        return _record(info)


class LatencyTable(_Handle):
    _free = "lm_latency_table_destroy"

    def __len__(self):
        return self._lib.c.lm_latency_table_count(self.ptr)

    def save(self, path):
        self._lib.call("lm_latency_table_save", self.ptr, os.fsencode(path))


class ImportanceTable(_Handle):
    _free = "lm_importance_table_destroy"

    def __len__(self):
        return self._lib.c.lm_importance_table_count(self.ptr)

    def save(self, path):
        self._lib.call("lm_importance_table_save", self.ptr,
                       os.fsencode(path))


class Solver(_Handle):
    _free = "lm_solver_destroy"

    @property
    def original_latency(self):
        return self._lib.c.lm_solver_original_latency(self.ptr)

    def _options(self, budget, ratio, precision, rounding):
        opts = self._lib._make(_Options, "lm_solve_options_create")
        if budget is not None:
            self._lib.call("lm_solve_options_set_budget", opts.ptr, budget)
        if ratio is not None:
            self._lib.call("lm_solve_options_set_budget_ratio", opts.ptr,
                           ratio)
        self._lib.call("lm_solve_options_set_precision", opts.ptr, precision)
        self._lib.call("lm_solve_options_set_rounding", opts.ptr,
                       ROUNDING[rounding])
        return opts

    def run(self, budget=None, ratio=None, precision=10.0, rounding="ceil"):
        """Solve within `budget` ms or `ratio` x the original latency."""
        opts = self._options(budget, ratio, precision, rounding)
        out = c_void_p()
        self._lib.call("lm_solver_run", self.ptr, opts.ptr, ctypes.byref(out))
        return Result(self._lib, out)

    def front(self, budget=None, ratio=None, precision=10.0,
              rounding="ceil"):
        """The Pareto front as a list of Results, by increasing latency."""
        opts = self._options(budget, ratio, precision, rounding)
        out = c_void_p()  # the output comes last in lm_solver_front
        self._lib.call("lm_solver_front", self.ptr, opts.ptr,
                       ctypes.byref(out))
        f, c = _Front(self._lib, out), self._lib.c
        return [Result(self._lib, c_void_p(c.lm_front_get(f.ptr, i)), owner=f)
                for i in range(c.lm_front_count(f.ptr))]


class _Options(_Handle):
    _free = "lm_solve_options_destroy"


class _Front(_Handle):
    _free = "lm_front_destroy"


class Result(_Handle):
    _free = "lm_result_destroy"

    @property
    def latency(self):
        return self._lib.c.lm_result_latency(self.ptr)

    @property
    def latency_units(self):
        return self._lib.c.lm_result_latency_units(self.ptr)

    @property
    def importance(self):
        return self._lib.c.lm_result_importance(self.ptr)

    @property
    def budget(self):
        return self._lib.c.lm_result_budget(self.ptr)

    @property
    def fingerprint(self):
        return self._lib.c.lm_result_fingerprint(self.ptr).decode()

    def segments(self):
        out = []
        for i in range(self._lib.c.lm_result_segment_count(self.ptr)):
            info = ResultSegmentInfo(size=ctypes.sizeof(ResultSegmentInfo))
            self._lib.call("lm_result_segment", self.ptr, i,
                           ctypes.byref(info))
            out.append(_record(info))
        return out

    def pruned_convs(self):
        n = self._lib.c.lm_result_conv_count(self.ptr)
        return [c for c in range(1, n + 1)
                if not self._lib.c.lm_result_conv_kept(self.ptr, c)]

    def kept_activations(self):
        n = self._lib.c.lm_result_conv_count(self.ptr)
        return [p for p in range(1, n + 1)
                if self._lib.c.lm_result_activation_kept(self.ptr, p)]

    def save(self, path):
        self._lib.call("lm_result_save", self.ptr, os.fsencode(path))


class Plan(_Handle):
    """What the training loop changes: per conv keep/prune and padding,
    per position the activation (docs/concepts.md, "Plans")."""
    _free = "lm_plan_destroy"

    def convs(self):
        """[(conv, kept, padding)] for convs 1..N."""
        c = self._lib.c
        return [(i, bool(c.lm_plan_conv_kept(self.ptr, i)),
                 c.lm_plan_conv_padding(self.ptr, i))
                for i in range(1, c.lm_plan_conv_count(self.ptr) + 1)]

    def activations(self):
        """Activation name per position 1..N ("identity" when off)."""
        c = self._lib.c
        return [c.lm_act_name(c.lm_plan_activation(self.ptr, p)).decode()
                for p in range(1, c.lm_plan_conv_count(self.ptr) + 1)]

    @property
    def segment_count(self):
        return self._lib.c.lm_plan_segment_count(self.ptr)

    def save(self, path):
        self._lib.call("lm_plan_save", self.ptr, os.fsencode(path))


class Weights(_Handle):
    _free = "lm_weights_destroy"

    def __len__(self):
        return self._lib.c.lm_weights_count(self.ptr)

    def save(self, path):
        self._lib.call("lm_weights_save", self.ptr, os.fsencode(path))
