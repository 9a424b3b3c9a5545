#!/usr/bin/env python3
"""No function of lib/ drops the lm_status of a public call.

Private functions carry LM_NODISCARD, so the normal build already warns when
one of their statuses is ignored; the public headers must not carry it (they
are the callers' API). This check redeclares every public function that
returns an lm_status with warn_unused_result and compiles each lib/ source
again with the build's own command (compile_commands.json), to discarded
assembly, failing on any ignored status.

usage: check_status_use.py SOURCE_ROOT BUILD_DIR
"""
import concurrent.futures
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile

source_root = pathlib.Path(sys.argv[1]).resolve()
build_dir = pathlib.Path(sys.argv[2]).resolve()
include_dir = source_root / "include" / "layermerge"
lib_dir = source_root / "lib"

headers, decls = [], []
for header in sorted(include_dir.glob("*.h")):
    headers.append(header.name)
    text = re.sub(r"/\*.*?\*/", "", header.read_text(), flags=re.S)
    for m in re.finditer(r"\bLM_API\s+(lm_status\s+lm_\w+\s*\([^;{]*\))\s*;",
                         text):
        decls.append(m.group(1) + " __attribute__((warn_unused_result));")
if not decls:
    sys.exit("check_status_use: no public lm_status functions found in "
             f"{include_dir}")

commands = json.loads((build_dir / "compile_commands.json").read_text())
# Only the library's own sources, each once (a room's sources are compiled
# once; the shared library links the rooms).
units = {}
for c in commands:
    src = pathlib.Path(c["directory"], c["file"]).resolve()
    if (lib_dir in src.parents and src.suffix == ".c" and
            src not in units):
        units[src] = c


def syntax_only(cmd, header):
    args = shlex.split(cmd)
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MQ", "-MF", "-MT"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a.startswith("-fdiagnostics-color"):
            continue
        out.append(a)
    # GCC reports an unused result while lowering a function, not while
    # parsing it: compile to (discarded) assembly, unoptimised for speed.
    return out + ["-S", "-O0", "-o", os.devnull, "-Werror=unused-result",
                  "-include", header]


with tempfile.TemporaryDirectory() as tmp:
    header = os.path.join(tmp, "public_nodiscard.h")
    with open(header, "w") as f:
        for h in headers:
            f.write(f"#include \"layermerge/{h}\"\n")
        f.write("\n".join(decls) + "\n")

    def check(item):
        src, c = item
        r = subprocess.run(syntax_only(c["command"], header),
                           cwd=c["directory"], capture_output=True, text=True)
        return src, r.returncode, r.stderr

    jobs = min(2, os.cpu_count() or 1)
    failed = []
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for src, rc, err in pool.map(check, sorted(units.items())):
            if rc != 0:
                failed.append((src, err))

print(f"check_status_use: {len(decls)} public lm_status functions, "
      f"{len(units)} sources of lib/")
for src, err in failed:
    print(f"--- {src}\n{err}", file=sys.stderr)
if failed:
    sys.exit(f"check_status_use: {len(failed)} source(s) ignore an lm_status "
             "(or no longer compile on their own)")
