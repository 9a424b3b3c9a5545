#!/usr/bin/env node
// Time an ONNX model in ONNX Runtime (CPU) for `layermerge --timer-cmd`.
//
//   node tools/timers/onnxruntime.js MODEL.onnx [--threads T] [--warmup W]
//       [--reps R] [--batch N] [--input X.npy] [--output Y.npy] [--seed S]
//       [--verbose]
//
// Runs W untimed inferences, then R timed ones, on one input (X.npy, or
// seeded uniform [-1, 1) values of the model's input shape). Prints
// "median_ms=M min_ms=A max_ms=B mean_ms=C reps=R threads=T" on stderr and
// the median in milliseconds alone on the last line of stdout: the
// --timer-cmd protocol (docs/measure.md). --output writes the first output
// of the last run as a float32 .npy (for correctness tests). A model with
// a second input "timesteps" (a diffusion U-Net `layermerge export`
// wrote) gets t = 500 for every image: the timestep changes no work.
//
// The session runs sequentially with T intra-op threads (default 1) and
// one inter-op thread, all graph optimisations on. Exit status: 0 success,
// 1 failure (the message names the file), 2 bad usage.
'use strict';

const fs = require('fs');
const path = require('path');

const PROG = 'onnxruntime.js';
const USAGE =
    `usage: ${PROG} MODEL.onnx [--threads T] [--warmup W] [--reps R] ` +
    '[--batch N] [--input X.npy] [--output Y.npy] [--seed S] [--verbose]';

class Failure extends Error {
    constructor(message, code = 1) {
        super(message);
        this.code = code;
    }
}

function usage(message) {
    throw new Failure(`${message}\n${USAGE}`, 2);
}

function parseCount(name, text, min) {
    if (!/^[0-9]+$/.test(text) || Number(text) < min || Number(text) > 1e9)
        usage(`option '${name}' needs an integer >= ${min}, got '${text}'`);
    return Number(text);
}

function parseArgs(argv) {
    const opts = {threads: 1, warmup: 3, reps: 20, batch: null, input: null,
                  output: null, seed: 0, verbose: false, model: null};
    const counts = {'--threads': ['threads', 1], '--warmup': ['warmup', 0],
                    '--reps': ['reps', 1], '--batch': ['batch', 1],
                    '--seed': ['seed', 0]};
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '-h' || a === '--help') {
            process.stdout.write(USAGE + '\n');
            process.exit(0);
        } else if (a === '--verbose') {
            opts.verbose = true;
        } else if (a in counts || a === '--input' || a === '--output') {
            if (i + 1 >= argv.length)
                usage(`option '${a}' needs a value`);
            const v = argv[++i];
            if (a in counts) {
                const [key, min] = counts[a];
                opts[key] = parseCount(a, v, min);
            } else {
                opts[a.slice(2)] = v;
            }
        } else if (a.startsWith('-') && a !== '-') {
            usage(`unknown option '${a}'`);
        } else if (opts.model === null) {
            opts.model = a;
        } else {
            usage(`unexpected argument '${a}'`);
        }
    }
    if (opts.model === null)
        usage('missing MODEL.onnx');
    return opts;
}

// --- .npy (format 1.0-3.0, little-endian float32/float64, C order) ---------

function readNpy(file) {
    let buf;
    try {
        buf = fs.readFileSync(file);
    } catch (e) {
        throw new Failure(`${file}: cannot read: ${e.message}`);
    }
    const bad = (why) => new Failure(`${file}: not a float32 .npy file: ${why}`);
    if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY')
        throw bad('no NUMPY magic');
    const major = buf[6];
    const lenBytes = major === 1 ? 2 : 4;
    const hlen = lenBytes === 2 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
    const start = 8 + lenBytes + hlen;
    if (start > buf.length)
        throw bad('header runs past the end');
    const header = buf.toString('latin1', 8 + lenBytes, start);
    const descr = /'descr':\s*'([^']*)'/.exec(header);
    const fortran = /'fortran_order':\s*(True|False)/.exec(header);
    const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
    if (!descr || !fortran || !shape)
        throw bad(`unreadable header ${JSON.stringify(header.trim())}`);
    if (fortran[1] === 'True')
        throw bad('Fortran order');
    const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s)
        .map(Number);
    const n = dims.reduce((a, b) => a * b, 1);
    const width = {'<f4': 4, '<f8': 8}[descr[1]];
    if (!width)
        throw bad(`dtype ${descr[1]} (float32 '<f4' or float64 '<f8' expected)`);
    if (buf.length - start !== n * width)
        throw bad(`${buf.length - start} data bytes for shape (${dims}) of ${descr[1]}`);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++)
        data[i] = width === 4 ? buf.readFloatLE(start + 4 * i)
                              : buf.readDoubleLE(start + 8 * i);
    return {dims, data};
}

function npyBytes(dims, data) {
    const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
    let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
    // Magic, version and length take 10 bytes; pad the header so the data
    // starts 64-byte aligned, ending in a newline (the format's rule).
    const total = Math.ceil((10 + header.length + 1) / 64) * 64;
    header = header.padEnd(total - 10 - 1, ' ') + '\n';
    const head = Buffer.alloc(10);
    head.write('\x93NUMPY', 0, 'latin1');
    head[6] = 1;
    head[7] = 0;
    head.writeUInt16LE(header.length, 8);
    const body = Buffer.alloc(4 * data.length);
    for (let i = 0; i < data.length; i++)
        body.writeFloatLE(data[i], 4 * i);
    return Buffer.concat([head, Buffer.from(header, 'latin1'), body]);
}

// Atomic: a temporary file beside the target, then rename.
function writeNpy(file, dims, data) {
    const tmp = path.join(path.dirname(file),
                          `.${path.basename(file)}.tmp.${process.pid}`);
    try {
        fs.writeFileSync(tmp, npyBytes(dims, data));
        fs.renameSync(tmp, file);
    } catch (e) {
        try { fs.unlinkSync(tmp); } catch (_) { /* not created */ }
        throw new Failure(`${file}: cannot write: ${e.message}`);
    }
}

// --- input -----------------------------------------------------------------

// mulberry32: a small seeded generator, so a run is repeatable.
function uniform(n, seed) {
    let s = (seed >>> 0) ^ 0x9e3779b9;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
        s = (s + 0x6d2b79f5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
    }
    return out;
}

// The input shape: the model's, with a dynamic batch taken from --batch (or
// 1); other dynamic dimensions need --input.
function inputShape(meta, model, batch) {
    if (!meta.isTensor)
        throw new Failure(`${model}: input '${meta.name}' is not a tensor`);
    if (meta.type !== 'float32')
        throw new Failure(`${model}: input '${meta.name}' is ${meta.type}, float32 expected`);
    return meta.shape.map((d, i) => {
        const fixed = typeof d === 'number' && d > 0;
        if (i === 0) {
            if (fixed && batch !== null && batch !== d)
                throw new Failure(`${model}: the model's batch is ${d}, --batch ${batch} given`);
            return fixed ? d : (batch === null ? 1 : batch);
        }
        if (!fixed)
            throw new Failure(`${model}: input '${meta.name}' dimension ${i} is dynamic (${d}): give --input X.npy`);
        return d;
    });
}

function checkInput(meta, model, x, file) {
    const want = meta.shape;
    const ok = want.length === x.dims.length && want.every(
        (d, i) => typeof d !== 'number' || d <= 0 || d === x.dims[i]);
    if (!ok)
        throw new Failure(`${file}: shape (${x.dims}) does not fit input '${meta.name}' of ${model}, shape (${want})`);
}

// --- timing ----------------------------------------------------------------

function median(sorted) {
    const n = sorted.length;
    return n % 2 ? sorted[(n - 1) / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const log = (msg) => { if (opts.verbose) process.stderr.write(`${PROG}: ${msg}\n`); };
    if (!fs.existsSync(opts.model))
        throw new Failure(`${opts.model}: no such file`);
    if (!fs.statSync(opts.model).isFile())
        throw new Failure(`${opts.model}: not a regular file`);
    let ort;
    try {
        ort = require('onnxruntime-node');
    } catch (e) {
        throw new Failure(`cannot load onnxruntime-node (run 'npm ci --ignore-scripts' in ${__dirname}): ${e.message}`);
    }
    let session;
    try {
        session = await ort.InferenceSession.create(opts.model, {
            executionProviders: ['cpu'],
            intraOpNumThreads: opts.threads,
            interOpNumThreads: 1,
            executionMode: 'sequential',
            graphOptimizationLevel: 'all',
            logSeverityLevel: 3,
        });
    } catch (e) {
        throw new Failure(`${opts.model}: cannot load the model: ${e.message}`);
    }
    const timed = session.inputNames.length === 2 &&
                  session.inputNames[1] === 'timesteps';
    if (session.inputNames.length !== 1 && !timed)
        throw new Failure(`${opts.model}: inputs ${session.inputNames.join(', ')}: ` +
                          'one expected (or an input and "timesteps")');
    const meta = session.inputMetadata[0];
    let x;
    if (opts.input !== null) {
        x = readNpy(opts.input);
        checkInput(meta, opts.model, x, opts.input);
    } else {
        const dims = inputShape(meta, opts.model, opts.batch);
        x = {dims, data: uniform(dims.reduce((a, b) => a * b, 1), opts.seed)};
    }
    log(`${opts.model}: input '${meta.name}' (${x.dims}), ` +
        `${opts.threads} intra-op thread(s), warm-up ${opts.warmup}, reps ${opts.reps}`);
    const feeds = {[session.inputNames[0]]: new ort.Tensor('float32', x.data, x.dims)};
    if (timed)
        feeds.timesteps = new ort.Tensor('float32',
                                         new Float32Array(x.dims[0]).fill(500),
                                         [x.dims[0]]);
    const outName = session.outputNames.includes('output') ? 'output'
                                                            : session.outputNames[0];
    const run = async () => {
        try {
            return await session.run(feeds);
        } catch (e) {
            throw new Failure(`${opts.model}: inference failed: ${e.message}`);
        }
    };
    let result;
    for (let i = 0; i < opts.warmup; i++)
        result = await run();
    const times = [];
    for (let i = 0; i < opts.reps; i++) {
        const t0 = process.hrtime.bigint();
        result = await run();
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        log(`run ${i + 1}: ${times[i].toFixed(4)} ms`);
    }
    if (opts.output !== null) {
        const y = result[outName];
        if (y.type !== 'float32')
            throw new Failure(`${opts.model}: output '${outName}' is ${y.type}, float32 expected`);
        writeNpy(opts.output, y.dims, y.data);
        log(`wrote ${opts.output} (${y.dims})`);
    }
    const sorted = times.slice().sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const med = median(sorted);
    process.stderr.write(
        `median_ms=${med.toFixed(4)} min_ms=${sorted[0].toFixed(4)} ` +
        `max_ms=${sorted[sorted.length - 1].toFixed(4)} mean_ms=${mean.toFixed(4)} ` +
        `reps=${opts.reps} threads=${opts.threads}\n`);
    process.stdout.write(`${med.toFixed(6)}\n`);
    if (session.release)
        await session.release();
}

main().catch((e) => {
    process.stderr.write(`${PROG}: ${e instanceof Failure ? e.message : e.stack}\n`);
    process.exit(e instanceof Failure ? e.code : 1);
});
