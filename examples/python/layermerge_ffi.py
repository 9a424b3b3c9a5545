"""A small ctypes wrapper of liblayermerge, for training loops in Python.

Superseded by the `layermerge` package (python/layermerge, installed with
the library), which binds the whole API; this module stays for the PyTorch
example (examples/torch/lm_torch.py), which is built on it.

Only the standard library is needed. The shared library is found, in this
order, from the `path` given to `Library()`, the LAYERMERGE_LIB environment
variable, or the system's loader (`liblayermerge.so.0` once installed).

Every handle owns its C object and frees it when garbage-collected; the
library copies what it needs, so handles may die in any order. Every failed
call raises `LayerMergeError` carrying the status and lm_last_error()'s
message (which names the file, line, layer or entry at fault). Records
exchanged with the library are size-versioned structs mirroring the public
headers (include/layermerge/*.h) field for field: `size` is set to
ctypes.sizeof(record) before each call, as the C API requires. Out-parameters
come first in every C call (API 0.2).

    lm = Library()
    graph = lm.graph_load("examples/models/resnet34.yaml")
    entries = lm.entries(graph)
    print(graph.fingerprint, entries.count)
"""
import collections
import ctypes
import os
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_int,
                    c_int32, c_int64, c_size_t, c_uint64, c_void_p)

# lm_importance_metric / lm_table_kind / lm_table_csv_format / lm_rounding
# (pinned values).
METRIC = {"accuracy": 1, "loss_ratio": 2, "normalised": 3}
TABLE_LATENCY, TABLE_IMPORTANCE = 1, 2
TABLE_KIND = {"latency": TABLE_LATENCY, "importance": TABLE_IMPORTANCE}
CSV_LAYERMERGE = 1
ROUNDING = {"ceil": 0, "floor": 1}
# lm_site (graph.h).
SITE_STEM, SITE_HEAD, SITE_POSITION = 0, 1, 2


class LayerMergeError(Exception):
    """A liblayermerge call failed: `status` (negative LM_ERR_* value),
    `message` (lm_last_error())."""

    def __init__(self, call, status, message):
        super().__init__(f"{call}: {message} (status {status})")
        self.call, self.status, self.message = call, status, message


# ---- records (size-versioned structs, exactly as in the headers) --------

class _Record(Structure):
    """A size-versioned record: `new()` gives one with `size` set."""

    @classmethod
    def new(cls, **fields):
        return cls(size=ctypes.sizeof(cls), **fields)


# api.h: lm_write_fn
WRITE_FN = CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p)


# graph.h
class ConvDesc(_Record):
    """lm_conv_desc (an input record)."""
    _fields_ = [("size", c_size_t), ("name", c_char_p),
                ("in_channels", c_int64), ("out_channels", c_int64),
                ("kernel", c_int64), ("stride", c_int64),
                ("padding", c_int64), ("groups", c_int64),
                ("has_bias", c_int32)]


class PositionInfo(_Record):
    """lm_position_info."""
    _fields_ = [("size", c_size_t), ("activation", c_int),
                ("is_barrier", c_int32), ("identity_option", c_int32),
                ("layer_count", c_size_t)]


class Shape(_Record):
    """lm_shape."""
    _fields_ = [("size", c_size_t), ("channels", c_int64),
                ("height", c_int64), ("width", c_int64)]


class ConvInfo(_Record):
    """lm_conv_info."""
    _fields_ = [("size", c_size_t), ("in_channels", c_int64),
                ("out_channels", c_int64), ("kernel", c_int64),
                ("stride", c_int64), ("padding", c_int64),
                ("groups", c_int64), ("has_bias", c_int32),
                ("has_bn", c_int32), ("bn_eps", c_double),
                ("name", c_char_p), ("bn_name", c_char_p)]


class SkipInfo(_Record):
    """lm_skip_info (flat: projection_* fields)."""
    _fields_ = [("size", c_size_t), ("source", c_size_t),
                ("target", c_size_t), ("has_projection", c_int32),
                ("projection_has_bias", c_int32),
                ("projection_has_bn", c_int32),
                ("projection_in_channels", c_int64),
                ("projection_out_channels", c_int64),
                ("projection_stride", c_int64),
                ("projection_bn_eps", c_double),
                ("projection_name", c_char_p),
                ("projection_bn_name", c_char_p)]


class LayerInfo(_Record):
    """lm_layer_info."""
    _fields_ = [("size", c_size_t), ("kind", c_int), ("act", c_int),
                ("in_channels", c_int64), ("out_channels", c_int64),
                ("kernel", c_int64), ("stride", c_int64),
                ("padding", c_int64), ("groups", c_int64),
                ("out_height", c_int64), ("out_width", c_int64),
                ("has_bias", c_int32), ("eps", c_double),
                ("name", c_char_p)]


# entries.h
class SegmentInfo(_Record):
    """lm_segment_info."""
    _fields_ = [("size", c_size_t), ("st", c_size_t), ("end", c_size_t),
                ("first_entry", c_size_t), ("n_entries", c_size_t)]


class EntryInfo(_Record):
    """lm_entry_info."""
    _fields_ = [("size", c_size_t), ("id", c_size_t), ("segment", c_size_t),
                ("st", c_size_t), ("end", c_size_t), ("kernel", c_int64),
                ("stride", c_int64), ("padding", c_int64),
                ("depthwise", c_int32), ("identity", c_int32),
                ("in_channels", c_int64), ("out_channels", c_int64),
                ("in_height", c_int64), ("in_width", c_int64),
                ("n_kept", c_size_t), ("kept", POINTER(c_size_t))]


class EntryKey(_Record):
    """lm_entry_key (an input record)."""
    _fields_ = [("size", c_size_t), ("st", c_size_t), ("end", c_size_t),
                ("kernel", c_int64), ("stride", c_int64),
                ("depthwise", c_int32)]


# tables.h
class TableRecord(_Record):
    """lm_table_record."""
    _fields_ = [("size", c_size_t), ("id", c_int64), ("st", c_size_t),
                ("end", c_size_t), ("kernel", c_int64), ("stride", c_int64),
                ("depthwise", c_int32), ("value", c_double),
                ("extra", c_double), ("note", c_char_p)]


# solver.h
class ResultSegment(_Record):
    """lm_result_segment."""
    _fields_ = [("size", c_size_t), ("st", c_size_t), ("end", c_size_t),
                ("entry", c_size_t), ("kernel", c_int64), ("stride", c_int64),
                ("depthwise", c_int32), ("identity", c_int32),
                ("latency", c_double), ("importance", c_double),
                ("n_kept", c_size_t), ("kept", POINTER(c_size_t))]


class ResultConv(_Record):
    """lm_result_conv."""
    _fields_ = [("size", c_size_t), ("kept", c_int32),
                ("segment", c_size_t)]


class ResultPosition(_Record):
    """lm_result_position."""
    _fields_ = [("size", c_size_t), ("is_boundary", c_int32),
                ("activation_kept", c_int32)]


# plan.h
class PlanSegment(_Record):
    """lm_plan_segment."""
    _fields_ = [("size", c_size_t), ("st", c_size_t), ("end", c_size_t)]


class PlanConv(_Record):
    """lm_plan_conv."""
    _fields_ = [("size", c_size_t), ("kept", c_int32), ("padding", c_int64)]


class PlanPosition(_Record):
    """lm_plan_position."""
    _fields_ = [("size", c_size_t), ("activation", c_int)]


class PlanSkip(_Record):
    """lm_plan_skip."""
    _fields_ = [("size", c_size_t), ("fused", c_int32), ("dropped", c_int32)]


# weights.h
class TensorInfo(_Record):
    """lm_tensor_info."""
    _fields_ = [("size", c_size_t), ("name", c_char_p), ("dtype", c_char_p),
                ("ndim", c_size_t), ("shape", POINTER(c_int64)),
                ("numel", c_size_t)]


# engine.h
class Timing(_Record):
    """lm_timing."""
    _fields_ = [("size", c_size_t), ("runs", c_size_t),
                ("median_ms", c_double), ("stdev_ms", c_double),
                ("min_ms", c_double), ("max_ms", c_double)]


# merge.h
class BnDesc(_Record):
    """lm_bn_desc (an input record)."""
    _fields_ = [("size", c_size_t), ("gamma", POINTER(ctypes.c_float)),
                ("beta", POINTER(ctypes.c_float)),
                ("mean", POINTER(ctypes.c_float)),
                ("var", POINTER(ctypes.c_float)), ("eps", c_double)]


# netmerge.h
class MergeDeviation(_Record):
    """lm_merge_deviation."""
    _fields_ = [("size", c_size_t), ("max_abs", c_double),
                ("max_rel", c_double)]


RECORDS = {"lm_conv_desc": ConvDesc, "lm_position_info": PositionInfo,
           "lm_shape": Shape, "lm_conv_info": ConvInfo,
           "lm_skip_info": SkipInfo, "lm_layer_info": LayerInfo,
           "lm_segment_info": SegmentInfo, "lm_entry_info": EntryInfo,
           "lm_entry_key": EntryKey, "lm_table_record": TableRecord,
           "lm_result_segment": ResultSegment, "lm_result_conv": ResultConv,
           "lm_result_position": ResultPosition,
           "lm_plan_segment": PlanSegment, "lm_plan_conv": PlanConv,
           "lm_plan_position": PlanPosition, "lm_plan_skip": PlanSkip,
           "lm_tensor_info": TensorInfo, "lm_timing": Timing,
           "lm_bn_desc": BnDesc, "lm_merge_deviation": MergeDeviation}

# Old name of lm_result_segment's mirror (API 0.1).
ResultSegmentInfo = ResultSegment

MergeResult = collections.namedtuple("MergeResult", "max_abs max_rel")


def _text(value):
    return value.decode() if value is not None else None


def _record(info, kept=True):
    """A ctypes record as a dict: strings decoded, `kept` (and a tensor's
    `shape`) turned into lists."""
    lists = {"size"}
    if hasattr(info, "n_kept"):
        lists.add("kept")
    if isinstance(info, TensorInfo):
        lists.add("shape")
    out = {}
    for name, _ in info._fields_:
        if name in lists:
            continue
        v = getattr(info, name)
        out[name] = v.decode() if isinstance(v, bytes) else v
    if kept and hasattr(info, "n_kept"):
        out["kept"] = [info.kept[i] for i in range(info.n_kept)]
    if isinstance(info, TensorInfo):
        out["shape"] = [info.shape[i] for i in range(info.ndim)]
    return out


P = c_void_p          # every opaque handle
PP = POINTER(c_void_p)
S = c_int             # lm_status
SZ = POINTER(c_size_t)
D = POINTER(c_double)


def _rp(cls):
    return POINTER(cls)


# name: (restype, argtypes). Only what the wrappers below use.
_PROTOTYPES = {
    "lm_last_error": (c_char_p, []),
    "lm_status_str": (c_char_p, [c_int]),
    "lm_act_name": (c_char_p, [c_int]),
    # graph.h
    "lm_graph_load": (S, [PP, c_char_p]),
    "lm_graph_destroy": (None, [P]),
    "lm_graph_save": (S, [P, c_char_p]),
    "lm_graph_name": (c_char_p, [P]),
    "lm_graph_conv_count": (c_size_t, [P]),
    "lm_graph_skip_count": (c_size_t, [P]),
    "lm_graph_fingerprint": (c_char_p, [P]),
    "lm_graph_nonlinearity": (c_int, [P]),
    "lm_graph_position_info": (S, [_rp(PositionInfo), P, c_size_t]),
    "lm_graph_input_shape": (S, [_rp(Shape), P]),
    "lm_graph_position_shape": (S, [_rp(Shape), P, c_size_t]),
    "lm_graph_output_shape": (S, [_rp(Shape), P]),
    "lm_graph_conv_info": (S, [_rp(ConvInfo), P, c_size_t]),
    "lm_graph_skip_info": (S, [_rp(SkipInfo), P, c_size_t]),
    "lm_graph_layer_count": (c_size_t, [P, c_int, c_size_t]),
    "lm_graph_layer_info": (S, [_rp(LayerInfo), P, c_int, c_size_t,
                                c_size_t]),
    # entries.h
    "lm_entries_create": (S, [PP, P]),
    "lm_entries_destroy": (None, [P]),
    "lm_entries_count": (c_size_t, [P]),
    "lm_entries_segment_count": (c_size_t, [P]),
    "lm_entries_conv_count": (c_size_t, [P]),
    "lm_entries_fingerprint": (c_char_p, [P]),
    "lm_entries_segment_info": (S, [_rp(SegmentInfo), P, c_size_t]),
    "lm_entries_entry_info": (S, [_rp(EntryInfo), P, c_size_t]),
    "lm_entries_entry_key": (S, [_rp(EntryKey), P, c_size_t]),
    "lm_entries_find": (S, [SZ, P, _rp(EntryKey)]),
    "lm_entries_find_original": (S, [SZ, P, c_size_t]),
    "lm_entries_write": (S, [P, c_int, WRITE_FN, c_void_p]),
    # tables.h
    "lm_table_import_csv": (S, [PP, c_int, c_char_p, c_int, c_int, P]),
    "lm_table_export_csv": (S, [P, c_char_p, c_int]),
    "lm_table_load": (S, [PP, c_char_p]),
    "lm_table_load_kind": (S, [PP, c_char_p, c_int]),
    "lm_table_save": (S, [P, c_char_p]),
    "lm_table_count": (c_size_t, [P]),
    "lm_table_destroy": (None, [P]),
    "lm_table_get_kind": (c_int, [P]),
    "lm_table_fingerprint": (c_char_p, [P]),
    "lm_table_metric": (c_int, [P]),
    "lm_table_record_info": (S, [_rp(TableRecord), P, c_size_t]),
    "lm_table_get": (S, [D, D, P, _rp(EntryKey)]),
    "lm_table_get_entry": (S, [D, D, P, P, c_size_t]),
    "lm_table_missing": (S, [SZ, SZ, c_size_t, P, P]),
    # solver.h
    "lm_solver_create": (S, [PP, P, P, P, P]),
    "lm_solver_destroy": (None, [P]),
    "lm_solver_original_latency": (c_double, [P]),
    "lm_solver_run": (S, [PP, P, P]),
    "lm_solver_run_front": (S, [PP, P, P]),
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
    "lm_result_segment_info": (S, [_rp(ResultSegment), P, c_size_t]),
    "lm_result_conv_info": (S, [_rp(ResultConv), P, c_size_t]),
    "lm_result_position_info": (S, [_rp(ResultPosition), P, c_size_t]),
    "lm_front_destroy": (None, [P]),
    "lm_front_count": (c_size_t, [P]),
    "lm_front_get": (P, [P, c_size_t]),
    # plan.h
    "lm_plan_create_for_result": (S, [PP, P, P]),
    "lm_plan_create_for_entry": (S, [PP, P, P, c_size_t]),
    "lm_plan_destroy": (None, [P]),
    "lm_plan_save": (S, [P, c_char_p]),
    "lm_plan_write": (S, [P, WRITE_FN, c_void_p]),
    "lm_plan_fingerprint": (c_char_p, [P]),
    "lm_plan_conv_count": (c_size_t, [P]),
    "lm_plan_segment_count": (c_size_t, [P]),
    "lm_plan_segment_info": (S, [_rp(PlanSegment), P, c_size_t]),
    "lm_plan_conv_info": (S, [_rp(PlanConv), P, c_size_t]),
    "lm_plan_position_info": (S, [_rp(PlanPosition), P, c_size_t]),
    "lm_plan_skip_info": (S, [_rp(PlanSkip), P, c_size_t]),
    # weights.h
    "lm_weights_create": (S, [PP]),
    "lm_weights_destroy": (None, [P]),
    "lm_weights_load": (S, [PP, c_char_p]),
    "lm_weights_save": (S, [P, c_char_p]),
    "lm_weights_tensor_count": (c_size_t, [P]),
    "lm_weights_tensor_info": (S, [_rp(TensorInfo), P, c_size_t]),
    "lm_weights_meta_get": (S, [POINTER(c_char_p), P, c_char_p]),
    "lm_weights_init_random": (S, [P, P, c_uint64]),
    # netmerge.h
    "lm_graph_merge": (S, [PP, PP, P, P, P]),
    "lm_graph_verify_merge": (S, [_rp(MergeDeviation), P, P, P, P, P,
                                  c_size_t, c_uint64]),
}


class _Handle:
    """Owns one C object; `_free` names its destroy function."""
    _free = None

    def __init__(self, lib, ptr, owner=None):
        self._lib, self._ptr, self._owner = lib, ptr, owner

    @property
    def ptr(self):
        return self._ptr

    def _info(self, name, cls, *args):
        """Call an lm_*_info(&record, handle, args...) query; the record as
        a ctypes struct."""
        rec = cls.new()
        self._lib.call(name, ctypes.byref(rec), self.ptr, *args)
        return rec

    def __del__(self):
        # A borrowed handle (owner set) is freed with its owner.
        if self._ptr and self._owner is None and self._free:
            getattr(self._lib.c, self._free)(self._ptr)
        self._ptr = None


class _Writer:
    """An lm_write_fn collecting the bytes of a *_write call."""

    def __init__(self):
        self.chunks = []

        def write(data, length, _userdata):
            if length:
                self.chunks.append(ctypes.string_at(data, length))
            return 0
        self.fn = WRITE_FN(write)

    def text(self):
        return b"".join(self.chunks).decode()


class Library:
    """The loaded liblayermerge and the entry points of the wrappers."""

    def __init__(self, path=None):
        path = path or os.environ.get("LAYERMERGE_LIB") or "liblayermerge.so.0"
        self.c = ctypes.CDLL(path)
        self._declare(_PROTOTYPES)

    def _declare(self, prototypes):
        for name, (res, args) in prototypes.items():
            fn = getattr(self.c, name)
            fn.restype, fn.argtypes = res, args

    def error(self, name, status):
        return LayerMergeError(name, status, self.c.lm_last_error().decode())

    def call(self, name, *args):
        """Call lm_<...>; raise LayerMergeError unless it returns LM_OK."""
        status = getattr(self.c, name)(*args)
        if status != 0:
            raise self.error(name, status)

    def _make(self, cls, name, *args):
        """Call a constructor lm_...(&out, args...); the handle."""
        out = c_void_p()
        self.call(name, ctypes.byref(out), *args)
        return cls(self, out)

    # ---- constructors -----------------------------------------------
    def graph_load(self, path):
        return self._make(Graph, "lm_graph_load", os.fsencode(path))

    def entries(self, graph):
        return self._make(Entries, "lm_entries_create", graph.ptr)

    def table_load(self, path, kind=None):
        """A table file of either kind, or of `kind` ("latency",
        "importance") when given."""
        if kind is None:
            return self._make(Table, "lm_table_load", os.fsencode(path))
        return self._make(Table, "lm_table_load_kind", os.fsencode(path),
                          TABLE_KIND[kind])

    def table_import_csv(self, kind, path, entries=None,
                         metric="normalised", fmt=CSV_LAYERMERGE):
        """One of the authors' CSV files as a table of `kind`, matched to
        `entries` when given."""
        return self._make(Table, "lm_table_import_csv", TABLE_KIND[kind],
                          os.fsencode(path), fmt,
                          METRIC[metric] if kind == "importance" else 0,
                          entries.ptr if entries else None)

    def latency_table(self, path, entries=None):
        """A library YAML table, or the authors' CSV matched to `entries`."""
        if str(path).endswith(".csv"):
            return self.table_import_csv("latency", path, entries)
        return self.table_load(path, "latency")

    def importance_table(self, path, entries=None, metric="normalised"):
        if str(path).endswith(".csv"):
            return self.table_import_csv("importance", path, entries, metric)
        return self.table_load(path, "importance")

    def solver(self, graph, entries, latency, importance):
        return self._make(Solver, "lm_solver_create", graph.ptr, entries.ptr,
                          latency.ptr, importance.ptr if importance else None)

    def result_load(self, path):
        return self._make(Result, "lm_result_load", os.fsencode(path))

    def plan_for_result(self, graph, result):
        return self._make(Plan, "lm_plan_create_for_result", graph.ptr,
                          result.ptr)

    def plan_for_entry(self, graph, entries, entry_id):
        return self._make(Plan, "lm_plan_create_for_entry", graph.ptr,
                          entries.ptr, entry_id)

    def weights_load(self, path):
        return self._make(Weights, "lm_weights_load", os.fsencode(path))

    def weights_random(self, graph, seed=1):
        """Every tensor `graph` needs, pseudo-random (for examples)."""
        w = self._make(Weights, "lm_weights_create")
        self.call("lm_weights_init_random", w.ptr, graph.ptr, seed)
        return w

    def graph_merge(self, graph, weights, plan):
        """Fold every segment of `plan` into one conv (lm_graph_merge):
        (merged graph, merged weights)."""
        g, w = c_void_p(), c_void_p()
        self.call("lm_graph_merge", ctypes.byref(g), ctypes.byref(w),
                  graph.ptr, weights.ptr, plan.ptr)
        return Graph(self, g), Weights(self, w)

    def verify_merge(self, graph, weights, plan, merged, merged_weights,
                     batch=1, seed=1):
        """(max_abs, max_rel) between the plan's fine-tuning chain and the
        merged network (lm_graph_verify_merge), as a MergeResult."""
        dev = MergeDeviation.new()
        self.call("lm_graph_verify_merge", ctypes.byref(dev), graph.ptr,
                  weights.ptr, plan.ptr, merged.ptr, merged_weights.ptr,
                  batch, seed)
        return MergeResult(dev.max_abs, dev.max_rel)

    # Python names of API 0.1, kept for callers of this wrapper.
    merge_network = graph_merge
    verify = verify_merge

    def act_name(self, act):
        return _text(self.c.lm_act_name(act))


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
        return _text(self._lib.c.lm_graph_fingerprint(self.ptr))

    @property
    def nonlinearity(self):
        """The network's nonlinearity, by name ("relu")."""
        return self._lib.act_name(self._lib.c.lm_graph_nonlinearity(self.ptr))

    def position_info(self, position):
        """Position 0..N: activation (name), is_barrier, identity_option,
        layer_count."""
        out = _record(self._info("lm_graph_position_info", PositionInfo,
                                 position))
        out["activation"] = self._lib.act_name(out["activation"])
        return out

    def activation(self, position):
        return self.position_info(position)["activation"]

    def _shape(self, name, *args):
        s = self._info(name, Shape, *args)
        return (s.channels, s.height, s.width)

    @property
    def input_shape(self):
        """(channels, height, width) of the input."""
        return self._shape("lm_graph_input_shape")

    @property
    def output_shape(self):
        return self._shape("lm_graph_output_shape")

    def position_shape(self, position):
        return self._shape("lm_graph_position_shape", position)

    def conv_info(self, conv):
        """Trunk conv 1..N as a dict (lm_conv_info)."""
        return _record(self._info("lm_graph_conv_info", ConvInfo, conv))

    def skip_info(self, skip):
        """Skip 0.. as a dict (lm_skip_info)."""
        return _record(self._info("lm_graph_skip_info", SkipInfo, skip))

    def layer_info(self, site, position, index):
        return _record(self._info("lm_graph_layer_info", LayerInfo, site,
                                  position, index))

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

    @property
    def fingerprint(self):
        return self._lib.c.lm_entries_fingerprint(self.ptr).decode()

    def segment(self, index):
        return _record(self._info("lm_entries_segment_info", SegmentInfo,
                                  index), kept=False)

    def entry(self, entry_id):
        return _record(self._info("lm_entries_entry_info", EntryInfo,
                                  entry_id))

    def key(self, entry_id):
        """(st, end, kernel, stride, depthwise) of an entry."""
        k = self._info("lm_entries_entry_key", EntryKey, entry_id)
        return (k.st, k.end, k.kernel, k.stride, k.depthwise)

    def find(self, st, end, kernel, stride, depthwise):
        """The id of the entry with this key (LayerMergeError
        LM_ERR_NOT_FOUND when none)."""
        key = EntryKey.new(st=st, end=end, kernel=kernel, stride=stride,
                           depthwise=depthwise)
        out = c_size_t()
        self._lib.call("lm_entries_find", ctypes.byref(out), self.ptr,
                       ctypes.byref(key))
        return out.value

    def find_original(self, conv):
        """The original network's entry for trunk conv 1..N."""
        out = c_size_t()
        self._lib.call("lm_entries_find_original", ctypes.byref(out),
                       self.ptr, conv)
        return out.value

    def csv(self):
        """The list as CSV text (lm_entries_write, LM_ENTRIES_CSV)."""
        w = _Writer()
        self._lib.call("lm_entries_write", self.ptr, 1, w.fn, None)
        return w.text()


class Table(_Handle):
    """A latency or an importance table (one lm_table handle for both)."""
    _free = "lm_table_destroy"

    def __len__(self):
        return self._lib.c.lm_table_count(self.ptr)

    @property
    def kind(self):
        """"latency" or "importance"."""
        k = self._lib.c.lm_table_get_kind(self.ptr)
        return {TABLE_LATENCY: "latency", TABLE_IMPORTANCE: "importance"}[k]

    @property
    def fingerprint(self):
        return self._lib.c.lm_table_fingerprint(self.ptr).decode()

    def record(self, index):
        """Record `index` as a dict: id, st, end, kernel, stride,
        depthwise, value, extra, note."""
        return _record(self._info("lm_table_record_info", TableRecord,
                                  index))

    def records(self):
        return [self.record(i) for i in range(len(self))]

    def get_entry(self, entries, entry_id):
        """(value, extra) of entry `entry_id`: (ms, stdev) for latency,
        (normalised, raw) for importance."""
        v, x = c_double(), c_double()
        self._lib.call("lm_table_get_entry", ctypes.byref(v), ctypes.byref(x),
                       self.ptr, entries.ptr, entry_id)
        return v.value, x.value

    def missing(self, entries, cap=16):
        """(number of entries without a value, the first `cap` ids)."""
        n, ids = c_size_t(), (c_size_t * cap)()
        status = self._lib.c.lm_table_missing(ctypes.byref(n), ids, cap,
                                              self.ptr, entries.ptr)
        if status not in (0, -11):  # LM_OK, LM_ERR_MISSING
            raise self._lib.error("lm_table_missing", status)
        return n.value, list(ids[:min(cap, n.value)])

    def save(self, path):
        self._lib.call("lm_table_save", self.ptr, os.fsencode(path))

    def export_csv(self, path, fmt=CSV_LAYERMERGE):
        self._lib.call("lm_table_export_csv", self.ptr, os.fsencode(path),
                       fmt)


# Both kinds are one handle type since API 0.2.
LatencyTable = ImportanceTable = Table


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
        self._lib.call("lm_solver_run", ctypes.byref(out), self.ptr, opts.ptr)
        return Result(self._lib, out)

    def front(self, budget=None, ratio=None, precision=10.0,
              rounding="ceil"):
        """The Pareto front as a list of Results, by increasing latency."""
        opts = self._options(budget, ratio, precision, rounding)
        out = c_void_p()
        self._lib.call("lm_solver_run_front", ctypes.byref(out), self.ptr,
                       opts.ptr)
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

    @property
    def conv_count(self):
        return self._lib.c.lm_result_conv_count(self.ptr)

    def segments(self):
        return [_record(self._info("lm_result_segment_info", ResultSegment,
                                   i))
                for i in range(self._lib.c.lm_result_segment_count(self.ptr))]

    def conv_info(self, conv):
        """Trunk conv 1..N: {"kept": 0/1, "segment": index}."""
        return _record(self._info("lm_result_conv_info", ResultConv, conv))

    def position_info(self, position):
        """Position 1..N: {"is_boundary": 0/1, "activation_kept": 0/1}."""
        return _record(self._info("lm_result_position_info", ResultPosition,
                                  position))

    def conv_kept(self, conv):
        return bool(self.conv_info(conv)["kept"])

    def activation_kept(self, position):
        return bool(self.position_info(position)["activation_kept"])

    def is_boundary(self, position):
        return bool(self.position_info(position)["is_boundary"])

    def pruned_convs(self):
        return [c for c in range(1, self.conv_count + 1)
                if not self.conv_kept(c)]

    def kept_activations(self):
        return [p for p in range(1, self.conv_count + 1)
                if self.activation_kept(p)]

    def save(self, path):
        self._lib.call("lm_result_save", self.ptr, os.fsencode(path))


class Plan(_Handle):
    """What the training loop changes: per conv keep/prune and padding,
    per position the activation, per skip fused/dropped
    (docs/concepts.md, "Plans")."""
    _free = "lm_plan_destroy"

    @property
    def conv_count(self):
        return self._lib.c.lm_plan_conv_count(self.ptr)

    @property
    def fingerprint(self):
        return self._lib.c.lm_plan_fingerprint(self.ptr).decode()

    def conv_info(self, conv):
        """Trunk conv 1..N: {"kept": 0/1, "padding": its fine-tuning
        padding}."""
        return _record(self._info("lm_plan_conv_info", PlanConv, conv))

    def activation(self, position):
        """Activation name at position 1..N ("identity" when off)."""
        rec = self._info("lm_plan_position_info", PlanPosition, position)
        return self._lib.act_name(rec.activation)

    def skip_info(self, skip):
        """Skip 0..: {"fused": 0/1, "dropped": 0/1}."""
        return _record(self._info("lm_plan_skip_info", PlanSkip, skip))

    def segment(self, index):
        """(st, end) of segment `index`."""
        rec = self._info("lm_plan_segment_info", PlanSegment, index)
        return rec.st, rec.end

    def convs(self):
        """[(conv, kept, padding)] for convs 1..N."""
        out = []
        for i in range(1, self.conv_count + 1):
            info = self.conv_info(i)
            out.append((i, bool(info["kept"]), info["padding"]))
        return out

    def activations(self):
        """Activation name per position 1..N ("identity" when off)."""
        return [self.activation(p) for p in range(1, self.conv_count + 1)]

    def segments(self):
        return [self.segment(i) for i in range(self.segment_count)]

    @property
    def segment_count(self):
        return self._lib.c.lm_plan_segment_count(self.ptr)

    def yaml(self):
        """The plan as YAML text (lm_plan_write)."""
        w = _Writer()
        self._lib.call("lm_plan_write", self.ptr, w.fn, None)
        return w.text()

    def save(self, path):
        self._lib.call("lm_plan_save", self.ptr, os.fsencode(path))


class Weights(_Handle):
    _free = "lm_weights_destroy"

    def __len__(self):
        return self._lib.c.lm_weights_tensor_count(self.ptr)

    def tensor_info(self, index):
        """Tensor `index` (name order): name, dtype, ndim, shape, numel."""
        return _record(self._info("lm_weights_tensor_info", TensorInfo,
                                  index))

    def names(self):
        return [self.tensor_info(i)["name"] for i in range(len(self))]

    def meta(self, key):
        """A metadata value (LayerMergeError LM_ERR_NOT_FOUND when absent)."""
        value = c_char_p()
        self._lib.call("lm_weights_meta_get", ctypes.byref(value), self.ptr,
                       key.encode())
        return value.value.decode()

    def save(self, path):
        self._lib.call("lm_weights_save", self.ptr, os.fsencode(path))
