"""A small ResNet for the 8x8 digits, its graph export, and its
reconfiguration by a liblayermerge plan (docs/method.md section 8).

The network: stem conv3x3 + BN + ReLU, stages of basic blocks (two 3x3
convs with BN; ReLU after the first and after the skip addition), the
first block of a strided or widening stage with a 1x1 projection skip,
global average pool, linear classifier. Module names follow torchvision's
ResNet (`conv1`, `layer2.0.downsample.0`, `fc`), so that state_dict names
are the graph's tensor names.

Trunk numbering (docs/models.md, "ResNet-18/34"): each block's conv1 and
conv2 are trunk convs; the block's skip goes from its input position to
its conv2 position; barriers are 0 and the output of every stride-2 conv1.
"""
import gzip

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DIGITS = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
ACTS = {"identity": nn.Identity, "relu": nn.ReLU, "relu6": nn.ReLU6,
        "silu": nn.SiLU, "gelu": nn.GELU, "hardswish": nn.Hardswish,
        "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


# ---- data ---------------------------------------------------------------

def load_digits(side, seed=0, n_val=300, n_test=300):
    """The 1797 sklearn digits (64 pixels 0..16 + label per row), scaled to
    [-1, 1], upsampled bilinearly to side x side, shuffled with `seed` and
    split into (train, val, test) pairs of (x [n,1,side,side], y [n])."""
    with gzip.open(DIGITS, "rt") as f:
        rows = np.loadtxt(f, delimiter=",", dtype=np.float32)
    if rows.shape != (1797, 65):
        raise SystemExit(f"{DIGITS}: expected 1797x65 values, got "
                         f"{rows.shape}")
    x = torch.from_numpy(rows[:, :64] / 8.0 - 1.0).reshape(-1, 1, 8, 8)
    x = F.interpolate(x, size=(side, side), mode="bilinear",
                      align_corners=False)
    y = torch.from_numpy(rows[:, 64].astype(np.int64))
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=gen)
    x, y = x[order], y[order]
    a, b = len(y) - n_val - n_test, len(y) - n_test
    return (x[:a], y[:a]), (x[a:b], y[a:b]), (x[b:], y[b:])


# ---- the network --------------------------------------------------------

def centre_fit(x, h, w):
    """Symmetric zero-pad or centre-crop to h x w (docs/method.md section 8), with the
    engine's rounding: destination index i reads source i - (d - s) / 2,
    the division truncating toward zero."""
    sh, sw = x.shape[-2:]
    if (sh, sw) == (h, w):
        return x
    oy, ox = int((h - sh) / 2), int((w - sw) / 2)
    return F.pad(x, (ox, w - sw - ox, oy, h - sh - oy))


def project_fit(x, proj, stride, h, w):
    """A strided 1x1 projection whose output must be h x w when its input
    size was changed by a plan: output (y, x) reads input (s*y + dy,
    s*x + dx), dy = floor((sh - 1 - (h - 1) * s) / 2), as the merged kernel
    does; the bias lands everywhere."""
    sh, sw = x.shape[-2:]
    ty, tx = (h - 1) * stride + 1, (w - 1) * stride + 1
    dy, dx = (sh - ty) // 2, (sw - tx) // 2
    return proj(F.pad(x, (-dx, tx - sw + dx, -dy, ty - sh + dy)))


class BasicBlock(nn.Module):
    """Two 3x3 convs with BN and a skip; `keep`, `acts` and the convs'
    padding are what a plan changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False),
                nn.BatchNorm2d(cout))
        self.keep = [True, True]
        self.act1, self.act2 = nn.ReLU(), nn.ReLU()
        self.skip_on = True

    def forward(self, x):
        y = self.bn1(self.conv1(x)) if self.keep[0] else x
        y = self.act1(y)
        out = self.bn2(self.conv2(y)) if self.keep[1] else y
        if self.skip_on:
            h, w = out.shape[-2:]
            if self.downsample is None:
                out = out + centre_fit(x, h, w)
            else:
                s = self.downsample[0].stride[0]
                natural = tuple((n - 1) // s + 1 for n in x.shape[-2:])
                out = out + (self.downsample(x) if natural == (h, w) else
                             project_fit(x, self.downsample, s, h, w))
        return self.act2(out)


class DigitsResNet(nn.Module):
    """ResNet-style: stem, `stages` of (width, blocks, stride), pool, fc."""

    def __init__(self, in_channels=1, stem_width=16,
                 stages=((16, 2, 1), (32, 2, 2)), classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, stem_width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_width)
        self.relu = nn.ReLU()
        cin, self.stage_names = stem_width, []
        for i, (width, blocks, stride) in enumerate(stages, start=1):
            layer = [BasicBlock(cin if b == 0 else width, width,
                                stride if b == 0 else 1)
                     for b in range(blocks)]
            setattr(self, f"layer{i}", nn.Sequential(*layer))
            self.stage_names.append(f"layer{i}")
            cin = width
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def blocks(self):
        """(module name prefix, block) in trunk order."""
        for s in self.stage_names:
            for b, blk in enumerate(getattr(self, s)):
                yield f"{s}.{b}", blk

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        for _, blk in self.blocks():
            x = blk(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---- export -------------------------------------------------------------

def _num(v):
    """A YAML float that always has a '.' (formats.md writes 1.0e-05)."""
    text = repr(float(v))
    if "e" in text and "." not in text.split("e")[0]:
        m, e = text.split("e")
        text = f"{m}.0e{e}"
    return text


def _conv_keys(name, m):
    if m.dilation != (1, 1) or m.kernel_size[0] != m.kernel_size[1]:
        raise SystemExit(f"{name}: dilated or non-square conv")
    return (f"name: {name}, in: {m.in_channels}, out: {m.out_channels}, "
            f"kernel: {m.kernel_size[0]}, stride: {m.stride[0]}, "
            f"padding: {m.padding[0]}, groups: {m.groups}, "
            f"bias: {str(m.bias is not None).lower()}")


def _bn(name, m):
    return f"{{name: {name}, eps: {_num(m.eps)}}}"


def export_graph(model, side, name="digits_resnet"):
    """The graph file (docs/formats.md) of a DigitsResNet, walking its
    blocks: trunk convs, skips with projections, barriers after stride-2
    convs, stem and head as fixed layers."""
    cin = model.conv1.in_channels
    lines = ["format: layermerge-graph", "version: 1", f"name: {name}",
             f"input: {{channels: {cin}, height: {side}, width: {side}}}",
             "nonlinearity: relu", "stem:",
             f"  - {{op: conv, {_conv_keys('conv1', model.conv1)}}}",
             f"  - {{op: batchnorm, name: bn1, channels: "
             f"{model.bn1.num_features}, eps: {_num(model.bn1.eps)}}}",
             "  - {op: act, act: relu}", "trunk:"]
    skips, barriers, pos = [], [0], 0
    for pre, blk in model.blocks():
        start = pos
        for i in (1, 2):
            conv, bn = getattr(blk, f"conv{i}"), getattr(blk, f"bn{i}")
            pos += 1
            lines.append(f"  # position {pos}")
            lines.append(f"  - {{{_conv_keys(f'{pre}.conv{i}', conv)}, "
                         f"bn: {_bn(f'{pre}.bn{i}', bn)}, act: relu}}")
            if conv.stride[0] > 1:
                barriers.append(pos)
        skip = f"  - {{from: {start}, to: {pos}"
        if blk.downsample is not None:
            p = blk.downsample[0]
            pbn = _bn(f"{pre}.downsample.1", blk.downsample[1])
            skip += (f", projection: {{name: {pre}.downsample.0, stride: "
                     f"{p.stride[0]}, bias: {str(p.bias is not None).lower()}"
                     f", bn: {pbn}}}")
        skips.append(skip + "}")
    lines += ["skips:"] + skips
    lines += [f"barriers: [{', '.join(map(str, barriers))}]",
              "identity_options: []", "head:",
              "  - {op: adaptive_avgpool, height: 1, width: 1}",
              "  - {op: flatten}",
              f"  - {{op: linear, name: fc, in: {model.fc.in_features}, "
              f"out: {model.fc.out_features}, bias: true}}"]
    return "\n".join(lines) + "\n"


# ---- plans --------------------------------------------------------------

def apply_plan(model, lm, plan):
    """Reconfigure `model` in place as `plan` says (docs/method.md section 8): per trunk conv
    keep or prune to identity (its BN with it) and its fine-tuning padding,
    per position the activation. Skips keep running (fused ones are folded
    only at merge time) and match sizes through centre_fit/project_fit.
    Pruned convs keep their tensors, so the state_dict still names every
    tensor of the original graph."""
    blocks = [blk for _, blk in model.blocks()]
    convs = lm.plan_convs(plan)
    acts = lm.plan_activations(plan)
    if len(convs) != 2 * len(blocks):
        raise SystemExit(f"plan for {len(convs)} convs, model has "
                         f"{2 * len(blocks)}")
    for c, kept, padding in convs:
        blk, i = blocks[(c - 1) // 2], (c - 1) % 2
        blk.keep[i] = kept
        conv = getattr(blk, f"conv{i + 1}")
        if kept:
            conv.padding = (padding, padding)
        setattr(blk, f"act{i + 1}", ACTS[acts[c - 1]]())
    for k, blk in enumerate(blocks):
        blk.skip_on = not lm.skip_dropped(plan, k)
    return model


def conv_l1(model):
    """L1 norm of each trunk conv's weight, conv 1..N."""
    return [float(getattr(blk, f"conv{i}").weight.abs().sum())
            for _, blk in model.blocks() for i in (1, 2)]


# ---- training -----------------------------------------------------------

def train(model, data, steps, lr, batch=64, seed=0, weight_decay=5e-4):
    """`steps` SGD (momentum 0.9, cosine lr) steps on shuffled batches."""
    x, y = data
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                          weight_decay=weight_decay, nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    model.train()
    order, at = torch.randperm(len(y), generator=gen), 0
    for _ in range(steps):
        if at + batch > len(y):
            order, at = torch.randperm(len(y), generator=gen), 0
        idx = order[at:at + batch]
        at += batch
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    return float(loss)


@torch.no_grad()
def accuracy(model, data, batch=500):
    """Top-1 accuracy in percent (eval mode)."""
    model.eval()
    x, y = data
    hits = sum(int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
               for i in range(0, len(y), batch))
    return 100.0 * hits / len(y)
