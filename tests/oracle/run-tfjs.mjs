// TensorFlow.js oracle: runs the original graph model on the pure-JS CPU
// backend (no native code, no network: weights are read from disk).
//   node run-tfjs.mjs MODEL.json OUT_DIR IN.npy [IN.npy ...] [--outputs tower_0/keypoints=keypoints,...]
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readNpy, writeNpy } from './npy.mjs';

const args = process.argv.slice(2);
const i = args.indexOf('--outputs');
const outputs = (i >= 0 ? args.splice(i, 2)[1] : 'tower_0/keypoints=keypoints,tower_0/wh=wh').split(',').map((s) => s.split('='));
const [modelJson, outDir, ...inputs] = args;
if (!modelJson || !outDir || inputs.length === 0) {
  console.error('usage: run-tfjs.mjs MODEL.json OUT_DIR IN.npy...');
  process.exit(2);
}
await tf.setBackend('cpu');
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
  const res = model.execute(x, outputs.map((o) => o[0]));
  const list = Array.isArray(res) ? res : [res];
  const base = path.basename(file, '.npy');
  list.forEach((t, k) => writeNpy(path.join(outDir, `${base}.${outputs[k][1]}.npy`), t.shape, t.dataSync()));
  tf.dispose([x, ...list]);
}
