#!/usr/bin/env python3
"""Every public header compiles on its own as strict C11 and as C++."""
import pathlib
import subprocess
import sys
import tempfile

cc, cxx, src_inc, build_inc = sys.argv[1:5]
headers = sorted(p.name for p in pathlib.Path(src_inc, "layermerge").glob("*.h"))
headers.append("version.h")
failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for h in headers:
        for lang, compiler, std in (("c", cc, "-std=c11"), ("c++", cxx, "-std=c++11")):
            src = pathlib.Path(tmp, "t." + ("c" if lang == "c" else "cpp"))
            # Twice: include guards must hold.
            src.write_text(f'#include "layermerge/{h}"\n#include "layermerge/{h}"\n'
                           "int lm_header_test_dummy;\n")
            cmd = [compiler, std, "-pedantic", "-Werror", "-Wall", "-Wextra",
                   "-I", src_inc, "-I", build_inc, "-fsyntax-only", str(src)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            status = "ok" if r.returncode == 0 else "FAIL"
            print(f"{h} as {lang}: {status}")
            if r.returncode:
                print(r.stderr)
                failed += 1
print(f"{len(headers) * 2 - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
