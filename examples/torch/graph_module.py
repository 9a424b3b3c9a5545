"""A torch module built from a liblayermerge graph file (docs/formats.md)
and its tensors: a small interpreter of the format, independent of the
library, used to load a merged network back into PyTorch.

Covers what the format has: fixed layers (conv, batchnorm, act, maxpool,
avgpool, adaptive_avgpool, flatten, linear, groupnorm, pad, upsample,
attention) in the stem, at positions (`after`), in front of a trunk conv
(`pre`) and in the head; trunk convs with batch norm or the GroupNorm of
their position's activation, a time projection, and the position's
activation; skips with optional 1x1 projection (+ batch norm), added to
the target conv's output before its activation, and concatenations,
appended to a position's channels after its `after` layers; the time
embedding of a diffusion U-Net (forward(x, t)). Tensors are looked up by
the graph's names (PyTorch state_dict names). Skips read a position after
its `after` layers.
"""
import math

import torch
import torch.nn.functional as F
import yaml
from torch import nn

from digits_resnet import ACTS, centre_fit


def _conv(spec, tensors, cin=None, cout=None):
    """nn.Conv2d from a conv mapping, weights copied from `tensors`."""
    cin = spec.get("in", cin)
    cout = spec.get("out", cout)
    k = spec.get("kernel", 1)
    m = nn.Conv2d(cin, cout, k, spec.get("stride", 1), spec.get("padding", 0),
                  groups=spec.get("groups", 1), bias=spec.get("bias", False))
    _load(m, spec["name"], tensors, ("weight", "bias") if m.bias is not None
          else ("weight",))
    return m


def _bn(name, channels, eps, tensors):
    m = nn.BatchNorm2d(channels, eps=eps)
    _load(m, name, tensors, ("weight", "bias", "running_mean",
                             "running_var"))
    return m


def _load(module, name, tensors, keys):
    with torch.no_grad():
        for k in keys:
            t = tensors[f"{name}.{k}"]
            getattr(module, k).copy_(t.reshape(getattr(module, k).shape))


def _layer(spec, tensors):
    """One fixed layer as a module; returns (module, out channels or None)."""
    op = spec["op"]
    if op == "conv":
        return _conv(spec, tensors), spec["out"]
    if op == "batchnorm":
        return _bn(spec["name"], spec["channels"], spec.get("eps", 1e-5),
                   tensors), None
    if op == "act":
        return ACTS[spec["act"]](), None
    if op in ("maxpool", "avgpool"):
        cls = nn.MaxPool2d if op == "maxpool" else nn.AvgPool2d
        return cls(spec["kernel"], spec.get("stride", spec["kernel"]),
                   spec.get("padding", 0)), None
    if op == "adaptive_avgpool":
        return nn.AdaptiveAvgPool2d((spec["height"], spec["width"])), None
    if op == "flatten":
        return nn.Flatten(), None
    if op == "linear":
        m = nn.Linear(spec["in"], spec["out"], bias=spec.get("bias", True))
        _load(m, spec["name"], tensors, ("weight", "bias")
              if m.bias is not None else ("weight",))
        return m, None
    if op == "groupnorm":
        return _gn(spec["name"], spec["channels"], spec["groups"],
                   spec.get("eps", 1e-5), tensors), None
    if op == "pad":
        return nn.ZeroPad2d((spec["left"], spec["right"], spec["top"],
                             spec["bottom"])), None
    if op == "upsample":
        return nn.Upsample(scale_factor=spec.get("scale", 2),
                           mode="nearest"), None
    if op == "attention":
        return _Attention(spec, tensors), None
    raise SystemExit(f"graph_module: unknown op {op!r}")


def _gn(name, channels, groups, eps, tensors):
    m = nn.GroupNorm(groups, channels, eps=eps)
    _load(m, name, tensors, ("weight", "bias"))
    return m


class _Attention(nn.Module):
    """The format's `attention`: x + proj_out(softmax(q^T k / sqrt(C)) v) of
    GroupNorm(x), single head over the pixels."""

    def __init__(self, spec, tensors):
        super().__init__()
        c, name = spec["channels"], spec["name"]
        self.norm = _gn(f"{name}.norm", c, spec["groups"],
                        spec.get("eps", 1e-5), tensors)
        self.q, self.k, self.v, self.proj_out = (
            _conv({"name": f"{name}.{p}", "in": c, "out": c, "bias": True},
                  tensors) for p in ("q", "k", "v", "proj_out"))

    def forward(self, x):
        b, c, h, w = x.shape
        n = self.norm(x)
        q, k, v = (m(n).reshape(b, c, h * w) for m in (self.q, self.k, self.v))
        att = torch.softmax(torch.einsum("bci,bcj->bij", q, k) * c ** -0.5, 2)
        return x + self.proj_out(torch.einsum("bij,bcj->bci", att, v)
                                 .reshape(b, c, h, w))


def timestep_embedding(t, dim):
    """The format's sinusoid: [sin(t f_i), cos(t f_i)],
    f_i = exp(-i ln(10000) / (dim/2 - 1))."""
    half = dim // 2
    f = torch.exp(torch.arange(half, dtype=torch.float32) *
                  (-math.log(10000) / (half - 1)))
    a = t.float()[:, None] * f[None, :]
    return torch.cat([torch.sin(a), torch.cos(a)], dim=1)


class GraphModule(nn.Module):
    """The network of a graph file with its tensors, in eval mode."""

    def __init__(self, graph_path, tensors):
        super().__init__()
        with open(graph_path) as f:
            g = yaml.safe_load(f)
        if g.get("format") != "layermerge-graph" or g.get("version") != 1:
            raise SystemExit(f"{graph_path}: not a version-1 layermerge graph")
        self.stem = nn.Sequential(*[_layer(s, tensors)[0]
                                    for s in g.get("stem") or []])
        self.head = nn.Sequential(*[_layer(s, tensors)[0]
                                    for s in g.get("head") or []])
        te = g.get("time_embedding")
        self.temb_dim = te["dim"] if te else 0
        if te:
            d0, d1 = te["names"]
            self.temb = nn.ModuleList([nn.Linear(te["dim"], te["channels"]),
                                       nn.Linear(te["channels"],
                                                 te["channels"])])
            _load(self.temb[0], d0, tensors, ("weight", "bias"))
            _load(self.temb[1], d1, tensors, ("weight", "bias"))
        self.convs, self.norms = nn.ModuleList(), nn.ModuleList()
        self.acts, self.after = nn.ModuleList(), nn.ModuleList()
        self.pre, self.tproj = nn.ModuleList(), nn.ModuleList()
        self.gns = nn.ModuleList()
        self.has_tproj = []
        channels = [g["trunk"][0]["in"]]
        for t in g["trunk"]:
            self.convs.append(_conv(t, tensors))
            bn, gn = t.get("bn"), t.get("group_norm")
            self.norms.append(_bn(bn["name"], t["out"], bn.get("eps", 1e-5),
                                  tensors) if bn else nn.Identity())
            # A GroupNorm of the position's activation: after the skips.
            self.gns.append(_gn(gn["name"], t["out"], gn["groups"],
                                gn.get("eps", 1e-5), tensors) if gn
                            else nn.Identity())
            self.acts.append(ACTS[t.get("act", "identity")]())
            self.after.append(nn.Sequential(*[_layer(s, tensors)[0]
                                              for s in t.get("after") or []]))
            self.pre.append(nn.Sequential(*[_layer(s, tensors)[0]
                                            for s in t.get("pre") or []]))
            tp = t.get("time_projection")
            self.has_tproj.append(tp is not None)
            lin = nn.Linear(te["channels"], t["out"]) if tp else nn.Identity()
            if tp:
                _load(lin, tp["name"], tensors, ("weight", "bias"))
            self.tproj.append(lin)
            channels.append(t["out"])
        skips = g.get("skips") or []
        self.concats = [(s["from"], s["to"]) for s in skips
                        if s.get("mode") == "concat"]
        for s, t in self.concats:
            channels[t] += channels[s]
        skips = [s for s in skips if s.get("mode") != "concat"]
        self.skips = [(s["from"], s["to"]) for s in skips]
        self.projections = nn.ModuleList()
        for s in skips:
            p = s.get("projection")
            if p is None:
                self.projections.append(nn.Identity())
                continue
            cin, cout = channels[s["from"]], self.convs[s["to"] - 1].out_channels
            conv = _conv(p, tensors, cin, cout)
            bn = p.get("bn")
            self.projections.append(nn.Sequential(conv, _bn(
                bn["name"], cout, bn.get("eps", 1e-5), tensors)) if bn else
                conv)
        self.eval()

    def forward(self, x, t=None):
        temb = None
        if self.temb_dim:
            if t is None:
                raise ValueError("this network takes timesteps: forward(x, t)")
            temb = F.silu(self.temb[1](F.silu(self.temb[0](
                timestep_embedding(t, self.temb_dim)))))
        pos = [self.stem(x)]
        for p in range(1, len(self.convs) + 1):
            out = self.norms[p - 1](self.convs[p - 1](self.pre[p - 1](
                pos[p - 1])))
            if self.has_tproj[p - 1]:
                out = out + self.tproj[p - 1](temb)[:, :, None, None]
            for (s, q), proj in zip(self.skips, self.projections):
                if q == p:
                    out = out + centre_fit(proj(pos[s]), *out.shape[-2:])
            out = self.after[p - 1](self.acts[p - 1](self.gns[p - 1](out)))
            for s, q in self.concats:
                if q == p:
                    out = torch.cat([out, pos[s]], dim=1)
            pos.append(out)
        return self.head(pos[-1])


def count_convs(module):
    return sum(isinstance(m, nn.Conv2d) for m in module.modules())


__all__ = ["GraphModule", "count_convs"]
