#!/bin/sh
# protoc-c PROTO_ROOT onnx/onnx.proto OUTDIR: compile the ONNX schema and
# put onnx.pb-c.c/.h flat into OUTDIR (protoc-c mirrors the proto's
# directory, onnx/, below its --c_out). The generated source includes
# "onnx/onnx.pb-c.h", so a copy of the header stays under OUTDIR/onnx too.
set -eu
protoc_c=$1 root=$2 proto=$3 out=$4
"$protoc_c" --c_out="$out" --proto_path="$root" "$proto"
mv "$out/onnx/onnx.pb-c.c" "$out/onnx.pb-c.c"
cp "$out/onnx/onnx.pb-c.h" "$out/onnx.pb-c.h"
