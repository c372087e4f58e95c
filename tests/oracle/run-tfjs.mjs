// SPDX-License-Identifier: LGPL-2.1-or-later
// TensorFlow.js oracle: runs the original graph model (no network: weights
// are read from disk).  The backend is TF.js's WebAssembly one (its own
// kernels, about 15x faster than pure JS here); SPLITNN_TFJS_BACKEND=cpu
// picks the pure-JS CPU backend (about 12 s a frame on this model).
//   node run-tfjs.mjs MODEL.json OUT_DIR IN.npy [IN.npy ...] [--outputs tower_0/keypoints=keypoints,...]
//                     [--detections THRESHOLD,IOU,MAX]
// With --detections it also writes OUT_DIR/<input basename>.detections.json:
// the graph's own post-processing (tower_0/detections: peaks, top-100, boxes
// in input pixels) followed by tf.image.nonMaxSuppression, as
// @vladmandic/human's centernet.ts does.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { readNpy, writeNpy } from './npy.mjs';

const args = process.argv.slice(2);
const i = args.indexOf('--outputs');
const outputs = (i >= 0 ? args.splice(i, 2)[1] : 'tower_0/keypoints=keypoints,tower_0/wh=wh').split(',').map((s) => s.split('='));
const d = args.indexOf('--detections');
const detections = d >= 0 ? args.splice(d, 2)[1].split(',').map(Number) : null;
const [modelJson, outDir, ...inputs] = args;
if (!modelJson || !outDir || inputs.length === 0) {
  console.error('usage: run-tfjs.mjs MODEL.json OUT_DIR IN.npy...');
  process.exit(2);
}
// The .wasm binaries ship in the npm package; point the backend at them on
// disk (its default is to fetch them relative to a web page).
const wasmFile = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm');
setWasmPaths(path.dirname(wasmFile) + path.sep);
const backend = process.env.SPLITNN_TFJS_BACKEND || 'wasm';
if (!(await tf.setBackend(backend))) {
  console.error(`TensorFlow.js backend ${backend} failed to initialize`);
  process.exit(1);
}
const dir = path.dirname(modelJson);
const handler = {
  load: async () => {
    const m = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
    const specs = m.weightsManifest.flatMap((g) => g.weights);
    const data = Buffer.concat(m.weightsManifest.flatMap((g) => g.paths.map((p) => fs.readFileSync(path.join(dir, p)))));
    return { modelTopology: m.modelTopology, weightSpecs: specs, weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.length), format: m.format, generatedBy: m.generatedBy, convertedBy: m.convertedBy, signature: m.signature };
  },
};
const model = await tf.loadGraphModel(handler);
for (const file of inputs) {
  const { shape, data } = readNpy(file);
  const x = tf.tensor(data, shape, 'float32');
  // One execution for the heads and the detections: the graph computes
  // them from the same tensors.
  const names = outputs.map((o) => o[0]).concat(detections ? ['tower_0/detections'] : []);
  const list = model.execute(x, names);
  const base = path.basename(file, '.npy');
  outputs.forEach((o, k) => writeNpy(path.join(outDir, `${base}.${o[1]}.npy`), list[k].shape, list[k].dataSync()));
  if (detections) {
    const [threshold, iou, max] = detections;
    const det = list[outputs.length];
    const rows = (await det.array())[0];          // [x1, y1, x2, y2, score, class]
    const boxes = tf.tensor2d(rows.map((r) => [r[1], r[0], r[3], r[2]]));
    const scores = tf.tensor1d(rows.map((r) => r[4]));
    const keep = await (await tf.image.nonMaxSuppressionAsync(boxes, scores, max, iou, threshold)).data();
    const out = Array.from(keep).map((i) => ({ class_id: rows[i][5], score: rows[i][4], box: rows[i].slice(0, 4) }));
    fs.writeFileSync(path.join(outDir, `${base}.detections.json`), JSON.stringify(out));
    tf.dispose([boxes, scores]);
  }
  tf.dispose([x, ...list]);
}
