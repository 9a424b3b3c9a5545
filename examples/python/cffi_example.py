#!/usr/bin/python3
"""liblayermerge through cffi (ABI mode): the public headers, run through the
C preprocessor with LM_API defined empty, are the cdef; no wrapper code.

    cc -E -P -DLM_API= -I PREFIX/include - <<< '#include <layermerge/layermerge.h>'

usage: cffi_example.py [--lib liblayermerge.so.0] [--cc CC] [-I DIR ...]
                       [--graph G.yaml]

Defaults: the system loader's liblayermerge.so.0, `cc`, the headers under
/usr/local/include and /usr/include, this repository's ResNet-18.
"""
import argparse
import pathlib
import re
import subprocess

import cffi
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]


def cdef_text(cc, includes):
    """The declarations of include/layermerge/*.h, preprocessed. Lines from
    system headers are dropped (cffi knows size_t and <stdint.h>'s types)."""
    args = [cc, "-E", "-DLM_API="] + [f"-I{d}" for d in includes] + ["-"]
    pre = subprocess.run(args, input="#include <layermerge/layermerge.h>\n",
                         capture_output=True, text=True, check=True).stdout
    keep, ours = [], False
    for line in pre.splitlines():
        m = re.match(r'# \d+ "([^"]+)"', line)
        if m:
            ours = "/layermerge/" in m.group(1)
        elif ours:
            keep.append(line)
    return "\n".join(keep)


def check(ffi, lib, status, what):
    if status != lib.LM_OK:
        raise SystemExit(f"{what}: {ffi.string(lib.lm_last_error()).decode()}"
                         f" ({ffi.string(lib.lm_status_str(status)).decode()})")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lib", default="liblayermerge.so.0")
    p.add_argument("--cc", default="cc")
    p.add_argument("-I", dest="includes", action="append",
                   default=[])
    p.add_argument("--graph", default=str(ROOT / "examples/models/resnet18.yaml"))
    args = p.parse_args()
    includes = args.includes or ["/usr/local/include", "/usr/include"]

    ffi = cffi.FFI()
    ffi.cdef(cdef_text(args.cc, includes))
    lib = ffi.dlopen(args.lib)
    print(f"liblayermerge {ffi.string(lib.lm_version()).decode()} through cffi")

    # Handles are out-parameters: a pointer to a pointer, freed by hand.
    pg = ffi.new("lm_graph **")
    check(ffi, lib, lib.lm_graph_load(pg, args.graph.encode()), "load")
    g = ffi.gc(pg[0], lib.lm_graph_destroy)
    n = lib.lm_graph_conv_count(g)
    print(f"graph {ffi.string(lib.lm_graph_name(g)).decode()}: {n} convs, "
          f"fingerprint {ffi.string(lib.lm_graph_fingerprint(g)).decode()}")

    # A size-versioned record: `size` first, as in C.
    info = ffi.new("lm_conv_info *", {"size": ffi.sizeof("lm_conv_info")})
    check(ffi, lib, lib.lm_graph_conv_info(info, g, 1), "conv_info")
    print(f"conv 1: {ffi.string(info.name).decode()} {info.in_channels}->"
          f"{info.out_channels} k{info.kernel}")

    pe = ffi.new("lm_entries **")
    check(ffi, lib, lib.lm_entries_create(pe, g), "entries")
    e = ffi.gc(pe[0], lib.lm_entries_destroy)
    chunks = []

    @ffi.callback("lm_write_fn")
    def write(data, length, _userdata):
        chunks.append(bytes(ffi.buffer(data, length)))
        return 0
    check(ffi, lib, lib.lm_entries_write(e, lib.LM_ENTRIES_CSV, write,
                                         ffi.NULL), "entries_write")
    rows = b"".join(chunks).decode().strip().splitlines()
    assert len(rows) == lib.lm_entries_count(e) + 1, "one CSV row per entry"
    print(f"{lib.lm_entries_count(e)} entries; CSV header {rows[0]}")

    # The engine on a NumPy batch, buffers passed without copies.
    pw = ffi.new("lm_weights **")
    check(ffi, lib, lib.lm_weights_create(pw), "weights")
    w = ffi.gc(pw[0], lib.lm_weights_destroy)
    check(ffi, lib, lib.lm_weights_init_random(w, g, 1), "init_random")
    pn = ffi.new("lm_engine **")
    check(ffi, lib, lib.lm_engine_create(pn, g, w, 1), "engine")
    eng = ffi.gc(pn[0], lib.lm_engine_destroy)
    check(ffi, lib, lib.lm_engine_set_threads(eng, 1), "set_threads")
    x = np.random.default_rng(0).uniform(-1, 1, lib.lm_engine_input_size(eng))
    x = x.astype(np.float32)
    y = np.empty(lib.lm_engine_output_size(eng), dtype=np.float32)
    check(ffi, lib, lib.lm_engine_run(ffi.from_buffer("float[]", y), y.size,
                                      eng, ffi.from_buffer("float[]", x),
                                      x.size), "run")
    assert np.isfinite(y).all() and np.abs(y).max() > 0, "a finite output"
    print(f"engine: {y.size} outputs, argmax {int(y.argmax())}")

    # A failing call: status and this thread's message.
    status = lib.lm_graph_load(pg, b"/nonexistent/graph.yaml")
    assert status == lib.LM_ERR_IO, status
    msg = ffi.string(lib.lm_last_error()).decode()
    assert "/nonexistent/graph.yaml" in msg, msg
    print(f"error path: {msg}")
    print("cffi example: all checks passed")


if __name__ == "__main__":
    main()
