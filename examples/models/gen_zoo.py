#!/usr/bin/python3
"""Generate the liblayermerge model zoo (graph YAML, docs/formats.md).

Walks torchvision 0.14 model definitions and the DDPM U-Net of ddpm_unet.py
(random init, no weight downloads) and writes one `layermerge-graph` file per
network. The output depends only on the architecture, never on the weights,
so every run produces the same bytes.

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

try:
    import torch
    from torch import nn
    import torchvision
    from torchvision.models.resnet import BasicBlock, Bottleneck
    from torchvision.models.mobilenetv2 import InvertedResidual
    from torchvision.ops.misc import Conv2dNormActivation
except ImportError as exc:  # a test run without torch skips (exit 77)
    print(f"skipped: {exc}")
    sys.exit(77)

import ddpm_unet

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

    def __init__(self, name, nonlinearity, notes, input=INPUT):
        self.name, self.nonlinearity, self.notes = name, nonlinearity, notes
        self.input = input
        self.stem, self.trunk, self.after = [], [], {}
        self.skips, self.barriers, self.head = [], [0], []
        self.identity = []         # identity_options
        self.time_embedding = None
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


# ---------------------------------------------------------------- DDPM U-Net

def op_groupnorm(name, m):
    if not isinstance(m, nn.GroupNorm) or not m.affine:
        raise Unsupported(f"{name}: expected affine GroupNorm, got {type(m).__name__}")
    return [("op", "groupnorm"), ("name", name), ("channels", m.num_channels),
            ("groups", m.num_groups), ("eps", float(m.eps))]


def op_attention(name, m):
    c = dict(op_groupnorm(f"{name}.norm", m.norm))["channels"]
    for part in ("q", "k", "v", "proj_out"):
        f = dict(conv_fields(f"{name}.{part}", getattr(m, part)))
        if (f["in"], f["out"], f["kernel"], f["stride"], f["groups"], f["bias"]) != \
                (c, c, 1, 1, 1, True):
            raise Unsupported(f"{name}.{part}: not a 1x1 {c}->{c} conv with bias")
    return [("op", "attention"), ("name", name), ("channels", c),
            ("groups", m.norm.num_groups), ("eps", float(m.norm.eps))]


def trace_events(model, x, t):
    """Module calls of one forward, in order: (kind, name, module, input, output).

    Hooked: the ResNet blocks (input and output), attention blocks, down- and
    upsampling modules (input), the final norm (input), and every Conv2d
    outside attention blocks and shortcuts (input and output)."""
    events, hooks = [], []
    inner = set()
    for name, m in model.named_modules():
        if isinstance(m, ddpm_unet.AttnBlock):
            inner |= {f"{name}.{p}" for p in ("q", "k", "v", "proj_out")}
        elif isinstance(m, ddpm_unet.ResnetBlock) and hasattr(m, "nin_shortcut"):
            inner.add(f"{name}.nin_shortcut")

    def rec(kind, name):
        def hook(m, inp, out=None):
            events.append((kind, name, m, inp[0], out))
        return hook

    for name, m in model.named_modules():
        if isinstance(m, ddpm_unet.ResnetBlock):
            hooks.append(m.register_forward_pre_hook(rec("block_in", name)))
            hooks.append(m.register_forward_hook(rec("block_out", name)))
        elif isinstance(m, ddpm_unet.AttnBlock):
            hooks.append(m.register_forward_hook(rec("attn", name)))
        elif isinstance(m, (ddpm_unet.Downsample, ddpm_unet.Upsample)):
            if not m.with_conv:
                raise Unsupported(f"{name}: resampling without conv")
            kind = "down" if isinstance(m, ddpm_unet.Downsample) else "up"
            hooks.append(m.register_forward_pre_hook(rec(kind, name)))
        elif isinstance(m, nn.Conv2d) and name not in inner:
            hooks.append(m.register_forward_hook(rec("conv", name)))
        elif name == "norm_out":
            hooks.append(m.register_forward_pre_hook(rec("head", name)))
    try:
        with torch.no_grad():
            model(x, t)
    finally:
        for h in hooks:
            h.remove()
    return events


def build_ddpm(name, ctor):
    """Trunk positions from the data flow of one traced forward pass.

    A position's tensor is recognised where it is read again (torch.equal on
    a random input): a block reading the last position plus an earlier one
    concatenated is a concat skip."""
    model = ctor().eval()
    res = model.resolution
    cin = model.conv_in.in_channels
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, cin, res, res, generator=gen)
    t = torch.randint(0, 1000, (1,), generator=gen)
    # No nonlinearity is inserted where a merged segment ends at a block's
    # output (the authors' DDPM keeps the residual sum linear): the
    # network's nonlinearity, the one inserted there, is identity.
    g = Graph(name, "identity", None, (cin, res, res))
    d0, d1 = model.temb.dense
    if not (isinstance(d0, nn.Linear) and isinstance(d1, nn.Linear)
            and d0.bias is not None and d1.bias is not None
            and d0.out_features == d1.in_features == d1.out_features):
        raise Unsupported("temb.dense: not Linear(dim, C), Linear(C, C) with bias")
    names = {m: n for n, m in model.named_modules()}
    g.time_embedding = [("dim", d0.in_features), ("channels", d0.out_features),
                        ("names", [names[d0], names[d1]])]
    seen = {0: x}          # position -> tensor its readers see (None: not observed)
    pre = []               # `pre` layers waiting for the next trunk conv
    block = None           # (name, module, position it reads)
    block_x = last = None  # the running block's input; the last conv output
    resample = None        # name of the Downsample/Upsample being run
    conv1_pos, pre_read = [], []

    def read(where, tensor, p):
        if seen.get(p) is None or not torch.equal(tensor, seen[p]):
            raise Unsupported(f"{where}: does not read position {p}")

    for kind, mname, m, inp, out in trace_events(model, x, t):
        p = g.pos
        if kind == "conv":
            last = out
        if kind == "block_in":
            if block is not None or resample is not None:
                raise Unsupported(f"{mname}: nested in {block or resample}")
            own = seen.get(p)
            c = own.shape[1] if own is not None else -1
            if inp.shape[1] != c:
                read(mname, inp[:, :c], p)
                rest = inp[:, c:]
                src = [s for s, v in seen.items() if s < p and v is not None
                       and v.shape == rest.shape and torch.equal(v, rest)]
                if len(src) != 1:
                    raise Unsupported(f"{mname}: input is not position {p} "
                                      f"concatenated with one earlier position")
                g.skips.append([("from", src[0]), ("to", p), ("mode", "concat")])
                seen[p] = inp
            read(mname, inp, p)
            if not isinstance(m.dropout, nn.Dropout):
                raise Unsupported(f"{mname}.dropout: {type(m.dropout).__name__}")
            block, block_x = (mname, m, p), inp
            pre = [op_groupnorm(f"{mname}.norm1", m.norm1), op_act("silu")]
        elif kind == "block_out":
            bname, _, a = block
            if mname != bname or g.pos != a + 2:
                raise Unsupported(f"{mname}: not conv1, conv2 in order")
            with torch.no_grad():   # the add skip (a, a+2) from the input read
                sc = m.nin_shortcut(block_x) if hasattr(m, "nin_shortcut") else block_x
            if not torch.equal(out, sc + last):
                raise Unsupported(f"{mname}: output is not conv2 + shortcut(input)")
            seen[g.pos], block = out, None
        elif kind == "attn":
            read(mname, inp, p)
            g.after.setdefault(p, []).append(op_attention(mname, m))
            seen[p] = out
        elif kind in ("down", "up"):
            read(mname, inp, p)
            resample = mname
            if kind == "down":
                pre = [[("op", "pad"), ("top", 0), ("left", 0), ("bottom", 1),
                        ("right", 1)]]
            else:
                g.after.setdefault(p, []).append([("op", "upsample"), ("scale", 2)])
        elif kind == "head":
            read(mname, inp, p)
            g.head = [op_groupnorm(mname, m), op_act("silu")]
        elif kind == "conv" and mname == "conv_out":
            if len(g.head) != 2:
                raise Unsupported("conv_out: not after norm_out")
            g.head.append(op_conv(mname, m))
        elif kind == "conv" and block is not None:
            bname, blk, a = block
            if mname == f"{bname}.conv1" and p == a:
                if blk.temb_proj.in_features != d0.out_features:
                    raise Unsupported(f"{bname}.temb_proj: input width")
                e = conv_fields(mname, m)
                gn = dict(op_groupnorm(f"{bname}.norm2", blk.norm2))
                e += [("pre", pre), ("time_projection", [("name", f"{bname}.temb_proj")]),
                      ("group_norm", [("name", gn["name"]), ("groups", gn["groups"]),
                                      ("eps", gn["eps"])]),
                      ("act", "silu")]
                pre_read.append(p)
                conv1_pos.append(g.add(e))
                seen[g.pos] = None      # inside the block: never read again
            elif mname == f"{bname}.conv2" and p == a + 1:
                g.add(trunk_entry(mname, m))
                skip = [("from", a), ("to", g.pos)]
                if hasattr(blk, "nin_shortcut"):
                    f = dict(conv_fields(f"{bname}.nin_shortcut", blk.nin_shortcut))
                    if (f["kernel"], f["stride"], f["padding"], f["groups"]) != (1, 1, 0, 1):
                        raise Unsupported(f"{bname}.nin_shortcut: not a dense 1x1 conv")
                    skip.append(("projection", [("name", f["name"]), ("stride", 1),
                                                ("bias", f["bias"])]))
                g.skips.append(skip)
            else:
                raise Unsupported(f"{mname}: conv out of order in {bname}")
            pre = []
        elif kind == "conv" and resample is not None and mname == f"{resample}.conv":
            e = trunk_entry(mname, m)
            if pre:   # downsample: the pad is `pre`, the conv pads nothing
                if dict(e)["padding"] != 0:
                    raise Unsupported(f"{mname}: padding besides the explicit pad")
                e = e[:-1] + [("pre", pre), ("act", "identity")]
                pre_read.append(p)
            else:     # upsample conv: the whole segment may become identity
                g.identity.append(p + 1)
            g.add(e)
            seen[g.pos], resample, pre = out, None, []
        elif kind == "conv" and mname == "conv_in" and p == 0:
            read(mname, inp, 0)
            g.add(trunk_entry(mname, m))
            seen[g.pos] = out
        else:
            raise Unsupported(f"{mname}: {kind} here")
    if len(g.head) != 3:
        raise Unsupported("head: norm_out, SiLU, conv_out not found")
    # Barriers: the ends of the trunk and of every skip, the positions with
    # fixed `after` layers, and the input of every conv with `pre` layers;
    # what is left are the block-internal conv1 outputs.
    n = g.pos
    bars = {0, n} | set(pre_read) | set(g.after)
    for skip in g.skips:
        d = dict(skip)
        bars |= {d["from"], d["to"]}
    g.barriers = sorted(bars)
    g.notes = (f"barriers: every position but the {len(conv1_pos)} ResNet-block "
               f"conv1 outputs (skip ends, attention and upsample positions, inputs "
               f"of convs with `pre`); identity_options: the upsample convs")
    return model, g


ZOO = [
    ("resnet18", lambda: build_resnet("resnet18", torchvision.models.resnet18)),
    ("resnet34", lambda: build_resnet("resnet34", torchvision.models.resnet34)),
    ("resnet50", lambda: build_resnet("resnet50", torchvision.models.resnet50)),
    ("mobilenetv2", lambda: build_mobilenetv2("mobilenetv2", 1.0)),
    ("mobilenetv2_w1.4", lambda: build_mobilenetv2("mobilenetv2_w1.4", 1.4)),
    ("vgg19", lambda: build_vgg("vgg19", torchvision.models.vgg19)),
    ("ddpm_cifar10", lambda: build_ddpm("ddpm_cifar10", ddpm_unet.DDPMUNet.cifar10)),
]

TV = "torchvision 0.14 "
SOURCES = {
    "resnet18": TV + "resnet18()", "resnet34": TV + "resnet34()",
    "resnet50": TV + "resnet50() (v1.5: stride on conv2)",
    "mobilenetv2": TV + "mobilenet_v2(width_mult=1.0)",
    "mobilenetv2_w1.4": TV + "mobilenet_v2(width_mult=1.4)",
    "vgg19": TV + "vgg19() (no batch norm)",
    "ddpm_cifar10": "examples/models/ddpm_unet.py DDPMUNet.cifar10()",
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

    def affine(name):
        keys.extend((name + ".weight", name + ".bias"))

    def layers(seq):
        for layer in seq:
            d = dict(layer)
            if d["op"] in ("conv", "linear"):
                conv_like(layer)
            elif d["op"] == "batchnorm":
                bn(d["name"])
            elif d["op"] == "groupnorm":
                affine(d["name"])
            elif d["op"] == "attention":
                for part in ("norm", "q", "k", "v", "proj_out"):
                    affine(f"{d['name']}.{part}")

    if g.time_embedding is not None:
        for name in dict(g.time_embedding)["names"]:
            affine(name)
    layers(g.stem + g.head)
    for p, entry in enumerate(g.trunk, start=1):
        d = dict(entry)
        layers(d.get("pre", []))
        conv_like(entry)
        if "bn" in d:
            bn(dict(d["bn"])["name"])
        for key in ("time_projection", "group_norm"):
            if key in d:
                affine(dict(d[key])["name"])
        layers(g.after.get(p, []))
    for skip in g.skips:
        if "projection" in dict(skip):
            p = dict(dict(skip)["projection"])
            conv_like([("name", p["name"]), ("bias", p["bias"])])
            if "bn" in p:
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
        parts.append(f"{k}: {value(v)}")
    return "{" + ", ".join(parts) + "}"


def value(v):
    """A mapping (list of pairs), a plain list of scalars, or a scalar."""
    if isinstance(v, list) and v and not isinstance(v[0], tuple):
        return "[" + ", ".join(scalar(x) for x in v) + "]"
    return flow(v) if isinstance(v, list) else scalar(v)


def layer_list(key, layers):
    if not layers:
        return [f"{key}: []"]
    return [f"{key}:"] + [f"  - {flow(layer)}" for layer in layers]


def render(g):
    out = [f"# {g.name}: generated by examples/models/gen_zoo.py from "
           f"{SOURCES[g.name]}; do not edit.",
           f"# {g.notes}.",
           "format: layermerge-graph",
           "version: 1",
           f"name: {g.name}",
           f"input: {{channels: {g.input[0]}, height: {g.input[1]}, width: {g.input[2]}}}",
           f"nonlinearity: {g.nonlinearity}"]
    if g.time_embedding is not None:
        out.append(f"time_embedding: {value(g.time_embedding)}")
    out += layer_list("stem", g.stem)
    out.append("trunk:")
    for p, entry in enumerate(g.trunk, start=1):
        out.append(f"  # position {p}")
        first = True
        for k, v in entry:
            lead = "  - " if first else "    "
            first = False
            if k == "pre":      # a list of layers, written like `after`
                out.append(f"{lead}pre:")
                out += [f"      - {flow(layer)}" for layer in v]
            else:
                out.append(f"{lead}{k}: {value(v)}")
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
    out.append("identity_options: [" + ", ".join(str(p) for p in g.identity) + "]")
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
