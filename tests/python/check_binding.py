#!/usr/bin/python3
"""Every function the library exports is bound by the Python package: it has
a ctypes prototype in layermerge._capi (generated from the headers) and a
wrapper in the package's own code calls it by name, so the binding cannot
silently fall behind the C API.

usage: check_binding.py LIBLAYERMERGE_SO SOURCE_ROOT
"""
import pathlib
import re
import subprocess
import sys

lib, root = sys.argv[1], pathlib.Path(sys.argv[2])
sys.path.insert(0, str(root / "python"))
from layermerge import _capi  # noqa: E402

mapped = set(re.findall(r"\b(lm_\w+);", (root / "lib" / "liblayermerge.map").read_text()))
nm = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True,
                    text=True, check=True).stdout
dynamic = {m.group(1) for m in re.finditer(r"\s[TDBR]\s(lm_\w+)", nm)}
exported = mapped | dynamic
pkg = root / "python" / "layermerge"
wrapper_text = "\n".join(p.read_text() for p in sorted(pkg.glob("*.py"))
                         if p.name != "_capi.py")
used = set(re.findall(r"\b(lm_\w+)\b", wrapper_text))

failures = []
if mapped != dynamic:
    failures.append(f"linker map and nm -D differ: {sorted(mapped ^ dynamic)}")
unprototyped = sorted(exported - set(_capi.PROTOTYPES))
unwrapped = sorted(exported - used)
stale = sorted(set(_capi.PROTOTYPES) - exported)
for s in unprototyped:
    failures.append(f"{s}: exported but has no prototype in _capi.py "
                    "(run scripts/gen-python-capi.py)")
for s in unwrapped:
    failures.append(f"{s}: exported but no wrapper of the package calls it")
for s in stale:
    failures.append(f"{s}: prototyped in _capi.py but not exported")
bound = len(exported - set(unprototyped) - set(unwrapped))
for f in failures:
    print("FAIL:", f)
print(f"python binding: {bound}/{len(exported)} exported functions bound and "
      f"wrapped ({len(_capi.RECORDS)} records, {len(_capi.ENUMS)} enums)")
sys.exit(1 if failures else 0)
