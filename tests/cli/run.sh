#!/bin/sh
# `layermerge run`: a NumPy array through the engine and back. The output
# must read back in numpy with the right shape, equal to the last bit what
# the library's engine computes for the same input (tests/engine_driver, a
# public-API C program, on a network `merge` wrote; and lm_engine_run through
# ctypes with the random weights `verify` uses), be the same on every run
# and through -o -, and agree with an independent PyTorch interpretation of
# the graph file within 1e-5 (relative to the largest output). Bad .npy
# files are in the catalogue (tests/data/bad/npy_*).
# usage: run.sh LAYERMERGE SOURCE_ROOT ENGINE_DRIVER
set -u
lm=$1
root=$2
driver=$3
. "$root/tests/cli/lib.sh"
py=/usr/bin/python3
build=$(dirname "$(dirname "$lm")")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
g="$root/tests/data/graph_resnet_mini.yaml"

$py -c "
import numpy as np
np.save('$tmp/x.npy', np.random.RandomState(7).randn(2, 3, 32, 32).astype('<f4'))
"
out=$("$lm" run "$g" --random-weights 5 --input "$tmp/x.npy" -o "$tmp/y.npy" --size 32 --time 2>&1); st=$?
echo "$out"
check "run succeeds" $st
has "$out" "wrote $tmp/y.npy: 2 x 10 x 1 x 1 float32"; check "run names what it wrote" $?
has "$out" "^time: [0-9.e-]* ms median ([0-9.e-]*-[0-9.e-]* ms) over 10 runs after 2 warm-up, batch 2, 1 thread$"
check "--time prints median, min-max and runs" $?

# The same through --opt=value, '--' and -o - (standard output).
"$lm" run --random-weights=5 --input="$tmp/x.npy" --size=32 -o - -- "$g" >"$tmp/stdout.npy" 2>"$tmp/err"
check "run -o - succeeds" $?
cmp -s "$tmp/y.npy" "$tmp/stdout.npy"; check "-o - writes the same bytes as -o FILE" $?
[ ! -s "$tmp/err" ]; check "-o - leaves standard error quiet" $?
"$lm" run "$g" --random-weights 5 --input "$tmp/x.npy" -o "$tmp/y2.npy" --size 32 >/dev/null
cmp -s "$tmp/y.npy" "$tmp/y2.npy"; check "two runs give the same bits" $?

# A merged network (merge --random-weights) against the engine driver.
b="$root/tests/data/bad"
"$lm" merge "$b/tiny.yaml" --random-weights 2 "$b/tiny.result.yaml" -o "$tmp/m" >/dev/null
check "merge writes a network to run" $?
$py -c "
import numpy as np
x = np.random.RandomState(3).randn(3, 3, 8, 8).astype('<f4')
np.save('$tmp/xm.npy', x); x.tofile('$tmp/xm.f32')"
"$lm" run "$tmp/m.yaml" "$tmp/m.safetensors" --input "$tmp/xm.npy" -o "$tmp/ym.npy" >/dev/null
check "run on the merged network" $?
"$driver" "$tmp/m.yaml" "$tmp/m.safetensors" "$tmp/xm.f32" 3 "$tmp/ym.f32"
check "the engine driver runs it" $?
$py -c "
import numpy as np, sys
y = np.load('$tmp/ym.npy')
ref = np.fromfile('$tmp/ym.f32', dtype=np.float32)
sys.exit(not (y.dtype == np.float32 and y.shape[0] == 3 and y.tobytes() == ref.tobytes()))"
check "run equals the public engine API to the bit" $?

# Usage errors.
"$lm" run "$g" --random-weights 5 --input "$tmp/x.npy" -o "$tmp/x.npy" 2>"$tmp/err"; st=$?
[ $st = 2 ] && grep -q "is the input" "$tmp/err"; check "refuses to overwrite its input" $?
"$lm" run "$g" --input "$tmp/x.npy" -o "$tmp/z.npy" 2>"$tmp/err"; st=$?
[ $st = 2 ] && grep -q "random-weights" "$tmp/err"; check "needs weights" $?
"$lm" run "$g" --random-weights 5 --input "$tmp/x.npy" -o "$tmp/z.npy" 2>"$tmp/err"; st=$?
[ $st = 1 ] && grep -q "does not match the network input N x 3 x 224 x 224 (--size" "$tmp/err"
check "an input of another size names both shapes and --size" $?
[ ! -e "$tmp/z.npy" ]; check "a failed run writes nothing" $?
"$lm" run "$g" --random-weights 5 --input "$tmp/x.npy" -o "$tmp/nodir/z.npy" --size 32 2>"$tmp/err"; st=$?
[ $st = 2 ] && grep -q "output $tmp/nodir/z.npy: the directory '$tmp/nodir' does not exist" "$tmp/err"
check "a missing output directory is named" $?

# A diffusion denoiser takes a timestep per image.
u="$root/tests/data/graph_unet_mini.yaml"
$py -c "
import numpy as np
np.save('$tmp/u.npy', np.random.RandomState(3).randn(2, 3, 8, 8).astype('<f4'))
"
"$lm" run "$u" --random-weights 5 --input "$tmp/u.npy" -o "$tmp/v.npy" 2>"$tmp/err"; st=$?
[ $st = 1 ] && grep -q "takes a timestep per image (a diffusion denoiser): give --timesteps" "$tmp/err"
check "a U-Net without --timesteps is refused by name" $?
[ ! -e "$tmp/v.npy" ]; check "and writes nothing" $?
"$lm" run "$u" --random-weights 5 --input "$tmp/u.npy" -o "$tmp/v.npy" --timesteps 1,2,3 2>"$tmp/err"; st=$?
[ $st = 2 ] && grep -q -- "--timesteps: 3 numbers for 2 images" "$tmp/err"
check "--timesteps counts against the batch" $?
"$lm" run "$u" --random-weights 5 --input "$tmp/u.npy" -o "$tmp/v1.npy" --timesteps 250 >/dev/null &&
"$lm" run "$u" --random-weights 5 --input "$tmp/u.npy" -o "$tmp/v2.npy" --timesteps 250,250 >/dev/null &&
cmp -s "$tmp/v1.npy" "$tmp/v2.npy"; check "one timestep is every image's" $?
"$lm" run "$u" --random-weights 5 --input "$tmp/u.npy" -o "$tmp/v3.npy" --timesteps 250,900 >/dev/null &&
! cmp -s "$tmp/v1.npy" "$tmp/v3.npy"; check "the timestep changes the output" $?
"$lm" run "$g" --random-weights 5 --input "$tmp/x.npy" -o "$tmp/z.npy" --size 32 --timesteps 5 2>"$tmp/err"; st=$?
[ $st = 2 ] && grep -q "the network has no time embedding" "$tmp/err"
check "--timesteps on a classifier is refused" $?

# ctypes cannot load a sanitizer-instrumented library into python; the
# plain build (README, CI's gcc stage) runs these.
if ldd "$build/lib/liblayermerge.so" 2>/dev/null | grep -q 'libasan\|libubsan'; then
    echo "sanitizer build: the ctypes and PyTorch comparisons run in the plain build"
    finish
    exit $?
fi

LAYERMERGE_LIB="$build/lib/liblayermerge.so" $py - "$root" "$g" "$tmp" <<'PY'
import ctypes, os, sys
import numpy as np
root, g, tmp = sys.argv[1:]
sys.path[:0] = [os.path.join(root, "examples", "torch"), os.path.join(root, "examples", "python")]
c = ctypes.CDLL(os.environ["LAYERMERGE_LIB"])
P = ctypes.c_void_p
c.lm_last_error.restype = ctypes.c_char_p
def ok(st, what):
    if st != 0:
        sys.exit(f"{what}: {c.lm_last_error().decode()}")
graph, sized, w, e = P(), P(), P(), P()
ok(c.lm_graph_load(ctypes.byref(graph), g.encode()), "load")
ok(c.lm_weights_create(ctypes.byref(w)), "weights")
ok(c.lm_weights_init_random(w, graph, ctypes.c_uint64(5)), "random weights")
ok(c.lm_weights_save(w, os.path.join(tmp, "w.safetensors").encode()), "save")
ok(c.lm_graph_clone(ctypes.byref(sized), graph), "clone")
ok(c.lm_graph_set_input_shape(sized, ctypes.c_int64(3), ctypes.c_int64(32), ctypes.c_int64(32)), "size")
ok(c.lm_graph_validate(sized), "validate")
x = np.load(os.path.join(tmp, "x.npy"))
ok(c.lm_engine_create(ctypes.byref(e), sized, w, ctypes.c_size_t(2)), "engine")
ok(c.lm_engine_set_threads(e, ctypes.c_size_t(1)), "threads")
n_out = c.lm_engine_output_size(e)
out = np.empty(n_out, dtype=np.float32)
FP = ctypes.POINTER(ctypes.c_float)
ok(c.lm_engine_run(out.ctypes.data_as(FP), ctypes.c_size_t(n_out), e,
                   np.ascontiguousarray(x).ctypes.data_as(FP), ctypes.c_size_t(x.size)), "run")
y = np.load(os.path.join(tmp, "y.npy"))
print("numpy reads", y.shape, y.dtype)
assert y.dtype == np.float32 and y.shape == (2, 10, 1, 1), (y.shape, y.dtype)
assert np.isfinite(y).all()
assert y.tobytes() == out.tobytes(), "run differs from lm_engine_run"
print("bit-exact with lm_engine_run:", n_out, "floats")
PY
check "the output reads in numpy and equals lm_engine_run to the bit" $?

# The weights file gives what the random weights gave; PyTorch agrees.
"$lm" run "$g" "$tmp/w.safetensors" --input "$tmp/x.npy" -o "$tmp/y3.npy" --size 32 >/dev/null
cmp -s "$tmp/y.npy" "$tmp/y3.npy"; check "a saved weights file gives the same bits" $?
$py - "$root" "$g" "$tmp" <<'PY'
import os, sys
import numpy as np
root, g, tmp = sys.argv[1:]
sys.path[:0] = [os.path.join(root, "examples", "torch"), os.path.join(root, "examples", "python")]
import torch
from graph_module import GraphModule
from lm_torch import load_safetensors
m = GraphModule(g, load_safetensors(os.path.join(tmp, "w.safetensors")))
x = torch.from_numpy(np.load(os.path.join(tmp, "x.npy")))
with torch.no_grad():
    ref = m(x).numpy().reshape(2, -1)
y = np.load(os.path.join(tmp, "y.npy")).reshape(2, -1)
rel = float(np.abs(ref - y).max() / np.abs(ref).max())
print("max relative difference to PyTorch:", rel)
assert rel <= 1e-5, rel
PY
check "PyTorch's interpretation of the graph agrees within 1e-5" $?

finish
