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

    /usr/bin/python3 examples/models/verify_zoo.py [--dir D] [--tables T]

Exit status 1 when any check fails.
"""

import argparse
import csv
import os
import sys

import torch
import torch.nn.functional as F
import torchvision
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
TABLES = os.path.join(HERE, "..", "..", "tests", "data", "upstream-kim23")

MODELS = {
    "resnet18": lambda: torchvision.models.resnet18(),
    "resnet34": lambda: torchvision.models.resnet34(),
    "resnet50": lambda: torchvision.models.resnet50(),
    "mobilenetv2": lambda: torchvision.models.mobilenet_v2(width_mult=1.0),
    "mobilenetv2_w1.4": lambda: torchvision.models.mobilenet_v2(width_mult=1.4),
    "vgg19": lambda: torchvision.models.vgg19(),
}

# convs, skips, projections, identity positions, barriers, valid segments
# (docs/method.md section 3; resnet18/50 pinned from this zoo), (entries, largest K,
# depthwise entries) where docs/method.md section 4 gives them, kim23 table
MBV2_ID = list(range(2, 51, 3))
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
}

# docs/formats.md: required and optional keys
TOP = {"format", "version", "name", "input", "nonlinearity", "stem", "trunk",
       "skips", "barriers", "identity_options", "head"}
TOP_REQ = TOP - {"nonlinearity"}
TRUNK_REQ = {"name", "in", "out", "kernel"}
TRUNK_OPT = {"stride", "padding", "groups", "bias", "bn", "act", "after"}
OPS = {
    "conv": ({"in", "out", "kernel"}, {"stride", "padding", "groups", "bias", "name"}),
    "batchnorm": ({"channels"}, {"eps", "name"}),
    "act": ({"act"}, set()),
    "maxpool": ({"kernel"}, {"stride", "padding"}),
    "avgpool": ({"kernel"}, {"stride", "padding"}),
    "adaptive_avgpool": ({"height", "width"}, set()),
    "flatten": (set(), set()),
    "linear": ({"in", "out"}, {"bias", "name"}),
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
    for s in g["skips"]:
        keys_ok("skip", s, {"from", "to"}, {"projection"})
        if "projection" in s:
            keys_ok("projection", s["projection"], set(),
                    {"name", "stride", "bias", "bn"})


# ------------------------------------------------------------ docs/method.md section 3 and 4

def valid_segments(n, barriers, skips):
    out = []
    for st in range(n):
        for end in range(st + 1, n + 1):
            if any(st < b < end for b in barriers):
                continue
            if all((st <= s and t <= end) or (s <= st and end <= t)
                   or end <= s or t <= st for s, t in skips):
                out.append((st, end))
    return out


def segment_entries(trunk, st, end):
    """Distinct (K, depthwise) of docs/method.md section 4 options of segment (st, end]."""
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
    return {(K, d) for K, d, _, ne in states if ne}


def count_entries(g, segs):
    ents = [(s, e, K, d) for s, e in segs for K, d in
            sorted(segment_entries(g["trunk"], s, e))]
    return len(ents), max(K for _, _, K, _ in ents), sum(d for *_, d in ents)


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
    return shape


def yaml_shapes(g):
    """(input, output) shape of every trunk conv, and the logits shape."""
    i = g["input"]
    shape = (i["channels"], i["height"], i["width"])
    for layer in g["stem"]:
        shape = layer_shape(layer, shape)
    pos, convs = [shape], []
    for e in g["trunk"]:
        out = layer_shape(dict(e, op="conv"), pos[-1])
        convs.append((pos[-1], out))
        for layer in e.get("after", []):
            out = layer_shape(layer, out)
        pos.append(out)
    for s in g["skips"]:
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


def torch_shapes(model, g):
    seen = {}
    hooks = [model.get_submodule(e["name"]).register_forward_hook(
        lambda m, inp, out, n=e["name"]: seen.__setitem__(
            n, (tuple(inp[0].shape[1:]), tuple(out.shape[1:]))))
        for e in g["trunk"]]
    i = g["input"]
    with torch.no_grad():
        logits = model(torch.zeros(1, i["channels"], i["height"], i["width"]))
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
        b = self.t(d["name"] + ".bias") if d.get("bias", True) else None
        return F.linear(x, self.t(d["name"] + ".weight"), b)

    def run(self, g, x):
        for d in g["stem"]:
            x = self.layer(d, x)
        pos = [x]
        for p, e in enumerate(g["trunk"], 1):
            y = self.conv(e, pos[-1])
            if "bn" in e:
                y = self.bn(e["bn"]["name"], e["bn"].get("eps", 1e-5), y)
            for s in g["skips"]:
                if s["to"] == p:
                    y = y + self.skip(s, pos[s["from"]])
            y = ACTS[e.get("act", "identity")](y)
            for d in e.get("after", []):
                y = self.layer(d, y)
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
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def check_forward(model, g):
    randomise_bn(model)
    model = model.double().eval()
    sd = {k: v for k, v in model.state_dict().items()}
    i = g["input"]
    x = torch.randn(2, i["channels"], i["height"], i["width"],
                    generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    it = Interp(sd)
    with torch.no_grad():
        ref, got = model(x), it.run(g, x)
    err = ((ref - got).abs().max() / ref.abs().max()).item()
    need(err < 1e-9, f"forward differs from torchvision: rel err {err:.3g}")
    want = sorted(k for k in sd if not k.endswith("num_batches_tracked"))
    need(sorted(it.used) == want,
         f"state_dict use: missing {sorted(set(want) - set(it.used))[:4]}, "
         f"twice {sorted(k for k in set(it.used) if it.used.count(k) > 1)[:4]}")
    return err


# ------------------------------------------------------------ driver

def verify(name, path, tables):
    with open(path) as f:
        g = yaml.safe_load(f)
    check_schema(g)
    ex = EXPECT[name]
    trunk, skips = g["trunk"], [(s["from"], s["to"]) for s in g["skips"]]
    n = len(trunk)
    nproj = sum("projection" in s for s in g["skips"])
    ident = [p for p, e in enumerate(trunk, 1) if e.get("act", "identity") == "identity"]
    need(n == ex["convs"], f"{n} trunk convs, want {ex['convs']}")
    need(len(skips) == ex["skips"], f"{len(skips)} skips, want {ex['skips']}")
    need(nproj == ex["proj"], f"{nproj} projections, want {ex['proj']}")
    need(ident == ex["ident"], f"identity positions {ident}")
    need(g["identity_options"] == [], "identity_options not empty")
    need(g["barriers"] == ex["barriers"], f"barriers {g['barriers']}")
    segs = valid_segments(n, g["barriers"], skips)
    msg = [f"{n} convs", f"{len(skips)} skips ({nproj} proj)",
           f"barriers {g['barriers']}", f"{len(segs)} segments"]
    need(len(segs) == ex["segments"], f"{len(segs)} segments, want {ex['segments']}")
    if "table" in ex:
        pairs = table_pairs(os.path.join(tables, ex["table"]))
        need(segs == pairs, f"segments differ from {ex['table']}: "
             f"{sorted(set(segs) ^ set(pairs))[:6]}")
        opt = os.path.join(tables, ex["table"].replace("/time_", "/opt_time_"))
        need(table_pairs(opt) == pairs, "opt_time table pairs differ")
        msg.append(f"= {ex['table']} ({len(pairs)} rows, same order)")
    ents = count_entries(g, segs)
    msg.append(f"docs/method.md section 4 entries {ents[0]} (max K {ents[1]}, {ents[2]} dw)")
    if "entries" in ex:
        need(ents == ex["entries"], f"entries {ents}, want {ex['entries']}")
    model = MODELS[name]().eval()
    ys, ylog = yaml_shapes(g)
    ts, tlog = torch_shapes(model, g)
    for p, (a, b) in enumerate(zip(ys, ts), 1):
        need(a == b, f"position {p} ({trunk[p - 1]['name']}): yaml {a} torch {b}")
    need(ylog == tlog, f"logits yaml {ylog} torch {tlog}")
    msg.append(f"shapes ok at {n} convs, last {ys[-1][1]}")
    err = check_forward(model, g)
    msg.append(f"forward rel err {err:.1e}, state_dict covered")
    return msg


def main():
    ap = argparse.ArgumentParser(description="verify the model zoo")
    ap.add_argument("--dir", default=HERE)
    ap.add_argument("--tables", default=TABLES)
    args = ap.parse_args()
    torch.manual_seed(0)
    bad = 0
    for name in MODELS:
        path = os.path.join(args.dir, name + ".yaml")
        try:
            print(f"{name}: OK: " + "; ".join(verify(name, path, args.tables)))
        except (Fail, OSError, KeyError, yaml.YAMLError) as e:
            bad += 1
            print(f"{name}: FAIL: {type(e).__name__}: {e}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
