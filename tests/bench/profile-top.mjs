#!/usr/bin/env node
// Prints the functions with the most self time in a V8 .cpuprofile: node profile-top.mjs FILE [N]
import { readFileSync } from 'node:fs';
const [file, n = '25'] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((x) => [x.id, x]));
const self = new Map();
let total = 0;
p.samples.forEach((id, i) => {
  const f = byId.get(id).callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  const dt = p.timeDeltas[i] ?? 0;
  self.set(key, (self.get(key) ?? 0) + dt);
  total += dt;
});
console.log(`total ${(total / 1000).toFixed(0)} ms`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) console.log(`${(v / 1000).toFixed(0).padStart(7)} ms  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
