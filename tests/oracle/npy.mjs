// SPDX-License-Identifier: LGPL-2.1-or-later
// Minimal NumPy .npy reader/writer for float32 C-order arrays (the exchange
// format between libsplitnn's tests and these oracles).
import fs from 'node:fs';

export function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.readUInt32BE(0) !== 0x934e554d || buf.toString('latin1', 4, 6) !== 'PY') throw new Error(`${path}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hoff = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hoff, hoff + hlen);
  if (!/'descr': '<f4'/.test(header) || /'fortran_order': True/.test(header)) throw new Error(`${path}: only float32 C-order arrays are supported`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const n = shape.reduce((a, b) => a * b, 1);
  const start = hoff + hlen;
  if (buf.length - start !== 4 * n) throw new Error(`${path}: size does not match shape`);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = buf.readFloatLE(start + 4 * i);
  return { shape, data };
}

export function writeNpy(path, shape, data) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64) header += ' ';
  header += '\n';
  const out = Buffer.alloc(10 + header.length + 4 * data.length);
  out.writeUInt32BE(0x934e554d, 0);
  out.write('PY', 4, 'latin1');
  out[6] = 1; out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  const f = Buffer.from(Float32Array.from(data).buffer);
  f.copy(out, 10 + header.length);
  fs.writeFileSync(path, out);
}
