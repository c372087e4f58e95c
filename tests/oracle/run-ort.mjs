// SPDX-License-Identifier: LGPL-2.1-or-later
// ONNX Runtime oracle and performance peer.
//   node run-ort.mjs MODEL.onnx OUT_DIR IN.npy [IN.npy ...] [--threads T]
//   node run-ort.mjs MODEL.onnx --bench N [--threads T] [--input SHAPE]
// Writes OUT_DIR/<input basename>.<output name>.npy for every model output.
import path from 'node:path';
import ort from 'onnxruntime-node';
import { readNpy, writeNpy } from './npy.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); if (i < 0) return def; const v = args[i + 1]; args.splice(i, 2); return v; };
const threads = Number(opt('--threads', '1'));
const bench = Number(opt('--bench', '0'));
const [modelPath, outDir, ...inputs] = args;
if (!modelPath || (!bench && (!outDir || inputs.length === 0))) {
  console.error('usage: run-ort.mjs MODEL.onnx OUT_DIR IN.npy... | MODEL.onnx --bench N [--threads T]');
  process.exit(2);
}
const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
});
const inName = session.inputNames[0];

if (bench) {
  const meta = session.inputMetadata?.[0];
  const dims = meta?.shape ?? [1, 512, 512, 3];
  const n = dims.reduce((a, b) => a * b, 1);
  const x = new ort.Tensor('float32', new Float32Array(n).map((_, i) => (i * 7919) % 256), dims);
  await session.run({ [inName]: x });             // warm-up
  const times = [];
  for (let r = 0; r < bench; r++) {
    const t0 = process.hrtime.bigint();
    await session.run({ [inName]: x });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ runtime: 'onnxruntime-node', threads, runs: bench, median_ms: times[bench >> 1], min_ms: times[0], max_ms: times[bench - 1] }));
  process.exit(0);
}

for (const file of inputs) {
  const { shape, data } = readNpy(file);
  const out = await session.run({ [inName]: new ort.Tensor('float32', data, shape) });
  const base = path.basename(file, '.npy');
  for (const name of session.outputNames) writeNpy(path.join(outDir, `${base}.${name}.npy`), out[name].dims, out[name].data);
}
