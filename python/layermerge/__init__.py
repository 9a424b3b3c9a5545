"""liblayermerge from Python: LayerMerge depth compression for CNNs
(Kim et al., ICML 2024).

Every C handle is a class owning its object: close() frees it (later calls
raise ValueError), a `with` block closes it, and garbage collection closes
what is left. The library copies what it needs, so handles may be closed
in any order (a Result taken from a Front is the exception: it borrows
from its front and keeps it alive). Every failed call raises
LayerMergeError with the status and lm_last_error()'s message. Tensors go
in and out as float32 NumPy arrays.

    import layermerge as lm
    with lm.Graph.load("resnet34.yaml") as g, lm.Entries(g) as e:
        print(g.fingerprint, len(e))

The library is found through $LAYERMERGE_LIBRARY, beside the installed
package, or through the system loader (liblayermerge.so.0). The C names
are in layermerge.capi (generated from the headers).
"""
import ctypes
import os
import weakref
from ctypes import POINTER, byref, c_char_p, c_double, c_float, c_int64, c_size_t, c_void_p

import numpy as np

from . import _capi as capi
from ._lib import LayerMergeError, call as _call, error as _error, library as _library
from ._lib import zoo_path as _zoo_path

__all__ = [
    "LayerMergeError", "Record", "version", "version_number", "library_path",
    "status_str", "last_error", "clear_error", "act_name", "act_from_name",
    "layer_kind_name", "method_name", "method_from_name",
    "importance_metric_name", "importance_metric_from_name",
    "importance_metric_normalise", "table_kind_name", "bn_fold", "entry_time",
    "Graph", "Weights", "Entries", "Table", "SolveOptions", "Solver",
    "Result", "Front", "Plan", "Chain", "Engine", "MeasureOptions",
    "ProxyOptions", "capi",
]


def _c():
    return _library()


# ---- records and enums ---------------------------------------------------

class Record(dict):
    """A record read from the library: a dict whose keys are also
    attributes (strings decoded, arrays as lists, enums as names)."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None


# pointer field -> the field holding its length
_ARRAYS = {"kept": "n_kept", "convs": "n_convs", "shape": "ndim",
           "conv_ms": "conv_count", "other_ms_at": "conv_count"}


def _enum_prefix(enum):
    names = list(capi.ENUMS[enum].values())
    prefix = os.path.commonprefix(names)
    return prefix[:prefix.rfind("_") + 1]


def _enum_name(enum, value):
    """A C enum value as the lower-case name of its constant ("relu")."""
    if enum == "lm_act":
        text = _c().lm_act_name(value)
        return text.decode() if text else value
    name = capi.ENUMS[enum].get(value)
    return name[len(_enum_prefix(enum)):].lower() if name else value


def _enum(enum, value):
    """A name ("relu", "stem", "ceil"...) or number as the C enum value."""
    if isinstance(value, str):
        if enum == "lm_act":
            return act_from_name(value)
        if enum == "lm_method":
            return method_from_name(value)
        if enum == "lm_importance_metric":
            return importance_metric_from_name(value)
        full = _enum_prefix(enum) + value.upper()
        for number, name in capi.ENUMS[enum].items():
            if name == full:
                return number
        raise ValueError(f"unknown {enum} name {value!r}; one of "
                         f"{sorted(_enum_name(enum, v) for v in capi.ENUMS[enum])}")
    return int(value)


def _record(rec):
    enums = capi.ENUM_FIELDS.get(type(rec).__name__, {})
    out = Record()
    for name, _ in rec._fields_:
        if name == "size":
            continue
        v = getattr(rec, name)
        if name in _ARRAYS and hasattr(rec, _ARRAYS[name]):
            n = getattr(rec, _ARRAYS[name])
            v = [v[i] for i in range(n)] if v else []
        elif isinstance(v, bytes):
            v = v.decode()
        elif name in enums:
            v = _enum_name(enums[name], v)
        out[name] = v
    return out


def _new(cls, **fields):
    """A size-versioned record with `size` set, as the C API requires."""
    return cls(size=ctypes.sizeof(cls), **fields)


def _text(p):
    return p.decode() if p is not None else None


def _path(p):
    return os.fsencode(p)


def _f32(a, shape=None):
    """A C-contiguous float32 copy/view of array-like `a` (torch tensors
    included)."""
    if hasattr(a, "detach"):
        a = a.detach().cpu().numpy()
    a = np.ascontiguousarray(a, dtype=np.float32)
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"array of shape {a.shape}, expected {tuple(shape)}")
    return a


def _fptr(a):
    return a.ctypes.data_as(POINTER(c_float)) if a is not None else None


def _key(key):
    """An lm_entry_key from a dict/Record (st, end, kernel, stride,
    depthwise) or a 5-tuple."""
    if isinstance(key, capi.lm_entry_key):
        return key
    if isinstance(key, dict):
        key = (key["st"], key["end"], key["kernel"], key["stride"], key["depthwise"])
    st, end, kernel, stride, depthwise = key
    return _new(capi.lm_entry_key, st=st, end=end, kernel=kernel,
                stride=stride, depthwise=int(depthwise))


def _conv_desc(name, in_channels, out_channels, kernel, stride=1,
               padding=None, groups=1, bias=False):
    return _new(capi.lm_conv_desc, name=name.encode() if name else None,
                in_channels=in_channels, out_channels=out_channels,
                kernel=kernel, stride=stride,
                padding=kernel // 2 if padding is None else padding,
                groups=groups, has_bias=int(bool(bias)))


class _Writer:
    """An lm_write_fn collecting what a *_write call writes."""

    def __init__(self):
        self.chunks = []

        def write(data, length, _userdata):
            try:
                self.chunks.append(ctypes.string_at(data, length))
                return 0
            except Exception:  # noqa: BLE001 - failing the write is the report
                return -1
        self.fn = capi.lm_write_fn(write)

    def text(self):
        return b"".join(self.chunks).decode()


# ---- library-wide calls --------------------------------------------------

def version():
    """Version string of the loaded library ("0.2.0")."""
    return _c().lm_version().decode()


def set_error(status, message):
    """Set this thread's library message from inside a callback before it
    fails (lm_set_error); `status` is a negative LM_ERR_* number. Returns
    it."""
    return _c().lm_set_error(int(status), message.encode())


def version_number():
    """major * 10000 + minor * 100 + patch of the loaded library."""
    return _c().lm_version_number()


def library_path():
    """The path (or name) the library was loaded from."""
    return _library()._layermerge_path


def status_str(status):
    """Fixed English text of a status ("parse error")."""
    return _c().lm_status_str(status).decode()


def last_error():
    """This thread's message for the last failed call ("" when none)."""
    return _c().lm_last_error().decode()


def clear_error():
    _c().lm_clear_error()


def act_name(act):
    return _text(_c().lm_act_name(act))


def act_from_name(name):
    out = ctypes.c_int()
    _call("lm_act_from_name", byref(out), name.encode())
    return out.value


def layer_kind_name(kind):
    return _text(_c().lm_layer_kind_name(kind))


def method_name(method):
    return _text(_c().lm_method_name(method))


def method_from_name(name):
    out = ctypes.c_int()
    _call("lm_method_from_name", byref(out), name.encode())
    return out.value


def importance_metric_name(metric):
    return _text(_c().lm_importance_metric_name(metric))


def importance_metric_from_name(name):
    out = ctypes.c_int()
    _call("lm_importance_metric_from_name", byref(out), name.encode())
    return out.value


def importance_metric_normalise(metric, raw):
    """The normalised importance of a raw metric value."""
    out = c_double()
    _call("lm_importance_metric_normalise", byref(out),
          _enum("lm_importance_metric", metric), raw)
    return out.value


def table_kind_name(kind):
    return _text(_c().lm_table_kind_name(kind))


def _bn_desc(gamma, beta, mean, var, eps, channels):
    arrays = [_f32(a, (channels,)) for a in (gamma, beta, mean, var)]
    desc = _new(capi.lm_bn_desc, gamma=_fptr(arrays[0]), beta=_fptr(arrays[1]),
                mean=_fptr(arrays[2]), var=_fptr(arrays[3]), eps=eps)
    return desc, arrays   # the arrays must outlive the call


def bn_fold(weight, bias, gamma, beta, mean, var, eps=1e-5):
    """Fold a batch norm into the conv before it (lm_bn_fold): the folded
    (weight, bias) as new arrays; `weight` is [out, ...], `bias` [out] or
    None."""
    w = _f32(weight)
    out_ch = w.shape[0]
    b = _f32(bias, (out_ch,)) if bias is not None else None
    desc, keep = _bn_desc(gamma, beta, mean, var, eps, out_ch)
    w_out = np.empty_like(w)
    b_out = np.empty(out_ch, dtype=np.float32)
    _call("lm_bn_fold", _fptr(w_out), _fptr(b_out), _fptr(w), _fptr(b),
          out_ch, w.size // out_ch if out_ch else 0, byref(desc))
    del keep
    return w_out, b_out


def _timing(rec):
    return _record(rec)


def entry_time(entry, act="identity", batch=1, warmup=3, reps=20):
    """Time one entry's merged conv and activation with the built-in timer
    (lm_entry_time). `entry` is an Entries.entry_info() record."""
    info = _new(capi.lm_entry_info)
    for name, _ in info._fields_:
        if name not in ("size", "kept", "n_kept") and name in entry:
            setattr(info, name, entry[name])
    t = _new(capi.lm_timing)
    _call("lm_entry_time", byref(t), byref(info), _enum("lm_act", act), batch,
          warmup, reps)
    return _timing(t)


# ---- handles ---------------------------------------------------------------

class _Handle:
    """Owns one C object; `_free` names its destroy function. A handle
    with an `_owner` borrows from it and frees nothing."""
    _free = None

    def __init__(self, ptr, owner=None):
        self._ptr = ptr if isinstance(ptr, c_void_p) else c_void_p(ptr)
        self._owner = owner

    @property
    def ptr(self):
        """The C pointer (c_void_p); ValueError once closed."""
        if self._ptr is None or not self._ptr.value:
            raise ValueError(f"{type(self).__name__} is closed")
        return self._ptr

    @property
    def closed(self):
        return self._ptr is None or not self._ptr.value

    def close(self):
        """Free the C object now (idempotent)."""
        ptr, self._ptr = self._ptr, None
        if ptr is not None and ptr.value and self._owner is None and self._free:
            lib = _library()
            getattr(lib, self._free)(ptr)
        self._owner = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def _info(self, name, cls, *args):
        rec = _new(cls)
        _call(name, byref(rec), self.ptr, *args)
        return _record(rec)

    @classmethod
    def _make(cls, name, *args):
        out = c_void_p()
        _call(name, byref(out), *args)
        return cls(out)

    def __repr__(self):
        state = "closed" if self.closed else hex(self._ptr.value)
        return f"<layermerge.{type(self).__name__} {state}>"


def _ptr(handle):
    return handle.ptr if handle is not None else None


class Graph(_Handle):
    """A network graph (graph.h): trunk convs 1..N between positions 0..N,
    skips, fixed layers of stem, positions and head."""
    _free = "lm_graph_destroy"

    def __init__(self, channels, height=None, width=None, name=None):
        """Graph(C, H, W) creates an empty graph (lm_graph_create);
        Graph.load / Graph.loads read YAML."""
        if isinstance(channels, c_void_p):
            super().__init__(channels)
            return
        out = c_void_p()
        _call("lm_graph_create", byref(out), channels, height, width)
        super().__init__(out)
        if name is not None:
            self.set_name(name)

    @classmethod
    def load(cls, path):
        """A graph file, or a zoo name ("resnet34", "ddpm_cifar10") looked
        up as the `layermerge` command does."""
        return cls._make("lm_graph_load", _path(_zoo_path(path)))

    @classmethod
    def loads(cls, text):
        data = text.encode() if isinstance(text, str) else bytes(text)
        return cls._make("lm_graph_load_string", data, len(data))

    def clone(self):
        return Graph._make("lm_graph_clone", self.ptr)

    def save(self, path):
        _call("lm_graph_save", self.ptr, _path(path))

    # ONNX export (export.h)
    @staticmethod
    def _onnx_options(batch, dynamic_batch, keep_batchnorm, opset,
                      prefix_end=None):
        return _new(capi.lm_onnx_options, batch=batch,
                    dynamic_batch=int(bool(dynamic_batch)),
                    keep_batchnorm=int(bool(keep_batchnorm)), opset=opset,
                    prefix=int(prefix_end is not None),
                    prefix_end=prefix_end or 0)

    def to_onnx(self, weights, batch=1, dynamic_batch=False,
                keep_batchnorm=False, opset=13, prefix_end=None):
        """The network with `weights` as ONNX model bytes
        (lm_graph_write_onnx); `prefix_end`: only the stem and positions
        1..prefix_end, no head."""
        w = _Writer()
        o = self._onnx_options(batch, dynamic_batch, keep_batchnorm, opset,
                               prefix_end)
        _call("lm_graph_write_onnx", self.ptr, weights.ptr, byref(o), w.fn,
              None)
        return b"".join(w.chunks)

    def save_onnx(self, path, weights, batch=1, dynamic_batch=False,
                  keep_batchnorm=False, opset=13):
        """Write the network as an ONNX model to `path`, atomically
        (lm_graph_save_onnx)."""
        o = self._onnx_options(batch, dynamic_batch, keep_batchnorm, opset)
        _call("lm_graph_save_onnx", self.ptr, weights.ptr, byref(o),
              _path(path))

    # building
    def set_name(self, name):
        _call("lm_graph_set_name", self.ptr, name.encode())

    def set_input_shape(self, channels, height, width):
        _call("lm_graph_set_input_shape", self.ptr, channels, height, width)

    def set_nonlinearity(self, act):
        _call("lm_graph_set_nonlinearity", self.ptr, _enum("lm_act", act))

    def add_conv(self, name, in_channels, out_channels, kernel, stride=1,
                 padding=None, groups=1, bias=False, act="relu"):
        """Append trunk conv N+1 and position N+1 with activation `act`
        (padding defaults to kernel // 2)."""
        d = _conv_desc(name, in_channels, out_channels, kernel, stride,
                       padding, groups, bias)
        _call("lm_graph_add_conv", self.ptr, byref(d), _enum("lm_act", act))

    def set_conv_bn(self, conv, name, eps=1e-5):
        _call("lm_graph_set_conv_bn", self.ptr, conv, name.encode(), eps)

    def set_activation(self, position, act):
        _call("lm_graph_set_activation", self.ptr, position, _enum("lm_act", act))

    def add_skip(self, source, target):
        _call("lm_graph_add_skip", self.ptr, source, target)

    def set_skip_projection(self, skip, name, stride=1, bias=False):
        _call("lm_graph_set_skip_projection", self.ptr, skip, name.encode(),
              stride, int(bool(bias)))

    def set_skip_bn(self, skip, name, eps=1e-5):
        _call("lm_graph_set_skip_bn", self.ptr, skip, name.encode(), eps)

    def set_barrier(self, position, is_barrier=True):
        _call("lm_graph_set_barrier", self.ptr, position, int(bool(is_barrier)))

    def set_identity_option(self, position, allowed=True):
        _call("lm_graph_set_identity_option", self.ptr, position,
              int(bool(allowed)))

    def add_layer_conv(self, site, position, name, in_channels, out_channels,
                       kernel, stride=1, padding=None, groups=1, bias=False):
        """Append a fixed conv at `site` ("stem", "head", "position")."""
        d = _conv_desc(name, in_channels, out_channels, kernel, stride,
                       padding, groups, bias)
        _call("lm_graph_add_layer_conv", self.ptr, _enum("lm_site", site),
              position, byref(d))

    def add_layer_batchnorm(self, site, position, name, channels, eps=1e-5):
        _call("lm_graph_add_layer_batchnorm", self.ptr, _enum("lm_site", site),
              position, name.encode(), channels, eps)

    def add_layer_act(self, site, position, act):
        _call("lm_graph_add_layer_act", self.ptr, _enum("lm_site", site),
              position, _enum("lm_act", act))

    def add_layer_pool(self, site, position, kind, kernel, stride=None,
                       padding=0):
        """`kind` "maxpool" or "avgpool"; stride defaults to the kernel."""
        _call("lm_graph_add_layer_pool", self.ptr, _enum("lm_site", site),
              position, _enum("lm_layer_kind", kind), kernel,
              kernel if stride is None else stride, padding)

    def add_layer_adaptive_avgpool(self, site, position, height=1, width=1):
        _call("lm_graph_add_layer_adaptive_avgpool", self.ptr,
              _enum("lm_site", site), position, height, width)

    def add_layer_flatten(self, site, position=0):
        _call("lm_graph_add_layer_flatten", self.ptr, _enum("lm_site", site),
              position)

    def add_layer_linear(self, site, position, name, in_features,
                         out_features, bias=True):
        _call("lm_graph_add_layer_linear", self.ptr, _enum("lm_site", site),
              position, name.encode(), in_features, out_features,
              int(bool(bias)))

    # U-Net elements (docs/formats.md)
    def set_conv_groupnorm(self, conv, name, groups, eps=1e-5):
        """The GroupNorm of conv `conv`'s output that belongs to its
        position's activation (removed with it)."""
        _call("lm_graph_set_conv_groupnorm", self.ptr, conv, name.encode(),
              groups, eps)

    def set_conv_time_projection(self, conv, name):
        _call("lm_graph_set_conv_time_projection", self.ptr, conv,
              name.encode())

    def set_time_embedding(self, dim, channels, dense0, dense1):
        _call("lm_graph_set_time_embedding", self.ptr, dim, channels,
              dense0.encode(), dense1.encode())

    def add_concat(self, source, target):
        _call("lm_graph_add_concat", self.ptr, source, target)

    def add_layer_groupnorm(self, site, position, name, channels, groups,
                            eps=1e-5):
        """`site` also "pre": layers conv `position` applies to its input."""
        _call("lm_graph_add_layer_groupnorm", self.ptr, _enum("lm_site", site),
              position, name.encode(), channels, groups, eps)

    def add_layer_pad(self, site, position, top, left, bottom, right):
        _call("lm_graph_add_layer_pad", self.ptr, _enum("lm_site", site),
              position, top, left, bottom, right)

    def add_layer_upsample(self, site, position, scale=2):
        _call("lm_graph_add_layer_upsample", self.ptr, _enum("lm_site", site),
              position, scale)

    def add_layer_attention(self, site, position, name, channels, groups,
                            eps=1e-5):
        _call("lm_graph_add_layer_attention", self.ptr, _enum("lm_site", site),
              position, name.encode(), channels, groups, eps)

    @property
    def time_embedding(self):
        """{has_time_embedding, dim, channels, dense0, dense1}."""
        return self._info("lm_graph_time_embedding",
                          capi.lm_time_embedding_info)

    def validate(self):
        """Check the graph and compute shapes and fingerprint; returns self."""
        _call("lm_graph_validate", self.ptr)
        return self

    # queries
    @property
    def is_valid(self):
        return bool(_c().lm_graph_is_valid(self.ptr))

    @property
    def name(self):
        return _c().lm_graph_name(self.ptr).decode()

    @property
    def conv_count(self):
        return _c().lm_graph_conv_count(self.ptr)

    @property
    def skip_count(self):
        return _c().lm_graph_skip_count(self.ptr)

    @property
    def nonlinearity(self):
        return _enum_name("lm_act", _c().lm_graph_nonlinearity(self.ptr))

    @property
    def fingerprint(self):
        """16 hex digits; None when the graph is not validated."""
        return _text(_c().lm_graph_fingerprint(self.ptr))

    def position_info(self, position):
        return self._info("lm_graph_position_info", capi.lm_position_info, position)

    def _shape(self, name, *args):
        s = self._info(name, capi.lm_shape, *args)
        return (s.channels, s.height, s.width)

    @property
    def input_shape(self):
        """(channels, height, width) of one input image."""
        return self._shape("lm_graph_input_shape")

    @property
    def output_shape(self):
        return self._shape("lm_graph_output_shape")

    def position_shape(self, position):
        return self._shape("lm_graph_position_shape", position)

    def conv_info(self, conv):
        return self._info("lm_graph_conv_info", capi.lm_conv_info, conv)

    def skip_info(self, skip):
        return self._info("lm_graph_skip_info", capi.lm_skip_info, skip)

    def layer_count(self, site, position=0):
        return _c().lm_graph_layer_count(self.ptr, _enum("lm_site", site), position)

    def layer_info(self, site, position, index):
        return self._info("lm_graph_layer_info", capi.lm_layer_info,
                          _enum("lm_site", site), position, index)

    # netmerge.h
    def merge(self, weights, plan):
        """Fold every segment of `plan` into one conv (lm_graph_merge):
        (merged Graph, merged Weights)."""
        g, w = c_void_p(), c_void_p()
        _call("lm_graph_merge", byref(g), byref(w), self.ptr, weights.ptr, plan.ptr)
        return Graph(g), Weights(w)

    def verify_merge(self, weights, plan, merged, merged_weights, batch=1,
                     seed=1):
        """{max_abs, max_rel} between the plan's fine-tuning chain and the
        merged network (lm_graph_verify_merge)."""
        d = _new(capi.lm_merge_deviation)
        _call("lm_graph_verify_merge", byref(d), self.ptr, weights.ptr,
              plan.ptr, merged.ptr, merged_weights.ptr, batch, seed)
        return _record(d)


class Weights(_Handle):
    """Named tensors (weights.h): safetensors in and out, float32 NumPy
    arrays per tensor, string metadata."""
    _free = "lm_weights_destroy"

    def __init__(self, ptr=None):
        if ptr is None:
            ptr = c_void_p()
            _call("lm_weights_create", byref(ptr))
        super().__init__(ptr)

    @classmethod
    def load(cls, path):
        return cls._make("lm_weights_load", _path(path))

    @classmethod
    def from_dict(cls, tensors, meta=None):
        """A store holding every float (name, array) of `tensors` (a torch
        state_dict works) as float32, and the (key, value) strings of
        `meta`. Integer and bool tensors (batch norm's num_batches_tracked)
        are left out: no layer reads them and the store sets floats only."""
        w = cls()
        for name, a in tensors.items():
            kind = a.dtype.is_floating_point if hasattr(a, "is_floating_point") \
                else np.asarray(a).dtype.kind == "f"
            if kind:
                w[name] = a
        for k, v in (meta or {}).items():
            w.set_meta(k, v)
        return w

    def save(self, path):
        _call("lm_weights_save", self.ptr, _path(path))

    def __len__(self):
        return _c().lm_weights_tensor_count(self.ptr)

    def tensor_info(self, index):
        return self._info("lm_weights_tensor_info", capi.lm_tensor_info, index)

    def names(self):
        return [self.tensor_info(i).name for i in range(len(self))]

    def find(self, name):
        """Index of tensor `name` (LayerMergeError LM_ERR_NOT_FOUND)."""
        i = c_size_t()
        _call("lm_weights_find", byref(i), self.ptr, name.encode())
        return i.value

    def __contains__(self, name):
        return _c().lm_weights_find(None, self.ptr, name.encode()) == 0

    def shape(self, name):
        ndim = c_size_t()
        _call("lm_weights_shape", byref(ndim), None, 0, self.ptr, name.encode())
        dims = (c_int64 * max(ndim.value, 1))()
        _call("lm_weights_shape", byref(ndim), dims, ndim.value, self.ptr,
              name.encode())
        return tuple(dims[:ndim.value])

    def numel(self, name):
        n = c_size_t()
        _call("lm_weights_numel", byref(n), self.ptr, name.encode())
        return n.value

    def get(self, name):
        """A float32 copy of tensor `name`, in its shape (lm_weights_get_f32)."""
        out = np.empty(self.shape(name), dtype=np.float32)
        _call("lm_weights_get_f32", _fptr(out), out.size, self.ptr, name.encode())
        return out

    __getitem__ = get

    def view(self, name):
        """A read-only array over the store's own data (lm_weights_data_f32):
        no copy. The array keeps the store from being garbage-collected,
        but it is valid only until the tensor is replaced or the store is
        closed explicitly; get() returns a copy."""
        data, n = POINTER(c_float)(), c_size_t()
        _call("lm_weights_data_f32", byref(data), byref(n), self.ptr, name.encode())
        shape = self.shape(name)
        if n.value == 0:
            return np.empty(shape, dtype=np.float32)
        buf = (c_float * n.value).from_address(ctypes.addressof(data.contents))
        buf._layermerge_store = self   # the array's base keeps the store open
        arr = np.frombuffer(buf, dtype=np.float32).reshape(shape)
        arr.flags.writeable = False
        return arr

    def set(self, name, array):
        """Add or replace tensor `name` with a float32 copy of `array`."""
        a = _f32(array)
        shape = (c_int64 * max(a.ndim, 1))(*a.shape)
        _call("lm_weights_set_f32", self.ptr, name.encode(), shape, a.ndim,
              _fptr(a) if a.size else None)

    __setitem__ = set

    def to_dict(self):
        """{name: float32 copy} of every float tensor."""
        out = {}
        for i in range(len(self)):
            info = self.tensor_info(i)
            if info.dtype == "F32":
                out[info.name] = self.get(info.name)
        return out

    # metadata
    def meta_count(self):
        return _c().lm_weights_meta_count(self.ptr)

    def meta_key(self, index):
        return _text(_c().lm_weights_meta_key(self.ptr, index))

    def meta(self, key=None):
        """The value of metadata `key` (LM_ERR_NOT_FOUND when absent), or
        every entry as a dict when no key is given."""
        if key is None:
            return {k: self.meta(k) for k in
                    (self.meta_key(i) for i in range(self.meta_count()))}
        v = c_char_p()
        _call("lm_weights_meta_get", byref(v), self.ptr, key.encode())
        return v.value.decode()

    def set_meta(self, key, value):
        _call("lm_weights_meta_set", self.ptr, key.encode(), value.encode())

    # graph tie-in
    def check_graph(self, graph):
        _call("lm_weights_check_graph", self.ptr, graph.ptr)

    def init_random(self, graph, seed=1):
        """Every tensor `graph` needs, pseudo-random (examples, tests)."""
        _call("lm_weights_init_random", self.ptr, graph.ptr, seed)
        return self


class Entries(_Handle):
    """The valid segments and table entries of a validated graph
    (entries.h)."""
    _free = "lm_entries_destroy"

    def __init__(self, graph, scores=None):
        """Entries(graph) (lm_entries_create) or, with per-conv `scores`
        (e.g. L1 norms), lm_entries_create_scored."""
        if isinstance(graph, c_void_p):
            super().__init__(graph)
            return
        out = c_void_p()
        if scores is None:
            _call("lm_entries_create", byref(out), graph.ptr)
        else:
            s = np.ascontiguousarray(scores, dtype=np.float64)
            _call("lm_entries_create_scored", byref(out), graph.ptr,
                  s.ctypes.data_as(POINTER(c_double)), s.size)
        super().__init__(out)

    @classmethod
    def from_table(cls, graph, table):
        """The entries with the subsets `table` was measured with
        (lm_entries_create_from_table)."""
        return cls._make("lm_entries_create_from_table", graph.ptr, table.ptr)

    def __len__(self):
        return _c().lm_entries_count(self.ptr)

    count = property(__len__)

    @property
    def conv_count(self):
        return _c().lm_entries_conv_count(self.ptr)

    @property
    def segment_count(self):
        return _c().lm_entries_segment_count(self.ptr)

    @property
    def fingerprint(self):
        return _c().lm_entries_fingerprint(self.ptr).decode()

    @property
    def graph_name(self):
        return _c().lm_entries_graph_name(self.ptr).decode()

    def segment_info(self, segment):
        return self._info("lm_entries_segment_info", capi.lm_segment_info, segment)

    def entry_info(self, entry_id):
        return self._info("lm_entries_entry_info", capi.lm_entry_info, entry_id)

    def entry_key(self, entry_id):
        """(st, end, kernel, stride, depthwise) of an entry."""
        k = self._info("lm_entries_entry_key", capi.lm_entry_key, entry_id)
        return (k.st, k.end, k.kernel, k.stride, k.depthwise)

    def find(self, key):
        """Id of the entry with `key` (a 5-tuple or a record)."""
        out, k = c_size_t(), _key(key)
        _call("lm_entries_find", byref(out), self.ptr, byref(k))
        return out.value

    def find_original(self, conv):
        """The original network's entry for trunk conv 1..N."""
        out = c_size_t()
        _call("lm_entries_find_original", byref(out), self.ptr, conv)
        return out.value

    def write(self, fmt="csv"):
        """The list as text ("csv" or "yaml"; lm_entries_write)."""
        w = _Writer()
        _call("lm_entries_write", self.ptr, _enum("lm_entries_format", fmt), w.fn, None)
        return w.text()

    def save(self, path, fmt="csv"):
        _call("lm_entries_save", self.ptr, _path(path), _enum("lm_entries_format", fmt))


class Table(_Handle):
    """A latency or an importance table (tables.h, measure.h)."""
    _free = "lm_table_destroy"

    @classmethod
    def latency(cls, graph_of):
        """An empty latency table for an Entries or a fingerprint string."""
        if isinstance(graph_of, Entries):
            return cls._make("lm_table_create_latency_for", graph_of.ptr)
        return cls._make("lm_table_create_latency", graph_of.encode())

    @classmethod
    def importance(cls, graph_of, metric="normalised"):
        m = _enum("lm_importance_metric", metric)
        if isinstance(graph_of, Entries):
            return cls._make("lm_table_create_importance_for", graph_of.ptr, m)
        return cls._make("lm_table_create_importance", graph_of.encode(), m)

    @classmethod
    def load(cls, path, kind=None):
        """A table file of either kind, or one that must be `kind`."""
        if kind is None:
            return cls._make("lm_table_load", _path(path))
        return cls._make("lm_table_load_kind", _path(path), _enum("lm_table_kind", kind))

    @classmethod
    def import_csv(cls, kind, path, fmt="layermerge", metric="normalised",
                   entries=None):
        """One of the authors' CSV files; matched to `entries` when given."""
        return cls._make("lm_table_import_csv", _enum("lm_table_kind", kind),
                         _path(path), _enum("lm_table_csv_format", fmt),
                         _enum("lm_importance_metric", metric) if kind in
                         ("importance", capi.LM_TABLE_IMPORTANCE) else 0,
                         _ptr(entries))

    @classmethod
    def merge(cls, entries, shards, allow_missing=False):
        """One table from the shards of a split run (lm_table_merge)."""
        arr = (c_void_p * max(len(shards), 1))(*[s.ptr.value for s in shards])
        return cls._make("lm_table_merge", entries.ptr, arr, len(shards),
                         capi.LM_TABLE_MERGE_ALLOW_MISSING if allow_missing else 0)

    def calibrated(self):
        """A copy scaled by the in-network stage ratios
        (lm_table_create_calibrated)."""
        return Table._make("lm_table_create_calibrated", self.ptr)

    def save(self, path):
        _call("lm_table_save", self.ptr, _path(path))

    def export_csv(self, path, fmt="layermerge"):
        _call("lm_table_export_csv", self.ptr, _path(path),
              _enum("lm_table_csv_format", fmt))

    @property
    def kind(self):
        """"latency" or "importance"."""
        return _enum_name("lm_table_kind", _c().lm_table_get_kind(self.ptr))

    @property
    def fingerprint(self):
        return _c().lm_table_fingerprint(self.ptr).decode()

    @property
    def metric(self):
        """The importance metric's name; None for a latency table."""
        m = _c().lm_table_metric(self.ptr)
        return importance_metric_name(m) if m else None

    def set_text(self, field, value):
        """Provenance text: "device", "timer", "dtype", "finetune"."""
        _call("lm_table_set_text", self.ptr, _enum("lm_table_text_field", field),
              value.encode())

    def text(self, field):
        return _c().lm_table_text(self.ptr, _enum("lm_table_text_field", field)).decode()

    def set_int(self, field, value):
        """Provenance number: "batch", "height", "width", "repetitions",
        "threads", "passes"."""
        _call("lm_table_set_int", self.ptr, _enum("lm_table_int_field", field), value)

    def integer(self, field):
        return _c().lm_table_int(self.ptr, _enum("lm_table_int_field", field))

    def set_shard(self, lo, hi):
        _call("lm_table_set_shard", self.ptr, lo, hi)

    @property
    def shard(self):
        """(lo, hi) when the table is a shard, else None."""
        lo, hi = c_size_t(), c_size_t()
        if _c().lm_table_shard(byref(lo), byref(hi), self.ptr):
            return lo.value, hi.value
        return None

    # values
    def set_latency(self, key, ms, stdev=0.0):
        k = _key(key)
        _call("lm_table_set_latency", self.ptr, byref(k), ms, stdev)

    def set_latency_entry(self, entries, entry_id, ms, stdev=0.0):
        _call("lm_table_set_latency_entry", self.ptr, entries.ptr, entry_id, ms, stdev)

    def set_importance(self, key, raw, normalised=None):
        """The raw metric of a key (and the caller's normalised value for
        the "normalised" metric)."""
        k = _key(key)
        if normalised is None:
            _call("lm_table_set_importance", self.ptr, byref(k), raw)
        else:
            _call("lm_table_set_importance_normalised", self.ptr, byref(k), raw,
                  normalised)

    def set_importance_entry(self, entries, entry_id, raw, normalised=None):
        if normalised is None:
            _call("lm_table_set_importance_entry", self.ptr, entries.ptr,
                  entry_id, raw)
        else:
            _call("lm_table_set_importance_entry_normalised", self.ptr,
                  entries.ptr, entry_id, raw, normalised)

    def has(self, key):
        k = _key(key)
        return bool(_c().lm_table_has(self.ptr, byref(k)))

    __contains__ = has

    def get(self, key):
        """(value, extra) of a key: (ms, stdev) or (normalised, raw)."""
        v, x, k = c_double(), c_double(), _key(key)
        _call("lm_table_get", byref(v), byref(x), self.ptr, byref(k))
        return v.value, x.value

    def get_entry(self, entries, entry_id):
        v, x = c_double(), c_double()
        _call("lm_table_get_entry", byref(v), byref(x), self.ptr, entries.ptr, entry_id)
        return v.value, x.value

    def __len__(self):
        return _c().lm_table_count(self.ptr)

    def record_info(self, index):
        return self._info("lm_table_record_info", capi.lm_table_record, index)

    def records(self):
        return [self.record_info(i) for i in range(len(self))]

    def check(self, entries):
        _call("lm_table_check", self.ptr, entries.ptr)

    def missing(self, entries, cap=16):
        """(number of entries without a value, the first `cap` ids)."""
        n, ids = c_size_t(), (c_size_t * max(cap, 1))()
        status = _c().lm_table_missing(byref(n), ids, cap, self.ptr, entries.ptr)
        if status not in (capi.LM_OK, capi.LM_ERR_MISSING):
            raise _error("lm_table_missing", status)
        return n.value, list(ids[:min(cap, n.value)])

    def network_info(self):
        return self._info("lm_table_network_info", capi.lm_table_network)

    def stage_info(self, index):
        return self._info("lm_table_stage_info", capi.lm_table_stage, index)

    def set_fixed_cost(self, ms, stdev=0.0):
        _call("lm_table_set_fixed_cost", self.ptr, ms, stdev)

    def set_stage(self, st, end, alone_ms, in_network_ms):
        """One stage's in-network calibration, measured by the caller
        (lm_table_set_stage)."""
        s = _new(capi.lm_table_stage, st=st, end=end, alone_ms=alone_ms,
                 in_network_ms=in_network_ms)
        _call("lm_table_set_stage", self.ptr, byref(s))

    # measure.h
    def measure_latency(self, graph, entries, options=None):
        """Time the entries the table lacks (lm_table_measure_latency)."""
        with _callbacks(options):
            _call("lm_table_measure_latency", self.ptr, graph.ptr, entries.ptr,
                  _ptr(options))

    def remeasure_entries(self, graph, entries, ids, options=None):
        """Fresh pass medians of entries `ids` (lm_table_remeasure_entries),
        as a float64 array."""
        ids_a = (c_size_t * max(len(ids), 1))(*ids)
        fresh = np.zeros(len(ids), dtype=np.float64)
        with _callbacks(options):
            _call("lm_table_remeasure_entries",
                  fresh.ctypes.data_as(POINTER(c_double)), self.ptr, graph.ptr,
                  entries.ptr, ids_a, len(ids), _ptr(options))
        return fresh

    def score_proxy(self, graph, weights, entries, options=None):
        """The data-free proxy importance (lm_table_score_proxy)."""
        with _callbacks(options):
            _call("lm_table_score_proxy", self.ptr, graph.ptr, weights.ptr,
                  entries.ptr, _ptr(options))


class _Options(_Handle):
    """Options that can hold Python callbacks: an exception raised in one
    stops the C call (LM_ERR_CANCELLED) and is raised again after it."""

    def __init__(self, ptr):
        super().__init__(ptr)
        self._keep = {}        # ctypes callbacks must outlive the options
        self._pending = None

    def _guard(self, fn, failure):
        def wrapper(*args):
            try:
                return fn(*args)
            except BaseException as e:  # noqa: BLE001 - re-raised after the call
                self._pending = e
                return failure
        return wrapper


class _callbacks:
    """Re-raise, after the C call, an exception a callback raised."""

    def __init__(self, options):
        self.options = options

    def __enter__(self):
        if self.options is not None:
            self.options._pending = None

    def __exit__(self, etype, exc, tb):
        pending = self.options._pending if self.options is not None else None
        if pending is not None:
            self.options._pending = None
            raise pending from exc
        return False


def _progress_fn(opts, progress):
    if progress is None:
        return None
    fn = capi.lm_progress_fn(opts._guard(
        lambda done, total, entry_id, elapsed, _u:
            1 if progress(done, total, entry_id, elapsed) else 0, 1))
    opts._keep["progress"] = fn
    return fn


class MeasureOptions(_Options):
    """Options of Table.measure_latency (lm_measure_options). Keyword
    arguments call the setter of that name: MeasureOptions(threads=1,
    passes=(3, 1), repetitions=10)."""
    _free = "lm_measure_options_destroy"

    def __init__(self, **settings):
        out = c_void_p()
        _call("lm_measure_options_create", byref(out))
        super().__init__(out)
        for name, value in settings.items():
            args = value if isinstance(value, tuple) else (value,)
            getattr(self, "set_" + name)(*args)

    def set_batch(self, batch):
        _call("lm_measure_options_set_batch", self.ptr, batch)

    def set_input_size(self, height, width):
        _call("lm_measure_options_set_input_size", self.ptr, height, width)

    def set_threads(self, threads):
        """OpenBLAS threads to measure with (restored afterwards)."""
        _call("lm_measure_options_set_threads", self.ptr, threads)

    def set_passes(self, passes, seed=1):
        _call("lm_measure_options_set_passes", self.ptr, passes, seed)

    def set_noise_limit(self, spread, extra_passes=2):
        _call("lm_measure_options_set_noise_limit", self.ptr, spread, extra_passes)

    def set_network(self, time_network):
        _call("lm_measure_options_set_network", self.ptr, int(bool(time_network)))

    def set_warmup(self, warmup):
        _call("lm_measure_options_set_warmup", self.ptr, warmup)

    def set_repetitions(self, reps):
        _call("lm_measure_options_set_repetitions", self.ptr, reps)

    def set_range(self, lo, hi):
        _call("lm_measure_options_set_range", self.ptr, lo, hi)

    def set_save_path(self, path):
        _call("lm_measure_options_set_save_path", self.ptr,
              _path(path) if path is not None else None)

    def set_timer(self, timer):
        """timer(entry_record, batch) -> (median_ms, stdev_ms) replaces the
        built-in engine timer; None restores it."""
        if timer is None:
            self._keep.pop("timer", None)
            _call("lm_measure_options_set_timer", self.ptr, capi.lm_timer_fn(), None)
            return

        def fn(median, stdev, entry, batch, _u):
            m, s = timer(_record(entry.contents), batch)
            median[0], stdev[0] = m, s
            return capi.LM_OK
        cb = capi.lm_timer_fn(self._guard(fn, capi.LM_ERR_CANCELLED))
        self._keep["timer"] = cb
        _call("lm_measure_options_set_timer", self.ptr, cb, None)

    def set_progress(self, progress):
        """progress(done, total, entry_id, elapsed_s) after every stored
        entry; a true return value stops the call (LM_ERR_CANCELLED)."""
        fn = _progress_fn(self, progress)
        _call("lm_measure_options_set_progress", self.ptr,
              fn if fn is not None else capi.lm_progress_fn(), None)


class ProxyOptions(_Options):
    """Options of Table.score_proxy (lm_proxy_options); keyword arguments
    as MeasureOptions."""
    _free = "lm_proxy_options_destroy"

    def __init__(self, **settings):
        out = c_void_p()
        _call("lm_proxy_options_create", byref(out))
        super().__init__(out)
        for name, value in settings.items():
            args = value if isinstance(value, tuple) else (value,)
            getattr(self, "set_" + name)(*args)

    def set_batch(self, batch):
        _call("lm_proxy_options_set_batch", self.ptr, batch)

    def set_input_size(self, height, width):
        _call("lm_proxy_options_set_input_size", self.ptr, height, width)

    def set_seed(self, seed):
        _call("lm_proxy_options_set_seed", self.ptr, seed)

    def set_timesteps(self, timesteps):
        """A denoiser's calibration timesteps, one per image (None: drawn
        from 0..999 with the seed)."""
        if timesteps is None:
            _call("lm_proxy_options_set_timesteps", self.ptr, None, 0)
            return
        a = _f32(timesteps)
        _call("lm_proxy_options_set_timesteps", self.ptr, _fptr(a), a.size)

    def set_inputs(self, data):
        """The caller's calibration batch (N x C x H x W); None returns to
        random inputs."""
        if data is None:
            _call("lm_proxy_options_set_inputs", self.ptr, None, 0)
            return
        a = _f32(data)
        _call("lm_proxy_options_set_inputs", self.ptr, _fptr(a), a.size)

    def set_range(self, lo, hi):
        _call("lm_proxy_options_set_range", self.ptr, lo, hi)

    def set_save_path(self, path):
        _call("lm_proxy_options_set_save_path", self.ptr,
              _path(path) if path is not None else None)

    def set_progress(self, progress):
        fn = _progress_fn(self, progress)
        _call("lm_proxy_options_set_progress", self.ptr,
              fn if fn is not None else capi.lm_progress_fn(), None)


class SolveOptions(_Handle):
    """Options of Solver.run (lm_solve_options): method, precision,
    rounding, and a budget in ms or as a ratio of the original latency."""
    _free = "lm_solve_options_destroy"

    def __init__(self, method=None, precision=None, rounding=None,
                 budget=None, ratio=None):
        out = c_void_p()
        _call("lm_solve_options_create", byref(out))
        super().__init__(out)
        if method is not None:
            self.set_method(method)
        if precision is not None:
            self.set_precision(precision)
        if rounding is not None:
            self.set_rounding(rounding)
        if budget is not None:
            self.set_budget(budget)
        if ratio is not None:
            self.set_budget_ratio(ratio)

    def set_method(self, method):
        _call("lm_solve_options_set_method", self.ptr, _enum("lm_method", method))

    def set_precision(self, precision):
        _call("lm_solve_options_set_precision", self.ptr, precision)

    def set_rounding(self, rounding):
        _call("lm_solve_options_set_rounding", self.ptr, _enum("lm_rounding", rounding))

    def set_budget(self, budget):
        _call("lm_solve_options_set_budget", self.ptr, budget)

    def set_budget_ratio(self, ratio):
        _call("lm_solve_options_set_budget_ratio", self.ptr, ratio)


class Solver(_Handle):
    """One solve problem (solver.h)."""
    _free = "lm_solver_destroy"

    def __init__(self, graph, entries=None, latency=None, importance=None):
        """Solver(graph, entries, latency, importance=None)
        (lm_solver_create); Solver.kim23 for the authors' kim23 files."""
        if isinstance(graph, c_void_p):
            super().__init__(graph)
            return
        out = c_void_p()
        _call("lm_solver_create", byref(out), graph.ptr, entries.ptr,
              latency.ptr, _ptr(importance))
        super().__init__(out)

    @classmethod
    def kim23(cls, time_csv, raw_importance_csv, graph=None):
        return cls._make("lm_solver_create_kim23", _path(time_csv),
                         _path(raw_importance_csv), _ptr(graph))

    def set_conv_importance(self, importance):
        a = np.ascontiguousarray(importance, dtype=np.float64)
        _call("lm_solver_set_conv_importance", self.ptr,
              a.ctypes.data_as(POINTER(c_double)), a.size)

    @property
    def original_latency(self):
        return _c().lm_solver_original_latency(self.ptr)

    @property
    def fixed_latency(self):
        return _c().lm_solver_fixed_latency(self.ptr)

    @property
    def conv_count(self):
        return _c().lm_solver_conv_count(self.ptr)

    @staticmethod
    def _opts(options, kw):
        if options is not None:
            if kw:
                raise TypeError("give SolveOptions or keyword options, not both")
            return options, False
        return SolveOptions(**kw), True

    def run(self, options=None, **kw):
        """The optimum (lm_solver_run): run(SolveOptions) or run(ratio=0.7,
        precision=10, rounding="ceil", method="layermerge")."""
        opts, own = self._opts(options, kw)
        try:
            return Result._make("lm_solver_run", self.ptr, opts.ptr)
        finally:
            if own:
                opts.close()

    def run_front(self, options=None, **kw):
        """The Pareto front up to the budget (lm_solver_run_front)."""
        opts, own = self._opts(options, kw)
        try:
            return Front._make("lm_solver_run_front", self.ptr, opts.ptr)
        finally:
            if own:
                opts.close()


class Result(_Handle):
    """A solution: segments, kept convs, kept activations (solver.h)."""
    _free = "lm_result_destroy"

    @classmethod
    def load(cls, path):
        return cls._make("lm_result_load", _path(path))

    def save(self, path):
        _call("lm_result_save", self.ptr, _path(path))

    @property
    def method(self):
        return method_name(_c().lm_result_method(self.ptr))

    @property
    def rounding(self):
        return _enum_name("lm_rounding", _c().lm_result_rounding(self.ptr))

    @property
    def importance(self):
        return _c().lm_result_importance(self.ptr)

    @property
    def latency(self):
        return _c().lm_result_latency(self.ptr)

    @property
    def fixed_latency(self):
        return _c().lm_result_fixed_latency(self.ptr)

    @property
    def latency_units(self):
        return _c().lm_result_latency_units(self.ptr)

    @property
    def budget(self):
        return _c().lm_result_budget(self.ptr)

    @property
    def budget_units(self):
        return _c().lm_result_budget_units(self.ptr)

    @property
    def precision(self):
        return _c().lm_result_precision(self.ptr)

    @property
    def fingerprint(self):
        return _c().lm_result_fingerprint(self.ptr).decode()

    @property
    def conv_count(self):
        return _c().lm_result_conv_count(self.ptr)

    @property
    def segment_count(self):
        return _c().lm_result_segment_count(self.ptr)

    def segment_info(self, index):
        return self._info("lm_result_segment_info", capi.lm_result_segment, index)

    def segments(self):
        return [self.segment_info(i) for i in range(self.segment_count)]

    def conv_info(self, conv):
        return self._info("lm_result_conv_info", capi.lm_result_conv, conv)

    def position_info(self, position):
        return self._info("lm_result_position_info", capi.lm_result_position, position)

    def pruned_convs(self):
        return [c for c in range(1, self.conv_count + 1) if not self.conv_info(c).kept]


class Front(_Handle):
    """A Pareto front: a sequence of borrowed Results by increasing
    latency. A Result taken from it keeps the front alive; closing the
    front closes them too."""
    _free = "lm_front_destroy"

    def __init__(self, ptr):
        super().__init__(ptr)
        self._borrowed = weakref.WeakSet()

    def close(self):
        for r in list(getattr(self, "_borrowed", ())):
            r.close()
        super().close()

    def __len__(self):
        return _c().lm_front_count(self.ptr)

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(index)
        r = Result(c_void_p(_c().lm_front_get(self.ptr, index)), owner=self)
        self._borrowed.add(r)
        return r

    def __iter__(self):
        return (self[i] for i in range(len(self)))


class Plan(_Handle):
    """What the training loop changes (plan.h)."""
    _free = "lm_plan_destroy"

    @classmethod
    def for_entry(cls, graph, entries, entry_id):
        return cls._make("lm_plan_create_for_entry", graph.ptr, entries.ptr, entry_id)

    @classmethod
    def for_result(cls, graph, result):
        return cls._make("lm_plan_create_for_result", graph.ptr, result.ptr)

    @classmethod
    def for_segments(cls, graph, bounds, kept=None):
        """Segments (bounds[i], bounds[i+1]]; `kept` N flags (None keeps
        every conv)."""
        b = (c_size_t * len(bounds))(*bounds)
        k = (ctypes.c_uint8 * len(kept))(*[int(bool(x)) for x in kept]) \
            if kept is not None else None
        return cls._make("lm_plan_create_for_segments", graph.ptr, b, len(bounds), k)

    @property
    def fingerprint(self):
        return _c().lm_plan_fingerprint(self.ptr).decode()

    @property
    def conv_count(self):
        return _c().lm_plan_conv_count(self.ptr)

    @property
    def segment_count(self):
        return _c().lm_plan_segment_count(self.ptr)

    def segment_info(self, index):
        return self._info("lm_plan_segment_info", capi.lm_plan_segment, index)

    def segments(self):
        """[(st, end)] of every segment."""
        return [(s.st, s.end) for s in
                (self.segment_info(i) for i in range(self.segment_count))]

    def conv_info(self, conv):
        return self._info("lm_plan_conv_info", capi.lm_plan_conv, conv)

    def position_info(self, position):
        return self._info("lm_plan_position_info", capi.lm_plan_position, position)

    def skip_info(self, skip):
        return self._info("lm_plan_skip_info", capi.lm_plan_skip, skip)

    def write(self):
        """The plan as YAML text (lm_plan_write)."""
        w = _Writer()
        _call("lm_plan_write", self.ptr, w.fn, None)
        return w.text()

    def save(self, path):
        _call("lm_plan_save", self.ptr, _path(path))


class Chain(_Handle):
    """Composes a chain of convolutions into one (merge.h), on arrays in
    PyTorch's layout."""
    _free = "lm_chain_destroy"

    def __init__(self, in_channels):
        out = c_void_p()
        _call("lm_chain_create", byref(out), in_channels)
        super().__init__(out)

    def push_conv(self, weight, bias=None, stride=1, padding=None, groups=1):
        """Append a conv with weight [out, in/groups, k, k] (padding
        defaults to k // 2)."""
        w = _f32(weight)
        out_ch, per_group, k, _ = w.shape
        b = _f32(bias, (out_ch,)) if bias is not None else None
        d = _conv_desc(None, per_group * groups, out_ch, k, stride, padding, groups)
        _call("lm_chain_push_conv", self.ptr, byref(d), _fptr(w), _fptr(b))

    def push_bn(self, gamma, beta, mean, var, eps=1e-5):
        desc, keep = _bn_desc(gamma, beta, mean, var, eps, self.out_channels)
        _call("lm_chain_push_bn", self.ptr, byref(desc))
        del keep

    def push_identity_skip(self, from_step):
        _call("lm_chain_push_identity_skip", self.ptr, from_step)

    def push_projection_skip(self, from_step, weight, bias=None, stride=1):
        """Add a 1x1 projection [out, in, 1, 1] of state `from_step`."""
        w = _f32(weight)
        w2 = w.reshape(w.shape[0], -1)
        b = _f32(bias, (w.shape[0],)) if bias is not None else None
        d = _conv_desc(None, w2.shape[1], w2.shape[0], 1, stride, 0)
        _call("lm_chain_push_projection_skip", self.ptr, from_step, byref(d),
              _fptr(w), _fptr(b))

    @property
    def step_count(self):
        return _c().lm_chain_step_count(self.ptr)

    @property
    def in_channels(self):
        return _c().lm_chain_in_channels(self.ptr)

    @property
    def out_channels(self):
        return _c().lm_chain_out_channels(self.ptr)

    @property
    def kernel(self):
        return _c().lm_chain_kernel(self.ptr)

    @property
    def stride(self):
        return _c().lm_chain_stride(self.ptr)

    @property
    def padding(self):
        return _c().lm_chain_padding(self.ptr)

    @property
    def depthwise(self):
        return bool(_c().lm_chain_depthwise(self.ptr))

    @property
    def groups(self):
        return _c().lm_chain_groups(self.ptr)

    @property
    def weight_count(self):
        return _c().lm_chain_weight_count(self.ptr)

    def weight(self):
        """The merged weight [out, in/groups, K, K] (float32)."""
        k, out_ch, g = self.kernel, self.out_channels, max(self.groups, 1)
        w = np.empty((out_ch, self.in_channels // g, k, k), dtype=np.float32)
        _call("lm_chain_weight", _fptr(w), w.size, self.ptr)
        return w

    def bias(self):
        b = np.empty(self.out_channels, dtype=np.float32)
        _call("lm_chain_bias", _fptr(b), b.size, self.ptr)
        return b


def _fetch_fn(fetch):
    """An lm_tensor_fn over `fetch`: a mapping name -> array (a state_dict)
    or a callable fetch(name, shape) -> array."""
    state = {"error": None}

    def fn(name, shape, ndim, dst, _u):
        try:
            key = name.decode()
            want = tuple(shape[i] for i in range(ndim))
            if callable(fetch):
                value = fetch(key, want)
            else:
                if key not in fetch:
                    _c().lm_clear_error()
                    return capi.LM_ERR_NOT_FOUND
                value = fetch[key]
            a = _f32(value)
            if a.shape != want:
                return capi.LM_ERR_MISMATCH
            ctypes.memmove(dst, a.ctypes.data, a.nbytes)
            return capi.LM_OK
        except KeyError:
            return capi.LM_ERR_NOT_FOUND
        except BaseException as e:  # noqa: BLE001 - re-raised after the call
            state["error"] = e
            return capi.LM_ERR_CANCELLED
    return capi.lm_tensor_fn(fn), state


class Engine(_Handle):
    """The reference forward engine (engine.h): float32 NCHW in, out."""
    _free = "lm_engine_destroy"

    def __init__(self, graph, weights, batch=1):
        """Engine(graph, weights, batch): `weights` is a Weights store
        (lm_engine_create), or a mapping name -> array or a callable
        fetch(name, shape) -> array (lm_engine_create_with_fetch)."""
        out = c_void_p()
        if isinstance(weights, Weights):
            _call("lm_engine_create", byref(out), graph.ptr, weights.ptr, batch)
        else:
            fn, state = _fetch_fn(weights)
            status = _c().lm_engine_create_with_fetch(byref(out), graph.ptr,
                                                      batch, fn, None)
            if state["error"] is not None:
                raise state["error"]
            if status != capi.LM_OK:
                raise _error("lm_engine_create_with_fetch", status)
        super().__init__(out)
        self.input_shape = (batch,) + graph.input_shape
        self.output_shape = (batch,) + graph.output_shape

    @property
    def batch(self):
        return _c().lm_engine_batch(self.ptr)

    @property
    def input_size(self):
        return _c().lm_engine_input_size(self.ptr)

    @property
    def output_size(self):
        return _c().lm_engine_output_size(self.ptr)

    def run(self, x, out=None):
        """Run on `x` (batch x C x H x W); the output as a new float32 array
        of shape batch x C' x H' x W' (or written into `out`)."""
        a = _f32(x)
        if a.size != self.input_size:
            raise ValueError(f"input of shape {a.shape} ({a.size} floats); the "
                             f"engine takes {self.input_shape}")
        if out is None:
            out = np.empty(self.output_shape, dtype=np.float32)
        elif out.dtype != np.float32 or not out.flags.c_contiguous or \
                out.size != self.output_size:
            raise ValueError(f"out must be a C-contiguous float32 array of "
                             f"{self.output_shape}")
        _call("lm_engine_run", _fptr(out), out.size, self.ptr, _fptr(a), a.size)
        return out

    __call__ = run

    def set_timesteps(self, timesteps):
        """A denoiser's timestep per image of the batch, for the next runs
        (lm_engine_set_timesteps); one number is every image's."""
        a = _f32(timesteps)
        if a.size == 1:
            a = np.full(self.batch, a.reshape(-1)[0], dtype=np.float32)
        _call("lm_engine_set_timesteps", self.ptr, _fptr(a), a.size)

    def configure_plan(self, plan):
        """Run `plan`'s fine-tuning network from now on; None goes back to
        the original."""
        _call("lm_engine_configure_plan", self.ptr, _ptr(plan))

    def set_threads(self, threads):
        """OpenBLAS threads for this engine's runs (0: leave OpenBLAS's
        setting alone, the default)."""
        _call("lm_engine_set_threads", self.ptr, threads)

    def time(self, warmup=3, reps=20):
        t = _new(capi.lm_timing)
        _call("lm_engine_time", byref(t), self.ptr, warmup, reps)
        return _timing(t)

    def profile(self, warmup=3, reps=20):
        p = _new(capi.lm_profile)
        _call("lm_engine_profile", byref(p), self.ptr, warmup, reps)
        return _record(p)
