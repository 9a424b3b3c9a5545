// Run an ONNX model once in ONNX Runtime (onnxruntime-node, CPU, one
// thread) on a raw float32 input and write the raw float32 output: the
// runtime side of tests/onnx_crosscheck.py.
//
//   node ort_run.js MODEL.onnx INPUT.f32 OUTPUT.f32 [TIMESTEPS.f32]
//
// TIMESTEPS: for a model with a second input "timesteps" (a diffusion
// denoiser), one float per image.
//
// The input's shape is the model's declared input shape; a symbolic axis
// (a dynamic batch) takes the size the input file leaves for it.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, input, output, timesteps] = process.argv.slice(2);
  if (!output) {
    console.error('usage: node ort_run.js MODEL.onnx INPUT.f32 OUTPUT.f32');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
  });
  const meta = session.inputMetadata[0];
  const bytes = fs.readFileSync(input);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset,
                                bytes.length / 4);
  // A symbolic axis (a dynamic batch) takes what the input leaves.
  const known = meta.shape.reduce((a, d) => (typeof d === 'number' ? a * d : a), 1);
  const dims = meta.shape.map((d) => (typeof d === 'number' ? d : data.length / known));
  const want = dims.reduce((a, b) => a * b, 1);
  if (data.length !== want) {
    console.error(`${input}: ${data.length} floats, the model wants ` +
                  `${want} (${dims.join('x')})`);
    process.exit(1);
  }
  const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data,
                                                          dims)};
  if (timesteps) {
    const tb = fs.readFileSync(timesteps);
    const t = new Float32Array(tb.buffer, tb.byteOffset, tb.length / 4);
    if (t.length !== dims[0]) {
      console.error(`${timesteps}: ${t.length} timesteps for ${dims[0]} images`);
      process.exit(1);
    }
    feeds.timesteps = new ort.Tensor('float32', t, [t.length]);
  }
  const result = await session.run(feeds);
  const out = result[session.outputNames[0]].data;
  fs.writeFileSync(output, Buffer.from(out.buffer, out.byteOffset,
                                       out.byteLength));
}

main().catch((e) => { console.error(`ort_run.js: ${e.message}`); process.exit(1); });
