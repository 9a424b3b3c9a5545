#!/usr/bin/env python3
"""The public headers keep the API rules of docs/conventions.md:

* no public function takes more than 8 parameters;
* no header includes <stdio.h> or mentions FILE (no C runtime type in the
  ABI, so any language and any C runtime can call every function);
* every fallible call (one returning lm_status) that produces something
  takes its out-parameters first: a parameter named out/info/record/...
  never follows an input handle;
* the umbrella header, run through the C preprocessor, parses with cffi's
  cdef, the way Python users bind it.
"""
import pathlib
import re
import subprocess
import sys

cc, src_inc, build_inc = sys.argv[1:4]
inc = pathlib.Path(src_inc, "layermerge")
failures = []


def strip_comments(text):
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


decls = []
headers = sorted(inc.glob("*.h")) + [pathlib.Path(build_inc, "layermerge",
                                                  "version.h")]
for h in headers:
    text = h.read_text()
    if re.search(r"#\s*include\s*<stdio\.h>", text):
        failures.append(f"{h.name}: includes <stdio.h>")
    code = strip_comments(text)
    if re.search(r"\bFILE\b", code):
        failures.append(f"{h.name}: mentions FILE")
    for m in re.finditer(r"\bLM_API\b([^;]*?)\b(lm_\w+)\s*\(([^;]*?)\)\s*;", code, re.S):
        params = [p.strip() for p in m.group(3).split(",")]
        params = [] if params == ["void"] else params
        decls.append((h.name, m.group(2), m.group(1).strip(), params))

for name, fn, ret, params in decls:
    if len(params) > 8:
        failures.append(f"{name}: {fn} takes {len(params)} parameters (max 8)")
    if ret != "lm_status":
        continue
    # An output parameter (pointer to non-const, named as an output) must
    # come before the first const handle or input value.
    seen_input = False
    for p in params:
        is_out = re.search(r"\*\s*(out|info|record|shape|timing|deviation|"
                           r"normalised|id|index|n_missing|ndim|numel|value|"
                           r"data|merged_graph|merged_weights)\b", p) and \
            not p.startswith("const ")
        if is_out and seen_input:
            failures.append(f"{name}: {fn}: out-parameter '{p}' after an "
                            "input")
        if p.startswith("const lm_") and "*" in p:
            seen_input = True

# cffi parses the preprocessed umbrella header.
try:
    import cffi
except ImportError:
    failures.append("python3-cffi is not installed (scripts/install-deps.sh)")
else:
    pre = subprocess.run(
        [cc, "-E", "-DLM_API=", "-I", src_inc, "-I", build_inc, "-"],
        input='#include "layermerge/layermerge.h"\n', capture_output=True,
        text=True)
    if pre.returncode:
        failures.append("preprocessing layermerge.h failed: " + pre.stderr)
    else:
        # Keep the lines that come from our headers (the line markers say
        # which file each line is from); cffi knows size_t and the
        # <stdint.h> types itself.
        keep, ours = [], False
        for line in pre.stdout.splitlines():
            m = re.match(r'# \d+ "([^"]+)"', line)
            if m:
                ours = "/layermerge/" in m.group(1)
            elif ours:
                keep.append(line)
        body = "\n".join(keep)
        ffi = cffi.FFI()
        try:
            ffi.cdef(body)
            n = sum(1 for _ in re.finditer(r"\blm_\w+\s*\(", body))
            print(f"cffi: cdef of layermerge.h parsed ({n} declarations)")
        except Exception as e:  # cffi raises several error types
            failures.append(f"cffi cdef failed: {e}")

for f in failures:
    print("FAIL:", f)
print(f"{len(decls)} public functions checked")
total = 3 + 1
print(f"{total - (1 if failures else 0)} passed, {1 if failures else 0} failed")
sys.exit(1 if failures else 0)
