"""A torch module built from a liblayermerge graph file (docs/formats.md)
and its tensors: a small interpreter of the format, independent of the
library, used to load a merged network back into PyTorch.

Covers what the format has: fixed layers (conv, batchnorm, act, maxpool,
avgpool, adaptive_avgpool, flatten, linear) in the stem, at positions
(`after`) and in the head; trunk convs with batch norm and the position's
activation; skips with optional 1x1 projection (+ batch norm), added to
the target conv's output before its activation. Tensors are looked up by
the graph's names (PyTorch state_dict names). Skips read a position after
its `after` layers (the only choice the zoo never exercises, see
docs/models.md).
"""
import torch
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
    raise SystemExit(f"graph_module: unknown op {op!r}")


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
        self.convs, self.norms = nn.ModuleList(), nn.ModuleList()
        self.acts, self.after = nn.ModuleList(), nn.ModuleList()
        channels = [g["trunk"][0]["in"]]
        for t in g["trunk"]:
            self.convs.append(_conv(t, tensors))
            bn = t.get("bn")
            self.norms.append(_bn(bn["name"], t["out"], bn.get("eps", 1e-5),
                                  tensors) if bn else nn.Identity())
            self.acts.append(ACTS[t.get("act", "identity")]())
            self.after.append(nn.Sequential(*[_layer(s, tensors)[0]
                                              for s in t.get("after") or []]))
            channels.append(t["out"])
        self.skips = [(s["from"], s["to"]) for s in g.get("skips") or []]
        self.projections = nn.ModuleList()
        for s in g.get("skips") or []:
            p = s.get("projection")
            if p is None:
                self.projections.append(nn.Identity())
                continue
            cin, cout = channels[s["from"]], channels[s["to"]]
            conv = _conv(p, tensors, cin, cout)
            bn = p.get("bn")
            self.projections.append(nn.Sequential(conv, _bn(
                bn["name"], cout, bn.get("eps", 1e-5), tensors)) if bn else
                conv)
        self.eval()

    def forward(self, x):
        pos = [self.stem(x)]
        for p in range(1, len(self.convs) + 1):
            out = self.norms[p - 1](self.convs[p - 1](pos[p - 1]))
            for (s, t), proj in zip(self.skips, self.projections):
                if t == p:
                    out = out + centre_fit(proj(pos[s]), *out.shape[-2:])
            pos.append(self.after[p - 1](self.acts[p - 1](out)))
        return self.head(pos[-1])


def count_convs(module):
    return sum(isinstance(m, nn.Conv2d) for m in module.modules())


__all__ = ["GraphModule", "count_convs"]
