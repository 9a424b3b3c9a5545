#!/usr/bin/python3
"""Independent checks of the model zoo written by gen_zoo.py.

Reads the YAML files back with PyYAML (not with gen_zoo's own structures)
and checks, per file:

  * keys and ops against docs/formats.md (unknown keys are errors there too);
  * trunk conv, skip, projection and identity-position counts;
  * the valid segments of docs/method.md section 3: their number, and for the networks
    with real kim23 latency tables, the exact (st, end) list of those tables;
  * the option entries of docs/method.md section 4 where it gives reference counts;
  * the feature-map shapes the YAML implies (docs rules) against the input and
    output of every trunk conv of the torchvision model (forward hooks);
  * a float64 forward pass interpreted from the YAML alone, reading tensors by
    state_dict name, against torchvision's own forward (randomised batch-norm
    statistics), and that every state_dict tensor is used exactly once.

The DDPM U-Net (ddpm_cifar10.yaml, the U-Net elements of the graph format:
group norms, `pre` layers, time embedding and projection, attention,
upsampling, concat skips, identity options) is checked the same way against
examples/models/ddpm_unet.py (random timesteps, randomised group-norm
affines), and its option entries (st, end, K, stride, depthwise) against the
authors' enumeration for their model in tests/data/upstream-ddpm/.

    /usr/bin/python3 examples/models/verify_zoo.py [--dir D] [--tables T]
                                                   [--upstream-ddpm CSV] [NAME ...]

Exit status 1 when any check fails.
"""

import argparse
import csv
import math
import os
import sys

try:
    import torch
    import torch.nn.functional as F
    import torchvision
    import yaml
except ImportError as exc:  # a test run without torch skips (exit 77)
    print(f"skipped: {exc}")
    sys.exit(77)

import ddpm_unet

HERE = os.path.dirname(os.path.abspath(__file__))
TABLES = os.path.join(HERE, "..", "..", "tests", "data", "upstream-kim23")
UPSTREAM_DDPM = os.path.join(HERE, "..", "..", "tests", "data", "upstream-ddpm",
                             "entries.csv")

MODELS = {
    "resnet18": lambda: torchvision.models.resnet18(),
    "resnet34": lambda: torchvision.models.resnet34(),
    "resnet50": lambda: torchvision.models.resnet50(),
    "mobilenetv2": lambda: torchvision.models.mobilenet_v2(width_mult=1.0),
    "mobilenetv2_w1.4": lambda: torchvision.models.mobilenet_v2(width_mult=1.4),
    "vgg19": lambda: torchvision.models.vgg19(),
    "ddpm_cifar10": ddpm_unet.DDPMUNet.cifar10,
}

# convs, skips, projections, identity positions, barriers, valid segments
# (docs/method.md section 3; resnet18/50 pinned from this zoo), (entries, largest K,
# depthwise entries) where docs/method.md section 4 gives them, kim23 table
MBV2_ID = list(range(2, 51, 3))
# DDPM: the outputs of the 22 ResNet-block conv1s are the only non-barriers.
DDPM_CONV1 = [2, 4, 7, 9, 12, 14, 17, 19, 21, 23, 25, 27, 29, 32, 34, 36, 39,
              41, 43, 46, 48, 50]
DDPM_BARRIERS = [p for p in range(52) if p not in DDPM_CONV1]
EXPECT = {
    "resnet18": dict(convs=16, skips=8, proj=3, ident=[], barriers=[0, 5, 9, 13],
                     segments=22),
    "resnet34": dict(convs=32, skips=16, proj=3, ident=[], barriers=[0, 7, 15, 27],
                     segments=62, entries=(150, 21, 0)),
    "resnet50": dict(convs=48, skips=16, proj=4, ident=[], barriers=[0, 12, 24, 42],
                     segments=124),
    "mobilenetv2": dict(convs=50, skips=10, proj=0, ident=MBV2_ID, segments=171,
                        barriers=[0, 5, 11, 20, 41], entries=(391, 15, 17),
                        table="mbv2_1.0/time_fish_gpu1_1228.csv"),
    "mobilenetv2_w1.4": dict(convs=50, skips=10, proj=0, ident=MBV2_ID,
                             segments=171, barriers=[0, 5, 11, 20, 41],
                             table="mbv2_1.4/time_fish_gpu1_0103.csv"),
    "vgg19": dict(convs=16, skips=0, proj=0, ident=[], segments=36,
                  barriers=[0, 2, 4, 8, 12, 16],
                  table="vgg19_no_trt/time_fish_gpu1_0317.csv"),
    # 22 residual skips (13 with projection) and 12 concat skips; identity
    # activations at the 29 barriers but 0; the upsample convs may become
    # identity. Entries: 98 (largest K 5), of which 3 identity (K 0).
    "ddpm_cifar10": dict(convs=51, skips=22, proj=13, concat=12,
                         ident=DDPM_BARRIERS[1:], barriers=DDPM_BARRIERS,
                         identity_options=[31, 38, 45], segments=73,
                         entries=(98, 5, 3), upstream="ddpm"),
}

# docs/formats.md: required and optional keys
TOP = {"format", "version", "name", "input", "nonlinearity", "stem", "trunk",
       "skips", "barriers", "identity_options", "head", "time_embedding"}
TOP_REQ = TOP - {"nonlinearity", "time_embedding"}
TRUNK_REQ = {"name", "in", "out", "kernel"}
TRUNK_OPT = {"stride", "padding", "groups", "bias", "bn", "act", "after", "pre",
             "time_projection", "group_norm"}
OPS = {
    "conv": ({"in", "out", "kernel"}, {"stride", "padding", "groups", "bias", "name"}),
    "batchnorm": ({"channels"}, {"eps", "name"}),
    "act": ({"act"}, set()),
    "maxpool": ({"kernel"}, {"stride", "padding"}),
    "avgpool": ({"kernel"}, {"stride", "padding"}),
    "adaptive_avgpool": ({"height", "width"}, set()),
    "flatten": (set(), set()),
    "linear": ({"in", "out"}, {"bias", "name"}),
    "groupnorm": ({"channels", "groups"}, {"eps", "name"}),
    "pad": ({"top", "bottom", "left", "right"}, set()),
    "upsample": (set(), {"scale"}),
    "attention": ({"channels", "groups", "name"}, {"eps"}),
}
ACTS = {"identity": lambda x: x, "relu": F.relu, "relu6": F.relu6,
        "silu": F.silu, "gelu": F.gelu, "hardswish": F.hardswish,
        "sigmoid": torch.sigmoid, "tanh": torch.tanh}


class Fail(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Fail(msg)


def keys_ok(where, d, req, opt):
    need(isinstance(d, dict), f"{where}: not a mapping")
    need(req <= set(d), f"{where}: missing {sorted(req - set(d))}")
    need(set(d) <= req | opt, f"{where}: unknown keys {sorted(set(d) - req - opt)}")


def check_layer(where, layer):
    need(layer.get("op") in OPS, f"{where}: op {layer.get('op')!r}")
    req, opt = OPS[layer["op"]]
    keys_ok(where, layer, req | {"op"}, opt)
    if layer["op"] == "act":
        need(layer["act"] in ACTS, f"{where}: act {layer['act']!r}")
    if layer["op"] in ("groupnorm", "attention"):
        need(layer["channels"] % layer["groups"] == 0, f"{where}: groups")
        need(isinstance(layer.get("eps", 1e-5), float), f"{where}: eps")
    if layer["op"] == "pad":
        need(all(isinstance(layer[k], int) and layer[k] >= 0
                 for k in ("top", "bottom", "left", "right")), f"{where}: pad")
    if layer["op"] == "upsample":
        need(isinstance(layer.get("scale", 2), int) and layer.get("scale", 2) >= 1,
             f"{where}: scale")


def check_schema(g):
    keys_ok("top", g, TOP_REQ, TOP)
    need(g["format"] == "layermerge-graph" and g["version"] == 1, "format/version")
    for sec in ("stem", "head"):
        for i, layer in enumerate(g[sec]):
            check_layer(f"{sec}[{i}]", layer)
    for p, e in enumerate(g["trunk"], 1):
        keys_ok(f"trunk position {p}", e, TRUNK_REQ, TRUNK_OPT)
        need(e.get("act", "identity") in ACTS, f"position {p}: act")
        if "bn" in e:
            keys_ok(f"position {p} bn", e["bn"], set(), {"name", "eps"})
            need(isinstance(e["bn"].get("eps", 1e-5), float), f"position {p}: eps")
        for i, layer in enumerate(e.get("after", [])):
            check_layer(f"position {p} after[{i}]", layer)
        for i, layer in enumerate(e.get("pre", [])):
            check_layer(f"position {p} pre[{i}]", layer)
        if e.get("pre"):
            need(p - 1 in g["barriers"], f"position {p}: pre reads a non-barrier")
        if "time_projection" in e:
            need("time_embedding" in g, f"position {p}: no time_embedding")
            keys_ok(f"position {p} time_projection", e["time_projection"],
                    {"name"}, set())
        if "group_norm" in e:
            keys_ok(f"position {p} group_norm", e["group_norm"], {"name", "groups"},
                    {"eps"})
            need("bn" not in e, f"position {p}: group_norm and bn")
            need(e["out"] % e["group_norm"]["groups"] == 0, f"position {p}: groups")
        if e.get("after"):
            need(p in g["barriers"], f"position {p}: after layers off a barrier")
    if "time_embedding" in g:
        te = g["time_embedding"]
        keys_ok("time_embedding", te, {"dim", "channels", "names"}, set())
        need(te["dim"] % 2 == 0 and len(te["names"]) == 2, "time_embedding")
    for s in g["skips"]:
        keys_ok("skip", s, {"from", "to"}, {"projection", "mode"})
        need(s.get("mode", "add") in ("add", "concat"), f"skip mode {s.get('mode')!r}")
        if s.get("mode") == "concat":
            need("projection" not in s, "concat skip with a projection")
            need(s["from"] in g["barriers"] and s["to"] in g["barriers"],
                 f"concat {s['from']}->{s['to']}: ends must be barriers")
        if "projection" in s:
            keys_ok("projection", s["projection"], set(),
                    {"name", "stride", "bias", "bn"})


# ------------------------------------------------------------ docs/method.md section 3 and 4

def valid_segments(n, barriers, skips):
    """Skips of both modes: a concat's ends are barriers, so no segment that
    respects the barriers can straddle it, but the rule is the same."""
    out = []
    for st in range(n):
        for end in range(st + 1, n + 1):
            if any(st < b < end for b in barriers):
                continue
            if all((st <= s and t <= end) or (s <= st and end <= t)
                   or end <= s or t <= st for s, t in skips):
                out.append((st, end))
    return out


def segment_entries(trunk, st, end, identity_allowed=False):
    """Distinct (K, depthwise) of docs/method.md section 4 options of segment (st, end].

    The empty subset survives only when no conv is irreducible; it is the
    identity option (K 0, marked depthwise) where `end` allows identity."""
    states = {(1, True, False, False)}      # K, all-dw, stride seen, non-empty
    for e in trunk[st:end]:
        k, stride = e["kernel"], e.get("stride", 1)
        dw = e.get("groups", 1) == e["in"] == e["out"] and e["in"] > 1
        forced = e["in"] != e["out"] or stride > 1
        nxt = set() if forced else set(states)
        for K, alldw, seen, _ in states:
            if seen and k > 1:
                continue            # a strided conv may be followed by 1x1 only
            nxt.add((K + k - 1, alldw and dw, seen or stride > 1, True))
        states = nxt
    out = {(K, d) for K, d, _, ne in states if ne}
    if identity_allowed and any(not ne for *_, ne in states):
        out.add((0, True))
    return out


def entry_list(g, segs):
    """(st, end, K, stride, dw) in entry-id order: by segment, ascending K,
    dense before depthwise. Reducible convs have stride 1, so a non-identity
    entry's stride is the product of the segment's strides."""
    ident = set(g["identity_options"])
    out = []
    for s, e in segs:
        stride = 1
        for c in g["trunk"][s:e]:
            stride *= c.get("stride", 1)
        for K, d in sorted(segment_entries(g["trunk"], s, e, e in ident)):
            out.append((s, e, K, stride if K else 1, d))
    return out


def count_entries(ents):
    return len(ents), max(e[2] for e in ents), sum(e[4] for e in ents)


def upstream_entries(path):
    """The authors' time-table rows: id,st,end,ker,str,is_dw (comment lines #)."""
    with open(path, newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return [(int(r["id"]), int(r["st"]), int(r["end"]), int(r["ker"]),
                 int(r["str"]), r["is_dw"] == "True") for r in rows]


def table_pairs(path):
    with open(path, newline="") as f:
        return [(int(r["st"]), int(r["end"])) for r in csv.DictReader(f)]


# ------------------------------------------------------------ shapes

def layer_shape(layer, shape):
    op = layer["op"]
    if op == "conv":
        c, h, w = shape
        need(c == layer["in"], f"conv {layer.get('name')}: in {layer['in']} != {c}")
        k, s, p = layer["kernel"], layer.get("stride", 1), layer.get("padding", 0)
        return (layer["out"], (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
    if op == "batchnorm":
        need(shape[0] == layer["channels"], f"bn {layer.get('name')}: channels")
        return shape
    if op in ("maxpool", "avgpool"):
        c, h, w = shape
        k, p = layer["kernel"], layer.get("padding", 0)
        s = layer.get("stride", k)
        return (c, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
    if op == "adaptive_avgpool":
        return (shape[0], layer["height"], layer["width"])
    if op == "flatten":
        n = 1
        for d in shape:
            n *= d
        return (n,)
    if op == "linear":
        need(shape == (layer["in"],), f"linear {layer.get('name')}: in")
        return (layer["out"],)
    if op in ("groupnorm", "attention"):
        need(shape[0] == layer["channels"], f"{op} {layer.get('name')}: channels")
        return shape
    if op == "pad":
        c, h, w = shape
        return (c, h + layer["top"] + layer["bottom"], w + layer["left"] + layer["right"])
    if op == "upsample":
        c, h, w = shape
        sc = layer.get("scale", 2)
        return (c, h * sc, w * sc)
    return shape


def yaml_shapes(g):
    """(input, output) shape of every trunk conv (its input after its `pre`
    layers), and the network's output shape. Position shapes are those its
    readers see: after the `after` layers and the concat skips."""
    i = g["input"]
    shape = (i["channels"], i["height"], i["width"])
    for layer in g["stem"]:
        shape = layer_shape(layer, shape)
    pos, convs = [shape], []
    for p, e in enumerate(g["trunk"], 1):
        inp = pos[-1]
        for layer in e.get("pre", []):
            inp = layer_shape(layer, inp)
        out = layer_shape(dict(e, op="conv"), inp)
        convs.append((inp, out))
        for layer in e.get("after", []):
            out = layer_shape(layer, out)
        for s in g["skips"]:
            if s.get("mode") == "concat" and s["to"] == p:
                a = pos[s["from"]]
                need(a[1:] == out[1:], f"concat {s['from']}->{p}: {a} vs {out}")
                out = (out[0] + a[0],) + out[1:]
        pos.append(out)
    for s in g["skips"]:
        if s.get("mode") == "concat":
            continue
        a, b = pos[s["from"]], convs[s["to"] - 1][1]
        if "projection" not in s:
            need(a == b, f"skip {s['from']}->{s['to']}: {a} vs {b}")
        else:
            st = s["projection"].get("stride", 1)
            need(((a[1] - 1) // st + 1, (a[2] - 1) // st + 1) == b[1:],
                 f"projection {s['from']}->{s['to']}: spatial {a} vs {b}")
    shape = pos[-1]
    for layer in g["head"]:
        shape = layer_shape(layer, shape)
    return convs, shape


def model_inputs(g, batch, dtype=torch.float32, seed=2):
    """A random input batch, and random timesteps in [0, 1000) when the graph
    has a time embedding."""
    gen = torch.Generator().manual_seed(seed)
    i = g["input"]
    x = torch.randn(batch, i["channels"], i["height"], i["width"], generator=gen,
                    dtype=dtype)
    if "time_embedding" not in g:
        return (x,)
    return x, torch.randint(0, 1000, (batch,), generator=gen)


def torch_shapes(model, g):
    seen = {}
    hooks = [model.get_submodule(e["name"]).register_forward_hook(
        lambda m, inp, out, n=e["name"]: seen.__setitem__(
            n, (tuple(inp[0].shape[1:]), tuple(out.shape[1:]))))
        for e in g["trunk"]]
    with torch.no_grad():
        logits = model(*model_inputs(g, 1))
    for h in hooks:
        h.remove()
    return [seen[e["name"]] for e in g["trunk"]], tuple(logits.shape[1:])


# ------------------------------------------------------------ forward

class Interp:
    """Runs a graph from its YAML, fetching tensors by state_dict name."""

    def __init__(self, sd):
        self.sd, self.used = sd, []

    def t(self, key):
        self.used.append(key)
        return self.sd[key]

    def conv(self, d, x):
        b = self.t(d["name"] + ".bias") if d.get("bias", False) else None
        return F.conv2d(x, self.t(d["name"] + ".weight"), b, d.get("stride", 1),
                        d.get("padding", 0), 1, d.get("groups", 1))

    def bn(self, name, eps, x):
        return F.batch_norm(x, self.t(name + ".running_mean"),
                            self.t(name + ".running_var"), self.t(name + ".weight"),
                            self.t(name + ".bias"), False, 0.0, eps)

    def layer(self, d, x):
        op = d["op"]
        if op == "conv":
            return self.conv(d, x)
        if op == "batchnorm":
            return self.bn(d["name"], d.get("eps", 1e-5), x)
        if op == "act":
            return ACTS[d["act"]](x)
        if op == "maxpool":
            return F.max_pool2d(x, d["kernel"], d.get("stride", d["kernel"]),
                                d.get("padding", 0))
        if op == "avgpool":
            return F.avg_pool2d(x, d["kernel"], d.get("stride", d["kernel"]),
                                d.get("padding", 0), count_include_pad=True)
        if op == "adaptive_avgpool":
            return F.adaptive_avg_pool2d(x, (d["height"], d["width"]))
        if op == "flatten":
            return torch.flatten(x, 1)
        if op == "groupnorm":
            return self.gn(d["name"], d["groups"], d.get("eps", 1e-5), x)
        if op == "pad":
            return F.pad(x, (d["left"], d["right"], d["top"], d["bottom"]))
        if op == "upsample":
            sc = d.get("scale", 2)
            return x.repeat_interleave(sc, dim=2).repeat_interleave(sc, dim=3)
        if op == "attention":
            return self.attention(d, x)
        b = self.t(d["name"] + ".bias") if d.get("bias", True) else None
        return F.linear(x, self.t(d["name"] + ".weight"), b)

    def gn(self, name, groups, eps, x):
        return F.group_norm(x, groups, self.t(name + ".weight"),
                            self.t(name + ".bias"), eps)

    def attention(self, d, x):
        """y = x + proj_out(attn(GN(x))), one head, softmax over the keys."""
        n, c = x.shape[:2]
        h = self.gn(d["name"] + ".norm", d["groups"], d.get("eps", 1e-5), x)
        one = lambda part, v: self.conv({"name": f"{d['name']}.{part}", "bias": True}, v)
        q, k, v = (one(part, h).flatten(2) for part in ("q", "k", "v"))
        w = torch.softmax(q.transpose(1, 2) @ k * c ** -0.5, dim=-1)  # (n, query, key)
        a = (v @ w.transpose(1, 2)).reshape(x.shape)
        return x + one("proj_out", a)

    def time_embedding(self, te, t):
        """dense1(silu(dense0([sin(t f_i), cos(t f_i)]))), f_i = exp(-i ln 1e4 / (half-1))."""
        half = te["dim"] // 2
        i = torch.arange(half, dtype=torch.float64)
        f = torch.exp(-i * math.log(10000.0) / (half - 1))
        a = t.to(torch.float64)[:, None] * f[None, :]
        e = torch.cat([torch.sin(a), torch.cos(a)], dim=1)
        d0, d1 = te["names"]
        e = F.linear(e, self.t(d0 + ".weight"), self.t(d0 + ".bias"))
        return F.linear(F.silu(e), self.t(d1 + ".weight"), self.t(d1 + ".bias"))

    def run(self, g, x, t=None):
        temb = self.time_embedding(g["time_embedding"], t) if "time_embedding" in g else None
        for d in g["stem"]:
            x = self.layer(d, x)
        pos = [x]           # what the readers of each position see
        for p, e in enumerate(g["trunk"], 1):
            y = pos[-1]
            for d in e.get("pre", []):
                y = self.layer(d, y)
            y = self.conv(e, y)
            if "time_projection" in e:
                tp = e["time_projection"]["name"]
                y = y + F.linear(F.silu(temb), self.t(tp + ".weight"),
                                 self.t(tp + ".bias"))[:, :, None, None]
            if "bn" in e:
                y = self.bn(e["bn"]["name"], e["bn"].get("eps", 1e-5), y)
            for s in g["skips"]:
                if s["to"] == p and s.get("mode", "add") == "add":
                    y = y + self.skip(s, pos[s["from"]])
            if "group_norm" in e:
                gnd = e["group_norm"]
                y = self.gn(gnd["name"], gnd["groups"], gnd.get("eps", 1e-5), y)
            y = ACTS[e.get("act", "identity")](y)
            for d in e.get("after", []):
                y = self.layer(d, y)
            for s in g["skips"]:
                if s["to"] == p and s.get("mode") == "concat":
                    y = torch.cat([y, pos[s["from"]]], dim=1)
            pos.append(y)
        x = pos[-1]
        for d in g["head"]:
            x = self.layer(d, x)
        return x

    def skip(self, s, x):
        pr = s.get("projection")
        if pr is None:
            return x
        y = self.conv({"name": pr["name"], "stride": pr.get("stride", 1),
                       "bias": pr.get("bias", False)}, x)
        if "bn" in pr:
            y = self.bn(pr["bn"]["name"], pr["bn"].get("eps", 1e-5), y)
        return y


def randomise_bn(model):
    """Batch-norm statistics and affines, group-norm affines (their defaults,
    1 and 0, would hide a swapped or missing tensor)."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)
        elif isinstance(m, torch.nn.GroupNorm):
            n = m.num_channels
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def check_forward(model, g):
    randomise_bn(model)
    model = model.double().eval()
    sd = {k: v for k, v in model.state_dict().items()}
    args = model_inputs(g, 2, torch.float64)
    it = Interp(sd)
    with torch.no_grad():
        ref, got = model(*args), it.run(g, *args)
    err = ((ref - got).abs().max() / ref.abs().max()).item()
    need(err < 1e-9, f"forward differs from the PyTorch model: rel err {err:.3g}")
    want = sorted(k for k in sd if not k.endswith("num_batches_tracked"))
    need(sorted(it.used) == want,
         f"state_dict use: missing {sorted(set(want) - set(it.used))[:4]}, "
         f"twice {sorted(k for k in set(it.used) if it.used.count(k) > 1)[:4]}")
    return err


# ------------------------------------------------------------ driver

def compare_upstream(ents, segs, path):
    """Our entries against the authors' enumeration for the same network."""
    up = upstream_entries(path)
    need([r[0] for r in up] == list(range(len(up))), f"{path}: ids not 0..n-1")
    keys = [r[1:] for r in up]
    need(len(set(keys)) == len(keys), f"{path}: duplicate entries")
    useg = list(dict.fromkeys((r[1], r[2]) for r in up))
    need(useg == segs, f"segments differ from the authors': "
         f"{sorted(set(segs) ^ set(useg))[:6]}")
    need(len(keys) == len(ents) and set(keys) == set(ents),
         f"entries differ from the authors' ({len(keys)} vs {len(ents)}): only "
         f"theirs {sorted(set(keys) - set(ents))[:4]}, only ours "
         f"{sorted(set(ents) - set(keys))[:4]}")
    order = "same order" if keys == ents else "same set, other order"
    return (f"= authors' enumeration {os.path.basename(os.path.dirname(path))}: "
            f"{len(useg)} segments, {len(keys)} entries ({order})")


def verify(name, path, tables, upstream):
    with open(path) as f:
        g = yaml.safe_load(f)
    check_schema(g)
    ex = EXPECT[name]
    trunk, skips = g["trunk"], [(s["from"], s["to"]) for s in g["skips"]]
    n = len(trunk)
    adds = [s for s in g["skips"] if s.get("mode", "add") == "add"]
    nconcat = len(g["skips"]) - len(adds)
    nproj = sum("projection" in s for s in g["skips"])
    ident = [p for p, e in enumerate(trunk, 1) if e.get("act", "identity") == "identity"]
    need(n == ex["convs"], f"{n} trunk convs, want {ex['convs']}")
    need(len(adds) == ex["skips"], f"{len(adds)} skips, want {ex['skips']}")
    need(nconcat == ex.get("concat", 0), f"{nconcat} concat skips")
    need(nproj == ex["proj"], f"{nproj} projections, want {ex['proj']}")
    need(ident == ex["ident"], f"identity positions {ident}")
    need(g["identity_options"] == ex.get("identity_options", []),
         f"identity_options {g['identity_options']}")
    need(g["barriers"] == ex["barriers"], f"barriers {g['barriers']}")
    segs = valid_segments(n, g["barriers"], skips)
    msg = [f"{n} convs", f"{len(adds)} skips ({nproj} proj)"]
    if nconcat:
        msg.append(f"{nconcat} concat skips")
    if g["identity_options"]:
        msg.append(f"identity_options {g['identity_options']}")
    msg += [f"barriers {g['barriers']}", f"{len(segs)} segments"]
    need(len(segs) == ex["segments"], f"{len(segs)} segments, want {ex['segments']}")
    if "table" in ex:
        pairs = table_pairs(os.path.join(tables, ex["table"]))
        need(segs == pairs, f"segments differ from {ex['table']}: "
             f"{sorted(set(segs) ^ set(pairs))[:6]}")
        opt = os.path.join(tables, ex["table"].replace("/time_", "/opt_time_"))
        need(table_pairs(opt) == pairs, "opt_time table pairs differ")
        msg.append(f"= {ex['table']} ({len(pairs)} rows, same order)")
    elist = entry_list(g, segs)
    ents = count_entries(elist)
    nid = sum(e[2] == 0 for e in elist)
    msg.append(f"docs/method.md section 4 entries {ents[0]} (max K {ents[1]}, {ents[2]} dw"
               + (f" of which {nid} identity)" if nid else ")"))
    if "entries" in ex:
        need(ents == ex["entries"], f"entries {ents}, want {ex['entries']}")
    if ex.get("upstream") == "ddpm":
        msg.append(compare_upstream(elist, segs, upstream))
    model = MODELS[name]().eval()
    ys, ylog = yaml_shapes(g)
    ts, tlog = torch_shapes(model, g)
    for p, (a, b) in enumerate(zip(ys, ts), 1):
        need(a == b, f"position {p} ({trunk[p - 1]['name']}): yaml {a} torch {b}")
    need(ylog == tlog, f"output yaml {ylog} torch {tlog}")
    msg.append(f"shapes ok at {n} convs, last {ys[-1][1]}")
    err = check_forward(model, g)
    msg.append(f"forward rel err {err:.1e}, state_dict covered")
    return msg


def main():
    ap = argparse.ArgumentParser(description="verify the model zoo")
    ap.add_argument("--dir", default=HERE)
    ap.add_argument("--tables", default=TABLES)
    ap.add_argument("--upstream-ddpm", default=UPSTREAM_DDPM,
                    help="the authors' DDPM entries (tests/data/upstream-ddpm)")
    ap.add_argument("names", nargs="*", choices=[[]] + list(MODELS),
                    help="networks to check (default: all)")
    args = ap.parse_args()
    bad = 0
    for name in args.names or MODELS:
        torch.manual_seed(0)
        path = os.path.join(args.dir, name + ".yaml")
        try:
            print(f"{name}: OK: " + "; ".join(verify(name, path, args.tables,
                                                     args.upstream_ddpm)))
        except (Fail, OSError, KeyError, RuntimeError, yaml.YAMLError) as e:
            bad += 1
            print(f"{name}: FAIL: {type(e).__name__}: {e}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
