#!/usr/bin/env python3
"""The shared library exports exactly the functions the public headers
declare with LM_API, all under the LAYERMERGE_* version node."""
import pathlib
import re
import subprocess
import sys

lib, include_dir = sys.argv[1], pathlib.Path(sys.argv[2])

declared = set()
for header in sorted(include_dir.glob("*.h*")):
    text = re.sub(r"/\*.*?\*/", "", header.read_text(), flags=re.S)
    for m in re.finditer(r"\bLM_API\b[^;{]*?\b(lm_\w+)\s*\(", text):
        declared.add(m.group(1))

out = subprocess.run(["nm", "-D", "--defined-only", "--with-symbol-versions", lib],
                     check=True, capture_output=True, text=True).stdout
exported, unversioned, foreign = set(), [], []
for line in out.splitlines():
    parts = line.split()
    if len(parts) < 3:
        continue
    name = parts[2]
    base, _, version = name.partition("@")
    version = version.lstrip("@")
    if base.startswith("LAYERMERGE_"):
        continue  # the version node itself
    if not base.startswith("lm_"):
        foreign.append(base)
        continue
    exported.add(base)
    if not version.startswith("LAYERMERGE_"):
        unversioned.append(base)

ok = True
for what, items in (("exported but not declared in a public header", exported - declared),
                    ("declared with LM_API but not exported", declared - exported),
                    ("exported outside the lm_ namespace", set(foreign)),
                    ("exported without a LAYERMERGE_ version", set(unversioned))):
    if items:
        ok = False
        print(f"{what}: {', '.join(sorted(items))}")
print(f"{len(declared)} declared, {len(exported)} exported")
sys.exit(0 if ok else 1)
