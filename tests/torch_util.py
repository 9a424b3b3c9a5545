"""Helpers shared by the PyTorch cross-checks and the torch benchmark:
safetensors by hand (8-byte little-endian header length, JSON header
{name: {dtype, shape, data_offsets}}, data) and torchvision networks with
randomised batch norm.

Import it only after the caller's own `import torch` check, so that a
missing torch still exits 77 (skipped) there. stdlib + numpy + torch only.
"""
import json
import pathlib
import struct

import numpy as np
import torch

DTYPES = {torch.float32: "F32", torch.int64: "I64"}
NP_DTYPES = {"F32": "<f4", "I64": "<i8"}


def write_safetensors(path, state):
    """The format by hand, tensors in name order, header padded to 8."""
    header, blobs, offset = {}, [], 0
    for name in sorted(state):
        t = state[name].detach().contiguous().cpu()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    """name -> torch tensor (F32 and I64 only: what merge writes)."""
    raw = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base, out = 8 + n, {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        lo, hi = h["data_offsets"]
        a = np.frombuffer(raw[base + lo:base + hi],
                          dtype=NP_DTYPES[h["dtype"]]).reshape(h["shape"])
        out[name] = torch.from_numpy(a.astype(a.dtype.newbyteorder("=")))
    return out


def read_metadata(path):
    """The "__metadata__" string map of a safetensors file ({} if none)."""
    raw = pathlib.Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return dict(json.loads(raw[8:8 + n]).get("__metadata__") or {})


def randomise_bn(model, gen):
    """Random BN statistics, so that folding and each BN's eps matter."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(c, generator=gen) * 0.4 - 0.2)
                m.running_mean.copy_(torch.rand(c, generator=gen) * 0.4 - 0.2)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)


def random_network(make):
    """make() under torch seed 1234, its batch norms randomised from a
    generator seeded 99, in eval mode. Returns (model, generator): the
    checks draw their input batch from the same generator afterwards, so
    the seeds and the order of draws fix every figure they print."""
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(99)
    model = make()
    randomise_bn(model, gen)
    model.eval()
    return model, gen
