#!/usr/bin/python3
"""Write the safetensors fixtures of tests/test_weights.c the way the
reference implementation (huggingface/safetensors, used by PyTorch code)
lays them out, without depending on it:

* 8-byte little-endian header length N, then N bytes of JSON, then data;
* JSON as serde_json writes it: compact, non-ASCII left as raw UTF-8,
  "__metadata__" first, then the tensors in data order;
* tensors ordered by dtype size (largest first), then by name;
* the header padded with spaces to a multiple of 8 bytes.

weights_escaped.safetensors is the same content written as Python's json
module does by default: ASCII-only with \\uXXXX escapes, and here indented
with tabs and newlines, so the reader is tested on both JSON spellings.

Run from the repository root: /usr/bin/python3 tests/gen_safetensors.py
The values are small closed forms that test_weights.c recomputes.
"""
import json
import pathlib
import struct

import numpy as np

OUT = pathlib.Path(__file__).resolve().parent / "data"


def bf16_bytes(values):
    """BF16 has no numpy type: keep the upper half of each float32."""
    bits = np.asarray(values, dtype="<f4").view("<u4") >> 16
    return bits.astype("<u2").tobytes()


def tensors():
    """name -> (dtype, shape, little-endian bytes)."""
    conv = (np.arange(6, dtype="<f4") * 0.5 - 1.0).reshape(2, 3, 1, 1)
    var = np.array([1.0 / 3.0, 2.0 / 3.0, 1.0], dtype="<f8")
    half = np.array([1.0, -2.5, 65504.0, 2.0 ** -24], dtype="<f2")
    return {
        "conv.weight": ("F32", [2, 3, 1, 1], conv.tobytes()),
        "bn.running_var": ("F64", [3], var.tobytes()),
        "bn.num_batches_tracked": ("I64", [], np.array(7, "<i8").tobytes()),
        "half": ("F16", [4], half.tobytes()),
        "bf": ("BF16", [2], bf16_bytes([1.0, -3.140625])),
        "unicod\u00e9.\u6743\u91cd": ("F32", [2],
                                      np.array([1.5, -1.5], "<f4").tobytes()),
        "empty": ("F32", [0, 3], b""),
    }


SIZES = {"F64": 8, "I64": 8, "F32": 4, "F16": 2, "BF16": 2}


def write(path, metadata, tensors, **json_kw):
    order = sorted(tensors, key=lambda n: (-SIZES[tensors[n][0]], n))
    header, data, offset = {"__metadata__": metadata}, b"", 0
    for name in order:
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(raw)]}
        data += raw
        offset += len(raw)
    text = json.dumps(header, **json_kw).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def main():
    meta = {"format": "pt", "note": "caf\u00e9 \"quoted\" \\ slash/"}
    write(OUT / "weights_torch.safetensors", meta, tensors(),
          separators=(",", ":"), ensure_ascii=False)
    write(OUT / "weights_escaped.safetensors", meta, tensors(),
          indent="\t", ensure_ascii=True)


if __name__ == "__main__":
    main()
