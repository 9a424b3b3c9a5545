#!/usr/bin/python3
"""Generate the liblayermerge model zoo (graph YAML, docs/formats.md).

Walks torchvision 0.14 model definitions (random init, no weight downloads)
and writes one `layermerge-graph` file per network. The output depends only
on the architecture, never on the weights, so every run produces the same
bytes.

    /usr/bin/python3 examples/models/gen_zoo.py            # write beside this script
    /usr/bin/python3 examples/models/gen_zoo.py --out DIR  # write into DIR
    /usr/bin/python3 examples/models/gen_zoo.py --check    # regenerate into a temp
                                                           # dir, diff, exit 1 on change

The trunk, barrier and identity rules per family are documented in
docs/models.md; the semantic checks live in verify_zoo.py.
"""

import argparse
import difflib
import os
import sys
import tempfile

import torch
from torch import nn
import torchvision
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.ops.misc import Conv2dNormActivation

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT = (3, 224, 224)
CLASSES = 1000

ACTS = {nn.ReLU: "relu", nn.ReLU6: "relu6"}


class Unsupported(Exception):
    """A module the graph format cannot express (report, never guess)."""


# ---------------------------------------------------------------- layers

def _square(name, what, pair):
    if pair[0] != pair[1]:
        raise Unsupported(f"{name}: non-square {what} {pair}")
    return pair[0]


def conv_fields(name, m):
    """The `conv` keys of a torch Conv2d, refusing what the format lacks."""
    if not isinstance(m, nn.Conv2d):
        raise Unsupported(f"{name}: expected Conv2d, got {type(m).__name__}")
    if m.dilation != (1, 1) or m.padding_mode != "zeros":
        raise Unsupported(f"{name}: dilation/padding_mode not expressible")
    if isinstance(m.padding, str):
        raise Unsupported(f"{name}: string padding {m.padding!r}")
    return [("name", name), ("in", m.in_channels), ("out", m.out_channels),
            ("kernel", _square(name, "kernel", m.kernel_size)),
            ("stride", _square(name, "stride", m.stride)),
            ("padding", _square(name, "padding", m.padding)),
            ("groups", m.groups), ("bias", m.bias is not None)]


def bn_check(name, m):
    if not isinstance(m, nn.BatchNorm2d):
        raise Unsupported(f"{name}: expected BatchNorm2d, got {type(m).__name__}")
    if not (m.affine and m.track_running_stats):
        raise Unsupported(f"{name}: batch norm without affine/running stats")
    return m


def act_name(name, m):
    for cls, act in ACTS.items():
        if type(m) is cls:
            return act
    raise Unsupported(f"{name}: activation {type(m).__name__}")


def op_conv(name, m):
    return [("op", "conv")] + conv_fields(name, m)


def op_bn(name, m):
    bn_check(name, m)
    return [("op", "batchnorm"), ("name", name), ("channels", m.num_features),
            ("eps", float(m.eps))]


def op_act(act):
    return [("op", "act"), ("act", act)]


def op_maxpool(name, m):
    if m.ceil_mode or m.dilation not in (1, (1, 1)):
        raise Unsupported(f"{name}: max-pool with ceil_mode/dilation")
    sq = lambda v: v if isinstance(v, int) else _square(name, "pool", v)
    return [("op", "maxpool"), ("kernel", sq(m.kernel_size)),
            ("stride", sq(m.stride)), ("padding", sq(m.padding))]


def op_adaptive(size):
    h, w = (size, size) if isinstance(size, int) else size
    return [("op", "adaptive_avgpool"), ("height", h), ("width", w)]


def op_linear(name, m):
    return [("op", "linear"), ("name", name), ("in", m.in_features),
            ("out", m.out_features), ("bias", m.bias is not None)]


def trunk_entry(name, conv, bn_name=None, bn=None, act="identity"):
    """One trunk position: conv (+ batch norm) + activation."""
    entry = conv_fields(name, conv)
    if bn is not None:
        bn_check(bn_name, bn)
        entry.append(("bn", [("name", bn_name), ("eps", float(bn.eps))]))
    entry.append(("act", act))
    return entry


def head_sequential(prefix, seq):
    """Classifier Sequential: Linear/ReLU kept, Dropout is inference identity."""
    out = []
    for idx, m in seq.named_children():
        name = f"{prefix}.{idx}"
        if isinstance(m, nn.Linear):
            out.append(op_linear(name, m))
        elif isinstance(m, nn.Dropout):
            continue
        else:
            out.append(op_act(act_name(name, m)))
    return out


class Graph:
    """The pieces of one graph file, in the order formats.md writes them."""

    def __init__(self, name, nonlinearity, notes):
        self.name, self.nonlinearity, self.notes = name, nonlinearity, notes
        self.stem, self.trunk, self.after = [], [], {}
        self.skips, self.barriers, self.head = [], [0], []
        self.strided = []          # positions written by stride > 1 trunk convs

    def add(self, entry):
        self.trunk.append(entry)
        if dict(entry)["stride"] > 1:
            self.strided.append(len(self.trunk))
        return len(self.trunk)

    @property
    def pos(self):
        return len(self.trunk)


# ---------------------------------------------------------------- families

def build_resnet(name, fn):
    model = fn(num_classes=CLASSES)
    g = Graph(name, "relu", None)
    g.stem = [op_conv("conv1", model.conv1), op_bn("bn1", model.bn1),
              op_act(act_name("relu", model.relu)),
              op_maxpool("maxpool", model.maxpool)]
    bottleneck = False
    for li in range(1, 5):
        for bi, blk in enumerate(getattr(model, f"layer{li}")):
            pre = f"layer{li}.{bi}"
            start = g.pos
            if isinstance(blk, Bottleneck):
                bottleneck, n = True, 3
            elif isinstance(blk, BasicBlock):
                n = 2
            else:
                raise Unsupported(f"{pre}: block {type(blk).__name__}")
            act = act_name(f"{pre}.relu", blk.relu)
            for ci in range(1, n + 1):
                g.add(trunk_entry(f"{pre}.conv{ci}", getattr(blk, f"conv{ci}"),
                                  f"{pre}.bn{ci}", getattr(blk, f"bn{ci}"), act))
            skip = [("from", start), ("to", g.pos)]
            if blk.downsample is not None:
                skip.append(("projection", projection(f"{pre}.downsample",
                                                      blk.downsample)))
            g.skips.append(skip)
    # Basic blocks: barrier at the strided 3x3's output (never merged with
    # the next 3x3). Bottleneck: one position later, so the 1x1 conv3 may
    # merge into the strided 3x3 (the MobileNetV2 rule).
    shift = 1 if bottleneck else 0
    g.barriers += [p + shift for p in g.strided]
    g.notes = ("barriers: 0 and " +
               ("the conv3 (1x1) output right after each stride-2 conv2"
                if bottleneck else "the output of each stride-2 conv1") +
               " (layer2/3/4); identity_options: none")
    g.head = [op_adaptive(model.avgpool.output_size), [("op", "flatten")],
              op_linear("fc", model.fc)]
    return model, g


def projection(pre, seq):
    if len(seq) != 2:
        raise Unsupported(f"{pre}: projection is not conv + batch norm")
    conv, bn = seq[0], bn_check(f"{pre}.1", seq[1])
    f = dict(conv_fields(f"{pre}.0", conv))
    if f["kernel"] != 1 or f["padding"] != 0 or f["groups"] != 1:
        raise Unsupported(f"{pre}.0: projection is not a dense 1x1 conv")
    return [("name", f"{pre}.0"), ("stride", f["stride"]), ("bias", f["bias"]),
            ("bn", [("name", f"{pre}.1"), ("eps", float(bn.eps))])]


def cna(prefix, m):
    """Conv2dNormActivation -> (conv, bn, act) with state_dict names."""
    if not isinstance(m, Conv2dNormActivation) or len(m) != 3:
        raise Unsupported(f"{prefix}: expected conv+bn+act")
    return (f"{prefix}.0", m[0]), (f"{prefix}.1", m[1]), act_name(f"{prefix}.2", m[2])


def build_mobilenetv2(name, width):
    model = torchvision.models.mobilenet_v2(num_classes=CLASSES, width_mult=width)
    g = Graph(name, "relu6", "barriers: 0 and one position after each stride-2 "
              "depthwise conv (its 1x1 projection may merge into it); "
              "identity_options: none")
    feats = list(model.features.named_children())
    (cn, c), (bn_n, bn), act = cna("features.0", feats[0][1])
    g.stem = [op_conv(cn, c), op_bn(bn_n, bn), op_act(act)]
    for idx, blk in feats[1:-1]:
        if not isinstance(blk, InvertedResidual):
            raise Unsupported(f"features.{idx}: {type(blk).__name__}")
        start = g.pos
        layers = list(blk.conv.named_children())
        j = 0
        while j < len(layers):
            sub, m = layers[j]
            pre = f"features.{idx}.conv.{sub}"
            if isinstance(m, Conv2dNormActivation):
                (cn, c), (bn_n, bn), act = cna(pre, m)
                g.add(trunk_entry(cn, c, bn_n, bn, act))
                j += 1
            else:   # linear bottleneck: plain conv + batch norm, identity
                bsub, bm = layers[j + 1]
                g.add(trunk_entry(pre, m, f"features.{idx}.conv.{bsub}", bm))
                j += 2
        if blk.use_res_connect:
            g.skips.append([("from", start), ("to", g.pos)])
    g.barriers += [p + 1 for p in g.strided]
    idx, last = feats[-1]
    (cn, c), (bn_n, bn), act = cna(f"features.{idx}", last)
    # MobileNetV2.forward pools with F.adaptive_avg_pool2d(x, (1, 1)) and
    # flattens; neither is a module, so they are written out here.
    g.head = [op_conv(cn, c), op_bn(bn_n, bn), op_act(act), op_adaptive(1),
              [("op", "flatten")]] + head_sequential("classifier", model.classifier)
    return model, g


def build_vgg(name, fn):
    model = fn(num_classes=CLASSES)
    g = Graph(name, "relu", "barriers: 0 and every max-pool position (pools "
              "are fixed `after` layers); identity_options: none")
    for idx, m in model.features.named_children():
        lname = f"features.{idx}"
        if isinstance(m, nn.Conv2d):
            g.add(trunk_entry(lname, m))
        elif isinstance(m, nn.MaxPool2d):
            g.after.setdefault(g.pos, []).append(op_maxpool(lname, m))
        elif g.pos and dict(g.trunk[-1])["act"] == "identity":
            g.trunk[-1][-1] = ("act", act_name(lname, m))
        else:
            raise Unsupported(f"{lname}: {type(m).__name__} here")
    g.barriers += sorted(g.after)
    g.head = [op_adaptive(model.avgpool.output_size), [("op", "flatten")]]
    g.head += head_sequential("classifier", model.classifier)
    return model, g


ZOO = [
    ("resnet18", lambda: build_resnet("resnet18", torchvision.models.resnet18)),
    ("resnet34", lambda: build_resnet("resnet34", torchvision.models.resnet34)),
    ("resnet50", lambda: build_resnet("resnet50", torchvision.models.resnet50)),
    ("mobilenetv2", lambda: build_mobilenetv2("mobilenetv2", 1.0)),
    ("mobilenetv2_w1.4", lambda: build_mobilenetv2("mobilenetv2_w1.4", 1.4)),
    ("vgg19", lambda: build_vgg("vgg19", torchvision.models.vgg19)),
]

SOURCES = {
    "resnet18": "resnet18()", "resnet34": "resnet34()",
    "resnet50": "resnet50() (v1.5: stride on conv2)",
    "mobilenetv2": "mobilenet_v2(width_mult=1.0)",
    "mobilenetv2_w1.4": "mobilenet_v2(width_mult=1.4)",
    "vgg19": "vgg19() (no batch norm)",
}


# ---------------------------------------------------------------- coverage

def referenced_tensors(g):
    """State_dict keys the graph names (conv/linear weight+bias, BN four)."""
    keys = []

    def conv_like(fields):
        d = dict(fields)
        keys.append(d["name"] + ".weight")
        if d.get("bias", True):
            keys.append(d["name"] + ".bias")

    def bn(name):
        keys.extend(f"{name}.{t}" for t in
                    ("weight", "bias", "running_mean", "running_var"))

    for layer in g.stem + g.head:
        d = dict(layer)
        if d["op"] in ("conv", "linear"):
            conv_like(layer)
        elif d["op"] == "batchnorm":
            bn(d["name"])
    for entry in g.trunk:
        conv_like(entry)
        if "bn" in dict(entry):
            bn(dict(dict(entry)["bn"])["name"])
    for skip in g.skips:
        if "projection" in dict(skip):
            p = dict(dict(skip)["projection"])
            conv_like([("name", p["name"]), ("bias", p["bias"])])
            bn(dict(p["bn"])["name"])
    return keys


def check_coverage(model, g):
    """Every parameter and running statistic is named exactly once."""
    want = sorted(k for k in model.state_dict()
                  if not k.endswith("num_batches_tracked"))
    got = referenced_tensors(g)
    if sorted(got) != want or len(set(got)) != len(got):
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        raise Unsupported(f"{g.name}: state_dict coverage differs; "
                          f"missing {missing[:5]} extra {extra[:5]}")


# ---------------------------------------------------------------- YAML

def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        s = repr(v)
        if "e" in s and "." not in s.split("e")[0]:   # YAML 1.1 needs the dot
            m, e = s.split("e")
            s = f"{m}.0e{e}"
        return s
    return str(v)


def flow(fields):
    parts = []
    for k, v in fields:
        parts.append(f"{k}: {flow(v) if isinstance(v, list) else scalar(v)}")
    return "{" + ", ".join(parts) + "}"


def layer_list(key, layers):
    if not layers:
        return [f"{key}: []"]
    return [f"{key}:"] + [f"  - {flow(layer)}" for layer in layers]


def render(g):
    out = [f"# {g.name}: generated by examples/models/gen_zoo.py from "
           f"torchvision 0.14 {SOURCES[g.name]}; do not edit.",
           f"# {g.notes}.",
           "format: layermerge-graph",
           "version: 1",
           f"name: {g.name}",
           f"input: {{channels: {INPUT[0]}, height: {INPUT[1]}, width: {INPUT[2]}}}",
           f"nonlinearity: {g.nonlinearity}"]
    out += layer_list("stem", g.stem)
    out.append("trunk:")
    for p, entry in enumerate(g.trunk, start=1):
        out.append(f"  # position {p}")
        first = True
        for k, v in entry:
            lead = "  - " if first else "    "
            first = False
            out.append(f"{lead}{k}: {flow(v) if isinstance(v, list) else scalar(v)}")
        if p in g.after:
            out.append("    after:")
            out += [f"      - {flow(layer)}" for layer in g.after[p]]
    out.append("skips:" if g.skips else "skips: []")
    for skip in g.skips:
        d = dict(skip)
        if "projection" not in d:
            out.append(f"  - {flow(skip)}")
        else:
            out += [f"  - from: {d['from']}", f"    to: {d['to']}",
                    f"    projection: {flow(d['projection'])}"]
    out.append("barriers: [" + ", ".join(str(b) for b in g.barriers) + "]")
    out.append("identity_options: []")
    out += layer_list("head", g.head)
    return "\n".join(out) + "\n"


def generate(out_dir):
    torch.manual_seed(0)
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for fname, build in ZOO:
        model, g = build()
        check_coverage(model, g)
        path = os.path.join(out_dir, fname + ".yaml")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(render(g))
        written.append(path)
    return written


def check(ref_dir):
    bad = 0
    with tempfile.TemporaryDirectory(prefix="gen_zoo.") as tmp:
        for path in generate(tmp):
            base = os.path.basename(path)
            ref = os.path.join(ref_dir, base)
            new = open(path, encoding="utf-8").read().splitlines(True)
            try:
                old = open(ref, encoding="utf-8").read().splitlines(True)
            except FileNotFoundError:
                print(f"{ref}: missing", file=sys.stderr)
                bad += 1
                continue
            if old != new:
                bad += 1
                sys.stderr.writelines(difflib.unified_diff(
                    old, new, ref, f"regenerated/{base}"))
            else:
                print(f"{ref}: up to date")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=HERE,
                    help="directory to write (or, with --check, to compare)")
    ap.add_argument("--check", action="store_true",
                    help="regenerate into a temp dir and diff against --out")
    args = ap.parse_args()
    if not torchvision.__version__.startswith("0.14"):
        print(f"warning: torchvision {torchvision.__version__}, zoo is "
              f"defined against 0.14", file=sys.stderr)
    try:
        if args.check:
            return check(args.out)
        for path in generate(args.out):
            print(path)
    except Unsupported as e:
        print(f"gen_zoo: cannot express: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
