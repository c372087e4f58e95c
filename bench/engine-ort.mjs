// SPDX-License-Identifier: LGPL-2.1-or-later
// ONNX Runtime as the engine benchmark's peer, in the configuration asked for.
//   node bench/engine-ort.mjs MODEL.onnx --runs N [--threads T] [--opt all|extended|basic|disabled]
//        [--no-spin] [--save-optimized OUT.onnx] [--profile PREFIX]
// Prints one JSON line: median/min wall ms per run and CPU ms per run (user +
// system of this process, which a busy machine inflates less than wall time).
// --save-optimized writes the model as ONNX Runtime optimised it (at --opt);
// benchmark that file with --opt disabled to time ORT's saved optimised model.
// --profile writes ONNX Runtime's per-node profile (PREFIX_<date>.json) and
// prints its path as "profile".
import { createRequire } from 'node:module';

const require = createRequire(new URL('../tests/oracle/package.json', import.meta.url));
const ort = require('onnxruntime-node');

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(name); if (i < 0) return def; const v = args[i + 1]; args.splice(i, 2); return v; };
const flag = (name) => { const i = args.indexOf(name); if (i < 0) return false; args.splice(i, 1); return true; };
const threads = Number(opt('--threads', '1'));
const runs = Number(opt('--runs', '10'));
const level = opt('--opt', 'all');
const save = opt('--save-optimized', null);
const profile = opt('--profile', null);
const noSpin = flag('--no-spin');
const [modelPath] = args;
if (!modelPath || !(runs > 0)) {
  console.error('usage: engine-ort.mjs MODEL.onnx --runs N [--threads T] [--opt LEVEL] [--no-spin] [--save-optimized OUT] [--profile PREFIX]');
  process.exit(2);
}
const options = {
  intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
  graphOptimizationLevel: level,
};
if (save) options.optimizedModelFilePath = save;
if (profile) { options.enableProfiling = true; options.profileFilePrefix = profile; }
// Workers that spin between operators are ONNX Runtime's default; without
// spinning it may do better when another process holds a core.
if (noSpin) options.extra = { session: { intra_op: { allow_spinning: '0' } } };
const session = await ort.InferenceSession.create(modelPath, options);
const inName = session.inputNames[0];
const meta = session.inputMetadata?.[0];
const dims = meta?.shape ?? [1, 512, 512, 3];
const n = dims.reduce((a, b) => a * b, 1);
const x = new ort.Tensor('float32', new Float32Array(n).map((_, i) => (i * 7919) % 256), dims);
await session.run({ [inName]: x });             // warm-up
const times = [];
const cpu0 = process.cpuUsage();
for (let r = 0; r < runs; r++) {
  const t0 = process.hrtime.bigint();
  await session.run({ [inName]: x });
  times.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
const cpu = process.cpuUsage(cpu0);
times.sort((a, b) => a - b);
const out = {
  runtime: 'onnxruntime-node', version: ort.env?.versions?.common ?? null, threads, opt: level,
  spin: !noSpin, runs, median_ms: times[runs >> 1], min_ms: times[0],
  cpu_ms: (cpu.user + cpu.system) / 1000 / runs,
};
if (profile) { await session.endProfiling?.(); out.profile = `${profile}_<date>.json`; }
console.log(JSON.stringify(out));
process.exit(0);
