#!/usr/bin/python3
"""Time an ONNX model in PyTorch (CPU) for `layermerge --timer-cmd`.

    /usr/bin/python3 tools/timers/torch.py MODEL.onnx [--mode eager|script]
        [--threads T] [--warmup W] [--reps R] [--batch N] [--input X.npy]
        [--output Y.npy] [--seed S] [--verbose]

PyTorch cannot import ONNX, so this translates the model into a
torch.nn.Module (OnnxModule below) for the operators `layermerge export`
writes and torch.onnx.export makes of such networks: Conv,
BatchNormalization, Relu, Clip, Sigmoid, Tanh, HardSigmoid, HardSwish,
LeakyRelu, Erf, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool,
Add, Sub, Mul, Div, Flatten, Gemm, MatMul, Identity, Dropout, Reshape,
Concat, Pad, Constant, and those of a diffusion U-Net: InstanceNormalization,
Resize (nearest, integer scales), Softmax, Transpose, Unsqueeze, Sin, Cos.
Any other operator is refused, naming it and its node. A model with a
second input "timesteps" (a U-Net `layermerge export` wrote) gets t = 500
for every image: the timestep changes no work.

--mode eager (default) runs that module under torch.no_grad(); --mode
script traces it (torch.jit.trace), freezes it (torch.jit.freeze: batch
norms fold into convs) and applies torch.jit.optimize_for_inference when
that keeps the output (script() below). --threads sets
torch.set_num_threads (default 1).

It runs W untimed forwards, then R timed ones, on one input (X.npy, or the
seeded uniform [-1, 1) input that tools/timers/onnxruntime.js draws for the
same --seed), prints "median_ms=M min_ms=A max_ms=B mean_ms=C reps=R
threads=T mode=eager" (or "mode=script optimized=yes|split-clip|no") on
stderr and the median in milliseconds alone on the
last line of stdout (the --timer-cmd protocol, docs/measure.md). --output
writes the output of the last run as float32 .npy. Exit status: 0
success, 1 failure (the message names the file, or the node), 2 bad usage.
"""
import os
import sys

# This file is named torch.py: drop its own directory from the module path
# so that `import torch` finds PyTorch, not this script.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from onnx import numpy_helper  # noqa: E402

PROG = "torch.py"


class Failure(Exception):
    """A failure to report on stderr with exit status 1."""


# --- ONNX -> torch.nn.Module -----------------------------------------------

def as_tensor(a):
    """A tensor owning a copy (initializers are read-only numpy views)."""
    return torch.from_numpy(np.array(a, copy=True))


def attrs_of(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def where(node):
    return f"node '{node.name or node.output[0]}' ({node.op_type})"


class Step(torch.nn.Module):
    """One ONNX node: reads env[inputs], returns its (single) output."""

    def __init__(self, node, fn, inputs):
        super().__init__()
        self.fn = fn
        self.inputs = list(inputs)
        self.output = node.output[0]
        self.node_name = node.name

    def forward(self, *args):
        return self.fn(*args)

    def extra_repr(self):
        return f"{self.node_name!r}: {', '.join(self.inputs)} -> {self.output}"


class Lambda(torch.nn.Module):
    def __init__(self, fn, text):
        super().__init__()
        self.fn, self.text = fn, text

    def forward(self, *args):
        return self.fn(*args)

    def extra_repr(self):
        return self.text


class Const(torch.nn.Module):
    """A constant that takes part in the computation (a bias to add, a
    scale to multiply): a buffer, so freezing folds it."""

    def __init__(self, value):
        super().__init__()
        self.register_buffer("value", as_tensor(value))

    def forward(self):
        return self.value


class BatchNorm(torch.nn.modules.batchnorm._BatchNorm):
    """Inference batch norm over axis 1 of an input of any rank >= 2 (ONNX
    has one operator where torch has BatchNorm1d/2d/3d)."""

    def _check_input_dim(self, x):
        if x.dim() < 2:
            raise ValueError(f"batch norm of a {x.dim()}-d input")


def pads_of(a, rank):
    """ONNX pads [b1, b2, ..., e1, e2, ...] for the spatial axes: returns
    (symmetric per-axis padding or None, F.pad tuple)."""
    pads = list(a.get("pads", [0] * (2 * rank)))
    begin, end = pads[:rank], pads[rank:]
    fpad = []
    for b, e in zip(reversed(begin), reversed(end)):
        fpad += [b, e]
    return (tuple(begin) if begin == end else None), tuple(fpad)


def check_auto_pad(node, a):
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto not in ("NOTSET", "VALID"):
        raise Failure(f"{where(node)}: auto_pad {auto} is not supported "
                      "(write explicit pads)")


class Translator:
    """Builds one Step per node; constants (initializers, Constant nodes)
    are known at build time so that weights, shapes, pads and clip bounds
    become module parameters and Python numbers."""

    def __init__(self, model, split_clip=False):
        self.split_clip = split_clip
        self.graph = model.graph
        self.consts = {t.name: numpy_helper.to_array(t)
                       for t in self.graph.initializer}
        self.steps = []
        self.const_steps = {}

    def const(self, node, name, what):
        if name not in self.consts:
            raise Failure(f"{where(node)}: {what} '{name}' must be a constant "
                          "(initializer or Constant node)")
        return self.consts[name]

    def operand(self, name):
        """A name the forward pass reads: a constant becomes a Const step."""
        if name in self.consts and name not in self.const_steps:
            self.const_steps[name] = True
            fake = onnx.helper.make_node("Constant", [], [name], name=name)
            self.steps.append(Step(fake, Const(self.consts[name]), []))
        return name

    def add(self, node, fn, inputs):
        self.steps.append(Step(node, fn, [self.operand(n) for n in inputs]))

    def translate(self):
        for node in self.graph.node:
            handler = getattr(self, "op_" + node.op_type, None)
            if handler is None or node.domain not in ("", "ai.onnx"):
                raise Failure(f"unsupported operator {node.op_type} at "
                              f"{where(node)}")
            handler(node, attrs_of(node))
        return self.steps

    # -- layers with weights --

    def op_Conv(self, node, a):
        w = self.const(node, node.input[1], "weight")
        b = (self.const(node, node.input[2], "bias")
             if len(node.input) > 2 and node.input[2] else None)
        rank = w.ndim - 2
        if rank != 2:
            raise Failure(f"{where(node)}: {rank}-d convolution (2-d only)")
        check_auto_pad(node, a)
        sym, fpad = pads_of(a, rank)
        groups = a.get("group", 1)
        conv = torch.nn.Conv2d(w.shape[1] * groups, w.shape[0],
                               tuple(w.shape[2:]),
                               stride=tuple(a.get("strides", [1] * rank)),
                               padding=sym if sym is not None else 0,
                               dilation=tuple(a.get("dilations", [1] * rank)),
                               groups=groups, bias=b is not None)
        with torch.no_grad():
            conv.weight.copy_(as_tensor(w))
            if b is not None:
                conv.bias.copy_(as_tensor(b))
        if sym is None:  # asymmetric: pad explicitly, then convolve
            conv = torch.nn.Sequential(
                Lambda(lambda x: F.pad(x, fpad), f"pad={fpad}"), conv)
        self.add(node, conv, node.input[:1])

    def op_BatchNormalization(self, node, a):
        scale, bias, mean, var = (self.const(node, n, "parameter")
                                  for n in node.input[1:5])
        if len(node.output) > 1 and any(node.output[1:]):
            raise Failure(f"{where(node)}: training-mode outputs")
        bn = BatchNorm(scale.shape[0], eps=a.get("epsilon", 1e-5))
        with torch.no_grad():
            for dst, src in ((bn.weight, scale), (bn.bias, bias),
                             (bn.running_mean, mean), (bn.running_var, var)):
                dst.copy_(as_tensor(src))
        self.add(node, bn, node.input[:1])

    def op_Gemm(self, node, a):
        alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
        ta, tb = a.get("transA", 0), a.get("transB", 0)
        if node.input[1] not in self.consts or ta:
            def gemm(x, y, *c, alpha=alpha, beta=beta, ta=ta, tb=tb):
                out = alpha * ((x.t() if ta else x) @ (y.t() if tb else y))
                return out + beta * c[0] if c else out
            self.add(node, Lambda(gemm, f"alpha={alpha}, beta={beta}, "
                                  f"transA={ta}, transB={tb}"),
                     [n for n in node.input if n])
            return
        w = self.const(node, node.input[1], "B")
        w = w if tb else w.T  # Linear keeps (out, in)
        c = (self.const(node, node.input[2], "C")
             if len(node.input) > 2 and node.input[2] else None)
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=c is not None)
        with torch.no_grad():
            lin.weight.copy_(as_tensor(alpha * w))
            if c is not None:
                lin.bias.copy_(as_tensor(
                    np.broadcast_to(beta * c, (w.shape[0],))))
        self.add(node, lin, node.input[:1])

    def op_MatMul(self, node, a):
        self.add(node, Lambda(torch.matmul, "matmul"), node.input)

    # -- activations --

    def op_Relu(self, node, a):
        self.add(node, torch.nn.ReLU(), node.input)

    def op_Sigmoid(self, node, a):
        self.add(node, torch.nn.Sigmoid(), node.input)

    def op_Tanh(self, node, a):
        self.add(node, torch.nn.Tanh(), node.input)

    def op_Erf(self, node, a):
        self.add(node, Lambda(torch.erf, "erf"), node.input)

    def op_HardSwish(self, node, a):
        self.add(node, torch.nn.Hardswish(), node.input)

    def op_HardSigmoid(self, node, a):
        alpha, beta = a.get("alpha", 0.2), a.get("beta", 0.5)
        self.add(node, Lambda(lambda x: torch.clamp(alpha * x + beta, 0, 1),
                              f"alpha={alpha}, beta={beta}"), node.input)

    def op_LeakyRelu(self, node, a):
        self.add(node, torch.nn.LeakyReLU(a.get("alpha", 0.01)), node.input)

    def op_Clip(self, node, a):
        lo, hi = a.get("min"), a.get("max")  # opset < 11: attributes
        if len(node.input) > 1 and node.input[1]:
            lo = float(self.const(node, node.input[1], "min"))
        if len(node.input) > 2 and node.input[2]:
            hi = float(self.const(node, node.input[2], "max"))
        if self.split_clip:  # no conv + clamp pattern (see script())
            def clip(x, lo=lo, hi=hi):
                x = torch.relu(x) if lo == 0.0 else (
                    x if lo is None else torch.clamp_min(x, lo))
                return x if hi is None else torch.clamp_max(x, hi)
            self.add(node, Lambda(clip, f"min={lo}, max={hi}, split"),
                     node.input[:1])
        elif lo == 0.0 and hi == 6.0:
            self.add(node, torch.nn.ReLU6(), node.input[:1])
        else:
            self.add(node, Lambda(lambda x: torch.clamp(x, lo, hi),
                                  f"min={lo}, max={hi}"), node.input[:1])

    # -- pools --

    def pool_args(self, node, a):
        check_auto_pad(node, a)
        k = tuple(a["kernel_shape"])
        if len(k) != 2:
            raise Failure(f"{where(node)}: {len(k)}-d pooling (2-d only)")
        sym, fpad = pads_of(a, 2)
        return k, tuple(a.get("strides", [1, 1])), sym, fpad

    def op_MaxPool(self, node, a):
        if len(node.output) > 1 and any(node.output[1:]):
            raise Failure(f"{where(node)}: the Indices output")
        k, s, sym, fpad = self.pool_args(node, a)
        pool = torch.nn.MaxPool2d(k, s, sym if sym is not None else 0,
                                  dilation=tuple(a.get("dilations", [1, 1])),
                                  ceil_mode=bool(a.get("ceil_mode", 0)))
        if sym is None:
            pool = torch.nn.Sequential(Lambda(
                lambda x: F.pad(x, fpad, value=float("-inf")),
                f"pad={fpad}"), pool)
        self.add(node, pool, node.input)

    def op_AveragePool(self, node, a):
        k, s, sym, fpad = self.pool_args(node, a)
        include = bool(a.get("count_include_pad", 0))
        if sym is None and not include:
            raise Failure(f"{where(node)}: asymmetric pads with "
                          "count_include_pad=0")
        pool = torch.nn.AvgPool2d(k, s, sym if sym is not None else 0,
                                  ceil_mode=bool(a.get("ceil_mode", 0)),
                                  count_include_pad=include)
        if sym is None:
            pool = torch.nn.Sequential(
                Lambda(lambda x: F.pad(x, fpad), f"pad={fpad}"), pool)
        self.add(node, pool, node.input)

    def op_GlobalAveragePool(self, node, a):
        self.add(node, torch.nn.AdaptiveAvgPool2d(1), node.input)

    def op_GlobalMaxPool(self, node, a):
        self.add(node, torch.nn.AdaptiveMaxPool2d(1), node.input)

    # -- elementwise, shapes --

    def binary(self, node, fn, text):
        self.add(node, Lambda(fn, text), node.input)

    def op_Add(self, node, a):
        self.binary(node, torch.add, "add")

    def op_Sub(self, node, a):
        self.binary(node, torch.sub, "sub")

    def op_Mul(self, node, a):
        self.binary(node, torch.mul, "mul")

    def op_Div(self, node, a):
        self.binary(node, torch.div, "div")

    def op_Identity(self, node, a):
        self.add(node, torch.nn.Identity(), node.input)

    def op_Dropout(self, node, a):  # inference: the identity
        if len(node.output) > 1 and any(node.output[1:]):
            raise Failure(f"{where(node)}: the mask output")
        self.add(node, torch.nn.Identity(), node.input[:1])

    def op_Flatten(self, node, a):
        axis = a.get("axis", 1)
        if axis == 1:
            self.add(node, torch.nn.Flatten(), node.input)
            return
        if axis < 0:
            raise Failure(f"{where(node)}: negative axis {axis}")

        def flatten(x, axis=axis):  # always 2-d: (d0 ... d[axis-1], rest)
            if axis == 0:
                return x.reshape(1, -1)
            y = x.flatten(0, axis - 1)
            return y.reshape(y.shape[0], -1)
        self.add(node, Lambda(flatten, f"axis={axis}"), node.input)

    def op_Reshape(self, node, a):
        shape = [int(d) for d in self.const(node, node.input[1], "shape")]
        if a.get("allowzero", 0) and 0 in shape:
            raise Failure(f"{where(node)}: allowzero with a 0 in the shape")

        def reshape(x, shape=shape):  # 0 keeps the input's dimension
            return x.reshape([x.shape[i] if d == 0 else d
                              for i, d in enumerate(shape)])
        self.add(node, Lambda(reshape, f"shape={shape}"), node.input[:1])

    def op_Concat(self, node, a):
        axis = a["axis"]
        self.add(node, Lambda(lambda *xs: torch.cat(xs, axis),
                              f"axis={axis}"), node.input)

    def op_Pad(self, node, a):
        mode = a.get("mode", b"constant")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        pads = ([int(p) for p in self.const(node, node.input[1], "pads")]
                if len(node.input) > 1 else list(a.get("pads", [])))
        value = (float(self.const(node, node.input[2], "constant_value"))
                 if len(node.input) > 2 and node.input[2]
                 else float(a.get("value", 0.0)))
        rank = len(pads) // 2
        fpad = []
        for b, e in zip(reversed(pads[:rank]), reversed(pads[rank:])):
            fpad += [b, e]
        torch_mode = {"constant": "constant", "reflect": "reflect",
                      "edge": "replicate"}.get(mode)
        if torch_mode is None:
            raise Failure(f"{where(node)}: pad mode {mode}")
        if torch_mode != "constant":
            # torch pads only the trailing (spatial) axes in these modes
            if any(fpad[4:]):
                raise Failure(f"{where(node)}: {mode} padding of the batch "
                              "or channel axis")
            fpad = fpad[:4]
        fpad = tuple(fpad)
        self.add(node, Lambda(
            lambda x: F.pad(x, fpad, mode=torch_mode, value=value)
            if torch_mode == "constant" else F.pad(x, fpad, mode=torch_mode),
            f"pad={fpad}, mode={mode}"), node.input[:1])

    # -- a diffusion U-Net's --

    def op_InstanceNormalization(self, node, a):
        scale = as_tensor(self.const(node, node.input[1], "scale"))
        bias = as_tensor(self.const(node, node.input[2], "B"))
        eps = a.get("epsilon", 1e-5)
        self.add(node, Lambda(lambda x: F.instance_norm(
            x, weight=scale, bias=bias, eps=eps), f"eps={eps}"),
            node.input[:1])

    def op_Resize(self, node, a):
        def text(key, default):
            v = a.get(key, default)
            return v.decode() if isinstance(v, bytes) else v
        mode, ctm = text("mode", "nearest"), text(
            "coordinate_transformation_mode", "half_pixel")
        near = text("nearest_mode", "round_prefer_floor")
        scales = (self.const(node, node.input[2], "scales")
                  if len(node.input) > 2 and node.input[2] else None)
        if (mode, ctm, near) != ("nearest", "asymmetric", "floor") or \
                scales is None or len(scales) != 4 or \
                list(scales[:2]) != [1.0, 1.0] or \
                any(float(s) != int(s) or s < 1 for s in scales[2:]):
            raise Failure(f"{where(node)}: Resize other than nearest by "
                          "integer scales (asymmetric, floor)")
        f = (int(scales[2]), int(scales[3]))
        # PyTorch's nearest is floor(dst / s) for an integer factor
        self.add(node, Lambda(lambda x: F.interpolate(
            x, scale_factor=f, mode="nearest"), f"scale={f}"),
            node.input[:1])

    def op_Softmax(self, node, a):
        axis = a.get("axis", -1)
        self.add(node, Lambda(lambda x: torch.softmax(x, axis),
                              f"axis={axis}"), node.input)

    def op_Transpose(self, node, a):
        perm = list(a["perm"])
        self.add(node, Lambda(lambda x: x.permute(perm), f"perm={perm}"),
                 node.input)

    def op_Unsqueeze(self, node, a):
        axes = ([int(v) for v in self.const(node, node.input[1], "axes")]
                if len(node.input) > 1 else list(a["axes"]))
        if any(v < 0 for v in axes):
            raise Failure(f"{where(node)}: negative axes {axes}")

        def unsqueeze(x, axes=sorted(axes)):
            for v in axes:
                x = x.unsqueeze(v)
            return x
        self.add(node, Lambda(unsqueeze, f"axes={axes}"), node.input[:1])

    def op_Sin(self, node, a):
        self.add(node, Lambda(torch.sin, "sin"), node.input)

    def op_Cos(self, node, a):
        self.add(node, Lambda(torch.cos, "cos"), node.input)

    def op_Constant(self, node, a):
        if "value" in a:
            v = numpy_helper.to_array(a["value"])
        elif "value_float" in a or "value_int" in a:
            v = np.array(a.get("value_float", a.get("value_int")))
        elif "value_floats" in a or "value_ints" in a:
            v = np.array(a.get("value_floats", a.get("value_ints")))
        else:
            raise Failure(f"{where(node)}: attribute {list(a)}")
        self.consts[node.output[0]] = v


class OnnxModule(torch.nn.Module):
    """The translated graph: steps in the ONNX (topological) order, each
    reading and writing named values."""

    def __init__(self, model, input_names, output_name, split_clip=False):
        super().__init__()
        self.steps = torch.nn.ModuleList(
            Translator(model, split_clip).translate())
        self.input_names, self.output_name = list(input_names), output_name
        produced = set(self.input_names) | {s.output for s in self.steps}
        if output_name not in produced:
            raise Failure(f"graph output '{output_name}' is a constant or "
                          "is produced by no node")

    def forward(self, *xs):
        env = dict(zip(self.input_names, xs))
        for step in self.steps:
            env[step.output] = step(*[env[n] for n in step.inputs])
        return env[self.output_name]


# --- .npy, input -----------------------------------------------------------

def load_npy(path):
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise Failure(f"{path}: cannot read a .npy file: {exc}") from exc
    if x.dtype not in (np.float32, np.float64):
        raise Failure(f"{path}: dtype {x.dtype} (float32 expected)")
    return np.ascontiguousarray(x, dtype=np.float32)


def save_npy(path, array):
    """Atomic: a temporary file beside the target, then rename."""
    d, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(d, f".{base}.tmp.{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(array, dtype=np.float32))
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise Failure(f"{path}: cannot write: {exc}") from exc


def uniform(n, seed):
    """mulberry32, vectorised: the same values as onnxruntime.js draws for
    the same seed, in [-1, 1)."""
    with np.errstate(over="ignore"):
        s0 = np.uint32((seed & 0xFFFFFFFF) ^ 0x9E3779B9)
        i = np.arange(1, n + 1, dtype=np.uint64)
        t = ((np.uint64(s0) + i * np.uint64(0x6D2B79F5))
             & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        t = (t ^ (t >> np.uint32(15))) * (t | np.uint32(1))
        t ^= t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61))
        t ^= t >> np.uint32(14)
    return (t.astype(np.float64) / 4294967296.0 * 2 - 1).astype(np.float32)


def input_shape(value_info, model_path, batch):
    dims = value_info.type.tensor_type.shape.dim
    shape = []
    for i, d in enumerate(dims):
        fixed = d.HasField("dim_value") and d.dim_value > 0
        if i == 0:
            if fixed and batch is not None and batch != d.dim_value:
                raise Failure(f"{model_path}: the model's batch is "
                              f"{d.dim_value}, --batch {batch} given")
            shape.append(d.dim_value if fixed else (batch or 1))
        elif fixed:
            shape.append(d.dim_value)
        else:
            raise Failure(f"{model_path}: input '{value_info.name}' dimension"
                          f" {i} is dynamic ({d.dim_param}): give --input "
                          "X.npy")
    return shape


def check_input(value_info, model_path, x, path):
    dims = value_info.type.tensor_type.shape.dim
    want = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    if len(want) != x.ndim or any(w and w != s for w, s in zip(want, x.shape)):
        raise Failure(f"{path}: shape {tuple(x.shape)} does not fit input "
                      f"'{value_info.name}' of {model_path}, shape "
                      f"{tuple(w if w else '?' for w in want)}")


# --- timing ----------------------------------------------------------------

def load_model(path):
    if not os.path.exists(path):
        raise Failure(f"{path}: no such file")
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises DecodeError, ValidationError, ...
        raise Failure(f"{path}: cannot load the model: "
                      f"{str(exc).strip().splitlines()[0]}") from exc
    return model


def model_inputs(model, path):
    """The model's inputs: one, or one and "timesteps" (a U-Net)."""
    inits = {t.name for t in model.graph.initializer}
    inputs = [v for v in model.graph.input if v.name not in inits]
    if len(inputs) == 2 and inputs[1].name == "timesteps":
        return inputs
    if len(inputs) != 1:
        raise Failure(f"{path}: inputs {', '.join(v.name for v in inputs)}:"
                      " one expected (or an input and \"timesteps\")")
    return inputs


def build(model, path, mode, xs, verbose):
    inputs = model_inputs(model, path)
    outs = [o.name for o in model.graph.output]
    out_name = "output" if "output" in outs else outs[0]
    def make(split_clip):
        try:
            return OnnxModule(model, [v.name for v in inputs], out_name,
                              split_clip).eval()
        except Failure as exc:
            raise Failure(f"{path}: {exc}") from exc
    net = make(False)
    if verbose:
        print(net, file=sys.stderr)
    if mode == "script":
        return script(make, xs, path)
    return net, "mode=eager"


def script(make, xs, path):
    """trace + freeze + optimize_for_inference, kept only when its output
    agrees with the module's. torch 1.13's MKL-DNN rewrite returns wrong
    values for a conv followed by a clamp (ReLU6, Clip) whose output
    channels are not a multiple of 16 (wrong with 4 to 24 channels but 16,
    and 40); with Clip written as relu / clamp_min then clamp_max, which it
    does not fuse, it is right. So: as translated; else with Clip split;
    else the frozen module without the rewrite."""
    with torch.no_grad():
        net = make(False)
        want = net(*xs)
        frozen = torch.jit.freeze(torch.jit.trace(net, xs))
        if not hasattr(torch.jit, "optimize_for_inference"):
            return frozen, "mode=script optimized=no"
        scale = max(float(want.abs().max()), 1e-30)
        for split, how in ((False, "yes"), (True, "split-clip")):
            # optimize_for_inference rewrites its argument: a fresh trace
            fast = torch.jit.optimize_for_inference(
                torch.jit.freeze(torch.jit.trace(make(split), xs)))
            got = fast(*xs)
            err = float((got - want).abs().max()) / scale
            if got.shape == want.shape and err <= 1e-5:
                return fast, f"mode=script optimized={how}"
            print(f"{PROG}: {path}: optimize_for_inference changes the "
                  f"output (relative error {err:.1e})"
                  + (": again with Clip split into relu/clamp" if not split
                     else ": timing the frozen module without it"),
                  file=sys.stderr)
    return frozen, "mode=script optimized=no"


def main(argv):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    ap.add_argument("model", metavar="MODEL.onnx")
    ap.add_argument("--mode", choices=["eager", "script"], default="eager")
    for name, default in (("threads", 1), ("warmup", 3), ("reps", 20),
                          ("batch", None), ("seed", 0)):
        ap.add_argument("--" + name, type=int, default=default)
    ap.add_argument("--input", metavar="X.npy")
    ap.add_argument("--output", metavar="Y.npy")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    for name, low in (("threads", 1), ("warmup", 0), ("reps", 1),
                      ("batch", 1), ("seed", 0)):
        v = getattr(args, name)
        if v is not None and v < low:
            ap.error(f"--{name} must be >= {low}, got {v}")
    torch.set_num_threads(args.threads)

    model = load_model(args.model)
    inits = {t.name for t in model.graph.initializer}
    first = [v for v in model.graph.input if v.name not in inits]
    if not first:
        raise Failure(f"{args.model}: the model has no input")
    model_inputs(model, args.model)
    if args.input is not None:
        x_np = load_npy(args.input)
        check_input(first[0], args.model, x_np, args.input)
    else:
        shape = input_shape(first[0], args.model, args.batch)
        x_np = uniform(int(np.prod(shape)), args.seed).reshape(shape)
    x = torch.from_numpy(x_np)
    xs = (x,) if len(first) == 1 else (x, torch.full((x.shape[0],), 500.0))
    net, how = build(model, args.model, args.mode, xs, args.verbose)
    if args.verbose:
        print(f"{PROG}: {args.model}: input {tuple(x.shape)}, mode "
              f"{args.mode}, {args.threads} thread(s), warm-up "
              f"{args.warmup}, reps {args.reps}", file=sys.stderr)
    times = []
    with torch.no_grad():
        try:
            for _ in range(args.warmup):
                y = net(*xs)
            for i in range(args.reps):
                t0 = time.perf_counter()
                y = net(*xs)
                times.append((time.perf_counter() - t0) * 1e3)
                if args.verbose:
                    print(f"{PROG}: run {i + 1}: {times[-1]:.4f} ms",
                          file=sys.stderr)
        except RuntimeError as exc:
            raise Failure(f"{args.model}: forward failed: "
                          f"{str(exc).strip().splitlines()[0]}") from exc
    if args.output is not None:
        save_npy(args.output, y.numpy())
    med = statistics.median(times)
    print(f"median_ms={med:.4f} min_ms={min(times):.4f} "
          f"max_ms={max(times):.4f} mean_ms={statistics.fmean(times):.4f} "
          f"reps={args.reps} threads={args.threads} {how}",
          file=sys.stderr)
    print(f"{med:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Failure as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        sys.exit(1)
